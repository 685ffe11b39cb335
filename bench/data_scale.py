"""Data at scale: a generated N-row x 8-column CSV through load, validate, split, scale, window and train.

Each measurement runs in its own process so that peak resident memory (ru_maxrss) is its own:
- load: builder's path for large files (`builder.tasks.prepare`: chunked read, validation, time parsing,
  chronological split, scalers fit on the training rows) in rows/s, beside plain `pandas.read_csv` of
  the same file; peak RSS above the process's baseline (after importing TensorFlow and builder)
  against 3x the raw float32 array;
- input pipeline: windows/s of the shuffled training pipeline alone (lookback 96, horizon 24), beside
  the rate at which a small model consumes windows while training 300 steps on the same pipeline
  (the pipeline must not be the bottleneck: ratio > 1).

Run alone: .venv/bin/python bench/data_scale.py [--rows 10000000]; bench/run.py calls `run()`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
N_COLS = 8
LOOKBACK, HORIZON, BATCH, STEPS = 96, 24, 256, 300


def make_csv(rows: int, path: Path) -> Path:
    """time + 8 float columns (a daily-ish signal with noise), written in 1M-row chunks; cached by size."""
    import numpy as np
    import pandas as pd

    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".tmp")
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2000-01-01")
    with tmp.open("w") as fh:
        fh.write("time," + ",".join(f"c{j}" for j in range(N_COLS)) + "\n")
        for lo in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - lo)
            t = np.arange(lo, lo + n)
            base = np.sin(2 * np.pi * t / 1440.0)[:, None] + 0.1 * rng.standard_normal((n, N_COLS))
            frame = pd.DataFrame(base.round(4), columns=[f"c{j}" for j in range(N_COLS)])
            frame.insert(0, "time", (start + pd.to_timedelta(t, unit="min")).strftime("%Y-%m-%d %H:%M:%S"))
            frame.to_csv(fh, header=False, index=False)
    tmp.replace(path)
    return path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(mode: str, path: str, rows: int) -> dict:
    """One measurement in this process; returns a JSON-able dict."""
    if mode == "pandas":
        import pandas as pd

        base = _current_rss_mb()
        t0 = time.perf_counter()
        df = pd.read_csv(path)
        secs = time.perf_counter() - t0
        return {"secs": secs, "rows": len(df), "peak_mb": _rss_mb(), "base_mb": base}

    os.environ["RNN_STUDIO_STREAM_BYTES"] = "0"  # the large-file path even for --quick sizes
    os.environ.setdefault("RNN_STUDIO_MAX_ROWS", str(rows * 2))
    os.environ.setdefault("RNN_STUDIO_MAX_WINDOWS", str(rows * 2))
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import numpy as np

    from builder import ModelSpec
    from builder.data.windows import series_dataset
    from builder.model.build import build_model
    from builder.tasks import get_task, prepare
    from builder.training.fit import compile_model

    spec = ModelSpec.from_dict({
        "data": {"targets": ["c0"], "lookback": LOOKBACK, "horizon": HORIZON},
        "blocks": [{"kind": "recurrent", "cell": "gru", "units": 16}],
        "training": {"batch_size": BATCH, "epochs": 1},
    })
    base = _current_rss_mb()
    t0 = time.perf_counter()
    data = prepare(path, spec)
    load_secs = time.perf_counter() - t0
    load_peak = _rss_mb()
    raw_mb = data.values.nbytes / 2**20
    windows = {p: int(np.subtract(*data.window_range(p)[::-1])) for p in ("train", "val", "test")}
    ds = series_dataset(data, "train", BATCH, shuffle=True, seed=0).repeat()  # small --quick files too
    it = iter(ds)
    next(it)
    t0 = time.perf_counter()
    n = 0
    for _ in range(STEPS):
        x, _y = next(it)
        n += int(x.shape[0])
    pipe_rate = n / (time.perf_counter() - t0)
    model = build_model(spec, get_task(spec.task).resolve(data))
    model.get_layer("standardize").set_statistics(data.x_scaler.offset_, data.x_scaler.scale_)
    compile_model(model, spec)
    model.fit(ds, steps_per_epoch=20, epochs=1, verbose=0)  # warm-up / compile
    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=STEPS, epochs=1, verbose=0)
    model_rate = STEPS * BATCH / (time.perf_counter() - t0)
    del keras
    return {"load_secs": load_secs, "rows": data.n_rows, "raw_mb": raw_mb, "base_mb": base, "load_peak_mb": load_peak,
            "peak_mb": _rss_mb(), "windows": windows, "pipe_rate": pipe_rate, "model_rate": model_rate}


def _spawn(mode: str, path: Path, rows: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--path", str(path), "--rows", str(rows)],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(rows: int = 10_000_000, quick: bool = False) -> list[dict]:
    """Rows of {figure, ours, reference, ratio, unit, note} for bench/run.py's table."""
    if quick:
        rows = min(rows, 200_000)
    cache = Path(tempfile.gettempdir()) / f"rnn-studio-bench-{rows}x{N_COLS}.csv"
    t0 = time.perf_counter()
    path = make_csv(rows, cache)
    gen_secs = time.perf_counter() - t0
    ours = _spawn("builder", path, rows)
    ref = _spawn("pandas", path, rows)
    ours_rows_s = ours["rows"] / ours["load_secs"]
    ref_rows_s = ref["rows"] / ref["secs"]
    load_extra = ours["load_peak_mb"] - ours["base_mb"]
    total_extra = ours["peak_mb"] - ours["base_mb"]
    budget = 3 * ours["raw_mb"]
    w = ours["windows"]
    size_note = f"{rows:,} rows x {N_COLS} cols, {path.stat().st_size / 2**20:.0f} MiB CSV (generated in {gen_secs:.0f}s)"
    return [
        {"figure": "load+validate+split+scale", "ours": ours_rows_s, "reference": ref_rows_s,
         "ratio": ours_rows_s / ref_rows_s, "unit": "rows/s", "note": f"reference: plain pandas.read_csv; {size_note}"},
        {"figure": "peak RSS above baseline, load", "ours": load_extra, "reference": budget, "ratio": load_extra / budget,
         "unit": "MiB", "note": f"reference: 3x the raw float32 array ({ours['raw_mb']:.0f} MiB); baseline {ours['base_mb']:.0f} MiB after imports; pandas.read_csv peaks {ref['peak_mb'] - ref['base_mb']:.0f} MiB above its baseline"},
        {"figure": "peak RSS above baseline, load + 300 training steps", "ours": total_extra, "reference": budget,
         "ratio": total_extra / budget, "unit": "MiB", "note": f"windows addressable: train {w['train']:,}, val {w['val']:,}, test {w['test']:,}"},
        {"figure": "input pipeline (shuffled windows)", "ours": ours["pipe_rate"], "reference": ours["model_rate"],
         "ratio": ours["pipe_rate"] / ours["model_rate"], "unit": "windows/s",
         "note": f"reference: a GRU(16) training on the same pipeline, batch {BATCH}, lookback {LOOKBACK}, horizon {HORIZON}, {STEPS} steps"},
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--child")
    p.add_argument("--path")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.path, args.rows)))
        return
    for r in run(args.rows, args.quick):
        print(f"{r['figure']:52} {r['ours']:>14,.1f} {r['reference']:>14,.1f} {r['ratio']:>7.2f}  {r['unit']:9} {r['note']}")


if __name__ == "__main__":
    main()
