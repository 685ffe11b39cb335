"""RNN Studio's library: spec -> model, CSV -> run directory, run -> metrics, exports and forecasts.

Public API (other tools call these by name):
    ModelSpec, list_presets(), load_preset(name) -> ModelSpec, build_model(spec, n_features) -> keras.Model

TensorFlow is imported lazily: `import builder` stays fast (the app's first page needs no TensorFlow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.presets import list_presets, load_preset, save_preset
from builder.spec import ModelSpec, SpecError

if TYPE_CHECKING:
    import keras

__all__ = ["ModelSpec", "SpecError", "build_model", "list_presets", "load_preset", "save_preset"]
__version__ = "0.1.0"


def build_model(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> keras.Model:
    """Build the Keras model a spec describes: [batch, lookback, n_features] -> outputs (see builder.build)."""
    from builder.build import build_model as _build

    return _build(spec, n_features, n_outputs)


def __getattr__(name: str) -> Any:  # lazy access to heavier modules
    if name in {"data", "train", "evaluate", "export", "build", "runs", "interop", "cells", "predict"}:
        import importlib

        return importlib.import_module(f"builder.{name}")
    raise AttributeError(f"module 'builder' has no attribute {name!r}")
