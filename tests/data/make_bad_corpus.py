"""The bad-input corpus: one small file per case in tests/data/bad/, and the expected outcome of each.

    python tests/data/make_bad_corpus.py          # (re)writes tests/data/bad/

Files over 1 MB (the several-megabyte field) are not committed: `write_case(name, folder)` makes them at
test time. `CASES` is the table the CLI and the Data page tests run over:
    name -> (file name, extra CLI args, task, outcome, fragment)
outcome "error": exit status 2 / st.error containing `fragment`; "notice": exit 0 / a notice containing it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad"
N = 60  # rows of a good series: enough for lookback 4 + horizon 1 and the default splits
BIG_FIELD_BYTES = 3_000_000


@dataclass(frozen=True)
class Case:
    file: str
    outcome: str  # "error" | "notice"
    fragment: str
    task: str = "forecast"
    args: tuple[str, ...] = ()
    generated: bool = False  # over 1 MB: written at test time, not committed
    settings: dict = field(default_factory=dict)  # spec.data overrides for the UI (mirrors `args`)


def _dates(n: int, start: int = 0) -> list[str]:
    import datetime as dt

    d0 = dt.date(2020, 1, 1)
    return [(d0 + dt.timedelta(days=start + i)).isoformat() for i in range(n)]


def _y(i: int) -> float:
    return round(10 + 0.1 * i + 3 * math.sin(2 * math.pi * i / 7), 3)


def _series(n: int = N, sep: str = ",", fmt=lambda v: f"{v}") -> str:
    rows = [f"time{sep}y{sep}x"]
    rows += [f"{t}{sep}{fmt(_y(i))}{sep}{fmt(round(math.cos(i), 3))}" for i, t in enumerate(_dates(n))]
    return "\n".join(rows) + "\n"


def _lines(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _sequences(lengths: list[int], labels: list[str]) -> bytes:
    rows = []
    for sid, (n, lab) in enumerate(zip(lengths, labels, strict=True)):
        rows += [f"{sid},{t},{math.sin(0.3 * t * (1 + sid % 3)):.4f},{lab}" for t in range(n)]
    return _lines("sequence_id,t,a,label", rows)


def content(name: str) -> bytes:
    """The bytes of one case's file."""
    good = [f"{t},{_y(i)},{round(math.cos(i), 3)}" for i, t in enumerate(_dates(N))]
    if name == "empty":
        return b""
    if name == "header_only":
        return b"time,y,x\n"
    if name == "binary":
        return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    if name == "utf8_bom":
        return b"\xef\xbb\xbf" + _series().encode()
    if name == "utf16":
        return _series().encode("utf-16")
    if name == "semicolon_decimal_comma":
        return _series(sep=";", fmt=lambda v: f"{v:.3f}".replace(".", ",")).encode()
    if name == "thousands_quoted":
        rows = [f'{t},"{1000 * _y(i):,.2f}",{round(math.cos(i), 3)}' for i, t in enumerate(_dates(N))]
        return _lines("time,y,x", rows)
    if name == "mixed_encoding":  # UTF-8 with one Latin-1 byte (ö as 0xF6) on line 42
        rows = [f"{r},{'Zürich' if i % 2 else 'Köln'}" for i, r in enumerate(good)]
        return _lines("time,y,x,place", rows).replace(f"{rows[40]}\n".encode(), f"{rows[40]}\n".encode("latin-1"))
    if name in ("late_decimal_comma", "ambiguous_comma"):  # whole numbers until line 52, then 12,5 / 12,345
        digits = 1 if name == "late_decimal_comma" else 3
        rows = [f"{t};{int(_y(i)) if i < 51 else f'{_y(i):.{digits}f}'.replace('.', ',')};{i % 7}"
                for i, t in enumerate(_dates(N))]
        return _lines("time;y;x", rows)
    if name == "non_numeric":
        rows = list(good)
        rows[3] = rows[3].replace(f",{_y(3)},", ",n/a?,")
        rows[10] = rows[10].replace(f",{_y(10)},", ",twelve,")
        return _lines("time,y,x", rows)
    if name == "all_empty_column":
        return _lines("time,y,x,empty", [r + "," for r in good])
    if name in ("missing_values", "missing_refused", "missing_ffill", "missing_drop"):
        rows = list(good)
        for k in (5, 6, 20):
            rows[k] = rows[k].replace(f",{_y(k)},", ",,")
        return _lines("time,y,x", rows)
    if name == "constant_column":
        return _lines("time,y,x,c", [r + ",7" for r in good])
    if name == "inf_values":
        rows = list(good)
        rows[7] = rows[7].replace(f",{_y(7)},", ",inf,")
        return _lines("time,y,x", rows)
    if name == "huge_values":
        rows = list(good)
        rows[9] = rows[9].replace(f",{_y(9)},", ",1e300,")
        return _lines("time,y,x", rows)
    if name == "duplicate_timestamps":
        rows = list(good)
        rows[12] = rows[11].split(",")[0] + "," + ",".join(rows[12].split(",")[1:])
        return _lines("time,y,x", rows)
    if name == "unsorted_time":
        rows = list(good)
        rows[10], rows[30] = rows[30], rows[10]
        return _lines("time,y,x", rows)
    if name == "mixed_timezones":
        import datetime as dt

        # hourly instants written in local time around a daylight-saving change (+01:00, then +02:00)
        rows = []
        for i in range(N):
            off = 1 if i < N // 2 else 2
            local = dt.datetime(2020, 3, 28) + dt.timedelta(hours=i + off)
            rows.append(f"{local.isoformat()}+0{off}:00,{_y(i)}")
        return _lines("time,y", rows)
    if name == "irregular_gaps":
        import datetime as dt

        d, rows = dt.date(2020, 1, 1), []
        for i in range(N):
            d += dt.timedelta(days=1 + (i % 5 == 0) * (i % 3))
            rows.append(f"{d.isoformat()},{_y(i)}")
        return _lines("time,y", rows)
    if name == "ragged_long":
        rows = list(good)
        rows[4] = rows[4] + ",1,2"
        return _lines("time,y,x", rows)
    if name == "ragged_short":
        rows = list(good)
        rows[6] = rows[6].rsplit(",", 1)[0]
        return _lines("time,y,x", rows)
    if name == "duplicate_columns":
        return _lines("time,y,y", [r for r in good])
    if name == "wide_10000_columns":
        header = "time," + ",".join(f"c{k}" for k in range(10_000))
        rows = [f"{t}," + ",".join("1" for _ in range(10_000)) for t in _dates(5)]
        return _lines(header, rows)
    if name == "huge_field":
        rows = list(good)
        rows[2] = rows[2].replace(f",{_y(2)},", ',"' + "9" * 10 + "x" * BIG_FIELD_BYTES + '",')
        return _lines("time,y,x", rows)
    if name == "too_few_rows":
        return _lines("time,y,x", good[:6])
    if name == "single_class":
        return _sequences([10] * 12, ["a"] * 12)
    if name == "unlabelled":
        text = _sequences([10] * 12, ["a", "b"] * 6).decode().splitlines()
        text[25] = text[25].rsplit(",", 1)[0] + ","
        return ("\n".join(text) + "\n").encode()
    if name == "varied_lengths":
        lengths = [3, 200, 5, 180, 4, 150, 6, 190, 3, 160, 4, 170]
        return _sequences(lengths, ["a", "b"] * 6)
    if name == "no_numeric":
        return _lines("time,city", [f"{t},{'Paris' if i % 2 else 'Oslo'}" for i, t in enumerate(_dates(N))])
    raise KeyError(name)


