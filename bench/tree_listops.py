"""ListOps accuracy of the tree task's Tree-LSTM and of its baselines, on the split `python -m builder train
--task tree` makes (training file: 85% train / 15% validation by the spec's seed; the test file: test).

    python bench/tree_listops.py [--epochs 12] [--set JSON] [--train-trees N] [--model] [--majority]
                                 [--text-lstm] [--task-lstm] [--json OUT]

--model       train the spec's Tree-LSTM with `builder.training.fit.fit` (the CLI's training: the best
              validation epoch's weights kept) on node labels (`value`) and score the test trees.
--majority    the majority class of the training nodes' values, scored on test trees and nodes.
--text-lstm   a sequence LSTM on the bracketed text form (listops_*_text.csv, whitespace tokens such as
              `[MAX`, `7`, `]`), tree label only, read from the last token: the usual ListOps sequence
              baseline. Same trees in each part, the spec's units, optimiser, learning rate, clipping,
              batch, epochs, patience (best validation weights restored) and seed.
--task-lstm   the task's own sequence baseline (builder.tasks.tree_baselines.sequence_lstm_baseline:
              pre-order with brackets, a label at every node's closing position).

--set merges a JSON object into the spec (preset `child_sum_tree_lstm`, label `value`, --epochs);
nested objects merge key by key, e.g. '{"blocks": [{"kind": "recurrent", "cell": "child_sum_tree_lstm",
"units": 256}]}' or '{"training": {"learning_rate": 0.003}}'. --train-trees keeps the first N trees of the
train part (validation and test parts unchanged).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path("/work/shared/data/trees")
#: length boundaries of the text LSTM's batches (a batch is padded to the boundary above its longest)
BUCKETS = [33, 65, 129, 257, 513]


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in (nested dicts key by key, anything else replaced)."""
    out = dict(base)
    for k, v in changes.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make_spec(epochs: int, changes: dict[str, Any]) -> Any:
    """The preset child_sum_tree_lstm with label `value`, `epochs`, and `changes` merged in."""
    from builder.spec import ModelSpec
    from builder.spec.presets import load_preset

    base = load_preset("child_sum_tree_lstm").model_dump(mode="json")
    base = merge(base, {"data": {"label_col": "value"}, "training": {"epochs": epochs}})
    return ModelSpec.model_validate(merge(base, changes))


def limit_train(data: Any, n: int | None) -> Any:
    """`data` with only the first `n` trees of its train part kept for training (the rest: "unused")."""
    if not n:
        return data
    split = data.split.copy()
    train = np.flatnonzero(split == "train")
    split[train[n:]] = "unused"
    return dataclasses.replace(data, split=split)


