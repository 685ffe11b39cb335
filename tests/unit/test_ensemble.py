"""training.ensemble: N members served as one model whose output is their element-wise median (forecast)
or the mean of their class probabilities (classify)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.model.layers import EnsembleMean, EnsembleMedian, ensemble_median
from tests.conftest import make_sequences_csv, make_series_csv


def _constant_model(value: float) -> keras.Model:
    """Raw windows [batch, 4, 1] -> value + the window's last step, [batch, 2, 1]."""
    inp = keras.Input(shape=(4, 1))
    last = keras.layers.Lambda(lambda x: x[:, -1:, :])(inp)
    out = keras.layers.Concatenate(axis=1)([last + value, last + 2 * value])
    return keras.Model(inp, out)


def test_ensemble_median_of_known_members() -> None:
    members = [_constant_model(v) for v in (1.0, 10.0, -3.0, 4.0, 2.0)]
    model = ensemble_median(members)
    x = np.arange(8, dtype="float32").reshape(2, 4, 1)
    out = np.asarray(model.predict(x, verbose=0))
    expected = np.median(np.stack([np.asarray(m.predict(x, verbose=0)) for m in members]), axis=0)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(out[:, 0, 0], x[:, -1, 0] + 2.0)  # median of (1, 10, -3, 4, 2) = 2
    even = EnsembleMedian()([np.array([[1.0]]), np.array([[3.0]]), np.array([[10.0]]), np.array([[4.0]])])
    np.testing.assert_allclose(np.asarray(even), [[3.5]])  # an even count: mean of the two middle values
    keras.backend.clear_session()


def test_ensemble_mean_of_known_members() -> None:
    members = [_constant_model(v) for v in (1.0, 10.0, -3.0)]
    model = ensemble_median(members, combine="mean")
    x = np.arange(8, dtype="float32").reshape(2, 4, 1)
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0))[:, 0, 0], x[:, -1, 0] + 8.0 / 3.0, rtol=1e-6)
    assert isinstance(model.layers[-1], EnsembleMean)
    keras.backend.clear_session()


def test_classify_ensemble_serves_the_mean_probabilities(tmp_path) -> None:
    """A 2-member classify run: the saved model's probabilities are the members' mean, still a
    distribution, and the metrics are scored on them."""
    from builder.serving.export import load_run_model
    from builder.training.fit import train_run
    from builder.training.runs import Run

    csv = make_sequences_csv(tmp_path / "seq.csv")
    spec = ModelSpec.from_dict({"task": "classify", "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 2, "patience": None, "baselines": "off", "ensemble": 2}})
    run = tmp_path / "run"
    metrics = train_run(spec, csv, run)
    model = load_run_model(Run(run))
    x = pd.read_csv(csv).query("sequence_id < 3")
    batch = np.stack([g[["a", "b"]].to_numpy(np.float32)[:8] for _, g in x.groupby("sequence_id")])
    probs = np.asarray(model.predict(batch, verbose=0))
    members = np.stack([np.asarray(model.get_layer(f"member_{i}").predict(batch, verbose=0)) for i in range(2)])
    np.testing.assert_allclose(probs, members.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(members[0], members[1])
    preds = pd.read_csv(run / "predictions.csv")
    np.testing.assert_allclose((preds["actual"] == preds["predicted"]).mean(), metrics["model"]["accuracy"])
    _serving_tools_take_the_ensemble(Run(run), model, batch[0], tmp_path)
    keras.backend.clear_session()


def _serving_tools_take_the_ensemble(run, model, window: np.ndarray, tmp_path) -> None:
    """The tools that read the model's input statistics find them in a member (all members share them);
    the code generator, which writes one network, refuses the run with the reason."""
    from builder.app import export_options
    from builder.model.layers import input_scaler
    from builder.serving.codegen import CodegenError, code_from_run
    from builder.serving.convert import check_windows
    from builder.serving.explain import baseline_for

    meta = run.metadata()
    stats = input_scaler(model)
    np.testing.assert_array_equal(np.asarray(stats.mean), np.asarray(model.get_layer("member_1").get_layer("standardize").mean))
    assert check_windows(model, meta, n=2).shape[0] == 2
    np.testing.assert_allclose(baseline_for(meta, model, window, "mean")[0], np.asarray(stats.mean), rtol=1e-6)
    with pytest.raises(CodegenError, match=r"training.ensemble: the run serves 2 networks combined"):
        code_from_run(run, tmp_path / "code" / "model.py")
    # the Export page asks the same blocker: no code button, the reason instead
    assert export_options(meta, run.read_json("spec.json"))["code"].startswith("training.ensemble: the run serves 2")


def test_ensemble_validated() -> None:
    assert ModelSpec().training.ensemble == 1
    with pytest.raises(ValueError, match="ensemble"):
        ModelSpec().updated(training={"ensemble": 0})


def test_ensemble_run_serves_the_median_in_raw_units(tmp_path) -> None:
    """A 3-member run: its metrics are the median model's, and the SavedModel (TensorFlow alone) returns
    the same raw-unit forecasts as the median of the members trained alone with the same seeds."""
    from builder.serving.export import load_run_model
    from builder.training.fit import train_run
    from builder.training.runs import Run

    csv = make_series_csv(tmp_path / "series.csv", n=120, covariate=False)
    spec = ModelSpec.from_dict({"name": "tiny", "task": "forecast", "data": {"lookback": 8, "horizon": 2},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 1, "batch_size": 64, "patience": None, "ensemble": 3}})
    run = tmp_path / "run"
    metrics = train_run(spec, csv, run)
    y = pd.read_csv(csv)["y"].to_numpy(np.float32)
    x = np.stack([y[i:i + 8] for i in (0, 50, 100)])[:, :, None]
    model = load_run_model(Run(run))
    assert [layer.name for layer in model.layers if layer.name.startswith("member_")] == ["member_0", "member_1", "member_2"]
    keras_pred = np.asarray(model.predict(x, verbose=0))
    members = np.stack([np.asarray(model.get_layer(f"member_{i}").predict(x, verbose=0)) for i in range(3)])
    np.testing.assert_allclose(keras_pred, np.median(members, axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(members[0], members[1])  # different seeds, different members
    preds = pd.read_csv(run / "predictions.csv")
    np.testing.assert_allclose((preds["actual"] - preds["predicted"]).abs().mean(), metrics["model"]["mae"], rtol=1e-5)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        m = tf.saved_model.load({str(run / 'saved_model')!r})
        np.save({str(tmp_path / 'tf.npy')!r}, m.serve(tf.constant(np.load({str(tmp_path / 'x.npy')!r}))).numpy())
        assert not any(k.startswith("builder") for k in sys.modules), "builder was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "tf.npy"), keras_pred, atol=1e-4, rtol=1e-5)
    assert json.loads((run / "spec.json").read_text())["training"]["ensemble"] == 3
