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
    class_counts,
    default_lookback,
    detect_time_column,
    file_token,
    guess_task,
    is_text_source,
    load_preset,
    numeric_columns,
    resolve_sequence_columns,
    sample_files,
    save_upload,
    series_chart,
    switch_task,
    task_default,
    text_preview,
    tree_columns,
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
    data = dict(d["data"])
    data.update({"time_col": None, "targets": [], "features": None, "id_col": None, "order_col": None,
                 "label_col": None, "lookback": None if d.get("task") == "classify" else data.get("lookback")})
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
                                   "(classify). Separators, decimal commas and encodings are detected. "
                                   "Task generate: a plain UTF-8 .txt file.")
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

# ---- plain text (task generate): its own short form, then stop ---------------------------------------
if is_text_source(source, s.task):
    st.caption(f"File: **{source['name']}** · read as plain UTF-8 text")
    with st.expander("Preview", expanded=True):
        st.code(text_preview(source["path"]), language=None, wrap_lines=True)
    text_tasks = [name for name, entry in TASKS.items() if name == "generate"]
    task = st.radio("Task", text_tasks, format_func=lambda t: TASKS[t].label, horizontal=True, key=f"d{r}_ttask",
                    help=TASKS["generate"].description)
    d = s.data
    t1, t2, t3, t4 = st.columns(4)
    context = t1.number_input("Context (characters)", 2, 100_000, int(d.lookback or 100), key=f"d{r}_context",
                              help="Characters in each training window; the model learns the next character of each.")
    stride = t2.number_input("Window step (1 = context)", 1, 100_000, int(d.stride), key=f"d{r}_tstride",
                             help="Characters between training window starts; 1 means one window every `context` characters.")
    val = t3.slider("Validation fraction", 0.0, 0.5, float(d.val_fraction), 0.05, key=f"d{r}_tval",
                    help="A contiguous part after the training text; used for early stopping and choosing the n-gram order.")
    test = t4.slider("Test fraction", 0.0, 0.5, float(d.test_fraction), 0.05, key=f"d{r}_ttest",
                     help="The last part of the text, used only for the final bits per character.")
    candidate = switch_task(s.model_dump(mode="json"), task)
    candidate["data"].update({"lookback": int(context), "stride": int(stride), "val_fraction": float(val),
                              "test_fraction": float(test), "time_col": None, "targets": [], "features": None,
                              "id_col": None, "order_col": None, "label_col": None})
    if candidate.get("task") != s.task:  # a new task: start from its default preset's model
        preset = load_preset(TASKS[task].default_preset).model_dump(mode="json")
        candidate.update({k: preset[k] for k in ("name", "description", "when_to_use", "blocks", "training", "embedding_dim")})
        st.session_state["preset"] = TASKS[task].default_preset
    new_spec, problem = validate(candidate)
    if problem:
        common.show_error(ValueError(problem))
    elif new_spec is not None and new_spec.model_dump(mode="json") != st.session_state["spec"]:
        common.set_spec(new_spec)
    st.subheader("Check")
    try:
        ov = common.overview(source, new_spec or s)
    except common.USER_ERRORS as err:
        common.show_error(err)
    else:
        chars, wins = ov["characters"], ov["windows"]
        m1, m2, m3 = st.columns(3)
        m1.metric("Characters (train / val / test)", f"{chars['train']:,} / {chars['val']:,} / {chars['test']:,}")
        m2.metric("Vocabulary", ov["vocabulary"], help="Distinct characters of the training part, plus the unknown symbol.")
        m3.metric("Training windows", f"{wins['train']:,}")
        st.success("The text fits the spec. Next: design the model on the **Design** page.", icon=":material/check_circle:")
        for note in ov.get("notices", []):
            st.caption(f":material/info: {note}")
    st.stop()

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
    summ.dataframe(common.source_summary(source["path"], file_token(source["path"])), height=260, hide_index=True, width="stretch")

# ---- task and columns ----------------------------------------------------------------------------------
st.subheader("Task and columns")
tasks = {name: entry.label for name, entry in TASKS.items()}
task = st.radio("Task", list(tasks), format_func=tasks.get, horizontal=True, key=f"d{r}_task",
                index=list(tasks).index(s.task),
                help=" ".join(f"{e.label}: {e.description}" for e in TASKS.values()))
d = s.data
cols: list[str] = list(df.columns)
changes: dict[str, Any] = {}
plot_cols: list[str] = []
plot_time: str | None = None

