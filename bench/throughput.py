"""Section 1: training throughput of the forecast presets, our training loop against a PyTorch twin.

Ours is `builder.training.fit.fit` minus its run bookkeeping: `set_seed`, `prepare_frame`, `series_dataset`
(shuffled tf.data windows), `build_model`, `compile_model`, `model.fit` with a per-batch callback that
reads the loss (as fit's own callback does). The PyTorch twin has the same blocks and sizes (Conv1d,
nn.LSTM / nn.GRU / nn.RNN, Linear layers, Linear head, residual last value), Adam with the same
clipnorm and MSE, and trains on the same scaled windows, shuffled each epoch.

Configuration (bench.cells): batch 64, lookback 48, 8 features, horizon 1; 2 threads on both sides.
Every measurement runs in its own fresh process; the first epoch is warm-up (tracing / compiling),
then the best of the timed epochs counts (the machine is shared). samples/s = windows / epoch seconds.

    .torchvenv/bin/python -m bench.throughput [--quick]          # this section's rows as a table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from bench.cells import BATCH, FEATURES, ROOT, TORCH_TWIN, WINDOW

PRESETS = ["stacked_lstm", "deep_gru", "lstmp", "simple_rnn_baseline", "cldnn"]
THREADS = 2


def epoch_timer() -> Any:
    """A Keras callback whose `seconds` lists each epoch's wall time; it reads the loss after each batch, as
    fit's StudioCallback does after every block of batches, so the timed loop waits for the same values."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.t0 = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            float((logs or {}).get("loss", 0.0))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self.t0)

    return EpochTimer()


