"""Training samples/s of one spec on 1 and on 2 workers (MultiWorkerMirroredStrategy over loopback ports).

    python bench/multiworker.py [--data datasets/co2_mauna_loa_weekly.csv] [--epochs 4] [--units 32]

Each setting starts its workers as `python -m builder train --workers ... --worker-index I` processes
on this machine; samples/s = training windows x epochs / the chief's epoch seconds (history.jsonl),
leaving out epoch 1 (tracing). Scaling efficiency = (2-worker samples/s) / (2 x 1-worker samples/s).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def measure(n_workers: int, spec: Path, data: str, root: Path) -> dict[str, float]:
    out = root / f"run{n_workers}"
    workers = ",".join(f"127.0.0.1:{p}" for p in free_ports(n_workers))
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    t0 = time.time()
    procs = [subprocess.Popen([sys.executable, "-m", "builder", "train", "--spec", str(spec), "--data", data,
                               "--out", str(out), "--quiet", "--workers", workers, "--worker-index", str(i)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(n_workers)]
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode:
            raise SystemExit(f"worker failed: {err[-2000:]}")
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    windows = json.loads((out / "metadata.json").read_text())["resolved"]["split"]["train"]
    seconds = sum(r["seconds"] for r in history[1:])
    return {"workers": n_workers, "samples_per_s": windows * len(history[1:]) / seconds,
            "epoch_s": seconds / len(history[1:]), "wall_s": time.time() - t0, "final_loss": history[-1]["loss"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "datasets" / "co2_mauna_loa_weekly.csv"))
    ap.add_argument("--target", default="co2_ppm")
    ap.add_argument("--time-col", default="time")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "spec.json"
        spec.write_text(json.dumps({
            "task": "forecast", "blocks": [{"kind": "recurrent", "cell": "lstm", "units": args.units}],
            "data": {"targets": [args.target], "time_col": args.time_col, "lookback": 52, "horizon": 1},
            "training": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": 1}}))
        rows = [measure(n, spec, args.data, root) for n in (1, 2)]
    for r in rows:
        print(f"{r['workers']} worker(s): {r['samples_per_s']:.0f} samples/s, {r['epoch_s']:.2f} s/epoch, "
              f"wall {r['wall_s']:.1f} s, final loss {r['final_loss']:.5f}")
    print(f"scaling efficiency (2 workers): {rows[1]['samples_per_s'] / (2 * rows[0]['samples_per_s']):.2f}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
