"""Wide time series for forecasting: time axis, missing values, chronological split, scalers.

Rows [0, n_train) train, [n_train, n_train + n_val) validation, the rest test. A window starting at row
s reads inputs `values[s : s + lookback]` and targets `values[s + lookback : s + lookback + horizon]`
and belongs to the part that holds all its target rows. Scalers are fit on the training rows only.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from builder.data.columns import (
    check_columns,
    clock_columns,
    empty_columns,
    epoch_unit,
    numeric_columns,
    resolve_series_columns,
    to_numeric,
)
from builder.data.read import DataError
from builder.data.scaler import Scaler
from builder.limits import current as current_limits
from builder.limits import describe
from builder.spec import ModelSpec


@dataclass(frozen=True)
class SeriesData:
    """A wide time series ready for windowing, fully resolved and never changed after construction.

    values: [T, F] float32 raw inputs, the targets first, then the covariates (`inputs` names the F
    columns in that order); time: [T] timestamps or None. Rows [0, n_train) train,
    [n_train, n_train + n_val) validation, the rest test. The scalers are fit on the training rows:
    `x_scaler` over all F inputs, `y_scaler` over the targets. `missing`: the missing-value policy
    the rows were filled with (new data to predict on is filled the same way).

    `observed`: [T, n_targets] bool, True where the file had the target's value, False where the
    missing-value policy filled it in (an empty cell, or a time step the file skipped that the reader
    inserted); None when every target value was observed. Training reads the filled values as they are
    (inputs and training targets: that is what filling is for); every score leaves out the forecast
    points whose actual was filled in (`observed_windows`).
    """

    source: str
    values: np.ndarray
    time: pd.DatetimeIndex | None
    time_col: str | None
    targets: tuple[str, ...]
    covariates: tuple[str, ...]
    lookback: int
    horizon: int
    n_train: int
    n_val: int
    season_length: int
    freq: str | None
    x_scaler: Scaler
    y_scaler: Scaler
    missing: str
    notices: tuple[str, ...] = ()
    #: covariates whose next `lead_steps` values are inputs too: each has `lead_steps` derived columns
    #: `lead_name(c, j)` at the end of `covariates`, row t holding the value at row t + j
    known_future: tuple[str, ...] = ()
    #: how many future values of each known-future column are inputs (0 without any)
    lead_steps: int = 0
    #: the last rows no window may forecast: their windows' known-future inputs would reach past the
    #: rows whose values are known (the data and any future rows after it)
    lead_tail: int = 0
    #: [T, n_targets] bool: which target values the file had (None: all of them); see the class docstring
    observed: np.ndarray | None = None
    #: the separate test file the test part's rows came from (`prepare_series_with_test`), for messages
    test_source: str | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        """The model's input columns in order: targets, then covariates."""
        return self.targets + self.covariates

    @property
    def read_columns(self) -> tuple[str, ...]:
        """The data's own columns the inputs come from: `inputs` without the derived known-future columns."""
        return self.inputs[: len(self.inputs) - len(self.known_future) * self.lead_steps]

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def target_values(self) -> np.ndarray:
        """[T, n_targets] raw target values."""
        return self.values[:, : len(self.targets)]

    def window_range(self, part: str) -> tuple[int, int]:
        """[lo, hi) of the start rows s of one part's windows; a window's targets are rows [s+L, s+L+H).

        A window belongs to the part that holds all of its target rows; windows whose known-future
        inputs would reach past the known rows (`lead_tail`) are left out.
        """
        L, H, T = self.lookback, self.horizon, self.n_rows - self.lead_tail
        lo, hi = {
            "train": (0, self.n_train),
            "val": (self.n_train, self.n_train + self.n_val),
            "test": (self.n_train + self.n_val, T),
            "train+val": (0, self.n_train + self.n_val),
            "all": (0, T),
        }[part]
        first_target = max(lo, L)
        last_target = hi - H  # start of the last full horizon
        if last_target < first_target:
            return (0, 0)
        return (first_target - L, last_target - L + 1)

    def window_starts(self, part: str) -> np.ndarray:
        """Start rows of one part's windows, as an array (small parts; evaluation)."""
        lo, hi = self.window_range(part)
        return np.arange(lo, hi, dtype=np.int64)

    def observed_windows(self, part: str) -> np.ndarray | None:
        """[N, H, n_targets] bool for one part's windows (`window_starts`): True where the actual of that
        window, horizon step and target was in the file; None when every one was (nothing to leave out)."""
        return self.observed_at(self.window_starts(part))

    def observed_at(self, starts: np.ndarray) -> np.ndarray | None:
        """`observed_windows` for windows starting at rows `starts` [N] (their forecasts are of rows
        start + lookback .. + horizon - 1): [N, H, n_targets] bool, or None when every actual was observed."""
        if self.observed is None:
            return None
        mask = self.observed[np.asarray(starts)[:, None] + np.arange(self.lookback, self.lookback + self.horizon)]
        return None if mask.all() else mask

    def part_source(self, part: str) -> str:
        """The file a part's rows came from: the test file for the test part when there is one."""
        return self.test_source if part == "test" and self.test_source else self.source


