"""A/B of how the conformal intervals are calibrated, on finished forecast runs (no training).

For each run directory (forecast runs trained with defaults, e.g. by bench/forecast_table.py), the
run's model predicts the validation and test windows again, and the 80% / 95% test coverage and mean
width are computed for three calibrations (builder.tasks.forecast_intervals):
- split: the validation windows' absolute residuals, fixed for the whole test part (the tool's method
  before the rolling one);
- expanding: at each test origin, the validation residuals plus every test residual already observed
  there (a test window's step-h residual is known h + 1 rows after its origin);
- sliding: the same, but only the most recent n residuals, n = the number of validation windows.
Every forecast uses only actuals observed before its origin. Coverage counts the (window, step,
target) cells whose radius is defined (enough residuals for the level); "defined" is their share.

Run: .venv/bin/python bench/interval_rolling.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import sys

import numpy as np

LEVELS = (80, 95)


def main(run_dirs: list[str]) -> None:
    from interval_ab import load_forecast_run  # bench/ is the script's folder, first on sys.path

    from builder.data.windows import series_dataset, series_targets
    from builder.tasks.forecast_intervals import adaptive_radii, conformal_radius

    print("| run | H | val windows | test windows | method | cov 80 | cov 95 | defined 95 | width 80 | width 95 |")
    print("|" + "---|" * 10, flush=True)
    for d in run_dirs:
        run, data, model = load_forecast_run(d)
        res = {}
        for part in ("val", "test"):
            pred = np.asarray(model.predict(series_dataset(data, part, 1024, inputs_only=True), verbose=0), np.float64)
            res[part] = np.abs(series_targets(data, part).astype(np.float64) - pred)
        starts = data.window_starts("test")
        n_val = len(res["val"])
        for method in ("split", "expanding", "sliding", "sliding+aci 0.01", "sliding+aci 0.05"):
            cells = []
            for level in LEVELS:
                if method == "split":
                    radius = np.broadcast_to(conformal_radius(res["val"], level)[None], res["test"].shape)
                else:  # expanding / sliding: ACI with step 0 is the plain quantile of the pool
                    gamma = float(method.split()[-1]) if "aci" in method else 0.0
                    radius, _ = adaptive_radii(res["val"], res["test"], starts, level,
                                               None if method == "expanding" else n_val, gamma)
                ok = np.isfinite(radius)
                if not ok.any():
                    cells.append((None, 0.0, None))
                    continue
                cells.append((float((res["test"][ok] <= radius[ok]).mean()), float(ok.mean()), float(2 * radius[ok].mean())))
            c = ["–" if v is None else f"{v:.1%}" for v, _, _ in cells]
            w = ["–" if v is None else f"{v:.4g}" for _, _, v in cells]
            print(f"| {run.path.name} | {data.horizon} | {n_val} | {len(starts)} | {method} | {c[0]} | {c[1]} "
                  f"| {cells[1][1]:.0%} | {w[0]} | {w[1]} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
