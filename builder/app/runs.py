"""Runs as the pages show them: new run directories, the session's run, tables and progress.

Plain helpers behind the pages (no streamlit import; TensorFlow only inside functions).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.files import safe_child
from builder.paths import subdir
from builder.spec import ModelSpec
from builder.tasks.base import Task
from builder.tasks.registry import TASKS, get_task
from builder.training.runs import Run, list_runs

ACTIVE_STATES = ("queued", "running")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "model"


def new_run_dir(spec: ModelSpec, preset: str | None = None) -> Path:
    """runs/<timestamp>-<slug> (unique)."""
    root = subdir("runs")
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(preset or spec.name)}"
    name, k = base, 1
    while (root / name).exists():
        k += 1
        name = f"{base}-{k}"
    return safe_child(root, name)


def run_by_id(run_id: str | None) -> Run | None:
    if not run_id:
        return None
    try:
        run = Run(safe_child(subdir("runs"), run_id))
    except ValueError:
        return None
    return run if run.exists() else None


def current_run(run_id: str | None, workspace: str | None = None) -> Run | None:
    """The session's run; else the newest queued/running run on disk started from the same workspace
    (a reload or a second tab on it; other workspaces' runs are not shown)."""
    run = run_by_id(run_id)
    if run is not None:
        return run
    for r in list_runs(subdir("runs")):
        if r.status().get("state") in ACTIVE_STATES and (r.read_json("job.json") or {}).get("workspace") == workspace:
            return r
    return None


def best_val(history: list[dict[str, Any]]) -> float | None:
    vals = [h.get("val_loss") for h in history if h.get("val_loss") is not None]
    return float(min(vals)) if vals else None


def task_of(metrics: dict[str, Any] | None) -> Task | None:
    """The task a run's metrics.json belongs to, or None when it names none this version knows."""
    name = (metrics or {}).get("task")
    return get_task(name) if name in TASKS else None


def headline_metric(metrics: dict[str, Any] | None) -> tuple[str, float | None]:
    """(metric name, the model's value) of a run's metrics, by its task."""
    task = task_of(metrics)
    return task.headline(metrics) if task is not None else ("", None)


LABEL_FILE = "label.json"


def _display_name(path: str) -> str:
    from builder.app.design import display_name

    return display_name(path)


def run_label(run: Run) -> dict[str, str]:
    """A run's user-given {"name", "note"} (empty strings when none)."""
    rec = run.read_json(LABEL_FILE, {}) or {}
    return {"name": str(rec.get("name") or ""), "note": str(rec.get("note") or "")}


def set_run_label(run: Run, name: str, note: str) -> None:
    """Name and note a run (label.json in its directory, written atomically; at most 80 / 2000 characters)."""
    name, note = " ".join(str(name).split())[:80], str(note).strip()[:2000]
    run.write_json(LABEL_FILE, {"name": name, "note": note, "updated": time.time()})


def _lower_is_better(metric: str) -> bool:
    return metric.lower() not in ("accuracy", "balanced_accuracy", "f1", "macro_f1", "r2", "auc", "precision", "recall",
                                  "exact match", "exact_match")


def runs_table(root: Path | None = None) -> pd.DataFrame:
    """One row per run, newest first: id, name, state, model, task, data file, epochs, best val loss,
    headline test metric, best (★ on the best run per metric among runs of the same task and data file),
    note, started."""
    rows = []
    for run in list_runs(root or subdir("runs")):
        status = run.status()
        spec = run.read_json("spec.json", {}) or {}
        metrics = run.read_json("metrics.json")
        job = run.read_json("job.json", {}) or {}
        hist = run.history()
        name, value = headline_metric(metrics)
        label = run_label(run)
        rows.append({
            "run": run.path.name, "name": label["name"], "state": status.get("state", "queued"),
            "model": spec.get("name", ""), "task": spec.get("task", ""),
            "data": _display_name(str(job.get("data") or "")),
            "epochs": f"{len(hist)}/{spec.get('training', {}).get('epochs', '?')}",
            "best val loss": best_val(hist), "test metric": f"{name} {value:.4g}" if value is not None else "",
            "best": "", "note": label["note"],
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.file("spec.json").stat().st_mtime)),
            "_metric": name, "_value": value,
        })
    cols = ["run", "name", "state", "epochs", "test metric", "best", "best val loss", "model", "task", "data",
            "note", "started"]  # what tells runs apart first; the rest scrolls
    df = pd.DataFrame(rows, columns=[*cols, "_metric", "_value"])
    if df.empty:
        return df[cols]
    marks: dict[int, list[str]] = {}
    for (_, _), group in df.groupby(["task", "data"], sort=False):
        if len(group) < 2:
            continue
        vals = pd.to_numeric(group["best val loss"], errors="coerce").dropna()
        if len(vals) > 1:
            marks.setdefault(int(vals.idxmin()), []).append("★ val loss")
        for metric, sub in group.dropna(subset=["_value"]).groupby("_metric"):
            if metric and len(sub) > 1:
                v = pd.to_numeric(sub["_value"], errors="coerce")
                best = v.idxmin() if _lower_is_better(str(metric)) else v.idxmax()
                marks.setdefault(int(best), []).append(f"★ {metric}")
    for i, m in marks.items():
        df.at[i, "best"] = " ".join(m)
    return df[cols]


