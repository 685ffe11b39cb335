"""Charts the pages draw, as Altair (Vega-Lite) specs that Streamlit renders locally (no outside URLs).

Every chart: the y-axis fitted to the data (not from zero), one distinct colour per series with a
legend, dates formatted for the data's frequency (no 00:00:00 on monthly data), and no chart at all
for empty data (None; an empty Vega-Lite chart logs "Infinite extent" warnings in the browser).
Plain helpers, no streamlit.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

#: distinct colours (Tableau 10): actual and predicted never look alike
PALETTE = "tableau10"


def time_format(index: pd.Index) -> str | None:
    """A d3 time format for a datetime index by its typical spacing; None for a non-time index."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return None
    idx = index.dropna().sort_values()
    step = pd.Series(idx).diff().median() if len(idx) > 1 else pd.Timedelta(days=1)
    days = step / pd.Timedelta(days=1) if pd.notna(step) else 1.0
    if days >= 360:
        return "%Y"
    if days >= 85:
        return "%Y Q%q"
    if days >= 28:
        return "%b %Y"
    if days >= 1 or bool((idx.normalize() == idx).all()):
        return "%d %b %Y"
    return "%d %b %H:%M"


def series_chart(frame: pd.DataFrame, height: int = 300, y_title: str = "value",
                 x_title: str | None = None) -> alt.Chart | None:
    """Each column of `frame` (indexed by time or step) as one coloured line; None when there is nothing to draw."""
    if frame is None or frame.empty:
        return None
    x_name = x_label = str(frame.index.name or "step")
    while x_name in frame.columns:  # a column of the same name (a feature called "step")
        x_name += "_"
    x_title = x_title or x_label
    data = frame.copy()
    data.index.name = x_name
    long = data.reset_index().melt(id_vars=x_name, var_name="series", value_name="value").dropna(subset=["value"])
    if long.empty:
        return None
    fmt = time_format(frame.index)
    if fmt is not None:
        x = alt.X(f"{x_name}:T", title=x_title or x_name, axis=alt.Axis(format=fmt, labelOverlap=True))
        tip = alt.Tooltip(f"{x_name}:T", format=fmt)
    else:
        x = alt.X(f"{x_name}:Q", title=x_title or x_name, scale=alt.Scale(zero=False), axis=alt.Axis(format="~g"))
        tip = alt.Tooltip(f"{x_name}:Q")
    order = list(dict.fromkeys(long["series"]))
    return (
        alt.Chart(long)
        .mark_line(point=len(frame) <= 60)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False, nice=True)),
            color=alt.Color("series:N", title=None, sort=order, scale=alt.Scale(scheme=PALETTE),
                            legend=alt.Legend(orient="bottom", labelLimit=400)),
            strokeDash=alt.StrokeDash("series:N", title=None, sort=order,  # merged with the colour legend
                                      legend=alt.Legend(orient="bottom", labelLimit=400),
                                      scale=alt.Scale(range=[[1, 0], [6, 3], [2, 2], [8, 2, 2, 2]])),
            tooltip=[tip, "series:N", alt.Tooltip("value:Q", format=",.4~g")],
        )
        .properties(height=height)
    )


def loss_chart(history: pd.DataFrame, height: int = 260, y_title: str = "loss") -> alt.Chart | None:
    """Loss curves by epoch (columns loss, val_loss, ...), points on every epoch so that one epoch shows;
    a log scale when the values span more than two decades. None before the first epoch."""
    if history is None or history.empty:
        return None
    frame = history.copy()
    frame.index = pd.Index(pd.to_numeric(frame.index, errors="coerce"), name="epoch")
    frame = frame.rename(columns={"loss": "training", "val_loss": "validation"})
    values = frame.stack().dropna() if len(frame.columns) else pd.Series(dtype=float)
    if values.empty:
        return None
    positive = bool((values > 0).all())
    log = positive and float(values.max()) / float(values.min()) > 100
    long = frame.reset_index().melt(id_vars="epoch", var_name="series", value_name="value").dropna(subset=["value"])
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False, nice=True)
    n_epochs = int(frame.index.max()) if frame.index.notna().any() else 1
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d", tickMinStep=1),
                    scale=alt.Scale(domain=[1, max(2, n_epochs)], nice=False)),
            y=alt.Y("value:Q", title=y_title + (" (log scale)" if log else ""), scale=scale),
            color=alt.Color("series:N", title=None, scale=alt.Scale(scheme=PALETTE),
                            legend=alt.Legend(orient="bottom")),
            tooltip=["epoch:Q", "series:N", alt.Tooltip("value:Q", format=",.4~g")],
        )
        .properties(height=height)
    )


