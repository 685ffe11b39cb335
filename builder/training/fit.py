"""Training: compile and fit a spec's model on prepared data, writing everything into a Run.

The progress interface is a plain callable `progress(epoch, batch, logs)`: `batch` is the 0-based batch
index during an epoch and None when the epoch ends (then `logs` holds the epoch's loss and val_loss).
The CLI prints with it, the worker writes progress.json with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from builder.files import finite_or_none, write_csv
from builder.model.recurrent import has_gpu
from builder.spec import ModelSpec
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task
from builder.training.runs import Run

ProgressFn = Callable[[int, int | None, dict[str, Any]], None]

NAN_ADVICE = (
    "likely causes: a learning rate that is too high (try 10x lower), unscaled data (use the standard "
    "scaler), or exploding gradients (set clipnorm, e.g. 1.0)"
)


class TrainingError(RuntimeError):
    """Training could not produce a usable model (e.g. the loss became NaN)."""


@dataclass
class TrainResult:
    """model: raw inputs -> scaled outputs (trained); raw_model: raw inputs -> raw outputs."""

    model: Any
    raw_model: Any
    resolved: Resolved
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    stopped_by_user: bool = False
    best_epoch: int = 0
    seconds: float = 0.0
    refit_epochs: int = 0


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

    On the CPU: True for an encoder-decoder (builder.model.seq2seq.Seq2Seq): its decoder is T
    unrolled steps of small ops, and one XLA program for the whole step trained 18-30% more samples/s
    than the fused encoder's shards beside the decoder in TF's executor, at one and two threads, for the
    LSTM and the GRU presets, on a quiet machine (bench/RESULTS.md; its first epoch compiles about 7 s
    longer). Otherwise False when every recurrent layer of `model` runs the fused loop
    (builder.model.recurrent.all_fused, and a task whose padding mask does not send the layers
    to Keras's loop): the fused loops are XLA-compiled per batch shard, and the shards run in
    parallel only in a train step that is not one XLA program. True otherwise (Keras's loop
    runs faster under XLA; bench/RESULTS.md).
    On a GPU: Keras's own choice (cuDNN kernels).
    """
    from builder.model.recurrent import all_fused

    jit = spec.training.jit_compile
    if jit == "auto" and not get_task(spec.task).xla:  # data-dependent shapes inside the step
        return False
    if jit == "auto":
        if has_gpu():
            return "auto"
        from builder.model.seq2seq import Seq2Seq

        if isinstance(model, Seq2Seq):
            return True
        return not (not get_task(spec.task).masks_padding and all_fused(model))
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


def compile_model(model: Any, spec: ModelSpec, steps_per_epoch: int | None = None) -> None:
    """Compile `model` for `spec`: optimiser, loss, metrics, XLA and batches per graph call.

    `steps_per_execution` (capped at `steps_per_epoch` when given) runs that many batches in one
    call of the train function, so Keras's per-batch Python work (the call itself, logs,
    callbacks) happens once per block rather than once per batch.
    """
    from builder.model.recurrent import set_training_shards

    task = get_task(spec.task)
    jit = resolve_jit(spec, model)
    set_training_shards(model, jit)
    per_call = spec.training.steps_per_execution
    if steps_per_epoch is not None:
        per_call = max(1, min(per_call, steps_per_epoch))
    model.compile(optimizer=make_optimizer(spec), loss=task.loss(spec), metrics=list(task.keras_metrics),
                  jit_compile=jit, steps_per_execution=per_call)


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
            self.sampler: Callable[[Any, int], None] | None = None

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
                if self.sampler is not None:
                    self.sampler(self.model, epoch + 1)
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
            self.run.write_json("checkpoints/last.json",
                               {"epoch": epoch, "best": finite_or_none(self.best), "best_epoch": self.best_epoch})

    return StudioCallback


def repeat_to_min_steps(train_ds: Any, steps: int, min_steps: int | None) -> tuple[Any, int]:
    """The training pipeline repeated so one epoch has at least `min_steps` batches, and its steps per epoch.

    `train_ds` yields `steps` batches per pass; with `min_steps` None or already met it is returned as is.
    Each repeated pass is reshuffled by the pipeline's own shuffle (tf.data reshuffles on every pass).
    """
    if min_steps is None or steps >= min_steps or steps < 1:
        return train_ds, steps
    times = int(np.ceil(min_steps / steps))
    return train_ds.repeat(times), steps * times


