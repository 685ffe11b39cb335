"""Custom recurrent cells for ``keras.layers.RNN`` (all registered under package "builder").

Usage::

    cell = CUSTOM_CELLS[name](units, proj_units=P if name in PROJECTED_CELLS else None)
    layer = keras.layers.RNN(cell, return_sequences=True)

``builder.build`` wraps them in ``builder.recurrent.FusedRNN`` instead, the same
layer with a fused whole-sequence loop (builder/fused.py) that is faster on the CPU.

Cells in ``PROJECTED_CELLS`` require ``proj_units`` (``0 < P < units``) and output
``P`` features per step; the others require ``proj_units=None`` and output
``units`` features.
"""

from __future__ import annotations

from builder.cells.cifg_lstm import CIFGLSTMCell
from builder.cells.lstm_proj import LSTMProjCell
from builder.cells.peephole_lstm import PeepholeLSTMCell
from builder.cells.proj_gru import ProjGRUCell

CUSTOM_CELLS: dict[str, type] = {
    "lstm_proj": LSTMProjCell,
    "peephole_lstm": PeepholeLSTMCell,
    "cifg_lstm": CIFGLSTMCell,
    "proj_gru": ProjGRUCell,
}

PROJECTED_CELLS: frozenset[str] = frozenset({"lstm_proj", "proj_gru"})

__all__ = [
    "CUSTOM_CELLS",
    "PROJECTED_CELLS",
    "CIFGLSTMCell",
    "LSTMProjCell",
    "PeepholeLSTMCell",
    "ProjGRUCell",
]
