"""Metrics and baselines, always in the data's own units.

Forecast: MAE, RMSE, sMAPE (%) and MASE for the model and for the naive (last value) and seasonal-naive
(value one season earlier) forecasts, on the test windows. MASE divides by the in-sample MAE of the
seasonal-naive forecast on the training rows (Hyndman & Koehler 2006; m = 1 gives the plain naive scale).
Classification: accuracy, macro-F1 and the confusion matrix, beside the majority-class baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200; a term with y = yhat = 0 counts as 0."""
    den = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2.0 * np.abs(y - yhat), den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)
    return float(100.0 * ratio.mean())


def forecast_scores(y: np.ndarray, yhat: np.ndarray, mase_scale: float) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE for one target. y, yhat: [N, H] raw values."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    mae = float(mean_absolute_error(y.ravel(), yhat.ravel()))
    rmse = float(np.sqrt(mean_squared_error(y.ravel(), yhat.ravel())))
    mase = mae / mase_scale if mase_scale > 0 else float("nan")
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


def evaluate_forecast(data: Any, predictions: np.ndarray, part: str = "test") -> dict[str, Any]:
    """Scores of the model and both baselines on one part of a SeriesData.

    predictions: [N, H, n_targets] raw forecasts for `data.window_starts(part)`.
    Returns {"part", "n_windows", "season_length", "targets": {name: {model, naive, seasonal_naive}},
    "model"/"naive"/"seasonal_naive": mean over targets}.
    """
    from builder.data import series_targets

    starts = data.window_starts(part)
    y = series_targets(data, part)
    series = data.target_values.astype(np.float64)
    L, H, m = data.lookback, data.horizon, data.season_length
    candidates = {
        "model": predictions.astype(np.float64),
        "naive": naive_forecast(series, starts, L, H),
        "seasonal_naive": seasonal_naive_forecast(series, starts, L, H, m),
    }
    scales = mase_scale(series[: data.n_train], m)
    per_target: dict[str, dict[str, dict[str, float]]] = {}
    for k, name in enumerate(data.targets):
        per_target[name] = {
            who: forecast_scores(y[:, :, k], pred[:, :, k], float(scales[k])) for who, pred in candidates.items()
        }
    summary = {
        who: {metric: float(np.mean([per_target[t][who][metric] for t in data.targets]))
              for metric in ("mae", "rmse", "smape", "mase")}
        for who in candidates
    }
    by_step = [
        float(np.mean(np.abs(y[:, h, :] - candidates["model"][:, h, :]))) for h in range(H)
    ]
    return {
        "task": "forecast", "part": part, "n_windows": int(len(starts)), "season_length": int(m),
        **summary, "targets": per_target, "model_mae_by_step": by_step,
    }


def evaluate_classification(y: np.ndarray, probs: np.ndarray, y_train: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and confusion matrix of the model and of the majority class of y_train.

    y: [N] true class indices; probs: [N, n_classes]; y_train: [M] training class indices.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    labels = list(range(len(classes)))
    pred = probs.argmax(axis=1)
    majority = int(np.bincount(y_train, minlength=len(classes)).argmax())
    base = np.full_like(y, majority)
    return {
        "task": "classify", "part": "test", "n_sequences": int(len(y)), "classes": classes,
        "model": {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        },
        "majority_class": {
            "accuracy": float(accuracy_score(y, base)),
            "macro_f1": float(f1_score(y, base, labels=labels, average="macro", zero_division=0)),
            "class": classes[majority],
        },
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
    }
