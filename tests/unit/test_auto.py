"""Auto mode: the Optuna search over presets, lookback, units and learning rate, and its CLI."""

from __future__ import annotations

import json

import pytest

from builder import ModelSpec
from builder.__main__ import main
from builder.training.auto import AutoError, check_budget, leaderboard_text, search


@pytest.mark.parametrize("budget", [0, -5])
def test_a_budget_that_is_not_positive_is_refused(budget, series_csv, tmp_path, capsys) -> None:
    with pytest.raises(AutoError, match="expected a positive number of seconds"):
        check_budget(budget)
    code = main(["train", "--data", str(series_csv), "--preset", "auto", "--budget-s", str(budget),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: --budget-s {budget}:") and "positive" in err


def test_budget_without_auto_is_refused(series_csv, tmp_path, capsys) -> None:
    code = main(["train", "--data", str(series_csv), "--budget-s", "5", "--out", str(tmp_path / "run")])
    assert code == 2 and "only used with --preset auto" in capsys.readouterr().err


def test_search_ranks_trials_by_validation_loss_beside_the_baselines(series_csv) -> None:
    base = ModelSpec().updated(training={"epochs": 1, "patience": None})
    found = search(base, series_csv, budget_s=300, seed=0, max_trials=2)
    board = found["leaderboard"]
    assert found["complete"] == 2 and len(board) == 2
    losses = [r["val_loss"] for r in board]
    assert losses == sorted(losses) and all(v > 0 for v in losses)
    assert set(found["baselines"]) == {"naive", "seasonal_naive"} and found["baselines"]["naive"] > 0
    best = found["best_spec"]
    assert best.name == "auto" and best.training.epochs == 1 and best.recurrent_blocks[0].units == board[0]["units"]
    json.dumps({**found, "best_spec": best.model_dump(mode="json")}, allow_nan=False)
    assert "seasonal_naive" in leaderboard_text(found)
