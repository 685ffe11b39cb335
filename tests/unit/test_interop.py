"""Parity of builder.serving.interop with PyTorch, from saved golden fixtures (torch not needed).

Fixtures come from tests/fixtures/make_torch_golden.py. Tests marked with
``torch`` in their name run only where torch is importable (e.g. .torchvenv).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from builder.model.cells.lstm_proj import LSTMProjCell
from builder.serving.interop import (
    TorchRNNConfig,
    _expected_state_shapes,
    keras_model_from_state_dict,
    spec_dict_from_config,
    state_dict_from_keras,
)

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "torch_golden"
FIXTURES = sorted(GOLDEN.glob("*.npz"))
ATOL = 1e-5


def load_fixture(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(config dict, state dict, {"x", "out", "h_n"[, "c_n"]})`` of one golden file."""
    data = np.load(path)
    config = json.loads(str(data["config"]))
    state = {k[len("sd.") :]: data[k] for k in data.files if k.startswith("sd.")}
    arrays = {k: data[k] for k in data.files if k in ("x", "out", "h_n", "c_n")}
    return config, state, arrays


def test_fixture_set_covers_every_option() -> None:
    configs = [load_fixture(p)[0] for p in FIXTURES]
    assert len(configs) >= 12
    seen = {
        "modes": {c["mode"] for c in configs},
        "num_layers": {c["num_layers"] for c in configs},
        "bias": {c["bias"] for c in configs},
        "batch_first": {c["batch_first"] for c in configs},
        "bidirectional": {c["bidirectional"] for c in configs},
    }
    assert seen == {
        "modes": {"LSTM", "GRU"},
        "num_layers": {1, 2, 3},
        "bias": {True, False},
        "batch_first": {True, False},
        "bidirectional": {True, False},
    }
    assert any(c["proj_size"] for c in configs)
    assert any(c["dropout"] > 0 for c in configs)
    assert any(c["input_size"] != c["hidden_size"] for c in configs)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_keras_twin_matches_torch_golden(path: Path) -> None:
    config, state, arrays = load_fixture(path)
    model = keras_model_from_state_dict(state, config)
    outputs = model(arrays["x"])
    names = ["out", "h_n", "c_n"] if config["mode"] == "LSTM" else ["out", "h_n"]
    assert len(outputs) == len(names)
    for name, got in zip(names, outputs, strict=True):
        got = keras.ops.convert_to_numpy(got)
        assert got.shape == arrays[name].shape, name
        np.testing.assert_allclose(got, arrays[name], atol=ATOL, rtol=0, err_msg=name)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_state_dict_round_trip(path: Path) -> None:
    config, state, _ = load_fixture(path)
    model = keras_model_from_state_dict(state, config)
    back, back_config = state_dict_from_keras(model)
    assert back_config == TorchRNNConfig.from_dict(config)
    assert sorted(back) == sorted(state)
    for key, value in state.items():
        if config["mode"] == "LSTM" and key.startswith("bias_"):
            continue  # Keras keeps only b_ih + b_hh; checked below
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    for key in [k for k in state if k.startswith("bias_ih") and config["mode"] == "LSTM"]:
        hh = key.replace("bias_ih", "bias_hh")
        np.testing.assert_allclose(back[key] + back[hh], state[key] + state[hh], atol=1e-6)


def _randomize(model_or_layer: Any, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for w in model_or_layer.weights:
        w.assign(rng.uniform(-0.7, 0.7, size=w.shape).astype("float32"))


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: keras.layers.LSTM(5, return_sequences=True),
        lambda: keras.layers.GRU(4, return_sequences=True, use_bias=False),
        lambda: keras.layers.RNN(LSTMProjCell(6, proj_units=2), return_sequences=True),
        lambda: keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True)),
    ],
    ids=["lstm", "gru_nobias", "lstm_proj", "bidir_gru"],
)
def test_keras_layer_to_state_dict_and_back_is_identity(make_layer: Any) -> None:
    layer = make_layer()
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    layer(x)  # build
    _randomize(layer)
    expected = keras.ops.convert_to_numpy(layer(x))
    state, config = state_dict_from_keras(layer)
    assert config.batch_first and config.num_layers == 1 and config.input_size == 3
    out = keras_model_from_state_dict(state, config)(x)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), expected, atol=ATOL)


