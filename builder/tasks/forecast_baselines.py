"""Forecast scores and baselines, in the data's own units.

MAE, RMSE, sMAPE (%) and MASE for the model and for the naive (last value) and seasonal-naive (value
one season earlier) forecasts. MASE divides by the in-sample MAE of the seasonal-naive forecast on the
training rows (Hyndman & Koehler 2006; m = 1 gives the plain naive scale); it is undefined (None) when
that scale is 0, e.g. for a series that is constant in its training part.

Actuals the file did not have (filled in by the missing-value policy) are no actuals: the scores take
an `observed` mask and leave those points out, and the MASE scale uses only the pairs of training
values one season apart that were both observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200; a term with y = yhat = 0 counts as 0."""
    den = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2.0 * np.abs(y - yhat), den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)
    return float(100.0 * ratio.mean())


def forecast_scores(y: np.ndarray, yhat: np.ndarray, mase_scale: float,
                    observed: np.ndarray | None = None) -> dict[str, float | None]:
    """MAE, RMSE, sMAPE and MASE for one target (MASE None when `mase_scale` is 0). y, yhat: [N, H] raw.

    observed: [N, H] bool, the points whose actual the file had; the others are left out (None: all).
    Every metric is None when no point is left.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    if observed is not None and not np.all(observed):
        y, yhat = y[observed], yhat[observed]
        if y.size == 0:
            return {"mae": None, "rmse": None, "smape": None, "mase": None}

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


def mase_scale(train: np.ndarray, season: int, observed: np.ndarray | None = None) -> np.ndarray:
    """In-sample MAE of the seasonal-naive forecast on the training rows, per column: train [n, k] -> [k].

    observed: [n, k] bool, the values the file had (None: all); then only the pairs (t - m, t) whose two
    values were both observed count, and a column without such a pair has no scale (NaN).
    """
    m = season if len(train) > season else 1
    if len(train) <= m:
        return np.full(train.shape[1], np.nan)
    if observed is None or np.all(observed):
        return np.mean(np.abs(train[m:] - train[:-m]), axis=0)
    pairs = observed[m:] & observed[:-m]
    count = pairs.sum(axis=0)
    total = np.where(pairs, np.abs(train[m:] - train[:-m]), 0.0).sum(axis=0)
    return np.divide(total, count, out=np.full(train.shape[1], np.nan), where=count > 0)


# ---- statistical baselines: ETS and Theta (statsforecast) ------------------------------------------
#: the longest season AutoETS models itself; longer seasons (half-hourly days, weeks) go through an
#: STL decomposition and a non-seasonal AutoETS on the seasonally adjusted series, as R's forecast::ets
#: (which refuses periods above 24) and its stlf recommend. Measured: bench/RESULTS.md, "ETS fit time".
ETS_MAX_SEASON = 24
#: the statistical baselines beside naive and seasonal naive, in the order tables show them
STAT_BASELINES = ("ets", "theta")


def origins_of(starts: np.ndarray, lookback: int) -> np.ndarray:
    """Forecast origins of windows: the first target row o = s + lookback (the forecast sees rows [0, o))."""
    return np.asarray(starts, dtype=np.int64) + int(lookback)


@dataclass
class EtsFit:
    """An AutoETS model fitted once on the training rows and run over the whole series with its parameters.

    model: statsforecast's fitted ETS dict; method: its name ("ETS(A,Ad,A)", "STL(m=52) + ETS(A,A,N)");
    seasonal [T]: the STL seasonal component removed before ETS (zeros without STL); states [T+1, k]: the
    state after each row; trendtype / seasontype: "N", "A" or "M"; phi: the damping (1 when undamped).
    """

    model: dict[str, Any]
    method: str
    seasonal: np.ndarray
    states: np.ndarray
    trendtype: str
    seasontype: str
    phi: float

    def forecast(self, origin: int, horizon: int, out: np.ndarray) -> None:
        """The forecast of rows [origin, origin + horizon) from the state after row origin - 1, without
        the seasonal component, written into out [horizon]."""
        from statsforecast.ets import etsforecast, switch

        etsforecast(x=self.states[origin], m=self.model["m"], trend=switch(self.trendtype),
                    season=switch(self.seasontype), phi=self.phi, h=horizon, f=out)


def fit_ets(y: np.ndarray, n_fit: int, season: int) -> EtsFit:
    """AutoETS fitted once on y[:n_fit] and its states over all of y [T] (see `ets_origin_forecasts`)."""
    from statsforecast.ets import pegelsresid_C
    from statsforecast.models import MSTL, AutoETS

    y = np.asarray(y, dtype=np.float64)
    train = y[:n_fit]
    if n_fit and np.ptp(train) == 0:  # statsforecast returns a model without components for a constant series
        raise ValueError(f"the series is constant there ({train[0]:g}): no level, trend or season to fit")
    seasonal = np.zeros(len(y))
    if season > ETS_MAX_SEASON and n_fit > 2 * season:
        fit = MSTL(season_length=season, trend_forecaster=AutoETS(model="ZZN")).fit(train)
        comp = fit.model_["seasonal"].to_numpy(dtype=np.float64)
        seasonal[:n_fit] = comp
        seasonal[n_fit:] = comp[-season:][(np.arange(n_fit, len(y)) - n_fit) % season]
        model = fit.trend_forecaster.model_
        prefix = f"STL(m={season}) + "
    else:
        model = AutoETS(season_length=max(1, season)).fit(train).model_
        prefix = ""
    errortype, trendtype, seasontype, damped_flag = model["components"][:4]
    damped = damped_flag != "N"
    alpha, beta, gamma, phi = (float(v) for v in model["par"][:4])
    phi = phi if damped else 1.0
    _, _, states, _ = pegelsresid_C(
        y=y - seasonal, m=model["m"], init_state=np.asarray(model["par"][4:], dtype=np.float64),
        errortype=errortype, trendtype=trendtype, seasontype=seasontype, damped=damped,
        alpha=alpha, beta=beta, gamma=gamma, phi=phi, nmse=3)
    return EtsFit(model, prefix + str(model["method"]), seasonal, states, trendtype, seasontype, phi)


def ets_origin_forecasts(y: np.ndarray, n_fit: int, origins: np.ndarray, horizon: int,
                         season: int) -> tuple[np.ndarray, str]:
    """AutoETS fitted once on y[:n_fit], then run over the whole series with those parameters.

    Selection by AICc over error / trend (damped allowed) / season types as statsforecast's AutoETS
    does (multiplicative only for positive data). At each origin o the model's state has seen the
    observed rows [0, o) and forecasts rows [o, o + horizon); no parameter is refitted. For a season
    longer than ETS_MAX_SEASON: STL on the training rows, AutoETS without season on the adjusted
    series, and the last training season of the seasonal component repeated (statsforecast's MSTL).
    y [T] raw; origins [N] -> (forecasts [N, horizon], method name such as "ETS(A,Ad,A)").
    """
    ets = fit_ets(y, n_fit, season)
    out = np.full((len(origins), horizon), np.nan)
    for i, o in enumerate(origins):
        ets.forecast(int(o), horizon, out[i])
    out += ets.seasonal[origins[:, None] + np.arange(horizon)[None, :]]
    return out, ets.method


def theta_origin_forecasts(y: np.ndarray, n_fit: int, origins: np.ndarray, horizon: int,
                           season: int, variant: str | None = None) -> tuple[np.ndarray, str]:
    """AutoTheta fitted once on y[:n_fit] (standard / optimised / dynamic variants chosen by MSE as
    statsforecast does; classical seasonal decomposition when its seasonality test says so); at each
    origin o the model with those parameters and seasonal indices has seen rows [0, o) and forecasts
    rows [o, o + horizon) (statsforecast's `forward`, without re-estimating the seasonal indices): one
    pass of its filter over the whole series; the non-dynamic variants' trend line, a least-squares
    fit of all rows before the origin, is recomputed per origin from cumulative sums.

    variant: one of STM / OTM / DSTM / DOTM instead of the selection. y [T] raw; origins [N] ->
    (forecasts [N, horizon], method name such as "Theta(DOTM, multiplicative m=12)").
    """
    from statsforecast._lib import theta as _theta
    from statsforecast.models import AutoTheta
    from statsforecast.theta import switch_theta

    y = np.asarray(y, dtype=np.float64)
    model = AutoTheta(season_length=max(1, season), model=variant).fit(y[:n_fit]).model_
    kind = switch_theta(model["modeltype"])
    par = model["par"]
    multiplicative = model.get("decomposition_type") != "additive"
    index = np.ones(len(y)) if multiplicative else np.zeros(len(y))
    described = model["modeltype"]
    if model.get("decompose", False):
        last = np.asarray(model["seas_forecast"]["mean"], dtype=np.float64)  # rows n_fit .. n_fit + m - 1
        index = last[(np.arange(len(y)) - n_fit) % len(last)]  # the decomposition's seasonal part is periodic
        described += f", {model['decomposition_type']} m={season}"
    z = y / index if multiplicative else y - index
    _, _, states, _ = _theta.pegels_resid(z, kind, float(par["initial_smoothed"]), float(par["alpha"]),
                                          float(par["theta"]), 3)
    states = np.ascontiguousarray(states)  # [T, 5]: level, mean, A, B, one-step forecast
    dynamic = model["modeltype"] in ("DSTM", "DOTM")
    if not dynamic:  # the standard / optimised models' trend line A + B t is the least-squares line of all
        # the rows before the origin (t = 1..o), not a running state: from cumulative sums, per origin
        t = np.arange(1, len(z) + 1, dtype=np.float64)
        st, stt, sz, stz = (np.cumsum(v) for v in (t, t * t, z, t * z))
    out = np.full((len(origins), horizon), np.nan)
    for i, o in enumerate(origins):
        o = int(o)
        last = states[o - 1].copy()
        if not dynamic:
            j = o - 1
            slope = (o * stz[j] - st[j] * sz[j]) / (o * stt[j] - st[j] ** 2) if o > 1 else 0.0
            states[j, 2], states[j, 3] = (sz[j] - slope * st[j]) / o, slope
        _theta.forecast(states[:o], o, kind, out[i], float(par["alpha"]), float(par["theta"]))
        states[o - 1] = last
    seas = index[origins[:, None] + np.arange(horizon)[None, :]]
    out = out * seas if multiplicative else out + seas
    return out, f"Theta({described})"


def stat_baseline_forecasts(series: np.ndarray, n_fit: int, origins: np.ndarray, horizon: int,
                            season: int, skip: tuple[str, ...] = ()) -> dict[str, dict]:
    """ETS and Theta for every target column: series [T, k] raw -> {name: {"forecast": [N, H, k] or
    None, "method": [str per target], "fit_seconds", "reason": why it is undefined or None}}.

    A model that cannot be fitted (too few rows, ...) or forecasts a non-finite value is undefined,
    with the library's message as the reason; the other baselines still count.
    """
    import time
    import warnings

    makers = {k: v for k, v in {"ets": ets_origin_forecasts, "theta": theta_origin_forecasts}.items() if k not in skip}
    out: dict[str, dict] = {}
    for name, make in makers.items():
        t0 = time.perf_counter()
        preds, methods, reason = [], [], None
        for k in range(series.shape[1]):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred, method = make(series[:, k], n_fit, origins, horizon, season)
            except Exception as err:  # the library's own reason (tiny data, no admissible model ...)
                reason = f"{name.upper() if name == 'ets' else 'Theta'} could not be fitted on the {n_fit} training rows: {err}"
                break
            if not np.isfinite(pred).all():
                reason = f"{method} forecast a non-finite value on this series"
                break
            preds.append(pred)
            methods.append(method)
        out[name] = {"forecast": None if reason else np.stack(preds, axis=-1), "method": methods,
                     "fit_seconds": round(time.perf_counter() - t0, 3), "reason": reason}
    return out
