"""The weight count of a spec's model, computed from the spec and the cell registry without Keras.

`estimate_params(spec, resolved)` equals Keras's `model.count_params()` for `build_model(spec,
resolved)` (tests check it for every cell and preset), so a model too large to build is refused before
any memory is spent on it.
"""

from __future__ import annotations

from builder.limits import LimitError, current, describe
from builder.model.cells.registry import get_cell
from builder.spec import AttentionBlock, ConvBlock, DenseBlock, ModelSpec, RecurrentBlock
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task


def recurrent_cell_params(cell: str, n_in: int, units: int, proj: int | None = None) -> tuple[int, int]:
    """(weights, output channels) of one recurrent layer of one direction."""
    entry = get_cell(cell)
    return entry.params(n_in, units, proj), entry.output_units(units, proj)


def estimate_params(spec: ModelSpec, resolved: Resolved) -> int:
    """All weights (trainable and the scaler statistics) of `build_model(spec, resolved)`."""
    if get_task(spec.task).model_kind == "language_model":
        return language_model_params(spec, resolved)
    ch = resolved.n_features
    total = 2 * ch  # Standardize: mean and scale
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
    return int(total + get_task(spec.task).head_params(ch, spec, resolved))


def language_model_params(spec: ModelSpec, resolved: Resolved) -> int:
    """Weights of `build_language_model(spec, resolved)` without building it."""
    vocab = len(resolved.classes)
    ch = spec.embedding_dim
    total = vocab * ch
    for block in spec.blocks:
        if isinstance(block, RecurrentBlock):
            for _ in range(block.num_layers):
                w, ch = recurrent_cell_params(block.cell, ch, block.units, block.proj_units)
                total += w
        elif isinstance(block, DenseBlock):
            total += ch * block.units + block.units
            ch = block.units
    return int(total + ch * vocab + vocab)


def check_model_size(spec: ModelSpec, resolved: Resolved) -> int:
    """Refuse a model above RNN_STUDIO_MAX_PARAMS (before it is built); returns the estimate."""
    n = estimate_params(spec, resolved)
    limit = current().max_params
    if n > limit:
        raise LimitError(
            f"the model would have {n:,} weights for {resolved.n_features} input feature(s); "
            f"{describe('max_params', limit)}; use fewer units or layers, or fewer input columns"
        )
    return n
