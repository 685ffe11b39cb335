"""Identical sequences (same values and label, other ids) that a random split puts both in training and in
the test or validation part (classify, label_steps): noted, as the `--test-data` overlap is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builder.data.sequences import sequence_digests, split_duplicate_notices
from builder.tasks.registry import get_task
from tests.unit.test_sequence_ids_audit import long_file, spec


def with_repeats(tmp_path, task: str, copies: int) -> tuple:
    """80 distinct sequences, then `copies` more: each a copy of sequence k under id `dup<k>`."""
    per = task == "label_steps"
    path = long_file(tmp_path / "d.csv", [str(k) for k in range(80)], per_step=per)
    rows = pd.read_csv(path)
    dup = rows[rows.sequence_id < copies].assign(sequence_id=lambda d: "dup" + d.sequence_id.astype(str))
    pd.concat([rows, dup]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_repeats_across_the_random_split_are_noted_with_their_ids(tmp_path, task):
    """Before: a copy of a training sequence under another id in the test part counted in the test scores
    without a word."""
    path = with_repeats(tmp_path, task, 80)
    data = get_task(task).prepare(path, spec(task, order_col="t", test_fraction=0.25, val_fraction=0.25))
    notes = " | ".join(data.notices)
    ids = [str(i) for i in data.ids]
    twin = {i: (i[3:] if i.startswith("dup") else "dup" + i) for i in ids}
    part = dict(zip(ids, data.split, strict=True))
    for name, word in (("test", "test"), ("val", "validation")):
        crossing = [i for i in ids if part[i] == name and part[twin[i]] == "train"]
        assert crossing, "the seeded split puts some twins on both sides"
        n = int((data.split == name).sum())
        assert (f"{len(crossing)} of the {n} {word} sequences of the random split are identical to training "
                "sequences, step for step with the same label, under other ids (first: ") in notes, notes
        assert f"{crossing[0]!r} (training {twin[crossing[0]]!r})" in notes


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_no_repeats_no_notice(tmp_path, task):
    path = long_file(tmp_path / "d.csv", [str(k) for k in range(24)], per_step=task == "label_steps")
    data = get_task(task).prepare(path, spec(task, order_col="t", test_fraction=0.25, val_fraction=0.25))
    assert not [n for n in data.notices if "random split" in n], data.notices


def test_same_values_with_another_label_are_not_repeats():
    xs = [np.ones((3, 1), np.float32)] * 2
    split = np.array(["train", "test"], dtype=object)
    assert split_duplicate_notices(["a", "b"], split, sequence_digests(xs, ["x", "y"])) == []
    assert split_duplicate_notices(["a", "b"], split, sequence_digests(xs, ["x", "x"]))


def test_with_a_test_file_only_the_validation_part_is_checked_here(tmp_path):
    """The test file's repeats are `overlap_notices`' (one note, not two)."""
    xs = [np.ones((3, 1), np.float32)] * 3
    split = np.array(["train", "test", "val"], dtype=object)
    notes = split_duplicate_notices(["a", "b", "c"], split, sequence_digests(xs, ["x"] * 3), test_file=True)
    assert len(notes) == 1 and "validation sequences" in notes[0] and "'c' (training 'a')" in notes[0]
