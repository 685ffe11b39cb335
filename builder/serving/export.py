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
from pathlib import Path
from typing import Any

from builder.files import atomic_dir, atomic_write_text
from builder.training.runs import Run

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
    """Copy a finished run's deployable artifacts to `out_dir`: saved_model/, model.keras, metadata.json,
    spec.json and a README with the serving snippet."""
    out_dir = Path(out_dir)
    for name in ("saved_model", "model.keras", "metadata.json", "spec.json"):
        if not run.file(name).exists():
            raise FileNotFoundError(f"{run.path}: {name} is missing; has the run finished?")
    out_dir.mkdir(parents=True, exist_ok=True)
    # every piece is copied under a temporary name and renamed into place: no half-written file
    with atomic_dir(out_dir / "saved_model") as tmp:
        shutil.copytree(run.file("saved_model"), tmp, dirs_exist_ok=True)
    for name in ("model.keras", "metadata.json", "spec.json"):
        part = out_dir / f".{name}.tmp"
        shutil.copy2(run.file(name), part)
        part.replace(out_dir / name)
    atomic_write_text(out_dir / "README.txt", serving_snippet(run.metadata()))
    return out_dir


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
