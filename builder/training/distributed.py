"""Training under tf.distribute: MultiWorkerMirroredStrategy across processes/hosts, MirroredStrategy over
the devices of one host.

`model.fit` under MultiWorkerMirroredStrategy fails with Keras 3.15 on TensorFlow 2.21 ("Attempt to
convert a value (PerReplica ...) to a Tensor", Keras issue #20585), so this module trains with its own
step: `strategy.run` over `strategy.experimental_distribute_dataset` (auto-shard by data), the model
and optimiser created in `strategy.scope()`. Each global batch of `training.batch_size` windows is
split across the replicas; gradients are all-reduced, so every worker holds the same weights.

The run directory's behaviour is fit.py's own: the same StudioCallback (progress, best weights, early
stopping, NaN stop, stop file, per-epoch checkpoints) drives the loop. Only the chief (task 0) has a
Run and writes; the other workers run the callback without one, and take the same early-stopping
decisions from the same all-reduced losses. A stop file (seen by the chief alone) is agreed across
workers by an all-reduce of a flag with every step and at every epoch's end, so all leave together.

Not in the distributed step (said in the run's notices): class weights, ReduceLROnPlateau, the
refit on train + validation and Keras metrics other than the loss. On resume every worker loads the
chief's checkpoint from the run directory (`--out` must be on storage every worker reads).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from builder.spec import ModelSpec
from builder.tasks.registry import get_task
from builder.training.fit import (
    ProgressFn,
    TrainingError,
    TrainResult,
    _callback_class,
    _phase,
    compile_model,
    make_optimizer,
    set_seed,
)
from builder.training.runs import Run

#: seconds a collective op waits for a peer before failing (a killed worker must not hang the others)
COLLECTIVE_TIMEOUT_S = 300


class DistributedConfigError(ValueError):
    """A bad --workers / --worker-index / TF_CONFIG (printed as `error: ...`, exit status 2)."""


@dataclass(frozen=True)
class Cluster:
    """workers: ["host:port", ...]; index: this process's place in it (0 = the chief)."""

    workers: tuple[str, ...]
    index: int

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    def tf_config(self) -> dict[str, Any]:
        return {"cluster": {"worker": list(self.workers)}, "task": {"type": "worker", "index": self.index}}


def _check_address(address: str, where: str) -> str:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributedConfigError(f"{where}: expected HOST:PORT with a port in 1..65535, found {address!r}")
    return address.strip()


