"""Design: start from a preset, then edit the network block by block; see its size, summary and diagram."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import streamlit as st

from builder.app import (
    BLOCK_LABELS,
    CELL_LABELS,
    ModelSpec,
    SpecError,
    apply_preset,
    block_title,
    cell_options,
    default_proj_units,
    diagram_dot,
    field_specs,
    file_token,
    import_torch_upload,
    insert_block,
    is_projected,
    load_preset,
    model_facts,
    model_shape,
    model_size,
    move_block,
    parse_spec_upload,
    presets_for,
    remove_block,
    save_preset,
    sized_for_data,
    slug,
    spec_code,
    start_training,
    subdir,
    task_model_fields,
    validate,
)
from pages import common

common.ensure_session()
st.title("Design")
st.caption("Start from a preset, then change the network block by block. Every change is checked at once; "
           "the parameter count, Keras summary and diagram follow the spec.")

s = common.spec()
source = st.session_state["source"]
n_feat, n_out, data_lookback, shape_problem = common.data_shape(source, s)


# ---- callbacks (run before the rerun, so the editor redraws from the new spec) -----------------------
def _use_preset(name: str) -> None:
    try:
        new = apply_preset(st.session_state["spec"], load_preset(name))
    except SpecError as err:
        st.session_state["design_error"] = str(err)
        return
    common.set_spec(new, replace=True)
    st.session_state["preset"] = name
    st.session_state["design_error"] = None
    st.session_state["task_notice"] = None


def _change_blocks(blocks: list[dict[str, Any]]) -> None:
    candidate = {**st.session_state["spec"], "blocks": blocks}
    new, err = validate(candidate)
    if err:
        st.session_state["design_error"] = err
        return
    common.set_spec(new, replace=True)
    st.session_state["design_error"] = None


def _move(i: int, delta: int) -> None:
    _change_blocks(move_block(st.session_state["spec"]["blocks"], i, delta))


def _remove(i: int) -> None:
    _change_blocks(remove_block(st.session_state["spec"]["blocks"], i))


def _add() -> None:
    kind = st.session_state.get("design_add_kind", "recurrent")
    _change_blocks(insert_block(st.session_state["spec"]["blocks"], kind))


# ---- preset gallery --------------------------------------------------------------------------------
if st.session_state.get("task_notice"):
    st.info(st.session_state["task_notice"], icon=":material/swap_horiz:")
current_preset = st.session_state.get("preset")
with st.expander(f"Preset gallery: {s.task} presets" + (f" (using `{current_preset}`)" if current_preset else ""),
                 expanded=not current_preset):
    presets = presets_for(common.presets(file_token(subdir("presets"))), s.task)
    if not presets:
        st.caption(f"No presets for the {s.task} task yet; edit the blocks below.")
    per_row = 3
    for start in range(0, len(presets), per_row):
        row = st.columns(per_row)
        for col, p in zip(row, presets[start:start + per_row], strict=False):
            with col.container(border=True):
                mark = " ✓" if st.session_state.get("preset") == p["name"] else ""
                st.markdown(f"**{p['title']}**{mark}  \n`{p['name']}` · {p['task']}"
                            + (" · saved" if p["source"] == "saved" else ""))
                st.caption(p["description"] or "—")
                if p["when_to_use"]:
                    st.caption(f"*When to use:* {p['when_to_use']}")
                st.button("Use this preset", key=f"preset_{p['name']}", on_click=_use_preset, args=(p["name"],),
                          width="stretch")

if st.session_state.get("design_error"):
    common.show_error(ValueError(st.session_state["design_error"]))
if shape_problem:
    st.warning(f"Data check: {shape_problem}. Sizes below assume {n_feat} input(s) and {n_out} output(s).")

r = common.rev()
s = common.spec()
edit_col, view_col = st.columns([3, 2], gap="large")

# ---- editor ----------------------------------------------------------------------------------------
with edit_col:
    st.subheader("Model")
    top1, top2 = st.columns([2, 1])
    name = top1.text_input("Name", s.name, max_chars=80, key=f"m{r}_name", help="Used for run folders and presets.")
    options = task_model_fields(s.task)  # the model options this task uses besides the blocks
    forecast_form = s.forecast_form
    if "forecast_form" in options:
        forms = ["direct", "autoregressive"]
        forecast_form = top2.selectbox("Forecast form", forms, index=forms.index(s.forecast_form),
                                       key=f"m{r}_forecast_form",
                                       help=ModelSpec.model_fields["forecast_form"].description)
    residual = s.residual
    if "residual" in options:
        residual = top2.toggle("Residual forecast", s.residual, key=f"m{r}_residual",
                               help=ModelSpec.model_fields["residual"].description)
    residual_base = s.residual_base
    if "residual_base" in options and residual:
        bases = ["auto", "last", "season", "season_drift"]
        residual_base = top2.selectbox("Residual base", bases, index=bases.index(s.residual_base),
                                       key=f"m{r}_residual_base",
                                       help=ModelSpec.model_fields["residual_base"].description)
    residual_space = s.residual_space
    if "residual_space" in options and residual:
        spaces = ["raw", "log"]
        residual_space = top2.selectbox("Residual space", spaces, index=spaces.index(s.residual_space),
                                        key=f"m{r}_residual_space",
                                        help=ModelSpec.model_fields["residual_space"].description)
    embedding_dim = s.embedding_dim
    if "embedding_dim" in options:  # token models: the embedding in front of the recurrent stack
        embedding_dim = top2.number_input("Embedding size", 1, 4096, int(s.embedding_dim), key=f"m{r}_embedding",
                                          help=ModelSpec.model_fields["embedding_dim"].description)
    seq2seq = s.seq2seq.model_dump(mode="json")
    if "seq2seq" in options:  # translate: the encoder-decoder around the recurrent block
        s2s_fields = ModelSpec.model_fields["seq2seq"].annotation.model_fields
        with st.container(border=True):
            st.markdown("**Encoder-decoder** (the recurrent block below is the encoder; the decoder is one layer of "
                        "the same cell and units)")
            q1, q2, q3, q4 = st.columns(4)
            token_opts, att_opts, score_opts = ["characters", "words"], ["bahdanau", "luong", "none"], ["general", "dot"]
            seq2seq["tokens"] = q1.selectbox("Tokens", token_opts, index=token_opts.index(seq2seq["tokens"]),
                                             key=f"m{r}_s2s_tokens", help=s2s_fields["tokens"].description)
            seq2seq["attention"] = q2.selectbox("Attention", att_opts, index=att_opts.index(seq2seq["attention"]),
                                                key=f"m{r}_s2s_attention", help=s2s_fields["attention"].description)
            if seq2seq["attention"] == "luong":
                seq2seq["score"] = q3.selectbox("Luong score", score_opts, index=score_opts.index(seq2seq["score"]),
                                                key=f"m{r}_s2s_score", help=s2s_fields["score"].description)
            seq2seq["beam_width"] = int(q4.number_input("Beam width (evaluation)", 0, 32, int(seq2seq["beam_width"]),
                                                        key=f"m{r}_s2s_beam", help=s2s_fields["beam_width"].description))
            st.caption("The teacher-forcing schedule is set on the **Train** page.")
    new_blocks: list[dict[str, Any]] = []
    for i, block in enumerate(s.blocks):
        b = block.model_dump(mode="json")
        with st.container(border=True):
            head, up, down, rm = st.columns([8, 1, 1, 1], vertical_alignment="center")
            head.markdown(f"**{block_title(i, b)}**  \n<small>{BLOCK_LABELS[b['kind']]}</small>",
                          unsafe_allow_html=True)
            up.button("", icon=":material/arrow_upward:", key=f"m{r}_{i}_up", on_click=_move, args=(i, -1), disabled=i == 0, help="Move up")
            down.button("", icon=":material/arrow_downward:", key=f"m{r}_{i}_down", on_click=_move, args=(i, 1), disabled=i == len(s.blocks) - 1,
                        help="Move down")
            rm.button("", icon=":material/delete:", key=f"m{r}_{i}_rm", on_click=_remove, args=(i,), disabled=len(s.blocks) == 1,
                      help="Remove this block")
            values = dict(b)
            shown = []
            for f in field_specs(b["kind"]):
                if f["name"] == "proj_units" and not is_projected(b.get("cell")):
                    continue
                if f["name"] == "merge_mode" and not b.get("bidirectional"):
                    continue
                if f["name"] == "arity" and b.get("cell") != "nary_tree_lstm":
                    continue  # N of the N-ary Tree-LSTM only
                if f["name"] == "composition_layers" and b.get("cell") not in cell_options("tree"):
                    continue  # the tree cells' option
                if f["name"] == "dimension_shuffle" and s.task != "classify":
                    continue  # LSTM-FCN's option, for whole sequences
                shown.append(f)
            cols = st.columns(3)
            for k, f in enumerate(shown):
                col = cols[k % 3]
                key = f"m{r}_{i}_{f['name']}"
                cur = b.get(f["name"])
                if f["widget"] == "select":
                    opts = cell_options(s.task) if f["name"] == "cell" else f["options"]
                    fmt = (lambda c: CELL_LABELS.get(c, c)) if f["name"] == "cell" else str
                    values[f["name"]] = col.selectbox(f["label"], opts, index=opts.index(cur), key=key,
                                                      format_func=fmt, help=f["help"])
                elif f["widget"] == "bool":
                    values[f["name"]] = col.toggle(f["label"], bool(cur), key=key, help=f["help"])
                elif f["widget"] == "int":
                    if cur is None and f["name"] == "arity":  # empty: taken from the training trees
                        continue
                    if cur is None:  # optional field now needed (projection size): propose half the units
                        cur = default_proj_units(b.get("units", 2))
                    values[f["name"]] = int(col.number_input(f["label"], int(f["min"] or 0), int(f["max"] or 10**6),
                                                             int(cur), step=1, key=key, help=f["help"]))
                else:
                    hi = 0.95 if f["exclusive_max"] else float(f["max"] or 1.0)
                    values[f["name"]] = float(col.number_input(f["label"], float(f["min"] or 0.0), hi, float(cur),
                                                               step=0.05, format="%.2f", key=key, help=f["help"]))
            if is_projected(values.get("cell")) and values.get("proj_units") is None:
                values["proj_units"] = default_proj_units(values.get("units", 2))
            if not is_projected(values.get("cell")) and b["kind"] == "recurrent":
                values["proj_units"] = None
            new_blocks.append(values)

    a1, a2 = st.columns([2, 1], vertical_alignment="bottom")
    a1.selectbox("Add a block", list(BLOCK_LABELS), format_func=BLOCK_LABELS.get, key="design_add_kind",
                 help="Conv blocks go first, recurrent blocks next, then at most one attention block, "
                      "then the dense head.")
    a2.button("Add block", icon=":material/add:", on_click=_add, width="stretch")

    candidate = {**st.session_state["spec"], "name": name or "custom", "forecast_form": forecast_form,
                 "residual": bool(residual),
                 "residual_base": residual_base, "residual_space": residual_space, "blocks": new_blocks, "embedding_dim": int(embedding_dim),
                 "seq2seq": seq2seq}
    new_spec, problem = validate(candidate)
    if problem:
        common.show_error(ValueError(problem))
    elif new_spec is not None and new_spec.model_dump(mode="json") != st.session_state["spec"]:
        common.set_spec(new_spec)
        st.rerun()  # redraw titles and dependent fields (projection size, merge mode) from the new spec


# ---- live view -------------------------------------------------------------------------------------
@st.cache_data(show_spinner="Building the model with Keras for its summary…", max_entries=32)
def _keras_summary(spec_json: str, n_features: int, n_outputs: int) -> tuple[str, str | None]:
    try:
        spec = ModelSpec.from_dict(json.loads(spec_json))
        return model_facts(spec, n_features, n_outputs)[1], None
    except Exception as err:  # a spec that validates but cannot be built: show the reason, not a traceback
        return "", f"{type(err).__name__}: {err}"


sized = sized_for_data(s, data_lookback)  # the input length training will use, for size, diagram, summary and code
with view_col:
    st.subheader("Size and shape")
    try:
        params: int | None = model_size(sized, n_feat, n_out)
    except (ValueError, KeyError) as err:
        params = None
        st.error(f"The model cannot be sized: {err}")
    p1, p2 = st.columns(2)
    p1.metric("Parameters", f"{params:,}" if params is not None else "–",
              help="Every weight of the model, as Keras counts it (its summary's Total params), including the "
                   "input scaling statistics; computed from the spec without building the model.")
    horizon = model_shape(sized, n_feat, n_out).horizon  # forecasts: outputs per step ahead
    p2.metric("Inputs → outputs", f"{n_feat} → {n_out}" + (f" × {horizon}" if horizon else ""))
    st.graphviz_chart(diagram_dot(sized, n_feat, n_out), width="stretch")

with st.expander("Keras summary (builds the model)"):
    if st.toggle("Build the model with Keras", key="design_summary",
                 help="Loads TensorFlow (a few seconds the first time) and prints the layer table; its Total "
                      "params equals the count above."):
        summary, build_error = _keras_summary(sized.model_dump_json(), n_feat, n_out)
        if build_error:
            st.error(f"The model cannot be built: {build_error}")
        else:
            st.code(summary, language=None, wrap_lines=False)


@st.cache_data(show_spinner="Writing the model as Keras code…", max_entries=16)
def _spec_code(spec_json: str, n_features: int, n_outputs: int) -> str:
    return spec_code(ModelSpec.from_dict(json.loads(spec_json)), n_features, n_outputs)


with view_col:
    if st.toggle("Write as Keras code", key="design_code_toggle",
                 help="Writes this network as a standalone plain-Keras file (loads TensorFlow the first time)."):
        try:
            code = _spec_code(sized.model_dump_json(), n_feat, n_out)
        except ValueError as err:  # CodegenError: a task or block the generator refuses, with the reason
            st.error(f"No Keras code for this model: {err}")
        else:
            st.download_button("Download as Keras code (model.py)", icon=":material/code:", data=code,
                               file_name=f"{slug(s.name)}_model.py", mime="text/x-python", width="stretch",
                               on_click="ignore", key="design_code",
                               help="A standalone Python file that rebuilds this network with plain Keras "
                                    "(`build_model()`), freshly initialised; `python -m builder code --run` "
                                    "writes one with a run's weights.")

# ---- spec file and presets -------------------------------------------------------------------------
st.subheader("Spec file")
f1, f2, f3 = st.columns(3)
with f1:
    st.download_button("Download spec JSON", icon=":material/download:", data=s.to_json(), file_name=f"{slug(s.name)}.spec.json",
                       mime="application/json", width="stretch", on_click="ignore",
                       help="The whole spec: data window, model and training settings.")
with f2:
    up = st.file_uploader("Load a spec JSON", type=["json"], key="spec_upload",
                          help="A spec downloaded here or written by hand; it is validated before use.")
    if up is not None:
        data = up.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if digest != st.session_state.get("applied_upload"):
            try:
                loaded = parse_spec_upload(data)
            except SpecError as err:
                common.show_error(err)
            else:
                st.session_state["applied_upload"] = digest
                common.set_spec(loaded, replace=True)
                st.rerun()
with f3:
    preset_name = st.text_input("Save as preset", value=slug(s.name).replace("-", "_"), key=f"m{r}_preset_name",
                                help="Stored in this studio's data folder; it appears in the gallery above.")
    if st.button("Save preset", icon=":material/save:", width="stretch"):
        try:
            path = save_preset(s, subdir("presets"), preset_name or None)
        except (OSError, ValueError) as err:
            common.show_error(err)
        else:
            st.session_state["preset"] = path.stem
            st.success(f"Saved preset `{path.stem}`.")

# ---- PyTorch weights --------------------------------------------------------------------------------
st.subheader("Start from PyTorch weights")
st.caption("An nn.LSTM / nn.GRU state dict saved with safetensors (`safetensors.torch.save_file(module.state_dict(), "
           "path)`) becomes the weights of the first recurrent block; every tensor's shape is checked against this "
           "spec. Pickled .pt files are not read: unpickling runs code.")
tw = st.file_uploader("PyTorch weights (.safetensors)", type=["safetensors"], key="torch_upload")
if tw is not None:
    tw_data = tw.getvalue()
    tw_key = (hashlib.sha256(tw_data).hexdigest(), s.model_dump_json(), n_feat)
    if st.session_state.get("_torch_key") != tw_key:
        try:
            st.session_state["_torch_import"] = import_torch_upload(tw_data, tw.name, s, n_feat)
        except common.USER_ERRORS as err:
            st.session_state["_torch_import"] = None
            common.show_error(err)
        st.session_state["_torch_key"] = tw_key
    done = st.session_state.get("_torch_import")
    if done:
        st.success(f"{done['tensors']} tensors fit the spec; prepared run `{done['run_id']}`.")
        source = st.session_state.get("source") or {}
        if st.button("Train from these weights", icon=":material/play_arrow:", key="torch_train",
                     disabled=not source.get("path"), help="Trains on the current data, starting from the imported weights."):
            try:
                start_training(done["run_dir"], s, source["path"], resume=True)
            except common.USER_ERRORS as err:
                common.show_error(err)
            else:
                st.session_state["run_id"] = done["run_id"]
                st.info("Training started: follow it on the **Train** page.")
