"""Issue #16's table: the default forecaster beside naive, seasonal naive, ETS and Theta, with interval coverage.

For every file in ../shared/data/forecasting, `python -m builder train` with defaults (only --data,
--out and --horizon), once at horizon 1 and once at horizon = one season (12 where the series has no
season). From each run's metrics.json: MASE over the test windows of the model and every baseline
(all scored on the same windows; ETS and Theta fitted on the training part), for the horizon-m runs
also the MASE of step m alone, the test coverage of the 80% and 95% split-conformal intervals, the
verdict, and the wall time of the CLI process. Each run's record is appended to OUT/results.jsonl as it
finishes, so a long run can be read (and resumed: finished runs are skipped) part way.

Run: .venv/bin/python bench/forecast_table.py [--out DIR] [--horizons 1 season] [--files NAME ...]
     .venv/bin/python bench/forecast_table.py --out DIR --table   (print the table of what is done)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = next((p for p in (REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data") if p.is_dir()),
              REPO.parent / "shared" / "data")  # beside the checkout, or beside a worktree's folder
WHO = ("model", "naive", "seasonal_naive", "ets", "theta")


def season_of(path: Path) -> int:
    """The season length the tool resolves for a file with defaults (1 when it has none)."""
    from builder import ModelSpec
    from builder.tasks.registry import get_task

    return int(get_task("forecast").prepare(str(path), ModelSpec()).season_length)


def train(path: Path, horizon: int, out: Path) -> dict:
    run = out / f"{path.stem}-h{horizon}"
    if (run / "metrics.json").exists():
        return {"file": path.stem, "horizon": horizon, "metrics": json.loads((run / "metrics.json").read_text()),
                "seconds": None, "error": None}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "builder", "train", "--data", str(path), "--out", str(run),
                           "--horizon", str(horizon), "--quiet"], capture_output=True, text=True, cwd=REPO)
    seconds = round(time.perf_counter() - t0, 1)
    if proc.returncode != 0:
        return {"file": path.stem, "horizon": horizon, "metrics": None, "seconds": seconds,
                "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return {"file": path.stem, "horizon": horizon, "metrics": json.loads((run / "metrics.json").read_text()),
            "seconds": seconds, "error": None}


def _f(v: float | None, spec: str = ".2f") -> str:
    return "–" if v is None else format(v, spec)


def table(records: list[dict]) -> str:
    head = ("| file | m | H | model | naive | s-naive | ETS | Theta | model step H | s-naive step H | ETS step H "
            "| cov 80% | cov 95% | best baseline | beats s-naive | beats ETS | wall s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        m = r["metrics"]
        if m is None:
            lines.append(f"| {r['file']} | | {r['horizon']} | {r['error']} |" + " |" * 13)
            continue
        mase = {w: (m.get(w) or {}).get("mase") for w in WHO}
        steps = ((m.get("by_step") or {}).get("mase") or {})
        last = {w: (steps.get(w) or [None])[-1] for w in ("model", "seasonal_naive", "ets")}
        levels = ((m.get("intervals") or {}).get("levels") or {})
        cov = [_f((levels.get(lv) or {}).get("coverage"), ".1%") for lv in ("80", "95")]
        best = (m.get("best_baseline") or {}).get("label", "–")
        beats = ["–" if mase["model"] is None or mase[b] is None else ("yes" if mase["model"] < mase[b] else "no")
                 for b in ("seasonal_naive", "ets")]
        lines.append(f"| {r['file']} | {m['season_length']} | {m['horizon']} | "
                     + " | ".join(_f(mase[w]) for w in WHO)
                     + f" | {_f(last['model'])} | {_f(last['seasonal_naive'])} | {_f(last['ets'])} | {cov[0]} | {cov[1]} "
                     f"| {best} | {beats[0]} | {beats[1]} | {_f(r['seconds'], '.0f')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / ".bench-forecast"))
    ap.add_argument("--horizons", nargs="+", default=["1", "season"], help="1, season, or numbers")
    ap.add_argument("--files", nargs="*", help="file stems (default: every file)")
    ap.add_argument("--table", action="store_true", help="only print the table of the finished runs")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    if not args.table:
        files = [p for p in sorted((SHARED / "forecasting").glob("*.csv"), key=lambda p: p.stat().st_size)
                 if not args.files or p.stem in args.files]  # smallest first: a partial run covers the most files
        for h in args.horizons:  # every file at one horizon before the next horizon
            for path in files:
                horizon = int(h) if h != "season" else (season_of(path) if season_of(path) > 1 else 12)
                rec = train(path, horizon, out)
                with log.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(f"{path.stem} h={horizon}: {rec['error'] or rec['metrics'].get('verdict')} ({rec['seconds']}s)",
                      flush=True)
    latest: dict[tuple[str, int], dict] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        rec = json.loads(line)
        latest[(rec["file"], rec["horizon"])] = rec
    print(table([latest[k] for k in sorted(latest, key=lambda k: (k[1] > 1, k[0]))]))


if __name__ == "__main__":
    main()
