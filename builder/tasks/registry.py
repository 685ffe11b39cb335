"""The task registry: one entry per task, read by the spec, the CLI, the pages and training.

Importing this module imports nothing heavy (the task classes load on first use), so the spec can
take its `task` choices from here. To add a task: write ``builder/tasks/<name>.py`` with a
``Task`` subclass (builder.tasks.base) and add one ``TaskEntry`` below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.tasks.base import Task


@dataclass(frozen=True)
class TaskEntry:
    """name: the spec's `task`; label and description: what the UI shows; losses: the spec losses
    the task accepts besides "auto"; default_preset: the preset a new model of this task starts from;
    impl: ``"module:Class"`` of its Task subclass; structure: what a model of the task reads,
    "sequence" (a time axis: the cells of CELLS) or "tree" (a node table: TREE_CELLS)."""

    name: str
    label: str
    description: str
    losses: tuple[str, ...]
    default_preset: str
    impl: str
    structure: str = "sequence"


TASKS: dict[str, TaskEntry] = {e.name: e for e in (
    TaskEntry("forecast", "Forecast future values",
              "One row per time step; predict the next `horizon` steps of the target columns.",
              ("mse", "mae", "huber"), "stacked_lstm", "builder.tasks.forecast:ForecastTask"),
    TaskEntry("classify", "Classify whole sequences",
              "Long format: one row per step of a labelled sequence (sequence id, order, features, label).",
              ("crossentropy",), "lstm_fcn", "builder.tasks.classify:ClassifyTask"),
    # ---- sequence tasks (issue 18) ----
    TaskEntry("generate", "Generate text (character language model)",
              "A UTF-8 text file; learn the next character from the previous `context` characters, then "
              "generate text from a prompt.", ("crossentropy",), "char_rnn", "builder.tasks.generate:GenerateTask"),
)}

# ---- trees (builder/tasks/tree.py) ---------------------------------------------------------------------
TASKS["tree"] = TaskEntry(
    "tree", "Learn from trees",
    "A node table: one row per node (tree id, node id, parent id, token and/or features) with a label per "
    "tree or per node; a Tree-LSTM reads each tree from its leaves up.",
    ("crossentropy", "mse", "mae", "huber"), "child_sum_tree_lstm", "builder.tasks.tree:TreeTask", "tree")


def accepted_loss(task: str, loss: str) -> str:
    """`loss` if `task` accepts it, else "auto" (the task's own choice): what a task switch keeps."""
    return loss if loss == "auto" or loss in TASKS[task].losses else "auto"


@cache
def get_task(name: str) -> Task:
    """The Task object of `name` (one per process)."""
    try:
        entry = TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}") from None
    module, _, attr = entry.impl.partition(":")
    return getattr(importlib.import_module(module), attr)(entry)
