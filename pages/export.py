"""Export & predict: download the trained model, see how to serve it, forecast ahead, predict on new data.

Task-aware: the SavedModel, model.keras, spec and metadata for every run; ONNX / LiteRT and the
plain-Keras code only where the converter / code generator takes the run's model (`export_options`),
else one line saying why."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from builder.app import (
    CONVERT_FORMATS,
    Run,
    code_for_download,
    contract_lines,
    convert_for_download,
    csv_bytes,
    display_dates,
    display_name,
    export_options,
    export_views,
    file_token,
    finished_runs,
    forecast_band_frame,
    forecast_with_history,
    future_rows,
    future_steps,
    history_part,
    interval_chart,
    known_future_of,
    predict_on,
    predict_upload,
    run_choices,
    run_data_path,
    run_model_size,
    series_chart,
    serving_snippet,
    task_predict_options,
    task_reads_text,
    with_future_rows,
    zip_dir_bytes,
)
from pages import common

common.ensure_session()
st.title("Export & predict")
st.caption("The SavedModel takes raw inputs in your data's own units (windows, node arrays or a text prompt) and "
           "returns forecasts in the same units, probabilities or text: scaling is inside the graph, and loading "
           "it needs TensorFlow only.")

runs = [r for r in finished_runs() if r.file("metadata.json").exists()]
if not runs:
    st.info("No exported runs yet. Train a model on the **Train** page first.")
    st.stop()
ids = [r.path.name for r in runs]
cur = st.session_state.get("run_id")
labels = run_choices(runs=runs)  # "id · name · ★ metric": the runs table's names and best-run marks
pick = st.selectbox("Run", ids, index=ids.index(cur) if cur in ids else 0, key="export_run",
                    format_func=lambda i: labels.get(i, i),
                    help="★ marks the best run per metric among runs of the same task and data file.")
run = Run(runs[ids.index(pick)].path)
try:
    meta = run.metadata()
except common.USER_ERRORS as err:
    common.show_error(err)
    st.stop()
resolved = meta["resolved"]
task = str(meta.get("task"))
signatures = list((meta.get("serving") or {}).get("signatures") or [meta["serving"].get("signature", "serve")])


@st.cache_data(show_spinner="Zipping the SavedModel…", max_entries=8)
def _zip(folder: str, token: str) -> bytes:
    return zip_dir_bytes(folder, "saved_model")


@st.cache_data(show_spinner=False, max_entries=32)
def _read_bytes(path: str, token: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# ---- downloads -------------------------------------------------------------------------------------
st.subheader("Download")
d1, d2, d3, d4 = st.columns(4)
try:
    sm = run.file("saved_model")
    d1.download_button("SavedModel (zip)", icon=":material/download:", data=_zip(str(sm), file_token(sm / "saved_model.pb")),
                       file_name=f"{run.path.name}-saved_model.zip", mime="application/zip", width="stretch", on_click="ignore",
                       type="primary", help="TensorFlow SavedModel with the signature(s) " + ", ".join(f"`{s}`" for s in signatures) + ".")
    for col, name, mime in ((d2, "model.keras", "application/octet-stream"),
                            (d3, "spec.json", "application/json"), (d4, "metadata.json", "application/json")):
        path = run.file(name)
        col.download_button(name, icon=":material/download:", data=_read_bytes(str(path), file_token(path)),
                            file_name=f"{run.path.name}-{name}", mime=mime, width="stretch",
                            on_click="ignore")
except common.USER_ERRORS as err:
    common.show_error(err, "Artifacts are missing: ")

info2, info1 = st.container(), st.container()  # full width: the snippet is never clipped
with info1:
    st.markdown("**Serve it with TensorFlow alone**")
    st.code(serving_snippet(run), language="python", wrap_lines=True)
with info2:
    st.markdown("**Contract**")
    params = run_model_size(run.read_json("spec.json") or {}, resolved)
    st.markdown(
        "".join(f"- {line}\n" for line in contract_lines(meta))
        + (f"- parameters: {params:,} (as on the Design page; the SavedModel adds "
           f"{meta['params'] - params:,} output scaling constants)"
           if isinstance(params, int) and isinstance(meta.get("params"), int) and meta["params"] > params
           else (f"- parameters: {params:,}" if isinstance(params, int) else ""))
    )


# ---- other formats: ONNX, LiteRT -------------------------------------------------------------------
@st.cache_data(show_spinner="Converting and checking against the SavedModel…", max_entries=8)
def _convert(run_dir: str, token: str, fmt: str) -> dict:
    return convert_for_download(Run(run_dir), fmt)


st.subheader("Other formats")
offers = export_options(meta, run.read_json("spec.json"))
fmt_labels = {f: label for f, label in CONVERT_FORMATS if offers.get(f) is None}
for reason in dict.fromkeys(offers[f] for f, _ in CONVERT_FORMATS if offers.get(f)):
    st.caption(f"{' and '.join(label for f, label in CONVERT_FORMATS if offers.get(f) == reason)}: not offered "
               f"for this run. {reason}.")
if fmt_labels:
    st.caption("ONNX runs with onnxruntime, LiteRT (.tflite) with the LiteRT interpreter, neither needs TensorFlow. "
               "Each file is checked against the SavedModel on raw windows before it is offered.")
    c1, c2 = st.columns([2, 3])
    fmt = c1.radio("Format", list(fmt_labels), format_func=fmt_labels.get, horizontal=True, key="export_format")
if fmt_labels and (c1.button("Convert", icon=":material/transform:", key="export_convert")
                   or st.session_state.get("_converted") == (run.path.name, fmt)):
    st.session_state["_converted"] = (run.path.name, fmt)
    try:
        conv = _convert(str(run.path), file_token(run.file("model.keras")), fmt)
    except common.USER_ERRORS as err:
        common.show_error(err)
    else:
        if not conv["ok"]:
            st.error(f"No {fmt_labels[fmt]} file for this model: {conv['reason']}")
        else:
            check = conv["check"]
            batch = "any batch size" if check["batch"] is None else f"batch {check['batch']} (one window per call)"
            c1.download_button(conv["file_name"], icon=":material/download:", data=conv["data"], file_name=conv["file_name"],
                               mime="application/octet-stream", key="dl_converted", on_click="ignore", type="primary")
            c1.markdown(f"- {check['size_bytes']:,} bytes, {batch}\n"
                        f"- max |difference| to the SavedModel on {check['n_check_windows']} raw windows: "
                        f"{check['max_abs_diff']:.3g}" + "".join(f"\n- {note}" for note in check["notes"]))
            c2.code(conv["snippet"], language="python", wrap_lines=True)


# ---- plain Keras code ------------------------------------------------------------------------------
@st.cache_data(show_spinner="Writing the model as plain Keras code…", max_entries=8)
def _code(run_dir: str, token: str) -> dict:
    return code_for_download(Run(run_dir))


st.subheader("Plain Keras code")
if offers.get("code"):
    st.caption(f"Not offered for this run. {offers['code']}.")
else:
    st.caption("A standalone Python file (keras and numpy only) that rebuilds this model, with its trained weights "
               "in the .weights.h5 file of the same name, which it loads from beside itself.")
    if st.button("Write the code", icon=":material/code:", key="export_code") or st.session_state.get("_code_for") == run.path.name:
        st.session_state["_code_for"] = run.path.name
        try:
            gen = _code(str(run.path), file_token(run.file("model.keras")))
        except common.USER_ERRORS as err:
            common.show_error(err)
        else:
            if not gen["ok"]:
                st.error(f"No plain Keras code for this model: {gen['reason']}")
            else:
                k1, k2 = st.columns(2)
                k1.download_button(gen["code_name"], icon=":material/download:", data=gen["code"], file_name=gen["code_name"],
                                   mime="text/x-python", key="dl_code", on_click="ignore", width="stretch")
                k2.download_button(gen["weights_name"], icon=":material/download:", data=gen["weights"],
                                   file_name=gen["weights_name"], mime="application/octet-stream", key="dl_code_weights",
                                   on_click="ignore", width="stretch")
                st.code(gen["code"], language="python", line_numbers=True, wrap_lines=True, height=480)


@st.cache_data(show_spinner="Forecasting…", max_entries=16)
def _forecast(run_dir: str, token: str, data_path: str, data_token: str, future: pd.DataFrame | None = None):
    """The run's forecast after its data file; with `future` (a known-future run), after the file's rows up to
    its last target value and then the table of the steps ahead `future`."""
    df = common.load_path(data_path)
    if future is not None:
        df = with_future_rows(df, Run(run_dir).metadata()["resolved"], future)
        df.attrs["source"] = f"{display_name(data_path)} and the table of the steps ahead"
    return predict_on(Run(run_dir), df, common.run_model(run_dir, token))


@st.cache_data(show_spinner="Predicting…", max_entries=8)
def _predict(run_dir: str, token: str, digest: str, data: bytes, name: str, beam: int | None = None):
    options = None if beam is None else {"beam": beam}
    return predict_upload(Run(run_dir), data, name, model=common.run_model(run_dir, token), options=options)


def _future_table(data_path: str | None, known: list[str]) -> pd.DataFrame | None:
    """A known-future run's steps ahead, one row per step with a cell per known-future column to fill in
    (pre-filled from rows after the data's last target value); the edited table, or None when the data
    cannot be read (the message is shown)."""
    try:
        if not data_path:
            raise FileNotFoundError(f"{run.path.name}: the run does not record its data file")
        table = future_rows(common.load_path(data_path), resolved)
    except common.USER_ERRORS as err:
        common.show_error(err)
        return None
    step_col = str(table.columns[0])
    steps, horizon = future_steps(resolved), int(resolved["horizon"])
    st.caption(f"This run reads the values of {', '.join(f'`{c}`' for c in known)} (known in advance) for the next "
               f"{steps} step(s)" + (f" (the horizon, and at least one season: {steps} > {horizon})" if steps > horizon
                                     else "") + ". Fill in one value per step; values found after the data's last "
               "target value are filled in already.")
    edited = st.data_editor(
        display_dates(table), key=f"export_future_{run.path.name}", num_rows="fixed", hide_index=True,
        disabled=[step_col], width="stretch",
        column_config={c: st.column_config.NumberColumn(c, help=f"`{c}` at this step ahead") for c in known})
    return pd.DataFrame(edited)


# ---- forecast ahead --------------------------------------------------------------------------------
if "forecast_ahead" in export_views(meta.get("task")):
    st.subheader(f"Forecast the next {resolved['horizon']} step(s)")
    data_path = run_data_path(run)
    known = known_future_of(resolved)
    st.caption(f"From the last {resolved['lookback']} rows of the training data"
               + (f" (`{display_name(data_path)}`)" if data_path else "")
               + (" up to its last target value, and the values known in advance below." if known else "."))
    future = _future_table(data_path, known) if known else None
    if st.button("Forecast", icon=":material/trending_up:", key="export_forecast") or st.session_state.get("_forecast_for") == run.path.name:
        st.session_state["_forecast_for"] = run.path.name
        try:
            if not data_path:
                raise FileNotFoundError(f"{run.path.name}: the run does not record its data file")
            if known and future is None:
                raise ValueError("the values of the steps ahead could not be read; see the message above")
            fc = _forecast(str(run.path), file_token(run.file("model.keras")), data_path, file_token(data_path), future)
        except common.USER_ERRORS as err:
            common.show_error(err)
        else:
            f1, f2 = st.columns([2, 3])
            f1.dataframe(display_dates(fc), hide_index=True, width="stretch")
            f1.download_button("Forecast CSV", icon=":material/download:", data=csv_bytes(fc), file_name=f"{run.path.name}-forecast.csv",
                               mime="text/csv", key="dl_forecast", on_click="ignore")
            try:
                history = history_part(common.load_path(data_path), resolved)
                band, levels = forecast_band_frame(history, resolved, fc)
                chart = (interval_chart(band, levels, str(resolved["targets"][0]), height=280) if band is not None
                         else series_chart(forecast_with_history(history, resolved, fc), height=280))
                if chart is not None:
                    f2.altair_chart(chart, width="stretch")
                if levels:
                    f2.caption(f"Shaded: the {' and '.join(f'{lv}%' for lv in levels)} prediction intervals (split "
                               "conformal on the validation windows; their coverage on the test part is on Evaluate).")
            except common.USER_ERRORS as err:
                f2.caption(f"No chart: {err}")

# ---- predict on a new file -------------------------------------------------------------------------
reads_text = task_reads_text(task)
st.subheader("Score a new text file" if reads_text else "Predict on a new CSV")
st.caption("Bits per character of the file's text under the model." if reads_text else
           "The file needs the training data's columns; the result: "
           f"{meta['serving'].get('output', {}).get('meaning', 'the model output')}."
           + (f" It ends with {future_steps(resolved)} row(s) whose targets are empty and whose "
              f"{known_future_of(resolved)} hold the values of the steps ahead (known in advance)."
              if known_future_of(resolved) else ""))
beam = None
if "beam" in task_predict_options(task):
    beam = int(st.number_input(
        "Beam width", min_value=0, max_value=16, value=0, key="export_beam",
        help="0 or 1: greedy decoding, what the SavedModel's `translate` signature does; wider keeps that many "
             "partial translations at each step and returns the most likely (slower: about one search per row)."))
up = st.file_uploader("UTF-8 text file" if reads_text else "CSV with the same columns as the training data",
                      type=["txt", "text", "md"] if reads_text else ["csv", "txt", "tsv"], key="export_upload")
if up is not None:
    try:
        data = up.getvalue()
        out = _predict(str(run.path), file_token(run.file("model.keras")), hashlib.sha256(data).hexdigest(),
                       data, up.name, beam)
    except common.USER_ERRORS as err:
        common.show_error(err)
    else:
        st.dataframe(display_dates(out), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(out)))
        st.download_button("Predictions CSV", icon=":material/download:", data=csv_bytes(out), file_name=f"{run.path.name}-predictions.csv",
                           mime="text/csv", key="dl_predictions", on_click="ignore")
