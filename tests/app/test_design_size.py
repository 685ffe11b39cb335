"""Design: the weight count without TensorFlow and the same on Export; presets by task, the task's default
preset on a task change with a notice; upload names without their hash."""

from __future__ import annotations

import subprocess
import sys

from builder import app as u
from builder.model.size import estimate_params
from tests.app.conftest import REPO, by_label, errors, make_app, seeded


def _classify_csv(tmp_path):
    rows = ["sequence_id,t,x,label"]
    for sid in range(30):
        for t in range(10):
            rows.append(f"{sid},{t},{(sid % 2) * t + 0.1 * t},{'up' if sid % 2 else 'flat'}")
    csv = tmp_path / "seqs.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def test_design_page_counts_weights_without_tensorflow(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    assert not at.exception and not errors(at), errors(at)
    spec = u.ModelSpec.from_dict(at.session_state["spec"])
    want = estimate_params(spec, u.model_shape(spec, 1, 1))  # tiny_spec: the target alone, no covariates
    assert by_label(at.metric, "Parameters").value == f"{want:,}"
    # the page itself never loads TensorFlow unless the Keras summary is asked for
    code = ("import sys; from streamlit.testing.v1 import AppTest; at = AppTest.from_file('pages/design.py', "
            "default_timeout=120); at.run(); assert not at.exception, at.exception; "
            "print('tensorflow' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.stdout.strip().splitlines()[-1] == "False", res.stderr[-2000:]


def test_task_change_applies_the_task_default_with_a_notice(tmp_path) -> None:
    csv = _classify_csv(tmp_path)
    at = make_app("pages/data.py", seeded(csv, preset="stacked_lstm"))
    by_label(at.radio, "Task").set_value("classify").run()
    assert not at.exception and not errors(at), errors(at)
    default = u.TASKS["classify"].default_preset
    assert at.session_state["preset"] == default and at.session_state["spec"]["task"] == "classify"
    assert at.session_state["spec"]["name"] == u.load_preset(default).name
    assert any("default preset" in i.value for i in at.info), [i.value for i in at.info]
    at.switch_page("pages/design.py").run()
    assert not at.exception and not errors(at), errors(at)
    tasks = {p["task"] for p in u.list_presets() if f"preset_{p['name']}" in [b.key for b in at.button]}
    assert tasks == {"classify"}, tasks
    assert any("default preset" in i.value for i in at.info)


def test_a_new_classification_file_switches_task_and_preset(tmp_path) -> None:
    csv = _classify_csv(tmp_path)
    at = make_app("pages/data.py", seeded(csv.with_name("missing.csv")))
    at.radio(key="data_mode").set_value("Upload a CSV").run()
    at.get("file_uploader")[0].upload(csv.name, csv.read_bytes(), "text/csv").run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["task"] == "classify"
    assert at.session_state["preset"] == u.TASKS["classify"].default_preset


def test_run_size_and_display_name() -> None:
    spec = u.ModelSpec.from_dict(u.default_spec())
    resolved = u.model_shape(spec, 3, 1)
    assert u.run_model_size(spec.model_dump(mode="json"), resolved.to_dict()) == u.model_size(spec, 3, 1)
    assert u.run_model_size({"blocks": "nope"}, {}) is None
    assert u.display_name("/x/uploads/0123456789ab-energy_monthly.csv") == "energy_monthly.csv"
    assert u.display_name("/x/datasets/nile.csv") == "nile.csv" and u.display_name(None) == ""


def test_design_counts_weights_on_the_data_sequence_length_as_export_does(tmp_path) -> None:
    """LSTM-FCN's dimension shuffle reads the steps as features, so its weight count depends on the sequence
    length the data gives (the longest sequence here): the Design page counts on it, as the trained run's
    record (Export) does, not on a placeholder length."""
    from builder.tasks.registry import get_task

    csv = _classify_csv(tmp_path)
    at = make_app("pages/data.py", seeded(csv, preset="stacked_lstm"))
    by_label(at.radio, "Task").set_value("classify").run()
    at.switch_page("pages/design.py").run()
    assert not at.exception and not errors(at), errors(at)
    spec_dict = at.session_state["spec"]
    spec = u.ModelSpec.from_dict(spec_dict)
    assert any(b.get("dimension_shuffle") for b in spec_dict["blocks"]), spec_dict["blocks"]
    task = get_task("classify")
    resolved = task.resolve(task.prepare(str(csv), spec))
    assert resolved.lookback == 10
    want = u.run_model_size(spec_dict, resolved.to_dict())
    assert want is not None and want != u.model_size(spec, 1, 2)  # the placeholder length gives another count
    assert by_label(at.metric, "Parameters").value == f"{want:,}"
    assert u.model_size(u.sized_for_data(spec, 10), 1, 2) == want  # what the page sizes, diagrams and writes as code
