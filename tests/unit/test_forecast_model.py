"""The default forecaster's season handling: seasonal residual, season-based lookback, the auto choice."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.data import DataError, load_table
from builder.model.build import build_model
from builder.model.layers import AddSeasonalValue
from builder.tasks.forecast import season_lookback
from builder.tasks.forecast_baselines import seasonal_naive_forecast
from builder.tasks.registry import get_task

FORECAST = get_task("forecast")


def seasonal_csv(path, n: int = 200, season: int = 7, walk: bool = False, seed: int = 0):
    """Daily series: a pure weekly pattern with a little noise, or (walk) a random walk."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.cumsum(rng.normal(0, 1, n)) if walk else 10 + 3 * np.sin(2 * np.pi * t / season) + rng.normal(0, 0.1, n)
    pd.DataFrame({"time": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                  "y": y.round(4)}).to_csv(path, index=False)
    return path


def test_add_seasonal_value_takes_the_step_one_season_earlier() -> None:
    layer = AddSeasonalValue(1, season=4, horizon=6)
    np.testing.assert_array_equal(layer.offsets(), [4, 3, 2, 1, 4, 3])
    x = np.arange(20, dtype="float32").reshape(2, 10, 1)  # [B, L=10, F=1]
    out = np.asarray(layer([x, np.zeros((2, 6, 1), "float32")]))
    # origin t0 = 10: steps 10..15 take rows 6, 7, 8, 9, 6, 7 (the last complete season)
    np.testing.assert_array_equal(out[0, :, 0], [6, 7, 8, 9, 6, 7])
    series = x[1]  # the same rule as the seasonal-naive baseline
    np.testing.assert_array_equal(out[1], seasonal_naive_forecast(series, np.array([0]), 10, 6, 4)[0])
    again = AddSeasonalValue.from_config(layer.get_config())
    assert (again.n_targets, again.season, again.horizon, again.drift) == (1, 4, 6, False)


def test_seasonal_drift_adds_the_change_over_the_last_season() -> None:
    """season_drift: seasonal naive + (last value - the value one season before it)."""
    layer = AddSeasonalValue(1, season=4, horizon=6, drift=True)
    x = (np.arange(10, dtype="float32") ** 2).reshape(1, 10, 1)  # rows 0..9 hold 0, 1, 4, ..., 81
    out = np.asarray(layer([x, np.zeros((1, 6, 1), "float32")]))
    drift = 81.0 - 25.0  # row 9 minus row 5
    np.testing.assert_allclose(out[0, :, 0], np.array([36, 49, 64, 81, 36, 49]) + drift)
    assert AddSeasonalValue.from_config(layer.get_config()).drift is True


@pytest.mark.parametrize(("season", "n_train", "horizon", "expected"), [
    (12, 100, 1, 24), (52, 1600, 1, 104), (48, 2800, 48, 96), (1, 70, 1, 24), (12, 26, 1, 13), (7, 60, 14, 23),
])
def test_season_lookback(season: int, n_train: int, horizon: int, expected: int) -> None:
    assert season_lookback(season, n_train, horizon) == expected


def test_default_lookback_follows_the_season_and_says_so(tmp_path) -> None:
    data = FORECAST.prepare(seasonal_csv(tmp_path / "s.csv", n=400, season=7), ModelSpec().updated(data={"horizon": 1}))
    assert data.season_length == 7 and data.lookback == 24
    assert any("lookback 24" in n for n in data.notices)
    given = FORECAST.prepare(tmp_path / "s.csv", ModelSpec().updated(data={"lookback": 10}))
    assert given.lookback == 10 and not any(n.startswith("lookback") for n in given.notices)


def test_auto_base_picks_the_better_naive_on_validation(tmp_path) -> None:
    seasonal = FORECAST.resolve(FORECAST.prepare(seasonal_csv(tmp_path / "s.csv"), ModelSpec()))
    walk = FORECAST.resolve(FORECAST.prepare(seasonal_csv(tmp_path / "w.csv", walk=True), ModelSpec()))
    assert seasonal.better_naive == "season" and walk.better_naive == "last"


def test_explicit_seasonal_base_needs_a_season_in_the_window(tmp_path) -> None:
    path = seasonal_csv(tmp_path / "s.csv")
    with pytest.raises(DataError, match="residual_base `season` needs .* lookback of at least one season"):
        FORECAST.prepare(path, ModelSpec(residual_base="season").updated(data={"lookback": 5}))
    with pytest.raises(DataError, match="residual_base `season_drift` needs .* one season plus one step"):
        FORECAST.prepare(path, ModelSpec(residual_base="season_drift").updated(data={"lookback": 7}))