def prepare_series(df: pd.DataFrame, spec: ModelSpec, lookback: int, n_test: int | None = None,
                   test_from: pd.Timestamp | None = None) -> SeriesData:
    """Validate a wide time series and split it chronologically; scalers fit on the training rows.

    `lookback` is the resolved input length (the task decides its default); `n_test` fixes the test
    part to the last `n_test` rows (a separate test file) instead of the spec's test fraction;
    `test_from` (with `n_test`) to the rows from that time on, counted after the steps the dates skip
    were inserted.
    """
    settings = spec.data
    source = df.attrs.get("source", "data")
    notices = list(df.attrs.get("notices", []))
    time_col, targets, covariates = resolve_series_columns(df, settings)
    columns = targets + covariates
    ignored = [c for c in empty_columns(df) if c not in columns and c != time_col]
    if ignored:
        notices.append(f"column(s) {ignored} are empty; ignored")
    notices += clock_notice(df, time_col, columns)
    text = [c for c in df.columns if c not in columns and c != time_col and c not in ignored
            and c not in clock_columns(df, time_col) and c not in numeric_columns(df[[c]])]
    if text:
        notices.append(f"column(s) {text[:10]}{' ...' if len(text) > 10 else ''} hold text, not numbers; not used "
                       "(encode a category as numbers to use it)")
    future = None
    if n_test is None:  # rows after the last target value are the future, not missing targets
        n_rows, known = len(df), list(settings.known_future)
        df, future = trailing_future_rows(df, targets, known, time_order(df, time_col))
        if len(df) < n_rows:
            notices.append(future_rows_notice(n_rows - len(df), len(future), known))
    time, table, freq, read_notices, observed = read_series_observed(df, time_col, columns, settings.missing)
    notices += read_notices
    if n_test is not None and test_from is not None and time is not None:
        n_test = int((time >= test_from).sum())
    return series_from_arrays(
        spec, source, table.to_numpy(dtype=np.float32), time, time_col, targets, covariates, freq, notices,
        lookback, n_test, future=future, observed=observed,
    )


def check_observed(data: SeriesData, part: str) -> None:
    """Raise DataError when a target has no observed actual in any of one part's windows: every one of its
    values there was filled in by the missing-value policy, so no score of that part could be computed."""
    more = ("fill in the file's values there, or give a larger data.test_fraction or a --test-data file with "
            "values" if part == "test" else "fill in the file's values there")
    check_observed_at(data, data.window_starts(part), data.part_source(part), f"the {part} part", more)


def check_observed_at(data: SeriesData, starts: np.ndarray, source: str, what: str, more: str) -> None:
    """DataError when a target has no observed actual among the forecasts of the windows starting at rows
    `starts` [N] (`SeriesData.observed_at`); `what` names those forecasts in the message ("the test part"),
    `more` says what would help."""
    mask = data.observed_at(starts)
    if mask is None or mask.size == 0:
        return
    empty = [t for k, t in enumerate(data.targets) if not mask[:, :, k].any()]
    if not empty:
        return
    first, last = int(starts[0]) + data.lookback, int(starts[-1]) + data.lookback + data.horizon - 1
    where = (f"{data.time[first]} to {data.time[last]}" if data.time is not None
             else f"rows {first + 1}-{last + 1} of the series")
    names = ", ".join(f"`{t}`" for t in empty)
    raise DataError(f"{source}: every actual of {names} in {what} ({where}) is missing in the file and was filled in "
                    f"by the missing-value policy `{data.missing}`, so there is nothing to score; at least one observed value "
                    f"of {names} is needed there ({more})")


def clock_notice(df: pd.DataFrame, time_col: str | None, columns: list[str]) -> list[str]:
    """The notice for counters named like time (time = 0, 1, 2 ...) left out of the inputs."""
    clocks = [c for c in clock_columns(df, time_col) if c not in columns]
    return [f"column(s) {clocks} only count up (a row counter or elapsed time, not dates): not forecast and not "
            "an input; rows are taken in file order (name them in --features / data.features to use them)"] if clocks else []


