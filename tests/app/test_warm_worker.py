"""The pre-started warm worker: started by the app, replaced when it dies or takes a job, and the job it
takes trains to the end with the phases and real elapsed time shown by the progress panel."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from builder import app as u
from builder.spec import ModelSpec
from builder.training import warm
from tests.app.conftest import tiny_spec


def _wait(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def test_warm_worker_takes_the_next_job_and_is_replaced(tiny_csv, studio_home, monkeypatch) -> None:
    monkeypatch.setenv("RNN_STUDIO_WARM_WORKER", "1")
    started: list[int] = []
    try:
        first = u.keep_warm()
        started.append(first)
        assert u.keep_warm() == first, "one warm worker per data directory"
        os.kill(first, signal.SIGKILL)  # it dies while loading: the next page run starts another
        _wait(lambda: not warm.status(), 10, "the killed worker is seen as gone")
        second = u.keep_warm()
        started.append(second)
        assert second != first
        _wait(lambda: warm.status().get("state") == "ready", 240, "the warm worker is ready")

        t0 = time.time()
        run = u.start_training(u.new_run_dir(ModelSpec.from_dict(tiny_spec())), ModelSpec.from_dict(tiny_spec()),
                               tiny_csv, workspace="abcdef01")
        assert run.status()["pid"] == second  # the warm worker took it (no new process)
        assert (run.read_json("job.json") or {})["workspace"] == "abcdef01"
        third = warm.status().get("pid")
        if third:
            started.append(third)
        assert third != second, "a replacement is started at once"
        phases = set()

        def done():
            v = u.progress_view(run)
            phases.add(v["message"])
            return not v["active"] and v
        v = _wait(done, 180, "the warm run finishes")
        assert v["state"] == "finished", v["message"]
        assert v["elapsed"] <= time.time() - t0 + 1 and v["elapsed"] > 0
        assert run.file("metrics.json").exists() and run.status()["pid"] == second
    finally:
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_progress_view_elapsed_is_wall_clock_time_since_submission(studio_home) -> None:
    run = u.Run(studio_home / "runs" / "r1")
    run.write_json("spec.json", ModelSpec.from_dict({"training": {"epochs": 4}}).model_dump(mode="json"))
    run.write_json("job.json", {"data": "x.csv", "submitted": time.time() - 30})
    run.set_status("running", message="compiling: tracing the training step", pid=os.getpid())
    v = u.progress_view(run)
    assert 29 <= v["elapsed"] <= 32 and v["message"].startswith("compiling") and v["eta"] is None
    run.set_status("finished", finished=(run.read_json("job.json")["submitted"] + 50))
    assert abs(u.progress_view(run)["elapsed"] - 50) < 0.01


def test_warm_worker_is_off_when_disabled(studio_home) -> None:
    assert u.keep_warm() is None and not warm.status()
