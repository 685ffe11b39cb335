"""LSTM with a coupled input-forget gate (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey").

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``.
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
class CIFGLSTMCell(keras.layers.Layer, DropoutRNNCell):
    """LSTM cell whose input gate is tied to the forget gate: ``i_t = 1 - f_t``.

    Three gate blocks instead of four (25% fewer gate weights). With ``x_t``
    (B, D), ``h_{t-1}`` (B, U), ``c_{t-1}`` (B, U)::

        z   = x_t @ W + h_{t-1} @ R + b                  # (B, 3U), blocks f, g, o
        f   = sigma(z_f)                                  # sigma = recurrent_activation
        c_t = f * c_{t-1} + (1 - f) * act(z_g)           # act = activation
        o   = sigma(z_o)
        h_t = o * act(c_t)

    Weights: ``kernel`` ``W`` (D, 3U), ``recurrent_kernel`` ``R`` (U, 3U),
    ``bias`` ``b`` (3U,).

    Contract for ``keras.layers.RNN``: ``state_size = [U, U]`` (``[h, c]``),
    ``output_size = U``; the output is ``h_t``.

    Dropout (training only, one mask per sequence): ``dropout`` masks ``x_t``,
    ``recurrent_dropout`` masks ``h_{t-1}`` in the recurrent matmul.

    Args:
        units: ``U`` (positive int).
        proj_units: must be ``None`` (no projection; accepted so that every
            builder cell shares one signature).
        unit_forget_bias: add 1 to the forget-gate bias at initialisation (the
            cell then starts by mostly keeping ``c`` and mostly ignoring ``g``).
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
        seed: as in ``keras.layers.LSTMCell``.
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
        if proj_units is not None:
            raise ValueError(
                "Received an invalid value for argument `proj_units`, expected None "
                f"(CIFGLSTMCell has no projection), got {proj_units!r}."
            )
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a float in [0, 1), got {rate!r}."
                )
        self.units = units
        self.proj_units = None
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
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the weights for inputs of shape ``(B, D)``."""
        input_dim = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_dim, 3 * u), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 3 * u), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:

                def init(shape: tuple[int, ...], dtype: Any = None) -> Tensor:
                    # Blocks f, g, o: the forget block (first) gets +1.
                    base = self.bias_initializer(shape, dtype=dtype)
                    ones = ops.concatenate([ops.ones((u,)), ops.zeros((2 * u,))])
                    return base + ops.cast(ones, base.dtype)

            self.bias = self.add_weight(shape=(3 * u,), name="bias", initializer=init)
        else:
            self.bias = None
        super().build(input_shape)

    def call(
        self, inputs: Tensor, states: list[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """One step: ``inputs`` (B, D), ``states`` ``[h (B, U), c (B, U)]``.

        Returns ``(h_t (B, U), [h_t (B, U), c_t (B, U)])``.
        """
        h_tm1, c_tm1 = states[0], states[1]
        h_in = h_tm1
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_in = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_in, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_f, z_g, z_o = ops.split(z, 3, axis=-1)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        g = self.activation(z_g)
        c = g + f * (c_tm1 - g)  # == f * c_{t-1} + (1 - f) * g, one multiply fewer
        h = o * self.activation(c)
        return h, [h, c]

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        """Zeros ``[h (B, U), c (B, U)]``."""
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
