"""builder.model.diagram: spec -> Graphviz DOT, without Keras, matching the builder's layers and shapes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from builder import list_presets, load_preset
from builder.model.diagram import to_dot as _to_dot
from builder.spec import ModelSpec
from builder.tasks import get_task


def to_dot(spec: ModelSpec, n_features: int = 1, n_outputs: int | None = None) -> str:
    """The diagram on the record a model of `spec` has before any data (the Design page's view)."""
    return _to_dot(spec, get_task(spec.task).placeholder(spec, n_features, n_outputs))


def _spec(blocks: list[dict], task: str = "forecast", **data: object) -> ModelSpec:
    return ModelSpec.from_dict({"task": task, "blocks": blocks, "data": data})


def test_stacked_lstm_nodes_and_shapes() -> None:
    spec = _spec([{"kind": "recurrent", "cell": "lstm", "units": 64, "num_layers": 2}, {"kind": "dense", "units": 32}],
                 lookback=24, horizon=3)
    dot = to_dot(spec, n_features=2, n_outputs=1)
    assert dot.startswith("digraph model {") and dot.rstrip().endswith("}")
    assert dot.count("LSTM #1 layer") == 2  # numbered as the Design editor numbers blocks
    assert "[batch, 24, 64]" in dot, "the first layer returns all steps"
    assert "[batch, 64]" in dot, "the last layer returns only its final step"
    assert "[batch, 3, 1]" in dot and "horizon 3" in dot
    assert "Add last observed value" in dot


def test_bidirectional_projection_conv_and_attention_widths() -> None:
    spec = _spec([
        {"kind": "conv", "filters": 16, "kernel_size": 5, "padding": "valid", "pool_size": 2},
        {"kind": "recurrent", "cell": "lstm_proj", "units": 32, "proj_units": 6, "bidirectional": True},
        {"kind": "attention", "units": 4},
        {"kind": "dense", "units": 10, "dropout": 0.1},
    ], lookback=20, horizon=1)
    dot = to_dot(spec, n_features=3, n_outputs=2)
    assert "[batch, 16, 16]" in dot, "valid conv: 20 - 5 + 1 = 16 steps"
    assert "[batch, 8, 16]" in dot, "pooling by 2 halves the steps"
    assert "[batch, 8, 12]" in dot, "bidirectional projection: 2 x 6 channels on the pooled 8 steps"
    assert "proj 6" in dot and "bidirectional (concat)" in dot
    assert "Attention pooling" in dot and "dropout 0.1" in dot


def test_classifier_has_softmax_and_variable_length() -> None:
    spec = _spec([{"kind": "recurrent", "cell": "gru", "units": 8}], task="classify")
    dot = to_dot(spec, n_features=1, n_outputs=4)
    assert "variable length" in dot and "4 classes" in dot and "[batch, T, 1]" in dot
    assert "residual" not in dot


def test_model_name_is_the_title_and_escaped() -> None:
    spec = _spec([{"kind": "recurrent"}]).updated(name='a "quoted" \\ name')
    dot = to_dot(spec)
    assert 'label="a \\"quoted\\" \\\\ name"' in dot, dot.splitlines()[:3]


@pytest.mark.parametrize("name", [p["name"] for p in list_presets()])
def test_every_preset_draws(name: str) -> None:
    spec = load_preset(name)
    dot = to_dot(spec, n_features=3, n_outputs=2)
    layers = sum(b.num_layers for b in spec.recurrent_blocks)
    assert dot.count("->") >= layers + 3


def test_no_keras_or_tensorflow_import() -> None:
    code = ("import sys; from builder.model.diagram import to_dot; from builder import load_preset; "
            "from builder.tasks import get_task; s = load_preset('cldnn'); "
            "to_dot(s, get_task(s.task).placeholder(s, 2, 1)); "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tree_cell_box_names_its_composition_layers() -> None:
    spec = load_preset("child_sum_tree_lstm")
    rec = {"kind": "recurrent", "cell": "child_sum_tree_lstm", "units": 16}
    assert "composition layer" not in to_dot(spec.updated(blocks=[{**rec, "composition_layers": 0}]))
    assert "1 ReLU composition layer per node" in to_dot(spec.updated(blocks=[{**rec, "composition_layers": 1}]))
    assert "2 ReLU composition layers per node" in to_dot(spec.updated(blocks=[{**rec, "composition_layers": 2}]))


def test_block_numbers_match_the_design_editor_with_an_fcn_branch() -> None:
    """The FCN branch is drawn beside the others, yet the recurrent and dense blocks keep their spec numbers."""
    spec = _spec([{"kind": "fcn"}, {"kind": "recurrent", "cell": "lstm", "units": 8}, {"kind": "dense", "units": 4}],
                 task="classify")
    dot = to_dot(spec, n_features=1, n_outputs=2)
    assert "LSTM #2" in dot and "Dense #3" in dot and "#0" not in dot
