"""Where runs, uploads, exports and user presets live: one data directory, never in git.

$RNN_STUDIO_HOME sets it; the default is ./studio-data beside the code.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The data directory (created on first use)."""
    root = Path(os.environ.get("RNN_STUDIO_HOME") or REPO / "studio-data").expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def subdir(name: str) -> Path:
    """data_root()/name for name in runs, uploads, exports, presets (created on first use)."""
    if name not in {"runs", "uploads", "exports", "presets"}:
        raise ValueError(f"unknown data subdirectory {name!r}")
    path = data_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    """The bundled sample CSVs."""
    return REPO / "datasets"
