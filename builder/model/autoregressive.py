"""The autoregressive forecast form (`forecast_form: autoregressive`): Darts' RNNModel form in one layer.

The direct form (builder.model.build) reads the window with the recurrent stack and a dense head writes
all H steps at once. The autoregressive form reads the window one step at a time, forecasts the next
step at every step, and after the window runs on its own forecasts for the H steps:

- per step t the stack reads [z_t, c_{t+1}]: z_t the targets' change over `lag` steps (lag 0: the
  targets themselves; 1: from the step before, the "last" residual base; m: from one season before, the
  "season" base), and c_{t+1} the known-future covariates of the next step (`data.known_future`: the
  window's next row, and after the window the last row's lead columns c@+1 .. c@+H);
- its output is z_{t+1}, and the forecast is z_{t+1} plus the value `lag` steps before (observed, or
  an earlier forecast of this window when the horizon is longer than the lag);
- trained as Darts trains it: the loss of every one-step forecast inside the window, with the true
  history as input (teacher forcing; `add_loss`, the spec's loss kind). The H-step forecast carries no
  gradient in training; its loss against the targets is still computed (Keras's compiled loss), so the
  reported loss, and the validation loss that early stopping watches, add the H-step error of the
  windows, which is what a served forecast makes.

One model input and output as the direct form ([batch, L, F] raw in, [batch, H, k] raw out), so
scaling, SavedModel, ONNX, LiteRT, predict and backtest need no change. Measured before building:
bench/darts_ar.py and bench/RESULTS.md.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="builder")
class AutoregressiveForecast(keras.layers.Layer):
    """Scaled window [batch, L, F] -> scaled forecasts [batch, H, k] (see the module docstring).

    Arguments: `n_targets` k (the window's first k channels), `horizon` H, `lag` (0, 1 or the season
    length, at most L - 2: the window holds one one-step pair), `known` (the channel of each
    known-future covariate in the window, C of them), `leads` (H lists of C channels: the last row's lead
    columns of step 1 .. H), `recurrent` (Keras RNN layers, each with return_sequences and return_state),
    `dense` (layers applied at every step), `loss` ("mse", "mae" or "huber": the one-step loss added in
    training).
    """

    def __init__(self, n_targets: int, horizon: int, lag: int, known: list[int], leads: list[list[int]],
                 recurrent: list[Any], dense: list[Any] | None = None, loss: str = "mse", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_targets, self.horizon, self.lag = int(n_targets), int(horizon), int(lag)
        self.known = [int(i) for i in known]
        self.leads = [[int(i) for i in step] for step in leads]
        if len(self.leads) < self.horizon and self.known:
            raise ValueError(f"leads: expected the lead channels of {self.horizon} steps, got {len(self.leads)}")
        self.loss_kind = str(loss)
        self.recurrent = [keras.saving.deserialize_keras_object(x) if isinstance(x, dict) else x for x in recurrent]
        self.dense = [keras.saving.deserialize_keras_object(x) if isinstance(x, dict) else x for x in (dense or [])]
        self.output_layer = keras.layers.Dense(self.n_targets, name="forecast")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ch: Any = (input_shape[0], None, self.n_targets + len(self.known))
        for layer in [*self.recurrent, *self.dense, self.output_layer]:  # a loaded sublayer arrives built
            if not layer.built:
                layer.build(ch)
            if layer in self.recurrent:
                ch = (ch[0], None, layer.cell.output_size)
            elif layer in self.dense:
                ch = layer.compute_output_shape(ch)
        self.built = True

    @property
    def layers(self) -> list[Any]:
        """The recurrent, dense and output layers (builder.model.recurrent walks them)."""
        return [*self.recurrent, *self.dense, self.output_layer]

    def _run(self, x: Any, states: list[Any] | None, training: Any) -> tuple[Any, list[Any]]:
        """The stack on x [batch, T, k + C] from `states` (None: zeros) -> (next changes [batch, T, k], states)."""
        new_states = []
        for i, layer in enumerate(self.recurrent):
            out = layer(x, initial_state=None if states is None else states[i], training=training)
            x, s = out[0], list(out[1:])
            new_states.append(s)
        for layer in self.dense:
            x = layer(x, training=training)
        return self.output_layer(x), new_states

    def _step_loss(self, pred: Any, true: Any) -> Any:
        err = pred - true
        if self.loss_kind == "mae":
            return ops.mean(ops.abs(err))
        if self.loss_kind == "huber":
            a = ops.abs(err)
            return ops.mean(ops.where(a <= 1.0, 0.5 * err * err, a - 0.5))
        return ops.mean(err * err)

    def call(self, scaled: Any, training: Any = None) -> Any:
        k, lag, horizon = self.n_targets, self.lag, self.horizon
        y = scaled[:, :, :k]  # [batch, L, k]
        z = y[:, lag:, :] - y[:, : ops.shape(y)[1] - lag, :] if lag else y  # [batch, L - lag, k]
        if self.known:
            nxt = ops.take(scaled, ops.convert_to_tensor(self.known, dtype="int32"), axis=2)[:, lag + 1 :, :]
            first = ops.take(scaled[:, -1, :], ops.convert_to_tensor(self.leads[0], dtype="int32"), axis=1)
            seq = ops.concatenate([z, ops.concatenate([nxt, first[:, None, :]], axis=1)], axis=-1)
        else:
            seq = z
        zhat, states = self._run(seq, None, training)  # [batch, L - lag, k]: z of steps lag + 1 .. L
        if training:  # teacher forcing: every one-step forecast inside the window
            self.add_loss(self._step_loss(zhat[:, :-1, :], z[:, 1:, :]))
        history, out = y, []
        step = zhat[:, -1:, :]  # z of the first forecast step
        for j in range(horizon):
            level = step + history[:, ops.shape(history)[1] - lag : ops.shape(history)[1] - lag + 1, :] if lag else step
            out.append(level)
            history = ops.concatenate([history, level], axis=1)
            if j + 1 < horizon:
                x = step
                if self.known:
                    c = ops.take(scaled[:, -1, :], ops.convert_to_tensor(self.leads[j + 1], dtype="int32"), axis=1)
                    x = ops.concatenate([step, c[:, None, :]], axis=-1)
                step, states = self._run(x, states, training)
        forecast = ops.concatenate(out, axis=1)
        return ops.stop_gradient(forecast) if training else forecast

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.horizon, self.n_targets)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_targets": self.n_targets, "horizon": self.horizon, "lag": self.lag,
                "known": self.known, "leads": self.leads, "loss": self.loss_kind,
                "recurrent": [keras.saving.serialize_keras_object(x) for x in self.recurrent],
                "dense": [keras.saving.serialize_keras_object(x) for x in self.dense]}


