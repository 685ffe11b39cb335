"""Split-conformal prediction intervals for forecasts, calibrated on the validation part.

For each horizon step h and target k, the radius at level 1 - a is the ceil((n + 1)(1 - a))-th
smallest absolute residual |y - yhat| of the n validation windows (Vovk et al. 2005; Lei et al. 2018,
"split conformal"); the interval is yhat -/+ radius. With exchangeable residuals its coverage is at
least 1 - a; a series' residuals are not exchangeable (drift, a level shift in the test part), which
is why the test part's empirical coverage is reported beside the nominal level. The validation part
also chose the epoch (early stopping), so its residuals can be slightly optimistic. Too few
validation windows for a level (n < 1 / a - 1) leave that level undefined.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from builder.files import finite_or_none

#: nominal coverage levels, percent
LEVELS = (80, 95)


def conformal_radius(residuals: np.ndarray, level: int) -> np.ndarray:
    """Absolute residuals [n, H, K] -> radius [H, K] at `level` percent (inf when n is too small)."""
    n = residuals.shape[0]
    rank = math.ceil((n + 1) * level / 100)
    if rank > n:
        return np.full(residuals.shape[1:], np.inf)
    return np.sort(residuals, axis=0)[rank - 1]


def min_windows(level: int) -> int:
    """Fewest calibration windows for a finite radius at `level` percent."""
    return next(n for n in range(1, 10**6) if math.ceil((n + 1) * level / 100) <= n)


def conformal_intervals(y_cal: np.ndarray, pred_cal: np.ndarray, y: np.ndarray, pred: np.ndarray,
                        levels: tuple[int, ...] = LEVELS) -> tuple[dict[str, Any], dict[int, np.ndarray]]:
    """Calibrate on (y_cal, pred_cal) [n, H, K] and score on (y, pred) [N, H, K].

    Returns (the metrics.json record: method, calibration windows, per level coverage, coverage by step,
    mean width and the radius [H][K], or the reason it is undefined; {level: radius [H, K]} of the
    finite levels).
    """
    residuals = np.abs(np.asarray(y_cal, np.float64) - np.asarray(pred_cal, np.float64))
    n = int(residuals.shape[0])
    record: dict[str, Any] = {
        "method": "split conformal: absolute validation residuals per horizon step and target",
        "calibration_part": "val", "calibration_windows": n, "levels": {},
    }
    radii: dict[int, np.ndarray] = {}
    for level in levels:
        radius = conformal_radius(residuals, level)
        if not np.isfinite(radius).all():
            record["levels"][str(level)] = {
                "coverage": None, "reason": f"{n} validation windows are too few for a {level}% interval "
                                            f"(needs {min_windows(level)})"}
            continue
        radii[level] = radius
        inside = np.abs(np.asarray(y, np.float64) - np.asarray(pred, np.float64)) <= radius[None]
        record["levels"][str(level)] = {
            "coverage": finite_or_none(inside.mean()) if inside.size else None,
            "coverage_by_step": [finite_or_none(v) for v in inside.mean(axis=(0, 2))] if inside.size else [],
            "mean_width": finite_or_none(2 * radius.mean()),
            "radius": [[float(v) for v in row] for row in radius],
        }
    return record, radii


def add_interval_columns(frame: pd.DataFrame, radii: dict[int, np.ndarray], targets: tuple[str, ...]) -> pd.DataFrame:
    """predictions.csv with lower_<level> / upper_<level> columns (frame: long, with step and target)."""
    out = frame.copy()
    step = out["step"].to_numpy(dtype=np.int64) - 1
    k = out["target"].map({t: i for i, t in enumerate(targets)}).to_numpy(dtype=np.int64)
    for level, radius in sorted(radii.items()):
        r = radius[step, k]
        out[f"lower_{level}"] = out["predicted"].to_numpy() - r
        out[f"upper_{level}"] = out["predicted"].to_numpy() + r
    return out


def interval_column(target: str, side: str, level: int) -> str:
    """Name of a forecast-ahead bound column: `<target>_<side>_<level>`, side "lower" or "upper"."""
    return f"{target}_{side}_{level}"


def interval_columns(forecast: pd.DataFrame, record: dict[str, Any] | None) -> pd.DataFrame:
    """A forecast ahead (one row per horizon step, a column per target, after the time column) with
    `<target>_lower_<level>` and `<target>_upper_<level>` columns from `record` (metrics["intervals"]:
    radius [H][K] per level, K in the forecast's target order). Unchanged without a record or radii."""
    levels = {int(lv): np.asarray(rec["radius"], np.float64)
              for lv, rec in ((record or {}).get("levels") or {}).items() if rec.get("radius") is not None}
    targets = list(forecast.columns[1:])
    out = forecast.copy()
    for level, radius in sorted(levels.items()):
        if radius.shape != (len(out), len(targets)):
            continue  # an interval record of another shape (should not happen): no columns rather than wrong ones
        for k, target in enumerate(targets):
            value = out[target].to_numpy(np.float64)
            out[interval_column(target, "lower", level)] = value - radius[:, k]
            out[interval_column(target, "upper", level)] = value + radius[:, k]
    return out
