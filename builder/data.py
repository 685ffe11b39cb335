"""CSV -> validated table -> prepared arrays -> splits -> lazy windows.

Two shapes of data:
- wide time series (forecast): a time column and numeric columns, one row per step. Windows are
  `x = values[s : s + lookback]`, `y = targets[s + lookback : s + lookback + horizon]`, produced lazily
  by tf.data from the start indices, never materialised.
- long labelled sequences (classify): sequence id, order, feature columns, label; one row per step.
  Sequences are padded with NaN to a common length; the model masks the padding.

Problems raise `DataError` with a message naming the file, row (1-based line in the file, header = 1)
and column, what was expected and what was found. Scalers are fit on the training part only.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from builder.limits import LimitError, describe
from builder.limits import current as current_limits
from builder.spec import DataSettings, ModelSpec

TIME_NAMES = ("time", "date", "datetime", "timestamp", "ds", "period", "month", "week", "day", "year")
SNIFF_BYTES = 65_536
DEFAULT_FORECAST_LOOKBACK = 24
SCALER_CHUNK = 1_000_000


class DataError(ValueError):
    """Bad input data; the message names the file, row or column, what was expected and what was found."""


# ------------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------------
Source = str | Path | bytes | IO[bytes]


def _read_head(source: Source) -> tuple[bytes, str]:
    """First bytes of the source and a display name."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: file not found")
        if path.is_dir():
            raise DataError(f"{path}: expected a CSV file, found a directory")
        with path.open("rb") as fh:
            return fh.read(SNIFF_BYTES), str(path)
    if isinstance(source, bytes):
        return source[:SNIFF_BYTES], "upload"
    pos = source.tell()
    head = source.read(SNIFF_BYTES)
    source.seek(pos)
    return head, getattr(source, "name", "upload")


