"""Fit time of the ETS baseline: statsforecast AutoETS against statsmodels ETSModel, on long series.

Cases: the shared taylor half-hourly electricity series (4032 rows) fitted on its first 70% (the
default training part) with season 48 and with season 336, and a synthetic half-hourly series of
17,520 rows (one year; daily season 48 plus noise) fitted on its first 70%. statsforecast runs its
automatic selection (AutoETS, model "ZZZ", damped allowed, by AICc); statsmodels fits the one model the
issue's reference used (damped additive trend + additive season, maximum likelihood), so its time
is a lower bound for a statsmodels-based selection over several models; "STL+AutoETS" is what the
tool fits for seasons above ETS_MAX_SEASON (24).

Each fit runs in its own process after a warm-up fit on 200 rows (statsforecast compiles on first
use), with a time limit. Run: `python bench/ets_fit_time.py [--limit 300]`
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TAYLOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "forecasting" / "taylor_england_wales_electricity_halfhourly.csv"


def _series() -> dict[str, tuple[np.ndarray, int]]:
    taylor = pd.read_csv(TAYLOR if TAYLOR.exists() else "/work/shared/data/forecasting/"
                         "taylor_england_wales_electricity_halfhourly.csv")["demand_mw"].to_numpy(np.float64)
    rng = np.random.default_rng(0)
    t = np.arange(17_520)
    synth = 100 + 0.001 * t + 10 * np.sin(2 * np.pi * t / 48) + 3 * np.sin(2 * np.pi * t / 336) + rng.normal(0, 1, t.size)
    n70 = int(0.7 * len(taylor))
    return {"taylor m=48": (taylor[:n70], 48), "taylor m=336": (taylor[:n70], 336),
            "synthetic 17,520 rows m=48": (synth[: int(0.7 * synth.size)], 48)}


def fit_statsforecast(y: np.ndarray, m: int) -> tuple[float, str]:
    from statsforecast.models import AutoETS

    t0 = time.perf_counter()
    model = AutoETS(season_length=m).fit(y)
    return time.perf_counter() - t0, str(model.model_["method"])


def fit_stl_ets(y: np.ndarray, m: int) -> tuple[float, str]:
    """What the tool fits for m > ETS_MAX_SEASON: STL + AutoETS without season (statsforecast MSTL)."""
    from statsforecast.models import MSTL, AutoETS

    t0 = time.perf_counter()
    model = MSTL(season_length=m, trend_forecaster=AutoETS(model="ZZN")).fit(y)
    return time.perf_counter() - t0, "STL+" + str(model.trend_forecaster.model_["method"])


def fit_statsmodels(y: np.ndarray, m: int) -> tuple[float, str]:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ETSModel(y, error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=m).fit(disp=False)
    return time.perf_counter() - t0, "ETS(A,Ad,A)"


FITTERS = {"statsforecast AutoETS": fit_statsforecast, "statsforecast STL+AutoETS": fit_stl_ets,
           "statsmodels ETS(A,Ad,A)": fit_statsmodels}


def _one(case: str, fitter: str) -> None:
    """Child process: warm up (compilation), then one timed fit; prints `seconds picked`."""
    y, m = _series()[case]
    FITTERS[fitter](y[:200], 12)
    seconds, picked = FITTERS[fitter](y, m)
    print(f"{seconds:.3f} {picked}")


def main() -> None:
    import subprocess
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=float, default=300, help="seconds per fit before it is reported as '> limit'")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _one(*args.child)
        return
    print(f"{'case':30}{'rows':>7}  " + "  ".join(f"{f:>28}" for f in FITTERS), flush=True)
    for case, (y, _) in _series().items():
        cells = []
        for fitter in FITTERS:  # interleaved: each case runs the three fitters back to back
            try:
                res = subprocess.run([sys.executable, __file__, "--child", case, fitter], capture_output=True,
                                     text=True, timeout=args.limit)
                seconds, picked = res.stdout.split()[-2:] if res.returncode == 0 else ("fail", res.stderr[-60:])
                cells.append(f"{float(seconds):7.1f}s {picked:>19}" if seconds != "fail" else f"{'failed':>28}")
            except subprocess.TimeoutExpired:
                cells.append(f"{'> ' + str(int(args.limit)) + 's':>28}")
        print(f"{case:30}{len(y):7d}  " + "  ".join(f"{c:>28}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
