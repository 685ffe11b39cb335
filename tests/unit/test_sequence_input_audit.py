"""Messy long-format sequence CSVs for tasks classify and label_steps: each case is either a DataError
naming the file, row or column (the CLI's one `error:` line) or a stated handling, never a silently
different model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder import load_preset
from builder.data.read import DataError
from builder.data.sequences import prepare_sequences
from builder.spec import ModelSpec
from builder.tasks.label_steps import prepare_steps


def classify_spec() -> ModelSpec:
    return ModelSpec.from_dict({"task": "classify", "data": {"id_col": "sequence_id", "label_col": "label"},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}]})


def steps_spec() -> ModelSpec:
    return load_preset("bilstm_tagger").updated(data={"id_col": "sequence_id", "label_col": "label", "order_col": "t"})


def frame(n_seq: int = 12, length: int = 6, source: str = "d.csv", label=lambda s: f"c{s % 2}") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [(s, t, float(rng.normal()), label(s)) for s in range(n_seq) for t in range(length)]
    df = pd.DataFrame(rows, columns=["sequence_id", "t", "a", "label"])
    df.attrs["source"] = source
    return df


def steps(n_seq: int = 12, source: str = "d.csv", length: int = 8) -> pd.DataFrame:
    """Label per step: "up" where `a` > 0 (it changes within a sequence)."""
    df = frame(n_seq, length, source)
    df["label"] = np.where(df["a"] > 0, "up", "down")
    return df


def prepare(task: str, df: pd.DataFrame, test: pd.DataFrame | None = None):
    if task == "classify":
        return prepare_sequences(df, classify_spec(), test)
    return prepare_steps(df, steps_spec(), test)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_trailing_space_in_a_label_is_not_a_class_of_its_own(task):
    df = frame() if task == "classify" else steps()
    df.loc[df.sequence_id == 3, "label"] = df.loc[df.sequence_id == 3, "label"] + " "
    assert prepare(task, df).classes == prepare(task, frame() if task == "classify" else steps()).classes


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_labels_read_as_floats_name_the_same_classes_as_whole_numbers(task):
    """A training file of 0/1 and a test file whose label column pandas read as floats (0.0/1.0): one set of
    classes, not four (which scored the model on classes it never saw)."""
    train = frame(label=lambda s: s % 2)
    test = frame(6, source="t.csv", label=lambda s: float(s % 2)).assign(sequence_id=lambda d: d.sequence_id + 100)
    if task == "label_steps":
        train["label"] = (train["a"] > 0).astype(int)
        test["label"] = (test["a"] > 0).astype(float)
    data = prepare(task, train, test)
    assert data.classes == ("0", "1")


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_label_only_the_test_file_has_is_an_error_naming_it(task):
    """Before: the label became a class the model never trained on, and its test sequences counted as misses."""
    train = frame() if task == "classify" else steps()
    test = (frame(6, source="t.csv") if task == "classify" else steps(6, source="t.csv"))
    test = test.assign(sequence_id=lambda d: d.sequence_id + 100)
    test.loc[test.sequence_id == 101, "label"] = "sideways"
    with pytest.raises(DataError, match=r"t\.csv: label column `label` has 1 label\(s\) that the training file d\.csv "
                                        r"does not have: \['sideways'\]"):
        prepare(task, train, test)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_two_rows_at_one_position_of_a_sequence_is_an_error_naming_the_rows(task):
    """Before: accepted, the two rows kept in file order."""
    df = frame() if task == "classify" else steps()
    df.loc[(df.sequence_id == 2) & (df.t == 3), "t"] = 2
    first = int(np.flatnonzero((df.sequence_id == 2) & (df.t == 2))[0]) + 2  # its file row (header = 1)
    with pytest.raises(DataError, match=rf"d\.csv: sequence 2 has two or more rows at the same position in order "
                                        rf"column `t` \(rows \[{first}, {first + 1}\]\)"):
        prepare(task, df)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_an_empty_or_text_order_cell_is_an_error_naming_the_row(task):
    df = frame() if task == "classify" else steps()
    df["t"] = df["t"].astype(float)
    df.loc[7, "t"] = np.nan
    with pytest.raises(DataError, match=r"d\.csv: order column `t` is empty in 1 row\(s\) \(first: rows \[9\]\)"):
        prepare(task, df)
    df["t"] = df["t"].astype(object)
    df.loc[7, "t"] = "seven"
    with pytest.raises(DataError, match=r"d\.csv: column `t` expected numbers, found text in 1 row\(s\) \(row 9: 'seven'\)"):
        prepare(task, df)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_dates_in_the_order_column_order_steps_in_time_not_as_text(task):
    """Before: a text order column was sorted as text ("10 Jan 2020" before "9 Jan 2020")."""
    df = frame(length=12) if task == "classify" else steps(length=12)
    dated = df.assign(t=[f"{d + 1} Jan 2020" for d in df["t"]])
    a, b = prepare(task, df), prepare(task, dated)
    np.testing.assert_array_equal(a.x, b.x)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_named_feature_column_without_values_is_an_error(task):
    """Before: its missing values were filled in, a column of zeros, with a note only."""
    df = (frame() if task == "classify" else steps()).assign(b=np.nan)
    spec = classify_spec() if task == "classify" else steps_spec()
    spec = spec.updated(data={"features": ["a", "b"]})
    run = prepare_sequences if task == "classify" else prepare_steps
    with pytest.raises(DataError, match=r"d\.csv: feature column\(s\) \['b'\] have no values"):
        run(df, spec)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_predict_on_a_file_whose_feature_column_is_empty_is_an_error(task):
    """Before: every sequence was predicted from zeros in that column."""
    import keras

    from builder.tasks.registry import get_task

    data = prepare(task, frame() if task == "classify" else steps())
    resolved = get_task(task).resolve(data)
    new = (frame(3, source="new.csv") if task == "classify" else steps(3, source="new.csv")).assign(a=np.nan)
    model = keras.Sequential([keras.layers.Input((None, 1)), keras.layers.Dense(2)])  # never reached
    with pytest.raises(DataError, match=r"new\.csv: feature column\(s\) \['a'\] have no values"):
        get_task(task).predict(resolved, new, model)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_wide_file_one_row_per_sequence_is_an_error_saying_so(task):
    """Before: each row was a sequence of one step with the step columns as features, and it trained."""
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({"sequence_id": range(12), **{f"x{i}": rng.normal(size=12) for i in range(6)},
                         "label": [f"c{i % 2}" for i in range(12)]})
    wide.attrs["source"] = "wide.csv"
    with pytest.raises(DataError, match=r"wide\.csv: every sequence id in column `sequence_id` is on one row only "
                                        r"\(12 ids\); expected long format"):
        if task == "classify":
            prepare_sequences(wide, classify_spec())
        else:
            prepare_steps(wide, steps_spec().updated(data={"order_col": None}))


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_labels_that_differ_only_in_case_are_noted(task):
    df = frame() if task == "classify" else steps()
    df.loc[df.sequence_id == 4, "label"] = df.loc[df.sequence_id == 4, "label"].str.upper()
    data = prepare(task, df)
    assert len(data.classes) == (3 if task == "classify" else 4)  # kept apart, but said
    assert any("differ only in case" in n and "`label`" in n for n in data.notices), data.notices


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_predict_notes_unknown_labels_a_missing_order_column_and_cut_sequences(task):
    """Before: all three went by without a word (`predict` prints the frame's notices as `note:` lines)."""
    import keras

    from builder.tasks.registry import get_task

    data = prepare(task, frame() if task == "classify" else steps())
    resolved = get_task(task).resolve(data)
    new = (frame(3, length=20, source="new.csv") if task == "classify" else steps(3, source="new.csv"))
    new = new.drop(columns=["t"]).assign(label="zebra")
    inp = keras.layers.Input((None, 1))
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.GRU(2, return_sequences=task == "label_steps")(inp))
    pred = get_task(task).predict(resolved, new, keras.Model(inp, out))
    notes = " | ".join(pred.attrs["notices"])
    assert "not among the model's classes" in notes and "['zebra']" in notes, notes
    assert "order column `t` (used in training) not found" in notes, notes
    if task == "classify":
        assert "3 sequence(s) longer than the model's 6 steps were cut" in notes, notes


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_a_row_without_a_sequence_id_is_an_error_naming_it(task):
    """Before: pandas' groupby left such rows out without a word."""
    df = frame() if task == "classify" else steps()
    df["sequence_id"] = df["sequence_id"].astype(object)
    df.loc[[3, 20], "sequence_id"] = None
    with pytest.raises(DataError, match=r"d\.csv: sequence id column `sequence_id` is empty in 2 row\(s\) "
                                        r"\(first: rows \[5, 22\]\)"):
        prepare(task, df)


