"""Time of the Export page's first render, and whether it imports TensorFlow.

Each measurement is a fresh Python process that runs pages/export.py once as a plain script
(Streamlit's bare mode: the page's code runs, nothing is served) on a finished run, as the first visit
of a new server process would; it reports the seconds from the process's first import to the end of
the page (and the page body alone, after the imports app.py makes before any page: streamlit and
builder.app), and whether `tensorflow` was imported. With `--before REPO` (another checkout, e.g. the main
branch) the same run is timed on both, interleaved, and the ratio printed.

    python bench/export_first_render.py --run RUN_DIR [--before /work/main] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RUNNER = r"""
import json, runpy, sys, time
t0 = time.perf_counter()
import streamlit as st
import pages.common  # what app.py has imported before any page runs (streamlit, builder.app)
t1 = time.perf_counter()
st.session_state["run_id"] = sys.argv[1]
runpy.run_path("pages/export.py", run_name="__main__")
t2 = time.perf_counter()
print("RESULT " + json.dumps({"seconds": t2 - t0, "body_seconds": t2 - t1, "tensorflow": "tensorflow" in sys.modules}))
"""


def render_once(repo: Path, home: Path, run_id: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(repo), "RNN_STUDIO_HOME": str(home), "RNN_STUDIO_WARM_WORKER": "0"}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUNNER, run_id], cwd=repo, env=env, capture_output=True, text=True,
                         timeout=600)
    wall = time.perf_counter() - t0
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"error: the page did not finish in {repo}: {out.stderr.strip().splitlines()[-5:]}")
    return {**json.loads(line[7:]), "process_seconds": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a finished run directory (with metadata.json and saved_model/)")
    ap.add_argument("--before", help="another checkout to time the same way (the code before the change)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    run = Path(args.run).resolve()
    if not (run / "metadata.json").exists():
        raise SystemExit(f"error: {run}: no metadata.json; train a run first (python -m builder train ... --out DIR)")
    repos = {"after": REPO}
    if args.before:
        repos = {"before": Path(args.before).resolve(), **repos}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(run, home / "runs" / run.name)
        results: dict[str, list[dict]] = {k: [] for k in repos}
        for _ in range(args.rounds):
            for name, repo in repos.items():  # interleaved: the load changes alike for both
                results[name].append(render_once(repo, home, run.name))
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, {args.rounds} rounds")
    med = {}
    for name, rows in results.items():
        med[name] = statistics.median(r["seconds"] for r in rows)
        tf = {r["tensorflow"] for r in rows}
        each = ", ".join(f"{r['seconds']:.2f}" for r in rows)
        print(f"{name:>6}: page {med[name]:.2f} s median ({each}), "
              f"of which the page body after the app's imports {statistics.median(r['body_seconds'] for r in rows):.2f} s, "
              f"process {statistics.median(r['process_seconds'] for r in rows):.2f} s, imports TensorFlow: "
              f"{' / '.join(map(str, sorted(tf)))}")
    if "before" in med:
        print(f"after / before: {med['after'] / med['before']:.2f}x")


if __name__ == "__main__":
    main()
