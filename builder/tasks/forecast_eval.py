"""Forecast evaluation beside the baselines: scores per candidate, error by horizon step, the best
baseline and the one-line verdict.

Candidates are the model and the baselines of `BASELINES` (forecast_baselines: naive, seasonal naive,
ETS, Theta), each a forecast [N, H, K] for the same windows. A baseline that could not be fitted has
every metric None and its reason under metrics["undefined"][name]. The verdict compares the model with
the best baseline by MASE (scale-free across targets), or by MAE where MASE is undefined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.files import finite_or_none
from builder.tasks.forecast_baselines import STAT_BASELINES, forecast_scores

METRICS = ("mae", "rmse", "smape", "mase")
#: every baseline, in table order
BASELINES = ("naive", "seasonal_naive", *STAT_BASELINES)
#: differences below this fraction of the baseline's error count as level
LEVEL = 0.01


def baseline_label(metrics: dict[str, Any], name: str, short: bool = False) -> str:
    """A baseline's display name, with its season or fitted method unless `short`."""
    info = (metrics.get("baselines") or {}).get(name) or {}
    methods = info.get("method") or []
    if name == "naive":
        return "naive" if short else "naive (last value)"
    if name == "seasonal_naive":
        return "seasonal naive" if short else f"seasonal naive (m={metrics.get('season_length')})"
    base = "ETS" if name == "ets" else "Theta" if name == "theta" else name
    if short or not methods:
        return base
    distinct = sorted(set(methods))
    return distinct[0] if len(distinct) == 1 else f"{base} ({len(methods)} targets)"


def score_candidates(y: np.ndarray, candidates: dict[str, np.ndarray], targets: tuple[str, ...],
                     scales: np.ndarray, observed: np.ndarray | None = None,
                     ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, Any]]:
    """(per target {name: {who: scores}}, mean over targets {who: scores}, by step {"mae": {who: [H]},
    "mase": {who: [H] or None}}) for y [N, H, K] and candidates {who: [N, H, K]}; scales [K] MASE scales.

    observed: [N, H, K] bool, the points whose actual the file had (None: all). The others are left out
    of every score of every candidate alike, so the model and the baselines are scored on the same points;
    a step of a target without an observed point has no error there, and the step's mean over targets
    takes the targets that have one.
    """
    masked = observed is not None and not np.all(observed)
    obs = np.asarray(observed, dtype=bool) if masked else None
    per_target = {
        name: {who: forecast_scores(y[:, :, k], pred[:, :, k], float(scales[k]), None if obs is None else obs[:, :, k])
               for who, pred in candidates.items()}
        for k, name in enumerate(targets)
    }

    def mean(who: str, metric: str) -> float | None:
        values = [per_target[t][who][metric] for t in targets]
        return None if any(v is None for v in values) else finite_or_none(np.mean(values))

    summary = {who: {metric: mean(who, metric) for metric in METRICS} for who in candidates}
    defined = bool(np.all(scales > 0))
    by_step: dict[str, Any] = {"mae": {}, "mase": {}}
    for who, pred in candidates.items():
        if obs is None:
            err = np.abs(y - pred).mean(axis=0)  # [H, K]
            by_step["mae"][who] = [finite_or_none(v) for v in err.mean(axis=1)]
            by_step["mase"][who] = [finite_or_none(v) for v in (err / scales).mean(axis=1)] if defined else None
            continue
        count = obs.sum(axis=0)  # [H, K] observed points
        err = np.divide(np.where(obs, np.abs(y - pred), 0.0).sum(axis=0), count,
                        out=np.full(count.shape, np.nan), where=count > 0)
        by_step["mae"][who] = [finite_or_none(v) for v in _nanmean_rows(err)]
        by_step["mase"][who] = [finite_or_none(v) for v in _nanmean_rows(err / scales)] if defined else None
    return per_target, summary, by_step


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    """Mean of each row over its defined (non-NaN) values; NaN for a row without any."""
    count = np.isfinite(a).sum(axis=1)
    return np.divide(np.where(np.isfinite(a), a, 0.0).sum(axis=1), count, out=np.full(len(a), np.nan), where=count > 0)


def best_baseline(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The strongest baseline of a metrics dict: {"name", "label", "metric", "model", "baseline"}.

    By MASE when the model's and at least one baseline's MASE are defined, else by MAE; None when no
    baseline has a score (a run from before the baselines).
    """
    model = metrics.get("model") or {}
    for metric in ("mase", "mae"):
        if model.get(metric) is None:
            continue
        scored = [(metrics[b][metric], b) for b in BASELINES if (metrics.get(b) or {}).get(metric) is not None]
        if scored:
            value, name = min(scored)
            return {"name": name, "label": baseline_label(metrics, name), "metric": metric,
                    "model": model[metric], "baseline": value}
    return None


def _hint(metrics: dict[str, Any], name: str) -> str:
    """What to try when the model loses to baseline `name`."""
    m = metrics.get("season_length") or 1
    lookback = metrics.get("lookback")
    tries = []
    if name == "seasonal_naive" or (name in STAT_BASELINES and m > 1):
        if lookback is not None and lookback < 2 * m:
            tries.append(f"a lookback of at least two seasons ({2 * m} steps; now {lookback})")
        tries.append("a seasonal residual or calendar covariates")
    elif name == "naive":
        tries.append("the residual forecast (learn the change from the last value)")
    else:
        tries.append("a log transform or level scaling for a trending series")
    tries.append("more epochs or a smaller model")
    return "try " + ", ".join(tries)


def verdict_kind(text: str | None) -> str:
    """"success" for a verdict that beats every baseline, "info" for level (or none), else "warning"."""
    if not text or text.startswith("level"):
        return "info"
    return "success" if text.startswith("beats") else "warning"


def verdict(metrics: dict[str, Any]) -> str | None:
    """One line: how the model stands against the best baseline (None when there is none to compare)."""
    best = best_baseline(metrics)
    if best is None:
        return None
    name, metric = best["name"], best["metric"].upper()
    model, base = best["model"], best["baseline"]
    label = baseline_label(metrics, name)
    figures = f"{metric} {model:.4g} vs {base:.4g}"
    if base == 0:
        if model == 0:
            return f"level with {label} ({figures})"
        return f"worse than {label}, which is exact on this part ({figures}): {_hint(metrics, name)}"
    rel = (model - base) / base
    if abs(rel) < LEVEL:
        return f"level with the best baseline, {label} ({figures})"
    if rel < 0:
        return f"beats every baseline (best: {label}, {figures}, {-rel:.0%} lower)"
    return f"worse than {label} by {rel:.0%} {metric} ({figures}): {_hint(metrics, name)}"
