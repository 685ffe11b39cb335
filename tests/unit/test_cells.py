"""Contract and numeric tests for builder.model.cells (one NumPy reference per cell).

Shapes: B = batch, T = steps, D = input features, U = units, P = proj_units.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from builder.model.cells.cifg_lstm import CIFGLSTMCell
from builder.model.cells.lstm_proj import LSTMProjCell
from builder.model.cells.peephole_lstm import PeepholeLSTMCell
from builder.model.cells.proj_gru import ProjGRUCell
from builder.model.cells.registry import CELLS, projected_cells

CUSTOM_CELLS = {n: e.cell_class() for n, e in CELLS.items() if e.layer is None}
PROJECTED_CELLS = projected_cells()

NAMES = sorted(CUSTOM_CELLS)
U, P, D, B, T = 4, 2, 3, 2, 5

Weights = dict[str, np.ndarray]


def make_cell(name: str, units: int = U, **kwargs: Any) -> keras.layers.Layer:
    """A cell of kind ``name`` with ``proj_units`` set only where it applies."""
    proj = min(P, units - 1) if name in PROJECTED_CELLS else None
    return CUSTOM_CELLS[name](units, proj_units=proj, **kwargs)


def out_size(name: str) -> int:
    return P if name in PROJECTED_CELLS else U


def rand_x(shape: tuple[int, ...] = (B, T, D), seed: int = 0, dtype: str = "float32") -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def randomize(layer: keras.layers.Layer, seed: int = 0, scale: float = 0.8) -> None:
    """Give every trainable weight uniform(-scale, scale) values."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(rng.uniform(-scale, scale, size=w.shape).astype(w.dtype))