def test_a_label_that_differs_for_every_sequence_is_an_error():
    """Before: 12 sequences became 12 classes of one sequence each, and it trained (majority accuracy 0)."""
    df = frame()
    df["label"] = df["sequence_id"] * 1.37
    with pytest.raises(DataError, match=r"d\.csv: label column `label` has a different value for each of the 12 sequences"):
        prepare("classify", df)


def test_a_class_without_a_training_sequence_is_noted():
    df = frame(n_seq=20)
    df.loc[df.sequence_id == 7, "label"] = "rare"  # one sequence: the split's test part may take it
    notes = set()
    for seed in range(40):
        data = prepare_sequences(df, classify_spec().updated(training={"seed": seed}))
        trained = {data.classes[k] for k in np.unique(data.y[data.split == "train"])}
        if "rare" not in trained:
            notes |= {n for n in data.notices if "['rare']" in n and "no sequence in the training part" in n}
            assert notes, data.notices
    assert notes, "no seed put the single `rare` sequence outside the training part"


def test_a_label_that_changes_within_a_sequence_points_to_label_steps():
    df = steps()
    with pytest.raises(DataError, match=r"has several labels .* expected one label per sequence \(a label for every "
                                        r"step is task label_steps\)"):
        prepare("classify", df)


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_steps_in_file_order_without_an_order_column_are_noted(task):
    df = (frame() if task == "classify" else steps()).rename(columns={"t": "tick"}).drop(columns=["tick"])
    spec = classify_spec() if task == "classify" else steps_spec().updated(data={"order_col": None})
    data = (prepare_sequences if task == "classify" else prepare_steps)(df, spec)
    assert any("no order column" in n and "order of the file's rows" in n for n in data.notices), data.notices
    assert not any("no order column" in n for n in prepare(task, frame() if task == "classify" else steps()).notices)


