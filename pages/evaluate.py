"""Evaluate: test metrics against simple baselines, actual vs predicted, errors, runs side by side."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from builder.app import (
    PALETTE,
    Run,
    backtest_view,
    compare_table,
    confusion_chart,
    confusion_frame,
    coverage_frame,
    csv_bytes,
    depth_bars,
    depth_frame,
    error_by_step_frame,
    evaluate_views,
    explain_on,
    file_token,
    finished_runs,
    forecast_verdict,
    generate_in_app,
    generate_notices,
    history_frame,
    interval_chart,
    interval_label,
    interval_levels,
    loss_chart,
    metric_cards,
    metrics_table,
    misclassified_frame,
    per_class_frame,
    printable,
    result_kind,
    run_choices,
    run_data_path,
    run_table,
    series_chart,
    step_error_chart,
    test_predictions,
)
from pages import common

common.ensure_session()
st.title("Evaluate")
st.caption("Scores on the held-out test part, next to baselines any model must beat: the last value (naive), "
           "the value one season ago (seasonal naive), ETS and Theta fitted on the training part, or the most "
           "common class. The cards' deltas are against the best baseline.")

runs = finished_runs()
if not runs:
    st.info("No finished runs yet. Train a model on the **Train** page first.")
    st.stop()

ids = [r.path.name for r in runs]
cur = st.session_state.get("run_id")
default = [cur] if cur in ids else ids[:1]
labels = run_choices(runs=runs)  # "id · name · ★ metric": the runs table's names and best-run marks
chosen = st.multiselect("Runs", ids, default=default, key="eval_runs", format_func=lambda i: labels.get(i, i),
                        help="Pick one run to inspect, or several to compare them side by side. "
                             "★ marks the best run per metric among runs of the same task and data file.")
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


# ---- the task's views of its results (Task.evaluate_views names them; drawn in that order) ---------
def _forecast_view() -> None:
    """Verdict, intervals, error by horizon step, residuals, actual vs predicted, the backtest."""
    st.caption(f"{metrics.get('n_windows')} {metrics.get('part', 'test')} windows · season length "
               f"{metrics.get('season_length')} · best epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')}")
    left_out = (metrics.get("left_out") or {}).get("note")
    if left_out:  # actuals the file did not have (filled in for the windows) are not scored
        st.caption(f"Note: {left_out}.")

    judged = forecast_verdict(metrics)
    if judged:
        getattr(st, judged["kind"])(f"**Verdict:** {judged['text']}", icon=None)
    coverage = coverage_frame(metrics)
    if len(coverage):
        st.markdown(f"**Prediction intervals** ({interval_label(metrics['intervals'])}; coverage on the "
                    f"{metrics.get('part', 'test')} part)")
        st.dataframe(coverage.style.format({"nominal": "{:.0%}", "test coverage": _fmt(".1%"),
                                            "mean width": _fmt(number_format)}), hide_index=True, width="stretch")
        st.caption("Calibrated range: the test coverage an exactly calibrated interval scores on this many "
                   "windows nine times in ten; a short test part cannot pin coverage down to a few points.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Error by horizon step** (MAE, model and baselines)")
        lines = step_error_chart(error_by_step_frame(metrics), height=260)
        if lines is not None:
            st.altair_chart(lines, width="stretch")
    try:
        pred = _predictions(str(primary.path), file_token(primary.file("predictions.csv")))
    except common.USER_ERRORS as err:
        common.show_error(err, "No held-out predictions: ")
    else:
        frame = pred["frame"]
        with right:
            st.markdown("**Residuals** (actual − predicted)")
            hist = alt.Chart(frame[["error"]].dropna()).mark_bar().encode(
                x=alt.X("error:Q", bin=alt.Bin(maxbins=30), title="actual − predicted"),
                y=alt.Y("count():Q", title="windows"))
            st.altair_chart(hist.properties(height=240), width="stretch")
        st.markdown(f"**Actual vs predicted** on the {pred['part']} part")
        p1, p2 = st.columns(2)
        target = p1.selectbox("Target", pred["targets"], key="eval_target")
        step = p2.slider("Horizon step", 1, max(pred["horizon"], 2), 1, key="eval_step",
                         disabled=pred["horizon"] == 1, help="Forecasts made this many steps ahead.")
        step = min(step, pred["horizon"])
        sub = frame[(frame["target"] == target) & (frame["step"] == step)]
        levels = interval_levels(sub)
        if not levels:
            chart = series_chart(sub.set_index("time")[["actual", "predicted"]], height=300, y_title=str(target))
            if chart is not None:
                st.altair_chart(chart, width="stretch")
        else:
            chart = interval_chart(sub, levels, str(target), height=320)
            if chart is not None:
                st.altair_chart(chart, width="stretch")
            st.caption(f"Shaded: the {' and '.join(f'{lv}%' for lv in sorted(levels))} prediction intervals "
                       "around the predicted values.")
    backtest = primary.read_json("backtest.json")
    if backtest:
        view = backtest_view(backtest)
        st.markdown("**Rolling-origin backtest**")
        st.caption(view["caption"] + " Run it with `python -m builder backtest --run RUN --data CSV --origins K [--refit]`.")
        if view["verdict"]:
            st.markdown(f"Backtest verdict: {view['verdict']}")
        st.dataframe(view["table"].style.format(_fmt(number_format)), width="stretch")
        if len(view["per_origin"]):
            per_origin = alt.Chart(view["per_origin"]).mark_line(point=True).encode(
                x=alt.X("origin", title="origin"), y=alt.Y("MAE:Q", title="MAE over the horizon"),
                color=alt.Color("forecaster:N", sort=None), tooltip=["origin", "forecaster", "MAE"])
            st.altair_chart(per_origin.properties(height=260), width="stretch")


def _tree_depth_view() -> None:
    """Accuracy (or MAE) by tree depth beside the baselines; node accuracy."""
    depth = depth_frame(metrics)
    if len(depth):
        key = "mae" if metrics.get("regression") else "accuracy"
        st.markdown(f"**{'MAE' if key == 'mae' else 'Accuracy'} by tree depth** (trees of each depth in the "
                    f"{metrics.get('part', 'test')} part)")
        st.altair_chart(depth_bars(depth, key))
    if metrics.get("node_accuracy") is not None or metrics.get("model", {}).get("node_accuracy") is not None:
        st.caption(f"Node accuracy: Tree-LSTM {metrics['model']['node_accuracy']:.3f}, sequence LSTM "
                   f"{metrics['sequence_lstm']['node_accuracy']:.3f} over {metrics.get('n_nodes')} nodes")


def _confusion_view() -> None:
    """The confusion matrix with counts (when metrics.json has one)."""
    if not metrics.get("confusion_matrix"):
        return
    st.markdown("**Confusion matrix** (rows: true class, columns: predicted)")
    chart = confusion_chart(confusion_frame(metrics))
    if chart is not None:
        st.altair_chart(chart, width="stretch")


def _classes_view() -> None:
    """The verdict against the baselines, per-class precision and recall, misclassified examples."""
    if metrics.get("verdict"):
        getattr(st, result_kind(metrics))(f"**Against the baselines:** {metrics['verdict']}")
    for note in metrics.get("baseline_notes") or []:
        st.caption(note)
    per_class = per_class_frame(metrics)
    if len(per_class):
        st.markdown(f"**Per class** · macro-F1 {metrics['model']['macro_f1']:.3f}")
        st.dataframe(per_class.style.format(_fmt(".3f"), subset=["precision", "recall", "f1"]), width="stretch")
    examples = metrics.get("misclassified_examples") or []
    if examples:
        st.markdown(f"**Misclassified test sequences** ({len(examples)} shown), each beside a correctly "
                    "classified one of its true class")
        for ex in examples:
            frame = misclassified_frame(ex)
            chart = alt.Chart(frame).mark_line().encode(
                x=alt.X("step:Q"), y=alt.Y("value:Q", scale=alt.Scale(zero=False, nice=True)),
                color=alt.Color("sequence:N", title=None, scale=alt.Scale(scheme=PALETTE),
                                legend=alt.Legend(orient="bottom", labelLimit=500)),
                strokeDash=alt.StrokeDash("channel:N", legend=alt.Legend(orient="right")),
                tooltip=["sequence", "channel", "step", "value"])
            st.altair_chart(chart.properties(height=260), width="stretch")  # the height includes the legend
    elif "misclassified_examples" in metrics:
        st.caption("Every test sequence was classified correctly.")


def _generate_view() -> None:
    """Bits per character's context and a box that generates text from the run."""
    ng = metrics.get("ngram", {})
    st.caption(f"Bits per character on the {metrics.get('part', 'test')} part ({metrics.get('n_chars', {}).get(metrics.get('part', 'test'), 0):,} "
               f"characters); n-gram: order {ng.get('order')} chosen on validation, {ng.get('smoothing', '')}.")
    st.markdown("**Generate**")
    with st.form("eval_generate"):
        g1, g2, g3, g4, g5 = st.columns([4, 1, 1, 1, 1])
        prompt = g1.text_input("Prompt", "The ", key="gen_prompt")
        length = g2.number_input("Length", 1, 5000, 200, key="gen_length")
        temperature = g3.number_input("Temperature", 0.0, 5.0, 0.8, 0.1, key="gen_temp", help="0: greedy (argmax).")
        top_k = g4.number_input("Top-k", 0, 10_000, 0, key="gen_topk", help="0: every character.")
        seed = g5.number_input("Seed", 0, 2**31 - 1, 0, key="gen_seed", help="The same seed gives the same text.")
        beam = st.number_input("Beam width (0: sample)", 0, 64, 0, key="gen_beam",
                               help="Beam search keeps this many best continuations; it ignores temperature and top-k.")
        go = st.form_submit_button("Generate", icon=":material/auto_awesome:")
    if go:
        try:
            text = generate_in_app(primary, common.run_model(str(primary.path), file_token(primary.file("model.keras"))),
                                   prompt, length, temperature, top_k, seed, beam)
        except common.USER_ERRORS as err:
            common.show_error(err)
        else:
            for note in generate_notices(primary, prompt, temperature, top_k, beam):
                st.info(note, icon=":material/info:")
            st.code(printable(text), language=None, wrap_lines=True)



