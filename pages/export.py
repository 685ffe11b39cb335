"""Export & predict: download the trained model, see how to serve it, forecast ahead, predict on new data."""

from __future__ import annotations

import hashlib

import streamlit as st

from builder.app import (
    CONVERT_FORMATS,
    Run,
    convert_for_download,
    csv_bytes,
    display_name,
    export_views,
    file_token,
    finished_runs,
    forecast_with_history,
    predict_on,
    predict_upload,
    run_choices,
    run_data_path,
    run_model_size,
    series_chart,
    serving_snippet,
    zip_dir_bytes,
)
from pages import common

common.ensure_session()
st.title("Export & predict")
st.caption("The SavedModel takes raw windows in your data's own units and returns forecasts (or class "
           "probabilities) in the same units: scaling is inside the graph, and loading it needs TensorFlow only.")

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
                       type="primary", help="TensorFlow SavedModel with a `serve` signature.")
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
    st.code(serving_snippet(run), language="python")
with info2:
    st.markdown("**Contract**")
    params = run_model_size(run.read_json("spec.json") or {}, resolved)
    st.markdown(
        f"- task: **{meta.get('task')}**\n"
        f"- input `window`: `{meta['serving']['input'].get('shape')}` float32, columns `{resolved['inputs']}`\n"
        f"- output: `{meta['serving']['output'].get('shape')}`, {meta['serving']['output'].get('meaning', '')}\n"
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
st.caption("ONNX runs with onnxruntime, LiteRT (.tflite) with the LiteRT interpreter, neither needs TensorFlow. "
           "Each file is checked against the SavedModel on raw windows before it is offered.")
fmt_labels = dict(CONVERT_FORMATS)
c1, c2 = st.columns([2, 3])
fmt = c1.radio("Format", list(fmt_labels), format_func=fmt_labels.get, horizontal=True, key="export_format")
if c1.button("Convert", icon=":material/transform:", key="export_convert") or st.session_state.get("_converted") == (run.path.name, fmt):
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
            c2.code(conv["snippet"], language="python")


@st.cache_data(show_spinner="Forecasting…", max_entries=16)
def _forecast(run_dir: str, token: str, data_path: str, data_token: str):
    return predict_on(Run(run_dir), common.load_path(data_path), common.run_model(run_dir, token))


@st.cache_data(show_spinner="Predicting…", max_entries=8)
def _predict(run_dir: str, token: str, digest: str, data: bytes, name: str):
    return predict_upload(Run(run_dir), data, name, model=common.run_model(run_dir, token))


# ---- forecast ahead --------------------------------------------------------------------------------
if "forecast_ahead" in export_views(meta.get("task")):
    st.subheader(f"Forecast the next {resolved['horizon']} step(s)")
    data_path = run_data_path(run)
    st.caption(f"From the last {resolved['lookback']} rows of the training data"
               + (f" (`{display_name(data_path)}`)" if data_path else "") + ".")
    if st.button("Forecast", icon=":material/trending_up:", key="export_forecast") or st.session_state.get("_forecast_for") == run.path.name:
        st.session_state["_forecast_for"] = run.path.name
        try:
            if not data_path:
                raise FileNotFoundError(f"{run.path.name}: the run does not record its data file")
            fc = _forecast(str(run.path), file_token(run.file("model.keras")), data_path, file_token(data_path))
        except common.USER_ERRORS as err:
            common.show_error(err)
        else:
            f1, f2 = st.columns([2, 3])
            f1.dataframe(fc, hide_index=True, width="stretch")
            f1.download_button("Forecast CSV", icon=":material/download:", data=csv_bytes(fc), file_name=f"{run.path.name}-forecast.csv",
                               mime="text/csv", key="dl_forecast", on_click="ignore")
            try:
                chart = series_chart(forecast_with_history(common.load_path(data_path), resolved, fc), height=280)
                if chart is not None:
                    f2.altair_chart(chart, width="stretch")
            except common.USER_ERRORS as err:
                f2.caption(f"No chart: {err}")

# ---- predict on a new file -------------------------------------------------------------------------
st.subheader("Predict on a new CSV")
st.caption("Forecast: the file's last rows must have the training columns; the forecast follows its end. "
           "Classify: one prediction per sequence id.")
up = st.file_uploader("CSV with the same columns as the training data", type=["csv", "txt", "tsv"],
                      key="export_upload")
if up is not None:
    try:
        data = up.getvalue()
        out = _predict(str(run.path), file_token(run.file("model.keras")), hashlib.sha256(data).hexdigest(),
                       data, up.name)
    except common.USER_ERRORS as err:
        common.show_error(err)
    else:
        st.dataframe(out, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(out)))
        st.download_button("Predictions CSV", icon=":material/download:", data=csv_bytes(out), file_name=f"{run.path.name}-predictions.csv",
                           mime="text/csv", key="dl_predictions", on_click="ignore")
