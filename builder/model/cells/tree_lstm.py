"""Tree-LSTM cells (Tai, Socher and Manning 2015) and the level-by-level loop that runs them on a batch.

Child-Sum Tree-LSTM (their eqs. 2-8), for node j with children C(j), input x_j:

    h~_j  = sum_k h_k                                   (k in C(j))
    i_j   = sigmoid(W_i x_j + U_i h~_j + b_i)
    f_jk  = sigmoid(W_f x_j + U_f h_k + b_f)            one forget gate per child
    o_j   = sigmoid(W_o x_j + U_o h~_j + b_o)
    u_j   = tanh(W_u x_j + U_u h~_j + b_u)
    c_j   = i_j * u_j + sum_k f_jk * c_k
    h_j   = o_j * tanh(c_j)

N-ary Tree-LSTM (eqs. 9-14), children ordered 1..N (fewer children: the missing ones are zero states):

    i_j   = sigmoid(W_i x_j + sum_l U_i,l h_jl + b_i)         (o_j, u_j alike)
    f_jk  = sigmoid(W_f x_j + sum_l U_f,kl h_jl + b_f)         k = 1..N
    c_j   = i_j * u_j + sum_l f_jl * c_jl

Weights (gate blocks in the order i, o, u, f): kernel [D, 4U]; bias [4U]; Child-Sum: recurrent_kernel
[U, 3U] and forget_kernel [U, U]; N-ary: recurrent_kernel [NU, 3U] (row block l = child l) and
forget_kernel [NU, NU] (row block l, column block k = U_f,kl).

Composition layers (`composition_layers` = K > 0, both cells): the children's state that feeds the i, o,
u gates (h~_j, or N-ary's concatenation [h_j1; ...; h_jN]) first goes through K dense ReLU layers of
width U, the first of which also sees the node's input:

    z_1   = relu(A x_j + B h~_j + a_1)                  A [D, U], B [U, U] (N-ary: [NU, U])
    z_l   = relu(C_l z_(l-1) + a_l)                     l = 2..K, C_l [U, U]
    i_j   = sigmoid(W_i x_j + U_i z_K + b_i)            (o_j, u_j alike; recurrent_kernel [U, 3U])

so each node applies an operator-dependent nonlinear function of its children before the gates. The
forget gates are unchanged. Weights: compose_input_kernel A, compose_kernel_1 B, compose_bias_1 a_1,
compose_kernel_l C_l and compose_bias_l a_l.

`TreeLSTM` runs a cell on a flat batch of trees: x [nodes, D] and parent [nodes] (the parent's index
in the batch, -1 at roots) -> h [nodes, U]. It computes each node's height (0 at leaves) in the
graph, then one `tf.while_loop` iteration per height: gather the nodes of that height and the nodes
whose parent has that height (both contiguous slices of a sort made once), one matmul for the gates,
segment sums into the parents, and a scatter of the new states. The input projection of every node
is one matmul before the loop. A step is thus a handful of kernels per level, whatever the number of
trees or nodes.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


class _TreeCell(keras.layers.Layer):
    """Weights and one level's equations; `TreeLSTM` owns the loop."""

    def __init__(self, units: int, kernel_initializer: str = "glorot_uniform",
                 recurrent_initializer: str = "orthogonal", unit_forget_bias: bool = True,
                 composition_layers: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"Received an invalid value for argument `units`, expected a positive integer, got {units}")
        if int(composition_layers) < 0:
            raise ValueError("Received an invalid value for argument `composition_layers`, expected a non-negative "
                             f"integer, got {composition_layers}")
        self.units = int(units)
        self.composition_layers = int(composition_layers)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)

    #: children per node the recurrent kernels see (1: Child-Sum's sum)
    arity = 1

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        d, u, n, k = int(input_shape[-1]), self.units, self.arity, self.composition_layers
        self.kernel = self.add_weight(shape=(d, 4 * u), initializer=self.kernel_initializer, name="kernel")
        self.compose_kernels: list[Any] = []
        self.compose_biases: list[Any] = []
        if k:
            self.compose_input_kernel = self.add_weight(shape=(d, u), initializer=self.kernel_initializer,
                                                        name="compose_input_kernel")
            for layer in range(1, k + 1):
                self.compose_kernels.append(self.add_weight(
                    shape=((n if layer == 1 else 1) * u, u), initializer=self.kernel_initializer,
                    name=f"compose_kernel_{layer}"))
                self.compose_biases.append(self.add_weight(shape=(u,), initializer="zeros",
                                                           name=f"compose_bias_{layer}"))
        self.recurrent_kernel = self.add_weight(shape=((1 if k else n) * u, 3 * u),
                                                initializer=self.recurrent_initializer, name="recurrent_kernel")
        self.forget_kernel = self.add_weight(shape=(n * u, n * u), initializer=self.recurrent_initializer,
                                             name="forget_kernel")

        def bias_init(shape: tuple[int, ...], dtype: Any = None) -> Any:
            zeros = ops.zeros((3 * u,), dtype=dtype)
            f = ops.ones((u,), dtype=dtype) if self.unit_forget_bias else ops.zeros((u,), dtype=dtype)
            return ops.concatenate([zeros, f])

        self.bias = self.add_weight(shape=(4 * u,), initializer=bias_init, name="bias")
        self.built = True

    def project(self, x: Any) -> Any:
        """W x + b of every node at once: [nodes, D] -> [nodes, 4U]; with composition layers
        [W x + b, A x + a_1] -> [nodes, 5U]."""
        xw = ops.matmul(x, self.kernel) + self.bias
        if not self.composition_layers:
            return xw
        return ops.concatenate([xw, ops.matmul(x, self.compose_input_kernel) + self.compose_biases[0]], axis=-1)

    def compose(self, xw: Any, h_children: Any) -> Any:
        """The state that feeds the i, o, u gates: h_children [n, NU] itself without composition layers,
        else z_K [n, U] (module docstring); xw [n, 4U or 5U] from `project`."""
        if not self.composition_layers:
            return h_children
        u = self.units
        z = ops.relu(xw[:, 4 * u:] + ops.matmul(h_children, self.compose_kernels[0]))
        for kernel, bias in zip(self.compose_kernels[1:], self.compose_biases[1:], strict=True):
            z = ops.relu(ops.matmul(z, kernel) + bias)
        return z

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "unit_forget_bias": self.unit_forget_bias, "composition_layers": self.composition_layers}


