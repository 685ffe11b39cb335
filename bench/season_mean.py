"""A mean of the last K seasons as a naive base, measured before building: validation and test MAE of the
naive, seasonal-naive and season-mean forecasts on every shared forecasting file, at horizon 1 and one
season, on the windows the default forecaster is scored on (no training).

The season mean forecasts step h of a window from the values at the same position in the K = L // m
seasons that the lookback L holds (m: the season length). It is a candidate residual base only if the
`auto` rule, which picks a base by its validation MAE, would pick it where it helps on test.

Run: .venv/bin/python bench/season_mean.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")


def season_mean_forecast(series: np.ndarray, starts: np.ndarray, lookback: int, horizon: int, season: int) -> np.ndarray:
    """Mean of the values one, two, ... K = lookback // season seasons before each step: series [T] -> [N, H]."""
    h = np.arange(horizon)
    idx = [starts[:, None] + lookback + h[None, :] - season * (h[None, :] // season + 1 + j)
           for j in range(lookback // season)]
    return np.mean([series[np.clip(i, 0, None)] for i in idx], axis=0)


def main() -> None:
    from builder import ModelSpec
    from builder.data.read import DataError
    from builder.tasks.forecast import better_naive
    from builder.tasks.forecast_baselines import naive_forecast, seasonal_naive_forecast
    from builder.tasks.registry import get_task

    task = get_task("forecast")
    print("| file | H | m | L | auto base | part | naive MAE | s-naive MAE | season-mean MAE |\n|---|---|---|---|---|---|---|---|---|")
    for path in sorted((SHARED / "forecasting").glob("*.csv")):
        m = task.prepare(str(path), ModelSpec.from_dict({"task": "forecast"})).season_length
        for horizon in (1, m if m > 1 else 12):
            try:
                data = task.prepare(str(path), ModelSpec.from_dict({"task": "forecast", "data": {"horizon": horizon}}))
            except DataError as err:
                print(f"| {path.stem} | {horizon} | {m} | | | | {err} | | |")
                continue
            L, s = data.lookback, data.target_values[:, 0].astype(np.float64)
            for part in ("val", "test"):
                starts = data.window_starts(part)
                y = s[starts[:, None] + L + np.arange(horizon)[None, :]]
                naive = np.mean(np.abs(y - naive_forecast(s[:, None], starts, L, horizon)[:, :, 0]))
                seasonal = (np.mean(np.abs(y - seasonal_naive_forecast(s[:, None], starts, L, horizon, m)[:, :, 0]))
                            if m > 1 else float("nan"))
                mean = (np.mean(np.abs(y - season_mean_forecast(s, starts, L, horizon, m)))
                        if m > 1 and L // m >= 2 else float("nan"))
                print(f"| {path.stem} | {horizon} | {m} | {L} | {better_naive(data)} | {part} | {naive:.3f} | "
                      f"{seasonal:.3f} | {mean:.3f} |", flush=True)


if __name__ == "__main__":
    main()
