"""Task `label_steps`: synced many-to-many, a label for every step of a sequence.

Data: long format, one row per step (sequence id, optional order, feature columns, a label on every
row); the label may change within a sequence. Sequences are split by sequence (never a sequence in two
parts), padded with NaN at the end (per batch in training) and masked in the model; their label arrays
are padded with -1, which the loss (`ignore_class=-1`) and every metric leave out.
Head: Dense(C, softmax) at every step. Baselines: the training part's majority label, and a logistic
regression on the scaled features of a window of steps around each step (scikit-learn).

Shapes: N sequences, L longest sequence, F features, C labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from builder.data.columns import resolve_sequence_columns, sequence_id_column
from builder.data.read import DataError
from builder.data.scaler import Scaler
from builder.data.sequences import (
    MAX_CLASSES,
    _label_sort_key,
    _split_sequences,
    case_notices,
    check_long_format,
    check_test_classes,
    feature_notices,
    label_strings,
    load_sequence_table,
    long_rows,
    order_notices,
    overlap_notices,
    pad_sequences,
    sequence_digests,
    split_duplicate_notices,
    unknown_label_notices,
)
from builder.data.series import check_window_count
from builder.spec import ModelSpec
from builder.tasks.base import Resolved, Task, standing

PARTS = ("train", "val", "test")
#: label index of a padded step (ignored by the loss and the metrics)
PAD_LABEL = -1
#: steps on each side of a step that the windowed logistic-regression baseline reads
BASELINE_HALF_WINDOW = 2
#: labels a spec-only model (no data yet) is drawn with
PLACEHOLDER_LABELS = 2


@dataclass(frozen=True)
class StepData:
    """Sequences with a label per step, never changed after construction.

    x: [N, L, F] float32 raw values, NaN-padded at the end; y: [N, L] int label indices, PAD_LABEL on
    padding; ids: [N]; lengths: [N]; split: [N] "train" / "val" / "test"; rows: [N] arrays of each step's
    row number in the file (for predictions per row). `x_scaler` is fit on the training part's real steps.
    """

    source: str
    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    lengths: np.ndarray
    split: np.ndarray
    classes: tuple[str, ...]
    inputs: tuple[str, ...]
    id_col: str
    order_col: str | None
    label_col: str
    x_scaler: Scaler
    missing: str
    notices: tuple[str, ...] = ()
    seed: int = 0

    @property
    def lookback(self) -> int:
        return int(self.x.shape[1])


def group_steps(frame: pd.DataFrame, id_col: str, order_col: str | None, features: list[str],
                label_col: str | None, missing: str = "interpolate",
                ) -> tuple[list[Any], list[np.ndarray], list[np.ndarray], list[np.ndarray], list[str]]:
    """Long rows -> (ids, sequences [len_i, F] float32, labels [len_i] str (empty without label_col),
    file row indices [len_i], notices); rows ordered by `order_col` within a sequence (file order if None).

    A missing label is a DataError naming the file, the first rows (1-based, header = row 1) and the column.
    """
    g, notices = long_rows(frame, id_col, order_col, features, label_col, missing, "label_steps",
                           "task label_steps needs a label on every row")
    ids, xs, ys, rows = [], [], [], []
    for sid, part in g.groupby("_id", sort=False):
        ids.append(sid)
        xs.append(part[features].to_numpy(dtype=np.float32))
        ys.append(part["_label"].to_numpy() if label_col else np.zeros(0, dtype=object))
        rows.append(part["_row"].to_numpy())
    return ids, xs, ys, rows, notices


def prepare_steps(df: pd.DataFrame, spec: ModelSpec, test_df: pd.DataFrame | None = None) -> StepData:
    """Group rows into sequences with per-step labels, split by sequence, fit the scaler on training steps."""
    settings = spec.data
    source = df.attrs.get("source", "data")
    id_col, order_col, label_col, features = resolve_sequence_columns(df, settings)
    parts = [(df, None)] if test_df is None else [(df, "trainval"), (test_df, "test")]
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ids: list[Any] = []
    tags: list[str | None] = []
    notices = list(df.attrs.get("notices", []))
    for frame, tag in parts:
        f_ids, f_xs, f_ys, _, miss = group_steps(frame, id_col, order_col, features, label_col, settings.missing)
        xs, ys, ids, tags, notices = xs + f_xs, ys + f_ys, ids + f_ids, tags + [tag] * len(f_xs), notices + miss
    check_window_count(len(xs), "sequences", source)
    check_long_format([len(x) for x in xs], id_col, source)
    notices += order_notices(order_col, [len(x) for x in xs])
    notices += feature_notices(df, order_col, label_col, features, settings.features is not None)
    digests = sequence_digests(xs, ys)
    if test_df is not None:
        check_test_classes(ys, tags, source, test_df.attrs.get("source", "test data"), label_col)
        notices += overlap_notices(ids, xs, ys, tags, id_col, test_df.attrs.get("source", "test data"), digests)
    classes = sorted({str(v) for y in ys for v in y}, key=_label_sort_key)
    notices += case_notices(classes, label_col)
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{source}: label column `{label_col}` has {len(classes)} distinct values; expected at most "
                        f"{MAX_CLASSES} labels (is it an id or a measured number rather than a label?)")
    if len(classes) < 2:
        raise DataError(f"{source}: label column `{label_col}` has a single label {classes}; expected at least two")
    lookback = settings.lookback or max(len(x) for x in xs)
    x, truncated = pad_sequences(xs, lookback, len(features))
    if truncated:
        notices.append(f"{truncated} sequence(s) longer than {lookback} steps were cut to their last {lookback} steps")
    index = {c: k for k, c in enumerate(classes)}
    y = np.full((len(ys), lookback), PAD_LABEL, dtype=np.int64)
    for i, labs in enumerate(ys):
        labs = labs[-lookback:]
        y[i, : len(labs)] = [index[str(v)] for v in labs]
    lengths = np.array([min(len(s), lookback) for s in xs])
    split = _split_sequences(np.zeros(len(xs), dtype=np.int64), np.array(tags, dtype=object), settings,
                             spec.training.seed, source)
    notices += split_duplicate_notices(ids, split, digests, test_df is not None)
    trained = {int(k) for k in np.unique(y[split == "train"])} - {PAD_LABEL}
    untrained = [c for k, c in enumerate(classes) if k not in trained]
    if len(trained) < 2:
        raise DataError(f"{source}: the training part's sequences have a single label {[classes[k] for k in trained]} in "
                        f"column `{label_col}`; {untrained[:5]} occur only in sequences split off for validation or test "
                        "(too few sequences carry them); expected at least two labels in training")
    if untrained:
        notices.append(f"label(s) {untrained[:5]} of column `{label_col}` occur in no training sequence (too few "
                       "sequences carry them); the model cannot learn them")
    train_rows = x[split == "train"].reshape(-1, len(features))
    train_rows = train_rows[~np.isnan(train_rows).all(axis=1)]
    return StepData(source=source, x=x, y=y, ids=np.array(ids), lengths=lengths, split=split, classes=tuple(classes),
                    inputs=tuple(features), id_col=id_col, order_col=order_col, label_col=label_col,
                    x_scaler=Scaler(settings.scaler).fit(train_rows), missing=settings.missing,
                    notices=tuple(notices), seed=spec.training.seed)


def step_dataset(data: StepData, part: str, batch_size: int, shuffle: bool = False, seed: int = 0) -> Any:
    """tf.data pipeline of (x [B, T, F] raw, NaN-padded, y [B, T] label index, PAD_LABEL on padding) for one
    part, padded per batch to its longest sequence (T <= L)."""
    import tensorflow as tf

    from builder.data.windows import finish_pipeline

    idx = np.flatnonzero(data.split == part)
    n_f = len(data.inputs)

    def gen() -> Any:
        for i in idx:
            n = int(data.lengths[i])
            yield data.x[i, :n], data.y[i, :n]

    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec((None, n_f), tf.float32), tf.TensorSpec((None,), tf.int64)))
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(idx)))
    if shuffle:
        ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
    ds = ds.padded_batch(batch_size, padded_shapes=([None, n_f], [None]),
                         padding_values=(np.float32(np.nan), np.int64(PAD_LABEL)))
    return finish_pipeline(ds)


def step_scores(y: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 over the real steps: y, pred [N, L] (or flat), steps where y == PAD_LABEL left out.

    Macro-F1 averages over the labels that occur in the true or the predicted steps (of the `n_classes`):
    a label absent from both (a small test part) would add an F1 of 0 that says nothing about the model.
    """
    from sklearn.metrics import accuracy_score, f1_score

    real = y != PAD_LABEL
    yt, yp = y[real], pred[real]
    labels = [k for k in range(n_classes) if (yt == k).any() or (yp == k).any()]
    return {"accuracy": float(accuracy_score(yt, yp)),
            "macro_f1": float(f1_score(yt, yp, labels=labels, average="macro", zero_division=0))}


