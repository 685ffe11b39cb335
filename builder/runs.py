"""The run directory and its life cycle: create, status, history, stop requests, atomic writes.

A run directory is self-describing:
    spec.json       the ModelSpec
    data.json       resolved data settings, columns, split sizes and scaler parameters
    status.json     state (queued, running, finished, failed, stopped, interrupted), progress, message
    history.jsonl   one JSON line per finished epoch (loss, val_loss, ... , seconds)
    progress.json   the latest batch-level progress (epoch, batch, steps, eta)
    checkpoints/    last.weights.h5 + last.json: the model after the last finished epoch (resume)
    model.keras     the trained model, raw inputs -> raw outputs
    metrics.json    test metrics of the model and the baselines
    metadata.json   the serving contract (task, lookback, horizon, features, targets, classes, ...)
    saved_model/    TensorFlow SavedModel with a `serve` signature
Every file is written under a temporary name and renamed into place, so no reader sees half a file.

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
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "finished", "failed", "stopped", "interrupted")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def safe_child(root: str | Path, name: str) -> Path:
    """root/name for a user-given name, refusing anything that would leave `root` (.., absolute paths)."""
    root = Path(root).resolve()
    if not name or name.strip() != name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ValueError(f"invalid name {name!r}: expected a plain name without path separators")
    child = (root / name).resolve()
    if child.parent != root:
        raise ValueError(f"invalid name {name!r}: it would leave {root}")
    return child


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
        atomic_write_json(self.file(name), obj)

    def read_json(self, name: str, default: Any = None) -> Any:
        try:
            return json.loads(self.file(name).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return default

    def exists(self) -> bool:
        return self.file("spec.json").exists()

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
        atomic_write_text(self.file("history.jsonl"), "".join(json.dumps(r, default=_json_default) + "\n" for r in lines))

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
