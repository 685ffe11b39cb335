"""ONNX and LiteRT exports of every preset, against the run's SavedModel.

For each preset: a run trained for one epoch on a synthetic daily series (forecast presets: lookback
24, horizon 4) or on synthetic labelled sequences (classify presets), at the preset's own size; then
`builder.serving.convert.convert_run` for "onnx" and "litert" (each file checked against the
SavedModel on raw windows to 1e-5 x max(1, |value|)). Printed per preset and format: ok or the exact
reason, max |difference| to the SavedModel, file size, and single-window latency of the converted file
beside the SavedModel's (`serve` called on one window; median over `--reps` calls, the three runtimes
interleaved call by call so that load from other processes hits them alike).

    python bench/export_formats.py [--reps 200] [--presets stacked_lstm cldnn ...] [--out DIR] [--runs DIR]

`--runs DIR`: use the finished runs DIR/<preset> instead of training (e.g. the shrunk presets of the
tests: at most 8 units per layer, lookback 8, horizon 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from builder import list_presets, load_preset  # noqa: E402
from builder.serving import convert  # noqa: E402
from builder.training.fit import train_run  # noqa: E402
from builder.training.runs import Run  # noqa: E402
from tests.conftest import make_sequences_csv, make_series_csv  # noqa: E402


def train(name: str, root: Path) -> Run:
    spec = load_preset(name)
    if spec.task == "forecast":
        data, over = make_series_csv(root / "series.csv", n=200), {"lookback": 24, "horizon": 4}
    else:
        data, over = make_sequences_csv(root / "seq.csv", n_per_class=40), {}
    spec = spec.updated(data=over, training={"epochs": 1, "patience": None})
    train_run(spec, data, root / name)
    return Run(root / name)


def latency(fns: dict[str, object], x: np.ndarray, reps: int) -> dict[str, float]:
    """Median milliseconds per call of each fn on `x`, interleaved call by call after 5 warm-ups each."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(5):
        for fn in fns.values():
            fn(x)
    for _ in range(reps):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn(x)
            times[key].append(time.perf_counter() - t0)
    return {k: 1000 * float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--presets", nargs="*")
    ap.add_argument("--out", help="folder for the runs (default: a temporary one)")
    ap.add_argument("--runs", help="folder of finished runs named after the presets (no training)")
    args = ap.parse_args()
    import tensorflow as tf

    root = Path(args.out or tempfile.mkdtemp(prefix="bench-export-"))
    root.mkdir(parents=True, exist_ok=True)
    names = args.presets or [p["name"] for p in list_presets()]
    print("| preset | task | format | result | max abs diff | size KiB | latency ms | SavedModel ms | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for name in names:
        rows = []
        run = Run(Path(args.runs) / name) if args.runs else train(name, root)
        meta = run.metadata()
        served = tf.saved_model.load(str(run.file("saved_model")))
        model = convert.inference_model(run)
        x1 = convert.check_windows(model, meta, n=1, seed=7)
        fns = {"savedmodel": lambda x, s=served: s.serve(tf.constant(x)).numpy()}
        sm_size = sum(p.stat().st_size for p in run.file("saved_model").rglob("*") if p.is_file())
        results = {}
        for fmt in ("onnx", "litert"):
            try:
                done = convert.convert_run(run, fmt, root / f"{name}-{fmt}")
            except convert.ConversionError as err:
                results[fmt] = str(err)
                continue
            results[fmt] = done
            fns[fmt] = (convert.onnx_runner if fmt == "onnx" else convert.litert_runner)(done.path)
        ms = latency(fns, x1, args.reps)
        for fmt in ("onnx", "litert"):
            r = results[fmt]
            if isinstance(r, str):
                rows.append((name, meta["task"], fmt, f"no: {r}", "", "", "", f"{ms['savedmodel']:.3f}", ""))
                continue
            note = f" ({'; '.join(r.notes)})" if fmt == "litert" and r.notes else ""
            rows.append((name, meta["task"], fmt, "ok" + note, f"{r.max_abs_diff:.2g}", f"{r.size_bytes / 1024:,.1f}",
                         f"{ms[fmt]:.3f}", f"{ms['savedmodel']:.3f}", f"{ms['savedmodel'] / ms[fmt]:.1f}x"))
        for row in rows:
            print("| " + " | ".join(row) + " |", flush=True)
        print(f"{name}: done (SavedModel {sm_size / 1024:,.1f} KiB)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
