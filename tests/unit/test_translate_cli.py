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


def test_train_flags_become_spec_fields(translate_run: Path) -> None:
    """The session's run was trained by `train --task translate --spec tiny.json --units 8 --schedule exponential
    --beam-width 2 ...` (tests/conftest.py): each flag set its spec field over the spec file's."""
    from builder.tasks.registry import get_task

    spec = json.loads((translate_run / "spec.json").read_text())
    assert spec["task"] == "translate" and spec["data"]["source_col"] == "source"
    assert spec["data"]["target_col"] == "target" and spec["blocks"][0]["units"] == 8
    assert spec["seq2seq"]["teacher_forcing"] == "exponential" and spec["seq2seq"]["beam_width"] == 2
    metrics = json.loads((translate_run / "metrics.json").read_text())
    assert set(metrics["model"]) == {"exact_match", "cer"} and metrics["model_beam"]["width"] == 2
    table = get_task("translate").cli_table(metrics)  # what `train` prints
    assert "baseline: copy the source" in table and "baseline: most frequent target" in table
    assert (translate_run / "saved_model" / "saved_model.pb").exists()


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