def window_features(scaled: np.ndarray, lengths: np.ndarray, half: int = BASELINE_HALF_WINDOW) -> np.ndarray:
    """Each real step's scaled features and those of `half` steps either side (zeros beyond the sequence).

    scaled: [N, L, F] (padding anything) -> [sum(lengths), (2 half + 1) F], sequences in order.
    """
    out = []
    for i, n in enumerate(lengths):
        seq = np.nan_to_num(scaled[i, : int(n)])
        padded = np.concatenate([np.zeros((half, seq.shape[1])), seq, np.zeros((half, seq.shape[1]))])
        out.append(np.concatenate([padded[k: k + n] for k in range(2 * half + 1)], axis=1))
    return np.concatenate(out) if out else np.zeros((0, scaled.shape[2] * (2 * half + 1)))


def step_baselines(data: StepData, train: np.ndarray, scored: np.ndarray) -> dict[str, Any]:
    """Majority label of the training steps and a windowed logistic regression (scikit-learn, fit on the
    training steps' features of BASELINE_HALF_WINDOW steps either side), scored on the `scored` sequences."""
    from sklearn.linear_model import LogisticRegression

    n_c = len(data.classes)
    y_train = data.y[train][data.y[train] != PAD_LABEL]
    y_true = data.y[scored]
    majority = int(np.bincount(y_train, minlength=n_c).argmax())
    out: dict[str, Any] = {"majority_label": {**step_scores(y_true, np.full_like(y_true, majority), n_c),
                                              "label": data.classes[majority]}}
    scaled = data.x_scaler.transform(data.x.reshape(-1, data.x.shape[2])).reshape(data.x.shape)
    x_tr = window_features(scaled[train], data.lengths[train])
    clf = LogisticRegression(max_iter=500).fit(x_tr, y_train)
    pred = clf.predict(window_features(scaled[scored], data.lengths[scored]))
    out["window_logreg"] = {**step_scores(y_true[y_true != PAD_LABEL], pred, n_c),
                            "window": 2 * BASELINE_HALF_WINDOW + 1}
    return out