def _detect_encoding(head: bytes, name: str) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"\x00" in head:
        raise DataError(f"{name}: expected a text CSV file, found binary content (NUL bytes)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a multi-byte character cut by the sniff window
            bad = sum(1 for b in head if b < 9 or 13 < b < 32)
            if bad > len(head) // 100:
                raise DataError(f"{name}: expected a text CSV file, found binary content") from None
            return "latin-1"
    return "utf-8"


def _sniff_dialect(text: str) -> tuple[str, str, str | None]:
    """(separator, decimal mark, thousands separator) guessed from the first lines."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    sample = "\n".join(lines)
    sep = ","
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ",;\t|"}
        sep = max(counts, key=counts.get) if any(counts.values()) else ","
    decimal, thousands = ".", None
    if sep == ";" and re.search(r"(^|;)\s*\"?-?\d+,\d+\"?\s*(;|$)", sample, flags=re.M):
        decimal, thousands = ",", "."
    elif sep != "," and re.search(r"\d,\d{3}", sample) or sep == "," and re.search(r"\"-?\d{1,3}(,\d{3})+(\.\d+)?\"", sample):
        thousands = ","
    return sep, decimal, thousands


def load_table(source: Source, name: str | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """Read a CSV (path, bytes or binary file object) into a DataFrame of strings and numbers.

    Detects encoding (UTF-8, UTF-8 with BOM, UTF-16, Latin-1), separator (, ; tab |), decimal commas
    and thousands separators. The frame's `attrs["source"]` holds the display name and
    `attrs["notices"]` what was assumed. Raises DataError for empty, binary or malformed files, and for
    files beyond the limits of `builder.limits` (columns are counted from the header before reading;
    rows while reading). `max_rows` reads only the first rows (a preview) instead of refusing more.
    """
    head, default_name = _read_head(source)
    name = name or default_name
    try:
        limits = current_limits()
    except LimitError as err:
        raise DataError(str(err)) from None
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise DataError(f"{name}: the file is empty; expected a header row and data rows")
    encoding = _detect_encoding(head, name)
    head_text = head.decode(encoding, errors="ignore")
    sep, decimal, thousands = _sniff_dialect(head_text)
    notices: list[str] = []
    if encoding == "utf-16":
        notices.append("read as UTF-16 text")
    if encoding == "utf-8-sig":
        notices.append("removed the UTF-8 byte-order mark at the start of the file")
    if encoding == "latin-1":
        notices.append("the file is not valid UTF-8; read as Latin-1")
    if sep != ",":
        notices.append(f"separator detected: {sep!r}")
    if decimal == ",":
        notices.append("decimal commas detected")
    elif thousands:
        notices.append(f"numbers with a thousands separator {thousands!r} read as plain numbers")

    header, complete = _header_fields(head_text, sep)
    if len(header) > limits.max_columns:
        more = "" if complete else "at least "
        raise DataError(
            f"{name}: the header has {more}{len(header)} columns; {describe('max_columns', limits.max_columns)}"
        )
    names = [h.strip() for h in (header if complete else header[:-1])]
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        raise DataError(f"{name}: duplicate column names {dupes}; expected each column name once")

    if isinstance(source, bytes):
        handle: Any = io.BytesIO(source)
    else:
        handle = source
    cap = max_rows if max_rows is not None else limits.max_rows + 1
    try:
        df = pd.read_csv(
            handle, sep=sep, decimal=decimal, thousands=thousands, encoding=encoding,
            skipinitialspace=True, nrows=cap, low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file is empty; expected a header row and data rows") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{name}: {_parser_message(str(err))}") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{name}: text is not valid {encoding} at byte {err.start}") from None
    if df.shape[0] == 0:
        raise DataError(f"{name}: the file has a header ({len(df.columns)} columns) but no data rows")
    if max_rows is None and len(df) > limits.max_rows:
        raise DataError(f"{name}: more than {limits.max_rows:,} rows; {describe('max_rows', limits.max_rows)}")
    if len(df.columns) > limits.max_columns:
        raise DataError(f"{name}: {len(df.columns)} columns; {describe('max_columns', limits.max_columns)}")
    df.columns = [str(c).strip() for c in df.columns]
    dupes = _duplicate_columns(df.columns) if not complete else []
    if dupes:
        raise DataError(f"{name}: duplicate column names {dupes}; expected each column name once")
    _check_field_sizes(df, source, name, limits.max_field_chars)
    if len(df.columns) > 1 and df.iloc[:, -1].isna().any():
        _check_short_rows(source, encoding, sep, len(df.columns), name)
    unnamed = [c for c in df.columns if c.startswith("Unnamed: ") and df[c].isna().all()]
    if unnamed:
        df = df.drop(columns=unnamed)
        notices.append(f"dropped {len(unnamed)} empty unnamed column(s) (trailing separators)")
    df.attrs["source"] = name
    df.attrs["notices"] = notices
    return df


def _header_fields(head_text: str, sep: str) -> tuple[list[str], bool]:
    """The header's fields from the first bytes, and whether the whole header line was among them."""
    first, newline, _ = head_text.lstrip("\ufeff").partition("\n")
    try:
        fields = next(csv.reader([first.rstrip("\r")], delimiter=sep), [])
    except csv.Error:
        fields = first.split(sep)
    return fields, bool(newline)


def _source_size(source: Source) -> int | None:
    if isinstance(source, (str, Path)):
        return Path(source).stat().st_size
    if isinstance(source, bytes):
        return len(source)
    return None


def _check_field_sizes(df: pd.DataFrame, source: Source, name: str, limit: int) -> None:
    """Refuse a cell longer than `limit` characters (only text columns of a file larger than the limit)."""
    size = _source_size(source)
    if size is not None and size <= limit:
        return
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        lengths = s.astype("string").str.len()
        if lengths.max(skipna=True) is not pd.NA and lengths.max(skipna=True) > limit:
            row = int(np.argmax(lengths.fillna(0).to_numpy()))
            raise DataError(
                f"{name}: row {row + 2}, column `{col}` has a field of {int(lengths.iloc[row]):,} characters; "
                f"{describe('max_field_chars', limit)}"
            )


def _check_short_rows(source: Source, encoding: str, sep: str, n_columns: int, name: str) -> None:
    """Rows with fewer fields than the header (pandas would fill them with missing values silently)."""
    if isinstance(source, (str, Path)):
        fh: Any = open(source, encoding=encoding, newline="")  # noqa: SIM115 (closed below)
    elif isinstance(source, bytes):
        fh = io.TextIOWrapper(io.BytesIO(source), encoding=encoding, newline="")
    else:
        pos = source.tell()
        source.seek(0)
        fh = io.TextIOWrapper(io.BytesIO(source.read()), encoding=encoding, newline="")
        source.seek(pos)
    try:
        reader = csv.reader(fh, delimiter=sep, skipinitialspace=True)
        next(reader, None)
        for record in reader:
            if record and any(f.strip() for f in record) and len(record) < n_columns:
                raise DataError(
                    f"{name}: row {reader.line_num} has {len(record)} fields, expected {n_columns} "
                    "like the header (ragged row)"
                )
    except (csv.Error, UnicodeDecodeError):
        return
    finally:
        fh.close()


def _duplicate_columns(columns: pd.Index) -> list[str]:
    """Names that pandas de-duplicated as `name.1`, `name.2` (or that repeat outright)."""
    names = list(columns)
    seen = set(names)
    dupes = [n for n in names if re.fullmatch(r".+\.\d+", n) and n.rsplit(".", 1)[0] in seen]
    return sorted({n.rsplit(".", 1)[0] for n in dupes} | {n for n in names if names.count(n) > 1})


def _parser_message(msg: str) -> str:
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if m:
        exp, line, saw = m.groups()
        return f"row {line} has {saw} fields, expected {exp} like the header (ragged row)"
    return f"could not parse the CSV ({msg.strip().splitlines()[-1]})"


# ------------------------------------------------------------------------------------------------------
# Columns
# ------------------------------------------------------------------------------------------------------
def detect_time_column(df: pd.DataFrame) -> str | None:
    """The column that holds timestamps: a conventional name, else the first text column that parses."""
    for col in df.columns:
        if col.lower() in TIME_NAMES and _parses_as_time(df[col]):
            return col
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]) and _parses_as_time(df[col]):
            return col
    return None


