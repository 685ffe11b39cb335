"""The node table: role detection, validation (one line naming file, tree and node), vocabulary,
pre-order reading and flat batches."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from builder.data.read import DataError, load_table
from builder.data.trees import (
    UNKNOWN,
    detect_tree_columns,
    label_level,
    preorder_tokens,
    prepare_trees,
    read_forest,
    tree_batch,
)
from builder.spec import ModelSpec

GOOD = """tree_id,node_id,parent_id,token,value,label
a,0,,MAX,7,7
a,1,0,7,7,7
a,2,0,MIN,1,7
a,3,2,1,1,7
a,4,2,4,4,7
b,0,,3,3,3
"""


def _table(text: str, name: str = "nodes.csv") -> pd.DataFrame:
    return load_table(text.encode(), name=name)


def _forest(text: str, **kw: object):  # noqa: ANN202
    df = _table(text)
    return read_forest(df, detect_tree_columns(df), **kw)


def test_roles_are_detected_and_overridable() -> None:
    cols = detect_tree_columns(_table(GOOD))
    assert (cols.tree_col, cols.node_col, cols.parent_col, cols.token_col, cols.label_col) == \
        ("tree_id", "node_id", "parent_id", "token", "label")
    assert cols.features == ()  # `value` is not fed to the model unless asked (it would leak)
    cols = detect_tree_columns(_table(GOOD), {"label_col": "value"})
    assert cols.label_col == "value"
    with pytest.raises(DataError, match="nodes.csv: column `nope`"):
        detect_tree_columns(_table(GOOD), {"token_col": "nope"})


def test_forest_structure() -> None:
    f = _forest(GOOD)
    assert list(f.tree_ids) == ["a", "b"]
    assert list(f.offsets) == [0, 5, 6]
    assert list(f.parent) == [-1, 0, 0, 2, 2, -1]
    assert list(f.depth) == [0, 1, 1, 2, 2, 0]
    assert list(f.tree_depths()) == [2, 0]
    assert label_level(f, "label") == "tree"
    f2 = read_forest(_table(GOOD), detect_tree_columns(_table(GOOD), {"label_col": "value"}))
    assert label_level(f2, "value") == "node"


BAD = {
    "cycle": ("tree_id,node_id,parent_id,token,label\nt,0,,A,1\nt,1,2,B,1\nt,2,1,C,1\n",
              r"nodes.csv: tree t, node (1|2): a cycle of parents"),
    "self parent": ("tree_id,node_id,parent_id,token,label\nt,0,,A,1\nt,1,1,B,1\n",
                    r"nodes.csv: tree t, node 1 \(row 3\): a cycle \(1 is its own parent\)"),
    "two roots": ("tree_id,node_id,parent_id,token,label\nt,0,,A,1\nt,1,,B,1\n",
                  r"nodes.csv: tree t: more than one root \(2 nodes with an empty `parent_id`: 0, 1\)"),
    "missing parent": ("tree_id,node_id,parent_id,token,label\nt,0,,A,1\nt,1,9,B,1\n",
                       r"nodes.csv: tree t, node 1 \(row 3\): parent 9 does not exist in the tree"),
    "root marked -1": ("tree_id,node_id,parent_id,token,label\nt,0,-1,A,1\nt,1,0,B,1\n",
                       r"nodes.csv: tree t, node 0 \(row 2\): parent -1 does not exist in the tree; no row of the tree has "
                       r"an empty `parent_id`: a root's parent must be empty, not -1$"),
    "duplicate node": ("tree_id,node_id,parent_id,token,label\nt,0,,A,1\nt,1,0,B,1\nt,1,0,C,1\n",
                       r"nodes.csv: tree t, node 1: the node id is used twice \(rows 3 and 4\)"),
    "empty tree": ("tree_id,node_id,parent_id,token,label\nt,0,,A,1\nu,,,B,1\n",
                   r"nodes.csv: tree u: the tree is empty"),
    "no root": ("tree_id,node_id,parent_id,token,label\nt,0,1,A,1\nt,1,0,B,1\n",
                r"nodes.csv: tree t, node [01]: a cycle of parents"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tables_end_in_one_line_naming_file_tree_and_node(case: str) -> None:
    text, pattern = BAD[case]
    with pytest.raises(DataError, match=pattern) as err:
        _forest(text)
    assert "\n" not in str(err.value)


def test_a_tree_deeper_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = ["tree_id,node_id,parent_id,token,label", "t,0,,A,1"] + [f"t,{k},{k - 1},A,1" for k in range(1, 30)]
    monkeypatch.setenv("RNN_STUDIO_MAX_TREE_DEPTH", "20")
    with pytest.raises(DataError, match=r"nodes.csv: tree t, node 29: the tree is 29 levels deep; the limit is 20 "
                                        r"\(RNN_STUDIO_MAX_TREE_DEPTH\)"):
        _forest("\n".join(rows) + "\n")
    monkeypatch.setenv("RNN_STUDIO_MAX_TREE_DEPTH", "29")
    assert _forest("\n".join(rows) + "\n").depth.max() == 29


def test_too_many_children_for_an_nary_cell() -> None:
    with pytest.raises(DataError, match=r"tree a, node 0: 2 children, but the N-ary Tree-LSTM takes at most N=1"):
        _forest(GOOD, max_children=1)


def test_vocabulary_comes_from_the_training_trees_only() -> None:
    rows = ["tree_id,node_id,parent_id,token,label"]
    for t in range(40):
        rows += [f"{t},0,,OP,{t % 2}", f"{t},1,0,tok{t},{t % 2}"]
    spec = ModelSpec(task="tree", blocks=[{"kind": "recurrent", "cell": "child_sum_tree_lstm", "units": 4}])
    data = prepare_trees(_table("\n".join(rows) + "\n"), spec)
    assert data.vocabulary[0] == UNKNOWN
    train = {f"tok{t}" for t in range(40) if data.split[t] == "train"}
    assert set(data.vocabulary[1:]) == train | {"OP"}
    held_out = [t for t in range(40) if data.split[t] != "train"]
    assert held_out and all(data.tokens[data.offsets[t] + 1] == 0 for t in held_out)
    assert data.level == "tree" and data.classes == ("0", "1")


def test_preorder_with_brackets_and_positions() -> None:
    f = _forest(GOOD)
    seq, done = preorder_tokens(f.parent, f.tokens, 0, 5)
    assert seq == ["(", "MAX", "7", "(", "MIN", "1", "4", ")", ")"]
    assert done == [8, 2, 7, 5, 6]
    assert preorder_tokens(f.parent, f.tokens, 5, 6) == (["3"], [0])


def test_flat_batch_indices() -> None:
    f = _forest(GOOD)
    b = tree_batch(f.offsets, f.parent, np.arange(6), np.zeros((6, 0), np.float32), np.array([1, 0]))
    assert list(b.parent) == [-1, -1, 1, 1, 3, 3]
    assert list(b.tree) == [0, 1, 1, 1, 1, 1]
    assert list(b.tokens) == [5, 0, 1, 2, 3, 4]


def test_unreadable_upload_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no parent id column"):
        detect_tree_columns(load_table(io.BytesIO(b"tree_id,node_id,token\n1,1,a\n").read(), name="x.csv"))


def test_what_reading_the_file_assumed_reaches_the_notices() -> None:
    rows = ["tree_id;node_id;parent_id;token;label"]
    for t in range(20):
        rows += [f"{t};0;;caf\xe9;{t % 2}", f"{t};1;0;tok{t};{t % 2}"]
    spec = ModelSpec(task="tree", blocks=[{"kind": "recurrent", "cell": "child_sum_tree_lstm", "units": 4}])
    data = prepare_trees(load_table(("\n".join(rows) + "\n").encode("latin-1"), name="n.csv"), spec)
    assert "the file is not valid UTF-8; read as Latin-1" in data.notices
    assert "separator detected: ';'" in data.notices


@pytest.mark.parametrize(("rows", "pattern"), [
    ("a,0,,A,1\na,1,0,B,1\nb,0,,A,\nb,1,0,B,\n",
     r"nodes.csv: tree b \(root node 0, row 4\): no row of the tree has a label in `label` \(1 such tree\(s\)\); "
     r"expected one label per tree"),
    ("a,0,,A,1\na,1,0,B,1\nb,0,,A,\nb,1,0,B,2\n",
     r"nodes.csv: tree b, node 0 \(row 4\): the root's label `label` is empty, but other rows of the tree have one"),
    ("a,0,,A,1\na,1,0,B,2\nb,0,,A,\nb,1,0,B,2\n",
     r"nodes.csv: tree b, node 0 \(row 4\): the label `label` is empty, but its tree's labels differ"),
])
def test_a_missing_label_is_named_for_what_it_is(rows: str, pattern: str) -> None:
    f = _forest("tree_id,node_id,parent_id,token,label\n" + rows)
    with pytest.raises(DataError, match=pattern):
        label_level(f, "label")


def test_a_few_trees_with_differing_labels_turning_the_task_per_node_are_said() -> None:
    spec = ModelSpec(task="tree", blocks=[{"kind": "recurrent", "cell": "child_sum_tree_lstm", "units": 4}])
    rows = ["tree_id,node_id,parent_id,token,label"]
    for t in range(30):
        rows += [f"{t},0,,OP,{t % 2}", f"{t},1,0,tok,{t % 2}"]
    rows[-1] = "29,1,0,tok,0"  # tree 29: 1 on the root, 0 on its child
    data = prepare_trees(_table("\n".join(rows) + "\n"), spec)
    assert data.level == "node"
    assert any(n.startswith("`label` is read as a label per node because 1 of 30 tree(s) have different labels on "
                            "their nodes (e.g. tree 29: '0', '1'); the other 29") for n in data.notices)
    per_node = ["tree_id,node_id,parent_id,token,label"] + [f"{t},{k},{'' if k == 0 else 0},tok,{k % 2}"
                                                           for t in range(30) for k in range(3)]
    data = prepare_trees(_table("\n".join(per_node) + "\n"), spec)
    assert data.level == "node" and not any("read as a label per node" in n for n in data.notices)


def test_tokens_outside_the_vocabulary_are_said_at_prediction() -> None:
    from builder.data.trees import token_ids, unseen_token_notices

    f = _forest("tree_id,node_id,parent_id,token,label\na,0,,MAX,1\na,1,0,7,1\nb,0,,ZZ,1\nb,1,0,QQ,1\nb,2,0,7,1\n")
    vocab = (UNKNOWN, "MAX", "7")
    assert unseen_token_notices(f, token_ids(f.tokens, vocab)) == [
        "2 node(s) have a token that the training trees lack (e.g. tree b, node 0, row 4; 'QQ', 'ZZ'); "
        "the model reads them as <unk>"]
    assert unseen_token_notices(f, token_ids(f.tokens, (*vocab, "ZZ", "QQ"))) == []


def test_a_single_class_is_refused_before_the_model_is_built() -> None:
    spec = ModelSpec(task="tree", blocks=[{"kind": "recurrent", "cell": "child_sum_tree_lstm", "units": 4}])
    rows = ["tree_id,node_id,parent_id,token,label"] + [f"{t},0,,OP,7\n{t},1,0,tok,7" for t in range(20)]
    with pytest.raises(DataError, match=r"nodes.csv: label column `label` has a single class \['7'\] in the training "
                                         r"trees; classification needs at least two"):
        prepare_trees(_table("\n".join(rows) + "\n"), spec)
