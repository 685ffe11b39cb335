"""Spec + resolved record of a tree task -> keras.Model over flat batches of trees.

Inputs (one batch of B trees with N nodes in all, see builder.data.trees.TreeBatch):
    parent   int32 [N]     index of the node's parent in the batch, -1 at a root
    tree     int32 [N]     the node's tree, 0..B-1
    tokens   int32 [N]     token ids (resolved.vocabulary; 0 = unknown)      when the data has tokens
    features float32 [N, F] raw numeric features (standardized inside)        when the data has features
Body: token embedding (dimension = the block's units) and/or standardized features -> dropout ->
`TreeLSTM` (builder.model.cells.tree_lstm) -> for tree targets each root's state [B, U], for node
targets every node's [N, U] -> the spec's dense blocks -> the task's head.
"""

from __future__ import annotations

from typing import Any

import keras

from builder.model.cells.registry import get_cell
from builder.model.cells.tree_lstm import TreeLSTM, TreeRoots
from builder.model.layers import Standardize
from builder.spec import DenseBlock, ModelSpec
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task


def tree_inputs(resolved: Resolved) -> dict[str, Any]:
    """The Keras inputs of a tree model, by name (see the module docstring)."""
    t = resolved.tree or {}
    inputs = {"parent": keras.Input(shape=(), dtype="int32", name="parent"),
              "tree": keras.Input(shape=(), dtype="int32", name="tree")}
    if t.get("token_col"):
        inputs["tokens"] = keras.Input(shape=(), dtype="int32", name="tokens")
    if resolved.n_features:
        inputs["features"] = keras.Input(shape=(resolved.n_features,), dtype="float32", name="features")
    return inputs


def tree_cell(spec: ModelSpec, resolved: Resolved) -> Any:
    """The spec's tree cell, N-ary with N = resolved.tree["arity"]."""
    block = spec.recurrent_blocks[0]
    entry = get_cell(block.cell)
    kwargs = {"arity": int((resolved.tree or {}).get("arity") or block.arity or 2)} if block.cell == "nary_tree_lstm" else {}
    return entry.cell_class()(block.units, composition_layers=block.composition_layers, name=block.cell, **kwargs)


def build_tree_model(spec: ModelSpec, resolved: Resolved) -> keras.Model:
    """The network of a tree task (see the module docstring for inputs and outputs)."""
    task = get_task(spec.task)
    block = spec.recurrent_blocks[0]
    inputs = tree_inputs(resolved)
    parts = []
    if "tokens" in inputs:
        parts.append(keras.layers.Embedding(max(1, len(resolved.vocabulary)), block.units, name="embedding")(inputs["tokens"]))
    if "features" in inputs:
        parts.append(Standardize(resolved.n_features, name="standardize")(inputs["features"]))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="node_input")(parts)
    if block.dropout > 0:
        x = keras.layers.Dropout(block.dropout, name="input_dropout")(x)
    h = TreeLSTM(tree_cell(spec, resolved), name="tree_lstm")([x, inputs["parent"]])
    if (resolved.tree or {}).get("level", "tree") == "tree":
        h = TreeRoots(name="roots")([h, inputs["parent"], inputs["tree"]])
    for i, b in enumerate(spec.blocks):
        if isinstance(b, DenseBlock):
            h = keras.layers.Dense(b.units, activation=b.activation, name=f"dense_{i}")(h)
            if b.dropout > 0:
                h = keras.layers.Dropout(b.dropout, name=f"dropout_{i}")(h)
    outputs = task.head(h, None, spec, resolved)
    return keras.Model(inputs, outputs, name="tree_model")


def tree_params(spec: ModelSpec, resolved: Resolved) -> int:
    """All weights of `build_tree_model(spec, resolved)`, without Keras."""
    block = spec.recurrent_blocks[0]
    t = resolved.tree or {}
    d = (block.units if t.get("token_col") else 0) + resolved.n_features
    total = (len(resolved.vocabulary) * block.units if t.get("token_col") else 0) + 2 * resolved.n_features
    total += get_cell(block.cell).params(d, block.units, t.get("arity") or block.arity, block.composition_layers)
    ch = block.units
    for b in spec.blocks:
        if isinstance(b, DenseBlock):
            total += ch * b.units + b.units
            ch = b.units
    return int(total + get_task(spec.task).head_params(ch, spec, resolved))
