"""The run directory and its life cycle: spec, status, history, stop requests, metadata.

A run directory is self-describing (the contract; docs/architecture.md has the same list):
    spec.json        the user's ModelSpec, written once when the run is created (`Run.write_spec`)
    job.json         what the UI's worker was asked to do (data file, test file, resume)
    status.json      state (queued, running, finished, failed, stopped, interrupted), message
    progress.json    the latest batch-level progress (epoch, batch, steps, elapsed)
    history.jsonl    one JSON line per finished epoch (loss, val_loss, ..., seconds)
    checkpoints/     last.weights.h5 + last.json (resume) and best.weights.h5
    metadata.json    the one description of the run's data and model, written once by training:
                     `format`, the task, the resolved data record (builder.tasks.base.Resolved:
                     columns, lookback, horizon, classes, scalers, split sizes, notices), the
                     serving signature and the weight count
    metrics.json     the model's and the baselines' scores on the held-out part (undefined: null,
                     with the reason under "undefined")
    predictions.csv  the held-out part's predictions beside the actual values
    model.keras      the trained model, raw inputs -> raw outputs
    saved_model/     TensorFlow SavedModel with a `serve` signature
Every file is written under a temporary name and renamed into place, so no reader sees half a file,
and every JSON file is strict JSON (no NaN).

Training slots: at most RNN_STUDIO_MAX_WORKERS (default: the number of CPU cores) workers train at once
on one data directory. A worker takes a slot with `worker_slot(run)`: an exclusive `fcntl.flock` on one
of the files `<data dir>/.workers/slot-<i>.lock`, which the kernel releases when the process ends, even
by SIGKILL. Workers that find every slot taken wait in a first-come queue (one ticket file each under
`.workers/queue/`, named by arrival time and pid; tickets of dead processes are discarded) and show
`state: queued` with their `queue_position` (1 = next) in status.json.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from builder.files import atomic_write_json, atomic_write_text, dumps, read_json

STATES = ("queued", "running", "finished", "failed", "stopped", "interrupted")
#: the run-directory format training writes; "rnn-studio/1" (metadata.json + data.json) still loads
METADATA_FORMAT = "rnn-studio/2"
FORMATS = ("rnn-studio/1", METADATA_FORMAT)


class RunFormatError(ValueError):
    """A run directory written in a format this version cannot read; the message names the format."""


class Run:
    """A handle on one run directory (it may or may not exist yet)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # ---- files -------------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, obj: Any) -> None:
        """`obj` as strict JSON into the run's file `name`, atomically."""
        atomic_write_json(self.file(name), obj)

    def read_json(self, name: str, default: Any = None) -> Any:
        return read_json(self.file(name), default)

    def exists(self) -> bool:
        return self.file("spec.json").exists()

    def write_spec(self, spec: Any) -> None:
        """spec.json: the user's spec (a ModelSpec), written when the run is created and never again."""
        self.write_json("spec.json", spec.model_dump(mode="json"))

    def metadata(self) -> dict[str, Any]:
        """metadata.json in the current format: {"format", "task", "resolved", "serving", "params", ...}.

        A run of format rnn-studio/1 (metadata.json beside data.json) is read into the same shape;
        FileNotFoundError when the run has none yet, RunFormatError for a format this version lacks.
        """
        meta = self.read_json("metadata.json")
        if not meta:
            raise FileNotFoundError(f"{self.path}: no metadata.json; has the run finished?")
        fmt = meta.get("format")
        if fmt == METADATA_FORMAT:
            return meta
        if fmt == "rnn-studio/1":
            return _metadata_from_v1(meta, self.read_json("data.json") or {})
        raise RunFormatError(
            f"{self.path / 'metadata.json'}: run format {fmt!r} is not one this version reads "
            f"(expected one of {list(FORMATS)})"
        )

    # ---- status ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The status record; a running or queued run whose worker process is gone reads as 'interrupted'."""
        st = self.read_json("status.json", {"state": "queued"})
        if st.get("state") in ("running", "queued") and st.get("pid") and not _pid_alive(int(st["pid"])):
            st = {**st, "state": "interrupted", "message": "the training process ended unexpectedly"}
        return st

    def set_status(self, state: str, **fields: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}; expected one of {STATES}")
        with self._status_lock():
            st = self.read_json("status.json", {})
            st.update(fields)
            if state != "queued":
                st.pop("queue_position", None)
            st["state"] = state
            st["updated"] = time.time()
            self.write_json("status.json", st)

    def update_status_if(self, state: str, **fields: Any) -> bool:
        """Add `fields` to the status only while it is still `state` (no lost update across processes)."""
        with self._status_lock():
            st = self.read_json("status.json", {})
            if st.get("state") != state:
                return False
            st.update(fields)
            st["updated"] = time.time()
            self.write_json("status.json", st)
            return True

    @contextlib.contextmanager
    def _status_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of status.json between processes."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file(".status.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    # ---- history and progress ----------------------------------------------------------------------
    def append_history(self, record: dict[str, Any]) -> None:
        """Add one epoch's record (history.jsonl is rewritten atomically, so it is never half a line)."""
        lines = self.history()
        lines = [r for r in lines if r.get("epoch") != record.get("epoch")]
        lines.append(record)
        atomic_write_text(self.file("history.jsonl"), "".join(dumps(r, indent=None) + "\n" for r in lines))

    def history(self) -> list[dict[str, Any]]:
        try:
            text = self.file("history.jsonl").read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def progress(self) -> dict[str, Any]:
        return self.read_json("progress.json", {})

    # ---- stop requests -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the worker to stop at the next batch (it keeps the best weights)."""
        atomic_write_text(self.file("stop.request"), str(time.time()))

    def stop_requested(self) -> bool:
        return self.file("stop.request").exists()


