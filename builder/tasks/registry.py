"""The task registry: one entry per task, read by the spec, the CLI, the pages and training.

Importing this module imports nothing heavy (the task classes load on first use), so the spec can
take its `task` choices from here. To add a task: write ``builder/tasks/<name>.py`` with a
``Task`` subclass (builder.tasks.base) and add one ``TaskEntry`` below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.tasks.base import Task


@dataclass(frozen=True)
class FormField:
    """One input of a task's data form, bound to ``spec.data.<key>``; the Data page draws one widget per
    field in order and the CLI's flags set the same keys.

    kind: "column" (one column of the file), "optional_column" (a column or none), "columns" (several),
    "int" (a whole number >= minimum; 0 where allowed means "decide from the data"); numeric: offer only
    numeric columns; exclude: keys of earlier fields whose chosen columns are not offered again;
    guess: how a default is found when the spec leaves the key empty, one of "time" (the detected time
    column), "first_numeric", "other_numeric" (every numeric column not chosen yet), "role" (the task's
    own `guess_columns`), "" (none); among: the key of an earlier "columns" field whose chosen columns are
    the only ones offered (a subset of that choice; the Data page draws the field beside it).
    """

    key: str
    label: str
    kind: str
    help: str
    numeric: bool = False
    exclude: tuple[str, ...] = ()
    guess: str = ""
    minimum: int = 0
    maximum: int = 100_000
    among: str = ""


@dataclass(frozen=True)
class TaskEntry:
    """name: the spec's `task`; label and description: what the UI shows; losses: the spec losses
    the task accepts besides "auto"; default_preset: the preset a new model of this task starts from;
    impl: ``"module:Class"`` of its Task subclass; structure: what a model of the task reads,
    "sequence" (a time axis: the cells of CELLS) or "tree" (a node table: TREE_CELLS); reads: the input
    file, "csv" (a table) or "text" (UTF-8 text); form: the task's data inputs, in the order the Data page
    shows them (split, cleaning and scaling are common to every task and not listed); preview: what the
    Data page draws of the chosen columns, "series" (the columns over time), "sequence" (one sequence
    and the class distribution), "tree" (one tree), "steps" (one sequence's features and labels over time, steps
    per label), "pairs" (the first source and target texts) or "" (nothing beyond the file's preview);
    augments: whether its training batches take `training.augment_jitter` / `augment_scaling` (whole
    labelled sequences: noise in a forecast window would reach its own targets)."""

    name: str
    label: str
    description: str
    losses: tuple[str, ...]
    default_preset: str
    impl: str
    structure: str = "sequence"
    reads: str = "csv"
    form: tuple[FormField, ...] = ()
    preview: str = ""
    augments: bool = False


_F = FormField

TASKS: dict[str, TaskEntry] = {e.name: e for e in (
    TaskEntry("forecast", "Forecast future values",
              "One row per time step; predict the next `horizon` steps of the target columns.",
              ("mse", "mae", "huber"), "stacked_lstm", "builder.tasks.forecast:ForecastTask",
              form=(
                  _F("time_col", "Time column", "optional_column", "Timestamps that order the rows; detected automatically.",
                     guess="time"),
                  _F("targets", "Targets (to forecast)", "columns", "One or more numeric columns the model predicts.",
                     numeric=True, exclude=("time_col",), guess="first_numeric"),
                  _F("features", "Covariates (extra inputs)", "columns",
                     "Other numeric columns the model reads besides the targets' own history.",
                     numeric=True, exclude=("time_col", "targets"), guess="other_numeric"),
                  _F("known_future", "Known in advance", "columns",
                     "Covariates whose future values you know ahead (a holiday flag, a planned price, a calendar). "
                     "Their values for the steps ahead (the horizon, and at least one season) become inputs too; "
                     "a forecast after the data then needs those future values: rows after the last target value "
                     "(targets empty), or typed in on the Export page.",
                     numeric=True, among="features"),
                  _F("lookback", "Lookback (steps, 0 = auto)", "int", "How many past steps each input window holds "
                     "(0 = from the season length).", minimum=0),
                  _F("horizon", "Horizon (steps ahead)", "int", "How many future steps each forecast covers.",
                     minimum=1, maximum=10_000),
                  _F("season_length", "Season length (0 = infer)", "int",
                     "For the seasonal-naive baseline and the seasonal residual, e.g. 12 for monthly data."),
                  _F("stride", "Window stride", "int", "Step between consecutive training windows (1 = every window).",
                     minimum=1, maximum=10_000),
              ), preview="series"),
    TaskEntry("classify", "Classify whole sequences",
              "Long format: one row per step of a labelled sequence (sequence id, order, features, label).",
              ("crossentropy",), "lstm_fcn", "builder.tasks.classify:ClassifyTask",
              form=(
                  _F("id_col", "Sequence id column", "column", "Rows with the same id form one sequence.", guess="role"),
                  _F("label_col", "Label column", "column", "The class of each sequence (one value per sequence).",
                     exclude=("id_col",), guess="role"),
                  _F("order_col", "Order column", "optional_column",
                     "Step number within a sequence; (none) keeps the file order.",
                     exclude=("id_col", "label_col"), guess="role"),
                  _F("features", "Feature columns", "columns", "Numeric columns the model reads at every step.",
                     numeric=True, exclude=("id_col", "label_col", "order_col"), guess="role"),
                  _F("lookback", "Sequence length (0 = longest)", "int",
                     "Longer sequences keep their last steps; shorter ones are padded and masked."),
              ), preview="sequence", augments=True),
    # ---- sequence tasks (issue 18) ----
    TaskEntry("generate", "Generate text (character language model)",
              "A UTF-8 text file; learn the next character from the previous `context` characters, then "
              "generate text from a prompt.", ("crossentropy",), "char_rnn", "builder.tasks.generate:GenerateTask",
              reads="text",
              form=(
                  _F("lookback", "Context (characters)", "int",
                     "Characters in each training window; the model learns the next character of each.", minimum=2),
                  _F("stride", "Window step (1 = context)", "int",
                     "Characters between training window starts; 1 means one window every `context` characters.",
                     minimum=1),
              )),
)}

# ---- trees (builder/tasks/tree.py) ---------------------------------------------------------------------
TASKS["tree"] = TaskEntry(
    "tree", "Learn from trees",
    "A node table: one row per node (tree id, node id, parent id, token and/or features) with a label per "
    "tree or per node; a Tree-LSTM reads each tree from its leaves up.",
    ("crossentropy", "mse", "mae", "huber"), "child_sum_tree_lstm", "builder.tasks.tree:TreeTask", "tree",
    form=(
        _F("id_col", "Tree id", "column", "Rows with the same id form one tree.", guess="role"),
        _F("node_col", "Node id", "column", "The node's id within its tree.", guess="role"),
        _F("parent_col", "Parent id", "column", "The parent's node id; empty at the root.", guess="role"),
        _F("token_col", "Token", "optional_column",
           "The node's word or symbol (embedded); (none): numeric features only.", guess="role"),
        _F("label_col", "Label", "column",
           "One value per tree (on every row or the root) or a label on every node.", guess="role"),
    ), preview="tree")

# ---- a label for every step (builder/tasks/label_steps.py) -------------------------------------------
TASKS["label_steps"] = TaskEntry(
    "label_steps", "Label every step of a sequence",
    "Long format: one row per step (sequence id, order, features) with a label on every row; the label may "
    "change within a sequence, and the model predicts one for every step.",
    ("crossentropy",), "bilstm_tagger", "builder.tasks.label_steps:LabelStepsTask",
    form=(
        _F("id_col", "Sequence id column", "column", "Rows with the same id form one sequence.", guess="role"),
        _F("label_col", "Label column", "column", "The label of each row (step); it may change within a sequence.",
           exclude=("id_col",), guess="role"),
        _F("order_col", "Order column", "optional_column", "Step number within a sequence; (none) keeps the file order.",
           exclude=("id_col", "label_col"), guess="role"),
        _F("features", "Feature columns", "columns", "Numeric columns the model reads at every step.",
           numeric=True, exclude=("id_col", "label_col", "order_col"), guess="role"),
    ), preview="steps")

# ---- text pairs (builder/tasks/translate.py) ------------------------------------------------------------
TASKS["translate"] = TaskEntry(
    "translate", "Translate text (sequence to sequence)",
    "A table of text pairs: one row per pair (source text, target text); an encoder-decoder with attention "
    "learns to write the target from the source.",
    ("crossentropy",), "gru_seq2seq_bahdanau", "builder.tasks.translate:TranslateTask",
    form=(
        _F("source_col", "Source text column", "column", "The text to translate (one per row).", guess="role"),
        _F("target_col", "Target text column", "column", "Its translation: what the model learns to write.",
           exclude=("source_col",), guess="role"),
    ), preview="pairs")


def accepted_loss(task: str, loss: str) -> str:
    """`loss` if `task` accepts it, else "auto" (the task's own choice): what a task switch keeps."""
    return loss if loss == "auto" or loss in TASKS[task].losses else "auto"


@cache
def get_task(name: str) -> Task:
    """The Task object of `name` (one per process)."""
    try:
        entry = TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}") from None
    module, _, attr = entry.impl.partition(":")
    return getattr(importlib.import_module(module), attr)(entry)