def run_model(spec: Any, data: Any) -> dict[str, Any]:
    """Train with the CLI's `fit` and score the test trees: tree and node accuracy, by depth."""
    from builder.tasks.tree import _class_scores, _predict_trees
    from builder.training.fit import fit

    def print_epoch(epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        """One line per finished epoch (batch None): its losses and seconds, so a long run can be followed."""
        if batch is None:
            print("epoch", {k: round(v, 4) if isinstance(v, float) else v for k, v in logs.items()}, flush=True)

    t0 = time.time()
    res = fit(spec, data, progress=print_epoch)
    seconds = time.time() - t0
    trees = np.flatnonzero(data.split == "test")
    pred_tree, pred_node, rows = _predict_trees(data, trees, res.raw_model)
    scores = _class_scores(data.y_tree[trees], pred_tree, data.y_node[rows], pred_node, data.depth[trees])
    hist = res.history
    return {**scores, "epochs": len(hist), "best_epoch": res.best_epoch, "seconds": round(seconds, 1),
            "val_loss": [round(float(h.get("val_loss", float("nan"))), 4) for h in hist],
            "epoch_seconds": [round(float(h.get("seconds", float("nan"))), 1) for h in hist],
            "weights": int(res.raw_model.count_params())}


def run_majority(data: Any) -> dict[str, Any]:
    """The majority class of the training nodes' values, on the test trees and nodes."""
    from builder.tasks.tree import _class_scores

    train_nodes = np.repeat(data.split == "train", np.diff(data.offsets))
    majority = int(np.bincount(data.y_node[train_nodes], minlength=len(data.classes)).argmax())
    trees = np.flatnonzero(data.split == "test")
    nodes = np.repeat(data.split == "test", np.diff(data.offsets))
    y_node = data.y_node[nodes]
    out = _class_scores(data.y_tree[trees], np.full(len(trees), majority), y_node, np.full(len(y_node), majority),
                        data.depth[trees])
    return {**out, "class": data.classes[majority]}


def run_task_lstm(spec: Any, data: Any) -> dict[str, Any]:
    """The task's sequence baseline (pre-order with brackets, node labels), scored as the task scores it."""
    from builder.tasks.tree import _class_scores
    from builder.tasks.tree_baselines import sequence_lstm_baseline

    data = dataclasses.replace(data, training=spec.training)
    seq = sequence_lstm_baseline(data, spec.recurrent_blocks[0].units, "test")
    trees = np.flatnonzero(data.split == "test")
    nodes = np.repeat(data.split == "test", np.diff(data.offsets))
    out = _class_scores(data.y_tree[trees], seq["pred_tree"], data.y_node[nodes], seq["pred_node"], data.depth[trees])
    return {**out, "epochs": seq["epochs"], "seconds": seq["seconds"]}


def run_text_lstm(spec: Any, data: Any, data_dir: Path) -> dict[str, Any]:
    """A sequence LSTM over the bracketed text (tree label only), the same trees per part as `data`."""
    import keras
    import pandas as pd

    from builder.tasks.tree import _class_scores

    t0 = time.time()
    t = spec.training
    units = spec.recurrent_blocks[0].units
    train_df = pd.read_csv(data_dir / "listops_train_text.csv")
    test_df = pd.read_csv(data_dir / "listops_test_text.csv")
    n_train_file = int((data.split != "test").sum())
    part = {}
    for i, tid in enumerate(data.tree_ids):
        part[("test" if i >= n_train_file else "train", str(tid))] = (i, data.split[i])
    rows = []
    for df, src in ((train_df, "train"), (test_df, "test")):
        for tid, expr, label in zip(df["tree_id"], df["expression"], df["label"], strict=True):
            i, p = part[(src, str(tid))]
            rows.append((i, p, expr.split(), str(label)))
    rows.sort()
    words = sorted({w for _, p, toks, _ in rows if p == "train" for w in toks})
    index = {w: k + 2 for k, w in enumerate(words)}  # 0 padding, 1 unknown
    length = max(len(r[2]) for r in rows)
    x = np.zeros((len(rows), length), np.int32)
    last = np.zeros(len(rows), np.int32)
    for k, (_, _, toks, _) in enumerate(rows):
        x[k, :len(toks)] = [index.get(w, 1) for w in toks]
        last[k] = len(toks) - 1
    cls = {c: k for k, c in enumerate(data.classes)}
    y = np.array([cls[lab] for *_, lab in rows], np.int32)
    assert np.array_equal(y, data.y_tree), "text labels differ from the node table's tree labels"
    split = np.array([p for _, p, _, _ in rows])
    keras.utils.set_random_seed(t.seed)
    tok = keras.Input((None,), dtype="int32", name="tokens")
    pos = keras.Input((), dtype="int32", name="last")
    h = keras.layers.Embedding(len(index) + 2, units)(tok)
    h = keras.layers.LSTM(units, return_sequences=True)(h)  # right padding: read the state at the last token
    h = keras.ops.take_along_axis(h, keras.ops.reshape(pos, (-1, 1, 1)), axis=1)[:, 0]
    out = keras.layers.Dense(len(data.classes), activation="softmax")(h)
    model = keras.Model({"tokens": tok, "last": pos}, out)
    opt = keras.optimizers.Adam(t.learning_rate, clipnorm=t.clipnorm) if t.optimizer == "adam" else None
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=True)

    def part_ds(p: str, shuffle: bool) -> Any:
        """Batches of one part bucketed by length (padded to 32, 64, ..., 512 tokens: one XLA shape each)."""
        import tensorflow as tf

        sel = np.flatnonzero(split == p)
        ds = tf.data.Dataset.from_tensor_slices(({"tokens": tf.ragged.constant(
            [x[k, :last[k] + 1] for k in sel]), "last": last[sel]}, y[sel]))
        if shuffle:
            ds = ds.shuffle(len(sel), seed=t.seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda a, b: ({"tokens": a["tokens"], "last": a["last"]}, b))
        ds = ds.bucket_by_sequence_length(lambda a, b: tf.shape(a["tokens"])[0], BUCKETS,
                                          [t.batch_size] * (len(BUCKETS) + 1), pad_to_bucket_boundary=True)
        return ds.prefetch(2)

    cb = [keras.callbacks.EarlyStopping(patience=t.patience, restore_best_weights=True)] if t.patience else []
    hist = model.fit(part_ds("train", True), validation_data=part_ds("val", False), epochs=t.epochs,
                     callbacks=cb, verbose=2)
    test = np.flatnonzero(split == "test")
    test = test[np.argsort(last[test], kind="stable")]
    pred = np.zeros(len(y), np.int32)
    for s in range(0, len(test), 256):  # chunks of similar length, padded to a bucket boundary
        k = test[s:s + 256]
        width = next(b for b in (*BUCKETS, x.shape[1] + 1) if b > last[k].max() + 1) - 1
        pred[k] = np.asarray(model({"tokens": x[k, :width], "last": last[k]}, training=False)).argmax(axis=1)
    sel = split == "test"
    out = _class_scores(y[sel], pred[sel], None, None, data.depth[sel])
    return {**out, "epochs": len(hist.history["loss"]), "seconds": round(time.time() - t0, 1),
            "val_accuracy": [round(v, 4) for v in hist.history.get("val_accuracy", [])]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--set", default="{}", help="JSON merged into the spec")
    ap.add_argument("--train-trees", type=int, default=None)
    ap.add_argument("--model", action="store_true")
    ap.add_argument("--majority", action="store_true")
    ap.add_argument("--text-lstm", action="store_true")
    ap.add_argument("--task-lstm", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from builder.tasks.registry import get_task

    spec = make_spec(args.epochs, json.loads(args.set))
    data = get_task("tree").prepare(str(args.data_dir / "listops_train_nodes.csv"), spec,
                                    str(args.data_dir / "listops_test_nodes.csv"))
    data = limit_train(data, args.train_trees)
    counts = {p: int((data.split == p).sum()) for p in ("train", "val", "test")}
    print(f"trees {counts}; set {args.set}; epochs {args.epochs}", flush=True)
    results: dict[str, Any] = {"set": json.loads(args.set), "epochs": args.epochs, "trees": counts}
    if args.majority:
        results["majority"] = run_majority(data)
    if args.model:
        results["model"] = run_model(spec, data)
    if args.text_lstm:
        results["text_lstm"] = run_text_lstm(spec, data, args.data_dir)
    if args.task_lstm:
        results["task_lstm"] = run_task_lstm(spec, data)
    for name, r in results.items():
        if isinstance(r, dict) and "accuracy" in r:
            node = r.get("node_accuracy")
            depth = ", ".join(f"{d}: {v['accuracy']:.3f} ({v['trees']})" for d, v in r["by_depth"].items())
            print(f"{name:10} tree acc {r['accuracy']:.4f}  node acc {'-' if node is None else f'{node:.4f}'}  "
                  f"epochs {r.get('epochs', '-')}  s {r.get('seconds', '-')}  by depth {depth}")
    if "model" in results:
        print("val_loss", results["model"]["val_loss"], "epoch s", results["model"]["epoch_seconds"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
