"""Predictions from a finished run on new data: the run's task predicts (builder.tasks), this module
loads the run and writes the result.

Forecast: the next `horizon` steps after the data's end, from its last `lookback` rows, with future
timestamps continued at the data's frequency. Classify: one prediction per sequence with the class
probabilities. The CSVs are made inert against formula injection (builder.files.csv_safe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from builder.data.read import Source
from builder.files import write_csv
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task
from builder.training.runs import Run


def predict_frame(run: Run, df: pd.DataFrame, model: Any | None = None,
                  options: dict[str, Any] | None = None) -> pd.DataFrame:
    """The run's predictions on table `df` (which has the run's columns); `model`: the loaded model;
    `options`: the task's prediction options (Task.predict_options, e.g. translate's beam)."""
    from builder.serving.export import load_run_model

    meta = run.metadata()
    task = get_task(meta["task"])
    out = task.predict(Resolved.from_dict(meta["resolved"]), df, model or load_run_model(run), **(options or {}))
    return task.with_run_metrics(out, run.read_json("metrics.json", {}) or {})


def predict_file(
    run_dir: str | Path, data: Source, out_csv: str | Path | None = None, model: Any | None = None,
    name: str | None = None, options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Predict with a finished run on a CSV; write the (formula-safe) result to `out_csv` if given.

    `model`: the run's loaded model, to skip loading model.keras again (the UI caches it);
    `name`: the file name that messages use for uploaded bytes.
    """
    run = Run(run_dir)
    meta = run.metadata()  # a clear message for a directory that is not a finished run, before reading the CSV
    df = get_task(meta["task"]).load_new(data, name=name, resolved=Resolved.from_dict(meta["resolved"]))
    out = predict_frame(run, df, model, options)
    if out_csv is not None:
        write_csv(out_csv, out)
    return out