def _ensemble(spec: ModelSpec, data: Any, first_raw: Any, run: Run | None) -> Any:
    """The served model of `training.ensemble` members: `first_raw` (seed `seed`) and members trained with
    seeds seed+1 .. seed+N-1 (each as a single model, no run folder), combined by `ensemble_median` with the
    task's `ensemble_combine` (forecast: element-wise median; classify: mean of the class probabilities)."""
    from builder.model.layers import ensemble_median

    t, members = spec.training, [first_raw]
    for i in range(1, t.ensemble):
        if run is not None:
            run.set_status("running", message=f"training ensemble member {i + 1} of {t.ensemble}")
        member = spec.updated(training={"seed": t.seed + i, "ensemble": 1})
        members.append(fit(member, data).raw_model)
    set_seed(t.seed)
    return ensemble_median(members, combine=get_task(spec.task).ensemble_combine)


def fit(
    spec: ModelSpec,
    data: Any,
    run: Run | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
    datasets: tuple[Any, Any, int] | None = None,
) -> TrainResult:
    """Build, compile and fit the spec's model on prepared `data`; keep the weights of the best validation epoch.

    `datasets`: the task's (train, val, training items) pipelines when the caller made them already.
    With `resume`, training continues from the run's last epoch checkpoint.
    """
    from builder.data.scaler import Scaler
    from builder.model.build import build_model
    from builder.model.size import check_model_size
    from builder.training import prepared

    set_seed(spec.training.seed)
    t = spec.training
    task = get_task(spec.task)
    resolved = task.resolve(data)
    train_ds, val_ds, n_items = datasets or task.datasets(data, spec)
    check_model_size(spec, resolved)  # refuse a model too large before building it
    steps = int(np.ceil(n_items / t.batch_size))
    train_ds, steps = repeat_to_min_steps(train_ds, steps, t.min_steps_per_epoch)
    model = prepared.take(spec, resolved, steps, fresh=not resume)  # the warm worker's compiled model
    if model is None:
        _phase(run, "building the model")
        model = build_model(spec, resolved)
    if resolved.x_scaler is not None:  # token models and a tree model over tokens alone have no scaler
        x_scaler = Scaler.from_dict(resolved.x_scaler)
        model.get_layer("standardize").set_statistics(x_scaler.offset_, x_scaler.scale_)
    if not model.compiled:  # the prepared model is compiled for this spec and steps already
        compile_model(model, spec, steps)

    if run is not None and not run.file("checkpoints/last.weights.h5").exists():
        from builder.training.imported import apply_imported_weights

        apply_imported_weights(run, model)  # a run prepared by `import-torch` starts from those weights
    initial_epoch, best = 0, np.inf
    if resume and run is not None and run.file("checkpoints/last.weights.h5").exists():
        state = run.read_json("checkpoints/last.json", {})
        model.load_weights(run.file("checkpoints/last.weights.h5"))
        best_loss = state.get("best")  # None: no finite loss yet
        initial_epoch, best = int(state.get("epoch", 0)), np.inf if best_loss is None else float(best_loss)
    cb = _callback_class()(spec, steps, run, progress, "val_loss" if val_ds is not None else "loss", initial_epoch, best)
    if resume and run is not None and run.file("checkpoints/best.weights.h5").exists():
        cb.best_epoch = int(run.read_json("checkpoints/last.json", {}).get("best_epoch", 0))
        current = model.get_weights()
        model.load_weights(run.file("checkpoints/best.weights.h5"))
        cb.best_weights = [w.copy() for w in model.get_weights()]
        model.set_weights(current)
    if task.samples_each_epoch and run is not None:
        cb.sampler = _epoch_sampler(run, resolved, data)
    t0 = time.time()
    _phase(run, "compiling: tracing the training step")
    if initial_epoch < t.epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=t.epochs, initial_epoch=initial_epoch,
                  callbacks=[*task.callbacks(spec), cb, *extra_callbacks(spec, cb.monitor)], verbose=0, shuffle=False,
                  class_weight=class_weights(spec, data))
    if cb.nan_message:
        raise TrainingError(cb.nan_message)
    if cb.best_weights is not None:
        model.set_weights(cb.best_weights)
    refit_epochs = 0
    if t.refit and val_ds is not None and cb.best_epoch > 0 and not cb.stopped_by_user and hasattr(task, "refit_dataset"):
        if run is not None:
            run.set_status("running", message=f"refitting on train + validation for {cb.best_epoch} epochs")
        model, refit_epochs = _refit(spec, data, resolved, task, cb.best_epoch), cb.best_epoch
    raw = task.raw_output(model, resolved)
    if t.ensemble > 1 and task.ensemble_combine and not cb.stopped_by_user:
        raw = _ensemble(spec, data, raw, run)
    history = run.history() if run is not None else cb.history
    return TrainResult(model, raw, resolved, history, cb.stopped_early, cb.stopped_by_user, cb.best_epoch,
                       time.time() - t0, refit_epochs)


