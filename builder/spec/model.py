"""The model spec: one validated, JSON-serializable description of a model, its data window and training.

Everything the UI shows and the CLI accepts about a model is a field here. Each field carries its type,
default, bounds and a description; `ModelSpec.model_json_schema()` hands the same metadata to the UI.
Unknown keys and out-of-range values are errors that name the field, the expected and the received value.
Rules spanning several fields live in `builder.spec.checks`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from builder.model.cells.registry import CELLS, TREE_CELLS
from builder.tasks.registry import TASKS

#: The cell names of the cell registry (builder.model.cells.registry), as the spec's choices.
CellName = Literal[tuple(CELLS) + tuple(TREE_CELLS)]  # type: ignore[valid-type]


class SpecError(ValueError):
    """A spec that fails validation; the message names the field, the expected and the received value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ConvBlock(_Strict):
    """A Conv1D front-end block: [batch, time, ch] -> [batch, time', filters]."""

    kind: Literal["conv"] = "conv"
    filters: int = Field(32, ge=1, le=1024, description="Number of convolution filters.")
    kernel_size: int = Field(3, ge=1, le=64, description="Width of the convolution window in time steps.")
    activation: Literal["relu", "tanh", "gelu", "linear"] = Field("relu", description="Activation after the convolution.")
    padding: Literal["causal", "same", "valid"] = Field(
        "causal", description="causal: each output sees only the past; same: centred; valid: no padding."
    )
    pool_size: int = Field(1, ge=1, le=16, description="Max-pooling width after the convolution (1 = no pooling).")


class RecurrentBlock(_Strict):
    """One or more stacked recurrent layers of one cell type: [batch, time, ch] -> [batch, (time,) out]."""

    kind: Literal["recurrent"] = "recurrent"
    cell: CellName = Field("lstm", description="Recurrent cell type.")
    units: int = Field(64, ge=1, le=4096, description="Hidden units per layer (and direction).")
    proj_units: int | None = Field(
        None, ge=1, le=4096,
        description="Projection size for lstm_proj / proj_gru (must be smaller than units); unused otherwise.",
    )
    num_layers: int = Field(1, ge=1, le=16, description="How many identical layers to stack.")
    bidirectional: bool = Field(False, description="Read the sequence forwards and backwards.")
    merge_mode: Literal["concat", "sum", "mul", "ave"] = Field(
        "concat", description="How the two directions are combined (bidirectional only)."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the layer inputs (training only).")
    recurrent_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on the recurrent state (training only; disables cuDNN)."
    )
    arity: int | None = Field(
        None, ge=1, le=16,
        description="N-ary Tree-LSTM only: children per node (N), fewer are padded. Empty: the most "
        "children of any node in the training trees.",
    )
    composition_layers: int = Field(
        0, ge=0, le=3,
        description="Tree-LSTM cells only: dense ReLU layers (width = units) between the children's summed "
        "state (with the node's own input) and the node's gates, so each node applies a nonlinear function "
        "of its children. 0: the cell of Tai et al. (2015).",
    )
    dimension_shuffle: bool = Field(
        False,
        description="LSTM-FCN's dimension shuffle: read the F input channels as F steps of `lookback` values "
        "each (fixes the input length to the lookback; first recurrent block only).",
    )


class FCNBlock(_Strict):
    """A fully convolutional branch beside the recurrent one (LSTM-FCN, Karim et al. 2018): three
    Conv1D + batch-norm + ReLU blocks over the model's input, globally average-pooled over the real
    steps, concatenated with the recurrent summary before the head: [batch, time, F] -> [batch, filters]."""

    kind: Literal["fcn"] = "fcn"
    filters: int = Field(128, ge=1, le=1024, description="Filters of the first and third blocks (the second has twice as many).")
    kernel_size: int = Field(
        8, ge=4, le=64, description="Kernel width of the first block; the second and third use 3 and 5 steps less (8, 5, 3)."
    )
    squeeze_excite: bool = Field(
        False, description="Squeeze-and-excite after the first two blocks (MLSTM-FCN, Karim et al. 2019)."
    )


class AttentionBlock(_Strict):
    """Additive attention pooling over the time axis: [batch, time, ch] -> [batch, ch]."""

    kind: Literal["attention"] = "attention"
    units: int = Field(32, ge=1, le=1024, description="Size of the attention scoring layer.")


class DenseBlock(_Strict):
    """A fully connected layer of the head: [batch, ch] -> [batch, units]."""

    kind: Literal["dense"] = "dense"
    units: int = Field(32, ge=1, le=4096, description="Units of the dense layer.")
    activation: Literal["relu", "tanh", "gelu", "sigmoid", "linear"] = Field("relu", description="Activation.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout after the layer (training only).")


