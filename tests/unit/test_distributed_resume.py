"""A worker killed mid-training leaves the run interrupted; `train --resume` on two workers completes it."""

from __future__ import annotations

import signal
import time

from builder.training.runs import Run
from tests.unit.distributed_helpers import DATA, free_ports, start_worker, tiny_spec

TIMEOUT_S = 240
EPOCHS = 6


def _run_workers(tmp_path, args, tag, kill_after_epoch=None):
    ports = free_ports(2)
    procs = [start_worker(args, i, ports, tmp_path / f"{tag}{i}.npz", tmp_path / f"{tag}{i}.log") for i in (0, 1)]
    run = Run(args[args.index("--out") + 1])
    deadline = time.time() + TIMEOUT_S
    try:
        if kill_after_epoch is not None:
            # the epoch's checkpoint is written after its history line (a resume from the checkpoint before
            # rewrites that line), so wait for the checkpoint's record, written last, not for the history
            while (run.read_json("checkpoints/last.json", {}) or {}).get("epoch", 0) < kill_after_epoch:
                assert time.time() < deadline, "no epoch finished in time"
                assert procs[0].poll() is None, (tmp_path / f"{tag}0.log").read_text()
                time.sleep(0.2)
            procs[0].send_signal(signal.SIGKILL)  # the chief, mid-training
            procs[0].wait(timeout=30)
            return None
        return [p.wait(timeout=max(1.0, deadline - time.time())) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


def test_killed_worker_then_resume(tmp_path):
    spec = tiny_spec(tmp_path / "spec.json", epochs=EPOCHS, batch_size=8)
    out = tmp_path / "run"
    _run_workers(tmp_path, ["train", "--spec", str(spec), "--data", str(DATA), "--out", str(out)], "a", kill_after_epoch=1)
    run = Run(out)
    assert run.status()["state"] == "interrupted"
    done = len(run.history())
    assert 1 <= done < EPOCHS
    assert run.file("checkpoints/last.weights.h5").exists()
    assert not run.file("metrics.json").exists()

    codes = _run_workers(tmp_path, ["train", "--resume", "--data", str(DATA), "--out", str(out)], "b")
    assert codes == [0, 0], [(tmp_path / f"b{i}.log").read_text() for i in (0, 1)]
    assert run.status()["state"] == "finished"
    assert [r["epoch"] for r in run.history()] == list(range(1, EPOCHS + 1))
    assert run.read_json("metrics.json")["epochs_run"] == EPOCHS
