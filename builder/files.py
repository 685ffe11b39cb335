"""Files we write: atomic replacement, strict JSON, formula-safe CSVs, and user-given names kept
inside their folder.

Every file is written under a temporary name in the same directory and renamed into place, so no
reader sees half a file. JSON is strict (RFC 8259): a NaN or infinity is an error here, not a
`NaN` token that browsers' and most languages' parsers reject; callers turn undefined values into
`null` with a reason first (`finite_or_none`). CSVs we write are inert in a spreadsheet: a text cell
that would run as a formula gets a leading quote (`csv_safe`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A fresh temporary directory beside `path` to fill; when the block ends without an error it takes
    `path`'s place, else it is removed and `path` is left as it was: `path` is never half-written.

    An older `path` is renamed aside first, the new folder renamed into place, and only then is the old
    one removed (it is renamed back if the second rename fails), so a failure never loses the older
    folder. Whether an existing `path` may be replaced at all is the caller's decision.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        # mkdtemp's folder is private (0700); give it the older folder's mode, else what mkdir would give
        tmp.chmod(path.stat().st_mode & 0o7777 if path.is_dir() else 0o777 & ~_umask())
        yield tmp
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            old.rmdir()  # a free name beside `path` for the older folder
            path.rename(old)
            try:
                tmp.rename(path)
            except BaseException:
                old.rename(path)
                raise
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        else:
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `obj` (NumPy scalars and arrays as numbers and lists); NaN raises ValueError."""
    return json.dumps(obj, indent=indent, default=_json_default, allow_nan=False)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """`obj` as strict, indented JSON, written atomically."""
    atomic_write_text(path, dumps(obj) + "\n")


def finite_or_none(value: float) -> float | None:
    """`value` as a float, or None when it is NaN or infinite (strict JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def loads_strict(text: str) -> Any:
    """Parse JSON text, refusing the NaN / Infinity tokens that Python's json module accepts by default."""
    return json.loads(text, parse_constant=_reject_constant)


def read_json(path: str | Path, default: Any = None) -> Any:
    """The JSON in `path`, or `default` when the file is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote; numbers are untouched."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_inert)
    out.columns = [_inert(str(c)) for c in out.columns]
    return out


def _inert(v: Any) -> Any:
    """`'` + v for a text cell that starts (after spaces) with = + - @ tab or CR, unless it is a plain number."""
    if isinstance(v, str) and v.lstrip(" ").startswith(FORMULA_PREFIXES):
        if v == v.strip():
            try:
                float(v)
                return v  # a real negative or signed number
            except ValueError:
                pass
        return "'" + v
    return v


def write_csv(path: str | Path, df: pd.DataFrame) -> None:
    """`df` as a formula-safe CSV without its index, written atomically."""
    atomic_write_text(path, csv_safe(df).to_csv(index=False))


def safe_child(root: str | Path, name: str) -> Path:
    """root/name for a user-given name, refusing anything that would leave `root` (.., absolute paths)."""
    root = Path(root).resolve()
    if not name or name.strip() != name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ValueError(f"invalid name {name!r}: expected a plain name without path separators")
    child = (root / name).resolve()
    if child.parent != root:
        raise ValueError(f"invalid name {name!r}: it would leave {root}")
    return child
