"""Column roles: which column is time, which are numeric, and the checks that name a missing column.

`resolve_series_columns` and `resolve_sequence_columns` fill what the spec leaves open from the data;
they are the only places where a column's role is decided.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from builder.data.read import DataError
from builder.spec import DataSettings

TIME_NAMES = ("time", "date", "datetime", "timestamp", "ds", "period", "month", "week", "day", "year")


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
        # years as integers (e.g. 1871) and Unix times count only under a time-like name
        return bool(((sample >= 1000) & (sample <= 2500) & (sample == sample.round())).all()) or \
            epoch_unit(sample) is not None
    parsed = pd.to_datetime(sample.astype(str), errors="coerce", format="mixed", utc=True)
    return parsed.notna().mean() >= 0.9


#: Unix times read as timestamps under a time-like name: 2000-01-01 .. 2040-01-01, in seconds or milliseconds
EPOCH_RANGE = (946_684_800, 2_208_988_800)


def epoch_unit(s: pd.Series) -> str | None:
    """"s" or "ms" when the column's numbers are whole Unix times in seconds or milliseconds (2000-2040)."""
    v = s.dropna()
    if v.empty or not pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v) or not (v == v.round()).all():
        return None
    lo, hi = EPOCH_RANGE
    for unit, k in (("s", 1), ("ms", 1000)):
        if ((v >= lo * k) & (v < hi * k)).all():
            return unit
    return None


def clock_columns(df: pd.DataFrame, time_col: str | None) -> list[str]:
    """Numeric columns with a time-like name, or no name (pandas' `Unnamed: 0`: a saved DataFrame index),
    that only count up (0, 1, 2 ... or 0.0, 0.5 ...): a row counter or elapsed time, not a quantity to
    forecast."""
    out = []
    for col in df.columns:
        named = col.lower() in TIME_NAMES + ("t", "step", "index", "timestep", "elapsed")
        if col == time_col or not (named or col.startswith("Unnamed: ")):
            continue
        if counts_up(df[col], 2):
            out.append(col)
    return out


def counts_up(s: pd.Series, min_rows: int) -> bool:
    """Whether `s` is a complete numeric (not boolean) column of at least `min_rows` values, each above the
    one before (0, 1, 2 ... or 0.0, 0.5 ...)."""
    return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and s.notna().all()
                and len(s) >= min_rows and (s.diff().iloc[1:] > 0).all())


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


def row_counters(df: pd.DataFrame) -> list[str]:
    """Numeric columns without a name (pandas' `Unnamed: 0`) or named index / row / row_id / id ... that
    count up over the whole file (0, 1, 2 ...): a saved row number, which as a feature tells the model
    where in the file a sequence is (files sorted by class: its class), not what it measured."""
    named = ("index", "row", "row_id", "rownum", "idx", *SEQUENCE_ID_NAMES)
    out = []
    for col in df.columns:
        if not (col.startswith("Unnamed: ") or col.lower() in named):
            continue
        if counts_up(df[col], 3):
            out.append(col)
    return out


