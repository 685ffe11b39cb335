"""RNN Studio benchmarks: one entry point, one table (issue #6). Not a test.

Every figure is printed beside a reference measured in the same run and the ratio ours / reference
(for samples/s higher is better, for seconds and ms lower is better). Sections:

  train    training samples/s of the forecast presets vs a PyTorch twin; jit_compile True vs False
  app      seconds until `streamlit run app.py` serves and draws its first page vs a one-line app;
           whether the first page draws without importing TensorFlow
  predict  exported SavedModel latency (1 window) and throughput (1,024) vs Keras and PyTorch
  data     bench/data_scale.py (10M rows), when that file is present

Run with the interpreter that has torch to get the PyTorch column (otherwise it reads "n/a"):

    /work/main/.torchvenv/bin/python bench/run.py            # full sizes (tens of minutes on 2 cores)
    /work/main/.torchvenv/bin/python bench/run.py --quick    # tiny sizes, a smoke run
    .venv/bin/python bench/run.py --quick --only predict
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECTIONS = ["train", "app", "predict", "data"]
DATA_ROWS = 10_000_000
QUICK_DATA_ROWS = 200_000  # data_scale needs > 300 x 256 training windows


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        mag = abs(value)
        if mag >= 1000:
            return f"{value:,.0f}"
        if mag >= 10:
            return f"{value:.1f}"
        if mag >= 0.01 or mag == 0:
            return f"{value:.3g}" if mag < 1 else f"{value:.2f}"
        return f"{value:.2e}"
    return str(value)


def ratio_text(row: dict[str, Any]) -> str:
    r = row.get("ratio")
    if "ratio" not in row and isinstance(row.get("ours"), (int, float)) and isinstance(row.get("reference"), (int, float)) \
            and not isinstance(row.get("ours"), bool) and row["reference"]:
        r = row["ours"] / row["reference"]
    if r is None:
        return "-"
    return f"{r:.3g}x" if abs(r) < 0.1 else f"{r:.2f}x"


def print_table(rows: list[dict[str, Any]], file: Any = None) -> None:
    """One markdown table: figure | ours | reference | ratio (ours / reference) | unit | note."""
    out = file or sys.stdout
    print("| figure | ours | reference | ratio (ours / ref) | unit | note |", file=out)
    print("|---|---|---|---|---|---|", file=out)
    for r in rows:
        note = str(r.get("note") or "").replace("|", "/")
        print(f"| {r['figure']} | {_fmt(r.get('ours'))} | {_fmt(r.get('reference'))} | {ratio_text(r)} | "
              f"{r.get('unit', '')} | {note} |", file=out, flush=True)


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    try:
        mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.splitlines()[1].split()[1]
    except (OSError, IndexError):
        mem = "?"
    return (f"{platform.node()}: {os.cpu_count()} cpus, {mem} GiB RAM, python {platform.python_version()} "
            f"({sys.executable}), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def _data_section(quick: bool, rows: int | None) -> list[dict[str, Any]]:
    try:
        from bench import data_scale
    except ImportError as err:
        return [{"figure": "data: 10M-row pipeline", "ours": None, "reference": None, "ratio": None, "unit": "",
                 "note": f"skipped: bench/data_scale.py not importable ({err})"}]
    n = rows or (QUICK_DATA_ROWS if quick else DATA_ROWS)
    return data_scale.run(n, quick)


def section_runners(quick: bool, data_rows: int | None) -> dict[str, Callable[[], list[dict[str, Any]]]]:
    def train() -> list[dict[str, Any]]:
        from bench import throughput

        return throughput.run(quick, log=log)

    def app() -> list[dict[str, Any]]:
        from bench import app_start

        return app_start.run(quick, log=log)

    def predict() -> list[dict[str, Any]]:
        from bench import predict_latency

        return predict_latency.run(quick, log=log)

    return {"train": train, "app": app, "predict": predict, "data": lambda: _data_section(quick, data_rows)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    p.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    p.add_argument("--data-rows", type=int, default=None, help=f"rows for the data section (default {DATA_ROWS:,})")
    args = p.parse_args(argv)
    chosen = args.only or SECTIONS
    runners = section_runners(args.quick, args.data_rows)
    rows: list[dict[str, Any]] = []
    failed = 0
    t0 = time.perf_counter()
    log(f"bench start: {machine()}")
    for name in SECTIONS:
        if name not in chosen:
            continue
        log(f"[{name}] ...")
        ts = time.perf_counter()
        try:
            rows += runners[name]()
        except Exception as err:  # one broken section must not hide the others' figures
            failed += 1
            msg = str(err).strip().splitlines()
            rows.append({"figure": f"{name}: FAILED", "ours": None, "reference": None, "ratio": None, "unit": "",
                         "note": f"{type(err).__name__}: {msg[-1] if msg else ''}"[:300]})
            log(f"[{name}] failed: {err}")
        log(f"[{name}] {time.perf_counter() - ts:.0f} s")
    print(f"RNN Studio bench{' (--quick: smoke sizes, not a measurement)' if args.quick else ''}; "
          f"ratio = ours / reference")
    print(f"machine at the end: {machine()}; total {time.perf_counter() - t0:.0f} s")
    print()
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
