"""Copies of the shared victoria_electricity_demand_daily.csv with added columns, for bench/forecast_ab.py --dir.

OUT/cal/: + dow_sin, dow_cos = sin/cos(2*pi*weekday/7) of the `time` column (Monday = 0); the pair k rows
on is the pair rotated by 2*pi*k/7, so the lookback's last pair fixes every horizon step's weekday.
OUT/lead/: + WorkDay_lead1..7 = the WorkDay flag of the next 1..7 days (a holiday calendar is known in
advance, so these are known-future inputs: the window's last row carries the forecast days' flags). After
the file's last day (2014-12-31) the real Victorian calendar is used: 2015-01-01 New Year's Day holiday,
01-02 Friday, 01-03/04 weekend, 01-05..07 Monday-Wednesday.

OUT/future/: the file with 7 rows after it (2015-01-01 .. 07: WorkDay from that calendar, Demand and
Temperature empty), the rows `data.known_future: ["WorkDay"]` reads as the known-future values after the data.

Run: .venv/bin/python bench/victoria_columns.py /tmp/b16v   (writes /tmp/b16v/cal/, lead/ and future/)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
SRC = SHARED / "forecasting" / "victoria_electricity_demand_daily.csv"
NAME = SRC.name
#: WorkDay of 2015-01-01 .. 2015-01-07
AFTER = [0, 1, 0, 0, 1, 1, 1]


def main(out: Path) -> None:
    d = pd.read_csv(SRC)
    angle = 2 * np.pi * pd.to_datetime(d["time"]).dt.dayofweek / 7
    cal = d.copy()
    cal["dow_sin"], cal["dow_cos"] = np.sin(angle).round(6), np.cos(angle).round(6)
    flags = list(d["WorkDay"]) + AFTER
    lead = d.copy()
    for k in range(1, 8):
        lead[f"WorkDay_lead{k}"] = flags[k:k + len(d)]
    after = pd.DataFrame({"time": pd.date_range("2015-01-01", periods=len(AFTER), freq="D").strftime("%Y-%m-%d"),
                          "WorkDay": AFTER})
    future = pd.concat([d, after], ignore_index=True)[list(d.columns)]
    for sub, frame in (("cal", cal), ("lead", lead), ("future", future)):
        (out / sub).mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / sub / NAME, index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
