"""Tasks: one module per task (forecast, classify), each a `Task` subclass, listed in `registry.TASKS`.

    registry   TASKS and get_task(name): the one list of tasks (light to import)
    base       the Task interface and the frozen `Resolved` record of a run's data
    forecast   time series -> the next `horizon` steps (baselines: naive, seasonal naive)
    classify   labelled sequences -> class probabilities (baseline: the majority class)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.tasks.registry import TASKS, TaskEntry, get_task

if TYPE_CHECKING:
    import pandas as pd

    from builder.spec import ModelSpec

__all__ = ["TASKS", "TaskEntry", "get_task", "prepare", "prepare_frame"]


def prepare(source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> Any:
    """Read and prepare data file(s) for `spec` with its task: `get_task(spec.task).prepare(...)`."""
    return get_task(spec.task).prepare(source, spec, test_source, name)


def prepare_frame(df: pd.DataFrame, spec: ModelSpec) -> Any:
    """Prepare an already loaded table for `spec` with its task (previews, tests)."""
    return get_task(spec.task).prepare_frame(df, spec)
