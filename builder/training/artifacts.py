"""What training leaves in a run directory for serving: model.keras, the SavedModel and metadata.json.

The SavedModel's `serve` signature takes `window`: float32 [batch, input_length, n_features] in the
data's own units (columns in metadata["resolved"]["inputs"] order; for classification any length,
shorter sequences padded at the end with NaN) and returns [batch, horizon, n_targets] in the
targets' units, or [batch, n_classes] class probabilities. Scaling is inside the graph, so loading
needs TensorFlow only. builder.serving reads and copies these files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from builder.files import atomic_dir, atomic_write_json
from builder.spec import ModelSpec
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task
from builder.training.runs import METADATA_FORMAT, Run


def metadata_for(spec: ModelSpec, resolved: Resolved, raw_model: Any) -> dict[str, Any]:
    """metadata.json: the run's one description of its data and model (see builder.training.runs)."""
    import keras

    task = get_task(spec.task)
    if task.model_kind == "language_model":
        return _language_model_metadata(spec, resolved, raw_model)
    if task.model_kind == "seq2seq":
        return _seq2seq_metadata(spec, resolved, raw_model)
    named = task.serving_inputs(resolved)
    return {
        "format": METADATA_FORMAT,
        "task": spec.task,
        "resolved": resolved.to_dict(),
        "serving": {
            "signature": "serve",
            "input": {"name": "window", "dtype": "float32",
                      "shape": [None, resolved.input_length, resolved.n_features],
                      "units": "raw (the CSV's own units)",
                      "padding": "NaN at the end" if task.masks_padding else None,
                      **({"known_future": known_future_text(resolved)} if resolved.known_future else {}),
                      } if named is None else None,
            **({"inputs": named} if named is not None else {}),
            "output": {"shape": list(raw_model.output_shape), "meaning": task.output_meaning(resolved)},
        },
        "params": int(raw_model.count_params()),
        "keras_version": keras.__version__,
    }


def known_future_text(resolved: Resolved) -> str:
    """What the derived known-future columns of a forecast window hold (metadata, the Export page)."""
    h = int(resolved.lead_steps)
    first = resolved.known_future[0]
    return (f"the last {len(resolved.known_future) * h} columns are the next {h} value(s) of "
            f"{list(resolved.known_future)}: `{first}@+j` in row t holds `{first}` j steps after row t, so the "
            f"window's last row holds the values of the {h} steps after the window")


def export_saved_model(raw_model: Any, out_dir: str | Path, lookback: int | None, n_features: int,
                       intervals: dict[int, Any] | None = None, known_future: tuple[list[int], int] | None = None) -> Path:
    """Write a SavedModel with a `serve` endpoint (float32 [batch, lookback, n_features] -> output).

    intervals: {level: radius [horizon, n_targets]} of a forecast's conformal intervals; adds a
    second endpoint `serve_intervals` returning {"forecast", "lower_<level>", "upper_<level>"}, each
    [batch, horizon, n_targets] in raw units. Written to a temporary directory and moved into place.
    known_future: (positions of the known-future columns among the data's own F0 columns, lead steps S)
    of a forecast with known-future inputs; adds `serve_known_future(window [batch, lookback, F0], future
    [batch, S, k])`, which builds the lead columns in the graph (`serve` takes them built).
    """
    import tensorflow as tf

    window = [tf.TensorSpec([None, lookback, n_features], tf.float32, name="window")]
    endpoints: dict[str, tuple[Any, list[Any]]] = {"serve": (lambda w: raw_model(w, training=False), window)}
    if known_future:
        endpoints["serve_known_future"] = _known_future_endpoint(raw_model, int(lookback), n_features, *known_future)
    if intervals:
        radii = {level: tf.constant(r, tf.float32) for level, r in sorted(intervals.items())}

        def with_intervals(w: Any) -> dict[str, Any]:
            y = raw_model(w, training=False)
            out = {"forecast": y}
            for level, r in radii.items():
                out[f"lower_{level}"], out[f"upper_{level}"] = y - r, y + r
            return out

        endpoints["serve_intervals"] = (with_intervals, window)
    return export_endpoints(endpoints, raw_model, out_dir)


