"""Plain UTF-8 text for character-level language models: checked reading, vocabulary, contiguous split.

`read_text(source)` returns the decoded text or raises `DataError` naming the file and, for invalid
UTF-8, the byte position. `prepare_text(text, ...)` splits the characters into contiguous train /
validation / test parts (in file order, so no part sees the text of another), builds the vocabulary
from the training part only (id 0 is the unknown symbol `UNK`, for characters the training part
lacks) and encodes every part as int32 ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from builder.data.read import DataError, MixedEncodingError, file_encoding

#: the unknown symbol: id 0 of every vocabulary (U+FFFD, the Unicode replacement character)
UNK = "\ufffd"
#: largest text file accepted (characters are held in memory as int32 ids)
MAX_TEXT_BYTES = 200_000_000
PARTS = ("train", "val", "test")

TextSource = str | Path | bytes | IO[bytes]


def read_text(source: TextSource, name: str | None = None) -> tuple[str, str]:
    """(decoded text, display name) of a UTF-8 text file, path, bytes or binary file object.

    Raises DataError for a missing, empty, binary (NUL bytes) or invalid UTF-8 file; the message
    names the file, the byte position and line, and whether the rest of the file is UTF-8 (mixed
    encodings) or all of it another encoding (`builder.data.read.file_encoding`'s rule).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise DataError(f"{label}: file not found")
        if path.is_dir():
            raise DataError(f"{label}: expected a UTF-8 text file, found a directory")
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise DataError(f"{label}: {path.stat().st_size:,} bytes; at most {MAX_TEXT_BYTES:,} bytes of text are accepted")
        raw = path.read_bytes()
    elif isinstance(source, bytes):
        raw, label = source, name or "upload"
    else:
        raw, label = source.read(), name or getattr(source, "name", "upload")
    if not raw.strip():
        raise DataError(f"{label}: the file is empty; expected UTF-8 text")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{label}: UTF-16 text (it starts with the byte-order mark 0x{raw[0]:02x} 0x{raw[1]:02x}); "
                        "expected UTF-8 text (re-save the file as UTF-8)")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{label}: byte {nul} is a NUL (0x00): binary content, expected UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        try:  # the same rule as the CSV reader's: UTF-8 in part only, or another encoding throughout
            file_encoding(raw, label)
            kind = "the file reads as Windows-1252 / Latin-1 text, not UTF-8"
        except MixedEncodingError as mixed:
            kind = f"the file mixes encodings ({mixed.where})"
        except DataError:
            kind = "the file is not UTF-8 text"
        raise DataError(
            f"{label}: invalid UTF-8 at byte {err.start} (0x{raw[err.start]:02x}) on line {line}: {err.reason}; "
            f"{kind}; expected UTF-8 text (re-save the file as UTF-8)"
        ) from None
    return text.removeprefix("\ufeff"), str(label)


@dataclass(frozen=True)
class TextData:
    """A text split into contiguous parts and encoded as ids.

    vocab: id -> character (vocab[0] is UNK); ids: part -> int32 [n_chars]; context: window length
    in characters; step: characters between training window starts.
    """

    source: str
    vocab: tuple[str, ...]
    ids: dict[str, np.ndarray]
    context: int
    step: int
    n_chars: int
    notices: tuple[str, ...] = ()
    unknown: dict[str, int] = field(default_factory=dict)

    @property
    def split(self) -> dict[str, int]:
        return {p: int(len(self.ids[p])) for p in PARTS}

    def windows(self, part: str, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, next-character targets), each int32 [N, context]: windows every `step` characters."""
        t = self.ids[part]
        step = step or self.step
        n = len(t) - self.context  # a window needs context + 1 characters (inputs and shifted targets)
        if n < 1:
            return np.zeros((0, self.context), np.int32), np.zeros((0, self.context), np.int32)
        starts = np.arange(0, n, step)
        idx = starts[:, None] + np.arange(self.context)[None, :]
        return t[idx], t[idx + 1]


def encode(text: str, vocab: tuple[str, ...] | list[str]) -> np.ndarray:
    """int32 ids of `text` under `vocab` (characters outside it -> 0, the unknown symbol)."""
    index = {c: i for i, c in enumerate(vocab)}
    return np.fromiter((index.get(c, 0) for c in text), dtype=np.int32, count=len(text))


def decode(ids: Any, vocab: tuple[str, ...] | list[str]) -> str:
    """The text of `ids` under `vocab`."""
    return "".join(vocab[int(i)] for i in ids)


def prepare_text(text: str, source: str, context: int, val_fraction: float, test_fraction: float,
                 step: int | None = None, test_text: str | None = None) -> TextData:
    """Split `text` into contiguous parts, build the vocabulary from the training part, encode.

    With `test_text`, that text is the test part and `text` is split into train and validation only.
    Raises DataError when a part is too short for one window of `context` characters.
    """
    n = len(text)
    if test_text is None:
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
    else:
        n_test, n_val = 0, int(round(n * val_fraction / max(1e-9, 1 - test_fraction)))
    n_train = n - n_val - n_test
    need = context + 1
    if n_train < need:
        raise DataError(
            f"{source}: {n:,} characters; the training part holds {n_train:,}, but windows of context "
            f"{context} need at least {need:,}; use a longer text or a smaller context"
        )
    parts = {"train": text[:n_train], "val": text[n_train:n_train + n_val],
             "test": test_text if test_text is not None else text[n_train + n_val:]}
    notices = []
    for p in ("val", "test"):
        if 0 < len(parts[p]) < 2:
            raise DataError(f"{source}: the {p} part holds {len(parts[p])} character(s); at least 2 are needed to score it")
    if len(parts["val"]) < need and len(parts["val"]) > 0:
        notices.append(f"the validation part ({len(parts['val'])} characters) is shorter than one window "
                       f"({need}); early stopping watches the training loss")
    chars = sorted(set(parts["train"]))
    vocab = (UNK, *[c for c in chars if c != UNK])
    ids = {p: encode(t, vocab) for p, t in parts.items()}
    unknown = {p: int((ids[p] == 0).sum()) for p in ("val", "test")}
    for p, k in unknown.items():
        if k:
            notices.append(f"{k} character(s) of the {p} part do not occur in the training part; they count as the unknown symbol")
    return TextData(source=source, vocab=vocab, ids=ids, context=context, step=step or context,
                    n_chars=n + (len(test_text) if test_text is not None else 0), notices=tuple(notices), unknown=unknown)
