"""Helpers behind the pages for task label_steps (no streamlit): a sequence's labels over time as a strip
chart (true and predicted rows), the held-out predictions of a run, the steps per label of a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd


def label_strips(rows: dict[str, list[Any]]) -> pd.DataFrame:
    """{row name: labels per step} -> long frame (row, step, end, label), one line per step of each row."""
    parts = [pd.DataFrame({"row": name, "step": range(len(labels)), "end": range(1, len(labels) + 1),
                           "label": [str(v) for v in labels]}) for name, labels in rows.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["row", "step", "end", "label"])


def label_strip_chart(frame: pd.DataFrame, height: int = 110) -> alt.Chart | None:
    """Labels over time, one horizontal strip per row of `label_strips` (colour: label); None for no steps."""
    if frame.empty:
        return None
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("step:Q", title="step"), x2="end:Q", y=alt.Y("row:N", title=None, sort=None),
        color=alt.Color("label:N", legend=alt.Legend(orient="bottom")), tooltip=["row", "step", "label"],
    ).properties(height=height)


def step_predictions(run_dir: str | Path) -> pd.DataFrame:
    """The held-out steps a label_steps run stored (predictions.csv: sequence, step, actual, predicted, p_*)."""
    path = Path(run_dir) / "predictions.csv"
    if not path.exists():
        raise ValueError(f"{path}: no held-out predictions in this run")
    frame = pd.read_csv(path, dtype={"sequence": str, "actual": str, "predicted": str})
    missing = [c for c in ("sequence", "step", "actual", "predicted") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: expected columns sequence, step, actual, predicted; missing {missing}")
    return frame


def sequence_strips(predictions: pd.DataFrame, sequence: str) -> tuple[pd.DataFrame, float]:
    """(strip frame of one sequence's true and predicted labels, its step accuracy)."""
    one = predictions[predictions["sequence"] == sequence].sort_values("step")
    accuracy = float((one["actual"] == one["predicted"]).mean()) if len(one) else float("nan")
    return label_strips({"true": one["actual"].tolist(), "predicted": one["predicted"].tolist()}), accuracy


def step_label_counts(df: pd.DataFrame, label_col: str) -> pd.DataFrame:
    """Steps (rows) per label: columns label, steps, largest first."""
    counts = df[label_col].dropna().astype(str).value_counts()
    return pd.DataFrame({"label": counts.index.astype(str), "steps": counts.to_numpy()})
