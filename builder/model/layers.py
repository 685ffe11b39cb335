"""Small registered Keras layers that the built models need besides the recurrent cells.

`Standardize` puts the data's own units into the model (so a saved model takes raw inputs),
`Unstandardize` maps scaled predictions back to the targets' units, and `AttentionPooling`
summarises a sequence with additive attention. keras.ops only, so they trace into a SavedModel.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


class _AffineStats(keras.layers.Layer):
    """Holds a per-channel mean and scale as non-trainable weights (set from a fitted scaler)."""

    size: int

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.mean = self.add_weight(shape=(self.size,), initializer="zeros", trainable=False, name="mean")
        self.scale = self.add_weight(shape=(self.size,), initializer="ones", trainable=False, name="scale")

    def set_statistics(self, mean: np.ndarray, scale: np.ndarray) -> None:
        """Store a scaler learned on the training part: mean and scale, each [size] (zero scale -> 1)."""
        scale = np.where(np.asarray(scale, dtype=np.float64) == 0, 1.0, scale)
        self.mean.assign(np.asarray(mean, dtype="float32"))
        self.scale.assign(np.asarray(scale, dtype="float32"))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape


@keras.saving.register_keras_serializable(package="builder")
class Standardize(_AffineStats):
    """(x - mean) / scale per feature, with the statistics stored as non-trainable weights.

    Input [batch, time, n_features] in raw units -> output of the same shape, scaled.
    With `mask_nan=True` a time step whose features are all NaN is padding: it is set to 0 and
    masked (Keras masking), so recurrent layers skip it. Any other NaN is set to 0 (the mean).
    """

    def __init__(self, n_features: int, mask_nan: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_features = self.size = int(n_features)
        self.mask_nan = bool(mask_nan)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        x = (x - self.mean) / self.scale
        return ops.where(ops.isnan(x), ops.zeros_like(x), x)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if not self.mask_nan:
            return mask
        return ops.any(ops.logical_not(ops.isnan(inputs)), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_features": self.n_features, "mask_nan": self.mask_nan}


@keras.saving.register_keras_serializable(package="builder")
class Unstandardize(_AffineStats):
    """y * scale + mean per target: [batch, horizon, n_targets] scaled -> the targets' own units."""

    def __init__(self, n_targets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_targets = self.size = int(n_targets)

    def call(self, inputs: Any) -> Any:
        return inputs * self.scale + self.mean

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_targets": self.n_targets}


@keras.saving.register_keras_serializable(package="builder")
class AttentionPooling(keras.layers.Layer):
    """Additive (Bahdanau-style) attention pooling over time.

    scores_t = v^T tanh(W h_t + b); a = softmax_t(scores) over unmasked steps; out = sum_t a_t h_t.
    Input [batch, time, ch] (+ optional mask [batch, time]) -> output [batch, ch].
    """

    def __init__(self, units: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ch = int(input_shape[-1])
        self.w = self.add_weight(shape=(ch, self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.v = self.add_weight(shape=(self.units, 1), initializer="glorot_uniform", name="v")

    def call(self, inputs: Any, mask: Any = None) -> Any:
        scores = ops.matmul(ops.tanh(ops.matmul(inputs, self.w) + self.b), self.v)[..., 0]  # [B, T]
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        return ops.sum(inputs * weights[..., None], axis=1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="builder")
class AddLastValue(keras.layers.Layer):
    """Residual forecast: delta [batch, horizon, k] + the last input step's first k channels.

    Called on [scaled inputs [batch, time, F], delta]; the targets are the first k input channels, so
    the result is the naive (last value) forecast plus the predicted change, in scaled units.
    """

    def __init__(self, n_targets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_targets = int(n_targets)

    def call(self, inputs: list[Any]) -> Any:
        x, delta = inputs
        return delta + x[:, -1:, : self.n_targets]

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return input_shape[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_targets": self.n_targets}


@keras.saving.register_keras_serializable(package="builder")
class AddSeasonalValue(keras.layers.Layer):
    """Seasonal residual forecast: delta [batch, horizon, k] + the seasonal-naive forecast of the k targets.

    Called on [scaled inputs [batch, time, F], delta]; step h (0-based) adds the input step one season
    before it, `time - offset_h` with offset_h = season * (h // season + 1) - h (1..season), i.e. the
    value of the same position in the last complete season before the forecast origin. Needs time >=
    season. The result is the seasonal-naive forecast plus the predicted change, in scaled units.
    With `drift`, the base also adds the change over the last season (last step minus the step one
    season before it: seasonal naive with the latest year-on-year change), which needs time >= season + 1.
    """

    def __init__(self, n_targets: int, season: int, horizon: int, drift: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_targets, self.season, self.horizon = int(n_targets), int(season), int(horizon)
        self.drift = bool(drift)

    def offsets(self) -> np.ndarray:
        """[horizon] steps back from the window's end to each step's seasonal-naive value (1..season)."""
        h = np.arange(self.horizon)
        return self.season * (h // self.season + 1) - h

    def call(self, inputs: list[Any]) -> Any:
        x, delta = inputs
        idx = ops.shape(x)[1] - ops.convert_to_tensor(self.offsets(), dtype="int32")
        out = delta + ops.take(x[:, :, : self.n_targets], idx, axis=1)
        if self.drift:  # + the change over the last season, [batch, 1, k]
            out = out + x[:, -1:, : self.n_targets] - x[:, -1 - self.season : -self.season, : self.n_targets]
        return out

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return input_shape[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_targets": self.n_targets, "season": self.season, "horizon": self.horizon,
                "drift": self.drift}


@keras.saving.register_keras_serializable(package="builder")
class LogResidual(keras.layers.Layer):
    """Residual forecast in log space for positive targets: base * exp(delta), in scaled units.

    Called on [scaled inputs [batch, time, F], delta [batch, horizon, k]]. The first k input channels
    (the targets) are mapped back to raw units with the training scaler's `mean` / `scale` (constants in
    the config), the base forecast is taken (`base` "last": the last step; "season": the value one season
    before each step, as `AddSeasonalValue`; "season_drift": that plus the change over the last season, the
    same additive base as `AddSeasonalValue(drift=True)`), floored at 1e-6 (a falling trend can take the
    additive base to 0 or below, which has no log), and the forecast exp(log(base) + delta) is scaled
    again, so the loss and `Unstandardize` work as for the raw residual. delta = 0 gives the base
    forecast exactly as the raw residual path does wherever that base is above 1e-6. Output [batch, horizon, k].
    """

    def __init__(self, n_targets: int, mean: list[float], scale: list[float], base: str = "last", season: int = 1,
                 horizon: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_targets, self.base, self.season, self.horizon = int(n_targets), str(base), int(season), int(horizon)
        self.mean_ = [float(v) for v in mean]
        self.scale_ = [float(v) if float(v) != 0 else 1.0 for v in scale]

    def call(self, inputs: list[Any]) -> Any:
        x, delta = inputs
        mean = ops.convert_to_tensor(np.asarray(self.mean_, dtype="float32"))
        scale = ops.convert_to_tensor(np.asarray(self.scale_, dtype="float32"))
        raw = x[:, :, : self.n_targets] * scale + mean
        if self.base == "season":
            h = np.arange(self.horizon)
            offsets = self.season * (h // self.season + 1) - h
            base = ops.take(raw, ops.shape(raw)[1] - ops.convert_to_tensor(offsets, dtype="int32"), axis=1)
        elif self.base == "season_drift":  # seasonal naive + the change over the last season, as the raw path
            h = np.arange(self.horizon)
            offsets = self.season * (h // self.season + 1) - h
            base = ops.take(raw, ops.shape(raw)[1] - ops.convert_to_tensor(offsets, dtype="int32"), axis=1)
            base = base + raw[:, -1:, :] - raw[:, -1 - self.season : -self.season, :]
        else:
            base = raw[:, -1:, :]
        log_base = ops.log(ops.maximum(base, 1e-6))
        out = ops.exp(log_base + ops.clip(delta, -20.0, 20.0))
        return (out - mean) / scale

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return input_shape[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_targets": self.n_targets, "mean": self.mean_, "scale": self.scale_,
                "base": self.base, "season": self.season, "horizon": self.horizon}


@keras.saving.register_keras_serializable(package="builder")
class EnsembleMedian(keras.layers.Layer):
    """Element-wise median of the members' outputs: a list of N tensors of one shape -> that shape."""

    def call(self, inputs: list[Any]) -> Any:
        return ops.median(ops.stack(list(inputs), axis=0), axis=0)

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return input_shape[0]


@keras.saving.register_keras_serializable(package="builder")
class EnsembleMean(keras.layers.Layer):
    """Element-wise mean of the members' outputs (class probabilities [batch, C] stay a distribution):
    a list of N tensors of one shape -> that shape."""

    def call(self, inputs: list[Any]) -> Any:
        return ops.mean(ops.stack(list(inputs), axis=0), axis=0)

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return input_shape[0]


def ensemble_median(members: list[Any], name: str = "ensemble_median", combine: str = "median") -> Any:
    """One keras.Model: raw inputs -> the element-wise median (`combine="mean"`: mean) of the `members`'
    outputs (same input shape).

    Each member is wrapped under its own name (member_0, member_1, ...) so the nested models' names differ.
    """
    first = members[0]
    inputs = keras.Input(shape=first.input.shape[1:], dtype=first.input.dtype, name="inputs")
    outs = [keras.Model(m.input, m.output, name=f"member_{i}")(inputs) for i, m in enumerate(members)]
    layer = EnsembleMean(name="mean") if combine == "mean" else EnsembleMedian(name="median")
    return keras.Model(inputs, layer(outs), name=name if combine == "median" else f"ensemble_{combine}")


def input_scaler(model: Any) -> Any:
    """The model's Standardize layer ("standardize"), or the first member's in an `ensemble_median` model
    (every member is trained on the same scaled data, so their statistics are equal)."""
    try:
        return model.get_layer("standardize")
    except ValueError:
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                return input_scaler(layer)
        raise


def _valid_steps(raw: Any) -> Any:
    """[batch, time, 1] float: 1 where a raw step has any non-NaN value (real), 0 on NaN padding."""
    return ops.cast(ops.any(ops.logical_not(ops.isnan(ops.cast(raw, "float32"))), axis=-1, keepdims=True), "float32")


@keras.saving.register_keras_serializable(package="builder")
class MaskedTimeMean(keras.layers.Layer):
    """Global average pooling over the real steps: called on [x [batch, time, ch], raw inputs
    [batch, time, F]] -> [batch, ch]; steps whose raw inputs are all NaN (padding) are left out."""

    def call(self, inputs: list[Any]) -> Any:
        x, raw = inputs
        w = _valid_steps(raw)
        return ops.sum(x * w, axis=1) / ops.maximum(ops.sum(w, axis=1), 1.0)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return (input_shape[0][0], input_shape[0][-1])


@keras.saving.register_keras_serializable(package="builder")
class SequenceZNorm(keras.layers.Layer):
    """Per-sequence z-normalisation (the UCR archive's convention): each channel of each sequence
    minus its mean over the real steps, divided by its standard deviation (1 when constant).

    Called on [x [batch, time, F], raw inputs [batch, time, F]] -> [batch, time, F], padding set to
    0 and masked (the mask of the raw inputs' NaN padding), so recurrent layers still skip it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: list[Any]) -> Any:
        x, raw = inputs
        w = _valid_steps(raw)
        n = ops.maximum(ops.sum(w, axis=1, keepdims=True), 1.0)
        mean = ops.sum(x * w, axis=1, keepdims=True) / n
        var = ops.sum(ops.square(x - mean) * w, axis=1, keepdims=True) / n
        std = ops.sqrt(var)
        std = ops.where(std < 1e-8, ops.ones_like(std), std)
        return (x - mean) / std * w

    def compute_mask(self, inputs: list[Any], mask: Any = None) -> Any:
        return ops.any(ops.logical_not(ops.isnan(inputs[1])), axis=-1)

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return input_shape[0]


@keras.saving.register_keras_serializable(package="builder")
class DimensionShuffle(keras.layers.Layer):
    """LSTM-FCN's dimension shuffle: [batch, time, F] -> [batch, F, time], so a recurrent layer reads
    the F channels as F steps of `time` values each (Karim et al. 2018). Drops the padding mask."""

    def call(self, inputs: Any) -> Any:
        return ops.transpose(inputs, (0, 2, 1))

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[2], input_shape[1])


@keras.saving.register_keras_serializable(package="builder")
class DropMask(keras.layers.Layer):
    """Identity that drops the padding mask, for branches that handle padding themselves (the FCN
    branch pools with `MaskedTimeMean`): [batch, time, ch] -> the same tensor, no mask."""

    def call(self, inputs: Any) -> Any:
        return ops.multiply(inputs, 1.0)  # a new tensor: the input tensor itself carries the mask

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape
