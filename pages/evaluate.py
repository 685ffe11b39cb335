"""Evaluate: test metrics against simple baselines, actual vs predicted, errors, runs side by side."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from builder.app import (
    Run,
    compare_table,
    confusion_frame,
    file_token,
    finished_runs,
    history_frame,
    loss_chart,
    metric_cards,
    metrics_table,
    series_chart,
    test_predictions,
)
from pages import common

common.ensure_session()
st.title("Evaluate")
st.caption("Scores on the held-out test part, next to baselines any model must beat: the last value (naive), "
           "the value one season ago (seasonal naive), or the most common class.")

runs = finished_runs()
if not runs:
    st.info("No finished runs yet. Train a model on the **Train** page first.")
    st.stop()

ids = [r.path.name for r in runs]
cur = st.session_state.get("run_id")
default = [cur] if cur in ids else ids[:1]
chosen = st.multiselect("Runs", ids, default=default, key="eval_runs",
                        help="Pick one run to inspect, or several to compare them side by side.")
if not chosen:
    st.info("Pick at least one run.")
    st.stop()
selected = [Run(runs[ids.index(c)].path) for c in chosen]
primary = selected[0]


def _fmt(spec: str):
    return lambda v: format(v, spec) if isinstance(v, (int, float)) else "–"


@st.cache_data(show_spinner="Reading the held-out predictions…", max_entries=16)
def _predictions(run_dir: str, token: str) -> dict:
    return test_predictions(run_dir)


if len(selected) > 1:
    st.subheader("Side by side")
    st.dataframe(compare_table(selected), hide_index=True, width="stretch")
    curves = {}
    for run in selected:
        h = history_frame(run.history())
        if "val_loss" in h:
            curves[run.path.name] = h["val_loss"]
    if curves:
        st.caption("Validation loss per epoch")
        chart = loss_chart(pd.DataFrame(curves), height=240, y_title="validation loss")
        if chart is not None:
            st.altair_chart(chart, width="stretch")
    st.divider()

metrics = primary.read_json("metrics.json") or {}
spec = primary.read_json("spec.json") or {}
st.subheader(f"`{primary.path.name}` · {spec.get('name', '')}")
if not metrics:
    st.warning(f"{primary.path.name}: no metrics recorded.")
    st.stop()
try:
    table = metrics_table(metrics)
    cards, number_format = metric_cards(metrics)
except (KeyError, TypeError, AttributeError, ValueError) as err:
    common.show_error(ValueError(f"{primary.path.name}: metrics.json is incomplete ({err})"))
    st.stop()
for col, card in zip(st.columns(len(cards)), cards, strict=True):
    col.metric(card["label"], card["value"], card["delta"], help=card["help"] or None,
               delta_color="inverse" if card.get("lower_is_better") else "normal")
st.dataframe(table.style.format(_fmt(number_format)), width="stretch")

if metrics.get("task") == "forecast":
    st.caption(f"{metrics.get('n_windows')} {metrics.get('part', 'test')} windows · season length "
               f"{metrics.get('season_length')} · best epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')}")

    left, right = st.columns(2)
    with left:
        st.markdown("**Error by horizon step** (MAE)")
        by_step = metrics.get("model_mae_by_step") or []
        st.bar_chart(pd.DataFrame({"step": range(1, len(by_step) + 1), "MAE": by_step}).set_index("step"),
                     height=240)
    try:
        pred = _predictions(str(primary.path), file_token(primary.file("predictions.csv")))
    except common.USER_ERRORS as err:
        common.show_error(err, "No held-out predictions: ")
    else:
        frame = pred["frame"]
        with right:
            st.markdown("**Residuals** (actual − predicted)")
            hist = alt.Chart(frame[["error"]]).mark_bar().encode(
                x=alt.X("error:Q", bin=alt.Bin(maxbins=30), title="actual − predicted"),
                y=alt.Y("count():Q", title="windows"))
            st.altair_chart(hist.properties(height=240), width="stretch")
        st.markdown(f"**Actual vs predicted** on the {pred['part']} part")
        p1, p2 = st.columns(2)
        target = p1.selectbox("Target", pred["targets"], key="eval_target")
        step = p2.slider("Horizon step", 1, max(pred["horizon"], 2), 1, key="eval_step",
                         disabled=pred["horizon"] == 1, help="Forecasts made this many steps ahead.")
        step = min(step, pred["horizon"])
        sub = frame[(frame["target"] == target) & (frame["step"] == step)].set_index("time")
        chart = series_chart(sub[["actual", "predicted"]], height=300, y_title=str(target))
        if chart is not None:
            st.altair_chart(chart, width="stretch")
elif metrics.get("task") == "classify":
    st.markdown("**Confusion matrix** (rows: true class, columns: predicted)")
    cm = confusion_frame(metrics)
    heat = alt.Chart(cm).mark_rect().encode(
        x=alt.X("predicted:N", sort=None), y=alt.Y("true:N", sort=None),
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues")), tooltip=["true", "predicted", "count"],
    )
    text = alt.Chart(cm).mark_text(baseline="middle").encode(
        x=alt.X("predicted:N", sort=None), y=alt.Y("true:N", sort=None), text="count:Q")
    st.altair_chart(heat + text, width="stretch")

with st.expander("Training curve"):
    chart = loss_chart(history_frame(primary.history()), height=240)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
