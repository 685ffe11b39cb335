"""The Data page's form comes from the task's registry entry: starting values and guesses
(builder.app.form), and a throwaway task registered with only a TaskEntry gets its widgets drawn,
its choices written to the spec and its Check row, with no page edit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from builder.app import form
from builder.spec import ModelSpec
from builder.tasks.registry import TASKS, FormField, TaskEntry
from tests.app.conftest import by_label, errors, make_app, seeded


def _sequences(path: Path) -> Path:
    rows = ["sequence_id,step,x,v,group,label"]
    for sid in range(24):
        for t in range(8):
            rows.append(f"{sid},{t},{(sid % 2) * t + 0.1 * t},{t * 0.5},{'g' + str(sid % 3)},{'up' if sid % 2 else 'flat'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _table(path: Path) -> pd.DataFrame:
    from builder.data import load_table

    return load_table(path)


def test_forecast_starts_from_the_spec_else_the_guesses(tiny_csv) -> None:
    df = _table(tiny_csv)
    fresh = ModelSpec.from_dict({"task": "forecast"})
    start = form.form_defaults("forecast", df, fresh)
    assert start["time_col"] == "month" and start["targets"] == ["sales"] and start["features"] == ["promo"]
    assert start["lookback"] == 0 and start["horizon"] == 1 and start["stride"] == 1  # 0: from the season
    chosen = ModelSpec.from_dict({"task": "forecast", "data": {"targets": ["promo"], "features": [], "lookback": 9}})
    start = form.form_defaults("forecast", df, chosen)
    assert (start["targets"], start["features"], start["lookback"]) == (["promo"], [], 9)
    # a list that names none of this file's columns (another file's choice) is guessed again
    stale = ModelSpec.from_dict({"task": "forecast", "data": {"targets": ["gone"]}})
    assert form.form_defaults("forecast", df, stale)["targets"] == ["sales"]


def test_options_filter_numeric_and_exclude_earlier_choices(tmp_path) -> None:
    df = _table(_sequences(tmp_path / "s.csv"))
    fields = {f.key: f for f in TASKS["classify"].form}
    chosen = {"id_col": "sequence_id", "label_col": "label", "order_col": "step"}
    assert "sequence_id" not in form.field_options(fields["label_col"], df, chosen)
    assert form.field_options(fields["features"], df, chosen) == ["x", "v"]  # numeric, the roles taken out
    start = form.form_defaults("classify", df, ModelSpec.from_dict({"task": "classify"}))
    assert (start["id_col"], start["label_col"], start["order_col"], start["features"]) == \
        ("sequence_id", "label", "step", ["x", "v"])
    # a forecast spec's columns mean something else: a switch starts from the task's own guesses
    other = ModelSpec.from_dict({"task": "forecast", "data": {"features": []}})
    assert form.form_defaults("classify", df, other)["features"] == ["x", "v"]


def test_changes_clear_the_other_tasks_columns_and_map_zero_to_the_data() -> None:
    out = form.form_changes("classify", {"id_col": "a", "label_col": "b", "order_col": None, "features": ["x"],
                                         "lookback": 0})
    assert out["lookback"] is None and out["features"] == ["x"]
    assert out["time_col"] is None and out["targets"] == [] and out["node_col"] is None
    fc = form.form_changes("forecast", {"horizon": 3, "lookback": 0, "season_length": 0, "stride": 2})
    assert (fc["horizon"], fc["lookback"], fc["season_length"], fc["stride"]) == (3, None, None, 2)
    assert fc["id_col"] is None and "targets" not in fc  # only what the form chose, and others' columns
    assert form.new_file_data("forecast", {"lookback": 12, "horizon": 4, "targets": ["a"]}) == \
        {**form.cleared_columns(), "lookback": None, "season_length": None, "horizon": 4}


def test_tree_roles_are_guessed_by_the_task(tmp_path) -> None:
    from tests.conftest import make_trees_csv

    df = _table(make_trees_csv(tmp_path / "nodes.csv", n_trees=4))
    start = form.form_defaults("tree", df, ModelSpec.from_dict({"task": "tree", "blocks": [
        {"kind": "recurrent", "cell": "child_sum_tree_lstm", "units": 4}]}))
    assert (start["id_col"], start["node_col"], start["parent_col"], start["token_col"], start["label_col"]) == \
        ("tree_id", "node_id", "parent_id", "token", "label")


def test_check_cards_come_from_the_task() -> None:
    cards = form.check_cards({"task": "classify", "sequences": {"train": 3, "val": 1, "test": 1},
                              "classes": ["a", "b"], "lookback": 8, "n_features": 2})
    assert [c["label"] for c in cards] == ["Sequences (train / val / test)", "Classes", "Steps × features"]
    assert cards[2]["value"] == "8 × 2"


TOY = TaskEntry(
    "toy_steps", "Toy task (test only)", "A throwaway task: the classifier's code under a form of its own.",
    ("crossentropy",), "lstm_fcn", "builder.tasks.classify:ClassifyTask",
    form=(
        FormField("id_col", "Toy id", "column", "Rows of one sequence.", guess="role"),
        FormField("label_col", "Toy label", "column", "The class.", exclude=("id_col",), guess="role"),
        FormField("features", "Toy inputs", "columns", "Numbers read at each step.", numeric=True,
                  exclude=("id_col", "label_col"), guess="other_numeric"),
        FormField("lookback", "Toy length (0 = longest)", "int", "Steps kept.", maximum=500),
    ),
    preview="sequence",
)


@pytest.fixture
def toy_task(monkeypatch: pytest.MonkeyPatch) -> TaskEntry:
    monkeypatch.setitem(TASKS, TOY.name, TOY)
    return TOY


def test_a_task_registered_with_only_an_entry_gets_its_form_drawn(toy_task, tmp_path) -> None:
    csv = _sequences(tmp_path / "toy.csv")
    at = make_app("pages/data.py", seeded(csv))
    by_label(at.radio, "Task").set_value(toy_task.name).run()
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    labels = {w.label for w in [*at.selectbox, *at.multiselect, *at.number_input]}
    assert {"Toy id", "Toy label", "Toy inputs", "Toy length (0 = longest)"} <= labels
    assert not labels & {"Sequence id column", "Order column", "Targets (to forecast)"}  # no other task's form
    assert "sequence_id" not in by_label(at.selectbox, "Toy label").options  # exclude
    inputs = by_label(at.multiselect, "Toy inputs")
    assert set(inputs.options) == {"step", "x", "v"} and "group" not in inputs.options  # numeric only
    spec = at.session_state["spec"]
    assert spec["task"] == toy_task.name
    assert (spec["data"]["id_col"], spec["data"]["label_col"]) == ("sequence_id", "label")

    inputs.set_value(["x"]).run()
    by_label(at.number_input, "Toy length (0 = longest)").set_value(6).run()
    assert not at.exception and not errors(at), errors(at)
    data = at.session_state["spec"]["data"]
    assert (data["features"], data["lookback"], data["time_col"], data["targets"]) == (["x"], 6, None, [])
    assert any(m.label == "Sequences (train / val / test)" for m in at.metric)  # the task's Check row
    assert any(s.value == "One sequence" for s in at.subheader)  # the entry's preview
    assert any("fits the spec" in s.value for s in at.success)


def test_every_view_a_task_names_is_drawn_by_its_page() -> None:
    """A task's preview, Evaluate and Export views are names the pages know (a typo would show nothing)."""
    import re

    from builder.tasks.registry import get_task
    from tests.app.conftest import REPO

    def keys(page: str, table: str) -> set[str]:
        text = (REPO / page).read_text()
        block = text[text.index(f"{table} = {{"):]
        return set(re.findall(r'"(\w+)":', block[:block.index("}")]))

    previews, evaluate, export = keys("pages/data.py", "PREVIEWS"), keys("pages/evaluate.py", "VIEWS"), {"forecast_ahead"}
    assert "forecast_ahead" in (REPO / "pages/export.py").read_text()
    for name, entry in TASKS.items():
        task = get_task(name)
        assert entry.preview in previews | {""}, (name, entry.preview)
        assert set(task.evaluate_views) <= evaluate, (name, task.evaluate_views)
        assert set(task.export_views) <= export, (name, task.export_views)
        assert entry.reads in ("csv", "text") and entry.form, name
