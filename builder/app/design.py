"""The Design page's helpers: editor fields from the spec's JSON schema, block edits, presets,
the diagram and the model's size.

Plain helpers behind the pages (no streamlit import; TensorFlow only inside `model_facts`).
"""

from __future__ import annotations

import json
from typing import Any

from builder.model.cells.registry import CELLS, TREE_CELLS, cells_for, projected_cells
from builder.spec import AttentionBlock, ConvBlock, DenseBlock, FCNBlock, ModelSpec, RecurrentBlock, SpecError
from builder.spec.presets import load_preset
from builder.tasks.base import Resolved
from builder.tasks.registry import TASKS, accepted_loss, get_task

BLOCK_CLASSES = {"conv": ConvBlock, "recurrent": RecurrentBlock, "attention": AttentionBlock, "dense": DenseBlock,
                 "fcn": FCNBlock}
BLOCK_LABELS = {"conv": "Conv1D front end", "recurrent": "Recurrent", "attention": "Attention pooling",
                "dense": "Dense (head)", "fcn": "FCN branch (beside the recurrent one)"}
FIELD_LABELS = {
    "units": "Units", "proj_units": "Projection units", "num_layers": "Stacked layers", "cell": "Cell",
    "bidirectional": "Bidirectional", "merge_mode": "Merge mode", "dropout": "Dropout",
    "recurrent_dropout": "Recurrent dropout", "filters": "Filters", "kernel_size": "Kernel size",
    "activation": "Activation", "padding": "Padding", "pool_size": "Pool size",
    "composition_layers": "Composition layers", "dimension_shuffle": "Dim. shuffle",
}
#: the cells' UI labels, from the cell registry
CELL_LABELS: dict[str, str] = {name: e.label for name, e in (*CELLS.items(), *TREE_CELLS.items())}


def cell_options(task: str) -> list[str]:
    """The cells the Design page offers for `task`: tree cells for tree tasks, sequence cells otherwise."""
    return list(cells_for(TASKS[task].structure))


def field_specs(kind: str) -> list[dict[str, Any]]:
    """Editor fields of one block kind from the JSON schema: name, label, widget type, bounds, options, help."""
    schema = BLOCK_CLASSES[kind].model_json_schema()
    out = []
    for name, prop in schema["properties"].items():
        if name == "kind":
            continue
        options = prop.get("enum")
        types = [prop.get("type")] if "type" in prop else [p.get("type") for p in prop.get("anyOf", [])]
        bounds = prop if "type" in prop else next((p for p in prop.get("anyOf", []) if p.get("type") != "null"), {})
        if options:
            widget = "select"
        elif "boolean" in types:
            widget = "bool"
        elif "integer" in types:
            widget = "int"
        else:
            widget = "float"
        out.append({
            "name": name, "label": FIELD_LABELS.get(name, prop.get("title", name)), "widget": widget,
            "options": options, "optional": "null" in types, "default": prop.get("default"),
            "min": bounds.get("minimum", bounds.get("exclusiveMinimum")),
            "max": bounds.get("maximum", bounds.get("exclusiveMaximum")),
            "exclusive_max": "exclusiveMaximum" in bounds, "help": prop.get("description", ""),
        })
    return out


def new_block(kind: str) -> dict[str, Any]:
    return BLOCK_CLASSES[kind]().model_dump(mode="json")