@keras.saving.register_keras_serializable(package="builder")
class ChildSumTreeLSTMCell(_TreeCell):
    """Child-Sum Tree-LSTM: children unordered, any number of them (eqs. 2-8 of Tai et al. 2015)."""

    def level(self, xw: Any, child_h: Any, child_c: Any, child_parent: Any, child_pos: Any, n: Any) -> tuple[Any, Any]:
        """One level: xw [n, 4U] projected inputs of its nodes; child_h, child_c [m, U] the states of
        their children; child_parent [m] each child's parent in 0..n-1 (child_pos unused).
        Returns (h, c) [n, U]."""
        u = self.units
        h_sum = ops.segment_sum(child_h, child_parent, num_segments=n)
        iou = xw[:, : 3 * u] + ops.matmul(self.compose(xw, h_sum), self.recurrent_kernel)
        i = ops.sigmoid(iou[:, :u])
        o = ops.sigmoid(iou[:, u: 2 * u])
        g = ops.tanh(iou[:, 2 * u:])
        f = ops.sigmoid(ops.take(xw[:, 3 * u: 4 * u], child_parent, axis=0) + ops.matmul(child_h, self.forget_kernel))
        c = i * g + ops.segment_sum(f * child_c, child_parent, num_segments=n)
        return o * ops.tanh(c), c


@keras.saving.register_keras_serializable(package="builder")
class NaryTreeLSTMCell(_TreeCell):
    """N-ary Tree-LSTM: at most N ordered children, fewer padded with zero states (eqs. 9-14)."""

    def __init__(self, units: int, arity: int = 2, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        if int(arity) < 1:
            raise ValueError(f"Received an invalid value for argument `arity`, expected a positive integer, got {arity}")
        self.arity = int(arity)

    def level(self, xw: Any, child_h: Any, child_c: Any, child_parent: Any, child_pos: Any, n: Any) -> tuple[Any, Any]:
        """As ChildSumTreeLSTMCell.level; child_pos [m] each child's place 0..N-1 among its siblings."""
        u, k = self.units, self.arity
        slot = child_parent * k + child_pos
        h_cat = ops.reshape(ops.segment_sum(child_h, slot, num_segments=n * k), (-1, k * u))  # [n, NU]
        c_cat = ops.reshape(ops.segment_sum(child_c, slot, num_segments=n * k), (-1, k, u))  # [n, N, U]
        iou = xw[:, : 3 * u] + ops.matmul(self.compose(xw, h_cat), self.recurrent_kernel)
        i = ops.sigmoid(iou[:, :u])
        o = ops.sigmoid(iou[:, u: 2 * u])
        g = ops.tanh(iou[:, 2 * u:])
        f = ops.sigmoid(ops.reshape(ops.matmul(h_cat, self.forget_kernel), (-1, k, u)) + xw[:, None, 3 * u: 4 * u])
        c = i * g + ops.sum(f * c_cat, axis=1)
        return o * ops.tanh(c), c

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "arity": self.arity}


