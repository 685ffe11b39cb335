"""Task label_steps: preparation, masking of padded steps, baselines, bad input, CLI train + predict, and
the SavedModel served by TensorFlow alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder import load_preset
from builder.__main__ import main
from builder.data.read import DataError
from builder.model.build import build_model
from builder.tasks.label_steps import (
    PAD_LABEL,
    prepare_steps,
    step_baselines,
    step_scores,
    window_features,
)
from builder.tasks.registry import get_task

TINY_BLOCKS = [{"kind": "recurrent", "cell": "lstm", "units": 8, "bidirectional": True}]


def steps_frame(n_seq: int = 16, seed: int = 0) -> pd.DataFrame:
    """Sequences of 6-14 steps whose label follows the sign of feature `a` (so it changes within a sequence);
    rows shuffled within the file and ordered by `t`."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seq):
        n = int(rng.integers(6, 15))
        a = np.sin(np.arange(n) * 0.9 + rng.uniform(0, 6))
        rows += [(f"s{s}", t, float(a[t]), float(rng.normal()), "up" if a[t] > 0 else "down") for t in range(n)]
    df = pd.DataFrame(rows, columns=["sequence_id", "t", "a", "b", "label"]).sample(frac=1.0, random_state=seed)
    df.attrs["source"] = "steps.csv"
    return df.reset_index(drop=True)


def tiny_spec(**data):
    return load_preset("bilstm_tagger").updated(
        blocks=TINY_BLOCKS, training={"epochs": 1, "batch_size": 4},
        data={"id_col": "sequence_id", "label_col": "label", "order_col": "t", **data})


def test_prepare_pads_labels_and_splits_by_sequence():
    df = steps_frame()
    data = prepare_steps(df, tiny_spec())
    assert data.classes == ("down", "up") and data.inputs == ("a", "b")
    assert data.x.shape == (16, data.lengths.max(), 2) and data.y.shape == data.x.shape[:2]
    for i, n in enumerate(data.lengths):
        assert (data.y[i, n:] == PAD_LABEL).all() and (data.y[i, :n] >= 0).all()
        assert np.isnan(data.x[i, n:]).all() and not np.isnan(data.x[i, :n]).any()
        rows = df[df.sequence_id == data.ids[i]].sort_values("t")  # ordered by t, not by file order
        np.testing.assert_allclose(data.x[i, :n, 0], rows["a"].to_numpy(), rtol=1e-6)
        assert [data.classes[k] for k in data.y[i, :n]] == rows["label"].tolist()
    assert set(data.split) <= {"train", "val", "test"} and (data.split == "test").sum() == round(16 * tiny_spec().data.test_fraction)
    assert get_task("label_steps").overview(data)["label_changes"] > 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.assign(label=d["label"].where(d.index != 5)), "label column `label` is empty in 1 row(s) (first: rows [7])"),
    (lambda d: d, "feature column(s) ['nope'] not found"),
])
def test_bad_input_names_file_row_and_column(change, message):
    spec = tiny_spec(features=["nope"]) if "nope" in message else tiny_spec()
    df = change(steps_frame())
    df.attrs["source"] = "steps.csv"
    with pytest.raises(DataError, match="steps.csv") as err:
        prepare_steps(df, spec)
    assert message in str(err.value)


def test_padded_steps_change_neither_loss_nor_outputs_nor_metrics():
    import keras

    spec = tiny_spec()
    task = get_task("label_steps")
    data = prepare_steps(steps_frame(), spec)
    resolved = task.resolve(data)
    model = build_model(spec, resolved)
    loss_fn = task.loss(spec)
    extra = 7
    x_more = np.concatenate([data.x, np.full((len(data.x), extra, 2), np.nan, np.float32)], axis=1)
    y_more = np.concatenate([data.y, np.full((len(data.y), extra), PAD_LABEL)], axis=1)
    p, p_more = np.asarray(model(data.x)), np.asarray(model(x_more))
    for i, n in enumerate(data.lengths):  # both directions of the LSTM skip the padding
        np.testing.assert_allclose(p[i, :n], p_more[i, :n], rtol=1e-5, atol=1e-6)
    loss = float(loss_fn(data.y, model(data.x)))
    assert loss == pytest.approx(float(loss_fn(y_more, model(x_more))), rel=1e-5)
    real = data.y != PAD_LABEL  # the mean over real steps only, computed by hand
    picked = np.take_along_axis(p, np.maximum(data.y, 0)[..., None], axis=-1)[..., 0]
    assert loss == pytest.approx(float(-np.log(picked[real]).mean()), rel=1e-4)
    assert isinstance(loss_fn, keras.losses.Loss)
    pred = p.argmax(-1)
    garbage = np.where(real, pred, 1 - pred)  # wrong at every padded step
    assert step_scores(data.y, garbage, 2) == step_scores(data.y, pred, 2)


