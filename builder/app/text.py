"""Helpers behind the pages for text tasks (generate): recognising a text file, its overview, the
per-epoch samples of a run and generation in the app. No streamlit here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from builder.data.read import DataError
from builder.spec import ModelSpec
from builder.tasks.registry import TASKS, get_task
from builder.training.runs import Run


def task_reads_text(task: str) -> bool:
    """Whether `task` reads a UTF-8 text file rather than a CSV (its registry entry's `reads`)."""
    entry = TASKS.get(task)
    return entry is not None and entry.reads == "text"


def task_predict_options(task: str | None) -> tuple[str, ...]:
    """The keywords `predict` of `task` takes beyond the data (`Task.predict_options`; translate: "beam")."""
    return get_task(task).predict_options if task in TASKS else ()


def looks_tabular(path: str | Path, lines: int = 8) -> bool:
    """True when the file's first non-empty lines hold the same number (>= 1) of one separator."""
    with Path(path).open("rb") as fh:
        head = fh.read(8192).decode("utf-8", errors="replace")
    rows = [ln for ln in head.splitlines() if ln.strip()][:lines]
    if len(rows) < 2:
        return False
    return any(len({ln.count(sep) for ln in rows}) == 1 and rows[0].count(sep) >= 1 for sep in ",;\t|")


def is_text_source(source: dict[str, str] | None, task: str) -> bool:
    """Whether the Data page should treat the source as plain text: a .txt file that the session's
    task reads as text, or that does not look like a table."""
    names = (str(source.get("name", "")), str(source.get("path", ""))) if source else ()
    if not any(n.lower().endswith(".txt") for n in names):  # uploads are stored under a .csv name
        return False
    if task_reads_text(task):
        return True
    try:
        return not looks_tabular(source["path"])
    except OSError:
        return False


def text_overview(path: str, name: str, spec: ModelSpec) -> dict[str, Any]:
    """The task's overview of a text file under `spec` (raises DataError)."""
    task = get_task(spec.task)
    if not task_reads_text(spec.task):
        raise DataError(f"{name}: a text file; task `{spec.task}` reads a CSV (pick a text task such as generate)")
    return task.overview(task.prepare(path, spec, name=name))


def text_preview(path: str, n: int = 1500) -> str:
    """The first `n` characters of a text file (invalid bytes shown as U+FFFD)."""
    with Path(path).open("rb") as fh:
        return fh.read(n * 4).decode("utf-8", errors="replace")[:n]


def latest_samples(run: Run) -> dict[str, Any] | None:
    """sample.json of a generative run: {"prompt", "temperature", "length", "samples": [{"epoch", "text"}]}."""
    return run.read_json("sample.json")


def generate_in_app(run: Run, model: Any, prompt: str, length: int, temperature: float, top_k: int, seed: int,
                    beam: int) -> str:
    """Text from a finished generate run (the CLI's `generate`)."""
    from builder.serving.generate import generate_from_run

    return generate_from_run(run.path, prompt, int(length), temperature=float(temperature), top_k=int(top_k),
                             seed=int(seed), beam=int(beam), model=model)


def generate_notices(run: Run, prompt: str, temperature: float, top_k: int, beam: int) -> list[str]:
    """What the app's generate box assumes, as the CLI's `generate` notes it (builder.serving.generate):
    prompt characters outside the run's vocabulary, a top-k beyond it, and a top-k that greedy decoding
    (temperature 0) or beam search does not use. [] for a run of another task (generating names it)."""
    from builder.serving.generate import prompt_notices, sampling_notices

    meta = run.metadata()
    if meta.get("task") != "generate":
        return []
    vocab = tuple(meta["resolved"]["classes"])
    notes = prompt_notices(prompt, vocab, name="Prompt")
    if int(top_k) and (int(beam) or float(temperature) == 0):
        how = f"beam search (width {int(beam)})" if int(beam) else "temperature 0 (greedy)"
        notes.append(f"Top-k {int(top_k)}: for sampling; {how} takes the most likely text and does not use it")
    elif not int(beam):
        notes += sampling_notices(int(top_k), vocab, name="Top-k")
    return notes


def printable(text: str) -> str:
    """Text for st.code: tabs kept, other control characters shown as U+FFFD."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "\ufffd", text)
