"""ModelSpec: defaults, validation messages, cross-field rules, JSON schema, presets."""

from __future__ import annotations

import json

import pytest

from builder import ModelSpec, SpecError, list_presets, load_preset
from builder.model.cells.registry import CELLS


def test_default_spec_round_trips_through_json(tmp_path):
    spec = ModelSpec()
    path = tmp_path / "s.json"
    spec.to_json(path)
    assert ModelSpec.from_json(path) == spec


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"training": {"lr": 0.1}}, "unknown field `training.lr`"),
        ({"blocks": [{"kind": "recurrent", "units": -3}]}, "field `blocks.0.units`: expected greater than or equal to 1, got -3"),
        ({"data": {"horizon": 0}}, "field `data.horizon`"),
        ({"task": "regress"}, "field `task`"),
        ({"blocks": [{"kind": "recurrent", "cell": "lstm_proj", "units": 8, "proj_units": 8}]},
         "blocks.0.proj_units: expected a value smaller than units=8, got 8"),
        ({"blocks": [{"kind": "recurrent", "cell": "proj_gru", "units": 8}]}, "needs a projection size"),
        ({"blocks": [{"kind": "dense"}, {"kind": "recurrent"}]}, "cannot follow a dense block"),
        ({"blocks": [{"kind": "conv"}]}, "at least one recurrent block"),
        ({"blocks": [{"kind": "recurrent"}, {"kind": "conv"}]}, "cannot end the sequence part"),
        ({"task": "classify", "training": {"loss": "mse"}}, "training.loss"),
        ({"training": {"clipnorm": 1.0, "clipvalue": 0.5}}, "either clipnorm"),
        ({"data": {"val_fraction": 0.5, "test_fraction": 0.45}}, "less than 10%"),
        ({"blocks": [{"kind": "recurrent", "cell": "lstm", "composition_layers": 1}]},
         "blocks.0.composition_layers: only tree cells have composition layers, expected 0 for lstm, got 1"),
        ({"task": "tree", "blocks": [{"kind": "recurrent", "cell": "child_sum_tree_lstm", "composition_layers": 4}]},
         "field `blocks.0.composition_layers`: expected less than or equal to 3, got 4"),
    ],
)
def test_invalid_specs_name_the_field(data, fragment):
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(data)
    assert fragment in str(err.value)


def test_every_cell_is_selectable():
    for cell in CELLS:
        block = {"kind": "recurrent", "cell": cell, "units": 8}
        if cell in ("lstm_proj", "proj_gru"):
            block["proj_units"] = 4
        assert ModelSpec.from_dict({"blocks": [block]}).blocks[0].cell == cell


def test_schema_has_labels_bounds_and_help():
    schema = ModelSpec.model_json_schema()
    units = schema["$defs"]["RecurrentBlock"]["properties"]["units"]
    assert units["minimum"] == 1 and units["description"]
    assert "forecast" in json.dumps(schema["properties"]["task"])


def test_presets_are_valid_and_described():
    presets = list_presets()
    names = [p["name"] for p in presets]
    assert names[0] == "stacked_lstm"
    assert {"stacked_lstm", "bigru_classifier", "lstmp", "cldnn", "simple_rnn_baseline", "deep_gru"} <= set(names)
    for p in presets:
        assert p["description"] and p["when_to_use"]
        assert isinstance(load_preset(p["name"]), ModelSpec)
    assert load_preset("lstmp").blocks[0].cell == "lstm_proj"
    assert load_preset("bigru_classifier").task == "classify"


def test_unknown_preset_lists_the_choices():
    with pytest.raises(SpecError, match="stacked_lstm"):
        load_preset("nope")


def test_updated_merges_nested_changes():
    spec = load_preset("stacked_lstm").updated(training={"epochs": 3}, data={"horizon": 4})
    assert spec.training.epochs == 3 and spec.data.horizon == 4 and spec.training.batch_size == 64
