"""A finished run's model in other formats: ONNX (onnxruntime) and LiteRT (.tflite), each checked
against the run's SavedModel on raw windows before it is kept.

Both take the SavedModel's contract: `window` float32 [batch, input_length, n_features] in the data's
own units in, forecasts in the targets' units (or class probabilities) out; the scaling layers are in
the graph.

How each is made, and why:

* **ONNX**: tf2onnx (the converter Keras 3's `model.export(format="onnx")` calls on TensorFlow) on a
  tf.function of an inference copy of the model whose recurrent layers run Keras's own loop
  (`use_fused = False`): the fused loop's in-place buffer write traces to `XlaDynamicUpdateSlice`,
  for which tf2onnx has no converter, while Keras's `tf.while_loop` becomes an ONNX `Loop`.
* **LiteRT**: TensorFlow's TFLite converter with the builtin op set only, on a SavedModel of the
  inference copy. Keras's `format="litert"` also enables TensorFlow "select" ops, which the
  ai-edge-litert interpreter cannot run without the Flex delegate: such a file would fail when loaded.
  The fused loop (fixed-length windows) converts with a free batch size. Keras's loop (a masked,
  NaN-padded classification input) lowers its TensorList only when the batch size is static, so
  that model is converted for one sequence per call (batch 1) and says so.

The inference copy: the run's model.keras with dropout and recurrent dropout off (inert at inference
anyway), so GRU/LSTM cells with recurrent dropout (Keras's implementation 1) run the fused loop too.

Every file is checked before it is kept: the SavedModel and the converted model on the same raw
windows (mean + scale * N(0, 1) per feature from the model's own Standardize statistics, and for
classification one NaN-padded sequence), |difference| <= 1e-5 * max(1, |SavedModel|). A conversion
that fails, or a file that loads but disagrees, raises ConversionError with the reason and leaves no
file.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from builder.files import atomic_write_json
from builder.tasks.registry import TASKS, get_task
from builder.training.runs import Run

#: the formats `export --format` knows
FORMATS = ("savedmodel", "onnx", "litert")
#: file name of each converted format in the output folder
FILE_NAMES = {"onnx": "model.onnx", "litert": "model.tflite"}
#: agreement asked of a converted model: |converted - SavedModel| <= TOLERANCE * max(1, |SavedModel|)
TOLERANCE = 1e-5
#: the ONNX opset written (onnxruntime 1.32 runs up to 23; 17 is what most runtimes read)
ONNX_OPSET = 17


class ConversionError(ValueError):
    """A format the run's model cannot be converted to, or a converted file that disagrees."""


@dataclass
class Converted:
    """One converted, checked file.

    `batch`: the batch size the file takes (None: any); `max_abs_diff`: the largest |difference| to
    the SavedModel on the check windows (raw units); `notes`: what differs from the SavedModel's contract.
    """

    format: str
    path: str
    size_bytes: int
    max_abs_diff: float
    n_check_windows: int
    batch: int | None
    seconds: float
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- the model to convert -----------------------------------------------------------------------------
def inference_model(run: Run) -> Any:
    """A fresh copy of the run's raw model (model.keras) for inference: dropout and recurrent dropout
    off in every recurrent cell (GRU/LSTM cells then use Keras's implementation 2, the fused form)."""
    from builder.model.recurrent import _all_layers
    from builder.serving.export import load_run_model

    model = load_run_model(run)
    for layer in _all_layers(model):
        cell = getattr(layer, "cell", None)
        if cell is None:
            continue
        for name in ("dropout", "recurrent_dropout"):
            if hasattr(cell, name):
                setattr(cell, name, 0.0)
        if getattr(cell, "implementation", None) == 1:
            cell.implementation = 2
    return model


@contextlib.contextmanager
def keras_loop(model: Any) -> Iterator[None]:
    """Within the block the model's fused recurrent layers run Keras's own loop (see module docstring)."""
    from builder.model.recurrent import fused_layers

    layers = fused_layers(model)
    for layer in layers:
        layer.use_fused = False
    try:
        yield
    finally:
        for layer in layers:
            layer.use_fused = True


def conversion_blocker(meta: dict[str, Any]) -> str | None:
    """Why the run's model cannot be converted to ONNX / LiteRT (one line), or None when it can.

    The converters and their checks take the SavedModel's one `window` input, float32
    [batch, input_length, n_features] of raw values (forecast, classify, label_steps). A task whose model
    takes something else says what in `Task.convert_refusal` (generate: text and token ids; tree: flat
    node arrays; translate: strings), and is refused here, before any work. A run whose metadata names
    no such window (an older or hand-edited run) is refused from its metadata alone.
    """
    task = meta.get("task")
    head = f"task {task}: ONNX and LiteRT conversion takes a model with one raw `window` input [batch, time, features]"
    refusal = get_task(task).convert_refusal if task in TASKS else ""
    if refusal:
        return f"{head}; {refusal}"
    serving = meta.get("serving") or {}
    served = serving.get("input")
    if isinstance(served, dict) and served.get("name") == "window" and len(served.get("shape") or ()) == 3:
        return None
    return f"{head}; its metadata names no such input"


