"""RNN Studio's library: spec -> model, CSV -> run directory, run -> metrics, exports and forecasts.

The flow, one subpackage a step (docs/architecture.md has the module map):

    spec/      ModelSpec, cross-field checks, presets
    data/      reading files, column roles, series and sequences, scalers, lazy windows
    tasks/     one module per task (forecast, classify) and the frozen `Resolved` record
    model/     build (the one place layers are made), layers, cells and their registry, fused loops,
               size estimate, diagram
    training/  fit and callbacks, the run directory, training slots, the worker process
    serving/   export (SavedModel, metadata.json), predict, PyTorch interop
    app/       plain helpers behind the Streamlit pages (never imports streamlit)
    __main__   the CLI

Public API (other tools call these by name):
    ModelSpec, SpecError, list_presets(), load_preset(name) -> ModelSpec, save_preset(spec, folder),
    build_model(spec, n_features, n_outputs=None) -> keras.Model

TensorFlow is imported lazily: `import builder` stays fast (the app's first page needs no TensorFlow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.spec import ModelSpec, SpecError
from builder.spec.presets import list_presets, load_preset, save_preset

if TYPE_CHECKING:
    import keras

__all__ = ["ModelSpec", "SpecError", "build_model", "list_presets", "load_preset", "save_preset"]
__version__ = "0.1.0"


def build_model(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> keras.Model:
    """The Keras model a spec describes for `n_features` inputs, before any data.

    [batch, lookback, n_features] raw -> the task's output (n_outputs: targets or classes; when None,
    the spec's targets or the task's placeholder count). For a run's data, use
    `builder.model.build.build_model(spec, resolved)`.
    """
    from builder.model.build import build_model as _build
    from builder.tasks.registry import get_task

    return _build(spec, get_task(spec.task).placeholder(spec, n_features, n_outputs))
