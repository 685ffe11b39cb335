"""Every page renders from a fresh session and from seeded state; Data and Design edit the spec."""

from __future__ import annotations

import pytest

from tests.app.conftest import PAGES, by_label, errors, make_app, seeded


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_from_fresh_session(page: str) -> None:
    at = make_app(page)
    assert not at.exception
    assert at.title, "every page has a title"
    if page == "pages/data.py":
        assert not errors(at), errors(at)
        assert at.session_state["source"] is not None, "a bundled sample is chosen at once"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_from_seeded_state(page: str, tiny_csv) -> None:
    at = make_app(page, seeded(tiny_csv, run_id="does-not-exist"))
    assert not at.exception
    assert not errors(at), errors(at)


def test_data_page_widgets_change_the_spec(tiny_csv) -> None:
    at = make_app("pages/data.py", seeded(tiny_csv))
    by_label(at.number_input, "Lookback (steps, 0 = auto)").set_value(6).run()
    by_label(at.number_input, "Horizon (steps ahead)").set_value(2).run()
    by_label(at.slider, "Test fraction").set_value(0.2).run()
    by_label(at.selectbox, "Missing values").set_value("ffill").run()
    assert not at.exception
    data = at.session_state["spec"]["data"]
    assert (data["lookback"], data["horizon"], data["test_fraction"], data["missing"]) == (6, 2, 0.2, "ffill")
    by_label(at.multiselect, "Covariates (extra inputs)").set_value(["promo"]).run()
    assert at.session_state["spec"]["data"]["features"] == ["promo"]
    assert any("fits the spec" in s.value for s in at.success)


def test_data_page_reports_a_window_too_long_inline(tiny_csv) -> None:
    at = make_app("pages/data.py", seeded(tiny_csv))
    by_label(at.number_input, "Lookback (steps, 0 = auto)").set_value(500).run()
    assert not at.exception
    assert any("too few" in e for e in errors(at)), errors(at)


def test_data_page_upload_and_bad_csv(tiny_csv) -> None:
    at = make_app("pages/data.py", seeded(tiny_csv))
    by_label(at.radio, "Source").set_value("Upload a CSV").run()
    at.file_uploader[0].upload("bad.csv", b"a,b\n1,2\n3,4,5,6\n", "text/csv").run()
    assert not at.exception
    assert any("ragged" in e or "row" in e for e in errors(at)), errors(at)
    at.file_uploader[0].upload("good.csv", tiny_csv.read_bytes(), "text/csv").run()
    assert not at.exception
    assert at.session_state["source"]["name"] == "good.csv"
    assert not errors(at), errors(at)


def test_data_page_classification_sample(tmp_path) -> None:
    rows = ["sequence_id,t,x,label"]
    for sid in range(30):
        for t in range(10):
            rows.append(f"{sid},{t},{(sid % 2) * t + 0.1 * t},{'up' if sid % 2 else 'flat'}")
    csv = tmp_path / "seqs.csv"
    csv.write_text("\n".join(rows) + "\n")
    at = make_app("pages/data.py", seeded(csv))
    by_label(at.radio, "Task").set_value("classify").run()
    assert not at.exception
    spec = at.session_state["spec"]
    assert spec["task"] == "classify"
    assert (spec["data"]["id_col"], spec["data"]["label_col"]) == ("sequence_id", "label")
    assert not errors(at), errors(at)


