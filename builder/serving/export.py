"""Export: a finished run's model.keras, SavedModel and metadata.json (written by
builder.training.artifacts) loaded, copied to a folder, and explained in a serving snippet.

The SavedModel takes raw windows and returns raw forecasts or probabilities; loading needs
TensorFlow only:

    import tensorflow as tf
    m = tf.saved_model.load("saved_model")
    y = m.serve(tf.constant(windows, tf.float32))
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from builder.files import atomic_write_text
from builder.training.runs import Run

SERVING_SNIPPET = """import numpy as np
import tensorflow as tf

model = tf.saved_model.load("saved_model")
windows = np.zeros((1, {lookback}, {n_features}), dtype="float32")  # raw values, columns {features}
print(model.serve(tf.constant(windows)).numpy())  # {output}
"""


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
