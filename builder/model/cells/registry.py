"""The cell registry: one entry per recurrent cell, read by the spec, model building, the fused loop,
size estimates, the diagram, the Design page, benchmarks and tests.

Importing this module imports nothing heavy: classes are named as ``"module:attr"`` and loaded on
first use, so the spec (and the app's first page) can list the cells without TensorFlow.

To add a cell: write ``builder/model/cells/<name>.py`` (a ``GatedCell`` subclass, registered for
serialization) and add one ``CellEntry`` to ``CELLS`` below; the contract test in
tests/unit/test_cell_registry.py then builds, trains, saves and size-checks it. A cell without a
fused form (``fused=None``) runs Keras's own loop.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (n_in, units, proj_units or arity[, composition_layers of a tree cell]) -> weights of one layer
ParamFormula = Callable[..., int]


def gated_params(gate_blocks: int, bias_rows: int = 1, extra_per_unit: int = 0, projected: bool = False) -> ParamFormula:
    """Weights of one direction of one layer of a gated cell with K = `gate_blocks` blocks of U units.

    kernel D x KU, recurrent kernel O x KU (O = P when projected, else U), `bias_rows` x KU bias,
    `extra_per_unit` x U further vectors (peepholes) and, when projected, a U x P projection.
    """

    def params(n_in: int, units: int, proj: int | None) -> int:
        out = int(proj) if projected else units
        total = gate_blocks * units * (n_in + out) + bias_rows * gate_blocks * units + extra_per_unit * units
        return total + (units * out if projected else 0)

    return params


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class CellEntry:
    """Everything the program knows about one cell.

    Attributes:
        name: the spec's value for `RecurrentBlock.cell`.
        label: what the UI shows.
        projected: the state (and output) is a projection of size `proj_units` < `units`.
        params: weights of one direction of one layer: ``params(n_in, units, proj_units)``.
        cell: ``"module:Class"`` of the cell (a Keras cell, or a builder cell class).
        layer: ``"module:Class"`` of a whole Keras RNN layer taking ``units`` (builtin cells: the Fused*
            subclasses of LSTM / GRU / SimpleRNN); None: ``FusedRNN`` wraps an instance of `cell`.
        fused: the family name of the cell's fused loop in builder.model.fused, or None.
        twin: the ``torch.nn`` class that computes the same layer (with ``proj_size`` for projected
            cells), for benchmarks; for a cell PyTorch lacks, the class that stands in for it.
        twin_exact: False when `twin` is only a stand-in of similar cost.
        structure: "sequence" (the cells of CELLS, read along a time axis) or "tree" (TREE_CELLS:
            the Tree-LSTMs of builder.model.cells.tree_lstm, read over a tree's children; only the
            `tree` task uses them, and only they serve it).
    """

    name: str
    label: str
    projected: bool
    params: ParamFormula
    cell: str
    layer: str | None = None
    fused: str | None = None
    twin: str = "LSTM"
    twin_exact: bool = False
    structure: str = "sequence"

    def cell_class(self) -> type:
        return _load(self.cell)

    def output_units(self, units: int, proj_units: int | None) -> int:
        """Features per step of one direction: P for projected cells, else U."""
        return int(proj_units) if self.projected and proj_units else units

    def layer_class(self) -> type | None:
        """The whole-layer class for builtin cells, None for cells that FusedRNN wraps."""
        return _load(self.layer) if self.layer is not None else None


_CELLS = "builder.model.cells"
_RNN = "builder.model.recurrent"

CELLS: dict[str, CellEntry] = {e.name: e for e in (
    CellEntry("simple_rnn", "SimpleRNN (Elman)", False, gated_params(1), "keras.layers:SimpleRNNCell",
              layer=f"{_RNN}:FusedSimpleRNN", fused="simple", twin="RNN", twin_exact=True),
    CellEntry("lstm", "LSTM", False, gated_params(4), "keras.layers:LSTMCell",
              layer=f"{_RNN}:FusedLSTM", fused="lstm", twin_exact=True),
    CellEntry("gru", "GRU", False, gated_params(3, bias_rows=2), "keras.layers:GRUCell",
              layer=f"{_RNN}:FusedGRU", fused="gru", twin="GRU", twin_exact=True),
    CellEntry("lstm_proj", "LSTM with projection (LSTMP)", True, gated_params(4, projected=True),
              f"{_CELLS}.lstm_proj:LSTMProjCell", fused="lstm_proj", twin_exact=True),
    CellEntry("peephole_lstm", "Peephole LSTM", False, gated_params(4, extra_per_unit=3),
              f"{_CELLS}.peephole_lstm:PeepholeLSTMCell", fused="peephole"),
    CellEntry("cifg_lstm", "Coupled input-forget gate LSTM (CIFG)", False, gated_params(3),
              f"{_CELLS}.cifg_lstm:CIFGLSTMCell", fused="cifg"),
    CellEntry("proj_gru", "Projected GRU", True, gated_params(3, bias_rows=2, projected=True),
              f"{_CELLS}.proj_gru:ProjGRUCell", fused="proj_gru"),
)}


def tree_lstm_params(n_ary: bool) -> ParamFormula:
    """Weights of a Tree-LSTM cell: kernel D x 4U, bias 4U, recurrent kernel NU x 3U and forget kernel
    NU x NU, where N is 1 for Child-Sum and the third argument (the block's `arity`) for N-ary. With
    K = composition_layers > 0: compose_input_kernel D x U, compose_kernel_1 NU x U, K-1 more U x U
    kernels, K biases of U, and the recurrent kernel U x 3U."""

    def params(n_in: int, units: int, arity: int | None, composition_layers: int = 0) -> int:
        k = int(arity or 2) if n_ary else 1
        total = 4 * units * n_in + 4 * units + (k * units) ** 2
        if not composition_layers:
            return total + k * units * 3 * units
        compose = n_in * units + k * units * units + (composition_layers - 1) * units * units
        return total + compose + composition_layers * units + units * 3 * units

    return params


#: cells over trees (builder.model.cells.tree_lstm): not in CELLS, so the sequence tasks never offer them
TREE_CELLS: dict[str, CellEntry] = {e.name: e for e in (
    CellEntry("child_sum_tree_lstm", "Child-Sum Tree-LSTM", False, tree_lstm_params(False),
              f"{_CELLS}.tree_lstm:ChildSumTreeLSTMCell", structure="tree"),
    CellEntry("nary_tree_lstm", "N-ary Tree-LSTM (ordered children, N = arity)", False, tree_lstm_params(True),
              f"{_CELLS}.tree_lstm:NaryTreeLSTMCell", structure="tree"),
)}


def get_cell(name: str) -> CellEntry:
    """The registry entry of `name` (sequence or tree cell); ValueError naming the known cells otherwise."""
    entry = CELLS.get(name) or TREE_CELLS.get(name)
    if entry is None:
        raise ValueError(f"unknown cell {name!r}; expected one of {sorted(CELLS) + sorted(TREE_CELLS)}")
    return entry


def cells_for(structure: str) -> dict[str, CellEntry]:
    """The cells a task whose input is `structure` ("sequence" or "tree") may use."""
    return TREE_CELLS if structure == "tree" else CELLS


def projected_cells() -> frozenset[str]:
    """Names of the cells whose state is a projection (they need `proj_units`)."""
    return frozenset(n for n, e in CELLS.items() if e.projected)


def register_all() -> None:
    """Import every builder cell class, so that Keras can deserialize models that use them."""
    for entry in (*CELLS.values(), *TREE_CELLS.values()):
        if entry.layer is None:
            entry.cell_class()
