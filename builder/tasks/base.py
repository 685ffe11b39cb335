"""What every task provides, and the frozen record that data preparation resolves.

A task (one module each: forecast, classify, ...) owns what is particular to it: which columns and
windows its data has, the output head, the loss and metrics, its baselines and evaluation, the
serving contract's shapes, prediction on new data and the text its UI shows. Shared machinery
(reading CSVs, scalers, the recurrent body, fitting, runs, export) calls the task through `Task`.

`Resolved` is decided once, by `Task.resolve` after preparing the data (or by `Task.placeholder`
from the spec alone, before any data, for the Design page's size and diagram); model building,
export, the diagram and the pages read it and never default a value of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from builder.spec import ModelSpec
    from builder.tasks.registry import TaskEntry


@dataclass(frozen=True)
class Resolved:
    """Everything about a run's data that the model, the export and the pages need, fully resolved.

    inputs: the model's input channels in order (for series: the targets, then the covariates);
    input_length: the model's time axis (None: any length, padded); lookback: the window (or longest
    sequence) length; targets or classes: what the model outputs; x_scaler / y_scaler:
    `Scaler.to_dict()` records; split: rows (series) or sequences (classify) per part; windows:
    evaluation windows per part (series); vocabulary: token of each id (tree, id 0 = unknown); tree:
    the tree task's columns and target (builder.tasks.tree).
    """

    source: str
    inputs: tuple[str, ...]
    lookback: int | None
    input_length: int | None
    horizon: int | None = None
    targets: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    time_col: str | None = None
    freq: str | None = None
    season_length: int | None = None
    last_time: str | None = None
    id_col: str | None = None
    order_col: str | None = None
    label_col: str | None = None
    missing: str = "interpolate"
    x_scaler: dict[str, Any] | None = None
    y_scaler: dict[str, Any] | None = None
    split: dict[str, int] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    test_source: str | None = None
    #: forecast: "season" or "last", the naive forecast with the lower MAE on the validation windows
    #: (training windows when there is no validation); None when no season fits in the lookback
    better_naive: str | None = None
    vocabulary: tuple[str, ...] = ()
    tree: dict[str, Any] | None = None
    #: translate: the token unit of both texts ("characters" or "words"); vocabulary: the source tokens,
    #: classes: the target tokens (ids 0..3 pad, unknown, start, end), lookback / horizon: the longest
    #: source / target (with its end token) in tokens
    tokens: str | None = None
    #: forecast: covariates whose next `lead_steps` values are inputs (builder.data.series.with_known_future);
    #: their derived lead columns end `inputs`
    known_future: tuple[str, ...] = ()
    #: forecast: future values of each known-future column among the inputs
    lead_steps: int = 0

    @property
    def read_columns(self) -> tuple[str, ...]:
        """The data's own columns the inputs come from (`inputs` without derived known-future leads)."""
        return self.inputs[: len(self.inputs) - len(self.known_future) * int(self.lead_steps)]

    @property
    def n_features(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        """Classes (classify) or targets (forecast)."""
        return len(self.classes) if self.classes else len(self.targets)

    @property
    def covariates(self) -> tuple[str, ...]:
        """The inputs besides the targets (series put the targets first)."""
        return self.inputs[len(self.targets):] if self.targets else ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Resolved:
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})



def standing(model: float, best: float, lower_is_better: bool = False) -> str:
    """`Task.result_kind` of a model's score against the best baseline's: "success" (better), "info" (equal)
    or "warning" (worse)."""
    if model == best:
        return "info"
    return "success" if (model < best) == lower_is_better else "warning"

