"""Labelled sequences for classification: long-format rows grouped, padded with NaN, split by sequence.

x: [N, L, F] float32 raw values, NaN-padded at the end (the model masks the padding); y: [N] class
indices; the split is stratified by class. Scalers are fit on the training sequences' real steps only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from builder.data.columns import (
    check_columns,
    empty_columns,
    number_spellings,
    resolve_sequence_columns,
    row_counters,
    sequence_id_column,
    spelling_notice,
    to_numeric,
)
from builder.data.read import DataError, Source, load_table
from builder.data.scaler import Scaler
from builder.data.series import check_window_count
from builder.spec import DataSettings, ModelSpec

#: the fewest sequences a validation part is split off with: below it, early stopping and the learning
#: rate schedule watch the training loss (LSTM-FCN's own recipe); a handful of validation sequences is
#: noise (Chinatown, 20 training sequences: a 3-sequence part stopped training at epoch 8, bench/RESULTS.md)
MIN_VAL_SEQUENCES = 30
#: the most classes a label column may have: more is almost always an id or a number, not a label
MAX_CLASSES = 1000


@dataclass(frozen=True)
class SequenceData:
    """Labelled sequences ready for classification, fully resolved and never changed after construction.

    x: [N, L, F] float32 raw values, NaN-padded at the end (`inputs` names the F columns); y: [N] class
    indices into `classes`; ids: [N] sequence ids; lengths: [N] real steps; split: [N] strings
    "train" / "val" / "test". `x_scaler` is fit on the real (unpadded) steps of the training sequences.
    """

    source: str
    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    classes: tuple[str, ...]
    inputs: tuple[str, ...]
    lengths: np.ndarray
    split: np.ndarray
    id_col: str
    order_col: str | None
    label_col: str
    x_scaler: Scaler
    missing: str
    notices: tuple[str, ...] = ()
    #: which baselines evaluation scores (`TrainingSpec.baselines`) and their random seed
    baselines: str = "all"
    seed: int = 0
    #: the model's time axis is fixed to the lookback (dimension shuffle), not any length
    fixed_length: bool = False

    @property
    def lookback(self) -> int:
        return int(self.x.shape[1])


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
    check_window_count(len(xs), "sequences", source)
    check_long_format(lengths, id_col, source)
    notices += order_notices(order_col, lengths)
    notices += feature_notices(df, order_col, label_col, features, settings.features is not None)
    ignored = [c for c in empty_columns(df) if c not in features and c not in (id_col, order_col, label_col)]
    if ignored:
        notices.append(f"column(s) {ignored} are empty; ignored")
    class_list = classes or sorted(set(ys), key=_label_sort_key)
    if len(class_list) > MAX_CLASSES:
        raise DataError(
            f"{source}: label column `{label_col}` has {len(class_list)} distinct values; expected at most "
            f"{MAX_CLASSES} classes (is it an id or a measured number rather than a label?)"
        )
    if len(class_list) < 2:
        raise DataError(f"{source}: label column `{label_col}` has a single class {class_list}; classification needs at least two")
    if test_df is not None and not classes:
        check_test_classes(ys, tags, source, test_df.attrs.get("source", "test data"), label_col)
    digests = sequence_digests(xs, ys)
    if test_df is not None:
        notices += overlap_notices(ids, xs, ys, tags, id_col, test_df.attrs.get("source", "test data"), digests)
    if not classes and len(ys) > 2 and len(set(ys)) == len(ys):
        raise DataError(
            f"{source}: label column `{label_col}` has a different value for each of the {len(ys)} sequences; expected "
            "classes that several sequences share (is it an id or a measured number rather than a label?)"
        )
    notices += case_notices(class_list, label_col)
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
    notices += split_duplicate_notices(ids, split, digests, test_df is not None)
    untrained = [c for k, c in enumerate(class_list) if not (y[split == "train"] == k).any()]
    if len(class_list) - len(untrained) < 2:
        raise DataError(f"{source}: the training part's sequences have a single class "
                        f"{[c for c in class_list if c not in untrained]} in column `{label_col}`; {untrained[:5]} occur "
                        "only in sequences split off for validation or test (too few sequences carry them); expected at "
                        "least two classes in training")
    if untrained:
        notices.append(f"class(es) {untrained[:5]} of label column `{label_col}` have no sequence in the training part "
                       "(too few of them to split by class); the model cannot learn them")
    if settings.val_fraction > 0 and not (split == "val").any():
        notices.append(f"no validation part: {settings.val_fraction:g} of {int((split == 'train').sum())} training "
                       f"sequences would be fewer than {MIN_VAL_SEQUENCES}; early stopping watches the training loss")
    train_rows = x[split == "train"].reshape(-1, len(features))
    train_rows = train_rows[~np.isnan(train_rows).all(axis=1)]
    return SequenceData(
        source=source, x=x, y=y, ids=np.array(ids), classes=tuple(class_list), inputs=tuple(features),
        lengths=np.array(lengths), split=split, id_col=id_col, order_col=order_col, label_col=label_col,
        x_scaler=Scaler(settings.scaler).fit(train_rows), missing=settings.missing, notices=tuple(notices),
        baselines=spec.training.baselines, seed=spec.training.seed,
        fixed_length=spec.fixed_length,
    )


def group_sequences(
    frame: pd.DataFrame, id_col: str, order_col: str | None, features: list[str], label_col: str | None,
    missing: str = "interpolate",
) -> tuple[list[Any], list[np.ndarray], list[str], list[str]]:
    """Long-format rows -> (ids, sequences [len_i, F] float32 raw, labels (empty without label_col), notices).

    Rows are ordered by `order_col` within each sequence (file order when None).
    """
    src = frame.attrs.get("source", "data")
    grouped, notices = long_rows(frame, id_col, order_col, features, label_col, missing, "sequence",
                                 "every sequence needs a label")
    ids, xs, out_labels = [], [], []
    for sid, g in grouped.groupby("_id", sort=False):
        if label_col:
            labs = g["_label"].unique()
            if len(labs) > 1:
                raise DataError(f"{src}: sequence {sid!r} has several labels {list(labs)[:4]}; expected one label per "
                                "sequence (a label for every step is task label_steps)")
            out_labels.append(str(labs[0]))
        xs.append(g[features].to_numpy(dtype=np.float32))
        ids.append(sid)
    return ids, xs, out_labels, notices


def load_sequence_table(source: Source, id_col: str | None, name: str | None = None) -> pd.DataFrame:
    """`load_table` with the sequence id column (`id_col`, else the one named like an id) kept as the text
    the file holds: read as numbers, `001`, `1` and `1.0` were one sequence."""
    return load_table(source, name=name, text_columns=lambda cols: [sequence_id_column(cols, id_col)])


def long_rows(frame: pd.DataFrame, id_col: str, order_col: str | None, features: list[str], label_col: str | None,
              missing: str, role: str, label_need: str) -> tuple[pd.DataFrame, list[str]]:
    """Long-format rows checked, filled and sorted, for both sequence tasks (`group_sequences` of classify,
    label_steps' `group_steps`): a frame with `_id`, `_order` (sortable numbers), `_row` (the file row,
    0-based), `_label` (label text, with label_col) and the features (filled by `missing`), sorted by id then
    order; and notices. DataError, naming rows, for empty ids, an all-empty feature, an empty or text order
    cell, two rows at one position and an empty label (`label_need` says why a label is needed); `role`
    names the columns in check_columns' message."""
    src = frame.attrs.get("source", "data")
    check_columns(frame, [id_col, *features] + ([label_col] if label_col else []) + ([order_col] if order_col else []),
                  src, role)
    check_ids(frame, id_col, src)
    ids, id_key, notices = sequence_ids(frame[id_col])
    num = pd.DataFrame({c: to_numeric(frame, c, src) for c in features})
    check_feature_values(num, src)
    num, filled = _fill_missing_sequences(num, ids, missing, src)
    notices += filled
    grouped = pd.DataFrame({"_id": ids.to_numpy(), "_row": np.arange(len(frame))})
    grouped["_order"] = order_values(frame, order_col, src) if order_col else np.arange(len(frame))
    if label_col:
        labels = frame[label_col]
        empty = (labels.isna() | (labels.astype(str).str.strip() == "")).to_numpy()
        if empty.any():
            rows = (np.flatnonzero(empty) + 2).tolist()
            raise DataError(f"{src}: label column `{label_col}` is empty in {len(rows)} row(s) (first: rows {rows[:5]}); "
                            f"{label_need}")
        grouped["_label"] = label_strings(labels)
    if id_key is not None:
        grouped["_key"] = id_key.to_numpy()
    by = ["_id", "_order"] if id_key is None else ["_key", "_id", "_order"]
    grouped = pd.concat([grouped, num.reset_index(drop=True)], axis=1).sort_values(by, kind="stable")
    if order_col:
        check_unique_steps(grouped, order_col, src)
        notices += gap_notices(grouped, order_col)
    return grouped, list(notices)


