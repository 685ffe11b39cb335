"""CLI: train --task translate (its flags mapped to spec fields, through the registry) and predict (greedy
and beam); bad input exits 2 with one `error:` line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from builder.__main__ import main
from tests.conftest import DATASETS

SAMPLE = DATASETS / "dates_to_iso_sample.csv"


def test_train_flags_become_spec_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc = main(["train", "--task", "translate", "--data", str(SAMPLE), "--source-col", "source", "--target-col", "target",
               "--out", str(run), "--epochs", "1", "--units", "8", "--attention", "none", "--schedule", "exponential",
               "--tokens", "characters", "--beam-width", "0", "--quiet"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "baseline: copy the source" in table and "baseline: most frequent target" in table
    spec = json.loads((run / "spec.json").read_text())
    assert spec["task"] == "translate" and spec["data"]["source_col"] == "source"
    assert spec["seq2seq"]["attention"] == "none" and spec["seq2seq"]["teacher_forcing"] == "exponential"
    assert spec["blocks"][0]["units"] == 8
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model_beam"] is None and set(metrics["model"]) == {"exact_match", "cer"}
    assert (run / "saved_model" / "saved_model.pb").exists()


def test_predict_greedy_and_beam(translate_run: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.csv"
    pd.read_csv(SAMPLE, dtype=str).head(4)[["source"]].to_csv(new, index=False)
    for beam in ("0", "2"):
        out = tmp_path / f"out{beam}.csv"
        assert main(["predict", "--run", str(translate_run), "--data", str(new), "--out", str(out), "--beam", beam]) == 0
        got = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert list(got.columns) == ["source", "translation"] and len(got) == 4


def test_bad_input_exits_2(translate_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "--task", "translate", "--data", str(SAMPLE), "--source-col", "source", "--target-col", "iso",
               "--out", str(tmp_path / "r"), "--epochs", "1", "--units", "8", "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and "dates_to_iso_sample.csv" in err and "'iso' not found" in err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["1 May 2000"]}).to_csv(bad, index=False)
    assert main(["predict", "--run", str(translate_run), "--data", str(bad), "--out", str(tmp_path / "o.csv")]) == 2
    assert "source column 'source' not found" in capsys.readouterr().err
