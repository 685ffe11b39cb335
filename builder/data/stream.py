"""Large time-series CSVs read in chunks into one float32 array, with bounded memory.

`load_table` reads a whole file into a DataFrame, which holds every number as float64 and every
timestamp as text: about 3x the float32 array for a wide numeric file. Above `STREAM_BYTES` (64 MiB,
$RNN_STUDIO_STREAM_BYTES) a forecast's file is read here instead: the first rows go through
`load_table` (dialect, columns, time column, all the usual checks), then the file is parsed in chunks of
`CHUNK_ROWS` rows straight into a preallocated [T, k] float32 array and an int64 time array, with the
same per-cell validation (`to_numeric`, row numbers counted from the file's first line).
Peak memory: the float32 array, the time array and one chunk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from builder.data.columns import resolve_series_columns, to_numeric
from builder.data.read import (
    DataError,
    NumberEvidence,
    file_encoding,
    head_evidence,
    load_table,
    number_evidence,
    number_notices,
    number_reading,
    parse_numbers,
    read_head,
    sniff_dialect,
)
from builder.data.series import (
    SeriesData,
    clock_notice,
    fill_observed,
    fill_time_gaps,
    future_rows_notice,
    local_times,
    numeric_times,
    offsets_of,
    pick_time_format,
    series_from_arrays,
    settle_offsets,
)
from builder.limits import current as current_limits
from builder.limits import describe
from builder.spec import ModelSpec

STREAM_BYTES = int(os.environ.get("RNN_STUDIO_STREAM_BYTES", 64 * 2**20))
CHUNK_ROWS = 1_000_000
HEAD_ROWS = 2_000


def should_stream(path: str | Path) -> bool:
    """True for a file on disk larger than STREAM_BYTES."""
    try:
        return Path(path).stat().st_size > STREAM_BYTES
    except (OSError, TypeError):
        return False


def count_data_rows(path: str | Path) -> int:
    """Number of lines after the header (a final line without newline counts; blank last line does not)."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(16 * 2**20):
            n += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        n += 1
    return n - 1


