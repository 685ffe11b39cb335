"""Spec + resolved data record -> keras.Model (functional API). The only place where layers are made.

`build_model(spec, resolved)` returns the trainable network: raw inputs [batch, input_length,
n_features] (scaled inside by `Standardize`) -> the task's head (builder.tasks: scaled forecasts
[batch, horizon, n_targets], or class probabilities [batch, n_classes]). The task's `raw_output`
wraps it into the served model (raw units in and out).
"""

from __future__ import annotations

import keras

from builder.model.cells.registry import get_cell
from builder.model.layers import (
    AttentionPooling,
    DimensionShuffle,
    DropMask,
    MaskedTimeMean,
    SequenceZNorm,
    Standardize,
)
from builder.model.recurrent import FusedRNN
from builder.model.size import fcn_kernels
from builder.spec import AttentionBlock, ConvBlock, DenseBlock, FCNBlock, ModelSpec, RecurrentBlock
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task


def recurrent_layer(block: RecurrentBlock, return_sequences: bool, name: str, return_state: bool = False) -> keras.layers.Layer:
    """One recurrent layer of `block` ([batch, time, ch] -> [batch, (time,) out]), bidirectional if asked
    (`return_state`: [output, *states], for the autoregressive forecast form, which is one direction).

    The layer comes from the cell registry: builder.model.recurrent's Fused* subclasses of Keras's
    RNN layers (same weights, config and results, with a fused whole-sequence loop on the CPU).
    """
    entry = get_cell(block.cell)
    common = {"dropout": block.dropout, "recurrent_dropout": block.recurrent_dropout}
    state = {"return_state": True} if return_state else {}
    layer_class = entry.layer_class()
    if layer_class is not None:
        layer = layer_class(block.units, return_sequences=return_sequences, name=name, **common, **state)
    else:
        extra = {"proj_units": block.proj_units} if entry.projected else {}
        layer = FusedRNN(entry.cell_class()(block.units, **extra, **common), return_sequences=return_sequences, name=name,
                         **state)
    if block.bidirectional:
        return keras.layers.Bidirectional(layer, merge_mode=block.merge_mode, name=f"bi_{name}")
    return layer


def build_model(spec: ModelSpec, resolved: Resolved) -> keras.Model:
    """Build the network described by `spec` for the data `resolved` describes.

    Input: [batch, resolved.input_length (None: any), resolved.n_features] raw values.
    Output: the task's head (see builder.tasks), in scaled units for forecasts.
    """
    if get_task(spec.task).entry.structure == "tree":  # node tables: the tree task's own network
        from builder.model.tree import build_tree_model

        return build_tree_model(spec, resolved)
    if resolved.n_features < 1:
        raise ValueError(f"Received an invalid value for argument `n_features`, expected >= 1, got {resolved.n_features}")
    task = get_task(spec.task)
    if task.model_kind == "language_model":
        return build_language_model(spec, resolved)
    if task.model_kind == "seq2seq":  # encoder-decoder with attention (task translate)
        from builder.model.seq2seq import build_seq2seq

        return build_seq2seq(spec, resolved)
    if spec.task == "forecast" and spec.forecast_form == "autoregressive":
        return build_autoregressive(spec, resolved)
    inputs = keras.Input(shape=(resolved.input_length, resolved.n_features), name="window")
    scaled = Standardize(resolved.n_features, mask_nan=task.masks_padding, name="standardize")(inputs)
    if spec.task == "classify" and spec.data.sequence_norm == "zscore":
        scaled = SequenceZNorm(name="sequence_znorm")([scaled, inputs])
    x = scaled

    blocks = [b for b in spec.blocks if not isinstance(b, FCNBlock)]
    fcn = next((b for b in spec.blocks if isinstance(b, FCNBlock)), None)
    # the last recurrent layer before the head returns only its final output unless attention follows
    seq_kinds = [b.kind for b in blocks if not isinstance(b, DenseBlock)]
    last_rec = max(i for i, k in enumerate(seq_kinds) if k == "recurrent")
    branch_done = fcn is None
    for i, block in enumerate(blocks):
        if isinstance(block, DenseBlock) and not branch_done:
            x, branch_done = keras.layers.Concatenate(name="concat_fcn")([x, fcn_branch(fcn, scaled, inputs)]), True
        if isinstance(block, ConvBlock):
            x = keras.layers.Conv1D(
                block.filters, block.kernel_size, padding=block.padding, activation=block.activation,
                name=f"conv_{i}",
            )(x)
            if block.pool_size > 1:
                x = keras.layers.MaxPooling1D(block.pool_size, padding="same", name=f"pool_{i}")(x)
        elif isinstance(block, RecurrentBlock):
            if block.dimension_shuffle:
                x = DimensionShuffle(name=f"shuffle_{i}")(x)
            for j in range(block.num_layers):
                is_final = i == last_rec and j == block.num_layers - 1
                needs_seq = not is_final or (i + 1 < len(seq_kinds)) or getattr(task, "per_step", False)
                x = recurrent_layer(block, needs_seq, name=f"{block.cell}_{i}_{j}")(x)
        elif isinstance(block, AttentionBlock):
            x = AttentionPooling(block.units, name=f"attention_{i}")(x)
        elif isinstance(block, DenseBlock):
            x = keras.layers.Dense(block.units, activation=block.activation, name=f"dense_{i}")(x)
            if block.dropout > 0:
                x = keras.layers.Dropout(block.dropout, name=f"dropout_{i}")(x)
    if not branch_done:
        x = keras.layers.Concatenate(name="concat_fcn")([x, fcn_branch(fcn, scaled, inputs)])
    outputs = task.head(x, scaled, spec, resolved)
    return keras.Model(inputs, outputs, name=_model_name(spec.name))


