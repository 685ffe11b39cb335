"""Explanations of one forecast or one classified sequence: which input steps and features it rests on.

Two attributions per time step and feature of the raw input window [T, F], on tf.GradientTape over the
run's raw model (raw units in, as served):

* **gradient saliency**: d f / d x at the window itself (local sensitivity, in output units per input
  unit);
* **integrated gradients** (Sundararajan et al. 2017): (x - b) * the mean of d f / d x along the straight
  path from a baseline b to x (trapezoidal rule over `steps` intervals). They add up to f(x) - f(b)
  (completeness), up to the error of the path integral, which shrinks with more steps.

The output explained, f: for a forecast, one horizon step of one target (or, with step None, the sum
over the horizon of that target); for a classification, the probability of one class (default: the
predicted class).

Baselines (stated in every result):

* "mean": the training mean of every feature (the model's own Standardize statistics), at every step;
* "seasonal_naive" (forecast only): the window's last season repeated across the window, i.e.
  b[t] = x[t + k m] with the smallest k >= 0 that puts t + k m in the last m steps (m = the run's
  season length): what the window would be if it only repeated its latest season.

Padding of a classification sequence (all-NaN steps) stays NaN in the baseline and along the path, so
the model keeps masking it; its attributions are 0.

tf-explain and alibi are unmaintained for Keras 3 or not open source: this is a short implementation
on tf.GradientTape, tested for completeness (tests/unit/test_explain.py). The recurrent layers run Keras's
own loop here (builder.serving.convert.keras_loop): the fused inference loop has no gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from builder.data import DataError
from builder.training.runs import Run

BASELINES = ("mean", "seasonal_naive")
DEFAULT_STEPS = 64


@dataclass
class Explanation:
    """Attributions for one window: `integrated_gradients` and `saliency` [T, F] (float64), the window
    and the baseline [T, F] in raw units, f(x), f(baseline), and what was explained."""

    window: np.ndarray
    baseline: np.ndarray
    integrated_gradients: np.ndarray
    saliency: np.ndarray
    f_x: float
    f_baseline: float
    output: str
    baseline_name: str
    steps: int
    features: list[str]

    @property
    def completeness_gap(self) -> float:
        """|sum of integrated gradients - (f(x) - f(baseline))| relative to |f(x) - f(baseline)|."""
        delta = self.f_x - self.f_baseline
        return float(abs(np.nansum(self.integrated_gradients) - delta) / max(abs(delta), 1e-12))

    def frame(self, times: list[Any] | None = None) -> pd.DataFrame:
        """Long table: one row per time step and feature (step -T..-1 relative to the window's end)."""
        t, f = self.window.shape
        step = np.repeat(np.arange(-t, 0), f)
        out = pd.DataFrame({"step": step, "feature": np.tile(self.features, t), "value": self.window.ravel(),
                            "baseline": self.baseline.ravel(),
                            "integrated_gradients": self.integrated_gradients.ravel(), "saliency": self.saliency.ravel()})
        if times is not None:
            out.insert(0, "time", np.repeat(np.asarray(times, dtype=object), f))
        return out


def _selector(meta: dict[str, Any], probs_or_pred: np.ndarray, step: int | None, target: int, klass: int | None) -> tuple[Any, str]:
    """(function output tensor [B, ...] -> [B] scalar per window, its description)."""
    from keras import ops

    r = meta["resolved"]
    if meta["task"] == "forecast":
        horizon, targets = int(r["horizon"]), list(r["targets"])
        if not 0 <= target < len(targets):
            raise DataError(f"--target {target}: the run forecasts {len(targets)} target(s) {targets} (0-based index)")
        if step is None:
            return (lambda y: ops.sum(y[:, :, target], axis=1)), f"sum of the {horizon}-step forecast of {targets[target]}"
        if not 1 <= step <= horizon:
            raise DataError(f"--step {step}: the run forecasts steps 1..{horizon}")
        return (lambda y: y[:, step - 1, target]), f"forecast of {targets[target]}, step {step} ahead"
    classes = list(r["classes"])
    k = int(np.argmax(probs_or_pred)) if klass is None else klass
    if not 0 <= k < len(classes):
        raise DataError(f"--class {klass}: the run has {len(classes)} classes {classes} (0-based index)")
    return (lambda y: y[:, k]), f"probability of class {classes[k]!r}"


def baseline_for(meta: dict[str, Any], model: Any, x: np.ndarray, name: str) -> np.ndarray:
    """The baseline window [T, F] for raw window `x` [T, F] (see module docstring)."""
    if name == "mean":
        from builder.model.layers import input_scaler

        mean = np.asarray(input_scaler(model).mean, dtype=np.float64)
        b = np.broadcast_to(mean, x.shape).copy()
    elif name == "seasonal_naive":
        if meta["task"] != "forecast":
            raise DataError("baseline seasonal_naive: only for forecasts (a classified sequence has no season)")
        m = int(meta["resolved"].get("season_length") or 1)
        t = len(x)
        m = max(1, min(m, t))
        idx = np.arange(t)
        idx = t - m + (idx - (t - m)) % m
        b = x[idx].astype(np.float64)
    else:
        raise DataError(f"--baseline {name!r}: expected one of {', '.join(BASELINES)}")
    b[np.isnan(x).all(axis=1)] = np.nan  # padding stays padding
    return b


def explain_window(model: Any, meta: dict[str, Any], x: np.ndarray, baseline: str = "mean",
                   steps: int = DEFAULT_STEPS, step: int | None = None, target: int = 0,
                   klass: int | None = None) -> Explanation:
    """Saliency and integrated gradients of one raw window `x` [T, F] for the run's raw `model`."""
    import tensorflow as tf

    from builder.serving.convert import keras_loop

    if steps < 1:
        raise DataError(f"--steps {steps}: expected at least 1")
    x = np.asarray(x, dtype=np.float32)
    b = baseline_for(meta, model, x, baseline).astype(np.float32)
    out_x = np.asarray(model(x[None], training=False))[0]
    select, what = _selector(meta, out_x, step, target, klass)
    pad = np.isnan(x).all(axis=1)

    def grads(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = tf.constant(batch)
        with tf.GradientTape() as tape:
            tape.watch(t)
            f = select(model(t, training=False))
        g = tape.gradient(f, t).numpy().astype(np.float64)
        g[np.isnan(g)] = 0.0
        return f.numpy().astype(np.float64), g

    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    path = b[None] + alphas[:, None, None] * (x - b)[None]
    # the fused inference loop writes its outputs with XlaDynamicUpdateSlice, which has no gradient:
    # Keras's own loop (same weights, same results) is differentiable
    with keras_loop(model):
        f_x, g_x = grads(x[None])
        g_path = np.concatenate([grads(path[i : i + 32])[1] for i in range(0, len(path), 32)])
        f_b = float(grads(b[None])[0][0])
    avg = (g_path[:-1] + g_path[1:]).sum(axis=0) / (2 * steps)  # trapezoidal rule
    ig = (x.astype(np.float64) - b.astype(np.float64)) * avg
    ig[pad] = 0.0
    saliency = g_x[0]
    saliency[pad] = 0.0
    return Explanation(x, b, ig, saliency, float(f_x[0]), f_b, what, baseline, steps, list(meta["resolved"]["inputs"]))


def window_from_table(meta: dict[str, Any], df: pd.DataFrame, index: int,
                      notices: list[str] | None = None) -> tuple[np.ndarray, list[Any] | None]:
    """Raw window number `index` of a table with the run's columns -> ([T, F], its times or None).

    Forecast: the windows of `lookback` rows in the file start at rows 0, 1, ...; index -1 is the last
    one (the window whose forecast follows the file's end). Classify: the index-th sequence in id order.
    `notices`, when given, receives what was assumed reading the table (forecast: sorted rows, filled values).
    """
    from builder.data.sequences import group_sequences, pad_sequences
    from builder.data.series import read_series

    r = meta["resolved"]
    source = df.attrs.get("source", "data")
    inputs = list(r["inputs"])
    if meta["task"] == "forecast":
        from builder.tasks.base import Resolved

        own, known = list(Resolved.from_dict(r).read_columns), list(r.get("known_future") or [])
        missing = [c for c in own if c not in df.columns]
        if missing:
            raise DataError(f"{source}: column(s) {missing} used in training are missing; columns are {list(df.columns)}")
        time_col = r["time_col"]
        if time_col and time_col not in df.columns:
            raise DataError(f"{source}: time column `{time_col}` (used in training) not found; columns are {list(df.columns)}")
        n_rows = len(df)
        from builder.data.series import time_order, trailing_future_rows

        # rows after the last target value: not targets (as in training); the known-future values ahead
        df, future = trailing_future_rows(df, list(r["targets"]), known, time_order(df, time_col))
        time, table, _, read_notices = read_series(df, time_col, own, r["missing"])
        if notices is not None:
            from builder.data.series import future_rows_notice

            notices += list(df.attrs.get("notices", []))
            if len(df) < n_rows:
                notices.append(future_rows_notice(n_rows - len(df), len(future), known))
            notices += read_notices
        values = table.to_numpy(dtype=np.float32)
        lookback = int(r["lookback"])
        n = len(values) - lookback + 1
        if known:  # windows whose known-future inputs reach past the file's rows are left out
            from builder.data.series import append_leads

            steps = int(r["lead_steps"])
            values = append_leads(values, own, known, future, steps)
            n -= max(0, steps - len(future))
        if n < 1:
            raise DataError(f"{source}: {len(values)} rows are too few for one window of {lookback} rows")
        if not -n <= index < n:
            raise DataError(f"--index {index}: {source} has {n} windows of {lookback} rows (0..{n - 1}, or -1 for the last)")
        start = index % n
        times = list(time[start : start + lookback]) if time is not None else None
        return values[start : start + lookback], times
    id_col = r["id_col"]
    if id_col not in df.columns:
        raise DataError(f"{source}: sequence id column `{id_col}` (used in training) not found; columns are {list(df.columns)}")
    order = r["order_col"] if r.get("order_col") in df.columns else None
    ids, xs, _, _ = group_sequences(df, id_col, order, inputs, None, r["missing"])
    if not -len(ids) <= index < len(ids):
        raise DataError(f"--index {index}: {source} has {len(ids)} sequences (0..{len(ids) - 1})")
    x, _ = pad_sequences([xs[index]], int(r["lookback"]), len(inputs))
    return x[0], None


def load_run_table(meta: dict[str, Any], data: Any, name: str | None = None) -> pd.DataFrame:
    """CSV `data` read as the run's task reads new data (`Task.load_new` with the run's columns: sequence ids
    as the text the file holds, so the index-th sequence is the one training numbered)."""
    from builder.tasks.base import Resolved
    from builder.tasks.registry import get_task

    return get_task(meta["task"]).load_new(data, name=name, resolved=Resolved.from_dict(meta["resolved"]))


def explain_file(run: Run, data: Any, index: int, baseline: str = "mean", steps: int = DEFAULT_STEPS,
                 step: int | None = None, target: int = 0, klass: int | None = None, model: Any = None,
                 name: str | None = None) -> tuple[Explanation, pd.DataFrame]:
    """Explain window `index` of CSV `data` (a path or bytes) with a finished run: (explanation, table)."""
    from builder.serving.export import load_run_model

    meta = run.metadata()
    df = load_run_table(meta, data, name)
    notices: list[str] = []
    x, times = window_from_table(meta, df, index, notices)
    expl = explain_window(model or load_run_model(run), meta, x, baseline, steps, step, target, klass)
    table = expl.frame(times)
    table.attrs["notices"] = notices  # what was assumed reading the file (the CLI prints them)
    return expl, table
