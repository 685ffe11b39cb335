"""Rules that span several fields of a spec, one small function each.

Each raises ValueError with a message that quotes the values involved. `check_spec` runs them all and
is called by ModelSpec's validator, so an invalid combination can never be built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.spec.model import ModelSpec


def check_projection(spec: ModelSpec) -> None:
    """lstm_proj / proj_gru need 1 <= proj_units < units."""
    from builder.model.cells.registry import projected_cells

    for i, block in enumerate(spec.blocks):
        if block.kind != "recurrent" or block.cell not in projected_cells():
            continue
        if block.proj_units is None:
            raise ValueError(
                f"blocks.{i}.proj_units: cell `{block.cell}` needs a projection size smaller than "
                f"units={block.units}, got none"
            )
        if block.proj_units >= block.units:
            raise ValueError(
                f"blocks.{i}.proj_units: expected a value smaller than units={block.units}, "
                f"got {block.proj_units}"
            )


def check_block_order(spec: ModelSpec) -> None:
    """Sequence blocks (conv, recurrent) first, then at most one attention, then dense blocks.

    The time axis must be summarised by a recurrent block (its last layer returns only the final
    state) or by attention, so the sequence part must not end with a conv block.
    """
    kinds = [b.kind for b in spec.blocks if b.kind != "fcn"]  # the fcn branch runs beside the others
    if "recurrent" not in kinds:
        raise ValueError(f"blocks: expected at least one recurrent block, got {kinds}")
    if kinds.count("attention") > 1:
        raise ValueError(f"blocks: expected at most one attention block, got {kinds.count('attention')}")
    first_dense = kinds.index("dense") if "dense" in kinds else len(kinds)
    for i, kind in enumerate(kinds[first_dense:], start=first_dense):
        if kind != "dense":
            raise ValueError(f"blocks.{i}: a {kind} block cannot follow a dense block (dense blocks form the head)")
    seq_part = kinds[:first_dense]
    if "attention" in seq_part and seq_part[-1] != "attention":
        i = seq_part.index("attention")
        raise ValueError(f"blocks.{i}: attention must be the last block before the dense head, got {seq_part}")
    if seq_part[-1] == "conv":
        raise ValueError(
            f"blocks.{len(seq_part) - 1}: a conv block cannot end the sequence part; "
            "add a recurrent or attention block after it"
        )


def check_task_loss(spec: ModelSpec) -> None:
    """The loss must be one the task accepts (builder.tasks.registry: regression losses for forecasts,
    cross-entropy for classification)."""
    from builder.tasks.registry import TASKS

    loss, entry = spec.training.loss, TASKS[spec.task]
    if loss != "auto" and loss not in entry.losses:
        raise ValueError(
            f"training.loss: expected {', '.join(entry.losses)} or auto for task `{spec.task}`, got {loss}"
        )


def check_split(spec: ModelSpec) -> None:
    """Validation and test fractions must leave at least 10% for training."""
    d = spec.data
    if d.val_fraction + d.test_fraction >= 0.9:
        raise ValueError(
            f"data: val_fraction={d.val_fraction} + test_fraction={d.test_fraction} leave less than "
            "10% of the data for training"
        )


def check_clipping(spec: ModelSpec) -> None:
    """Keras accepts one gradient clipping mode at a time."""
    t = spec.training
    if t.clipnorm is not None and t.clipvalue is not None:
        raise ValueError(
            f"training: set either clipnorm ({t.clipnorm}) or clipvalue ({t.clipvalue}), not both"
        )


def check_fcn(spec: ModelSpec) -> None:
    """At most one FCN branch, in the sequence part; dimension shuffle only on the first recurrent block."""
    kinds = [b.kind for b in spec.blocks]
    if kinds.count("fcn") > 1:
        raise ValueError(f"blocks: expected at most one fcn block, got {kinds.count('fcn')}")
    if "fcn" in kinds and "dense" in kinds and kinds.index("fcn") > kinds.index("dense"):
        raise ValueError(f"blocks.{kinds.index('fcn')}: an fcn block cannot follow a dense block (dense blocks form the head)")
    rec = [i for i, b in enumerate(spec.blocks) if b.kind == "recurrent"]
    for i in rec[1:]:
        if spec.blocks[i].dimension_shuffle:
            raise ValueError(f"blocks.{i}.dimension_shuffle: only the first recurrent block can shuffle dimensions")
    if rec and spec.blocks[rec[0]].dimension_shuffle and any(b.kind == "conv" for b in spec.blocks[: rec[0]]):
        raise ValueError(f"blocks.{rec[0]}.dimension_shuffle: expected no conv block before it")


def check_tree_cells(spec: ModelSpec) -> None:
    """Tree cells serve only tree tasks, and a tree task is one layer of a tree cell (then dense blocks)."""
    from builder.model.cells.registry import get_cell
    from builder.tasks.registry import TASKS

    tree_task = TASKS[spec.task].structure == "tree"
    for i, block in enumerate(spec.blocks):
        if block.kind != "recurrent":
            if tree_task and block.kind != "dense":
                raise ValueError(f"blocks.{i}: task `{spec.task}` takes a tree cell and dense blocks, got a {block.kind} block")
            continue
        is_tree = get_cell(block.cell).structure == "tree"
        if block.composition_layers and not is_tree:
            raise ValueError(f"blocks.{i}.composition_layers: only tree cells have composition layers, expected 0 for "
                             f"{block.cell}, got {block.composition_layers}")
        if is_tree != tree_task:
            want = "a tree cell (child_sum_tree_lstm, nary_tree_lstm)" if tree_task else "a sequence cell"
            raise ValueError(f"blocks.{i}.cell: task `{spec.task}` needs {want}, got {block.cell}")
        if tree_task and (block.num_layers != 1 or block.bidirectional):
            raise ValueError(f"blocks.{i}: a tree cell runs as one layer in one direction, got num_layers="
                             f"{block.num_layers}, bidirectional={block.bidirectional}")
    if tree_task and sum(b.kind == "recurrent" for b in spec.blocks) != 1:
        raise ValueError(f"blocks: task `{spec.task}` takes exactly one tree-cell block")


def check_token_model(spec: ModelSpec) -> None:
    """A generating model runs one token at a time: no bidirectional layer, conv or attention block."""
    if spec.task != "generate":
        return
    for i, block in enumerate(spec.blocks):
        if block.kind in ("conv", "attention"):
            raise ValueError(f"blocks.{i}: task `generate` takes recurrent and dense blocks only, got a {block.kind} block")
        if block.kind == "recurrent" and block.bidirectional:
            raise ValueError(f"blocks.{i}.bidirectional: task `generate` predicts the next character from the past "
                             "only; expected false, got true")


def check_seq2seq(spec: ModelSpec) -> None:
    """Task translate: one recurrent block of a plain sequence cell (the encoder; the decoder is one layer of
    the same cell); Luong's dot score needs a one-direction encoder of the decoder's size."""
    if spec.task != "translate":
        return
    from builder.model.cells.registry import projected_cells

    kinds = [b.kind for b in spec.blocks]
    if kinds != ["recurrent"]:
        raise ValueError(f"blocks: task `translate` takes exactly one recurrent block (the encoder), got {kinds}")
    block = spec.blocks[0]
    if block.cell in projected_cells():
        raise ValueError(f"blocks.0.cell: task `translate` needs a cell without a projection, got {block.cell}")
    s = spec.seq2seq
    if s.attention == "luong" and s.score == "dot" and block.bidirectional:
        raise ValueError("seq2seq.score: 'dot' needs encoder outputs of the decoder's size; a bidirectional encoder "
                         f"gives {2 * block.units}, the decoder {block.units}; use score 'general'")


def check_augmentation(spec: ModelSpec) -> None:
    """Augmentation of the training data only where the task's registry entry takes it (`TaskEntry.augments`)."""
    from builder.tasks.registry import TASKS

    takers = [name for name, e in TASKS.items() if e.augments]
    for name in ("augment_jitter", "augment_scaling"):
        value = getattr(spec.training, name)
        if value is not None and not TASKS[spec.task].augments:
            raise ValueError(f"training.{name}: augmentation applies to task(s) {', '.join(f'`{t}`' for t in takers)} "
                             f"only, got {value} with task `{spec.task}` (expected empty)")


