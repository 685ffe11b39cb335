"""The fused recurrent loop (builder/model/fused.py, builder/model/recurrent.py) against Keras's own loop.

Every cell, with random (not initial) weights: outputs, final states and the
gradients of a loss with respect to the inputs and every weight must equal those
of ``keras.layers.RNN`` / ``LSTM`` / ``GRU`` / ``SimpleRNN`` over the same cell.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from builder.model import fused
from builder.model.cells.registry import CELLS as REGISTRY
from builder.model.cells.registry import projected_cells
from builder.model.recurrent import FusedGRU, FusedLSTM, FusedRNN, FusedSimpleRNN

CUSTOM_CELLS = {n: e.cell_class() for n, e in REGISTRY.items() if e.layer is None}
PROJECTED_CELLS = projected_cells()

CELLS = list(REGISTRY)
BUILTIN = {
    "simple_rnn": (FusedSimpleRNN, keras.layers.SimpleRNN),
    "lstm": (FusedLSTM, keras.layers.LSTM),
    "gru": (FusedGRU, keras.layers.GRU),
}
LAYOUTS = {
    "sequences+state": {"return_sequences": True, "return_state": True},
    "last": {"return_sequences": False},
    "backwards": {"return_sequences": True, "go_backwards": True},
}


def pair(name: str, units: int = 4, **kwargs: object) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """(fused layer, Keras reference layer) for ``name`` with identical settings."""
    cell_kw = {k: kwargs.pop(k) for k in ("dropout", "recurrent_dropout", "seed") if k in kwargs}
    if name in BUILTIN:
        ours, ref = BUILTIN[name]
        return ours(units, **cell_kw, **kwargs), ref(units, **cell_kw, **kwargs)
    extra = {"proj_units": 2} if name in PROJECTED_CELLS else {}
    cls = CUSTOM_CELLS[name]
    return (
        FusedRNN(cls(units, **extra, **cell_kw), **kwargs),
        keras.layers.RNN(cls(units, **extra, **cell_kw), **kwargs),
    )


def outputs_and_grads(layer: keras.layers.Layer, x: tf.Tensor, training: bool = True) -> list[np.ndarray]:
    """Outputs of ``layer(x)`` and d(loss)/d(x, weights) for a loss that weighs every output."""

    @tf.function
    def run(x: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            outs = tf.nest.flatten(layer(x, training=training))
            loss = sum(ops.sum(o * ops.cos(o + k)) for k, o in enumerate(outs))
        return outs + tape.gradient(loss, [x, *layer.trainable_variables])

    return [np.asarray(t) for t in run(x)]


def built_pair(name: str, x: tf.Tensor, **kwargs: object) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    ours, ref = pair(name, **kwargs)
    ours.build(x.shape)
    ref.build(x.shape)
    rng = np.random.default_rng(1)
    weights = [w + rng.normal(scale=0.3, size=w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    return ours, ref


def assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b, strict=True):
        np.testing.assert_allclose(p, q, rtol=2e-5, atol=2e-5)


def data(batch: int = 3, steps: int = 7, features: int = 5) -> tf.Tensor:
    return tf.constant(np.random.default_rng(0).normal(size=(batch, steps, features)).astype("float32"))


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", CELLS)
def test_fused_equals_keras_loop_outputs_and_gradients(name: str, layout: str) -> None:
    x = data()
    ours, ref = built_pair(name, x, **LAYOUTS[layout])
    assert fused.fused_kind(ours.cell) is not None
    assert_same(outputs_and_grads(ours, x), outputs_and_grads(ref, x))


@pytest.mark.parametrize("name", CELLS)
def test_inference_loop_equals_keras(name: str) -> None:
    x = data()
    ours, ref = built_pair(name, x, return_sequences=True, return_state=True)
    got = [np.asarray(t) for t in tf.nest.flatten(ours(x, training=False))]
    want = [np.asarray(t) for t in tf.nest.flatten(ref(x, training=False))]
    assert_same(got, want)


@pytest.mark.parametrize("name", ["lstm", "gru", "peephole_lstm", "proj_gru"])
@pytest.mark.parametrize(("batch", "shards"), [(7, 2), (16, 2), (7, 1)])
def test_sharded_training_equals_keras(
    name: str, batch: int, shards: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uneven (7 -> 4 + 3) and even batch shards, and one XLA-compiled shard, give Keras's results."""
    monkeypatch.setenv("RNN_STUDIO_RECURRENT_SHARDS", str(shards))
    calls = []
    real = fused.run_fused_sharded
    monkeypatch.setattr(
        "builder.model.recurrent.run_fused_sharded", lambda *a, **k: calls.append(k["shards"]) or real(*a, **k)
    )
    x = data(batch=batch)
    ours, ref = built_pair(name, x, return_sequences=True, return_state=True)
    assert_same(outputs_and_grads(ours, x), outputs_and_grads(ref, x))
    assert calls == [shards]


