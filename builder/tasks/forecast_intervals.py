"""Conformal prediction intervals for forecasts: calibrated on the validation part, then kept calibrated
as the test part's actuals arrive.

Split conformal (Vovk et al. 2005; Lei et al. 2018): for each horizon step h and target k, the radius at
level 1 - a is the ceil((n + 1)(1 - a))-th smallest absolute residual |y - yhat| of n calibration
windows; the interval is yhat -/+ radius. With exchangeable residuals its coverage is at least 1 - a;
a series' residuals are not exchangeable (drift, a level shift in the test part), and the validation
part also chose the epoch, so intervals fixed on it alone cover less than nominal where the errors grow
(bench/RESULTS.md, interval coverage sections). What the tool does (`conformal_intervals` with the
scored windows' start rows) is the rolling form a deployed forecaster can use: at each test origin the
radius comes from the n most recent residuals *already observed there* (the validation windows', then
the test windows' as their actuals pass), n = the validation windows (at most MAX_CALIBRATION), and
adaptive conformal inference (ACI, Gibbs and Candes 2021) moves the quantile level by ACI_GAMMA after
each observed miss or hit, so a run of misses widens the next intervals. No forecast uses an actual from after its
origin. The radius once every test outcome is known is the one served with the model (forecasts after
the last row). Too few residuals for a level (n < 1 / a - 1) leave it undefined there.

A residual whose actual the file did not have (filled in by the missing-value policy; the `observed`
masks) is no residual: it never enters a calibration pool, its outcome does not move ACI's level, and it
is not counted in the coverage.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from builder.files import finite_or_none

#: nominal coverage levels, percent
LEVELS = (80, 95)
#: ACI's step: how far one observed miss (or hit) moves the quantile level; with test parts of tens to
#: hundreds of windows, the 0.005 of Gibbs and Candes' long series would barely move it
ACI_GAMMA = 0.05
#: most residuals a rolling interval is calibrated on (the validation windows, if fewer): enough for a 95%
#: quantile to 0.1%, and it keeps a long test part's pass short (bench/RESULTS.md)
MAX_CALIBRATION = 1000
#: share of test parts on which an exactly calibrated interval's coverage falls inside its calibrated range
RANGE_MASS = 0.9


def conformal_radius(residuals: np.ndarray, level: int) -> np.ndarray:
    """Absolute residuals [n, H, K] -> radius [H, K] at `level` percent (inf when n is too small)."""
    n = residuals.shape[0]
    rank = math.ceil((n + 1) * level / 100)
    if rank > n:
        return np.full(residuals.shape[1:], np.inf)
    return np.sort(residuals, axis=0)[rank - 1]


def calibrated_range(windows: int, level: int, mass: float = RANGE_MASS) -> tuple[float, float]:
    """The test coverage an exactly calibrated `level`% interval scores on `windows` test windows, `mass`
    of the time: the (1 - mass)/2 and (1 + mass)/2 quantiles of Binomial(windows, level / 100) / windows.

    Exact for one step and target with independent misses (one-step forecasts' are close to that). Over
    H steps and K targets the coverage averages N x H x K cells, which varies no more than one step's N
    cells do; but at a step h > 1 windows that overlap share errors, so those N cells vary more than
    independent ones and the range is then a guide that errs towards calling a coverage off.
    With 15 windows a calibrated 80% interval scores 60.0-93.3% nine times in ten.
    """
    if windows < 1:
        return math.nan, math.nan
    lo, hi = binom.ppf([(1 - mass) / 2, (1 + mass) / 2], windows, level / 100)
    return float(lo) / windows, float(hi) / windows


def coverage_reading(coverage: float | None, low: float, high: float) -> str:
    """One phrase on a test coverage against its calibrated range [low, high] (shares)."""
    if coverage is None or math.isnan(low):
        return ""
    if coverage < low:
        return "below what a calibrated interval scores on this many windows: the intervals are too narrow"
    if coverage > high:
        return "above what a calibrated interval scores on this many windows: the intervals are wider than needed"
    return "within what a calibrated interval scores on this many windows"


def level_range(level: int | str, rec: dict[str, Any]) -> tuple[float, float] | None:
    """calibrated_range of a metrics.json level record (its scored `windows`); None for runs from before
    the record carried them, or an undefined level."""
    windows = rec.get("windows")
    return calibrated_range(int(windows), int(level)) if windows else None


def range_text(level: int | str, rec: dict[str, Any]) -> str:
    """A level record's calibrated range as "60.0%-93.3% on 15 windows" ("" where level_range is None)."""
    span = level_range(level, rec)
    return f"{span[0]:.1%}-{span[1]:.1%} on {rec['windows']} windows" if span else ""


def min_windows(level: int) -> int:
    """Fewest calibration windows for a finite radius at `level` percent."""
    return next(n for n in range(1, 10**6) if math.ceil((n + 1) * level / 100) <= n)


def conformal_intervals(y_cal: np.ndarray, pred_cal: np.ndarray, y: np.ndarray, pred: np.ndarray,
                        levels: tuple[int, ...] = LEVELS, starts: np.ndarray | None = None,
                        observed_cal: np.ndarray | None = None, observed: np.ndarray | None = None,
                        ) -> tuple[dict[str, Any], dict[int, np.ndarray]]:
    """Calibrate on (y_cal, pred_cal) [n, H, K] and score on (y, pred) [N, H, K].

    `starts` None: split conformal, one radius [H, K] from the calibration windows. `starts` [N] (the
    scored windows' start rows, ascending): the rolling adaptive form (adaptive_radii over the
    min(n, MAX_CALIBRATION) most recent observed residuals, ACI_GAMMA), a radius per scored window [N, H, K].
    Returns (the metrics.json record: method, calibration windows, per level coverage, the N scored
    windows (level_range reads its calibrated range), coverage by step, mean width and the radius [H][K]
    for forecasts after the data, or the reason it is undefined;
    {level: radius [H, K] or [N, H, K]} of the levels with a radius).
    `observed_cal` [n, H, K] / `observed` [N, H, K] bool: the residuals whose actual the file had (None:
    all); the others are left out of the calibration and of the coverage (`scored_points` in the record).
    """
    residuals = np.abs(np.asarray(y_cal, np.float64) - np.asarray(pred_cal, np.float64))
    scored = np.abs(np.asarray(y, np.float64) - np.asarray(pred, np.float64))
    obs_cal = None if observed_cal is None or np.all(observed_cal) else np.asarray(observed_cal, bool)
    obs = None if observed is None or np.all(observed) else np.asarray(observed, bool)
    n = int(residuals.shape[0])
    rolling = starts is not None
    window = min(n, MAX_CALIBRATION)
    record: dict[str, Any] = {
        "method": (f"adaptive conformal (ACI, step {ACI_GAMMA}) on the {window} most recent absolute residuals observed "
                   "at each origin per horizon step and target: the validation windows', then the test windows' "
                   "as their actuals arrive" if rolling else
                   "split conformal: absolute validation residuals per horizon step and target"),
        "label": (f"adaptive conformal over the {window} most recent residuals" if rolling
                  else f"split conformal on {n} validation windows"),
        "calibration_part": "val, then test as observed" if rolling else "val", "calibration_windows": n,
        "levels": {},
    }
    if obs_cal is not None or obs is not None:
        record["left_out"] = {"calibration_points": 0 if obs_cal is None else int((~obs_cal).sum()),
                              "scored_points": 0 if obs is None else int((~obs).sum())}
    radii: dict[int, np.ndarray] = {}
    for level in levels:
        if rolling:
            per_window, radius = adaptive_radii(residuals, scored, np.asarray(starts), level, window, ACI_GAMMA,
                                                obs_cal, obs)
        elif obs_cal is not None:
            radius = np.full(residuals.shape[1:], np.inf)
            for h, k in np.ndindex(*radius.shape):
                radius[h, k] = conformal_radius(residuals[obs_cal[:, h, k], h, k][:, None, None], level)[0, 0]
            per_window = np.broadcast_to(radius[None], scored.shape)
        else:
            radius = conformal_radius(residuals, level)
            per_window = np.broadcast_to(radius[None], scored.shape)
        if not np.isfinite(radius).all():  # too few residuals: with the pool at its full size from the first origin,
            record["levels"][str(level)] = {  # a level is defined everywhere or nowhere
                "coverage": None, "reason": f"{n} validation windows are too few for a {level}% interval "
                                            f"(needs {min_windows(level)})" if obs_cal is None else
                f"the validation windows' observed actuals (some were filled in: missing in the file) are too "
                f"few for a {level}% interval at some horizon step (needs {min_windows(level)})"}
            continue
        radii[level] = per_window if rolling else radius
        inside = scored <= per_window
        if obs is not None or not np.isfinite(per_window).all():
            record["levels"][str(level)] = _masked_level(scored, per_window, radius, obs)
            continue
        record["levels"][str(level)] = {
            "coverage": finite_or_none(inside.mean()) if inside.size else None,
            "windows": int(scored.shape[0]),  # for its calibrated range (level_range)
            "coverage_by_step": [finite_or_none(v) for v in inside.mean(axis=(0, 2))] if inside.size else [],
            "mean_width": finite_or_none(2 * per_window.mean()),
            "radius": [[float(v) for v in row] for row in radius],
        }
    return record, radii


def _masked_level(scored: np.ndarray, per_window: np.ndarray, radius: np.ndarray,
                  obs: np.ndarray | None) -> dict[str, Any]:
    """A level's record counting only the points whose actual was observed and whose radius is defined (a
    rolling pool can start below its size when calibration actuals were filled in): coverage, coverage by
    step, `windows` (observed points per step and target, on average: for the calibrated range), mean
    width over the defined radii, the radius after the data."""
    counted = np.isfinite(per_window) & (np.ones(scored.shape, bool) if obs is None else obs)
    inside = (scored <= per_window) & counted
    per_step = counted.sum(axis=(0, 2))
    finite = np.isfinite(per_window)
    return {
        "coverage": finite_or_none(inside.sum() / counted.sum()) if counted.any() else None,
        "windows": int(round(counted.sum() / max(1, scored.shape[1] * scored.shape[2]))),
        "coverage_by_step": [finite_or_none(c / t) if t else None
                             for c, t in zip(inside.sum(axis=(0, 2)), per_step, strict=True)],
        "mean_width": finite_or_none(2 * per_window[finite].mean()) if finite.any() else None,
        "radius": [[float(v) for v in row] for row in radius],
        "scored_points": int(counted.sum()),
    }


def adaptive_radii(res_cal: np.ndarray, res: np.ndarray, starts: np.ndarray, level: int, window: int | None,
                   gamma: float, obs_cal: np.ndarray | None = None,
                   obs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Conformal radii recalibrated at every forecast origin on the residuals known by then, with adaptive
    conformal inference (ACI, Gibbs and Candes 2021) on top.

    res_cal [n, H, K]: absolute residuals of the calibration windows, all observed before the first
    scored origin; res [N, H, K]: those of the scored windows, whose start rows `starts` [N] ascend. The
    residual of window j at step h (0-based) is observed once row s_j + L + h has passed, i.e. at the
    origin of window i when s_j <= s_i - h - 1; the pool at an origin is the calibration residuals
    followed by the scored ones observed there, in time order: all of them (`window` None) or the
    `window` most recent. gamma 0 gives the plain conformal quantile of that pool (conformal_radius).
    Per horizon step and target a working miss rate a starts at 1 - level/100; each time a scored
    window's outcome at that step is observed a moves by
    gamma * (1 - level/100 - miss), so misses lower it and widen the later intervals, covered outcomes
    raise it. The radius at an origin is the conformal quantile at 1 - a of the residuals known there
    (the `window` most recent, or all): the ceil((n + 1)(1 - a))-th smallest of n, their largest when
    a <= 0 or the rank passes n; inf (undefined) while fewer than min_windows(level) are known.
    res_cal [n, H, K], res [N, H, K], starts [N] ascending -> (radius [N, H, K], the radius once every
    scored outcome is known [H, K], for forecasts made after the last row).
    obs_cal [n, H, K] / obs [N, H, K] bool (None: all True): residuals whose actual was filled in never
    enter the pool (the `window` most recent are the most recent observed ones), and such an outcome does
    not move the level.
    """
    n, h_steps, k_targets = res_cal.shape
    starts = np.asarray(starts, np.int64)
    target, need = 1 - level / 100, min_windows(level)
    out = np.full(res.shape, np.inf)
    final = np.full(res_cal.shape[1:], np.inf)

    def pick(pool: list[float], a: float) -> float:
        if len(pool) < need:
            return math.inf
        rank = min(max(math.ceil((len(pool) + 1) * (1 - a)), 1), len(pool)) if a > 0 else len(pool)
        return pool[rank - 1]

    # one pass per step and target, the pool kept sorted as residuals enter and (sliding) leave it:
    # O(log n) to find, a memmove to insert / delete, so a long test part costs seconds, not a sort per origin
    for h in range(h_steps):
        known = np.searchsorted(starts, starts - h - 1, side="right").tolist()  # scored outcomes seen at each origin
        for k in range(k_targets):
            seq = np.concatenate([res_cal[:, h, k], res[:, h, k]]).tolist()  # time order
            ok = np.concatenate([np.ones(n, bool) if obs_cal is None else obs_cal[:, h, k],
                                 np.ones(len(starts), bool) if obs is None else obs[:, h, k]]).tolist()
            scored, radii = res[:, h, k].tolist(), [math.inf] * len(starts)
            kept = [j for j in range(n) if ok[j]]  # the pool: the `window` most recent observed residuals
            if window is not None:
                kept = kept[max(0, len(kept) - window):]
            lo = kept[0] if kept else n
            pool, end, a, seen = sorted(seq[j] for j in kept), n, target, 0
            for i, count in enumerate([*known, len(starts)]):
                while seen < count:  # outcomes observed since the last origin move the level
                    if radii[seen] != math.inf and ok[n + seen]:
                        a += gamma * (target - float(scored[seen] > radii[seen]))
                    seen += 1
                while end < n + count:
                    if ok[end]:
                        insort(pool, seq[end])
                    end += 1
                while window is not None and len(pool) > window:
                    while not ok[lo]:
                        lo += 1
                    del pool[bisect_left(pool, seq[lo])]
                    lo += 1
                if i < len(starts):
                    radii[i] = pick(pool, a)
                else:  # after the last row: every scored outcome known
                    final[h, k] = pick(pool, a)
            out[:, h, k] = radii
    return out, final


def add_interval_columns(frame: pd.DataFrame, radii: dict[int, np.ndarray], targets: tuple[str, ...]) -> pd.DataFrame:
    """predictions.csv with lower_<level> / upper_<level> columns (frame: long, with step and target).

    A radius [H, K] applies to every window; a radius per window [N, H, K] needs the frame in
    builder.tasks.forecast.predictions_frame's order (step, then target, then window).
    """
    out = frame.copy()
    step = out["step"].to_numpy(dtype=np.int64) - 1
    k = out["target"].map({t: i for i, t in enumerate(targets)}).to_numpy(dtype=np.int64)
    for level, radius in sorted(radii.items()):
        if radius.ndim == 3:
            if radius.size != len(out):
                raise ValueError(f"{radius.shape} radii for a frame of {len(out)} rows")
            r = np.transpose(radius, (1, 2, 0)).reshape(-1)
        else:
            r = radius[step, k]
        r = np.where(np.isfinite(r), r, np.nan)  # no radius there (too few observed residuals): no bounds
        out[f"lower_{level}"] = out["predicted"].to_numpy() - r
        out[f"upper_{level}"] = out["predicted"].to_numpy() + r
    return out

def interval_label(record: dict[str, Any]) -> str:
    """How a metrics.json interval record was calibrated, in a few words (runs from before the rolling
    method have no label: split conformal on their validation windows)."""
    return record.get("label") or f"split conformal on {record.get('calibration_windows')} validation windows"


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
