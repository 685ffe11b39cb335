"""Predictions from a finished run on new data.

Forecast: the next `horizon` steps after the data's end, from its last `lookback` rows, with future
timestamps continued at the data's frequency. Classify: one prediction per sequence with the class
probabilities. Exported CSVs are made inert against formula injection (see `csv_safe`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.data import DataError, Source, group_sequences, load_table, pad_sequences, read_series
from builder.runs import Run, atomic_write_text

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote; numbers are untouched."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_inert)
    out.columns = [_inert(str(c)) for c in out.columns]
    return out


def _inert(v: Any) -> Any:
    """`'` + v for a text cell that starts (after spaces) with = + - @ tab or CR, unless it is a plain number."""
    if isinstance(v, str) and v.lstrip(" ").startswith(FORMULA_PREFIXES):
        if v == v.strip():
            try:
                float(v)
                return v  # a real negative or signed number
            except ValueError:
                pass
        return "'" + v
    return v


def future_times(last: pd.Timestamp, freq: str | None, index: pd.DatetimeIndex | None, steps: int) -> list[Any]:
    """`steps` timestamps after `last`: at `freq`, else at the median spacing of `index`."""
    if freq:
        try:
            return list(pd.date_range(last, periods=steps + 1, freq=freq)[1:])
        except (ValueError, TypeError):
            pass
    if index is not None and len(index) > 1:
        step = pd.Timedelta(np.median(np.diff(index.asi8)), unit="ns")
        return [last + step * (k + 1) for k in range(steps)]
    return list(range(1, steps + 1))


def forecast_next(run: Run, df: pd.DataFrame, model: Any | None = None) -> pd.DataFrame:
    """The next `horizon` steps after the end of `df` (which has the run's columns) -> one row per step."""
    from builder.export import load_run_model

    meta = run.read_json("metadata.json") or {}
    info = run.read_json("data.json") or {}
    source = df.attrs.get("source", "data")
    time_col, features, targets = meta.get("time_col"), meta["features"], meta["targets"]
    lookback, horizon = int(meta["lookback"]), int(meta["horizon"])
    if time_col and time_col not in df.columns:
        raise DataError(f"{source}: time column `{time_col}` (used in training) not found; columns are {list(df.columns)}")
    missing_cols = [c for c in features if c not in df.columns]
    if missing_cols:
        raise DataError(f"{source}: column(s) {missing_cols} used in training are missing; columns are {list(df.columns)}")
    time, table, _, _ = read_series(df, time_col, features, info.get("missing", "interpolate"))
    if len(table) < lookback:
        raise DataError(f"{source}: {len(table)} rows are too few; the model needs the last {lookback} rows")
    window = table.to_numpy(dtype=np.float32)[-lookback:][None]
    model = model or load_run_model(run)
    pred = np.asarray(model.predict(window, verbose=0))[0]  # [H, n_targets]
    when = future_times(time[-1], meta.get("freq"), time, horizon) if time is not None else list(
        range(len(table) + 1, len(table) + horizon + 1))
    out = pd.DataFrame(pred, columns=targets)
    out.insert(0, time_col or "step", when)
    return out


def classify_sequences(run: Run, df: pd.DataFrame, model: Any | None = None) -> pd.DataFrame:
    """One row per sequence: id, predicted class, probability of each class (and the true label if present)."""
    from builder.export import load_run_model

    meta = run.read_json("metadata.json") or {}
    info = run.read_json("data.json") or {}
    id_col, label_col, order_col = info.get("id_col"), info.get("label_col"), info.get("order_col")
    source = df.attrs.get("source", "data")
    if id_col not in df.columns:
        raise DataError(f"{source}: sequence id column `{id_col}` (used in training) not found; columns are {list(df.columns)}")
    has_label = label_col in df.columns
    ids, xs, labels, _ = group_sequences(
        df, id_col, order_col if order_col in df.columns else None, meta["features"],
        label_col if has_label else None, info.get("missing", "interpolate"),
    )
    x, _ = pad_sequences(xs, int(meta["lookback"]), len(meta["features"]))
    model = model or load_run_model(run)
    probs = np.asarray(model.predict(x, verbose=0))
    classes = meta["classes"]
    out = pd.DataFrame({id_col: ids, "predicted": [classes[i] for i in probs.argmax(axis=1)]})
    if has_label:
        out.insert(1, label_col, labels)
    for k, c in enumerate(classes):
        out[f"p_{c}"] = probs[:, k]
    return out


def predict_file(
    run_dir: str | Path, data: Source, out_csv: str | Path | None = None, model: Any | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Predict with a finished run on a CSV; write the (formula-safe) result to `out_csv` if given.

    `model`: the run's loaded model, to skip loading model.keras again (the UI caches it);
    `name`: the file name that messages use for uploaded bytes.
    """
    run = Run(run_dir)
    meta = run.read_json("metadata.json")
    if not meta:
        raise FileNotFoundError(f"{run.path}: no metadata.json; is this a finished run directory?")
    df = load_table(data, name=name)
    out = forecast_next(run, df, model) if meta["task"] == "forecast" else classify_sequences(run, df, model)
    if out_csv is not None:
        atomic_write_text(out_csv, csv_safe(out).to_csv(index=False))
    return out