Block = Annotated[ConvBlock | RecurrentBlock | FCNBlock | AttentionBlock | DenseBlock, Field(discriminator="kind")]


class DataSettings(_Strict):
    """How the CSV becomes windows: which columns, how far back and ahead, how it is split."""

    time_col: str | None = Field(None, description="Time column (forecast). Empty: detected from the data.")
    targets: list[str] = Field(
        default_factory=list, description="Columns to forecast. Empty: the first numeric column."
    )
    features: list[str] | None = Field(
        None,
        description="Covariate columns fed to the model besides the targets. None: every other numeric column.",
    )
    id_col: str | None = Field(None, description="Sequence id column (classify, long format).")
    order_col: str | None = Field(None, description="Order column within a sequence (classify). Empty: file order.")
    label_col: str | None = Field(None, description="Label column (classify, tree).")
    node_col: str | None = Field(None, description="Node id column (tree). Empty: detected (node_id).")
    parent_col: str | None = Field(None, description="Parent id column, empty at a root (tree). Empty: detected (parent_id).")
    token_col: str | None = Field(None, description="Token column (tree). Empty: detected (token).")
    source_col: str | None = Field(None, description="Source text column (translate): the text to translate.")
    target_col: str | None = Field(None, description="Target text column (translate): its translation.")
    known_future: list[str] = Field(
        default_factory=list,
        description="Forecast: covariate columns whose values are known ahead (holiday flags, planned prices, a "
        "calendar). Besides their past values, each window row carries their next values (over the horizon and at "
        "least one season), so the forecast steps' values are inputs; a forecast after the data needs them, in rows "
        "after the last target value with the targets empty.",
    )
    lookback: int | None = Field(
        None, ge=1, le=100_000,
        description="Input window length in steps. Empty: the forecast task's default window; for "
        "classification, the longest sequence.",
    )
    horizon: int = Field(1, ge=1, le=10_000, description="Steps ahead to forecast.")
    val_fraction: float = Field(0.15, ge=0.0, lt=0.9, description="Fraction held out for validation.")
    test_fraction: float = Field(0.15, ge=0.0, lt=0.9, description="Fraction held out for the test.")
    missing: Literal["interpolate", "ffill", "drop", "refuse"] = Field(
        "interpolate",
        description="Missing values: interpolate in time (default), forward-fill, drop the rows, or refuse the file.",
    )
    scaler: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Scaling fit on the training part only."
    )
    season_length: int | None = Field(
        None, ge=1, le=100_000,
        description="Season length for the seasonal-naive baseline. Empty: inferred from the time column.",
    )
    stride: int = Field(1, ge=1, le=10_000, description="Step between consecutive training windows.")
    sequence_norm: Literal["none", "zscore"] = Field(
        "none",
        description="Classify: zscore normalises each sequence's channels by their own mean and deviation inside "
        "the model (the UCR archive's convention), after the train-fit scaling; none keeps amplitude as information.",
    )