def read_series_file(path: str | Path, spec: ModelSpec, lookback: int) -> SeriesData:
    """Prepare a large wide time-series CSV for forecasting, chunk by chunk (see module docstring)."""
    path = Path(path)
    source = str(path)
    head = load_table(path, max_rows=HEAD_ROWS)
    time_col, targets, covariates = resolve_series_columns(head, spec.data)
    columns = targets + covariates
    raw_head, _ = read_head(path)
    encoding = head.attrs.get("encoding") or file_encoding(path, source)  # the whole file's, as load_table read it
    head_text = raw_head.decode(encoding, errors="ignore")
    sep, decimal = sniff_dialect(head_text)
    numbers = _NumberColumns(sep, head_evidence(head_text, sep))
    n = count_data_rows(path)
    limit = current_limits().max_rows
    if n > limit:
        raise DataError(f"{source}: {n:,} rows; {describe('max_rows', limit)}")
    values = np.empty((n, len(columns)), dtype=np.float32)
    stamps = np.empty(n, dtype="datetime64[ns]") if time_col else None
    usecols = ([time_col] if time_col else []) + columns
    time_format = _time_format(head[time_col]) if time_col else None
    row, local, offsets = None, None, set()
    if decimal == "." and encoding.replace("-", "").lower() in ("utf8", "utf8sig", "ascii") \
            and (time_col is None or (time_format is not None and "%z" not in time_format)):
        row = _read_arrow(path, sep, usecols, columns, time_col, time_format, values, stamps)
    if row is None:  # pyarrow could not take the file as it is: pandas reads it and names any bad cell
        row, local, offsets = _read_pandas(path, sep, decimal, encoding, usecols, columns, time_col,
                                           time_format, values, stamps, n, numbers)
        if numbers.unsettled():  # a column read one way in some chunks, another way (or as numbers) in others
            numbers = numbers.from_whole_columns(path, encoding, [c for c in columns if c in numbers.unsettled()])
            row, local, offsets = _read_pandas(path, sep, decimal, encoding, usecols, columns, time_col,
                                               time_format, values, stamps, n, numbers)
    values = values[:row]
    head_notes = set(head.attrs.get("number_notices", []))  # what the head's rows alone said; all rows say:
    notices = [n for n in head.attrs.get("notices", []) if n not in head_notes]
    notices += [n for n in number_notices(numbers.settled, sep) if n not in notices]
    notices.append(f"large file ({row:,} rows) read in chunks of {CHUNK_ROWS:,} rows")
    notices += clock_notice(head, time_col, columns)
    if time_col and pd.api.types.is_numeric_dtype(head[time_col]):
        notices += numeric_times(head[time_col], source, time_col)[1]
    if stamps is not None:  # in time order first: the rows after the data are the latest ones
        stamps = stamps[:row]
        if offsets:  # UTC offsets: the in-memory reader's rule, on the whole column
            times, more = settle_offsets(pd.Series(stamps), pd.Series(local[:row]), offsets, time_col)
            if times.isna().any():
                first = int(np.flatnonzero(times.isna().to_numpy())[0]) + 2
                raise DataError(f"{source}: time column `{time_col}` expected dates, found an unreadable one in row {first}")
            stamps = times.to_numpy(dtype="datetime64[ns]")
            notices += more
        order_ok = bool(np.all(stamps[1:] > stamps[:-1]))
        if not order_ok:
            order = np.argsort(stamps, kind="stable")
            stamps, values = stamps[order], values[order]
            dup = np.flatnonzero(stamps[1:] == stamps[:-1])
            if len(dup):
                raise DataError(f"{source}: time column `{time_col}` has duplicate timestamps (first: {stamps[dup[0]]}); expected one row per step")
            notices.append(f"rows were not in time order; sorted by `{time_col}`")
    # rows after the last target value are the future, not missing targets (as builder.data.series.prepare_series)
    has_target = ~np.isnan(values[:, : len(targets)]).all(axis=1)
    last = int(np.flatnonzero(has_target)[-1]) + 1 if has_target.any() else row
    future = None
    if last < row:
        known = [columns.index(c) for c in spec.data.known_future]
        after = values[last:, known]
        gaps = np.flatnonzero(np.isnan(after).any(axis=1))
        future = after[: gaps[0] if len(gaps) else len(after)].copy()
        notices.append(future_rows_notice(row - last, len(future), list(spec.data.known_future)))
        values, row = values[:last], last
        if stamps is not None:
            stamps = stamps[:last]
    time = None
    freq = None
    if stamps is not None:
        time = pd.DatetimeIndex(stamps)
        frame = pd.DataFrame(values, columns=columns, copy=False)
        time, frame, freq, gaps = fill_time_gaps(time, frame, spec.data.missing, source, time_col)
        if gaps:
            notices += gaps
            values = frame.to_numpy(dtype=np.float32)
    observed = None  # which target values the file had (after the inserted time steps), before filling
    if np.isnan(values).any():
        frame, miss, observed = fill_observed(pd.DataFrame(values, columns=columns, copy=False), spec.data.missing, source)
        notices += miss
        observed = observed[:, : len(targets)]
        if len(frame) != len(values) and time is not None:  # policy `drop`: the kept rows
            time = time[frame.index.to_numpy()]
        values = frame.to_numpy(dtype=np.float32)
    return series_from_arrays(spec, source, values, time, time_col, targets, covariates, freq, notices, lookback,
                              future=future, observed=observed)


