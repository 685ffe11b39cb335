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
"""

from __future__ import annotations

import json
import os
import tempfile
import time
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
        """The status record; a 'running' run whose worker process is gone reads as 'interrupted'."""
        st = self.read_json("status.json", {"state": "queued"})
        if st.get("state") == "running" and st.get("pid") and not _pid_alive(int(st["pid"])):
            st = {**st, "state": "interrupted", "message": "the training process ended unexpectedly"}
        return st

    def set_status(self, state: str, **fields: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}; expected one of {STATES}")
        st = self.read_json("status.json", {})
        st.update(fields)
        st["state"] = state
        st["updated"] = time.time()
        self.write_json("status.json", st)

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