def bar_counts(counts: pd.DataFrame, category: str, count: str = "count", height: int = 220) -> alt.Chart | None:
    """Horizontal bars of `count` per `category` with the numbers written beside them."""
    if counts is None or counts.empty:
        return None
    base = alt.Chart(counts).encode(
        y=alt.Y(f"{category}:N", sort="-x", title=category),
        x=alt.X(f"{count}:Q", title=count),
        tooltip=[f"{category}:N", f"{count}:Q"],
    )
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(align="left", dx=3).encode(text=f"{count}:Q")
    return (bars + text).properties(height=max(height, 28 * len(counts)))


def depth_bars(depth: pd.DataFrame, key: str, height: int = 200) -> alt.FacetChart | None:
    """Bars of `key` ("accuracy" or "mae") per tree depth, one column per depth with its tree count in the
    header, one bar per model / baseline, each with its value written on top: a true 0 reads "0.00",
    not as a missing bar. `depth`: builder.app.trees.depth_frame's rows (depth, who, key, trees)."""
    if depth is None or depth.empty:
        return None
    frame = depth.assign(column=[f"depth {d} · {n} tree{'s' if n != 1 else ''}"
                                 for d, n in zip(depth["depth"], depth["trees"], strict=True)])
    order = list(dict.fromkeys(frame.sort_values("depth")["column"]))
    base = alt.Chart().encode(
        x=alt.X("who:N", title=None, sort=list(dict.fromkeys(frame["who"]))),
        y=alt.Y(f"{key}:Q", title="MAE" if key == "mae" else "accuracy", scale=alt.Scale(domainMin=0)),
        tooltip=["depth:O", "who:N", alt.Tooltip(f"{key}:Q", format=".3f"), "trees:Q"],
    )
    bars = base.mark_bar().encode(color=alt.Color("who:N", scale=alt.Scale(scheme=PALETTE), title=None,
                                                  legend=alt.Legend(orient="bottom")))
    text = base.mark_text(baseline="bottom", dy=-2, fontSize=11).encode(text=alt.Text(f"{key}:Q", format=".2f"))
    return alt.layer(bars, text, data=frame).properties(height=height, width=110).facet(
        column=alt.Column("column:N", title=None, sort=order))


def training_hint(epochs: int, steps_per_epoch: int | None, min_steps: int = 300) -> str | None:
    """A warning when a run's total optimiser steps (epochs x batches per epoch) are far too few to learn."""
    if not steps_per_epoch:
        return None
    total = int(epochs) * int(steps_per_epoch)
    if total >= min_steps:
        return None
    return (f"This run takes {total} optimiser steps in all ({epochs} epochs × {steps_per_epoch} batches): "
            f"far too few for a recurrent network to learn, so expect it to lose to the baselines. Raise the "
            f"epochs (early stopping ends training when the validation loss stops improving) or lower the batch size.")


def class_counts(df: pd.DataFrame, id_col: str, label_col: str) -> pd.DataFrame:
    """Sequences per class: one label per sequence id (its first row's), counted; columns class, sequences."""
    firsts = df[[id_col, label_col]].dropna().drop_duplicates(subset=[id_col])
    counts = firsts[label_col].astype(str).value_counts()
    return pd.DataFrame({"class": counts.index.astype(str), "sequences": counts.to_numpy()})


def column_config(frame: pd.DataFrame, max_px: int = 360) -> dict[str, Any]:
    """Streamlit column_config-style widths in pixels, each column as wide as its header or longest value
    (about 7.5 px a character plus padding, 48 to `max_px`), so a run id is not cut off and short columns
    (state, epochs) take no more room than they need."""
    widths = {}
    for col in frame.columns:
        values = frame[col].dropna().astype(str)
        chars = max([len(str(col)), *values.str.len().tolist()])
        widths[col] = int(min(max_px, max(48, chars * 7.5 + 28)))
    return {c: {"width": w} for c, w in widths.items()}


def blank_missing(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy for display: numbers of the columns in `formats` written with their format ("{:.4g}") and
    every missing value (None, NaN) as an empty cell, which st.dataframe would otherwise show as "None"."""
    out = frame.copy()
    for col, fmt in (formats or {}).items():
        if col in out.columns:
            out[col] = [fmt.format(v) if isinstance(v, (int, float)) and not pd.isna(v) else v for v in out[col]]
    return out.astype(object).where(out.notna(), "")
