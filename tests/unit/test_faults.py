"""Faults: a worker killed mid-epoch resumes from its checkpoint; NaN loss stops with advice; the worker
queue limits concurrent training and survives killed workers; no half-written files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import main
from builder.spec import ModelSpec
from builder.training import worker
from builder.training.runs import Run, _live_tickets, slots_dir, worker_slot
from tests.conftest import REPO, make_series_csv


def small_spec(name: str = "tiny", epochs: int = 2, batch_size: int = 16, units: int = 8, **data) -> ModelSpec:
    return ModelSpec.from_dict({
        "name": name, "task": "forecast",
        "data": {"lookback": 8, "horizon": 2, **data},
        "blocks": [{"kind": "recurrent", "cell": "gru", "units": units}],
        "training": {"epochs": epochs, "batch_size": batch_size, "patience": None},
    })


def wait_for(predicate, timeout: float, what: str, poll: float = 0.05):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def assert_no_partial_files(folder: Path) -> None:
    """Every JSON artifact parses; no temporary file is left where a final one should be."""
    for path in folder.rglob("*.json"):
        json.loads(path.read_text())
    for path in folder.rglob("history.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)


def test_sigkill_mid_epoch_then_resume(tmp_path):
    data = make_series_csv(tmp_path / "long.csv", n=700)
    spec = small_spec(epochs=6, batch_size=4, units=8)
    run = worker.start(tmp_path / "run", spec, data)
    wait_for(lambda: (run.read_json("checkpoints/last.json") or {}).get("epoch", 0) >= 1, 240, "epoch 1's checkpoint")
    pid = int(run.status()["pid"])
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: run.status()["state"] == "interrupted", 30, "the run to read as interrupted")
    assert "ended unexpectedly" in run.status()["message"]
    before = run.history()
    done = len(before)
    assert 1 <= done < 6, before
    assert_no_partial_files(run.path)

    worker.start(run.path, spec, data, resume=True)
    wait_for(lambda: run.status()["state"] in ("finished", "failed", "interrupted"), 300, "the resumed run", poll=0.2)
    st = run.status()
    assert st["state"] == "finished", st
    history = run.history()
    assert [h["epoch"] for h in history] == list(range(1, 7)), "continues from the checkpoint, every epoch once"
    assert history[: done] == before, "finished epochs are kept as they were"
    metrics = run.read_json("metrics.json")
    assert np.isfinite(metrics["model"]["mae"]) and metrics["epochs_run"] == 6
    assert run.file("model.keras").exists() and run.file("saved_model/saved_model.pb").exists()
    assert_no_partial_files(run.path)


def test_nan_loss_stops_with_likely_causes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 80
    pd.DataFrame({"time": pd.date_range("2020", periods=n, freq="D").strftime("%Y-%m-%d"),
                  "y": rng.choice([-9e29, 9e29], n)}).to_csv(tmp_path / "big.csv", index=False)
    spec = small_spec(scaler="none")
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec.to_json())
    run = tmp_path / "run"
    code = main(["train", "--data", str(tmp_path / "big.csv"), "--spec", str(spec_path), "--out", str(run), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("error: training failed: the loss became") and "likely causes" in err[0]
    assert "learning rate" in err[0] and "scaler" in err[0] and "clipnorm" in err[0]
    status = Run(run).status()
    assert status["state"] == "failed" and "likely causes" in status["message"]
    assert not (run / "model.keras").exists(), "never a NaN model"


def test_three_runs_share_two_slots_without_cross_talk(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_STUDIO_MAX_WORKERS", "2")
    runs = []
    for k, name in enumerate(("alpha", "beta", "gamma")):
        (tmp_path / name).mkdir()
        data = make_series_csv(tmp_path / name / "data.csv", n=400 + 10 * k, seed=k)
        runs.append(worker.start(tmp_path / name / "run", small_spec(name=name, epochs=3), data))
    seen_positions, max_running = [], 0
    t0 = time.time()
    while time.time() - t0 < 400:
        states = [r.status() for r in runs]
        max_running = max(max_running, sum(s["state"] == "running" for s in states))
        seen_positions += [s.get("queue_position") for s in states if s["state"] == "queued" and s.get("pid")]
        if all(s["state"] in ("finished", "failed", "interrupted") for s in states):
            break
        time.sleep(0.1)
    for r, name in zip(runs, ("alpha", "beta", "gamma"), strict=True):
        st = r.status()
        assert st["state"] == "finished", (name, st, r.file("worker.log").read_text()[-2000:])
        assert "queue_position" not in st
        assert r.read_json("spec.json")["name"] == name
        assert r.metadata()["resolved"]["source"] == str(tmp_path / name / "data.csv")
    assert 1 in seen_positions, "the third run waited and showed its place in the queue"
    assert max_running <= 2


def test_killed_slot_holder_and_dead_tickets_free_the_queue(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom builder.training.runs import worker_slot\n"
         "with worker_slot(max_workers=1):\n    print('held', flush=True)\n    time.sleep(600)\n"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        stale = slots_dir() / "queue" / f"{0:020d}-{dead.pid}.ticket"
        stale.write_text("a waiting worker that was killed")
        run = Run(tmp_path / "r")
        run.set_status("queued")
        positions = []
        holder_killed = False

        def on_wait(position: int, running: int) -> None:
            nonlocal holder_killed
            positions.append((position, running))
            if not holder_killed:
                holder.send_signal(signal.SIGKILL)
                holder_killed = True

        with worker_slot(run, max_workers=1, poll=0.05, on_wait=on_wait):
            assert not stale.exists(), "a dead worker's ticket is discarded"
        assert positions[0] == (1, 1)
        assert run.status()["queue_position"] == 1
        assert _live_tickets(slots_dir() / "queue") == []
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("state", ["running", "queued"])
def test_a_dead_worker_reads_as_interrupted(tmp_path, state):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run = Run(tmp_path / "r")
    run.set_status(state, pid=proc.pid)
    assert run.status()["state"] == "interrupted"


def test_cli_training_waits_for_a_slot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNN_STUDIO_MAX_WORKERS", "1")
    status = tmp_path / "run" / "status.json"
    holder = subprocess.Popen(  # holds the only slot until the CLI's run shows that it is queued
        [sys.executable, "-c", "import pathlib, sys, time\nfrom builder.training.runs import worker_slot\n"
         "status = pathlib.Path(sys.argv[1])\n"
         "with worker_slot():\n    print('held', flush=True)\n"
         "    while not (status.exists() and 'queued' in status.read_text()):\n        time.sleep(0.05)\n",
         str(status)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        data = make_series_csv(tmp_path / "s.csv", n=60)
        spec = tmp_path / "spec.json"
        spec.write_text(small_spec(epochs=1).to_json())
        assert main(["train", "--data", str(data), "--spec", str(spec), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "waiting for a free training slot: number 1 in the queue, 1 busy (RNN_STUDIO_MAX_WORKERS)" in err
    assert Run(tmp_path / "run").status()["state"] == "finished"
