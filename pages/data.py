"""Data: choose a CSV, look at it, and say which columns the model reads and predicts."""

from __future__ import annotations

from typing import Any

import streamlit as st

from builder.app import (
    TASKS,
    DataError,
    ModelSpec,
    bar_counts,
    chart_frame,
    check_cards,
    class_counts,
    field_options,
    file_token,
    form_changes,
    form_defaults,
    guess_task,
    is_text_source,
    new_file_data,
    sample_files,
    save_upload,
    series_chart,
    switch_task,
    task_default,
    tasks_reading,
    text_preview,
    tree_dot,
    tree_ids,
    validate,
)
from pages import common

common.ensure_session()
st.title("Data")
st.caption("Pick a bundled sample or upload your own CSV, then tell the model what to read and what to predict. "
           "Everything you choose here is kept in the session's spec.")

NONE = "(none)"
s = common.spec()
source = st.session_state["source"]
r = common.rev()


def _new_source(new: dict[str, str]) -> None:
    """Switch the session to another CSV: column choices reset, the task guessed from the file."""
    st.session_state["source"] = new
    d = st.session_state["spec"]
    data = new_file_data(d["task"], d["data"])
    try:
        task = guess_task(common.load_source(new))
    except common.USER_ERRORS:
        task = d["task"]
    candidate, preset, notice = task_default({**d, "data": data}, task)
    spec_new, _ = validate(candidate)
    common.set_spec(spec_new or candidate, replace=True)
    if preset:
        st.session_state["preset"], st.session_state["task_notice"] = preset, notice


# ---- source ------------------------------------------------------------------------------------------
samples = sample_files()
src_col, info_col = st.columns([3, 2])
with src_col:
    modes = ["Bundled sample", "Upload a CSV"]
    mode = st.radio("Source", modes, horizontal=True, key="data_mode",
                    index=1 if source and source.get("kind") == "upload" else 0)
    if mode == "Bundled sample":
        if not samples:
            st.info("No bundled samples found in datasets/. Upload a CSV instead.")
        else:
            names = [p.name for p in samples]
            current = source["name"] if source and source.get("kind") == "sample" and source["name"] in names else None
            choice = st.selectbox("Sample", names, index=names.index(current) if current else 0,
                                  help="Small public data sets bundled with RNN Studio (see datasets/README.md).")
            path = str(samples[names.index(choice)])
            if not source or source.get("path") != path:
                _new_source({"path": path, "name": choice, "kind": "sample"})
                st.rerun()
    else:
        up = st.file_uploader("CSV file", type=["csv", "txt", "tsv"],
                              help="One row per time step (forecast) or per step of a labelled sequence "
                                   "(classify), or one text pair per row (translate). Separators, decimal commas "
                                   "and encodings are detected. Task generate: a plain UTF-8 .txt file.")
        if up is not None:
            try:
                path = str(save_upload(up.getvalue(), up.name))
            except (OSError, ValueError) as err:
                common.show_error(err, "Could not store the upload: ")
            else:
                if not source or source.get("path") != path:
                    _new_source({"path": path, "name": up.name, "kind": "upload"})
                    st.rerun()
        elif source and source.get("kind") != "upload":
            st.caption(f"Still using **{source['name']}** until you upload a file.")
        elif source:
            st.caption(f"Using the uploaded **{source['name']}** (kept in this workspace); upload another to replace it.")

source = st.session_state["source"]
if not source:
    st.warning("No data yet: upload a CSV to begin.")
    st.stop()

reads = "text" if is_text_source(source, s.task) else "csv"  # the input kind: the tasks offered follow it
df = None
if reads == "text":
    st.caption(f"File: **{source['name']}** · read as plain UTF-8 text")
    with st.expander("Preview", expanded=True):
        st.code(text_preview(source["path"]), language=None, wrap_lines=True)
