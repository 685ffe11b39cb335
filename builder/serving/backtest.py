"""Rolling-origin backtest of a finished forecast run (expanding window), beside the same baselines.

K origins o_1 < ... < o_K are the starts of the last K blocks of `horizon` rows of the data:
o_i = T - (K - i + 1) * H, so the forecasts from the origins tile the last K * H rows, each
forecast seeing only the rows before its origin (as Darts' `historical_forecasts` with
`stride = horizon`, `last_points_only = False`).

- Without refit: the run's model forecasts from every origin from its last `lookback` rows; ETS and
  Theta are fitted once on the rows before the first origin and then only updated with the observed
  rows up to each origin (builder.tasks.forecast_baselines).
- With refit: at every origin the run's spec (same epochs, same seed) is trained again on the rows
  before the origin (its own train / validation split of them), and ETS and Theta are fitted again
  on those rows: the expanding window.

Naive and seasonal naive need no fit. The scores use the MASE scale of the rows before the first
origin. Results: a table per forecaster, the score of each origin, and a long CSV.

A forecast point whose actual the file did not have (filled in by the missing-value policy:
`SeriesData.observed`) is left out of every forecaster's scores, the MASE scale takes only observed
pairs, backtest.csv leaves its actual empty, and the result counts them (`unobserved_points`,
`left_out`); forecasts still read the filled values as inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from builder.data.read import DataError
from builder.data.series import SeriesData, check_observed_at, series_from_arrays, split_sizes
from builder.files import finite_or_none
from builder.spec import ModelSpec
from builder.tasks.base import Resolved
from builder.tasks.forecast_baselines import (
    mase_scale,
    naive_forecast,
    seasonal_naive_forecast,
    stat_baseline_forecasts,
)
from builder.tasks.forecast_eval import BASELINES, baseline_label, best_baseline, score_candidates, verdict
from builder.tasks.registry import get_task
from builder.training.runs import Run


def backtest_origins(n_rows: int, k: int, horizon: int) -> np.ndarray:
    """The K origins (first forecast row of each block) that tile the last K * horizon rows."""
    return n_rows - (k - np.arange(k)) * horizon


def rows_needed(spec: ModelSpec, lookback: int, horizon: int, k: int, refit: bool) -> tuple[int, int]:
    """(rows before the first origin, rows in all) that K origins need.

    Without refit: one full input window (lookback) and enough rows to fit the baselines (lookback +
    horizon, at least 8). With refit: the rows the spec's train / validation split needs for one
    training window (as `series_from_arrays` checks).
    """
    history = max(lookback + horizon, 8)
    if refit:
        s = spec.data
        history = next(t for t in range(history, 100 * (lookback + horizon) + 1000)
                       if split_sizes(t, s.val_fraction, 0.0, horizon)[0] >= lookback + horizon)
    return history, history + k * horizon


def _prefix(data: SeriesData, spec: ModelSpec, rows: int) -> SeriesData:
    """The first `rows` rows of `data` as a series of their own (train / validation split, no test)."""
    own = data.read_columns  # known-future leads are derived again from these rows
    covariates = list(own[len(data.targets):])
    sub = spec.updated(data={"test_fraction": 0.0, "targets": list(data.targets), "features": covariates,
                             "time_col": data.time_col, "season_length": data.season_length,
                             "known_future": list(data.known_future)})
    known = [own.index(c) for c in data.known_future]  # the rows after the prefix are known here
    return series_from_arrays(sub, data.source, data.values[:rows, : len(own)],
                              None if data.time is None else data.time[:rows], data.time_col, list(data.targets),
                              covariates, data.freq, [], data.lookback, lead_steps=data.lead_steps,
                              future=data.values[rows : rows + data.lead_steps, known],
                              observed=None if data.observed is None else data.observed[:rows])


def run_backtest(run_dir: str | Path, data_path: str | Path, origins: int, refit: bool = False,
                 progress: Any = None) -> dict[str, Any]:
    """Backtest run `run_dir` on `data_path` from `origins` origins; returns the result record and writes
    backtest.json and backtest.csv into the run directory. Raises DataError / ValueError for bad input.

    progress: optional callable(message) for each origin when refitting.
    """
    from builder.serving.export import load_run_model

    if origins < 1:
        raise ValueError(f"--origins {origins}: expected at least 1 origin")
    run = Run(run_dir)
    meta = run.metadata()
    if meta["task"] != "forecast":
        raise ValueError(f"{run.path}: a backtest needs a forecast run; this one is a `{meta['task']}` run")
    resolved = meta["resolved"]
    spec = ModelSpec.from_dict(run.read_json("spec.json") or {}, source=str(run.file("spec.json")))
    L, H = int(resolved["lookback"]), int(resolved["horizon"])
    spec = spec.updated(data={"lookback": L, "horizon": H, "targets": list(resolved["targets"]),
                              "features": list(Resolved.from_dict(resolved).read_columns[len(resolved["targets"]):]),
                              "known_future": list(resolved.get("known_future") or []),
                              "time_col": resolved.get("time_col"), "season_length": resolved.get("season_length"),
                              "test_fraction": 0.0, "val_fraction": spec.data.val_fraction})
    task = get_task("forecast")
    try:
        data = task.prepare(str(data_path), spec)
    except DataError as err:
        if "too few" not in str(err):
            raise
        data = None
    history, needed = rows_needed(spec, L, H, origins, refit)
    # rows a forecast may reach: without future rows in the file, the last `lead_tail` rows' windows would
    # read known-future inputs past the file
    n_rows = data.n_rows - data.lead_tail if data is not None else _count_rows(data_path)
    if data is None or n_rows < needed:
        raise DataError(
            f"{data_path}: {n_rows} rows are too few for {origins} origins of horizon {H}: the backtest needs "
            f"{history} rows before the first origin (lookback {L}{', and a training split' if refit else ''}) "
            f"+ {origins} x {H} forecast rows = {needed} rows; use at most "
            f"{max(0, (n_rows - history) // H)} origins")
    starts = backtest_origins(n_rows, origins, H) - L  # window starts: inputs [s, s + L)
    o = starts + L
    series = data.target_values.astype(np.float64)
    y = series[o[:, None] + np.arange(H)]
    observed = data.observed_at(starts)  # [K origins, H, k], None: every actual observed
    check_observed_at(data, starts, str(data_path), f"the {len(o)} origins' forecast rows",
                      "fill in the file's values there, or use more origins")
    candidates: dict[str, np.ndarray] = {
        "naive": naive_forecast(series, starts, L, H),
        "seasonal_naive": seasonal_naive_forecast(series, starts, L, H, data.season_length),
    }
    undefined: dict[str, str] = {}
    methods: dict[str, list[str]] = {}
    if refit:
        model_preds, stats = _refit_forecasts(data, spec, o, H, progress)
    else:
        model = load_run_model(run)
        x = data.values[starts[:, None] + np.arange(L)]
        model_preds = np.asarray(model.predict(x.astype(np.float32), verbose=0), dtype=np.float64)
        stats = stat_baseline_forecasts(series, int(o[0]), o, H, data.season_length)
    candidates = {"model": model_preds, **candidates}
    for name, fitted in stats.items():
        methods[name] = fitted["method"]
        if fitted["forecast"] is None:
            undefined[name] = fitted["reason"]
        else:
            candidates[name] = fitted["forecast"]
    scales = mase_scale(series[: int(o[0])], data.season_length,
                        None if data.observed is None else data.observed[: int(o[0])])
    _, summary, by_step = score_candidates(y, candidates, data.targets, scales, observed)
    for name in BASELINES:
        summary.setdefault(name, {"mae": None, "rmse": None, "smape": None, "mase": None})
    per_origin = []
    for i, origin in enumerate(o):
        row = {"origin": int(origin), "time": str(data.time[origin]) if data.time is not None else None}
        for who, pred in candidates.items():
            if observed is None:
                row[who] = finite_or_none(np.abs(y[i] - pred[i]).mean())
            else:
                row[who] = finite_or_none(np.abs(y[i] - pred[i])[observed[i]].mean()) if observed[i].any() else None
        per_origin.append(row)
    result: dict[str, Any] = {
        "task": "forecast", "run": str(run.path), "data": str(data_path), "origins": int(origins), "refit": bool(refit),
        "horizon": H, "lookback": L, "season_length": int(data.season_length), "rows": int(data.n_rows),
        "first_origin": int(o[0]), "baselines": {n: {"method": m, "fit": "per origin" if refit else "once, before the first origin"}
                                                 for n, m in methods.items()},
        **summary, "by_step": by_step, "per_origin": per_origin, "undefined": undefined,
        "notices": list(data.notices),  # what was assumed reading the file (sorted rows, filled values ...)
        "unobserved_points": 0 if observed is None else int((~observed).sum()),
    }
    if observed is not None:
        from builder.tasks.forecast import left_out_record

        result["left_out"] = left_out_record(data, "all", observed, what="backtest point(s)")
    result["best_baseline"] = best_baseline(result)
    result["verdict"] = verdict(result)
    run.write_json("backtest.json", result)
    _frame(data, o, y if observed is None else np.where(observed, y, np.nan), candidates).to_csv(
        run.file("backtest.csv"), index=False)
    return result


def _count_rows(path: str | Path) -> int:
    from builder.data.read import load_table

    return len(load_table(str(path)))


def _refit_forecasts(data: SeriesData, spec: ModelSpec, origins: np.ndarray, horizon: int,
                     progress: Any) -> tuple[np.ndarray, dict[str, dict]]:
    """Train the spec again before every origin; ETS and Theta fitted again there too."""
    from builder.training.fit import fit

    L = data.lookback
    preds = []
    stats: dict[str, dict] = {"ets": {"forecast": [], "method": [], "reason": None},
                              "theta": {"forecast": [], "method": [], "reason": None}}
    series = data.target_values.astype(np.float64)
    for i, o in enumerate(origins):
        if progress is not None:
            progress(f"origin {i + 1}/{len(origins)} (row {int(o)}): training on {int(o)} rows")
        prefix = _prefix(data, spec, int(o))
        result = fit(spec, prefix)
        window = data.values[None, int(o) - L:int(o)].astype(np.float32)
        preds.append(np.asarray(result.raw_model.predict(window, verbose=0), dtype=np.float64)[0])
        fitted = stat_baseline_forecasts(series[: int(o) + horizon], int(o), np.array([o]), horizon, data.season_length)
        for name, rec in fitted.items():
            if rec["forecast"] is None:
                stats[name]["reason"] = stats[name]["reason"] or rec["reason"]
            else:
                stats[name]["forecast"].append(rec["forecast"][0])
                stats[name]["method"].append(", ".join(rec["method"]))
    for rec in stats.values():
        rec["forecast"] = None if rec["reason"] else np.stack(rec["forecast"])
    return np.stack(preds), stats


def _frame(data: SeriesData, origins: np.ndarray, y: np.ndarray, candidates: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long CSV: origin, time, step, target, actual, then one column per forecaster."""
    rows = []
    H = y.shape[1]
    for k, target in enumerate(data.targets):
        for h in range(H):
            idx = origins + h
            part = {"origin": origins, "time": data.time[idx] if data.time is not None else idx, "step": h + 1,
                    "target": target, "actual": y[:, h, k]}
            part.update({who: pred[:, h, k] for who, pred in candidates.items()})
            rows.append(pd.DataFrame(part))
    return pd.concat(rows, ignore_index=True).sort_values(["origin", "target", "step"]).reset_index(drop=True)


