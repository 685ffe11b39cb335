"""bench/cells.py's schedule and table, with the measurements replaced by fixed numbers.

No timing and no subprocess: ``measure`` is swapped for a recorder, so what is checked is the order
the bench measures in (each PyTorch twin once per round, next to the cells it is the reference of)
and the arithmetic of the table (medians over rounds, one shared twin series per row).
"""

from __future__ import annotations

import argparse

import pytest

from bench import cells


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    # ours: a per-cell base plus the call number; torch: 1000 plus the call number
    values = {"lstm": 5000.0, "peephole_lstm": 4000.0, "gru": 6000.0}

    def fake(side: str, cell: str, jit: bool, args: argparse.Namespace, loop: str = "fused") -> float:
        calls.append((side, cell))
        n = len(calls)
        return (1000.0 + n) if side == "torch" else values[cell] + n

    monkeypatch.setattr(cells, "measure", fake)
    return calls


def test_each_twin_is_measured_once_per_round_beside_its_cells_alternating_sides(recorded, capsys) -> None:
    cells.main(["--rounds", "2", "--jit", "off", "--cells", "lstm", "peephole_lstm", "gru"])
    assert recorded == [
        # round 1: the twin first
        ("torch", "lstm"), ("keras", "lstm"), ("keras", "peephole_lstm"),
        ("torch", "gru"), ("keras", "gru"),
        # round 2: the twin last
        ("keras", "peephole_lstm"), ("keras", "lstm"), ("torch", "lstm"),
        ("keras", "gru"), ("torch", "gru"),
    ]
    out = capsys.readouterr().out
    rows = {ln.split("|")[1].strip(): ln.split("|")[2:-1] for ln in out.splitlines() if ln.startswith("| ") and "---" not in ln}
    # nn.LSTM was measured at calls 1 and 8 (1001, 1008): one median, 1004.5, for both rows
    lstm_ours, lstm_torch, twin, ratio, spread = (c.strip() for c in rows["lstm"])
    assert (lstm_ours, lstm_torch, twin) == ("5004", "1004", "nn.LSTM")  # median of 5002 and 5007
    peep_ours, peep_torch, peep_twin, peep_ratio, peep_spread = (c.strip() for c in rows["peephole_lstm"])
    assert peep_torch == lstm_torch and peep_twin == "nn.LSTM (stand-in)"
    assert peep_ratio == f"{4004.5 / 1004.5:.2f}x"  # medians of 4003, 4006 over 1001, 1008
    # per-round ratios pair each round's values: 4003 / 1001 and 4006 / 1008
    assert peep_spread == f"{4006 / 1008:.2f}-{4003 / 1001:.2f}x"
    assert "nn.LSTM (lstm, peephole_lstm)" in out


def test_without_torch_the_reference_columns_read_dashes(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cells, "measure", lambda side, cell, jit, args, loop="fused": None if side == "torch" else 5000.0)
    cells.main(["--rounds", "1", "--jit", "off", "--cells", "lstm", "cifg_lstm"])
    out = capsys.readouterr().out
    assert "| lstm | 5000 | - | - | - | - |" in out
    assert "share one series" not in out