def _parses_as_time(s: pd.Series) -> bool:
    sample = s.dropna().head(200)
    if sample.empty:
        return False
    if pd.api.types.is_numeric_dtype(sample):
        # years as integers (e.g. 1871) count only under a time-like name
        return bool(((sample >= 1000) & (sample <= 2500) & (sample == sample.round())).all())
    parsed = pd.to_datetime(sample.astype(str), errors="coerce", format="mixed", utc=True)
    return parsed.notna().mean() >= 0.9


def numeric_columns(df: pd.DataFrame, exclude: tuple[str | None, ...] = ()) -> list[str]:
    """Columns that are numeric, or text that is numeric for at least half of its non-empty cells.

    (A mostly-numeric text column is kept so that its bad cells are reported by row, not ignored.)
    """
    out = []
    for col in df.columns:
        if col in exclude:
            continue
        s = df[col]
        if s.isna().all():
            continue  # an all-empty column carries nothing (see empty_columns)
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out.append(col)
        else:
            nonnull = s.dropna()
            if len(nonnull) and pd.to_numeric(nonnull, errors="coerce").notna().mean() >= 0.5:
                out.append(col)
    return out


def empty_columns(df: pd.DataFrame) -> list[str]:
    """Columns without a single value."""
    return [c for c in df.columns if df[c].isna().all()]


