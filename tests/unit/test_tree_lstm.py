"""Tree-LSTM cells and the level loop against a per-node NumPy implementation of Tai et al. (2015):
outputs to 1e-5 and gradients by central finite differences in float64, on random forests of mixed
shapes (single nodes, bushy trees, a deep chain) with nodes in shuffled order."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.tree_reference import reference_tree_lstm

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from builder.model.cells.tree_lstm import ChildSumTreeLSTMCell, NaryTreeLSTMCell, TreeLSTM, TreeRoots  # noqa: E402


def random_forest(rng: np.random.Generator, max_children: int, chain: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(parent [N] with indices into the shuffled node list (-1 roots), tree [N]): two single-node
    trees, three random trees with at most `max_children` children per node, and a chain of
    `chain` nodes; nodes shuffled across the whole batch."""
    parents: list[int] = []
    trees: list[int] = []
    t = 0
    for size in (1, 1, 7, 12, 20):
        base = len(parents)
        kids = [0] * size
        for k in range(size):
            if k == 0:
                parents.append(-1)
            else:
                options = [p for p in range(k) if kids[p] < max_children]
                p = int(rng.choice(options))
                kids[p] += 1
                parents.append(base + p)
            trees.append(t)
        t += 1
    if chain:
        base = len(parents)
        parents.extend([-1] + [base + k for k in range(chain - 1)])
        trees.extend([t] * chain)
    perm = rng.permutation(len(parents))
    inv = np.argsort(perm)
    parent = np.array([-1 if parents[i] < 0 else inv[parents[i]] for i in perm], np.int32)
    return parent, np.array(trees, np.int32)[perm]


def _cell(kind: str, units: int, arity: int, composition_layers: int = 0, dtype: str = "float64") -> keras.layers.Layer:
    return ChildSumTreeLSTMCell(units, composition_layers=composition_layers, dtype=dtype) if kind == "child_sum" else \
        NaryTreeLSTMCell(units, arity=arity, composition_layers=composition_layers, dtype=dtype)


def _weights(cell: keras.layers.Layer) -> list[np.ndarray]:
    return [np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.forget_kernel, cell.bias)]


def _compose(cell: keras.layers.Layer) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]] | None:
    """The cell's composition layers as reference_tree_lstm takes them (None without)."""
    if not cell.composition_layers:
        return None
    return (np.asarray(cell.compose_input_kernel), [np.asarray(w) for w in cell.compose_kernels],
            [np.asarray(w) for w in cell.compose_biases])


def _variables(cell: keras.layers.Layer) -> list[object]:
    """Every weight of the cell, in the order of `_flat_reference`'s arguments."""
    compose = [cell.compose_input_kernel, *cell.compose_kernels, *cell.compose_biases] if cell.composition_layers else []
    return [cell.kernel, cell.recurrent_kernel, cell.forget_kernel, cell.bias, *compose]


def _flat_reference(vals: list[np.ndarray], parent: np.ndarray, arity: int | None, layers: int) -> np.ndarray:
    """reference_tree_lstm of [x, kernel, recurrent, forget, bias, A, kernels..., biases...]."""
    compose = (vals[5], vals[6:6 + layers], vals[6 + layers:]) if layers else None
    return reference_tree_lstm(vals[0], parent, *vals[1:5], arity=arity, compose=compose)


@pytest.mark.parametrize("layers", [0, 1, 3])
@pytest.mark.parametrize("kind", ["child_sum", "nary"])
def test_outputs_match_the_per_node_reference(kind: str, layers: int) -> None:
    rng = np.random.default_rng(1)
    arity = 3
    parent, _ = random_forest(rng, arity, chain=300)
    x = rng.normal(size=(len(parent), 5))
    layer = TreeLSTM(_cell(kind, 8, arity, layers), dtype="float64")
    h = np.asarray(layer([tf.constant(x), tf.constant(parent)]))
    cell = layer.cell
    # random weights (not just the initial ones), so every block of every matrix matters
    for w in cell.weights:
        w.assign(rng.normal(scale=0.4, size=w.shape))
    h = np.asarray(layer([tf.constant(x), tf.constant(parent)]))
    ref = reference_tree_lstm(x, parent, *_weights(cell), arity=None if kind == "child_sum" else arity,
                              compose=_compose(cell))
    assert np.abs(h - ref).max() < 1e-5
    # float32 too (the training dtype)
    layer32 = TreeLSTM(_cell(kind, 8, arity, layers, dtype="float32"))
    layer32([tf.constant(x, tf.float32), tf.constant(parent)])
    for w32, w in zip(layer32.cell.weights, cell.weights, strict=True):
        w32.assign(np.asarray(w, np.float32))
    h32 = np.asarray(layer32([tf.constant(x, tf.float32), tf.constant(parent)]))
    assert np.abs(h32 - ref).max() < 1e-5


