"""Helpers of the multi-worker tests: free loopback ports, a tiny spec, worker processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: 100 annual rows (the repository's own sample)
DATA = ROOT / "datasets" / "nile_flow_annual.csv"

#: a worker that saves its final weights to $WEIGHTS_OUT (outside the run directory) and then runs the CLI
DRIVER = """
import os, sys
import numpy as np
import builder.training.distributed as d
inner = d.fit_distributed
def saving(*a, **k):
    result = inner(*a, **k)
    np.savez(os.environ["WEIGHTS_OUT"], *result.model.get_weights())
    return result
d.fit_distributed = saving
from builder.__main__ import main
raise SystemExit(main(sys.argv[1:]))
"""


def free_ports(n: int) -> list[int]:
    """n loopback ports that could be bound just now; skips the test when none can be bound."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
    except OSError as err:
        pytest.skip(f"cannot bind a loopback port: {err}")
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def tiny_spec(path: Path, epochs: int = 2, batch_size: int = 16) -> Path:
    spec = {"task": "forecast", "blocks": [{"kind": "recurrent", "cell": "lstm", "units": 8}],
            "data": {"targets": ["volume"], "time_col": "time", "lookback": 8, "horizon": 1},
            "training": {"epochs": epochs, "batch_size": batch_size, "seed": 1}}
    path.write_text(json.dumps(spec))
    return path


def start_worker(args: list[str], index: int, ports: list[int], weights: Path, log: Path) -> subprocess.Popen:
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    env = {**os.environ, "WEIGHTS_OUT": str(weights), "PYTHONPATH": str(ROOT)}
    env.pop("TF_CONFIG", None)
    return subprocess.Popen([sys.executable, "-c", DRIVER, *args, "--quiet", "--workers", workers,
                             "--worker-index", str(index)], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
