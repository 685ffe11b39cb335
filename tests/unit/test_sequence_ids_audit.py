"""Sequence ids, labels and order of long-format files for tasks classify and label_steps (the audit after
tests/unit/test_sequence_input_audit.py): ids compared as the file writes them, sequences that the
`--test-data` file shares with the training file, and columns named in two roles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder import load_preset
from builder.data.sequences import group_sequences, load_sequence_table
from builder.spec import ModelSpec
from builder.tasks.label_steps import group_steps
from builder.tasks.registry import get_task


def spec(task: str, **data) -> ModelSpec:
    if task == "classify":
        return ModelSpec.from_dict({"task": "classify", "data": data,
                                    "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}]})
    return load_preset("bilstm_tagger").updated(data=data)


def write(path: Path, rows: list[tuple], header: str = "sequence_id,t,a,label") -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def long_file(path: Path, ids: list[str], length: int = 4, seed: int = 0, per_step: bool = False) -> Path:
    """A long-format CSV of the sequences `ids` (written as given), classes alternating c0 / c1."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, sid in enumerate(ids):
        for t in range(length):
            v = round(float(rng.normal()), 4)
            rows.append((sid, t, v, ("up" if v > 0 else "down") if per_step else f"c{k % 2}"))
    return write(path, rows)


class UniformModel:
    """Stands in for a Keras model in `predict`: equal probabilities for every class (and step)."""

    def __init__(self, n_classes: int, per_step: bool = False) -> None:
        self.n, self.per_step = n_classes, per_step

    def predict(self, x: np.ndarray, verbose: int = 0) -> np.ndarray:
        shape = x.shape[:2] if self.per_step else x.shape[:1]
        return np.full((*shape, self.n), 1.0 / self.n, dtype=np.float32)


# ---- ids as the file writes them ------------------------------------------------------------------------

ALIKE = "sequence_id,t,a,label\n001,0,1,x\n001,1,2,x\n1,0,2,y\n1,1,5,y\n1.0,0,3,z\n1.0,1,3,z\n10,0,1,x\n10,1,1,x\n2,0,1,y\n2,1,1,y\n"


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_ids_001_1_and_1_0_are_three_sequences_in_numeric_order(tmp_path, task):
    """Before: the id column was read as numbers, so 001, 1 and 1.0 were one sequence of six rows (with
    two rows at each position, or, without an order column, six steps of three recordings)."""
    (tmp_path / "d.csv").write_text(ALIKE)
    df = load_sequence_table(tmp_path / "d.csv", None)
    group = group_sequences if task == "classify" else group_steps
    ids, xs, *_, notices = group(df, "sequence_id", "t", ["a"], "label")
    assert ids == ["001", "1", "1.0", "2", "10"]  # numeric order as before (2 before 10), ties as written
    assert [len(x) for x in xs] == [2, 2, 2, 2, 2]
    assert any("sequence id column `sequence_id` writes 1 number(s) in several ways ('001' and '1' and '1.0'; "
               "first: rows [2, 3, 4, 5, 6])" in n for n in notices), notices


def test_text_ids_keep_their_spelling_and_are_stripped(tmp_path):
    path = write(tmp_path / "d.csv", [("a ", 0, 1, "x"), ("a", 1, 2, "x"), ("b", 0, 3, "y"), ("b", 1, 3, "y")])
    ids, xs, labels, notices = group_sequences(load_sequence_table(path, None), "sequence_id", "t", ["a"], "label")
    assert ids == ["a", "b"] and [len(x) for x in xs] == [2, 2] and not notices


