"""builder.app.known_future: the Export page's table of a known-future run's forecast steps and the data with
those steps appended as `ForecastTask.predict` reads them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.app.known_future import (
    future_rows,
    future_steps,
    history_part,
    known_future_of,
    with_future_rows,
)
from builder.data.read import DataError
from builder.data.series import split_future_rows

RESOLVED = {"targets": ["y"], "time_col": "time", "known_future": ["hol"], "horizon": 2, "lead_steps": 2, "freq": "D",
            "missing": "interpolate"}


def _frame(n: int = 6, future: int = 0) -> pd.DataFrame:
    df = pd.DataFrame({"time": pd.date_range("2020-01-01", periods=n + future, freq="D").strftime("%Y-%m-%d"),
                       "y": np.arange(n + future, dtype=float), "hol": [0, 1] * ((n + future) // 2) + [0] * ((n + future) % 2),
                       "x": 1.5})
    df.loc[n:, ["y", "x"]] = np.nan
    df.attrs["source"] = "f.csv"
    return df


def test_future_rows_after_the_data_are_empty_to_fill_in() -> None:
    table = future_rows(_frame(), RESOLVED)
    assert list(table.columns) == ["time", "hol"]
    assert list(table["time"]) == [pd.Timestamp("2020-01-07"), pd.Timestamp("2020-01-08")]
    assert table["hol"].isna().all()
    assert known_future_of(RESOLVED) == ["hol"] and known_future_of({"targets": ["y"]}) == []


def test_future_rows_are_prefilled_from_rows_after_the_last_target_value() -> None:
    df = _frame(future=1)  # one of the two steps in the file
    assert len(history_part(df, RESOLVED)) == 6
    table = future_rows(df, RESOLVED)
    assert list(table["time"]) == [pd.Timestamp("2020-01-07"), pd.Timestamp("2020-01-08")]
    assert table["hol"].iloc[0] == df["hol"].iloc[6] and np.isnan(table["hol"].iloc[1])


def test_with_future_rows_appends_the_steps_as_predict_reads_them() -> None:
    df = _frame(future=1)
    future = future_rows(df, RESOLVED).assign(hol=[1.0, 0.0])
    out = with_future_rows(df, RESOLVED, future)
    assert len(out) == 8 and out.attrs["source"] == "f.csv"
    assert out["time"].tolist()[-2:] == ["2020-01-07", "2020-01-08"]  # written as the file writes its times
    assert out["y"].iloc[-2:].isna().all() and out["x"].iloc[-2:].isna().all()
    head, values = split_future_rows(out, ["y"], ["hol"], 2)
    assert len(head) == 6 and values[:, 0].tolist() == [1.0, 0.0]


def test_an_empty_cell_is_predicts_message_naming_the_column_and_step() -> None:
    out = with_future_rows(_frame(), RESOLVED, future_rows(_frame(), RESOLVED).assign(hol=[1.0, None]))
    with pytest.raises(DataError, match=r"known-future column `hol` is empty in row 9 \(step 2 ahead\)"):
        split_future_rows(out, ["y"], ["hol"], 2)


def test_without_a_time_column_the_steps_are_numbered_after_the_rows() -> None:
    resolved = {**RESOLVED, "time_col": None}
    df = _frame().drop(columns="time")
    table = future_rows(df, resolved)
    assert list(table.columns) == ["step", "hol"] and table["step"].tolist() == [7, 8]
    out = with_future_rows(df, resolved, table.assign(hol=[0.0, 1.0]))
    assert len(out) == 8 and out["hol"].iloc[-2:].tolist() == [0.0, 1.0]


def test_yearly_numbers_stay_numbers() -> None:
    df = pd.DataFrame({"year": [2001, 2002, 2003, 2004], "y": [1.0, 2.0, 3.0, 4.0], "hol": [0, 1, 0, 1]})
    resolved = {**RESOLVED, "time_col": "year", "freq": "YS-JAN"}
    out = with_future_rows(df, resolved, future_rows(df, resolved).assign(hol=[1.0, 1.0]))
    assert out["year"].tolist() == [2001, 2002, 2003, 2004, 2005, 2006]


def test_a_table_without_the_known_future_column_is_refused() -> None:
    with pytest.raises(DataError, match="lacks the known-future column"):
        with_future_rows(_frame(), RESOLVED, pd.DataFrame({"time": [1, 2]}))


def test_the_table_covers_the_lead_steps_beyond_the_horizon() -> None:
    """A run whose leads reach a season past a shorter horizon reads that many steps ahead."""
    resolved = {**RESOLVED, "horizon": 1, "lead_steps": 3}
    assert future_steps(resolved) == 3 and future_steps({**RESOLVED, "lead_steps": 0}) == 2
    table = future_rows(_frame(), resolved)
    assert len(table) == 3 and table["time"].iloc[-1] == pd.Timestamp("2020-01-09")
    out = with_future_rows(_frame(), resolved, table.assign(hol=[1.0, 0.0, 1.0]))
    assert split_future_rows(out, ["y"], ["hol"], 3)[1][:, 0].tolist() == [1.0, 0.0, 1.0]
