"""builder.data.series: the time column is read with one format for all rows (messy analyst CSVs)."""

from __future__ import annotations

import pandas as pd
import pytest

from builder import ModelSpec
from builder.data import load_table
from builder.tasks import prepare_frame
from tests.conftest import make_series_csv


def _rewrite_time(path, fmt: str):
    df = pd.read_csv(path)
    truth = pd.to_datetime(df["time"])
    df["time"] = truth.dt.strftime(fmt)
    df.to_csv(path, index=False)
    return pd.DatetimeIndex(truth), df["y"].to_numpy()


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y"])
def test_day_first_and_month_first_dates_keep_each_value_on_its_own_date(tmp_path, fmt):
    # 07/12/2014 must not be read as July 12 while 13/12/2014 is read as December 13
    truth, y = _rewrite_time(make_series_csv(tmp_path / "s.csv", n=60), fmt)
    data = prepare_frame(load_table(tmp_path / "s.csv"), ModelSpec().updated(data={"lookback": 8, "horizon": 2}))
    assert list(data.time) == list(truth)
    assert data.freq == "D"
    assert abs(data.target_values[:, 0] - y).max() < 1e-4
    assert not any("time order" in n for n in data.notices)


def test_ambiguous_day_month_order_is_noted(tmp_path):
    # first days of months: 01/02/2020 fits both orders; the monthly reading keeps the rows in order too,
    # so the choice is stated
    path = tmp_path / "m.csv"
    pd.DataFrame({"time": pd.date_range("2020-01-01", periods=12, freq="MS").strftime("%m/%d/%Y"),
                  "y": range(12)}).to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 2, "horizon": 1}))
    assert any("both day / month orders fit" in n for n in data.notices)


def test_a_time_zone_offset_is_converted_to_utc_with_a_notice(tmp_path):
    truth, _ = _rewrite_time(make_series_csv(tmp_path / "s.csv", n=40), "%Y-%m-%d 00:00:00+01:00")
    data = prepare_frame(load_table(tmp_path / "s.csv"), ModelSpec().updated(data={"lookback": 8, "horizon": 2}))
    assert list(data.time) == list(truth - pd.Timedelta(hours=1))
    assert any("offset +0100" in n and "UTC" in n for n in data.notices)