else:
    try:
        df = common.load_source(source)
    except common.USER_ERRORS as err:
        common.show_error(err)
        st.info("Fix the file and upload it again, or pick a bundled sample.")
        st.stop()
    with info_col:
        st.metric("Rows × columns", f"{len(df):,} × {len(df.columns)}")
        st.caption(f"File: **{source['name']}**")
        for note in df.attrs.get("notices", []):
            st.caption(f":material/info: {note}")
    with st.expander("Preview and column summary", expanded=True):
        prev, summ = st.tabs(["Preview (first 200 rows)", "Column summary"])  # full width each: nothing clipped
        prev.dataframe(df.head(200), height=260, width="stretch")
        summ.dataframe(common.source_summary(source["path"], file_token(source["path"])), height=260,
                       hide_index=True, width="stretch")

# ---- task and columns: one widget per field of the task's form (builder/tasks/registry.py) -------------
st.subheader("Task and columns")
offered = tasks_reading(reads)
if not offered:
    st.error(f"{source['name']}: no task reads a {reads} file.", icon=":material/error:")
    st.stop()
task = st.radio("Task", offered, format_func=lambda t: TASKS[t].label, horizontal=True,
                key=f"d{r}_task" if reads == "csv" else f"d{r}_ttask",
                index=offered.index(s.task) if s.task in offered else 0,
                help=" ".join(f"{TASKS[t].label}: {TASKS[t].description}" for t in offered))
d = s.data


def _field_widget(field: Any, slot: Any, chosen: dict[str, Any], start: Any) -> Any:
    """One widget for one form field (its label, help and bounds from the registry); its value."""
    key = f"d{r}_{task}_{field.key}"
    if field.kind == "int":
        return int(slot.number_input(field.label, field.minimum, field.maximum, int(start), key=key, help=field.help))
    options = field_options(field, df, chosen)
    if field.kind == "columns":
        if not options:
            slot.caption(f"{field.label}: no {'numeric ' if field.numeric else ''}column left to offer.")
            return []
        return slot.multiselect(field.label, options, default=[c for c in start or [] if c in options], key=key,
                                help=field.help)
    if field.kind == "optional_column":
        opts = [NONE, *options]
        pick = slot.selectbox(field.label, opts, index=opts.index(start) if start in opts else 0, key=key,
                              help=field.help)
        return None if pick == NONE else pick
    if not options:
        slot.error(f"{source['name']}: no {'numeric ' if field.numeric else ''}column for “{field.label}” "
                   f"besides the ones chosen above; columns are {list(df.columns)[:20]}", icon=":material/error:")
        return None
    return slot.selectbox(field.label, options, index=options.index(start) if start in options else 0, key=key,
                          help=field.help)


def _rows(fields: list[Any]) -> list[list[Any]]:
    """The form's fields in rows: runs of column fields (at most 5 a row, 3 when one is a multiselect)
    and of number fields (4 a row); a field offering a subset of another's choice (`among`) stays in that
    field's row, beside it."""
    groups: list[list[Any]] = []
    for f in fields:
        if groups and (groups[-1][0].kind == "int") == (f.kind == "int"):
            groups[-1].append(f)
        else:
            groups.append([f])
    rows: list[list[Any]] = []
    for g in groups:
        width = 4 if g[0].kind == "int" else (3 if any(f.kind == "columns" for f in g) else 5)
        for i in range(0, len(g), width):
            row = g[i:i + width]
            while rows and row and row[0].among and row[0].among in {f.key for f in rows[-1]}:
                rows[-1].append(row.pop(0))
            if row:
                rows.append(row)
    return rows


def draw_form(task: str) -> dict[str, Any]:
    """The task's form, field by field; {key: chosen value}."""
    starts = form_defaults(task, df, s)
    chosen: dict[str, Any] = {}
    fields = [f for f in TASKS[task].form if f.kind == "int" or df is not None]
    for row in _rows(fields):
        lone_multiselect = len(row) == 1 and row[0].kind == "columns"
        slots = st.columns(1 if lone_multiselect else max(len(row), 4 if row[0].kind == "int" else len(row)))
        for field, slot in zip(row, slots, strict=False):
            chosen[field.key] = _field_widget(field, slot, chosen, starts.get(field.key))
    return chosen


