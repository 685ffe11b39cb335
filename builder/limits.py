"""Limits that are checked before any work starts, each configurable by an environment variable.

    RNN_STUDIO_MAX_ROWS          rows of a CSV                         (default 2,000,000)
    RNN_STUDIO_MAX_COLUMNS       columns of a CSV (counted from the header before reading)  (2,000)
    RNN_STUDIO_MAX_FIELD_CHARS   characters in one CSV cell            (1,000,000)
    RNN_STUDIO_MAX_PARAMS        weights of a model, estimated from the spec before building (20,000,000)
    RNN_STUDIO_MAX_WINDOWS       forecast windows or labelled sequences (20,000,000)
    RNN_STUDIO_MAX_WORKERS       training processes running at once    (the number of CPU cores)
    RNN_STUDIO_MAX_TREE_DEPTH    levels of one tree of a node table (edges from the root)  (1,000)
    RNN_STUDIO_MAX_BEAM_WIDTH    hypotheses of a beam search: `predict --beam` of a translate run,
                                 `generate --beam`  (256)

The upload size is Streamlit's own limit (server.maxUploadSize in .streamlit/config.toml).
The weight estimate that RNN_STUDIO_MAX_PARAMS is checked against is `builder.model.size`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV = {
    "max_rows": "RNN_STUDIO_MAX_ROWS",
    "max_columns": "RNN_STUDIO_MAX_COLUMNS",
    "max_field_chars": "RNN_STUDIO_MAX_FIELD_CHARS",
    "max_params": "RNN_STUDIO_MAX_PARAMS",
    "max_windows": "RNN_STUDIO_MAX_WINDOWS",
    "max_workers": "RNN_STUDIO_MAX_WORKERS",
    "max_tree_depth": "RNN_STUDIO_MAX_TREE_DEPTH",
    "max_beam_width": "RNN_STUDIO_MAX_BEAM_WIDTH",
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
    max_tree_depth: int = 1_000
    #: a beam search steps the model on `width` hypotheses at once for every output token and ranks
    #: width x vocabulary candidates, one text at a time: time and memory grow with the width, while the
    #: best text rarely changes beyond a few dozen (the spec's evaluation beam stops at 32)
    max_beam_width: int = 256


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


def check_beam_width(width: int, name: str) -> None:
    """LimitError for a beam width below 0 or above RNN_STUDIO_MAX_BEAM_WIDTH; `name`: the flag or field."""
    limit = current().max_beam_width
    if width < 0:
        raise LimitError(f"{name} {width}: expected a beam width of 0 (no beam search) or more")
    if width > limit:
        raise LimitError(f"{name} {width}: a beam search of {width:,} hypotheses per output token is too wide; "
                         f"{describe('max_beam_width', limit)}")
