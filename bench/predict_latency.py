"""Section 3: prediction with the exported SavedModel against Keras and a PyTorch twin.

The default preset (stacked_lstm; lookback 48, 8 features, horizon 1) with the data's scalers in the
graph is exported with `builder.training.artifacts.export_saved_model` and loaded with `tf.saved_model.load`.
Latency: median of N calls of `serve` on one window (after warm-up), the result fetched as NumPy.
Throughput: a batch of 1,024 windows, median of several calls. References in the same run: the same
Keras model called directly (`model(x, training=False)`) and through `model.predict`, and the PyTorch
twin's forward (eval mode, inference_mode, same scaling in the module), each in a fresh process with
2 threads. Weights are untrained: the timing does not depend on them.

    .torchvenv/bin/python -m bench.predict_latency [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.cells import BATCH
from bench.throughput import THREADS, call_worker, emit, prepared, set_tf_threads, torch_available, torch_twin

BIG = 1024
PRESET = "stacked_lstm"


#: the eager Keras call of one window runs the recurrent loop op by op (~0.1-0.6 s a call on 2 cores),
#: so it is timed over fewer calls than the others
EAGER_CALLS = 30


def sizes(quick: bool) -> tuple[int, int]:
    """(single-window calls, batch calls) timed."""
    return (5, 2) if quick else (200, 15)


def inputs(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(one raw window [1, L, F], BIG raw windows [BIG, L, F]) from the series (repeated if short)."""
    from builder.data.windows import series_windows

    x, _ = series_windows(data, "all")
    idx = np.arange(BIG) % len(x)
    return np.ascontiguousarray(x[:1]), np.ascontiguousarray(x[idx])


