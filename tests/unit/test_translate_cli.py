"""CLI: train --task translate and predict (greedy and beam) on a small pairs file; errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from builder.__main__ import main

DATES = Path("/work/shared/data/seq2seq/dates_to_iso.csv")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    if DATES.exists():
        pd.read_csv(DATES, nrows=200, dtype=str)[["source", "target"]].to_csv(path, index=False)
    else:
        src = [f"{d} {m} {y}" for d, m, y in zip(range(1, 29), ["jan", "feb", "mar", "apr"] * 7, range(1990, 2018), strict=True)] * 7
        pd.DataFrame({"source": src, "target": [s[::-1] for s in src]}).to_csv(path, index=False)
    return path


def test_train_and_predict(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc = main(["train", "--task", "translate", "--data", str(pairs), "--source-col", "source", "--target-col", "target",
               "--out", str(run), "--epochs", "1", "--units", "8", "--quiet"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "copy_source" in table and "most_frequent" in table
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["model"]) == {"exact_match", "cer"}
    assert (run / "saved_model" / "saved_model.pb").exists()
    new = tmp_path / "new.csv"
    pd.read_csv(pairs, dtype=str).head(4)[["source"]].to_csv(new, index=False)
    for beam in ("0", "2"):
        out = tmp_path / f"out{beam}.csv"
        assert main(["predict", "--run", str(run), "--data", str(new), "--out", str(out), "--beam", beam]) == 0
        got = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert list(got.columns) == ["source", "translation"] and len(got) == 4


def test_bad_column_exits_2(pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "--task", "translate", "--data", str(pairs), "--source-col", "source", "--target-col", "iso",
               "--out", str(tmp_path / "r"), "--epochs", "1", "--units", "8", "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and "pairs.csv" in err and "'iso' not found" in err
