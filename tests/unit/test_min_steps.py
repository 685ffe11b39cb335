"""training.min_steps_per_epoch: the training pipeline is repeated until an epoch has at least N batches."""

from __future__ import annotations

import pytest

from builder.spec.model import TrainingSpec
from builder.training.fit import repeat_to_min_steps


def _batches(ds) -> int:
    return sum(1 for _ in ds)


def test_repeat_reaches_min_steps() -> None:
    import tensorflow as tf

    ds = tf.data.Dataset.range(10).shuffle(10, seed=1, reshuffle_each_iteration=True).batch(4)  # 3 batches
    out, steps = repeat_to_min_steps(ds, 3, 8)
    assert steps >= 8 and steps == 9
    assert _batches(out) == steps
    items = sorted(int(v) for b in out for v in b.numpy())
    assert items == sorted(list(range(10)) * 3)  # every window once per pass


def test_repeat_off_or_met_keeps_pipeline() -> None:
    import tensorflow as tf

    ds = tf.data.Dataset.range(10).batch(4)
    assert repeat_to_min_steps(ds, 3, None) == (ds, 3)
    assert repeat_to_min_steps(ds, 3, 2) == (ds, 3)


def test_min_steps_validated() -> None:
    assert TrainingSpec().min_steps_per_epoch is None
    assert TrainingSpec(min_steps_per_epoch=20).min_steps_per_epoch == 20
    with pytest.raises(ValueError, match="min_steps_per_epoch"):
        TrainingSpec(min_steps_per_epoch=0)
