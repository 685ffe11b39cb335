"""Training speed of the tree task's Child-Sum Tree-LSTM: trees per second for batches of 64 ListOps
trees, and the time per step at tree depth 3, 5 and 7, beside the sequence-LSTM baseline (the same
trees read in pre-order with brackets, Keras LSTM, XLA) measured interleaved in the same run.

    python bench/tree_speed.py [--data /work/shared/data/trees/listops_train_nodes.csv] [--steps 20] [--units 128]

One training step = forward, backward and the Adam update of one batch (Keras `train_on_batch`, the
train function `fit` runs); one inference step = the forward pass of one batch (`predict_on_batch`). Depth d: 64 random trees of exactly depth d (every inner node 2-3 children,
the deepest path forced), so the node count grows with depth; it is printed beside each time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import keras  # noqa: E402

from builder.data.read import load_table  # noqa: E402
from builder.data.trees import (  # noqa: E402
    build_vocabulary,
    detect_tree_columns,
    preorder_tokens,
    read_forest,
    token_ids,
    tree_batch,
)
from builder.model.cells.tree_lstm import ChildSumTreeLSTMCell, TreeLSTM, TreeRoots  # noqa: E402

BATCH = 64


def tree_model(vocab: int, units: int) -> keras.Model:
    tok = keras.Input((), dtype="int32", name="tokens")
    par = keras.Input((), dtype="int32", name="parent")
    tree = keras.Input((), dtype="int32", name="tree")
    h = TreeLSTM(ChildSumTreeLSTMCell(units))([keras.layers.Embedding(vocab, units)(tok), par])
    out = keras.layers.Dense(10, activation="softmax")(TreeRoots()([h, par, tree]))
    m = keras.Model({"tokens": tok, "parent": par, "tree": tree}, out)
    m.compile(keras.optimizers.Adam(1e-3, clipnorm=1.0), "sparse_categorical_crossentropy", jit_compile=False)
    return m


def seq_model(vocab: int, units: int) -> keras.Model:
    inp = keras.Input((None,), dtype="int32")
    h = keras.layers.LSTM(units)(keras.layers.Embedding(vocab, units)(inp))
    m = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(h))
    m.compile(keras.optimizers.Adam(1e-3, clipnorm=1.0), "sparse_categorical_crossentropy", jit_compile=True)
    return m


def random_trees(depth: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, parent within tree, token ids 1..14) of n trees of exactly `depth`."""
    parents: list[int] = []
    offsets = [0]
    for _ in range(n):
        base: list[int] = [-1]
        frontier = [(0, 0, True)]  # (node, its depth, on the forced deepest path)
        while frontier:
            node, d, forced = frontier.pop()
            if d == depth:
                continue
            if forced or rng.random() < 0.5:
                k = int(rng.integers(2, 4))
                for c in range(k):
                    base.append(node)
                    frontier.append((len(base) - 1, d + 1, forced and c == 0))
        parents.extend(base)
        offsets.append(len(parents))
    parent = np.array(parents, np.int32)
    return np.array(offsets), parent, rng.integers(1, 15, len(parent)).astype(np.int32)


def sequences_of(offsets: np.ndarray, parent: np.ndarray, tokens: np.ndarray, trees: np.ndarray) -> np.ndarray:
    seqs = [preorder_tokens(parent, tokens, int(offsets[t]), int(offsets[t + 1]), "15", "16")[0] for t in trees]
    out = np.zeros((len(seqs), max(len(s) for s in seqs)), np.int32)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = [int(w) for w in s]
    return out


