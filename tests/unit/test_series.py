"""builder.data.series: the time column is read with one format for all rows (messy analyst CSVs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.data import DataError, load_table
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
    truth, _ = _rewrite_time(make_series_csv(tmp_path / "s.csv", n=40), "%Y-%m-%d 06:00:00+01:00")
    data = prepare_frame(load_table(tmp_path / "s.csv"), ModelSpec().updated(data={"lookback": 8, "horizon": 2}))
    assert list(data.time) == list(truth + pd.Timedelta(hours=5))
    assert any("offset +0100" in n and "UTC" in n for n in data.notices)


def test_dates_at_local_midnight_with_an_offset_stay_those_dates(tmp_path):
    # before: 2020-01-02 00:00:00+01:00 became 2020-01-01 23:00 (UTC), and the forecast's days were labelled so
    truth, _ = _rewrite_time(make_series_csv(tmp_path / "s.csv", n=40), "%Y-%m-%d 00:00:00+01:00")
    data = prepare_frame(load_table(tmp_path / "s.csv"), ModelSpec().updated(data={"lookback": 8, "horizon": 2}))
    assert list(data.time) == list(truth) and data.freq == "D"
    assert any("dates at local midnight with the offset +0100" in n for n in data.notices)


def _drop_rows(path, rows):
    df = pd.read_csv(path)
    full = df.copy()
    df.drop(index=rows).to_csv(path, index=False)
    return full


@pytest.mark.parametrize(("n", "gap"), [(60, range(20, 23)), (1300, range(1100, 1130))])
def test_a_gap_in_the_dates_is_filled_as_missing_rows_keeping_the_frequency_and_season(tmp_path, n, gap):
    # before: 3 missing days made the daily axis irregular (season 1); a gap after row 1000 went unnoticed
    full = _drop_rows(make_series_csv(tmp_path / "s.csv", n=n), list(gap))
    data = prepare_frame(load_table(tmp_path / "s.csv"), ModelSpec().updated(data={"lookback": 8, "horizon": 2}))
    assert data.n_rows == n and data.freq == "D" and data.season_length == 7
    assert list(data.time) == list(pd.to_datetime(full["time"]))
    kept = [i for i in range(n) if i not in gap]
    assert abs(data.target_values[kept, 0] - full["y"].to_numpy()[kept]).max() < 1e-4
    assert any(f"skips {len(gap)} step(s) of frequency D" in m for m in data.notices)


def test_a_missing_month_keeps_the_monthly_season(tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame({"time": pd.date_range("2000-01-01", periods=48, freq="MS").strftime("%Y-%m-%d"),
                  "y": [float(i % 12) for i in range(48)]}).drop(index=[30]).to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert (data.n_rows, data.freq, data.season_length) == (48, "MS", 12)
    assert data.target_values[30, 0] == pytest.approx(6.0)  # interpolated between 5 and 7


def test_a_gap_with_the_refuse_policy_names_the_first_missing_step(tmp_path):
    _drop_rows(make_series_csv(tmp_path / "s.csv", n=60), [20, 21])
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2, "missing": "refuse"})
    with pytest.raises(DataError, match=r"skips 2 step\(s\) of frequency D \(first: 2020-01-21"):
        prepare_frame(load_table(tmp_path / "s.csv"), spec)


def test_an_irregular_axis_is_kept_with_a_notice(tmp_path):
    path = tmp_path / "i.csv"
    stamps = pd.to_datetime("2020-01-01") + pd.to_timedelta(np.cumsum([0] + [1, 1, 1.75] * 10)[:30], unit="D")
    pd.DataFrame({"time": stamps.strftime("%Y-%m-%d %H:%M"), "y": range(30)}).to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert data.n_rows == 30 and data.freq is None
    assert any("irregular gap(s); steps are treated as equally spaced" in m for m in data.notices)


@pytest.mark.parametrize(("unit", "scale"), [("seconds", 1), ("milliseconds", 1000)])
def test_unix_times_under_a_time_name_are_the_time_axis_not_the_target(tmp_path, unit, scale):
    # before: `timestamp` (1577836800 ...) was the first numeric column, so the model forecast the timestamps
    path = tmp_path / "u.csv"
    days = pd.date_range("2020-01-01", periods=40, freq="D")
    pd.DataFrame({"timestamp": (days - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1) * scale,
                  "load": np.arange(40.0)}).to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert data.time_col == "timestamp" and data.targets == ("load",) and data.inputs == ("load",)
    assert list(data.time) == list(days) and data.freq == "D"
    assert any(f"read as {unit} since 1970-01-01 UTC" in n for n in data.notices)


def test_a_counter_named_time_is_neither_target_nor_input(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame({"time": np.arange(40) * 0.5, "load": np.sin(np.arange(40.0))}).to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert data.targets == ("load",) and data.inputs == ("load",) and data.time_col is None
    assert any("['time'] only count up" in n for n in data.notices)


def test_a_saved_dataframe_index_is_not_the_target(tmp_path):
    # before: a CSV written by DataFrame.to_csv with its index had `Unnamed: 0` (0, 1, 2 ...) as the target
    path = make_series_csv(tmp_path / "s.csv", n=40)
    pd.read_csv(path).to_csv(path)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert data.targets == ("y",) and data.inputs == ("y", "x") and data.time_col == "time"
    assert any("['Unnamed: 0'] only count up" in n for n in data.notices)


def test_newest_first_rows_after_the_data_are_not_filled_in_as_targets(tmp_path):
    # before: in a newest-first file, the latest rows without a target were sorted to the end and
    # interpolated (the last value copied), so the model started from made-up values
    path = make_series_csv(tmp_path / "s.csv", n=60)
    df = pd.read_csv(path)
    df.loc[58:, "y"] = np.nan  # the two latest targets are not known yet
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    df.to_csv(path, index=False)
    oldest_first = prepare_frame(load_table(path), spec)
    df.iloc[::-1].to_csv(path, index=False)
    newest_first = prepare_frame(load_table(path), spec)
    assert newest_first.n_rows == oldest_first.n_rows == 58
    np.testing.assert_array_equal(newest_first.values, oldest_first.values)
    assert list(newest_first.time) == list(oldest_first.time)
    assert any("the last 2 row(s) have no target value" in n for n in newest_first.notices)
    assert not any("interpolated" in n for n in newest_first.notices)


def test_text_columns_left_out_are_named(tmp_path):
    path = make_series_csv(tmp_path / "s.csv", n=40)
    df = pd.read_csv(path)
    df["region"] = "north"
    df.to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert data.inputs == ("y", "x")
    assert any("['region'] hold text, not numbers; not used" in n for n in data.notices)


def test_refuse_names_the_file_row_of_a_missing_value_in_a_newest_first_file(tmp_path):
    # before: the row was counted in time order (row 7 here), not in the file
    path = make_series_csv(tmp_path / "s.csv", n=40)
    df = pd.read_csv(path)
    df.loc[5, "y"] = np.nan
    df.iloc[::-1].to_csv(path, index=False)  # the 6th day is on file line 36
    with pytest.raises(DataError, match=r"first in row 36\)"):
        prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1, "missing": "refuse"}))


def test_a_test_file_with_its_own_date_format_joins_the_training_file(tmp_path):
    # before: the joined column mixed ISO and 07/12/2014 dates, each cell parsed on its own: day-first test
    # dates up to the 12th became month-first (here: duplicate timestamps)
    from builder.data.series import prepare_series_with_test

    full = pd.read_csv(make_series_csv(tmp_path / "s.csv", n=80))
    full.iloc[:60].to_csv(tmp_path / "train.csv", index=False)
    test = full.iloc[60:].copy()
    test["time"] = pd.to_datetime(test["time"]).dt.strftime("%d/%m/%Y")
    test.to_csv(tmp_path / "test.csv", index=False)
    spec = ModelSpec().updated(data={"lookback": 4, "horizon": 1})
    data = prepare_series_with_test(load_table(tmp_path / "train.csv"), load_table(tmp_path / "test.csv"), spec, 4)
    assert list(data.time) == list(pd.to_datetime(full["time"])) and data.freq == "D"
    assert data.n_rows - data.n_train - data.n_val == 20


def test_daily_dates_with_daylight_saving_offsets_stay_daily(tmp_path):
    # before: converted to UTC the days fell at 23:00 and 22:00, the axis was irregular and the season 1
    path = make_series_csv(tmp_path / "s.csv", n=120)
    df = pd.read_csv(path)
    days = pd.DatetimeIndex(pd.to_datetime(df["time"]))
    df["time"] = [t.isoformat(sep=" ") for t in days.tz_localize("Europe/Berlin")]  # +01:00, from 2020-03-29 +02:00
    df.to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert list(data.time) == list(days) and data.freq == "D" and data.season_length == 7
    assert any("daylight saving time" in n for n in data.notices)


def test_hourly_times_with_daylight_saving_offsets_are_converted_to_utc(tmp_path):
    path = tmp_path / "h.csv"
    utc = pd.date_range("2020-03-28 00:00", periods=72, freq="h", tz="UTC")
    pd.DataFrame({"time": [t.isoformat(sep=" ") for t in utc.tz_convert("Europe/Berlin")],
                  "y": np.arange(72.0)}).to_csv(path, index=False)
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert list(data.time) == list(utc.tz_localize(None)) and data.freq == "h"
    assert any("mixes time-zone offsets; converted to UTC" in n for n in data.notices)


def test_a_gap_in_a_flag_column_is_filled_with_flags_not_fractions(tmp_path):
    # before: a 0/1 work-day flag became 0.33, 0.67 across a gap in the dates
    path = tmp_path / "f.csv"
    days = pd.date_range("2020-01-01", periods=40, freq="D")
    df = pd.DataFrame({"time": days.strftime("%Y-%m-%d"), "y": np.arange(40.0), "workday": (days.dayofweek < 5) * 1})
    df.drop(index=[10, 11]).to_csv(path, index=False)  # Jan 11 (Sat) and 12 (Sun) missing; Jan 10 Fri, 13 Mon
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 4, "horizon": 1}))
    assert data.values[10:12, 0].tolist() == [10.0, 11.0]  # the target is interpolated
    assert data.values[10:12, 1].tolist() == [1.0, 1.0]  # the flag takes Friday's value
    assert set(np.unique(data.values[:, 1])) == {0.0, 1.0}
    assert any("0/1 flag column(s) ['workday'] take the previous row's value" in n for n in data.notices)


def _blank(path, rows, column="y"):
    """Empty `column`'s cells in `rows` (0-based data rows) of a CSV."""
    df = pd.read_csv(path)
    df.loc[list(rows), column] = np.nan
    df.to_csv(path, index=False)