class LabelStepsTask(Task):
    evaluate_views = ("confusion", "step_sequence")
    masks_padding = True
    #: every recurrent layer returns its sequence and the head runs at every step
    per_step = True

    # ---- data ----------------------------------------------------------------------------------------
    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        n_out = int(n_outputs) if n_outputs is not None else PLACEHOLDER_LABELS
        return Resolved(source="", inputs=tuple(f"x{i}" for i in range(n_features)), lookback=spec.data.lookback or None,
                        input_length=None, classes=tuple(str(i) for i in range(n_out)))

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> StepData:
        return prepare_steps(load_sequence_table(source, spec.data.id_col, name=name), spec,
                             load_sequence_table(test_source, spec.data.id_col) if test_source is not None else None)

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> StepData:
        return prepare_steps(df, spec)

    def resolve(self, data: StepData, source: str | None = None, test_source: str | None = None) -> Resolved:
        return Resolved(source=source or data.source, inputs=data.inputs, lookback=data.lookback, input_length=None,
                        classes=data.classes, id_col=data.id_col, order_col=data.order_col, label_col=data.label_col,
                        missing=data.missing, x_scaler=data.x_scaler.to_dict(),
                        split={p: int((data.split == p).sum()) for p in PARTS}, notices=data.notices,
                        test_source=test_source)

    def datasets(self, data: StepData, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        t = spec.training
        has_val = bool((data.split == "val").any())
        return (step_dataset(data, "train", t.batch_size, shuffle=True, seed=t.seed),
                step_dataset(data, "val", t.batch_size) if has_val else None, int((data.split == "train").sum()))

    def overview(self, data: StepData) -> dict[str, Any]:
        real = data.y[data.y != PAD_LABEL]
        changes = int(sum((np.diff(data.y[i, : n]) != 0).sum() for i, n in enumerate(data.lengths)))
        return {"task": self.name, "sequences": {p: int((data.split == p).sum()) for p in PARTS},
                "features": list(data.inputs), "classes": list(data.classes), "lookback": data.lookback,
                "steps": int(len(real)), "label_changes": changes,
                "label_counts": {c: int((real == k).sum()) for k, c in enumerate(data.classes)},
                "notices": list(data.notices), "n_features": len(data.inputs), "n_outputs": len(data.classes),
                "id_col": data.id_col, "order_col": data.order_col, "label_col": data.label_col}

    def guess_columns(self, df: pd.DataFrame, data: Any) -> dict[str, Any]:
        """As classify: id, label and order columns by name, features every other numeric column."""
        from builder.tasks.registry import get_task

        return get_task("classify").guess_columns(df, data)

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        seqs, classes = overview["sequences"], overview["classes"]
        return [
            {"label": "Sequences (train / val / test)", "value": f"{seqs['train']} / {seqs['val']} / {seqs['test']}",
             "help": None},
            {"label": "Labels", "value": str(len(classes)), "help": ", ".join(map(str, classes[:30]))},
            {"label": "Labelled steps", "value": str(overview["steps"]),
             "help": f"{overview['label_changes']} label changes within sequences"},
        ]

    # ---- model -----------------------------------------------------------------------------------------
    def head(self, x: Any, scaled: Any, spec: ModelSpec, resolved: Resolved) -> Any:
        """x [B, T, ch] -> per-step probabilities [B, T, C] (the mask of the padding carries through)."""
        import keras

        return keras.layers.Dense(resolved.n_outputs, activation="softmax", name="step_probabilities")(x)

    def head_params(self, ch: int, spec: ModelSpec, resolved: Resolved) -> int:
        return ch * resolved.n_outputs + resolved.n_outputs

    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        c = resolved.n_outputs
        return [(f"Dense softmax per step\n{c} labels", "head", f"[batch, time, {c}]"),
                ("Output: label probabilities per step", "io", "")]

    def loss(self, spec: ModelSpec) -> Any:
        import keras

        return keras.losses.SparseCategoricalCrossentropy(ignore_class=PAD_LABEL)

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, data: StepData, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """Per-step scores on the test sequences (validation ones when there is no test part) beside the
        baselines fit on the other sequences; predictions one row per real step."""
        from sklearn.metrics import confusion_matrix

        part = "test" if (data.split == "test").any() else "val"
        scored = data.split == part
        train = data.split == "train" if part == "val" else data.split != "test"
        probs = np.asarray(raw_model.predict(data.x[scored], verbose=0))
        pred = probs.argmax(axis=-1)
        y = data.y[scored]
        n_c = len(data.classes)
        real = y != PAD_LABEL
        metrics: dict[str, Any] = {
            "task": self.name, "part": part, "classes": list(data.classes),
            "n_sequences": int(scored.sum()), "n_steps": int(real.sum()),
            "model": step_scores(y, pred, n_c),
            "confusion_matrix": confusion_matrix(y[real], pred[real], labels=list(range(n_c))).tolist(),
        }
        metrics.update(step_baselines(data, train, scored))
        classes = list(data.classes)
        seq = np.repeat(data.ids[scored], real.sum(axis=1))
        step = np.concatenate([np.arange(int(n)) for n in real.sum(axis=1)]) if len(y) else np.zeros(0, int)
        frame = pd.DataFrame({"sequence": seq, "step": step, "actual": [classes[i] for i in y[real]],
                              "predicted": [classes[i] for i in pred[real]]})
        for k, c in enumerate(classes):
            frame[f"p_{c}"] = probs[..., k][real]
        return metrics, frame

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        rows = [{"": label, **{c: metrics.get(k, {}).get(c) for c in ("accuracy", "macro_f1")}}
                for k, label in self._who(metrics).items()]
        return pd.DataFrame(rows).set_index("")

    @staticmethod
    def _who(metrics: dict[str, Any]) -> dict[str, str]:
        return {"model": "model",
                "majority_label": f"majority label ({metrics.get('majority_label', {}).get('label')})",
                "window_logreg": f"logistic regression, window {metrics.get('window_logreg', {}).get('window')}"}

    number_format = ".3f"

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        m, b, w = metrics["model"], metrics["majority_label"], metrics["window_logreg"]
        return [
            {"label": "Step accuracy", "value": f"{m['accuracy']:.3f}", "lower_is_better": False,
             "delta": f"{m['accuracy'] - w['accuracy']:+.3f} vs windowed logistic regression",
             "help": f"majority label: {b['accuracy']:.3f}"},
            {"label": "Step macro F1", "value": f"{m['macro_f1']:.3f}", "lower_is_better": False,
             "delta": f"{m['macro_f1'] - w['macro_f1']:+.3f} vs windowed logistic regression", "help": ""},
            {"label": "Test steps", "value": str(metrics.get("n_steps", "–")), "delta": None,
             "help": f"{metrics.get('n_sequences')} sequences"},
        ]

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        return "step accuracy", metrics.get("model", {}).get("accuracy")

    def result_summary(self, metrics: dict[str, Any]) -> str:
        return (f"Test step accuracy {metrics['model']['accuracy']:.3f} vs windowed logistic regression "
                f"{metrics['window_logreg']['accuracy']:.3f} and majority label {metrics['majority_label']['accuracy']:.3f}.")

    def result_kind(self, metrics: dict[str, Any]) -> str:
        best = max(metrics[k]["accuracy"] for k in ("window_logreg", "majority_label"))
        return standing(metrics["model"]["accuracy"], best)

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {"step accuracy": metrics["model"]["accuracy"], "step macro F1": metrics["model"]["macro_f1"],
                "majority accuracy": metrics["majority_label"]["accuracy"]}

    def cli_table(self, metrics: dict[str, Any]) -> str:
        lines = [f"{'':34}{'accuracy':>10}{'macro-F1':>10}"]
        for key, label in self._who(metrics).items():
            row = metrics.get(key) or {}
            lines.append(f"{label:34}{row.get('accuracy', float('nan')):10.3f}{row.get('macro_f1', float('nan')):10.3f}")
        lines.append(f"({metrics['n_steps']} steps of {metrics['n_sequences']} {metrics['part']} sequences)")
        return "\n".join(lines)

    # ---- serving -------------------------------------------------------------------------------------
    def output_meaning(self, resolved: Resolved) -> str:
        return (f"[batch, time, {resolved.n_outputs}] probabilities of {list(resolved.classes)} at every step "
                "(padded steps: ignore)")

    def text_columns(self, spec: ModelSpec, columns: list[str]) -> list[str]:
        """The sequence id column (`load_sequence_table`'s)."""
        col = sequence_id_column(columns, spec.data.id_col)
        return [col] if col else []

    def load_new(self, source: Any, name: str | None = None, resolved: Resolved | None = None) -> pd.DataFrame:
        """A CSV to predict, its sequence id column (the run's) kept as the text the file holds."""
        return load_sequence_table(source, resolved.id_col if resolved else None, name=name)

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any) -> pd.DataFrame:
        """One row per input row, in file order: id, (order,) true label if present, predicted label, p_<label>."""
        id_col, label_col, order_col = resolved.id_col, resolved.label_col, resolved.order_col
        source = df.attrs.get("source", "data")
        if id_col not in df.columns:
            raise DataError(f"{source}: sequence id column `{id_col}` (used in training) not found; columns are {list(df.columns)}")
        order = order_col if order_col in df.columns else None
        _, xs, _, rows, notices = group_steps(df, id_col, order, list(resolved.inputs), None, resolved.missing)
        notices = list(df.attrs.get("notices", [])) + notices
        if order_col and order is None:
            notices.append(f"order column `{order_col}` (used in training) not found; each sequence's steps are "
                           "taken in file order")
        if label_col and label_col in df.columns:  # labels are optional here: the empty ones are left out
            given = df[label_col][df[label_col].notna() & (df[label_col].astype(str).str.strip() != "")]
            notices += unknown_label_notices(label_strings(given), list(resolved.classes), label_col)
        x, _ = pad_sequences(xs, max(len(s) for s in xs), resolved.n_features)
        probs = np.asarray(model.predict(x, verbose=0))
        row_probs = np.zeros((len(df), resolved.n_outputs), dtype=np.float32)
        for i, r in enumerate(rows):
            row_probs[r] = probs[i, : len(r)]
        classes = list(resolved.classes)
        out = pd.DataFrame({id_col: df[id_col].to_numpy()})
        if order:
            out[order] = df[order].to_numpy()
        if label_col in df.columns:
            out[label_col] = df[label_col].to_numpy()
        out["predicted"] = [classes[i] for i in row_probs.argmax(axis=1)]
        for k, c in enumerate(classes):
            out[f"p_{c}"] = row_probs[:, k]
        out.attrs["notices"] = notices
        return out