def _refit(spec: ModelSpec, data: Any, resolved: Resolved, task: Any, epochs: int) -> Any:
    """A fresh model (same seed) trained on train + validation for `epochs` epochs (training.refit)."""
    from builder.data.scaler import Scaler
    from builder.model.build import build_model

    set_seed(spec.training.seed)
    ds, n_items = task.refit_dataset(data, spec)
    # an epoch of the refit has the optimizer steps of an epoch of the fit it repeats (min_steps_per_epoch)
    ds, steps = repeat_to_min_steps(ds, int(np.ceil(n_items / spec.training.batch_size)),
                                    spec.training.min_steps_per_epoch)
    model = build_model(spec, resolved)
    x_scaler = Scaler.from_dict(resolved.x_scaler)
    model.get_layer("standardize").set_statistics(x_scaler.offset_, x_scaler.scale_)
    compile_model(model, spec, steps)
    history = model.fit(ds, epochs=epochs, verbose=0, shuffle=False)
    if not np.all(np.isfinite(history.history.get("loss", [0.0]))):
        raise TrainingError(f"the loss became NaN while refitting on train + validation; {NAN_ADVICE}")
    return model


def extra_callbacks(spec: ModelSpec, monitor: str) -> list[Any]:
    """Keras callbacks the spec asks for besides ours: ReduceLROnPlateau (halving, floor 1e-5)."""
    import keras

    t = spec.training
    if t.lr_plateau_patience is None:
        return []
    return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=t.lr_plateau_patience,
                                              min_lr=1e-5, verbose=0)]


def class_weights(spec: ModelSpec, data: Any) -> dict[int, float] | None:
    """Balanced class weights of the training sequences (scikit-learn's rule n / (C * n_c)), or None."""
    if spec.training.class_weight != "balanced" or not hasattr(data, "classes"):
        return None
    from sklearn.utils.class_weight import compute_class_weight

    y = data.y[data.split == "train"]
    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    return {int(c): float(w) for c, w in zip(present, weights, strict=True)}