@pytest.mark.parametrize("policy", ["interpolate", "ffill"])
def test_the_reader_marks_which_target_values_the_file_had(tmp_path, policy):
    # empty target cells and the rows inserted for skipped dates are filled for the windows, and marked unobserved
    path = make_series_csv(tmp_path / "s.csv", n=80)
    _blank(path, [10, 70])
    _blank(path, [40], column="x")  # a covariate's empty cell is no missing actual
    _drop_rows(path, [50, 51])
    data = prepare_frame(load_table(path), ModelSpec().updated(data={"lookback": 8, "horizon": 2, "missing": policy}))
    assert data.n_rows == 80 and data.observed.shape == (80, 1) and np.isfinite(data.values).all()
    assert np.flatnonzero(~data.observed[:, 0]).tolist() == [10, 50, 51, 70]
    starts = data.window_starts("test")
    mask = data.observed_windows("test")
    expect = np.isin(starts[:, None] + 8 + np.arange(2), [10, 50, 51, 70], invert=True)
    np.testing.assert_array_equal(mask[:, :, 0], expect)


def test_a_file_without_missing_targets_has_no_mask_and_drop_keeps_only_observed_rows(tmp_path):
    path = make_series_csv(tmp_path / "s.csv", n=80)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    data = prepare_frame(load_table(path), spec)
    assert data.observed is None and data.observed_windows("test") is None
    _blank(path, [10, 70])
    dropped = prepare_frame(load_table(path), spec.updated(data={"missing": "drop"}))
    assert dropped.n_rows == 78 and dropped.observed is None


