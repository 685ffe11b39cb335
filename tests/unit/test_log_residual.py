"""residual_space "log": the residual in log space, raw units in and out, refused on non-positive targets."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.data import DataError, load_table
from builder.data.scaler import Scaler
from builder.model.build import build_model
from builder.model.layers import AddSeasonalValue, LogResidual
from builder.tasks.forecast_baselines import seasonal_naive_forecast
from builder.tasks.registry import get_task
from tests.conftest import make_series_csv

FORECAST = get_task("forecast")


def _served(spec: ModelSpec, csv, bias: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raw-units model with the forecast layer's kernel zeroed and its bias set to `bias`:
    (predictions [n, H, 1], the naive base [n, H, 1], the raw windows [n, L, 1]) on the test windows."""
    data = FORECAST.prepare_frame(load_table(csv), spec)
    resolved = FORECAST.resolve(data)
    model = build_model(spec, resolved)
    x = Scaler.from_dict(resolved.x_scaler)
    model.get_layer("standardize").set_statistics(x.offset_, x.scale_)
    dense = model.get_layer("forecast")
    kernel, b = dense.get_weights()
    dense.set_weights([np.zeros_like(kernel), np.full_like(b, bias)])
    raw = FORECAST.raw_output(model, resolved)
    L, H = data.lookback, data.horizon
    starts = data.window_starts("test")
    windows = np.stack([data.values[s : s + L] for s in starts])
    pred = np.asarray(raw.predict(windows, verbose=0), dtype=np.float64)
    series = data.target_values.astype(np.float64)
    base = seasonal_naive_forecast(series, starts, L, H, 7) if spec.residual_base != "last" else \
        np.repeat(series[starts + L - 1][:, None, :], H, axis=1)
    if spec.residual_base == "season_drift":  # + the change over the last season
        base = base + (series[starts + L - 1] - series[starts + L - 1 - 7])[:, None, :]
    keras.backend.clear_session()
    return pred, base, windows


