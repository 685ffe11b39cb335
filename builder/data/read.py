"""Reading CSV files: encoding, dialect, header and size checks -> a DataFrame of strings and numbers.

Problems raise `DataError` with a message naming the file, row (1-based line in the file, header = 1)
and column, what was expected and what was found.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from builder.limits import LimitError, describe
from builder.limits import current as current_limits

SNIFF_BYTES = 65_536

class DataError(ValueError):
    """Bad input data; the message names the file, row or column, what was expected and what was found."""


class MixedEncodingError(DataError):
    """A file that is UTF-8 in part only; `where` says where UTF-8 was seen ("line 2 has 'é' written in UTF-8")."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where




Source = str | Path | bytes | IO[bytes]


def read_head(source: Source) -> tuple[bytes, str]:
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


def detect_encoding(head: bytes, name: str) -> str:
    """The encoding the first bytes suggest (byte-order marks, NUL bytes, UTF-8 or Latin-1); the whole file's
    encoding is `file_encoding`'s (a head can be UTF-8 while a later line is not, and the reverse)."""
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


#: bytes of the whole file checked at a time by `file_encoding`
SCAN_BLOCK = 16 * 2**20
#: the bytes Windows-1252 leaves undefined (Python's cp1252 refuses them)
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
#: a byte that is not UTF-8, as `surrogateescape` decodes it (U+DC80-U+DCFF)
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
#: a character of a valid multi-byte UTF-8 sequence
_UTF8_CHAR = re.compile("[^\x00-\x7f\udc80-\udcff]")
#: one that is evidence of a file written as UTF-8: of 3 or 4 bytes, or one that Windows-1252 has (é, ü, Œ:
#: in a UTF-8 file mixed with Latin-1 bytes these are what would turn into mojibake); two bytes of a legacy
#: file rarely make such a character (ß“, 0xDF 0x93, is U+07D3)
_UTF8_EVIDENCE = re.compile("[\u00a0-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                            "\u0800-\udc7f\udd00-\U0010ffff]")


def _blocks(source: Source) -> Any:
    """The source's bytes from its start (a file object: from its position, which is kept), block by block."""
    if isinstance(source, bytes):
        for i in range(0, len(source), SCAN_BLOCK):
            yield source[i : i + SCAN_BLOCK]
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            while block := fh.read(SCAN_BLOCK):
                yield block
    else:
        pos = source.tell()
        try:
            while block := source.read(SCAN_BLOCK):
                yield block
        finally:
            source.seek(pos)


