"""Training: compile and fit a spec's model on prepared data, writing everything into a Run.

The progress interface is a plain callable `progress(epoch, batch, logs)`: `batch` is the 0-based batch
index during an epoch and None when the epoch ends (then `logs` holds the epoch's loss and val_loss).
The CLI prints with it, the worker writes progress.json with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from builder.data import SequenceData, SeriesData
from builder.runs import Run
from builder.spec import ModelSpec

ProgressFn = Callable[[int, int | None, dict[str, Any]], None]

NAN_ADVICE = (
    "likely causes: a learning rate that is too high (try 10x lower), unscaled data (use the standard "
    "scaler), or exploding gradients (set clipnorm, e.g. 1.0)"
)


PREDICT_BATCH = 1024


class TrainingError(RuntimeError):
    """Training could not produce a usable model (e.g. the loss became NaN)."""


@dataclass
class TrainResult:
    """model: raw inputs -> scaled outputs (trained); raw_model: raw inputs -> raw outputs."""

    model: Any
    raw_model: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    stopped_by_user: bool = False
    best_epoch: int = 0
    seconds: float = 0.0


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow; on a GPU also make TF ops deterministic.

    On the CPU, TF's kernels and XLA's compiled step are already deterministic for a fixed thread
    count (tests/unit/test_pipeline.py checks identical losses), and `enable_op_determinism` would make
    Keras silently drop `jit_compile`, the largest CPU speed-up we measured (bench/run.py).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if has_gpu():
        tf.config.experimental.enable_op_determinism()


def resolve_jit(spec: ModelSpec, model: Any) -> bool | str:
    """spec.training.jit_compile with "auto" resolved for `model`.

    On the CPU: False when every recurrent layer of `model` runs the fused loop
    (builder.recurrent.all_fused; forecasting only, since classification's padding mask
    sends layers to Keras's loop): the fused loops are XLA-compiled per batch shard, and
    the shards run in parallel only in a train step that is not one XLA program. True
    otherwise (Keras's loop is 1.2-2.4x faster under XLA, bench/run.py).
    On a GPU: Keras's own choice (cuDNN kernels).
    """
    from builder.recurrent import all_fused

    jit = spec.training.jit_compile
    if jit == "auto":
        if has_gpu():
            return "auto"
        return not (spec.task == "forecast" and all_fused(model))
    return jit


def make_optimizer(spec: ModelSpec) -> Any:
    import keras

    t = spec.training
    kwargs: dict[str, Any] = {"learning_rate": t.learning_rate}
    if t.clipnorm is not None:
        kwargs["clipnorm"] = t.clipnorm
    if t.clipvalue is not None:
        kwargs["clipvalue"] = t.clipvalue
    cls = {
        "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD, "nadam": keras.optimizers.Nadam,
    }[t.optimizer]
    return cls(**kwargs)


def loss_name(spec: ModelSpec) -> str:
    loss = spec.training.loss
    if spec.task == "classify":
        return "sparse_categorical_crossentropy"
    return {"auto": "mse", "mse": "mse", "mae": "mae", "huber": "huber"}[loss]


def compile_model(model: Any, spec: ModelSpec, steps_per_epoch: int | None = None) -> None:
    """Compile `model` for `spec`: optimiser, loss, metrics, XLA and batches per graph call.

    `steps_per_execution` (capped at `steps_per_epoch` when given) runs that many batches in one
    call of the train function, so Keras's per-batch Python work (the call itself, logs,
    callbacks) happens once per block: bench/cells.py's 2-layer LSTM model trained 4,043, 4,903 and
    5,115 samples/s with 1, 10 and 50 batches per call (medians of 8 epochs, one process).
    """
    from builder.recurrent import set_training_shards

    metrics = ["accuracy"] if spec.task == "classify" else ["mae"]
    jit = resolve_jit(spec, model)
    set_training_shards(model, jit)
    per_call = spec.training.steps_per_execution
    if steps_per_epoch is not None:
        per_call = max(1, min(per_call, steps_per_epoch))
    model.compile(optimizer=make_optimizer(spec), loss=loss_name(spec), metrics=metrics, jit_compile=jit,
                  steps_per_execution=per_call)


def _callback_class() -> type:
    import keras

    class StudioCallback(keras.callbacks.Callback):
        """Progress, best weights, early stopping, NaN stop, user stop and per-epoch checkpoints."""

        def __init__(self, spec: ModelSpec, steps: int, run: Run | None, progress: ProgressFn | None,
                     monitor: str, initial_epoch: int = 0, best: float = np.inf) -> None:
            super().__init__()
            self.spec, self.steps, self.run, self.progress_fn = spec, steps, run, progress
            self.monitor = monitor
            self.best = best
            self.best_weights: list[np.ndarray] | None = None
            self.best_epoch = initial_epoch
            self.wait = 0
            self.nan_message: str | None = None
            self.stopped_early = False
            self.stopped_by_user = False
            self.history: list[dict[str, Any]] = []
            self.epoch = initial_epoch
            self.t_epoch = time.time()
            self.t_start = time.time()

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch
            self.t_epoch = time.time()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            logs = dict(logs or {})
            loss = logs.get("loss")
            if loss is not None and not np.isfinite(float(loss)):
                # with several batches per call, `batch` is the block's last one
                self.nan_message = (
                    f"the loss became {float(loss)} in epoch {self.epoch + 1} by batch {batch + 1}; {NAN_ADVICE}"
                )
                self.model.stop_training = True
                return
            if self.run is not None and self.run.stop_requested():
                self.stopped_by_user = True
                self.model.stop_training = True
            if self.progress_fn is not None:
                self.progress_fn(self.epoch, batch, {k: float(v) for k, v in logs.items()})

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if self.nan_message:
                return
            record = {"epoch": epoch + 1, **logs, "seconds": round(time.time() - self.t_epoch, 3)}
            self.history.append(record)
            value = logs.get(self.monitor, logs.get("loss", np.inf))
            if np.isfinite(value) and value < self.best:
                self.best, self.best_epoch, self.wait = value, epoch + 1, 0
                self.best_weights = [w.copy() for w in self.model.get_weights()]
            else:
                self.wait += 1
            if self.run is not None:
                self.run.append_history(record)
                self._checkpoint(epoch + 1)
            if self.progress_fn is not None:
                self.progress_fn(epoch, None, record)
            patience = self.spec.training.patience
            if patience is not None and self.wait >= patience:
                self.stopped_early = True
                self.model.stop_training = True

        def _checkpoint(self, epoch: int) -> None:
            ckpt = self.run.file("checkpoints")
            ckpt.mkdir(exist_ok=True)
            tmp = ckpt / "last.tmp.weights.h5"
            self.model.save_weights(tmp)
            tmp.replace(ckpt / "last.weights.h5")
            if self.best_weights is not None and self.best_epoch == epoch:
                tmpb = ckpt / "best.tmp.weights.h5"
                self.model.save_weights(tmpb)
                tmpb.replace(ckpt / "best.weights.h5")
            self.run.write_json("checkpoints/last.json", {"epoch": epoch, "best": self.best, "best_epoch": self.best_epoch})

    return StudioCallback


def fit(
    spec: ModelSpec,
    data: SeriesData | SequenceData,
    run: Run | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
) -> TrainResult:
    """Build, compile and fit the spec's model on `data`; keep the weights of the best validation epoch.

    With `resume`, training continues from the run's last epoch checkpoint.
    """
    from builder.build import build_model, wrap_raw_output

    set_seed(spec.training.seed)
    t = spec.training
    if isinstance(data, SeriesData):
        from builder.data import series_dataset

        n_features, n_out = len(data.features), len(data.targets)
        train_ds = series_dataset(data, "train", t.batch_size, shuffle=True, seed=t.seed, stride=spec.data.stride)
        has_val = len(data.window_starts("val")) > 0
        val_ds = series_dataset(data, "val", t.batch_size) if has_val else None
    else:
        from builder.data import sequence_dataset

        n_features, n_out = len(data.features), len(data.classes)
        train_ds = sequence_dataset(data, "train", t.batch_size, shuffle=True, seed=t.seed)
        has_val = bool((data.split == "val").any())
        val_ds = sequence_dataset(data, "val", t.batch_size) if has_val else None
    from builder.limits import check_model_size

    check_model_size(spec, n_features, n_out)  # refuse a model too large before building it
    model = build_model(spec, n_features, n_out)
    model.get_layer("standardize").set_statistics(data.x_scaler.mean, data.x_scaler.scale)
    steps = int(np.ceil(n_train_items(data, spec) / t.batch_size))
    compile_model(model, spec, steps)

    initial_epoch, best = 0, np.inf
    if resume and run is not None and run.file("checkpoints/last.weights.h5").exists():
        state = run.read_json("checkpoints/last.json", {})
        model.load_weights(run.file("checkpoints/last.weights.h5"))
        initial_epoch, best = int(state.get("epoch", 0)), float(state.get("best", np.inf))
    cb = _callback_class()(spec, steps, run, progress, "val_loss" if has_val else "loss", initial_epoch, best)
    if resume and run is not None and run.file("checkpoints/best.weights.h5").exists():
        cb.best_epoch = int(run.read_json("checkpoints/last.json", {}).get("best_epoch", 0))
        current = model.get_weights()
        model.load_weights(run.file("checkpoints/best.weights.h5"))
        cb.best_weights = [w.copy() for w in model.get_weights()]
        model.set_weights(current)
    t0 = time.time()
    if initial_epoch < t.epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=t.epochs, initial_epoch=initial_epoch,
                  callbacks=[cb], verbose=0, shuffle=False)
    if cb.nan_message:
        raise TrainingError(cb.nan_message)
    if cb.best_weights is not None:
        model.set_weights(cb.best_weights)
    raw = wrap_raw_output(model, spec)
    if isinstance(data, SeriesData):
        raw.get_layer("unstandardize").set_statistics(data.y_scaler.mean, data.y_scaler.scale)
    history = run.history() if run is not None else cb.history
    return TrainResult(model, raw, history, cb.stopped_early, cb.stopped_by_user, cb.best_epoch, time.time() - t0)


def predict_windows(raw_model: Any, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Run the raw model on raw windows x [N, L, F] -> [N, H, n_targets] or [N, n_classes]."""
    if len(x) == 0:
        shape = raw_model.output_shape
        return np.zeros((0, *shape[1:]), dtype=np.float32)
    return np.asarray(raw_model.predict(x, batch_size=batch_size, verbose=0))


def forecast_held_out(data: SeriesData, raw_model: Any) -> tuple[str, np.ndarray]:
    """(part, raw forecasts [N, H, n_targets]) on the first non-empty of test, val, train.

    Windows stream through the lazy pipeline, so a large test part is never materialised.
    """
    from builder.data import series_dataset

    part = next((p for p in ("test", "val", "train") if np.subtract(*data.window_range(p)[::-1]) > 0), None)
    if part is None:
        raise ValueError(f"{data.source}: no complete window to evaluate")
    inputs = series_dataset(data, part, PREDICT_BATCH, inputs_only=True)
    return part, np.asarray(raw_model.predict(inputs, verbose=0))


def data_record(data: SeriesData | SequenceData, spec: ModelSpec, source_path: str | None) -> dict[str, Any]:
    """What data.json stores: resolved columns, split sizes, scalers and notices."""
    if isinstance(data, SeriesData):
        return {
            "task": "forecast", "source": source_path or data.source, "time_col": data.time_col,
            "features": data.features, "targets": data.targets, "lookback": data.lookback,
            "horizon": data.horizon, "n_rows": data.n_rows, "n_train": data.n_train, "n_val": data.n_val,
            "n_test": data.n_rows - data.n_train - data.n_val, "freq": data.freq,
            "season_length": data.season_length, "missing": spec.data.missing,
            "last_time": str(data.time[-1]) if data.time is not None else None,
            "windows": {p: int(len(data.window_starts(p))) for p in ("train", "val", "test")},
            "x_scaler": data.x_scaler.to_dict(), "y_scaler": data.y_scaler.to_dict(), "notices": data.notices,
        }
    return {
        "task": "classify", "source": source_path or data.source, "features": data.features,
        "classes": data.classes, "lookback": data.lookback, "id_col": data.id_col, "order_col": data.order_col,
        "label_col": data.label_col, "missing": spec.data.missing,
        "sequences": {p: int((data.split == p).sum()) for p in ("train", "val", "test")},
        "x_scaler": data.x_scaler.to_dict(), "notices": data.notices,
    }


def train_run(
    spec: ModelSpec,
    data_path: str | Path,
    run_dir: str | Path,
    test_path: str | Path | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """The whole pipeline: CSV -> prepared data -> fit -> evaluate -> model.keras + SavedModel + metrics.

    Returns the metrics dict (also written to metrics.json). Raises DataError / TrainingError.
    """
    import os

    from builder.data import load_and_prepare
    from builder.evaluate import evaluate_classification, evaluate_forecast
    from builder.export import export_run_artifacts

    run = Run(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    if not resume:
        run.write_json("spec.json", spec.model_dump(mode="json"))
    run.set_status("running", pid=os.getpid(), started=time.time(), message="reading data")
    try:
        data = load_and_prepare(data_path, spec, test_path)
        record = data_record(data, spec, str(data_path))
        record["test_source"] = str(test_path) if test_path else None
        run.write_json("data.json", record)
        steps = int(np.ceil(n_train_items(data, spec) / spec.training.batch_size))
        run.set_status("running", message="training", epochs=spec.training.epochs, steps=steps)
        result = fit(spec, data, run, _progress_writer(run, spec, progress, steps), resume=resume)
        run.set_status("running", message="evaluating")
        if isinstance(data, SeriesData):
            part, preds = forecast_held_out(data, result.raw_model)
            metrics = evaluate_forecast(data, preds, part)
        else:
            test_mask = data.split == "test"
            if not test_mask.any():
                test_mask = data.split == "val"
            probs = predict_windows(result.raw_model, data.x[test_mask])
            metrics = evaluate_classification(data.y[test_mask], probs, data.y[data.split == "train"], data.classes)
        metrics.update({
            "best_epoch": result.best_epoch, "epochs_run": len(result.history),
            "stopped_early": result.stopped_early, "stopped_by_user": result.stopped_by_user,
            "train_seconds": round(result.seconds, 3),
        })
        run.write_json("metrics.json", metrics)
        export_run_artifacts(run, result.raw_model, spec, record)
        state = "stopped" if result.stopped_by_user else "finished"
        run.set_status(state, message="stopped by the user; best weights kept" if result.stopped_by_user else "done",
                       finished=time.time())
        return metrics
    except Exception as err:  # recorded for the UI, then re-raised for the caller
        run.set_status("failed", message=str(err), error_type=type(err).__name__, finished=time.time())
        raise


def n_train_items(data: SeriesData | SequenceData, spec: ModelSpec) -> int:
    """Training windows (after the stride) or training sequences."""
    if isinstance(data, SeriesData):
        lo, hi = data.window_range("train")
        return max(0, -(-(hi - lo) // spec.data.stride))
    return int((data.split == "train").sum())


def _progress_writer(run: Run, spec: ModelSpec, inner: ProgressFn | None, steps: int | None = None) -> ProgressFn:
    """Wrap a progress callable so that batch progress also lands in progress.json (at most 4 times/s)."""
    state = {"t": 0.0, "start": time.time()}

    def write(epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        if inner is not None:
            inner(epoch, batch, logs)
        now = time.time()
        if batch is not None and now - state["t"] < 0.25:
            return
        state["t"] = now
        run.write_json("progress.json", {
            "epoch": epoch + 1, "epochs": spec.training.epochs, "steps": steps,
            "batch": None if batch is None else batch + 1,
            "logs": logs, "elapsed": round(now - state["start"], 2), "time": now,
        })

    return write