def series_from_arrays(
    spec: ModelSpec, source: str, values: np.ndarray, time: pd.DatetimeIndex | None, time_col: str | None,
    targets: list[str], covariates: list[str], freq: str | None, notices: list[str], lookback: int,
    n_test: int | None = None, lead_steps: int | None = None, future: np.ndarray | None = None,
    observed: np.ndarray | None = None,
) -> SeriesData:
    """Split checked values [T, targets + covariates] float32 in time order and fit the scalers on train.

    `n_test`: the test part is exactly the last `n_test` rows (counted after missing rows were
    handled) and validation takes its fraction of the rest; else both come from the spec's fractions.
    `lead_steps`: how many future values of each known-future column become inputs (default
    `known_future_steps`); `future`: [n, k] their values in the rows after the data, in
    `known_future` order (none: the windows whose inputs would need them are left out). `observed`:
    [T, n_targets] bool, which target values the file had (None: all; see SeriesData.observed).
    """
    settings = spec.data
    horizon = settings.horizon
    known = tuple(settings.known_future)
    T = len(values)
    if n_test is None:
        n_train, n_val = split_sizes(T, settings.val_fraction, settings.test_fraction, horizon)
    else:
        frac = n_test / T
        n_val = split_sizes(T, settings.val_fraction * (1 - frac), min(0.89 - settings.val_fraction, frac), horizon)[1]
        n_train = T - n_test - n_val  # the boundary exactly at the start of the test rows
        if n_train < lookback + horizon:
            raise DataError(f"{source}: too few rows before the test file for lookback {lookback} + horizon {horizon}")
    if n_train < lookback + horizon:
        need = next(t for t in range(T + 1, 10 * (T + lookback + horizon) + 100)
                    if split_sizes(t, settings.val_fraction, settings.test_fraction, horizon)[0] >= lookback + horizon)
        raise DataError(
            f"{source}: {T} rows are too few for lookback {lookback} + horizon {horizon} with "
            f"val {settings.val_fraction:.0%} and test {settings.test_fraction:.0%}; need at least "
            f"{need} rows (or a shorter lookback / horizon)"
        )
    check_window_count(max(0, T - lookback - horizon + 1) // settings.stride, "windows", source)
    season = settings.season_length or season_from_freq(freq)
    if season >= n_train:
        notices.append(f"season length {season} is not shorter than the training part; using 1")
        season = 1
    steps = tail = 0
    if known:
        steps = lead_steps or known_future_steps(horizon, season)
        future = np.zeros((0, len(known)), np.float32) if future is None else np.asarray(future, np.float32)[:steps]
        values, covariates = with_known_future(values, targets, covariates, known, steps, source, future)
        tail = max(0, steps - horizon - len(future))
        notices.append(f"known-future input(s) {list(known)}: each window row also holds their next {steps} "
                       f"value(s) ({'the horizon' if steps == horizon else f'one season of {season}'}), so a "
                       f"forecast after the data needs their values for the {steps} step(s) ahead")
        if tail:
            notices.append(f"the last {tail} window(s) are left out of the test part: their known-future inputs "
                           f"reach {tail} row(s) past the data (add rows after the last target value, targets "
                           f"empty, with {list(known)} filled)")
    else:
        flags = [c for j, c in enumerate(covariates, start=len(targets))
                 if np.isin(values[:, j], (0.0, 1.0)).all() and np.unique(values[:, j]).size == 2]
        if flags:
            notices.append(f"column(s) {flags} hold only 0 and 1 (flags): if their future values are known "
                           "(a holiday calendar, a planned promotion), list them in data.known_future so the "
                           "forecast steps' values are inputs too")
    columns = targets + covariates
    train = values[:n_train]
    constant = [c for j, c in enumerate(columns) if np.nanmin(train[:, j]) == np.nanmax(train[:, j])]
    if constant:
        notices.append(f"column(s) {constant} are constant in the training part; they carry no signal")
    return SeriesData(
        source=source, values=values, time=time, time_col=time_col, targets=tuple(targets),
        covariates=tuple(covariates), lookback=lookback, horizon=horizon, n_train=n_train, n_val=n_val,
        season_length=season, freq=freq, x_scaler=Scaler(settings.scaler).fit(train),
        y_scaler=Scaler(settings.scaler).fit(train[:, : len(targets)]), missing=settings.missing,
        notices=tuple(notices), known_future=known, lead_steps=steps, lead_tail=tail,
        observed=None if observed is None or np.all(observed) else np.asarray(observed, dtype=bool)[:, : len(targets)],
    )


def known_future_steps(horizon: int, season: int) -> int:
    """Future values of each known-future column that become inputs: the horizon, and at least one
    season (measured on victoria at horizon 1: the next 7 days' holiday flags gave MASE 0.700 against
    0.848 with the next day's alone, medians of 3 seeds; bench/RESULTS.md)."""
    return max(horizon, season)


def time_order(df: pd.DataFrame, time_col: str | None) -> np.ndarray | None:
    """The row positions of `df` in time order, or None when the rows are in time order already (or the
    time column does not parse: `read_series` then names the bad cells)."""
    if not time_col or time_col not in df.columns or len(df) < 2:
        return None
    raw = df[time_col]
    try:
        parsed = numeric_times(raw, "", time_col)[0] if pd.api.types.is_numeric_dtype(raw) else parse_times(raw, time_col)[0]
    except (DataError, ValueError, TypeError):
        return None
    if parsed.isna().any():
        return None
    order = np.argsort(parsed.to_numpy(), kind="stable")
    return None if (order == np.arange(len(order))).all() else order


def trailing_future_rows(df: pd.DataFrame, targets: list[str], known: list[str],
                         order: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """(the rows up to the last target value, [n, k] values of the `known` columns in the rows after it).

    The future rows are the trailing rows whose targets are all empty; they are read up to the first
    one with an empty known-future cell. `order`: the rows' positions in time order (`time_order`)
    when the file is not in time order (newest first): the future rows are then the latest ones.
    """
    source = df.attrs.get("source", "data")
    filled = pd.DataFrame({c: to_numeric(df, c, source) for c in targets}).notna().any(axis=1).to_numpy()
    if order is not None:
        ordered = filled[order]
        last = int(np.flatnonzero(ordered)[-1]) + 1 if ordered.any() else 0
        after = np.asarray(order[last:])
        tail = pd.DataFrame({c: to_numeric(df, c, source).iloc[after] for c in known})
        gaps = np.flatnonzero(tail.isna().any(axis=1).to_numpy())
        future = tail.to_numpy(dtype=np.float32)[: gaps[0] if len(gaps) else len(tail)]
        keep = np.ones(len(df), dtype=bool)
        keep[after] = False
        head = df.iloc[np.flatnonzero(keep)].copy()
        head.attrs = dict(df.attrs)
        return head, future
    last = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    tail = pd.DataFrame({c: to_numeric(df.iloc[last:], c, source, row_offset=last) for c in known})
    gaps = np.flatnonzero(tail.isna().any(axis=1).to_numpy())
    future = tail.to_numpy(dtype=np.float32)[: gaps[0] if len(gaps) else len(tail)]
    head = df.iloc[:last].copy()
    head.attrs = dict(df.attrs)
    return head, future


def split_future_rows(df: pd.DataFrame, targets: list[str], known: list[str], steps: int,
                      order: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """`trailing_future_rows`, requiring `steps` of them: ([rows up to the last target value], [steps, k]).

    Raises DataError naming the rows and columns when the file ends with fewer future rows or one of the
    first `steps` has an empty known-future cell. `order`: the rows in time order (`time_order`), when
    the file is not.
    """
    source = df.attrs.get("source", "data")
    head, future = trailing_future_rows(df, targets, known, order)
    n_head, n_future = len(head), len(df) - len(head)
    pos = np.arange(len(df)) if order is None else np.asarray(order)  # rows in time order
    last_line = int(pos[n_head - 1]) + 2 if n_head else 1
    if n_future < steps:
        raise DataError(
            f"{source}: the model reads the next {steps} value(s) of {known} (known-future inputs), so the file "
            f"must end with {steps} row(s) whose targets {targets} are empty and whose {known} hold the values of "
            f"the steps ahead; found {n_future} such row(s) after the last target value (row {last_line})")
    if len(future) < steps:
        r = len(future)
        at = int(pos[n_head + r])
        col = next(c for c in known if pd.isna(to_numeric(df.iloc[[at]], c, source).iloc[0]))
        raise DataError(f"{source}: known-future column `{col}` is empty in row {at + 2} (step "
                        f"{r + 1} ahead); expected its value for each of the {steps} rows after the last target value")
    return head, future[:steps]


def lead_name(column: str, step: int) -> str:
    """The derived input holding `column`'s value `step` rows ahead (a known-future covariate)."""
    return f"{column}@+{step}"


def lead_values(values: np.ndarray, future: np.ndarray, horizon: int) -> np.ndarray:
    """[T, k * horizon] lead columns of k known-future columns: row t, block j-1 holds the value at row t + j
    (`horizon`: the lead steps).

    values: [T, k] the columns over the data's rows; future: [n, k] their values after the last row
    (n >= 0; rows past the end of both repeat the last value known, and `lead_tail` keeps every window
    that would read them out).
    Column order: for each column, steps 1..horizon.
    """
    full = np.concatenate([values, future], axis=0) if len(future) else values
    T, k = values.shape
    if len(full) == 0:
        return np.zeros((0, k * horizon), np.float32)
    idx = np.minimum(np.arange(T)[:, None] + np.arange(1, horizon + 1)[None, :], len(full) - 1)  # [T, H]
    return np.concatenate([full[idx, c] for c in range(k)], axis=1).astype(np.float32)


def append_leads(values: np.ndarray, own: list[str], known: list[str], future: np.ndarray, steps: int) -> np.ndarray:
    """[T, F0 + k * steps]: `values` [T, F0] of the data's own columns `own`, then the lead columns of the
    known-future columns `known` (`future`: [n, k] their values after the rows), as the model reads them."""
    return np.concatenate([values, lead_values(values[:, [own.index(c) for c in known]], future, steps)], axis=1)


def future_rows_notice(n_after: int, n_read: int, known: list[str]) -> str:
    """The notice for `n_after` rows after the last target value, `n_read` of them read as known-future values."""
    return f"the last {n_after} row(s) have no target value: " + (
        f"the first {n_read} read as the known-future values of {known} after the data" if known else
        "ignored (rows after the data; to use their covariates as known-future inputs, set data.known_future)")


def with_known_future(values: np.ndarray, targets: list[str], covariates: list[str], known: tuple[str, ...],
                      horizon: int, source: str, future: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """(values [T, F + k * horizon], covariates + the derived lead columns) for known-future columns `known`
    (`horizon`: the lead steps; `future`: [n, k] their values after the data's rows, if known)."""
    cols = targets + covariates
    missing = [c for c in known if c not in covariates]
    if missing:
        raise DataError(f"{source}: data.known_future names {missing}, expected covariate columns among {covariates}")
    taken = [lead_name(c, j) for c in known for j in range(1, horizon + 1) if lead_name(c, j) in cols]
    if taken:
        raise DataError(f"{source}: column `{taken[0]}` clashes with the name of a known-future input; rename it")
    after = np.zeros((0, len(known)), np.float32) if future is None else future
    leads = lead_values(values[:, [cols.index(c) for c in known]], after, horizon)
    return (np.concatenate([values, leads], axis=1),
            covariates + [lead_name(c, j) for c in known for j in range(1, horizon + 1)])


def check_window_count(n: int, what: str, source: str) -> None:
    limit = current_limits().max_windows
    if n > limit:
        raise DataError(f"{source}: {n:,} {what}; {describe('max_windows', limit)} (use a larger stride or fewer rows)")


def read_series(
    df: pd.DataFrame, time_col: str | None, columns: list[str], missing: str,
) -> tuple[pd.DatetimeIndex | None, pd.DataFrame, str | None, list[str]]:
    """Numeric columns in time order with missing values handled.

    Returns (time index or None, table [T, len(columns)] float64, inferred frequency, notices).
    """
    return read_series_observed(df, time_col, columns, missing)[:4]


def read_series_observed(
    df: pd.DataFrame, time_col: str | None, columns: list[str], missing: str,
) -> tuple[pd.DatetimeIndex | None, pd.DataFrame, str | None, list[str], np.ndarray]:
    """`read_series`, and [T, len(columns)] bool: True where the file had the cell's value, False where the
    missing-value policy filled it in (an empty cell, or a row inserted for a time step the file skips)."""
    source = df.attrs.get("source", "data")
    notices: list[str] = []
    table = pd.DataFrame({c: to_numeric(df, c, source) for c in columns})
    for c in columns:
        if table[c].isna().all():
            raise DataError(f"{source}: column `{c}` is empty; expected numbers")
    time = None
    freq = None
    if missing == "refuse":  # before sorting, so that the message names the row of the file
        fill_missing(table, missing, source)
    if time_col:
        time, table, time_notices = _parse_time(df[time_col], table, source, time_col)
        notices += time_notices
        time, table, freq, gap_notices = fill_time_gaps(time, table, missing, source, time_col)
        notices += gap_notices
    table, miss_notices, observed = fill_observed(table, missing, source)
    notices += miss_notices
    if time is not None and len(time) != len(table):
        time = time[table.index]
    return time, table.reset_index(drop=True), freq, notices, observed


def fill_observed(table: pd.DataFrame, missing: str, source: str) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """`fill_missing`, and [rows kept, columns] bool: True where `table` had the cell's value, False where
    the policy filled it in (with policy `drop`, the kept rows, all True). Both readers use it."""
    filled, notices = fill_missing(table, missing, source)
    observed = table.notna().to_numpy()
    if len(filled) != len(table):  # policy `drop`: the kept rows
        observed = observed[table.index.get_indexer(filled.index)]
    return filled, notices, observed


def split_sizes(n_rows: int, val_fraction: float, test_fraction: float, horizon: int) -> tuple[int, int]:
    """(train rows, validation rows) of a chronological split; the test part is the rest.

    Held-out parts get at least `horizon` rows when their fraction is positive.
    """
    n_test = max(int(round(n_rows * test_fraction)), horizon) if test_fraction > 0 else 0
    n_val = max(int(round(n_rows * val_fraction)), horizon) if val_fraction > 0 else 0
    return n_rows - n_val - n_test, n_val


def numeric_times(raw: pd.Series, source: str, col: str) -> tuple[pd.Series, list[str]]:
    """A numeric time column as datetimes: years (1871) or Unix times in seconds or milliseconds
    (2000-2040, read as UTC, noted); other numbers are an error."""
    if ((raw >= 1000) & (raw <= 2500)).all():
        return pd.to_datetime(raw.astype("Int64").astype(str), format="%Y", errors="coerce"), []
    unit = epoch_unit(raw)
    if unit is None:
        raise DataError(f"{source}: time column `{col}` holds numbers ({raw.iloc[0]!r} ...), expected dates, "
                        "years or Unix times in seconds or milliseconds")
    what = "seconds" if unit == "s" else "milliseconds"
    return (pd.to_datetime(raw, unit=unit, errors="coerce"),
            [f"time column `{col}` holds Unix times; read as {what} since 1970-01-01 UTC"])


def _parse_time(raw: pd.Series, table: pd.DataFrame, source: str, col: str) -> tuple[pd.DatetimeIndex, pd.DataFrame, list[str]]:
    notices: list[str] = []
    if pd.api.types.is_numeric_dtype(raw):
        parsed, number_notices = numeric_times(raw, source, col)
        notices += number_notices
    else:
        parsed, time_notices = parse_times(raw, col)
        notices += time_notices
    bad = parsed.isna()
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()
        examples = ", ".join(f"row {r}: {str(raw.iloc[r - 2])[:30]!r}" for r in rows[:3])
        raise DataError(f"{source}: time column `{col}` expected dates, found {len(rows)} unreadable ({examples})")
    order = np.argsort(parsed.to_numpy(), kind="stable")
    if not (order == np.arange(len(order))).all():
        notices.append(f"rows were not in time order; sorted by `{col}`")
        parsed = parsed.iloc[order]
        table = table.iloc[order]
    dup = parsed.duplicated(keep=False).to_numpy()
    if dup.any():
        positions = np.flatnonzero(dup)
        lines = (table.index.to_numpy()[positions] + 2).tolist()
        raise DataError(
            f"{source}: time column `{col}` has {int(dup.sum())} rows with duplicate timestamps "
            f"(first: {parsed.iloc[positions[0]]} in rows {lines[:4]}); expected one row per step"
        )
    index = pd.DatetimeIndex(parsed.to_numpy())
    table = table.copy()
    table.index = range(len(table))
    return index, table, notices


def time_formats(text: pd.Series) -> list[str]:
    """strftime formats that may fit a time column, from its first value: pandas' guess, and for a date
    whose day and month order is not evident (07/12/2014, 01.02.2014) both orders, day first for dots."""
    values = text.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return []
    first = values.iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        guess = guess_datetime_format(first)
        formats = [guess] if guess else []
        if not first.lstrip().startswith(tuple("0123456789")) or re.match(r"\s*\d{4}", first):
            return formats  # year first (ISO 8601) or a month name: no day / month ambiguity
        swapped = guess_datetime_format(first, dayfirst=True)
    if swapped and swapped not in formats:
        formats.append(swapped)
    if len(formats) == 2 and "." in first:
        formats.reverse()  # 01.02.2014 is day first where dots are written
    return formats


def pick_time_format(text: pd.Series, col: str) -> tuple[str | None, pd.Series, bool, list[str]]:
    """(format, parsed, converted to UTC, notices) for a text time column: the single format of
    `time_formats` that reads every cell; when both day / month orders read every cell, the one that
    keeps the rows in time order, else the one whose steps are regular, else the first, with a notice.
    None when no single format reads the column (then it is parsed with format="mixed").
    """
    present = text.notna() & (text != "")
    fits: list[tuple[str, pd.Series, bool]] = []
    for fmt in time_formats(text):
        parsed, utc = _to_datetime(text, fmt)
        if parsed[present].notna().all():
            fits.append((fmt, parsed, utc))
    if not fits:
        parsed, utc = _to_datetime(text, "mixed")
        return None, parsed, utc, []

    def rank(fit: tuple[str, pd.Series, bool]) -> tuple[bool, bool]:
        times = fit[1].dropna()
        return (not times.is_monotonic_increasing, infer_freq(pd.DatetimeIndex(times)) is None)

    best = min(fits, key=rank)
    notices = []
    if len(fits) > 1 and rank(fits[0]) == rank(fits[1]):
        notices.append(f"time column `{col}`: dates such as {text[present].iloc[0]!r} read as {best[0]} (both day / "
                       "month orders fit every row; write ISO dates, YYYY-MM-DD, to be sure)")
    return best[0], best[1], best[2], notices


def parse_times(raw: pd.Series, col: str) -> tuple[pd.Series, list[str]]:
    """Text timestamps -> naive datetimes (NaT where unreadable) and notices.

    One format for the whole column (`pick_time_format`): pandas' format="mixed" reads each cell on its
    own, so 07/12/2014 would be July 12 while 13/12/2014 is December 13. Times with UTC offsets follow
    `settle_offsets` (the chunked reader of builder.data.stream applies the same rule).
    """
    text = raw.astype("string").str.strip()
    fmt, parsed, _, notices = pick_time_format(text, col)
    if getattr(parsed.dt, "tz", None) is None:
        return parsed, notices
    utc = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    times, more = settle_offsets(utc, local_times(text, fmt, col), offsets_of(text), col)
    return times, notices + more


#: a UTC offset at the end of a timestamp (Z, +01:00, -0500)
_OFFSET = r"\s*(Z|[+-]\d{2}:?\d{2})$"


def offsets_of(text: pd.Series) -> set[str]:
    """The UTC offsets the timestamps `text` are written with, as +HHMM (Z is +0000)."""
    found = text.astype("string").str.strip().str.extract(_OFFSET, expand=False).dropna()
    return {"+0000" if o == "Z" else o.replace(":", "") for o in found.unique()}


def local_times(text: pd.Series, fmt: str | None, col: str) -> pd.Series:
    """The timestamps `text` as naive local times: their UTC offsets dropped (`fmt`: the format that read
    them with the offsets, None for pandas' per-cell reading)."""
    bare = text.astype("string").str.strip().str.replace(_OFFSET, "", regex=True)
    if fmt and "%z" in fmt:
        return _to_datetime(bare, fmt.replace("%z", "").strip())[0]
    return pick_time_format(bare, col)[1]


def settle_offsets(utc: pd.Series, local: pd.Series, offsets: set[str], col: str) -> tuple[pd.Series, list[str]]:
    """(times, notices) of a whole time column written with UTC offsets, from the same timestamps as naive
    UTC times `utc` and as local times `local` (offsets dropped; one index); `offsets`: the offsets seen (+HHMM).

    Converted to UTC (noted), except for dates at local midnight with one offset (daily data: each stays
    on its own calendar day, not the evening before in UTC) and daily steps across daylight saving time
    (mixed offsets whose local times are regular steps and UTC times not), which stay the local times.
    Both readers (`parse_times` and the chunked builder.data.stream) decide here, so they cannot drift.
    """
    if len(offsets) > 1:

        def regular(times: pd.Series) -> bool:
            grid = regular_grid(pd.DatetimeIndex(times.sort_values()))[1]
            return grid is not None and len(grid) == len(times)

        if utc.notna().all() and local.notna().all() and not local.duplicated().any() \
                and regular(local) and not regular(utc):
            return local, [f"time column `{col}` mixes time-zone offsets (daylight saving time); read as local "
                           "times, the offsets dropped, as its steps are regular there"]
        return utc, [f"time column `{col}` mixes time-zone offsets; converted to UTC"]
    offset = next(iter(offsets), "+0000")
    if offset == "+0000":
        return utc, []
    present = local.dropna()
    if len(present) and (present == present.dt.normalize()).all():
        return local, [f"time column `{col}` holds dates at local midnight with the offset {offset}; read as "
                       "those dates (the offset dropped)"]
    return utc, [f"time column `{col}` has the time-zone offset {offset}; times converted to UTC"]


def _to_datetime(text: pd.Series, fmt: str) -> tuple[pd.Series, bool]:
    """(parsed, whether it had to be converted to UTC: mixed offsets)."""
    try:
        return pd.to_datetime(text, errors="coerce", format=fmt), False
    except (ValueError, TypeError):
        return pd.to_datetime(text, errors="coerce", format=fmt, utc=True), True


#: rows per stretch of the time axis whose frequency is inferred on its own (a gap spoils only its stretch)
FREQ_STRETCH = 24


def regular_grid(index: pd.DatetimeIndex) -> tuple[str | None, pd.DatetimeIndex | None]:
    """(frequency, every step from the first timestamp to the last) when all timestamps lie on the grid
    of one frequency (a few steps may be absent); (None, None) for an irregular axis.

    The frequency is the one most stretches of FREQ_STRETCH rows show (pandas' infer_freq), so a gap
    (a missing day, a missing month) does not hide it; the grid may have at most twice the rows.
    """
    if len(index) < 3:
        return infer_freq(index), None
    counts: dict[str, int] = {}
    for lo in range(0, min(len(index), 50 * FREQ_STRETCH), FREQ_STRETCH):
        stretch = index[lo : lo + FREQ_STRETCH]
        freq = infer_freq(stretch) if len(stretch) >= 3 else None
        if freq:
            counts[freq] = counts.get(freq, 0) + 1
    for freq in [infer_freq(index), *sorted(counts, key=counts.get, reverse=True)]:
        if not freq:
            continue
        try:
            grid = pd.date_range(index[0], index[-1], freq=freq)
        except (ValueError, TypeError):
            continue
        if len(index) <= len(grid) <= 2 * len(index) and index.isin(grid).all():
            return freq, grid
    return None, None


def fill_time_gaps(time: pd.DatetimeIndex, table: pd.DataFrame, missing: str, source: str,
                   col: str) -> tuple[pd.DatetimeIndex, pd.DataFrame, str | None, list[str]]:
    """(time, table, frequency, notices) with the steps the time axis skips inserted as rows of missing
    values (then handled by the missing-value policy, as any missing value), so that every row is one
    step; an axis on no regular grid is kept as it is, with a notice. `table`: rows in time order."""
    freq, grid = regular_grid(time)
    if grid is None:
        deltas = np.diff(time.asi8) if len(time) > 2 else np.zeros(0)
        med = np.median(deltas) if len(deltas) else 0
        irregular = int((np.abs(deltas - med) > 0.5 * med).sum()) if med > 0 else 0
        notices = [f"the time axis has {irregular} irregular gap(s); steps are treated as equally spaced"] if irregular else []
        return time, table, freq, notices
    if len(grid) == len(time):
        return time, table, freq, []
    absent = grid[~grid.isin(time)]
    what = f"skips {len(absent)} step(s) of frequency {freq} (first: {absent[0]})"
    if missing == "refuse":
        raise DataError(f"{source}: time column `{col}` {what}; expected one row per step (the missing-value "
                        "policy is `refuse`; choose interpolate, ffill or drop to fill or leave out the steps)")
    filled = table.set_axis(time).reindex(grid).reset_index(drop=True)
    return grid, filled, freq, [f"time column `{col}` {what}; inserted them as rows with missing values"]


def infer_freq(time: pd.DatetimeIndex | None) -> str | None:
    if time is None or len(time) < 3:
        return None
    head = time[: min(len(time), 1000)]
    try:
        try:  # pandas >= 3.1 warns unless asked for an offset; 3.0 has no such option (OptionError)
            with pd.option_context("future.infer_freq_returns_offset", True):
                offset = pd.infer_freq(head)
        except pd.errors.OptionError:
            offset = pd.infer_freq(head)
    except (TypeError, ValueError, KeyError):
        return None
    return None if offset is None else getattr(offset, "freqstr", str(offset))


def season_from_freq(freq: str | None) -> int:
    """Season length for a pandas frequency string: daily 7, weekly 52, monthly 12, quarterly 4 ..."""
    if not freq:
        return 1
    base = re.sub(r"^\d+", "", freq.split("-")[0]).upper()
    mult = re.match(r"^(\d+)", freq)
    n = int(mult.group(1)) if mult else 1
    table = {"D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4,
             "H": 24, "h": 24, "Y": 1, "YS": 1, "YE": 1, "A": 1, "AS": 1}
    if base in ("H",):
        return max(1, 24 // n)
    if base in ("T", "MIN"):
        return max(1, 24 * 60 // n)
    if base == "S":
        return max(1, 60 // n)
    return table.get(base, 1)


def fill_missing(table: pd.DataFrame, policy: str, source: str) -> tuple[pd.DataFrame, list[str]]:
    n_missing = table.isna().sum()
    total = int(n_missing.sum())
    if total == 0:
        return table, []
    where = ", ".join(f"`{c}`: {int(n)}" for c, n in n_missing.items() if n)
    if policy == "refuse":
        first = int(table.index[np.flatnonzero(table.isna().any(axis=1).to_numpy())[0]]) + 2  # index: the data row
        raise DataError(
            f"{source}: {total} missing values ({where}; first in row {first}); "
            "the missing-value policy is `refuse` (choose interpolate, ffill or drop)"
        )
    if policy == "drop":
        kept = table.dropna()
        return kept, [f"dropped {len(table) - len(kept)} rows with missing values ({where})"]
    if policy == "ffill":
        filled = table.ffill().bfill()
        return filled, [f"forward-filled {total} missing values ({where})"]
    filled = table.interpolate(method="linear", limit_direction="both")
    # a 0/1 flag (a work day, a holiday) is never half set: its missing values take the previous value
    flags = [c for c in table.columns if n_missing[c] and table[c].dropna().isin((0.0, 1.0)).all()
             and table[c].dropna().nunique() == 2]
    if not flags:
        return filled, [f"interpolated {total} missing values linearly ({where})"]
    filled[flags] = table[flags].ffill().bfill()
    return filled, [f"interpolated {total} missing values linearly ({where}); the 0/1 flag column(s) {flags} "
                    "take the previous row's value instead"]


def prepare_series_with_test(df: pd.DataFrame, test_df: pd.DataFrame, spec: ModelSpec, lookback: int) -> SeriesData:
    """Forecast with a separate test file: the test file's rows follow the training file's rows.

    The training file is split into train / validation only; test windows have their targets in the
    test file (their inputs may reach back into the training file, as they would in production).
    """
    settings = spec.data
    source = df.attrs.get("source", "data")
    time_col, targets, covariates = resolve_series_columns(df, settings)
    check_columns(test_df, targets + covariates + ([time_col] if time_col else []), test_df.attrs.get("source", "test"), "test")
    notices = list(df.attrs.get("notices", []))
    test_df = test_df[df.columns.intersection(test_df.columns)]
    test_from = None  # the split is where the test file's dates start (rows inserted for skipped dates move no boundary)
    if time_col and pd.api.types.is_numeric_dtype(df[time_col]) and pd.api.types.is_numeric_dtype(test_df[time_col]):
        with contextlib.suppress(DataError):  # not times: the combined column's error names the cells
            test_from = numeric_times(test_df[time_col], source, time_col)[0].min()
    elif time_col:
        # each file's dates in its own format (an ISO training file, a test file of 07/12/2014), then joined
        df, test_df = df.copy(), test_df.copy()
        for frame in (df, test_df):
            raw = frame[time_col]
            parsed, more = (numeric_times(raw, source, time_col) if pd.api.types.is_numeric_dtype(raw)
                            else parse_times(raw, time_col))
            if parsed.notna().all():  # else the combined column is read as it is and its bad cells named
                frame[time_col] = parsed.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
                notices += [n for n in more if n not in notices]
            if frame is test_df:
                test_from = parsed.min()
    combined = pd.concat([df, test_df], ignore_index=True)
    combined.attrs["source"] = source
    combined.attrs["notices"] = notices
    sub = spec.updated(data={"time_col": time_col, "targets": targets, "features": covariates})
    data = prepare_series(combined, sub, lookback, n_test=len(test_df), test_from=test_from)
    n_rows = data.n_rows - data.n_train - data.n_val
    inserted = f" ({n_rows} rows with the steps its dates skip)" if n_rows > len(test_df) else ""
    return replace(data, notices=(*data.notices, f"test part: the {len(test_df)} rows of the test file{inserted}"),
                   test_source=test_df.attrs.get("source", "test"))