def _read_arrow(path: Path, sep: str, usecols: list[str], columns: list[str], time_col: str | None,
                time_format: str | None, values: np.ndarray, stamps: np.ndarray | None) -> int | None:
    """Fill `values` (and `stamps`) with pyarrow's multi-threaded CSV reader, block by block; the number
    of rows read, or None when pyarrow refuses a cell (text in a number column, an unreadable date, a
    ragged row): the caller then reads the file with pandas, whose messages name the row and column.
    Every block's numbers go through the same `to_numeric` checks (infinite values and so on)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = str(path)
    types: dict[str, pa.DataType] = {c: pa.float64() for c in columns}
    if time_col:
        types[time_col] = pa.timestamp("ns")
    parsers = [pacsv.ISO8601] + ([time_format] if time_format else [])
    row, n = 0, len(values)
    try:
        reader = pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(use_threads=True, block_size=16 * 2**20),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=usecols,
                                                 timestamp_parsers=parsers, strings_can_be_null=True))
        for batch in reader:
            m = batch.num_rows
            if row + m > n:
                raise DataError(f"{source}: more rows than counted ({row + m} > {n}); is the file being written?")
            frame = pd.DataFrame({c: batch.column(c).to_numpy(zero_copy_only=False) for c in columns}, copy=False)
            for j, col in enumerate(columns):
                values[row : row + m, j] = to_numeric(frame, col, source, row_offset=row).to_numpy()
            if stamps is not None:
                t = batch.column(time_col)
                if t.null_count:
                    return None  # a missing timestamp: pandas names the row
                stamps[row : row + m] = t.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
            row += m
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError, KeyError):
        return None
    return row


def _read_pandas(path: Path, sep: str, decimal: str, encoding: str, usecols: list[str],
                 columns: list[str], time_col: str | None, time_format: str | None, values: np.ndarray,
                 stamps: np.ndarray | None, n: int, numbers: _NumberColumns) -> tuple[int, np.ndarray | None, set[str]]:
    """Fill `values` (and `stamps`) with pandas' chunked C reader; DataError naming row and column.

    (rows read, the times with their UTC offsets dropped or None without offsets, the offsets seen):
    `stamps` then holds UTC times, and `settle_offsets` decides for the whole column. Columns left text
    by their separators go through `numbers` (which records how each chunk was read)."""
    source = str(path)
    row = 0
    local: np.ndarray | None = None
    offsets: set[str] = set()
    numbers.start()
    dtype = {c: str for c in numbers.forced}
    if time_col and time_format:  # 07.12.2014 stays a date; years and Unix times stay numbers
        dtype[time_col] = str
    reader = pd.read_csv(path, sep=sep, decimal=decimal, encoding=encoding, usecols=usecols,
                         chunksize=CHUNK_ROWS, skipinitialspace=True, dtype=dtype or None)
    try:
        for chunk in reader:
            m = len(chunk)
            if row + m > n:
                raise DataError(f"{source}: more rows than counted ({row + m} > {n}); is the file being written?")
            for j, col in enumerate(columns):
                if (read := numbers.chunk(chunk[col])) is not None:
                    chunk[col] = read  # 1,234 / 12,5 past the sniffed lines, as load_table reads them
                values[row : row + m, j] = to_numeric(chunk, col, source, row_offset=row).to_numpy()
            if stamps is not None:
                utc, bare, seen = _parse_chunk_times(chunk[time_col], time_format, source, time_col, row)
                stamps[row : row + m] = utc
                if bare is not None and local is None:
                    local = np.empty_like(stamps)
                    local[:row] = stamps[:row]
                if local is not None:
                    local[row : row + m] = utc if bare is None else bare
                offsets |= seen
            row += m
    except (pd.errors.ParserError, ValueError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{source}: could not parse rows {row + 2}-{row + CHUNK_ROWS + 1} ({str(err).splitlines()[-1]})") from None
    return row, local, offsets


class _NumberColumns:
    """How the chunked reader reads columns left text by their separators (1,234 / 12,5 / 1.234,5), so that
    it reads them as `load_table` does, from all of a column's values: each chunk is read with the evidence
    of the chunks so far (`number_reading`); a column read one way in one chunk and another way (or as plain
    numbers by pandas) in another is `unsettled`, and is then read again with the reading all of its values
    give (`from_whole_columns`, `forced`)."""

    def __init__(self, sep: str, head: NumberEvidence, forced: dict[str, str] | None = None,
                 evidence: dict[str, NumberEvidence] | None = None) -> None:
        self.sep, self.head = sep, head
        self.forced = forced or {}
        self.whole = evidence or {}
        self.start()

    def start(self) -> None:
        """Forget what an earlier pass saw."""
        self.seen: dict[str, NumberEvidence] = dict(self.whole)
        self.used: dict[str, set[str]] = {}

    def chunk(self, s: pd.Series) -> pd.Series | None:
        """The chunk's column as numbers when it is text for its separators; None to leave it to `to_numeric`."""
        col = str(s.name)
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            arr = s.to_numpy(dtype="float64", na_value=np.nan)
            if not np.array_equal(arr, np.round(arr), equal_nan=True):  # 1.234: a decimal point, or thousands dots?
                self.used.setdefault(col, set()).add("plain")
            return None
        evidence = number_evidence(s)
        if evidence is None:
            return None  # text: to_numeric names the rows
        self.seen[col] = self.seen.get(col, NumberEvidence()).merged(evidence)
        reading = self.forced.get(col) or number_reading(self.seen[col], self.sep, self.head)[0]
        if reading is None:
            return None
        self.used.setdefault(col, set()).add(reading)
        return parse_numbers(s, reading)

    def unsettled(self) -> set[str]:
        """Columns whose chunks were not all read the way all of their values say."""
        out = set()
        for col, used in self.used.items():
            if used == {"plain"} or col in self.forced:
                continue
            final = number_reading(self.seen[col], self.sep, self.head)[0]
            if used != {final}:
                out.add(col)
        return out

    @property
    def settled(self) -> dict[str, tuple[str, NumberEvidence, bool]]:
        """column -> (reading, evidence, guessed) of the columns read as numbers here, for `number_notices`."""
        out = {}
        for col, used in self.used.items():
            if used - {"plain"} and col in self.seen:
                reading, guessed = number_reading(self.seen[col], self.sep, self.head)
                if reading is not None:
                    out[col] = (reading, self.seen[col], guessed)
        return out

    def from_whole_columns(self, path: Path, encoding: str, cols: list[str]) -> _NumberColumns:
        """Readings of `cols` from all of their values (read as text, chunk by chunk), to read the file again."""
        evidence: dict[str, NumberEvidence] = {}
        for chunk in pd.read_csv(path, sep=self.sep, encoding=encoding, usecols=cols, dtype=str, chunksize=CHUNK_ROWS,
                                 skipinitialspace=True, keep_default_na=True):
            for col in cols:
                ev = number_evidence(chunk[col])
                if ev is not None:
                    evidence[col] = evidence.get(col, NumberEvidence()).merged(ev)
        forced = {}
        for col, ev in evidence.items():
            reading = number_reading(ev, self.sep, self.head)[0]
            if reading is None:  # load_table leaves such a column text, and its numeric check refuses it
                raise DataError(f"{path}: column `{col}` has numbers with a decimal comma ({ev.comma!r}) and numbers "
                                f"with a decimal point ({ev.point!r}); expected one way of writing numbers")
            forced[col] = reading
        return _NumberColumns(self.sep, self.head, forced, {c: evidence[c] for c in forced})


