"""The masked (padded, variable-length) recurrent path against a PyTorch twin with packed sequences. Not a test.

Ours: the default classify preset's recurrent block (LSTM, its units), reading time (no dimension
shuffle, no FCN branch, so the padded steps are masked as the tool masks them: `Standardize` masks
all-NaN steps and the LSTM skips them), built by `builder.model.build.build_model`, compiled by
`builder.training.fit.compile_model`, trained with `model.fit` on `task.datasets` (shuffled,
NaN-padded batches of the preset's batch size). The twin: the same scaling (the training part's
statistics, NaN -> 0), nn.LSTM over `nn.utils.rnn.pack_padded_sequence` (the last real step's state),
Linear + softmax head, Adam with the same learning rate, cross-entropy; same batches, sizes and lengths.

Each side times itself in its own process (TF under this interpreter, torch under --torch-python,
default the README's .torchvenv/bin/python), with the same thread count for both (torch.set_num_threads; TF
intra / inter op threads). One warm-up epoch, then the best of --rounds epochs; samples/s = training
sequences / epoch seconds. Sets: japanese_vowels (lengths 7-29) and a synthetic set with lengths
--long-min..--long-max.

    .venv/bin/python bench/classify_masked_torch.py --rounds 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = next((p / "shared" / "data" / "classification" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data" / "classification").is_dir()), ROOT.parent / "shared" / "data" / "classification")
TORCH_PYTHON = str(ROOT / ".torchvenv" / "bin" / "python")  # the README's torch environment


def bench_spec() -> Any:
    """The default classify preset with only its recurrent block, reading time (masked)."""
    from builder.spec.presets import load_preset
    from builder.tasks.registry import get_task

    spec = load_preset(get_task("classify").entry.default_preset)
    rec = next(b for b in spec.model_dump()["blocks"] if b["kind"] == "recurrent")
    rec["dimension_shuffle"] = False
    return spec.updated(blocks=[rec], data={"id_col": "sequence_id", "label_col": "label"})


def synthetic_frame(n: int, lo: int, hi: int, features: int = 4, seed: int = 0) -> Any:
    """Long-format sequences with lengths uniform in [lo, hi]: two classes (sine frequencies) + noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        length, label = int(rng.integers(lo, hi + 1)), i % 2
        t = np.arange(length)
        cols = {"sequence_id": np.full(length, i), "t": t}
        for k in range(features):
            cols[f"f{k}"] = np.sin(2 * np.pi * t / (20 + 10 * label) + k) + rng.normal(0, 0.3, length)
        cols["label"] = np.full(length, label)
        parts.append(pd.DataFrame(cols))
    return pd.concat(parts, ignore_index=True)