def sequence_ids(ids: pd.Series) -> tuple[pd.Series, pd.Series | None, list[str]]:
    """Sequence ids as compared and shown: text ids (a column read as the text the file holds,
    `load_sequence_table`) without surrounding spaces, so that `001`, `1` and `1.0` are three sequences;
    a numeric column as it is. Also the sort key when every text id is a number (numeric order, 2 before
    10, as ids read as numbers were sorted; else None: sorted as text), and a notice naming ids that are
    different sequences although they are the same number."""
    if pd.api.types.is_numeric_dtype(ids) or pd.api.types.is_bool_dtype(ids):
        return ids, None, []
    text = ids.astype(str).str.strip()
    key = pd.to_numeric(text, errors="coerce")
    if key.isna().any():
        return text, None, []
    alike = number_spellings(text)
    if not alike:
        return text, key, []
    rows = (np.flatnonzero(text.isin(alike[0]).to_numpy()) + 2).tolist()
    return text, key, [spelling_notice("sequence", str(ids.name), alike, rows)]


def feature_notices(df: pd.DataFrame, order_col: str | None, label_col: str, features: list[str],
                    named: bool) -> list[str]:
    """Notices on the feature columns of a long-format file: row counters left out (when the features were
    left to the data, `named` False), the order column read as a feature, and a feature that is the label
    written another way (each of its values with one label and each label with one value, >= 2 values:
    the model can read the answer from its input)."""
    notices = []
    counters = [c for c in row_counters(df) if c not in (label_col, order_col)]
    if counters and not named:
        notices.append(f"column(s) {counters[:5]} count the file's rows (a saved row number?); not used as features "
                       "(it tells where in the file a sequence is, not what it measured; name it with --features to use it)")
    if order_col and order_col in features:
        notices.append(f"order column `{order_col}` is also a feature: the model reads each step's position as an input")
    labels = label_strings(df[label_col].where(df[label_col].notna(), ""))
    for f in features:
        pairs = pd.DataFrame({"v": df[f].to_numpy(), "y": labels}).dropna().drop_duplicates()
        n_values, n_labels = pairs["v"].nunique(), pairs["y"].nunique()
        if 2 <= n_values == n_labels == len(pairs):
            shown = ", ".join(f"{v!r} with {y!r}" for v, y in pairs.head(3).itertuples(index=False))
            notices.append(f"feature column `{f}` is the label `{label_col}` written another way (each of its values "
                           f"goes with one label: {shown}); the model can read the answer from its input (leave it "
                           "out with --features)")
    return notices


