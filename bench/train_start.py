"""Click to progress: seconds from handing a run to a worker (what the Train button does) to the first
visible progress (the worker's first phase message in status.json, or progress.json) and to the first
finished epoch (history.jsonl's first line), for a cold worker (a new process that imports TensorFlow:
the path before the warm worker) and for the pre-started warm worker (builder.training.warm), alternating.

The job is the app's default: the default preset on the first bundled sample with the default data
settings. The warm worker is started and waited for (ready) before its clock starts, as it is while the
app runs. Each start gets its own RNN_STUDIO_HOME.

    .venv/bin/python -m bench.train_start [--rounds 2] [--only warm|cold]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time

QUEUED = ("starting the training process", "handed to the warm worker (TensorFlow loaded)")


def one(kind: str, timeout: float = 600.0) -> dict[str, float]:
    """Seconds to the first phase message and to the first finished epoch, one run of `kind` (cold / warm)."""
    home = tempfile.mkdtemp(prefix=f"train-start-{kind}-")
    os.environ["RNN_STUDIO_HOME"] = home
    os.environ["RNN_STUDIO_WARM_WORKER"] = "1" if kind == "warm" else "0"
    from builder import app as u
    from builder.training import warm

    pid = None
    if kind == "warm":
        pid = u.keep_warm()
        deadline = time.time() + timeout
        while warm.status().get("state") != "ready":
            if time.time() > deadline:
                raise TimeoutError("the warm worker did not become ready")
            time.sleep(0.1)
    spec = u.ModelSpec.from_dict(u.default_spec())
    source = u.default_source()
    t0 = time.perf_counter()
    run = u.start_training(u.new_run_dir(spec), spec, source["path"])
    out: dict[str, float] = {}
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = run.status()
        now = time.perf_counter() - t0
        if "progress" not in out and (st.get("message") not in QUEUED or run.file("progress.json").exists()):
            out["progress"] = now
        if "epoch" not in out and run.history():
            out["epoch"] = now
            break
        if st.get("state") in ("failed", "interrupted"):
            raise RuntimeError(st.get("message"))
        time.sleep(0.02)
    for p in {pid, warm.status().get("pid"), run.status().get("pid")} - {None}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(p), 9)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=("cold", "warm"), help="measure one kind of worker")
    args = ap.parse_args()
    kinds = (args.only,) if args.only else ("cold", "warm")
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        for kind in (kinds if r % 2 == 0 else kinds[::-1]):
            res = one(kind)
            rows[kind].append(res)
            print(f"round {r + 1} {kind}: first progress {res['progress']:.2f} s, first epoch {res['epoch']:.2f} s",
                  flush=True)
    print(f"load average at the end: {os.getloadavg()}, cpus: {os.cpu_count()}")
    print("| worker | click -> first progress (median s) | click -> first epoch (median s) |")
    print("|---|---|---|")
    med = {k: (statistics.median(x["progress"] for x in v), statistics.median(x["epoch"] for x in v))
           for k, v in rows.items()}
    for k, (p, e) in med.items():
        print(f"| {k} | {p:.2f} | {e:.2f} |")
    if len(med) == 2:
        print(f"warm / cold: progress {med['warm'][0] / med['cold'][0]:.2f}, first epoch {med['warm'][1] / med['cold'][1]:.2f}")


if __name__ == "__main__":
    main()