class TrainingSpec(_Strict):
    """Optimiser and fit settings."""

    optimizer: Literal["adam", "adamw", "rmsprop", "sgd", "nadam"] = Field("adam", description="Optimiser.")
    learning_rate: float = Field(1e-3, gt=0.0, le=10.0, description="Initial learning rate.")
    batch_size: int = Field(64, ge=1, le=65_536, description="Windows per training step.")
    epochs: int = Field(50, ge=1, le=100_000, description="Maximum passes over the training windows.")
    patience: int | None = Field(
        8, ge=1, le=10_000,
        description="Early stopping: epochs without validation improvement before stopping (best weights kept). Empty: off.",
    )
    clipnorm: float | None = Field(1.0, gt=0.0, description="Clip each gradient to this L2 norm. Empty: off.")
    clipvalue: float | None = Field(None, gt=0.0, description="Clip each gradient element to ±value. Empty: off.")
    loss: Literal["auto", "mse", "mae", "huber", "crossentropy"] = Field(
        "auto", description="Loss. auto: mse for forecasts, crossentropy for classification."
    )
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Random seed (weights, shuffling, dropout).")
    jit_compile: bool | Literal["auto"] = Field("auto", description="XLA-compile the training step.")
    refit: bool = Field(
        False,
        description="Forecast: after early stopping picks the epoch count on validation, train a fresh model "
        "on train + validation for that many epochs and keep it (the test part is never used).",
    )
    baselines: Literal["all", "fast", "off"] = Field(
        "all",
        description="Classify: baselines scored beside the model. all: majority class, 1-NN Euclidean, 1-NN DTW "
        "(full window and a band chosen on the training part) and MiniRocket; fast: majority class and 1-NN "
        "Euclidean; off: majority class only.",
    )
    lr_plateau_patience: int | None = Field(
        None, ge=1, le=10_000,
        description="Halve the learning rate after this many epochs without improvement of the monitored loss "
        "(Keras ReduceLROnPlateau, down to 1e-5). Empty: off.",
    )
    min_steps_per_epoch: int | None = Field(
        None, ge=1, le=100_000,
        description="Repeat the training windows within an epoch until it has at least this many optimizer "
        "steps, so that on a short series (an epoch of one to three batches) early stopping's patience and "
        "the learning-rate schedule count enough updates. Empty: off (one pass per epoch).",
    )
    ensemble: int = Field(
        1, ge=1, le=25,
        description="Train this many models (seeds seed, seed+1, ...) and serve one model whose output is "
        "the element-wise median of their forecasts (forecast) or the mean of their class probabilities "
        "(classify); metrics are the combined model's. Training takes that many times longer. 1: a single model.",
    )
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="Classify: balanced weighs each class inversely to its share of the training sequences."
    )
    augment_jitter: float | None = Field(
        None, gt=0.0, le=2.0,
        description="Classify: add Gaussian noise of this standard deviation (in the model's scaled units, i.e. "
        "a share of each channel's training spread) to every training sequence, drawn afresh each epoch. "
        "Empty: off.",
    )
    augment_scaling: float | None = Field(
        None, gt=0.0, le=1.0,
        description="Classify: multiply each training sequence's channels by 1 + sd * z (z ~ N(0, 1), one draw per "
        "sequence and channel, afresh each epoch), with sd this value. Empty: off.",
    )
    steps_per_execution: int = Field(
        16, ge=1, le=10_000,
        description=(
            "Batches run in one graph call (at most one epoch's). It cuts Python round trips: the call, the "
            "logs and the callbacks run once per call, and so progress, the NaN check and the stop button "
            "react once per call."
        ),
    )


class Seq2SeqSettings(_Strict):
    """Task translate: the encoder-decoder around the spec's recurrent block (builder.model.seq2seq).

    The recurrent block gives the encoder (cell, units, layers, direction, dropout) and the decoder's
    cell and units; `embedding_dim` the size of both embeddings.
    """

    tokens: Literal["characters", "words"] = Field(
        "characters", description="Token unit of both texts: characters, or whitespace-separated words.")
    attention: Literal["bahdanau", "luong", "none"] = Field(
        "bahdanau", description="Attention over the encoder outputs: bahdanau (additive), luong (multiplicative) "
        "or none (the final encoder state alone).")
    score: Literal["general", "dot"] = Field(
        "general", description="Luong attention's score: general (s . W h) or dot (s . h; needs a one-direction "
        "encoder of the decoder's size).")
    teacher_forcing: Literal["none", "linear", "exponential", "inverse_sigmoid"] = Field(
        "linear", description="Scheduled sampling (Bengio et al. 2015): how the share of true previous tokens fed to "
        "the decoder decays per epoch; the rest are the model's own predictions. none: always the true token.")
    tf_k: float = Field(
        1.0, gt=0.0, le=1000.0, description="Schedule constant k: linear k - c*epoch; exponential k**epoch "
        "(0 < k < 1); inverse sigmoid k / (k + exp(epoch / k)) (k >= 1).")
    tf_c: float = Field(0.1, ge=0.0, le=1.0, description="Linear schedule: the ratio's drop per epoch.")
    tf_min: float = Field(0.0, ge=0.0, le=1.0, description="The lowest teacher-forcing ratio of the schedule.")
    beam_width: int = Field(
        4, ge=0, le=32, description="Beam width of the evaluation's beam-search decode beside greedy (0 or 1: "
        "greedy only).")


