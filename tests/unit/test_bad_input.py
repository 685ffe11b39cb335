"""Every file of the bad-input corpus through the CLI: `error: ...` + status 2, or a trained run + a notice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.__main__ import main
from builder.spec import ModelSpec
from tests.conftest import REPO
from tests.data.make_bad_corpus import BAD, CASES, case_path, content


def tiny_spec(path: Path, task: str) -> Path:
    spec = ModelSpec.from_dict({
        "name": "tiny", "task": task,
        "data": {"lookback": 4, "horizon": 1} if task == "forecast" else {},
        "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
        "training": {"epochs": 1, "batch_size": 32, "patience": None},
    })
    path.write_text(spec.to_json(), encoding="utf-8")
    return path


def test_committed_corpus_matches_the_generator():
    for name, case in CASES.items():
        path = BAD / case.file
        if case.generated:
            assert not path.exists(), f"{path} is generated at test time, not committed"
        else:
            assert path.read_bytes() == content(name), f"{path} is stale: run tests/data/make_bad_corpus.py"
            assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("name", list(CASES))
def test_cli_on_bad_input(name, tmp_path, capsys):
    case = CASES[name]
    data = case_path(name, tmp_path)
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--spec", str(tiny_spec(tmp_path / "spec.json", case.task)),
            "--out", str(run), "--quiet", *case.args]
    code = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if case.outcome == "error":
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert case.fragment in lines[0], lines[0]
        assert str(data) in lines[0] or data.name in lines[0], "the message names the file"
    else:
        assert code == 0, err
        notes = [ln for ln in lines if ln.startswith("note: ")]
        assert any(case.fragment in n for n in notes), notes
        metrics = json.loads((run / "metrics.json").read_text())
        model = metrics["model"]
        values = [model["mae"], model["rmse"]] if case.task == "forecast" else [model["accuracy"]]
        assert all(v == v and abs(v) != float("inf") for v in values), "never a NaN model"


def test_subprocess_bad_file_has_no_traceback(tmp_path):
    data = case_path("ragged_short", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "builder", "train", "--data", str(data), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {data}: row 8 has 2 fields, expected 3 like the header (ragged row)"
    ]