def check_columns(df: pd.DataFrame, cols: list[str], source: str, role: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{source}: {role} column(s) {missing} not found; columns are {list(df.columns)}")


def resolve_series_columns(df: pd.DataFrame, settings: DataSettings) -> tuple[str | None, list[str], list[str]]:
    """(time column, targets, covariates) from the settings, filling the gaps from the data."""
    source = df.attrs.get("source", "data")
    time_col = settings.time_col
    if time_col:
        check_columns(df, [time_col], source, "time")
    else:
        time_col = detect_time_column(df)
    # a counter named like time (time = 0, 1, 2 ...) is the row order, never a default target or covariate
    numeric = numeric_columns(df, exclude=(time_col, *clock_columns(df, time_col)))
    targets = list(settings.targets)
    if targets:
        check_columns(df, targets, source, "target")
    else:
        if not numeric:
            examples = [f"`{c}`: {str(df[c].dropna().iloc[0])[:20]!r}" for c in df.columns
                        if c != time_col and df[c].notna().any()][:3]
            raise DataError(
                f"{source}: expected at least one numeric column to forecast, found none "
                f"(columns: {list(df.columns)[:20]}" + (f"; first values {', '.join(examples)})" if examples else ")")
            )
        targets = [numeric[0]]
    if settings.features is None:
        covariates = [c for c in numeric if c not in targets]
    else:
        check_columns(df, settings.features, source, "feature")
        covariates = [c for c in settings.features if c not in targets and c != time_col]
    known = list(getattr(settings, "known_future", []) or [])
    if known:
        check_columns(df, known, source, "known-future")
        clash = [c for c in known if c in targets or c == time_col]
        if clash:
            raise DataError(f"{source}: data.known_future names {clash}, which "
                            f"{'is' if len(clash) == 1 else 'are'} a target or the time column; expected covariate "
                            "columns whose future values are known (a holiday flag, a planned price)")
        covariates += [c for c in known if c not in covariates]  # a known-future column is an input too
    return time_col, targets, covariates


#: column names (lower case) taken as a long-format sequence's id, label and step order when unnamed
SEQUENCE_ID_NAMES = ("sequence_id", "id", "seq_id", "series_id")
LABEL_NAMES = ("label", "class", "target", "y")
ORDER_NAMES = ("t", "time", "step", "order", "timestep")


def role_column(columns: list[str], names: tuple[str, ...], taken: tuple[str | None, ...] = ()) -> str | None:
    """The column named for a role, by the names' priority (a file with `y` and `label`: `label` is the
    label, not the accelerometer's y axis; before, the first in file order won); None when there is none.
    Columns in `taken` (given another role) are passed over."""
    lower = {c.lower(): c for c in reversed(columns) if c not in taken}
    return next((lower[n] for n in names if n in lower), None)


def sequence_id_column(columns: list[str], id_col: str | None) -> str | None:
    """The sequence id column of a long-format file with columns `columns`: `id_col` when given, else the
    one named like one (sequence_id, id ..., in that priority); None when there is none."""
    return id_col or role_column(columns, SEQUENCE_ID_NAMES)


def resolve_sequence_columns(df: pd.DataFrame, settings: DataSettings) -> tuple[str, str | None, str, list[str]]:
    """(id column, order column, label column, feature columns) for long-format sequences.

    Unnamed roles are found by name (`role_column`); the three roles are three different columns and the
    features named in the spec are none of the id and label columns (DataError). Features left to the data
    are the numeric columns besides those, less row counters (`row_counters`)."""
    source = df.attrs.get("source", "data")
    cols = list(df.columns)
    id_col = sequence_id_column(cols, settings.id_col)
    label_col = settings.label_col or role_column(cols, LABEL_NAMES, taken=(id_col, settings.order_col))
    if id_col is None or label_col is None:
        raise DataError(
            f"{source}: classification needs a sequence id column and a label column "
            f"(--id-col / --label-col); found columns {cols[:20]}"
        )
    order_col = settings.order_col
    if order_col is None:
        order_col = role_column(cols, ORDER_NAMES, taken=(id_col, label_col))
    check_columns(df, [c for c in (id_col, label_col, order_col) if c], source, "id/label/order")
    roles = {"id": id_col, "label": label_col, "order": order_col}
    for a, b in (("id", "label"), ("id", "order"), ("label", "order")):
        if roles[a] is not None and roles[a] == roles[b]:
            raise DataError(f"{source}: column `{roles[a]}` is named as both the {a} column and the {b} column "
                            f"(--{a}-col / --{b}-col); expected a different column for each role")
    if settings.features is None:
        features = [c for c in numeric_columns(df, exclude=(id_col, label_col, order_col))
                    if c not in row_counters(df)]
    else:
        check_columns(df, settings.features, source, "feature")
        features = list(settings.features)
        for role in ("label", "id"):
            if roles[role] in features:
                why = ("the model would read the answer from its input" if role == "label" else
                       "an id names a sequence; as a number the model would tell training sequences apart by it")
                raise DataError(f"{source}: the features (--features / data.features) include the {role} column "
                                f"`{roles[role]}`; {why}. Expected feature columns besides id and label")
    if not features:
        others = [c for c in cols if c not in (id_col, label_col, order_col) and df[c].notna().any()]
        firsts = {c: str(df[c].dropna().iloc[0]).strip()[:20] for c in others}
        shown = "; ".join(f"`{c}`: {v!r}" for c, v in list(firsts.items())[:3])
        comma = any(re.fullmatch(r"[-+]?\d*,\d+", v) for v in firsts.values())
        raise DataError(
            f"{source}: expected at least one numeric feature column besides id, order and label, found none"
            + (f" (first values: {shown})" if shown else " (no other column has values)")
            + ("; numbers with a decimal comma need a separator other than the comma (; or tab)" if comma else "")
        )
    return id_col, order_col, label_col, features


def number_spellings(values: Any) -> list[list[str]]:
    """Groups of distinct ids among `values` (text, stripped) that are one number written several ways
    (`001` and `1`; `1` and `1.0`); [] when there are none."""
    ids = pd.Series(pd.unique(np.asarray(values, dtype=object)), dtype=object)
    num = pd.to_numeric(ids, errors="coerce")
    ids, num = ids[num.notna()], num[num.notna()]
    if len(ids) < 2 or not num.duplicated().any():
        return []
    return [v for v in ids.groupby(num.to_numpy(), sort=False).agg(list) if len(v) > 1]


def spelling_notice(what: str, column: str, alike: list[list[str]], rows: list[int]) -> str:
    """The notice for `number_spellings` groups of the `what` ("sequence", "tree") id column; `rows`: the
    file rows of the first group."""
    shown = "; ".join(" and ".join(repr(i) for i in v[:3]) for v in alike[:3])
    return (f"{what} id column `{column}` writes {len(alike)} number(s) in several ways ({shown}; first: rows "
            f"{rows[:5]}); they are different {what}s (ids are compared as the file writes them)")