def median_seconds(fn: Callable[[], Any], calls: int, warmup: int = 10) -> float:
    """Median seconds of `calls` calls of fn after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def keras_side(preset: str, calls: int, batch_calls: int) -> dict[str, Any]:
    set_tf_threads()
    import tensorflow as tf

    from builder.model.build import build_model
    from builder.tasks import get_task
    from builder.training.artifacts import export_saved_model

    spec, data = prepared(preset, steps=(BIG // BATCH) + 2)
    task = get_task(spec.task)
    resolved = task.resolve(data)
    model = build_model(spec, resolved)
    model.get_layer("standardize").set_statistics(data.x_scaler.offset_, data.x_scaler.scale_)
    raw = task.raw_output(model, resolved)
    x1, xb = inputs(data)
    with tempfile.TemporaryDirectory(prefix="rnn-studio-bench-") as tmp:
        t0 = time.perf_counter()
        export_saved_model(raw, Path(tmp) / "saved_model", data.lookback, len(data.inputs))
        export_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        loaded = tf.saved_model.load(str(Path(tmp) / "saved_model"))
        load_s = time.perf_counter() - t0
        t1, tb = tf.constant(x1), tf.constant(xb)
        diff = float(np.max(np.abs(loaded.serve(tb).numpy() - raw(xb, training=False).numpy())))
        warm1, warmb = min(10, calls), min(2, batch_calls)
        out = {
            "saved_1": median_seconds(lambda: loaded.serve(t1).numpy(), calls, warm1),
            "keras_1": median_seconds(lambda: raw(x1, training=False).numpy(), min(calls, EAGER_CALLS), 2),
            "saved_b": median_seconds(lambda: loaded.serve(tb).numpy(), batch_calls, warmb),
            "keras_call_b": median_seconds(lambda: raw(xb, training=False).numpy(), batch_calls, warmb),
            "keras_predict_b": median_seconds(lambda: raw.predict(xb, batch_size=BIG, verbose=0), batch_calls,
                                              warmb),
            "export_s": export_s, "load_s": load_s, "max_abs_diff": diff, "params": int(raw.count_params()),
        }
    return out


def torch_side(preset: str, calls: int, batch_calls: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(THREADS)
    spec, data = prepared(preset, steps=(BIG // BATCH) + 2)
    twin = torch_twin(spec, len(data.inputs), len(data.targets)).eval()
    xm, xs = (torch.tensor(np.where(v == 0, 1, v) if i else v, dtype=torch.float32)
              for i, v in enumerate((data.x_scaler.offset_, data.x_scaler.scale_)))
    ym, ys = (torch.tensor(np.where(v == 0, 1, v) if i else v, dtype=torch.float32)
              for i, v in enumerate((data.y_scaler.offset_, data.y_scaler.scale_)))

    def raw(x: Any) -> Any:
        return twin((x - xm) / xs) * ys + ym

    x1, xb = (torch.from_numpy(a) for a in inputs(data))
    with torch.inference_mode():
        return {"torch_1": median_seconds(lambda: raw(x1).numpy(), calls, min(10, calls)),
                "torch_b": median_seconds(lambda: raw(xb).numpy(), batch_calls, min(2, batch_calls)),
                "params": int(sum(p.numel() for p in twin.parameters()))}


def run(quick: bool = False, preset: str = PRESET, log: Any = None) -> list[dict[str, Any]]:
    calls, batch_calls = sizes(quick)
    args = ["--preset", preset, "--calls", str(calls), "--batch-calls", str(batch_calls)]
    k = call_worker("bench.predict_latency", ["--worker", "keras", *args])
    t = None
    if torch_available():  # OpenMP's default spinning and PASSIVE wait policy; the faster figure counts
        runs = [call_worker("bench.predict_latency", ["--worker", "torch", *args], env_extra=extra)
                for extra in ({}, {"OMP_WAIT_POLICY": "PASSIVE"})]
        t = {"torch_1": min(r["torch_1"] for r in runs), "torch_b": min(r["torch_b"] for r in runs),
             "params": runs[0]["params"]}
    if log:
        log(f"  predict: {k}" + (f"; torch {t}" if t else ""))
    ms = 1000.0
    na = "n/a"
    note1 = f"{preset}, median of {calls} calls, .numpy() included"
    noteb = f"{preset}, {BIG} windows per call, median of {batch_calls} calls"
    rows = [
        {"figure": "predict 1 window: SavedModel serve vs Keras model(x)", "ours": k["saved_1"] * ms,
         "reference": k["keras_1"] * ms, "unit": "ms",
         "note": f"{note1} (Keras eager: median of {min(calls, EAGER_CALLS)}); max abs(serve - keras) "
                 f"{k['max_abs_diff']:.1e}"},
        {"figure": "predict 1 window: SavedModel serve vs PyTorch twin", "ours": k["saved_1"] * ms,
         "reference": t["torch_1"] * ms if t else na, "unit": "ms",
         "note": note1 + (f"; params {k['params']:,} vs {t['params']:,}" if t else "; torch not importable")},
        {"figure": f"predict batch {BIG}: SavedModel serve vs Keras model.predict", "ours": BIG / k["saved_b"],
         "reference": BIG / k["keras_predict_b"], "unit": "samples/s", "note": noteb},
        {"figure": f"predict batch {BIG}: SavedModel serve vs Keras model(x)", "ours": BIG / k["saved_b"],
         "reference": BIG / k["keras_call_b"], "unit": "samples/s", "note": noteb},
        {"figure": f"predict batch {BIG}: SavedModel serve vs PyTorch twin", "ours": BIG / k["saved_b"],
         "reference": BIG / t["torch_b"] if t else na, "unit": "samples/s", "note": noteb},
        {"figure": "export + load SavedModel (seconds)", "ours": k["export_s"], "reference": k["load_s"],
         "ratio": None, "unit": "s", "note": "ours = export_saved_model, reference column = tf.saved_model.load"},
    ]
    for r in rows:
        if "ratio" not in r:
            r["ratio"] = r["ours"] / r["reference"] if isinstance(r["reference"], float) else None
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", choices=["keras", "torch"])
    p.add_argument("--preset", default=PRESET)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--batch-calls", type=int, default=15)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.worker == "keras":
        emit(keras_side(args.preset, args.calls, args.batch_calls))
    elif args.worker == "torch":
        emit(torch_side(args.preset, args.calls, args.batch_calls))
    else:
        from bench.run import print_table

        print_table(run(args.quick, args.preset, log=lambda m: print(m, file=sys.stderr, flush=True)))


if __name__ == "__main__":
    main()
