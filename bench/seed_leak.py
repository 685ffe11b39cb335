"""Does a classify run depend on the run before it in the same process? Not a test.

Trains lstm_fcn on the Chinatown train split with seed 1 for --epochs epochs, either first in the
process (`fresh`) or after a seed-42 run of the same length (`after`), and prints the training loss at a
few epochs and a hash of the final weights. `--order fit`: `builder.training.fit.fit` builds the tf.data
pipelines itself, after its `set_seed`; `--order train_run`: the pipelines are built first and handed
to `fit`, as `train_run` did before 5d1a99c, so they are made under whatever global TensorFlow seed the
process holds then (train_run now seeds before it builds them; tests/unit/test_pipeline.py checks it).

    .venv/bin/python bench/seed_leak.py fresh --order train_run --epochs 60
    .venv/bin/python bench/seed_leak.py after --order train_run --epochs 60
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.classify_table import DATA  # noqa: E402


def run(seed: int, epochs: int, order: str) -> Any:
    """One fit of lstm_fcn on chinatown_unittest's train split; the TrainResult."""
    from builder.spec.presets import load_preset
    from builder.tasks.registry import get_task
    from builder.training.fit import fit

    task = get_task("classify")
    spec = load_preset("lstm_fcn").updated(data={"id_col": "sequence_id", "label_col": "label"},
                                           training={"seed": seed, "epochs": epochs, "baselines": "fast"})
    data = task.prepare(DATA / "splits" / "chinatown_unittest_train.csv", spec)
    return fit(spec, data, datasets=task.datasets(data, spec) if order == "train_run" else None)


def main() -> None:
    from builder.quiet import import_tensorflow_quietly

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("when", choices=("fresh", "after"))
    p.add_argument("--order", choices=("fit", "train_run"), default="train_run")
    p.add_argument("--epochs", type=int, default=60)
    args = p.parse_args()
    import_tensorflow_quietly()
    if args.when == "after":
        run(42, args.epochs, args.order)
    r = run(1, args.epochs, args.order)
    loss = [float(e["loss"]) for e in r.history]
    at = [i for i in (1, 5, 10, 20, 40, args.epochs) if i <= len(loss)]
    digest = hashlib.md5(b"".join(np.asarray(w).tobytes() for w in r.model.get_weights())).hexdigest()[:10]
    print(f"{args.when} --order {args.order}: epochs run {len(loss)}; loss at epochs {at}: "
          + ", ".join(f"{loss[i - 1]:.9f}" for i in at) + f"; weights md5 {digest}")


if __name__ == "__main__":
    main()