def check_forecast_form(spec: ModelSpec) -> None:
    """`forecast_form: autoregressive` is a forecast form: recurrent blocks in one direction, then dense blocks,
    on a raw-space residual of base auto, last or season (or none)."""
    if spec.forecast_form == "direct":
        return
    if spec.task != "forecast":
        raise ValueError(f"forecast_form: autoregressive is a form of task `forecast`; expected direct for task "
                         f"`{spec.task}`, got {spec.forecast_form}")
    for i, block in enumerate(spec.blocks):
        if block.kind not in ("recurrent", "dense"):
            raise ValueError(f"blocks.{i}: forecast_form autoregressive runs one step at a time and takes recurrent and "
                             f"dense blocks only, got a {block.kind} block")
        if block.kind == "recurrent" and block.bidirectional:
            raise ValueError(f"blocks.{i}.bidirectional: forecast_form autoregressive reads the past only; expected "
                             "false, got true")
        if block.kind == "recurrent" and block.dimension_shuffle:
            raise ValueError(f"blocks.{i}.dimension_shuffle: forecast_form autoregressive reads one step at a time; "
                             "expected false, got true")
    if spec.residual and spec.residual_base == "season_drift":
        raise ValueError("residual_base: forecast_form autoregressive forecasts the change from the value one season "
                         "(season) or one step (last) before; expected auto, last or season, got season_drift")
    if spec.residual and spec.residual_space == "log":
        raise ValueError("residual_space: forecast_form autoregressive takes raw; got log")


RULES = (check_projection, check_fcn, check_block_order, check_task_loss, check_split, check_clipping,
         check_tree_cells, check_token_model, check_seq2seq, check_augmentation,
         check_forecast_form)


def check_spec(spec: ModelSpec) -> None:
    """Run every cross-field rule; the first failure raises ValueError."""
    for rule in RULES:
        rule(spec)
