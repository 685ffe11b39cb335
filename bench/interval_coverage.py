"""Issue #16's interval coverage table: the default forecaster's 80% / 95% intervals beside ETS's.

For each finished forecast run (e.g. the runs of bench/forecast_table.py), on the run's own test
windows:
- model: the split-conformal intervals the tool wrote to metrics.json (calibrated on the validation
  windows' residuals; builder.tasks.forecast_intervals), coverage and mean width as recorded;
- ETS (own): statsforecast's prediction intervals of the ETS model the tool fits on the training part
  (the same AutoETS selection, or STL + AutoETS(ZZN) for seasons above 24, as
  builder.tasks.forecast_baselines.ets_origin_forecasts), run from every test origin with the fitted
  parameters: its analytic variance per step for classes 1-3, its 5,000-path simulation for the
  others (statsforecast's `_compute_pred_intervals`, given the state at the origin). Gaussian errors
  with the training fit's sigma^2, so no calibration on validation;
- ETS (conformal): the same ETS point forecasts with the tool's split-conformal intervals (validation
  residuals of ETS), i.e. the model's method applied to ETS.
A level is "–" where it is undefined (too few validation windows for a conformal interval).

Run: .venv/bin/python bench/interval_coverage.py RUN_DIR [RUN_DIR ...]   (prints a markdown table)
"""

from __future__ import annotations

import copy
import sys
import warnings
from typing import Any

import numpy as np

LEVELS = (80, 95)


def ets_with_intervals(y: np.ndarray, n_fit: int, origins: np.ndarray, horizon: int, season: int,
                       levels: tuple[int, ...] = LEVELS) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]], str]:
    """ETS fitted on y[:n_fit] as the tool fits it; from each origin the forecast and statsforecast's
    interval. y [T]; origins [N] -> (mean [N, H], {level: (lower [N, H], upper [N, H])}, method)."""
    from statsforecast.ets import _compute_pred_intervals

    from builder.tasks.forecast_baselines import fit_ets

    ets = fit_ets(y, n_fit, season)
    mean = np.full((len(origins), horizon), np.nan)
    bands = {lv: (np.full_like(mean, np.nan), np.full_like(mean, np.nan)) for lv in levels}
    at = copy.copy(ets.model)
    for i, o in enumerate(origins):
        ets.forecast(int(o), horizon, mean[i])
        at["states"] = ets.states[: o + 1]  # the interval code reads the state at the origin (the last row)
        pi = _compute_pred_intervals(at, {"mean": mean[i]}, horizon, list(levels))
        for lv in levels:
            bands[lv][0][i], bands[lv][1][i] = pi[f"lo-{lv}"], pi[f"hi-{lv}"]
    shift = ets.seasonal[origins[:, None] + np.arange(horizon)[None, :]]
    return mean + shift, {lv: (lo + shift, hi + shift) for lv, (lo, hi) in bands.items()}, ets.method


def coverage_row(run_dir: str) -> dict[str, Any]:
    """One run directory -> its file, horizon, test windows and the three forecasters' coverage / width."""
    from builder.data.windows import series_targets
    from builder.spec import ModelSpec
    from builder.tasks.forecast_baselines import origins_of
    from builder.tasks.forecast_intervals import conformal_intervals
    from builder.tasks.registry import get_task
    from builder.training.runs import Run

    run = Run(run_dir)
    meta, job = run.metadata(), run.read_json("job.json") or {}
    metrics = run.read_json("metrics.json")
    spec = ModelSpec.from_dict(run.read_json("spec.json"))
    data = get_task("forecast").prepare(job.get("data") or meta["resolved"]["source"], spec)
    L, H, m = data.lookback, data.horizon, data.season_length
    series = data.target_values.astype(np.float64)
    out: dict[str, Any] = {"run": run.path.name, "H": H, "m": m, "windows": metrics["n_windows"],
                           "val_windows": len(data.window_starts("val"))}
    levels = (metrics.get("intervals") or {}).get("levels") or {}
    out["model"] = {lv: ((levels.get(str(lv)) or {}).get("coverage"), (levels.get(str(lv)) or {}).get("mean_width"))
                    for lv in LEVELS}
    y = {part: series_targets(data, part).astype(np.float64)[..., 0] for part in ("val", "test")}  # [N, H], first target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o_val, o_test = (origins_of(data.window_starts(p), L) for p in ("val", "test"))
        mean, bands, method = ets_with_intervals(series[:, 0], data.n_train, np.concatenate([o_val, o_test]), H, m)
    nv = len(o_val)
    out["ets_method"] = method
    out["ets_own"] = {lv: (float(((y["test"] >= lo[nv:]) & (y["test"] <= hi[nv:])).mean()), float((hi[nv:] - lo[nv:]).mean()))
                      for lv, (lo, hi) in bands.items()}
    record, _ = conformal_intervals(y["val"][..., None], mean[:nv, :, None], y["test"][..., None], mean[nv:, :, None])
    out["ets_conformal"] = {lv: (record["levels"][str(lv)].get("coverage"), record["levels"][str(lv)].get("mean_width"))
                            for lv in LEVELS}
    return out


def _c(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def _w(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


def main(run_dirs: list[str]) -> None:
    print("| run | m | H | test windows | val windows | model 80% | model 95% | ETS own 80% | ETS own 95% "
          "| ETS conformal 80% | ETS conformal 95% | width 80% model / ETS own | ETS |")
    print("|" + "---|" * 13, flush=True)
    for d in run_dirs:
        try:
            r = coverage_row(d)
        except Exception as err:  # a run the table cannot score: say why and go on
            print(f"| {d} | error: {str(err)[:120]} |" + " |" * 11, flush=True)
            continue
        cells = [_c(r[who][lv][0]) for who in ("model", "ets_own", "ets_conformal") for lv in LEVELS]
        print(f"| {r['run']} | {r['m']} | {r['H']} | {r['windows']} | {r['val_windows']} | " + " | ".join(cells)
              + f" | {_w(r['model'][80][1])} / {_w(r['ets_own'][80][1])} | {r['ets_method']} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