# ---------------------------------------------------------------------------------------------------
# Shared helpers (also used by bench.predict_latency)
# ---------------------------------------------------------------------------------------------------
def call_worker(module: str, args: list[str], timeout: float = 900,
                env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python -m module --worker ... args` in a fresh process; its last `RESULT {json}` line."""
    cmd = [sys.executable, "-m", module, *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **(env_extra or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def torch_available() -> bool:
    """Whether `import torch` works in this interpreter (checked in a subprocess: no torch import here)."""
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return proc.returncode == 0


def set_tf_threads(n: int = THREADS) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)


def bench_spec(preset: str, jit: bool | str = "auto", batch: int = BATCH) -> Any:
    """The preset with lookback 48, horizon 1, batch 64 and the given jit_compile."""
    from builder.spec.presets import load_preset

    return load_preset(preset).updated(
        data={"lookback": WINDOW, "horizon": 1}, training={"batch_size": batch, "jit_compile": jit}
    )


def make_frame(rows: int, seed: int = 0) -> Any:
    """An hourly series with FEATURES columns (first = target): daily season, trend, noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    cols = {"time": pd.date_range("2020-01-01", periods=rows, freq="h")}
    for k in range(FEATURES):
        cols[f"s{k}"] = (np.sin(2 * np.pi * t / 24 + k) + 0.001 * t * (k + 1) + rng.normal(0, 0.2, rows)).astype("float32")
    return pd.DataFrame(cols)


def rows_for_windows(n_windows: int, batch: int = BATCH) -> int:
    """Rows whose training part (default 70/15/15 split) holds a multiple of `batch` windows, at least
    `n_windows` (no partial last batch: XLA would compile a second shape and retrace every epoch)."""
    from builder.data.series import split_sizes

    rows = int(np.ceil((n_windows + WINDOW + 1) / 0.7))
    while True:
        n_train, _ = split_sizes(rows, 0.15, 0.15, 1)
        windows = n_train - WINDOW
        if windows >= n_windows and windows % batch == 0:
            return rows
        rows += 1


def prepared(preset: str, steps: int, jit: bool | str = "auto", batch: int = BATCH) -> tuple[Any, Any]:
    """(spec, SeriesData) with about `steps` training batches."""
    from builder.tasks import prepare_frame

    spec = bench_spec(preset, jit, batch)
    data = prepare_frame(make_frame(rows_for_windows(steps * batch, batch)), spec)
    return spec, data


# ---------------------------------------------------------------------------------------------------
# Ours
# ---------------------------------------------------------------------------------------------------
#: our variants, measured one after the other in one process: (name, op determinism, jit_compile)
VARIANTS = [("fit", True, "auto"), ("noxla", False, False), ("xla", False, True)]


def disable_op_determinism() -> None:
    from tensorflow.python.framework import config

    config.disable_op_determinism()


def keras_training(preset: str, jit: bool | str, steps: int, epochs: int, batch: int = BATCH,
                   deterministic: bool = True, unroll: bool = False) -> dict[str, Any]:
    """Best samples/s over `epochs` timed epochs of our training loop (after one warm-up epoch).

    `deterministic=True` calls `builder.training.fit.set_seed` as `fit` does (on the CPU it seeds without TF op
    determinism, which would make Keras drop `jit_compile`); False also turns op determinism off.
    """
    import keras

    from builder.data.windows import series_dataset
    from builder.model.build import build_model
    from builder.tasks import get_task
    from builder.training.fit import compile_model, set_seed

    spec, data = prepared(preset, steps, jit, batch)
    set_seed(spec.training.seed)
    if not deterministic:
        disable_op_determinism()
    train_ds = series_dataset(data, "train", batch, shuffle=True, seed=spec.training.seed, stride=1)
    n_windows = len(data.window_starts("train"))
    model = build_model(spec, get_task(spec.task).resolve(data))
    model.get_layer("standardize").set_statistics(data.x_scaler.offset_, data.x_scaler.scale_)
    if unroll:
        for layer in model.layers:
            if isinstance(layer, keras.layers.RNN):
                layer.unroll = True
    compile_model(model, spec, int(np.ceil(n_windows / batch)))  # as fit caps batches per call

    timer = epoch_timer()
    model.fit(train_ds, epochs=1 + epochs, callbacks=[timer], verbose=0, shuffle=False)
    timed = timer.seconds[1:]
    disable_op_determinism()
    return {"samples_per_s": n_windows / min(timed), "warmup_s": timer.seconds[0], "windows": n_windows,
            "params": int(model.count_params()), "jit_compile": bool(model.jit_compile)}


def keras_variants(preset: str, steps: int, epochs: int, batch: int = BATCH,
                   variants: list[str] | None = None, unroll: bool = False) -> dict[str, Any]:
    """Each of VARIANTS (or the named ones) measured in turn in this process."""
    import warnings

    set_tf_threads()
    out = {}
    for name, det, jit in VARIANTS:
        if variants and name not in variants:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = keras_training(preset, jit, steps, epochs, batch, deterministic=det, unroll=unroll)
    return out


# ---------------------------------------------------------------------------------------------------
# PyTorch twin
# ---------------------------------------------------------------------------------------------------
def torch_twin(spec: Any, n_features: int, n_out: int) -> Any:
    """An nn.Module with the spec's blocks: [B, L, F] scaled -> [B, horizon, n_out] scaled."""
    import torch
    from torch import nn

    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}

    class Conv(nn.Module):
        def __init__(self, block: Any, ch: int) -> None:
            super().__init__()
            self.pad = {"causal": (block.kernel_size - 1, 0), "valid": (0, 0),
                        "same": ((block.kernel_size - 1) // 2, block.kernel_size // 2)}[block.padding]
            self.conv = nn.Conv1d(ch, block.filters, block.kernel_size)
            self.act = acts[block.activation]()
            self.pool = nn.MaxPool1d(block.pool_size, ceil_mode=True) if block.pool_size > 1 else nn.Identity()

        def forward(self, x: Any) -> Any:  # [B, T, C]
            y = self.act(self.conv(nn.functional.pad(x.transpose(1, 2), self.pad)))
            return self.pool(y).transpose(1, 2)

    class Recurrent(nn.Module):
        def __init__(self, block: Any, ch: int, last: bool) -> None:
            super().__init__()
            kind, _, _ = TORCH_TWIN[block.cell]
            extra = {"proj_size": block.proj_units} if block.cell == "lstm_proj" else {}
            self.rnn = getattr(nn, kind)(ch, block.units, num_layers=block.num_layers, batch_first=True,
                                         dropout=block.dropout if block.num_layers > 1 else 0.0,
                                         bidirectional=block.bidirectional, **extra)
            self.last = last
            self.out = (block.proj_units if extra else block.units) * (2 if block.bidirectional else 1)

        def forward(self, x: Any) -> Any:
            y, _ = self.rnn(x)
            return y[:, -1] if self.last else y

    class Twin(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            ch = n_features
            rec = [i for i, b in enumerate(spec.blocks) if b.kind == "recurrent"]
            for i, b in enumerate(spec.blocks):
                if b.kind == "conv":
                    layers.append(Conv(b, ch))
                    ch = b.filters
                elif b.kind == "recurrent":
                    layer = Recurrent(b, ch, last=i == rec[-1])
                    layers.append(layer)
                    ch = layer.out
                elif b.kind == "dense":
                    layers += [nn.Linear(ch, b.units), acts[b.activation]()]
                    if b.dropout > 0:
                        layers.append(nn.Dropout(b.dropout))
                    ch = b.units
                else:
                    raise NotImplementedError(f"no PyTorch twin for a {b.kind} block")
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(ch, spec.data.horizon * n_out)

        def forward(self, x: Any) -> Any:
            y = self.head(self.body(x)).view(-1, spec.data.horizon, n_out)
            return y + x[:, -1:, :n_out] if spec.residual else y

    torch.manual_seed(spec.training.seed)
    return Twin()


def scaled_windows(data: Any, part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Materialised (x scaled [N, L, F], y scaled [N, H, T]) float32 windows, as the model sees them."""
    from builder.data.windows import series_windows

    x, y = series_windows(data, part)
    n, length, f = x.shape
    xs = data.x_scaler.transform(x.reshape(-1, f)).reshape(n, length, f)
    ys = data.y_scaler.transform(y.reshape(-1, y.shape[-1])).reshape(y.shape)
    return xs.astype("float32"), ys.astype("float32")


def torch_training(preset: str, steps: int, epochs: int, batch: int = BATCH) -> dict[str, Any]:
    """Best samples/s over `epochs` timed epochs of the PyTorch twin (after one warm-up epoch)."""
    import torch

    torch.set_num_threads(THREADS)
    spec, data = prepared(preset, steps, batch=batch)
    x_np, y_np = scaled_windows(data)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model = torch_twin(spec, x.shape[-1], y.shape[-1])
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=spec.training.learning_rate)
    clip = spec.training.clipnorm
    gen = torch.Generator().manual_seed(spec.training.seed)

    seconds = []
    for _ in range(1 + epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
            loss.backward()
            if clip is not None:  # Keras clipnorm clips each gradient tensor to this norm
                for p in model.parameters():
                    torch.nn.utils.clip_grad_norm_([p], clip)
            opt.step()
            loss.item()
        seconds.append(time.perf_counter() - t0)
    return {"samples_per_s": len(x) / min(seconds[1:]), "warmup_s": seconds[0], "windows": len(x),
            "params": int(sum(p.numel() for p in model.parameters()))}


# ---------------------------------------------------------------------------------------------------
# Section
# ---------------------------------------------------------------------------------------------------
def sizes(quick: bool) -> tuple[int, int]:
    """(batches per epoch, timed epochs)."""
    return (4, 2) if quick else (30, 2)


def best_torch(preset: str, common: list[str]) -> dict[str, Any]:
    """The PyTorch twin with OpenMP's default (spinning) wait policy and with OMP_WAIT_POLICY=PASSIVE;
    the faster counts. On a loaded machine spinning OpenMP threads wait for descheduled peers and a
    2-thread step can take 10x longer than with 1 thread; PASSIVE keeps torch's figure fair there."""
    out = {}
    for policy in ("default", "PASSIVE"):
        extra = {"OMP_WAIT_POLICY": policy} if policy != "default" else {}
        out[policy] = call_worker("bench.throughput", ["--worker", "torch", "--preset", preset, *common],
                                  env_extra=extra)
    best = max(out, key=lambda k: out[k]["samples_per_s"])
    return {**out[best], "omp": best, "by_policy": {k: v["samples_per_s"] for k, v in out.items()}}


def run(quick: bool = False, presets: list[str] | None = None, log: Any = None) -> list[dict[str, Any]]:
    """Rows of the table: per preset, our loop as fit runs it vs PyTorch, then XLA on vs off."""
    steps, epochs = sizes(quick)
    has_torch = torch_available()
    rows: list[dict[str, Any]] = []
    common = ["--steps", str(steps), "--epochs", str(epochs)]
    wins = {True: 0, False: 0}
    for preset in presets or (PRESETS[:1] if quick else PRESETS):  # quick: a smoke run of one preset
        ours = call_worker("bench.throughput", ["--worker", "keras", "--preset", preset, *common])
        theirs = best_torch(preset, common) if has_torch else None
        fit = ours["fit"]
        # the other choice than the default's: what "auto" would have given up
        other = ours["noxla"] if fit["jit_compile"] else ours["xla"]
        if log:
            log(f"  train {preset}: fit {fit['samples_per_s']:.0f} (jit {fit['jit_compile']}), "
                f"other jit {other['samples_per_s']:.0f}, torch {theirs['samples_per_s'] if theirs else 'n/a'}")
        o = fit["samples_per_s"]
        note = (f"as builder.training.fit.fit runs it (jit_compile auto -> {fit['jit_compile']}); params "
                f"{fit['params']:,}" + (f" vs {theirs['params']:,}" if theirs else "") + f"; {fit['windows']} windows/epoch")
        if theirs:
            note += "; torch " + ", ".join(f"OMP {k} {v:.0f}" for k, v in theirs["by_policy"].items())
        if preset == "deep_gru":
            note += "; Keras recurrent_dropout 0.1 + input dropout, torch dropout between layers only"
        rows.append({"figure": f"train {preset}: samples/s vs PyTorch twin", "ours": o,
                     "reference": theirs["samples_per_s"] if theirs else "n/a",
                     "ratio": o / theirs["samples_per_s"] if theirs else None, "unit": "samples/s", "note": note})
        wins[fit["samples_per_s"] >= other["samples_per_s"]] += 1
        default_jit = bool(fit["jit_compile"])
        rows.append({"figure": f"train {preset}: default (jit_compile={default_jit}) vs jit_compile={not default_jit}",
                     "ours": fit["samples_per_s"], "reference": other["samples_per_s"],
                     "ratio": fit["samples_per_s"] / other["samples_per_s"], "unit": "samples/s",
                     "note": f"first epoch (trace/compile) {fit['warmup_s']:.1f} s vs {other['warmup_s']:.1f} s"})
    rows.append({"figure": "train: presets where the default jit_compile choice is at least as fast", "ours": wins[True],
                 "reference": wins[True] + wins[False], "ratio": None, "unit": "presets",
                 "note": "jit_compile='auto' on the CPU: off when every recurrent layer runs fused, else XLA "
                         "(builder.training.fit.resolve_jit)"})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", choices=["keras", "torch"])
    p.add_argument("--preset", choices=PRESETS, default="stacked_lstm")
    p.add_argument("--variants", nargs="+", choices=[v[0] for v in VARIANTS])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=BATCH)
    p.add_argument("--unroll", action="store_true", help="unroll the recurrent layers (experiment)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.worker == "keras":
        emit(keras_variants(args.preset, args.steps, args.epochs, args.batch, args.variants, args.unroll))
    elif args.worker == "torch":
        emit(torch_training(args.preset, args.steps, args.epochs, args.batch))
    else:
        from bench.run import print_table

        print_table(run(args.quick, log=lambda m: print(m, file=sys.stderr, flush=True)))


if __name__ == "__main__":
    main()
