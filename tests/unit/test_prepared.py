"""The warm worker's prepared model (builder.training.prepared): handed out only to the job it was
made for, trains without re-tracing, and trains to the same weights as a freshly built model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from builder import load_preset
from builder.data import load_table
from builder.tasks import prepare_frame
from builder.tasks.registry import get_task
from builder.training import prepared
from builder.training.fit import fit, prepare_default_job


@pytest.fixture
def spec():
    # dropout, so the seeded random streams (seed generator states) are part of what is restored
    return load_preset("stacked_lstm").updated(
        blocks=[{"kind": "recurrent", "cell": "lstm", "units": 8, "num_layers": 2, "dropout": 0.2},
                {"kind": "dense", "units": 8}],
        training={"epochs": 2, "batch_size": 16}, data={"lookback": 8})


@pytest.fixture(autouse=True)
def _empty_slot():
    prepared.clear()
    yield
    prepared.clear()


def _resolved_and_steps(spec, csv):
    data = prepare_frame(load_table(csv), spec)
    task = get_task(spec.task)
    _, _, n_items = task.datasets(data, spec)
    return data, task.resolve(data), int(np.ceil(n_items / spec.training.batch_size))


def test_take_returns_the_model_only_for_its_job_and_once(spec, series_csv):
    prepare_default_job(spec, series_csv)
    _, resolved, steps = _resolved_and_steps(spec, series_csv)
    other = spec.updated(training={"learning_rate": 0.005})
    assert prepared.take(other, resolved, steps, fresh=True) is None
    assert prepared.take(spec, resolved, steps + 1, fresh=True) is None
    assert prepared.take(spec, resolved, steps, fresh=False) is None
    assert prepared.take(spec, replace(resolved, lookback=9), steps, fresh=True) is None
    longer = spec.updated(name="longer", training={"epochs": 12, "patience": 3})  # same model and steps
    copied = replace(resolved, source="/elsewhere/copy.csv")  # the same data from another path
    model = prepared.take(longer, copied, steps, fresh=True)
    assert model is not None and model.compiled
    assert prepared.take(spec, resolved, steps, fresh=True) is None, "handed out once"


def test_training_the_prepared_model_does_not_retrace_and_matches_a_fresh_build(spec, series_csv):
    data, _, _ = _resolved_and_steps(spec, series_csv)
    traced, fresh = _fit_counting_traces(spec, data)
    assert traced.count > 0, "a new build traces its steps"

    prepare_default_job(spec, series_csv)
    model = prepared._slot["model"].model
    counter = _Counter()
    counter.wrap(model)
    result = fit(spec, data)
    assert result.model is model, "fit took the prepared model"
    assert counter.count == 0, "the traced train and test steps were reused"
    assert [r["loss"] for r in result.history] == [r["loss"] for r in fresh.history]
    for a, b in zip(result.model.get_weights(), fresh.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


class _Counter:
    """Counts calls of a model's `call` (made only while Keras traces its train / test step)."""

    def __init__(self) -> None:
        self.count = 0

    def wrap(self, model) -> None:
        inner = model.call

        def call(*args, **kwargs):
            self.count += 1
            return inner(*args, **kwargs)

        model.call = call


def _fit_counting_traces(spec, data):
    """fit() on a newly built model whose traces are counted: (the counter, the TrainResult)."""
    import builder.model.build as mb

    counter = _Counter()
    original = mb.build_model

    def counted(*args, **kwargs):
        model = original(*args, **kwargs)
        counter.wrap(model)
        return model

    mb.build_model = counted
    try:
        result = fit(spec, data)
    finally:
        mb.build_model = original
    return counter, result