values = draw_form(task)
changes = form_changes(task, values)

st.subheader("Split" if reads == "text" else "Split and cleaning")
HELP = {"csv": ("Held out after the training part; used for early stopping.",
                "The last part of the data, used only for the final metrics."),
        "text": ("A contiguous part after the training text; used for early stopping and choosing the n-gram order.",
                 "The last part of the text, used only for the final metrics.")}[reads]
s1, s2, s3, s4 = st.columns(4)
val = s1.slider("Validation fraction", 0.0, 0.5, float(d.val_fraction), 0.05, key=f"d{r}_val" if reads == "csv" else f"d{r}_tval",
                help=HELP[0])
test = s2.slider("Test fraction", 0.0, 0.5, float(d.test_fraction), 0.05, key=f"d{r}_test" if reads == "csv" else f"d{r}_ttest",
                 help=HELP[1])
changes.update({"val_fraction": float(val), "test_fraction": float(test)})
if reads == "csv":
    missing_opts = ["interpolate", "ffill", "drop", "refuse"]
    missing = s3.selectbox("Missing values", missing_opts, index=missing_opts.index(d.missing), key=f"d{r}_missing",
                           help="interpolate in time, forward-fill, drop the rows, or refuse a file with gaps.")
    scaler_opts = ["standard", "minmax", "none"]
    scaler = s4.selectbox("Scaling", scaler_opts, index=scaler_opts.index(d.scaler), key=f"d{r}_scaler",
                          help="Fit on the training part only; built into the exported model.")
    changes.update({"missing": missing, "scaler": scaler})

# ---- apply to the spec -----------------------------------------------------------------------------
candidate, task_preset, task_notice = task_default(s.model_dump(mode="json"), task)
if task_preset is None:
    candidate = switch_task(candidate, task)
candidate["data"].update(changes)
new_spec, problem = validate(candidate)
if problem:
    common.show_error(ValueError(problem))
elif new_spec is not None and new_spec.model_dump(mode="json") != st.session_state["spec"]:
    common.set_spec(new_spec)
    if task_preset:
        st.session_state["preset"], st.session_state["task_notice"] = task_preset, task_notice
current: ModelSpec = new_spec or s
if st.session_state.get("task_notice") and current.task == task:
    st.info(st.session_state["task_notice"], icon=":material/swap_horiz:")


# ---- the task's preview of the chosen columns (TaskEntry.preview), then the full check --------------
def _series(v: dict[str, Any]) -> None:
    columns = [*(v.get("targets") or []), *(v.get("features") or [])]
    if not columns:
        return
    st.subheader("Series")
    chart = series_chart(common.source_chart(source["path"], file_token(source["path"]), v.get("time_col"),
                                             tuple(columns)), height=300)
    if chart is None:
        st.caption("Nothing to draw: the chosen columns have no numeric values.")
    else:
        st.altair_chart(chart, width="stretch")


def _sequence(v: dict[str, Any]) -> None:
    if not v.get("features") or not v.get("id_col") or not v.get("label_col"):
        return
    st.subheader("One sequence")
    ids = list(dict.fromkeys(df[v["id_col"]].tolist()))[:500]
    pick = st.selectbox("Sequence", ids, key=f"d{r}_plotid")
    one = df[df[v["id_col"]] == pick]
    st.caption(f"Label: **{one[v['label_col']].iloc[0]}**")
    chart = series_chart(chart_frame(one.reset_index(drop=True), v.get("order_col"), v["features"]), height=260)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    st.subheader("Classes")
    counts = class_counts(df, v["id_col"], v["label_col"])
    bars = bar_counts(counts, "class", "sequences")
    if bars is not None:
        st.altair_chart(bars, width="stretch")
        st.caption(f"{int(counts['sequences'].sum())} sequences in {len(counts)} classes; the largest class is "
                   f"{counts['sequences'].max() / max(1, counts['sequences'].sum()):.0%} of them (the majority-class baseline).")