def build_autoregressive(spec: ModelSpec, resolved: Resolved) -> keras.Model:
    """`forecast_form: autoregressive`: raw windows [batch, L, F] -> scaled forecasts [batch, H, k]: Standardize, then AutoregressiveForecast
    over the spec's recurrent blocks (one direction; each layer returns its sequence and states) and dense
    blocks (applied at every step). The task's `raw_output` adds Unstandardize as for the direct form."""
    from builder.data.series import lead_name
    from builder.model.autoregressive import AutoregressiveForecast
    from builder.tasks.forecast import residual_lag

    inputs = keras.Input(shape=(resolved.input_length, resolved.n_features), name="window")
    scaled = Standardize(resolved.n_features, name="standardize")(inputs)
    recurrent, dense = [], []
    for i, block in enumerate(spec.blocks):
        if isinstance(block, RecurrentBlock):
            recurrent += [recurrent_layer(block, True, name=f"{block.cell}_{i}_{j}", return_state=True)
                          for j in range(block.num_layers)]
        elif isinstance(block, DenseBlock):
            dense.append(keras.layers.Dense(block.units, activation=block.activation, name=f"dense_{i}"))
            if block.dropout > 0:
                dense.append(keras.layers.Dropout(block.dropout, name=f"dropout_{i}"))
    names = list(resolved.inputs)
    known = list(resolved.known_future or ())
    leads = [[names.index(lead_name(c, j)) for c in known] for j in range(1, resolved.horizon + 1)] if known else []
    layer = AutoregressiveForecast(resolved.n_outputs, resolved.horizon, residual_lag(spec, resolved),
                                   [names.index(c) for c in known], leads, recurrent, dense,
                                   loss=get_task("forecast").loss(spec), name="autoregressive")
    return keras.Model(inputs, layer(scaled), name=_model_name(spec.name))


def fcn_branch(block: FCNBlock, scaled: keras.KerasTensor, raw: keras.KerasTensor) -> keras.KerasTensor:
    """LSTM-FCN's convolutional branch: scaled inputs [batch, time, F] -> [batch, filters].

    Three Conv1D (same padding) + BatchNormalization + ReLU blocks, squeeze-and-excite after the first
    two when asked (MLSTM-FCN: the block's channel means -> Dense(ch/16, relu) -> Dense(ch, sigmoid)
    rescale the channels), then the mean over the real steps (NaN padding of `raw` left out).
    """
    x = DropMask(name="fcn_input")(scaled)
    for n, (filters, width) in enumerate(fcn_kernels(block)):
        x = keras.layers.Conv1D(filters, width, padding="same", kernel_initializer="he_uniform", name=f"fcn_conv_{n}")(x)
        x = keras.layers.BatchNormalization(name=f"fcn_bn_{n}")(x)
        x = keras.layers.Activation("relu", name=f"fcn_relu_{n}")(x)
        if block.squeeze_excite and n < 2:
            s = MaskedTimeMean(name=f"fcn_se_pool_{n}")([x, raw])
            s = keras.layers.Dense(max(1, filters // 16), activation="relu", use_bias=False, name=f"fcn_se_reduce_{n}")(s)
            s = keras.layers.Dense(filters, activation="sigmoid", use_bias=False, name=f"fcn_se_expand_{n}")(s)
            x = keras.layers.Multiply(name=f"fcn_se_scale_{n}")([x, keras.layers.Reshape((1, filters), name=f"fcn_se_reshape_{n}")(s)])
    return MaskedTimeMean(name="fcn_pool")([x, raw])


def build_language_model(spec: ModelSpec, resolved: Resolved) -> keras.Model:
    """The next-token model of `spec` over the vocabulary `resolved.classes`: [B, T] ids -> [B, T, V] logits."""
    vocab = len(resolved.classes)
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab, spec.embedding_dim, name="embedding")(tokens)
    for i, block in enumerate(spec.blocks):
        if isinstance(block, RecurrentBlock):
            for j in range(block.num_layers):
                x = recurrent_layer(block, True, name=f"{block.cell}_{i}_{j}")(x)
        elif isinstance(block, DenseBlock):
            x = keras.layers.Dense(block.units, activation=block.activation, name=f"dense_{i}")(x)
            if block.dropout > 0:
                x = keras.layers.Dropout(block.dropout, name=f"dropout_{i}")(x)
        elif isinstance(block, ConvBlock):  # refused by builder.spec.checks for token tasks
            raise ValueError(f"blocks.{i}: a conv block cannot run one token at a time")
    logits = keras.layers.Dense(vocab, name="logits")(x)
    return keras.Model(tokens, logits, name=_model_name(spec.name))


def _model_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_")
    return cleaned or "model"


def model_facts(spec: ModelSpec, resolved: Resolved) -> tuple[int, str]:
    """(trainable parameter count, Keras summary as plain text) from one build of the model."""
    model = build_model(spec, resolved)
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    return int(sum(int(keras.ops.size(w)) for w in model.trainable_weights)), "\n".join(lines)
