"""The classification model pieces: FCN branch layers, per-sequence z-norm, dimension shuffle, training options."""

from __future__ import annotations

import numpy as np
import pytest

from builder.spec import ModelSpec, SpecError


def test_masked_time_mean_leaves_padding_out():
    from builder.model.layers import MaskedTimeMean

    raw = np.array([[[1.0], [2.0], [np.nan]], [[1.0], [1.0], [1.0]]], dtype="float32")
    x = np.array([[[2.0, 4.0], [4.0, 8.0], [100.0, 100.0]], [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]], dtype="float32")
    out = np.asarray(MaskedTimeMean()([x, raw]))
    np.testing.assert_allclose(out, [[3.0, 6.0], [2.0, 2.0]])


def test_sequence_znorm_per_sequence_and_channel_with_padding():
    from builder.model.layers import SequenceZNorm

    raw = np.array([[[1.0, 5.0], [3.0, 5.0], [np.nan, np.nan]]], dtype="float32")
    x = np.nan_to_num(raw)
    layer = SequenceZNorm()
    out = np.asarray(layer([x, raw]))
    np.testing.assert_allclose(out[0, :, 0], [-1.0, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out[0, :, 1], [0.0, 0.0, 0.0], atol=1e-6)  # constant channel: scale 1
    np.testing.assert_array_equal(np.asarray(layer.compute_mask([x, raw])), [[True, True, False]])


def test_lstm_fcn_builds_with_a_fixed_axis_and_counts_match():
    from builder.model.build import build_model
    from builder.model.size import estimate_params
    from builder.spec.presets import load_preset
    from builder.tasks.registry import TASKS, get_task

    assert TASKS["classify"].default_preset == "lstm_fcn"
    spec = load_preset("mlstm_fcn").updated(data={"lookback": 30, "sequence_norm": "zscore"})
    resolved = get_task("classify").placeholder(spec, 3, 4)
    assert resolved.input_length == 30, "dimension shuffle fixes the time axis to the lookback"
    model = build_model(spec, resolved)
    assert model.input_shape == (None, 30, 3) and model.output_shape == (None, 4)
    assert estimate_params(spec, resolved) == model.count_params()
    x = np.random.default_rng(0).normal(size=(2, 30, 3)).astype("float32")
    x[1, 20:] = np.nan  # a shorter, padded sequence
    probs = np.asarray(model.predict(x, verbose=0))
    assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_fcn_rules():
    with pytest.raises(SpecError, match="at most one fcn"):
        ModelSpec.from_dict({"task": "classify", "blocks": [{"kind": "fcn"}, {"kind": "fcn"}, {"kind": "recurrent"}]})
    with pytest.raises(SpecError, match="only the first recurrent block"):
        ModelSpec.from_dict({"task": "classify", "blocks": [{"kind": "recurrent"}, {"kind": "recurrent", "dimension_shuffle": True}]})
    with pytest.raises(SpecError, match="cannot follow a dense"):
        ModelSpec.from_dict({"task": "classify", "blocks": [{"kind": "recurrent"}, {"kind": "dense"}, {"kind": "fcn"}]})


def test_class_weights_and_plateau_callback():
    from types import SimpleNamespace

    from builder.training.fit import class_weights, extra_callbacks

    spec = ModelSpec.from_dict({"task": "classify", "training": {"class_weight": "balanced", "lr_plateau_patience": 3}})
    data = SimpleNamespace(classes=("a", "b"), y=np.array([0, 0, 0, 1, 1]), split=np.array(["train"] * 4 + ["val"]))
    assert class_weights(spec, data) == pytest.approx({0: 4 / 6, 1: 2.0})
    assert class_weights(spec.updated(training={"class_weight": "none"}), data) is None
    (cb,) = extra_callbacks(spec, "val_loss")
    assert cb.patience == 3 and cb.monitor == "val_loss"
    assert extra_callbacks(spec.updated(training={"lr_plateau_patience": None}), "loss") == []


def test_validation_part_only_when_it_holds_enough_sequences():
    import pandas as pd

    from builder.data.sequences import MIN_VAL_SEQUENCES, prepare_sequences

    def frame(n: int) -> pd.DataFrame:
        rows = [(s, t, float(t * (s % 2)), f"c{s % 2}") for s in range(n) for t in range(3)]
        return pd.DataFrame(rows, columns=["sequence_id", "t", "a", "label"])

    spec = ModelSpec.from_dict({"task": "classify", "data": {"id_col": "sequence_id", "label_col": "label"}})
    small = prepare_sequences(frame(40), spec)
    assert not (small.split == "val").any() and any("no validation part" in n for n in small.notices)
    big = prepare_sequences(frame(400), spec)
    assert (big.split == "val").sum() == 60 >= MIN_VAL_SEQUENCES