def needs_keras_loop(meta: dict[str, Any]) -> bool:
    """True when the served input may be NaN-padded (masked): recurrent layers then run Keras's loop."""
    return meta["serving"]["input"].get("padding") is not None


# ---- check windows ----------------------------------------------------------------------------------
def check_windows(model: Any, meta: dict[str, Any], n: int = 4, seed: int = 0) -> np.ndarray:
    """Raw windows [n, length, n_features] float32 for comparing formats: each feature drawn as
    mean + scale * N(0, 1) with the model's Standardize statistics; for a padded (classification)
    input of free length, 12 steps with the first window padded with NaN after step 7."""
    from builder.model.layers import input_scaler

    stats = input_scaler(model)
    mean, scale = np.asarray(stats.mean), np.asarray(stats.scale)
    _, length, n_features = meta["serving"]["input"]["shape"]
    length = length or 12
    x = mean + scale * np.random.default_rng(seed).standard_normal((n, length, n_features))
    x = x.astype("float32")
    if needs_keras_loop(meta):
        x[0, 7:] = np.nan
    return x


def saved_model_outputs(run: Run, x: np.ndarray) -> np.ndarray:
    """The run's SavedModel `serve` on raw windows `x` [n, length, F] -> its output as NumPy."""
    import tensorflow as tf

    served = tf.saved_model.load(str(run.file("saved_model")))
    return served.serve(tf.constant(x)).numpy()


def _compare(fmt: str, got: np.ndarray, ref: np.ndarray) -> float:
    if got.shape != ref.shape:
        raise ConversionError(f"{fmt}: the converted model returns shape {got.shape}, the SavedModel {ref.shape}")
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    if not np.all(np.isfinite(got)):
        raise ConversionError(f"{fmt}: the converted model returns NaN or inf where the SavedModel does not")
    worst = float(diff.max())
    limit = TOLERANCE * np.maximum(1.0, np.abs(ref))
    if np.any(diff > limit):
        raise ConversionError(f"{fmt}: the converted model differs from the SavedModel by up to {worst:.3g} "
                              f"(allowed {TOLERANCE:g} x max(1, |value|)); the file was not kept")
    return worst


# ---- runners (used by the checks and the bench) ---------------------------------------------------------
def onnx_runner(path: str | Path) -> Any:
    """A function raw windows [n, length, F] -> outputs, running the ONNX file with onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.asarray(x, np.float32)})[0]


def litert_runner(path: str | Path) -> Any:
    """A function raw windows [n, length, F] -> outputs, running the .tflite file with the LiteRT
    interpreter (`serve` signature); a batch-1 file is called once per window."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serve")
    batch = int(runner.get_input_details()["window"]["shape_signature"][0])

    def run(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if batch == 1:
            return np.concatenate([next(iter(runner(window=x[i : i + 1]).values())) for i in range(len(x))])
        return next(iter(runner(window=x).values()))

    return run


# ---- conversions ---------------------------------------------------------------------------------------
def _signature(meta: dict[str, Any], batch: int | None) -> list[Any]:
    import tensorflow as tf

    _, length, n_features = meta["serving"]["input"]["shape"]
    return [tf.TensorSpec([batch, length, n_features], tf.float32, name="window")]


def _converter_reason(err: BaseException) -> str:
    """The first converter error, without the MLIR location chain."""
    text = str(err)
    match = re.search(r"error: (?:loc\(.*?\)\)+: )?([^\n]+)", text)
    reason = match.group(1) if match else (text.strip().splitlines() or [type(err).__name__])[0]
    return reason.strip()[:400]


def _to_onnx(model: Any, meta: dict[str, Any], path: Path) -> tuple[int | None, list[str]]:
    import tensorflow as tf
    import tf2onnx

    spec = _signature(meta, None)
    with keras_loop(model):
        fn = tf.function(lambda window: model(window, training=False), input_signature=spec)
        try:
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=ONNX_OPSET)
        except Exception as err:  # tf2onnx raises plain exceptions for what it cannot trace
            raise ConversionError(f"onnx: tf2onnx cannot convert this model: {_converter_reason(err)}") from err
    missing = sorted(_unknown_onnx_ops(proto.graph))
    if missing:  # tf2onnx logs unsupported TensorFlow ops and writes them as they are: a file no runtime loads
        raise ConversionError(f"onnx: tf2onnx has no ONNX equivalent for the TensorFlow op(s) {', '.join(missing)}; "
                              "the file was not kept")
    path.write_bytes(proto.SerializeToString())
    return None, ["recurrent layers run as an ONNX Loop (Keras's loop)"]


