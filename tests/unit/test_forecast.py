"""builder.tasks.forecast: the forecast after the data says what it assumed reading the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.data import DataError, load_table
from builder.tasks import prepare_frame
from builder.tasks.registry import get_task
from tests.conftest import make_series_csv


class _Zeros:
    def __init__(self, horizon: int) -> None:
        self.horizon = horizon
        self.windows: list[np.ndarray] = []

    def predict(self, x, verbose=0):
        self.windows.append(np.asarray(x))
        return np.zeros((len(x), self.horizon, 1), np.float32)


def _daily_run(tmp_path):
    """(the forecast task, the resolved record of a daily 60-row series, lookback 8, horizon 2, and a second
    such series as a DataFrame to edit and predict on)."""
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    task = get_task("forecast")
    resolved = task.resolve(prepare_frame(load_table(make_series_csv(tmp_path / "train.csv", n=60)), spec))
    return task, resolved, pd.read_csv(make_series_csv(tmp_path / "new.csv", n=60))


def test_predict_reports_sorting_gaps_filled_values_and_ignored_rows(tmp_path):
    task, resolved, df = _daily_run(tmp_path)
    full = df.copy()
    df.loc[55, "y"] = np.nan  # a missing value inside the last window
    df = df.drop(index=[50])  # a missing day
    df = df.loc[[*range(10), 11, 10, *range(12, 50), *range(51, 60)]]  # two rows swapped
    df.loc[len(df) + 100] = ["2020-03-01", np.nan, 0.5]  # a row after the data (no target)
    df.to_csv(tmp_path / "new.csv", index=False)
    model = _Zeros(2)
    out = task.predict(resolved, load_table(tmp_path / "new.csv"), model)
    notes = out.attrs["notices"]
    assert any("not in time order" in n for n in notes)
    assert any("skips 1 step(s) of frequency D" in n for n in notes)
    assert any("interpolated" in n and "`y`: 2" in n for n in notes)  # the missing value and the inserted day
    assert any("the last 1 row(s) have no target value" in n for n in notes)
    window = model.windows[0][0, :, 0]  # rows 52..59, row 55 interpolated
    y = full["y"].to_numpy()
    np.testing.assert_allclose(window, [*y[52:55], (y[54] + y[56]) / 2, *y[56:60]], rtol=1e-5)
    assert list(out["time"]) == [pd.Timestamp("2020-03-01"), pd.Timestamp("2020-03-02")]


def test_predict_on_a_newest_first_file_starts_after_the_latest_target(tmp_path):
    task, resolved, df = _daily_run(tmp_path)
    y = df["y"].to_numpy()
    df.loc[59, "y"] = np.nan  # the latest value is not known yet
    df.iloc[::-1].to_csv(tmp_path / "new.csv", index=False)
    model = _Zeros(2)
    out = task.predict(resolved, load_table(tmp_path / "new.csv"), model)
    np.testing.assert_allclose(model.windows[0][0, :, 0], y[51:59], rtol=1e-5)
    assert list(out["time"]) == [pd.Timestamp("2020-02-29"), pd.Timestamp("2020-03-01")]


def test_predict_notes_data_of_another_frequency_than_the_training_data(tmp_path):
    task, resolved, df = _daily_run(tmp_path)
    df["time"] = pd.date_range("2020-01-01", periods=60, freq="h").strftime("%Y-%m-%d %H:%M")
    df.to_csv(tmp_path / "new.csv", index=False)
    out = task.predict(resolved, load_table(tmp_path / "new.csv"), _Zeros(2))
    assert any("the data's steps are h, the model was trained on steps of D" in n for n in out.attrs["notices"])


def test_predict_with_known_future_rows_reads_a_newest_first_file_as_an_oldest_first_one(tmp_path):
    # before: "the file must end with 2 row(s) whose targets ... are empty" for the newest-first file
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2, "known_future": ["x"], "season_length": 2})
    task = get_task("forecast")
    resolved = task.resolve(prepare_frame(load_table(make_series_csv(tmp_path / "train.csv", n=60)), spec))
    df = pd.read_csv(make_series_csv(tmp_path / "new.csv", n=60))
    df.loc[58:, "y"] = np.nan  # the last two days: x known, y not yet
    df.to_csv(tmp_path / "oldest.csv", index=False)
    df.iloc[::-1].to_csv(tmp_path / "newest.csv", index=False)
    runs = []
    for name in ("oldest", "newest"):
        model = _Zeros(2)
        out = task.predict(resolved, load_table(tmp_path / f"{name}.csv"), model)
        runs.append((model.windows[0], list(out["time"])))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1] == [pd.Timestamp("2020-02-28"), pd.Timestamp("2020-02-29")]
    df.loc[59, "x"] = np.nan  # the second step's value is missing: the message names its file row
    df.iloc[::-1].to_csv(tmp_path / "newest.csv", index=False)
    with pytest.raises(DataError, match=r"known-future column `x` is empty in row 2 \(step 2 ahead\)"):
        task.predict(resolved, load_table(tmp_path / "newest.csv"), _Zeros(2))