def to_numeric(df: pd.DataFrame, col: str, source: str, row_offset: int = 0) -> pd.Series:
    """Column as floats; cells that are present but not numbers are an error naming the rows.

    Row numbers are file lines (header = 1); `row_offset` counts the data rows before `df` (chunks).
    """
    if col not in df.columns:
        raise DataError(f"{source}: column `{col}` not found; columns are {list(df.columns)}")
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_float_dtype(s):
        values = s  # already numbers (float32 stays float32: no copy for large files)
    elif pd.api.types.is_numeric_dtype(s):
        values = s.astype("float64")
    else:
        values = pd.to_numeric(s, errors="coerce")
    suspect = values.isna().to_numpy() & s.notna().to_numpy()
    bad = pd.Series(False, index=s.index)
    if suspect.any():  # text cells that did not parse (blank ones are missing values, not errors)
        bad[suspect] = s[suspect].astype(str).str.strip() != ""
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 2 + row_offset).tolist()
        examples = ", ".join(f"row {r}: {str(s.iloc[r - 2 - row_offset])[:30]!r}" for r in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        raise DataError(
            f"{source}: column `{col}` expected numbers, found text in {len(rows)} row(s) ({examples}{more})"
        )
    if not pd.api.types.is_float_dtype(values):
        values = values.astype("float64")
    arr = values.to_numpy()
    finite = np.isfinite(arr) | np.isnan(arr)
    if not finite.all():
        rows = (np.flatnonzero(~finite) + 2 + row_offset).tolist()
        raise DataError(
            f"{source}: column `{col}` has infinite values in row(s) {rows[:5]}; expected finite numbers"
        )
    big = np.abs(arr) > 1e30
    if big.any():
        rows = (np.flatnonzero(big) + 2 + row_offset).tolist()
        raise DataError(f"{source}: column `{col}` has values beyond ±1e30 in row(s) {rows[:5]}")
    return values


def _check_columns(df: pd.DataFrame, cols: list[str], source: str, role: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{source}: {role} column(s) {missing} not found; columns are {list(df.columns)}")


# ------------------------------------------------------------------------------------------------------
# Prepared data
# ------------------------------------------------------------------------------------------------------
@dataclass
class Scaler:
    """Per-column affine scaling learned on the training part: x_scaled = (x - mean) / scale."""

    kind: str
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, kind: str, train: np.ndarray) -> Scaler:
        """Fit on training rows `train` [n, k] (NaN ignored) with scikit-learn."""
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        k = train.shape[1]
        if kind == "none":
            return cls(kind, np.zeros(k), np.ones(k))
        est = StandardScaler() if kind == "standard" else MinMaxScaler()
        for i in range(0, max(len(train), 1), SCALER_CHUNK):  # chunks bound the copies sklearn makes
            est.partial_fit(train[i : i + SCALER_CHUNK])
        if kind == "standard":
            mean, scale = est.mean_, est.scale_
        else:
            mean, scale = est.data_min_, est.data_range_
        scale = np.where((scale == 0) | ~np.isfinite(scale), 1.0, scale)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        return cls(kind, np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        return cls(d["kind"], np.asarray(d["mean"], dtype=np.float64), np.asarray(d["scale"], dtype=np.float64))


@dataclass
class SeriesData:
    """A wide time series ready for windowing.

    values: [T, F] float32 raw inputs (targets first, then covariates); time: [T] timestamps or None.
    Rows [0, n_train) train, [n_train, n_train + n_val) validation, the rest test.
    """

    source: str
    values: np.ndarray
    time: pd.DatetimeIndex | None
    time_col: str | None
    features: list[str]
    targets: list[str]
    lookback: int
    horizon: int
    n_train: int
    n_val: int
    season_length: int
    freq: str | None
    notices: list[str] = field(default_factory=list)
    x_scaler: Scaler | None = None
    y_scaler: Scaler | None = None

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def target_values(self) -> np.ndarray:
        """[T, n_targets] raw target values."""
        return self.values[:, : len(self.targets)]

    def window_range(self, part: str) -> tuple[int, int]:
        """[lo, hi) of the start rows s of one part's windows; a window's targets are rows [s+L, s+L+H).

        A window belongs to the part that holds all of its target rows.
        """
        L, H, T = self.lookback, self.horizon, self.n_rows
        lo, hi = {
            "train": (0, self.n_train),
            "val": (self.n_train, self.n_train + self.n_val),
            "test": (self.n_train + self.n_val, T),
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


@dataclass
class SequenceData:
    """Labelled sequences ready for classification.

    x: [N, L, F] float32 raw values, NaN-padded at the end; y: [N] class indices into `classes`;
    ids: [N] sequence ids; split: [N] strings "train" / "val" / "test".
    """

    source: str
    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    classes: list[str]
    features: list[str]
    lengths: np.ndarray
    split: np.ndarray
    id_col: str = "sequence_id"
    order_col: str | None = None
    label_col: str = "label"
    notices: list[str] = field(default_factory=list)
    x_scaler: Scaler | None = None

    @property
    def lookback(self) -> int:
        return int(self.x.shape[1])


def resolve_series_columns(df: pd.DataFrame, settings: DataSettings) -> tuple[str | None, list[str], list[str]]:
    """(time column, targets, covariates) from the settings, filling the gaps from the data."""
    source = df.attrs.get("source", "data")
    time_col = settings.time_col
    if time_col:
        _check_columns(df, [time_col], source, "time")
    else:
        time_col = detect_time_column(df)
    numeric = numeric_columns(df, exclude=(time_col,))
    targets = list(settings.targets)
    if targets:
        _check_columns(df, targets, source, "target")
    else:
        if not numeric:
            raise DataError(
                f"{source}: expected at least one numeric column to forecast, found none "
                f"(columns: {list(df.columns)[:20]})"
            )
        targets = [numeric[0]]
    if settings.features is None:
        covariates = [c for c in numeric if c not in targets]
    else:
        _check_columns(df, settings.features, source, "feature")
        covariates = [c for c in settings.features if c not in targets and c != time_col]
    return time_col, targets, covariates


def prepare_series(df: pd.DataFrame, spec: ModelSpec) -> SeriesData:
    """Validate a wide time series and split it chronologically; scalers fit on the training rows."""
    settings = spec.data
    source = df.attrs.get("source", "data")
    notices = list(df.attrs.get("notices", []))
    time_col, targets, covariates = resolve_series_columns(df, settings)
    columns = targets + covariates
    ignored = [c for c in empty_columns(df) if c not in columns and c != time_col]
    if ignored:
        notices.append(f"column(s) {ignored} are empty; ignored")
    time, table, freq, read_notices = read_series(df, time_col, columns, settings.missing)
    notices += read_notices
    return series_from_arrays(
        spec, source, table.to_numpy(dtype=np.float32), time, time_col, targets, covariates, freq, notices
    )


def series_from_arrays(
    spec: ModelSpec, source: str, values: np.ndarray, time: pd.DatetimeIndex | None, time_col: str | None,
    targets: list[str], covariates: list[str], freq: str | None, notices: list[str],
) -> SeriesData:
    """Split checked values [T, targets + covariates] float32 in time order and fit the scalers on train."""
    settings = spec.data
    columns = targets + covariates
    lookback = settings.lookback or DEFAULT_FORECAST_LOOKBACK
    horizon = settings.horizon
    T = len(values)
    n_train, n_val = split_sizes(T, settings.val_fraction, settings.test_fraction, horizon)
    if n_train < lookback + horizon:
        need = next(t for t in range(T + 1, 10 * (T + lookback + horizon) + 100)
                    if split_sizes(t, settings.val_fraction, settings.test_fraction, horizon)[0] >= lookback + horizon)
        raise DataError(
            f"{source}: {T} rows are too few for lookback {lookback} + horizon {horizon} with "
            f"val {settings.val_fraction:.0%} and test {settings.test_fraction:.0%}; need at least "
            f"{need} rows (or a shorter lookback / horizon)"
        )
    _check_windows(max(0, T - lookback - horizon + 1) // settings.stride, "windows", source)
    train = values[:n_train]
    constant = [c for j, c in enumerate(columns) if np.nanmin(train[:, j]) == np.nanmax(train[:, j])]
    if constant:
        notices.append(f"column(s) {constant} are constant in the training part; they carry no signal")
    season = settings.season_length or season_from_freq(freq)
    if season >= n_train:
        notices.append(f"season length {season} is not shorter than the training part; using 1")
        season = 1
    data = SeriesData(
        source=source, values=values, time=time, time_col=time_col, features=columns, targets=targets,
        lookback=lookback, horizon=horizon, n_train=n_train, n_val=n_val, season_length=season, freq=freq,
        notices=notices,
    )
    data.x_scaler = Scaler.fit(settings.scaler, train)
    data.y_scaler = Scaler.fit(settings.scaler, train[:, : len(targets)])
    return data


def _check_windows(n: int, what: str, source: str) -> None:
    limit = current_limits().max_windows
    if n > limit:
        raise DataError(f"{source}: {n:,} {what}; {describe('max_windows', limit)} (use a larger stride or fewer rows)")


def read_series(
    df: pd.DataFrame, time_col: str | None, columns: list[str], missing: str,
) -> tuple[pd.DatetimeIndex | None, pd.DataFrame, str | None, list[str]]:
    """Numeric columns in time order with missing values handled.

    Returns (time index or None, table [T, len(columns)] float64, inferred frequency, notices).
    """
    source = df.attrs.get("source", "data")
    notices: list[str] = []
    table = pd.DataFrame({c: to_numeric(df, c, source) for c in columns})
    for c in columns:
        if table[c].isna().all():
            raise DataError(f"{source}: column `{c}` is empty; expected numbers")
    time = None
    freq = None
    if time_col:
        time, table, time_notices = _parse_time(df[time_col], table, source, time_col)
        notices += time_notices
        freq = _infer_freq(time)
    table, miss_notices = _fill_missing(table, missing, source)
    notices += miss_notices
    if time is not None and len(time) != len(table):
        time = time[table.index]
    return time, table.reset_index(drop=True), freq, notices


def split_sizes(n_rows: int, val_fraction: float, test_fraction: float, horizon: int) -> tuple[int, int]:
    """(train rows, validation rows) of a chronological split; the test part is the rest.

    Held-out parts get at least `horizon` rows when their fraction is positive.
    """
    n_test = max(int(round(n_rows * test_fraction)), horizon) if test_fraction > 0 else 0
    n_val = max(int(round(n_rows * val_fraction)), horizon) if val_fraction > 0 else 0
    return n_rows - n_val - n_test, n_val


def _parse_time(raw: pd.Series, table: pd.DataFrame, source: str, col: str) -> tuple[pd.DatetimeIndex, pd.DataFrame, list[str]]:
    notices: list[str] = []
    if pd.api.types.is_numeric_dtype(raw):
        if ((raw >= 1000) & (raw <= 2500)).all():
            parsed = pd.to_datetime(raw.astype("Int64").astype(str), format="%Y", errors="coerce")
        else:
            raise DataError(f"{source}: time column `{col}` holds numbers, expected dates or times")
    else:
        text = raw.astype("string")
        try:
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
            notices.append(f"time column `{col}` mixes time-zone offsets; converted to UTC")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype) or getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
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
    if len(index) > 2:
        deltas = np.diff(index.asi8)
        med = np.median(deltas)
        irregular = int((np.abs(deltas - med) > 0.5 * med).sum()) if med > 0 else 0
        if irregular and _infer_freq(index) is None:
            notices.append(f"the time axis has {irregular} irregular gap(s); steps are treated as equally spaced")
    table = table.copy()
    table.index = range(len(table))
    return index, table, notices


def _infer_freq(time: pd.DatetimeIndex | None) -> str | None:
    if time is None or len(time) < 3:
        return None
    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            offset = pd.infer_freq(time[: min(len(time), 1000)])
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


def _fill_missing(table: pd.DataFrame, policy: str, source: str) -> tuple[pd.DataFrame, list[str]]:
    n_missing = table.isna().sum()
    total = int(n_missing.sum())
    if total == 0:
        return table, []
    where = ", ".join(f"`{c}`: {int(n)}" for c, n in n_missing.items() if n)
    if policy == "refuse":
        first = int(np.flatnonzero(table.isna().any(axis=1).to_numpy())[0]) + 2
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
    return filled, [f"interpolated {total} missing values linearly ({where})"]


def resolve_sequence_columns(df: pd.DataFrame, settings: DataSettings) -> tuple[str, str | None, str, list[str]]:
    """(id column, order column, label column, feature columns) for long-format sequences."""
    source = df.attrs.get("source", "data")
    cols = list(df.columns)
    id_col = settings.id_col or next((c for c in cols if c.lower() in ("sequence_id", "id", "seq_id", "series_id")), None)
    label_col = settings.label_col or next((c for c in cols if c.lower() in ("label", "class", "target", "y")), None)
    if id_col is None or label_col is None:
        raise DataError(
            f"{source}: classification needs a sequence id column and a label column "
            f"(--id-col / --label-col); found columns {cols[:20]}"
        )
    order_col = settings.order_col
    if order_col is None:
        order_col = next((c for c in cols if c.lower() in ("t", "time", "step", "order", "timestep")), None)
    _check_columns(df, [c for c in (id_col, label_col, order_col) if c], source, "id/label/order")
    if settings.features is None:
        features = numeric_columns(df, exclude=(id_col, label_col, order_col))
    else:
        _check_columns(df, settings.features, source, "feature")
        features = list(settings.features)
    if not features:
        raise DataError(f"{source}: expected at least one numeric feature column besides id, order and label, found none")
    return id_col, order_col, label_col, features


def prepare_sequences(
    df: pd.DataFrame, spec: ModelSpec, test_df: pd.DataFrame | None = None, classes: list[str] | None = None,
) -> SequenceData:
    """Group long-format rows into padded sequences and split them by sequence (stratified).

    With `test_df`, its sequences are the test part and the validation part comes from `df`.
    """
    settings = spec.data
    source = df.attrs.get("source", "data")
    id_col, order_col, label_col, features = resolve_sequence_columns(df, settings)
    parts = [(df, None)] if test_df is None else [(df, "trainval"), (test_df, "test")]
    xs, ys, ids, lengths, tags = [], [], [], [], []
    notices = list(df.attrs.get("notices", []))
    for frame, tag in parts:
        f_ids, f_xs, f_labels, miss = group_sequences(frame, id_col, order_col, features, label_col, settings.missing)
        notices += miss
        xs += f_xs
        ys += f_labels
        ids += f_ids
        lengths += [len(x) for x in f_xs]
        tags += [tag] * len(f_xs)
    _check_windows(len(xs), "sequences", source)
    ignored = [c for c in empty_columns(df) if c not in features and c not in (id_col, order_col, label_col)]
    if ignored:
        notices.append(f"column(s) {ignored} are empty; ignored")
    class_list = classes or sorted(set(ys), key=_label_sort_key)
    if len(class_list) < 2:
        raise DataError(f"{source}: label column `{label_col}` has a single class {class_list}; classification needs at least two")
    unknown = sorted({y for y in ys if y not in class_list})
    if unknown:
        raise DataError(f"{source}: labels {unknown[:5]} are not among the model's classes {class_list[:10]}")
    max_len = max(lengths)
    lookback = settings.lookback or max_len
    if max(lengths) > 20 * max(1, min(lengths)):
        notices.append(f"sequence lengths range from {min(lengths)} to {max(lengths)}; short ones are padded and masked")
    x, truncated = pad_sequences(xs, lookback, len(features))
    if truncated:
        notices.append(f"{truncated} sequence(s) longer than lookback {lookback} were cut to their last {lookback} steps")
    y = np.array([class_list.index(v) for v in ys], dtype=np.int64)
    split = _split_sequences(y, np.array(tags, dtype=object), settings, spec.training.seed, source)
    data = SequenceData(
        source=source, x=x, y=y, ids=np.array(ids), classes=class_list, features=features,
        lengths=np.array(lengths), split=split, id_col=id_col, order_col=order_col, label_col=label_col,
        notices=notices,
    )
    train_rows = x[split == "train"].reshape(-1, len(features))
    train_rows = train_rows[~np.isnan(train_rows).all(axis=1)]
    data.x_scaler = Scaler.fit(settings.scaler, train_rows)
    return data


def group_sequences(
    frame: pd.DataFrame, id_col: str, order_col: str | None, features: list[str], label_col: str | None,
    missing: str = "interpolate",
) -> tuple[list[Any], list[np.ndarray], list[str], list[str]]:
    """Long-format rows -> (ids, sequences [len_i, F] float32 raw, labels (empty without label_col), notices).

    Rows are ordered by `order_col` within each sequence (file order when None).
    """
    src = frame.attrs.get("source", "data")
    _check_columns(frame, [id_col, *features] + ([label_col] if label_col else []), src, "sequence")
    num = pd.DataFrame({c: to_numeric(frame, c, src) for c in features})
    num, notices = _fill_missing_sequences(num, frame[id_col], missing, src)
    grouped = pd.DataFrame({"_id": frame[id_col].to_numpy()})
    grouped["_order"] = frame[order_col].to_numpy() if order_col else np.arange(len(frame))
    if label_col:
        labels = frame[label_col]
        unlabelled = labels.isna() | (labels.astype(str).str.strip() == "")
        if unlabelled.any():
            rows = (np.flatnonzero(unlabelled.to_numpy()) + 2).tolist()
            raise DataError(
                f"{src}: label column `{label_col}` is empty in {len(rows)} row(s) (first: {rows[:5]}); "
                "every sequence needs a label"
            )
        grouped["_label"] = labels.astype(str).to_numpy()
    grouped = pd.concat([grouped, num.reset_index(drop=True)], axis=1).sort_values(["_id", "_order"], kind="stable")
    ids, xs, out_labels = [], [], []
    for sid, g in grouped.groupby("_id", sort=False):
        if label_col:
            labs = g["_label"].unique()
            if len(labs) > 1:
                raise DataError(f"{src}: sequence {sid!r} has several labels {list(labs)[:4]}; expected one label per sequence")
            out_labels.append(str(labs[0]))
        xs.append(g[features].to_numpy(dtype=np.float32))
        ids.append(sid)
    return ids, xs, out_labels, notices


def pad_sequences(xs: list[np.ndarray], lookback: int, n_features: int) -> tuple[np.ndarray, int]:
    """Stack sequences into [N, lookback, F], NaN-padded at the end; longer ones keep their last steps.

    Returns (array, number of sequences that were cut).
    """
    x = np.full((len(xs), lookback, n_features), np.nan, dtype=np.float32)
    truncated = 0
    for i, seq in enumerate(xs):
        if len(seq) > lookback:
            seq = seq[-lookback:]
            truncated += 1
        x[i, : len(seq)] = seq
    return x, truncated


def _label_sort_key(v: str) -> tuple[int, float | str]:
    try:
        return (0, float(v))
    except ValueError:
        return (1, v)


def _fill_missing_sequences(num: pd.DataFrame, ids: pd.Series, policy: str, source: str) -> tuple[pd.DataFrame, list[str]]:
    total = int(num.isna().sum().sum())
    if total == 0:
        return num, []
    if policy == "refuse":
        first = int(np.flatnonzero(num.isna().any(axis=1).to_numpy())[0]) + 2
        raise DataError(f"{source}: {total} missing values (first in row {first}); the missing-value policy is `refuse`")
    grouped = num.groupby(ids.to_numpy(), sort=False)
    if policy == "ffill":
        out = grouped.ffill().fillna(grouped.bfill())
    else:
        out = grouped.transform(lambda s: s.interpolate(limit_direction="both"))
    out = out.fillna(0.0)
    return out, [f"filled {total} missing values within their sequences ({'forward-fill' if policy == 'ffill' else 'interpolation'})"]


def _split_sequences(y: np.ndarray, tags: np.ndarray, settings: DataSettings, seed: int, source: str) -> np.ndarray:
    """Stratified split by sequence into train / val / test (test fixed when a test file was given)."""
    from sklearn.model_selection import train_test_split

    split = np.full(len(y), "train", dtype=object)
    idx = np.arange(len(y))
    pool = idx[tags != "test"]
    split[tags == "test"] = "test"
    test_frac = 0.0 if (tags == "test").any() else settings.test_fraction
    val_frac = settings.val_fraction

    def _take(candidates: np.ndarray, frac: float) -> np.ndarray:
        n = int(round(len(candidates) * frac))
        if n == 0 or frac == 0:
            return np.zeros(0, dtype=int)
        counts = np.bincount(y[candidates])
        strat = y[candidates] if counts[counts > 0].min() >= 2 and n >= (counts > 0).sum() else None
        _, taken = train_test_split(candidates, test_size=n, stratify=strat, random_state=seed)
        return taken

    test_idx = _take(pool, test_frac)
    split[test_idx] = "test"
    rest = np.setdiff1d(pool, test_idx)
    val_idx = _take(rest, val_frac / max(1e-9, 1 - test_frac))
    split[val_idx] = "val"
    if (split == "train").sum() == 0:
        raise DataError(f"{source}: {len(y)} sequences are too few to split into train / val / test")
    return split


# ------------------------------------------------------------------------------------------------------
# Windows
# ------------------------------------------------------------------------------------------------------
class _WindowBatches:
    """Callable generator of window batches for tf.data: numpy slices of the [T, F] array, no copies held.

    Each call is one epoch: a fresh permutation of the part's window starts when shuffling (seeded by
    the seed and the epoch count, so runs repeat), in order otherwise. Yields x [B, L, F] raw float32,
    and unless `inputs_only`, y [B, H, n_targets] scaled float32.
    """

    def __init__(self, data: SeriesData, part: str, batch_size: int, shuffle: bool, seed: int, stride: int,
                 inputs_only: bool = False) -> None:
        lo, hi = data.window_range(part)
        self.data, self.lo, self.n = data, lo, max(0, (hi - lo + stride - 1) // stride) if hi > lo else 0
        self.stride, self.batch_size, self.shuffle, self.seed = stride, batch_size, shuffle, seed
        self.inputs_only = inputs_only
        self.epoch = 0
        self.offs_x = np.arange(data.lookback)
        self.offs_y = np.arange(data.lookback, data.lookback + data.horizon)
        self.y_mean = data.y_scaler.mean.astype(np.float32)
        self.y_scale = data.y_scaler.scale.astype(np.float32)

    def __call__(self) -> Any:
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            dtype = np.int32 if self.n < 2**31 else np.int64
            order = rng.permutation(np.arange(self.n, dtype=dtype))
        else:
            order = None
        self.epoch += 1
        values, k = self.data.values, len(self.data.targets)
        for i in range(0, self.n, self.batch_size):
            idx = order[i : i + self.batch_size] if order is not None else np.arange(i, min(i + self.batch_size, self.n))
            starts = self.lo + idx.astype(np.int64) * self.stride
            x = values[starts[:, None] + self.offs_x]
            if self.inputs_only:
                yield x
                continue
            y = (values[starts[:, None] + self.offs_y, :k] - self.y_mean) / self.y_scale
            yield x, y


#: batches a pipeline prepares ahead of the step that consumes them
PREFETCH_BATCHES = 2


def finish_pipeline(ds: Any) -> Any:
    """``ds`` prefetching :data:`PREFETCH_BATCHES` batches, with tf.data's autotuning off.

    Why not ``prefetch(AUTOTUNE)``: Keras makes a new iterator over the training data every epoch
    (and over the validation data at every evaluation), and with autotuning on, replacing an
    iterator stalled the whole process, both cores idle, for 0.4-0.6 s in about one epoch in three
    (a 2-layer LSTM on 50 batches of 64: 380-590 ms between ``on_epoch_begin`` and the first batch,
    against 1-3 ms with autotuning off). Our pipelines have nothing to tune: one generator or
    in-memory slices, batched, and a fixed prefetch overlaps them with the training step.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def series_dataset(
    data: SeriesData, part: str, batch_size: int, shuffle: bool = False, seed: int = 0, stride: int = 1,
    inputs_only: bool = False,
) -> Any:
    """tf.data pipeline of (x [B, L, F] raw, y [B, H, n_targets] scaled) windows, made lazily.

    Nothing is materialised: each batch slices its windows from the [T, F] array as it is needed
    (`x = values[s : s + L]`, `y = values[s + L : s + L + H, :n_targets]`), and shuffling permutes
    window numbers once per epoch. With `inputs_only`, batches are x alone (for prediction).
    """
    import tensorflow as tf

    L, H, F, k = data.lookback, data.horizon, len(data.features), len(data.targets)
    x_spec = tf.TensorSpec((None, L, F), tf.float32)
    signature: Any = x_spec if inputs_only else (x_spec, tf.TensorSpec((None, H, k), tf.float32))
    gen = _WindowBatches(data, part, batch_size, shuffle, seed, stride, inputs_only)
    ds = tf.data.Dataset.from_generator(gen, output_signature=signature)
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-gen.n // batch_size)))  # Keras knows the steps
    return finish_pipeline(ds)


def series_targets(data: SeriesData, part: str) -> np.ndarray:
    """Raw targets of one part's windows, y [N, H, n_targets] (small: no input windows)."""
    starts = data.window_starts(part)
    return data.target_values[starts[:, None] + np.arange(data.lookback, data.lookback + data.horizon)]


def series_windows(data: SeriesData, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Materialised (x [N, L, F], y [N, H, n_targets]) raw windows of one part: the plain-slicing reference
    for tests and benchmarks on small data (training and evaluation stream through `series_dataset`)."""
    starts = data.window_starts(part)
    L, H = data.lookback, data.horizon
    x = data.values[starts[:, None] + np.arange(L)]
    y = data.target_values[starts[:, None] + np.arange(L, L + H)]
    return x, y


def sequence_dataset(data: SequenceData, part: str, batch_size: int, shuffle: bool = False, seed: int = 0) -> Any:
    """tf.data pipeline of (x [B, L, F] raw NaN-padded, y [B] class index) for one part."""
    import tensorflow as tf

    mask = data.split == part
    ds = tf.data.Dataset.from_tensor_slices((data.x[mask], data.y[mask]))
    if shuffle:
        ds = ds.shuffle(int(mask.sum()), seed=seed, reshuffle_each_iteration=True)
    return finish_pipeline(ds.batch(batch_size))


def load_and_prepare(
    path: Source, spec: ModelSpec, test_path: Source | None = None, name: str | None = None,
) -> SeriesData | SequenceData:
    """Read the CSV(s) and prepare them for the spec's task."""
    if spec.task == "forecast" and test_path is None and name is None:
        from builder.stream import read_series_file, should_stream

        if should_stream(path):
            return read_series_file(path, spec)
    df = load_table(path, name=name)
    if spec.task == "forecast":
        if test_path is not None:
            test_df = load_table(test_path)
            return prepare_series_with_test(df, test_df, spec)
        return prepare_series(df, spec)
    test_df = load_table(test_path) if test_path is not None else None
    return prepare_sequences(df, spec, test_df)


def prepare_series_with_test(df: pd.DataFrame, test_df: pd.DataFrame, spec: ModelSpec) -> SeriesData:
    """Forecast with a separate test file: the test file's rows follow the training file's rows.

    The training file is split into train / validation only; test windows have their targets in the
    test file (their inputs may reach back into the training file, as they would in production).
    """
    settings = spec.data
    source = df.attrs.get("source", "data")
    time_col, targets, covariates = resolve_series_columns(df, settings)
    _check_columns(test_df, targets + covariates + ([time_col] if time_col else []), test_df.attrs.get("source", "test"), "test")
    combined = pd.concat([df, test_df[df.columns.intersection(test_df.columns)]], ignore_index=True)
    combined.attrs["source"] = source
    combined.attrs["notices"] = list(df.attrs.get("notices", []))
    n_test_rows = len(test_df)
    frac_test = n_test_rows / len(combined)
    sub = spec.updated(data={
        "time_col": time_col, "targets": targets, "features": covariates,
        "test_fraction": min(0.89 - settings.val_fraction, frac_test),
        "val_fraction": settings.val_fraction * (1 - frac_test),
    })
    data = prepare_series(combined, sub)
    # put the boundary exactly at the start of the test file
    data.n_train = data.n_rows - n_test_rows - data.n_val
    if data.n_train < data.lookback + data.horizon:
        raise DataError(f"{source}: too few rows before the test file for lookback {data.lookback} + horizon {data.horizon}")
    data.x_scaler = Scaler.fit(settings.scaler, data.values[: data.n_train])
    data.y_scaler = Scaler.fit(settings.scaler, data.values[: data.n_train, : len(targets)])
    data.notices.append(f"test part: the {n_test_rows} rows of the test file")
    return data