def parse_cluster(workers: str | None, worker_index: int | None, environ: dict[str, str] | None = None) -> Cluster | None:
    """The cluster from `--workers H:P,H:P --worker-index I`, else from TF_CONFIG, else None (one worker).

    Raises DistributedConfigError naming the flag or the variable for anything malformed.
    """
    env = os.environ if environ is None else environ
    if workers is None:
        if worker_index is not None:
            raise DistributedConfigError(f"--worker-index {worker_index}: only used with --workers HOST:PORT,HOST:PORT")
        raw = env.get("TF_CONFIG")
        if not raw:
            return None
        try:
            config = json.loads(raw)
            listed = config["cluster"]["worker"]
            task = config["task"]
            index = int(task["index"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise DistributedConfigError(
                f"TF_CONFIG: expected JSON {{\"cluster\": {{\"worker\": [\"host:port\", ...]}}, \"task\": "
                f"{{\"type\": \"worker\", \"index\": I}}}}; {type(err).__name__}: {err}") from err
        if task.get("type", "worker") != "worker":
            raise DistributedConfigError(f"TF_CONFIG: task type {task.get('type')!r} is not supported; expected 'worker'")
        if not isinstance(listed, list) or not listed:
            raise DistributedConfigError(f"TF_CONFIG: cluster.worker must be a non-empty list, found {listed!r}")
        addresses = tuple(_check_address(str(a), "TF_CONFIG cluster.worker") for a in listed)
        if not 0 <= index < len(addresses):
            raise DistributedConfigError(f"TF_CONFIG: task index {index} is outside 0..{len(addresses) - 1}")
        return Cluster(addresses, index)
    addresses = tuple(_check_address(a, "--workers") for a in workers.split(","))
    if len(set(addresses)) != len(addresses):
        raise DistributedConfigError(f"--workers {workers}: an address is listed twice")
    if worker_index is None:
        raise DistributedConfigError(f"--workers {workers}: expected --worker-index 0..{len(addresses) - 1} as well")
    if not 0 <= worker_index < len(addresses):
        raise DistributedConfigError(f"--worker-index {worker_index}: expected 0..{len(addresses) - 1} for {len(addresses)} workers")
    return Cluster(addresses, worker_index)


def make_strategy(cluster: Cluster | None, mirrored: bool = False) -> Any:
    """MultiWorkerMirroredStrategy for `cluster` (sets TF_CONFIG; call before any other TF op), or
    MirroredStrategy over this host's devices when `mirrored`."""
    import tensorflow as tf

    if cluster is not None:
        os.environ["TF_CONFIG"] = json.dumps(cluster.tf_config())
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if mirrored:
        return tf.distribute.MirroredStrategy()
    raise ValueError("make_strategy: neither a cluster nor mirrored")


def _per_sample_loss(name: str) -> Callable[[Any, Any], Any]:
    """The task's loss as y_true, y_pred -> [batch] (mean over every axis after the batch one)."""
    import keras
    import tensorflow as tf

    fn = keras.losses.get(name)
    call = fn.call if isinstance(fn, keras.losses.Loss) else fn

    def per_sample(y: Any, p: Any) -> Any:
        values = tf.cast(call(y, p), tf.float32)
        return tf.reshape(values, [tf.shape(values)[0], -1]) if values.shape.rank != 1 else values[:, None]

    return lambda y, p: tf.reduce_mean(per_sample(y, p), axis=1)


def fit_distributed(
    spec: ModelSpec,
    data: Any,
    run: Run | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
    datasets: tuple[Any, Any, int] | None = None,
    *,
    strategy: Any,
    checkpoints: Run | None = None,
    notes: list[str] | None = None,
) -> TrainResult:
    """fit.fit under `strategy` with a custom step (same arguments and result).

    run: the chief's run (None on the other workers). checkpoints: the run whose checkpoint a resume
    loads (the chief's run; on the other workers the same directory, read only). The returned model is
    a plain (undistributed) copy with the trained weights, ready to evaluate and export.
    """
    import tensorflow as tf

    from builder.data.scaler import Scaler
    from builder.model.build import build_model
    from builder.model.recurrent import set_training_shards
    from builder.model.size import check_model_size

    set_seed(spec.training.seed)
    t = spec.training
    task = get_task(spec.task)
    resolved = task.resolve(data)
    train_ds, val_ds, n_items = datasets or task.datasets(data, spec)
    check_model_size(spec, resolved)
    _phase(run, "building the model")
    skipped = [name for name, on in (("class weights", t.class_weight == "balanced"),
                                     ("ReduceLROnPlateau", t.lr_plateau_patience is not None),
                                     ("refit on train + validation", bool(t.refit))) if on]
    if notes is not None and skipped:
        notes.append(f"distributed training ({strategy.num_replicas_in_sync} replicas) does not apply: {', '.join(skipped)}")

    def standardize(model: Any) -> None:
        if resolved.x_scaler is not None:
            x_scaler = Scaler.from_dict(resolved.x_scaler)
            model.get_layer("standardize").set_statistics(x_scaler.offset_, x_scaler.scale_)

    with strategy.scope():
        model = build_model(spec, resolved)
        standardize(model)
        optimizer = make_optimizer(spec)
        optimizer.build(model.trainable_variables)
    # the fused loop's batch shards (one XLA call each) run inside the replica step like in fit's
    # non-XLA step; the step itself is not one XLA program
    set_training_shards(model, False)
    per_sample = _per_sample_loss(task.loss(spec))
    replicas = strategy.num_replicas_in_sync

    def replica_step(x: Any, y: Any, flag: Any) -> tuple[Any, Any, Any]:
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            losses = per_sample(y, pred)
            loss = tf.nn.compute_average_loss(losses)
            if model.losses:
                loss += tf.add_n(model.losses) / replicas
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return tf.reduce_sum(losses), tf.cast(tf.shape(losses)[0], tf.float32), flag

    def replica_eval(x: Any, y: Any) -> tuple[Any, Any]:
        losses = per_sample(y, model(x, training=False))
        return tf.reduce_sum(losses), tf.cast(tf.shape(losses)[0], tf.float32)

    def sum_all(values: Any) -> Any:  # per-replica values -> their sum over every replica of every worker
        return tuple(strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in values)

    def local(value: Any) -> float:
        return float(value)

    @tf.function
    def train_step(batch: Any, flag: Any) -> Any:
        return sum_all(strategy.run(replica_step, args=(batch[0], batch[1], flag)))

    @tf.function
    def eval_step(batch: Any) -> Any:
        return sum_all(strategy.run(replica_eval, args=(batch[0], batch[1])))

    @tf.function
    def agree(flag: Any) -> Any:
        return sum_all(strategy.run(lambda f: (f,), args=(flag,)))[0]

    dist_train = strategy.experimental_distribute_dataset(train_ds)
    dist_val = strategy.experimental_distribute_dataset(val_ds) if val_ds is not None else None
    steps = int(np.ceil(n_items / t.batch_size))

    source = checkpoints or run
    initial_epoch, best = 0, np.inf
    state = source.read_json("checkpoints/last.json", {}) if source is not None else {}
    if resume and source is not None and source.file("checkpoints/last.weights.h5").exists():
        model.load_weights(source.file("checkpoints/last.weights.h5"))
        best_loss = state.get("best")
        initial_epoch, best = int(state.get("epoch", 0)), np.inf if best_loss is None else float(best_loss)
    monitor = "val_loss" if val_ds is not None else "loss"
    cb = _callback_class()(spec, steps, run, progress, monitor, initial_epoch, best)
    if resume and source is not None and source.file("checkpoints/best.weights.h5").exists():
        cb.best_epoch = int(state.get("best_epoch", 0))
        current = model.get_weights()
        model.load_weights(source.file("checkpoints/best.weights.h5"))
        cb.best_weights = [w.copy() for w in model.get_weights()]
        model.set_weights(current)
    cb.set_model(model)
    model.stop_training = False
    t0 = time.time()
    _phase(run, "compiling: tracing the training step")
    for epoch in range(initial_epoch, t.epochs):
        cb.on_epoch_begin(epoch)
        total = count = 0.0
        for batch, item in enumerate(dist_train):
            s, n, stop = train_step(item, tf.constant(1.0 if model.stop_training else 0.0))
            total, count = total + local(s), count + local(n)
            if local(stop) > 0:
                model.stop_training = True
                break
            cb.on_train_batch_end(batch, {"loss": local(s) / max(local(n), 1.0)})
        logs = {"loss": total / max(count, 1.0)}
        if dist_val is not None and not cb.nan_message:
            vs = vn = 0.0
            for item in dist_val:
                s, n = eval_step(item)
                vs, vn = vs + local(s), vn + local(n)
            logs["val_loss"] = vs / max(vn, 1.0)
        cb.on_epoch_end(epoch, logs)
        if local(agree(tf.constant(1.0 if model.stop_training else 0.0))) > 0:
            break
    if cb.nan_message:
        raise TrainingError(cb.nan_message)
    if cb.best_weights is not None:
        model.set_weights(cb.best_weights)
    plain = build_model(spec, resolved)  # out of the strategy: evaluation and export see a plain model
    plain.set_weights(model.get_weights())
    compile_model(plain, spec, steps)
    raw = task.raw_output(plain, resolved)
    history = run.history() if run is not None else cb.history
    return TrainResult(plain, raw, resolved, history, cb.stopped_early, cb.stopped_by_user, cb.best_epoch,
                       time.time() - t0, 0)


def train_distributed(
    spec: ModelSpec,
    data_path: str,
    run_dir: str,
    strategy: Any,
    is_chief: bool = True,
    test_path: str | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
) -> dict[str, Any] | None:
    """fit.train_run under `strategy`. The chief writes the run directory exactly as train_run does and
    returns the metrics; another worker trains alongside, writes nothing and returns None."""
    from builder.training.fit import train_run

    notes: list[str] = []
    if is_chief:
        def fitter(*args: Any, **kwargs: Any) -> TrainResult:
            return fit_distributed(*args, **kwargs, strategy=strategy, notes=notes)

        metrics = train_run(spec, data_path, run_dir, test_path=test_path, progress=progress, resume=resume, fitter=fitter)
        metrics["replicas"] = strategy.num_replicas_in_sync
        run = Run(run_dir)
        run.write_json("metrics.json", metrics)
        if notes:
            meta = run.read_json("metadata.json", {})
            meta.setdefault("resolved", {}).setdefault("notices", []).extend(notes)
            run.write_json("metadata.json", meta)
        return metrics
    task = get_task(spec.task)
    data = task.prepare(data_path, spec, test_path)
    fit_distributed(spec, data, None, None, resume=resume, strategy=strategy, checkpoints=Run(run_dir))
    return None