CASES: dict[str, Case] = {
    "empty": Case("empty.csv", "error", "the file is empty"),
    "header_only": Case("header_only.csv", "error", "has a header (3 columns) but no data rows"),
    "binary": Case("binary.csv", "error", "expected a text CSV file, found binary content"),
    "utf8_bom": Case("utf8_bom.csv", "notice", "UTF-8 byte-order mark"),
    "utf16": Case("utf16.csv", "notice", "read as UTF-16 text"),
    "semicolon_decimal_comma": Case("semicolon_decimal_comma.csv", "notice", "decimal commas detected"),
    "thousands_quoted": Case("thousands_quoted.csv", "notice", "thousands separator ','"),
    "mixed_encoding": Case("mixed_encoding.csv", "error", "line 42: byte 0xF6 is not UTF-8, while line 2 has 'ö' written in UTF-8"),
    "late_decimal_comma": Case("late_decimal_comma.csv", "notice", "decimal commas detected"),
    "ambiguous_comma": Case("ambiguous_comma.csv", "notice",
                            "column(s) `y`: numbers such as '18,025' can be read with a decimal comma or a thousands comma"),
    "non_numeric": Case("non_numeric.csv", "error", "column `y` expected numbers, found text in 2 row(s) (row 5: 'n/a?'"),
    "all_empty_column": Case("all_empty_column.csv", "notice", "column(s) ['empty'] are empty; ignored"),
    "missing_values": Case("missing_values.csv", "notice", "interpolated 3 missing values"),
    "missing_refused": Case("missing_refused.csv", "error", "first in row 7); the missing-value policy is `refuse`",
                            args=("--missing", "refuse"), settings={"missing": "refuse"}),
    "missing_ffill": Case("missing_ffill.csv", "notice", "forward-filled 3 missing values",
                          args=("--missing", "ffill"), settings={"missing": "ffill"}),
    "missing_drop": Case("missing_drop.csv", "notice", "dropped 3 rows with missing values",
                         args=("--missing", "drop"), settings={"missing": "drop"}),
    "constant_column": Case("constant_column.csv", "notice", "column(s) ['c'] are constant"),
    "inf_values": Case("inf_values.csv", "error", "column `y` has infinite values in row(s) [9]"),
    "huge_values": Case("huge_values.csv", "error", "column `y` has values beyond ±1e30 in row(s) [11]"),
    "duplicate_timestamps": Case("duplicate_timestamps.csv", "error", "2 rows with duplicate timestamps"),
    "unsorted_time": Case("unsorted_time.csv", "notice", "rows were not in time order; sorted by `time`"),
    "mixed_timezones": Case("mixed_timezones.csv", "notice", "mixes time-zone offsets; converted to UTC"),
    "irregular_gaps": Case("irregular_gaps.csv", "notice", "irregular gap(s)"),
    "ragged_long": Case("ragged_long.csv", "error", "row 6 has 5 fields, expected 3"),
    "ragged_short": Case("ragged_short.csv", "error", "row 8 has 2 fields, expected 3"),
    "duplicate_columns": Case("duplicate_columns.csv", "error", "duplicate column names ['y']"),
    "wide_10000_columns": Case("wide_10000_columns.csv", "error", "the header has 10001 columns; the limit is 2,000 (RNN_STUDIO_MAX_COLUMNS)"),
    "huge_field": Case("huge_field.csv", "error", "row 4, column `y` has a field of 3,000,010 characters; the limit is 1,000,000",
                       generated=True),
    "too_few_rows": Case("too_few_rows.csv", "error", "6 rows are too few for lookback 4 + horizon 1 with val 15% and test 15%; need at least 7 rows"),
    "single_class": Case("single_class.csv", "error", "has a single class ['a']", task="classify"),
    "unlabelled": Case("unlabelled.csv", "error", "label column `label` is empty in 1 row(s) (first: rows [26])",
                       task="classify"),
    "varied_lengths": Case("varied_lengths.csv", "notice", "sequence lengths range from 3 to 200", task="classify"),
    "no_numeric": Case("no_numeric.csv", "error", "expected at least one numeric column to forecast, found none"),
}


def write_case(name: str, folder: Path) -> Path:
    """Write one case's file into `folder`; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CASES[name].file
    path.write_bytes(content(name))
    return path


def case_path(name: str, tmp: Path) -> Path:
    """The committed file, or (for a generated case) a fresh copy under `tmp`."""
    return write_case(name, tmp) if CASES[name].generated else BAD / CASES[name].file


def main() -> int:
    for name, case in CASES.items():
        if not case.generated:
            path = write_case(name, BAD)
            assert path.stat().st_size < 1_000_000, path
    print(f"wrote {sum(not c.generated for c in CASES.values())} files to {BAD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
