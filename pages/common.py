"""Streamlit glue shared by the pages: session access, cached loaders, error display.

Not a page (app.py lists the pages explicitly). Logic lives in builder.app; this file only
binds it to st.session_state and st.cache_*.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from builder.app import (
    TASKS,
    DataError,
    ModelSpec,
    Run,
    SpecError,
    chart_frame,
    column_summary,
    data_overview,
    file_token,
    list_presets,
    load_model,
    load_table,
    model_shape,
    session_defaults,
)

USER_ERRORS = (DataError, SpecError, ValueError, FileNotFoundError, KeyError, OSError)


def ensure_session() -> None:
    """Session defaults (app.py sets them; a page run on its own sets them too)."""
    missing = [k for k in ("spec", "source", "run_id", "spec_rev", "preset", "applied_upload")
               if k not in st.session_state]
    if missing:
        defaults = session_defaults()
        for k in missing:
            st.session_state[k] = defaults[k]


def spec() -> ModelSpec:
    """The session's spec (validated; falls back to the default if the stored one is broken)."""
    ensure_session()
    try:
        return ModelSpec.from_dict(st.session_state["spec"])
    except (SpecError, TypeError):
        st.session_state["spec"] = session_defaults()["spec"]
        return ModelSpec.from_dict(st.session_state["spec"])


def set_spec(new: ModelSpec | dict[str, Any], replace: bool = False) -> None:
    """Store a new spec; `replace` also resets editor widgets (preset, upload, block list changes)."""
    st.session_state["spec"] = new.model_dump(mode="json") if isinstance(new, ModelSpec) else new
    if replace:
        st.session_state["spec_rev"] = int(st.session_state.get("spec_rev", 0)) + 1


def rev() -> int:
    return int(st.session_state.get("spec_rev", 0))


@st.cache_data(show_spinner="Reading the CSV…", max_entries=16)
def _load_table(path: str, token: str) -> tuple[pd.DataFrame, list[str]]:
    df = load_table(path)
    return df, list(df.attrs.get("notices", []))


def load_path(path: str) -> pd.DataFrame:
    """A CSV on disk as a DataFrame, through the same cache as the Data page; raises DataError."""
    df, notices = _load_table(path, file_token(path))
    df = df.copy()
    df.attrs["source"], df.attrs["notices"] = path, notices
    return df


@st.cache_resource(max_entries=4)
def run_model(run_dir: str, token: str) -> Any:
    """A finished run's model.keras, loaded once per file version (token: size and mtime)."""
    return load_model(Run(run_dir))


@st.cache_data(max_entries=16)
def source_summary(path: str, token: str) -> pd.DataFrame:
    """Per-column summary (type, missing, min, max) of a CSV, cached per file version."""
    return column_summary(_load_table(path, token)[0])


@st.cache_data(max_entries=32)
def source_chart(path: str, token: str, time_col: str | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """The chosen columns over time for st.line_chart, cached per file version and choice."""
    return chart_frame(_load_table(path, token)[0], time_col, list(columns))


@st.cache_data(ttl=30, max_entries=4)
def presets(folder_token: str) -> list[dict[str, str]]:
    """Every preset (built-in and saved), re-read when a preset folder changes (token) or after 30 s."""
    return list_presets()


def load_source(source: dict[str, str] | None) -> pd.DataFrame:
    """The source CSV as a DataFrame (cached on path, size and mtime); raises DataError."""
    if not source:
        raise DataError("no data chosen yet: pick a sample or upload a CSV on the Data page")
    df, notices = _load_table(source["path"], file_token(source["path"]))
    df = df.copy()
    df.attrs["source"] = source.get("name") or source["path"]
    df.attrs["notices"] = notices
    return df


@st.cache_data(show_spinner="Checking the data against the spec…", max_entries=64)
def _overview(path: str, token: str, name: str, data_json: str, task: str, blocks_json: str = "") -> dict[str, Any]:
    df, notices = _load_table(path, token)
    df = df.copy()
    df.attrs["source"] = name
    df.attrs["notices"] = notices
    model = json.loads(blocks_json) if blocks_json else {}  # tree tasks: the cell, its arity and the loss
    s = ModelSpec.from_dict({"task": task, "data": json.loads(data_json),
                             "training": {"loss": model.pop("loss", "auto")}, **model}, source="spec")
    return data_overview(df, s)


def overview(source: dict[str, str] | None, s: ModelSpec) -> dict[str, Any]:
    """Prepared-data summary for the spec's data settings (cached); raises DataError / SpecError."""
    if not source:
        raise DataError("no data chosen yet: pick a sample or upload a CSV on the Data page")
    blocks = json.dumps({"blocks": s.model_dump(mode="json")["blocks"], "loss": s.training.loss}) \
        if TASKS[s.task].structure == "tree" else ""
    return _overview(source["path"], file_token(source["path"]), source.get("name") or source["path"],
                     s.data.model_dump_json(), s.task, blocks)


def show_error(err: BaseException, prefix: str = "") -> None:
    """A user-facing error: the library's message, never a traceback."""
    text = str(err) or type(err).__name__
    st.error(f"{prefix}{text}", icon=":material/error:")


def data_shape(source: dict[str, str] | None, s: ModelSpec) -> tuple[int, int, str | None]:
    """(n_features, n_outputs, problem) for the spec on the session's data; defaults when unknown."""
    try:
        ov = overview(source, s)
        return int(ov["n_features"]), int(ov["n_outputs"]), None
    except USER_ERRORS as err:
        shape = model_shape(s)
        return shape.n_features, shape.n_outputs, str(err)
