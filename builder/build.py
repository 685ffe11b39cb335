"""Spec + data shape -> keras.Model (functional API). The only place where layers are made.

`build_model(spec, n_features)` returns the trainable network: raw inputs [batch, lookback, n_features]
(scaled inside by `Standardize`) -> scaled forecasts [batch, horizon, n_targets] or class
probabilities [batch, n_classes]. `wrap_raw_output` adds the inverse target scaling so the saved model
maps raw units to raw units.
"""

from __future__ import annotations

import keras

from builder.layers import AddLastValue, AttentionPooling, Standardize, Unstandardize
from builder.spec import AttentionBlock, ConvBlock, DenseBlock, ModelSpec, RecurrentBlock

DEFAULT_LOOKBACK = 24


def resolve_n_outputs(spec: ModelSpec, n_outputs: int | None) -> int:
    """Forecast: number of targets (1 when unset); classify: number of classes (2 when unset)."""
    if n_outputs is not None:
        return int(n_outputs)
    if spec.task == "forecast":
        return max(1, len(spec.data.targets))
    return 2


def recurrent_layer(block: RecurrentBlock, return_sequences: bool, name: str) -> keras.layers.Layer:
    """One recurrent layer of `block` ([batch, time, ch] -> [batch, (time,) out]), bidirectional if asked.

    The layers are ``builder.recurrent``'s Fused* subclasses of Keras's RNN layers:
    same weights, config and results, with a fused whole-sequence loop on the CPU.
    """
    from builder.recurrent import FusedGRU, FusedLSTM, FusedRNN, FusedSimpleRNN

    common = {"dropout": block.dropout, "recurrent_dropout": block.recurrent_dropout}
    if block.cell == "simple_rnn":
        layer = FusedSimpleRNN(block.units, return_sequences=return_sequences, name=name, **common)
    elif block.cell == "lstm":
        layer = FusedLSTM(block.units, return_sequences=return_sequences, name=name, **common)
    elif block.cell == "gru":
        layer = FusedGRU(block.units, return_sequences=return_sequences, name=name, **common)
    else:
        from builder.cells import CUSTOM_CELLS, PROJECTED_CELLS

        extra = {"proj_units": block.proj_units} if block.cell in PROJECTED_CELLS else {}
        cell = CUSTOM_CELLS[block.cell](block.units, **extra, **common)
        layer = FusedRNN(cell, return_sequences=return_sequences, name=name)
    if block.bidirectional:
        return keras.layers.Bidirectional(layer, merge_mode=block.merge_mode, name=f"bi_{name}")
    return layer


def build_model(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> keras.Model:
    """Build the network described by `spec` for inputs with `n_features` channels.

    Input: [batch, lookback, n_features] raw values (lookback from the spec, or any length when unset).
    Output: forecast [batch, horizon, n_outputs] in scaled units; classify [batch, n_outputs] probabilities.
    """
    if n_features < 1:
        raise ValueError(f"Received an invalid value for argument `n_features`, expected >= 1, got {n_features}")
    n_out = resolve_n_outputs(spec, n_outputs)
    lookback = spec.data.lookback if spec.task == "forecast" else None
    if spec.task == "forecast" and lookback is None:
        lookback = DEFAULT_LOOKBACK
    inputs = keras.Input(shape=(lookback, n_features), name="window")
    scaled = Standardize(n_features, mask_nan=spec.task == "classify", name="standardize")(inputs)
    x = scaled

    blocks = spec.blocks
    # the last recurrent layer before the head returns only its final output unless attention follows
    seq_kinds = [b.kind for b in blocks if not isinstance(b, DenseBlock)]
    last_rec = max(i for i, k in enumerate(seq_kinds) if k == "recurrent")
    for i, block in enumerate(blocks):
        if isinstance(block, ConvBlock):
            x = keras.layers.Conv1D(
                block.filters, block.kernel_size, padding=block.padding, activation=block.activation,
                name=f"conv_{i}",
            )(x)
            if block.pool_size > 1:
                x = keras.layers.MaxPooling1D(block.pool_size, padding="same", name=f"pool_{i}")(x)
        elif isinstance(block, RecurrentBlock):
            for j in range(block.num_layers):
                is_final = i == last_rec and j == block.num_layers - 1
                needs_seq = not is_final or (i + 1 < len(seq_kinds))
                x = recurrent_layer(block, needs_seq, name=f"{block.cell}_{i}_{j}")(x)
        elif isinstance(block, AttentionBlock):
            x = AttentionPooling(block.units, name=f"attention_{i}")(x)
        elif isinstance(block, DenseBlock):
            x = keras.layers.Dense(block.units, activation=block.activation, name=f"dense_{i}")(x)
            if block.dropout > 0:
                x = keras.layers.Dropout(block.dropout, name=f"dropout_{i}")(x)

    if spec.task == "forecast":
        horizon = spec.data.horizon
        x = keras.layers.Dense(horizon * n_out, name="forecast")(x)
        outputs = keras.layers.Reshape((horizon, n_out), name="horizon_by_target")(x)
        if spec.residual:
            if n_out > n_features:
                raise ValueError(f"residual forecast needs the {n_out} targets among the {n_features} inputs")
            outputs = AddLastValue(n_out, name="add_last_value")([scaled, outputs])
    else:
        outputs = keras.layers.Dense(n_out, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=_model_name(spec.name))


def wrap_raw_output(model: keras.Model, spec: ModelSpec) -> keras.Model:
    """Forecast: model followed by `Unstandardize` (raw -> raw units). Classify: the model itself."""
    if spec.task != "forecast":
        return model
    n_targets = model.output_shape[-1]
    outputs = Unstandardize(n_targets, name="unstandardize")(model.output)
    return keras.Model(model.input, outputs, name=f"{model.name}_raw")


def _model_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_")
    return cleaned or "model"


def model_facts(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> tuple[int, str]:
    """(trainable parameter count, Keras summary as plain text) from one build of the model."""
    model = build_model(spec, n_features, n_outputs)
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    return int(sum(int(keras.ops.size(w)) for w in model.trainable_weights)), "\n".join(lines)