@pytest.mark.parametrize("layers", [0, 2])
@pytest.mark.parametrize("kind", ["child_sum", "nary"])
def test_gradients_match_finite_differences(kind: str, layers: int) -> None:
    rng = np.random.default_rng(2)
    arity = 2
    parent, _ = random_forest(rng, arity, chain=25)
    x = rng.normal(size=(len(parent), 2))
    r = rng.normal(size=(len(parent), 3))  # loss = sum(h * r)
    layer = TreeLSTM(_cell(kind, 3, arity, layers), dtype="float64")
    layer([tf.constant(x), tf.constant(parent)])
    for w in layer.cell.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer([xt, tf.constant(parent)]) * r)
    variables = _variables(layer.cell)
    assert len(variables) == len(layer.cell.weights)  # every weight's gradient is checked
    grads = tape.gradient(loss, [xt, *variables])
    values = [x.copy(), *[np.asarray(v) for v in variables]]
    n_ary = None if kind == "child_sum" else arity

    def f(vals: list[np.ndarray]) -> float:
        return float((_flat_reference(vals, parent, n_ary, layers) * r).sum())

    eps = 1e-6
    for k, (g, v) in enumerate(zip(grads, values, strict=True)):
        g = np.asarray(g)
        numeric = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            plus = [a.copy() for a in values]
            minus = [a.copy() for a in values]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            numeric[idx] = (f(plus) - f(minus)) / (2 * eps)
        assert np.abs(g - numeric).max() < 1e-5, (k, np.abs(g - numeric).max())


def test_roots_are_ordered_by_tree_and_a_single_node_tree_is_a_leaf() -> None:
    rng = np.random.default_rng(3)
    parent, tree = random_forest(rng, 4)
    x = rng.normal(size=(len(parent), 3))
    layer = TreeLSTM(ChildSumTreeLSTMCell(4, dtype="float64"), dtype="float64")
    h = layer([tf.constant(x), tf.constant(parent)])
    roots = np.asarray(TreeRoots(dtype="float64")([h, tf.constant(parent), tf.constant(tree)]))
    h = np.asarray(h)
    for t in range(tree.max() + 1):
        root = int(np.flatnonzero((tree == t) & (parent < 0))[0])
        np.testing.assert_allclose(roots[t], h[root])
    # a single-node tree: c = i * u, h = o * tanh(c) from its input alone
    single = int(np.flatnonzero((tree == 0) & (parent < 0))[0])
    ref = reference_tree_lstm(x[[single]], np.array([-1]), *_weights(layer.cell))
    np.testing.assert_allclose(h[single], ref[0], atol=1e-12)


def test_nary_pads_missing_children_with_zero_states() -> None:
    """A node with one child under N = 3 equals the same node under N = 3 whose other children are absent."""
    rng = np.random.default_rng(4)
    cell = NaryTreeLSTMCell(4, arity=3, dtype="float64")
    layer = TreeLSTM(cell, dtype="float64")
    parent = np.array([-1, 0], np.int32)
    x = rng.normal(size=(2, 2))
    h = np.asarray(layer([tf.constant(x), tf.constant(parent)]))
    np.testing.assert_allclose(h, reference_tree_lstm(x, parent, *_weights(cell), arity=3), atol=1e-12)


def test_cells_round_trip_through_keras_config() -> None:
    for cell in (ChildSumTreeLSTMCell(5), NaryTreeLSTMCell(5, arity=4), ChildSumTreeLSTMCell(5, composition_layers=2),
                 NaryTreeLSTMCell(5, arity=3, composition_layers=1)):
        layer = TreeLSTM(cell)
        again = TreeLSTM.from_config(layer.get_config())
        assert again.get_config() == layer.get_config()
        assert again.cell.units == 5 and again.cell.arity == cell.arity
        assert again.cell.composition_layers == cell.composition_layers
    with pytest.raises(ValueError, match="units"):
        ChildSumTreeLSTMCell(0)
    with pytest.raises(ValueError, match="composition_layers"):
        ChildSumTreeLSTMCell(4, composition_layers=-1)
    with pytest.raises(ValueError, match="arity"):
        NaryTreeLSTMCell(4, arity=0)