@pytest.mark.parametrize("base", ["season", "last", "season_drift"])
def test_an_untrained_delta_gives_the_naive_forecast_in_raw_units(tmp_path, base: str) -> None:
    """With the forecast layer zeroed, the served model is exactly its naive base (raw units in and out)."""
    spec = ModelSpec(residual_base=base).updated(data={"horizon": 9, "lookback": 14})
    data = FORECAST.prepare_frame(load_table(seasonal_csv(tmp_path / "s.csv")), spec)
    resolved = FORECAST.resolve(data)
    model = build_model(spec, resolved)
    from builder.data.scaler import Scaler

    x = Scaler.from_dict(resolved.x_scaler)
    model.get_layer("standardize").set_statistics(x.offset_, x.scale_)
    dense = model.get_layer("forecast")
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    raw = FORECAST.raw_output(model, resolved)
    starts = data.window_starts("test")
    windows = np.stack([data.values[s : s + 14] for s in starts])
    pred = np.asarray(raw.predict(windows, verbose=0), dtype=np.float64)
    series = data.target_values.astype(np.float64)
    expected = (seasonal_naive_forecast(series, starts, 14, 9, 7) if base != "last"
                else np.repeat(series[starts + 13][:, None, :], 9, axis=1))
    if base == "season_drift":  # + the change from one season before the last input step to the last one
        expected = expected + (series[starts + 13] - series[starts + 13 - 7])[:, None, :]
    np.testing.assert_allclose(pred, expected, rtol=1e-5, atol=1e-4)
    assert ("add_last_value" if base == "last" else "add_seasonal_value") in [layer.name for layer in model.layers]
    keras.backend.clear_session()


def test_refit_trains_on_train_and_validation_for_the_chosen_epochs(tmp_path) -> None:
    from builder.training.fit import fit

    spec = ModelSpec.from_dict({
        "data": {"lookback": 8, "horizon": 2}, "blocks": [{"kind": "recurrent", "units": 4}],
        "training": {"epochs": 2, "patience": None, "refit": True, "batch_size": 32}})
    data = FORECAST.prepare(seasonal_csv(tmp_path / "s.csv", n=120), spec)
    lo, hi = data.window_range("train+val")
    assert (lo, hi) == (0, data.n_train + data.n_val - 8 - 2 + 1)  # targets never reach the test rows
    result = fit(spec, data)
    assert result.refit_epochs == result.best_epoch >= 1
    x = data.values[None, -8:]
    assert np.isfinite(np.asarray(result.raw_model.predict(x, verbose=0))).all()
    off = fit(spec.updated(training={"refit": False}), data)
    assert off.refit_epochs == 0
    keras.backend.clear_session()


def test_refit_repeats_to_min_steps_per_epoch(tmp_path) -> None:
    """A refit epoch has the optimizer steps min_steps_per_epoch gives the fit's epochs, not one pass."""
    from builder.training.fit import fit

    spec = ModelSpec.from_dict({
        "data": {"lookback": 8, "horizon": 2}, "blocks": [{"kind": "recurrent", "units": 4}],
        "training": {"epochs": 2, "patience": None, "refit": True, "batch_size": 32, "min_steps_per_epoch": 7}})
    data = FORECAST.prepare(seasonal_csv(tmp_path / "s.csv", n=120), spec)
    lo, hi = data.window_range("train+val")
    one_pass = -(-(hi - lo) // 32)
    assert one_pass < 7  # the option repeats the windows here
    result = fit(spec, data)
    assert result.refit_epochs >= 1
    per_epoch = one_pass * -(-7 // one_pass)  # whole passes until an epoch has at least 7 steps
    assert int(result.model.optimizer.iterations.numpy()) == result.refit_epochs * per_epoch
    keras.backend.clear_session()


def test_two_seasons_only_for_the_seasonal_residual(tmp_path) -> None:
    spec = ModelSpec().updated(data={"season_length": 20})
    seasonal = FORECAST.prepare(seasonal_csv(tmp_path / "s.csv", n=400, season=20), spec)
    walk = FORECAST.prepare(seasonal_csv(tmp_path / "w.csv", n=400, walk=True), spec)
    assert seasonal.lookback == 40 and any("two seasons of 20" in n for n in seasonal.notices)
    assert walk.lookback == 24 and any("lookback 24 steps (the default)" in n for n in walk.notices)
    assert FORECAST.resolve(seasonal).better_naive == "season" and FORECAST.resolve(walk).better_naive == "last"
    weekly = FORECAST.prepare(seasonal_csv(tmp_path / "d.csv", n=400, season=7), ModelSpec().updated(data={"season_length": 7}))
    assert weekly.lookback == 24 and FORECAST.resolve(weekly).better_naive == "season"
    note = next(n for n in weekly.notices if n.startswith("lookback"))
    assert "the default, which holds two seasons of 7" in note and "as the training part allows" not in note
