"""Epoch times of the tool's own training, our input pipelines against tf.data's autotuned prefetch.

Ours: `builder.training.fit.fit` as the CLI and the UI run it (stacked_lstm preset, bundled CO2 sample,
validation every epoch), its pipelines finished by `builder.data.finish_pipeline` (a fixed
prefetch, tf.data autotuning off). Reference: the same run with `finish_pipeline` replaced by the
usual `prefetch(tf.data.AUTOTUNE)`. Keras makes a new iterator every epoch (and at every
evaluation); with autotuning on, replacing one stalled the process in some epochs. Each epoch's
time is taken from fit's progress calls (the last call of an epoch to the last call of the next
one; the first epoch, which traces and compiles, is not counted). Every run is its own fresh
process, the two variants alternate, and each variant's figures pool its runs.

    .venv/bin/python -m bench.epoch_stall [--pairs 3] [--epochs 12]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench.cells import ROOT
from bench.throughput import call_worker, emit
from builder.data.windows import PREFETCH_BATCHES

DATASET = ROOT / "datasets" / "co2_mauna_loa_weekly.csv"


def run_worker(variant: str, epochs: int) -> dict[str, list[float]]:
    """Train once in this process; the epoch durations in seconds (first epoch left out)."""
    if variant == "autotune":
        import tensorflow as tf

        import builder.data.windows

        builder.data.windows.finish_pipeline = lambda ds: ds.prefetch(tf.data.AUTOTUNE)
    from builder.spec.presets import load_preset
    from builder.tasks import prepare
    from builder.training.fit import fit

    spec = load_preset("stacked_lstm")
    spec = spec.updated(training={"epochs": epochs, "patience": None})
    data = prepare(DATASET, spec)
    last: dict[int, float] = {}

    def progress(epoch: int, batch: int | None, logs: dict) -> None:
        last[epoch] = time.perf_counter()

    fit(spec, data, progress=progress)
    ends = [last[e] for e in sorted(last)]
    return {"epochs": [b - a for a, b in zip(ends, ends[1:], strict=False)]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=3, help="fresh-process runs per variant, alternating")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--worker", choices=["ours", "autotune"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        emit(run_worker(args.worker, args.epochs))
        return
    seen: dict[str, list[float]] = {"ours": [], "autotune": []}
    for _ in range(args.pairs):
        for variant in seen:
            worker_args = ["--worker", variant, "--epochs", str(args.epochs)]
            seen[variant] += call_worker("bench.epoch_stall", worker_args)["epochs"]
    print(f"stacked_lstm on {DATASET.name}, {args.epochs} epochs x {args.pairs} fresh processes per variant, "
          "first epoch of each left out")
    med = {variant: float(np.median(times)) for variant, times in seen.items()}
    slow = 1.5 * med["ours"]
    print(f"| pipelines | epochs | median epoch s | slowest epoch s | epochs over {slow:.3f} s "
          "(1.5x our median) |")
    print("|---|---|---|---|---|")
    for variant, times in seen.items():
        t = np.array(times)
        label = f"ours (prefetch {PREFETCH_BATCHES}, autotune off)" if variant == "ours" else "reference: prefetch(AUTOTUNE)"
        print(f"| {label} | {len(t)} | {med[variant]:.3f} | {t.max():.3f} | {int((t > slow).sum())} |")
    print(f"median epoch, reference / ours: {med['autotune'] / med['ours']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
