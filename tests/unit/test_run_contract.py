"""The run directory contract: one description of the data (metadata.json, format 2), strict JSON in
every file, and runs of format 1 still readable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder import load_preset
from builder.files import atomic_dir, dumps, loads_strict
from builder.tasks.base import Resolved
from builder.training.fit import train_run
from builder.training.runs import Run, RunFormatError


def test_atomic_dir_replaces_a_folder_only_when_it_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "saved_model"
    out.mkdir()
    (out / "old.pb").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "half.pb").write_text("half")
        raise RuntimeError("the writer failed")
    assert [p.name for p in out.iterdir()] == ["old.pb"] and [p.name for p in tmp_path.iterdir()] == ["saved_model"]
    with atomic_dir(out) as tmp:
        (tmp / "new.pb").write_text("new")
        assert not (out / "new.pb").exists()
    assert [p.name for p in out.iterdir()] == ["new.pb"] and [p.name for p in tmp_path.iterdir()] == ["saved_model"]


def test_strict_parser_and_writer_refuse_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        loads_strict('{"mase": NaN}')
    with pytest.raises(ValueError):
        dumps({"mase": float("nan")})


def test_constant_series_trains_and_every_json_file_is_strict(tmp_path: Path) -> None:
    n = 80
    pd.DataFrame({"time": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                  "y": np.full(n, 5.0)}).to_csv(tmp_path / "flat.csv", index=False)
    spec = load_preset("simple_rnn_baseline").updated(
        data={"lookback": 8}, training={"epochs": 2, "batch_size": 16},
        blocks=[{"kind": "recurrent", "cell": "simple_rnn", "units": 4}])
    metrics = train_run(spec, tmp_path / "flat.csv", tmp_path / "run")
    assert metrics["model"]["mase"] is None and metrics["naive"]["mase"] is None
    assert "constant" in metrics["undefined"]["mase"]
    files = sorted((tmp_path / "run").rglob("*.json")) + sorted((tmp_path / "run").rglob("*.jsonl"))
    assert {f.name for f in files} >= {"spec.json", "metadata.json", "metrics.json", "status.json", "last.json",
                                       "history.jsonl"}
    for f in files:
        for text in (f.read_text().splitlines() if f.suffix == ".jsonl" else [f.read_text()]):
            loads_strict(text)  # raises on NaN / Infinity


def test_old_format_reads_and_unknown_format_is_named(tmp_path: Path) -> None:
    run = Run(tmp_path / "old")
    run.write_json("metadata.json", {"format": "rnn-studio/1", "task": "forecast", "lookback": 4, "horizon": 2,
                                     "features": ["y", "x"], "targets": ["y"], "classes": [], "time_col": "t"})
    run.write_json("data.json", {"x_scaler": {"kind": "standard", "mean": [0, 0], "scale": [1, 1]},
                                 "n_train": 10, "n_val": 2, "n_test": 2, "missing": "ffill"})
    r = Resolved.from_dict(run.metadata()["resolved"])
    assert (r.inputs, r.covariates, r.input_length, r.missing, r.n_outputs) == (("y", "x"), ("x",), 4, "ffill", 1)
    run.write_json("metadata.json", {"format": "rnn-studio/9"})
    with pytest.raises(RunFormatError, match=r"rnn-studio/9"):
        run.metadata()
