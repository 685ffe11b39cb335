"""Export: a finished run's model.keras, SavedModel and metadata.json (written by
builder.training.artifacts) loaded, copied to a folder, and explained in a serving snippet.

The SavedModel takes raw windows and returns raw forecasts or probabilities; loading needs
TensorFlow only:

    import tensorflow as tf
    m = tf.saved_model.load("saved_model")
    y = m.serve(tf.constant(windows, tf.float32))
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from builder.files import atomic_dir, atomic_write_json, atomic_write_text, read_json
from builder.training.runs import Run

#: the record every export folder holds: the export's kind, its run and the files it wrote; a folder
#: holding it (and nothing else than those files) is an export of ours that the next export may replace
EXPORT_RECORD = "rnn-studio-export.json"
EXPORT_FORMAT = "rnn-studio-export/1"
#: what exports wrote before they carried EXPORT_RECORD: a folder holding only these, one of them a
#: record of ours (`_EARLIER_RECORDS`), is such an earlier export
_EARLIER_NAMES = frozenset({"saved_model", "model.keras", "metadata.json", "spec.json", "README.txt",
                            "model.onnx", "model.onnx.json", "model.tflite", "model.tflite.json"})
_EARLIER_RECORDS = ("metadata.json", "model.onnx.json", "model.tflite.json")


class ExportFolderError(ValueError):
    """The export's folder holds files that no export of ours wrote: it is left alone (`error: ...`)."""

SERVING_SNIPPET = """import numpy as np
import tensorflow as tf

model = tf.saved_model.load("saved_model")
windows = np.zeros((1, {lookback}, {n_features}), dtype="float32")  # raw values, columns {features}
print(model.serve(tf.constant(windows)).numpy())  # {output}
"""


GENERATE_SNIPPET = """import tensorflow as tf

model = tf.saved_model.load("saved_model")
out = model.generate(prompt=tf.constant({prompt!r}), length=tf.constant(200), temperature=tf.constant(0.8),
                     top_k=tf.constant(0), seed=tf.constant(0, tf.int64))
print(out["text"].numpy().decode())  # the prompt and 200 generated characters
"""

NAMED_INPUTS_SNIPPET = """import numpy as np
import tensorflow as tf

model = tf.saved_model.load("saved_model")
# one tree of 3 nodes: a root (node 0) and its two children
{arrays}
print(model.serve({call}).numpy())  # {output}
"""

TRANSLATE_SNIPPET = """import tensorflow as tf

model = tf.saved_model.load("saved_model")
texts = tf.constant(["..."])  # {source} texts
out = model.signatures["translate"](source=texts)
print([t.decode("utf-8") for t in out["output_0"].numpy()])  # {output}
"""


def load_run_model(run: Run) -> Any:
    """The run's model.keras, loaded in Keras safe mode (no arbitrary code)."""
    import keras

    import builder.model.layers  # noqa: F401  (registers Standardize, Unstandardize, ...)
    import builder.model.recurrent  # noqa: F401  (registers FusedLSTM, FusedGRU, FusedSimpleRNN, FusedRNN)
    import builder.model.seq2seq  # noqa: F401  (registers Seq2Seq, task translate)
    from builder.model.cells.registry import register_all

    register_all()  # the builder cells

    path = run.file("model.keras")
    if not path.exists():
        raise FileNotFoundError(f"{run.path}: no model.keras; has the run finished?")
    return keras.saving.load_model(path, safe_mode=True)


def export_run(run: Run, out_dir: str | Path) -> Path:
    """Export a finished run's deployable artifacts to `out_dir`: saved_model/, model.keras, metadata.json,
    spec.json, a README with the serving snippet and EXPORT_RECORD, and nothing else (`export_folder`: an
    earlier export there is replaced whole once this one is complete; a folder of other files is refused)."""
    for name in ("saved_model", "model.keras", "metadata.json", "spec.json"):
        if not run.file(name).exists():
            raise FileNotFoundError(f"{run.path}: {name} is missing; has the run finished?")
    with export_folder(out_dir, run, "savedmodel") as tmp:
        shutil.copytree(run.file("saved_model"), tmp / "saved_model")
        for name in ("model.keras", "metadata.json", "spec.json"):
            shutil.copy2(run.file(name), tmp / name)
        atomic_write_text(tmp / "README.txt", serving_snippet(run.metadata()))
    return Path(out_dir)


