"""Evaluate: test metrics against simple baselines, actual vs predicted, errors, runs side by side."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from builder.app import (
    Run,
    compare_table,
    confusion_frame,
    csv_bytes,
    explain_on,
    file_token,
    finished_runs,
    history_frame,
    metric_cards,
    metrics_table,
    run_data_path,
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
        st.line_chart(pd.DataFrame(curves), height=240, x_label="epoch", y_label="val loss")
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
        st.line_chart(sub[["actual", "predicted"]], height=300)
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
    h = history_frame(primary.history())
    if len(h):
        st.line_chart(h, height=240, x_label="epoch", y_label="loss")


# ---- why this prediction: integrated gradients and saliency -------------------------------------------
@st.cache_data(show_spinner="Computing attributions…", max_entries=16)
def _explain(run_dir: str, token: str, data_path: str, data_token: str, index: int, baseline: str, steps: int) -> dict:
    return explain_on(Run(run_dir), common.load_path(data_path), index, baseline, steps,
                      common.run_model(run_dir, token))


with st.expander("Explain one prediction (integrated gradients, saliency)"):
    data_path = run_data_path(primary)
    is_forecast = metrics.get("task") == "forecast"
    st.caption("Which steps and features of the input the prediction rests on. Integrated gradients add up to "
               "f(window) − f(baseline); the baseline is the training mean"
               + (" or the window's last season repeated." if is_forecast else "."))
    e1, e2, e3 = st.columns(3)
    index = e1.number_input("Window (first row)" if is_forecast else "Sequence number", value=-1 if is_forecast else 0,
                            step=1, key="explain_index", help="-1: the last window of the training file" if is_forecast else None)
    base = e2.selectbox("Baseline", ["mean", "seasonal_naive"] if is_forecast else ["mean"], key="explain_baseline")
    method = e3.radio("Show", ["integrated_gradients", "saliency"], key="explain_method", horizontal=True)
    if st.button("Explain", icon=":material/insights:", key="explain_go") or st.session_state.get("_explained") == primary.path.name:
        st.session_state["_explained"] = primary.path.name
        try:
            if not data_path:
                raise FileNotFoundError(f"{primary.path.name}: the run does not record its data file")
            ex = _explain(str(primary.path), file_token(primary.file("model.keras")), data_path, file_token(data_path),
                          int(index), base, 64)
        except common.USER_ERRORS as err:
            common.show_error(err)
        else:
            st.markdown(f"Explained: **{ex['output']}** · f(window) = {ex['f_x']:.4g}, f(baseline) = "
                        f"{ex['f_baseline']:.4g}, sum of integrated gradients {ex['ig_sum']:.4g} "
                        f"(completeness gap {100 * ex['gap']:.2f}%)")
            attr = ex["table"]
            heat = alt.Chart(attr).mark_rect().encode(
                x=alt.X("step:O", title="step (relative to the window's end)"), y=alt.Y("feature:N", sort=None),
                color=alt.Color(f"{method}:Q", scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True)),
                tooltip=[c for c in ("time", "step", "feature", "value", "baseline", method) if c in attr.columns])
            st.altair_chart(heat.properties(height=max(120, 40 * attr["feature"].nunique())), width="stretch")
            st.download_button("Attributions CSV", icon=":material/download:", data=csv_bytes(attr),
                               file_name=f"{primary.path.name}-attributions.csv", mime="text/csv", key="dl_attr",
                               on_click="ignore")