def _tree(v: dict[str, Any]) -> None:
    if not v.get("id_col"):
        return
    st.subheader("One tree")
    pick = st.selectbox("Tree", tree_ids(df, v["id_col"]), key=f"d{r}_plottree")
    try:
        dot, label = tree_dot(df, {"tree_col": v["id_col"], "node_col": v.get("node_col"),
                                   "parent_col": v.get("parent_col"), "token_col": v.get("token_col"),
                                   "label_col": v.get("label_col")}, pick)
    except DataError as err:
        common.show_error(err)
    else:
        st.caption(f"Label: **{label}**")
        st.graphviz_chart(dot, width="stretch")


def _steps(v: dict[str, Any]) -> None:
    """label_steps: one sequence's features and its labels over time, and the steps per label."""
    from builder.app import label_strip_chart, label_strips, step_label_counts

    if not v.get("features") or not v.get("id_col") or not v.get("label_col"):
        return
    st.subheader("One sequence")
    ids = list(dict.fromkeys(df[v["id_col"]].tolist()))[:500]
    pick = st.selectbox("Sequence", ids, key=f"d{r}_stepid")
    one = df[df[v["id_col"]] == pick].reset_index(drop=True)
    if v.get("order_col") in one.columns:
        one = one.sort_values(v["order_col"], kind="stable").reset_index(drop=True)
    chart = series_chart(chart_frame(one, v.get("order_col"), v["features"]), height=220)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    strip = label_strip_chart(label_strips({"label": one[v["label_col"]].tolist()}), height=60)
    if strip is not None:
        st.altair_chart(strip, width="stretch")
    st.subheader("Labels")
    counts = step_label_counts(df, v["label_col"])
    bars = bar_counts(counts, "label", "steps")
    if bars is not None:
        st.altair_chart(bars, width="stretch")
        st.caption(f"{int(counts['steps'].sum())} labelled steps in {len(counts)} labels; the largest label is "
                   f"{counts['steps'].max() / max(1, counts['steps'].sum()):.0%} of them (the majority-label baseline).")


def _pairs(v: dict[str, Any]) -> None:
    """translate: the first source and target texts of the chosen columns, with their lengths."""
    from builder.app import pair_examples

    examples = pair_examples(df, v.get("source_col"), v.get("target_col"))
    if examples.empty:
        return
    st.subheader("Pairs")
    st.dataframe(examples, hide_index=True, width="stretch")
    st.caption("The model reads the source text token by token and writes the target; the split keeps the file "
               "order (the last rows are the test part).")


PREVIEWS = {"series": _series, "sequence": _sequence, "tree": _tree, "steps": _steps, "pairs": _pairs}
if df is not None and (ids_as_text := common.task_columns(source, current)):
    df = common.load_source(source, ids_as_text)  # the ids as the task reads them: 001 and 1 two sequences
if df is not None and TASKS[task].preview in PREVIEWS:
    PREVIEWS[TASKS[task].preview](values)

st.subheader("Check")
try:
    ov = common.overview(source, current)
except common.USER_ERRORS as err:
    common.show_error(err)
else:
    cards = check_cards(ov)
    for col, card in zip(st.columns(len(cards)), cards, strict=True):
        col.metric(card["label"], card["value"], help=card.get("help") or None)
    st.success(f"The {'text' if reads == 'text' else 'data'} fits the spec. Next: design the model on the "
               "**Design** page.", icon=":material/check_circle:")
    for note in ov.get("notices", []):
        st.caption(f":material/info: {note}")
