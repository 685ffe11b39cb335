"""The weight count of a spec's model, computed from the spec and the cell registry without Keras.

`estimate_params(spec, resolved)` equals Keras's `model.count_params()` for `build_model(spec,
resolved)` (tests check it for every cell and preset), so a model too large to build is refused before
any memory is spent on it.
"""

from __future__ import annotations

from builder.limits import LimitError, current, describe
from builder.model.cells.registry import get_cell
from builder.spec import AttentionBlock, ConvBlock, DenseBlock, FCNBlock, ModelSpec, RecurrentBlock
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task


def recurrent_cell_params(cell: str, n_in: int, units: int, proj: int | None = None) -> tuple[int, int]:
    """(weights, output channels) of one recurrent layer of one direction."""
    entry = get_cell(cell)
    return entry.params(n_in, units, proj), entry.output_units(units, proj)


def estimate_params(spec: ModelSpec, resolved: Resolved) -> int:
    """All weights (trainable and the scaler statistics) of `build_model(spec, resolved)`."""
    if get_task(spec.task).entry.structure == "tree":
        from builder.model.tree import tree_params

        return tree_params(spec, resolved)
    if get_task(spec.task).model_kind == "language_model":
        return language_model_params(spec, resolved)
    if get_task(spec.task).model_kind == "seq2seq":
        return seq2seq_params(spec, resolved)
    if spec.task == "forecast" and spec.forecast_form == "autoregressive":
        return autoregressive_params(spec, resolved)
    ch = resolved.n_features
    total = 2 * ch  # Standardize: mean and scale
    fcn = next((b for b in spec.blocks if isinstance(b, FCNBlock)), None)
    fcn_pending = fcn is not None
    if fcn is not None:
        total += fcn_params(fcn, ch)
    if any(b.dimension_shuffle for b in spec.recurrent_blocks):
        ch = int(resolved.lookback or 0)  # the time steps become the channels
    for block in spec.blocks:
        if isinstance(block, DenseBlock) and fcn_pending:
            ch, fcn_pending = ch + fcn.filters, False
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
    if fcn_pending:
        ch += fcn.filters
    return int(total + get_task(spec.task).head_params(ch, spec, resolved))


def autoregressive_params(spec: ModelSpec, resolved: Resolved) -> int:
    """Weights of builder.model.build.build_autoregressive: the scaler, the stack over the k targets'
    changes and the C known-future covariates per step, the dense blocks and the output Dense(k)."""
    k = resolved.n_outputs
    total, ch = stack_params(spec, k + len(resolved.known_future or ()))
    return int(2 * resolved.n_features + total + ch * k + k)


def stack_params(spec: ModelSpec, n_in: int) -> tuple[int, int]:
    """(weights, output channels) of the spec's recurrent blocks (one direction) and dense blocks in order,
    read one step at a time from `n_in` channels (the language model and the autoregressive form)."""
    total, ch = 0, n_in
    for block in spec.blocks:
        if isinstance(block, RecurrentBlock):
            for _ in range(block.num_layers):
                w, ch = recurrent_cell_params(block.cell, ch, block.units, block.proj_units)
                total += w
        elif isinstance(block, DenseBlock):
            total += ch * block.units + block.units
            ch = block.units
    return total, ch


def fcn_kernels(block: FCNBlock) -> list[tuple[int, int]]:
    """(filters, kernel width) of the FCN branch's three blocks: f, 2f, f and k, k-3, k-5 (128/256/128, 8/5/3)."""
    f, k = block.filters, block.kernel_size
    return [(f, k), (2 * f, max(1, k - 3)), (f, max(1, k - 5))]


def fcn_params(block: FCNBlock, n_in: int) -> int:
    """Weights of the FCN branch (conv kernels and biases, batch-norm's 4 per channel, squeeze-excite)."""
    total, ch = 0, n_in
    for n, (filters, width) in enumerate(fcn_kernels(block)):
        total += width * ch * filters + filters + 4 * filters
        if block.squeeze_excite and n < 2:
            total += 2 * filters * max(1, filters // 16)
        ch = filters
    return total


def language_model_params(spec: ModelSpec, resolved: Resolved) -> int:
    """Weights of `build_language_model(spec, resolved)` without building it."""
    vocab = len(resolved.classes)
    total, ch = stack_params(spec, spec.embedding_dim)
    return int(vocab * spec.embedding_dim + total + ch * vocab + vocab)


#: recurrent states per cell (the rest carry one): what the bidirectional encoder's bridge maps
_TWO_STATE_CELLS = frozenset({"lstm", "peephole_lstm", "cifg_lstm"})


def seq2seq_params(spec: ModelSpec, resolved: Resolved) -> int:
    """Weights of `builder.model.seq2seq.build_seq2seq(spec, resolved)` without building it: both embeddings,
    the encoder stack, the decoder cell (input: embedding + context), the bridge of a bidirectional encoder,
    the attention layers, the output layer and the teacher-forcing ratio (one non-trainable scalar)."""
    block = spec.recurrent_blocks[0]
    s, units, emb = spec.seq2seq, block.units, spec.embedding_dim
    src, tgt = len(resolved.vocabulary), len(resolved.classes)
    directions = 2 if block.bidirectional else 1
    total, ch = (src + tgt) * emb, emb
    for _ in range(block.num_layers):
        total += directions * recurrent_cell_params(block.cell, ch, units)[0]
        ch = directions * units
    ctx = ch if s.attention != "none" else 0
    total += recurrent_cell_params(block.cell, emb + ctx, units)[0]
    if block.bidirectional:
        total += (2 if block.cell in _TWO_STATE_CELLS else 1) * (2 * units * units + units)
    if s.attention == "bahdanau":
        total += ch * units + units * units + units
    elif s.attention == "luong" and s.score == "general":
        total += ch * units
    return int(total + (units + ctx) * tgt + tgt + 1)


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