@contextlib.contextmanager
def export_folder(out_dir: str | Path, run: Run, kind: str) -> Iterator[Path]:
    """A fresh temporary folder beside `out_dir` to write one export into; when the block ends without an
    error it gets EXPORT_RECORD and takes `out_dir`'s place whole (builder.files.atomic_dir), so the folder
    holds exactly this export's files: nothing of an earlier export (a different run or format) is left
    beside them. On an error the temporary folder is removed and `out_dir` is left as it was, an earlier
    export included.

    `out_dir` may be missing, empty, or an earlier export of ours (`check_export_folder`); anything else
    raises ExportFolderError naming the folder and what it holds, before any work and again just before
    the swap, so no file that an export of ours did not write is ever removed.
    """
    path = check_export_folder(out_dir)
    with atomic_dir(path) as tmp:
        yield tmp
        files = sorted(p.name for p in tmp.iterdir())
        atomic_write_json(tmp / EXPORT_RECORD, {"format": EXPORT_FORMAT, "kind": kind, "run": run.path.name,
                                                "files": files})
        check_export_folder(out_dir)  # nothing else arrived there while this export was written


def check_export_folder(out_dir: str | Path) -> Path:
    """`out_dir` resolved, when an export may replace it: missing, an empty folder, or an earlier export of
    ours holding only the files it wrote. Raises ExportFolderError otherwise (a file, the current folder,
    a folder with other files), naming the folder and what it holds."""
    given = Path(out_dir)
    path = given.resolve()
    if not path.exists():
        return path
    if not path.is_dir():
        raise ExportFolderError(f"{given}: a file of that name exists; expected a folder to export into")
    cwd = Path(os.getcwd()).resolve()
    if cwd == path or path in cwd.parents:
        raise ExportFolderError(f"{given}: is the current folder or holds it; export into a folder beside it")
    names = sorted(p.name for p in path.iterdir())
    if not names:
        return path
    record = _read_record(path / EXPORT_RECORD)
    if record is not None and record.get("format") == EXPORT_FORMAT:
        others = [n for n in names if n != EXPORT_RECORD and n not in set(record.get("files") or ())]
        if not others:
            return path
        raise ExportFolderError(f"{given}: an earlier export of run {record.get('run')!r} that also holds "
                                f"{_listing(others)}, which no export wrote; move them out or export into a new "
                                "folder (nothing was changed)")
    if set(names) <= _EARLIER_NAMES and any(_is_earlier_record(path / n) for n in _EARLIER_RECORDS if n in names):
        return path
    raise ExportFolderError(f"{given}: the folder is not empty and is not an export of ours: it holds "
                            f"{_listing(names)}; export into a new or empty folder (nothing was changed)")


def _is_earlier_record(path: Path) -> bool:
    """A run's metadata.json (`format` rnn-studio/...) or a conversion's check record (`<file>.json`)."""
    record = _read_record(path)
    if record is None:
        return False
    if path.name == "metadata.json":
        return str(record.get("format", "")).startswith("rnn-studio/")
    return record.get("path") == path.name.removesuffix(".json") and "max_abs_diff" in record


