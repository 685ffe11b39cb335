"""Train: fit settings, start a run in its own process, watch it live, stop it, reopen older runs."""

from __future__ import annotations

import streamlit as st

from builder.app import (
    ModelSpec,
    blank_missing,
    current_run,
    format_seconds,
    history_frame,
    latest_samples,
    loss_chart,
    new_run_dir,
    printable,
    progress_view,
    result_kind,
    result_summary,
    run_by_id,
    run_choices,
    run_label,
    runs_table,
    schedule_chart,
    schedule_frame,
    set_run_label,
    start_training,
    table_columns,
    task_augments,
    task_ensembles,
    task_model_fields,
    task_refits,
    training_hint,
    validate,
)
from pages import common

common.ensure_session()
st.title("Train")
st.caption("Training runs in its own process, so this page stays responsive: switch pages, reload or open a "
           "second tab and the run is still here.")

s = common.spec()
source = st.session_state["source"]
r = common.rev()
t = s.training

# ---- fit settings ----------------------------------------------------------------------------------
with st.container(border=True):
    st.markdown("**Fit settings**")
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 100_000, int(t.epochs), key=f"t{r}_epochs",
                             help="Maximum passes over the training windows.")
    batch = c2.number_input("Batch size", 1, 65_536, int(t.batch_size), key=f"t{r}_batch",
                            help="Windows per training step.")
    opts = ["adam", "adamw", "rmsprop", "sgd", "nadam"]
    optimizer = c3.selectbox("Optimizer", opts, index=opts.index(t.optimizer), key=f"t{r}_opt")
    lr = c4.number_input("Learning rate", 1e-6, 10.0, float(t.learning_rate), format="%.5f", step=1e-4,
                         key=f"t{r}_lr", help="Initial learning rate.")
    d1, d2, d3, d4 = st.columns(4)
    clip_modes = ["norm", "value", "off"]
    clip_mode = "norm" if t.clipnorm is not None else ("value" if t.clipvalue is not None else "off")
    clip_mode = d1.selectbox("Gradient clipping", clip_modes, index=clip_modes.index(clip_mode), key=f"t{r}_clip",
                             help="Clip each gradient by its L2 norm, or each element by value (one at a time).")
    clip_value = d2.number_input("Clip at", 1e-4, 1e6, float(t.clipnorm or t.clipvalue or 1.0), key=f"t{r}_clipv",
                                 disabled=clip_mode == "off")
    patience = d3.number_input("Early-stopping patience (0 = off)", 0, 10_000, int(t.patience or 0),
                               key=f"t{r}_patience", help="Epochs without validation improvement before stopping.")
    seed = d4.number_input("Seed", 0, 2**31 - 1, int(t.seed), key=f"t{r}_seed",
                           help="Same seed, same data and spec: same run.")
    refit = t.refit
    if task_refits(s.task):
        refit = st.toggle("Refit on train + validation", t.refit, key=f"t{r}_refit",
                          help=ModelSpec.model_fields["training"].annotation.model_fields["refit"].description)
    ensemble = t.ensemble
    if task_ensembles(s.task):
        ensemble = st.number_input("Ensemble members", 1, 25, int(t.ensemble), key=f"t{r}_ensemble",
                                   help=ModelSpec.model_fields["training"].annotation.model_fields["ensemble"].description)
    min_steps = st.number_input("Minimum steps per epoch (0 = off)", 0, 100_000, int(t.min_steps_per_epoch or 0),
                                key=f"t{r}_min_steps",
                                help=ModelSpec.model_fields["training"].annotation.model_fields["min_steps_per_epoch"].description)
    jitter, scaling = t.augment_jitter, t.augment_scaling
    if task_augments(s.task):  # augmentation of the training sequences (TrainingSpec.augment_*)
        fields = ModelSpec.model_fields["training"].annotation.model_fields
        g1, g2 = st.columns(2)
        jitter = g1.number_input("Augment: jitter sd (0 = off)", 0.0, 2.0, float(t.augment_jitter or 0.0), step=0.05,
                                 format="%.2f", key=f"t{r}_jitter", help=fields["augment_jitter"].description) or None
        scaling = g2.number_input("Augment: scaling sd (0 = off)", 0.0, 1.0, float(t.augment_scaling or 0.0), step=0.05,
                                  format="%.2f", key=f"t{r}_scaling", help=fields["augment_scaling"].description) or None
    training = {**s.training.model_dump(mode="json"), "refit": bool(refit), "augment_jitter": jitter,
                "augment_scaling": scaling, "min_steps_per_epoch": int(min_steps) or None,
                "ensemble": int(ensemble), "epochs": int(epochs), "batch_size": int(batch),
                "optimizer": optimizer, "learning_rate": float(lr), "patience": int(patience) or None,
                "seed": int(seed), "clipnorm": float(clip_value) if clip_mode == "norm" else None,
                "clipvalue": float(clip_value) if clip_mode == "value" else None}
    seq2seq = s.seq2seq.model_dump(mode="json")
    if "seq2seq" in task_model_fields(s.task):  # translate: scheduled sampling of the decoder's inputs
        s2s_fields = ModelSpec.model_fields["seq2seq"].annotation.model_fields
        st.markdown("**Teacher forcing** (scheduled sampling)")
        e1, e2, e3, e4 = st.columns(4)
        schedules = ["none", "linear", "exponential", "inverse_sigmoid"]
        seq2seq["teacher_forcing"] = e1.selectbox("Schedule", schedules, index=schedules.index(seq2seq["teacher_forcing"]),
                                                  key=f"t{r}_tf_schedule", help=s2s_fields["teacher_forcing"].description)
        off = seq2seq["teacher_forcing"] == "none"
        seq2seq["tf_k"] = float(e2.number_input("k", 0.001, 1000.0, float(seq2seq["tf_k"]), step=0.1, format="%.3f",
                                                key=f"t{r}_tf_k", disabled=off, help=s2s_fields["tf_k"].description))
        seq2seq["tf_c"] = float(e3.number_input("c (linear)", 0.0, 1.0, float(seq2seq["tf_c"]), step=0.05, format="%.3f",
                                                key=f"t{r}_tf_c", disabled=seq2seq["teacher_forcing"] != "linear",
                                                help=s2s_fields["tf_c"].description))
        seq2seq["tf_min"] = float(e4.number_input("Lowest ratio", 0.0, 1.0, float(seq2seq["tf_min"]), step=0.05,
                                                  format="%.2f", key=f"t{r}_tf_min", disabled=off,
                                                  help=s2s_fields["tf_min"].description))
    new_spec, problem = validate({**st.session_state["spec"], "training": training, "seq2seq": seq2seq})
    if problem:
        common.show_error(ValueError(problem))
    elif new_spec is not None:
        if new_spec.model_dump(mode="json") != st.session_state["spec"]:
            common.set_spec(new_spec)
        s = new_spec

