"""Two workers on loopback ports train one spec with MultiWorkerMirroredStrategy (builder.training.distributed)."""

from __future__ import annotations

import json

import numpy as np

from builder.training.runs import Run
from tests.unit.distributed_helpers import DATA, free_ports, start_worker, tiny_spec

TIMEOUT_S = 240


def test_two_workers_train_to_identical_weights(tmp_path):
    spec = tiny_spec(tmp_path / "spec.json", epochs=2)
    out = tmp_path / "run"
    ports = free_ports(2)
    args = ["train", "--spec", str(spec), "--data", str(DATA), "--out", str(out)]
    procs = [start_worker(args, i, ports, tmp_path / f"w{i}.npz", tmp_path / f"w{i}.log") for i in (0, 1)]
    try:
        codes = [p.wait(timeout=TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    logs = [(tmp_path / f"w{i}.log").read_text() for i in (0, 1)]
    assert codes == [0, 0], logs
    w0, w1 = (np.load(tmp_path / f"w{i}.npz") for i in (0, 1))
    assert len(w0.files) == len(w1.files) > 0
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key])
    run = Run(out)
    history = run.history()
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]
    assert run.status()["state"] == "finished"
    for name in ("spec.json", "metadata.json", "metrics.json", "predictions.csv", "model.keras",
                 "saved_model", "checkpoints/last.weights.h5", "history.jsonl"):
        assert run.file(name).exists(), name
    metrics = json.loads(run.file("metrics.json").read_text())
    assert metrics["replicas"] == 2 and metrics["epochs_run"] == 2
    assert "run directory" in logs[0] and "worker 1: training done" in logs[1]
    # the other worker wrote nothing besides its weights file and log
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["spec.json", "run", "w0.npz", "w1.npz", "w0.log", "w1.log"])
