"""A model built, compiled and traced ahead of its job, kept in this process for the job that matches.

The warm worker (builder.training.warm) calls `prepare(spec, data_path)` while it waits: it prepares
the data of the job it expects (the app's default: the default preset on the first bundled sample),
builds the model exactly as `fit` does (same seed), compiles it, runs one epoch so that Keras traces
(and XLA compiles) the train and test steps on the real batch shapes, then puts every weight, seed
state and optimizer slot back to its value before that epoch. `fit` asks `take(spec, resolved, steps,
fresh)` for it: the model when the job has the same spec (but for the number of epochs, patience and other
fields that do not change the model or its steps: FREE_TRAINING), resolved data description and
batches per epoch, and starts training from scratch (`fresh`: no resume, no imported weights); None otherwise. A
model is taken at most once.

Training from the prepared model gives the same weights as building a new one: the snapshot is taken
right after `build_model` under the same seed (tests/unit/test_prepared.py compares the histories).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from builder.spec import ModelSpec
from builder.tasks.base import Resolved


@dataclass
class _Prepared:
    spec_json: str
    resolved: Resolved
    steps: int
    model: Any
    state: list[tuple[Any, Any]]  # (variable, value before the warm-up epoch): weights, seeds, optimizer


_slot: dict[str, _Prepared] = {}


#: spec fields that change neither the built model, its initial weights nor its traced steps
FREE_FIELDS = ("name", "description")
FREE_TRAINING = ("epochs", "patience", "refit", "baselines", "lr_plateau_patience")


def _key(spec: ModelSpec) -> str:
    """The spec without FREE_FIELDS / FREE_TRAINING, as JSON: two jobs with one key build the same model."""
    import json

    d = spec.model_dump(mode="json")
    for k in FREE_FIELDS:
        d.pop(k, None)
    d["training"] = {k: v for k, v in d["training"].items() if k not in FREE_TRAINING}
    return json.dumps(d, sort_keys=True)


def _unsourced(resolved: Resolved) -> Resolved:
    """`resolved` without its file paths: a copy of the same data (an upload of the sample) matches."""
    return replace(resolved, source="", test_source=None)


def snapshot(variables: list[Any]) -> list[tuple[Any, Any]]:
    return [(v, v.numpy().copy()) for v in variables]


def keep(spec: ModelSpec, resolved: Resolved, steps: int, model: Any, state: list[tuple[Any, Any]]) -> None:
    """Keep `model` (compiled, traced) with the variable values `state` to restore on `take`."""
    _slot["model"] = _Prepared(_key(spec), resolved, steps, model, state)


def take(spec: ModelSpec, resolved: Resolved, steps: int, fresh: bool) -> Any | None:
    """The prepared model for this job (its variables back to their built values), or None when
    there is none, the job differs (spec, resolved data description, batches per epoch) or does
    not start from scratch. The model is handed out once."""
    prep = _slot.get("model")
    if prep is None or not fresh or prep.steps != steps or prep.spec_json != _key(spec) \
            or _unsourced(prep.resolved) != _unsourced(resolved):
        return None
    del _slot["model"]
    for var, value in prep.state:
        var.assign(value)
    return prep.model


def clear() -> None:
    """Drop the prepared model (tests)."""
    _slot.clear()