def _time_format(sample: pd.Series) -> str | None:
    """The strftime format that parses the head's timestamps (one day / month order for all of them), if any."""
    text = sample.dropna().astype(str).str.strip().head(HEAD_ROWS)
    return pick_time_format(text, str(sample.name))[0]  # with %z: chunks read as UTC, then settle_offsets


def _parse_chunk_times(raw: pd.Series, fmt: str | None, source: str, col: str,
                       row_offset: int) -> tuple[np.ndarray, np.ndarray | None, set[str]]:
    """(times, UTC where written with offsets; the same with the offsets dropped, or None; offsets seen)."""
    if pd.api.types.is_numeric_dtype(raw):  # years or Unix times, as the in-memory reader reads them
        return numeric_times(raw, source, col)[0].to_numpy(dtype="datetime64[ns]"), None, set()
    zoned = fmt is None or "%z" in fmt
    parsed = pd.to_datetime(raw, format=fmt or "mixed", errors="coerce", utc=zoned)
    offsets = offsets_of(raw) if zoned else set()
    local = local_times(raw, fmt, col).to_numpy(dtype="datetime64[ns]") if offsets else None
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        rows = (np.flatnonzero(bad) + 2 + row_offset).tolist()
        raise DataError(f"{source}: time column `{col}` expected dates, found {len(rows)} unreadable (first in row {rows[0]}: {raw.iloc[rows[0] - 2 - row_offset]!r})")
    return parsed.to_numpy(dtype="datetime64[ns]"), local, offsets
