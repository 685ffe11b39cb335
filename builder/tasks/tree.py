"""Task `tree`: a node table (one row per node) -> a label per tree or per node, read by a Tree-LSTM.

Data: builder.data.trees (validation, vocabulary, split by tree). Targets: tree classification from
the root's state, tree regression, or node classification / regression (a label on every node).
The model (builder.model.tree) takes flat batches of trees: parent index, tree id and token id per
node, and numeric features when the data has them. Baselines: the majority class (or the training
mean) and a sequence LSTM over the same tokens in pre-order with brackets, trained the same way
(builder.tasks.tree_baselines). Metrics: accuracy (or MAE / RMSE) of trees (the root) and of nodes,
accuracy by tree depth, the confusion matrix.

What differs from the sequence tasks, through the Task interface: `structure = "tree"` in the
registry entry (model building and the size estimate dispatch on it), `xla = False` (the level loop's
shapes depend on the data), `serving_inputs` (four flat arrays instead of one window) and `batches`
(prediction batch by batch, since a batch's node and tree counts differ).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from builder.data.read import DataError, load_table
from builder.data.trees import (
    TreeData,
    _text,
    detect_tree_columns,
    encode_labels,
    load_tree_table,
    prepare_trees,
    read_forest,
    token_ids,
    tree_batch,
    tree_id_columns,
    tree_settings,
    unseen_token_notices,
)
from builder.spec import ModelSpec
from builder.tasks.base import Resolved, Task, standing

PARTS = ("train", "val", "test")
PLACEHOLDER_CLASSES = 2
PLACEHOLDER_VOCABULARY = 100
#: trees per prediction batch
PREDICT_TREES = 256


class TreeTask(Task):
    evaluate_views = ("tree_depth", "confusion")
    keras_metrics = ()
    xla = False
    convert_refusal = "its SavedModel takes flat node arrays (`parent`, `tree`, `tokens` or per-node features)"

    # ---- data ----------------------------------------------------------------------------------------
    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        n_out = int(n_outputs) if n_outputs is not None else PLACEHOLDER_CLASSES
        block = spec.recurrent_blocks[0]
        return Resolved(source="", inputs=(), lookback=None, input_length=None,
                        classes=tuple(str(i) for i in range(n_out)),
                        vocabulary=tuple(f"t{i}" for i in range(PLACEHOLDER_VOCABULARY)),
                        tree={"level": "tree", "token_col": "token", "regression": False,
                              "arity": block.arity or 2 if block.cell == "nary_tree_lstm" else None})

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> TreeData:
        df = load_tree_table(source, spec.data, name=name)
        return prepare_trees(df, spec, load_tree_table(test_source, spec.data) if test_source is not None else None)

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> TreeData:
        return prepare_trees(df, spec)

    def text_columns(self, spec: ModelSpec, columns: list[str]) -> list[str]:
        """The tree, node and parent id columns (`load_tree_table`'s)."""
        return tree_id_columns(columns, tree_settings(spec.data))

    def load_new(self, source: Any, name: str | None = None, resolved: Resolved | None = None) -> pd.DataFrame:
        """A node table to predict, its id columns (the run's) kept as the text the file holds."""
        t = (resolved.tree or {}) if resolved else {}
        roles = {"tree_col": resolved.id_col if resolved else None, "node_col": t.get("node_col"),
                 "parent_col": t.get("parent_col")}
        return load_table(source, name=name, text_columns=lambda cols: tree_id_columns(cols, roles))

    def resolve(self, data: TreeData, source: str | None = None, test_source: str | None = None) -> Resolved:
        c = data.cols
        y = data.y_scaler.to_dict() if data.y_scaler is not None else None
        return Resolved(
            source=source or data.source, inputs=c.features, lookback=None, input_length=None,
            targets=(c.label_col,) if data.regression else (), classes=data.classes, id_col=c.tree_col,
            label_col=c.label_col, x_scaler=data.x_scaler.to_dict() if data.x_scaler is not None else None,
            y_scaler=y, split={p: int((data.split == p).sum()) for p in PARTS}, notices=data.notices,
            test_source=test_source or data.test_source, vocabulary=data.vocabulary,
            tree={"node_col": c.node_col, "parent_col": c.parent_col, "token_col": c.token_col,
                  "level": data.level, "regression": data.regression, "arity": data.arity,
                  "max_depth": int(data.depth.max(initial=0)), "max_children": data.max_children},
        )

    def datasets(self, data: TreeData, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        t = spec.training
        train = tree_dataset(data, "train", t.batch_size, shuffle=True, seed=t.seed)
        has_val = bool((data.split == "val").any())
        return train, tree_dataset(data, "val", t.batch_size) if has_val else None, int((data.split == "train").sum())

    def overview(self, data: TreeData) -> dict[str, Any]:
        c = data.cols
        return {"task": self.name, "trees": {p: int((data.split == p).sum()) for p in PARTS},
                "nodes": int(len(data.parent)), "max_depth": int(data.depth.max(initial=0)),
                "max_children": data.max_children, "vocabulary": len(data.vocabulary),
                "features": list(c.features), "classes": list(data.classes), "level": data.level,
                "regression": data.regression, "notices": list(data.notices), "n_features": len(c.features),
                "n_outputs": 1 if data.regression else len(data.classes), "tree_col": c.tree_col,
                "node_col": c.node_col, "parent_col": c.parent_col, "token_col": c.token_col, "label_col": c.label_col}

    #: form key -> role of builder.data.trees.ROLE_NAMES
    FORM_ROLES = {"id_col": "tree_col", "node_col": "node_col", "parent_col": "parent_col", "token_col": "token_col",
                  "label_col": "label_col"}

    def guess_columns(self, df: pd.DataFrame, data: Any) -> dict[str, Any]:
        """Each role's column: the spec's choice where it names a column, else the first name of
        builder.data.trees.ROLE_NAMES found (tree_id, node_id, parent_id, token, label ...)."""
        from builder.data.trees import ROLE_NAMES

        cols = [str(c) for c in df.columns]
        lower = {c.lower(): c for c in cols}
        out: dict[str, Any] = {}
        for key, role in self.FORM_ROLES.items():
            given = getattr(data, key, None)
            col = given if given in cols else next((lower[n] for n in ROLE_NAMES[role] if n in lower), None)
            if col is not None:
                out[key] = col
        return out

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        ov, trees = overview, overview["trees"]
        target = "a value" if ov["regression"] else f"{len(ov['classes'])} classes"
        return [
            {"label": "Trees (train / val / test)", "value": f"{trees['train']} / {trees['val']} / {trees['test']}",
             "help": None},
            {"label": "Nodes", "value": f"{ov['nodes']:,}",
             "help": f"deepest tree: {ov['max_depth']} levels; most children: {ov['max_children']}"},
            {"label": "Vocabulary", "value": str(ov["vocabulary"]), "help": "tokens of the training trees, plus <unk>"},
            {"label": "Target", "value": f"{target} per {ov['level']}", "help": None},
        ]

    # ---- model -----------------------------------------------------------------------------------------
    def head(self, x: Any, scaled: Any, spec: ModelSpec, resolved: Resolved) -> Any:
        import keras

        if _regression(resolved):
            return keras.layers.Dense(1, name="value")(x)
        return keras.layers.Dense(resolved.n_outputs, activation="softmax", name="probabilities")(x)

    def head_params(self, ch: int, spec: ModelSpec, resolved: Resolved) -> int:
        k = 1 if _regression(resolved) else resolved.n_outputs
        return ch * k + k

    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        per = "node" if (resolved.tree or {}).get("level") == "node" else "tree"
        if _regression(resolved):
            return [("Dense\n1 value", "head", f"[{per}s, 1]"), (f"Output: a value per {per}", "io", "")]
        c = resolved.n_outputs
        return [(f"Dense softmax\n{c} classes", "head", f"[{per}s, {c}]"), (f"Output: class probabilities per {per}", "io", "")]

    def raw_output(self, model: Any, resolved: Resolved) -> Any:
        if not _regression(resolved):
            return model
        import keras

        from builder.data.scaler import Scaler
        from builder.model.layers import Unstandardize

        scaler = Scaler.from_dict(resolved.y_scaler)
        layer = Unstandardize(1, name="unstandardize")
        out = layer(model.output)
        layer.set_statistics(scaler.offset_, scaler.scale_)
        return keras.Model(model.inputs, out, name=f"{model.name}_raw")

    def loss(self, spec: ModelSpec) -> str:
        loss = spec.training.loss
        if loss in ("mse", "mae", "huber"):
            return loss
        return "sparse_categorical_crossentropy"

    def compile_loss(self, spec: ModelSpec, resolved: Resolved) -> str:
        """The Keras loss for the resolved target (auto: cross-entropy for classes, mse for numbers)."""
        if _regression(resolved):
            return spec.training.loss if spec.training.loss in ("mse", "mae", "huber") else "mse"
        return "sparse_categorical_crossentropy"

    def serving_inputs(self, resolved: Resolved) -> list[dict[str, Any]]:
        """The SavedModel's inputs: name, dtype, shape and meaning of each flat array."""
        t = resolved.tree or {}
        out = [{"name": "parent", "dtype": "int32", "shape": [None],
                "meaning": "index of each node's parent in the batch's node arrays, -1 at a root"},
               {"name": "tree", "dtype": "int32", "shape": [None],
                "meaning": "the tree of each node, 0..B-1 (B trees in the batch)"}]
        if t.get("token_col"):
            out.append({"name": "tokens", "dtype": "int32", "shape": [None],
                        "meaning": f"token id of each node: its index in resolved.vocabulary (0 = {resolved.vocabulary[0] if resolved.vocabulary else '<unk>'})"})
        if resolved.n_features:
            out.append({"name": "features", "dtype": "float32", "shape": [None, resolved.n_features],
                        "meaning": f"raw values of {list(resolved.inputs)} per node"})
        return out

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, data: TreeData, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """Scores of the model and the baselines on the test trees (the validation ones without a test part)."""
        from builder.tasks.tree_baselines import sequence_lstm_baseline

        part = "test" if (data.split == "test").any() else "val"
        trees = np.flatnonzero(data.split == part)
        pred_tree, pred_node, rows = _predict_trees(data, trees, raw_model)
        b = tree_batch(data.offsets, data.parent, data.tokens, data.features, trees)
        roots = b.node_rows[b.parent < 0]
        depth = data.depth[trees]
        true_tree = data.y_tree[trees]
        true_node = data.y_node[rows] if data.level == "node" else None
        units = int(raw_model.get_layer("tree_lstm").cell.units)
        seq = sequence_lstm_baseline(data, units, part)
        train_trees = data.split == "train"
        metrics: dict[str, Any] = {"task": "tree", "part": part, "n_trees": int(len(trees)), "n_nodes": int(len(rows)),
                                   "level": data.level, "regression": data.regression, "classes": list(data.classes)}
        if data.regression:
            mean = float(np.mean(data.y_node[np.repeat(train_trees, np.diff(data.offsets))] if data.level == "node"
                                 else data.y_tree[train_trees]))
            metrics["model"] = _regression_scores(true_tree, pred_tree, true_node, pred_node, depth)
            metrics["mean"] = _regression_scores(true_tree, np.full_like(true_tree, mean), true_node,
                                                 None if true_node is None else np.full_like(true_node, mean), depth)
            metrics["mean"]["value"] = mean
            metrics["sequence_lstm"] = _regression_scores(true_tree, seq["pred_tree"], true_node, seq["pred_node"], depth)
        else:
            train_y = data.y_node[np.repeat(train_trees, np.diff(data.offsets))] if data.level == "node" else data.y_tree[train_trees]
            majority = int(np.bincount(train_y, minlength=len(data.classes)).argmax())
            metrics["model"] = _class_scores(true_tree, pred_tree, true_node, pred_node, depth)
            metrics["majority_class"] = _class_scores(
                true_tree, np.full_like(true_tree, majority), true_node,
                None if true_node is None else np.full_like(true_node, majority), depth)
            metrics["majority_class"]["class"] = data.classes[majority]
            metrics["sequence_lstm"] = _class_scores(true_tree, seq["pred_tree"], true_node, seq["pred_node"], depth)
            from sklearn.metrics import confusion_matrix

            labels = list(range(len(data.classes)))
            metrics["confusion_matrix"] = confusion_matrix(true_tree, pred_tree, labels=labels).tolist()
            if true_node is not None:
                metrics["node_confusion_matrix"] = confusion_matrix(true_node, pred_node, labels=labels).tolist()
        metrics["sequence_lstm"]["seconds"] = seq["seconds"]
        metrics["sequence_lstm"]["epochs"] = seq["epochs"]
        frame = pd.DataFrame({"tree": data.tree_ids[trees], "depth": depth,
                              "actual": _decode(data, true_tree), "predicted": _decode(data, pred_tree)})
        if data.level == "node":
            node_tree = np.repeat(np.arange(data.n_trees), np.diff(data.offsets))[rows]
            frame = pd.DataFrame({"tree": data.tree_ids[node_tree], "node": data.node_ids[rows],
                                  "node_depth": data.node_depth[rows], "is_root": data.parent[rows] < 0,
                                  "actual": _decode(data, true_node), "predicted": _decode(data, pred_node)})
        del roots
        return metrics, frame

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        rows = []
        for key, label in _who(metrics).items():
            m = metrics.get(key, {})
            rows.append({"": label, **{c: m.get(c) for c in _columns(metrics)}})
        return pd.DataFrame(rows).set_index("")

    number_format = ".3f"

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        m, s = metrics["model"], metrics["sequence_lstm"]
        if metrics.get("regression"):
            return [{"label": "Tree MAE", "value": f"{m['mae']:.4g}", "lower_is_better": True,
                     "delta": f"{m['mae'] - s['mae']:+.4g} vs sequence LSTM", "help": ""},
                    {"label": "Tree RMSE", "value": f"{m['rmse']:.4g}", "lower_is_better": True, "delta": None, "help": ""},
                    {"label": "Test trees", "value": str(metrics.get("n_trees", "–")), "delta": None, "help": ""}]
        b = metrics["majority_class"]
        cards = [{"label": "Tree accuracy", "value": f"{m['accuracy']:.3f}", "lower_is_better": False,
                  "delta": f"{m['accuracy'] - s['accuracy']:+.3f} vs sequence LSTM",
                  "help": f"sequence LSTM {s['accuracy']:.3f}, majority class {b['accuracy']:.3f}"}]
        if m.get("node_accuracy") is not None:
            cards.append({"label": "Node accuracy", "value": f"{m['node_accuracy']:.3f}", "lower_is_better": False,
                          "delta": f"{m['node_accuracy'] - s['node_accuracy']:+.3f} vs sequence LSTM", "help": ""})
        cards.append({"label": "Test trees", "value": str(metrics.get("n_trees", "–")), "delta": None, "help": ""})
        return cards

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        if metrics.get("regression"):
            return "mae", metrics.get("model", {}).get("mae")
        return "accuracy", metrics.get("model", {}).get("accuracy")

    def result_kind(self, metrics: dict[str, Any]) -> str:
        if metrics.get("regression"):
            return standing(metrics["model"]["mae"], metrics["sequence_lstm"]["mae"], lower_is_better=True)
        best = max(metrics[k]["accuracy"] for k in ("sequence_lstm", "majority_class"))
        return standing(metrics["model"]["accuracy"], best)

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        m, s = metrics["model"], metrics["sequence_lstm"]
        if metrics.get("regression"):
            return {"MAE": m["mae"], "RMSE": m["rmse"], "sequence LSTM MAE": s["mae"]}
        return {"accuracy": m["accuracy"], "node accuracy": m.get("node_accuracy"),
                "sequence LSTM accuracy": s["accuracy"], "majority accuracy": metrics["majority_class"]["accuracy"]}

    def cli_table(self, metrics: dict[str, Any]) -> str:
        cols = _columns(metrics)
        lines = [f"{'':18}" + "".join(f"{c.replace('_', '-'):>15}" for c in cols)]
        for key, label in _who(metrics).items():
            m = metrics.get(key, {})
            lines.append(f"{label[:18]:18}" + "".join(f"{'–':>15}" if m.get(c) is None else f"{m[c]:15.3f}" for c in cols))
        by_depth = metrics["model"].get("by_depth", {})
        key = "mae" if metrics.get("regression") else "accuracy"
        lines.append(f"model {key} by tree depth: " + ", ".join(f"{d}: {v[key]:.3f} ({v['trees']})" for d, v in by_depth.items()))
        lines.append(f"({metrics['n_trees']} {metrics['part']} trees, {metrics['n_nodes']} nodes)")
        return "\n".join(lines)

    # ---- serving -------------------------------------------------------------------------------------
    def output_meaning(self, resolved: Resolved) -> str:
        per = "node" if (resolved.tree or {}).get("level") == "node" else "tree"
        n = f"[{per}s]"
        if _regression(resolved):
            return f"{n[:-1]}, 1] the value of `{resolved.label_col}` per {per}"
        return f"{n[:-1]}, {resolved.n_outputs}] probabilities of {list(resolved.classes)} per {per}"

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any) -> pd.DataFrame:
        """One row per tree (tree targets) or per node (node targets): ids, prediction, class
        probabilities, and the true label when the table has the label column."""
        t = resolved.tree or {}
        source = df.attrs.get("source", "data")
        cols = detect_tree_columns(df, {"tree_col": resolved.id_col, "node_col": t.get("node_col"),
                                        "parent_col": t.get("parent_col"), "token_col": t.get("token_col"),
                                        "label_col": None}, list(resolved.inputs))
        if t.get("token_col") and cols.token_col != t.get("token_col"):
            raise DataError(f"{source}: token column `{t.get('token_col')}` (used in training) not found; columns are {list(df.columns)}")
        forest = read_forest(df, cols, t.get("arity"))
        tokens = token_ids(forest.tokens, resolved.vocabulary) if forest.tokens is not None else np.zeros(len(forest.parent), np.int32)
        features = forest.features if forest.features is not None else np.zeros((len(forest.parent), 0), np.float32)
        probs_t, probs_n = [], []
        for s in range(0, forest.n_trees, PREDICT_TREES):
            b = tree_batch(forest.offsets, forest.parent, tokens, features, np.arange(s, min(s + PREDICT_TREES, forest.n_trees)))
            out = np.asarray(model(_model_inputs(b, resolved), training=False))
            (probs_n if t.get("level") == "node" else probs_t).append(out)
        probs = np.concatenate(probs_n or probs_t) if (probs_n or probs_t) else np.zeros((0, max(1, resolved.n_outputs)))
        has_label = resolved.label_col in df.columns
        labels = df[resolved.label_col].to_numpy(dtype=object) if has_label else None
        if t.get("level") == "node":
            tree = np.repeat(forest.tree_ids, np.diff(forest.offsets))
            out = pd.DataFrame({cols.tree_col: tree, cols.node_col: forest.node_ids})
            order = _file_order(df, cols)
            if has_label:
                out[resolved.label_col] = labels[order]
        else:
            out = pd.DataFrame({cols.tree_col: forest.tree_ids})
            if has_label:
                order = _file_order(df, cols)
                out[resolved.label_col] = labels[order][forest.parent == -1]
        out.attrs["notices"] = [*df.attrs.get("notices", []), *unseen_token_notices(forest, tokens)]
        if _regression(resolved):
            out["predicted"] = probs[:, 0]
            return out
        classes = list(resolved.classes)
        out["predicted"] = [classes[i] for i in probs.argmax(axis=1)]
        for k, c in enumerate(classes):
            out[f"p_{c}"] = probs[:, k]
        return out


# ---- helpers -----------------------------------------------------------------------------------------
def _regression(resolved: Resolved) -> bool:
    return bool((resolved.tree or {}).get("regression"))


def _file_order(df: pd.DataFrame, cols: Any) -> np.ndarray:
    """The row order read_forest uses: grouped by tree (first appearance), file order inside."""
    codes, _ = pd.factorize(_text(df[cols.tree_col]), sort=False)
    return np.argsort(codes, kind="stable")


def _model_inputs(b: Any, resolved: Resolved) -> dict[str, np.ndarray]:
    x = {"parent": b.parent, "tree": b.tree}
    if (resolved.tree or {}).get("token_col"):
        x["tokens"] = b.tokens
    if resolved.n_features:
        x["features"] = b.features
    return x


def tree_dataset(data: TreeData, part: str, batch_size: int, shuffle: bool = False, seed: int = 0) -> Any:
    """tf.data pipeline of (flat inputs of `batch_size` trees, targets) for one part (see TreeBatch).

    Targets: [B] per tree or [N] per node; class indices, or scaled values [.., 1] for regression.
    """
    import tensorflow as tf

    from builder.data.windows import finish_pipeline

    trees = np.flatnonzero(data.split == part)
    has_tokens = data.cols.token_col is not None
    n_feat = data.features.shape[1]
    rng = np.random.default_rng(seed)

    def gen() -> Any:
        order = rng.permutation(trees) if shuffle else trees
        for s in range(0, len(order), batch_size):
            b = data.batch(order[s:s + batch_size])
            x = {"parent": b.parent, "tree": b.tree}
            if has_tokens:
                x["tokens"] = b.tokens
            if n_feat:
                x["features"] = b.features
            y = data.targets(b)
            if data.regression:
                y = data.y_scaler.transform(np.asarray(y, np.float64)[:, None]).astype(np.float32)
            yield x, y

    spec_x = {"parent": tf.TensorSpec([None], tf.int32), "tree": tf.TensorSpec([None], tf.int32)}
    if has_tokens:
        spec_x["tokens"] = tf.TensorSpec([None], tf.int32)
    if n_feat:
        spec_x["features"] = tf.TensorSpec([None, n_feat], tf.float32)
    spec_y = tf.TensorSpec([None, 1], tf.float32) if data.regression else tf.TensorSpec([None], tf.int32)
    ds = tf.data.Dataset.from_generator(gen, output_signature=(spec_x, spec_y))
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-len(trees) // batch_size)))
    return finish_pipeline(ds)


def _predict_trees(data: TreeData, trees: np.ndarray, model: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(per-tree prediction [T'], per-node prediction [N'] or None, the node rows [N']) of `trees`:
    class indices, or values in the target's units."""
    resolved_like = Resolved(source="", inputs=data.cols.features, lookback=None, input_length=None,
                             tree={"token_col": data.cols.token_col})
    outs, rows, root_mask = [], [], []
    for s in range(0, len(trees), PREDICT_TREES):
        b = data.batch(trees[s:s + PREDICT_TREES])
        outs.append(np.asarray(model(_model_inputs(b, resolved_like), training=False)))
        rows.append(b.node_rows)
        root_mask.append(b.parent < 0)
    out = np.concatenate(outs) if outs else np.zeros((0, 1))
    rows_all = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    pred = out[:, 0] if data.regression else out.argmax(axis=1)
    if data.level == "node":
        return pred[np.concatenate(root_mask)], pred, rows_all
    return pred, None, rows_all


def _class_scores(y_tree: np.ndarray, p_tree: np.ndarray, y_node: np.ndarray | None, p_node: np.ndarray | None,
                  depth: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    out: dict[str, Any] = {
        "accuracy": float(np.mean(y_tree == p_tree)) if len(y_tree) else None,
        "macro_f1": float(f1_score(y_tree, p_tree, average="macro", zero_division=0)) if len(y_tree) else None,
        "node_accuracy": float(np.mean(y_node == p_node)) if y_node is not None and len(y_node) else None,
        "by_depth": {str(int(d)): {"accuracy": float(np.mean(y_tree[depth == d] == p_tree[depth == d])),
                                   "trees": int((depth == d).sum())} for d in np.unique(depth)},
    }
    return out


def _regression_scores(y_tree: np.ndarray, p_tree: np.ndarray, y_node: np.ndarray | None, p_node: np.ndarray | None,
                       depth: np.ndarray) -> dict[str, Any]:
    err = np.asarray(p_tree, np.float64) - np.asarray(y_tree, np.float64)
    out: dict[str, Any] = {
        "mae": float(np.mean(np.abs(err))) if len(err) else None,
        "rmse": float(np.sqrt(np.mean(err ** 2))) if len(err) else None,
        "node_mae": float(np.mean(np.abs(np.asarray(p_node) - y_node))) if y_node is not None and len(y_node) else None,
        "by_depth": {str(int(d)): {"mae": float(np.mean(np.abs(err[depth == d]))), "trees": int((depth == d).sum())}
                     for d in np.unique(depth)},
    }
    return out


def _decode(data: TreeData, y: np.ndarray) -> list[Any]:
    if data.regression:
        return [float(v) for v in y]
    return [data.classes[int(i)] for i in y]


def _who(metrics: dict[str, Any]) -> dict[str, str]:
    base = ("mean", f"training mean ({metrics.get('mean', {}).get('value', 0):.4g})") if metrics.get("regression") else \
        ("majority_class", f"majority class ({metrics.get('majority_class', {}).get('class')})")
    return {"model": "Tree-LSTM", "sequence_lstm": "sequence LSTM", base[0]: base[1]}


def _columns(metrics: dict[str, Any]) -> tuple[str, ...]:
    if metrics.get("regression"):
        return ("mae", "rmse", "node_mae") if metrics.get("level") == "node" else ("mae", "rmse")
    return ("accuracy", "macro_f1", "node_accuracy") if metrics.get("level") == "node" else ("accuracy", "macro_f1")


__all__ = ["TreeTask", "encode_labels", "tree_dataset", "tree_settings"]
