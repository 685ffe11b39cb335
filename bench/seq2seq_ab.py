"""Interleaved A/B of training variants of a translate preset in one process.

Epochs alternate between the variants (their order reversed every round), so every variant sees the same
minutes of a shared machine. Each variant is a fresh model of the preset (bench/seq2seq_torch.py's spec and
data, the same initial weights), compiled by compile_model and trained by model.fit one epoch at a time,
teacher-forcing ratio held at 1.0; prints wall and process-CPU seconds per epoch and samples/s (training
pairs / the best timed epoch; epoch 0 is the warm-up, which compiles). The shuffled batch order differs
between variants (each fit call draws the next shuffle), so their losses are not comparable number for number.

Variants: "base" (as built and compiled), "sN" (N batch shards per fused encoder layer), "jit"
(jit_compile=True), "eX" or "eXdY" with an optional trailing "b": X batch shards per fused encoder layer,
Y written to the model's `training_shards` (read only by an experimental decoder-sharding tree, not by
this commit), "b": attention as broadcast sums (Seq2Seq.attention_matmul False) instead of matmuls.

    .venv/bin/python bench/seq2seq_ab.py --threads 1 --rounds 3 --variants e2d1b e1d1b e1d1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="luong_lstm_seq2seq")
    ap.add_argument("--threads", type=int, default=1, help="TF intra- and inter-op threads")
    ap.add_argument("--rounds", type=int, default=3, help="timed epochs per variant (after one warm-up epoch)")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--variants", nargs="+", default=["base", "s1"])
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import pandas as pd

    from bench.seq2seq_torch import DATA, bench_spec
    from builder.model.build import build_model
    from builder.model.recurrent import fused_layers
    from builder.tasks import get_task
    from builder.training.fit import compile_model, set_seed

    task = get_task("translate")
    spec = bench_spec("auto", None, args.preset)
    frame = pd.read_csv(DATA, nrows=args.rows, dtype=str)[["source", "target"]]
    data = task.prepare_frame(frame, spec)
    set_seed(spec.training.seed)
    train_ds, _, n_train = task.datasets(data, spec)
    resolved = task.resolve(data)
    steps = int(np.ceil(n_train / spec.training.batch_size))
    models, first = {}, None
    for v in args.variants:
        set_seed(spec.training.seed)
        m = build_model(spec, resolved)
        if first is None:
            first = m.get_weights()
        else:
            m.set_weights(first)
        compile_model(m, spec.updated(training={"jit_compile": True}) if v == "jit" else spec, steps)
        if re.fullmatch(r"s\d+", v):
            for layer in fused_layers(m):
                layer.training_shards = int(v[1:])
        parsed = re.fullmatch(r"e(\d+)(?:d(\d+))?(b?)", v)
        if parsed:
            for layer in fused_layers(m):
                layer.training_shards = int(parsed.group(1))
            if parsed.group(2):
                m.training_shards = int(parsed.group(2))
            m.attention_matmul = not parsed.group(3)
        m.teacher_ratio.assign(1.0)
        models[v] = m
    res = {v: {"wall": [], "cpu": [], "loss": []} for v in models}
    for r in range(1 + args.rounds):
        for v in (list(models) if r % 2 == 0 else list(models)[::-1]):
            c0, t0 = time.process_time(), time.perf_counter()
            h = models[v].fit(train_ds, epochs=1, verbose=0, shuffle=False)
            res[v]["wall"].append(round(time.perf_counter() - t0, 3))
            res[v]["cpu"].append(round(time.process_time() - c0, 3))
            res[v]["loss"].append(round(h.history["loss"][0], 5))
        print(r, os.getloadavg()[0], {v: res[v]["wall"][-1] for v in res}, flush=True)
    for v, d in res.items():
        print(v, f"samples/s {n_train / min(d['wall'][1:]):.0f}", json.dumps(d))


if __name__ == "__main__":
    main()
