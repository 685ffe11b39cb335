"""The per-sequence records of the classification benches, on small fixed inputs (no training).

bench/classify_table.py's `_wrong` (the misclassified test ids of a run's predictions.csv with the
probability the model gave the true class) and bench/chinatown_neighbours.py's `report` (the 1-NN
misses from a distance matrix).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench import chinatown_neighbours
from bench.classify_table import _wrong


def test_wrong_lists_misclassified_ids_with_the_true_class_probability(tmp_path: Path) -> None:
    path = tmp_path / "predictions.csv"
    pd.DataFrame({"sequence": ["20", "21", "37"], "actual": ["1", "1", "2"], "predicted": ["1", "2", "1"],
                  "p_1": [0.9, 0.4, 0.99931], "p_2": [0.1, 0.6, 0.00069]}).to_csv(path, index=False)
    assert _wrong(path) == {"21": 0.4, "37": 0.0007}


def test_wrong_is_empty_when_every_prediction_is_right(tmp_path: Path) -> None:
    path = tmp_path / "predictions.csv"
    pd.DataFrame({"sequence": [1, 2], "actual": ["a", "b"], "predicted": ["a", "b"],
                  "p_a": [0.8, 0.3], "p_b": [0.2, 0.7]}).to_csv(path, index=False)
    assert _wrong(path) == {}


def test_report_names_the_test_sequences_whose_nearest_neighbour_has_another_label() -> None:
    # dist [n_test=3, n_train=3]: test "b" is nearest to train "y" (label 1) although it is labelled 2
    dist = np.array([[1.0, 5.0, 6.0], [2.0, 4.0, 9.0], [7.0, 8.0, 0.5]])
    y_tr, ids_tr = np.array(["1", "1", "2"]), np.array(["x", "y", "z"])
    y_te, ids_te = np.array(["1", "2", "2"]), np.array(["a", "b", "c"])
    assert chinatown_neighbours.report(dist, y_tr, ids_tr, y_te, ids_te, "test") == ["b"]


def test_the_table_does_not_claim_a_win_over_a_dtw_figure_it_did_not_measure():
    from bench.classify_table import table

    row = {"set": "s", "preset": "lstm_fcn", "accuracy": 0.9, "train_seconds": 3.0, "epochs_run": 5}
    fast = table([{**row, "nn_dtw_full": None, "nn_dtw_band": None}], "lstm_fcn")
    assert "| n/a (not measured) |" in fast and "| yes |" not in fast
    assert "| no |" in table([{**row, "nn_dtw_full": 0.95, "nn_dtw_band": 0.8}], "lstm_fcn")
    assert "| yes |" in table([{**row, "nn_dtw_full": 0.85, "nn_dtw_band": None}], "lstm_fcn")
