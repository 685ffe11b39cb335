"""Issue #2's measurements: `python -m builder train` with defaults on every shared data set.

Forecasting: each file in ../shared/data/forecasting with no options but --data and --out; prints model
MAE and MASE beside naive and seasonal-naive, and each run's wall time (the whole CLI process).
Classification: each file's package split (splits/<name>_train.csv / _test.csv, --test-data) with the
bigru_classifier preset; accuracy beside the majority class.

Run: .venv/bin/python bench/pipeline_tables.py [--only forecast|classify] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def run_cli(args: list[str]) -> tuple[int, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "builder", *args, "--quiet"], capture_output=True, text=True, cwd=REPO)
    return proc.returncode, time.perf_counter() - t0, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


def forecast_table(out: Path) -> None:
    print("| file | rows | model MAE | naive MAE | seasonal-naive MAE | model MASE | naive MASE | seasonal-naive MASE | m | epochs | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted((SHARED / "forecasting").glob("*.csv")):
        run = out / path.stem
        code, secs, last = run_cli(["train", "--data", str(path), "--out", str(run)])
        rows = sum(1 for _ in path.open()) - 1
        if code != 0:
            print(f"| {path.stem} | {rows} | exit {code}: {last} | | | | | | | | {secs:.1f} |")
            continue
        m = json.loads((run / "metrics.json").read_text())
        print(f"| {path.stem} | {rows} | {m['model']['mae']:.4g} | {m['naive']['mae']:.4g} | {m['seasonal_naive']['mae']:.4g} | "
              f"{m['model']['mase']:.3f} | {m['naive']['mase']:.3f} | {m['seasonal_naive']['mase']:.3f} | "
              f"{m['season_length']} | {m['epochs_run']} | {secs:.1f} |", flush=True)


def classify_table(out: Path) -> None:
    print("| file | train / test sequences | model accuracy | majority-class accuracy | model macro-F1 | epochs | wall s |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted((SHARED / "classification").glob("*.csv")):
        train, test = SHARED / "classification" / "splits" / f"{path.stem}_train.csv", SHARED / "classification" / "splits" / f"{path.stem}_test.csv"
        run = out / path.stem
        code, secs, last = run_cli(["train", "--data", str(train), "--test-data", str(test), "--task", "classify",
                                    "--id-col", "sequence_id", "--label-col", "label", "--out", str(run)])
        if code != 0:
            print(f"| {path.stem} | | exit {code}: {last} | | | | {secs:.1f} |")
            continue
        m = json.loads((run / "metrics.json").read_text())
        d = json.loads((run / "metadata.json").read_text())["resolved"]["split"]
        print(f"| {path.stem} | {d['train'] + d['val']} / {d['test']} | {m['model']['accuracy']:.3f} | "
              f"{m['majority_class']['accuracy']:.3f} | {m['model']['macro_f1']:.3f} | {m['epochs_run']} | {secs:.1f} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", choices=["forecast", "classify"])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="rnn-studio-tables-"))
    if args.only != "classify":
        forecast_table(out / "forecast")
    if args.only != "forecast":
        print()
        classify_table(out / "classify")


if __name__ == "__main__":
    main()
