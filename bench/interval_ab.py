"""A/B of the split-conformal interval's residual scale, on finished runs (no training).

For each run directory given (forecast runs trained with defaults, e.g. by bench/forecast_table.py),
the run's model predicts the validation and test windows again, and the 80% / 95% test coverage is
computed for three residual scales: absolute residuals (what the tool does), residuals divided by the
window's level (mean |y| over the lookback) and residuals divided by the window's volatility (mean
|y_t - y_t-1| over the lookback). Prints coverage and mean width per run and scale.

Run: .venv/bin/python bench/interval_ab.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import json
import sys

import numpy as np


def load_forecast_run(run_dir: str) -> tuple:
    """A finished forecast run's (Run, SeriesData prepared as the run prepared it, served raw model)."""
    from builder.serving.export import load_run_model
    from builder.spec import ModelSpec
    from builder.tasks.registry import get_task
    from builder.training.runs import Run

    run = Run(run_dir)
    meta, job = run.metadata(), run.read_json("job.json") or {}
    spec = ModelSpec.from_dict(run.read_json("spec.json"))
    data = get_task("forecast").prepare(job.get("data") or meta["resolved"]["source"], spec)
    return run, data, load_run_model(run)


def main(run_dirs: list[str]) -> None:
    from builder.data.windows import series_dataset, series_targets
    from builder.tasks.forecast_intervals import conformal_radius

    print(f"{'run':44}{'scale':>12}{'cov 80':>8}{'cov 95':>8}{'width 80':>10}{'width 95':>10}")
    for d in run_dirs:
        run, data, model = load_forecast_run(d)
        out = {}
        for part in ("val", "test"):
            pred = np.asarray(model.predict(series_dataset(data, part, 1024, inputs_only=True), verbose=0), np.float64)
            y = series_targets(data, part).astype(np.float64)
            starts = data.window_starts(part)
            win = data.target_values[starts[:, None] + np.arange(data.lookback)].astype(np.float64)  # [N, L, K]
            floor = 1e-6 * (np.abs(data.target_values[: data.n_train]).mean(axis=0) + 1e-12)
            scales = {"absolute": np.ones((len(starts), 1, win.shape[2])),
                      "level": np.maximum(np.abs(win).mean(axis=1), floor)[:, None, :],
                      "volatility": np.maximum(np.abs(np.diff(win, axis=1)).mean(axis=1), floor)[:, None, :]}
            out[part] = (y, pred, scales)
        (yv, pv, sv), (yt, pt, st) = out["val"], out["test"]
        for name in ("absolute", "level", "volatility"):
            cells = []
            for level in (80, 95):
                r = conformal_radius(np.abs(yv - pv) / sv[name], level)
                if not np.isfinite(r).all():
                    cells.append((None, None))
                    continue
                half = r[None] * st[name]
                cells.append((float((np.abs(yt - pt) <= half).mean()), float(2 * half.mean())))
            fmt = [("–" if c is None else f"{c:.1%}") for c, _ in cells] + [("–" if w is None else f"{w:.4g}") for _, w in cells]
            print(f"{run.path.name[:43]:44}{name:>12}{fmt[0]:>8}{fmt[1]:>8}{fmt[2]:>10}{fmt[3]:>10}", flush=True)
        print(json.dumps({"run": run.path.name}), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
