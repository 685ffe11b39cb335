"""CSV reading time of two checkouts side by side: `load_table` (the in-memory reader every page and task
uses) and `read_series_file` (the forecast task's reader for large files) on one generated file.

The file: N rows of `time,y,x` (minute timestamps, two float columns), written once into a temporary
folder. Each checkout is timed in its own process (its `builder` first on sys.path), best of R runs;
the table prints each checkout's seconds and its ratio to the first (the reference).

Run: .venv/bin/python bench/reader_time.py --repo before=/path/to/old/checkout --repo after=. [--rows 500000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from builder.data.read import load_table
from builder.data.stream import read_series_file
from builder.spec import ModelSpec
path, repeats = sys.argv[2], int(sys.argv[3])
spec = ModelSpec().updated(data={"lookback": 24, "targets": ["y"], "time_col": "time"})
out = {}
for name, call in (("load_table", lambda: load_table(path)), ("read_series_file", lambda: read_series_file(path, spec, 24))):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    out[name] = min(times)
print(json.dumps(out))
"""


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2000-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M")
    y = rng.random(rows)
    pd.DataFrame({"time": stamps, "y": y.round(5), "x": (3 * y).round(3)}).to_csv(path, index=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", action="append", required=True, help="NAME=DIR (a checkout); the first is the reference")
    p.add_argument("--rows", type=int, default=500_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    repos = [r.split("=", 1) for r in args.repo]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "series.csv"
        write_file(path, args.rows)
        size = path.stat().st_size / 1e6
        results = {}
        for name, repo in repos:
            res = subprocess.run([sys.executable, "-c", CHILD, str(Path(repo).resolve()), str(path), str(args.repeats)],
                                 capture_output=True, text=True, check=True)
            results[name] = json.loads(res.stdout.strip().splitlines()[-1])
    ref = repos[0][0]
    print(f"{args.rows:,} rows, {size:.1f} MB; best of {args.repeats}; ratio against {ref}")
    print(f"{'checkout':<12}{'load_table s':>14}{'ratio':>8}{'read_series_file s':>20}{'ratio':>8}")
    for name, _ in repos:
        r = results[name]
        print(f"{name:<12}{r['load_table']:>14.3f}{r['load_table'] / results[ref]['load_table']:>8.2f}"
              f"{r['read_series_file']:>20.3f}{r['read_series_file'] / results[ref]['read_series_file']:>8.2f}")


if __name__ == "__main__":
    main()
