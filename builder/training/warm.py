"""A pre-started training worker: a process that has already imported TensorFlow and traced a tiny
model, waiting for the next job, so that a click on Train starts training at once. While it waits it
builds, compiles and traces the app's default job (builder.training.prepared), so that job's first
epoch starts without compiling.

    python -m builder.training.warm --parent PID

One warm worker per data directory. Its record is `<data dir>/.workers/warm.json` ({"pid", "state":
"starting" | "ready", "parent"}). `ensure(parent)` starts one when none is alive (the app calls it on
every page run, so a worker that died or took a job is replaced); `hand_off(run_dir)` gives a job to the
ready one by creating `.workers/warm-<pid>.job` exclusively (two sessions never hand it two jobs) and
returns its pid, or None when none is ready (the caller then starts a cold worker). The warm worker
claims the job, trains it through `builder.training.worker.main` (so it waits for a training slot like
every worker: the slots count it), and exits; `ensure` starts the next one. It exits by itself when the
process that started it (the app) is gone. `RNN_STUDIO_WARM_WORKER=0` turns the mechanism off.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from builder.files import atomic_write_json, read_json
from builder.spec import ModelSpec
from builder.training.runs import _pid_alive, slots_dir

POLL = 0.05


def enabled() -> bool:
    """False when RNN_STUDIO_WARM_WORKER is 0 / false / off."""
    return os.environ.get("RNN_STUDIO_WARM_WORKER", "1").strip().lower() not in ("0", "false", "off", "no")


def _state_file() -> Path:
    return slots_dir() / "warm.json"


def _job_file(pid: int) -> Path:
    return slots_dir() / f"warm-{pid}.job"


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    fd = os.open(slots_dir() / "warm.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def status() -> dict:
    """The live warm worker's record ({} when none is alive)."""
    rec = read_json(_state_file(), {}) or {}
    pid = rec.get("pid")
    return rec if isinstance(pid, int) and _pid_alive(pid) else {}


def ensure(parent: int | None = None) -> int | None:
    """Start a warm worker unless one is starting or ready, the mechanism is off, or every training
    slot is busy; returns the pid of the starting or ready one."""
    if not enabled():
        return None
    from builder.limits import current
    from builder.training.runs import running_workers

    with _lock():
        rec = status()
        if rec.get("state") in ("starting", "ready"):
            return int(rec["pid"])
        if running_workers() >= current().max_workers:
            return None  # every slot is training: a warm worker could not start its job anyway
        log = open(slots_dir() / "warm.log", "ab")  # noqa: SIM115 (handed to the child)
        proc = subprocess.Popen(
            [sys.executable, "-m", "builder.training.warm", "--parent", str(parent or os.getpid())],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        log.close()
        atomic_write_json(_state_file(), {"pid": proc.pid, "state": "starting", "parent": parent,
                                          "started": time.time()})
        return proc.pid


def hand_off(run_dir: str | Path) -> int | None:
    """Give the job in `run_dir` to the ready warm worker; its pid, or None when none is ready."""
    if not enabled():
        return None
    with _lock():
        rec = status()
        if rec.get("state") != "ready":
            return None
        pid = int(rec["pid"])
        try:
            fd = os.open(_job_file(pid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None  # another session's job got there first
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(str(Path(run_dir).resolve()))
        atomic_write_json(_state_file(), {**rec, "state": "busy"})  # nobody else hands it a job
        return pid


def warm_up() -> None:
    """Import and trace what the first job needs: a tiny stacked LSTM fitted for two batches."""
    import numpy as np

    from builder.model.build import build_model
    from builder.spec import ModelSpec
    from builder.tasks.registry import get_task
    from builder.training.fit import compile_model, set_seed

    spec = ModelSpec.from_dict({"name": "warm", "data": {"lookback": 4, "horizon": 1},
                                "blocks": [{"kind": "recurrent", "cell": "lstm", "units": 4, "num_layers": 2},
                                           {"kind": "dense", "units": 4}],
                                "training": {"epochs": 1, "batch_size": 4}})
    set_seed(0)
    resolved = get_task("forecast").placeholder(spec, 1, 1)
    model = build_model(spec, resolved)
    compile_model(model, spec, 2)
    x = np.zeros((8, 4, 1), "float32")
    y = np.zeros((8, *model.output_shape[1:]), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y))
    model.predict(x, verbose=0)


def prepare_default() -> bool:
    """Build, compile and trace the app's default job (the default preset on the first bundled
    sample) and keep it for that job (builder.training.prepared); False when that failed."""
    from builder.spec.presets import default_source, default_spec
    from builder.training.fit import prepare_default_job

    source = default_source()
    if source is None:
        return False
    try:
        seconds = prepare_default_job(ModelSpec.from_dict(default_spec()), source["path"])
    except Exception as err:  # a worker that could not prepare still takes jobs
        sys.stderr.write(f"warm worker: could not prepare the default job: {type(err).__name__}: {err}\n")
        return False
    sys.stderr.write(f"warm worker: default job prepared in {seconds:.1f} s\n")
    return True


def _wait_for_first_epochs(max_wait: float = 60.0) -> None:
    """Before loading TensorFlow, let runs that are starting up finish their first epoch (at most
    `max_wait` seconds): on a small machine the import would slow the run the user is watching."""
    from builder.training.runs import Run

    deadline = time.time() + max_wait
    time.sleep(0.5)  # the job handed off just before this process started takes its slot
    while time.time() < deadline:
        starting = False
        for lock in slots_dir().glob("slot-*.lock"):
            try:
                holder, _, path = lock.read_text().strip().partition(" ")
            except OSError:
                continue
            if holder.isdigit() and _pid_alive(int(holder)) and path and not Run(path).history():
                starting = True
        if not starting:
            return
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Import TensorFlow, warm up, then wait for one job (or for the parent to end)."""
    argv = sys.argv[1:] if argv is None else argv
    parent = int(argv[argv.index("--parent") + 1]) if "--parent" in argv else os.getppid()
    pid = os.getpid()
    _wait_for_first_epochs()
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    if not prepare_default():
        warm_up()
    with _lock():
        rec = read_json(_state_file(), {}) or {}
        if rec.get("pid") not in (None, pid) and rec.get("state") in ("starting", "ready") \
                and _pid_alive(int(rec["pid"])):
            return 0  # another warm worker took over meanwhile
        atomic_write_json(_state_file(), {"pid": pid, "state": "ready", "parent": parent, "ready": time.time()})
    job = _job_file(pid)
    while not job.exists():
        if not _pid_alive(parent):
            with _lock():
                if (read_json(_state_file(), {}) or {}).get("pid") == pid and not job.exists():
                    _state_file().unlink(missing_ok=True)
                    return 0
            break
        time.sleep(POLL)
    run_dir = job.read_text(encoding="utf-8").strip()
    job.unlink(missing_ok=True)
    from builder.training.worker import main as work

    return work([run_dir])


if __name__ == "__main__":
    raise SystemExit(main())
