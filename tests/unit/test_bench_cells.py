"""bench/cells.py's schedule and table, with the measurements replaced by fixed numbers.

No timing and no subprocess: ``measure`` is swapped for a recorder, so what is checked is the order
the bench measures in (each PyTorch twin once per round, next to the cells it is the reference of),
the pairing of rounds, and the arithmetic and shape of the table.
"""

from __future__ import annotations

import argparse
from collections import Counter

import pytest

from bench import cells


def fake_measure(monkeypatch: pytest.MonkeyPatch, values: dict[tuple[str, str, bool, str], list[float | None]]):
    """Replace ``cells.measure``: the k-th call for (side, cell, jit, loop) returns ``values[...][k]``."""
    calls: list[tuple[str, str]] = []
    seen: Counter = Counter()

    def measure(side: str, cell: str, jit: bool, args: argparse.Namespace, loop: str = "fused") -> float | None:
        key = (side, cell, jit if side == "keras" else False, loop if side == "keras" else "fused")
        calls.append((side, cell))
        k = seen[key]
        seen[key] += 1
        return values[key][k]

    monkeypatch.setattr(cells, "measure", measure)
    return calls


def table(out: str) -> dict[str, list[str]]:
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and not ln.startswith("| cell")]
    return {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in rows}


def test_each_twin_is_measured_once_per_round_beside_its_cells_and_rounds_are_paired(monkeypatch, capsys) -> None:
    calls = fake_measure(monkeypatch, {
        ("torch", "lstm", False, "fused"): [1000.0, 2000.0],  # the nn.LSTM series, shared
        ("keras", "lstm", False, "fused"): [3000.0, 5000.0],
        ("keras", "peephole_lstm", False, "fused"): [2000.0, 4400.0],
        ("torch", "gru", False, "fused"): [1000.0, 1000.0],
        ("keras", "gru", False, "fused"): [3000.0, 3000.0],
    })
    cells.main(["--rounds", "2", "--jit", "off", "--cells", "lstm", "peephole_lstm", "gru", "lstm"])
    assert calls == [
        # round 1: twin first; the repeated "lstm" is measured once
        ("torch", "lstm"), ("keras", "lstm"), ("keras", "peephole_lstm"),
        ("torch", "gru"), ("keras", "gru"),
        # round 2: the same list reversed, twin last
        ("keras", "peephole_lstm"), ("keras", "lstm"), ("torch", "lstm"),
        ("keras", "gru"), ("torch", "gru"),
    ]
    out = capsys.readouterr().out
    rows = table(out)
    assert list(rows) == ["lstm", "peephole_lstm", "gru"]
    # medians over rounds; both LSTM-family rows divide by the one nn.LSTM median, 1500
    assert rows["lstm"] == ["4000", "1500", "nn.LSTM", "2.67x", "2.50-3.00x"]
    # per-round ratios pair round with round: 2000 / 1000 and 4400 / 2000 (crossed: 1.00-4.40x)
    assert rows["peephole_lstm"] == ["3200", "1500", "nn.LSTM (stand-in)", "2.13x", "2.00-2.20x"]
    assert rows["gru"] == ["3000", "1000", "nn.GRU", "3.00x", "3.00-3.00x"]
    assert "share one series of its measurements: nn.LSTM (lstm, peephole_lstm)." in out


def test_both_jit_modes_and_the_keras_loop_fill_every_column(monkeypatch, capsys) -> None:
    fake_measure(monkeypatch, {
        ("torch", "lstm", False, "fused"): [1000.0],
        ("keras", "lstm", False, "fused"): [3000.0],
        ("keras", "lstm", True, "fused"): [3300.0],  # the faster mode is the one compared
        ("keras", "lstm", True, "keras"): [1500.0],
    })
    cells.main(["--rounds", "1", "--jit", "both", "--keras-loop", "--cells", "lstm"])
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    assert len({ln.count("|") for ln in lines}) == 1, lines  # header, separator and rows agree
    assert table(out)["lstm"] == ["3000", "3300", "1500", "1000", "nn.LSTM", "3.30x", "3.30-3.30x", "2.20x"]


def test_without_torch_the_reference_columns_read_dashes(monkeypatch, capsys) -> None:
    fake_measure(monkeypatch, {
        ("torch", "lstm", False, "fused"): [None],
        ("keras", "lstm", False, "fused"): [5000.0],
        ("keras", "cifg_lstm", False, "fused"): [6000.0],
    })
    cells.main(["--rounds", "1", "--jit", "off", "--cells", "lstm", "cifg_lstm"])
    out = capsys.readouterr().out
    assert table(out) == {"lstm": ["5000", "-", "-", "-", "-"], "cifg_lstm": ["6000", "-", "-", "-", "-"]}
    assert "share one series" not in out