def _is_utf8(source: Source) -> bool:
    """Whether the whole source decodes as UTF-8 (blocks may cut a character: an incremental decoder)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    blocks = _blocks(source)
    try:
        for block in blocks:
            if block.isascii() and not decoder.getstate()[0]:
                continue
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        blocks.close()
    return True


def file_encoding(source: Source, name: str) -> str:
    """The encoding of the whole file: utf-16 / utf-8-sig (byte-order mark), utf-8, or for a file that is
    not UTF-8 anywhere, cp1252 (bytes 0x80-0x9F present and all defined there: € ‚ „ … ’ “ ”) or latin-1.

    A file that is UTF-8 except for some bytes (a café written as 0xE9 among UTF-8 é, ü, €) is refused,
    naming the first line with such a byte and a line with UTF-8: read either way, a part of it would be
    mojibake (Ã© for é, or a different character than the one written), silently wrong labels and text.
    """
    head, _ = read_head(source)
    encoding = detect_encoding(head, name)
    if encoding == "utf-16" or _is_utf8(source):
        return encoding
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    lines = 1
    bad = 0
    bad_lines: list[int] = []
    first_bad = 0
    good = 0
    evidence: tuple[int, str] | None = None
    first_good: tuple[int, str] | None = None
    c1: set[int] = set()
    for i, block in enumerate(_blocks(source)):
        c1.update(b for b in range(0x80, 0xA0) if bytes([b]) in block)
        text = decoder.decode(block)
        if i == 0 and encoding == "utf-8-sig":
            evidence = (1, "\ufeff")
        for m in _NOT_UTF8.finditer(text):  # the first lines with such bytes (counted below)
            line = lines + text.count("\n", 0, m.start())
            if not bad and not bad_lines:
                first_bad = ord(m.group()) - 0xDC00
            if not bad_lines or bad_lines[-1] != line:
                bad_lines.append(line)
            if len(bad_lines) > 5:
                break
        bad += len(_NOT_UTF8.findall(text))
        if first_good is None and (m := _UTF8_CHAR.search(text)):
            first_good = (lines + text.count("\n", 0, m.start()), m.group())
        if evidence is None and (m := _UTF8_EVIDENCE.search(text)):
            evidence = (lines + text.count("\n", 0, m.start()), m.group())
        good += len(_UTF8_CHAR.findall(text))
        lines += text.count("\n")
    for m in _NOT_UTF8.finditer(decoder.decode(b"", final=True)):  # a sequence cut by the end of the file
        first_bad = first_bad if bad else ord(m.group()) - 0xDC00
        bad += 1
        bad_lines = bad_lines or [lines]
    if evidence is None and good >= bad:  # as many UTF-8 characters as bytes that are not (Cyrillic, Greek)
        evidence = first_good
    if evidence is not None:
        where = "its byte-order mark says UTF-8" if evidence[1] == "\ufeff" \
            else f"line {evidence[0]} has {evidence[1]!r} written in UTF-8"
        more = ""
        if bad > 1:
            shown = ", ".join(map(str, bad_lines[:5])) + (", ..." if len(bad_lines) > 5 else "")
            more = f" ({bad:,} such bytes, on line(s) {shown})"
        raise MixedEncodingError(
            f"{name} line {bad_lines[0]}: byte 0x{first_bad:02X} is not UTF-8{more}, while {where}: the file mixes "
            "encodings and would be read partly wrong (mojibake such as \u00c3\u00a9 for \u00e9); save the file as UTF-8",
            where,
        )
    head_bad = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head_bad > len(head) // 100:
        raise DataError(f"{name}: expected a text CSV file, found binary content")
    return "cp1252" if c1 and not c1 & _CP1252_UNDEFINED else "latin-1"


#: how a number with a comma is written: a decimal comma (12,5 / 1.234,5 / 1 234,5 / 1.234.567) or a
#: decimal point (12.5 / 1,234.5 / 1,234,567: thousands commas)
COMMA, POINT = "comma", "point"
_COMMA_NUMBER = re.compile(r"[-+]?(\d+|\d{1,3}(\.\d{3})+|\d{1,3}( \d{3})+)(,\d+)?")
_POINT_NUMBER = re.compile(r"[-+]?((\d+|\d{1,3}(,\d{3})+)(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
#: 1,234: 1.234 with a decimal comma, 1234 with a thousands comma (a first group 0 is no thousands group)
_AMBIGUOUS_COMMA = re.compile(r"[-+]?[1-9]\d{0,2},\d{3}")
#: 12 345: spaces between thousands and no decimals (only a decimal comma reading takes spaces)
_SPACED_WHOLE = re.compile(r"[-+]?\d{1,3}( \d{3})+")
#: 1.234: 1.234 with a decimal point, 1234 with a thousands dot
_AMBIGUOUS_DOT = re.compile(r"[-+]?[1-9]\d{0,2}\.\d{3}")
_SEPARATOR_NAMES = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma"}


@dataclass(frozen=True)
class NumberEvidence:
    """What number fields say about their decimal mark: the first field that only a decimal comma reads
    (`comma`: 12,5, 0,125, 1.234,5, 1.234.567, 1 234,5), that only a decimal point reads (`point`: 12.5,
    1,234.5, 1,234,567, 1e-3), and that either reads (`ambiguous`: 1,234)."""

    comma: str | None = None
    point: str | None = None
    ambiguous: str | None = None
    #: the first field with a thousands separator (1,234.5 / 1.234,5 / 1 234), whichever reading it fits
    grouped: str | None = None

    def merged(self, other: NumberEvidence) -> NumberEvidence:
        return NumberEvidence(self.comma or other.comma, self.point or other.point, self.ambiguous or other.ambiguous,
                              self.grouped or other.grouped)

    @property
    def reading(self) -> str | None:
        """COMMA or POINT when the fields say which, None when they say nothing or both."""
        if self.comma and not self.point:
            return COMMA
        if self.point and not self.comma:
            return POINT
        return None


def number_evidence(values: Any, only_numbers: bool = True) -> NumberEvidence | None:
    """The evidence of `values` (strings); None when `only_numbers` and a present value is no number in
    either way of writing (a text column). With `only_numbers=False` other fields are passed over."""
    values = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if only_numbers:  # a text column is mostly told by its first values: no need to look at all of them
        some = values.head(1000).dropna().astype(str).str.strip()
        some = some[some != ""]
        if not (some.str.fullmatch(_COMMA_NUMBER) | some.str.fullmatch(_POINT_NUMBER)).all():
            return None
    text = pd.Series(pd.unique(values.dropna().astype(str).str.strip()), dtype=object)
    text = text[text != ""]
    if text.empty:
        return None if only_numbers else NumberEvidence()
    fits_comma = text.str.fullmatch(_COMMA_NUMBER)
    fits_point = text.str.fullmatch(_POINT_NUMBER)
    if only_numbers and not (fits_comma | fits_point).all():
        return None
    both = fits_comma & fits_point
    spaced = text.str.fullmatch(_SPACED_WHOLE)  # 12 345: a number beside decimal commas, else a code or text
    comma = (fits_comma & ~fits_point & ~spaced) | (both & text.str.contains(",", regex=False) & ~text.str.fullmatch(_AMBIGUOUS_COMMA))
    point = (fits_point & ~fits_comma) | (both & text.str.contains(".", regex=False) & ~text.str.fullmatch(_AMBIGUOUS_DOT))
    ambiguous = both & text.str.fullmatch(_AMBIGUOUS_COMMA)
    grouped = text.str.contains(r"\d[ .,]\d{3}(?:[ .,]\d{3})*(?:[.,]\d*)?$") & (fits_comma | fits_point) & ~point

    def first(mask: pd.Series) -> str | None:
        return str(text[mask].iloc[0]) if mask.any() else None

    return NumberEvidence(first(comma), first(point), first(ambiguous), first(grouped | (point & text.str.contains(","))))


def number_reading(evidence: NumberEvidence, sep: str, head: NumberEvidence) -> tuple[str | None, bool]:
    """(COMMA, POINT or None, whether only the separator's custom decided) for a column whose values give
    `evidence`, in a file whose first lines give `head`.

    The column's own values decide; values that only either reading fits (1,234) follow the file's first
    lines, and without evidence there the separator: decimal commas after semicolons, thousands commas
    after tabs and pipes (say so: `ambiguity_notice`). None: values that need both readings (12,5 beside
    12.5), or a decimal comma in a comma-separated file (a quoted "12,5"): the column stays text. With
    comma separators a field with a comma was quoted: thousands commas.
    """
    if sep == ",":
        return (None if evidence.comma else POINT), False
    if evidence.reading:
        return evidence.reading, False
    if evidence.comma:  # and evidence.point
        return None, False
    if head.reading or not evidence.ambiguous:  # 1,234 like the file; plain numbers and 1.234 as the file writes them
        return head.reading or POINT, False
    return (COMMA if sep == ";" else POINT), True


def parse_numbers(column: pd.Series, reading: str) -> pd.Series | None:
    """The column's text as float64 numbers written the `reading` way; None when a present value is not."""
    text = column.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    pattern = _COMMA_NUMBER if reading == COMMA else _POINT_NUMBER
    if not text[present].str.fullmatch(pattern).all():
        return None
    if reading == COMMA:
        text = text.str.replace(".", "", regex=False).str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    values = pd.to_numeric(text.where(present), errors="coerce")
    return pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=column.index, name=column.name)


