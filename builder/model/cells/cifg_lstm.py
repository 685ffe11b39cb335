"""LSTM with a coupled input-forget gate (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey").

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``.
"""

from __future__ import annotations

import keras
from keras import ops

from builder.model.cells.base import GatedCell, Tensor


@keras.saving.register_keras_serializable(package="builder")
class CIFGLSTMCell(GatedCell):
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

    gate_blocks = 3  # f, g, o (no input block: i = 1 - f)
    keep_block = 0  # f

    def step(self, inputs: Tensor, h_in: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """``inputs`` (B, D), ``h_in`` = ``h_{t-1}`` (B, U) after dropout, ``states`` ``[h, c]``.

        Returns ``(h_t (B, U), [h_t (B, U), c_t (B, U)])``.
        """
        c_tm1 = states[1]
        z_f, z_g, z_o = ops.split(self.fused_gates(inputs, h_in), 3, axis=-1)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        g = self.activation(z_g)
        c = g + f * (c_tm1 - g)  # == f * c_{t-1} + (1 - f) * g, one multiply fewer
        h = o * self.activation(c)
        return h, [h, c]
