"""Helpers behind the pages for task translate (no streamlit): the verdict line, example rows of the
held-out pairs, the attention heat map of one example, the teacher-forcing schedule of a spec, and the
reason the other export formats are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from builder.tasks.registry import get_task


def translate_verdict(metrics: dict[str, Any]) -> dict[str, str] | None:
    """{"kind": "success" (beats every baseline) or "warning", "text": the one-line verdict}; None without one."""
    text = metrics.get("verdict")
    if not text:
        return None
    return {"kind": get_task("translate").result_kind(metrics), "text": text}


def translate_examples(run_dir: str | Path, n: int = 8, only_wrong: bool = False) -> pd.DataFrame:
    """The first `n` held-out pairs of a translate run (predictions.csv): source, target, greedy, beam, with
    `only_wrong` those whose greedy output differs from the target."""
    path = Path(run_dir) / "predictions.csv"
    if not path.exists():
        raise ValueError(f"{path}: no held-out predictions in this run")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("source", "target", "greedy", "beam") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: expected columns source, target, greedy, beam; missing {missing}")
    frame = frame[["source", "target", "greedy", "beam"]]
    if only_wrong:
        frame = frame[frame["greedy"] != frame["target"]]
    return frame.head(n).reset_index(drop=True)


def attention_of(meta: dict[str, Any], model: Any, text: str) -> tuple[str, pd.DataFrame | None]:
    """(greedy translation of `text` by a translate run's `model`, its attention weights as a long frame
    out_pos, out_token, in_pos, in_token, weight; None when the model has no attention). `meta`: the run's
    metadata.json."""
    from builder.tasks.base import Resolved
    from builder.tasks.translate import attention_frame, pairs_of

    if not str(text).strip():
        raise ValueError("source text: expected a non-empty text to translate")
    return attention_frame(model, pairs_of(Resolved.from_dict(meta["resolved"])), str(text).strip())


def attention_chart(frame: pd.DataFrame, height: int | None = None) -> alt.Chart:
    """Heat map of attention weights: source tokens across, output tokens down (colour: weight 0..1)."""
    frame = frame.assign(source=frame["in_pos"].astype(str) + " " + frame["in_token"].replace(" ", "␣"),
                         output=frame["out_pos"].astype(str) + " " + frame["out_token"].replace(" ", "␣"))
    x_order = list(dict.fromkeys(frame.sort_values("in_pos")["source"]))
    y_order = list(dict.fromkeys(frame.sort_values("out_pos")["output"]))
    rows = max(1, len(y_order))
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("source:N", sort=x_order, title="source token", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("output:N", sort=y_order, title="output token"),
        color=alt.Color("weight:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="attention"),
        tooltip=["out_token", "in_token", alt.Tooltip("weight:Q", format=".3f")],
    ).properties(height=height or max(120, 22 * rows))


def schedule_frame(spec: Any) -> pd.DataFrame:
    """The teacher-forcing ratio per epoch (epoch, teacher_forcing) that training a translate `spec` follows."""
    from builder.tasks.translate import schedule_table

    s = spec.seq2seq
    return schedule_table(s.teacher_forcing, spec.training.epochs, s.tf_k, s.tf_c, s.tf_min)


def schedule_chart(frame: pd.DataFrame, height: int = 180) -> alt.Chart:
    """The ratio per epoch as a step line on 0..1."""
    return alt.Chart(frame).mark_line(point=True, interpolate="step-after").encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("teacher_forcing:Q", title="teacher-forcing ratio", scale=alt.Scale(domain=[0, 1])),
        tooltip=["epoch", alt.Tooltip("teacher_forcing:Q", format=".3f")],
    ).properties(height=height)


def pair_examples(df: pd.DataFrame, source_col: str | None, target_col: str | None, n: int = 8) -> pd.DataFrame:
    """The first `n` rows' source and target texts with their lengths in characters (the Data page's
    preview); empty when a column is not chosen or not in `df`."""
    if not source_col or not target_col or source_col not in df.columns or target_col not in df.columns:
        return pd.DataFrame(columns=["source", "target", "source chars", "target chars"])
    head = df[[source_col, target_col]].head(n).astype(str)
    return pd.DataFrame({"source": head[source_col], "target": head[target_col],
                         "source chars": head[source_col].str.len(), "target chars": head[target_col].str.len()})


def translate_scores(metrics: dict[str, Any]) -> pd.DataFrame:
    """The model's (greedy, beam) and the baselines' exact match and CER as a long frame: decoder, metric,
    value (the Evaluate page's bars; rows of the task's metric table)."""
    table = get_task("translate").metrics_table(metrics)
    long = table.rename_axis("decoder").reset_index().melt(id_vars="decoder", var_name="metric", value_name="value")
    return long.dropna(subset=["value"]).reset_index(drop=True)


def scores_chart(frame: pd.DataFrame) -> alt.Chart:
    """Horizontal bars of `translate_scores`, one panel per metric."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("value:Q", title=None), y=alt.Y("decoder:N", sort=None, title=None),
        color=alt.Color("decoder:N", legend=None), column=alt.Column("metric:N", title=None),
        tooltip=["decoder", "metric", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=260, height=30 * max(1, frame["decoder"].nunique()))
