"""A task's data form as the Data page draws it, from its registry entry (`TaskEntry.form`): the
columns each field offers, the value it starts with (the spec's, else the field's `guess`), the spec
changes the chosen values make, and the Check row of an overview.

The page loops over the fields and draws one widget per field; nothing here is particular to a task
(a task's own column guessing is `Task.guess_columns`, its Check row `Task.check_cards`). No streamlit.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from builder.data import detect_time_column, numeric_columns
from builder.spec import DataSettings, ModelSpec
from builder.tasks.registry import TASKS, FormField, get_task

#: field kinds that name columns of the file
COLUMN_KINDS = ("column", "optional_column", "columns")


def tasks_reading(reads: str) -> list[str]:
    """The tasks whose input file is of kind `reads` ("csv" or "text"), in registry order."""
    return [name for name, entry in TASKS.items() if entry.reads == reads]


def field_options(field: FormField, df: pd.DataFrame, chosen: dict[str, Any]) -> list[str]:
    """The columns `field` offers: every column (numeric ones when `field.numeric`) except those chosen
    for the fields named in `field.exclude` (`chosen`: key -> column, list of columns or None); with
    `field.among`, only the columns chosen for that field."""
    taken: set[str] = set()
    for key in field.exclude:
        value = chosen.get(key)
        taken.update(value if isinstance(value, list) else [value] if value else [])
    cols = numeric_columns(df, exclude=tuple(taken)) if field.numeric else [str(c) for c in df.columns]
    if field.among:
        pool = chosen.get(field.among)
        pool = pool if isinstance(pool, list) else [pool] if pool else []
        cols = [c for c in pool if c in cols]
    return [c for c in cols if c not in taken]


def _is_unset(key: str, value: Any) -> bool:
    """True when `value` is the spec's default for `data.<key>` (None, [] ...): the data decides."""
    info = DataSettings.model_fields.get(key)
    if info is None:
        return value is None
    default = info.get_default(call_default_factory=True)
    return value == default


def _int_start(field: FormField, spec: ModelSpec) -> int:
    """An int field's first value: the spec's; else 0 where 0 means "from the data"; else the value
    the task resolves without data (its placeholder's attribute of the same name); else the minimum."""
    value = getattr(spec.data, field.key, None)
    if value is None and field.minimum > 0:
        try:
            value = getattr(get_task(spec.task).placeholder(spec, 1), field.key, None)
        except (NotImplementedError, ValueError, TypeError):
            value = None
    if not isinstance(value, int) or isinstance(value, bool):
        value = field.minimum
    return max(field.minimum, min(field.maximum, value))


def form_defaults(task: str, df: pd.DataFrame | None, spec: ModelSpec) -> dict[str, Any]:
    """The value each field of `task`'s form starts with, keyed by field key, for table `df` (None for
    a text file: only int fields then): the spec's value where it fits the data, else the field's guess
    ("time": the detected time column; "first_numeric": the first numeric column offered;
    "other_numeric": every numeric column offered; "role": the task's `guess_columns`). Column fields
    are guessed in form order, each with the earlier fields at their starting values."""
    entry = TASKS[task]
    if spec.task != task:  # another task's columns mean something else here: start as a switch would
        spec = _switched(spec, task)
    d = spec.data
    needs_roles = df is not None and any(f.guess == "role" for f in entry.form)
    roles = get_task(task).guess_columns(df, d) if needs_roles else {}
    out: dict[str, Any] = {}
    for field in entry.form:
        if field.kind == "int":
            out[field.key] = _int_start(field, spec)
            continue
        if df is None or field.kind not in COLUMN_KINDS:
            continue
        options = field_options(field, df, out)
        given = getattr(d, field.key, None)
        value: Any = None
        if field.kind == "columns":
            if isinstance(given, list) and not _is_unset(field.key, given):
                kept = [c for c in given if c in options]
                value = kept if kept or not given else None  # a list naming none of these columns: guess
        elif given in options:
            value = given
        out[field.key] = _guess(field, df, options, roles) if value is None else value
    return out


def _switched(spec: ModelSpec, task: str) -> ModelSpec:
    """`spec` as a switch to `task` leaves it: the task's default preset (else the spec's model) with
    the task's data defaults, and the split and cleaning choices kept."""
    from builder.spec import SpecError
    from builder.spec.presets import load_preset

    keep = {k: getattr(spec.data, k) for k in ("val_fraction", "test_fraction", "missing", "scaler")}
    try:
        base = load_preset(TASKS[task].default_preset)
    except SpecError:
        base = spec
    try:
        return base.updated(task=task, data={**base.data.model_dump(mode="json"), **cleared_columns(), **keep})
    except SpecError:
        return spec.model_copy(update={"task": task, "data": DataSettings(**keep)})  # no validation needed here


def _guess(field: FormField, df: pd.DataFrame, options: list[str], roles: dict[str, Any]) -> Any:
    """The guessed value of one column field among `options` (roles: the task's guess_columns)."""
    many = field.kind == "columns"
    value: Any = None
    if field.guess == "time":
        found = detect_time_column(df)
        value = found if found in options else None
    elif field.guess in ("first_numeric", "other_numeric"):
        numeric = set(numeric_columns(df))
        value = [c for c in options if c in numeric]
        value = value[:1] if field.guess == "first_numeric" else value
    elif field.guess == "role":
        value = roles.get(field.key)
        if many:
            value = [c for c in (value or []) if c in options]
        elif value not in options:
            value = None
    if many:
        return list(value or [])
    if isinstance(value, list):  # a numeric guess for a one-column field
        value = value[0] if value else None
    if value is None and field.kind == "column" and options:
        return options[0]  # a column is required: start from the first one offered
    return value


def form_changes(task: str, values: dict[str, Any]) -> dict[str, Any]:
    """The spec's `data` changes of the form's chosen `values` (key -> column, columns or int): the
    values themselves (0 for "decide from the data" -> None where the spec allows it), and every column
    field of the other tasks' forms back to its default (a task switch leaves no stale columns)."""
    entry = TASKS[task]
    own = {f.key for f in entry.form}
    out = {k: v for k, v in cleared_columns().items() if k not in own}
    for f in entry.form:
        if f.key not in values:
            continue
        value = values[f.key]
        if f.kind == "int":
            value = int(value)
            if value == 0 and f.minimum == 0 and _allows_none(f.key):
                value = None
        out[f.key] = value
    return out


def _default(key: str) -> Any:
    return DataSettings.model_fields[key].get_default(call_default_factory=True)


def cleared_columns() -> dict[str, Any]:
    """Every column field of every task's form at the spec's default (None or []: the data decides)."""
    return {f.key: _default(f.key) for e in TASKS.values() for f in e.form
            if f.kind in COLUMN_KINDS and f.key in DataSettings.model_fields}


def new_file_data(task: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` (the spec's, as JSON data) for another file: every column choice cleared, and the task's
    number fields where 0 means "decide from the data" (a window or season length) back to that."""
    out = {**data, **cleared_columns()}
    for f in TASKS[task].form if task in TASKS else ():
        if f.kind == "int" and f.minimum == 0 and _allows_none(f.key):
            out[f.key] = None
    return out


def _allows_none(key: str) -> bool:
    info = DataSettings.model_fields.get(key)
    return info is not None and not info.is_required() and info.get_default() is None


def check_cards(overview: dict[str, Any]) -> list[dict[str, Any]]:
    """The Data page's Check row for a task's overview ({"label", "value", "help"} each), by its task."""
    return get_task(overview["task"]).check_cards(overview)
