"""GRU with a recurrent projection layer (the GRU analogue of LSTMP).

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``,
``P`` = ``proj_units``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, initializers, ops

# Not exported publicly; `keras.layers.RNN` pre-builds per-sequence dropout masks
# only for instances of it (see builder/cells/lstm_proj.py).
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

Tensor = Any


@keras.saving.register_keras_serializable(package="builder")
class ProjGRUCell(keras.layers.Layer, DropoutRNNCell):
    """GRU cell whose gates read a low-rank projection ``r`` of the hidden state.

    Design choice: a plain GRU interpolates ``h_t = z * h_{t-1} + (1 - z) * n``,
    so dropping ``h_{t-1}`` would need a lossy back-projection of ``r``. Like the
    LSTMP cell keeps its full-width ``c``, this cell keeps BOTH the full-width
    memory ``h`` (U) and the projection ``r`` (P) as state: the gates and the
    candidate read only ``r_{t-1}`` (so the recurrent matmul is ``P x 3U``
    instead of ``U x 3U``), while the interpolation uses the full ``h_{t-1}``.
    Gates follow Keras/PyTorch ``reset_after=True`` convention, block order
    ``z, r, n`` (Keras's GRU order).

    With ``x_t`` (B, D), ``r_{t-1}`` (B, P), ``h_{t-1}`` (B, U)::

        a   = x_t @ W + b_x                               # (B, 3U), blocks a_z, a_r, a_n
        m   = r_{t-1} @ R + b_r                           # (B, 3U), blocks m_z, m_r, m_n
        z   = sigma(a_z + m_z)                            # update ("keep") gate, sigma = recurrent_activation
        q   = sigma(a_r + m_r)                            # reset gate
        n   = act(a_n + q * m_n)                          # candidate, act = activation
        h_t = z * h_{t-1} + (1 - z) * n                   # (B, U)
        r_t = h_t @ W_hr                                   # (B, P), no bias; the output

    Weights: ``kernel`` ``W`` (D, 3U), ``recurrent_kernel`` ``R`` (P, 3U),
    ``bias`` (2, 3U) with rows ``[b_x, b_r]`` (input and recurrent biases, as in
    ``keras.layers.GRUCell(reset_after=True)``), ``projection_kernel`` ``W_hr``
    (U, P).

    Contract for ``keras.layers.RNN``: ``state_size = [P, U]`` (``[r, h]``),
    ``output_size = P``; the output is ``r_t``.

    Dropout (training only, one mask per sequence): ``dropout`` masks ``x_t``,
    ``recurrent_dropout`` masks ``r_{t-1}`` in the recurrent matmul (``h_{t-1}``
    in the interpolation is never masked, as in ``keras.layers.GRUCell``).

    Args:
        units: ``U`` (positive int).
        proj_units: ``P``; required, ``0 < P < U``.
        unit_forget_bias: a GRU has no forget gate; its "keep" gate is ``z``
            (``h_t = z * h_{t-1} + ...``), so this adds 1 to the input bias of the
            ``z`` block at initialisation (the GRU analogue of the LSTM forget
            bias, Jozefowicz et al. 2015).
        activation, recurrent_activation, use_bias, kernel_initializer (also for
        ``W_hr``), recurrent_initializer, bias_initializer, dropout,
        recurrent_dropout, seed: as in ``keras.layers.GRUCell``.
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
            shape=(input_dim, 3 * u), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.proj_units, 3 * u), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:

                def init(shape: tuple[int, ...], dtype: Any = None) -> Tensor:
                    # Row 0 (input bias), block z (first) gets +1.
                    base = self.bias_initializer(shape, dtype=dtype)
                    ones = ops.concatenate([ops.ones((1, u)), ops.zeros((1, 2 * u))], axis=1)
                    ones = ops.concatenate([ones, ops.zeros((1, 3 * u))], axis=0)
                    return base + ops.cast(ones, base.dtype)

            self.bias = self.add_weight(shape=(2, 3 * u), name="bias", initializer=init)
        else:
            self.bias = None
        self.projection_kernel = self.add_weight(
            shape=(u, self.proj_units), name="projection_kernel", initializer=self.kernel_initializer
        )
        super().build(input_shape)

    def call(
        self, inputs: Tensor, states: list[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """One step: ``inputs`` (B, D), ``states`` ``[r (B, P), h (B, U)]``.

        Returns ``(r_t (B, P), [r_t (B, P), h_t (B, U)])``.
        """
        r_tm1, h_tm1 = states[0], states[1]
        r_in = r_tm1
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            r_in = r_tm1 * self.get_recurrent_dropout_mask(r_tm1)
        a = ops.matmul(inputs, self.kernel)
        m = ops.matmul(r_in, self.recurrent_kernel)
        if self.use_bias:
            a = a + self.bias[0]
            m = m + self.bias[1]
        a_z, a_r, a_n = ops.split(a, 3, axis=-1)
        m_z, m_r, m_n = ops.split(m, 3, axis=-1)
        z = self.recurrent_activation(a_z + m_z)
        q = self.recurrent_activation(a_r + m_r)
        n = self.activation(a_n + q * m_n)
        h = n + z * (h_tm1 - n)  # == z * h_{t-1} + (1 - z) * n
        r = ops.matmul(h, self.projection_kernel)
        return r, [r, h]

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        """Zeros ``[r (B, P), h (B, U)]``."""
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
