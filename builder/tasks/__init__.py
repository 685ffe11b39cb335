"""Tasks: one module per task (forecast, classify), each a `Task` subclass, listed in `registry.TASKS`.

    registry   TASKS and get_task(name): the one list of tasks (light to import)
    base       the Task interface and the frozen `Resolved` record of a run's data
    forecast   time series -> the next `horizon` steps (baselines: naive, seasonal naive)
    classify   labelled sequences -> class probabilities (baseline: the majority class)
"""

from builder.tasks.registry import TASKS, TaskEntry, get_task

__all__ = ["TASKS", "TaskEntry", "get_task"]


def prepare(source, spec, test_source=None, name=None):  # noqa: ANN001, ANN201 (see Task.prepare)
    """Read and prepare data file(s) for `spec` with its task: `get_task(spec.task).prepare(...)`."""
    return get_task(spec.task).prepare(source, spec, test_source, name)


def prepare_frame(df, spec):  # noqa: ANN001, ANN201 (see the tasks' prepare_frame)
    """Prepare an already loaded table for `spec` with its task (previews, tests)."""
    return get_task(spec.task).prepare_frame(df, spec)


__all__ += ["prepare", "prepare_frame"]