def _unknown_onnx_ops(graph: Any) -> set[str]:
    """Op types in an ONNX graph (and its Loop / If bodies) that the standard ONNX domains do not define."""
    import onnx

    found: set[str] = set()
    for node in graph.node:
        if node.domain in ("", "ai.onnx", "ai.onnx.ml") and not onnx.defs.has(node.op_type, node.domain):
            found.add(node.op_type)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                found |= _unknown_onnx_ops(attr.g)
            for sub in attr.graphs:
                found |= _unknown_onnx_ops(sub)
    return found


def _tflite_bytes(model: Any, spec: list[Any]) -> bytes:
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="rnn-studio-litert-") as tmp:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(name="serve", fn=lambda window: model(window, training=False), input_signature=spec)
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serve"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter.convert()


def _to_litert(model: Any, meta: dict[str, Any], path: Path) -> tuple[int | None, list[str]]:
    batch = 1 if needs_keras_loop(meta) else None
    notes = []
    if batch == 1:
        notes.append("one sequence per call (batch 1): the masked recurrent loop of a NaN-padded input converts "
                     "to LiteRT builtins only with a static batch size")
    try:
        data = _tflite_bytes(model, _signature(meta, batch))
    except Exception as err:  # the converter raises ConverterError (an Exception subclass) with MLIR text
        raise ConversionError(f"litert: the TFLite converter (builtin ops only) cannot convert this model: "
                              f"{_converter_reason(err)}") from err
    path.write_bytes(data)
    return batch, notes


_CONVERTERS = {"onnx": (_to_onnx, onnx_runner), "litert": (_to_litert, litert_runner)}


def convert_run(run: Run, fmt: str, out_dir: str | Path, n_check: int = 4) -> Converted:
    """Convert a finished run's model to `fmt` ("onnx" or "litert") in `out_dir`, check it against the
    SavedModel, and write `<file>.json` beside it with the check's figures: `out_dir` then holds this
    export alone (builder.serving.export.export_folder: an earlier export there is replaced whole, a
    folder of other files refused with ExportFolderError). Raises ConversionError (nothing left behind,
    an earlier export untouched) when the conversion fails or the file disagrees with the SavedModel."""
    if fmt not in _CONVERTERS:
        raise ValueError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    meta = run.metadata()
    blocker = conversion_blocker(meta)
    if blocker:
        raise ConversionError(f"{fmt}: {blocker}")
    for name in ("saved_model", "model.keras"):
        if not run.file(name).exists():
            raise FileNotFoundError(f"{run.path}: {name} is missing; has the run finished?")
    from builder.serving.export import export_folder

    convert, runner = _CONVERTERS[fmt]
    final = Path(out_dir) / FILE_NAMES[fmt]
    t0 = time.perf_counter()
    # written whole into a fresh folder that replaces `out_dir` only once the file passed its check (a folder
    # it may not replace is refused on entering, before the conversion's minutes)
    with export_folder(out_dir, run, fmt) as tmp:
        draft = tmp / final.name
        model = inference_model(run)
        x = check_windows(model, meta, n=n_check)
        batch, notes = convert(model, meta, draft)
        try:
            got = runner(draft)(x)
        except Exception as err:  # the runtime refuses the file: say so rather than ship it
            raise ConversionError(f"{fmt}: the converted file does not run: {_converter_reason(err)}") from err
        worst = _compare(fmt, np.asarray(got), saved_model_outputs(run, x))
        result = Converted(fmt, str(final), draft.stat().st_size, worst, len(x), batch,
                           round(time.perf_counter() - t0, 2), notes)
        atomic_write_json(tmp / f"{final.name}.json", {**result.to_dict(), "path": final.name, "tolerance": TOLERANCE,
                                                       "input": meta["serving"]["input"],
                                                       "output": meta["serving"]["output"]})
    return result


def usage_snippet(fmt: str, meta: dict[str, Any]) -> str:
    """A short snippet that runs the converted file with its runtime alone (no TensorFlow)."""
    _, length, n_features = meta["serving"]["input"]["shape"]
    window = f'np.zeros((1, {length or 12}, {n_features}), dtype="float32")  # raw values, columns {meta["resolved"]["inputs"]}'
    if fmt == "onnx":
        return ("import numpy as np\nimport onnxruntime as ort\n\n"
                'session = ort.InferenceSession("model.onnx")\n'
                f"window = {window}\n"
                'print(session.run(None, {"window": window})[0])\n')
    return ("import numpy as np\nfrom ai_edge_litert.interpreter import Interpreter\n\n"
            'serve = Interpreter(model_path="model.tflite").get_signature_runner("serve")\n'
            f"window = {window}\n"
            'print(next(iter(serve(window=window).values())))\n')
