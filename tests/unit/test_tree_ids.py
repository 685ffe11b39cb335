"""Tree, node and parent ids of a node table read as the text the file holds (as sequence ids are): trees
`001` and `1` are two trees, nodes `1` and `1.0` two nodes, each noted; a parent written as a float of its
node (`1.0` for `1`, a parent column with empty roots) is matched by number, with a note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder import load_preset
from builder.data.read import DataError
from builder.data.trees import detect_tree_columns, load_tree_table, read_forest
from builder.tasks.registry import get_task

SPEC = load_preset("child_sum_tree_lstm").updated(data={"val_fraction": 0.0, "test_fraction": 0.0})


def trees_file(path: Path, ids: list[str], parents: str = "int") -> Path:
    """One three-node tree per id (root, two children), class c0 / c1 alternating; parents written as
    ints, or as floats (`0.0`: how pandas writes a parent column with empty roots)."""
    rows = []
    for k, tid in enumerate(ids):
        p = "0.0" if parents == "float" else "0"
        rows += [f"{tid},0,,A,c{k % 2}", f"{tid},1,{p},B{k % 3},c{k % 2}", f"{tid},2,{p},C,c{k % 2}"]
    path.write_text("tree_id,node_id,parent_id,token,label\n" + "\n".join(rows) + "\n")
    return path


def forest(path: Path):  # noqa: ANN201
    df = load_tree_table(path, SPEC.data)
    return read_forest(df, detect_tree_columns(df))


def test_tree_ids_001_and_1_are_two_trees_with_a_note(tmp_path):
    """Before: the tree id column was read as numbers, so trees 001 and 1 were one tree of six nodes
    (two roots: an error), or, with distinct node ids, one merged tree without a word."""
    f = forest(trees_file(tmp_path / "t.csv", ["001", "1", "2", "x"]))
    assert list(f.tree_ids) == ["001", "1", "2", "x"] and list(f.offsets) == [0, 3, 6, 9, 12]
    assert any("tree id column `tree_id` writes 1 number(s) in several ways ('001' and '1'; first: rows "
               "[2, 3, 4, 5, 6])" in n for n in f.notices), f.notices


def test_distinct_node_ids_no_longer_merge_two_trees(tmp_path):
    """Trees 01 and 1 with distinct node ids (0-2 and 3-5): read as numbers they were one tree with two
    roots; as text, two trees."""
    text = "tree_id,node_id,parent_id,token,label\n01,0,,A,c0\n01,1,0,B,c0\n1,3,,A,c1\n1,4,3,C,c1\n"
    (tmp_path / "t.csv").write_text(text)
    f = forest(tmp_path / "t.csv")
    assert list(f.tree_ids) == ["01", "1"] and list(f.parent) == [-1, 0, -1, 0]


def test_node_ids_1_and_1_0_are_two_nodes_with_a_note(tmp_path):
    text = "tree_id,node_id,parent_id,token,label\nt,0,,A,c0\nt,1,0,B,c0\nt,1.0,0,C,c0\nt,2,1.0,D,c0\n"
    (tmp_path / "t.csv").write_text(text)
    f = forest(tmp_path / "t.csv")
    assert list(f.node_ids) == ["0", "1", "1.0", "2"] and list(f.parent) == [-1, 0, 0, 2]
    assert any("node id column `node_id` writes a number in several ways within 1 tree(s) (tree t: '1' and "
               "'1.0'; rows [3, 4]); they are different nodes" in n for n in f.notices), f.notices


def test_a_float_parent_column_is_matched_by_number_with_a_note(tmp_path):
    f = forest(trees_file(tmp_path / "t.csv", ["a", "b"], parents="float"))
    assert list(f.parent) == [-1, 0, 0, -1, 0, 0]
    assert any("4 parent id(s) in `parent_id` are written otherwise than their node ids (row 3: '0.0' for node "
               "'0', row 4: '0.0' for node '0', row 6: '0.0' for node '0'); matched by number" in n
               for n in f.notices), f.notices


def test_a_parent_that_is_the_number_of_two_nodes_is_an_error(tmp_path):
    text = "tree_id,node_id,parent_id,token,label\nt,0,,A,c0\nt,1,0,B,c0\nt,1.0,0,C,c0\nt,2,01,D,c0\n"
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match=r"t\.csv: tree t, node 2 \(row 5\): parent 01 is not written as any node id "
                                        r"of the tree, and nodes '1' and '1\.0' are that number"):
        forest(tmp_path / "t.csv")


def test_an_unknown_parent_is_still_an_error(tmp_path):
    text = "tree_id,node_id,parent_id,token,label\nt,0,,A,c0\nt,1,9.0,B,c0\n"
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match=r"tree t, node 1 \(row 3\): parent 9\.0 does not exist in the tree"):
        forest(tmp_path / "t.csv")


def test_training_and_predict_name_trees_as_the_file_writes_them(tmp_path):
    """Before: predict's CSV named tree `007` as 7 (and merged it with a tree `7`)."""
    t = get_task("tree")
    data = t.prepare(trees_file(tmp_path / "t.csv", [f"{k:03d}" for k in range(8)]), SPEC)
    assert list(data.tree_ids) == [f"{k:03d}" for k in range(8)]
    assert t.text_columns(SPEC, ["tree_id", "node_id", "parent_id", "token", "label"]) == \
        ["tree_id", "node_id", "parent_id"]
    resolved = t.resolve(data)
    df = t.load_new(trees_file(tmp_path / "new.csv", ["007", "7"]), resolved=resolved)
    n = len(resolved.classes)

    def model(x: dict, training: bool = False) -> np.ndarray:
        return np.full((int((x["parent"] < 0).sum()), n), 1.0 / n, dtype=np.float32)

    out = t.predict(resolved, df, model)
    assert out["tree_id"].tolist() == ["007", "7"]


def test_a_numeric_frame_in_memory_reads_as_before() -> None:
    """A frame built in memory keeps numbers: 1 and 1.0 are one id, written `1`."""
    df = pd.DataFrame({"tree_id": [1, 1], "node_id": [0.0, 1.0], "parent_id": [np.nan, 0.0], "token": ["A", "B"],
                       "label": ["c0", "c0"]})
    f = read_forest(df, detect_tree_columns(df))
    assert list(f.tree_ids) == ["1"] and list(f.node_ids) == ["0", "1"] and not f.notices
