"""The autoregressive forecast form (`forecast_form: autoregressive`, builder.model.autoregressive): the
roll on its own forecasts, the one-step training loss, sizes, the rules for specs and data, and the run's
model through model.keras, the SavedModel, generated code and ONNX / LiteRT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from builder import ModelSpec
from builder.__main__ import main
from builder.data import load_table
from builder.data.read import DataError
from builder.tasks import prepare_frame
from builder.tasks.registry import get_task
from tests.conftest import make_series_csv

H = 3


def _spec(blocks=None, **top) -> ModelSpec:
    return ModelSpec.from_dict({
        "name": "ar", "task": "forecast", "forecast_form": "autoregressive",
        "data": {"lookback": 10, "horizon": H, "known_future": ["x"], "season_length": 7},
        "blocks": blocks or [{"kind": "recurrent", "cell": "gru", "units": 5, "num_layers": 2},
                             {"kind": "dense", "units": 4, "activation": "tanh"}],
        "training": {"epochs": 1, "batch_size": 16, "patience": None}, **top})


@pytest.fixture(scope="module")
def ar_data(tmp_path_factory):
    csv = make_series_csv(tmp_path_factory.mktemp("ar") / "s.csv", n=120)
    return csv, prepare_frame(load_table(csv), _spec())


@pytest.fixture(scope="module")
def ar_run(tmp_path_factory, ar_data):
    """A built (untrained) autoregressive run with the SavedModel."""
    from tests.unit.built_runs import built_run

    return built_run(_spec(), ar_data[1], tmp_path_factory.mktemp("arrun") / "run")


def test_the_forecast_is_the_stack_run_on_its_own_forecasts(ar_data):
    """Each forecast step equals the stack run from zero state over the window's steps and the earlier
    forecasts (state carried between steps = the whole sequence read again), plus the value one season
    before, with the lead columns as the next step's covariate."""
    from tests.unit.built_runs import built_model

    _, data = ar_data
    raw, resolved = built_model(_spec(), data, seed=3)
    layer, scale = raw.get_layer("autoregressive"), raw.get_layer("standardize")
    assert layer.lag == 7
    rng = np.random.default_rng(0)
    window = rng.normal(size=(2, 10, len(resolved.inputs))).astype(np.float32)
    scaled = np.asarray(scale(window))
    got = np.asarray(layer(scaled))  # [2, H, 1]
    names = list(resolved.inputs)
    x, leads = names.index("x"), [names.index(f"x@+{j}") for j in range(1, H + 1)]
    series, cov = scaled[:, :, 0].copy(), np.concatenate([scaled[:, :, x], scaled[:, -1, leads]], axis=1)  # cov[t]: step t's
    for j in range(H):
        z = series[:, 7:] - series[:, :-7]  # [2, T - 7]
        seq = np.stack([z, cov[:, 8 : 8 + z.shape[1]]], axis=-1).astype(np.float32)
        zhat, _ = layer._run(seq, None, False)
        step = np.asarray(zhat)[:, -1, 0] + series[:, -7]
        np.testing.assert_allclose(got[:, j, 0], step, rtol=1e-4, atol=1e-5)
        series = np.concatenate([series, step[:, None]], axis=1)


def test_training_adds_the_one_step_loss_and_the_forecast_carries_no_gradient(ar_data):
    import keras
    import tensorflow as tf

    from builder.model.build import build_model

    _, data = ar_data
    model = build_model(_spec(), get_task("forecast").resolve(data))
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 10, model.input.shape[-1])).astype(np.float32))
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        forecast_loss = tf.reduce_mean(out)
    grads = tape.gradient(forecast_loss, model.trainable_weights)
    assert all(g is None for g in grads)
    assert len(model.losses) == 1 and float(model.losses[0]) > 0
    assert keras.ops.shape(out) == (4, H, 1)