def test_time_major_model_round_trips_config() -> None:
    config = TorchRNNConfig(mode="GRU", input_size=2, hidden_size=3, num_layers=2, dropout=0.25)
    rng = np.random.default_rng(0)
    state = {k: rng.normal(size=s).astype("float32") for k, s in _expected_state_shapes(config).items()}
    model = keras_model_from_state_dict(state, config)
    assert model.inputs[0].shape == (None, None, 2)
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == ["dropout_l1"]
    assert state_dict_from_keras(model)[1] == config


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="reset_after"):
        state_dict_from_keras(_built(keras.layers.GRU(3, reset_after=False)))
    with pytest.raises(ValueError, match="merge_mode"):
        state_dict_from_keras(_built(keras.layers.Bidirectional(keras.layers.LSTM(3), merge_mode="sum")))
    with pytest.raises(ValueError, match="activation"):
        state_dict_from_keras(_built(keras.layers.LSTM(3, activation="relu")))
    with pytest.raises(ValueError, match="proj_size"):
        TorchRNNConfig(mode="GRU", input_size=2, hidden_size=3, proj_size=2)
    with pytest.raises(ValueError, match="mode"):
        TorchRNNConfig(mode="RNN_TANH", input_size=2, hidden_size=3)  # type: ignore[arg-type]
    inp = keras.Input((None, 3))
    with_head = keras.Model(inp, keras.layers.Dense(1)(keras.layers.LSTM(4)(inp)))
    with pytest.raises(ValueError, match="Dense"):
        state_dict_from_keras(with_head)
    config, state, _ = load_fixture(GOLDEN / "lstm_basic.npz")
    del state["bias_hh_l0"]
    with pytest.raises(ValueError, match="bias_hh_l0"):
        keras_model_from_state_dict(state, config)


def _built(layer: keras.layers.Layer) -> keras.layers.Layer:
    layer(np.zeros((1, 2, 3), dtype="float32"))
    return layer


def test_spec_dict() -> None:
    lstmp = TorchRNNConfig(
        mode="LSTM", input_size=3, hidden_size=8, proj_size=4, num_layers=2, bidirectional=True
    )
    assert spec_dict_from_config(lstmp) == {
        "cell": "lstm_proj",
        "units": 8,
        "proj_units": 4,
        "num_layers": 2,
        "bidirectional": True,
        "merge_mode": "concat",
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
    }
    gru = spec_dict_from_config(TorchRNNConfig(mode="GRU", input_size=3, hidden_size=5))
    assert (gru["cell"], gru["units"], gru["proj_units"], gru["num_layers"]) == ("gru", 5, None, 1)
    assert spec_dict_from_config(TorchRNNConfig(mode="LSTM", input_size=3, hidden_size=5))["cell"] == "lstm"


def test_builder_imports_without_torch() -> None:
    """torch may only be imported inside functions (builder must import without it)."""
    root = Path(__file__).resolve().parents[2] / "builder"
    for path in [root / "serving" / "interop.py", *sorted((root / "model" / "cells").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "torch" for n in names), (
                f"{path.name} imports torch at top level"
            )


# --------------------------------------------------------------------------- needs torch


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_torch_from_torch_and_to_torch(path: Path) -> None:
    torch = pytest.importorskip("torch")
    from builder.serving.interop import from_torch, spec_dict_from_torch, to_torch

    config, state, arrays = load_fixture(path)
    kwargs = {
        k: v for k, v in config.items() if k != "mode" and (k != "proj_size" or config["mode"] == "LSTM")
    }
    module = getattr(torch.nn, config["mode"])(**kwargs).eval()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    model = from_torch(module)
    for got, name in zip(model(arrays["x"]), ["out", "h_n", "c_n"], strict=False):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), arrays[name], atol=ATOL, err_msg=name)
    back = to_torch(model)
    with torch.no_grad():
        out, _ = back(torch.from_numpy(arrays["x"]))
    np.testing.assert_allclose(out.numpy(), arrays["out"], atol=ATOL)
    assert spec_dict_from_torch(module) == spec_dict_from_config(TorchRNNConfig.from_dict(config))
