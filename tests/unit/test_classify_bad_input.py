"""Bad classification input at the CLI: one `error:` line and exit 2, or a stated handling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import main
from builder.spec import ModelSpec


def _spec(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(ModelSpec.from_dict({
        "task": "classify", "data": {"id_col": "sequence_id", "label_col": "label"},
        "blocks": [{"kind": "fcn", "filters": 4}, {"kind": "recurrent", "cell": "gru", "units": 4}],
        "training": {"epochs": 1, "patience": None, "baselines": "fast"}}).to_json())
    return path


def _frame(n_seq: int = 12, length: int = 6, classes: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [(s, t, float(rng.normal()), f"c{s % classes}") for s in range(n_seq) for t in range(length)]
    return pd.DataFrame(rows, columns=["sequence_id", "t", "a", "label"])


def _train(tmp_path, df: pd.DataFrame, capsys) -> tuple[int, str]:
    df.to_csv(tmp_path / "d.csv", index=False)
    code = main(["train", "--data", str(tmp_path / "d.csv"), "--spec", str(_spec(tmp_path)), "--out", str(tmp_path / "run"),
                 "--quiet"])
    return code, capsys.readouterr().err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_single_class_is_refused(tmp_path, capsys):
    code, err = _train(tmp_path, _frame(classes=1), capsys)
    assert code == 2 and "single class" in _one_error_line(err)


def test_missing_label_names_the_rows(tmp_path, capsys):
    df = _frame()
    df.loc[[7, 8], "label"] = None
    code, err = _train(tmp_path, df, capsys)
    line = _one_error_line(err)
    assert code == 2 and "label column `label` is empty in 2 row(s)" in line and "[9, 10]" in line


def test_ten_thousand_classes_is_refused(tmp_path, capsys):
    df = _frame(n_seq=10_000, length=2, classes=10_000)
    code, err = _train(tmp_path, df, capsys)
    line = _one_error_line(err)
    assert code == 2 and "10000 distinct values" in line and "at most 1000" in line


def test_a_sequence_of_length_one_is_padded_and_trains(tmp_path, capsys):
    """Stated handling: a length-1 sequence is padded (masked in the model, stretched for the baselines)."""
    df = _frame()
    df = df[~((df.sequence_id == 3) & (df.t > 0))]
    code, err = _train(tmp_path, df, capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["nn_euclidean"]["accuracy"] is not None
    assert any("stretched" in n for n in metrics["baseline_notes"])


@pytest.mark.parametrize("field", ["baselines", "class_weight"])
def test_new_training_fields_are_validated(field):
    from builder.spec import SpecError

    with pytest.raises(SpecError, match=f"training.{field}"):
        ModelSpec.from_dict({"task": "classify", "training": {field: "bogus"}})
