"""Task `tree` end to end through the CLI: train (node labels and tree labels), metrics with both
baselines, predict, the SavedModel in a process that imports only TensorFlow, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder import load_preset
from tests.conftest import REPO, make_trees_csv


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder", *args], capture_output=True, text=True, cwd=REPO, timeout=900)


def _tiny_spec(tmp_path: Path, preset: str = "child_sum_tree_lstm") -> Path:
    spec = load_preset(preset)
    blocks = spec.model_dump(mode="json")["blocks"]
    blocks[0]["units"] = 8
    path = tmp_path / "spec.json"
    spec.updated(blocks=blocks, training={"epochs": 2, "batch_size": 16}).to_json(path)
    return path


@pytest.fixture(scope="module")
def node_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tree")
    data = make_trees_csv(tmp / "nodes.csv", n_trees=60)
    test = make_trees_csv(tmp / "test.csv", n_trees=20, seed=1)
    out = tmp / "run"
    r = _cli("train", "--task", "tree", "--data", str(data), "--test-data", str(test), "--label-col", "value",
             "--spec", str(_tiny_spec(tmp)), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "sequence LSTM" in r.stdout and "majority class" in r.stdout
    return out, test


def test_metrics_hold_accuracy_of_the_model_and_each_baseline(node_run: tuple[Path, Path]) -> None:
    run, _ = node_run
    m = json.loads((run / "metrics.json").read_text())
    assert m["task"] == "tree" and m["level"] == "node" and m["n_trees"] == 20
    for who in ("model", "sequence_lstm", "majority_class"):
        assert 0.0 <= m[who]["accuracy"] <= 1.0 and 0.0 <= m[who]["node_accuracy"] <= 1.0
        assert sum(v["trees"] for v in m[who]["by_depth"].values()) == 20
    c = len(m["classes"])
    assert np.array(m["confusion_matrix"]).shape == (c, c) and np.array(m["confusion_matrix"]).sum() == 20
    meta = json.loads((run / "metadata.json").read_text())
    assert [i["name"] for i in meta["serving"]["inputs"]] == ["parent", "tree", "tokens"]
    assert meta["resolved"]["vocabulary"][0] == "<unk>"
    assert meta["resolved"]["tree"]["level"] == "node"


def test_predict_and_the_saved_model_with_tensorflow_alone(node_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, test = node_run
    out = tmp_path / "preds.csv"
    r = _cli("predict", "--run", str(run), "--data", str(test), "--out", str(out))
    assert r.returncode == 0, r.stderr
    preds = pd.read_csv(out)
    nodes = pd.read_csv(test)
    assert len(preds) == len(nodes) and {"tree_id", "node_id", "value", "predicted"} <= set(preds.columns)
    # the SavedModel, in a process that imports only tensorflow and numpy, on flat arrays of all the trees
    meta = json.loads((run / "metadata.json").read_text())
    vocab = {t: i for i, t in enumerate(meta["resolved"]["vocabulary"])}
    tree_codes, _ = pd.factorize(nodes["tree_id"])
    key = {(t, n): i for i, (t, n) in enumerate(zip(nodes["tree_id"], nodes["node_id"], strict=True))}
    parent = [-1 if pd.isna(p) else key[(t, int(p))] for t, p in zip(nodes["tree_id"], nodes["parent_id"], strict=True)]
    arrays = {"parent": parent, "tree": tree_codes.tolist(), "tokens": [vocab.get(str(t), 0) for t in nodes["token"]]}
    (tmp_path / "in.json").write_text(json.dumps(arrays))
    code = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        f"a = json.load(open({str(tmp_path / 'in.json')!r}))\n"
        f"m = tf.saved_model.load({str(run / 'saved_model')!r})\n"
        "p = m.serve(parent=tf.constant(a['parent'], tf.int32), tree=tf.constant(a['tree'], tf.int32),"
        " tokens=tf.constant(a['tokens'], tf.int32))\n"
        f"np.save({str(tmp_path / 'probs.npy')!r}, p.numpy())\n"
        "assert not any(k.startswith('builder') for k in sys.modules), 'imported the builder'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    probs = np.load(tmp_path / "probs.npy")
    classes = meta["resolved"]["classes"]
    served = [classes[i] for i in probs.argmax(axis=1)]
    assert [str(v) for v in preds["predicted"]] == served
    np.testing.assert_allclose(probs, preds[[f"p_{c}" for c in classes]].to_numpy(), atol=1e-5)


def test_tree_labels_with_the_binary_nary_preset(tmp_path: Path) -> None:
    data = tmp_path / "nodes.csv"
    rows = ["tree_id,node_id,parent_id,token,label"]
    rng = np.random.default_rng(0)
    for t in range(40):  # binary trees: (a b) -> label a
        a, b = rng.integers(0, 3, 2)
        rows += [f"{t},r,,P,{a}", f"{t},x,r,{a},{a}", f"{t},y,r,{b},{a}"]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    r = _cli("train", "--task", "tree", "--data", str(data), "--spec", str(_tiny_spec(tmp_path, "binary_tree_lstm")),
             "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["level"] == "tree" and m["model"]["node_accuracy"] is None
    assert json.loads((out / "metadata.json").read_text())["resolved"]["tree"]["arity"] == 2


BAD_CASES = {
    "cycle": ("tree_id,node_id,parent_id,token,label\n1,0,,A,1\n1,1,2,B,1\n1,2,1,C,1\n", "tree 1, node"),
    "two roots": ("tree_id,node_id,parent_id,token,label\n1,0,,A,1\n1,1,,B,1\n", "tree 1: more than one root"),
    "missing parent": ("tree_id,node_id,parent_id,token,label\n1,0,,A,1\n1,1,7,B,1\n", "parent 7 does not exist"),
    "duplicate": ("tree_id,node_id,parent_id,token,label\n1,0,,A,1\n1,0,,B,1\n", "node 0: the node id is used twice"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_node_tables_end_in_one_cli_line(case: str, tmp_path: Path) -> None:
    text, expected = BAD_CASES[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    r = _cli("train", "--task", "tree", "--data", str(path), "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}") and expected in lines[0], r.stderr


def test_tree_regression_with_a_regression_loss(tmp_path: Path) -> None:
    data = tmp_path / "nodes.csv"
    rows = ["tree_id,node_id,parent_id,token,label"]
    for t in range(40):  # label: the number of leaves / 2, a value per tree
        k = 1 + t % 3
        rows.append(f"{t},0,,S,{k / 2}")
        rows += [f"{t},{j + 1},0,x,{k / 2}" for j in range(k)]
    data.write_text("\n".join(rows) + "\n")
    spec = load_preset("child_sum_tree_lstm")
    blocks = spec.model_dump(mode="json")["blocks"]
    blocks[0]["units"] = 4
    spec_path = tmp_path / "spec.json"
    spec.updated(blocks=blocks, training={"epochs": 1, "batch_size": 16, "loss": "mse"}).to_json(spec_path)
    out = tmp_path / "run"
    r = _cli("train", "--task", "tree", "--data", str(data), "--spec", str(spec_path), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["regression"] and {"mae", "rmse"} <= set(m["model"]) and m["mean"]["mae"] is not None
    assert m["sequence_lstm"]["mae"] is not None
    # without a regression loss, fractional labels are refused with one line
    spec.updated(blocks=blocks, training={"epochs": 1}).to_json(spec_path)
    r = _cli("train", "--task", "tree", "--data", str(data), "--spec", str(spec_path), "--out", str(tmp_path / "r2"))
    assert r.returncode == 2 and "set the loss to mse, mae or huber" in r.stderr and len(r.stderr.strip().splitlines()) == 1
