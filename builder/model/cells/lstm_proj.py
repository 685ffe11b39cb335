"""LSTM with a recurrent projection layer (LSTMP, Sak et al. 2014).

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``,
``P`` = ``proj_units``.
"""

from __future__ import annotations

import keras
from keras import ops

from builder.model.cells.base import GatedCell, Tensor


@keras.saving.register_keras_serializable(package="builder")
class LSTMProjCell(GatedCell):
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

    projected = True
    gate_blocks = 4  # i, f, g, o
    keep_block = 1  # f

    def step(self, inputs: Tensor, r_in: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """``inputs`` (B, D), ``r_in`` = ``r_{t-1}`` (B, P) after dropout, ``states`` ``[r, c]``.

        Returns ``(r_t (B, P), [r_t (B, P), c_t (B, U)])``.
        """
        c_tm1 = states[1]
        z_i, z_f, z_g, z_o = ops.split(self.fused_gates(inputs, r_in), 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        c = f * c_tm1 + i * self.activation(z_g)
        h = o * self.activation(c)
        r = ops.matmul(h, self.projection_kernel)
        return r, [r, c]