# ---- why this prediction: integrated gradients and saliency -------------------------------------------
@st.cache_data(show_spinner="Computing attributions…", max_entries=16)
def _explain(run_dir: str, token: str, data_path: str, data_token: str, index: int, baseline: str, steps: int) -> dict:
    return explain_on(Run(run_dir), run_table(Run(run_dir), data_path), index, baseline, steps,
                      common.run_model(run_dir, token))


def _explain_view(is_forecast: bool) -> None:
    """Integrated gradients and saliency of one input: a forecast window (`is_forecast`) or a sequence."""
    with st.expander("Explain one prediction (integrated gradients, saliency)"):
        data_path = run_data_path(primary)
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


def _step_sequence_view() -> None:
    """label_steps: one chosen held-out sequence's true and predicted labels over time."""
    from builder.app import label_strip_chart, sequence_strips, step_predictions

    try:
        preds = step_predictions(primary.path)
    except ValueError as err:
        common.show_error(err)
        return
    ids = list(dict.fromkeys(preds["sequence"].tolist()))
    if not ids:
        return
    pick = st.selectbox("Sequence", ids, key="eval_step_seq",
                        help=f"A sequence of the {metrics.get('part', 'test')} part: its labels over time.")
    strips, accuracy = sequence_strips(preds, pick)
    st.markdown(f"**True vs predicted labels over time** · step accuracy {accuracy:.3f} on this sequence")
    chart = label_strip_chart(strips)
    if chart is not None:
        st.altair_chart(chart, width="stretch")