def tf_side(frame: Any, rounds: int, threads: int, npz: Path) -> dict[str, Any]:
    """Train ours; write the twin's inputs to `npz`; our best samples/s."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    from builder.model.build import build_model
    from builder.tasks import get_task
    from builder.training.fit import compile_model, set_seed

    spec = bench_spec()
    task = get_task("classify")
    data = task.prepare_frame(frame, spec)
    set_seed(spec.training.seed)
    train_ds, _, n_train = task.datasets(data, spec)
    model = build_model(spec, task.resolve(data))
    model.get_layer("standardize").set_statistics(data.x_scaler.offset_, data.x_scaler.scale_)
    batch = spec.training.batch_size
    compile_model(model, spec, int(np.ceil(n_train / batch)))
    rec = next(b for b in spec.blocks if b.kind == "recurrent")
    train = data.split == "train"
    x = data.x_scaler.transform(data.x[train])
    x = np.where(np.isnan(x), 0.0, x).astype(np.float32)
    np.savez(npz, x=x, lengths=data.lengths[train].astype(np.int64), y=data.y[train].astype(np.int64),
             units=rec.units, classes=len(data.classes), batch=batch, lr=spec.training.learning_rate,
             rounds=rounds, threads=threads, seed=spec.training.seed)

    from bench.throughput import epoch_timer

    timer = epoch_timer()
    model.fit(train_ds, epochs=1 + rounds, callbacks=[timer], verbose=0, shuffle=False)
    lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.RNN))
    return {"samples_per_s": n_train / min(timer.seconds[1:]), "warmup_s": timer.seconds[0], "n_train": n_train,
            "max_len": int(data.x.shape[1]), "mean_len": float(data.lengths[train].mean()), "units": rec.units,
            "batch": batch, "params": int(model.count_params()), "layer": type(lstm).__name__,
            "jit_compile": bool(model.jit_compile)}


TORCH_WORKER = r'''
import json, sys, time
import numpy as np
import torch
from torch import nn

d = np.load(sys.argv[1])
torch.set_num_threads(int(d["threads"]))
torch.manual_seed(int(d["seed"]))
x, lengths, y = torch.from_numpy(d["x"]), torch.from_numpy(d["lengths"]), torch.from_numpy(d["y"])
units, classes, batch = int(d["units"]), int(d["classes"]), int(d["batch"])


class Twin(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(x.shape[2], units, batch_first=True)
        self.head = nn.Linear(units, classes)

    def forward(self, xb, lb):
        packed = nn.utils.rnn.pack_padded_sequence(xb, lb, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(h[-1])  # logits; cross_entropy applies the softmax


model = Twin()
opt = torch.optim.Adam(model.parameters(), lr=float(d["lr"]))
rng = np.random.default_rng(int(d["seed"]))
seconds = []
for epoch in range(1 + int(d["rounds"])):
    t0 = time.perf_counter()
    order = torch.from_numpy(rng.permutation(len(y)))
    for s in range(0, len(y), batch):
        idx = order[s:s + batch]
        lb = lengths[idx]
        xb = x[idx, : int(lb.max())]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb, lb), y[idx])
        loss.backward()
        opt.step()
        float(loss)
    seconds.append(time.perf_counter() - t0)
print("RESULT " + json.dumps({"samples_per_s": len(y) / min(seconds[1:]), "warmup_s": seconds[0],
                              "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__}))
'''


def torch_side(npz: Path, python: str) -> dict[str, Any]:
    proc = subprocess.run([python, "-c", TORCH_WORKER, str(npz)], capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"torch twin failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def worker(args: argparse.Namespace) -> None:
    """One set, TF side, in this (fresh) process; prints `RESULT {json}`."""
    import pandas as pd

    if args.set == "japanese_vowels":
        frame = pd.read_csv(DATA / "japanese_vowels.csv")
    else:
        frame = synthetic_frame(args.long_n, args.long_min, args.long_max)
    out = tf_side(frame, args.rounds, args.threads, Path(args.npz))
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed epochs per side (after one warm-up)")
    ap.add_argument("--threads", type=int, default=1, help="threads for both sides")
    ap.add_argument("--sets", nargs="+", default=["japanese_vowels", "long"], choices=["japanese_vowels", "long"])
    ap.add_argument("--long-n", type=int, default=128, help="sequences in the synthetic set (70%% train)")
    ap.add_argument("--long-min", type=int, default=100)
    ap.add_argument("--long-max", type=int, default=1000)
    ap.add_argument("--torch-python", default=TORCH_PYTHON, help="a Python with torch==2.13.0 (default: .torchvenv, see README)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--set", help=argparse.SUPPRESS)
    ap.add_argument("--npz", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if not Path(args.torch_python).is_file():
        print(f"error: --torch-python {args.torch_python}: expected a Python with torch==2.13.0, "
              "found no such file (create .torchvenv as the README's PyTorch section shows)", file=sys.stderr)
        raise SystemExit(2)
    rows = []
    for name in args.sets:
        with tempfile.TemporaryDirectory() as tmp:
            npz = Path(tmp) / "twin.npz"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--set", name, "--npz", str(npz),
                   "--rounds", str(args.rounds), "--threads", str(args.threads), "--long-n", str(args.long_n),
                   "--long-min", str(args.long_min), "--long-max", str(args.long_max)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                raise SystemExit(f"error: TF side of {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            ours = json.loads(lines[-1].removeprefix("RESULT "))
            twin = torch_side(npz, args.torch_python)
        rows.append((name, ours, twin))
        print(f"{name}: ours {ours}\n{' ' * len(name)}  torch {twin}", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}; --rounds {args.rounds} --threads {args.threads}")
    print("| set | train seqs | lengths (mean / max) | LSTM units | batch | ours samples/s | torch packed samples/s | ours / torch |")
    print("|---|---|---|---|---|---|---|---|")
    for name, o, t in rows:
        print(f"| {name} | {o['n_train']} | {o['mean_len']:.0f} / {o['max_len']} | {o['units']} | {o['batch']} | "
              f"{o['samples_per_s']:.0f} | {t['samples_per_s']:.0f} | {o['samples_per_s'] / t['samples_per_s']:.2f} |")


if __name__ == "__main__":
    main()
