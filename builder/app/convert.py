"""Export page helpers for the other formats: a run's model converted to ONNX or LiteRT and checked
against its SavedModel (builder.serving.convert), kept in the run's `exports/` folder."""

from __future__ import annotations

import json
from typing import Any

from builder.training.runs import Run

#: the formats the Export page offers beside the SavedModel: (format, label)
CONVERT_FORMATS = (("onnx", "ONNX (onnxruntime)"), ("litert", "LiteRT (.tflite)"))


def convert_for_download(run: Run, fmt: str) -> dict[str, Any]:
    """Convert (or reuse the checked conversion in `<run>/exports/`) and return
    {"ok": True, "data": file bytes, "file_name", "check": the check's figures, "snippet"} or
    {"ok": False, "reason": why the format cannot be made for this model}."""
    from builder.serving.convert import FILE_NAMES, ConversionError, convert_run, usage_snippet

    out = run.path / "exports"
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