class ModelSpec(_Strict):
    """A complete, data-independent description of a model, its window and its training.

    The network is built from this and the number of input features (`builder.build_model`): inputs
    [batch, lookback, n_features] -> outputs [batch, horizon, n_targets] (forecast) or
    [batch, n_classes] probabilities (classify).
    """

    name: str = Field("custom", min_length=1, max_length=80, description="Short name.")
    description: str = Field("", max_length=2000, description="What the model is.")
    when_to_use: str = Field("", max_length=2000, description="When to pick it.")
    # checked against the registry when validated (not a Literal frozen at import), so a task entry
    # added at run time (a plugin, a test's throwaway task) is a valid task at once
    task: str = Field(
        "forecast", description="; ".join(f"{e.name}: {e.label}" for e in TASKS.values()),
        json_schema_extra=lambda schema: schema.update(enum=list(TASKS)),
    )
    data: DataSettings = Field(default_factory=DataSettings)
    blocks: list[Block] = Field(
        default_factory=lambda: [RecurrentBlock()],
        min_length=1, max_length=32,
        description="Layers in order: conv front end, recurrent blocks, optional attention, dense head.",
    )
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    embedding_dim: int = Field(
        64, ge=1, le=4096,
        description="Token tasks (generate, translate): size of the learned embedding of each character in front of the "
        "recurrent stack.",
    )
    seq2seq: Seq2SeqSettings = Field(
        default_factory=Seq2SeqSettings,
        description="Task translate: tokens, attention, teacher-forcing schedule and the evaluation's beam width.")
    residual: bool = Field(
        True,
        description="Forecast only: predict the change from the last observed value of each target "
        "(the naive forecast is added back inside the model). Helps on trending series.",
    )
    residual_space: Literal["raw", "log"] = Field(
        "raw",
        description="Forecast with residual only: raw adds the predicted change to the base forecast; log "
        "predicts it in log space (forecast = base x exp(change), a relative change that suits series "
        "whose swings grow with their level). log needs every target value above 0.",
    )
    forecast_form: Literal["direct", "autoregressive"] = Field(
        "direct",
        description="Forecast only. direct: the recurrent stack reads the window and a dense head writes every "
        "horizon step at once. autoregressive: the stack reads one step at a time, forecasts the next step at "
        "every step and then runs on its own forecasts (Darts' RNNModel form), trained on the one-step forecasts "
        "inside each window; it takes recurrent blocks in one direction and dense blocks, and every covariate "
        "must be known in advance (data.known_future), since it is read at every forecast step.",
    )
    residual_base: Literal["auto", "last", "season", "season_drift"] = Field(
        "auto",
        description="Forecast with residual only: the naive forecast the network corrects. last: the last "
        "observed value; season: the value one season earlier (seasonal naive; needs a lookback of at least "
        "one season); season_drift: seasonal naive plus the change over the last season (last value minus the "
        "value one season before it; needs one step more); auto: season when the seasonal-naive forecast beats the last value on the "
        "validation part, else last.",
    )

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        if value not in TASKS:
            raise ValueError(f"field `task`: expected one of {', '.join(map(repr, TASKS))}, got {json.dumps(value)}")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ModelSpec:
        from builder.spec.checks import check_spec

        check_spec(self)
        return self

    # ---- convenience -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "spec") -> ModelSpec:
        """Validate a plain dict; raise SpecError with one readable line per problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise SpecError(format_validation_error(err, source)) from None

    @classmethod
    def from_json(cls, path: str | Path) -> ModelSpec:
        """Read and validate a spec JSON file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise SpecError(f"{path}: file not found") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SpecError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise SpecError(f"{path}: expected a JSON object, found {type(data).__name__}")
        return cls.from_dict(data, source=str(path))

    def to_json(self, path: str | Path | None = None) -> str:
        """The spec as indented JSON (written to `path` too, if given)."""
        text = self.model_dump_json(indent=2)
        if path is not None:
            from builder.files import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    def updated(self, **changes: Any) -> ModelSpec:
        """A validated copy with nested changes, e.g. `updated(training={"epochs": 2})`."""
        data = self.model_dump()
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key].update(value)
            else:
                data[key] = value
        return ModelSpec.from_dict(data)

    @property
    def fixed_length(self) -> bool:
        """True when the model's time axis must be the lookback (dimension shuffle reads time as channels)."""
        return any(b.dimension_shuffle for b in self.recurrent_blocks)

    @property
    def recurrent_blocks(self) -> list[RecurrentBlock]:
        return [b for b in self.blocks if isinstance(b, RecurrentBlock)]


def format_validation_error(err: ValidationError, source: str = "spec") -> str:
    """One line per problem: `<source>: field a.b: expected ..., got ...`."""
    lines = []
    for e in err.errors():
        parts = e["loc"]  # a block's kind tag (after its index in blocks) is pydantic's, not a field
        loc = ".".join(str(p) for i, p in enumerate(parts)
                       if not (i > 0 and isinstance(parts[i - 1], int) and p in {"conv", "recurrent", "attention", "dense", "fcn"}))
        got = e.get("input")
        got_text = json.dumps(got, default=str) if not isinstance(got, dict) else "an object"
        if len(got_text) > 80:
            got_text = got_text[:77] + "..."
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown field `{loc}` (got {got_text}); check the spelling")
        elif e["type"] == "value_error":
            lines.append(f"{source}: {msg.removeprefix('Value error, ')}")
        else:
            expected = msg.removeprefix("Input should be ").removeprefix("Input should ")
            lines.append(f"{source}: field `{loc}`: expected {expected[0].lower() + expected[1:]}, got {got_text}")
    return "; ".join(lines)
