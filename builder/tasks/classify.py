"""Task `classify`: labelled sequences (long format) -> class probabilities.

Data: one row per step of a sequence (sequence id, optional order, feature columns, label); sequences
padded with NaN at the end to the longest (or `lookback`) and masked in the model, so the served model
takes any length. Head: Dense(C, softmax). Baseline: the majority class of the training part.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from builder.data.columns import sequence_id_column
from builder.data.read import DataError
from builder.data.sequences import (
    SequenceData,
    group_sequences,
    load_sequence_table,
    pad_sequences,
    prepare_sequences,
    unknown_label_notices,
)
from builder.spec import ModelSpec
from builder.tasks.base import Resolved, Task, standing

PARTS = ("train", "val", "test")
#: classes a spec-only model (no data yet) is drawn with
PLACEHOLDER_CLASSES = 2
#: sequence length a spec-only model with a fixed time axis (dimension shuffle) is drawn with
PLACEHOLDER_LOOKBACK = 128


class ClassifyTask(Task):
    evaluate_views = ("confusion", "classes", "explain_sequences")
    masks_padding = True
    keras_metrics = ("accuracy",)
    ensemble_combine = "mean"

    # ---- data ----------------------------------------------------------------------------------------
    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        n_out = int(n_outputs) if n_outputs is not None else PLACEHOLDER_CLASSES
        fixed = spec.fixed_length
        lookback = spec.data.lookback or (PLACEHOLDER_LOOKBACK if fixed else None)
        return Resolved(source="", inputs=tuple(f"x{i}" for i in range(n_features)), lookback=lookback,
                        input_length=lookback if fixed else None, classes=tuple(str(i) for i in range(n_out)))

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> SequenceData:
        df = load_sequence_table(source, spec.data.id_col, name=name)
        test_df = load_sequence_table(test_source, spec.data.id_col) if test_source is not None else None
        return prepare_sequences(df, spec, test_df)

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> SequenceData:
        return prepare_sequences(df, spec)

    def resolve(self, data: SequenceData, source: str | None = None, test_source: str | None = None) -> Resolved:
        return Resolved(
            source=source or data.source, inputs=data.inputs, lookback=data.lookback,
            input_length=data.lookback if data.fixed_length else None, classes=data.classes, id_col=data.id_col,
            order_col=data.order_col, label_col=data.label_col, missing=data.missing,
            x_scaler=data.x_scaler.to_dict(), split={p: int((data.split == p).sum()) for p in PARTS},
            notices=data.notices, test_source=test_source,
        )

    def datasets(self, data: SequenceData, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        from builder.data.windows import sequence_dataset

        t = spec.training
        train = sequence_dataset(data, "train", t.batch_size, shuffle=True, seed=t.seed,
                                 jitter=t.augment_jitter, scaling=t.augment_scaling)
        has_val = bool((data.split == "val").any())
        return train, sequence_dataset(data, "val", t.batch_size) if has_val else None, int((data.split == "train").sum())

    def overview(self, data: SequenceData) -> dict[str, Any]:
        return {"task": self.name, "sequences": {p: int((data.split == p).sum()) for p in PARTS},
                "features": list(data.inputs), "classes": list(data.classes), "lookback": data.lookback,
                "notices": list(data.notices), "n_features": len(data.inputs), "n_outputs": len(data.classes),
                "id_col": data.id_col, "order_col": data.order_col, "label_col": data.label_col}

    def guess_columns(self, df: pd.DataFrame, data: Any) -> dict[str, Any]:
        """id, label and order columns by name (sequence_id, label, t ..., by `role_column`'s priority; the
        label else the last column), features: every other numeric column but row counters (the spec's
        choices first where they fit), as `resolve_sequence_columns` decides."""
        from builder.data.columns import (
            LABEL_NAMES,
            ORDER_NAMES,
            SEQUENCE_ID_NAMES,
            numeric_columns,
            role_column,
            row_counters,
        )

        cols = [str(c) for c in df.columns]

        def named(given: str | None, names: tuple[str, ...]) -> str | None:
            return given if given in cols else role_column(cols, names)

        id_col = named(data.id_col, SEQUENCE_ID_NAMES) or (cols[0] if cols else None)
        label_col = named(data.label_col, LABEL_NAMES) or next((c for c in reversed(cols) if c != id_col), None)
        order_col = named(data.order_col, ORDER_NAMES)
        order_col = None if order_col in (id_col, label_col) else order_col
        numeric = numeric_columns(df, exclude=(id_col, label_col, order_col))
        features = [f for f in data.features if f in numeric] if data.features else \
            [c for c in numeric if c not in row_counters(df)]
        out = {"id_col": id_col, "label_col": label_col, "order_col": order_col, "features": features}
        return {k: v for k, v in out.items() if v is not None}

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        seqs, classes = overview["sequences"], overview["classes"]
        return [
            {"label": "Sequences (train / val / test)", "value": f"{seqs['train']} / {seqs['val']} / {seqs['test']}",
             "help": None},
            {"label": "Classes", "value": str(len(classes)), "help": ", ".join(map(str, classes[:30]))},
            {"label": "Steps × features", "value": f"{overview['lookback']} × {overview['n_features']}", "help": None},
        ]

    # ---- model -----------------------------------------------------------------------------------------
    def head(self, x: Any, scaled: Any, spec: ModelSpec, resolved: Resolved) -> Any:
        import keras

        return keras.layers.Dense(resolved.n_outputs, activation="softmax", name="probabilities")(x)

    def head_params(self, ch: int, spec: ModelSpec, resolved: Resolved) -> int:
        return ch * resolved.n_outputs + resolved.n_outputs

    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        c = resolved.n_outputs
        return [(f"Dense softmax\n{c} classes", "head", f"[batch, {c}]"), ("Output: class probabilities", "io", "")]

    def loss(self, spec: ModelSpec) -> str:
        return "sparse_categorical_crossentropy"

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, data: SequenceData, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """Scores on the test sequences (the validation ones when there is no test part), beside the
        baselines of `data.baselines` fit on the training sequences (builder.tasks.classify_baselines)."""
        from builder.tasks.classify_baselines import classify_baselines, verdict

        part = "test" if (data.split == "test").any() else "val"
        mask = data.split == part
        probs = np.asarray(raw_model.predict(data.x[mask], verbose=0)) if mask.any() else np.zeros((0, len(data.classes)))
        metrics = evaluate_classification(data.y[mask], probs, data.y[data.split == "train"], list(data.classes))
        metrics["part"] = part
        train = data.split == "train" if part == "val" else data.split != "test"
        found, notes = classify_baselines(data.x, data.lengths, data.y, train, mask, len(data.classes),
                                          data.baselines, data.seed)
        metrics.update(found)
        metrics["baseline_notes"] = notes
        metrics["verdict"] = verdict(metrics)
        metrics["misclassified_examples"] = misclassified_examples(data, mask, probs.argmax(axis=1))
        classes = list(data.classes)
        frame = pd.DataFrame({"sequence": data.ids[mask], "actual": [classes[i] for i in data.y[mask]],
                              "predicted": [classes[i] for i in probs.argmax(axis=1)]})
        for k, c in enumerate(classes):
            frame[f"p_{c}"] = probs[:, k]
        return metrics, frame

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        from builder.tasks.classify_baselines import LABELS

        who = {"model": "model", "majority_class": f"majority class ({metrics['majority_class'].get('class')})"}
        who.update({k: v for k, v in LABELS.items() if k != "majority_class" and k in metrics})
        rows = [{"": label, **{c: metrics.get(k, {}).get(c) for c in ("accuracy", "macro_f1")}} for k, label in who.items()]
        return pd.DataFrame(rows).set_index("")

    number_format = ".3f"

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        from builder.tasks.classify_baselines import best_baseline

        m, b = metrics["model"], metrics["majority_class"]
        best = best_baseline(metrics) or ("majority class", b["accuracy"])
        best_f1 = best_baseline(metrics, "macro_f1") or ("majority class", b["macro_f1"])
        return [
            {"label": "Accuracy", "value": f"{m['accuracy']:.3f}", "lower_is_better": False,
             "delta": f"{m['accuracy'] - best[1]:+.3f} vs {best[0]}", "help": metrics.get("verdict", "")},
            {"label": "Macro F1", "value": f"{m['macro_f1']:.3f}", "lower_is_better": False,
             "delta": f"{m['macro_f1'] - best_f1[1]:+.3f} vs {best_f1[0]}", "help": ""},
            {"label": "Test sequences", "value": str(metrics.get("n_sequences", "–")), "delta": None, "help": ""},
        ]

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        return "accuracy", metrics.get("model", {}).get("accuracy")

    def result_summary(self, metrics: dict[str, Any]) -> str:
        line = metrics.get("verdict")
        return (f"Test accuracy {metrics['model']['accuracy']:.3f} vs majority class "
                f"{metrics['majority_class']['accuracy']:.3f}" + (f": {line}." if line else "."))

    def result_kind(self, metrics: dict[str, Any]) -> str:
        from builder.tasks.classify_baselines import best_baseline

        best = best_baseline(metrics)
        return "info" if best is None else standing(metrics["model"]["accuracy"], best[1])

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {"accuracy": metrics["model"]["accuracy"], "macro F1": metrics["model"]["macro_f1"],
                "majority accuracy": metrics["majority_class"]["accuracy"]}

    def cli_table(self, metrics: dict[str, Any]) -> str:
        from builder.tasks.classify_baselines import LABELS

        def fmt(v: Any) -> str:
            return f"{v:10.3f}" if isinstance(v, (int, float)) else f"{'n/a':>10}"

        lines = [f"{'':28}{'accuracy':>10}{'macro-F1':>10}"]
        for key, label in {"model": "model", **LABELS}.items():
            row = metrics.get(key)
            if isinstance(row, dict):
                why = f"  ({row['reason']})" if row.get("reason") else ""
                lines.append(f"{label:28}{fmt(row.get('accuracy'))}{fmt(row.get('macro_f1'))}{why}")
        lines.append(f"({metrics['n_sequences']} {metrics['part']} sequences)")
        lines += [f"note: {n}" for n in metrics.get("baseline_notes", [])]
        if metrics.get("verdict"):
            lines.append(f"verdict: {metrics['verdict']}")
        return "\n".join(lines)

    # ---- serving -------------------------------------------------------------------------------------
    def output_meaning(self, resolved: Resolved) -> str:
        return f"[batch, {resolved.n_outputs}] probabilities of {list(resolved.classes)}"

    def text_columns(self, spec: ModelSpec, columns: list[str]) -> list[str]:
        """The sequence id column (`load_sequence_table`'s)."""
        col = sequence_id_column(columns, spec.data.id_col)
        return [col] if col else []

    def load_new(self, source: Any, name: str | None = None, resolved: Resolved | None = None) -> pd.DataFrame:
        """A CSV to predict, its sequence id column (the run's) kept as the text the file holds."""
        return load_sequence_table(source, resolved.id_col if resolved else None, name=name)

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any) -> pd.DataFrame:
        """One row per sequence: id, predicted class, probability of each class (and the true label if present)."""
        id_col, label_col, order_col = resolved.id_col, resolved.label_col, resolved.order_col
        source = df.attrs.get("source", "data")
        if id_col not in df.columns:
            raise DataError(f"{source}: sequence id column `{id_col}` (used in training) not found; columns are {list(df.columns)}")
        has_label = bool(label_col) and label_col in df.columns
        order = order_col if order_col in df.columns else None
        ids, xs, labels, notices = group_sequences(
            df, id_col, order, list(resolved.inputs), label_col if has_label else None, resolved.missing,
        )
        notices = list(df.attrs.get("notices", [])) + notices
        if order_col and order is None:
            notices.append(f"order column `{order_col}` (used in training) not found; each sequence's steps are "
                           "taken in file order")
        if has_label:
            notices += unknown_label_notices(labels, list(resolved.classes), label_col)
        x, truncated = pad_sequences(xs, int(resolved.lookback), resolved.n_features)
        if truncated:
            notices.append(f"{truncated} sequence(s) longer than the model's {resolved.lookback} steps were cut to "
                           f"their last {resolved.lookback} steps")
        probs = np.asarray(model.predict(x, verbose=0))
        classes = list(resolved.classes)
        out = pd.DataFrame({id_col: ids, "predicted": [classes[i] for i in probs.argmax(axis=1)]})
        if has_label:
            out.insert(1, label_col, labels)
        for k, c in enumerate(classes):
            out[f"p_{c}"] = probs[:, k]
        out.attrs["notices"] = notices
        return out


