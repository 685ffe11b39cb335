"""Export page helpers for the other formats: a run's model converted to ONNX or LiteRT and checked
against its SavedModel (builder.serving.convert), kept in the run's `exports/<format>/` folder (one export
per folder: each conversion replaces its folder whole)."""

from __future__ import annotations

import json
from typing import Any

from builder.training.runs import Run

#: the formats the Export page offers beside the SavedModel: (format, label)
CONVERT_FORMATS = (("onnx", "ONNX (onnxruntime)"), ("litert", "LiteRT (.tflite)"))


def convert_for_download(run: Run, fmt: str) -> dict[str, Any]:
    """Convert (or reuse the checked conversion in `<run>/exports/<fmt>/`) and return
    {"ok": True, "data": file bytes, "file_name", "check": the check's figures, "snippet"} or
    {"ok": False, "reason": why the format cannot be made for this model}."""
    from builder.serving.convert import FILE_NAMES, ConversionError, convert_run, usage_snippet

    out = run.path / "exports" / fmt
    path, record = out / FILE_NAMES[fmt], out / f"{FILE_NAMES[fmt]}.json"
    fresh = record.exists() and path.exists() and record.stat().st_mtime_ns >= run.file("model.keras").stat().st_mtime_ns
    if fresh:
        check = json.loads(record.read_text())
    else:
        try:
            check = convert_run(run, fmt, out).to_dict()
        except ConversionError as err:
            return {"ok": False, "reason": str(err)}
    return {"ok": True, "data": path.read_bytes(), "file_name": f"{run.path.name}-{path.name}", "check": check,
            "snippet": usage_snippet(fmt, run.metadata())}


def export_options(meta: dict[str, Any], spec: dict[str, Any] | None = None) -> dict[str, str | None]:
    """What the Export page offers beside the SavedModel for a run with metadata `meta` and spec.json `spec`:
    {"onnx", "litert", "code"} -> None where the converter / code generator takes the model, else the
    one-line reason why not (no TensorFlow imported)."""
    from builder.serving.codegen import codegen_blocker
    from builder.serving.convert import conversion_blocker

    blocker = conversion_blocker(meta)
    ensemble = int(((spec or {}).get("training") or {}).get("ensemble") or 1)
    return {"onnx": blocker, "litert": blocker, "code": codegen_blocker(meta.get("task"), ensemble)}


def contract_lines(meta: dict[str, Any]) -> list[str]:
    """The run's SavedModel contract as Markdown list items (builder.serving.export.contract_lines)."""
    from builder.serving.export import contract_lines as lines

    return lines(meta)


def code_for_download(run: Run) -> dict[str, Any]:
    """The run's model as a standalone plain-Keras file with its weights (builder.serving.codegen), made
    once in `<run>/exports/code/` and reused while model.keras is unchanged. Returns {"ok": True, "code":
    the file's text, "weights": the weights file's bytes, "code_name", "weights_name"} or {"ok": False,
    "reason": why the generator cannot write this model}. The file is `<run>-model.py`, and its
    `load_trained` reads `<run>-model.weights.h5` beside it: the names the downloads carry."""
    from builder.serving.codegen import CodegenError, code_from_run, weights_file

    code = run.path / "exports" / "code" / f"{run.path.name}-model.py"
    weights = weights_file(code)
    fresh = code.exists() and weights.exists() and code.stat().st_mtime_ns >= run.file("model.keras").stat().st_mtime_ns
    if not fresh:
        try:
            code, weights = code_from_run(run, code)
        except CodegenError as err:
            return {"ok": False, "reason": str(err)}
    return {"ok": True, "code": code.read_text(encoding="utf-8"), "weights": weights.read_bytes(),
            "code_name": code.name, "weights_name": weights.name}


def spec_code(spec: Any, n_features: int, n_outputs: int) -> str:
    """The Design page's download: the spec as a standalone plain-Keras file (no weights), sized for the
    session's data (`n_features` inputs; `n_outputs` targets or classes; translate: the source and target
    vocabulary sizes, 1 where not known)."""
    from builder.serving.codegen import generate_code, spec_sizes

    sizes = {**spec_sizes(spec), "n_features": int(n_features), "n_outputs": int(n_outputs)}
    return generate_code(spec, sizes, "a spec on the Design page (no weights: the model is freshly initialised)", False)


def import_torch_upload(data: bytes, name: str, spec: Any, n_features: int) -> dict[str, Any]:
    """A .safetensors upload checked against the spec's first recurrent block and prepared as a new run
    (builder.serving.torch_import); returns {"run_dir", "run_id", "tensors", "torch"}. Raises DataError
    naming a tensor whose shape does not fit."""
    from builder.app.runs import new_run_dir
    from builder.serving.torch_import import import_torch

    run_dir = new_run_dir(spec, f"{spec.name}-torch")
    record = import_torch(data, spec, run_dir, n_features=n_features, name=name)
    return {"run_dir": str(run_dir), "run_id": run_dir.name, "tensors": len(record["tensors"]), "torch": record["torch"]}
