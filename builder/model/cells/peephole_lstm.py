"""LSTM with peephole connections (Gers, Schraudolph & Schmidhuber 2002).

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``.
"""

from __future__ import annotations

import keras
from keras import ops

from builder.model.cells.base import GatedCell, Tensor


@keras.saving.register_keras_serializable(package="builder")
class PeepholeLSTMCell(GatedCell):
    """LSTM cell whose gates also look at the cell state through diagonal weights.

    With ``x_t`` (B, D), ``h_{t-1}`` (B, U), ``c_{t-1}`` (B, U)::

        z   = x_t @ W + h_{t-1} @ R + b                  # (B, 4U), blocks i, f, g, o
        i   = sigma(z_i + p_i * c_{t-1})                  # sigma = recurrent_activation
        f   = sigma(z_f + p_f * c_{t-1})
        c_t = f * c_{t-1} + i * act(z_g)                 # act = activation
        o   = sigma(z_o + p_o * c_t)                      # output gate peeks at the NEW cell
        h_t = o * act(c_t)

    Weights: ``kernel`` ``W`` (D, 4U), ``recurrent_kernel`` ``R`` (U, 4U), ``bias``
    ``b`` (4U,), and three peephole vectors ``input_peephole`` ``p_i``,
    ``forget_peephole`` ``p_f``, ``output_peephole`` ``p_o`` of shape (U,)
    (initialised with ``kernel_initializer``, as the former
    ``tf.keras.experimental.PeepholeLSTMCell`` did).

    Contract for ``keras.layers.RNN``: ``state_size = [U, U]`` (``[h, c]``),
    ``output_size = U``; the output is ``h_t``.

    Dropout (training only, one mask per sequence): ``dropout`` masks ``x_t``,
    ``recurrent_dropout`` masks ``h_{t-1}`` in the recurrent matmul.

    Args:
        units: ``U`` (positive int).
        proj_units: must be ``None`` (this cell has no projection; accepted so
            that every builder cell shares one signature).
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias, dropout,
        recurrent_dropout, seed: as in ``keras.layers.LSTMCell``.
    """

    gate_blocks = 4  # i, f, g, o
    keep_block = 1  # f

    def add_cell_weights(self) -> None:
        """The peephole vectors ``p_i``, ``p_f``, ``p_o``, each (U,)."""
        u, init = self.units, self.kernel_initializer
        self.input_peephole = self.add_weight(shape=(u,), name="input_peephole", initializer=init)
        self.forget_peephole = self.add_weight(shape=(u,), name="forget_peephole", initializer=init)
        self.output_peephole = self.add_weight(shape=(u,), name="output_peephole", initializer=init)

    def step(self, inputs: Tensor, h_in: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """``inputs`` (B, D), ``h_in`` = ``h_{t-1}`` (B, U) after dropout, ``states`` ``[h, c]``.

        Returns ``(h_t (B, U), [h_t (B, U), c_t (B, U)])``.
        """
        c_tm1 = states[1]
        z_i, z_f, z_g, z_o = ops.split(self.fused_gates(inputs, h_in), 4, axis=-1)
        i = self.recurrent_activation(z_i + self.input_peephole * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_peephole * c_tm1)
        c = f * c_tm1 + i * self.activation(z_g)
        o = self.recurrent_activation(z_o + self.output_peephole * c)
        h = o * self.activation(c)
        return h, [h, c]
