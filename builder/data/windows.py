"""Lazy tf.data pipelines over prepared data: series windows gathered per batch, sequences sliced.

Nothing is materialised for series: only window start indices exist, and each batch gathers
`x = values[s : s + L]`, `y = values[s + L : s + L + H, :n_targets]` from the [T, F] array.
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.data.sequences import SequenceData
from builder.data.series import SeriesData


class _WindowBatches:
    """Callable generator of window batches for tf.data: numpy slices of the [T, F] array, no copies held.

    Each call is one epoch: a fresh permutation of the part's window starts when shuffling (seeded by
    the seed and the epoch count, so runs repeat), in order otherwise. Yields x [B, L, F] raw float32,
    and unless `inputs_only`, y [B, H, n_targets] scaled float32.
    """

    def __init__(self, data: SeriesData, part: str, batch_size: int, shuffle: bool, seed: int, stride: int,
                 inputs_only: bool = False) -> None:
        lo, hi = data.window_range(part)
        self.data, self.lo, self.n = data, lo, max(0, (hi - lo + stride - 1) // stride) if hi > lo else 0
        self.stride, self.batch_size, self.shuffle, self.seed = stride, batch_size, shuffle, seed
        self.inputs_only = inputs_only
        self.epoch = 0
        self.offs_x = np.arange(data.lookback)
        self.offs_y = np.arange(data.lookback, data.lookback + data.horizon)
        self.y_mean = data.y_scaler.offset_.astype(np.float32)
        self.y_scale = data.y_scaler.scale_.astype(np.float32)

    def __call__(self) -> Any:
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            dtype = np.int32 if self.n < 2**31 else np.int64
            order = rng.permutation(np.arange(self.n, dtype=dtype))
        else:
            order = None
        self.epoch += 1
        values, k = self.data.values, len(self.data.targets)
        for i in range(0, self.n, self.batch_size):
            idx = order[i : i + self.batch_size] if order is not None else np.arange(i, min(i + self.batch_size, self.n))
            starts = self.lo + idx.astype(np.int64) * self.stride
            x = values[starts[:, None] + self.offs_x]
            if self.inputs_only:
                yield x
                continue
            y = (values[starts[:, None] + self.offs_y, :k] - self.y_mean) / self.y_scale
            yield x, y


#: batches a pipeline prepares ahead of the step that consumes them
PREFETCH_BATCHES = 2


def finish_pipeline(ds: Any) -> Any:
    """``ds`` prefetching :data:`PREFETCH_BATCHES` batches, with tf.data's autotuning off.

    Why not ``prefetch(AUTOTUNE)``: Keras makes a new iterator over the training data every epoch
    (and over the validation data at every evaluation), and with autotuning on, replacing an
    iterator stalled the whole process, both cores idle, for 0.4-0.6 s in about one epoch in three
    (a 2-layer LSTM on 50 batches of 64: 380-590 ms between ``on_epoch_begin`` and the first batch,
    against 1-3 ms with autotuning off). Our pipelines have nothing to tune: one generator or
    in-memory slices, batched, and a fixed prefetch overlaps them with the training step.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def series_dataset(
    data: SeriesData, part: str, batch_size: int, shuffle: bool = False, seed: int = 0, stride: int = 1,
    inputs_only: bool = False,
) -> Any:
    """tf.data pipeline of (x [B, L, F] raw, y [B, H, n_targets] scaled) windows, made lazily.

    Nothing is materialised: each batch slices its windows from the [T, F] array as it is needed
    (`x = values[s : s + L]`, `y = values[s + L : s + L + H, :n_targets]`), and shuffling permutes
    window numbers once per epoch. With `inputs_only`, batches are x alone (for prediction).
    """
    import tensorflow as tf

    L, H, F, k = data.lookback, data.horizon, len(data.inputs), len(data.targets)
    x_spec = tf.TensorSpec((None, L, F), tf.float32)
    signature: Any = x_spec if inputs_only else (x_spec, tf.TensorSpec((None, H, k), tf.float32))
    gen = _WindowBatches(data, part, batch_size, shuffle, seed, stride, inputs_only)
    ds = tf.data.Dataset.from_generator(gen, output_signature=signature)
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-gen.n // batch_size)))  # Keras knows the steps
    return finish_pipeline(ds)


def series_targets(data: SeriesData, part: str) -> np.ndarray:
    """Raw targets of one part's windows, y [N, H, n_targets] (small: no input windows)."""
    starts = data.window_starts(part)
    return data.target_values[starts[:, None] + np.arange(data.lookback, data.lookback + data.horizon)]


def series_windows(data: SeriesData, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Materialised (x [N, L, F], y [N, H, n_targets]) raw windows of one part: the plain-slicing reference
    for tests and benchmarks on small data (training and evaluation stream through `series_dataset`)."""
    starts = data.window_starts(part)
    L, H = data.lookback, data.horizon
    x = data.values[starts[:, None] + np.arange(L)]
    y = data.target_values[starts[:, None] + np.arange(L, L + H)]
    return x, y


def sequence_dataset(data: SequenceData, part: str, batch_size: int, shuffle: bool = False, seed: int = 0,
                     jitter: float | None = None, scaling: float | None = None) -> Any:
    """tf.data pipeline of (x [B, L, F] raw NaN-padded, y [B] class index) for one part.

    `jitter` and `scaling` (training only) augment each batch: x + e * sd * scale_c with e ~ N(0, 1) per
    value (`jitter` = sd), then x * (1 + sd * z) with z ~ N(0, 1) per sequence and channel (`scaling` =
    sd), where scale_c is channel c's training scale (`data.x_scaler`), so sd is in the model's scaled
    units. Padding stays NaN. The draws are seeded and differ from one epoch (iterator) to the next.
    """
    import tensorflow as tf

    mask = data.split == part
    ds = tf.data.Dataset.from_tensor_slices((data.x[mask], data.y[mask]))
    if shuffle:
        ds = ds.shuffle(int(mask.sum()), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if jitter or scaling:
        ds = _augmented(ds, data.x_scaler.scale_, float(jitter or 0.0), float(scaling or 0.0), seed)
    return finish_pipeline(ds)


def _augmented(ds: Any, channel_scale: np.ndarray, jitter: float, scaling: float, seed: int) -> Any:
    """`ds` of (x [B, L, F], y) with jitter and scaling applied to x (see `sequence_dataset`)."""
    import tensorflow as tf

    unit = tf.constant(np.asarray(channel_scale, np.float32))  # [F] raw units per scaled unit
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def augment(batch: Any, draw: Any) -> Any:
        x, y = batch
        key = tf.stack([draw, tf.constant(seed, tf.int64)])
        if jitter:
            x = x + jitter * unit * tf.random.stateless_normal(tf.shape(x), seed=key)
        if scaling:
            shape = tf.stack([tf.shape(x)[0], 1, tf.shape(x)[2]])  # one factor per sequence and channel
            x = x * (1.0 + scaling * tf.random.stateless_normal(shape, seed=key + 1))
        return x, y

    return tf.data.Dataset.zip((ds, draws)).map(augment)
