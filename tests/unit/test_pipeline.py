"""Every preset builds and trains; a run directory is complete; the SavedModel serves raw units with TF alone."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec, build_model, list_presets, load_preset
from builder.data import load_table
from builder.data.windows import series_windows
from builder.tasks import prepare_frame
from builder.training.fit import TrainingError, fit, train_run
from builder.training.runs import Run

TINY = {"epochs": 1, "batch_size": 16}


def tiny(spec: ModelSpec, **data) -> ModelSpec:
    """Shrink a preset: at most 8 units per layer, one epoch."""
    blocks = []
    for b in spec.model_dump(mode="json")["blocks"]:
        for key in ("units", "filters"):
            if key in b:
                b[key] = min(b[key], 8)
        if b.get("proj_units"):
            b["proj_units"] = 4
        blocks.append(b)
    return spec.updated(blocks=blocks, training=TINY, data=data)


@pytest.mark.parametrize("name", [p["name"] for p in list_presets()])
def test_every_preset_builds_and_trains_one_epoch(name, series_csv, sequences_csv, trees_csv):
    spec = load_preset(name)
    if spec.task == "tree":  # a node table (tests/unit/test_tree_task.py covers the task end to end)
        # the fixture's nodes have up to 3 children: an N-ary preset takes N from the data here
        spec = tiny(spec.updated(blocks=[{**b, "arity": None} if b["kind"] == "recurrent" else b
                                         for b in spec.model_dump(mode="json")["blocks"]]))
        data = prepare_frame(load_table(trees_csv), spec)
        n_out = 2
    elif spec.task == "generate":  # a text, not a table
        spec = tiny(spec, lookback=10)
        data = prepare_frame(pd.DataFrame({"text": ["a stitch in time saves nine. " * 30]}), spec)
        assert build_model(spec, 1, len(data.vocab)).output_shape == (None, None, len(data.vocab))
        result = fit(spec, data)
        assert len(result.history) == 1 and np.isfinite(result.history[0]["loss"])
        return
    elif spec.task == "translate":  # a table of text pairs (tests/unit/test_translate.py covers the task)
        spec = tiny(spec, source_col="source", target_col="target").updated(embedding_dim=4)
        data = prepare_frame(pd.DataFrame({"source": [f"{d} {m}" for d in range(1, 21) for m in ("may", "jun")],
                                           "target": [f"{m}-{d:02d}" for d in range(1, 21) for m in ("05", "06")]}), spec)
        result = fit(spec, data)
        assert len(result.history) == 1 and np.isfinite(result.history[0]["loss"])
        return
    elif spec.task == "forecast":
        spec = tiny(spec, lookback=8, horizon=2)
        data = prepare_frame(load_table(series_csv), spec)
        n_out = 1
    else:
        spec = tiny(spec)
        data = prepare_frame(load_table(sequences_csv), spec)
        n_out = 2
    model = build_model(spec, 2, n_out)
    expected = {"forecast": (None, 2, 1), "label_steps": (None, None, 2)}.get(spec.task, (None, 2))
    assert model.output_shape == expected
    result = fit(spec, data)
    assert len(result.history) == 1 and np.isfinite(result.history[0]["loss"])


def test_forecast_run_directory_and_saved_model_round_trip(series_csv, tmp_path):
    spec = tiny(load_preset("stacked_lstm"), lookback=8, horizon=3).updated(training={"epochs": 2})
    run_dir = tmp_path / "run"
    metrics = train_run(spec, series_csv, run_dir)
    for name in ("spec.json", "history.jsonl", "status.json", "model.keras", "metrics.json", "predictions.csv",
                 "metadata.json", "saved_model/saved_model.pb"):
        assert (run_dir / name).exists(), name
    assert not (run_dir / "data.json").exists(), "metadata.json is the one description of the data"
    run = Run(run_dir)
    assert run.status()["state"] == "finished" and len(run.history()) == 2
    assert set(metrics) >= {"model", "naive", "seasonal_naive"} and metrics["season_length"] == 7
    meta = json.loads((run_dir / "metadata.json").read_text())
    r = meta["resolved"]
    assert meta["format"] == "rnn-studio/2" and meta["task"] == "forecast"
    assert (r["lookback"], r["horizon"], r["inputs"], r["targets"], r["time_col"]) == (8, 3, ["y", "x"], ["y"], "time")
    assert meta["serving"]["input"]["shape"] == [None, 8, 2]
    assert json.loads((run_dir / "spec.json").read_text()) == spec.model_dump(mode="json"), "spec.json: the user's spec"
    preds = pd.read_csv(run_dir / "predictions.csv")
    assert len(preds) == metrics["n_windows"] * 3 and set(preds["step"]) == {1, 2, 3}
    np.testing.assert_allclose((preds["actual"] - preds["predicted"]).abs().mean(), metrics["model"]["mae"], rtol=1e-5)

    # the .keras model on raw windows, against the SavedModel in a process that imports only tensorflow
    from builder.serving.export import load_run_model

    data = prepare_frame(load_table(series_csv), spec)
    x, y = series_windows(data, "test")
    keras_pred = load_run_model(run).predict(x, verbose=0)
    assert keras_pred.shape == y.shape
    # raw units: predictions live on the data's scale, not the standardised one
    assert abs(keras_pred.mean() - y.mean()) < 5 * y.std()
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        m = tf.saved_model.load({str(run_dir / 'saved_model')!r})
        np.save({str(tmp_path / 'tf.npy')!r}, m.serve(tf.constant(np.load({str(tmp_path / 'x.npy')!r}))).numpy())
        assert not any(k.startswith("builder") for k in sys.modules), "builder was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "tf.npy"), keras_pred, atol=1e-5, rtol=1e-5)


def test_classification_run(sequences_csv, tmp_path):
    spec = tiny(load_preset("bigru_classifier")).updated(training={"epochs": 2})
    metrics = train_run(spec, sequences_csv, tmp_path / "run")
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["n_sequences"] == 4
    preds = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert len(preds) == 4 and list(preds.columns) == ["sequence", "actual", "predicted", "p_fast", "p_slow"]
    accuracy = float((preds["actual"] == preds["predicted"]).mean())
    assert metrics["task"] == "classify" and metrics["model"]["accuracy"] == pytest.approx(accuracy)
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["resolved"]["classes"] == ["fast", "slow"] and meta["resolved"]["horizon"] is None
    assert meta["serving"]["input"]["shape"] == [None, None, 2], "any length, NaN-padded"


@pytest.mark.parametrize(("preset", "jit", "xla"), [
    ("deep_gru", "auto", True),  # recurrent dropout: Keras's loop, so "auto" means XLA on the CPU
    ("deep_gru", False, False),
    ("cifg", "auto", False),  # fused loop: "auto" means no whole-step XLA, batch shards in parallel
])
def test_training_is_deterministic_under_a_seed(series_csv, preset, jit, xla):
    # dropout (and for deep_gru recurrent dropout), so the seeded random streams are exercised too
    spec = tiny(load_preset("stacked_lstm" if preset == "cifg" else preset), lookback=8)
    if preset == "cifg":
        spec = spec.updated(blocks=[{"kind": "recurrent", "cell": "cifg_lstm", "units": 4, "num_layers": 2,
                                     "dropout": 0.2, "recurrent_dropout": 0.1}])
    spec = spec.updated(training={"epochs": 2, "jit_compile": jit, "batch_size": 8})
    data = prepare_frame(load_table(series_csv), spec)
    a = fit(spec, data)
    b = fit(spec, data)
    assert a.model.jit_compile is xla
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    np.testing.assert_array_equal(a.model.get_weights()[1], b.model.get_weights()[1])


def test_a_run_does_not_depend_on_what_the_process_ran_before(series_csv, tmp_path):
    # train_run builds the shuffled pipelines before fit seeds: they must not take the global seed a
    # previous run (or anything else in the process) left behind
    import keras

    spec = tiny(load_preset("stacked_lstm"), lookback=8).updated(training={"epochs": 2, "batch_size": 8, "seed": 1})
    first = train_run(spec, series_csv, tmp_path / "a")
    keras.utils.set_random_seed(42)  # as a seed-42 run before it would leave the process
    second = train_run(spec, series_csv, tmp_path / "b")
    assert first["model"] == second["model"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "predictions.csv"),
                                  pd.read_csv(tmp_path / "b" / "predictions.csv"))


def test_blocks_of_batches_per_call_train_the_same_model(series_csv):
    """steps_per_execution (capped at one epoch) changes how often Python sees a batch, not the model."""
    spec = tiny(load_preset("stacked_lstm"), lookback=8).updated(training={"epochs": 2, "batch_size": 8})
    data = prepare_frame(load_table(series_csv), spec)
    blocks = fit(spec, data)
    one = fit(spec.updated(training={"steps_per_execution": 1}), data)
    steps = int(np.ceil(len(data.window_starts("train")) / 8))
    assert steps > 1 and blocks.model.steps_per_execution == min(16, steps) and one.model.steps_per_execution == 1
    np.testing.assert_allclose([r["loss"] for r in blocks.history], [r["loss"] for r in one.history], rtol=1e-5)
    for a, b in zip(blocks.model.get_weights(), one.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_fresh_process_loads_a_runs_model(series_csv, tmp_path):
    """load_run_model registers every layer class itself (the evaluate page in a new app process
    could not find FusedLSTM: other imports in the same process had hidden it)."""
    spec = tiny(load_preset("stacked_lstm"), lookback=8)
    model = build_model(spec, 2, 1)
    run = Run(tmp_path / "run")
    run.path.mkdir()
    model.save(run.file("model.keras"))
    code = ("import sys; from builder.serving.export import load_run_model; from builder.training.runs import Run; "
            "load_run_model(Run(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", code, str(run.path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_nan_loss_stops_with_advice(series_csv):
    spec = tiny(load_preset("simple_rnn_baseline"), lookback=8).updated(
        training={"learning_rate": 10.0, "clipnorm": None, "optimizer": "sgd", "epochs": 3}, data={"scaler": "none"})
    data = prepare_frame(load_table(series_csv), spec)
    data = dataclasses.replace(data, values=data.values * np.float32(1e18))  # make the loss overflow
    with pytest.raises(TrainingError, match="learning rate"):
        fit(spec, data)


def test_early_stopping_keeps_the_best_epoch(series_csv, tmp_path):
    spec = tiny(load_preset("simple_rnn_baseline"), lookback=8).updated(
        training={"epochs": 40, "patience": 1, "learning_rate": 0.05})
    data = prepare_frame(load_table(series_csv), spec)
    result = fit(spec, data)
    assert result.stopped_early and len(result.history) < 40
    best = min(result.history, key=lambda r: r["val_loss"])
    assert result.best_epoch == best["epoch"]


def test_stop_request_ends_the_run_and_keeps_weights(series_csv, tmp_path):
    spec = tiny(load_preset("simple_rnn_baseline"), lookback=8).updated(training={"epochs": 50, "patience": None})
    run = Run(tmp_path / "run")
    run.path.mkdir()
    run.request_stop()
    data = prepare_frame(load_table(series_csv), spec)
    result = fit(spec, data, run=run)
    assert result.stopped_by_user and len(result.history) == 1
