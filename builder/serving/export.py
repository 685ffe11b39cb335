"""Export: model.keras, a TensorFlow SavedModel with raw units in and out, and metadata.json.

The SavedModel's `serve` signature takes `window`: float32 [batch, lookback, n_features] in the data's
own units (columns in metadata["resolved"]["inputs"] order; for classification, any length, shorter
sequences padded at the end with NaN) and returns [batch, horizon, n_targets] in the targets' units,
or [batch, n_classes] class probabilities. Scaling is inside the graph; loading needs TensorFlow only:

    import tensorflow as tf
    m = tf.saved_model.load("saved_model")
    y = m.serve(tf.constant(windows, tf.float32))
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from builder.files import atomic_write_json, atomic_write_text
from builder.spec import ModelSpec
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task
from builder.training.runs import METADATA_FORMAT, Run

SERVING_SNIPPET = """import numpy as np
import tensorflow as tf

model = tf.saved_model.load("saved_model")
windows = np.zeros((1, {lookback}, {n_features}), dtype="float32")  # raw values, columns {features}
print(model.serve(tf.constant(windows)).numpy())  # {output}
"""


def metadata_for(spec: ModelSpec, resolved: Resolved, raw_model: Any) -> dict[str, Any]:
    """metadata.json: the run's one description of its data and model (see builder.training.runs)."""
    import keras

    return {
        "format": METADATA_FORMAT,
        "task": spec.task,
        "resolved": resolved.to_dict(),
        "serving": {
            "signature": "serve",
            "input": {"name": "window", "dtype": "float32",
                      "shape": [None, resolved.input_length, resolved.n_features], "columns": list(resolved.inputs),
                      "units": "raw (the CSV's own units)",
                      "padding": "NaN at the end" if get_task(spec.task).masks_padding else None},
            "output": {"shape": list(raw_model.output_shape), "meaning": get_task(spec.task).output_meaning(resolved)},
        },
        "params": int(raw_model.count_params()),
        "keras_version": keras.__version__,
    }


def export_saved_model(raw_model: Any, out_dir: str | Path, lookback: int | None, n_features: int) -> Path:
    """Write a SavedModel with a `serve` endpoint (float32 [batch, lookback, n_features] -> output).

    Written to a temporary directory and moved into place.
    """
    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        archive = keras.export.ExportArchive()
        archive.track(raw_model)
        archive.add_endpoint(
            name="serve",
            fn=lambda window: raw_model(window, training=False),
            input_signature=[tf.TensorSpec([None, lookback, n_features], tf.float32, name="window")],
        )
        archive.write_out(str(tmp), verbose=False)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def save_keras(raw_model: Any, path: str | Path) -> None:
    """model.keras, written under a temporary name and renamed into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    raw_model.save(tmp)
    tmp.replace(path)


def export_run_artifacts(run: Run, raw_model: Any, spec: ModelSpec, resolved: Resolved) -> dict[str, Any]:
    """Write model.keras, saved_model/ and metadata.json into a run directory; returns the metadata."""
    save_keras(raw_model, run.file("model.keras"))
    export_saved_model(raw_model, run.file("saved_model"), resolved.input_length, resolved.n_features)
    meta = metadata_for(spec, resolved, raw_model)
    atomic_write_json(run.file("metadata.json"), meta)
    return meta


def load_run_model(run: Run) -> Any:
    """The run's model.keras, loaded in Keras safe mode (no arbitrary code)."""
    import keras

    import builder.model.layers  # noqa: F401  (registers Standardize, Unstandardize, ...)
    import builder.model.recurrent  # noqa: F401  (registers FusedLSTM, FusedGRU, FusedSimpleRNN, FusedRNN)
    from builder.model.cells.registry import register_all

    register_all()  # the builder cells

    path = run.file("model.keras")
    if not path.exists():
        raise FileNotFoundError(f"{run.path}: no model.keras; has the run finished?")
    return keras.saving.load_model(path, safe_mode=True)


def export_run(run: Run, out_dir: str | Path) -> Path:
    """Copy a finished run's deployable artifacts to `out_dir`: saved_model/, model.keras, metadata.json,
    spec.json and a README with the serving snippet."""
    out_dir = Path(out_dir)
    for name in ("saved_model", "model.keras", "metadata.json", "spec.json"):
        if not run.file(name).exists():
            raise FileNotFoundError(f"{run.path}: {name} is missing; has the run finished?")
    out_dir.mkdir(parents=True, exist_ok=True)
    # every piece is copied under a temporary name and renamed into place: no half-written file
    tmp = Path(tempfile.mkdtemp(prefix=".saved_model.", dir=out_dir))
    try:
        shutil.copytree(run.file("saved_model"), tmp / "saved_model")
        if (out_dir / "saved_model").exists():
            shutil.rmtree(out_dir / "saved_model")
        (tmp / "saved_model").rename(out_dir / "saved_model")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in ("model.keras", "metadata.json", "spec.json"):
        part = out_dir / f".{name}.tmp"
        shutil.copy2(run.file(name), part)
        part.replace(out_dir / name)
    atomic_write_text(out_dir / "README.txt", serving_snippet(run.metadata()))
    return out_dir


def serving_snippet(meta: dict[str, Any]) -> str:
    """A short Python snippet that loads the SavedModel with TensorFlow alone and calls it.

    `meta`: a run's metadata (`Run.metadata()`).
    """
    r = meta["resolved"]
    length = r.get("input_length") or r.get("lookback")
    return SERVING_SNIPPET.format(lookback=length, n_features=len(r["inputs"]), features=r["inputs"],
                                  output=meta["serving"]["output"].get("meaning", ""))