if task == "forecast":
    c1, c2, c3 = st.columns(3)
    detected = detect_time_column(df)
    time_default = d.time_col if d.time_col in cols else detected
    time_opts = [NONE, *cols]
    time_col = c1.selectbox("Time column", time_opts, key=f"d{r}_time",
                            index=time_opts.index(time_default) if time_default else 0,
                            help="Timestamps that order the rows; detected automatically.")
    time_col = None if time_col == NONE else time_col
    numeric = numeric_columns(df, exclude=(time_col,))
    if not numeric:
        st.error(f"{source['name']}: no numeric columns to forecast besides the time column; "
                 f"columns are {cols[:20]}")
        st.stop()
    tdefault = [t for t in d.targets if t in numeric] or numeric[:1]
    targets = c2.multiselect("Targets (to forecast)", numeric, default=tdefault, key=f"d{r}_targets",
                             help="One or more numeric columns the model predicts.")
    others = [c for c in numeric if c not in targets]
    fdefault = others if d.features is None else [f for f in d.features if f in others]
    features = c3.multiselect("Covariates (extra inputs)", others, default=fdefault, key=f"d{r}_features",
                              help="Other numeric columns the model reads besides the targets' own history.")
    w1, w2, w3, w4 = st.columns(4)
    lookback = w1.number_input("Lookback (steps)", 1, 100_000, int(d.lookback or default_lookback(s)), key=f"d{r}_lookback",
                               help="How many past steps each input window holds.")
    horizon = w2.number_input("Horizon (steps ahead)", 1, 10_000, int(d.horizon), key=f"d{r}_horizon",
                              help="How many future steps each forecast covers.")
    season = w3.number_input("Season length (0 = infer)", 0, 100_000, int(d.season_length or 0),
                             key=f"d{r}_season", help="For the seasonal-naive baseline, e.g. 12 for monthly data.")
    stride = w4.number_input("Window stride", 1, 10_000, int(d.stride), key=f"d{r}_stride",
                             help="Step between consecutive training windows (1 = every window).")
    changes = {"time_col": time_col, "targets": targets, "features": features, "lookback": int(lookback),
               "horizon": int(horizon), "season_length": int(season) or None, "stride": int(stride),
               "id_col": None, "order_col": None, "label_col": None}
    plot_cols, plot_time = targets + features, time_col
elif task == "tree":  # a node table: one row per node
    try:
        guess = tree_columns(df, {"tree_col": d.id_col, "node_col": d.node_col, "parent_col": d.parent_col,
                                  "token_col": d.token_col, "label_col": d.label_col})
    except DataError as err:
        common.show_error(err)
        guess = {}
    t1, t2, t3, t4, t5 = st.columns(5)
    picked = {}
    for col_ui, (role, title, hint) in zip((t1, t2, t3, t4, t5), (
            ("tree_col", "Tree id", "Rows with the same id form one tree."),
            ("node_col", "Node id", "The node's id within its tree."),
            ("parent_col", "Parent id", "The parent's node id; empty at the root."),
            ("token_col", "Token", "The node's word or symbol (embedded); (none): numeric features only."),
            ("label_col", "Label", "One value per tree (on every row or the root) or a label on every node.")), strict=True):
        opts = [NONE, *cols] if role == "token_col" else cols
        g = guess.get(role)
        pick = col_ui.selectbox(title, opts, index=opts.index(g) if g in opts else 0, key=f"d{r}_tree_{role}", help=hint)
        picked[role] = None if pick == NONE else pick
    changes = {"id_col": picked["tree_col"], "node_col": picked["node_col"], "parent_col": picked["parent_col"],
               "token_col": picked["token_col"], "label_col": picked["label_col"], "order_col": None,
               "features": None if picked["token_col"] else d.features, "time_col": None, "targets": [], "lookback": None}
else:
    try:
        g_id, g_order, g_label, g_feat = resolve_sequence_columns(df, d)
    except DataError:
        g_id, g_order, g_label, g_feat = None, None, None, []
    c1, c2, c3 = st.columns(3)
    id_col = c1.selectbox("Sequence id column", cols, key=f"d{r}_id",
                          index=cols.index(g_id) if g_id in cols else 0,
                          help="Rows with the same id form one sequence.")
    label_opts = [c for c in cols if c != id_col]
    label_col = c2.selectbox("Label column", label_opts, key=f"d{r}_label",
                             index=label_opts.index(g_label) if g_label in label_opts else len(label_opts) - 1,
                             help="The class of each sequence (one value per sequence).")
    order_opts = [NONE, *[c for c in cols if c not in (id_col, label_col)]]
    order_col = c3.selectbox("Order column", order_opts, key=f"d{r}_order",
                             index=order_opts.index(g_order) if g_order in order_opts else 0,
                             help="Step number within a sequence; (none) keeps the file order.")
    order_col = None if order_col == NONE else order_col
    numeric = numeric_columns(df, exclude=(id_col, label_col, order_col))
    fdefault = [f for f in (d.features if d.features is not None else g_feat) if f in numeric] or numeric
    features = st.multiselect("Feature columns", numeric, default=fdefault, key=f"d{r}_cfeatures",
                              help="Numeric columns the model reads at every step.")
    w1, w2 = st.columns(2)
    lookback = w1.number_input("Sequence length (0 = longest)", 0, 100_000, int(d.lookback or 0),
                               key=f"d{r}_clookback",
                               help="Longer sequences keep their last steps; shorter ones are padded and masked.")
    changes = {"id_col": id_col, "label_col": label_col, "order_col": order_col, "features": features,
               "lookback": int(lookback) or None, "time_col": None, "targets": []}

