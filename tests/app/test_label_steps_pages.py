"""Pages with the `label_steps` task: the Data page's form, preview and check, and the Evaluate page on a
trained run (per-step confusion, a chosen sequence's true vs predicted labels)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import by_label, errors, make_app, seeded
from tests.unit.test_label_steps import steps_frame, tiny_spec


@pytest.fixture
def steps_csv(tmp_path: Path) -> Path:
    path = tmp_path / "steps.csv"
    steps_frame(16).to_csv(path, index=False)
    return path


def test_data_page_draws_the_label_steps_form_and_check(steps_csv: Path) -> None:
    at = make_app("pages/data.py", seeded(steps_csv, spec=tiny_spec().model_dump(mode="json")))
    assert not at.exception and not errors(at), errors(at)
    assert by_label(at.selectbox, "Label column").value == "label"
    assert by_label(at.selectbox, "Sequence id column").value == "sequence_id"
    assert by_label(at.multiselect, "Feature columns").value == ["a", "b"]
    cards = {m.label: m.value for m in at.metric}
    assert cards["Labels"] == "2" and int(cards["Labelled steps"]) == len(steps_frame(16))
    assert any("labelled steps in 2 labels" in c.value for c in at.caption)
    by_label(at.selectbox, "Sequence").set_value("s3").run()
    assert not at.exception and not errors(at)


def test_evaluate_shows_step_confusion_and_one_sequence_over_time(steps_csv: Path, studio_home: Path) -> None:
    from builder.__main__ import main

    spec = studio_home.parent / "spec.json"
    spec.write_text(json.dumps(tiny_spec().model_dump(mode="json")))
    run = studio_home / "runs" / "run-ls"
    assert main(["train", "--task", "label_steps", "--data", str(steps_csv), "--spec", str(spec),
                 "--out", str(run), "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    at = make_app("pages/evaluate.py", seeded(steps_csv, run_id="run-ls"))
    assert not at.exception and not errors(at), errors(at)
    assert {"Step accuracy", "Step macro F1", "Test steps"} <= {m.label for m in at.metric}
    table = at.dataframe[0].value
    assert "model" in table.index and any(i.startswith("majority label") for i in table.index)
    text = " ".join(m.value for m in at.markdown)
    assert "Confusion matrix" in text and "True vs predicted labels over time" in text
    picker = by_label(at.selectbox, "Sequence")
    assert len(picker.options) == metrics["n_sequences"]
    picker.set_value(picker.options[-1]).run()
    assert not at.exception and not errors(at)
