"""AppTest of the tree task's pages: the Data page takes a node table and draws one tree with its
label; Evaluate shows accuracy beside both baselines, per-depth accuracy and the confusion matrix."""

from __future__ import annotations

import pytest

from tests.app.conftest import by_label, errors, make_app, seeded
from tests.conftest import make_trees_csv


def _tree_spec() -> dict:
    from builder import load_preset

    return load_preset("child_sum_tree_lstm").model_dump(mode="json")


def test_data_page_takes_a_node_table_and_draws_a_tree(tmp_path) -> None:
    csv = make_trees_csv(tmp_path / "nodes.csv", n_trees=30)
    at = make_app("pages/data.py", seeded(csv), timeout=600)
    by_label(at.radio, "Task").set_value("forecast").run()
    by_label(at.radio, "Task").set_value("tree").run()  # a switch from a sequence task brings tree cells
    assert not at.exception and not errors(at), errors(at)
    spec = at.session_state["spec"]
    assert spec["task"] == "tree" and spec["blocks"][0]["cell"] == "child_sum_tree_lstm"
    d = spec["data"]
    assert (d["id_col"], d["node_col"], d["parent_col"], d["token_col"], d["label_col"]) == \
        ("tree_id", "node_id", "parent_id", "token", "label")
    assert at.get("graphviz_chart"), "no tree drawn"
    assert any(c.value.startswith("Label: **") for c in at.caption)
    assert any(m.label == "Trees (train / val / test)" for m in at.metric)
    # node labels: the drawing shows each node's value, and the check says so
    by_label(at.selectbox, "Label").set_value("value").run()
    assert not at.exception and not errors(at), errors(at)
    assert any("per node" in str(m.value) for m in at.metric)


def test_data_page_reports_a_bad_tree_inline(tmp_path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("tree_id,node_id,parent_id,token,label\n1,0,,A,1\n1,1,,B,1\n2,0,,C,0\n")
    at = make_app("pages/data.py", {**seeded(csv), "spec": _tree_spec()}, timeout=600)
    assert not at.exception
    assert any("tree 1: more than one root" in e for e in errors(at)), errors(at)


def test_evaluate_shows_tree_accuracy_depth_and_confusion(tiny_csv, studio_home) -> None:
    from builder import load_preset
    from builder.training.runs import Run

    by_depth = {"1": {"accuracy": 1.0, "trees": 2}, "2": {"accuracy": 0.5, "trees": 2}}
    metrics = {"task": "tree", "part": "test", "level": "node", "regression": False, "classes": ["a", "b"],
               "n_trees": 4, "n_nodes": 12, "confusion_matrix": [[2, 0], [1, 1]],
               "model": {"accuracy": 0.75, "macro_f1": 0.73, "node_accuracy": 0.9, "by_depth": by_depth},
               "sequence_lstm": {"accuracy": 0.5, "macro_f1": 0.5, "node_accuracy": 0.6, "by_depth": by_depth},
               "majority_class": {"accuracy": 0.5, "macro_f1": 0.33, "node_accuracy": 0.5, "class": "a",
                                  "by_depth": by_depth}, "epochs_run": 2}
    run = Run(studio_home / "runs" / "tree-run")
    run.write_json("spec.json", load_preset("child_sum_tree_lstm").model_dump(mode="json"))
    run.set_status("finished", message="done")
    run.append_history({"epoch": 1, "loss": 1.0, "val_loss": 1.5})
    run.write_json("metrics.json", metrics)
    run.write_json("metadata.json", {"format": "rnn-studio/1", "task": "tree", "params": 10, "lookback": 4,
                                     "features": [], "targets": []})
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="tree-run"), timeout=600)
    assert not at.exception and not errors(at), errors(at)
    assert {"Tree accuracy", "Node accuracy"} <= {m.label for m in at.metric}
    table = at.dataframe[0].value
    assert table.loc["Tree-LSTM", "accuracy"] == 0.75 and table.loc["sequence LSTM", "accuracy"] == 0.5
    assert any("by tree depth" in m.value for m in at.markdown)
    assert any("Confusion matrix" in m.value for m in at.markdown)