def ambiguity_notice(columns: list[str], example: str, reading: str, sep: str) -> str:
    """The note for columns whose numbers (1,234) either reading fits, decided by the separator's custom."""
    value = example.lstrip("+-")
    as_comma, as_point = value.replace(",", "."), value.replace(",", "")
    chosen = f"decimal commas ({value} = {as_comma})" if reading == COMMA else f"thousands commas ({value} = {as_point})"
    other = f"thousands commas ({as_point})" if reading == COMMA else f"decimal commas ({as_comma})"
    names = ", ".join(f"`{c}`" for c in columns)
    return (f"column(s) {names}: numbers such as {example!r} can be read with a decimal comma or a thousands comma, "
            f"and nothing in their values or the file's first lines says which; read as {chosen}, as usual after "
            f"{_SEPARATOR_NAMES.get(sep, repr(sep))} separators; check that they are not {other}")


def number_notices(readings: dict[str, tuple[str, NumberEvidence, bool]], sep: str) -> list[str]:
    """What reading the columns `settle_numbers` read assumed: column -> (reading, the column's evidence,
    whether only the separator's custom decided)."""
    notes = []
    if any(r == COMMA and not guessed for r, _, guessed in readings.values()):
        notes.append("decimal commas detected")
    if any(r == COMMA and ev.grouped and " " in ev.grouped for r, ev, _ in readings.values()):
        notes.append("numbers with a thousands separator ' ' read as plain numbers")
    if any(r == POINT and (ev.ambiguous or (ev.grouped and "," in ev.grouped)) for r, ev, _ in readings.values()):
        notes.append("numbers with a thousands separator ',' read as plain numbers")
    for reading in (COMMA, POINT):
        cols = [c for c, (r, _, guessed) in readings.items() if guessed and r == reading]
        if cols:
            notes.append(ambiguity_notice(cols, str(readings[cols[0]][1].ambiguous), reading, sep))
    return notes