def _known_future_endpoint(raw_model: Any, lookback: int, n_features: int, known: list[int],
                           steps: int) -> tuple[Any, list[Any]]:
    """(function, input specs) of `serve_known_future`: the window of the data's own columns [B, L, F0] and
    the known-future columns' next `steps` values [B, S, k] -> the forecast. Row t's lead j is the known
    column at row t + j of the window followed by the future rows (builder.data.series.lead_values)."""
    import numpy as np
    import tensorflow as tf

    k = len(known)
    own = n_features - k * steps
    index = tf.constant(np.arange(lookback)[:, None] + np.arange(1, steps + 1)[None, :], tf.int32)  # [L, S]
    cols = tf.constant(known, tf.int32)

    def with_future(window: Any, future: Any) -> Any:
        full = tf.concat([tf.gather(window, cols, axis=2), future], axis=1)  # [B, L + S, k]
        leads = tf.transpose(tf.gather(full, index, axis=1), [0, 1, 3, 2])  # [B, L, k, S]
        return raw_model(tf.concat([window, tf.reshape(leads, [-1, lookback, k * steps])], axis=2), training=False)

    return with_future, [tf.TensorSpec([None, lookback, own], tf.float32, name="window"),
                         tf.TensorSpec([None, steps, k], tf.float32, name="future")]


def export_saved_model_named(raw_model: Any, out_dir: str | Path, inputs: list[dict[str, Any]]) -> Path:
    """Write a SavedModel whose `serve` endpoint takes the named inputs `inputs` (Task.serving_inputs),
    as keyword arguments, and feeds them to the model as a dict. Written to a temporary directory and
    moved into place."""
    import tensorflow as tf

    names = [i["name"] for i in inputs]
    signature = [tf.TensorSpec(i["shape"], getattr(tf, i["dtype"]), name=i["name"]) for i in inputs]
    return export_endpoints({"serve": (_named_call(raw_model, names), signature)}, raw_model, out_dir)


def _named_call(model: Any, names: list[str]) -> Any:
    """`model` called on a dict, as a function whose parameters carry the input names, so that the
    SavedModel is called as `serve(parent=..., tree=..., tokens=...)` (tree tasks' input sets)."""
    def parent_tree_tokens(parent: Any, tree: Any, tokens: Any) -> Any:
        return model({"parent": parent, "tree": tree, "tokens": tokens}, training=False)

    def parent_tree_features(parent: Any, tree: Any, features: Any) -> Any:
        return model({"parent": parent, "tree": tree, "features": features}, training=False)

    def parent_tree_tokens_features(parent: Any, tree: Any, tokens: Any, features: Any) -> Any:
        return model({"parent": parent, "tree": tree, "tokens": tokens, "features": features}, training=False)

    known = {("parent", "tree", "tokens"): parent_tree_tokens, ("parent", "tree", "features"): parent_tree_features,
             ("parent", "tree", "tokens", "features"): parent_tree_tokens_features}
    if tuple(names) not in known:
        raise ValueError(f"Received an invalid value for argument `names`, expected one of {list(known)}, got {names}")
    return known[tuple(names)]