def finished_runs(root: Path | None = None) -> list[Run]:
    return [r for r in list_runs(root or subdir("runs")) if r.file("metrics.json").exists()]


def progress_view(run: Run) -> dict[str, Any]:
    """What the progress panel draws: state, message (the phase: preparing data, building the model,
    compiling, training, evaluating), epoch, batch, fraction done, elapsed (wall-clock seconds since the
    run was submitted), ETA (from the fitting time so far), history."""
    status = run.status()
    prog = run.progress()
    hist = run.history()
    spec = run.read_json("spec.json", {}) or {}
    epochs = int(prog.get("epochs") or spec.get("training", {}).get("epochs", 1))
    epoch = int(prog.get("epoch") or 0)
    batch = prog.get("batch")
    steps = prog.get("steps") or status.get("steps")
    done_epochs = len(hist)
    frac = done_epochs / epochs
    if batch and steps and epoch > done_epochs:
        frac = (epoch - 1 + min(batch, steps) / steps) / epochs
    state = status.get("state", "queued")
    if state in ("finished", "stopped"):
        frac = 1.0
    elapsed = float(prog.get("elapsed") or 0.0)
    if state in ACTIVE_STATES and prog.get("time"):
        elapsed += max(0.0, time.time() - float(prog["time"]))
    submitted = (run.read_json("job.json") or {}).get("submitted")
    if isinstance(submitted, (int, float)):  # wall-clock time since the click, loading and waiting included
        end = time.time() if state in ACTIVE_STATES else status.get("finished") or status.get("updated")
        if isinstance(end, (int, float)):
            elapsed = max(0.0, float(end) - float(submitted))
    fit_elapsed = float(prog.get("elapsed") or 0.0)
    eta = fit_elapsed * (1 - frac) / frac if 0 < frac < 1 and fit_elapsed > 0 else None
    return {
        "state": state, "message": status.get("message", ""), "epoch": epoch, "epochs": epochs,
        "batch": batch, "steps": steps, "fraction": max(0.0, min(1.0, frac)), "elapsed": elapsed, "eta": eta,
        "history": hist, "logs": prog.get("logs", {}), "active": state in ACTIVE_STATES,
    }


def history_frame(history: list[dict[str, Any]]) -> pd.DataFrame:
    """Loss curves indexed by epoch (loss, val_loss when present)."""
    if not history:
        return pd.DataFrame(columns=["loss", "val_loss"])
    df = pd.DataFrame(history)
    df = df.set_index("epoch") if "epoch" in df.columns else df
    return df[[c for c in ("loss", "val_loss") if c in df.columns]]


def format_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "–"
    s = int(round(s))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def start_training(run_dir: str | Path, spec: ModelSpec, data_path: str | Path, test_path: str | Path | None = None,
                   resume: bool = False, workspace: str | None = None) -> Run:
    """Hand a run to a worker process and return at once: the pre-started warm worker when one is ready
    (TensorFlow already loaded; builder.training.warm), else a new one (builder.training.worker).
    `workspace` (the starting session's workspace id) is recorded in job.json."""
    from builder.training import warm
    from builder.training.worker import launch, submit

    run = submit(run_dir, spec, data_path, test_path, resume=resume, extra={"workspace": workspace})
    pid = warm.hand_off(run.path)
    if pid is None:
        return launch(run)
    run.update_status_if("queued", pid=pid, message="handed to the warm worker (TensorFlow loaded)")
    warm.ensure()  # the next job's warm worker starts now, while a slot is free
    return run


def keep_warm() -> int | None:
    """Make sure a pre-started worker with TensorFlow loaded waits for the next job (builder.training.warm);
    its pid, or None when the mechanism is off (RNN_STUDIO_WARM_WORKER=0) or every slot is busy.
    The worker ends by itself when this process (the app server) does."""
    import os

    from builder.training.warm import ensure

    try:
        return ensure(parent=os.getpid())
    except OSError:  # a read-only or full data directory: training still works, cold
        return None


def run_choices(root: Path | None = None, runs: list[Run] | None = None) -> dict[str, str]:
    """{run id: label for a picker, "id · name · ★ metric" (the name and best-run marks of the runs table
    when there are)}, newest first; `runs`: only these (e.g. the finished ones)."""
    keep = None if runs is None else {r.path.name for r in runs}
    out = {}
    for rec in runs_table(root).to_dict("records"):
        if keep is None or rec["run"] in keep:
            out[rec["run"]] = " · ".join(str(p) for p in (rec["run"], rec["name"], rec["best"]) if p)
    return out
