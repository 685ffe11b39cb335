"""A fresh workspace starts on the first bundled sample with the task guessed from it (builder.app.session),
as picking that sample on the Data page does: found by the browser test, where a samples folder whose first
file was the date pairs started a forecast workspace that picking the same sample could not change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.app.session import first_task, session_defaults
from builder.spec.presets import DEFAULT_TASK
from builder.tasks.registry import TASKS

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


@pytest.mark.parametrize(("sample", "task"), [("dates_to_iso_sample.csv", "translate"),
                                              ("fortunes_sample.txt", "generate"),
                                              ("waveforms_classification.csv", "classify"),
                                              ("nile_flow_annual.csv", "forecast")])
def test_a_fresh_workspace_takes_the_task_of_its_first_sample(sample, task, tmp_path, monkeypatch):
    shutil.copy(DATASETS / sample, tmp_path / sample)
    monkeypatch.setenv("RNN_STUDIO_SAMPLES", str(tmp_path))
    defaults = session_defaults()
    assert defaults["source"]["name"] == sample
    assert defaults["spec"]["task"] == task and defaults["preset"] == TASKS[task].default_preset


def test_no_sample_or_an_unreadable_one_keeps_the_default_task(tmp_path, monkeypatch):
    assert first_task(None) == DEFAULT_TASK
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"")
    assert first_task({"path": str(bad), "name": bad.name, "kind": "sample"}) == DEFAULT_TASK
    monkeypatch.setenv("RNN_STUDIO_SAMPLES", str(tmp_path / "none"))
    assert session_defaults()["source"] is None and session_defaults()["spec"]["task"] == DEFAULT_TASK
