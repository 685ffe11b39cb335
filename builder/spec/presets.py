"""Presets: small JSON files in presets/, each a full ModelSpec with a name, description and when to use it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from builder.files import atomic_write_text, safe_child
from builder.paths import datasets_dir
from builder.spec.model import ModelSpec, SpecError
from builder.tasks.registry import TASKS

PRESET_DIR = Path(__file__).resolve().parents[2] / "presets"
DEFAULT_PRESET = "stacked_lstm"


def preset_dirs() -> list[Path]:
    """Built-in presets first, then the data directory's presets/, then $RNN_STUDIO_PRESETS (colon-separated)."""
    from builder.paths import subdir

    extra = [Path(p) for p in os.environ.get("RNN_STUDIO_PRESETS", "").split(os.pathsep) if p]
    return [PRESET_DIR, subdir("presets"), *extra]


def _preset_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for d in preset_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                files.setdefault(p.stem, p)
    return files


def list_presets() -> list[dict[str, str]]:
    """[{name, title, description, when_to_use, task, source}] for every preset, default first.

    source is "builtin" (presets/) or "saved" (the data directory or $RNN_STUDIO_PRESETS); a saved file
    that no longer validates is left out (a built-in one is an error).
    """
    out = []
    for name, path in _preset_files().items():
        builtin = path.parent == PRESET_DIR
        try:
            spec = ModelSpec.from_json(path)
        except SpecError:
            if builtin:
                raise
            continue
        out.append({"name": name, "title": spec.name, "description": spec.description,
                    "when_to_use": spec.when_to_use, "task": spec.task, "source": "builtin" if builtin else "saved"})
    out.sort(key=lambda p: (p["source"] != "builtin", p["name"] != DEFAULT_PRESET, p["name"]))
    return out


def load_preset(name: str) -> ModelSpec:
    """The validated spec of a preset by file name (e.g. "stacked_lstm")."""
    files = _preset_files()
    if name not in files:
        raise SpecError(f"unknown preset {name!r}; expected one of {sorted(files)}")
    return ModelSpec.from_json(files[name])


def save_preset(spec: ModelSpec, directory: str | Path, name: str | None = None) -> Path:
    """Write `spec` as directory/<name>.json (name defaults to a slug of spec.name)."""
    slug = re.sub(r"[^a-z0-9_]+", "_", (name or spec.name).lower()).strip("_") or "preset"
    path = safe_child(directory, f"{slug}.json")
    atomic_write_text(path, json.dumps(spec.model_dump(mode="json"), indent=2) + "\n")
    return path


#: the task a new session starts with: the spec's default
DEFAULT_TASK: str = ModelSpec.model_fields["task"].default


def sample_files() -> list[Path]:
    """Bundled samples (datasets/*.csv and *.txt, or $RNN_STUDIO_SAMPLES), forecasting samples first."""
    folder = Path(os.environ.get("RNN_STUDIO_SAMPLES") or datasets_dir())
    files = sorted([*folder.glob("*.csv"), *folder.glob("*.txt")]) if folder.is_dir() else []
    preferred = [f for f in files if "airline" in f.name] + [f for f in files if "nile" in f.name]
    rest = [f for f in files if f not in preferred]
    return preferred + rest


def default_source() -> dict[str, str] | None:
    files = sample_files()
    return {"path": str(files[0]), "name": files[0].name, "kind": "sample"} if files else None


def default_spec() -> dict[str, Any]:
    """The starting spec: the default task's default preset, as plain JSON data."""
    try:
        return load_preset(TASKS[DEFAULT_TASK].default_preset).model_dump(mode="json")
    except SpecError:
        return ModelSpec().model_dump(mode="json")
