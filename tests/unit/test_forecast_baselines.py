"""ETS and Theta baselines from every origin, the scores beside the model, the verdict and the cards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from builder.tasks.forecast_baselines import (
    ets_origin_forecasts,
    stat_baseline_forecasts,
    theta_origin_forecasts,
)
from builder.tasks.forecast_eval import best_baseline, verdict


def _seasonal(n: int = 160, m: int = 12, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / m) + rng.normal(0, 1, n)


def test_ets_from_each_origin_equals_statsforecast_forward_with_the_training_fit():
    from statsforecast.models import AutoETS

    y, n, h = _seasonal(), 110, 6
    got, method = ets_origin_forecasts(y, n, np.array([n, n + 7, 150]), h, 12)
    assert got.shape == (3, h) and method.startswith("ETS(")
    fitted = AutoETS(season_length=12).fit(y[:n])
    np.testing.assert_allclose(got[0], fitted.predict(h)["mean"], rtol=1e-10)
    for row, o in ((1, n + 7), (2, 150)):  # the state sees rows [0, o); the parameters stay the training fit's
        np.testing.assert_allclose(got[row], fitted.forward(y[:o], h)["mean"], rtol=1e-10)


def test_theta_from_the_training_end_equals_statsforecast_predict():
    from statsforecast.models import AutoTheta

    y, n, h = _seasonal(), 110, 6
    got, method = theta_origin_forecasts(y, n, np.array([n, 140]), h, 12)
    assert method.startswith("Theta(")
    np.testing.assert_allclose(got[0], AutoTheta(season_length=12).fit(y[:n]).predict(h)["mean"], rtol=1e-10)
    assert np.isfinite(got).all()


def test_a_season_longer_than_24_goes_through_stl_and_matches_mstl():
    from statsforecast.models import MSTL, AutoETS

    y, n = _seasonal(400, 48), 300
    got, method = ets_origin_forecasts(y, n, np.array([n]), 50, 48)
    assert method.startswith("STL(m=48) + ETS(")
    ref = MSTL(season_length=48, trend_forecaster=AutoETS(model="ZZN")).fit(y[:n]).predict(50)["mean"]
    np.testing.assert_allclose(got[0], ref, rtol=1e-10)


def test_a_baseline_that_cannot_be_fitted_is_undefined_with_its_reason():
    series = np.arange(6, dtype=np.float64)[:, None]
    out = stat_baseline_forecasts(series, 4, np.array([4]), 2, 1)
    assert out["ets"]["forecast"] is None and "could not be fitted on the 4 training rows" in out["ets"]["reason"]



def test_ets_on_a_constant_series_says_so_not_a_key_error():
    series = np.full((60, 1), 5.0)
    out = stat_baseline_forecasts(series, 40, np.array([40, 45]), 3, 7)
    assert out["ets"]["forecast"] is None
    assert "constant" in out["ets"]["reason"] and "'method'" not in out["ets"]["reason"]

def _metrics(model: float, naive: float, seasonal: float, ets: float | None) -> dict:
    def s(v: float | None) -> dict:
        return {k: v for k in ("mae", "rmse", "smape", "mase")}

    return {"task": "forecast", "season_length": 12, "lookback": 12, "horizon": 1, "n_windows": 5, "part": "test",
            "model": s(model), "naive": s(naive), "seasonal_naive": s(seasonal), "ets": s(ets), "theta": s(None),
            "baselines": {"ets": {"method": ["ETS(A,Ad,A)"]}}, "undefined": {"theta": "Theta could not be fitted"}}


def test_verdict_names_the_best_baseline_and_the_gap():
    m = _metrics(model=1.42, naive=3.0, seasonal=1.0, ets=1.2)
    assert best_baseline(m)["name"] == "seasonal_naive"
    text = verdict(m)
    assert text.startswith("worse than seasonal naive (m=12) by 42% MASE (MASE 1.42 vs 1)")
    assert "a lookback of at least two seasons (24 steps; now 12)" in text
    assert verdict(_metrics(model=0.9, naive=3.0, seasonal=1.0, ets=1.1)).startswith(
        "beats every baseline (best: seasonal naive (m=12), MASE 0.9 vs 1, 10% lower)")
    assert verdict(_metrics(model=1.2, naive=3.0, seasonal=2.0, ets=1.1)).startswith("worse than ETS(A,Ad,A) by 9%")
    assert verdict(_metrics(model=1.001, naive=3.0, seasonal=1.0, ets=None)).startswith("level with the best baseline")


def test_cards_compare_with_the_best_baseline_not_the_weakest():
    from builder.tasks.registry import get_task

    task = get_task("forecast")
    m = _metrics(model=3.0, naive=4.0, seasonal=1.0, ets=1.5)  # better than naive, 3x worse than seasonal naive
    cards = task.metric_cards(m)
    assert [c["delta"] for c in cards] == ["+2 vs seasonal naive"] * 4
    assert all(c["lower_is_better"] for c in cards)  # a positive delta is drawn red
    table = task.cli_table(m)
    assert "verdict: worse than seasonal naive (m=12) by 200% MASE" in table and "ETS(A,Ad,A)" in table
    assert list(task.metrics_table(m).index) == ["model", "naive (last value)", "seasonal naive (m=12)", "ETS(A,Ad,A)", "Theta"]


def test_evaluate_forecast_scores_every_baseline_on_the_same_windows(series_csv):
    from builder import ModelSpec
    from builder.data import load_table
    from builder.data.windows import series_targets
    from builder.tasks import prepare_frame
    from builder.tasks.forecast import evaluate_forecast

    spec = ModelSpec().updated(data={"lookback": 14, "horizon": 3})
    data = prepare_frame(load_table(series_csv), spec)
    y = series_targets(data, "test")
    metrics = evaluate_forecast(data, y + 0.1)  # a model 0.1 off everywhere
    json.dumps(metrics, allow_nan=False)  # strict JSON
    assert metrics["model"]["mae"] == pytest.approx(0.1, rel=1e-5)
    for who in ("naive", "seasonal_naive", "ets", "theta"):
        assert metrics[who]["mae"] is not None and len(metrics["by_step"]["mae"][who]) == 3
    assert metrics["baselines"]["ets"]["fit_part"] == "train" and metrics["baselines"]["ets"]["fit_rows"] == data.n_train
    assert metrics["best_baseline"]["name"] in ("naive", "seasonal_naive", "ets", "theta")
    assert metrics["verdict"].startswith("beats every baseline")
    np.testing.assert_allclose(metrics["by_step"]["mae"]["model"], [0.1, 0.1, 0.1], rtol=1e-5)


def test_conformal_radius_is_the_finite_sample_quantile_and_covers_exchangeable_errors():
    from builder.tasks.forecast_intervals import (
        add_interval_columns,
        conformal_intervals,
        conformal_radius,
        min_windows,
    )

    res = np.arange(1, 11, dtype=np.float64)[:, None, None]  # 10 residuals 1..10
    assert conformal_radius(res, 80)[0, 0] == 9.0  # ceil(11 * 0.8) = 9th smallest
    assert np.isinf(conformal_radius(res, 95)[0, 0]) and min_windows(95) == 19 and min_windows(80) == 4
    rng = np.random.default_rng(0)
    y_cal, y = rng.normal(size=(400, 2, 1)), rng.normal(size=(4000, 2, 1))
    y_cal[:, 1] *= 3  # the second step is three times as uncertain: its own radius
    y[:, 1] *= 3
    record, radii = conformal_intervals(y_cal, np.zeros_like(y_cal), y, np.zeros_like(y))
    assert radii[95][1, 0] > 2.5 * radii[95][0, 0]
    for level in (80, 95):
        assert abs(record["levels"][str(level)]["coverage"] - level / 100) < 0.03
    json.dumps(record, allow_nan=False)
    import pandas as pd

    frame = pd.DataFrame({"step": [1, 2], "target": ["y", "y"], "predicted": [10.0, 10.0]})
    out = add_interval_columns(frame, radii, ("y",))
    np.testing.assert_allclose(out["upper_80"] - out["lower_80"], 2 * radii[80][:, 0])


@pytest.mark.parametrize("window", [None, 6])
def test_rolling_radii_use_only_residuals_observed_before_each_origin(window):
    from builder.tasks.forecast_intervals import adaptive_radii, conformal_radius

    rng = np.random.default_rng(3)
    n, big_n, h_steps, k = 8, 12, 3, 2
    res_cal, res = rng.uniform(size=(n, h_steps, k)), rng.uniform(size=(big_n, h_steps, k)) * 5
    starts = np.array([20, 21, 22, 23, 25, 26, 27, 28, 29, 30, 31, 32])  # a gap: a window left out
    radius, final = adaptive_radii(res_cal, res, starts, 80, window, gamma=0.0)
    for i, s in enumerate(starts):
        for h in range(h_steps):
            # window j's step-h actual is row s_j + L + h, observed before origin s_i + L when s_j + h < s_i
            seen = [res_cal[:, h]] + [res[j, h][None] for j in range(big_n) if starts[j] + h < s]
            pool = np.concatenate(seen)
            if window is not None:
                pool = pool[-window:]
            np.testing.assert_array_equal(radius[i, h], conformal_radius(pool[:, None, :], 80)[0])
    pool = np.concatenate([res_cal, res])
    np.testing.assert_array_equal(final, conformal_radius(pool if window is None else pool[-window:], 80))
    assert np.isfinite(radius).all() and radius[-1, 0, 0] > radius[0, 0, 0]  # the larger test errors widen it
    tight, _ = adaptive_radii(res_cal[:3], res, starts, 80, None, gamma=0.0)
    assert np.isinf(tight[0, 2]).all() and np.isfinite(tight[-1, 0]).all()  # 3 known: too few for 80% (needs 4)


def test_adaptive_radii_misses_widen_them():
    from builder.tasks.forecast_intervals import adaptive_radii, conformal_radius

    rng = np.random.default_rng(5)
    res_cal, res = rng.uniform(size=(10, 2, 1)), rng.uniform(size=(30, 2, 1))
    starts = np.arange(100, 130)
    _, final = adaptive_radii(res_cal, res, starts, 80, 10, gamma=0.0)
    np.testing.assert_allclose(final, conformal_radius(np.concatenate([res_cal, res])[-10:], 80))
    worse = res * 10  # test errors beyond anything calibrated: each observed miss raises the quantile
    moving, _ = adaptive_radii(res_cal, worse, starts, 80, 10, gamma=0.05)
    fixed, _ = adaptive_radii(res_cal, worse, starts, 80, 10, gamma=0.0)
    assert (moving[:3] >= fixed[:3]).all() and (moving[1:3] > fixed[1:3]).any()  # after the first misses: wider
    assert (worse > moving).sum() < (worse > fixed).sum()
    assert np.isinf(adaptive_radii(res_cal[:3], res, starts, 80, 3, gamma=0.05)[0]).all()  # 3 < 4 needed


def test_rolling_intervals_recover_coverage_after_the_errors_grow():
    from builder.tasks.forecast_intervals import add_interval_columns, conformal_intervals, interval_label

    rng = np.random.default_rng(1)
    y_cal, y = rng.normal(size=(200, 2, 1)), rng.normal(size=(600, 2, 1)) * 2.5  # test errors 2.5x the validation's
    split, _ = conformal_intervals(y_cal, np.zeros_like(y_cal), y, np.zeros_like(y))
    record, radii = conformal_intervals(y_cal, np.zeros_like(y_cal), y, np.zeros_like(y), starts=np.arange(600))
    for level in ("80", "95"):
        assert split["levels"][level]["coverage"] < int(level) / 100 - 0.2
        assert abs(record["levels"][level]["coverage"] - int(level) / 100) < 0.05
    assert radii[80].shape == (600, 2, 1) and interval_label(record) == "adaptive conformal over the 200 most recent residuals"
    assert interval_label({"calibration_windows": 5, "levels": {}}) == "split conformal on 5 validation windows"  # older runs
    json.dumps(record, allow_nan=False)
    import pandas as pd

    frame = pd.DataFrame({"step": np.repeat([1, 2], 600), "target": "y", "predicted": 0.0})  # step, then window
    out = add_interval_columns(frame, radii, ("y",))
    np.testing.assert_allclose(out["upper_80"].to_numpy()[600:], radii[80][:, 1, 0])


def test_calibrated_range_is_the_binomial_spread_of_an_exact_interval_and_reads_the_coverage():
    from builder.tasks.forecast_intervals import (
        calibrated_range,
        conformal_intervals,
        coverage_reading,
        level_range,
        range_text,
    )

    # 15 windows at 80%: P(X <= 8) = 0.018 < 0.05 <= P(X <= 9) = 0.061, P(X <= 13) = 0.833 < 0.95 <= P(X <= 14)
    assert calibrated_range(15, 80) == (9 / 15, 14 / 15)
    assert calibrated_range(5, 80) == (2 / 5, 1.0) and calibrated_range(30, 95) == (26 / 30, 1.0)
    rng = np.random.default_rng(3)  # an exactly calibrated interval: its coverage lands in the range ~90% of the time
    hits = rng.random((20000, 15)) < 0.8
    low, high = calibrated_range(15, 80)
    inside = ((hits.mean(axis=1) >= low - 1e-12) & (hits.mean(axis=1) <= high + 1e-12)).mean()
    assert 0.9 <= inside <= 0.97  # discrete: at least the mass (here exactly 0.947), a little more
    assert coverage_reading(11 / 15, low, high).startswith("within")
    assert coverage_reading(8 / 15, low, high).startswith("below") and "too narrow" in coverage_reading(0.5, low, high)
    assert coverage_reading(1.0, 0.6, 0.9).startswith("above")
    y_cal, y = rng.normal(size=(40, 2, 1)), rng.normal(size=(15, 2, 1))
    record, _ = conformal_intervals(y_cal, np.zeros_like(y_cal), y, np.zeros_like(y), starts=np.arange(15))
    rec = record["levels"]["80"]
    assert rec["windows"] == 15 and level_range(80, rec) == (0.6, 14 / 15)
    assert range_text(80, rec) == "60.0%-93.3% on 15 windows" and range_text(80, {"coverage": 0.8}) == ""  # runs from before
    json.dumps(record, allow_nan=False)


def test_rolling_intervals_calibrate_on_at_most_max_calibration_residuals(monkeypatch):
    import builder.tasks.forecast_intervals as fi

    monkeypatch.setattr(fi, "MAX_CALIBRATION", 50)
    rng = np.random.default_rng(2)
    y_cal, y = rng.normal(size=(120, 1, 1)), rng.normal(size=(30, 1, 1))
    record, _ = fi.conformal_intervals(y_cal, np.zeros_like(y_cal), y, np.zeros_like(y), starts=np.arange(30))
    assert record["calibration_windows"] == 120 and fi.interval_label(record) == "adaptive conformal over the 50 most recent residuals"
    _, final = fi.adaptive_radii(np.abs(y_cal), np.abs(y), np.arange(30), 80, 50, fi.ACI_GAMMA)
    assert record["levels"]["80"]["radius"] == [[float(final[0, 0])]]


def test_too_few_validation_windows_leave_a_level_undefined_with_the_number_needed():
    from builder.tasks.forecast_intervals import conformal_intervals

    record, radii = conformal_intervals(np.ones((5, 1, 1)), np.zeros((5, 1, 1)), np.ones((3, 1, 1)), np.zeros((3, 1, 1)))
    assert set(radii) == {80} and record["levels"]["95"]["coverage"] is None
    assert record["levels"]["95"]["reason"] == "5 validation windows are too few for a 95% interval (needs 19)"


@pytest.mark.parametrize("variant", ["STM", "OTM", "DSTM", "DOTM"])
def test_theta_from_later_origins_equals_statsforecast_forward_without_refitting(variant):
    from statsforecast.models import AutoTheta

    y, n, h = _seasonal(), 110, 5
    fitted = AutoTheta(season_length=1, model=variant).fit(y[:n])
    origins = np.array([n, n + 9, 150])
    got, method = theta_origin_forecasts(y, n, origins, h, 1, variant=variant)
    assert method == f"Theta({fitted.model_['modeltype']})"
    for row, o in enumerate(origins):  # season 1: no decomposition to re-estimate, so forward is the reference
        np.testing.assert_allclose(got[row], fitted.forward(y[:o], h)["mean"], rtol=1e-9)


def test_a_series_too_long_for_theta_leaves_it_undefined_with_the_limit(series_csv, monkeypatch):
    import builder.tasks.forecast as forecast
    from builder import ModelSpec
    from builder.data import load_table
    from builder.data.windows import series_targets
    from builder.tasks import prepare_frame

    monkeypatch.setattr(forecast, "STAT_MAX_ROWS", {"ets": 10**6, "theta": 100})
    data = prepare_frame(load_table(series_csv), ModelSpec().updated(data={"lookback": 14, "horizon": 1}))
    metrics = forecast.evaluate_forecast(data, series_targets(data, "test"))
    assert metrics["theta"]["mae"] is None and metrics["ets"]["mae"] is not None
    assert metrics["undefined"]["theta"] == "Theta is not fitted on series longer than 100 rows (this one has 120)"
    json.dumps(metrics, allow_nan=False)


# ---- actuals the file did not have (filled in by the missing-value policy) are left out of every score ----
def _with_holes(path, blank=(), drop=()):
    """The series CSV with the target `y` empty in rows `blank` and rows `drop` taken out (dates skipped);
    returns the original frame."""
    import pandas as pd

    full = pd.read_csv(path)
    df = full.copy()
    df.loc[list(blank), "y"] = np.nan
    df.drop(index=list(drop)).to_csv(path, index=False)
    return full


def _hand_scores(actual, pred, keep, scale):
    err = (actual - pred)[keep]
    den = np.abs(actual[keep]) + np.abs(pred[keep])
    return {"mae": np.abs(err).mean(), "rmse": np.sqrt((err ** 2).mean()), "smape": 100 * (2 * np.abs(err) / den).mean(),
            "mase": np.abs(err).mean() / scale}


def test_missing_test_actuals_are_left_out_of_the_model_and_every_baseline_alike(series_csv):
    from builder import ModelSpec
    from builder.data import load_table
    from builder.data.windows import series_targets
    from builder.tasks import prepare_frame
    from builder.tasks.forecast import evaluate_forecast, predictions_frame
    from builder.tasks.forecast_baselines import naive_forecast, seasonal_naive_forecast

    full = _with_holes(series_csv, blank=[104, 105, 113], drop=[108])  # 108: a skipped date in the test part
    spec = ModelSpec().updated(data={"lookback": 14, "horizon": 3})
    data = prepare_frame(load_table(series_csv), spec)
    L, H, m = 14, 3, data.season_length
    starts = data.window_starts("test")
    rows = starts[:, None] + L + np.arange(H)
    assert data.n_train + data.n_val == rows.min() <= 104  # the holes are in the test part's targets
    keep = ~np.isin(rows, [104, 105, 108, 113])
    actual = full["y"].to_numpy()[rows]  # the file's values (the filled ones are never scored)
    y = series_targets(data, "test")[:, :, 0]
    pred = y + np.linspace(-0.5, 0.5, y.size).reshape(y.shape)  # any model; filled points get a big error:
    pred[~keep] += 100.0  # if they were scored, every model figure would move
    metrics = evaluate_forecast(data, pred[:, :, None].astype(np.float32))
    json.dumps(metrics, allow_nan=False)
    assert metrics["unobserved_points"] == int((~keep).sum()) == metrics["left_out"]["points"] > 0
    assert metrics["left_out"]["note"] == (f"{int((~keep).sum())} test point(s) whose actual y was filled in "
                                           f"(missing in {data.source}) are left out of every score")
    train = full["y"].to_numpy()[: data.n_train]  # no hole in the training part: the usual scale
    scale = np.abs(train[m:] - train[:-m]).mean()
    series = data.target_values.astype(np.float64)  # baselines read filled values as inputs, as the model does
    forecasts = {"model": pred, "naive": naive_forecast(series, starts, L, H)[:, :, 0],
                 "seasonal_naive": seasonal_naive_forecast(series, starts, L, H, m)[:, :, 0]}
    for who, f in forecasts.items():
        hand = _hand_scores(actual, f, keep, scale)
        for metric, value in hand.items():
            assert metrics[who][metric] == pytest.approx(value, rel=1e-5), (who, metric)
        by_step = [np.abs(actual - f)[:, h][keep[:, h]].mean() for h in range(H)]
        np.testing.assert_allclose(metrics["by_step"]["mae"][who], by_step, rtol=1e-5)
    frame = predictions_frame(data, pred[:, :, None], "test")  # predictions.csv: no actual where the file had none
    assert frame["actual"].isna().sum() == (~keep).sum() and frame["error"].isna().sum() == (~keep).sum()


def test_the_mase_scale_takes_only_observed_pairs_one_season_apart():
    from builder.tasks.forecast_baselines import mase_scale

    train = np.array([[1.0], [2.0], [10.0], [4.0], [8.0]])
    observed = np.array([[True], [True], [False], [True], [True]])  # 10 was filled in
    assert mase_scale(train, 1, observed)[0] == pytest.approx((1 + 4) / 2)  # pairs (1,2) and (4,8) only
    assert mase_scale(train, 1)[0] == pytest.approx((1 + 8 + 6 + 4) / 4)
    assert np.isnan(mase_scale(train, 1, np.array([[True], [False], [True], [False], [True]]))[0])


def test_coverage_and_calibration_count_only_observed_actuals():
    from builder.tasks.forecast_intervals import conformal_intervals, conformal_radius

    rng = np.random.default_rng(7)
    y_cal, y = rng.normal(size=(40, 2, 1)), rng.normal(size=(30, 2, 1))
    obs_cal, obs = np.ones(y_cal.shape, bool), np.ones(y.shape, bool)
    obs_cal[:5, 0, 0] = False
    y_cal[:5, 0, 0] = 1e6  # filled-in calibration actuals far off: they must not widen the interval
    obs[::3, 1, 0] = False
    y[::3, 1, 0] = 1e6  # filled-in test actuals far off: they must not count as misses
    zeros_cal, zeros = np.zeros_like(y_cal), np.zeros_like(y)
    record, radii = conformal_intervals(y_cal, zeros_cal, y, zeros, observed_cal=obs_cal, observed=obs)
    json.dumps(record, allow_nan=False)
    assert radii[80][0, 0] == conformal_radius(np.abs(y_cal[5:, :1]), 80)[0, 0]
    inside = np.abs(y) <= radii[80][None]
    rec = record["levels"]["80"]
    assert rec["coverage"] == pytest.approx(inside[obs].mean())
    assert rec["coverage_by_step"] == pytest.approx([inside[:, 0][obs[:, 0]].mean(), inside[:, 1][obs[:, 1]].mean()])
    assert record["left_out"] == {"calibration_points": 5, "scored_points": 10}
    rolling, _ = conformal_intervals(y_cal, zeros_cal, y, zeros, starts=np.arange(30), observed_cal=obs_cal, observed=obs)
    assert rolling["levels"]["80"]["scored_points"] == obs.sum()
    assert rolling["levels"]["80"]["mean_width"] < 100  # the filled-in residuals never entered a pool
    same, _ = conformal_intervals(y_cal, zeros_cal, y, zeros, starts=np.arange(30), observed_cal=np.ones_like(obs_cal),
                                  observed=np.ones_like(obs))  # all observed: exactly the unmasked record
    assert same == conformal_intervals(y_cal, zeros_cal, y, zeros, starts=np.arange(30))[0]


@pytest.mark.parametrize("window", [None, 6])
def test_rolling_radii_pool_only_observed_residuals(window):
    from builder.tasks.forecast_intervals import adaptive_radii

    rng = np.random.default_rng(4)
    res_cal, res = rng.uniform(size=(8, 2, 1)), rng.uniform(size=(12, 2, 1))
    starts = np.arange(20, 32)
    obs_cal, obs = rng.random(res_cal.shape) > 0.3, rng.random(res.shape) > 0.3
    got, final = adaptive_radii(res_cal, res, starts, 80, window, 0.05, obs_cal, obs)
    # the same as leaving the unobserved residuals out by hand: an observed-only series per step
    ref_cal = np.where(obs_cal, res_cal, np.nan)
    ref = np.where(obs, res, np.nan)
    for h in range(2):
        for i, s in enumerate(starts):
            seen = np.concatenate([ref_cal[:, h, 0], ref[starts + h < s, h, 0]])
            pool = seen[~np.isnan(seen)]
            pool = pool if window is None else pool[-window:]
            if len(pool) < 4:
                assert np.isinf(got[i, h, 0])
    whole, _ = adaptive_radii(res_cal, res, starts, 80, window, 0.05)
    same, _ = adaptive_radii(res_cal, res, starts, 80, window, 0.05, np.ones_like(obs_cal), np.ones_like(obs))
    np.testing.assert_array_equal(same, whole)
    plain, _ = adaptive_radii(res_cal, res, starts, 80, window, 0.0, obs_cal, obs)  # gamma 0: the pool's quantile
    from builder.tasks.forecast_intervals import conformal_radius

    for h in range(2):
        for i, s in enumerate(starts):
            seen = np.concatenate([ref_cal[:, h, 0], ref[starts + h < s, h, 0]])
            pool = seen[~np.isnan(seen)]
            pool = pool if window is None else pool[-window:]
            assert plain[i, h, 0] == conformal_radius(pool[:, None, None], 80)[0, 0]
    assert np.isfinite(final).all()
