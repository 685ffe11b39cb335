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
    WORKSPACE_PARAM,
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
    new_workspace_id,
    restore_workspace,
    save_workspace,
    session_defaults,
    task_reads_text,
    text_columns_for,
    text_overview,
    workspace_snapshot,
)
from builder.app import keep_warm as keep_warm_worker

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
def _load_table(path: str, token: str, text_cols: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    """The CSV and its reading notices; `text_cols` kept as the text the file holds (a task's ids)."""
    df = load_table(path, text_columns=(lambda _: text_cols) if text_cols else None)
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


def load_source(source: dict[str, str] | None, text_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """The source CSV as a DataFrame (cached on path, size and mtime); raises DataError. `text_cols`: columns
    kept as the text the file holds (`task_columns`: the ids the task compares as written)."""
    if not source:
        raise DataError("no data chosen yet: pick a sample or upload a CSV on the Data page")
    df, notices = _load_table(source["path"], file_token(source["path"]), tuple(text_cols))
    df = df.copy()
    df.attrs["source"] = source.get("name") or source["path"]
    df.attrs["notices"] = notices
    return df


@st.cache_data(show_spinner="Checking the data against the spec…", max_entries=64)
def _overview(path: str, token: str, name: str, data_json: str, task: str, blocks_json: str = "",
              text_cols: tuple[str, ...] = ()) -> dict[str, Any]:
    df, notices = _load_table(path, token, text_cols)
    df = df.copy()
    df.attrs["source"] = name
    df.attrs["notices"] = notices
    model = json.loads(blocks_json) if blocks_json else {}  # tree tasks: the cell, its arity and the loss
    s = ModelSpec.from_dict({"task": task, "data": json.loads(data_json),
                             "training": {"loss": model.pop("loss", "auto")}, **model}, source="spec")
    return data_overview(df, s)


@st.cache_data(show_spinner="Reading the text…", max_entries=16)
def _text_overview(path: str, token: str, name: str, spec_json: str) -> dict[str, Any]:
    return text_overview(path, name, ModelSpec.from_dict(json.loads(spec_json)))


def overview(source: dict[str, str] | None, s: ModelSpec) -> dict[str, Any]:
    """Prepared-data summary for the spec's data settings (cached); raises DataError / SpecError."""
    if not source:
        raise DataError("no data chosen yet: pick a sample or upload a CSV on the Data page")
    if task_reads_text(s.task):  # text tasks (generate) read a .txt file, not a CSV
        return _text_overview(source["path"], file_token(source["path"]), source.get("name") or source["path"],
                              s.model_dump_json())
    blocks = json.dumps({"blocks": s.model_dump(mode="json")["blocks"], "loss": s.training.loss}) \
        if TASKS[s.task].structure == "tree" else ""
    return _overview(source["path"], file_token(source["path"]), source.get("name") or source["path"],
                     s.data.model_dump_json(), s.task, blocks, task_columns(source, s))


def task_columns(source: dict[str, str], s: ModelSpec) -> tuple[str, ...]:
    """The columns the spec's task reads as the text the file holds (its ids), from the file's header."""
    return text_columns_for(s, list(_header(source["path"], file_token(source["path"]))))


@st.cache_data(max_entries=16)
def _header(path: str, token: str) -> tuple[str, ...]:
    """The file's column names (cached apart from the table: a cached frame is copied on every call)."""
    return tuple(_load_table(path, token)[0].columns)


def show_error(err: BaseException, prefix: str = "") -> None:
    """A user-facing error: the library's message, never a traceback."""
    text = str(err) or type(err).__name__
    st.error(f"{prefix}{text}", icon=":material/error:")


def data_shape(source: dict[str, str] | None, s: ModelSpec) -> tuple[int, int, int | None, str | None]:
    """(n_features, n_outputs, lookback, problem) for the spec on the session's data; defaults when unknown.
    lookback: the data's window or sequence length (None where the task has none or the data is unknown)."""
    try:
        ov = overview(source, s)
        lookback = ov.get("lookback")
        return (int(ov["n_features"]), int(ov["n_outputs"]),
                int(lookback) if isinstance(lookback, (int, float)) and lookback > 0 else None, None)
    except USER_ERRORS as err:
        shape = model_shape(s)
        return shape.n_features, shape.n_outputs, None, str(err)


# ---- workspace: the session's work on disk, under ?ws=<id> ---------------------------------------
#: widget keys that belong to one workspace's view (dropped when another workspace starts)
_VIEW_KEYS = ("data_mode", "eval_runs", "export_run", "_forecast_for", "stop_requested",
              "design_error", "applied_upload", "task_notice", "design_summary")


def reopen_key(newest: str) -> str:
    """The Train page's "Reopen a run" widget key: it names the workspace and the newest run.

    A new run, or a new workspace, so gives a new widget, which starts on the newest run (index 0). Under
    one fixed key the widget's id stays the same when its options change (a keyed selectbox's id depends on
    the key alone in this Streamlit), and the browser keeps the choice it holds and sends it back: dropping
    the key from session state chose the newest run on the server for one script run only, while the box
    went on showing, and on the next rerun choosing, the old run.
    """
    return f"train_reopen:{st.session_state.get('workspace', '')}:{newest}"


def _saved_text(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def init_workspace() -> None:
    """Once per browser session: restore the workspace named in the URL (or start one); keep the id in the URL."""
    url_id = st.query_params.get(WORKSPACE_PARAM)
    if "workspace" not in st.session_state:
        wid, saved, notices = restore_workspace(url_id)
        for key, value in (saved or {}).items():
            st.session_state[key] = value  # a saved workspace wins over any state seeded before
        st.session_state["workspace"] = wid
        st.session_state["_ws_saved"] = _saved_text(workspace_snapshot(st.session_state)) if saved else None
        for note in notices:
            st.toast(f"Workspace restored, but {note}.", icon=":material/info:")
    ensure_session()
    if st.query_params.get(WORKSPACE_PARAM) != st.session_state["workspace"]:
        st.query_params[WORKSPACE_PARAM] = st.session_state["workspace"]


def persist_workspace() -> None:
    """Write the workspace file when the session's data, spec, run or preset changed since the last write."""
    wid = st.session_state.get("workspace")
    if not wid:
        return
    values = workspace_snapshot(st.session_state)
    text = _saved_text(values)
    if text == st.session_state.get("_ws_saved"):
        return
    try:
        save_workspace(wid, values)
    except (OSError, ValueError) as err:  # a full disk must not break the page
        show_error(err, "Could not save the workspace: ")
        return
    st.session_state["_ws_saved"] = text


def new_workspace() -> None:
    """Button callback: a clean workspace under a new id (the old one stays on disk, reachable by its link)."""
    rev_before = rev()
    for key, value in session_defaults().items():
        st.session_state[key] = value
    for key in _VIEW_KEYS:
        st.session_state.pop(key, None)
    st.session_state["spec_rev"] = rev_before + 1  # fresh widget keys: no stale choices on the pages
    st.session_state["workspace"] = new_workspace_id()
    st.session_state["_ws_saved"] = None
    st.query_params[WORKSPACE_PARAM] = st.session_state["workspace"]


def workspace_sidebar() -> None:
    """The workspace's id, how to come back to it, and a button for a clean one."""
    with st.sidebar:
        st.caption(f"Workspace `{st.session_state.get('workspace', '')}`: your data, columns, design and run are "
                   "kept on this server. Bookmark or share this page's address to come back to it.")
        st.button("New workspace", icon=":material/add_circle:", on_click=new_workspace, width="stretch",
                  help="Start again from the bundled sample and the default preset; this workspace stays "
                       "reachable through its address.")


def keep_warm() -> None:
    """Once per page run: a pre-started training worker waits for the next job (see builder.training.warm)."""
    keep_warm_worker()
