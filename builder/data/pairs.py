"""Tables of text pairs (task translate): reading, validation, the file-order split and vocabularies.

A pairs CSV has a source column and a target column, one pair a row; tokens are characters or
whitespace-separated words. Rows are split in file order into train / validation / test parts; each
side's vocabulary comes from the training part, with ids 0..3 = pad, unknown, start, end.
Shapes: N pairs, S source length, T target length (with the END token).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from builder.data.read import DataError, reading_notices

Tokens = Literal["characters", "words"]
#: ids of the special symbols, the same on both sides
PAD, UNK, START, END = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAIR_PARTS = ("train", "val", "test")


def split_tokens(text: str, tokens: Tokens) -> list[str]:
    """``text`` as a token list: its characters, or its whitespace-separated words."""
    return list(text) if tokens == "characters" else text.split()


def join_tokens(parts: list[str], tokens: Tokens) -> str:
    """The inverse of `split_tokens` (words joined by one space)."""
    return "".join(parts) if tokens == "characters" else " ".join(parts)


@dataclass(frozen=True)
class Vocab:
    """Token of each id; ids 0..3 are the pad, unknown, start and end symbols."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, texts: list[str], tokens: Tokens) -> Vocab:
        counts = Counter(t for text in texts for t in split_tokens(text, tokens))
        return cls(SPECIALS + tuple(sorted(counts)))

    def encode(self, texts: list[str], tokens: Tokens, length: int, ends: bool = False) -> np.ndarray:
        """texts -> ids [N, length] int32 (unknown tokens -> UNK; cut at `length`; with `ends`, START before
        and END after the tokens, inside `length`)."""
        index = {t: i for i, t in enumerate(self.tokens)}
        out = np.full((len(texts), length), PAD, np.int32)
        for row, text in enumerate(texts):
            ids = [index.get(t, UNK) for t in split_tokens(text, tokens)]
            if ends:
                ids = [START, *ids, END]
            ids = ids[:length]
            out[row, :len(ids)] = ids
        return out

    def decode(self, ids: np.ndarray, tokens: Tokens) -> list[str]:
        """ids [N, T] -> texts, each cut at its first END (specials dropped)."""
        texts = []
        for row in np.asarray(ids):
            parts = []
            for i in row:
                if int(i) == END:
                    break
                if len(SPECIALS) <= int(i) < len(self.tokens):
                    parts.append(self.tokens[int(i)])
            texts.append(join_tokens(parts, tokens))
        return texts

    def cut(self, ids: np.ndarray) -> int:
        """Tokens of one decoded row [T] before its first END (all of them when there is none)."""
        ends = np.flatnonzero(np.asarray(ids) == END)
        return int(ends[0]) if len(ends) else len(ids)


@dataclass
class PairsData:
    """Prepared pairs: texts per part, both vocabularies and the padded lengths (target: with END)."""

    name: str
    source_col: str
    target_col: str
    tokens: Tokens
    parts: dict[str, pd.DataFrame]
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_length: int
    tgt_length: int
    notices: tuple[str, ...] = ()
    #: the beam width evaluation decodes with beside greedy (the spec's seq2seq.beam_width; 0: greedy only)
    beam_width: int = 0

    @property
    def split(self) -> dict[str, int]:
        """Pairs per part."""
        return {p: int(len(self.parts.get(p, ()))) for p in PAIR_PARTS}

    def arrays(self, part: str) -> dict[str, np.ndarray]:
        """{"source" [N, S], "target_in" [N, T] (START first), "target_out" [N, T] (END last)} of `part`."""
        df = self.parts[part]
        tgt = self.tgt_vocab.encode(df["target"].tolist(), self.tokens, self.tgt_length + 1, ends=True)
        return {"source": self.src_vocab.encode(df["source"].tolist(), self.tokens, self.src_length),
                "target_in": tgt[:, :-1], "target_out": tgt[:, 1:]}


def read_pairs(df: pd.DataFrame, source_col: str | None, target_col: str | None, name: str = "upload",
               minimum: int = 3) -> pd.DataFrame:
    """The (source, target) text pairs of `df` as a frame with columns source and target; DataError
    names the file, column or row when one is missing or a text is empty."""
    for role, col in (("source", source_col), ("target", target_col)):
        if not col:
            raise DataError(f"{name}: no {role} column chosen (--{role}-col, or the spec's data.{role}_col); expected one "
                            f"of {list(df.columns)}")
        if col not in df.columns:
            raise DataError(f"{name}: {role} column {col!r} not found; expected one of {list(df.columns)}")
    if source_col == target_col:
        raise DataError(f"{name}: the source and the target column are both {source_col!r}; expected two different "
                        "columns (the text to translate, and its translation)")
    pairs = pd.DataFrame({"source": df[source_col], "target": df[target_col]})
    for role, col in (("source", source_col), ("target", target_col)):
        text = pairs[role].astype("string").str.strip()
        empty = text.isna() | (text == "")
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0]) + 2  # 1-based, after the header line
            raise DataError(f"{name}: row {row}, column {col!r}: expected a non-empty {role} text, found an empty cell "
                            f"({int(empty.sum())} such rows)")
        pairs[role] = text.astype(str)
    if len(pairs) < minimum:
        raise DataError(f"{name}: expected at least {minimum} pairs, found {len(pairs)}")
    return pairs.reset_index(drop=True)