def evaluate_classification(y: np.ndarray, probs: np.ndarray, y_train: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision / recall / F1 and the confusion matrix (counts) of the
    model, and accuracy and macro-F1 of the majority class of y_train (scikit-learn's metrics).

    y: [N] true class indices; probs: [N, C]; y_train: [M] training class indices.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(range(len(classes)))
    pred = probs.argmax(axis=1)
    majority = int(np.bincount(y_train, minlength=len(classes)).argmax())
    base = np.full_like(y, majority)
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    return {
        "task": "classify", "part": "test", "n_sequences": int(len(y)), "classes": classes,
        "model": {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        },
        "majority_class": {
            "accuracy": float(accuracy_score(y, base)),
            "macro_f1": float(f1_score(y, base, labels=labels, average="macro", zero_division=0)),
            "class": classes[majority],
        },
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
        "per_class": [{"class": c, "precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                       "support": int(support[k])} for k, c in enumerate(classes)],
    }


#: misclassified test sequences stored for the Evaluate page, their points and channels at most
MAX_EXAMPLES, MAX_POINTS, MAX_CHANNELS = 8, 400, 3


def misclassified_examples(data: SequenceData, mask: np.ndarray, pred: np.ndarray) -> list[dict[str, Any]]:
    """Up to MAX_EXAMPLES wrongly classified sequences of the scored part, each beside a correctly
    classified one of the same true class (when there is one): ids, classes and raw values
    [channels][steps] (first MAX_CHANNELS channels, thinned to MAX_POINTS steps)."""
    classes = list(data.classes)
    idx = np.flatnonzero(mask)
    y = data.y[idx]
    right = {int(c): idx[(y == c) & (pred == c)] for c in np.unique(y)}

    def values(i: int) -> list[list[float]]:
        seq = data.x[i, : int(data.lengths[i]), :MAX_CHANNELS]
        step = max(1, -(-len(seq) // MAX_POINTS))
        return [[float(v) if np.isfinite(v) else None for v in seq[::step, c]] for c in range(seq.shape[1])]

    out = []
    for k in np.flatnonzero(pred != y)[:MAX_EXAMPLES]:
        i, true = int(idx[k]), int(y[k])
        partner = right.get(true, np.zeros(0, dtype=int))
        out.append({"id": str(data.ids[i]), "actual": classes[true], "predicted": classes[int(pred[k])],
                    "values": values(i), "channels": list(data.inputs[:MAX_CHANNELS]),
                    "correct_id": str(data.ids[partner[0]]) if len(partner) else None,
                    "correct_values": values(int(partner[0])) if len(partner) else None})
    return out