def train_run(
    spec: ModelSpec,
    data_path: str | Path,
    run_dir: str | Path,
    test_path: str | Path | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
    fitter: Callable[..., TrainResult] | None = None,
) -> dict[str, Any]:
    """The whole pipeline: CSV -> prepared data -> fit -> evaluate -> model.keras + SavedModel + metrics.

    Writes spec.json (unless resuming), metadata.json, metrics.json, predictions.csv
    and the models. Returns the metrics dict. Raises DataError / TrainingError.
    fitter: `fit` or a function with its signature (builder.training.distributed.fit_distributed).
    """
    import os

    from builder.training.artifacts import export_run_artifacts

    run = Run(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    if not resume:
        run.write_spec(spec)
    run.set_status("running", pid=os.getpid(), started=time.time(), message="preparing data")
    task = get_task(spec.task)
    # the pipelines (their shuffles) are built here, before fit seeds: seed first, so a run does not
    # depend on what the process ran before it (the app's worker trains run after run)
    set_seed(spec.training.seed)
    try:
        data = task.prepare(data_path, spec, test_path)
        datasets = task.datasets(data, spec)
        steps = int(np.ceil(datasets[2] / spec.training.batch_size))
        run.set_status("running", message="building the model", epochs=spec.training.epochs, steps=steps)
        result = (fitter or fit)(spec, data, run, _progress_writer(run, spec, progress, steps), resume=resume, datasets=datasets)
        run.set_status("running", message="evaluating")
        metrics, predictions = task.evaluate(data, result.raw_model)
        metrics.update({
            "best_epoch": result.best_epoch, "epochs_run": len(result.history),
            "stopped_early": result.stopped_early, "stopped_by_user": result.stopped_by_user,
            "train_seconds": round(result.seconds, 3), "refit_epochs": result.refit_epochs,
        })
        run.write_json("metrics.json", metrics)
        write_csv(run.file("predictions.csv"), predictions)
        resolved = replace(result.resolved, source=str(data_path), test_source=str(test_path) if test_path else None)
        levels = ((metrics.get("intervals") or {}).get("levels") or {}) if spec.task == "forecast" else {}
        radii = {int(lv): rec["radius"] for lv, rec in levels.items() if rec.get("radius")}
        export_run_artifacts(run, result.raw_model, spec, resolved, radii or None)
        state = "stopped" if result.stopped_by_user else "finished"
        run.set_status(state, message="stopped by the user; best weights kept" if result.stopped_by_user else "done",
                       finished=time.time())
        return metrics
    except Exception as err:  # recorded for the UI, then re-raised for the caller
        run.set_status("failed", message=str(err), error_type=type(err).__name__, finished=time.time())
        raise


#: characters of each per-epoch sample, and how many samples sample.json keeps
SAMPLE_LENGTH, SAMPLES_KEPT = 200, 20


def _epoch_sampler(run: Run, resolved: Resolved, data: Any) -> Callable[[Any, int], None]:
    """A function writing a fresh sample of a generative model to sample.json after an epoch:
    {"prompt", "temperature", "seed", "samples": [{"epoch", "text"}, ...]} (newest last)."""
    from builder.model.sequence import generate_text

    vocab = resolved.classes
    train = getattr(data, "ids", {}).get("train")
    first = "".join(vocab[int(i)] for i in train[:40]) if train is not None else ""
    prompt = first.split("\n")[0][:20] or first[:20]

    def write(model: Any, epoch: int) -> None:
        try:
            text = generate_text(model, vocab, prompt, SAMPLE_LENGTH, temperature=0.8, seed=epoch)
        except Exception as err:  # a sample is a courtesy: never stop training for it
            text = f"(no sample: {type(err).__name__}: {err})"
        old = run.read_json("sample.json", {}) or {}
        samples = [*old.get("samples", []), {"epoch": epoch, "text": text}][-SAMPLES_KEPT:]
        run.write_json("sample.json", {"prompt": prompt, "temperature": 0.8, "length": SAMPLE_LENGTH, "samples": samples})

    return write


def _phase(run: Run | None, message: str) -> None:
    """Say in status.json what the run is doing before its first batch (building, compiling)."""
    if run is not None:
        run.update_status_if("running", message=message)


def _progress_writer(run: Run, spec: ModelSpec, inner: ProgressFn | None, steps: int | None = None) -> ProgressFn:
    """Wrap a progress callable so that batch progress also lands in progress.json (at most 4 times/s);
    the first call sets the status message to "training"."""
    state = {"t": 0.0, "start": time.time(), "training": False}

    def write(epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        if inner is not None:
            inner(epoch, batch, logs)
        if not state["training"]:
            state["training"] = True
            _phase(run, "training")
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


def prepare_default_job(spec: ModelSpec, data_path: str | Path) -> float:
    """Build, compile and trace the model `fit` would build (builder.training.prepared keeps it) for `spec` on `data_path`, and keep it;
    returns the seconds it took. Raises what preparing the data or building raises."""
    import time

    import numpy as np

    from builder.data.scaler import Scaler
    from builder.model.build import build_model
    from builder.tasks.registry import get_task
    from builder.training import prepared

    t0 = time.perf_counter()
    task = get_task(spec.task)
    data = task.prepare(data_path, spec, None)
    train_ds, val_ds, n_items = task.datasets(data, spec)
    resolved = task.resolve(data)
    steps = int(np.ceil(n_items / spec.training.batch_size))
    set_seed(spec.training.seed)
    model = build_model(spec, resolved)
    if resolved.x_scaler is not None:
        x_scaler = Scaler.from_dict(resolved.x_scaler)
        model.get_layer("standardize").set_statistics(x_scaler.offset_, x_scaler.scale_)
    compile_model(model, spec, steps)
    model.optimizer.build(model.trainable_variables)
    state = prepared.snapshot([*model.variables, *model.optimizer.variables])
    model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0, shuffle=False)
    prepared.keep(spec, resolved, steps, model, state)
    return time.perf_counter() - t0