def case_notices(classes: list[str], label_col: str) -> list[str]:
    """A notice when labels differ only in upper / lower case ("Walk" and "walk"): kept as different classes."""
    groups: dict[str, list[str]] = {}
    for c in classes:
        groups.setdefault(str(c).casefold(), []).append(str(c))
    clashes = [g for g in groups.values() if len(g) > 1]
    if not clashes:
        return []
    return [f"label column `{label_col}` has labels that differ only in case, {', '.join(map(str, clashes[:3]))}; "
            "they are different classes (write them alike to merge them)"]


def unknown_label_notices(labels: Any, classes: list[str], label_col: str) -> list[str]:
    """A notice for labels of a file to predict that are not among the model's classes (it never predicts them)."""
    seen = {str(v) for lab in labels for v in np.atleast_1d(np.asarray(lab, dtype=object))}
    unknown = sorted(seen - set(classes), key=_label_sort_key)
    if not unknown:
        return []
    return [f"label column `{label_col}` has {len(unknown)} label(s) that are not among the model's classes "
            f"{classes[:10]}: {unknown[:5]}; the model never predicts them"]


def check_ids(frame: pd.DataFrame, id_col: str, source: str) -> None:
    """Refuse rows without a sequence id (grouping dropped them silently)."""
    ids = frame[id_col]
    empty = ids.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(ids):  # text ids: a blank cell is empty too
        empty = empty | (ids.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        rows = (np.flatnonzero(empty) + 2).tolist()
        raise DataError(f"{source}: sequence id column `{id_col}` is empty in {len(rows)} row(s) (first: rows {rows[:5]}); "
                        "expected every row's sequence id")


def order_notices(order_col: str | None, lengths: list[int]) -> list[str]:
    """A notice that steps are taken in file order when no order column was named or found."""
    if order_col or max(lengths, default=0) < 2:
        return []
    return ["no order column (named t, step, order ... or given with --order-col): each sequence's steps are taken "
            "in the order of the file's rows"]


def check_long_format(lengths: list[int], id_col: str, source: str) -> None:
    """Refuse a file whose every sequence is one row: a wide table (one row per sequence, a column per
    step) read as long format trains a recurrent model on sequences of one step."""
    if len(lengths) > 1 and max(lengths) == 1:
        raise DataError(
            f"{source}: every sequence id in column `{id_col}` is on one row only ({len(lengths)} ids); expected long "
            "format, one row per step (sequence id, order, features, label). A wide file, one row per sequence and "
            "a column per step, needs reshaping to long format first (pandas.melt)"
        )


def check_feature_values(num: pd.DataFrame, source: str) -> None:
    """Refuse a feature column without a single value: filling it in made it a column of zeros."""
    empty = [str(c) for c in num.columns if num[c].isna().all()]
    if empty:
        raise DataError(f"{source}: feature column(s) {empty} have no values (every cell is empty); expected numbers")


def order_values(frame: pd.DataFrame, order_col: str, source: str) -> np.ndarray:
    """The order column as sortable numbers: numbers as they are, dates and times as timestamps (text that
    is neither is an error naming the rows: sorted as text, step "10" came before step "2"); an empty cell
    is an error naming its rows."""
    s = frame[order_col]
    text = not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
    empty = (s.isna() | (s.astype(str).str.strip() == "")).to_numpy() if text else s.isna().to_numpy()
    if empty.any():
        rows = (np.flatnonzero(empty) + 2).tolist()
        raise DataError(f"{source}: order column `{order_col}` is empty in {len(rows)} row(s) (first: rows {rows[:5]}); "
                        "expected every step's position in its sequence")
    if not text:
        return s.to_numpy()
    times = pd.to_datetime(s, errors="coerce", format="mixed", utc=True)
    if times.notna().all() and pd.to_numeric(s, errors="coerce").isna().all():
        return times.dt.tz_convert(None).to_numpy().astype("int64")
    return to_numeric(frame, order_col, source).to_numpy()


def check_unique_steps(grouped: pd.DataFrame, order_col: str, source: str) -> None:
    """Refuse two rows of one sequence at the same position (`grouped`: `_id`, `_order`, `_row` 0-based);
    their order was the file's, silently."""
    dup = grouped.duplicated(["_id", "_order"], keep=False).to_numpy()
    if dup.any():
        first = grouped[dup].iloc[0]
        same = grouped[dup & (grouped["_id"] == first["_id"]).to_numpy() & (grouped["_order"] == first["_order"]).to_numpy()]
        rows = sorted(int(r) + 2 for r in same["_row"])
        sid = first["_id"].item() if isinstance(first["_id"], np.generic) else first["_id"]
        raise DataError(
            f"{source}: sequence {sid!r} has two or more rows at the same position in order column "
            f"`{order_col}` (rows {rows[:5]}); expected each step once ({int(dup.sum())} rows share a position: "
            "duplicated rows, or two sequences under one id?)"
        )


def gap_notices(grouped: pd.DataFrame, order_col: str) -> list[str]:
    """A notice for sequences whose order column skips positions (0, 1, 2, 5, 6: steps apart by other than
    their usual distance); `grouped` is sorted by `_id`, `_order`. The steps are still taken as consecutive."""
    order = pd.Series(np.asarray(grouped["_order"], dtype=np.float64), index=grouped.index)
    diff = order.groupby(grouped["_id"].to_numpy(), sort=False).diff()
    spread = diff.groupby(grouped["_id"].to_numpy(), sort=False).agg(["min", "max"]).dropna()
    uneven = spread[spread["max"] > spread["min"]]
    if uneven.empty:
        return []
    sid = uneven.index[0]
    sid = sid.item() if isinstance(sid, np.generic) else sid
    return [f"{len(uneven)} sequence(s) skip positions in order column `{order_col}` (e.g. sequence {sid!r}: steps "
            f"{uneven['min'].iloc[0]:g} to {uneven['max'].iloc[0]:g} apart); their steps are taken as consecutive"]


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


#: a whole number written with a zero fraction (1.0, -2.00): the label 1, -2
_ZERO_FRACTION = r"^([-+]?\d+)\.0+$"


def label_strings(labels: pd.Series) -> np.ndarray:
    """Labels as the text a class is named by: surrounding spaces removed ("cat " is "cat") and whole
    numbers without a zero fraction (a column read as floats, 1.0, is the class "1", as in a file of 1s)."""
    text = labels.astype(str).str.strip().str.replace(_ZERO_FRACTION, r"\1", regex=True)
    return text.to_numpy(dtype=object)


def check_test_classes(labels: list[Any], tags: list[str | None], source: str, test_source: str, label_col: str) -> None:
    """Refuse labels that only the test file has: the model would get an output for a class it never saw
    in training, and its scores would count those sequences (or steps) as certain misses.

    labels: one label (classify) or an array of step labels (label_steps) per sequence; tags: "test" for
    the test file's sequences."""
    def flat(test: bool) -> set[str]:
        return {str(v) for lab, tag in zip(labels, tags, strict=True) if (tag == "test") == test
                for v in np.atleast_1d(np.asarray(lab, dtype=object))}

    only = sorted(flat(True) - flat(False), key=_label_sort_key)
    if only:
        raise DataError(
            f"{test_source}: label column `{label_col}` has {len(only)} label(s) that the training file {source} "
            f"does not have: {only[:5]}; expected only the training labels {sorted(flat(False), key=_label_sort_key)[:10]} "
            "(a model cannot learn a class it never sees)"
        )


def sequence_digests(xs: list[np.ndarray], labels: list[Any]) -> list[bytes]:
    """One hash per sequence of its values (step for step) and label(s): equal hashes are identical
    sequences whatever their ids. labels: one label (classify) or an array of step labels (label_steps)."""
    def digest(k: int) -> bytes:
        lab = "\x1f".join(str(v) for v in np.atleast_1d(np.asarray(labels[k], dtype=object)))
        x = np.ascontiguousarray(xs[k], dtype=np.float32)
        return hashlib.blake2b(x.tobytes() + str(x.shape).encode() + lab.encode(), digest_size=16).digest()

    return [digest(k) for k in range(len(xs))]


def overlap_notices(ids: list[Any], xs: list[np.ndarray], labels: list[Any], tags: list[str | None],
                    id_col: str, test_source: str, digests: list[bytes] | None = None) -> list[str]:
    """Notices for `--test-data` sequences that the training file also has: step for step the same values
    and label(s) (under any id: the test scores count sequences the model trained on), or only the same id
    with other rows (ids are per file: two sequences). labels: one label (classify) or an array of step
    labels (label_steps) per sequence; tags: "test" for the test file's sequences. One hash per sequence
    (`digests`, from `sequence_digests`, when already computed)."""
    test = [k for k, t in enumerate(tags) if t == "test"]
    if not test:
        return []
    digests = digests if digests is not None else sequence_digests(xs, labels)
    train = [k for k, t in enumerate(tags) if t != "test"]
    seen: dict[bytes, int] = {}
    for k in train:
        seen.setdefault(digests[k], k)
    train_ids = {str(ids[k]) for k in train}
    leaked, alike = [], []
    for k in test:
        twin = seen.get(digests[k])
        if twin is not None:
            same = str(ids[twin]) == str(ids[k])
            leaked.append(repr(str(ids[k])) + ("" if same else f" (training {str(ids[twin])!r})"))
        elif str(ids[k]) in train_ids:
            alike.append(repr(str(ids[k])))
    notices = []
    if leaked:
        notices.append(f"{len(leaked)} of the {len(test)} sequences of the test file {test_source} are also in the "
                       f"training file, step for step with the same label (first: {', '.join(leaked[:5])}); the test "
                       "scores count sequences the model trained on (leave them out of one file)")
    if alike:
        notices.append(f"{len(alike)} sequence id(s) of the test file {test_source} in column `{id_col}` also occur in "
                       f"the training file with other rows (first: {', '.join(alike[:5])}); ids are per file: they "
                       "are different sequences")
    return notices


def split_duplicate_notices(ids: list[Any], split: np.ndarray, digests: list[bytes], test_file: bool = False) -> list[str]:
    """Notices for identical sequences (step for step the same values and label(s), under different ids) that
    the random split put both in training and in the test or validation part: those scores count sequences
    the model trained on. `digests`: `sequence_digests` of the sequences; `test_file`: the test part is a
    `--test-data` file (noted by `overlap_notices`), so only the validation part is checked here."""
    train: dict[bytes, int] = {}
    for k in np.flatnonzero(split == "train"):
        train.setdefault(digests[k], int(k))
    notices = []
    for part, word in (("test", "test"), ("val", "validation")):
        if part == "test" and test_file:
            continue
        rows = np.flatnonzero(split == part)
        twins = [(int(k), train[digests[k]]) for k in rows if digests[k] in train]
        if not twins:
            continue
        shown = ", ".join(f"{str(ids[k])!r} (training {str(ids[t])!r})" for k, t in twins[:5])
        scores = "the test scores count" if part == "test" else "the validation loss (early stopping) counts"
        notices.append(f"{len(twins)} of the {len(rows)} {word} sequences of the random split are identical "
                       f"to training sequences, step for step with the same label, under other ids (first: {shown}); "
                       f"{scores} sequences the model trained on (drop the repeats from the file, or give the test "
                       "sequences as --test-data)")
    return notices


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
    val_share = val_frac / max(1e-9, 1 - test_frac)
    val_idx = _take(rest, val_share) if round(len(rest) * val_share) >= MIN_VAL_SEQUENCES else np.zeros(0, dtype=int)
    split[val_idx] = "val"
    if (split == "train").sum() == 0:
        raise DataError(f"{source}: {len(y)} sequences are too few to split into train / val / test")
    return split
