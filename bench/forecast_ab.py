"""Forecasting A/B table: test MASE of spec variants on every shared series, at horizon 1 and one season.

Each variant is the default spec (`python -m builder spec`) with a few fields overridden, trained with
`python -m builder train --data F --out D --horizon H` (the default preset when a variant overrides
nothing). For each file the horizons are 1 and one season (12 when the series has none); all variants
of one (file, horizon) run back to back, so they share the machine's conditions. Prints one markdown
row per (file, horizon) with each variant's model MASE beside the naive, seasonal-naive, ETS and
Theta MASE (those depend only on the file and horizon; "–" where a baseline is not fitted) and each variant's epochs and wall seconds, and appends every
result to a JSON-lines file.

Run: .venv/bin/python bench/forecast_ab.py --variant before='{}' \
        --variant season='{"residual_base": "season"}' [--repo /other/checkout=before] [--files airline] [--dir DIR]
A variant's overrides are a JSON object merged into the spec (nested objects merge key by key).
`--repo NAME=DIR` runs variant NAME with DIR's checkout (its .venv python), e.g. main for "before".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in changes.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def python_for(repo: Path) -> str:
    venv = repo / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def default_spec(repo: Path) -> dict[str, Any]:
    out = subprocess.run([python_for(repo), "-m", "builder", "spec"], capture_output=True, text=True, cwd=repo, check=True)
    return json.loads(out.stdout)


def train(repo: Path, data: Path, out: Path, horizon: int, spec: dict[str, Any] | None) -> dict[str, Any]:
    args = [python_for(repo), "-m", "builder", "train", "--data", str(data), "--out", str(out), "--horizon", str(horizon), "--quiet"]
    if spec is not None:
        path = out.parent / f"{out.name}.spec.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec))
        args += ["--spec", str(path)]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=repo)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        return {"error": last[:160], "wall_s": secs}
    m = json.loads((out / "metrics.json").read_text())
    meta = json.loads((out / "metadata.json").read_text())["resolved"]
    return {"model": m["model"]["mase"], "naive": m["naive"]["mase"], "snaive": m["seasonal_naive"]["mase"],
            "model_mae": m["model"]["mae"], "snaive_mae": m["seasonal_naive"]["mae"], "m": m["season_length"],
            "epochs": m["epochs_run"], "best_epoch": m.get("best_epoch"), "lookback": meta.get("lookback"),
            "n_windows": m["n_windows"], "wall_s": secs,
            "ets": (m.get("ets") or {}).get("mase"), "theta": (m.get("theta") or {}).get("mase"),
            "ets_method": ((m.get("baselines") or {}).get("ets") or {}).get("method")}


def fmt(v: Any, nd: int = 3) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variant", action="append", required=True, help="NAME=JSON overrides ('{}': the defaults)")
    p.add_argument("--repo", action="append", default=[], help="NAME=DIR: run variant NAME in checkout DIR")
    p.add_argument("--files", nargs="*", help="substrings of the file names to run (default: all)")
    p.add_argument("--dir", type=Path, default=None,
                   help="folder of CSV files to run instead of the shared forecasting files (e.g. a copy with added columns)")
    p.add_argument("--horizons", nargs="*", default=["1", "season"], help="1, season (after 1) or numbers")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--jsonl", type=Path, default=None)
    args = p.parse_args()
    if "season" in args.horizons and "1" not in args.horizons[:args.horizons.index("season")]:
        p.error("--horizons: season needs 1 before it (the season length comes from the horizon-1 run); "
                "give the season as a number instead")
    variants = {}
    for item in args.variant:
        name, _, text = item.partition("=")
        variants[name] = json.loads(text or "{}")
    repos = {n: Path(d).resolve() for n, _, d in (r.partition("=") for r in args.repo)}
    out = args.out or Path(tempfile.mkdtemp(prefix="rnn-studio-ab-"))
    jsonl = args.jsonl or out / "results.jsonl"
    bases = {r: default_spec(r) for r in {repos.get(n, REPO) for n in variants}}
    files = sorted((args.dir or SHARED / "forecasting").glob("*.csv"))
    if args.files:
        files = [f for f in files if any(s in f.stem for s in args.files)]
    names = list(variants)
    head = "| file | H | m | naive | s-naive | ETS | Theta | " + " | ".join(f"{n}" for n in names) + " | epochs (" + "/".join(names) + ") | wall s |"
    print(f"# results in {jsonl}\n{head}\n|" + "---|" * (head.count("|") - 1), flush=True)
    for path in files:
        season = None
        for hz in args.horizons:
            results: dict[str, dict[str, Any]] = {}
            for name in names:
                repo = repos.get(name, REPO)
                horizon = int(hz) if hz != "season" else (season if season and season > 1 else 12)
                if hz == "season" and season is None:
                    break
                spec = merge(bases[repo], variants[name]) if variants[name] else None
                run = out / name / f"{path.stem}_h{horizon}"
                r = train(repo, path, run, horizon, spec)
                r.update(file=path.stem, horizon=horizon, variant=name)
                results[name] = r
                with jsonl.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                if season is None and "m" in r:
                    season = r["m"]
            if not results:
                continue
            ok = next((r for r in results.values() if "error" not in r), None)
            h = next(iter(results.values()))["horizon"]
            cells = [r.get("error", "")[:60] if "error" in r else fmt(r["model"]) for r in results.values()]
            epochs = "/".join(str(r.get("epochs", "x")) for r in results.values())
            walls = "/".join(f"{r['wall_s']:.0f}" for r in results.values())
            print(f"| {path.stem} | {h} | {ok['m'] if ok else '–'} | {fmt(ok['naive']) if ok else '–'} | "
                  f"{fmt(ok['snaive']) if ok else '–'} | {fmt(ok.get('ets')) if ok else '–'} | "
                  f"{fmt(ok.get('theta')) if ok else '–'} | " + " | ".join(cells) + f" | {epochs} | {walls} |", flush=True)


if __name__ == "__main__":
    main()