if "seq2seq" in task_model_fields(s.task) and not problem:
    with st.expander("Teacher-forcing ratio per epoch", expanded=False):
        st.caption("The share of decoder inputs that are the true previous token; the rest are the model's own "
                   "predictions. Logged per epoch as `teacher_forcing` in the run's history.")
        st.altair_chart(schedule_chart(schedule_frame(s)), width="stretch")

# ---- start -----------------------------------------------------------------------------------------
run = current_run(st.session_state.get("run_id"), st.session_state.get("workspace"))
if run is not None and st.session_state.get("run_id") != run.path.name:
    st.session_state["run_id"] = run.path.name  # found on disk (reload, second tab): keep showing it
active = run is not None and run.status().get("state") in ("queued", "running")
b1, b2, b3 = st.columns([2, 2, 3], vertical_alignment="center")
data_name = source["name"] if source else "no data"
b3.caption(f"Data: **{data_name}** · model: **{s.name}** · {s.task} · {len(s.blocks)} block(s) · "
           f"{s.training.epochs} epochs")
data_problem = None
try:
    common.overview(source, s)
except common.USER_ERRORS as err:
    data_problem = str(err)
if b1.button("Train", icon=":material/play_arrow:", type="primary", disabled=bool(problem) or data_problem is not None or active,
             width="stretch", help="Start a new run with this spec and data."):
    try:
        run_dir = new_run_dir(s, st.session_state.get("preset"))
        run = start_training(run_dir, ModelSpec.from_dict(st.session_state["spec"]), source["path"],
                             workspace=st.session_state.get("workspace"))
    except common.USER_ERRORS as err:
        common.show_error(err, "Could not start training: ")
    else:
        st.session_state["run_id"] = run.path.name
        st.rerun()
if b2.button("Stop", icon=":material/stop:", disabled=not active, width="stretch",
             help="Stop after the current block of batches (the spec's steps_per_execution); the best weights so far are kept and evaluated."):
    run.request_stop()
    st.session_state["stop_requested"] = run.path.name
    st.toast("Stop requested: the run finishes its current block of batches, then saves the best weights.")
if data_problem:
    common.show_error(ValueError(data_problem), "Fix the data first: ")


