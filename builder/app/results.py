"""Results as the Evaluate and Export pages show them: metric tables, held-out predictions, charts'
frames, downloads and predictions on new data.

Plain helpers behind the pages (no streamlit import; TensorFlow only inside functions).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.app.runs import task_of
from builder.app.session import chart_frame, to_datetime
from builder.tasks.base import Task
from builder.tasks.registry import get_task
from builder.training.runs import Run


def _task(metrics: dict[str, Any]) -> Task:
    task = task_of(metrics)
    if task is None:
        raise ValueError(f"metrics.json names no known task (task: {metrics.get('task')!r})")
    return task


def metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Model and baselines, one row each, one column per metric (the task's own table)."""
    return _task(metrics).metrics_table(metrics)


def metric_cards(metrics: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """(the Evaluate page's headline cards, the number format of the metric table), from the task."""
    task = _task(metrics)
    return task.metric_cards(metrics), task.number_format


def result_summary(metrics: dict[str, Any]) -> str | None:
    """The Train page's sentence on a finished run (its task's `result_summary`); None when the metrics
    name no known task or lack what the sentence needs (an older run)."""
    task = task_of(metrics)
    if task is None:
        return None
    try:
        return task.result_summary(metrics)
    except (KeyError, TypeError, IndexError, ValueError):
        return None


def result_kind(metrics: dict[str, Any]) -> str:
    """How the Train page shows `result_summary`: "success" (beats every baseline), "info" (level with the
    best, or nothing to judge) or "warning" (a baseline is better), by the run's task."""
    task = task_of(metrics)
    if task is None:
        return "info"
    try:
        return task.result_kind(metrics)
    except (KeyError, TypeError, IndexError, ValueError):
        return "info"


def evaluate_views(metrics: dict[str, Any]) -> tuple[str, ...]:
    """The Evaluate page's views of a run's results, by its task (`Task.evaluate_views`); () when the
    metrics name no known task."""
    task = task_of(metrics)
    return task.evaluate_views if task is not None else ()


def export_views(task: str | None) -> tuple[str, ...]:
    """The Export page's extra views for a run of `task` (`Task.export_views`)."""
    from builder.tasks.registry import TASKS

    return get_task(task).export_views if task in TASKS else ()


def task_model_fields(task: str) -> tuple[str, ...]:
    """The spec's top-level model options `task` uses (`Task.model_fields`; the Design page offers them)."""
    from builder.tasks.registry import TASKS

    return get_task(task).model_fields if task in TASKS else ()


def task_refits(task: str) -> bool:
    """Whether `task` offers refitting on train + validation (the Train page's toggle)."""
    from builder.tasks.registry import TASKS

    return task in TASKS and get_task(task).refits


def task_augments(task: str) -> bool:
    """Whether `task` takes training augmentation (`TaskEntry.augments`; the Train page's Augment fields)."""
    from builder.tasks.registry import TASKS

    return task in TASKS and TASKS[task].augments


def task_ensembles(task: str) -> bool:
    """Whether `task` combines `training.ensemble` members (the Train page's ensemble field)."""
    from builder.tasks.registry import TASKS

    return task in TASKS and bool(get_task(task).ensemble_combine)


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
        task = task_of(m)
        if task is not None:
            row.update(task.compare_row(m))
        rows.append(row)
    return pd.DataFrame(rows)


def test_predictions(run_dir: str | Path) -> dict[str, Any]:
    """The held-out part's actual and predicted values that training stored (predictions.csv).

    Forecast runs: {"targets", "horizon", "part", "frame": DataFrame(time, step, target, actual,
    predicted, error)}. Reads only the run directory, so the training CSV may be gone; a run of
    format rnn-studio/1 (from before predictions were stored) is predicted again from its CSV.
    """
    run = Run(run_dir)
    meta = run.metadata()
    if meta["task"] != "forecast":
        raise ValueError("actual vs predicted applies to forecast runs")
    path = run.file("predictions.csv")
    frame = pd.read_csv(path) if path.exists() else _predict_again(run, meta)
    if meta["resolved"].get("time_col") and "time" in frame:
        frame["time"] = to_datetime(frame["time"])
    metrics = run.read_json("metrics.json") or {}
    return {"targets": list(meta["resolved"]["targets"]), "horizon": meta["resolved"]["horizon"],
            "part": metrics.get("part", "test"), "frame": frame}


def _predict_again(run: Run, meta: dict[str, Any]) -> pd.DataFrame:
    """A format-1 run's held-out predictions, from its training CSV (imports TensorFlow)."""
    from builder.spec import ModelSpec

    source = run_data_path(run)
    if not source or not Path(source).exists():
        raise FileNotFoundError(f"{run.path}: no predictions.csv, and its training data {source!r} is gone")
    task = get_task(meta["task"])
    job = run.read_json("job.json") or {}
    spec = ModelSpec.from_dict(run.read_json("spec.json") or {}, source=str(run.file("spec.json")))
    data = task.prepare(source, spec, job.get("test_data") or meta["resolved"].get("test_source"))
    return task.evaluate(data, load_model(run))[1]


def confusion_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """Long-format confusion matrix (true, predicted, count) for a heatmap."""
    classes = [str(c) for c in metrics.get("classes", [])]
    cm = metrics.get("confusion_matrix", [])
    return pd.DataFrame([{"true": classes[i], "predicted": classes[j], "count": int(cm[i][j])}
                         for i in range(len(cm)) for j in range(len(cm[i]))])


def per_class_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support of a classify run (empty for older runs)."""
    rows = metrics.get("per_class") or []
    return pd.DataFrame(rows).set_index("class") if rows else pd.DataFrame()


def misclassified_frame(example: dict[str, Any]) -> pd.DataFrame:
    """One misclassified test sequence beside a correct one of its class, long format for a line chart:
    columns step, value, sequence ("<id> (true a, predicted b)" / "<id> (correct a)"), channel."""
    rows = []
    parts = [(f"{example['id']} (true {example['actual']}, predicted {example['predicted']})", example.get("values"))]
    if example.get("correct_values"):
        parts.append((f"{example['correct_id']} (correct {example['actual']})", example["correct_values"]))
    channels = example.get("channels") or []
    for name, values in parts:
        for c, series in enumerate(values or []):
            channel = channels[c] if c < len(channels) else str(c)
            rows += [{"step": t, "value": v, "sequence": name, "channel": channel} for t, v in enumerate(series)]
    return pd.DataFrame(rows, columns=["step", "value", "sequence", "channel"])


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
    """The training CSV the run was given (it may have been moved or deleted since)."""
    job = run.read_json("job.json") or {}
    if job.get("data"):
        return job["data"]
    try:
        return run.metadata()["resolved"].get("source")
    except (FileNotFoundError, ValueError):
        return None


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A formula-safe CSV of a prediction table."""
    from builder.files import csv_safe

    return csv_safe(df).to_csv(index=False).encode("utf-8")


def forecast_with_history(df: pd.DataFrame, resolved: dict[str, Any], forecast: pd.DataFrame,
                          n_history: int | None = None) -> pd.DataFrame:
    """Recent actual values and the forecast on one time axis (the forecast starts at the last actual point).

    Columns: "<target>" (actual) and "<target> forecast"; index: time (or step number).
    """
    targets = list(resolved.get("targets") or [])
    time_col = resolved.get("time_col")
    n = n_history or 3 * int(resolved["lookback"])
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


def forecast_band_frame(df: pd.DataFrame, resolved: dict[str, Any], forecast: pd.DataFrame,
                        n_history: int | None = None) -> tuple[pd.DataFrame | None, list[int]]:
    """A one-target forecast ahead with its intervals, for `charts.interval_chart`: columns time, actual
    (recent history), predicted (from the last actual point on), lower_<lv> / upper_<lv>; and the levels.
    (None, []) with several targets or without interval columns (then `forecast_with_history` draws it)."""
    targets = list(resolved.get("targets") or [])
    if len(targets) != 1:
        return None, []
    from builder.tasks.forecast_intervals import LEVELS, interval_column

    t = targets[0]
    levels = [lv for lv in LEVELS if interval_column(t, "lower", lv) in forecast.columns]
    if not levels:
        return None, []
    both = forecast_with_history(df, resolved, forecast[[forecast.columns[0], t]], n_history)
    out = pd.DataFrame({"time": both.index, "actual": both[t].to_numpy(), "predicted": both[f"{t} forecast"].to_numpy()})
    ahead = len(forecast)
    for lv in levels:
        for side in ("lower", "upper"):
            col = np.full(len(out), np.nan)
            col[-ahead:] = forecast[interval_column(t, side, lv)].to_numpy(np.float64)
            if len(out) > ahead:  # the band opens at the last actual point, as the forecast line does
                col[-ahead - 1] = out["actual"].iloc[-ahead - 1]
            out[f"{side}_{lv}"] = col
    return out, levels


def predict_on(run: Run, df: pd.DataFrame, model: Any | None = None) -> pd.DataFrame:
    """The run's task's predictions on table `df` (forecast: the next horizon; classify: per sequence)."""
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # the server log gets our messages, not TensorFlow's start-up lines
    from builder.serving.predict import predict_frame

    return predict_frame(run, df, model)


def predict_upload(run: Run, data: bytes, name: str, model: Any | None = None,
                   options: dict[str, Any] | None = None) -> pd.DataFrame:
    """Predictions on an uploaded CSV (bytes), messages naming the file `name`; `options`: keywords the
    run's task's `predict` takes (`Task.predict_options`, e.g. translate's `beam`)."""
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # the server log gets our messages, not TensorFlow's start-up lines
    from builder.serving.predict import predict_file

    return predict_file(run.path, data, model=model, name=name, options=options)


def serving_snippet(run: Run) -> str:
    """The Python snippet that serves the run's SavedModel with TensorFlow alone (text from the run's
    metadata: nothing here imports TensorFlow, so the Export page's first visit does not load it)."""
    from builder.serving.export import serving_snippet as snippet

    return snippet(run.metadata())


def load_model(run: Run) -> Any:
    """The run's model.keras (imports TensorFlow; the pages cache it)."""
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # the server log gets our messages, not TensorFlow's start-up lines
    from builder.serving.export import load_run_model

    return load_run_model(run)