def test_baselines_window_features_and_majority():
    scaled = np.arange(2 * 4 * 1, dtype=float).reshape(2, 4, 1)
    w = window_features(scaled, np.array([3, 2]), half=1)
    assert w.shape == (5, 3)
    np.testing.assert_array_equal(w[0], [0, 0, 1])  # before the first step: zeros
    np.testing.assert_array_equal(w[2], [1, 2, 0])  # after the third (last real) step: zeros, not padding
    np.testing.assert_array_equal(w[3], [0, 4, 5])
    data = prepare_steps(steps_frame(24), tiny_spec())
    train, test = data.split == "train", data.split == "test"
    out = step_baselines(data, train, test)
    real_train = data.y[train][data.y[train] != PAD_LABEL]
    majority = np.bincount(real_train).argmax()
    assert out["majority_label"]["label"] == data.classes[majority]
    assert out["majority_label"]["accuracy"] == pytest.approx(float((data.y[test][data.y[test] != PAD_LABEL] == majority).mean()))
    assert out["window_logreg"]["accuracy"] > 0.8  # the label is the sign of `a`: a linear rule


SERVE = r"""
import json, sys
import numpy as np
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2])
out = m.serve(tf.constant(x))
out = out if not isinstance(out, dict) else next(iter(out.values()))
print(json.dumps({"probs": np.asarray(out).tolist(), "leaked": sorted(k for k in sys.modules if k.split(".")[0] == "builder")}))
"""


def test_cli_train_predict_and_saved_model_with_tensorflow_alone(tmp_path: Path, capsys):
    df = steps_frame(16)
    csv = tmp_path / "steps.csv"
    df.to_csv(csv, index=False)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec().model_dump(mode="json")))
    run = tmp_path / "run"
    assert main(["train", "--task", "label_steps", "--data", str(csv), "--spec", str(spec), "--id-col", "sequence_id",
                 "--label-col", "label", "--order-col", "t", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "majority label" in out and "logistic regression, window 5" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "label_steps" and 0 <= metrics["model"]["accuracy"] <= 1
    assert np.sum(metrics["confusion_matrix"]) == metrics["n_steps"]
    new = df.drop(columns=["label"])
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", "--run", str(run), "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["sequence_id", "t", "predicted", "p_down", "p_up"] and len(pred) == len(df)
    assert (pred["sequence_id"].to_numpy() == df["sequence_id"].to_numpy()).all()  # one row per input row, in order
    np.testing.assert_allclose(pred[["p_down", "p_up"]].sum(axis=1), 1.0, rtol=1e-5)

    # the SavedModel, loaded by TensorFlow alone, returns the same per-step probabilities for one sequence
    one = df[df.sequence_id == "s3"].sort_values("t")
    x = one[["a", "b"]].to_numpy(np.float32)[None]
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run([sys.executable, "-c", SERVE, str(run / "saved_model"), str(tmp_path / "x.npy")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["leaked"] == []
    expected = pred.loc[one.index, ["p_down", "p_up"]].to_numpy()
    np.testing.assert_allclose(np.asarray(got["probs"])[0], expected, rtol=1e-4, atol=1e-5)


def test_cli_missing_label_is_an_error_line(tmp_path: Path, capsys):
    df = steps_frame(8)
    df.loc[3, "label"] = None
    df.to_csv(tmp_path / "bad.csv", index=False)
    code = main(["train", "--task", "label_steps", "--data", str(tmp_path / "bad.csv"), "--id-col", "sequence_id",
                 "--label-col", "label", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "bad.csv" in err and "rows [5]" in err and "`label`" in err


def test_guess_task_takes_a_label_that_changes_within_an_id_as_label_steps():
    from builder.app.session import guess_task

    df = steps_frame(6)
    assert guess_task(df) == "label_steps"
    one_label = df.assign(label=df["sequence_id"].map(lambda s: "odd" if int(s[1:]) % 2 else "even"))
    assert guess_task(one_label) == "classify"
    assert guess_task(df.drop(columns=["label"])) == "forecast"


def test_diagram_shows_the_last_recurrent_layer_returning_every_step():
    from builder.model.diagram import to_dot

    spec = load_preset("bilstm_tagger")
    dot = to_dot(spec, get_task("label_steps").placeholder(spec, 3, 2))
    assert "→ all steps" in dot and "last step" not in dot and "Dense softmax per step" in dot


def test_macro_f1_leaves_out_labels_absent_from_true_and_predicted_steps():
    y = np.array([[0, 0, 1, PAD_LABEL]])
    assert step_scores(y, np.array([[0, 0, 1, 2]]), 3) == {"accuracy": 1.0, "macro_f1": 1.0}
    assert step_scores(y, np.array([[0, 2, 1, 0]]), 3)["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