# ---- live progress ---------------------------------------------------------------------------------
def _draw(run_id: str) -> None:
    run = run_by_id(run_id)
    if run is None:
        st.info("This run no longer exists.")
        return
    v = progress_view(run)
    if v["active"] and st.session_state.get("stop_requested") == run_id and not run.stop_requested():
        run.request_stop()  # the worker clears stop requests when it starts: repeat one made before that
    icon = {"queued": ":material/hourglass_top:", "running": ":material/directions_run:",
            "finished": ":material/check_circle:", "stopped": ":material/stop_circle:", "failed": ":material/error:",
            "interrupted": ":material/warning:"}.get(v["state"], "")
    st.markdown(f"#### {icon} `{run.path.name}` — {v['state']}")
    batch = f", batch {v['batch']}/{v['steps'] or '?'}" if v["batch"] and v["active"] else ""
    st.progress(v["fraction"], text=f"epoch {v['epoch'] or 0}/{v['epochs']}{batch} · {v['message']}")
    m1, m2, m3, m4 = st.columns(4)
    last = v["history"][-1] if v["history"] else {}
    m1.metric("Elapsed", format_seconds(v["elapsed"]))
    m2.metric("ETA", format_seconds(v["eta"]) if v["active"] else "–")
    loss = v["logs"].get("loss", last.get("loss"))
    m3.metric("Loss", f"{loss:.4g}" if isinstance(loss, (int, float)) else "–")
    val = last.get("val_loss")
    m4.metric("Val loss", f"{val:.4g}" if isinstance(val, (int, float)) else "–")
    hint = training_hint(v["epochs"], v["steps"])
    if hint:
        st.warning(hint, icon=":material/timer:")
    chart = loss_chart(history_frame(v["history"]))
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    elif v["active"]:
        st.caption("The loss curve appears after the first epoch.")
    samples = (latest_samples(run) or {}).get("samples")  # generative tasks: a fresh sample after each epoch
    if samples:
        info = latest_samples(run) or {}
        st.markdown(f"**Sample after epoch {samples[-1]['epoch']}** · temperature {info.get('temperature')} · "
                    f"prompt `{info.get('prompt', '')}`")
        st.code(printable(samples[-1]["text"]), language=None, wrap_lines=True)
    if v["state"] == "failed":
        st.error(f"Training failed: {v['message']}")
    elif v["state"] == "interrupted":
        st.warning(f"The run was interrupted: {v['message']}")
    elif v["state"] in ("finished", "stopped"):
        metrics = run.read_json("metrics.json") or {}
        summary = result_summary(metrics)
        if summary:
            getattr(st, result_kind(metrics))(f"{summary} See **Evaluate** for more.")
    if st.session_state.get("_live_was_active") and not v["active"]:
        st.session_state["_live_was_active"] = False
        st.rerun(scope="app")  # redraw the page: buttons, run list, no more polling
    st.session_state["_live_was_active"] = v["active"]


if run is not None:
    st.session_state["_live_was_active"] = active
    live = st.fragment(run_every=1.0 if active else None)(_draw)
    with st.container(border=True):
        live(run.path.name)
        label = run_label(run)
        with st.expander("Name and note" + (f": {label['name']}" if label["name"] else ""),
                         expanded=False):
            n1, n2 = st.columns([1, 2])
            new_name = n1.text_input("Run name", label["name"], max_chars=80, key=f"label_name_{run.path.name}",
                                     help="Shown in the runs table and the run pickers, beside the run id.")
            new_note = n2.text_area("Note", label["note"], max_chars=2000, height=68,
                                    key=f"label_note_{run.path.name}", help="What you tried and why.")
            if st.button("Save name and note", icon=":material/edit:", key=f"label_save_{run.path.name}"):
                try:
                    set_run_label(run, new_name, new_note)
                except (OSError, ValueError) as err:
                    common.show_error(err, "Could not save the label: ")
                else:
                    st.toast("Saved.", icon=":material/check:")

# ---- all runs (refreshed with the live panel while a run is active) ----------------------------------
def _runs_list() -> None:
    table = runs_table()
    if table.empty:
        st.caption("No runs yet.")
        return
    shown = blank_missing(table, {"best val loss": "{:.4g}"})  # an empty cell, not "None", where a run has none yet
    widths = table_columns(shown)
    st.dataframe(shown, hide_index=True, width="stretch", height=min(400, 38 + 35 * len(table)),
                 column_config={**widths, "best": st.column_config.TextColumn(
                     "best", width=widths["best"]["width"],
                     help="★ the best run per metric among runs of the same task and data file")})


st.subheader("All runs")
st.fragment(run_every=2.0 if active else None)(_runs_list)()
choices = run_choices()
if choices:
    newest = next(iter(choices))
    o1, o2 = st.columns([3, 1], vertical_alignment="bottom")
    pick = o1.selectbox("Reopen a run", list(choices), index=0, key=common.reopen_key(newest),
                        format_func=choices.get)
    if o2.button("Open", width="stretch"):
        st.session_state["run_id"] = pick
        st.rerun()
