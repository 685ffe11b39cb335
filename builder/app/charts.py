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
                    scale=alt.Scale(domain=[1, max(2, n_epochs)], nice=False, padding=8)),  # no half point at the edges
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
    """Sequences per class: one label per sequence id (its first row's), counted; columns class, sequences.
    Text ids are compared without surrounding spaces, as training compares them."""
    from builder.data.sequences import sequence_ids

    firsts = df[[id_col, label_col]].dropna()
    firsts = firsts.assign(**{id_col: sequence_ids(firsts[id_col])[0]}).drop_duplicates(subset=[id_col])
    counts = firsts[label_col].astype(str).value_counts()
    return pd.DataFrame({"class": counts.index.astype(str), "sequences": counts.to_numpy()})


def display_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for display: every datetime column written as text in the format its spacing calls for
    (time_format: "Jan 1961" for monthly rows, "1961 Q1" for quarterly ones), not "1961-01-01 00:00:00"."""
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_datetime64_any_dtype(out[col]):
            continue
        values = pd.DatetimeIndex(out[col])
        fmt = time_format(values)
        if fmt == "%Y Q%q":  # strftime has no quarter
            text = [f"{t.year} Q{t.quarter}" if pd.notna(t) else "" for t in values]
        else:
            text = [t.strftime("%d %b %Y %H:%M" if fmt == "%d %b %H:%M" else fmt) if pd.notna(t) else "" for t in values]
        out[col] = text
    return out


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


#: the first two colours of PALETTE (tableau10): actual blue, predicted orange
ACTUAL, PREDICTED = "#4c78a8", "#f58518"


def interval_chart(frame: pd.DataFrame, levels: list[int], y_title: str, height: int = 300) -> alt.LayerChart | None:
    """Actual and predicted as two lines (blue, orange dashed) over the predicted value's prediction
    intervals, shaded in its colour, the widest palest; the y-axis fitted to lines and bands (not from
    zero), dates formatted for the data's frequency. `frame`: columns time, actual, predicted and
    lower_<lv>, upper_<lv> for each level in `levels` (percent); None when there is nothing to draw."""
    if frame is None or frame.empty or frame[["actual", "predicted"]].isna().all().all():
        return None
    data = frame.reset_index(drop=True)
    fmt = time_format(pd.DatetimeIndex(data["time"])) if pd.api.types.is_datetime64_any_dtype(data["time"]) else None
    if fmt is not None:
        x = alt.X("time:T", title="time", axis=alt.Axis(format=fmt, labelOverlap=True))
        tip = alt.Tooltip("time:T", format=fmt)
    else:
        x = alt.X("time:Q", title="time", scale=alt.Scale(zero=False), axis=alt.Axis(format="~g"))
        tip = alt.Tooltip("time:Q")
    y_scale = alt.Scale(zero=False, nice=True)  # every layer: an area mark would start the shared axis at 0
    bands = [alt.Chart(data).mark_area(opacity=0.14 + 0.12 * i, color=PREDICTED).encode(
        x=x, y=alt.Y(f"lower_{lv}:Q", title=y_title, scale=y_scale), y2=f"upper_{lv}:Q",
        tooltip=[tip, alt.Tooltip(f"lower_{lv}:Q", format=",.4~g", title=f"{lv}% lower"),
                 alt.Tooltip(f"upper_{lv}:Q", format=",.4~g", title=f"{lv}% upper")])
        for i, lv in enumerate(sorted(levels, reverse=True))]
    long = data.melt(id_vars=["time"], value_vars=["actual", "predicted"], var_name="series").dropna(subset=["value"])
    series = ["actual", "predicted"]
    lines = alt.Chart(long).mark_line(point=len(data) <= 60).encode(
        x=x, y=alt.Y("value:Q", title=y_title, scale=y_scale),
        color=alt.Color("series:N", title=None, sort=series, scale=alt.Scale(domain=series, range=[ACTUAL, PREDICTED]),
                        legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("series:N", title=None, sort=series, legend=alt.Legend(orient="bottom"),
                                  scale=alt.Scale(domain=series, range=[[1, 0], [6, 3]])),
        tooltip=[tip, "series:N", alt.Tooltip("value:Q", format=",.4~g")])
    return alt.layer(*bands, lines).properties(height=height)


def step_error_chart(by_step: pd.DataFrame, height: int = 240) -> alt.Chart | None:
    """MAE per horizon step, one coloured line per forecaster (the model first), step labels upright;
    bars per forecaster when there is one step. `by_step`: columns forecaster, step, MAE."""
    if by_step is None or by_step.empty:
        return None
    order = list(dict.fromkeys(by_step["forecaster"]))
    color = alt.Color("forecaster:N", sort=order, scale=alt.Scale(scheme=PALETTE), title=None,
                      legend=alt.Legend(orient="right", labelLimit=200))  # below, it took half the plot's height
    tooltip = ["forecaster:N", "step:O", alt.Tooltip("MAE:Q", format=",.4~g")]
    if by_step["step"].nunique() > 1:
        chart = alt.Chart(by_step).mark_line(point=True).encode(
            x=alt.X("step:O", title="horizon step", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("MAE:Q", scale=alt.Scale(zero=False, nice=True)), color=color, tooltip=tooltip)
    else:
        chart = alt.Chart(by_step).mark_bar().encode(
            x=alt.X("forecaster:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)), y=alt.Y("MAE:Q"),
            color=color, tooltip=tooltip)
    return chart.properties(height=height)


def confusion_chart(cm: pd.DataFrame, cell: int = 44) -> alt.LayerChart | None:
    """The confusion matrix as a heat map with the count written in every cell (white on dark cells),
    about `cell` pixels a row (the chart's height includes its axes) and class names upright on both axes. `cm`: columns true, predicted, count."""
    if cm is None or cm.empty:
        return None
    classes = list(dict.fromkeys([*cm["true"], *cm["predicted"]]))
    x = alt.X("predicted:N", sort=classes, title="predicted", axis=alt.Axis(labelAngle=0, labelLimit=160, orient="top"))
    y = alt.Y("true:N", sort=classes, title="true", axis=alt.Axis(labelLimit=160))
    top = max(int(cm["count"].max()), 1)
    heat = alt.Chart(cm).mark_rect(stroke="white").encode(
        x=x, y=y, color=alt.Color("count:Q", scale=alt.Scale(scheme="blues", domain=[0, top]), legend=None),  # counts written
        tooltip=["true:N", "predicted:N", "count:Q"])
    text = alt.Chart(cm).mark_text(baseline="middle", fontSize=14).encode(
        x=x, y=y, text="count:Q",
        color=alt.condition(alt.datum.count > top / 2, alt.value("white"), alt.value("#262730")))
    return alt.layer(heat, text).properties(height=cell * len(classes) + 60)  # + the axis labels and title
