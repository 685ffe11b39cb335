"""LSTM with a recurrent projection layer (LSTMP, Sak et al. 2014).

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``,
``P`` = ``proj_units``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, initializers, ops

# `DropoutRNNCell` is not exported by the public `keras` namespace, but
# `keras.layers.RNN` only pre-builds (and later resets) the per-sequence dropout
# masks of cells that are instances of it (`RNN._maybe_config_dropout_masks`), so
# a cell that wants Keras's variational dropout semantics has to inherit it.
# keras is pinned (requirements.lock), so this private import is stable for us.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

Tensor = Any


@keras.saving.register_keras_serializable(package="builder")
class LSTMProjCell(keras.layers.Layer, DropoutRNNCell):
    """LSTM cell whose recurrent state is a linear projection of its output.

    Equivalent to one direction of one layer of ``torch.nn.LSTM(proj_size=P)``.
    Gate blocks are stored in PyTorch's order ``i, f, g, o`` (this is also the
    order of ``keras.layers.LSTMCell``), so weights transfer by transposition.

    With ``x_t`` of shape ``(B, D)``, state ``r_{t-1}`` ``(B, P)`` and ``c_{t-1}``
    ``(B, U)``::

        z   = x_t @ W + r_{t-1} @ R + b                 # (B, 4U), one fused matmul each
        i, f, g, o = split(z, 4)                         # each (B, U)
        i, f, o = sigma(i), sigma(f), sigma(o)           # sigma = recurrent_activation
        c_t = f * c_{t-1} + i * act(g)                   # act = activation
        h_t = o * act(c_t)                               # (B, U)
        r_t = h_t @ W_hr                                  # (B, P), no bias

    Weights: ``kernel`` ``W`` (D, 4U), ``recurrent_kernel`` ``R`` (P, 4U),
    ``bias`` ``b`` (4U,) (PyTorch's ``b_ih + b_hh``), ``projection_kernel``
    ``W_hr`` (U, P).

    Contract for ``keras.layers.RNN``: ``state_size = [P, U]`` (``[r, c]``),
    ``output_size = P``; the output is ``r_t``.

    Dropout (training only, one mask per sequence as in ``keras.layers.LSTMCell``):
    ``dropout`` masks ``x_t`` and ``recurrent_dropout`` masks ``r_{t-1}`` in the
    recurrent matmul.

    Args:
        units: ``U``, size of the cell state and of the gates (positive int).
        proj_units: ``P``, size of the projected output/state; required,
            ``0 < P < U``.
        activation: for the candidate ``g`` and for ``act(c_t)``.
        recurrent_activation: for the ``i, f, o`` gates.
        use_bias: whether the gates have a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers
            for ``W``, ``R`` (and ``W_hr``, which uses ``kernel_initializer``), ``b``.
        unit_forget_bias: add 1 to the forget-gate bias at initialisation.
        dropout, recurrent_dropout: rates in ``[0, 1)``.
        seed: seed for the dropout masks.
    """

    def __init__(
        self,
        units: int,
        proj_units: int | None = None,
        activation: str | Any = "tanh",
        recurrent_activation: str | Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: str | Any = "glorot_uniform",
        recurrent_initializer: str | Any = "orthogonal",
        bias_initializer: str | Any = "zeros",
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a positive integer, got {units!r}."
            )
        if not isinstance(proj_units, int) or isinstance(proj_units, bool) or not 0 < proj_units < units:
            raise ValueError(
                "Received an invalid value for argument `proj_units`, expected an integer "
                f"with 0 < proj_units < units (units={units}), got {proj_units!r}."
            )
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a float in [0, 1), got {rate!r}."
                )
        self.units = units
        self.proj_units = proj_units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = [proj_units, units]
        self.output_size = proj_units

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the weights for inputs of shape ``(B, D)``."""
        input_dim = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_dim, 4 * u), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.proj_units, 4 * u), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:

                def init(shape: tuple[int, ...], dtype: Any = None) -> Tensor:
                    # Blocks i, f, g, o: the forget block (second) gets +1.
                    base = self.bias_initializer(shape, dtype=dtype)
                    ones = ops.concatenate([ops.zeros((u,)), ops.ones((u,)), ops.zeros((2 * u,))])
                    return base + ops.cast(ones, base.dtype)

            self.bias = self.add_weight(shape=(4 * u,), name="bias", initializer=init)
        else:
            self.bias = None
        self.projection_kernel = self.add_weight(
            shape=(u, self.proj_units), name="projection_kernel", initializer=self.kernel_initializer
        )
        super().build(input_shape)

    def call(
        self, inputs: Tensor, states: list[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """One step: ``inputs`` (B, D), ``states`` ``[r (B, P), c (B, U)]``.

        Returns ``(r_t (B, P), [r_t (B, P), c_t (B, U)])``.
        """
        r_tm1, c_tm1 = states[0], states[1]
        r_in = r_tm1
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            r_in = r_tm1 * self.get_recurrent_dropout_mask(r_tm1)
        z = ops.matmul(inputs, self.kernel) + ops.matmul(r_in, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        c = f * c_tm1 + i * self.activation(z_g)
        h = o * self.activation(c)
        r = ops.matmul(h, self.projection_kernel)
        return r, [r, c]

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        """Zeros ``[r (B, P), c (B, U)]``."""
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in self.state_size]

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument, serialised, merged with the base config."""
        config = {
            "units": self.units,
            "proj_units": self.proj_units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