@pytest.mark.parametrize("base", ["season", "last", "season_drift"])
def test_zero_log_residual_is_the_raw_path(tmp_path, base: str) -> None:
    csv = make_series_csv(tmp_path / "s.csv", n=200, covariate=False)
    spec = ModelSpec(residual_base=base).updated(data={"horizon": 5, "lookback": 14})
    log_pred, expected, _ = _served(spec.model_copy(update={"residual_space": "log"}), csv, 0.0)
    raw_pred, _, _ = _served(spec, csv, 0.0)
    np.testing.assert_allclose(log_pred, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(log_pred, raw_pred, rtol=1e-5, atol=1e-4)


def _trending_seasonal_window() -> np.ndarray:
    """[2, 10, 1] raw windows: a season-4 pattern on a rising (row 0) and a falling (row 1) trend."""
    t = np.arange(10, dtype="float32")
    pattern = np.array([0.0, 5.0, -3.0, 1.0], "float32")[t.astype(int) % 4]
    return np.stack([100 + 4 * t + pattern, 100 - 2 * t + pattern])[:, :, None]


def test_log_season_drift_base_is_the_raw_season_drift_base() -> None:
    """delta = 0: LogResidual's season_drift base is AddSeasonalValue(drift=True)'s (seasonal naive + the
    additive change over the last season), not seasonal naive times the last season's ratio."""
    raw = _trending_seasonal_window()
    mean, scale = 97.0, 11.0
    x = (raw - mean) / scale  # the scaled inputs both layers read
    zero = np.zeros((2, 6, 1), "float32")
    log_out = np.asarray(LogResidual(1, [mean], [scale], base="season_drift", season=4, horizon=6)([x, zero]))
    add_out = np.asarray(AddSeasonalValue(1, season=4, horizon=6, drift=True)([x, zero]))
    np.testing.assert_allclose(log_out * scale + mean, add_out * scale + mean, rtol=1e-5)
    # by hand, rising row: rows 6, 7, 8, 9, 6, 7 plus row 9 minus row 5
    r = raw[0, :, 0]
    np.testing.assert_allclose(log_out[0, :, 0] * scale + mean, r[[6, 7, 8, 9, 6, 7]] + r[9] - r[5], rtol=1e-5)
    ratio = r[[6, 7, 8, 9, 6, 7]] * r[9] / r[5]  # the old multiplicative base differs on a trend
    assert np.abs(log_out[0, :, 0] * scale + mean - ratio).max() > 0.5


def test_log_season_drift_floors_a_non_positive_base() -> None:
    """A fall steeper than the level takes the additive base below 0: the log path uses 1e-6 there."""
    raw = np.array([50, 60, 70, 80, 100, 3, 2, 1, 1], "float32").reshape(1, 9, 1)  # drift: 1 - 100 = -99
    out = np.asarray(LogResidual(1, [0.0], [1.0], base="season_drift", season=4, horizon=4)(
        [raw, np.zeros((1, 4, 1), "float32")]))
    np.testing.assert_allclose(out[0, :, 0], [1e-6, 1e-6, 1e-6, 1e-6], rtol=1e-3)
    assert np.all(np.isfinite(out))


def test_log_residual_multiplies_the_base(tmp_path) -> None:
    """A constant change c in log space is the base times exp(c), in raw units."""
    csv = make_series_csv(tmp_path / "s.csv", n=200, covariate=False)
    spec = ModelSpec(residual_base="last", residual_space="log").updated(data={"horizon": 3, "lookback": 10})
    pred, base, _ = _served(spec, csv, 0.1)
    np.testing.assert_allclose(pred, base * np.exp(0.1), rtol=1e-4)


def test_log_residual_refuses_non_positive_targets(tmp_path) -> None:
    csv = make_series_csv(tmp_path / "s.csv", n=200, covariate=False)
    df = pd.read_csv(csv)
    df.loc[57, "y"] = -1.5
    df.to_csv(csv, index=False)
    spec = ModelSpec(residual_space="log").updated(data={"lookback": 14})
    with pytest.raises(DataError, match=r"residual_space `log` needs every target value above 0; column 'y' has -1.5 at row 58"):
        FORECAST.prepare(csv, spec)
    FORECAST.prepare(csv, spec.model_copy(update={"residual_space": "raw"}))  # the raw residual takes it
    with pytest.raises(ValueError, match="residual_space"):
        ModelSpec(residual_space="exp")


def test_log_residual_saved_model_serves_raw_units(tmp_path) -> None:
    from builder.serving.export import load_run_model
    from builder.training.fit import train_run
    from builder.training.runs import Run

    csv = make_series_csv(tmp_path / "series.csv", n=120, covariate=False)
    spec = ModelSpec.from_dict({"name": "tiny", "task": "forecast", "residual_space": "log",
                                "data": {"lookback": 14, "horizon": 2},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 1, "batch_size": 64, "patience": None}})
    run = tmp_path / "run"
    train_run(spec, csv, run)
    y = pd.read_csv(csv)["y"].to_numpy(np.float32)
    x = np.stack([y[i:i + 14] for i in (0, 50, 100)])[:, :, None]
    keras_pred = load_run_model(Run(run)).predict(x, verbose=0)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        m = tf.saved_model.load({str(run / 'saved_model')!r})
        np.save({str(tmp_path / 'tf.npy')!r}, m.serve(tf.constant(np.load({str(tmp_path / 'x.npy')!r}))).numpy())
        assert not any(k.startswith("builder") for k in sys.modules), "builder was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    served = np.load(tmp_path / "tf.npy")
    np.testing.assert_allclose(served, keras_pred, atol=1e-4, rtol=1e-5)
    assert 0.5 * y.min() < served.mean() < 2 * y.max()  # raw units, not the standardised scale