def test_a_named_id_column_is_read_as_text_and_others_as_numbers(tmp_path):
    path = write(tmp_path / "d.csv", [("007", 0, '"1,234"', "x"), ("7", 0, 2, "x")], header="rec,t,a,label")
    df = load_sequence_table(path, "rec")
    assert df["rec"].tolist() == ["007", "7"] and pd.api.types.is_numeric_dtype(df["a"])
    assert df["a"].tolist() == [1234, 2]  # a quoted thousands comma, as every column reads it


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_training_and_predict_name_ids_as_the_file_writes_them(tmp_path, task):
    """Before: predict's CSV named sequence `007` as 7 (and merged it with a sequence `7`)."""
    ids = [f"{k:03d}" for k in range(12)]
    t = get_task(task)
    s = spec(task, id_col="sequence_id", label_col="label", order_col="t")
    data = t.prepare(long_file(tmp_path / "d.csv", ids, per_step=task == "label_steps"), s)
    assert sorted(map(str, data.ids)) == ids
    resolved = t.resolve(data)
    new = long_file(tmp_path / "new.csv", ["007", "7", "x1"], per_step=task == "label_steps")
    df = t.load_new(new, resolved=resolved)
    out = t.predict(resolved, df, UniformModel(len(resolved.classes), per_step=task == "label_steps"))
    got = out["sequence_id"].drop_duplicates().tolist()
    assert sorted(got) == ["007", "7", "x1"]
    if task == "classify":
        assert len(out) == 3


# ---- sequences the --test-data file shares with the training file -----------------------------------------

@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_test_sequences_that_are_training_sequences_are_noted(tmp_path, task):
    """Before: a test sequence that was also trained on (same id or another) went by without a word, and the
    test scores counted it (Chinatown's split files have one: test 40 is training 18)."""
    per = task == "label_steps"
    train = long_file(tmp_path / "train.csv", [str(k) for k in range(12)], per_step=per)
    rows = pd.read_csv(train)
    twin = rows[rows.sequence_id.isin([3, 5])].assign(sequence_id=lambda d: d.sequence_id.map({3: 3, 5: 105}))
    fresh = pd.read_csv(long_file(tmp_path / "x.csv", [str(k) for k in range(100, 104)], seed=1, per_step=per))
    pd.concat([twin, fresh]).to_csv(tmp_path / "test.csv", index=False)
    data = get_task(task).prepare(train, spec(task, order_col="t"), tmp_path / "test.csv")
    notes = " | ".join(data.notices)
    assert (f"2 of the 6 sequences of the test file {tmp_path / 'test.csv'} are also in the training file, step for "
            "step with the same label (first: '3', '105' (training '5'))") in notes, notes
    assert "ids are per file" not in notes


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_test_ids_that_name_other_sequences_in_training_are_noted_as_per_file(tmp_path, task):
    per = task == "label_steps"
    train = long_file(tmp_path / "train.csv", [str(k) for k in range(12)], per_step=per)
    test = long_file(tmp_path / "test.csv", [str(k) for k in range(6)], seed=1, per_step=per)
    data = get_task(task).prepare(train, spec(task, order_col="t"), test)
    notes = " | ".join(data.notices)
    assert (f"6 sequence id(s) of the test file {test} in column `sequence_id` also occur in the training file with "
            "other rows (first: '0', '1', '2', '3', '4'); ids are per file: they are different sequences") in notes
    assert "also in the training file, step for step" not in notes
    assert len(data.ids) == 18  # still 12 + 6 sequences


def test_separate_test_ids_and_rows_give_no_notice(tmp_path):
    train = long_file(tmp_path / "train.csv", [str(k) for k in range(12)])
    test = long_file(tmp_path / "test.csv", [str(k) for k in range(100, 106)], seed=1)
    data = get_task("classify").prepare(train, spec("classify"), test)
    assert not [n for n in data.notices if "training file" in n], data.notices


# ---- a quoted 1,234 in a comma-separated file: one rule for every reader -----------------------------------

