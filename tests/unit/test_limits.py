"""Limits: refused before any work with a message naming the limit and its variable; model size from the spec."""

from __future__ import annotations

import os

import pytest

from builder import build_model, list_presets, load_preset
from builder.data import DataError, load_table
from builder.limits import ENV, LimitError, current
from builder.model import size
from builder.model.cells.registry import CELLS, projected_cells
from builder.spec import ModelSpec
from builder.tasks import get_task, prepare_frame
from tests.conftest import make_series_csv

PROJECTED_CELLS = projected_cells()


def estimate_params(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> int:
    """The size estimate on the record `build_model(spec, n_features, n_outputs)` builds from."""
    return size.estimate_params(spec, get_task(spec.task).placeholder(spec, n_features, n_outputs))


@pytest.mark.parametrize("name", [p["name"] for p in list_presets()])
def test_estimate_equals_keras_for_every_preset(name):
    spec = load_preset(name)
    for n_features, n_out in ((1, None), (5, 3 if spec.task == "classify" else 1), (7, 4)):
        model = build_model(spec, n_features, n_out)
        assert estimate_params(spec, n_features, n_out) == model.count_params(), (name, n_features, n_out)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("layout", ["plain", "bi_concat", "bi_sum", "conv_attention"])
def test_estimate_equals_keras_for_every_cell(cell, layout):
    rec = {"kind": "recurrent", "cell": cell, "units": 6, "num_layers": 2}
    if cell in PROJECTED_CELLS:
        rec["proj_units"] = 3
    blocks = [rec, {"kind": "dense", "units": 5}]
    if layout.startswith("bi_"):
        rec.update(bidirectional=True, merge_mode=layout[3:])
    if layout == "conv_attention":
        blocks = [{"kind": "conv", "filters": 4, "kernel_size": 3, "pool_size": 2}, rec, {"kind": "attention", "units": 7},
                  {"kind": "dense", "units": 5}]
    for task in ("forecast", "classify"):
        spec = ModelSpec.from_dict({"task": task, "data": {"lookback": 10, "horizon": 3}, "blocks": blocks})
        model = build_model(spec, 4, 3)
        assert estimate_params(spec, 4, 3) == model.count_params(), (cell, layout, task)


def test_defaults_and_environment(monkeypatch):
    for var in ENV.values():
        monkeypatch.delenv(var, raising=False)
    limits = current()
    assert limits.max_rows == 2_000_000 and limits.max_workers == max(1, os.cpu_count() or 1)
    monkeypatch.setenv("RNN_STUDIO_MAX_ROWS", "10_000_000")
    assert current().max_rows == 10_000_000
    monkeypatch.setenv("RNN_STUDIO_MAX_ROWS", "lots")
    with pytest.raises(LimitError, match="RNN_STUDIO_MAX_ROWS: expected a positive whole number, got 'lots'"):
        current()


def test_rows_limit(tmp_path, monkeypatch):
    path = make_series_csv(tmp_path / "s.csv", n=30)
    monkeypatch.setenv("RNN_STUDIO_MAX_ROWS", "29")
    with pytest.raises(DataError, match=r"s.csv: more than 29 rows; the limit is 29 \(RNN_STUDIO_MAX_ROWS\)"):
        load_table(path)
    assert len(load_table(path, max_rows=10)) == 10, "an explicit max_rows is a preview, not a refusal"
    monkeypatch.setenv("RNN_STUDIO_MAX_ROWS", "30")
    assert len(load_table(path)) == 30


def test_columns_limit_counts_the_header_first(tmp_path, monkeypatch):
    path = make_series_csv(tmp_path / "s.csv", n=30)  # time, y, x
    monkeypatch.setenv("RNN_STUDIO_MAX_COLUMNS", "2")
    with pytest.raises(DataError, match=r"the header has 3 columns; the limit is 2 \(RNN_STUDIO_MAX_COLUMNS\)"):
        load_table(path)
    monkeypatch.setenv("RNN_STUDIO_MAX_COLUMNS", "3")
    assert list(load_table(path).columns) == ["time", "y", "x"]


def test_wide_file_accepted_up_to_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_STUDIO_MAX_COLUMNS", "10001")
    path = tmp_path / "wide.csv"
    path.write_text("time," + ",".join(f"c{k}" for k in range(10_000)) + "\n"
                    + "".join(f"2020-01-0{d}," + ",".join("1" for _ in range(10_000)) + "\n" for d in range(1, 4)))
    assert load_table(path).shape == (3, 10_001)


def test_windows_limit(tmp_path, monkeypatch):
    df = load_table(make_series_csv(tmp_path / "s.csv", n=60))
    spec = ModelSpec().updated(data={"lookback": 4, "horizon": 1})
    monkeypatch.setenv("RNN_STUDIO_MAX_WINDOWS", "50")
    with pytest.raises(DataError, match=r"56 windows; the limit is 50 \(RNN_STUDIO_MAX_WINDOWS\)"):
        prepare_frame(df, spec)
    monkeypatch.setenv("RNN_STUDIO_MAX_WINDOWS", "56")
    prepare_frame(df, spec)


def test_model_size_refused_before_building(tmp_path, monkeypatch, capsys):
    import builder.model.build

    def no_build(*args, **kwargs):
        raise AssertionError("the model must not be built")

    monkeypatch.setattr(builder.model.build, "build_model", no_build)
    monkeypatch.setenv("RNN_STUDIO_MAX_PARAMS", "1000")
    from builder.__main__ import main

    data = make_series_csv(tmp_path / "s.csv", n=80)
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--lookback", "8", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    expected = estimate_params(load_preset("stacked_lstm").updated(data={"lookback": 8}), 2, 1)
    assert err[0] == (f"error: the model would have {expected:,} weights for 2 input feature(s); the limit is 1,000 "
                      "(RNN_STUDIO_MAX_PARAMS); use fewer units or layers, or fewer input columns")


@pytest.mark.parametrize("cell", ["child_sum_tree_lstm", "nary_tree_lstm"])
@pytest.mark.parametrize("layers", [0, 1, 3])
def test_estimate_equals_keras_for_every_tree_cell(cell, layers):
    rec = {"kind": "recurrent", "cell": cell, "units": 6, "composition_layers": layers}
    if cell == "nary_tree_lstm":
        rec["arity"] = 3
    spec = load_preset("child_sum_tree_lstm").updated(blocks=[rec, {"kind": "dense", "units": 5}])
    for n_features, n_out in ((1, None), (4, 3)):
        model = build_model(spec, n_features, n_out)
        assert estimate_params(spec, n_features, n_out) == model.count_params(), (cell, layers, n_features, n_out)
        if layers:  # the composition layers are in the model, not only in the count
            assert any("compose_kernel" in w.path for w in model.weights)