def tree_structure(parent: Any) -> dict[str, Any]:
    """Everything the level loop needs from parent [N] int32 (-1 at roots), computed once per batch.

    height [N] (0 at leaves, 1 + the highest child otherwise), by_height [N] node order by height,
    starts [L+1] slice of each height in by_height, rank [N] place of a node within its height,
    by_parent_height / child_starts the same for the height of the parent (roots last), pos [N] the
    place of a node among its siblings (file order), levels L.
    """
    import tensorflow as tf

    n = tf.shape(parent)[0]
    seg = tf.where(parent >= 0, parent, n)

    def body(h: Any, _: Any) -> tuple[Any, Any]:
        new = tf.reshape(tf.maximum(tf.math.unsorted_segment_max(h + 1, seg, n + 1)[:n], 0), tf.shape(h))
        new.set_shape(h.shape)
        return new, tf.reduce_any(tf.not_equal(new, h))

    height, _ = tf.while_loop(lambda h, changed: changed, body, (tf.zeros([n], tf.int32), tf.constant(True)))
    levels = tf.reduce_max(tf.concat([height, [-1]], 0)) + 1
    by_height = tf.argsort(height, stable=True)
    counts = tf.math.bincount(height, minlength=levels, maxlength=levels, dtype=tf.int32)
    starts = tf.concat([[0], tf.cumsum(counts)], 0)
    rank = tf.scatter_nd(by_height[:, None], tf.range(n) - tf.gather(starts, tf.gather(height, by_height)), [n])
    parent_height = tf.where(parent >= 0, tf.gather(height, tf.maximum(parent, 0)), levels)
    by_parent_height = tf.argsort(parent_height, stable=True)
    child_counts = tf.math.bincount(parent_height, minlength=levels + 1, maxlength=levels + 1, dtype=tf.int32)
    child_starts = tf.concat([[0], tf.cumsum(child_counts)], 0)
    by_parent = tf.argsort(seg, stable=True)
    sorted_seg = tf.gather(seg, by_parent)
    first = tf.math.unsorted_segment_min(tf.range(n), sorted_seg, n + 1)
    pos = tf.scatter_nd(by_parent[:, None], tf.range(n) - tf.gather(first, sorted_seg), [n])
    return {"height": height, "by_height": by_height, "starts": starts, "rank": rank,
            "by_parent_height": by_parent_height, "child_starts": child_starts, "pos": pos, "levels": levels}


@keras.saving.register_keras_serializable(package="builder")
class TreeLSTM(keras.layers.Layer):
    """Runs a tree cell bottom-up over a flat batch of trees: [x [N, D], parent [N]] -> h [N, U].

    `parent[i]` is the index of node i's parent in the batch (-1 at a root); any number of trees, in
    any node order. TensorFlow backend (tf.while_loop over levels).
    """

    def __init__(self, cell: _TreeCell | dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        self.cell = cell

    def build(self, input_shape: list[tuple[int | None, ...]]) -> None:
        if not self.cell.built:  # loading a saved model builds the cell from its own config first
            self.cell.build(input_shape[0])
        self.built = True

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return (input_shape[0][0], self.cell.units)

    def call(self, inputs: list[Any]) -> Any:
        import tensorflow as tf

        x, parent = inputs
        parent = tf.cast(parent, tf.int32)
        s = tree_structure(parent)
        cell, u = self.cell, self.cell.units
        xw = cell.project(x)
        n = tf.shape(parent)[0]
        zeros = tf.zeros(tf.stack([n, u]), dtype=xw.dtype)

        def body(level: Any, h_all: Any, c_all: Any) -> tuple[Any, Any, Any]:
            nodes = s["by_height"][s["starts"][level]: s["starts"][level + 1]]
            kids = s["by_parent_height"][s["child_starts"][level]: s["child_starts"][level + 1]]
            kid_parent = tf.gather(s["rank"], tf.gather(parent, kids))
            h, c = cell.level(tf.gather(xw, nodes), tf.gather(h_all, kids), tf.gather(c_all, kids), kid_parent,
                              tf.gather(s["pos"], kids), tf.shape(nodes)[0])
            idx = nodes[:, None]
            return level + 1, tf.tensor_scatter_nd_update(h_all, idx, h), tf.tensor_scatter_nd_update(c_all, idx, c)

        _, h_all, _ = tf.while_loop(lambda level, h, c: level < s["levels"], body, (tf.constant(0), zeros, zeros))
        return h_all

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}


@keras.saving.register_keras_serializable(package="builder")
class TreeRoots(keras.layers.Layer):
    """[h [N, U], parent [N], tree [N]] -> [B, U]: each tree's root state, B = max(tree) + 1."""

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return (None, input_shape[0][-1])

    def call(self, inputs: list[Any]) -> Any:
        import tensorflow as tf

        h, parent, tree = inputs
        roots = tf.where(tf.cast(parent, tf.int32) < 0)[:, 0]
        tree = tf.cast(tree, tf.int32)
        n_trees = tf.reduce_max(tf.concat([tree, [-1]], 0)) + 1
        return tf.math.unsorted_segment_sum(tf.gather(h, roots), tf.gather(tree, roots), n_trees)
