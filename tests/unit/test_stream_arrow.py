"""The large-file reader's pyarrow path: the same arrays as the pandas path, and any cell pyarrow refuses
goes to the pandas path, whose message names the row and column."""

from __future__ import annotations

import numpy as np
import pytest

import builder.data.stream as stream
from builder import ModelSpec
from builder.data import DataError

SPEC = ModelSpec().updated(data={"lookback": 8, "horizon": 2})


def test_arrow_path_equals_the_pandas_path(series_csv, monkeypatch) -> None:
    calls = []
    real = stream._read_pandas
    monkeypatch.setattr(stream, "_read_pandas", lambda *a, **k: calls.append(1) or real(*a, **k))
    a = stream.read_series_file(series_csv, SPEC, 8)
    assert not calls, "a plain file is read by pyarrow"
    monkeypatch.setattr(stream, "_read_arrow", lambda *a, **k: None)
    b = stream.read_series_file(series_csv, SPEC, 8)
    assert calls
    np.testing.assert_array_equal(a.values, b.values)
    assert list(a.time) == list(b.time) and (a.n_train, a.inputs) == (b.n_train, b.inputs)


def test_cells_pyarrow_refuses_get_the_pandas_message(series_csv) -> None:
    lines = series_csv.read_text().splitlines()
    time, _, x = lines[30].split(",")
    lines[30] = f"{time},inf,{x}"
    series_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="y"):
        stream.read_series_file(series_csv, SPEC, 8)
    lines[30] = f"not a date,1.0,{x}"
    series_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"row 31"):
        stream.read_series_file(series_csv, SPEC, 8)


def test_missing_cells_stay_missing(series_csv) -> None:
    lines = series_csv.read_text().splitlines()
    time, _, x = lines[40].split(",")
    lines[40] = f"{time},,{x}"
    series_csv.write_text("\n".join(lines) + "\n")
    data = stream.read_series_file(series_csv, SPEC, 8)  # interpolated, as in the pandas path
    assert np.isfinite(data.values).all()
    assert any("missing" in n or "interpol" in n for n in data.notices), data.notices