def test_design_preset_blocks_and_validation(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    assert not at.exception
    at.button(key="preset_attention_lstm").click().run()
    spec = at.session_state["spec"]
    assert any(b["kind"] == "attention" for b in spec["blocks"])
    assert spec["data"]["targets"] == ["sales"], "the data choices survive a preset"
    n = len(spec["blocks"])
    at.selectbox(key="design_add_kind").set_value("dense").run()
    by_label(at.button, "Add block").click().run()
    assert len(at.session_state["spec"]["blocks"]) == n + 1
    rev = at.session_state["spec_rev"]
    at.button(key=f"m{rev}_{n}_rm").click().run()
    assert len(at.session_state["spec"]["blocks"]) == n
    # move the dense head above the attention block: refused with a message naming the block
    blocks = at.session_state["spec"]["blocks"]
    dense = max(i for i, b in enumerate(blocks) if b["kind"] == "dense")
    rev = at.session_state["spec_rev"]
    at.button(key=f"m{rev}_{dense}_up").click().run()
    assert not at.exception
    assert at.session_state["spec"]["blocks"] == blocks
    assert any("blocks." in e for e in errors(at)), errors(at)


def test_design_field_edits_and_projection(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    at.number_input(key="m0_0_units").set_value(16).run()
    assert at.session_state["spec"]["blocks"][0]["units"] == 16
    at.selectbox(key="m0_0_cell").set_value("lstm_proj").run()
    block = at.session_state["spec"]["blocks"][0]
    assert (block["cell"], block["proj_units"]) == ("lstm_proj", 8)
    at.number_input(key="m0_0_proj_units").set_value(16).run()
    assert not at.exception
    assert any("proj_units" in e for e in errors(at)), errors(at)
    assert at.session_state["spec"]["blocks"][0]["proj_units"] == 8, "an invalid edit is not stored"
    at.number_input(key="m0_0_proj_units").set_value(4).run()
    assert at.session_state["spec"]["blocks"][0]["proj_units"] == 4
    assert not errors(at), errors(at)
    at.toggle(key="m0_0_bidirectional").set_value(True).run()
    assert at.session_state["spec"]["blocks"][0]["bidirectional"] is True
    assert any(m.label == "Parameters" and m.value != "–" for m in at.metric)


def test_design_spec_upload_and_save_preset(tiny_csv, studio_home) -> None:
    import json

    at = make_app("pages/design.py", seeded(tiny_csv))
    at.file_uploader(key="spec_upload").upload("bad.json", b'{"blocks": [{"kind": "dense"}]}', "application/json").run()
    assert not at.exception
    assert any("recurrent" in e for e in errors(at)), errors(at)
    good = dict(at.session_state["spec"], name="uploaded model")
    at.file_uploader(key="spec_upload").upload("good.json", json.dumps(good).encode(), "application/json").run()
    assert at.session_state["spec"]["name"] == "uploaded model"
    rev = at.session_state["spec_rev"]
    at.text_input(key=f"m{rev}_preset_name").set_value("my_model").run()
    by_label(at.button, "Save preset").click().run()
    assert (studio_home / "presets" / "my_model.json").exists()
    at.run()
    assert at.button(key="preset_my_model") is not None


def _fake_run(home, name: str, metrics: dict, task: str = "forecast") -> None:
    from builder.spec import ModelSpec
    from builder.training.runs import Run

    run = Run(home / "runs" / name)
    run.write_json("spec.json", ModelSpec.from_dict({"name": name, "task": task}).model_dump(mode="json"))
    run.set_status("finished", message="done")
    run.append_history({"epoch": 1, "loss": 1.0, "val_loss": 1.5})
    run.append_history({"epoch": 2, "loss": 0.5, "val_loss": 1.2})
    run.write_json("metrics.json", metrics)
    run.write_json("metadata.json", {"format": "rnn-studio/1", "task": task, "params": 10, "lookback": 4, "features": ["x"], "targets": []})


def test_evaluate_classification_and_side_by_side(tiny_csv, studio_home) -> None:
    classify = {"task": "classify", "classes": ["a", "b"], "confusion_matrix": [[3, 1], [0, 4]], "n_sequences": 8,
                "model": {"accuracy": 0.875, "macro_f1": 0.87},
                "majority_class": {"accuracy": 0.5, "macro_f1": 0.33, "class": "a"}, "epochs_run": 2}
    _fake_run(studio_home, "run-a", classify, "classify")
    _fake_run(studio_home, "run-b", {**classify, "model": {"accuracy": 0.75, "macro_f1": 0.7}}, "classify")
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-a"))
    assert not at.exception and not errors(at), errors(at)
    assert {"Accuracy", "Macro F1"} <= {m.label for m in at.metric}
    at.multiselect(key="eval_runs").set_value(["run-a", "run-b"]).run()
    assert not at.exception
    compare = at.dataframe[0].value
    assert compare["run"].tolist() == ["run-a", "run-b"] and compare["accuracy"].tolist() == [0.875, 0.75]


def test_export_page_reports_missing_artifacts(tiny_csv, studio_home) -> None:
    forecast = {"task": "forecast", **{k: {"mae": 1.0, "rmse": 1.0, "smape": 1.0, "mase": 1.0}
                                       for k in ("model", "naive", "seasonal_naive")}}
    _fake_run(studio_home, "run-f", forecast)
    at = make_app("pages/export.py", seeded(tiny_csv, run_id="run-f"))
    assert not at.exception
    assert any("missing" in e for e in errors(at)), errors(at)


def test_evaluate_shows_an_undefined_mase_with_its_reason(tiny_csv, studio_home) -> None:
    scores = {"mae": 0.0, "rmse": 0.0, "smape": 0.0, "mase": None}
    forecast = {"task": "forecast", "model": scores, "naive": scores, "seasonal_naive": scores, "n_windows": 3,
                "season_length": 1, "model_mae_by_step": [0.0],
                "undefined": {"mase": "MASE is undefined: the training part is constant"}}
    _fake_run(studio_home, "run-flat", forecast)
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-flat"))
    assert not at.exception
    mase = next(m for m in at.metric if m.label == "MASE")
    assert mase.value == "–" and "constant" in mase.help


def test_export_page_converts_a_run_to_onnx_and_evaluate_explains_it(tiny_csv, studio_home) -> None:
    from builder.spec import ModelSpec
    from builder.training.fit import train_run

    spec = ModelSpec.from_dict(seeded(tiny_csv)["spec"]).updated(blocks=[{"kind": "recurrent", "cell": "gru", "units": 4}])
    train_run(spec, tiny_csv, studio_home / "runs" / "run-c")
    at = make_app("pages/export.py", seeded(tiny_csv, run_id="run-c"), timeout=300)
    assert not at.exception and not errors(at), errors(at)
    at.radio(key="export_format").set_value("onnx").run()
    at.button(key="export_convert").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert "run-c-model.onnx" in [b.label for b in at.get("download_button")]
    assert (studio_home / "runs" / "run-c" / "exports" / "onnx" / "model.onnx.json").exists()
    assert any("onnxruntime" in c.value for c in at.code)

    ev = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-c"), timeout=300)
    ev.selectbox(key="explain_baseline").set_value("seasonal_naive").run()
    ev.button(key="explain_go").click().run()
    assert not ev.exception and not errors(ev), errors(ev)
    assert any("completeness gap" in m.value for m in ev.markdown)
    assert "Attributions CSV" in [b.label for b in ev.get("download_button")]


def test_design_page_offers_the_model_as_keras_code(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    assert not at.exception and not errors(at), errors(at)
    assert "Download as Keras code (model.py)" not in [b.label for b in at.get("download_button")]
    at.toggle(key="design_code_toggle").set_value(True).run()
    assert not at.exception and not errors(at), errors(at)
    assert "Download as Keras code (model.py)" in [b.label for b in at.get("download_button")]


def test_design_page_offers_a_translate_model_as_keras_code(tiny_csv) -> None:
    """On data that is no pairs table the encoder-decoder is sized with the task's placeholder vocabularies."""
    from builder import load_preset

    spec = load_preset("gru_seq2seq_bahdanau").model_dump(mode="json")
    at = make_app("pages/design.py", {**seeded(tiny_csv), "spec": spec})
    at.toggle(key="design_code_toggle").set_value(True).run()
    assert not at.exception
    assert not [e for e in errors(at) if "Keras code" in e], errors(at)
    download = [b for b in at.get("download_button") if b.label == "Download as Keras code (model.py)"]
    assert download


def test_design_page_offers_a_tree_model_as_keras_code(tiny_csv) -> None:
    from builder import load_preset

    spec = load_preset("child_sum_tree_lstm").model_dump(mode="json")
    at = make_app("pages/design.py", {**seeded(tiny_csv), "spec": spec})
    at.toggle(key="design_code_toggle").set_value(True).run()
    assert not at.exception and not errors(at), errors(at)
    assert "Download as Keras code (model.py)" in [b.label for b in at.get("download_button")]


def test_design_page_imports_pytorch_weights_and_names_a_bad_shape(tiny_csv, studio_home) -> None:
    import numpy as np
    from safetensors.numpy import save

    rng = np.random.default_rng(0)
    # the seeded spec: one LSTM layer of 8 units on 1 input (sales); PyTorch's layout (4 * 8 gate rows)
    good = {"weight_ih_l0": rng.normal(size=(32, 1)), "weight_hh_l0": rng.normal(size=(32, 8)),
            "bias_ih_l0": rng.normal(size=32), "bias_hh_l0": rng.normal(size=32)}
    good = {k: v.astype("float32") for k, v in good.items()}
    at = make_app("pages/design.py", seeded(tiny_csv))
    at.file_uploader(key="torch_upload").upload("w.safetensors", save(good), "application/octet-stream").run()
    assert not at.exception and not errors(at), errors(at)
    assert any("4 tensors fit the spec" in s.value for s in at.success)
    bad = {**good, "weight_hh_l0": good["weight_hh_l0"][:, :6].copy()}
    at.file_uploader(key="torch_upload").upload("v.safetensors", save(bad), "application/octet-stream").run()
    assert not at.exception
    assert any("weight_hh_l0: expected shape (32, 8)" in e and "found (32, 6)" in e for e in errors(at)), errors(at)