def insert_block(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Blocks with a new default block of `kind` where the ordering rules allow it."""
    blocks = [dict(b) for b in blocks]
    kinds = [b["kind"] for b in blocks]
    first_dense = kinds.index("dense") if "dense" in kinds else len(kinds)
    if kind in ("conv", "fcn"):
        pos = 0
    elif kind == "dense":
        pos = len(blocks)
    elif kind == "attention":
        pos = first_dense
    else:  # recurrent: after the last conv/recurrent block, before attention and the head
        seq = [i for i, k in enumerate(kinds[:first_dense]) if k in ("conv", "recurrent")]
        pos = (seq[-1] + 1) if seq else 0
    blocks.insert(pos, new_block(kind))
    return blocks


def move_block(blocks: list[dict[str, Any]], i: int, delta: int) -> list[dict[str, Any]]:
    blocks = [dict(b) for b in blocks]
    j = i + delta
    if 0 <= i < len(blocks) and 0 <= j < len(blocks):
        blocks[i], blocks[j] = blocks[j], blocks[i]
    return blocks


def remove_block(blocks: list[dict[str, Any]], i: int) -> list[dict[str, Any]]:
    return [dict(b) for k, b in enumerate(blocks) if k != i]


def block_title(i: int, block: dict[str, Any]) -> str:
    kind = block.get("kind")
    if kind == "recurrent":
        n = block.get("num_layers", 1)
        bi = "bidirectional " if block.get("bidirectional") else ""
        return f"{i + 1}. {bi}{CELL_LABELS.get(block.get('cell'), block.get('cell'))} × {n}, {block.get('units')} units"
    if kind == "conv":
        return f"{i + 1}. Conv1D, {block.get('filters')} filters, kernel {block.get('kernel_size')}"
    if kind == "attention":
        return f"{i + 1}. Attention pooling, {block.get('units')} units"
    if kind == "fcn":
        se = ", squeeze-excite" if block.get("squeeze_excite") else ""
        return f"{i + 1}. FCN branch, {block.get('filters')} filters, kernel {block.get('kernel_size')}{se}"
    return f"{i + 1}. Dense, {block.get('units')} units, {block.get('activation')}"


def validate(spec_dict: dict[str, Any]) -> tuple[ModelSpec | None, str | None]:
    """(spec, None) when valid, else (None, readable error naming the field)."""
    try:
        return ModelSpec.from_dict(spec_dict), None
    except SpecError as err:
        return None, str(err)


def apply_preset(current: dict[str, Any], preset: ModelSpec) -> dict[str, Any]:
    """The preset's model and training with the session's data choices kept (columns, split, missing ...)."""
    new = preset.model_dump(mode="json")
    data = dict(current.get("data", {}))
    if preset.task != current.get("task"):
        # a different task needs different columns: keep only the settings both tasks share
        keep = ("val_fraction", "test_fraction", "missing", "scaler")
        data = {k: v for k, v in data.items() if k in keep}
        data = {**new["data"], **data}
    new["data"] = data
    spec, err = validate(new)
    if spec is None:
        raise SpecError(err or "invalid preset")
    return spec.model_dump(mode="json")


def parse_spec_upload(data: bytes) -> ModelSpec:
    """An uploaded spec JSON -> ModelSpec (SpecError with a readable message otherwise)."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SpecError(f"uploaded spec: not valid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise SpecError(f"uploaded spec: expected a JSON object, found {type(obj).__name__}")
    return ModelSpec.from_dict(obj, source="uploaded spec")


def is_projected(cell: str | None) -> bool:
    """True for a cell whose state is a projection (it needs `proj_units`)."""
    return cell in projected_cells()


def default_proj_units(units: int) -> int:
    """The projection size a block gets when its cell becomes a projected one: half the units."""
    return max(1, int(units) // 2)


def sized_for_data(spec: ModelSpec, lookback: int | None) -> ModelSpec:
    """The spec with the data's window or sequence length (`lookback`, the Data page's: e.g. a classification
    file's longest sequence when the spec leaves it to the data) as its input length, so that the weight
    count, diagram, Keras summary and generated code of a model that reads steps as features (LSTM-FCN's
    dimension shuffle) are those of the model training will build; `spec` itself where the length is unknown."""
    if not lookback or lookback == spec.data.lookback:
        return spec
    return spec.model_copy(update={"data": spec.data.model_copy(update={"lookback": int(lookback)})})


def model_shape(spec: ModelSpec, n_features: int | None = None, n_outputs: int | None = None) -> Resolved:
    """The record the Design page draws and sizes the model with, before training: the data's input and
    output counts when known, else the spec's targets and covariates (the task's placeholder); the input
    length is the spec's (see `sized_for_data`)."""
    if n_features is None:
        n_features = max(len(spec.data.targets) + len(spec.data.features or []), 1)
    return get_task(spec.task).placeholder(spec, n_features, n_outputs)


def default_lookback(spec: ModelSpec) -> int | None:
    """The window the spec's task uses when the spec leaves `data.lookback` empty (None: the data decides)."""
    return model_shape(spec).lookback


def switch_task(spec_dict: dict[str, Any], task: str) -> dict[str, Any]:
    """`spec_dict` for another task: the loss kept only if the new task accepts it, the window reset."""
    if task == spec_dict.get("task"):
        return spec_dict
    training = {**spec_dict.get("training", {})}
    training["loss"] = accepted_loss(task, training.get("loss", "auto"))
    old = TASKS.get(spec_dict.get("task", ""))
    if old is None or old.structure != TASKS[task].structure:  # trees and sequences take other cells
        preset = load_preset(TASKS[task].default_preset).model_dump(mode="json")
        return {**preset, "data": {**spec_dict.get("data", {}), "lookback": None}}
    return {**spec_dict, "task": task, "training": training, "data": {**spec_dict.get("data", {}), "lookback": None}}


def diagram_dot(spec: ModelSpec, n_features: int | None = None, n_outputs: int | None = None) -> str:
    """Graphviz DOT text of the model (builder.model.diagram), without Keras."""
    from builder.model.diagram import to_dot

    return to_dot(spec, model_shape(spec, n_features, n_outputs))


def model_facts(spec: ModelSpec, n_features: int | None = None, n_outputs: int | None = None) -> tuple[int, str]:
    """(trainable parameters, Keras summary text) from one build of the model (imports TensorFlow)."""
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from builder.model.build import model_facts as facts

    return facts(spec, model_shape(spec, n_features, n_outputs))


def model_size(spec: ModelSpec, n_features: int | None = None, n_outputs: int | None = None) -> int:
    """The model's weight count, as Keras's summary gives it ("Total params"), computed from the spec
    without TensorFlow (builder.model.size; equal to `count_params()` of the built model)."""
    from builder.model.size import estimate_params

    return estimate_params(spec, model_shape(spec, n_features, n_outputs))


def run_model_size(spec_dict: dict[str, Any], resolved: dict[str, Any]) -> int | None:
    """The same count for a trained run, from its spec.json and metadata's resolved record (None when
    either cannot be read); the exported graph adds the output scaling constants to it."""
    from dataclasses import fields

    from builder.model.size import estimate_params

    try:
        spec = ModelSpec.from_dict(spec_dict)
        names = {f.name for f in fields(Resolved)}
        rec = Resolved(**{k: tuple(v) if isinstance(v, list) else v for k, v in resolved.items() if k in names})
        return estimate_params(spec, rec)
    except (SpecError, TypeError, ValueError, KeyError):
        return None


def task_default(spec_dict: dict[str, Any], task: str) -> tuple[dict[str, Any], str | None, str | None]:
    """(spec for `task`, preset name, notice) when the task changes: the task's default preset with the
    split and cleaning choices kept; the same spec, None, None when the task is unchanged."""
    from builder.spec.presets import load_preset
    from builder.tasks.registry import TASKS

    if task == spec_dict.get("task"):
        return spec_dict, None, None
    entry = TASKS[task]
    try:
        new = apply_preset(spec_dict, load_preset(entry.default_preset))
        if new.get("task") != task:  # a task that starts from another task's preset
            training = {**new.get("training", {})}
            training["loss"] = accepted_loss(task, training.get("loss", "auto"))
            checked, err = validate({**new, "task": task, "training": training})
            if checked is None:
                raise SpecError(err or f"preset {entry.default_preset} does not fit task {task}")
            new = checked.model_dump(mode="json")
    except SpecError:
        return switch_task(spec_dict, task), None, None
    notice = (f"The task is now {entry.label}: the design switched to its default preset "
              f"“{new.get('name', entry.default_preset)}” (a {spec_dict.get('task')} design does not fit). "
              "Pick another on the Design page.")
    return new, entry.default_preset, notice


def presets_for(presets: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    """The presets of one task, in the given order."""
    return [p for p in presets if p.get("task") == task]


def display_name(path: str | None) -> str:
    """A data file's name as the user knows it: an upload's content-hash prefix removed."""
    import re
    from pathlib import PurePath

    if not path:
        return ""
    name = PurePath(path).name
    m = re.match(r"^[0-9a-f]{12}-(.+)$", name)
    return m.group(1) if m else name
