"""What the Evaluate page shows of a forecast beyond the metric table: the verdict against the best
baseline, the error by horizon step of the model and every baseline, prediction intervals and their
coverage, and a rolling-origin backtest's table (plain data; no streamlit).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from builder.tasks.forecast_eval import BASELINES, baseline_label, best_baseline, verdict, verdict_kind
from builder.tasks.forecast_intervals import coverage_reading, level_range, range_text


def forecast_verdict(metrics: dict[str, Any]) -> dict[str, str] | None:
    """{"text", "kind": success | warning | info} for the Evaluate page, or None without baselines.

    Runs from before the verdict was stored get it computed from their scores.
    """
    text = metrics.get("verdict") or verdict(metrics)
    if not text:
        return None
    best = metrics.get("best_baseline") or best_baseline(metrics) or {}
    return {"text": text, "kind": verdict_kind(text), "best": best.get("label", "")}


def error_by_step_frame(metrics: dict[str, Any], metric: str = "mae") -> pd.DataFrame:
    """Long frame (step, forecaster, value) of the error by horizon step for the model and each
    baseline that has one (older runs: the model's MAE only)."""
    steps = (metrics.get("by_step") or {}).get(metric) or {}
    if not steps and metric == "mae" and metrics.get("model_mae_by_step"):
        steps = {"model": metrics["model_mae_by_step"]}
    rows = []
    for who in ("model", *BASELINES):
        values = steps.get(who)
        if not values:
            continue
        label = "model" if who == "model" else baseline_label(metrics, who, short=True)
        rows += [{"step": h + 1, "forecaster": label, metric.upper(): v} for h, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["step", "forecaster", metric.upper()])


def coverage_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per interval level: nominal, empirical coverage on the test part, the range a calibrated
    interval scores on that many windows nine times in ten, mean width, and a note: the coverage read
    against that range, or the reason a level is undefined (empty for runs without intervals)."""
    intervals = metrics.get("intervals") or {}
    rows = []
    for level, rec in (intervals.get("levels") or {}).items():
        span = level_range(level, rec)
        reading = coverage_reading(rec.get("coverage"), *span) if span else ""
        rows.append({"interval": f"{level}%", "nominal": int(level) / 100, "test coverage": rec.get("coverage"),
                     "calibrated range": range_text(level, rec), "mean width": rec.get("mean_width"),
                     "note": rec.get("reason") or reading})
    return pd.DataFrame(rows, columns=["interval", "nominal", "test coverage", "calibrated range", "mean width", "note"])


def interval_levels(frame: pd.DataFrame) -> list[int]:
    """The interval levels a predictions.csv frame carries (lower_<level> and upper_<level> columns)."""
    return sorted(int(c.split("_")[1]) for c in frame.columns
                  if c.startswith("lower_") and f"upper_{c.split('_')[1]}" in frame.columns)


def backtest_view(result: dict[str, Any]) -> dict[str, Any]:
    """What the Evaluate page shows of a run's backtest.json: {"caption", "verdict", "table" (one row per
    forecaster: MAE, RMSE, sMAPE, MASE), "per_origin" (long: origin time or row, forecaster, MAE)}."""
    rows = []
    for who in ("model", *BASELINES):
        scores = result.get(who) or {}
        rows.append({"": "model" if who == "model" else baseline_label(result, who),
                     **{k.upper() if k != "smape" else "sMAPE": scores.get(k) for k in ("mae", "rmse", "smape", "mase")}})
    long = []
    for rec in result.get("per_origin") or []:
        when = rec.get("time") or rec["origin"]
        for who in ("model", *BASELINES):
            if rec.get(who) is not None:
                long.append({"origin": when, "forecaster": "model" if who == "model" else baseline_label(result, who, short=True),
                             "MAE": rec[who]})
    how = ("model and ETS/Theta refitted at every origin" if result.get("refit")
           else "the run's model as trained; ETS/Theta fitted before the first origin and updated at each")
    caption = (f"{result.get('origins')} origins x horizon {result.get('horizon')} over the last rows of "
               f"{result.get('data')} (expanding window; {how}).")
    if (result.get("left_out") or {}).get("note"):
        caption += f" Note: {result['left_out']['note']}."
    return {"caption": caption, "verdict": result.get("verdict"), "table": pd.DataFrame(rows).set_index(""),
            "per_origin": pd.DataFrame(long, columns=["origin", "forecaster", "MAE"])}