def test_a_one_epoch_run_trains_and_scores_beside_the_baselines(tmp_path, capsys):
    csv = make_series_csv(tmp_path / "s.csv", n=120)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(_spec().model_dump(mode="json")))
    assert main(["train", "--data", str(csv), "--spec", str(spec), "--out", str(tmp_path / "run"), "--epochs", "2"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert np.isfinite(metrics["model"]["mase"]) and "seasonal_naive" in metrics
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["loss"] < history[0]["loss"] * 1.5


@pytest.mark.parametrize("blocks", [
    [{"kind": "recurrent", "cell": "lstm", "units": 6}],
    [{"kind": "recurrent", "cell": "peephole_lstm", "units": 4},
     {"kind": "recurrent", "cell": "lstm_proj", "units": 6, "proj_units": 3}, {"kind": "dense", "units": 2}],
    [{"kind": "recurrent", "cell": "simple_rnn", "units": 3, "num_layers": 3}],
])
def test_the_size_estimate_equals_keras(ar_data, blocks):
    from builder.model.build import build_model
    from builder.model.size import estimate_params

    spec = _spec(blocks=blocks)
    resolved = get_task("forecast").resolve(ar_data[1])
    assert estimate_params(spec, resolved) == build_model(spec, resolved).count_params()


@pytest.mark.parametrize(("change", "message"), [
    ({"blocks": [{"kind": "conv", "filters": 4}, {"kind": "recurrent"}]}, "recurrent and dense blocks only"),
    ({"blocks": [{"kind": "recurrent", "bidirectional": True}]}, "reads the past only"),
    ({"residual_base": "season_drift"}, "expected auto, last or season, got season_drift"),
    ({"residual_space": "log"}, "takes raw; got log"),
    ({"task": "classify"}, "a form of task `forecast`"),
])
def test_specs_the_form_cannot_run_are_refused(change, message):
    base = _spec().model_dump(mode="json")
    with pytest.raises(ValueError, match=message):
        ModelSpec.from_dict({**base, **change})


def test_a_covariate_not_known_in_advance_is_named(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=120)
    spec = ModelSpec.from_dict({**_spec().model_dump(mode="json"),
                                "data": {"lookback": 10, "horizon": H, "features": ["x"], "season_length": 7}})
    with pytest.raises(DataError, match=r"\['x'\] are not in data.known_future"):
        prepare_frame(load_table(csv), spec)
    short = ModelSpec.from_dict({**_spec().model_dump(mode="json"),
                                 "data": {"lookback": 8, "horizon": H, "known_future": ["x"], "season_length": 7}})
    with pytest.raises(DataError, match="needs a lookback of at least 9; found 8"):
        prepare_frame(load_table(csv), short)


def test_keras_file_saved_model_and_generated_code_agree(ar_run, tmp_path):
    import keras
    import tensorflow as tf

    from builder.serving.codegen import code_from_run, load_generated
    from builder.serving.convert import check_windows

    meta = ar_run.metadata()
    x = check_windows(keras.saving.load_model(ar_run.file("model.keras")), meta, n=3, seed=2)
    ref = np.asarray(keras.saving.load_model(ar_run.file("model.keras"))(x))
    saved = tf.saved_model.load(str(ar_run.file("saved_model")))  # kept: its functions need the object
    served = saved.serve(tf.constant(x)).numpy()
    np.testing.assert_allclose(served, ref, rtol=1e-5, atol=1e-5)
    code, _ = code_from_run(ar_run, tmp_path / "model_code.py")
    text = code.read_text()
    assert "class AutoregressiveForecast" in text and "from builder" not in text and "import builder" not in text
    generated = load_generated(code).load_trained()
    np.testing.assert_allclose(np.asarray(generated(x)), ref, rtol=1e-5, atol=1e-5)
    assert ref.shape == (3, H, 1)


def test_onnx_and_litert_exports_match_the_saved_model(ar_run, tmp_path):
    from builder.serving.convert import convert_run

    for fmt in ("onnx", "litert"):
        done = convert_run(ar_run, fmt, tmp_path / fmt)
        assert done.max_abs_diff <= 1e-5, (fmt, done.max_abs_diff)
