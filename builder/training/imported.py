"""Weights imported from another framework (builder.serving.torch_import writes them), put into a model
before training: `imported.weights.npz` in a prepared run holds Keras arrays keyed
`<layer name>/<forward|backward>/<weight>` for the recurrent cells; fit applies them after the data's
scalers are set, so a run trains on from them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.training.runs import Run

IMPORTED_WEIGHTS = "imported.weights.npz"


def apply_arrays(model: Any, arrays: dict[str, np.ndarray]) -> None:
    """Assign `<layer>/<forward|backward>/<weight>` arrays to the model's recurrent cells (shapes checked)."""
    import keras

    for key, value in arrays.items():
        layer_name, direction, attr = key.split("/")
        layer = model.get_layer(layer_name)
        if isinstance(layer, keras.layers.Bidirectional):
            layer = layer.forward_layer if direction == "forward" else layer.backward_layer
        var = getattr(layer.cell, attr)
        if tuple(var.shape) != tuple(value.shape):
            raise ValueError(f"imported weight {key}: the model has shape {tuple(var.shape)}, the file {tuple(value.shape)}")
        var.assign(value)


def apply_imported_weights(run: Run, model: Any) -> bool:
    """Put a prepared run's imported arrays into `model` (True if the run has them)."""
    path = run.file(IMPORTED_WEIGHTS)
    if not path.exists():
        return False
    with np.load(path, allow_pickle=False) as data:
        apply_arrays(model, {k: data[k] for k in data.files})
    return True