def _read_record(path: Path) -> dict[str, Any] | None:
    """The JSON object in file `path`, or None (missing, a folder, not JSON, not an object)."""
    try:
        record = read_json(path) if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _listing(names: list[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def serving_snippet(meta: dict[str, Any]) -> str:
    """A short Python snippet that loads the SavedModel with TensorFlow alone and calls it: a raw window
    (`serve`), the named flat inputs of a tree model (`serve`), or a prompt (a language model's `generate`).

    `meta`: a run's metadata (`Run.metadata()`).
    """
    serving, r = meta["serving"], meta["resolved"]
    output = serving.get("output", {}).get("meaning", "")
    if serving.get("signature") == "translate":
        return TRANSLATE_SNIPPET.format(source=r["inputs"][0], output=output)
    if "generate" in (serving.get("signatures") or {}):
        letters = [c for c in (serving.get("vocabulary") or r.get("classes") or [])[1:] if c.isalpha()]
        prompt = ([c for c in letters if c.isupper()] or letters or ["A"])[0]  # a character the model knows
        return GENERATE_SNIPPET.format(prompt=prompt)
    if serving.get("inputs"):
        arrays = "\n".join(f"{i['name']} = tf.constant({_example_nodes(i)})  # {i.get('meaning', '')}"
                           for i in serving["inputs"])
        call = ", ".join(f"{i['name']}={i['name']}" for i in serving["inputs"])
        return NAMED_INPUTS_SNIPPET.format(arrays=arrays, call=call, output=output)
    length = r.get("input_length") or r.get("lookback") or 12
    if (serving.get("input") or {}).get("known_future"):
        output += f"\n# known-future inputs: {serving['input']['known_future']}"
    if serving.get("known_future"):
        from builder.tasks.base import Resolved

        own = len(Resolved.from_dict(r).read_columns)
        output += (f"\n# or the data's own columns and the known-future values ahead, leads built in the graph:\n"
                   f"past = np.zeros((1, {length}, {own}), dtype=\"float32\")  # raw, columns "
                   f"{r['inputs'][:own]}\nfuture = np.zeros((1, {r['lead_steps']}, {len(r['known_future'])}), "
                   f"dtype=\"float32\")  # {r['known_future']} for the {r['lead_steps']} steps after the window\n"
                   "print(model.serve_known_future(window=tf.constant(past), future=tf.constant(future)).numpy())")
    return SERVING_SNIPPET.format(lookback=length, n_features=len(r["inputs"]), features=r["inputs"], output=output)


def _example_nodes(spec: dict[str, Any]) -> str:
    """The value of one named tree input for a 3-node example tree (root 0, children 1 and 2)."""
    shape = spec.get("shape") or [None]
    if len(shape) == 2:  # per-node raw features [nodes, n_features]
        return f"np.zeros((3, {shape[1]}), np.float32)"
    values = {"parent": [-1, 0, 0], "tree": [0, 0, 0]}.get(spec["name"], [1, 1, 1])
    return f"np.array({values}, np.{spec.get('dtype', 'int32')})"


def contract_lines(meta: dict[str, Any]) -> list[str]:
    """The Export page's contract of the run's SavedModel as Markdown list items (no TensorFlow needed):
    each signature's inputs with dtype and shape, and its output."""
    serving, r = meta["serving"], meta["resolved"]
    lines = [f"task: **{meta.get('task')}**"]
    if serving.get("signatures"):
        for name, sig in serving["signatures"].items():
            ins = ", ".join(f"`{k}` {v}" for k, v in sig.get("inputs", {}).items())
            outs = ", ".join(f"`{k}` {v}" for k, v in sig.get("outputs", {}).items())
            lines.append(f"signature `{name}`: {ins} -> {outs}")
    elif serving.get("inputs"):
        for i in serving["inputs"]:
            lines.append(f"input `{i['name']}`: `{i.get('shape')}` {i.get('dtype')}, {i.get('meaning', '')}")
    elif serving.get("input"):
        inp = serving["input"]
        pad = f", padded with {inp['padding']}" if inp.get("padding") else ""
        lines.append(f"input `{inp.get('name', 'window')}`: `{inp.get('shape')}` {inp.get('dtype', 'float32')}, "
                     f"columns `{r.get('inputs')}`{pad}")
        if inp.get("known_future"):
            lines.append(f"known-future inputs: {inp['known_future']}")
        kf = serving.get("known_future")
        if kf:
            ins = ", ".join(f"`{k}` {v}" for k, v in kf["inputs"].items())
            lines.append(f"signature `{kf['signature']}` (builds the lead columns itself): {ins} -> {kf['output']}")
    out = serving.get("output") or {}
    if out:
        lines.append(f"output: `{out.get('shape')}`, {out.get('meaning', '')}")
    return lines
