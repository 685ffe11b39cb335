"""The Evaluate page judges a forecast against its best baseline, not its weakest."""

from __future__ import annotations

from tests.app.conftest import make_app, seeded
from tests.app.test_pages import _fake_run


def _scores(v: float | None) -> dict:
    return {"mae": v, "rmse": v, "smape": v, "mase": v}


def _forecast_metrics(model: float) -> dict:
    """Seasonal naive 1.0, ETS 1.2, naive 4.0, Theta undefined; horizon 2."""
    return {"task": "forecast", "part": "test", "n_windows": 5, "season_length": 12, "lookback": 12, "horizon": 2,
            "model": _scores(model), "naive": _scores(4.0), "seasonal_naive": _scores(1.0), "ets": _scores(1.2),
            "theta": _scores(None), "baselines": {"ets": {"method": ["ETS(M,Ad,M)"], "fit_part": "train"}},
            "by_step": {"mae": {"model": [model, model], "naive": [4.0, 4.0], "seasonal_naive": [1.0, 1.0],
                                "ets": [1.1, 1.3]}},
            "model_mae_by_step": [model, model], "undefined": {"theta": "Theta could not be fitted on the 20 training rows"}}


def test_a_model_worse_than_seasonal_naive_gets_a_warning_and_red_cards(tiny_csv, studio_home) -> None:
    _fake_run(studio_home, "run-bad", _forecast_metrics(3.0))  # better than naive, 3x worse than seasonal naive
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-bad"), timeout=300)
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "**Verdict:** worse than seasonal naive (m=12) by 200% MASE (MASE 3 vs 1): try a lookback of at least two "
        "seasons (24 steps; now 12), a seasonal residual or "
        "calendar covariates, more epochs or a smaller model"]
    assert not at.success
    mae = next(m for m in at.metric if m.label == "MAE")
    assert mae.delta == "+2 vs seasonal naive"  # against the best baseline (drawn red: lower is better)
    table = at.dataframe[0].value
    assert list(table.index) == ["model", "naive (last value)", "seasonal naive (m=12)", "ETS(M,Ad,M)", "Theta"]


def test_a_model_that_beats_every_baseline_says_so(tiny_csv, studio_home) -> None:
    note = "7 test point(s) whose actual y was filled in (missing in F.csv) are left out of every score"
    _fake_run(studio_home, "run-good", {**_forecast_metrics(0.8), "unobserved_points": 7,
                                        "left_out": {"points": 7, "by_target": {"y": 7}, "note": note}})
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-good"), timeout=300)
    assert not at.exception
    assert [w.value for w in at.success] == [
        "**Verdict:** beats every baseline (best: seasonal naive (m=12), MASE 0.8 vs 1, 20% lower)"]
    assert next(m for m in at.metric if m.label == "MASE").delta == "-0.2 vs seasonal naive"
    assert f"Note: {note}." in [c.value for c in at.caption]  # actuals the file did not have are not scored


def test_intervals_coverage_and_a_backtest_panel(tiny_csv, studio_home) -> None:
    from builder.training.runs import Run

    metrics = _forecast_metrics(0.8)
    metrics["intervals"] = {"calibration_windows": 30, "label": "adaptive conformal over the 30 most recent residuals",
                            "levels": {
        "80": {"coverage": 0.77, "mean_width": 2.5, "coverage_by_step": [0.8, 0.74], "radius": [[1.2], [1.3]],
               "windows": 30},
        "95": {"coverage": None, "reason": "5 validation windows are too few for a 95% interval (needs 19)"}}}
    _fake_run(studio_home, "run-bt", metrics)
    backtest = {**_forecast_metrics(1.5), "origins": 2, "refit": False, "data": "series.csv",
                "verdict": "worse than seasonal naive (m=12) by 50% MASE (MASE 1.5 vs 1): try more epochs",
                "per_origin": [{"origin": 100, "time": "2020-01-01", "model": 1.4, "naive": 4.0, "seasonal_naive": 1.0},
                               {"origin": 102, "time": "2020-01-03", "model": 1.6, "naive": 4.0, "seasonal_naive": 1.0}]}
    Run(studio_home / "runs" / "run-bt").write_json("backtest.json", backtest)
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-bt"), timeout=300)
    assert not at.exception
    coverage = at.dataframe[1].value
    assert coverage["interval"].tolist() == ["80%", "95%"] and coverage["test coverage"].iloc[0] == 0.77
    assert "needs 19" in coverage["note"].iloc[1]
    assert coverage["calibrated range"].iloc[0] == "66.7%-90.0% on 30 windows"
    assert coverage["note"].iloc[0].startswith("within what a calibrated interval scores")
    assert any(c.value.startswith("Calibrated range: the test coverage an exactly calibrated") for c in at.caption)
    assert any(m.value.startswith("**Prediction intervals** (adaptive conformal over the 30 most recent residuals;")
               for m in at.markdown), "the page names how the run's intervals were calibrated"
    assert any("Backtest verdict: worse than seasonal naive (m=12) by 50% MASE" in m.value for m in at.markdown)
    assert list(at.dataframe[2].value.index)[:3] == ["model", "naive (last value)", "seasonal naive (m=12)"]