def test_label_steps_with_one_label_left_in_training_is_an_error_before_training():
    """Before: the model trained, then the windowed logistic regression failed with scikit-learn's message
    ("This solver needs samples of at least 2 classes")."""
    rows = [(f"s{s}", t, float(np.sin(s + t)), "down" if s == 5 and t < 3 else "up") for s in range(12) for t in range(6)]
    df = pd.DataFrame(rows, columns=["sequence_id", "t", "a", "label"])
    df.attrs["source"] = "d.csv"
    seen = 0
    for seed in range(40):
        spec = steps_spec().updated(training={"seed": seed})
        try:
            data = prepare_steps(df, spec)
        except DataError as err:
            assert "training part's sequences have a single label ['up']" in str(err) and "['down']" in str(err)
            seen += 1
            continue
        assert (data.y[data.split == "train"] == data.classes.index("down")).any()
    assert seen, "no seed split sequence s5 off the training part"


def test_classify_with_one_class_left_in_training_is_an_error_before_training():
    df = frame(n_seq=12, label=lambda s: "rare" if s == 5 else "common")
    seen = 0
    for seed in range(40):
        try:
            data = prepare_sequences(df, classify_spec().updated(training={"seed": seed}))
        except DataError as err:
            assert "training part's sequences have a single class ['common']" in str(err) and "['rare']" in str(err)
            seen += 1
            continue
        assert (data.y[data.split == "train"] == data.classes.index("rare")).any()
    assert seen, "no seed split the `rare` sequence off the training part"


def test_no_numeric_feature_names_the_columns_and_the_decimal_comma(tmp_path):
    """Before: "found none", without a column or a value (the cells were decimal commas in a comma-separated file).
    The reader now names the column and row (builder.data.read.check_comma_numbers); a frame built in memory
    still gets the message of resolve_sequence_columns."""
    from builder.data.read import load_table

    path = tmp_path / "d.csv"
    path.write_text("sequence_id,t,a,label\n" + "".join(f'{s},{t},"{s % 2},{t}5",c{s % 2}\n' for s in range(4) for t in range(3)))
    with pytest.raises(DataError, match=r"d\.csv: column `a` has numbers with a decimal comma \(row 2: '0,05'\); "
                                        r"expected decimal points \(0\.5\), as in a comma-separated file \(with decimal "
                                        r"commas, separate the fields with ; or tab\)"):
        load_table(path)
    df = pd.read_csv(path, dtype={"a": str})
    df.attrs["source"] = "d.csv"
    with pytest.raises(DataError, match=r"d\.csv: expected at least one numeric feature column besides id, order and "
                                        r"label, found none \(first values: `a`: '0,05'\); numbers with a decimal comma "
                                        r"need a separator other than the comma"):
        prepare_sequences(df, classify_spec())


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_gaps_in_the_order_column_are_noted(task):
    df = frame() if task == "classify" else steps()
    assert not any("skip positions" in n for n in prepare(task, df).notices)
    df.loc[(df.sequence_id == 4) & (df.t >= 3), "t"] += 2  # 0, 1, 2, 5, 6 ...
    notes = [n for n in prepare(task, df).notices if "skip positions" in n]
    assert notes == ["1 sequence(s) skip positions in order column `t` (e.g. sequence 4: steps 1 to 3 apart); "
                     "their steps are taken as consecutive"], notes
