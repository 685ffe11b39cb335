"""The session and its data: defaults, sample files, uploads, the task a table looks like, previews.

Plain helpers behind the pages (no streamlit import; TensorFlow only inside functions).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from builder.files import safe_child
from builder.paths import subdir
from builder.spec import ModelSpec
from builder.spec.presets import DEFAULT_TASK, default_source, default_spec, load_preset, sample_files  # noqa: F401
from builder.tasks.registry import TASKS, get_task


def session_defaults() -> dict[str, Any]:
    """Session keys the app owns, with their first values (set once per session by app.py): the first
    bundled sample, and the default preset of the task guessed from it (as picking it on the Data page does)."""
    source = default_source()
    task = first_task(source)
    return {
        # the ModelSpec as a JSON dict: the one source of truth
        "spec": default_spec() if task == DEFAULT_TASK else load_preset(TASKS[task].default_preset).model_dump(mode="json"),
        "source": source,            # {"path", "name", "kind"}: the CSV the spec is applied to
        "run_id": None,              # the run the Train / Evaluate / Export pages show
        "spec_rev": 0,               # bumped when the spec is replaced wholesale (resets editor widgets)
        "preset": TASKS[task].default_preset,
        "applied_upload": None,      # hash of the last applied spec upload
    }


def first_task(source: dict[str, str] | None) -> str:
    """The task a fresh workspace starts with for `source`: the first task reading text for a plain-text
    sample, else `guess_task` of the table; DEFAULT_TASK when there is no source or it cannot be read."""
    from builder.app.form import tasks_reading
    from builder.app.text import is_text_source
    from builder.data.read import DataError, load_table

    if not source:
        return DEFAULT_TASK
    if is_text_source(source, DEFAULT_TASK):
        return (tasks_reading("text") or [DEFAULT_TASK])[0]
    try:
        return guess_task(load_table(source["path"], name=source.get("name"), max_rows=2000))
    except (DataError, OSError, ValueError):
        return DEFAULT_TASK


def save_upload(data: bytes, name: str) -> Path:
    """Store an uploaded CSV under uploads/ by content hash; returns its path (same bytes, same file)."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem)[:60] or "upload"
    path = safe_child(subdir("uploads"), f"{digest}-{stem}.csv")
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
    """tree for a node table (a parent_id column), translate for a table of text pairs (source and target
    columns, or src and tgt), classify when the table looks like labelled long-format sequences
    (id + label columns), label_steps when such a label changes within an id (a label per step; classify
    would refuse it), else forecast."""
    names = {str(c).lower() for c in df.columns}
    if "parent_id" in names:  # a node table (task tree)
        return "tree"
    if {"source", "target"} <= names or {"src", "tgt"} <= names:  # a table of text pairs (task translate)
        return "translate"
    id_col = next((c for c in df.columns if str(c).lower() in {"sequence_id", "seq_id", "series_id", "id"}), None)
    label_col = next((c for c in df.columns if str(c).lower() in {"label", "class"}), None)
    if id_col is None or label_col is None:
        return "forecast"
    per_step = bool((df.groupby(id_col, sort=False)[label_col].nunique() > 1).any())
    return "label_steps" if per_step else "classify"


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
    """Timestamps for charts, read as training reads the time column (builder.data.series.parse_times:
    one format for the whole column, so 07/12/2014 is the same day as in training; its rules for UTC
    offsets); unparseable cells become NaT."""
    from builder.data.series import parse_times

    return parse_times(raw, str(raw.name))[0]


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


def text_columns_for(spec: ModelSpec, columns: list[str]) -> tuple[str, ...]:
    """The columns the spec's task reads as the text the file holds (`Task.text_columns`: sequence or tree
    ids), so that the Data page reads the file as training does (`001` and `1` two sequences there too)."""
    if spec.task not in TASKS:
        return ()
    return tuple(c for c in get_task(spec.task).text_columns(spec, list(columns)) if c in columns)


def data_overview(df: pd.DataFrame, spec: ModelSpec) -> dict[str, Any]:
    """Validate the spec's data choices against the table (raises DataError) and summarise the result."""
    task = get_task(spec.task)
    return task.overview(task.prepare_frame(df, spec))