@pytest.mark.parametrize("name", ["lstm", "proj_gru"])
@pytest.mark.parametrize("layout", ["last", "backwards"])
def test_sharded_training_layouts_equal_keras(name: str, layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards with only the last output, and with go_backwards (reversed inside the XLA calls)."""
    monkeypatch.setenv("RNN_STUDIO_RECURRENT_SHARDS", "2")
    x = data(batch=7)
    ours, ref = built_pair(name, x, **LAYOUTS[layout])
    assert_same(outputs_and_grads(ours, x), outputs_and_grads(ref, x))


@pytest.mark.parametrize("name", ["lstm", "peephole_lstm"])
def test_stacked_sharded_layers_hand_over_their_shards(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack's second layer takes the first one's batch shards as they are; results stay Keras's.

    The concatenation of the first layer's shards must not be split again in the train graph.
    """
    monkeypatch.setenv("RNN_STUDIO_RECURRENT_SHARDS", "2")
    x = data(batch=7)
    first, first_ref = built_pair(name, x, return_sequences=True)
    second, second_ref = built_pair(name, tf.zeros((7, 7, 4)), return_sequences=True, go_backwards=True)
    ours = keras.Sequential([first, second])
    ref = keras.Sequential([first_ref, second_ref])
    assert_same(outputs_and_grads(ours, x), outputs_and_grads(ref, x))

    def train(v: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(v)
            loss = ops.sum(ours(v, training=True))
        return tape.gradient(loss, [v, *ours.trainable_variables])

    graph = tf.function(train).get_concrete_function(x).graph
    split_of_concat = [
        op.name for op in graph.get_operations()
        if op.type in ("Split", "SplitV") and op.inputs[0 if op.type == "SplitV" else 1].op.type == "ConcatV2"
    ]
    assert split_of_concat == []
    assert any(op.type == "SplitV" for op in graph.get_operations())  # the first layer's input is split


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "cifg_lstm", "lstm_proj", "proj_gru"])
def test_dropout_masks_match_keras(name: str) -> None:
    """Same seed, same per-sequence masks: input dropout (all cells), recurrent dropout (ours)."""
    rec = 0.0 if name in ("lstm", "gru") else 0.4
    x = data()
    ours, ref = built_pair(name, x, return_sequences=True, dropout=0.3, recurrent_dropout=rec, seed=7)
    assert fused.fused_kind(ours.cell) is not None
    assert_same(outputs_and_grads(ours, x), outputs_and_grads(ref, x))


def test_masked_input_falls_back_to_the_keras_loop() -> None:
    x = data().numpy()
    x[0, 4:] = 0.0
    ours, ref = built_pair("lstm", tf.constant(x), return_sequences=True)
    masking = keras.layers.Masking(0.0)
    got = ours(masking(tf.constant(x)))
    want = ref(masking(tf.constant(x)))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


def test_fused_kind_declines_what_it_cannot_run() -> None:
    assert fused.fused_kind(keras.layers.LSTMCell(3, recurrent_dropout=0.2)) is None  # implementation 1
    assert fused.fused_kind(keras.layers.GRUCell(3, reset_after=False)) is None
    assert fused.fused_kind(keras.layers.SimpleRNNCell(3, activation="relu")) is None
    assert fused.fused_kind(CUSTOM_CELLS["cifg_lstm"](3, activation="relu")) is None
    assert fused.fused_kind(keras.layers.LSTMCell(3)).name == "lstm"