st.subheader("Split and cleaning")
s1, s2, s3, s4 = st.columns(4)
val = s1.slider("Validation fraction", 0.0, 0.5, float(d.val_fraction), 0.05, key=f"d{r}_val",
                help="Held out after the training part; used for early stopping.")
test = s2.slider("Test fraction", 0.0, 0.5, float(d.test_fraction), 0.05, key=f"d{r}_test",
                 help="The last part of the data, used only for the final metrics.")
missing_opts = ["interpolate", "ffill", "drop", "refuse"]
missing = s3.selectbox("Missing values", missing_opts, index=missing_opts.index(d.missing), key=f"d{r}_missing",
                       help="interpolate in time, forward-fill, drop the rows, or refuse a file with gaps.")
scaler_opts = ["standard", "minmax", "none"]
scaler = s4.selectbox("Scaling", scaler_opts, index=scaler_opts.index(d.scaler), key=f"d{r}_scaler",
                      help="Fit on the training part only; built into the exported model.")
changes.update({"val_fraction": float(val), "test_fraction": float(test), "missing": missing, "scaler": scaler})

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

# ---- chart, then the full check (it prepares the data the way training will) ----------------------
if task == "forecast" and plot_cols:
    st.subheader("Series")
    chart = series_chart(common.source_chart(source["path"], file_token(source["path"]), plot_time, tuple(plot_cols)),
                         height=300)
    if chart is None:
        st.caption("Nothing to draw: the chosen columns have no numeric values.")
    else:
        st.altair_chart(chart, width="stretch")
elif task == "tree" and changes.get("id_col"):
    st.subheader("One tree")
    pick = st.selectbox("Tree", tree_ids(df, changes["id_col"]), key=f"d{r}_plottree")
    try:
        dot, label = tree_dot(df, {"tree_col": changes["id_col"], "node_col": changes["node_col"],
                                   "parent_col": changes["parent_col"], "token_col": changes["token_col"],
                                   "label_col": changes["label_col"]}, pick)
    except DataError as err:
        common.show_error(err)
    else:
        st.caption(f"Label: **{label}**")
        st.graphviz_chart(dot, width="stretch")
elif task == "classify" and changes.get("features"):
    st.subheader("One sequence")
    ids = list(dict.fromkeys(df[changes["id_col"]].tolist()))[:500]
    pick = st.selectbox("Sequence", ids, key=f"d{r}_plotid")
    one = df[df[changes["id_col"]] == pick]
    st.caption(f"Label: **{one[changes['label_col']].iloc[0]}**")
    chart = series_chart(chart_frame(one.reset_index(drop=True), changes.get("order_col"), changes["features"]),
                         height=260)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    st.subheader("Classes")
    counts = class_counts(df, changes["id_col"], changes["label_col"])
    bars = bar_counts(counts, "class", "sequences")
    if bars is not None:
        st.altair_chart(bars, width="stretch")
        st.caption(f"{int(counts['sequences'].sum())} sequences in {len(counts)} classes; the largest class is "
                   f"{counts['sequences'].max() / max(1, counts['sequences'].sum()):.0%} of them (the majority-class baseline).")

st.subheader("Check")
try:
    ov = common.overview(source, current)
except common.USER_ERRORS as err:
    common.show_error(err)
else:
    if ov["task"] == "forecast":
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("Rows (train / val / test)", f"{ov['train']} / {ov['val']} / {ov['test']}")
        m2.metric("Training windows", ov["windows"]["train"])
        m3.metric("Inputs → outputs", f"{ov['n_features']} → {ov['n_outputs']} × {ov['horizon']}")
        m4.metric("Season length", ov["season_length"], help=f"Detected frequency: {ov['freq'] or 'unknown'}")
    elif ov["task"] == "tree":
        m1, m2, m3, m4 = st.columns(4)
        trees = ov["trees"]
        m1.metric("Trees (train / val / test)", f"{trees['train']} / {trees['val']} / {trees['test']}")
        m2.metric("Nodes", f"{ov['nodes']:,}", help=f"deepest tree: {ov['max_depth']} levels; most children: {ov['max_children']}")
        m3.metric("Vocabulary", ov["vocabulary"], help="tokens of the training trees, plus <unk>")
        m4.metric("Target", f"{'a value' if ov['regression'] else str(len(ov['classes'])) + ' classes'} per {ov['level']}")
    else:
        m1, m2, m3 = st.columns(3)
        seqs = ov["sequences"]
        m1.metric("Sequences (train / val / test)", f"{seqs['train']} / {seqs['val']} / {seqs['test']}")
        m2.metric("Classes", len(ov["classes"]), help=", ".join(map(str, ov["classes"][:30])))
        m3.metric("Steps × features", f"{ov['lookback']} × {ov['n_features']}")
    st.success("The data fits the spec. Next: design the model on the **Design** page.", icon=":material/check_circle:")
    for note in ov.get("notices", []):
        st.caption(f":material/info: {note}")