def read_sources(df: pd.DataFrame, source_col: str, name: str = "upload") -> list[str]:
    """The source texts of a new table (prediction): the column must exist and no cell be empty."""
    if source_col not in df.columns:
        raise DataError(f"{name}: source column {source_col!r} not found; expected one of {list(df.columns)}")
    return read_pairs(df.assign(_target="x"), source_col, "_target", name=name, minimum=1)["source"].tolist()


def prepare_pairs(df: pd.DataFrame, source_col: str | None, target_col: str | None, tokens: Tokens = "characters",
                  val_fraction: float = 0.1, test_fraction: float = 0.15, name: str = "upload",
                  test_df: pd.DataFrame | None = None, test_name: str = "test") -> PairsData:
    """Split the pairs in file order and build the vocabularies from the training part; with `test_df`,
    its pairs are the test part and `df` gives train and validation."""
    if tokens not in ("characters", "words"):
        raise DataError(f"tokens: expected 'characters' or 'words', found {tokens!r}")
    pairs = read_pairs(df, source_col, target_col, name)
    n = len(pairs)
    if test_df is not None:
        test = read_pairs(test_df, source_col, target_col, test_name, minimum=1)
        n_test = 0
    else:
        n_test = max(1, int(round(n * test_fraction)))
    n_val = max(1, int(round(n * val_fraction))) if val_fraction > 0 else 0
    n_train = n - n_test - n_val
    if n_train < 1:
        raise DataError(f"{name}: {n} pairs leave no training pairs after the validation and test parts")
    parts = {"train": pairs.iloc[:n_train], "val": pairs.iloc[n_train:n_train + n_val],
             "test": test if test_df is not None else pairs.iloc[n_train + n_val:]}
    parts = {k: v.reset_index(drop=True) for k, v in parts.items()}
    every = pd.concat(parts.values())
    src_len = max(len(split_tokens(t, tokens)) for t in every["source"])
    tgt_len = max(len(split_tokens(t, tokens)) for t in every["target"]) + 1  # + END
    if src_len < 1 or tgt_len < 2:
        raise DataError(f"{name}: every text splits into no {tokens}; expected at least one token per text")
    train = parts["train"]
    return PairsData(name, str(source_col), str(target_col), tokens, parts,
                     Vocab.build(train["source"].tolist(), tokens), Vocab.build(train["target"].tolist(), tokens),
                     src_len, tgt_len, notices=tuple(reading_notices(df, test_df, test_name) + _seen_in_training(parts)
                                                  + _outlier_lengths(pairs, tokens)))


#: a text this many times longer than the median of its column (and over OUTLIER_MIN tokens) is said
OUTLIER_RATIO, OUTLIER_MIN = 4, 64


def _outlier_lengths(pairs: pd.DataFrame, tokens: Tokens) -> list[str]:
    """A notice per column whose longest text dwarfs the others: every text is padded to the longest, so one
    stray row (a pasted paragraph, a missing line break) multiplies the training and decoding time."""
    notices = []
    for role in ("source", "target"):
        lengths = pairs[role].map(lambda t: len(split_tokens(t, tokens))).to_numpy()
        i = int(lengths.argmax())
        median = float(np.median(lengths))
        if lengths[i] > OUTLIER_MIN and lengths[i] > OUTLIER_RATIO * median:
            notices.append(f"row {i + 2}: its {role} has {int(lengths[i]):,} {tokens}, {lengths[i] / median:.0f} times the "
                           f"median ({median:g}); every {role} is padded to the longest, so training and decoding take "
                           "that much longer: check the row")
    return notices


def _seen_in_training(parts: dict[str, pd.DataFrame]) -> list[str]:
    """Notices for validation / test pairs whose source text is also a training source (duplicate rows):
    their scores measure recall of the training pairs, not translation of new text."""
    seen = set(parts["train"]["source"])
    notices = []
    for part, label in (("val", "validation"), ("test", "test")):
        repeated = parts[part]["source"].isin(seen)
        if repeated.any():
            example = parts[part]["source"][repeated].iloc[0]
            notices.append(f"{int(repeated.sum())} of the {len(repeated)} {label} pairs have a source that is also a "
                           f"training source (e.g. {example[:40]!r}): their scores measure recall of the training pairs, "
                           "not translation of new text; remove duplicate rows for an honest score")
    return notices