@pytest.mark.parametrize("name", CELLS)
def test_fused_layers_round_trip_through_keras_files(name: str, tmp_path: object) -> None:
    x = data()
    ours, _ = built_pair(name, x, return_sequences=True)
    inp = keras.Input(x.shape[1:])
    model = keras.Model(inp, keras.layers.Bidirectional(ours)(inp))
    path = f"{tmp_path}/m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[1].forward_layer) is type(ours)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-6)


def test_default_shards_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNN_STUDIO_RECURRENT_SHARDS", "3")
    assert fused.default_shards() == 3
    monkeypatch.setenv("RNN_STUDIO_RECURRENT_SHARDS", "two")
    with pytest.raises(ValueError, match="RNN_STUDIO_RECURRENT_SHARDS: expected a positive whole number, got 'two'"):
        fused.default_shards()
    monkeypatch.delenv("RNN_STUDIO_RECURRENT_SHARDS")
    assert 1 <= fused.default_shards() <= 8


def test_unknown_sequence_length_falls_back_to_the_keras_loop() -> None:
    x = data()
    ours, ref = built_pair("gru", x, return_sequences=True)
    spec = tf.TensorSpec([None, None, x.shape[-1]], tf.float32)
    got = tf.function(lambda v: ours(v), input_signature=[spec])(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref(x)), rtol=1e-6, atol=1e-6)


def test_all_fused_judges_every_recurrent_layer() -> None:
    from builder.model.recurrent import all_fused

    def model(*layers: keras.layers.Layer) -> keras.Model:
        inp = keras.Input((7, 5))
        h = inp
        for layer in layers:
            h = layer(h)
        return keras.Model(inp, h)

    assert all_fused(model(keras.layers.Bidirectional(FusedGRU(3, return_sequences=True)), FusedLSTM(3)))
    assert not all_fused(model(FusedLSTM(3, return_sequences=True), keras.layers.LSTM(3)))  # a plain Keras layer
    assert not all_fused(model(FusedGRU(3, recurrent_dropout=0.1)))  # Keras's implementation 1
    assert not all_fused(model(keras.layers.Dense(3)))  # no recurrent layer at all


def _xla_functions(fn: object, x: tf.Tensor) -> int:
    """How many XLA-compiled functions the graph of ``tf.function(fn)`` traced on ``x`` calls."""
    graph = tf.function(fn).get_concrete_function(x).graph.as_graph_def()
    return sum(1 for f in graph.library.function if f.attr["_XlaMustCompile"].b)


def test_training_loop_is_an_xla_call_unless_the_step_itself_is_xla() -> None:
    """On the CPU training runs XLA calls; set_training_shards(jit=True) inlines the loop instead.

    A nested XLA call inside an XLA-compiled train step recompiled at every step (66 samples/s).
    """
    from builder.model.recurrent import set_training_shards

    x = data(batch=4)
    inp = keras.Input((7, 5))
    layer = FusedLSTM(4)
    model = keras.Model(inp, layer(inp))
    assert _xla_functions(lambda v: layer(v, training=True), x) >= 1
    set_training_shards(model, True)
    assert _xla_functions(lambda v: layer(v, training=True), x) == 0
    set_training_shards(model, "auto")
    assert _xla_functions(lambda v: layer(v, training=True), x) >= 1


def test_default_shards_at_most_the_inter_op_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """One inter-op thread runs the shards' calls one after another: then one shard; TensorFlow's default (0) keeps
    one per core."""
    import os

    import tensorflow as tf

    monkeypatch.delenv("RNN_STUDIO_RECURRENT_SHARDS", raising=False)
    monkeypatch.setattr(tf.config.threading, "get_inter_op_parallelism_threads", lambda: 1)
    assert fused.default_shards() == 1
    monkeypatch.setattr(tf.config.threading, "get_inter_op_parallelism_threads", lambda: 0)
    assert fused.default_shards() == max(1, min(len(os.sched_getaffinity(0)), 8))
    monkeypatch.setenv("RNN_STUDIO_RECURRENT_SHARDS", "2")  # the environment still decides where it is set
    monkeypatch.setattr(tf.config.threading, "get_inter_op_parallelism_threads", lambda: 1)
    assert fused.default_shards() == 2