def comma_file(path: Path, cells: dict[int, str], late: bool) -> Path:
    """12 sequences of 6 steps, feature `a` = the row number, some cells replaced by quoted `cells`
    (in the first lines, or past the 50 lines the dialect is sniffed from)."""
    rows = [[str(s), str(t), str(s * 6 + t), f"c{s % 2}"] for s in range(12) for t in range(6)]
    for k, v in cells.items():
        rows[k + (60 if late else 0)][2] = f'"{v}"'
    path.write_text("sequence_id,t,a,label\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("late", [False, True])
def test_a_quoted_thousands_comma_is_one_number_for_classify_and_forecast(tmp_path, late):
    """`1,234` (quoted) is 1234 in a classify feature, as in a forecast column read by the same
    load_table, whether it is in the first lines or past them (late_grouped_numbers)."""
    from builder.data.read import load_table
    from builder.data.stream import read_series_file

    path = comma_file(tmp_path / "d.csv", {1: "1,234", 2: "12,345,678"}, late)
    data = get_task("classify").prepare(path, spec("classify"))
    k = 60 if late else 0
    assert data.x.reshape(-1)[k + 1] == 1234 and data.x.reshape(-1)[k + 2] == 12_345_678
    assert "numbers with a thousands separator ',' read as plain numbers" in data.notices
    assert load_table(path)["a"].iloc[k + 1] == 1234
    series = read_series_file(path, ModelSpec.from_dict({"task": "forecast", "data": {"targets": ["a"]},
                                                         "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}]}), 4)
    assert 1234 in series.values[:, 0]


@pytest.mark.parametrize("late", [False, True])
def test_a_decimal_comma_beside_a_thousands_comma_is_an_error_naming_both(tmp_path, late):
    """Before: in the first lines pandas' thousands="," read the quoted 0,5 as 5 and 12,5 as 125 (past
    them, the column stayed text); now one rule wherever the cells are."""
    from builder.data.read import DataError

    path = comma_file(tmp_path / "d.csv", {1: "1,234", 3: "0,5"}, late)
    r = 3 + (60 if late else 0)
    with pytest.raises(DataError, match=rf"d\.csv: column `a` has numbers with a decimal comma \(row {r + 2}: '0,5'\) "
                                        rf"beside thousands commas \(row {r}: '1,234'\); expected decimal points"):
        get_task("classify").prepare(path, spec("classify"))


def test_a_column_of_decimal_commas_beside_other_features_is_an_error_not_left_out(tmp_path):
    """Before: read as text, the column was not a feature and training went on without it."""
    from builder.data.read import DataError

    rows = "".join(f'{s},{t},{t},"0,{s}{t}",c{s % 2}\n' for s in range(12) for t in range(6))
    (tmp_path / "d.csv").write_text("sequence_id,t,a,b,label\n" + rows)
    with pytest.raises(DataError, match=r"d\.csv: column `b` has numbers with a decimal comma \(row 2: '0,00'\)"):
        get_task("classify").prepare(tmp_path / "d.csv", spec("classify"))


# ---- columns in two roles ---------------------------------------------------------------------------------

def rows_frame(task: str, n_seq: int = 12, length: int = 6, **extra) -> pd.DataFrame:
    """Long rows (sequence_id, t, a, label) plus `extra` columns (functions of the frame)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame([(s, t, float(rng.normal())) for s in range(n_seq) for t in range(length)],
                      columns=["sequence_id", "t", "a"])
    df["label"] = np.where(df["a"] > 0, "up", "down") if task == "label_steps" else [f"c{s % 2}" for s in df.sequence_id]
    for name, f in extra.items():
        df[name] = f(df)
    df.attrs["source"] = "d.csv"
    return df


def prepared(task: str, df: pd.DataFrame, **data):
    from builder.data.sequences import prepare_sequences
    from builder.tasks.label_steps import prepare_steps

    return (prepare_sequences if task == "classify" else prepare_steps)(df, spec(task, **data))


@pytest.mark.parametrize("task", ["classify", "label_steps"])
@pytest.mark.parametrize("role", ["label", "id"])
def test_features_naming_the_label_or_the_id_column_are_an_error(task, role):
    """Before: `--features a,label` (a numeric label) trained the model with the answer as an input, and
    `--features a,sequence_id` with the id as a number."""
    from builder.data.read import DataError

    df = rows_frame(task)
    if role == "label":
        df["label"] = (df["label"] == df["label"].iloc[0]).astype(int)
    col = "label" if role == "label" else "sequence_id"
    with pytest.raises(DataError, match=rf"d\.csv: the features \(--features / data\.features\) include the {role} "
                                        rf"column `{col}`"):
        prepared(task, df, features=["a", col])


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_one_column_in_two_roles_is_an_error(task):
    from builder.data.read import DataError

    with pytest.raises(DataError, match=r"d\.csv: column `sequence_id` is named as both the id column and the order "
                                        r"column"):
        prepared(task, rows_frame(task), order_col="sequence_id")
    with pytest.raises(DataError, match=r"column `t` is named as both the label column and the order column"):
        prepared(task, rows_frame(task), label_col="t", order_col="t")


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_the_order_column_as_a_feature_is_noted(task):
    data = prepared(task, rows_frame(task), features=["a", "t"])
    assert data.inputs == ("a", "t")
    assert "order column `t` is also a feature: the model reads each step's position as an input" in data.notices


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_saved_row_number_is_not_a_feature(task):
    """Before: `Unnamed: 0` (DataFrame.to_csv's index) was a feature: where in the file a sequence is."""
    df = rows_frame(task, **{"Unnamed: 0": lambda d: np.arange(len(d))})
    data = prepared(task, df)
    assert data.inputs == ("a",)
    assert any(n.startswith("column(s) ['Unnamed: 0'] count the file's rows") for n in data.notices), data.notices
    assert prepared(task, df, features=["a", "Unnamed: 0"]).inputs == ("a", "Unnamed: 0")  # named: used
    assert get_task(task).guess_columns(df, spec(task).data)["features"] == ["a"]


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_feature_that_is_the_label_written_another_way_is_noted(task):
    """Before: a numeric copy of the label (label and label_code) was a feature without a word."""
    df = rows_frame(task, label_code=lambda d: d["label"].map({"c0": 0, "c1": 1, "up": 1, "down": 0}))
    data = prepared(task, df)
    assert "label_code" in data.inputs
    notes = [n for n in data.notices if "written another way" in n]
    assert len(notes) == 1 and notes[0].startswith("feature column `label_code` is the label `label` written another "
                                                   "way"), data.notices
    assert not [n for n in prepared(task, rows_frame(task)).notices if "written another way" in n]


def test_roles_found_by_name_prefer_label_to_an_axis_named_y():
    """Before: in `sequence_id, x, y, z, label` the first label-like name in file order, the y axis, was
    the label (and the real label a feature when numeric)."""
    df = rows_frame("classify", x=lambda d: d["a"] * 2, y=lambda d: d["a"] * 3)
    df = df[["sequence_id", "t", "x", "y", "a", "label"]]
    df.attrs["source"] = "d.csv"
    data = prepared("classify", df)
    assert data.label_col == "label" and data.inputs == ("x", "y", "a")
    assert get_task("classify").guess_columns(df, spec("classify").data)["label_col"] == "label"


def test_cli_train_and_predict_keep_ids_as_written_and_note_a_shared_sequence(sequences_csv, tmp_path, capsys):
    """End to end (one epoch of a 4-unit GRU): ids 000 ... in training, a test file that repeats one
    training sequence, and predict's CSV naming `007` and `7` as two sequences."""
    import json

    from builder.__main__ import main

    df = pd.read_csv(sequences_csv)
    df["sequence_id"] = df["sequence_id"].map("{:03d}".format)
    train = df[~df.sequence_id.str.endswith("0")]
    test = pd.concat([df[df.sequence_id.str.endswith("0")], train[train.sequence_id == "001"]])
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "spec.json").write_text(json.dumps(spec("classify").model_dump(mode="json")))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--test-data", str(tmp_path / "test.csv"),
                 "--spec", str(tmp_path / "spec.json"), "--task", "classify", "--epochs", "1", "--out", str(run)]) == 0
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "note: 1 of the 4 sequences of the test file" in out
    assert "are also in the training file, step for step with the same label (first: '001')" in out, out
    new = pd.concat([df[df.sequence_id == "007"], df[df.sequence_id == "007"].assign(sequence_id="7")])
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", "--run", str(run), "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    pred = pd.read_csv(tmp_path / "p.csv", dtype={"sequence_id": str})
    assert pred["sequence_id"].tolist() == ["007", "7"]  # numeric order, ties as written
