"""Explanations: integrated gradients add up to f(x) - f(baseline) (completeness), saliency is the
gradient, padding gets nothing, and the CLI writes one row per step and feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder import build_model, load_preset
from builder.data import DataError
from builder.serving.explain import baseline_for, explain_window
from tests.unit.test_pipeline import tiny


def _forecast_model():
    import keras

    keras.utils.set_random_seed(0)  # the same weights whatever ran before (the gap depends on them)
    spec = tiny(load_preset("stacked_lstm"), lookback=10, horizon=3)
    model = build_model(spec, 2, 1)
    model.get_layer("standardize").set_statistics(np.array([10.0, 0.0]), np.array([3.0, 0.7]))
    meta = {"task": "forecast", "resolved": {"horizon": 3, "targets": ["y"], "inputs": ["y", "x"], "season_length": 4}}
    return model, meta


def _window(seed: int = 0, t: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([10 + 3 * rng.standard_normal(t), 0.7 * rng.standard_normal(t)], axis=1).astype("float32")


@pytest.mark.parametrize("baseline", ["mean", "seasonal_naive"])
def test_integrated_gradients_are_complete(baseline):
    model, meta = _forecast_model()
    expl = explain_window(model, meta, _window(), baseline=baseline, steps=256, step=2)
    delta = expl.f_x - expl.f_baseline
    assert abs(delta) > 1e-4, "a test that can fail: the window differs from its baseline"
    assert expl.completeness_gap < 0.01, (expl.integrated_gradients.sum(), delta)
    assert expl.integrated_gradients.shape == expl.saliency.shape == (10, 2)
    np.testing.assert_allclose(expl.f_x, np.asarray(model(_window()[None]))[0, 1, 0], rtol=1e-5)


def test_seasonal_naive_baseline_repeats_the_last_season():
    model, meta = _forecast_model()
    x = _window()
    b = baseline_for(meta, model, x, "seasonal_naive")
    np.testing.assert_array_equal(b[-4:], x[-4:])
    np.testing.assert_array_equal(b[:6], x[[8, 9, 6, 7, 8, 9]])  # phase kept: b[t] = x[t + k m]
    np.testing.assert_allclose(baseline_for(meta, model, x, "mean"), np.tile([[10.0, 0.0]], (10, 1)))


def test_saliency_is_the_gradient():
    model, meta = _forecast_model()
    x = _window(1)
    expl = explain_window(model, meta, x, steps=4, step=1)
    eps = 1e-2
    for t, f in ((9, 0), (3, 1)):
        hi, lo = x.copy(), x.copy()
        hi[t, f] += eps
        lo[t, f] -= eps
        fd = (np.asarray(model(hi[None]))[0, 0, 0] - np.asarray(model(lo[None]))[0, 0, 0]) / (2 * eps)
        assert expl.saliency[t, f] == pytest.approx(float(fd), rel=0.05, abs=1e-4)


def test_classified_sequence_padding_gets_no_attribution():
    spec = tiny(load_preset("bigru_classifier"))
    model = build_model(spec, 2, 3)
    model.get_layer("standardize").set_statistics(np.array([10.0, 0.0]), np.array([3.0, 0.7]))
    meta = {"task": "classify", "resolved": {"classes": ["a", "b", "c"], "inputs": ["a", "b"]}}
    x = np.full((12, 2), np.nan, dtype="float32")
    x[:7] = _window(2, 7)
    expl = explain_window(model, meta, x, steps=256)
    assert "probability of class" in expl.output
    assert np.all(expl.integrated_gradients[7:] == 0) and np.all(expl.saliency[7:] == 0)
    assert np.isfinite(expl.integrated_gradients).all() and expl.completeness_gap < 0.01
    with pytest.raises(DataError, match="seasonal_naive: only for forecasts"):
        explain_window(model, meta, x, baseline="seasonal_naive")
    with pytest.raises(DataError, match="--class 5"):
        explain_window(model, meta, x, klass=5)


def test_cli_explain(series_csv, tmp_path, capsys):
    from builder.__main__ import main
    from builder.data import load_table
    from builder.tasks import prepare_frame
    from tests.unit.built_runs import built_run

    spec = tiny(load_preset("stacked_lstm"), lookback=8, horizon=2)
    run = built_run(spec, prepare_frame(load_table(series_csv), spec), tmp_path / "run", saved_model=False)  # no fit
    out = tmp_path / "attributions.csv"
    assert main(["explain", "--run", str(run.path), "--data", str(series_csv), "--index", "5", "--out", str(out),
                 "--steps", "32", "--baseline", "seasonal_naive"]) == 0
    printed = capsys.readouterr().out
    assert "gap" in printed and "seasonal_naive" in printed
    table = pd.read_csv(out)
    assert len(table) == 8 * 2 and list(table.columns) == ["time", "step", "feature", "value", "baseline",
                                                          "integrated_gradients", "saliency"]
    assert table["time"].iloc[0] == "2020-01-06", "window 5 starts at row 5"
    assert main(["explain", "--run", str(run.path), "--data", str(series_csv), "--index", "500", "--out", str(out)]) == 2
    assert "--index 500" in capsys.readouterr().err


def test_cli_explain_says_what_it_assumed_and_needs_the_time_column(series_csv, tmp_path, capsys):
    from builder.__main__ import main
    from builder.data import load_table
    from builder.tasks import prepare_frame
    from tests.unit.built_runs import built_run

    spec = tiny(load_preset("stacked_lstm"), lookback=8, horizon=2)
    run = built_run(spec, prepare_frame(load_table(series_csv), spec), tmp_path / "run", saved_model=False)
    df = pd.read_csv(series_csv)
    df.iloc[::-1].to_csv(tmp_path / "newest_first.csv", index=False)
    out = tmp_path / "a.csv"
    assert main(["explain", "--run", str(run.path), "--data", str(tmp_path / "newest_first.csv"), "--index", "5",
                 "--out", str(out), "--steps", "8"]) == 0
    assert "note: rows were not in time order; sorted by `time`" in capsys.readouterr().err
    assert pd.read_csv(out)["time"].iloc[0] == "2020-01-06"
    # before: a file without the run's time column was explained in file order, without a word
    df.rename(columns={"time": "date"}).iloc[::-1].to_csv(tmp_path / "renamed.csv", index=False)
    assert main(["explain", "--run", str(run.path), "--data", str(tmp_path / "renamed.csv"), "--index", "5",
                 "--out", str(out), "--steps", "8"]) == 2
    assert "time column `time` (used in training) not found" in capsys.readouterr().err
