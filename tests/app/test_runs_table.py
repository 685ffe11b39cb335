"""Runs: names and notes, the best run per metric marked, the newest run preselected for reopening."""

from __future__ import annotations

import os
import time

from builder import app as u
from builder.spec import ModelSpec
from builder.training.runs import Run
from tests.app.conftest import by_label, make_app, seeded


def _fake_run(home, name: str, mae: float, val: float, data: str = "a.csv", age: float = 0.0) -> Run:
    run = Run(home / "runs" / name)
    run.write_json("spec.json", ModelSpec.from_dict({"name": name, "training": {"epochs": 2}}).model_dump(mode="json"))
    run.write_json("job.json", {"data": f"/x/{data}", "submitted": time.time()})
    run.append_history({"epoch": 1, "loss": 1.0, "val_loss": val})
    run.write_json("metrics.json", {"task": "forecast", "model": {"mae": mae}, "naive": {"mae": 3.0},
                                    "seasonal_naive": {"mae": 3.0}})
    run.set_status("finished", finished=time.time())
    t = time.time() - age
    os.utime(run.file("spec.json"), (t, t))
    return run


def test_runs_table_names_notes_and_best_marks(studio_home) -> None:
    a = _fake_run(studio_home, "r-a", mae=2.0, val=0.5, age=30)
    _fake_run(studio_home, "r-b", mae=1.0, val=0.7, age=20)
    _fake_run(studio_home, "r-c", mae=0.5, val=0.1, data="other.csv", age=10)  # other data: not compared
    u.set_run_label(a, "  wide   lstm ", "more units\n")
    assert u.run_label(a) == {"name": "wide lstm", "note": "more units"}
    table = u.runs_table().set_index("run")
    assert table.loc["r-a", "name"] == "wide lstm" and table.loc["r-a", "note"] == "more units"
    assert table.loc["r-a", "best"] == "★ val loss" and table.loc["r-b", "best"] == "★ MAE"
    assert table.loc["r-c", "best"] == ""
    assert list(u.run_choices()) == ["r-c", "r-b", "r-a"] and u.run_choices()["r-a"] == "r-a · wide lstm · ★ val loss"


def test_train_page_names_a_run_and_preselects_the_newest(tiny_csv, studio_home) -> None:
    _fake_run(studio_home, "r-old", mae=2.0, val=0.5, age=30)
    _fake_run(studio_home, "r-new", mae=1.0, val=0.4, age=5)
    at = make_app("pages/train.py", seeded(tiny_csv, run_id="r-old"))
    assert by_label(at.selectbox, "Reopen a run").value == "r-new"
    by_label(at.text_input, "Run name").set_value("baseline").run()
    at.button(key="label_save_r-old").click().run()
    assert not at.exception
    assert u.run_label(Run(studio_home / "runs" / "r-old"))["name"] == "baseline"
    table = at.dataframe[-1].value.set_index("run")
    assert table.loc["r-old", "name"] == "baseline"
    by_label(at.selectbox, "Reopen a run").set_value("r-old").run()
    at.run()  # the choice holds while no new run appears
    box = by_label(at.selectbox, "Reopen a run")
    assert box.value == "r-old"
    chosen_key = box.key
    _fake_run(studio_home, "r-newest", mae=1.0, val=0.4, age=0)  # a run appears: it is preselected
    at.run()
    box = by_label(at.selectbox, "Reopen a run")
    # ... by a new widget (a new key, so a new element id): a browser drops the choice it held for the old
    # one; under the same id it would go on showing "r-old" and send it back on the next rerun
    assert box.value == "r-newest" and box.key != chosen_key
    at.run()
    assert by_label(at.selectbox, "Reopen a run").value == "r-newest"


def test_new_workspace_forgets_the_reopen_choice(tiny_csv, studio_home) -> None:
    _fake_run(studio_home, "r-old", mae=2.0, val=0.5, age=30)
    _fake_run(studio_home, "r-new", mae=1.0, val=0.4, age=5)
    at = make_app("pages/train.py", seeded(tiny_csv))
    by_label(at.selectbox, "Reopen a run").set_value("r-old").run()
    chosen_key = by_label(at.selectbox, "Reopen a run").key
    by_label(at.button, "New workspace").click().run()
    assert not at.exception
    box = by_label(at.selectbox, "Reopen a run")
    assert box.value == "r-new" and box.key != chosen_key  # a new widget: the browser's old choice is dropped