def time_steps(fn, steps: int) -> float:  # noqa: ANN001
    fn()
    fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/trees/listops_train_nodes.csv")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--units", type=int, default=128)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    df = load_table(args.data)
    forest = read_forest(df, detect_tree_columns(df))
    vocab = build_vocabulary(forest.tokens)
    ids = token_ids(forest.tokens, vocab)
    tm, sm = tree_model(20, args.units), seq_model(20, args.units)
    y = rng.integers(0, 10, BATCH).astype(np.int32)
    rows = []
    cases = [("ListOps", forest.offsets, forest.parent, ids)]
    for d in (3, 5, 7):
        cases.append((f"depth {d}", *random_trees(d, BATCH * 4, rng)))
    for name, offsets, parent, tokens in cases:
        n_trees = len(offsets) - 1
        batches = [rng.choice(n_trees, BATCH, replace=False) for _ in range(4)]
        flat = [tree_batch(offsets, parent, tokens, np.zeros((len(parent), 0), np.float32), b) for b in batches]
        seqs = [sequences_of(offsets, parent, tokens, b) for b in batches]
        k = {"i": 0}

        def tree_step(flat: list = flat, k: dict = k) -> None:
            b = flat[k["i"] % 4]
            k["i"] += 1
            tm.train_on_batch({"tokens": b.tokens, "parent": b.parent, "tree": b.tree}, y)

        def seq_step(seqs: list = seqs, k: dict = k) -> None:
            s = seqs[k["i"] % 4]
            k["i"] += 1
            sm.train_on_batch(s, y)

        def tree_infer(flat: list = flat, k: dict = k) -> None:
            b = flat[k["i"] % 4]
            k["i"] += 1
            tm.predict_on_batch({"tokens": b.tokens, "parent": b.parent, "tree": b.tree})

        def seq_infer(seqs: list = seqs, k: dict = k) -> None:
            seq = seqs[k["i"] % 4]
            k["i"] += 1
            sm.predict_on_batch(seq)

        t_tree, t_seq, i_tree, i_seq = [], [], [], []
        for _ in range(3):  # interleaved rounds
            t_tree.append(time_steps(tree_step, args.steps))
            t_seq.append(time_steps(seq_step, args.steps))
            i_tree.append(time_steps(tree_infer, args.steps))
            i_seq.append(time_steps(seq_infer, args.steps))
        nodes = np.mean([len(b.parent) for b in flat])
        depth = max(int(read_depth(b.parent)) for b in flat)
        length = np.mean([s.shape[1] for s in seqs])
        rows.append((name, depth, nodes, length, np.median(t_tree), np.median(t_seq), np.median(i_tree),
                     np.median(i_seq)))
    print(f"batch {BATCH} trees, Child-Sum Tree-LSTM {args.units} units vs sequence LSTM {args.units} units "
          f"(pre-order with brackets), median of 3 interleaved rounds of {args.steps} steps")
    print("training (forward, backward, update):")
    print(f"{'trees':10}{'depth':>6}{'nodes':>8}{'seq len':>8}{'tree ms/step':>14}{'trees/s':>9}{'seq ms/step':>13}"
          f"{'trees/s':>9}{'tree/seq time':>15}")
    for name, depth, nodes, length, tt, ts, _, _ in rows:
        print(f"{name:10}{depth:6d}{nodes:8.0f}{length:8.0f}{tt * 1e3:14.1f}{BATCH / tt:9.0f}{ts * 1e3:13.1f}"
              f"{BATCH / ts:9.0f}{tt / ts:15.2f}")
    print("inference (forward only):")
    print(f"{'trees':10}{'depth':>6}{'nodes':>8}{'seq len':>8}{'tree ms/step':>14}{'trees/s':>9}{'seq ms/step':>13}"
          f"{'trees/s':>9}{'tree/seq time':>15}")
    for name, depth, nodes, length, _, _, it, iq in rows:
        print(f"{name:10}{depth:6d}{nodes:8.0f}{length:8.0f}{it * 1e3:14.1f}{BATCH / it:9.0f}{iq * 1e3:13.1f}"
              f"{BATCH / iq:9.0f}{it / iq:15.2f}")


def read_depth(parent: np.ndarray) -> int:
    """The deepest node's depth in a flat batch (edges from its root)."""
    depth = np.zeros(len(parent), int)
    for i in range(len(parent)):
        d, p = 0, parent[i]
        while p >= 0:
            d, p = d + 1, parent[p]
        depth[i] = d
    return int(depth.max())


if __name__ == "__main__":
    main()
