"""Workspaces: what a browser session was doing, kept on disk so that a reload or a shared link finds it.

A workspace is one strict-JSON file, `<data dir>/workspaces/<id>.json`, named by a random id that the
app keeps in the page's URL (`?ws=<id>`). It holds the session keys that make up the analyst's work:

    source    the CSV in use ({"path", "name", "kind"}; uploads are stored under <data dir>/uploads)
    spec      the ModelSpec as JSON (column roles, window, model, training)
    run_id    the run the Train / Evaluate / Export pages show
    preset    the preset the spec started from

Files are written atomically (builder.files), so two tabs never read half a workspace; tabs on different
workspaces write different files and never see each other's choices. Plain helpers, no streamlit.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from builder.files import atomic_write_json, read_json, safe_child
from builder.paths import data_root

#: the session keys a workspace keeps
KEYS: tuple[str, ...] = ("source", "spec", "run_id", "preset")
#: the query parameter that carries the workspace id
PARAM = "ws"
_ID = re.compile(r"^[a-z0-9]{8,32}$")
FORMAT = "rnn-studio-workspace/1"


def new_id() -> str:
    """A fresh random workspace id (16 lowercase hex characters)."""
    return secrets.token_hex(8)


def valid_id(wid: object) -> bool:
    """True for a string that can name a workspace file (8-32 lowercase letters and digits)."""
    return isinstance(wid, str) and bool(_ID.match(wid))


def workspaces_dir() -> Path:
    path = data_root() / "workspaces"
    path.mkdir(parents=True, exist_ok=True)
    return path


def workspace_file(wid: str) -> Path:
    """<data dir>/workspaces/<wid>.json; ValueError for an id that is not a plain workspace id."""
    if not valid_id(wid):
        raise ValueError(f"invalid workspace id {wid!r}: expected 8-32 lowercase letters and digits")
    return safe_child(workspaces_dir(), f"{wid}.json")


def snapshot(state: Any) -> dict[str, Any]:
    """The workspace part of a session state (any mapping): {key: value} for KEYS."""
    return {k: state.get(k) for k in KEYS if k in state}


def save(wid: str, values: dict[str, Any]) -> None:
    """Write the workspace's values (the KEYS only) atomically."""
    record = {"format": FORMAT, "updated": time.time(), **{k: values.get(k) for k in KEYS}}
    atomic_write_json(workspace_file(wid), record)


def load(wid: str) -> dict[str, Any] | None:
    """The saved values of workspace `wid` ({key: value} for KEYS), or None when there is none.

    A source file that no longer exists is dropped (the app falls back to its default data), and a run
    that was deleted is forgotten; the notes of what was dropped are under "_notices".
    """
    if not valid_id(wid):
        return None
    rec = read_json(workspace_file(wid))
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        return None
    out: dict[str, Any] = {k: rec[k] for k in KEYS if k in rec}
    notices = []
    src = out.get("source")
    if isinstance(src, dict) and src.get("path") and not Path(src["path"]).exists():
        notices.append(f"the data file {src.get('name') or src['path']} is gone; using the default sample")
        out.pop("source")
    run_id = out.get("run_id")
    if run_id:
        try:
            exists = (safe_child(data_root() / "runs", run_id) / "spec.json").exists()
        except ValueError:
            exists = False
        if not exists:
            notices.append(f"run {run_id} no longer exists")
            out["run_id"] = None
    out["_notices"] = notices
    return out


def restore(wid: str | None) -> tuple[str, dict[str, Any] | None, list[str]]:
    """(workspace id, saved values or None, notices) for a page load with `?ws=wid` (or none).

    A known id gives its saved values; an unknown or missing id starts a new workspace (None): a
    well-formed unknown id is kept, so a link made before the first save still names this workspace.
    """
    saved = load(wid) if wid else None
    if saved is None:
        return (wid if valid_id(wid) else new_id()), None, []
    notices = saved.pop("_notices", [])
    return str(wid), saved, notices