class Task:
    """Base class of the tasks; `entry` is the task's registry entry (name, label, losses, ...).

    Shapes: B batch, L lookback, F input features, H horizon, K targets, C classes.
    """

    #: True when sequences are NaN-padded and the model masks the padding (Keras's loop then runs)
    masks_padding: bool = False
    #: Keras metrics compiled with the loss
    keras_metrics: tuple[str, ...] = ()
    #: False when the model's shapes depend on the data inside a step (the tree task's level loop), so
    #: XLA cannot compile the training step; `jit_compile: "auto"` then resolves to False
    xla: bool = True
    #: which builder makes the network: "window" (builder.model.build: standardized windows -> the
    #: task's `head`) or "language_model" (builder.model.sequence: token ids -> embedding ->
    #: recurrent stack -> per-step logits; `head`/`head_params` then describe only the output layer)
    model_kind: str = "window"
    #: "seq2seq": builder.model.seq2seq (source ids -> encoder -> attention decoder -> target logits;
    #: the SavedModel's `translate` maps strings to strings)
    #: True when training writes a fresh sample to sample.json after each epoch (generative tasks)
    samples_each_epoch: bool = False

    def __init__(self, entry: TaskEntry) -> None:
        self.entry = entry
        self.name = entry.name

    # ---- data ----------------------------------------------------------------------------------------
    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        """The record a model of `spec` would have on data with `n_features` inputs, before any data."""
        raise NotImplementedError

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> Any:
        """Read and prepare the data file(s) for `spec` (raises DataError naming file, row, column)."""
        raise NotImplementedError

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> Any:
        """Prepare an already loaded table (the Data page's preview, tests)."""
        raise NotImplementedError

    def text_columns(self, spec: ModelSpec, columns: list[str]) -> list[str]:
        """The columns of a file with header `columns` that `prepare` reads as the text the file holds (ids:
        `001` and `1` are two), for a reader of the same file (the Data page) to read them alike. Default: none."""
        return []

    def resolve(self, data: Any, source: str | None = None, test_source: str | None = None) -> Resolved:
        """The frozen record of prepared `data`; `source` / `test_source`: the file paths to record
        (default: the name the data was read under)."""
        raise NotImplementedError

    def datasets(self, data: Any, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        """(training tf.data pipeline, validation pipeline or None, training items after the stride)."""
        raise NotImplementedError

    def overview(self, data: Any) -> dict[str, Any]:
        """What the Data page shows of prepared data (split sizes, columns, notices)."""
        raise NotImplementedError

    def guess_columns(self, df: pd.DataFrame, data: Any) -> dict[str, Any]:
        """The columns of `df` this task would read for the form fields whose `guess` is "role" (keyed by
        the field's key: a column name, or a list for "columns" fields), with the spec's `data`
        (DataSettings) choices first where they name columns of `df`; a role it cannot place is left out
        (never raises)."""
        return {}

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        """The Data page's Check row for `overview` (this task's `overview`): {"label", "value", "help"}
        each, value a short text. The default: the inputs and outputs of the model."""
        return [{"label": "Inputs → outputs", "value": f"{overview.get('n_features')} → {overview.get('n_outputs')}",
                 "help": None}]

    # ---- model -----------------------------------------------------------------------------------------
    def head(self, x: Any, scaled: Any, spec: ModelSpec, resolved: Resolved) -> Any:
        """Keras output layers on the body's summary x [B, ch] (`scaled`: the standardized inputs)."""
        raise NotImplementedError

    def head_params(self, ch: int, spec: ModelSpec, resolved: Resolved) -> int:
        """Weights of `head` on a body of `ch` channels (for the size estimate)."""
        raise NotImplementedError

    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        """The head's diagram nodes: (label, colour key, shape after it)."""
        raise NotImplementedError

    def raw_output(self, model: Any, resolved: Resolved) -> Any:
        """The model that maps raw inputs to the served output (forecasts in raw units, probabilities)."""
        return model

    def loss(self, spec: ModelSpec) -> str:
        raise NotImplementedError

    # ---- evaluation and serving -------------------------------------------------------------------
    def evaluate(self, data: Any, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """(metrics of the model and the baselines on the held-out part, its predictions and actuals)."""
        raise NotImplementedError

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        """Model and baselines, one row each, one column per metric."""
        raise NotImplementedError

    #: format of the metric table's numbers
    number_format: str = ".4g"

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        """The Evaluate page's headline cards: {"label", "value", "delta", "help"} each (value text,
        delta text or None, `lower_is_better` for the delta's colour)."""
        raise NotImplementedError

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        """(metric name, the model's value) for run lists."""
        raise NotImplementedError

    def result_summary(self, metrics: dict[str, Any]) -> str:
        """One sentence on a finished run for the Train page: the model's headline test figure beside its
        baselines. The default: the first of `metric_cards`, with its delta."""
        card = self.metric_cards(metrics)[0]
        delta = f" ({card['delta']})" if card.get("delta") else ""
        return f"Test {card['label'][:1].lower()}{card['label'][1:]} {card['value']}{delta}."

    def result_kind(self, metrics: dict[str, Any]) -> str:
        """How `result_summary` is shown: "success" when the model beats every baseline, "info" when it is
        level with the best, "warning" when a baseline is better. The default: "info" (no judgement)."""
        return "info"

    #: True when the task can refit on train + validation after early stopping (spec `training.refit`)
    refits: bool = False
    #: how `training.ensemble` members' outputs are combined into the served output: "median"
    #: (element-wise, forecasts), "mean" (class probabilities), or "" (the task has no ensembles)
    ensemble_combine: str = ""
    #: the Evaluate page's views of a run's results beyond the cards and the metric table, in order
    #: (pages/evaluate.py draws each by name): "forecast" (verdict, intervals, error by step, actual vs
    #: predicted, backtest), "tree_depth", "confusion" (when metrics.json has a confusion_matrix),
    #: "classes" (per-class precision/recall, misclassified examples), "generate" (a text box),
    #: "explain_windows" / "explain_sequences" (integrated gradients on a forecast window / a sequence)
    #: "step_sequence" (label_steps: a chosen held-out sequence's true vs predicted labels over time)
    evaluate_views: tuple[str, ...] = ()
    #: the spec's top-level model options (besides blocks and training) the task uses, which the
    #: Design page offers: "residual", "residual_base" (forecast), "embedding_dim" (token models)
    model_fields: tuple[str, ...] = ()
    #: the Export page's views beyond downloads, formats and prediction on a new file: "forecast_ahead"
    #: (the next horizon from the end of the training data)
    export_views: tuple[str, ...] = ()

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """The test metrics of one run for the comparison table."""
        raise NotImplementedError

    def cli_table(self, metrics: dict[str, Any]) -> str:
        """The CLI's text table of the model beside its baselines."""
        raise NotImplementedError

    def output_meaning(self, resolved: Resolved) -> str:
        """What the served output holds, for metadata.json and the serving snippet."""
        raise NotImplementedError

    def load_new(self, source: Any, name: str | None = None, resolved: Resolved | None = None) -> pd.DataFrame:
        """New data for `predict` as a table (default: a CSV read by builder.data.read.load_table);
        `resolved`: the run's columns (a sequence task keeps its id column as text)."""
        from builder.data.read import load_table

        return load_table(source, name=name)

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any) -> pd.DataFrame:
        """Predictions on a new table with the run's columns."""
        raise NotImplementedError

    def with_run_metrics(self, frame: pd.DataFrame, metrics: dict[str, Any]) -> pd.DataFrame:
        """`predict`'s frame with what the run's evaluation measured added (forecast: the conformal
        intervals' columns); `metrics`: the run's metrics.json ({} when absent). Default: unchanged."""
        return frame

    #: why the run's model is not converted to ONNX / LiteRT, i.e. what its SavedModel takes instead of one raw
    #: `window` [batch, time, features] ("" when it is converted; builder.serving.convert refuses with it)
    convert_refusal: str = ""
    #: why builder.serving.codegen writes no plain-Keras code for the task's model ("" when it does)
    codegen_refusal: str = ""
    #: options `predict` takes as keywords beyond (resolved, df, model) (translate: "beam")
    predict_options: tuple[str, ...] = ()

    def callbacks(self, spec: ModelSpec) -> list[Any]:
        """Keras callbacks the task trains with besides fit's own (translate: the teacher-forcing schedule);
        they run before fit's callback, so what they add to an epoch's logs lands in history.jsonl."""
        return []

    def serving_inputs(self, resolved: Resolved) -> list[dict[str, Any]] | None:
        """The SavedModel's named inputs ({"name", "dtype", "shape", "meaning"} each, in signature order)
        when they are not one raw window; None: one input `window` [batch, input_length, n_features].
        A model with several inputs takes them as a dict keyed by these names."""
        return None


class LogitsHead:
    """The head of a task whose output is logits over its tokens (generate, translate): one Dense "logits"
    on the last features x [..., ch] -> [..., n_outputs]. Listed before Task among a task's bases."""

    def head(self, x: Any, scaled: Any, spec: ModelSpec, resolved: Resolved) -> Any:
        import keras

        return keras.layers.Dense(resolved.n_outputs, name="logits")(x)

    def head_params(self, ch: int, spec: ModelSpec, resolved: Resolved) -> int:
        return ch * resolved.n_outputs + resolved.n_outputs