def test_a_test_part_whose_actuals_were_all_filled_in_is_refused_naming_file_and_column(tmp_path):
    # the test part is rows 68-79 (its windows' targets); `x` is empty there, `y` is not (rows after the last
    # value of every target would be the future, not missing values)
    path = make_series_csv(tmp_path / "s.csv", n=80)
    _blank(path, range(64, 80), column="x")
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2, "targets": ["y", "x"]})
    with pytest.raises(DataError, match=r"s\.csv: every actual of `x` in the test part \(2020-03-09 00:00:00 to "
                                        r"2020-03-20 00:00:00\) is missing in the file and was filled in by the "
                                        r"missing-value policy `interpolate`, so there is nothing to score; at least one "
                                        r"observed value of `x` is needed there"):
        prepare_frame(load_table(path), spec)
    df = pd.read_csv(path)  # one observed value of `x` in the test part is enough
    df.loc[75, "x"] = 0.5
    df.to_csv(path, index=False)
    assert prepare_frame(load_table(path), spec).observed_windows("test")[:, :, 1].sum() == 2


def test_backtest_origins_whose_actuals_were_all_filled_in_are_refused_by_the_same_check(tmp_path):
    # backtest's origins are window starts of their own: observed_at / check_observed_at serve it and the parts alike
    from builder.data.series import check_observed_at

    path = make_series_csv(tmp_path / "s.csv", n=80)
    _blank(path, range(40, 52), column="x")
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2, "targets": ["y", "x"]})
    data = prepare_frame(load_table(path), spec)
    np.testing.assert_array_equal(data.observed_at(data.window_starts("val")), data.observed_windows("val"))
    starts = np.arange(32, 43)  # forecasts of rows 40-51: every `x` there was filled in
    with pytest.raises(DataError, match=r"s\.csv: every actual of `x` in the 11 origins' forecast rows \(2020-02-10 "
                                        r"00:00:00 to 2020-02-21 00:00:00\) is missing in the file.*use more origins"):
        check_observed_at(data, starts, str(path), "the 11 origins' forecast rows", "use more origins")
    check_observed_at(data, np.arange(32, 44), str(path), "the 12 origins' forecast rows", "")  # row 52 observed
