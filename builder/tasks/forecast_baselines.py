"""Forecast scores and baselines, in the data's own units.

MAE, RMSE, sMAPE (%) and MASE for the model and for the naive (last value) and seasonal-naive (value
one season earlier) forecasts. MASE divides by the in-sample MAE of the seasonal-naive forecast on the
training rows (Hyndman & Koehler 2006; m = 1 gives the plain naive scale); it is undefined (None) when
that scale is 0, e.g. for a series that is constant in its training part.
"""

from __future__ import annotations

import numpy as np


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200; a term with y = yhat = 0 counts as 0."""
    den = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2.0 * np.abs(y - yhat), den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)
    return float(100.0 * ratio.mean())


def forecast_scores(y: np.ndarray, yhat: np.ndarray, mase_scale: float) -> dict[str, float | None]:
    """MAE, RMSE, sMAPE and MASE for one target (MASE None when `mase_scale` is 0). y, yhat: [N, H] raw."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    mae = float(mean_absolute_error(y.ravel(), yhat.ravel()))
    rmse = float(np.sqrt(mean_squared_error(y.ravel(), yhat.ravel())))
    mase = mae / mase_scale if mase_scale > 0 else None
    return {"mae": mae, "rmse": rmse, "smape": smape(y, yhat), "mase": mase}


def naive_forecast(series: np.ndarray, starts: np.ndarray, lookback: int, horizon: int) -> np.ndarray:
    """Last observed value repeated: series [T, k] -> [N, H, k]."""
    last = series[starts + lookback - 1]  # [N, k]
    return np.repeat(last[:, None, :], horizon, axis=1)


def seasonal_naive_forecast(
    series: np.ndarray, starts: np.ndarray, lookback: int, horizon: int, season: int
) -> np.ndarray:
    """Value one season before each target step (never a value after the forecast origin).

    For origin t0 = s + lookback and step h (0-based): y[t0 + h - season * (h // season + 1)].
    Falls back to the first row when the series does not reach that far back. series [T, k] -> [N, H, k].
    """
    h = np.arange(horizon)
    idx = starts[:, None] + lookback + h[None, :] - season * (h[None, :] // season + 1)
    return series[np.clip(idx, 0, None)]


def mase_scale(train: np.ndarray, season: int) -> np.ndarray:
    """In-sample MAE of the seasonal-naive forecast on the training rows, per column: train [n, k] -> [k]."""
    m = season if len(train) > season else 1
    if len(train) <= m:
        return np.full(train.shape[1], np.nan)
    return np.mean(np.abs(train[m:] - train[:-m]), axis=0)