def test_depth_bars_draw_the_run_s_own_accuracies(task_runs, studio_home) -> None:
    """The Evaluate page of a trained tree run: the by-depth chart carries metrics.json's figures for every
    depth and model / baseline (a chart of zeros for non-zero accuracies fails), each bar labelled."""
    import json
    import shutil

    run, data = task_runs["tree"]
    shutil.copytree(run, studio_home / "runs" / run.name)
    metrics = json.loads((run / "metrics.json").read_text())
    want = {(int(d), who): v["accuracy"] for key, who in (("model", "Tree-LSTM"), ("sequence_lstm", "sequence LSTM"),
                                                          ("majority_class", "baseline"))
            for d, v in metrics[key]["by_depth"].items()}
    assert any(want.values()), "the tiny tree run scored 0 at every depth: the check below would prove nothing"
    seed = {"source": {"path": str(data), "name": data.name, "kind": "upload"}, "run_id": run.name}
    at = make_app("pages/evaluate.py", seed, timeout=300)
    assert not at.exception and not errors(at), errors(at)
    import pyarrow as pa

    charts = [el.proto for kind in ("arrow_vega_lite_chart", "vega_lite_chart") for el in at.get(kind)]
    depth = [(json.loads(c.spec), c) for c in charts
             if json.loads(c.spec).get("facet", {}).get("column", {}).get("field") == "column"]
    assert len(depth) == 1, [c.spec[:200] for c in charts]
    spec, proto = depth[0]
    rows = [r for d in proto.datasets for r in pa.ipc.open_stream(d.data.data).read_all().to_pylist()]
    rows += [r for values in spec.get("datasets", {}).values() for r in values]
    got = {(int(r["depth"]), r["who"]): r["accuracy"] for r in rows}
    assert got == pytest.approx(want)
    assert any(layer["mark"]["type"] == "text" for layer in spec["spec"]["layer"]), "bars without their values"
    assert {r["column"] for r in rows} == {f"depth {d} · {n} tree{'s' if n != 1 else ''}"
                                           for d, n in ((int(d), v["trees"]) for d, v in metrics["model"]["by_depth"].items())}


def test_design_page_offers_composition_layers_for_tree_cells_only(tmp_path, tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))  # a forecast spec: an LSTM block
    assert not at.exception and not errors(at), errors(at)
    assert at.number_input(key="m0_0_units") is not None
    assert not [w for w in at.number_input if w.key.endswith("_composition_layers")]
    csv = make_trees_csv(tmp_path / "nodes.csv", n_trees=30)
    at = make_app("pages/design.py", {**seeded(csv), "spec": _tree_spec()}, timeout=600)
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["blocks"][0]["composition_layers"] == 3  # the preset's
    before = int(by_label(at.metric, "Parameters").value.replace(",", ""))
    at.number_input(key="m0_0_composition_layers").set_value(0).run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["blocks"][0]["composition_layers"] == 0
    after = int(by_label(at.metric, "Parameters").value.replace(",", ""))
    units = 128  # Child-Sum, token input of the cell's width: A [U, U], B [U, U], C_2, C_3 [U, U], three biases
    assert before - after == 4 * units * units + 3 * units


def test_data_page_reads_tree_ids_as_training_does(tmp_path) -> None:
    """Before: the page read the tree id column as numbers, so trees 001 and 1 were one tree there (two
    roots: an error) while training reads two."""
    from builder.tasks.registry import get_task
    from tests.unit.test_tree_ids import SPEC, trees_file

    csv = trees_file(tmp_path / "nodes.csv", ["001", "1", *[str(k) for k in range(2, 30)]])
    assert len(get_task("tree").prepare(csv, SPEC).tree_ids) == 30
    at = make_app("pages/data.py", {**seeded(csv), "spec": _tree_spec()}, timeout=600)
    assert not at.exception and not errors(at), errors(at)
    cards = {m.label: m.value for m in at.metric}
    assert sum(map(int, cards["Trees (train / val / test)"].split(" / "))) == 30, cards
    assert any("writes 1 number(s) in several ways ('001' and '1'" in c.value for c in at.caption)
    picker = by_label(at.selectbox, "Tree")
    assert {"001", "1"} <= set(map(str, picker.options))
    picker.set_value("001").run()
    assert not at.exception and not errors(at) and at.get("graphviz_chart")
