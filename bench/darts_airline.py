"""Darts' AirPassengers protocol (examples/04-RNN-examples.ipynb) with our default forecaster.

Train on 1949-01..1959-01 of ../shared/data/forecasting/airline_passengers_monthly.csv (121 months; the
rest is given as the test file, so no choice sees it), forecast 6 months ahead from the origins
1959-01..1960-07 (the first forecast month), and score the 6th step of each forecast (1959-06..1960-12,
19 points) by MAPE. The forecasts come from the trained model in raw units (the served graph), from
windows that end the month before each origin. Beside it, in the same run: the naive and
seasonal-naive forecasts of the same 19 points. Darts' own figures are quoted from the issue (their
LSTM RNNModel: 2.71% at seed 42, median 3.58% over seeds 42, 0, 1, 2, 3, 4, spread 2.6-9.9%); Darts
is not installed here, so they are not re-measured.

Run: .venv/bin/python bench/darts_airline.py [--seeds 42 0 1 2 3 4] [--set '{"training": {...}}']
     [--calendar none|month|year|month+year|onehot+year]
With `--set '{"data": {"known_future": ["year", ...]}}'` the named calendar columns are known-future
inputs (Darts' RNNModel takes its calendar as future covariates): the windows then carry their next
values, continued past the file's end by the same calendar.

--calendar adds columns derived from the time column to the whole frame before the split, so they are
covariate inputs of every window (the default `data.features` takes every other numeric column):
`month` adds month_sin, month_cos = sin/cos(2*pi*(month - 1)/12); `month+year` adds those and the
calendar year as a number (scaled with the other inputs on the training part); `year` adds the year
alone; `onehot+year` adds twelve month indicators (month_01..month_12, Darts' own month encoding) and
the year. The window holds the lookback's calendar only; for the sin/cos pair every future step's
position is a fixed rotation of the last observed step's pair, so the lookback's pairs tell the dense
head the calendar of every horizon step (a year column, being a trend, does not carry past the last
observed step that way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
FILE = SHARED / "forecasting" / "airline_passengers_monthly.csv"
HORIZON = 6
DARTS = {"seed 42": 2.71, "median": 3.58, "spread": (2.6, 9.9)}


def merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for k, v in changes.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def add_calendar(df: pd.DataFrame, calendar: str) -> pd.DataFrame:
    """The frame with calendar columns from its time column appended (after the target)."""
    if calendar == "none":
        return df
    when = pd.to_datetime(df["time"])
    if calendar == "onehot+year":  # Darts' own pair: 12 month indicators and the year
        months = {f"month_{k:02d}": (when.dt.month.to_numpy() == k).astype(np.float64) for k in range(1, 13)}
        return df.assign(**months, year=when.dt.year.astype(np.float64))
    angle = 2.0 * np.pi * (when.dt.month.to_numpy() - 1) / 12.0
    out = df if calendar == "year" else df.assign(month_sin=np.sin(angle), month_cos=np.cos(angle))
    if calendar in ("year", "month+year"):
        out = out.assign(year=when.dt.year.astype(np.float64))
    return out


def split_files(tmp: Path, calendar: str = "none") -> tuple[Path, Path, pd.DataFrame]:
    df = add_calendar(pd.read_csv(FILE), calendar)
    when = pd.to_datetime(df["time"])
    cut = int((when <= "1959-01-01").sum())
    train, test = tmp / "train.csv", tmp / "test.csv"
    df.iloc[:cut].to_csv(train, index=False)
    df.iloc[cut:].to_csv(test, index=False)
    return train, test, df


def origins(df: pd.DataFrame) -> np.ndarray:
    """Row indices of the first forecast month of each forecast: 1959-01 .. 1960-07 (19)."""
    when = pd.to_datetime(df["time"])
    return np.flatnonzero((when >= "1959-01-01") & (when <= "1960-07-01"))


def mape(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(100.0 * np.mean(np.abs(y - yhat) / np.abs(y)))


def run_seed(seed: int, overrides: dict, train: Path, test: Path, df: pd.DataFrame) -> dict:
    import keras

    from builder import ModelSpec, load_preset
    from builder.tasks.registry import TASKS, get_task
    from builder.training.fit import fit

    # the spec `python -m builder train` uses without --preset: the forecast task's default preset
    base = load_preset(TASKS["forecast"].default_preset)
    spec = ModelSpec.from_dict(merge(base.updated(data={"horizon": HORIZON}, training={"seed": seed}).model_dump(), overrides))
    task = get_task("forecast")
    t0 = time.perf_counter()
    data = task.prepare(str(train), spec, str(test))
    result = fit(spec, data)
    L = data.lookback
    inputs = df[list(data.read_columns)].to_numpy(np.float32)  # [T, targets + covariates], the model's input order
    if data.known_future:  # their next values as the model reads them; after the file: the calendar goes on
        from builder.data.series import lead_values

        extra = pd.DataFrame({"time": pd.date_range(pd.to_datetime(df["time"]).iloc[-1], periods=data.lead_steps + 1,
                                                    freq="MS")[1:].strftime("%Y-%m-%d")})
        ahead = add_calendar(extra, "onehot+year" if "month_01" in df.columns else "month+year")
        known = list(data.known_future)
        inputs = np.concatenate([inputs, lead_values(df[known].to_numpy(np.float32),
                                                     ahead[known].to_numpy(np.float32), data.lead_steps)], axis=1)
    values = inputs[:, :1]
    starts = origins(df) - L
    windows = np.stack([inputs[s : s + L] for s in starts])
    pred = np.asarray(result.raw_model.predict(windows, verbose=0))[:, HORIZON - 1, 0]
    secs = time.perf_counter() - t0
    y = values[origins(df) + HORIZON - 1, 0]
    keras.backend.clear_session()
    return {"seed": seed, "mape": mape(y, pred), "seconds": secs, "epochs": len(result.history),
            "best_epoch": result.best_epoch, "lookback": L, "inputs": list(data.inputs)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1, 2, 3, 4])
    p.add_argument("--set", default="{}", help="JSON overrides merged into the default preset's spec")
    p.add_argument("--calendar", choices=["none", "month", "year", "month+year", "onehot+year"], default="none",
                   help="calendar covariates derived from the time column (see the module docstring)")
    args = p.parse_args()
    overrides = json.loads(args.set)
    train, test, df = split_files(Path(tempfile.mkdtemp(prefix="darts-airline-")), args.calendar)
    values = df.iloc[:, 1].to_numpy(np.float64)
    o = origins(df)
    y = values[o + HORIZON - 1]
    naive = values[o - 1]  # last value before the origin
    seasonal = values[o + HORIZON - 1 - 12]  # same month one year before (known at the origin)
    print(f"# Darts AirPassengers protocol, horizon {HORIZON}, {len(o)} points; overrides {json.dumps(overrides)}; "
          f"calendar {args.calendar}")
    print(f"naive MAPE {mape(y, naive):.2f}%   seasonal-naive MAPE {mape(y, seasonal):.2f}%")
    print("| seed | MAPE % (6th step) | epochs | best epoch | lookback | wall s |\n|---|---|---|---|---|---|", flush=True)
    rows = []
    for seed in args.seeds:
        r = run_seed(seed, overrides, train, test, df)
        rows.append(r)
        if len(rows) == 1:
            print(f"(model inputs: {r['inputs']})", flush=True)
        print(f"| {seed} | {r['mape']:.2f} | {r['epochs']} | {r['best_epoch']} | {r['lookback']} | {r['seconds']:.1f} |", flush=True)
    m = [r["mape"] for r in rows]
    print(f"\nours: median {statistics.median(m):.2f}%, spread {min(m):.2f}-{max(m):.2f}%, "
          f"seed 42 {next((r['mape'] for r in rows if r['seed'] == 42), float('nan')):.2f}%, "
          f"wall {statistics.median([r['seconds'] for r in rows]):.1f} s per seed (median)")
    print(f"Darts LSTM (quoted): median {DARTS['median']}%, spread {DARTS['spread'][0]}-{DARTS['spread'][1]}%, "
          f"seed 42 {DARTS['seed 42']}%; ratio of medians ours/Darts {statistics.median(m) / DARTS['median']:.2f}")


if __name__ == "__main__":
    main()