def backtest_table(result: dict[str, Any]) -> str:
    """The CLI's text table of a backtest."""
    def fmt(v: float | None, spec: str, width: int) -> str:
        return f"{v:{width}{spec}}" if v is not None else f"{'n/a':>{width}}"

    rows = [f"{'':34}{'MAE':>12}{'RMSE':>12}{'sMAPE %':>10}{'MASE':>8}"]
    for who in ("model", *BASELINES):
        m = result[who]
        label = "model" if who == "model" else baseline_label(result, who)
        rows.append(f"{label[:33]:34}{fmt(m['mae'], '.4g', 12)}{fmt(m['rmse'], '.4g', 12)}"
                    f"{fmt(m['smape'], '.2f', 10)}{fmt(m['mase'], '.3f', 8)}")
    how = "model and ETS/Theta refitted at every origin" if result["refit"] else (
        "the run's model; ETS/Theta fitted before the first origin, updated at each")
    rows.append(f"({result['origins']} origins x horizon {result['horizon']} from row {result['first_origin']} "
                f"of {result['rows']}, expanding window; {how})")
    if result.get("verdict"):
        rows.append(f"verdict: {result['verdict']}")
    if (result.get("left_out") or {}).get("note"):
        rows.append(f"note: {result['left_out']['note']}")
    rows += [f"note: {n}" for n in result.get("undefined", {}).values()]
    return "\n".join(rows)
