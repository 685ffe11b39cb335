"""Spec -> Graphviz DOT text of the architecture (pure Python: no Keras, no TensorFlow).

One node per layer the builder makes, top to bottom, with the tensor shape on every edge, so the
diagram matches `builder.model.build.build_model` without building anything. `st.graphviz_chart` renders it.
"""

from __future__ import annotations

import math
from typing import Any

from builder.model.cells.registry import get_cell
from builder.spec import AttentionBlock, ConvBlock, DenseBlock, FCNBlock, ModelSpec, RecurrentBlock
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task

COLORS = {
    "io": "#e8eef7",
    "scale": "#f3f3f3",
    "conv": "#fde9d9",
    "recurrent": "#dbeedd",
    "attention": "#efe3f6",
    "dense": "#fff4cc",
    "head": "#e8eef7",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(*dims: int | str | None) -> str:
    return "[" + ", ".join("batch" if d == "batch" else ("T" if d is None else str(d)) for d in dims) + "]"


def _recurrent_width(block: RecurrentBlock) -> int:
    out = get_cell(block.cell).output_units(block.units, block.proj_units)
    if block.bidirectional and block.merge_mode == "concat":
        out *= 2
    return out


def to_dot(spec: ModelSpec, resolved: Resolved) -> str:
    """DOT text for the network `spec` describes on the data `resolved` describes
    (`Task.placeholder` gives one before any data)."""
    task = get_task(spec.task)
    n_features = resolved.n_features
    time: int | None = resolved.input_length
    lines = [
        "digraph model {",
        f'  graph [rankdir=TB, nodesep=0.3, ranksep=0.35, fontname="Helvetica", labelloc=t, label={_quote(spec.name)}];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#888888"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#666666"];',
    ]
    nodes: list[tuple[str, str, str]] = []  # (id, label, colour key)
    edges: list[str] = []  # shape after each node

    def add(label: str, kind: str, shape: str) -> None:
        nodes.append((f"n{len(nodes)}", label, kind))
        edges.append(shape)

    if task.entry.structure == "tree":
        _tree_body(spec, resolved, add)
        for label, kind, shape in task.head_diagram(spec, resolved):
            add(label, kind, shape)
        return _finish(lines, nodes, edges)
    if task.model_kind == "seq2seq":
        _seq2seq_body(spec, resolved, add)
        return _finish(lines, nodes, edges)
    if spec.task == "forecast" and spec.forecast_form == "autoregressive":
        _autoregressive_body(spec, resolved, add)
        return _finish(lines, nodes, edges)
    tokens = task.model_kind == "language_model"
    if tokens:  # token ids -> embedding; every recurrent layer returns all steps
        n_features = spec.embedding_dim
        add(f"Input characters\n(ids, context {resolved.lookback} in training)", "io", _shape("batch", None))
        add(f"Embedding\n{resolved.n_outputs} characters → {n_features}", "scale", _shape("batch", None, n_features))
    else:
        add(f"Input window\n{'lookback ' + str(time) if time else 'variable length'} × {n_features} features",
            "io", _shape("batch", time, n_features))
        add("Standardize\n(train-set scaling" + (", NaN mask)" if task.masks_padding else ")"), "scale",
            _shape("batch", time, n_features))

    fcn = next((b for b in spec.blocks if isinstance(b, FCNBlock)), None)
    if spec.task == "classify" and spec.data.sequence_norm == "zscore":
        add("Per-sequence z-normalisation", "scale", _shape("batch", time, n_features))
    kinds = [b.kind for b in spec.blocks if not isinstance(b, (DenseBlock, FCNBlock))]
    recurrent_idx = [i for i, k in enumerate(kinds) if k == "recurrent"]
    last_rec = recurrent_idx[-1] if recurrent_idx else -1
    width = n_features
    pending = fcn is not None

    def concat_fcn() -> None:
        nonlocal width, pending
        width, pending = width + fcn.filters, False
        se = ", squeeze-excite" if fcn.squeeze_excite else ""
        # three short lines: the widest node sets how far Graphviz scales the whole diagram down
        add(f"Concatenate with the FCN branch\n(Conv1D+BN+ReLU ×3 on the input,\n{fcn.filters}/{2 * fcn.filters}/"
            f"{fcn.filters} filters{se}, time mean)", "conv", _shape("batch", width))

    blocks = [b for b in spec.blocks if not isinstance(b, FCNBlock)]
    number = {id(b): k + 1 for k, b in enumerate(spec.blocks)}  # the Design editor's block numbers (1-based)
    for i, block in enumerate(blocks):
        if isinstance(block, DenseBlock) and pending:
            concat_fcn()
        if isinstance(block, RecurrentBlock) and block.dimension_shuffle:
            time, width = n_features, resolved.lookback
            add("Dimension shuffle\n(channels read as steps)", "scale", _shape("batch", time, width))
        if isinstance(block, ConvBlock):
            if time is not None and block.padding == "valid":
                time = max(time - block.kernel_size + 1, 0)
            width = block.filters
            add(f"Conv1D #{number[id(block)]}\n{block.filters} filters, kernel {block.kernel_size}, {block.padding}, "
                f"{block.activation}", "conv", _shape("batch", time, width))
            if block.pool_size > 1:
                time = math.ceil(time / block.pool_size) if time is not None else None
                add(f"MaxPool1D\nsize {block.pool_size}", "conv", _shape("batch", time, width))
        elif isinstance(block, RecurrentBlock):
            entry = get_cell(block.cell)
            for j in range(block.num_layers):
                is_final = i == last_rec and j == block.num_layers - 1
                returns_seq = tokens or getattr(task, "per_step", False) or not is_final or (i + 1 < len(kinds))
                width = _recurrent_width(block)
                parts = [f"{block.units} units"]
                if entry.projected and block.proj_units:
                    parts.append(f"proj {block.proj_units}")
                if block.bidirectional:
                    parts.append(f"bidirectional ({block.merge_mode})")
                if block.dropout or block.recurrent_dropout:
                    parts.append(f"dropout {block.dropout:g}/{block.recurrent_dropout:g}")
                layer = f" layer {j + 1}/{block.num_layers}" if block.num_layers > 1 else ""
                title = f"{entry.label} #{number[id(block)]}{layer}"
                seq_note = "all steps" if returns_seq else "last step"
                add(f"{title}\n{', '.join(parts)}\n→ {seq_note}", "recurrent",
                    _shape("batch", time, width) if returns_seq else _shape("batch", width))
        elif isinstance(block, AttentionBlock):
            add(f"Attention pooling #{number[id(block)]}\nscore units {block.units}", "attention", _shape("batch", width))
        elif isinstance(block, DenseBlock):
            width = block.units
            drop = f", dropout {block.dropout:g}" if block.dropout else ""
            add(f"Dense #{number[id(block)]}\n{block.units} units, {block.activation}{drop}", "dense", _shape("batch", width))

    if pending:
        concat_fcn()
    for label, kind, shape in task.head_diagram(spec, resolved):
        add(label, kind, shape)

    return _finish(lines, nodes, edges)


def _finish(lines: list[str], nodes: list[tuple[str, str, str]], edges: list[str]) -> str:
    for node_id, label, kind in nodes:
        lines.append(f"  {node_id} [label={_quote(label)}, fillcolor={_quote(COLORS[kind])}];")
    for k in range(len(nodes) - 1):
        lines.append(f"  n{k} -> n{k + 1} [label={_quote(' ' + edges[k])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tree_body(spec: ModelSpec, resolved: Resolved, add: object) -> None:
    """The tree task's layers (builder.model.tree): node inputs, Tree-LSTM, roots or nodes, dense blocks."""
    t = resolved.tree or {}
    block = spec.recurrent_blocks[0]
    entry = get_cell(block.cell)
    node_level = t.get("level") == "node"
    inputs = ["parent", "tree"] + (["tokens"] if t.get("token_col") else []) + (
        [f"{resolved.n_features} features"] if resolved.n_features else [])
    add(f"Input: a batch of trees, flat\n{', '.join(inputs)} per node", "io", "[nodes]")
    width = (block.units if t.get("token_col") else 0) + resolved.n_features
    if t.get("token_col"):
        add(f"Embedding\n{len(resolved.vocabulary)} tokens × {block.units}", "scale", f"[nodes, {width}]")
    arity = f", N = {t.get('arity') or block.arity or 2}" if block.cell == "nary_tree_lstm" else ""
    k = block.composition_layers
    compose = f"\n{k} ReLU composition layer{'s' if k > 1 else ''} per node" if k else ""
    add(f"{entry.label}\n{block.units} units{arity}{compose}\nlevel by level from the leaves", "recurrent",
        f"[nodes, {block.units}]")
    per = "nodes" if node_level else "trees"
    if not node_level:
        add("Root state of each tree", "attention", f"[trees, {block.units}]")
    for i, b in enumerate(spec.blocks):
        if isinstance(b, DenseBlock):
            add(f"Dense #{i + 1}\n{b.units} units, {b.activation}", "dense", f"[{per}, {b.units}]")


def _seq2seq_body(spec: ModelSpec, resolved: Resolved, add: Any) -> None:
    """The encoder-decoder's nodes (task translate): source embedding, the encoder stack, the decoder cell,
    attention and the output layer over the target vocabulary."""
    block = spec.recurrent_blocks[0]
    s, entry = spec.seq2seq, get_cell(block.cell)
    src, tgt, emb = len(resolved.vocabulary), len(resolved.classes), spec.embedding_dim
    width = block.units * (2 if block.bidirectional else 1)
    add(f"Source {s.tokens}\n(ids, up to {resolved.lookback})", "io", _shape("batch", resolved.lookback))
    add(f"Embedding\n{src} tokens → {emb}", "scale", _shape("batch", resolved.lookback, emb))
    for j in range(block.num_layers):
        direction = ", bidirectional" if block.bidirectional else ""
        add(f"Encoder {entry.label} layer {j + 1}/{block.num_layers}\n{block.units} units{direction}\n→ all steps",
            "recurrent", _shape("batch", resolved.lookback, width))
    att = {"bahdanau": "Bahdanau (additive)", "luong": f"Luong ({s.score})", "none": "none"}[s.attention]
    add(f"Decoder {entry.label} cell\n{block.units} units, one target token per step\n(embedding {emb}"
        + (" + previous context)" if s.attention != "none" else ")"), "recurrent", _shape("batch", block.units))
    if s.attention != "none":
        add(f"Attention: {att}\nover the encoder outputs → context", "attention", _shape("batch", width))
    add(f"Dense\n{tgt} target tokens (logits)", "head", _shape("batch", resolved.horizon, tgt))
    add(f"Output: greedy / beam decoding\n(teacher forcing: {s.teacher_forcing})", "io", "")


def _autoregressive_body(spec: ModelSpec, resolved: Resolved, add: Any) -> None:
    """The autoregressive forecast form's nodes (builder.model.autoregressive): window, scaling, the per-step
    input, the stack and dense blocks at every step, the output and the run on its own forecasts."""
    from builder.tasks.forecast import residual_lag

    L, F, H, k = resolved.input_length, resolved.n_features, resolved.horizon, resolved.n_outputs
    known = len(resolved.known_future or ())
    lag = residual_lag(spec, resolved)
    change = {0: "the targets", 1: "the change from the step before"}.get(lag, f"the change from {lag} steps before")
    add(f"Input window\nlookback {L} × {F} features", "io", _shape("batch", L, F))
    add("Standardize\n(train-set scaling)", "scale", _shape("batch", L, F))
    steps = (L or 0) - lag if L else None
    add(f"Per step t: {change}\n+ {known} known-future covariate(s) of step t + 1", "scale",
        _shape("batch", steps, k + known))
    width = k + known
    for i, block in enumerate(spec.blocks):
        if isinstance(block, RecurrentBlock):
            entry = get_cell(block.cell)
            for j in range(block.num_layers):
                width = _recurrent_width(block)
                layer = f" layer {j + 1}/{block.num_layers}" if block.num_layers > 1 else ""
                add(f"{entry.label} #{i + 1}{layer}\n{block.units} units, one step at a time", "recurrent",
                    _shape("batch", steps, width))
        elif isinstance(block, DenseBlock):
            width = block.units
            add(f"Dense #{i + 1}\n{block.units} units, {block.activation}, at every step", "dense",
                _shape("batch", steps, width))
    add(f"Dense forecast\nthe next step's value of {k} target(s)", "head", _shape("batch", steps, k))
    add(f"Run on its own forecasts\nfor {H} step(s) after the window", "head", _shape("batch", H, k))
    add("Output: forecasts\n(scaled back to raw units on export)", "io", "")
