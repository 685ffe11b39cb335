"""Cost of the ETS and Theta baselines from every test origin: one fit on the training part plus the
fixed-parameter update at each origin (what the tool does), against refitting at every origin
(estimated as origins x one fit's time, measured on the same training rows).

Cases: taylor half-hourly (4032 rows, m = 48) at horizon 1 and 48, and a synthetic half-hourly series
of 17,520 rows (m = 48) at horizon 1; 70/15/15 split as the tool's defaults; test windows as the tool
forms them. Run: `python bench/baseline_origins.py`
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from builder.tasks.forecast_baselines import ets_origin_forecasts, theta_origin_forecasts

TAYLOR = Path("/work/shared/data/forecasting/taylor_england_wales_electricity_halfhourly.csv")


def main() -> None:
    taylor = pd.read_csv(TAYLOR)["demand_mw"].to_numpy(np.float64)
    rng = np.random.default_rng(0)
    t = np.arange(17_520)
    synth = 100 + 0.001 * t + 10 * np.sin(2 * np.pi * t / 48) + 3 * np.sin(2 * np.pi * t / 336) + rng.normal(0, 1, t.size)
    ets_origin_forecasts(taylor[:300], 200, np.array([200]), 2, 12)  # compile
    theta_origin_forecasts(taylor[:300], 200, np.array([200]), 2, 12)
    print(f"{'case':34}{'origins':>8}{'ETS s':>8}{'Theta s':>9}{'1 ETS fit s':>13}{'1 Theta fit s':>15}"
          f"{'refit-all ETS s (est.)':>24}")
    for name, y, h in (("taylor m=48 H=1", taylor, 1), ("taylor m=48 H=48", taylor, 48),
                       ("synthetic 17,520 m=48 H=1", synth, 1)):
        n = len(y)
        n_test = max(round(0.15 * n), h)
        n_val = max(round(0.15 * n), h)
        n_train = n - n_val - n_test
        origins = np.arange(n_train + n_val, n - h + 1)
        t0 = time.perf_counter()
        ets_origin_forecasts(y, n_train, origins, h, 48)
        t_ets = time.perf_counter() - t0
        t0 = time.perf_counter()
        theta_origin_forecasts(y, n_train, origins, h, 48)
        t_theta = time.perf_counter() - t0
        t0 = time.perf_counter()
        ets_origin_forecasts(y, n_train, origins[:1], h, 48)
        fit_ets = time.perf_counter() - t0
        t0 = time.perf_counter()
        theta_origin_forecasts(y, n_train, origins[:1], h, 48)
        fit_theta = time.perf_counter() - t0
        print(f"{name:34}{len(origins):8d}{t_ets:8.1f}{t_theta:9.1f}{fit_ets:13.1f}{fit_theta:15.1f}"
              f"{fit_ets * len(origins):24.0f}", flush=True)


if __name__ == "__main__":
    main()
