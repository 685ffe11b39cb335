"""The cell registry's contract, over every registered cell: it builds in a model, trains a step,
survives a save and load, exports to a SavedModel that gives the same numbers, and the fused loop
knows it. (Its size estimate against Keras's count, in every layout: tests/unit/test_limits.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from builder import ModelSpec, build_model
from builder.model.cells.registry import CELLS, get_cell, projected_cells
from builder.model.fused import fused_kind
from builder.model.recurrent import fused_layers
from builder.serving.export import load_run_model
from builder.training.artifacts import export_saved_model
from builder.training.fit import compile_model
from builder.training.runs import Run


def _spec(name: str, bidirectional: bool = False) -> ModelSpec:
    proj = 3 if get_cell(name).projected else None
    return ModelSpec.from_dict({"blocks": [{"kind": "recurrent", "cell": name, "units": 6, "proj_units": proj,
                                            "num_layers": 2, "bidirectional": bidirectional}],
                                "data": {"lookback": 5, "horizon": 2}, "training": {"batch_size": 4}})


@pytest.mark.parametrize("name", list(CELLS))
def test_every_registered_cell_builds_trains_sizes_and_reloads(name: str, tmp_path: Path) -> None:
    spec = _spec(name, bidirectional=True)
    model = build_model(spec, 3, 1)
    entry = get_cell(name)
    layers = fused_layers(model)
    assert layers and all((fused_kind(layer.cell) is not None) == (entry.fused is not None) for layer in layers)
    compile_model(model, spec)
    x = np.random.default_rng(0).normal(size=(8, 5, 3)).astype("float32")
    history = model.fit(x, np.zeros((8, 2, 1), "float32"), epochs=1, verbose=0, batch_size=4)
    assert np.isfinite(history.history["loss"][0])
    run = Run(tmp_path / "run")
    run.path.mkdir()
    model.save(run.file("model.keras"))
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(load_run_model(run).predict(x, verbose=0), expected, atol=1e-5)
    served = tf.saved_model.load(str(export_saved_model(model, tmp_path / "saved_model", 5, 3)))
    np.testing.assert_allclose(served.serve(tf.constant(x)).numpy(), expected, atol=1e-5)


def test_projected_cells_need_a_projection_and_unknown_names_are_refused() -> None:
    assert projected_cells() == {"lstm_proj", "proj_gru"}
    for name in projected_cells():
        assert get_cell(name).output_units(8, 3) == 3
    assert get_cell("lstm").output_units(8, 3) == 8
    with pytest.raises(ValueError, match="unknown cell 'nope'"):
        get_cell("nope")
