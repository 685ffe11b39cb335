"""Smoke check of the benchmark entry point: `bench/run.py --quick --only predict` prints a table of numbers.

Not a timed test: it only checks that the bench runs end to end and reports figures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_bench_quick_predict_prints_a_table_with_numbers() -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--only", "predict"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=290)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("| figure | ours | reference | ratio") for ln in lines), proc.stdout
    rows = [ln.split("|")[1:-1] for ln in lines if ln.startswith("| predict")]
    assert len(rows) >= 5, proc.stdout
    number = re.compile(r"^\s*[\d,]+(\.\d+)?(e[-+]?\d+)?\s*$")
    for figure, ours, reference, ratio, unit, _note in rows:
        assert number.match(ours), f"{figure}: ours {ours!r}"
        assert unit.strip() in {"ms", "samples/s"}, f"{figure}: unit {unit!r}"
        if "PyTorch" not in figure:  # the torch column reads n/a where torch is not installed
            assert number.match(reference), f"{figure}: reference {reference!r}"
            assert ratio.strip().endswith("x"), f"{figure}: ratio {ratio!r}"
