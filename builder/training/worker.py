"""One training job in its own process: `python -m builder.training.worker RUN_DIR`.

The run directory holds spec.json and job.json ({"data": path, "test_data": path or null, "resume": bool});
the worker trains, writing status.json, progress.json, history.jsonl and the artifacts as it goes.
`start(...)` launches a worker from another process and returns at once (`submit` + `launch`; the UI
hands a submitted job to the pre-started warm worker, builder.training.warm, when one is ready).

At most RNN_STUDIO_MAX_WORKERS workers (default: the number of CPU cores) train at once; the others wait,
before loading TensorFlow, with status `queued` and their `queue_position` (see `builder.training.runs.worker_slot`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from builder.spec import ModelSpec
from builder.training.runs import Run, worker_slot


def start(run_dir: str | Path, spec: ModelSpec, data_path: str | Path, test_path: str | Path | None = None,
          resume: bool = False, extra: dict[str, Any] | None = None) -> Run:
    """Write the job into `run_dir` (with `extra` fields, e.g. the UI's workspace id) and launch a
    detached worker process for it."""
    return launch(submit(run_dir, spec, data_path, test_path, resume, extra))


def submit(run_dir: str | Path, spec: ModelSpec, data_path: str | Path, test_path: str | Path | None = None,
           resume: bool = False, extra: dict[str, Any] | None = None) -> Run:
    """Write the job (spec.json unless resuming, job.json) into `run_dir`, status queued; start nothing."""
    run = Run(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    if not resume:
        run.write_spec(spec)
    run.write_json("job.json", {"data": str(data_path), "test_data": str(test_path) if test_path else None,
                                "resume": resume, "submitted": time.time(), **(extra or {})})
    run.file("stop.request").unlink(missing_ok=True)
    run.set_status("queued", message="starting the training process", pid=None)
    return run


def launch(run: Run) -> Run:
    """Start a detached worker process for the job submitted in `run` and return at once."""
    log = open(run.file("worker.log"), "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder.training.worker", str(run.path)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    log.close()
    run.update_status_if("queued", pid=proc.pid)  # unless the worker has already moved on
    return run


def main(argv: list[str] | None = None) -> int:
    """Run the job in RUN_DIR; returns 0 on success, 1 on failure (the reason is in status.json)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m builder.training.worker RUN_DIR\n")
        return 2
    run = Run(argv[0])
    job = run.read_json("job.json")
    if not job:
        sys.stderr.write(f"error: {run.path}: no job.json\n")
        return 2
    run.set_status("queued", pid=os.getpid(), message="waiting for a training slot")
    try:
        with worker_slot(run):
            run.set_status("running", pid=os.getpid(),
                           message="starting" if "tensorflow" in sys.modules else "loading TensorFlow")
            from builder.quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
            from builder.training.fit import train_run

            spec = ModelSpec.from_json(run.file("spec.json"))
            train_run(spec, job["data"], run.path, test_path=job.get("test_data"), resume=bool(job.get("resume")))
    except Exception as err:  # status.json already says failed with the message
        if run.status().get("state") != "failed":
            run.set_status("failed", message=str(err), error_type=type(err).__name__)
        sys.stderr.write(f"error: {err}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
