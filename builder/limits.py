"""Limits that are checked before any work starts, each configurable by an environment variable.

    RNN_STUDIO_MAX_ROWS          rows of a CSV                         (default 2,000,000)
    RNN_STUDIO_MAX_COLUMNS       columns of a CSV (counted from the header before reading)  (2,000)
    RNN_STUDIO_MAX_FIELD_CHARS   characters in one CSV cell            (1,000,000)
    RNN_STUDIO_MAX_PARAMS        weights of a model, estimated from the spec before building (20,000,000)
    RNN_STUDIO_MAX_WINDOWS       forecast windows or labelled sequences (20,000,000)
    RNN_STUDIO_MAX_WORKERS       training processes running at once    (the number of CPU cores)

The upload size is Streamlit's own limit (server.maxUploadSize in .streamlit/config.toml).
`estimate_params` counts a spec's weights analytically, per layer and cell type, without Keras.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from builder.spec import AttentionBlock, ConvBlock, DenseBlock, ModelSpec, RecurrentBlock

ENV = {
    "max_rows": "RNN_STUDIO_MAX_ROWS",
    "max_columns": "RNN_STUDIO_MAX_COLUMNS",
    "max_field_chars": "RNN_STUDIO_MAX_FIELD_CHARS",
    "max_params": "RNN_STUDIO_MAX_PARAMS",
    "max_windows": "RNN_STUDIO_MAX_WINDOWS",
    "max_workers": "RNN_STUDIO_MAX_WORKERS",
}


class LimitError(ValueError):
    """A request beyond a configured limit; the message names the limit and how to raise it."""


@dataclass(frozen=True)
class Limits:
    max_rows: int = 2_000_000
    max_columns: int = 2_000
    max_field_chars: int = 1_000_000
    max_params: int = 20_000_000
    max_windows: int = 20_000_000
    max_workers: int = max(1, os.cpu_count() or 1)


def current() -> Limits:
    """The limits in force: the defaults, overridden by the RNN_STUDIO_MAX_* environment variables."""
    values = {}
    for key, var in ENV.items():
        raw = os.environ.get(var, "").strip().replace("_", "").replace(",", "")
        if not raw:
            continue
        try:
            value = int(float(raw))
        except ValueError:
            raise LimitError(f"{var}: expected a positive whole number, got {os.environ[var]!r}") from None
        if value < 1:
            raise LimitError(f"{var}: expected a positive whole number, got {os.environ[var]!r}")
        values[key] = value
    return Limits(**values)


def describe(key: str, value: int) -> str:
    """`the limit is 2,000 (RNN_STUDIO_MAX_COLUMNS)`: the tail of every limit message."""
    return f"the limit is {value:,} ({ENV[key]})"


# ------------------------------------------------------------------------------------------------------
# Model size
# ------------------------------------------------------------------------------------------------------
def recurrent_cell_params(cell: str, n_in: int, units: int, proj: int | None = None) -> tuple[int, int]:
    """(weights, output channels) of one recurrent layer of one direction."""
    u = units
    if cell == "simple_rnn":
        return n_in * u + u * u + u, u
    if cell == "lstm":
        return 4 * u * (n_in + u) + 4 * u, u
    if cell == "peephole_lstm":
        return 4 * u * (n_in + u) + 4 * u + 3 * u, u
    if cell == "cifg_lstm":
        return 3 * u * (n_in + u) + 3 * u, u
    if cell == "gru":  # reset_after=True: two bias vectors
        return 3 * u * (n_in + u) + 6 * u, u
    if cell == "lstm_proj":
        p = int(proj or u)
        return 4 * u * (n_in + p) + 4 * u + u * p, p
    if cell == "proj_gru":
        p = int(proj or u)
        return 3 * u * (n_in + p) + 6 * u + u * p, p
    raise ValueError(f"unknown cell {cell!r}")


def estimate_params(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> int:
    """All weights (trainable and the scaler statistics) of `build_model(spec, n_features, n_outputs)`.

    Equal to Keras' `model.count_params()`; computed from the spec alone, so a model too large to build
    is refused before any memory is spent on it.
    """
    if spec.task == "forecast":
        n_out = int(n_outputs) if n_outputs is not None else max(1, len(spec.data.targets))
    else:
        n_out = int(n_outputs) if n_outputs is not None else 2
    total = 2 * n_features  # Standardize: mean and scale
    ch = n_features
    for block in spec.blocks:
        if isinstance(block, ConvBlock):
            total += block.kernel_size * ch * block.filters + block.filters
            ch = block.filters
        elif isinstance(block, RecurrentBlock):
            for _ in range(block.num_layers):
                w, out = recurrent_cell_params(block.cell, ch, block.units, block.proj_units)
                if block.bidirectional:
                    w *= 2
                    out = 2 * out if block.merge_mode == "concat" else out
                total += w
                ch = out
        elif isinstance(block, AttentionBlock):
            total += ch * block.units + 2 * block.units
        elif isinstance(block, DenseBlock):
            total += ch * block.units + block.units
            ch = block.units
    if spec.task == "forecast":
        total += ch * spec.data.horizon * n_out + spec.data.horizon * n_out
    else:
        total += ch * n_out + n_out
    return int(total)


def check_model_size(spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> int:
    """Refuse a model above RNN_STUDIO_MAX_PARAMS (before it is built); returns the estimate."""
    n = estimate_params(spec, n_features, n_outputs)
    limit = current().max_params
    if n > limit:
        raise LimitError(
            f"the model would have {n:,} weights for {n_features} input feature(s); {describe('max_params', limit)}; "
            "use fewer units or layers, or fewer input columns"
        )
    return n