def save_keras(raw_model: Any, path: str | Path) -> None:
    """model.keras, written under a temporary name and renamed into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    raw_model.save(tmp)
    tmp.replace(path)


def _language_model_metadata(spec: ModelSpec, resolved: Resolved, raw_model: Any) -> dict[str, Any]:
    import keras

    from builder.model.sequence import Stepper

    stepper = Stepper(raw_model)
    return {
        "format": METADATA_FORMAT, "task": spec.task, "resolved": resolved.to_dict(),
        "serving": {
            "signature": "generate",
            "signatures": {
                "generate": {"inputs": {"prompt": "string []", "length": "int32 []", "temperature": "float32 [] (<= 0: greedy)",
                                        "top_k": "int32 [] (<= 0: all)", "seed": "int64 []"},
                             "outputs": {"text": "string [] (the prompt and the generated characters)",
                                         "tokens": "int32 [length]"}},
                "step": {"inputs": {"token": "int32 [batch]", "states": f"float32 [batch, {stepper.state_size}] (zeros to start)"},
                         "outputs": {"logits": f"float32 [batch, {stepper.vocab_size}]", "states": f"float32 [batch, {stepper.state_size}]"}},
            },
            "state_size": stepper.state_size, "state_sizes": stepper.state_sizes,
            "vocabulary": list(resolved.classes),
            "output": {"shape": list(raw_model.output_shape), "meaning": get_task(spec.task).output_meaning(resolved)},
        },
        "params": int(raw_model.count_params()),
        "keras_version": keras.__version__,
    }


def _seq2seq_metadata(spec: ModelSpec, resolved: Resolved, raw_model: Any) -> dict[str, Any]:
    import keras

    return {
        "format": METADATA_FORMAT, "task": spec.task, "resolved": resolved.to_dict(),
        "serving": {
            "signature": "translate",
            "input": {"name": "source", "dtype": "string", "shape": [None], "units": "text"},
            "signatures": {"translate": {"inputs": {"source": "string [batch]"},
                                         "outputs": {"output_0": "string [batch] (greedy decoding)"}}},
            "tokens": resolved.tokens, "max_source_tokens": resolved.lookback, "max_target_tokens": resolved.horizon,
            "output": {"shape": [None], "meaning": get_task(spec.task).output_meaning(resolved)},
        },
        "params": int(raw_model.count_params()),
        "keras_version": keras.__version__,
    }


def export_translate(raw_model: Any, resolved: Resolved, out_dir: str | Path) -> Path:
    """Write a SavedModel whose `translate` signature maps a string batch to a string batch
    (builder.model.seq2seq.translate_module) to `out_dir`, through a temporary directory."""
    import tensorflow as tf

    from builder.model.seq2seq import translate_module

    module = translate_module(raw_model, resolved.vocabulary, resolved.classes, resolved.tokens or "characters",
                              int(resolved.lookback or 1), int(resolved.horizon or 1))
    with atomic_dir(out_dir) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={"translate": module.translate})
    return Path(out_dir)


def export_endpoints(endpoints: dict[str, tuple[Any, list[Any]]], tracked: Any, out_dir: str | Path) -> Path:
    """Write a SavedModel with the given endpoints (name -> (function, input signature)) to `out_dir`,
    through a temporary directory."""
    import keras

    with atomic_dir(out_dir) as tmp:
        archive = keras.export.ExportArchive()
        archive.track(tracked)
        for name, (fn, signature) in endpoints.items():
            archive.add_endpoint(name=name, fn=fn, input_signature=signature)
        archive.write_out(str(tmp), verbose=False)
    return Path(out_dir)


def export_run_artifacts(run: Run, raw_model: Any, spec: ModelSpec, resolved: Resolved,
                         intervals: dict[int, Any] | None = None) -> dict[str, Any]:
    """Write model.keras, saved_model/ and metadata.json into a run directory; returns the metadata.

    intervals: a forecast's {level: radius [H, K]} (builder.tasks.forecast_intervals), served by the
    SavedModel's `serve_intervals` endpoint and named in metadata["serving"]["intervals"].
    """
    save_keras(raw_model, run.file("model.keras"))
    task = get_task(spec.task)
    named = task.serving_inputs(resolved)
    own = list(resolved.read_columns)
    if task.model_kind == "language_model":
        from builder.model.sequence import serving_endpoints

        export_endpoints(serving_endpoints(raw_model, resolved.classes), raw_model, run.file("saved_model"))
    elif task.model_kind == "seq2seq":
        export_translate(raw_model, resolved, run.file("saved_model"))
    elif named is not None:
        export_saved_model_named(raw_model, run.file("saved_model"), named)
    else:
        known = ([own.index(c) for c in resolved.known_future], int(resolved.lead_steps)) if resolved.known_future else None
        export_saved_model(raw_model, run.file("saved_model"), resolved.input_length, resolved.n_features, intervals,
                           known)
    meta = metadata_for(spec, resolved, raw_model)
    if resolved.known_future and named is None and task.model_kind == "window":
        meta["serving"]["known_future"] = {
            "signature": "serve_known_future",
            "inputs": {"window": f"float32 [batch, {resolved.input_length}, {len(own)}] raw, columns {own}",
                       "future": f"float32 [batch, {resolved.lead_steps}, {len(resolved.known_future)}] raw: "
                                 f"{list(resolved.known_future)} for the {resolved.lead_steps} steps after the window"},
            "output": "the forecast, as `serve` (which takes the lead columns built)",
        }
    if intervals:
        meta["serving"]["intervals"] = {
            "signature": "serve_intervals",
            "outputs": ["forecast", *[f"{side}_{lv}" for lv in sorted(intervals) for side in ("lower", "upper")]],
            "levels": sorted(int(lv) for lv in intervals),
            "shape": [None, resolved.horizon, resolved.n_outputs], "units": "raw (the targets' own units)",
            "method": "conformal: forecast -/+ a radius per horizon step and target, from the run's most recent "
                      "validation and test residuals (metrics.json: intervals)",
        }
    atomic_write_json(run.file("metadata.json"), meta)
    return meta
