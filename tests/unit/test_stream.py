"""The chunked reader for large series gives exactly what the in-memory path gives, rows numbered alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import builder.data.stream as stream
from builder import ModelSpec
from builder.data import DataError, load_table
from builder.tasks import prepare, prepare_frame


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CHUNK_ROWS", 7)
    monkeypatch.setattr(stream, "HEAD_ROWS", 10)


def test_chunked_reader_matches_the_in_memory_path(series_csv, small_chunks):
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    np.testing.assert_array_equal(a.values, b.values)
    assert list(a.time) == list(b.time) and a.freq == b.freq == "D"
    assert (a.n_train, a.n_val, a.inputs, a.targets) == (b.n_train, b.n_val, b.inputs, b.targets)
    np.testing.assert_allclose(a.x_scaler.offset_, b.x_scaler.offset_, rtol=1e-6)
    np.testing.assert_allclose(a.x_scaler.scale_, b.x_scaler.scale_, rtol=1e-6)


def test_chunked_reader_names_the_file_row_of_a_bad_cell(series_csv, small_chunks):
    lines = series_csv.read_text().splitlines()
    time, y, x = lines[50].split(",")
    lines[50] = f"{time},oops,{x}"  # file line 51
    series_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column `y` expected numbers, found text in 1 row\(s\) \(row 51: 'oops'\)"):
        stream.read_series_file(series_csv, ModelSpec().updated(data={"lookback": 8}), 8)


def test_large_files_take_the_chunked_path(series_csv, monkeypatch):
    monkeypatch.setattr(stream, "STREAM_BYTES", 100)
    data = prepare(series_csv, ModelSpec().updated(data={"lookback": 8}))
    assert any("read in chunks" in n for n in data.notices)


def test_unsorted_rows_are_sorted_with_a_notice(series_csv, small_chunks):
    lines = series_csv.read_text().splitlines()
    body = lines[1:]
    body[10], body[11] = body[11], body[10]
    series_csv.write_text("\n".join([lines[0], *body]) + "\n")
    a = stream.read_series_file(series_csv, ModelSpec().updated(data={"lookback": 8}), 8)
    assert any("not in time order" in n for n in a.notices)
    assert np.all(np.diff(a.time.asi8) > 0)


@pytest.mark.parametrize("known", [[], ["x"]])
def test_chunked_reader_reads_rows_after_the_data_as_the_in_memory_path_does(series_csv, small_chunks, tmp_path, known):
    import pandas as pd

    df = pd.read_csv(series_csv)
    after = pd.DataFrame({"time": pd.date_range(pd.to_datetime(df["time"]).iloc[-1], periods=4, freq="D")[1:]
                          .strftime("%Y-%m-%d"), "y": np.nan, "x": [0.5, 0.25, np.nan]})
    path = tmp_path / "future.csv"
    pd.concat([df, after], ignore_index=True).to_csv(path, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2, "known_future": known, "season_length": 2})
    a = prepare_frame(load_table(path), spec)
    b = stream.read_series_file(path, spec, spec.data.lookback)
    assert a.n_rows == b.n_rows == len(df) and a.inputs == b.inputs
    np.testing.assert_array_equal(a.values, b.values)
    note = "the last 3 row(s) have no target value: " + ("the first 2 read" if known else "ignored")
    assert any(note in n for n in a.notices) and any(note in n for n in b.notices)


def test_chunked_reader_reads_day_first_dates_as_the_in_memory_path(series_csv, small_chunks, monkeypatch):
    import pandas as pd

    monkeypatch.setattr(stream, "HEAD_ROWS", 20)  # the head reaches 13/01/2020: day first is evident
    df = pd.read_csv(series_csv)
    truth = pd.DatetimeIndex(pd.to_datetime(df["time"]))
    df["time"] = truth.strftime("%d/%m/%Y")
    df.to_csv(series_csv, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    assert list(a.time) == list(b.time) == list(truth)
    np.testing.assert_array_equal(a.values, b.values)


def test_chunked_reader_fills_a_gap_in_the_dates_as_the_in_memory_path(series_csv, small_chunks):
    import pandas as pd

    pd.read_csv(series_csv).drop(index=[40, 41, 42]).to_csv(series_csv, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    assert a.n_rows == b.n_rows == 120 and a.freq == b.freq == "D"
    assert list(a.time) == list(b.time)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
    assert any("skips 3 step(s)" in n for n in b.notices)


def test_chunked_reader_keeps_dotted_dates_beside_decimal_commas(tmp_path, small_chunks, monkeypatch):
    monkeypatch.setattr(stream, "HEAD_ROWS", 20)
    path = tmp_path / "de.csv"
    path.write_text("Datum;Last\n" + "".join(f"{d:02d}.01.2020;{d},5\n" for d in range(1, 29)))
    spec = ModelSpec().updated(data={"lookback": 3, "horizon": 1})
    a = prepare_frame(load_table(path), spec)
    b = stream.read_series_file(path, spec, 3)
    assert list(a.time) == list(b.time) and b.time[6].day == 7 and b.values[6, 0] == 7.5


def test_chunked_reader_reads_unix_times_as_the_in_memory_path(series_csv, small_chunks):
    import pandas as pd

    df = pd.read_csv(series_csv)
    df["time"] = (pd.to_datetime(df["time"]) - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    df.to_csv(series_csv, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    assert a.time_col == b.time_col == "time" and a.inputs == b.inputs == ("y", "x")
    assert list(a.time) == list(b.time) and b.time[0] == pd.Timestamp("2020-01-01") and b.freq == "D"
    assert any("Unix times" in n for n in b.notices)


def test_chunked_reader_leaves_out_the_latest_rows_without_targets_of_a_newest_first_file(series_csv, small_chunks):
    import pandas as pd

    df = pd.read_csv(series_csv)
    df.loc[118:, "y"] = np.nan
    df.iloc[::-1].to_csv(series_csv, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    assert a.n_rows == b.n_rows == 118 and list(a.time) == list(b.time)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
    assert not any("interpolated" in n for n in b.notices)


def test_chunked_reader_reads_thousands_separators_past_the_sniffed_lines(series_csv, small_chunks):
    # before: the chunked reader refused the quoted "1,234,567" cells first seen past line 50
    lines = series_csv.read_text().splitlines()
    for i in range(60, len(lines)):
        time, y, x = lines[i].split(",")
        lines[i] = f'{time},"1,{i:03d},567",{x}'
    series_csv.write_text("\n".join(lines) + "\n")
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values[59, 0] == 1_060_567


def _offset_times(kind: str, days: pd.DatetimeIndex) -> list[str]:
    if kind == "midnight":
        return list(days.strftime("%Y-%m-%d 00:00:00+01:00"))
    if kind == "morning":
        return list(days.strftime("%Y-%m-%d 06:00:00+01:00"))
    if kind == "daylight_saving":  # +01:00, from 2020-03-29 +02:00
        return [t.isoformat(sep=" ") for t in days.tz_localize("Europe/Berlin")]
    hours = pd.date_range("2020-03-28 00:00", periods=len(days), freq="h", tz="UTC")  # hourly across the change
    return [t.isoformat(sep=" ") for t in hours.tz_convert("Europe/Berlin")]


@pytest.mark.parametrize("kind", ["midnight", "morning", "daylight_saving", "hourly_daylight_saving"])
def test_chunked_reader_reads_time_zone_offsets_as_the_in_memory_path(series_csv, small_chunks, kind):
    # before: the chunked reader converted every offset to UTC: midnight +01:00 days fell on the evening
    # before, and daily data across daylight saving time had an irregular axis and season 1
    df = pd.read_csv(series_csv)
    df["time"] = _offset_times(kind, pd.DatetimeIndex(pd.to_datetime(df["time"])))
    df.to_csv(series_csv, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    assert list(a.time) == list(b.time)
    assert (a.freq, a.season_length) == (b.freq, b.season_length)
    assert a.season_length == (24 if kind == "hourly_daylight_saving" else 7)
    zone = [n for n in a.notices if "offset" in n]
    assert zone and all(n in b.notices for n in zone)
    np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize("policy", ["interpolate", "drop"])
def test_chunked_reader_marks_the_filled_in_targets_as_the_in_memory_path(series_csv, small_chunks, policy):
    import pandas as pd

    df = pd.read_csv(series_csv)
    df.loc[[10, 90], "y"] = np.nan
    df.loc[50, "x"] = np.nan
    df.drop(index=[40, 41]).to_csv(series_csv, index=False)
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2, "missing": policy})
    a = prepare_frame(load_table(series_csv), spec)
    b = stream.read_series_file(series_csv, spec, spec.data.lookback)
    if policy == "drop":
        assert a.observed is None and b.observed is None and a.n_rows == b.n_rows
    else:
        np.testing.assert_array_equal(a.observed, b.observed)
        assert np.flatnonzero(~b.observed[:, 0]).tolist() == [10, 40, 41, 90]


def test_chunked_reader_refuses_a_file_mixing_utf8_and_latin1_as_the_in_memory_path(series_csv, small_chunks):
    lines = series_csv.read_text().splitlines()
    lines[0] += ",note"
    lines[1:] = [f"{ln},{'é' if i != 80 else 'x'}" for i, ln in enumerate(lines[1:])]
    series_csv.write_bytes(("\n".join(lines) + "\n").encode().replace(b",x\n", b",\xe9\n"))
    spec = ModelSpec().updated(data={"lookback": 8, "targets": ["y"]})
    message = r"series\.csv line 82: byte 0xE9 is not UTF-8, while line 2 has 'é' written in UTF-8"
    with pytest.raises(DataError, match=message):
        load_table(series_csv)
    with pytest.raises(DataError, match=message):
        stream.read_series_file(series_csv, spec, 8)


@pytest.mark.parametrize(("sep", "late", "expected", "guess", "again"), [
    # no evidence: the separator's custom, named in a note
    (";", {60: "1,234", 70: "2,500"}, {60: 1.234, 70: 2.5}, "read as decimal commas", False),
    ("\t", {60: "1,234"}, {60: 1234}, "read as thousands commas", False),
    # evidence in a later chunk: the column is read again with all of its values' reading
    (";", {60: "1,234", 110: "1,234.5"}, {60: 1234, 110: 1234.5}, None, True),
    # 1.234 read by pandas as a number first; 12,5 later makes it a thousands dot, as in memory
    (";", {20: "1.234", 60: "1,234", 110: "12,5"}, {20: 1234, 60: 1.234, 110: 12.5}, None, True),
    (";", {60: "12,5", 61: "3,25"}, {60: 12.5, 61: 3.25}, None, False),
])
def test_chunked_reader_reads_late_numbers_with_commas_as_the_in_memory_path(tmp_path, small_chunks, monkeypatch,
                                                                             sep, late, expected, guess, again):
    days = pd.date_range("2020-01-01", periods=120, freq="D").strftime("%Y-%m-%d")
    path = tmp_path / "late.csv"
    path.write_text(f"time{sep}y{sep}x\n" + "".join(
        f"{d}{sep}{late.get(i, i)}{sep}{i % 7}\n" for i, d in enumerate(days)))
    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 1, "targets": ["y"]})
    a = prepare_frame(load_table(path), spec)
    passes = []
    monkeypatch.setattr(stream, "_read_pandas", lambda *args, read=stream._read_pandas: passes.append(1) or read(*args))
    b = stream.read_series_file(path, spec, 8)
    np.testing.assert_array_equal(a.values, b.values)
    assert len(passes) == (2 if again else 1)
    for row, value in expected.items():
        assert b.values[row, 0] == pytest.approx(value, rel=1e-6)
    notes = [n for n in b.notices if "can be read with a decimal comma" in n]
    assert notes == [n for n in a.notices if "can be read with a decimal comma" in n]
    assert (guess in notes[0] and "`y`" in notes[0]) if guess else not notes


def test_chunked_reader_refuses_a_column_with_both_decimal_marks(tmp_path, small_chunks):
    days = pd.date_range("2020-01-01", periods=120, freq="D").strftime("%Y-%m-%d")
    path = tmp_path / "both.csv"
    path.write_text("time;y;x\n" + "".join(
        f"{d};{ {60: '12,5', 100: '12.5'}.get(i, i)};{i % 7}\n" for i, d in enumerate(days)))
    spec = ModelSpec().updated(data={"lookback": 8, "targets": ["y"]})
    with pytest.raises(DataError, match=r"column `y` has numbers with a decimal comma \(row 62: '12,5'\) beside "
                                        r"decimal points \(row 102: '12\.5'\)"):
        load_table(path)
    with pytest.raises(DataError, match=r"column `y`"):
        stream.read_series_file(path, spec, 8)
