"""Runs written without training, for tests of what reads a finished run (code generation, conversion,
export, explanation): the spec's model built for the prepared data, with the scaler statistics set as
training sets them and every weight moved off its initial value (so a weight copied to the wrong place
changes the outputs), saved as training saves it. Building instead of fitting skips the training step's
tracing, which is most of a tiny run's time."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from builder.spec import ModelSpec
from builder.tasks.registry import get_task
from builder.training.runs import Run


def built_model(spec: ModelSpec, data: Any, seed: int = 0, adjust: Callable[[Any], None] | None = None) -> tuple[Any, Any]:
    """(the served model, the resolved data record) of `spec` for prepared `data`, untrained but with
    weights drawn from a generator seeded by `seed`: trainable weights and batch-norm means = their
    initial value + N(0, 0.2), batch-norm variances U(0.5, 1.5); Standardize holds the data's scaler.
    `adjust(model)`, when given, then changes the weights further."""
    import keras

    from builder.data.scaler import Scaler
    from builder.model.build import build_model

    task = get_task(spec.task)
    resolved = task.resolve(data)
    keras.utils.set_random_seed(seed)
    model = build_model(spec, resolved)
    if resolved.x_scaler is not None:
        x_scaler = Scaler.from_dict(resolved.x_scaler)
        model.get_layer("standardize").set_statistics(x_scaler.offset_, x_scaler.scale_)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name == "standardize":
            continue
        for w in layer.weights:
            shape = tuple(w.shape)
            if "variance" in w.path:
                w.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
            else:
                w.assign(np.asarray(w) + rng.normal(0.0, 0.2, shape).astype("float32"))
    if adjust is not None:
        adjust(model)
    return task.raw_output(model, resolved), resolved


def built_run(spec: ModelSpec, data: Any, path: str | Path, seed: int | None = None, saved_model: bool = True,
              adjust: Callable[[Any], None] | None = None) -> Run:
    """A run directory at `path` as training leaves it for serving (spec.json, model.keras, metadata.json and,
    with `saved_model`, the SavedModel), holding `built_model`'s weights (with `adjust`); no history, metrics
    or predictions. `seed` defaults to one derived from the spec's name."""
    from builder.training.artifacts import export_run_artifacts, metadata_for, save_keras

    raw, resolved = built_model(spec, data, zlib.crc32(spec.name.encode()) if seed is None else seed, adjust)
    run = Run(Path(path))
    run.path.mkdir(parents=True)
    run.write_json("spec.json", spec.model_dump(mode="json"))
    if saved_model:
        export_run_artifacts(run, raw, spec, resolved)
    else:
        save_keras(raw, run.file("model.keras"))
        run.write_json("metadata.json", metadata_for(spec, resolved, raw))
    return run
