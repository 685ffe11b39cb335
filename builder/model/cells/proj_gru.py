"""GRU with a recurrent projection layer (the GRU analogue of LSTMP).

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``,
``P`` = ``proj_units``.
"""

from __future__ import annotations

import keras
from keras import ops

from builder.model.cells.base import GatedCell, Tensor


@keras.saving.register_keras_serializable(package="builder")
class ProjGRUCell(GatedCell):
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

    projected = True
    gate_blocks = 3  # z, r, n
    keep_block = 0  # z, in the input-bias row
    bias_rows = 2  # [b_x, b_r]

    def step(self, inputs: Tensor, r_in: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """``inputs`` (B, D), ``r_in`` = ``r_{t-1}`` (B, P) after dropout, ``states`` ``[r, h]``.

        Returns ``(r_t (B, P), [r_t (B, P), h_t (B, U)])``.
        """
        h_tm1 = states[1]
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
