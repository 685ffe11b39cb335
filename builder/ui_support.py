"""Plain helpers behind the Streamlit pages (no streamlit import here; TensorFlow only inside functions).

Pages turn widgets into calls of these functions; everything here is testable without a browser.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder import paths
from builder.presets import load_preset
from builder.runs import Run, list_runs, safe_child
from builder.spec import (
    AttentionBlock,
    ConvBlock,
    DenseBlock,
    ModelSpec,
    RecurrentBlock,
    SpecError,
)

ACTIVE_STATES = ("queued", "running")
BLOCK_CLASSES = {"conv": ConvBlock, "recurrent": RecurrentBlock, "attention": AttentionBlock, "dense": DenseBlock}
BLOCK_LABELS = {"conv": "Conv1D front end", "recurrent": "Recurrent", "attention": "Attention pooling",
                "dense": "Dense (head)"}
FIELD_LABELS = {
    "units": "Units", "proj_units": "Projection units", "num_layers": "Stacked layers", "cell": "Cell",
    "bidirectional": "Bidirectional", "merge_mode": "Merge mode", "dropout": "Dropout",
    "recurrent_dropout": "Recurrent dropout", "filters": "Filters", "kernel_size": "Kernel size",
    "activation": "Activation", "padding": "Padding", "pool_size": "Pool size",
}


# ------------------------------------------------------------------------------------------------------
# Session defaults and data sources
# ------------------------------------------------------------------------------------------------------
def sample_files() -> list[Path]:
    """Bundled sample CSVs (datasets/*.csv, or $RNN_STUDIO_SAMPLES), forecasting samples first."""
    folder = Path(os.environ.get("RNN_STUDIO_SAMPLES") or paths.datasets_dir())
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    preferred = [f for f in files if "airline" in f.name] + [f for f in files if "nile" in f.name]
    rest = [f for f in files if f not in preferred]
    return preferred + rest


def default_source() -> dict[str, str] | None:
    files = sample_files()
    return {"path": str(files[0]), "name": files[0].name, "kind": "sample"} if files else None


def default_spec() -> dict[str, Any]:
    """The starting spec: the default preset, as plain JSON data."""
    try:
        return load_preset("stacked_lstm").model_dump(mode="json")
    except SpecError:
        return ModelSpec().model_dump(mode="json")


def session_defaults() -> dict[str, Any]:
    """Session keys the app owns, with their first values (set once per session by app.py)."""
    return {
        "spec": default_spec(),      # the ModelSpec as a JSON dict: the one source of truth
        "source": default_source(),  # {"path", "name", "kind"}: the CSV the spec is applied to
        "run_id": None,              # the run the Train / Evaluate / Export pages show
        "spec_rev": 0,               # bumped when the spec is replaced wholesale (resets editor widgets)
        "preset": "stacked_lstm",
        "applied_upload": None,      # hash of the last applied spec upload
    }


def save_upload(data: bytes, name: str) -> Path:
    """Store an uploaded CSV under uploads/ by content hash; returns its path (same bytes, same file)."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem)[:60] or "upload"
    path = safe_child(paths.subdir("uploads"), f"{digest}-{stem}.csv")
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def file_token(path: str | Path) -> str:
    """A cache key for a file: path, size and modification time."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return f"{p}:missing"
    return f"{p}:{st.st_size}:{st.st_mtime_ns}"


def guess_task(df: pd.DataFrame) -> str:
    """classify when the table looks like labelled long-format sequences (id + label columns), else forecast."""
    names = {str(c).lower() for c in df.columns}
    has_id = bool(names & {"sequence_id", "seq_id", "series_id", "id"})
    has_label = bool(names & {"label", "class"})
    return "classify" if has_id and has_label else "forecast"


# ------------------------------------------------------------------------------------------------------
# Data display
# ------------------------------------------------------------------------------------------------------
def column_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per column: type, missing count, min and max (numbers) or distinct count (text)."""
    from builder.data import detect_time_column, numeric_columns

    time_col = detect_time_column(df)
    numeric = set(numeric_columns(df, exclude=(time_col,)))
    rows = []
    for col in df.columns:
        s = df[col]
        kind = "time" if col == time_col else ("number" if col in numeric else "text")
        row: dict[str, Any] = {"column": col, "type": kind, "missing": int(s.isna().sum()),
                               "min": "", "max": "", "distinct": int(s.nunique(dropna=True))}
        if kind == "number":
            v = pd.to_numeric(s, errors="coerce")
            if v.notna().any():
                row["min"], row["max"] = f"{v.min():.6g}", f"{v.max():.6g}"
        elif kind == "time":
            row["min"], row["max"] = str(s.dropna().iloc[0]), str(s.dropna().iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows)


def to_datetime(raw: pd.Series) -> pd.Series:
    """Timestamps for display; mixed UTC offsets are converted to UTC (unparseable cells become NaT)."""
    text = raw.astype(str)
    try:
        return pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        return pd.to_datetime(text, errors="coerce", format="mixed", utc=True)


def chart_frame(df: pd.DataFrame, time_col: str | None, columns: list[str], max_points: int = 5000) -> pd.DataFrame:
    """The chosen numeric columns indexed by time (or row number), thinned to at most max_points rows."""
    out = pd.DataFrame({c: pd.to_numeric(df[c], errors="coerce") for c in columns if c in df.columns})
    if time_col and time_col in df.columns:
        raw = df[time_col]
        idx = raw if pd.api.types.is_numeric_dtype(raw) else to_datetime(raw)
        if idx.notna().mean() > 0.9:
            out.index = pd.Index(idx, name=time_col)
            out = out[out.index.notna()].sort_index()
    step = max(1, math.ceil(len(out) / max_points))
    return out.iloc[::step]


def data_overview(df: pd.DataFrame, spec: ModelSpec) -> dict[str, Any]:
    """Validate the spec's data choices against the table (raises DataError) and summarise the result."""
    from builder.data import prepare_sequences, prepare_series

    if spec.task == "forecast":
        d = prepare_series(df, spec)
        return {
            "task": "forecast", "rows": d.n_rows, "train": d.n_train, "val": d.n_val,
            "test": d.n_rows - d.n_train - d.n_val, "features": d.features, "targets": d.targets,
            "lookback": d.lookback, "horizon": d.horizon, "season_length": d.season_length, "freq": d.freq,
            "windows": {p: int(len(d.window_starts(p))) for p in ("train", "val", "test")},
            "notices": d.notices, "n_features": len(d.features), "n_outputs": len(d.targets),
        }
    d = prepare_sequences(df, spec)
    return {
        "task": "classify", "sequences": {p: int((d.split == p).sum()) for p in ("train", "val", "test")},
        "features": d.features, "classes": d.classes, "lookback": d.lookback, "notices": d.notices,
        "n_features": len(d.features), "n_outputs": len(d.classes), "id_col": d.id_col,
        "order_col": d.order_col, "label_col": d.label_col,
    }


# ------------------------------------------------------------------------------------------------------
# Spec editing
# ------------------------------------------------------------------------------------------------------
def field_specs(kind: str) -> list[dict[str, Any]]:
    """Editor fields of one block kind from the JSON schema: name, label, widget type, bounds, options, help."""
    schema = BLOCK_CLASSES[kind].model_json_schema()
    out = []
    for name, prop in schema["properties"].items():
        if name == "kind":
            continue
        options = prop.get("enum")
        types = [prop.get("type")] if "type" in prop else [p.get("type") for p in prop.get("anyOf", [])]
        bounds = prop if "type" in prop else next((p for p in prop.get("anyOf", []) if p.get("type") != "null"), {})
        if options:
            widget = "select"
        elif "boolean" in types:
            widget = "bool"
        elif "integer" in types:
            widget = "int"
        else:
            widget = "float"
        out.append({
            "name": name, "label": FIELD_LABELS.get(name, prop.get("title", name)), "widget": widget,
            "options": options, "optional": "null" in types, "default": prop.get("default"),
            "min": bounds.get("minimum", bounds.get("exclusiveMinimum")),
            "max": bounds.get("maximum", bounds.get("exclusiveMaximum")),
            "exclusive_max": "exclusiveMaximum" in bounds, "help": prop.get("description", ""),
        })
    return out


def new_block(kind: str) -> dict[str, Any]:
    return BLOCK_CLASSES[kind]().model_dump(mode="json")


def insert_block(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Blocks with a new default block of `kind` where the ordering rules allow it."""
    blocks = [dict(b) for b in blocks]
    kinds = [b["kind"] for b in blocks]
    first_dense = kinds.index("dense") if "dense" in kinds else len(kinds)
    if kind == "conv":
        pos = 0
    elif kind == "dense":
        pos = len(blocks)
    elif kind == "attention":
        pos = first_dense
    else:  # recurrent: after the last conv/recurrent block, before attention and the head
        seq = [i for i, k in enumerate(kinds[:first_dense]) if k in ("conv", "recurrent")]
        pos = (seq[-1] + 1) if seq else 0
    blocks.insert(pos, new_block(kind))
    return blocks


def move_block(blocks: list[dict[str, Any]], i: int, delta: int) -> list[dict[str, Any]]:
    blocks = [dict(b) for b in blocks]
    j = i + delta
    if 0 <= i < len(blocks) and 0 <= j < len(blocks):
        blocks[i], blocks[j] = blocks[j], blocks[i]
    return blocks


def remove_block(blocks: list[dict[str, Any]], i: int) -> list[dict[str, Any]]:
    return [dict(b) for k, b in enumerate(blocks) if k != i]


def block_title(i: int, block: dict[str, Any]) -> str:
    from builder.spec import CELL_LABELS

    kind = block.get("kind")
    if kind == "recurrent":
        n = block.get("num_layers", 1)
        bi = "bidirectional " if block.get("bidirectional") else ""
        return f"{i + 1}. {bi}{CELL_LABELS.get(block.get('cell'), block.get('cell'))} × {n}, {block.get('units')} units"
    if kind == "conv":
        return f"{i + 1}. Conv1D, {block.get('filters')} filters, kernel {block.get('kernel_size')}"
    if kind == "attention":
        return f"{i + 1}. Attention pooling, {block.get('units')} units"
    return f"{i + 1}. Dense, {block.get('units')} units, {block.get('activation')}"


def validate(spec_dict: dict[str, Any]) -> tuple[ModelSpec | None, str | None]:
    """(spec, None) when valid, else (None, readable error naming the field)."""
    try:
        return ModelSpec.from_dict(spec_dict), None
    except SpecError as err:
        return None, str(err)


def apply_preset(current: dict[str, Any], preset: ModelSpec) -> dict[str, Any]:
    """The preset's model and training with the session's data choices kept (columns, split, missing ...)."""
    new = preset.model_dump(mode="json")
    data = dict(current.get("data", {}))
    if preset.task != current.get("task"):
        # a different task needs different columns: keep only the settings both tasks share
        keep = ("val_fraction", "test_fraction", "missing", "scaler")
        data = {k: v for k, v in data.items() if k in keep}
        data = {**new["data"], **data}
    new["data"] = data
    spec, err = validate(new)
    if spec is None:
        raise SpecError(err or "invalid preset")
    return spec.model_dump(mode="json")


def parse_spec_upload(data: bytes) -> ModelSpec:
    """An uploaded spec JSON -> ModelSpec (SpecError with a readable message otherwise)."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SpecError(f"uploaded spec: not valid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise SpecError(f"uploaded spec: expected a JSON object, found {type(obj).__name__}")
    return ModelSpec.from_dict(obj, source="uploaded spec")


# ------------------------------------------------------------------------------------------------------
# Runs
# ------------------------------------------------------------------------------------------------------
def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "model"


def new_run_dir(spec: ModelSpec, preset: str | None = None) -> Path:
    """runs/<timestamp>-<slug> (unique)."""
    root = paths.subdir("runs")
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
        run = Run(safe_child(paths.subdir("runs"), run_id))
    except ValueError:
        return None
    return run if run.exists() else None


def current_run(run_id: str | None) -> Run | None:
    """The session's run; else the newest queued/running run on disk (a reload or a second tab)."""
    run = run_by_id(run_id)
    if run is not None:
        return run
    for r in list_runs(paths.subdir("runs")):
        if r.status().get("state") in ACTIVE_STATES:
            return r
    return None


def best_val(history: list[dict[str, Any]]) -> float | None:
    vals = [h.get("val_loss") for h in history if h.get("val_loss") is not None]
    return float(min(vals)) if vals else None


def headline_metric(metrics: dict[str, Any] | None) -> tuple[str, float | None]:
    if not metrics:
        return "", None
    if metrics.get("task") == "classify":
        return "accuracy", metrics.get("model", {}).get("accuracy")
    return "MAE", metrics.get("model", {}).get("mae")


def runs_table(root: Path | None = None) -> pd.DataFrame:
    """One row per run: id, state, model, task, epochs, best val loss, headline test metric, started."""
    rows = []
    for run in list_runs(root or paths.subdir("runs")):
        status = run.status()
        spec = run.read_json("spec.json", {}) or {}
        metrics = run.read_json("metrics.json")
        hist = run.history()
        name, value = headline_metric(metrics)
        rows.append({
            "run": run.path.name, "state": status.get("state", "queued"), "model": spec.get("name", ""),
            "task": spec.get("task", ""), "epochs": f"{len(hist)}/{spec.get('training', {}).get('epochs', '?')}",
            "best val loss": best_val(hist), "test metric": f"{name} {value:.4g}" if value is not None else "",
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.file("spec.json").stat().st_mtime)),
        })
    return pd.DataFrame(rows, columns=["run", "state", "model", "task", "epochs", "best val loss",
                                       "test metric", "started"])


def finished_runs(root: Path | None = None) -> list[Run]:
    return [r for r in list_runs(root or paths.subdir("runs")) if r.file("metrics.json").exists()]


def progress_view(run: Run) -> dict[str, Any]:
    """What the progress panel draws: state, message, epoch, batch, fraction done, elapsed, ETA, history."""
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
    eta = elapsed * (1 - frac) / frac if 0 < frac < 1 else None
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


# ------------------------------------------------------------------------------------------------------
# Evaluation and export
# ------------------------------------------------------------------------------------------------------
def metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Model and baselines, one row each, one column per metric."""
    if metrics.get("task") == "classify":
        who = {"model": "model", "majority_class": f"majority class ({metrics['majority_class'].get('class')})"}
        cols = ["accuracy", "macro_f1"]
    else:
        who = {"model": "model", "naive": "naive (last value)",
               "seasonal_naive": f"seasonal naive (m={metrics.get('season_length')})"}
        cols = ["mae", "rmse", "smape", "mase"]
    rows = [{"": label, **{c: metrics.get(k, {}).get(c) for c in cols}} for k, label in who.items()]
    return pd.DataFrame(rows).set_index("")


def compare_table(runs: list[Run]) -> pd.DataFrame:
    """Several finished runs side by side: model, params, epochs, test metrics and the baselines."""
    rows = []
    for run in runs:
        m = run.read_json("metrics.json") or {}
        meta = run.read_json("metadata.json") or {}
        spec = run.read_json("spec.json") or {}
        row: dict[str, Any] = {"run": run.path.name, "model": spec.get("name", ""),
                               "params": meta.get("params"), "epochs": m.get("epochs_run"),
                               "best epoch": m.get("best_epoch"), "seconds": m.get("train_seconds")}
        if m.get("task") == "classify":
            row.update({"accuracy": m["model"]["accuracy"], "macro F1": m["model"]["macro_f1"],
                        "majority accuracy": m["majority_class"]["accuracy"]})
        elif m:
            row.update({"MAE": m["model"]["mae"], "RMSE": m["model"]["rmse"], "sMAPE": m["model"]["smape"],
                        "MASE": m["model"]["mase"], "naive MAE": m["naive"]["mae"],
                        "seasonal naive MAE": m["seasonal_naive"]["mae"]})
        rows.append(row)
    return pd.DataFrame(rows)


def test_predictions(run_dir: str | Path) -> dict[str, Any]:
    """Actual and predicted values on the run's evaluation part (forecast runs; imports TensorFlow).

    Returns {"targets", "horizon", "part", "frame": DataFrame(time, step, target, actual, predicted, error)}.
    """
    from builder.data import load_and_prepare, series_targets
    from builder.export import load_run_model
    from builder.train import forecast_held_out

    run = Run(run_dir)
    spec = ModelSpec.from_dict(run.read_json("spec.json") or {}, source=str(run.file("spec.json")))
    if spec.task != "forecast":
        raise ValueError("actual vs predicted applies to forecast runs")
    job = run.read_json("job.json") or {}
    path = run_data_path(run)
    if not path:
        raise FileNotFoundError(f"{run.path}: the run does not record its data file")
    data = load_and_prepare(path, spec, job.get("test_data"))
    part, pred = forecast_held_out(data, load_run_model(run))
    y = series_targets(data, part)
    starts = data.window_starts(part)
    rows = []
    for h in range(data.horizon):
        for k, target in enumerate(data.targets):
            idx = starts + data.lookback + h
            when = data.time[idx] if data.time is not None else idx
            rows.append(pd.DataFrame({"time": when, "step": h + 1, "target": target, "actual": y[:, h, k],
                                      "predicted": pred[:, h, k]}))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if not frame.empty:
        frame["error"] = frame["actual"] - frame["predicted"]
    return {"targets": data.targets, "horizon": data.horizon, "part": part, "frame": frame}


def confusion_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """Long-format confusion matrix (true, predicted, count) for a heatmap."""
    classes = [str(c) for c in metrics.get("classes", [])]
    cm = metrics.get("confusion_matrix", [])
    return pd.DataFrame([{"true": classes[i], "predicted": classes[j], "count": int(cm[i][j])}
                         for i in range(len(cm)) for j in range(len(cm[i]))])


def zip_dir_bytes(folder: str | Path, arcroot: str | None = None) -> bytes:
    """A folder as zip bytes, entries under `arcroot/` (default: the folder's name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not found; has the run finished?")
    root = arcroot or folder.name
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{root}/{p.relative_to(folder).as_posix()}")
    return buf.getvalue()


def run_data_path(run: Run) -> str | None:
    job = run.read_json("job.json") or {}
    info = run.read_json("data.json") or {}
    return job.get("data") or info.get("source")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A formula-safe CSV of a prediction table."""
    from builder.predict import csv_safe

    return csv_safe(df).to_csv(index=False).encode("utf-8")


def forecast_with_history(df: pd.DataFrame, meta: dict[str, Any], forecast: pd.DataFrame,
                          n_history: int | None = None) -> pd.DataFrame:
    """Recent actual values and the forecast on one time axis (the forecast starts at the last actual point).

    Columns: "<target>" (actual) and "<target> forecast"; index: time (or step number).
    """
    targets = list(meta.get("targets") or [])
    time_col = meta.get("time_col")
    n = n_history or 3 * int(meta.get("lookback") or 24)
    hist = chart_frame(df, time_col, targets, max_points=10**9).tail(n)
    key = forecast.columns[0]
    idx = forecast[key]
    if time_col and not isinstance(hist.index, pd.RangeIndex):
        idx = to_datetime(idx) if not pd.api.types.is_numeric_dtype(hist.index) else pd.to_numeric(idx, errors="coerce")
    else:
        hist = hist.reset_index(drop=True)
        hist.index = hist.index + (len(df) - len(hist) + 1)
    fc = pd.DataFrame({f"{t} forecast": forecast[t].to_numpy() for t in targets}, index=pd.Index(idx))
    if len(hist):
        last = pd.DataFrame({f"{t} forecast": [hist[t].iloc[-1]] for t in targets}, index=hist.index[-1:])
        fc = pd.concat([last, fc])
    out = pd.concat([hist, fc], axis=1)
    out.index.name = time_col or "step"
    return out
