"""Reading CSVs, choosing columns, chronological splits, scalers fit on train only, lazy windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.data import DataError, detect_time_column, load_table
from builder.data.series import season_from_freq, split_sizes
from builder.data.windows import PREFETCH_BATCHES, sequence_dataset, series_dataset, series_windows
from builder.tasks import prepare_frame
from tests.conftest import SHARED_DATA


def spec_with(**data) -> ModelSpec:
    return ModelSpec().updated(data=data)


def test_reads_series_and_detects_time(series_csv):
    df = load_table(series_csv)
    assert detect_time_column(df) == "time"
    data = prepare_frame(df, spec_with(lookback=10, horizon=3))
    assert data.targets == ("y",) and data.inputs == ("y", "x")
    assert data.freq == "D" and data.season_length == 7
    assert data.values.shape == (120, 2) and data.values.dtype == np.float32


def test_windows_are_plain_slices_and_split_chronologically(series_csv):
    data = prepare_frame(load_table(series_csv), spec_with(lookback=10, horizon=3))
    n_train, n_val = split_sizes(120, 0.15, 0.15, 3)
    assert (data.n_train, data.n_val) == (n_train, n_val) == (84, 18)
    tr, va, te = (data.window_starts(p) for p in ("train", "val", "test"))
    # every target row of a part lies inside that part
    assert tr.max() + 10 + 3 <= 84 and va.min() + 10 >= 84 and va.max() + 13 <= 102 and te.min() + 10 >= 102
    assert te.max() + 13 == 120
    x, y = series_windows(data, "test")
    s = te[0]
    np.testing.assert_array_equal(x[0], data.values[s : s + 10])
    np.testing.assert_array_equal(y[0], data.values[s + 10 : s + 13, :1])


def test_scaler_sees_only_the_training_rows(series_csv):
    df = load_table(series_csv)
    base = prepare_frame(df, spec_with(lookback=10))
    # changing the held-out rows must not move the scaler
    df2 = df.copy()
    df2.loc[base.n_train :, "y"] = 1e6
    moved = prepare_frame(df2, spec_with(lookback=10))
    np.testing.assert_allclose(base.x_scaler.offset_, moved.x_scaler.offset_)
    np.testing.assert_allclose(base.x_scaler.scale_, moved.x_scaler.scale_)
    np.testing.assert_allclose(base.x_scaler.offset_[0], df["y"][: base.n_train].mean(), rtol=1e-6)


def test_tf_dataset_matches_the_slices(series_csv):
    data = prepare_frame(load_table(series_csv), spec_with(lookback=10, horizon=3))
    ds = series_dataset(data, "val", batch_size=4)
    xb, yb = next(iter(ds))
    x, y = series_windows(data, "val")
    np.testing.assert_allclose(xb.numpy(), x[:4])
    np.testing.assert_allclose(yb.numpy(), data.y_scaler.transform(y[:4].reshape(-1, 1)).reshape(4, 3, 1), atol=1e-5)


def test_pipelines_prefetch_a_fixed_number_of_batches_without_autotuning(series_csv, sequences_csv):
    # With autotuning on, replacing an iterator (Keras does so every epoch) stalled the process for
    # 0.4-0.6 s in about one epoch in three; see builder.data.finish_pipeline.
    series = prepare_frame(load_table(series_csv), spec_with(lookback=10, horizon=3))
    sequences = prepare_frame(load_table(sequences_csv), ModelSpec().updated(task="classify"))
    for ds in (
        series_dataset(series, "train", batch_size=4, shuffle=True),
        series_dataset(series, "val", batch_size=4, inputs_only=True),
        sequence_dataset(sequences, "train", batch_size=2, shuffle=True),
    ):
        assert ds.options().autotune.enabled is False
        # private attributes of TF 2.21's datasets: the prefetch sits under the options
        prefetch = ds._input_dataset
        assert "Prefetch" in type(prefetch).__name__ and int(prefetch._buffer_size) == PREFETCH_BATCHES
        assert sum(1 for _ in ds) == ds.cardinality().numpy() > 0


def _batches(ds) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_augmentation_jitters_and_scales_training_batches_afresh_each_epoch(sequences_csv):
    from dataclasses import replace

    data = prepare_frame(load_table(sequences_csv), ModelSpec().updated(task="classify"))
    x = data.x.copy()
    x[0, -2:, :] = np.nan  # padding must stay padding
    data = replace(data, x=x)
    plain = _batches(sequence_dataset(data, "train", batch_size=64))
    jit = sequence_dataset(data, "train", batch_size=64, seed=3, jitter=0.5)
    first, second = _batches(jit), _batches(jit)
    again = _batches(sequence_dataset(data, "train", batch_size=64, seed=3, jitter=0.5))
    (x0, y0), (x1, y1), (x2, _), (x3, _) = plain[0], first[0], second[0], again[0]
    real = ~np.isnan(x0)
    assert np.array_equal(np.isnan(x1), ~real) and np.array_equal(y0, y1)
    noise = (x1 - x0)[real].reshape(-1)
    unit = np.broadcast_to(data.x_scaler.scale_.astype(np.float32), x0.shape)[real]
    assert np.std(noise / unit) == pytest.approx(0.5, rel=0.1)  # sd in scaled units
    assert not np.allclose(x1[real], x2[real])  # a new draw each epoch
    np.testing.assert_array_equal(x1, x3)  # and the same draws from the same seed
    scaled = _batches(sequence_dataset(data, "train", batch_size=64, seed=3, scaling=0.2))[0][0]
    ratio = scaled[real.all(axis=2)] / x0[real.all(axis=2)]
    per_step = scaled / x0  # one factor per sequence and channel: equal along time on the real steps
    first_step = np.broadcast_to(per_step[:, :1, :], per_step.shape)
    assert np.allclose(per_step[real], first_step[real], rtol=1e-4, atol=1e-4)
    assert np.std(ratio) > 0.0 and not np.allclose(ratio, 1.0)
    from builder.tasks.registry import get_task

    spec = ModelSpec.from_dict({"task": "classify", "training": {"augment_jitter": 0.5, "batch_size": 64, "seed": 3}})
    task = get_task("classify")
    shuffled = _batches(task.datasets(data, spec.updated(training={"augment_jitter": None}))[0])[0][0]
    augmented = _batches(task.datasets(data, spec)[0])[0][0]  # the spec's field reaches the training pipeline
    same_order = ~np.isnan(shuffled)
    assert np.array_equal(np.isnan(augmented), ~same_order)
    assert not np.allclose(augmented[same_order], shuffled[same_order])


def test_augmentation_is_refused_outside_classify():
    from builder.spec import SpecError

    with pytest.raises(SpecError, match=r"training.augment_jitter: augmentation applies to task.s. `classify` only"):
        ModelSpec.from_dict({"task": "forecast", "training": {"augment_jitter": 0.1}})
    with pytest.raises(SpecError, match="training.augment_scaling"):
        ModelSpec.from_dict({"task": "classify", "training": {"augment_scaling": 0}})
    assert ModelSpec.from_dict({"task": "classify", "training": {"augment_scaling": 0.1}}).training.augment_scaling == 0.1


def test_too_short_series_says_how_many_rows_are_needed(tmp_path):
    path = tmp_path / "short.csv"
    pd.DataFrame({"time": pd.date_range("2020", periods=20, freq="D"), "v": range(20)}).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        prepare_frame(load_table(path), spec_with(lookback=24, horizon=2))
    msg = str(err.value)
    assert "20 rows are too few" in msg and "need at least" in msg
    need = int(msg.split("need at least ")[1].split()[0])
    ok = tmp_path / "ok.csv"
    pd.DataFrame({"time": pd.date_range("2020", periods=need, freq="D"), "v": range(need)}).to_csv(ok, index=False)
    prepare_frame(load_table(ok), spec_with(lookback=24, horizon=2))  # exactly enough works


def test_non_numeric_cells_name_rows_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,v\n2020-01-01,1\n2020-01-02,two\n2020-01-03,3\n")
    with pytest.raises(DataError, match=r"bad.csv: column `v` expected numbers, found text in 1 row\(s\) \(row 3: 'two'\)"):
        prepare_frame(load_table(path), spec_with(lookback=1))


def test_missing_values_are_interpolated_with_a_notice(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("time,v\n" + "".join(f"2020-01-{d:02d},{'' if d == 5 else d}\n" for d in range(1, 31)))
    data = prepare_frame(load_table(path), spec_with(lookback=3))
    assert data.values[4, 0] == pytest.approx(5.0)
    assert any("interpolated 1 missing" in n for n in data.notices)
    with pytest.raises(DataError, match="policy is `refuse`"):
        prepare_frame(load_table(path), spec_with(lookback=3, missing="refuse"))


def test_semicolons_and_decimal_commas(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("time;v\n" + "".join(f"2020-01-{d:02d};{d},5\n" for d in range(1, 29)))
    df = load_table(path)
    assert df["v"].iloc[0] == pytest.approx(1.5)


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("time,v\n")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        load_table(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="header.csv: the file has a header"):
        load_table(tmp_path / "header.csv")


@pytest.mark.parametrize(("freq", "season"), [("D", 7), ("W-SUN", 52), ("MS", 12), ("QS-OCT", 4), ("30min", 48), ("h", 24), ("YS-JAN", 1), (None, 1)])
def test_season_from_frequency(freq, season):
    assert season_from_freq(freq) == season


def test_sequences_are_padded_masked_and_split_by_sequence(sequences_csv):
    spec = ModelSpec().updated(task="classify")
    data = prepare_frame(load_table(sequences_csv), spec)
    assert data.classes == ("fast", "slow")
    assert data.x.shape[0] == 24 and data.x.shape[1] == data.lengths.max() and data.x.shape[2] == 2
    for i, n in enumerate(data.lengths):
        assert not np.isnan(data.x[i, :n]).any() and np.isnan(data.x[i, n:]).all()
    counts = {p: int((data.split == p).sum()) for p in ("train", "val", "test")}
    # a validation part of 4 sequences would be under MIN_VAL_SEQUENCES: it stays in training (with a notice)
    assert counts == {"train": 20, "val": 0, "test": 4}
    assert set(data.y[data.split == "test"]) == {0, 1}  # stratified: both classes in the test part


def test_single_class_is_refused(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("sequence_id,t,a,label\n" + "".join(f"{i // 3},{i % 3},{i},x\n" for i in range(12)))
    with pytest.raises(DataError, match="single class"):
        prepare_frame(load_table(path), ModelSpec().updated(task="classify"))


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="shared data not present")
def test_every_shared_forecasting_file_prepares():
    for path in sorted((SHARED_DATA / "forecasting").glob("*.csv")):
        df = load_table(path)
        try:
            data = prepare_frame(df, ModelSpec())
        except DataError as err:
            assert path.stem == "shampoo_sales_monthly" and "too few" in str(err)
            continue
        assert np.isfinite(data.values).all(), path


def test_a_test_file_stays_the_whole_test_part_when_training_rows_are_dropped(tmp_path):
    from builder.tasks import prepare

    time = pd.date_range("2020-01-01", periods=240, freq="D").strftime("%Y-%m-%d")
    y = np.sin(np.arange(240) / 5.0)
    y[np.arange(10, 200, 10)] = np.nan  # 19 gaps in the training file, none in the test file
    pd.DataFrame({"time": time[:200], "y": y[:200]}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"time": time[200:], "y": y[200:]}).to_csv(tmp_path / "test.csv", index=False)
    data = prepare(tmp_path / "train.csv", spec_with(lookback=5, missing="drop"), tmp_path / "test.csv")
    assert data.n_rows == 221 and data.n_rows - data.n_train - data.n_val == 40
    assert data.time[data.n_train + data.n_val] == pd.Timestamp(time[200]), "the test part starts with the test file"
    assert data.notices[-1] == "test part: the 40 rows of the test file"


@pytest.mark.parametrize("missing", ["interpolate", "ffill", "drop"])
@pytest.mark.parametrize("years", [False, True])
def test_a_date_the_test_file_skips_moves_no_split_boundary(tmp_path, missing, years):
    # before: the row inserted for the skipped date counted as a test row, so the test part (the last
    # len(test file) rows) began one row early: the test file's first date went to validation
    from builder.tasks import prepare

    n = 120 if years else 240
    time = (np.arange(1800, 1800 + n) if years else pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"))
    y = np.sin(np.arange(n) / 5.0)
    cut = n - 40
    pd.DataFrame({"time": time[:cut], "y": y[:cut]}).to_csv(tmp_path / "train.csv", index=False)
    bounds = []
    for skip in (False, True):
        test = pd.DataFrame({"time": time[cut:], "y": y[cut:]})
        if skip:
            test = test.drop(index=test.index[7])
        test.to_csv(tmp_path / "test.csv", index=False)
        data = prepare(tmp_path / "train.csv", spec_with(lookback=5, missing=missing), tmp_path / "test.csv")
        start = data.n_train + data.n_val
        bounds.append((data.n_train, data.n_val, data.time[start]))
        assert data.time[start] == pd.Timestamp(str(time[cut])), "the test part starts with the test file"
        assert data.n_rows - start == (39 if skip and missing == "drop" else 40)
        inserted = " (40 rows with the steps its dates skip)" if skip and missing != "drop" else ""
        assert data.notices[-1] == f"test part: the {len(test)} rows of the test file{inserted}"
    assert bounds[0] == bounds[1]


@pytest.mark.parametrize("sep", ["\t", "|", ";"])
def test_decimal_commas_after_any_separator_are_decimal_commas(tmp_path, sep):
    # before: after a tab or a pipe, 174,896 was read as 174896 (a thousands comma) and 26,0 as 260
    path = tmp_path / "eu.csv"
    path.write_text(f"time{sep}v{sep}w\n" + "".join(f"2020-01-{d:02d}{sep}174,896{sep}{d},0\n" for d in range(1, 29)))
    df = load_table(path)
    assert df["v"].iloc[0] == pytest.approx(174.896) and df["w"].iloc[3] == pytest.approx(4.0)
    assert "decimal commas detected" in df.attrs["notices"]


@pytest.mark.parametrize(("sep", "cell", "value"), [("\t", "1,234.5", 1234.5), ("|", "2.5", 2.5), (";", "1.234,5", 1234.5)])
def test_thousands_and_plain_numbers_after_other_separators(tmp_path, sep, cell, value):
    path = tmp_path / "n.csv"
    path.write_text(f"time{sep}v\n" + "".join(f"2020-01-{d:02d}{sep}\"{cell}\"\n" for d in range(1, 29)))
    assert load_table(path)["v"].iloc[0] == pytest.approx(value)


@pytest.mark.parametrize(("sep", "late"), [(",", '"1,234,567"'), ("\t", "1,234,567.5")])
def test_thousands_separators_first_seen_past_the_sniffed_lines_read_as_numbers(tmp_path, sep, late):
    # before: the sniffing saw only lines 1-50, so the column stayed text and training ended in
    # "column `v` expected numbers, found text"
    path = tmp_path / "late.csv"
    days = pd.date_range("2020-01-01", periods=80, freq="D").strftime("%Y-%m-%d")
    path.write_text(f"time{sep}v\n" + "".join(f"{d}{sep}{late if i >= 60 else i}\n" for i, d in enumerate(days)))
    df = load_table(path)
    assert df["v"].dtype == np.float64 and df["v"].iloc[10] == 10
    assert df["v"].iloc[70] == float(late.strip('"').replace(",", ""))
    assert "numbers with a thousands separator ',' read as plain numbers" in df.attrs["notices"]
    assert prepare_frame(df, spec_with(lookback=3)).values[70, 0] == pytest.approx(df["v"].iloc[70])


def test_a_late_comma_in_a_text_column_leaves_it_text(tmp_path):
    path = tmp_path / "t.csv"
    quoted = '"a,b"'
    path.write_text("time,v,note\n" + "".join(f"2020-01-{d:02d},{d},{quoted if d > 20 else 'x'}\n" for d in range(1, 29)))
    assert load_table(path)["note"].iloc[-1] == "a,b"


def test_dotted_dates_beside_decimal_commas_stay_dates(tmp_path):
    # before: with the thousands separator "." that decimal commas bring, 07.01.2020 became the number 7012020,
    # so the file had no time column and the dates were a covariate
    path = tmp_path / "de.csv"
    path.write_text("Datum;Last\n" + "".join(f"{d:02d}.01.2020;{d},5\n" for d in range(1, 29)))
    data = prepare_frame(load_table(path), spec_with(lookback=3))
    assert data.time_col == "Datum" and data.inputs == ("Last",) and data.freq == "D"
    assert data.time[6] == pd.Timestamp("2020-01-07") and data.values[6, 0] == pytest.approx(7.5)


def test_spaces_between_thousands_beside_decimal_commas(tmp_path):
    path = tmp_path / "fr.csv"
    path.write_text("time;v\n" + "".join(f"2020-01-{d:02d};1 2{d:02d},5\n" for d in range(1, 29)))
    assert load_table(path)["v"].iloc[2] == pytest.approx(1203.5)


def test_no_numeric_column_names_what_the_columns_hold(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,v\n" + "".join(f"2020-01-{d:02d},{d} kWh\n" for d in range(1, 29)))
    with pytest.raises(DataError, match=r"found none \(columns: \['time', 'v'\]; first values `v`: '1 kWh'\)"):
        prepare_frame(load_table(path), spec_with(lookback=3))


def test_dots_between_thousands_without_decimals(tmp_path):
    # before: 1.234.567 stayed text, and 987.654 beside it was read as 987.654 instead of 987654
    path = tmp_path / "de.csv"
    path.write_text("time;v\n" + "".join(f"2020-01-{d:02d};{'1.234.567' if d % 2 else '987.654'}\n" for d in range(1, 29)))
    v = load_table(path)["v"]
    assert v.iloc[0] == 1234567 and v.iloc[1] == 987654


# --- encodings: one rule for the whole file (builder.data.read.file_encoding) ---------------------------------

def _labels_csv(rows: int = 6000) -> str:
    return "id,label\n" + "".join(f"{i},{'café' if i % 3 else 'über €'}\n" for i in range(rows))


def test_a_utf8_file_with_one_latin1_byte_past_the_sniffed_bytes_is_refused_naming_the_line(tmp_path):
    # before: the head decided UTF-8 and pandas failed on the byte ("not valid utf-8 at byte N"), or with the byte
    # in the head the whole file was read as Latin-1 and every é became Ã© (new classes, silently)
    path = tmp_path / "m.csv"
    path.write_bytes(_labels_csv().encode().replace(b"4999,caf\xc3\xa9", b"4999,caf\xe9"))
    assert path.stat().st_size > 65_536
    with pytest.raises(DataError, match=r"m\.csv line 5001: byte 0xE9 is not UTF-8, while line 2 has 'ü' written "
                                        r"in UTF-8: the file mixes encodings .*save the file as UTF-8"):
        load_table(path)


def test_a_latin1_head_with_utf8_later_is_refused_rather_than_read_as_mojibake(tmp_path):
    head = "id,label\n0,caf\xe9\n".encode("latin-1")
    path = tmp_path / "m.csv"
    path.write_bytes(head + b"".join(f"{i},x\n".encode() for i in range(1, 20_000)) + "20000,café\n".encode())
    with pytest.raises(DataError, match=r"m\.csv line 2: byte 0xE9 is not UTF-8, while line 20002 has 'é' written in UTF-8"):
        load_table(path)


def test_mixed_encodings_are_refused_from_uploads_too_and_count_the_bytes():
    import io

    raw = _labels_csv(400).encode().replace(b"caf\xc3\xa9", b"caf\xe9", 3)
    upload = io.BytesIO(raw)
    upload.seek(0)
    with pytest.raises(DataError, match=r"upload line 3: byte 0xE9 is not UTF-8 \(3 such bytes, on line\(s\) 3, 4, 6\)"):
        load_table(upload)
    assert upload.tell() == 0
    cyrillic = ("id,label\n" + "".join(f"{i},привет\n" for i in range(50))).encode() + b"50,caf\xe9\n"
    with pytest.raises(DataError, match=r"c\.csv line 52: byte 0xE9 .* line 2 has 'п' written in UTF-8"):
        load_table(cyrillic, name="c.csv")


def test_a_file_that_is_latin1_throughout_still_reads_as_latin1_with_the_note():
    df = load_table(_labels_csv().replace("€", "EUR").encode("latin-1"), name="l.csv")
    assert df.attrs["notices"] == ["the file is not valid UTF-8; read as Latin-1"]
    assert set(df["label"]) == {"café", "über EUR"}


def test_windows_1252_bytes_are_read_as_windows_1252_not_as_control_characters():
    # before: Latin-1 decoded € (0x80) and “ ” (0x93 0x94) as the control characters U+0080, U+0093, U+0094
    raw = ("id,label\n" + "".join(f"{i},„Fuß“ {'€' if i % 2 else '–'} groß\n" for i in range(60))).encode("cp1252")
    df = load_table(raw, name="w.csv")  # „Fuß“ holds ß“ (0xDF 0x93): valid UTF-8 by chance, yet not UTF-8 text
    assert set(df["label"]) == {"„Fuß“ € groß", "„Fuß“ – groß"}
    assert any("read as Windows-1252" in n for n in df.attrs["notices"])


# --- numbers with commas: each column read from all of its values (builder.data.read.number_reading) ---------

def _late(tmp_path, sep: str, late: dict[int, str], early: str = "{i}", name: str = "late.csv"):
    """A file `time<sep>y<sep>x` of 80 rows whose `y` is `early` except at the rows of `late` (0-based)."""
    days = pd.date_range("2020-01-01", periods=80, freq="D").strftime("%Y-%m-%d")
    path = tmp_path / name
    path.write_text(f"time{sep}y{sep}x\n" + "".join(
        f"{d}{sep}{late.get(i, early.format(i=i))}{sep}{i % 7}\n" for i, d in enumerate(days)))
    return path


def test_a_late_1_234_after_semicolons_without_evidence_is_a_decimal_comma_with_a_note_naming_the_column(tmp_path):
    # before: `y` stayed text ("expected numbers, found text"); an earlier reader took it as 1.234 silently
    df = load_table(_late(tmp_path, ";", {60: "1,234", 70: "2,500"}))
    assert df["y"].dtype == np.float64 and df["y"].iloc[60] == pytest.approx(1.234) and df["y"].iloc[70] == 2.5
    note = next(n for n in df.attrs["notices"] if "`y`" in n)
    assert "column(s) `y`: numbers such as '1,234' can be read with a decimal comma or a thousands comma" in note
    assert "read as decimal commas (1,234 = 1.234), as usual after semicolon separators" in note


@pytest.mark.parametrize(("late", "expected"), [
    ({60: "1,234", 75: "1,234.5"}, {60: 1234.0, 75: 1234.5}),   # a thousands comma somewhere in the column
    ({60: "1,234", 75: "12,5"}, {60: 1.234, 75: 12.5}),         # a decimal comma somewhere in the column
    ({60: "1,234", 75: "1.234,5"}, {60: 1.234, 75: 1234.5}),
    ({60: "12,5", 75: "0,125"}, {60: 12.5, 75: 0.125}),          # before: "expected numbers, found text"
])
def test_late_numbers_with_commas_follow_the_whole_column_without_a_guess(tmp_path, late, expected):
    df = load_table(_late(tmp_path, ";", late))
    for row, value in expected.items():
        assert df["y"].iloc[row] == pytest.approx(value)
    assert df["y"].iloc[10] == 10 and not any("can be read with a decimal comma" in n for n in df.attrs["notices"])


def test_the_column_also_decides_against_the_first_lines(tmp_path):
    # 1,234 in the sniffed lines used to make the whole file decimal-comma: 1,234 = 1.234 silently, and a later
    # 1,234.5 left the column text
    df = load_table(_late(tmp_path, ";", {5: "1,234", 70: "5,678.25"}))
    assert df["y"].iloc[5] == 1234 and df["y"].iloc[70] == 5678.25
    assert "numbers with a thousands separator ',' read as plain numbers" in df.attrs["notices"]


def test_1_234_in_the_first_lines_alone_is_named_as_a_guess(tmp_path):
    df = load_table(_late(tmp_path, ";", {5: "1,234"}))
    assert df["y"].iloc[5] == pytest.approx(1.234)
    assert any(n.startswith("column(s) `y`: numbers such as '1,234'") for n in df.attrs["notices"])


def test_other_columns_decimal_points_decide_and_are_no_longer_read_as_thousands_dots(tmp_path):
    # before: 1,234 in `y` made "." a thousands separator for the file, so `x`'s 1.5 was read as 15, 12.5 as 125
    path = tmp_path / "p.csv"
    path.write_text("time;y;x\n" + "".join(f"2020-01-{d:02d};{'1,234' if d == 3 else d};{d}.5\n" for d in range(1, 29)))
    df = load_table(path)
    assert df["x"].iloc[0] == 1.5 and df["y"].iloc[2] == 1234
    assert not any("can be read with a decimal comma" in n for n in df.attrs["notices"])


def test_a_1_234_after_tabs_without_evidence_is_a_thousands_comma_with_a_note(tmp_path):
    df = load_table(_late(tmp_path, "\t", {60: "1,234"}))
    assert df["y"].iloc[60] == 1234
    assert any("read as thousands commas (1,234 = 1234), as usual after tab separators" in n for n in df.attrs["notices"])


def test_a_column_with_both_decimal_marks_is_refused_naming_both_rows(tmp_path):
    with pytest.raises(DataError, match=r"late\.csv: column `y` has numbers with a decimal comma \(row 62: '12,5'\) "
                                        r"beside decimal points \(row 72: '12\.5'\); expected one decimal mark throughout"):
        load_table(_late(tmp_path, ";", {60: "12,5", 70: "12.5"}))


def test_spaced_whole_numbers_are_numbers_beside_decimal_commas_only(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("t;code;v\n" + "".join(f"{i};75 0{i:02d};1 2{i:02d}\n" for i in range(30)) + "30;75 030;1 234,5\n")
    df = load_table(path)  # the file writes decimal commas: spaces are between thousands
    assert df["v"].iloc[2] == 1202 and df["v"].iloc[30] == 1234.5 and df["code"].iloc[1] == 75001
    df = load_table(path.read_text().replace("1 234,5", "1 234").encode(), name="s.csv")
    assert not pd.api.types.is_numeric_dtype(df["code"]) and df["code"].iloc[0] == "75 000"  # codes, or text