def _translate_view() -> None:
    """translate: the verdict, exact match and CER of greedy and beam beside the baselines, example pairs and the
    attention of one chosen example."""
    from builder.app import (
        attention_chart,
        attention_of,
        scores_chart,
        translate_examples,
        translate_scores,
        translate_verdict,
    )

    judged = translate_verdict(metrics)
    if judged:
        getattr(st, judged["kind"])(f"**Verdict:** {judged['text']}")
    st.altair_chart(scores_chart(translate_scores(metrics)))
    beam = metrics.get("model_beam")
    st.caption(f"{metrics.get('n_pairs', {}).get('test', 0):,} test pairs ({metrics.get('tokens')}); "
               + (f"beam width {beam['width']} on the first {beam['pairs']}." if beam else "no beam search (width 0).")
               + " Exact match: higher is better; CER: lower is better.")
    only_wrong = st.toggle("Only pairs greedy gets wrong", key="eval_tr_wrong")
    try:
        examples = translate_examples(primary.path, n=8, only_wrong=only_wrong)
    except ValueError as err:
        common.show_error(err)
        return
    st.markdown("**Examples** (held-out pairs)")
    st.dataframe(examples, hide_index=True, width="stretch")
    if examples.empty:
        return
    st.markdown("**Attention of one example**")
    pick = st.selectbox("Example", examples["source"].tolist(), key="eval_tr_pick",
                        help="Which source tokens the decoder looked at while writing each output token (greedy).")
    try:
        out, weights = attention_of(primary.metadata(), common.run_model(str(primary.path),
                                    file_token(primary.file("model.keras"))), pick)
    except common.USER_ERRORS as err:
        common.show_error(err)
        return
    st.caption(f"Greedy output: `{out}`")
    if weights is None:
        st.info("This model has no attention (seq2seq.attention is none): the decoder reads the final encoder state only.")
    else:
        st.altair_chart(attention_chart(weights), width="stretch")


VIEWS = {"forecast": _forecast_view, "tree_depth": _tree_depth_view, "confusion": _confusion_view,
         "classes": _classes_view, "generate": _generate_view,
         "explain_windows": lambda: _explain_view(True), "explain_sequences": lambda: _explain_view(False),
         "step_sequence": _step_sequence_view, "translate": _translate_view}
views = [v for v in evaluate_views(metrics) if v in VIEWS]
for name in [v for v in views if not v.startswith("explain")]:
    VIEWS[name]()
with st.expander("Training curve"):
    chart = loss_chart(history_frame(primary.history()), height=240)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
for name in [v for v in views if v.startswith("explain")]:
    VIEWS[name]()