def settle_numbers(frame: pd.DataFrame, sep: str, head: NumberEvidence,
                   readings: dict[str, str] | None = None) -> tuple[dict[str, pd.Series], dict[str, tuple[str, NumberEvidence, bool]]]:
    """The text columns of `frame` whose values are all numbers with separators (1,234 / 12,5 / 1.234,5),
    as floats: (column -> numbers, column -> (reading, evidence, guessed) for `number_notices`).

    Each column is read from all of its values (`number_reading`); `readings` forces a reading per column
    (the chunked reader, once it has seen every chunk). A column whose values need both readings, or fit
    neither, is left out: it stays text and the numeric checks name its rows."""
    numbers: dict[str, pd.Series] = {}
    settled: dict[str, tuple[str, NumberEvidence, bool]] = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        evidence = number_evidence(s)
        if evidence is None:
            continue
        reading, guessed = number_reading(evidence, sep, head)
        if readings and col in readings:
            reading, guessed = readings[col], False
        values = parse_numbers(s, reading) if reading else None
        if values is not None:
            numbers[col] = values
            settled[col] = (str(reading), evidence, guessed)
    return numbers, settled


def _sample_fields(text: str, sep: str) -> list[list[str]]:
    """The rows of the first lines as fields (quotes removed), header first."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    try:
        return [[f.strip() for f in row] for row in csv.reader(lines, delimiter=sep)]
    except csv.Error:
        return [[f.strip().strip('"') for f in ln.split(sep)] for ln in lines]


def head_evidence(text: str, sep: str) -> NumberEvidence:
    """The number evidence of the first lines' fields (all columns, text fields passed over)."""
    fields = [f for row in _sample_fields(text, sep)[1:] for f in row]
    return number_evidence(fields, only_numbers=False) or NumberEvidence()


def sniff_dialect(text: str) -> tuple[str, str]:
    """(separator, decimal mark) for pandas, guessed from the first lines.

    pandas never gets a thousands separator: with comma separators it would read a quoted "0,5" beside
    "1,234" as 5, with others 12.5 as 125 (thousands "."). It gets the decimal comma only when the first
    lines' numbers say so (`number_evidence`); every column that then stays text for its separators
    (quoted "1,234" in a comma-separated file, 1,234 or 12,5 first past the sniffed lines) is read by
    `settle_numbers` from all of its values, and `check_comma_numbers` refuses a column of numbers that
    no one reading takes.
    """
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    sample = "\n".join(lines)
    sep = ","
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ",;\t|"}
        sep = max(counts, key=counts.get) if any(counts.values()) else ","
    if sep == ",":  # a field with a comma was quoted: settle_numbers reads it from the whole column
        return sep, "."
    return sep, "," if head_evidence(text, sep).reading == COMMA else "."


