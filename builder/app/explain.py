"""Evaluate page helper: integrated gradients and saliency of one window of the run's data
(builder.serving.explain), as a long table for a heat map plus the figures that go with it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from builder.training.runs import Run


def run_table(run: Run, path: str) -> pd.DataFrame:
    """The run's data file read as its task reads it (sequence ids as the text the file holds)."""
    from builder.serving.explain import load_run_table

    return load_run_table(run.metadata(), path)


def explain_on(run: Run, df: pd.DataFrame, index: int, baseline: str, steps: int, model: Any) -> dict[str, Any]:
    """{"table": one row per step and feature, "output", "f_x", "f_baseline", "ig_sum", "gap"} for window
    (forecast) or sequence (classify) `index` of table `df` (which has the run's columns)."""
    from builder.serving.explain import explain_window, window_from_table

    meta = run.metadata()
    x, times = window_from_table(meta, df, index)
    expl = explain_window(model, meta, x, baseline=baseline, steps=steps)
    return {"table": expl.frame(times), "output": expl.output, "f_x": expl.f_x, "f_baseline": expl.f_baseline,
            "ig_sum": float(expl.integrated_gradients.sum()), "gap": expl.completeness_gap}