# --------------------------------------------------------------------------- NumPy references


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def ref_step(
    name: str, w: Weights, x: np.ndarray, states: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One step of cell ``name``: ``x`` (B, D), ``states`` as the cell's state_size order."""
    b = w.get("bias")
    if name == "lstm_proj":
        r, c = states
        z = x @ w["kernel"] + r @ w["recurrent_kernel"] + (0 if b is None else b)
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        r = (sigmoid(o) * np.tanh(c)) @ w["projection_kernel"]
        return r, [r, c]
    if name == "peephole_lstm":
        h, c = states
        z = x @ w["kernel"] + h @ w["recurrent_kernel"] + (0 if b is None else b)
        zi, zf, zg, zo = np.split(z, 4, axis=-1)
        i = sigmoid(zi + w["input_peephole"] * c)
        f = sigmoid(zf + w["forget_peephole"] * c)
        c = f * c + i * np.tanh(zg)
        h = sigmoid(zo + w["output_peephole"] * c) * np.tanh(c)
        return h, [h, c]
    if name == "cifg_lstm":
        h, c = states
        z = x @ w["kernel"] + h @ w["recurrent_kernel"] + (0 if b is None else b)
        zf, zg, zo = np.split(z, 3, axis=-1)
        f = sigmoid(zf)
        c = f * c + (1.0 - f) * np.tanh(zg)
        h = sigmoid(zo) * np.tanh(c)
        return h, [h, c]
    if name == "proj_gru":
        r, h = states
        a = x @ w["kernel"] + (0 if b is None else b[0])
        m = r @ w["recurrent_kernel"] + (0 if b is None else b[1])
        az, ar, an = np.split(a, 3, axis=-1)
        mz, mr, mn = np.split(m, 3, axis=-1)
        z, q = sigmoid(az + mz), sigmoid(ar + mr)
        n = np.tanh(an + q * mn)
        h = z * h + (1.0 - z) * n
        r = h @ w["projection_kernel"]
        return r, [r, h]
    raise KeyError(name)


def ref_rnn(
    name: str, w: Weights, x: np.ndarray, state_sizes: list[int], mask: np.ndarray | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run the reference over ``x`` (B, T, D); masked steps carry states and output through.

    Returns ``(outputs (B, T, out), final states)``.
    """
    states = [np.zeros((x.shape[0], s), dtype=x.dtype) for s in state_sizes]
    out = np.zeros((x.shape[0], state_sizes[0]), dtype=x.dtype)
    outs = []
    for t in range(x.shape[1]):
        new_out, new_states = ref_step(name, w, x[:, t], states)
        keep = np.ones((x.shape[0], 1), bool) if mask is None else mask[:, t, None]
        out = np.where(keep, new_out, out)
        states = [np.where(keep, n, s) for n, s in zip(new_states, states, strict=True)]
        outs.append(out)
    return np.stack(outs, axis=1), states


def cell_weights(cell: keras.layers.Layer) -> Weights:
    return {v.name: keras.ops.convert_to_numpy(v) for v in cell.trainable_weights}


# --------------------------------------------------------------------------- contract


EXPECTED_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "lstm_proj": {
        "kernel": (D, 4 * U),
        "recurrent_kernel": (P, 4 * U),
        "bias": (4 * U,),
        "projection_kernel": (U, P),
    },
    "peephole_lstm": {
        "kernel": (D, 4 * U),
        "recurrent_kernel": (U, 4 * U),
        "bias": (4 * U,),
        "input_peephole": (U,),
        "forget_peephole": (U,),
        "output_peephole": (U,),
    },
    "cifg_lstm": {"kernel": (D, 3 * U), "recurrent_kernel": (U, 3 * U), "bias": (3 * U,)},
    "proj_gru": {
        "kernel": (D, 3 * U),
        "recurrent_kernel": (P, 3 * U),
        "bias": (2, 3 * U),
        "projection_kernel": (U, P),
    },
}


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_weight_counts(name: str) -> None:
    cell = make_cell(name)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    out, *states = layer(rand_x())
    assert cell.output_size == out_size(name)
    assert out.shape == (B, T, out_size(name))
    assert [tuple(s.shape) for s in states] == [(B, n) for n in cell.state_size]
    # Order matters too: .keras files and the torch golden fixtures are matched by position.
    assert [(v.name, tuple(v.shape)) for v in cell.trainable_weights] == list(EXPECTED_SHAPES[name].items())
    assert keras.saving.get_registered_name(type(cell)) == f"builder>{type(cell).__name__}"
    no_bias = make_cell(name, use_bias=False)
    keras.layers.RNN(no_bias)(rand_x())
    assert "bias" not in {v.name for v in no_bias.trainable_weights}


def test_unit_forget_bias_blocks() -> None:
    def built(cell: keras.layers.Layer) -> np.ndarray:
        keras.layers.RNN(cell)(rand_x())
        return keras.ops.convert_to_numpy(cell.bias)

    ones, zeros = np.ones(U), np.zeros(U)
    np.testing.assert_array_equal(built(LSTMProjCell(U, proj_units=P)), np.r_[zeros, ones, zeros, zeros])
    np.testing.assert_array_equal(built(PeepholeLSTMCell(U)), np.r_[zeros, ones, zeros, zeros])
    np.testing.assert_array_equal(built(CIFGLSTMCell(U)), np.r_[ones, zeros, zeros])
    np.testing.assert_array_equal(
        built(ProjGRUCell(U, proj_units=P)), [np.r_[ones, zeros, zeros], np.zeros(3 * U)]
    )
    assert not built(CIFGLSTMCell(U, unit_forget_bias=False)).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"units": -3}, "`units`, expected a positive integer, got -3"),
        ({"units": 4, "proj_units": 4}, "`proj_units`"),
        ({"units": 4, "proj_units": None}, "`proj_units`"),
        ({"units": 4, "proj_units": 2, "dropout": 1.5}, "`dropout`, expected a float in \\[0, 1\\), got 1.5"),
        ({"units": 4, "proj_units": 2, "recurrent_dropout": -0.1}, "`recurrent_dropout`"),
    ],
)
@pytest.mark.parametrize("cls", [LSTMProjCell, ProjGRUCell])
def test_projected_cells_validate_arguments(cls: type, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [PeepholeLSTMCell, CIFGLSTMCell])
def test_plain_cells_reject_proj_units(cls: type) -> None:
    with pytest.raises(ValueError, match="`proj_units`, expected None.*got 2"):
        cls(4, proj_units=2)
    with pytest.raises(ValueError, match="`units`, expected a positive integer, got 0"):
        cls(0)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name: str) -> None:
    cell = make_cell(name, activation="relu", use_bias=False, dropout=0.1, recurrent_dropout=0.2, seed=7)
    config = cell.get_config()
    assert set(config) >= {
        "units", "proj_units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
        "recurrent_initializer", "bias_initializer", "unit_forget_bias", "dropout", "recurrent_dropout", "seed",
    }  # fmt: skip
    again = type(cell).from_config(config)
    assert again.get_config() == config
    layer = keras.layers.RNN(cell)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored.cell) is type(cell)
    assert restored.cell.get_config() == config


# --------------------------------------------------------------------------- numerics


def test_hand_computed_constant_step() -> None:
    """D = U = 1, kernels all 1, recurrent kernels 0, biases 0, x = 1, one step from zero state."""
    s1 = 1.0 / (1.0 + math.exp(-1.0))  # sigmoid(1)
    t1 = math.tanh(1.0)
    const = {
        "kernel_initializer": "ones",
        "recurrent_initializer": "zeros",
        "unit_forget_bias": False,
    }
    x = np.ones((1, 1, 1), "float32")
    c = s1 * t1  # LSTM: c = f * 0 + i * g = sigmoid(1) * tanh(1)
    expected = {
        # Peepholes are 1 too ("ones" kernel initializer); i, f see c_{t-1} = 0, o sees c_t.
        "peephole_lstm": (1.0 / (1.0 + math.exp(-(1.0 + c)))) * math.tanh(c),
        "cifg_lstm": s1 * math.tanh((1 - s1) * t1),  # c = (1 - f) * g
    }
    for name in ("peephole_lstm", "cifg_lstm"):
        out = keras.layers.RNN(CUSTOM_CELLS[name](1, **const))(x)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[0, 0], expected[name], rtol=1e-6)
    # Projected cells, U = 2, P = 1: W_hr = ones sums the two (equal) units.
    lstmp = keras.layers.RNN(LSTMProjCell(2, proj_units=1, **const))(x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(lstmp)[0, 0], 2 * s1 * math.tanh(s1 * t1), rtol=1e-6
    )
    # GRU: z = q = sigmoid(1), n = tanh(1 + q * 0), h = (1 - z) * n.
    gru = keras.layers.RNN(ProjGRUCell(2, proj_units=1, **const))(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gru)[0, 0], 2 * (1 - s1) * t1, rtol=1e-6)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_matches_numpy_reference(name: str, use_bias: bool) -> None:
    cell = make_cell(name, use_bias=use_bias)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = rand_x(seed=1)
    layer(x)
    randomize(layer, seed=2)
    out, *states = layer(x)
    ref_out, ref_states = ref_rnn(name, cell_weights(cell), x, cell.state_size)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), ref_out, atol=1e-5)
    for got, want in zip(states, ref_states, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name: str) -> None:
    """float64: tape gradients of sum(out * G) vs central differences of the NumPy reference."""
    units, steps = 3, 3
    cell = make_cell(name, units=units, dtype="float64")
    layer = keras.layers.RNN(cell, return_sequences=True, dtype="float64")
    x = rand_x((2, steps, 2), seed=3, dtype="float64")
    layer(x)
    randomize(layer, seed=4)
    g = np.random.default_rng(5).normal(size=(2, steps, cell.output_size))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * g)
    grads = dict(
        zip(
            [v.name for v in cell.trainable_weights], tape.gradient(loss, cell.trainable_weights), strict=True
        )
    )

    w = cell_weights(cell)
    assert all(a.dtype == np.float64 for a in w.values())

    def f(weights: Weights) -> float:
        return float((ref_rnn(name, weights, x, cell.state_size)[0] * g).sum())

    np.testing.assert_allclose(float(loss), f(w), rtol=1e-10)
    eps = 1e-6
    for key, value in w.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = dict(w), dict(w)
            plus[key], minus[key] = value.copy(), value.copy()
            plus[key][idx] += eps
            minus[key][idx] -= eps
            numeric[idx] = (f(plus) - f(minus)) / (2 * eps)
        np.testing.assert_allclose(grads[key].numpy(), numeric, atol=1e-7, rtol=1e-6, err_msg=key)


# --------------------------------------------------------------------------- inside keras.layers.RNN


@pytest.mark.parametrize("name", NAMES)
def test_stacked_and_bidirectional_merge_modes(name: str) -> None:
    x = rand_x()
    inp = keras.Input((None, D))
    h = keras.layers.RNN(make_cell(name), return_sequences=True)(inp)
    h = keras.layers.RNN(make_cell(name))(h)
    assert keras.Model(inp, h)(x).shape == (B, out_size(name))
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells([make_cell(name), make_cell(name)]))
    assert stacked(x).shape == (B, out_size(name))
    for mode, width in [("concat", 2), ("sum", 1), ("mul", 1), ("ave", 1), (None, 1)]:
        bi = keras.layers.Bidirectional(
            keras.layers.RNN(make_cell(name), return_sequences=True), merge_mode=mode
        )
        y = bi(x)
        ys = y if mode is None else [y]
        assert all(tuple(t.shape) == (B, T, width * out_size(name)) for t in ys), mode
    # Backward half of the output == the backward layer on the reversed sequence, flipped back.
    bi = keras.layers.Bidirectional(keras.layers.RNN(make_cell(name), return_sequences=True), merge_mode=None)
    _, bwd = bi(x)
    direct = bi.backward_layer(x)  # go_backwards=True layer: outputs in processing (reversed) order
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bwd), keras.ops.convert_to_numpy(direct)[:, ::-1], atol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_dropout_in_training(name: str) -> None:
    cell = make_cell(name, dropout=0.4, recurrent_dropout=0.4, seed=1)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = rand_x()
    infer = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(infer, keras.ops.convert_to_numpy(layer(x, training=False)))
    train_a = keras.ops.convert_to_numpy(layer(x, training=True))
    train_b = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(train_a, infer) and not np.allclose(train_a, train_b)
    # The cached masks are cleared after each call (none leak into inference).
    np.testing.assert_array_equal(infer, keras.ops.convert_to_numpy(layer(x)))


def test_fit_with_dropout_in_compiled_train_step() -> None:
    """All cells in one model: masks are built outside the compiled time loop and training runs."""
    inp = keras.Input((None, D))
    branches = [
        keras.layers.RNN(make_cell(name, dropout=0.3, recurrent_dropout=0.3, seed=i))(inp)
        for i, name in enumerate(NAMES)
    ]
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Concatenate()(branches)))
    model.compile(optimizer="adam", loss="mse")
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(rand_x(), np.ones((B, 1)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_masking_carries_state_through(name: str) -> None:
    x = rand_x(seed=6)
    x[0, 3:] = 0.0  # trailing padding
    x[1, 1] = 0.0  # a masked step in the middle
    mask = np.abs(x).sum(-1) > 0
    cell = make_cell(name)
    inp = keras.Input((None, D))
    out, *states = keras.layers.RNN(cell, return_sequences=True, return_state=True)(
        keras.layers.Masking(0.0)(inp)
    )
    model = keras.Model(inp, [out, *states])
    randomize(model, seed=7)
    got_out, *got_states = [keras.ops.convert_to_numpy(t) for t in model(x)]
    ref_out, ref_states = ref_rnn(name, cell_weights(cell), x, cell.state_size, mask=mask)
    np.testing.assert_allclose(got_out[mask], ref_out[mask], atol=1e-5)
    for got, want in zip(got_states, ref_states, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    # Padding at the end == a shorter sequence.
    short = keras.layers.RNN(cell, return_state=True)(x[:1, :3])
    np.testing.assert_allclose(got_states[0][:1], keras.ops.convert_to_numpy(short[1]), atol=1e-6)
    bi = keras.layers.Bidirectional(keras.layers.RNN(make_cell(name), return_sequences=True))
    assert bi(keras.layers.Masking(0.0)(x)).shape == (B, T, 2 * out_size(name))


def _all_cells_model() -> keras.Model:
    """One input; per cell a Masking -> Bidirectional(RNN) -> RNN branch; outputs concatenated (B, 36)."""
    inp = keras.Input((None, D), name="x")
    masked = keras.layers.Masking(0.0)(inp)
    outs = []
    for name in NAMES:
        seq = keras.layers.Bidirectional(keras.layers.RNN(make_cell(name), return_sequences=True))(masked)
        outs.append(keras.layers.RNN(make_cell(name))(seq))
    model = keras.Model(inp, keras.layers.Concatenate()(outs))
    randomize(model, seed=8)
    return model


def test_keras_file_reload(tmp_path: Path) -> None:
    model = _all_cells_model()
    x = rand_x(seed=9)
    path = tmp_path / "cells.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )


_LOAD_WITH_TF_ONLY = """
import sys
import numpy as np
import tensorflow as tf
export_dir, x_path, y_path = sys.argv[1:4]
loaded = tf.saved_model.load(export_dir)
np.save(y_path, loaded.serve(tf.constant(np.load(x_path))).numpy())
assert "builder" not in sys.modules, "the export must not need builder"
"""


@pytest.fixture(scope="module", autouse=True)
def saved_model_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[str], np.ndarray, Path]]:
    """Export the all-cells model as a SavedModel and start a TensorFlow-only process that loads it.

    A fresh process needs ~13 s here just to import TensorFlow, so it is started
    once at module set-up and runs while the other tests do; the export test
    below collects its result.
    """
    tmp = tmp_path_factory.mktemp("saved_model")
    model = _all_cells_model()
    x = rand_x(seed=10)
    x[0, 4:] = 0.0  # exercise the mask in the exported graph
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, input_signature=[tf.TensorSpec((None, None, D), tf.float32)])
    archive.write_out(str(tmp / "export"), verbose=False)
    np.save(tmp / "x.npy", x)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _LOAD_WITH_TF_ONLY,
            str(tmp / "export"),
            str(tmp / "x.npy"),
            str(tmp / "y.npy"),
        ],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    expected = keras.ops.convert_to_numpy(model(x))
    yield proc, expected, tmp / "y.npy"
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_saved_model_export_loads_with_tensorflow_alone(
    saved_model_run: tuple[subprocess.Popen[str], np.ndarray, Path],
) -> None:
    proc, expected, y_path = saved_model_run
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    np.testing.assert_allclose(np.load(y_path), expected, atol=1e-5)