def check_comma_numbers(column: pd.Series, sep: str, name: str) -> None:
    """Refuse a text column whose every present value is a number, some of them only readable with a decimal
    comma (0,5 / 12,5 / 1234,5), that `settle_numbers` left as text: a decimal comma in a comma-separated
    file (quoted), or one beside numbers that only a decimal point reads (12.5, 1,234.5). Left as text, a
    column of numbers dropped out of the inputs without a word (or, beside "1,234", was read as 5)."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return
    evidence = number_evidence(column)
    if evidence is None or not evidence.comma:
        return
    text = column.astype("string").str.strip()

    def first_row(v: str) -> int:  # the file's line: a header line, then 1-based rows
        return int(np.flatnonzero((text == v).fillna(False).to_numpy())[0]) + 2

    others = [v for v in (evidence.point, evidence.ambiguous if sep == "," else None) if v]
    beside = ""
    if others:
        other = min(others, key=first_row)
        kind = "thousands commas" if "," in other else "decimal points"
        beside = f" beside {kind} (row {first_row(other)}: {other!r})"
    expected = ("decimal points (0.5), as in a comma-separated file (with decimal commas, separate the fields "
                "with ; or tab)" if sep == "," else "one decimal mark throughout the column")
    raise DataError(f"{name}: column `{column.name}` has numbers with a decimal comma (row {first_row(evidence.comma)}: "
                    f"{evidence.comma!r}){beside}; expected {expected}")


def load_table(source: Source, name: str | None = None, max_rows: int | None = None,
               text_columns: Callable[[list[str]], Iterable[str | None]] | None = None) -> pd.DataFrame:
    """Read a CSV (path, bytes or binary file object) into a DataFrame of strings and numbers.

    Detects encoding (UTF-8, UTF-8 with BOM, UTF-16, Windows-1252 or Latin-1 for a file that is not
    UTF-8 anywhere; `file_encoding` refuses a file that mixes UTF-8 with other bytes), separator (, ; tab |), decimal commas
    and thousands separators. The frame's `attrs["source"]` holds the display name and
    `attrs["notices"]` what was assumed. Raises DataError for empty, binary or malformed files, and for
    files beyond the limits of `builder.limits` (columns are counted from the header before reading;
    rows while reading). `max_rows` reads only the first rows (a preview) instead of refusing more.
    `text_columns`: given the header's column names, the columns to keep as the text the file holds
    (sequence ids: `001` and `1` are two ids, which read as numbers became one).
    """
    head, default_name = read_head(source)
    name = name or default_name
    try:
        limits = current_limits()
    except LimitError as err:
        raise DataError(str(err)) from None
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise DataError(f"{name}: the file is empty; expected a header row and data rows")
    encoding = file_encoding(source, name)
    head_text = head.decode(encoding, errors="ignore")
    sep, decimal = sniff_dialect(head_text)
    notices: list[str] = []
    if encoding == "utf-16":
        notices.append("read as UTF-16 text")
    if encoding == "utf-8-sig":
        notices.append("removed the UTF-8 byte-order mark at the start of the file")
    if encoding == "latin-1":
        notices.append("the file is not valid UTF-8; read as Latin-1")
    if encoding == "cp1252":
        notices.append("the file is not valid UTF-8; read as Windows-1252 (Latin-1 with \u20ac \u2018 \u2019 \u201c \u201d ... "
                       "in bytes 0x80-0x9F)")
    if sep != ",":
        notices.append(f"separator detected: {sep!r}")
    if decimal == ",":
        notices.append("decimal commas detected")

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
    wanted = set(text_columns(names)) if text_columns is not None else set()
    as_text = {j for j, n in enumerate(names) if n in wanted}
    try:
        df = pd.read_csv(
            handle, sep=sep, decimal=decimal, encoding=encoding,
            skipinitialspace=True, nrows=cap, low_memory=False, dtype={j: str for j in sorted(as_text)} or None,
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
    # columns left text by their separators (1,234 / 1.234,5 / 12,5 first past the sniffed lines): all their values decide
    keep = [str(df.columns[j]) for j in sorted(as_text) if j < len(df.columns)]  # ids stay as written
    numbers, settled = settle_numbers(df.drop(columns=keep), sep, head_evidence(head_text, sep))
    number_notes = [n for n in number_notices(settled, sep) if n not in notices]
    if numbers:
        df = df.assign(**numbers)
        notices += number_notes
    for c in df.columns:
        if c not in keep and c not in numbers:
            check_comma_numbers(df[c], sep, name)
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
    df.attrs["encoding"] = encoding
    df.attrs["number_notices"] = number_notes  # what these rows' numbers said (the chunked reader reads all rows)
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


def reading_notices(df: pd.DataFrame, test_df: pd.DataFrame | None = None, test_name: str = "test") -> list[str]:
    """What reading the file(s) assumed (`load_table`'s notices: encoding, separator, ...), the test file's
    prefixed with its name."""
    notices = [str(n) for n in df.attrs.get("notices", [])]
    if test_df is not None:
        notices += [f"{test_name}: {n}" for n in test_df.attrs.get("notices", [])]
    return notices