def _metadata_from_v1(meta: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A format-1 run's metadata.json and data.json as one format-2 record."""
    forecast = meta.get("task") == "forecast"
    split = {p: data.get(f"n_{p}") for p in ("train", "val", "test")} if forecast else data.get("sequences", {})
    resolved = {
        "source": data.get("source", ""), "inputs": meta.get("features", []),
        "lookback": meta.get("lookback"), "input_length": meta.get("lookback") if forecast else None,
        "horizon": meta.get("horizon"), "targets": meta.get("targets", []) if forecast else [],
        "classes": meta.get("classes", []), "time_col": meta.get("time_col"), "freq": meta.get("freq"),
        "season_length": data.get("season_length"), "last_time": meta.get("last_time"),
        "id_col": meta.get("id_col"), "order_col": data.get("order_col"), "label_col": meta.get("label_col"),
        "missing": data.get("missing", "interpolate"), "x_scaler": data.get("x_scaler"),
        "y_scaler": data.get("y_scaler"), "split": split, "windows": data.get("windows", {}),
        "notices": data.get("notices", []), "test_source": data.get("test_source"),
    }
    return {"format": "rnn-studio/1", "task": meta.get("task"), "resolved": resolved,
            "serving": {"signature": meta.get("signature", "serve"), "input": meta.get("input") or {},
                        "output": meta.get("output") or {}},
            "params": meta.get("params"), "keras_version": meta.get("keras_version")}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (finished child not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def list_runs(root: str | Path) -> list[Run]:
    """Runs under `root`, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [Run(p) for p in root.iterdir() if (p / "spec.json").exists()]
    return sorted(runs, key=lambda r: r.file("spec.json").stat().st_mtime, reverse=True)


# ------------------------------------------------------------------------------------------------------
# Training slots and the queue
# ------------------------------------------------------------------------------------------------------
def slots_dir() -> Path:
    """Where slot locks and queue tickets live: $RNN_STUDIO_SLOTS_DIR, else <data dir>/.workers."""
    env = os.environ.get("RNN_STUDIO_SLOTS_DIR")
    if env:
        path = Path(env).expanduser()
    else:
        from builder.paths import data_root

        path = data_root() / ".workers"
    (path / "queue").mkdir(parents=True, exist_ok=True)
    return path


def _try_slot(folder: Path, max_workers: int, label: str) -> int | None:
    """An open descriptor holding one free slot's lock, or None when all are taken."""
    for i in range(max_workers):
        fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, label.encode())
        return fd
    return None


def running_workers(folder: Path | None = None) -> int:
    """How many slots are held by live processes (as recorded in the slot files)."""
    folder = folder or slots_dir()
    n = 0
    for lock in folder.glob("slot-*.lock"):
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _pid_alive(pid):
            n += 1
    return n


def _live_tickets(queue: Path) -> list[Path]:
    live = []
    for t in sorted(queue.glob("*.ticket")):
        try:
            pid = int(t.stem.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            continue
        if _pid_alive(pid):
            live.append(t)
        else:
            t.unlink(missing_ok=True)  # its worker died while waiting
    return live


@contextlib.contextmanager
def worker_slot(
    run: Run | None = None, max_workers: int | None = None, poll: float = 0.2,
    on_wait: Callable[[int, int], None] | None = None,
) -> Iterator[None]:
    """Hold one of `max_workers` training slots for the duration of the block; wait in line for one.

    While waiting, `run`'s status is `queued` with `queue_position` (1 = next) and `on_wait(position,
    running)` is called when the position changes. The slot is freed on exit, or by the kernel when the
    process dies.
    """
    if max_workers is None:
        from builder.limits import current

        max_workers = current().max_workers
    folder = slots_dir()
    pid = os.getpid()
    label = f"{pid} {run.path if run is not None else ''}\n"
    ticket = folder / "queue" / f"{time.time_ns():020d}-{pid}.ticket"
    ticket.write_text(label)
    fd: int | None = None
    last = None
    try:
        while True:
            live = _live_tickets(folder / "queue")
            position = live.index(ticket) + 1 if ticket in live else 1
            if position == 1:
                fd = _try_slot(folder, max_workers, label)
                if fd is not None:
                    break
            if position != last:
                last = position
                running = running_workers(folder)
                if run is not None:
                    run.set_status(
                        "queued", pid=pid, queue_position=position,
                        message=f"waiting for a free training slot: number {position} in the queue, "
                                f"{running} of {max_workers} slots busy (RNN_STUDIO_MAX_WORKERS)",
                    )
                if on_wait is not None:
                    on_wait(position, running)
            time.sleep(poll)
    finally:
        ticket.unlink(missing_ok=True)
    try:
        yield
    finally:
        os.close(fd)
