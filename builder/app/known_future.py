"""Forecasting after the data with known-future covariates (a run with `data.known_future`; the Export
page): the table of the steps ahead whose known-future values the model reads (`lead_steps` of them: the
horizon and at least one season), for the user to fill in, pre-filled from rows after the data's last
target value where the file has them; and the data with those steps appended as `ForecastTask.predict`
reads them (targets empty). No streamlit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from builder.data.read import DataError

#: the step column of the future table when the run has no time column
STEP = "step"


def known_future_of(resolved: dict[str, Any]) -> list[str]:
    """The run's known-future columns (its `resolved` record's), [] for every other run."""
    return [str(c) for c in resolved.get("known_future") or []]


def future_steps(resolved: dict[str, Any]) -> int:
    """How many steps ahead a known-future run reads the known-future values of (`lead_steps`; runs
    recorded before it: the horizon)."""
    return int(resolved.get("lead_steps") or resolved["horizon"])


def history_part(df: pd.DataFrame, resolved: dict[str, Any]) -> pd.DataFrame:
    """`df` up to its last row with a target value (trailing rows of future values dropped); attrs kept."""
    from builder.data.series import trailing_future_rows

    targets = [c for c in resolved.get("targets") or [] if c in df.columns]
    return trailing_future_rows(df, targets, [])[0] if targets else df


def future_rows(df: pd.DataFrame, resolved: dict[str, Any]) -> pd.DataFrame:
    """The steps after `df`'s last target value: `future_steps` rows of the time (at the run's frequency,
    as `predict` labels its forecast; without a time column, the step number after the data's rows) and one
    column per known-future column, holding the file's values of the rows after the last target value
    where it has them, else NaN (to fill in). Raises DataError when the time column cannot be read."""
    from builder.data.series import read_series
    from builder.tasks.forecast import future_times

    known, steps = known_future_of(resolved), future_steps(resolved)
    time_col = resolved.get("time_col")
    time_col = time_col if time_col and time_col in df.columns else None
    head = history_part(df, resolved)
    if time_col:
        targets = [c for c in resolved.get("targets") or [] if c in head.columns]
        if not len(head) or not targets:
            raise DataError(f"{df.attrs.get('source', 'data')}: no row with a value of the targets "
                            f"{list(resolved.get('targets') or [])}; expected the data the forecast starts after")
        time, _, _, _ = read_series(head, time_col, targets[:1], "interpolate")
        when: list[Any] = list(future_times(time[-1], resolved.get("freq"), time, steps))
    else:
        when = list(range(len(head) + 1, len(head) + steps + 1))
    out = pd.DataFrame({time_col or STEP: when})
    tail = df.iloc[len(head): len(head) + steps]
    for c in known:
        values = np.full(steps, np.nan)
        if c in tail.columns and len(tail):
            values[: len(tail)] = pd.to_numeric(tail[c], errors="coerce").to_numpy(np.float64)
        out[c] = values
    return out


def with_future_rows(df: pd.DataFrame, resolved: dict[str, Any], future: pd.DataFrame) -> pd.DataFrame:
    """`df` up to its last target value, then the steps ahead: `future` (the `future_rows` table, its
    known-future values edited) as rows of `df`'s columns, with the time written as `df` writes it, the
    known-future values from `future` and every other column (the targets too) empty. `predict` then reads
    the known-future values of these rows; an empty one is its DataError naming the column and step."""
    known = known_future_of(resolved)
    missing = [c for c in known if c not in future.columns]
    if missing:
        raise DataError(f"the forecast steps' table lacks the known-future column(s) {missing}; "
                        f"expected one column per column of {known}")
    head = history_part(df, resolved)
    steps = future_rows(df, resolved)  # the times come from the data, not from the edited table
    n = len(steps)
    rows = pd.DataFrame({c: pd.Series([np.nan] * n, dtype="float64") for c in df.columns})
    time_col = resolved.get("time_col")
    if time_col and time_col in df.columns:
        rows[time_col] = _as_written(steps[time_col], head[time_col])
    for c in known:
        rows[c] = pd.to_numeric(future[c].reset_index(drop=True), errors="coerce").to_numpy(np.float64)[:n]
    out = pd.concat([head.reset_index(drop=True), rows], ignore_index=True)
    out.attrs = dict(df.attrs)
    return out


def _as_written(times: pd.Series, like: pd.Series) -> pd.Series:
    """Future timestamps in the form of the data's time column `like`: years as numbers, text as ISO text
    (dates alone when no time has a time of day), datetimes as they are."""
    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    if pd.api.types.is_datetime64_any_dtype(like):
        return pd.Series(stamps)
    if pd.api.types.is_numeric_dtype(like):
        return pd.Series(stamps.year, dtype="int64")
    dates_only = bool((stamps == stamps.normalize()).all())
    return pd.Series(stamps.strftime("%Y-%m-%d" if dates_only else "%Y-%m-%d %H:%M:%S"), dtype=object)
