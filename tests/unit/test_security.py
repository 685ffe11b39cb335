"""Uploaded models and specs are data: safe-mode loading, schema-checked specs, nothing unpickled,
formula-safe CSVs, and user-given names that never become paths outside their folder."""

from __future__ import annotations

import csv
import io
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import main
from builder.files import csv_safe, safe_child
from builder.serving.export import load_run_model
from builder.spec import ModelSpec, SpecError
from builder.training.runs import Run
from tests.conftest import REPO

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)", "-2+3", "\t=1+1", "\rcmd", " =1+2"]


def lambda_run(tmp_path: Path) -> Run:
    import keras

    inputs = keras.Input((4, 1))
    outputs = keras.layers.Lambda(lambda x: x[:, -1:, :] * 2)(inputs)
    run = Run(tmp_path / "evil")
    run.path.mkdir()
    keras.Model(inputs, outputs).save(run.file("model.keras"))
    run.write_json("metadata.json", {"format": "rnn-studio/1", "task": "forecast", "features": ["y"], "targets": ["y"], "lookback": 4,
                                     "horizon": 1, "time_col": None})
    run.write_json("data.json", {})
    return run


def test_keras_file_with_a_lambda_layer_is_refused(tmp_path, capsys):
    run = lambda_run(tmp_path)
    with pytest.raises(ValueError, match="(?i)lambda"):
        load_run_model(run)
    data = tmp_path / "d.csv"
    data.write_text("y\n" + "".join(f"{i}\n" for i in range(10)))
    code = main(["predict", "--run", str(run.path), "--data", str(data), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Lambda" in err and "Traceback" not in err
    assert not (tmp_path / "p.csv").exists()


def test_specs_are_schema_checked_data(tmp_path):
    with pytest.raises(SpecError, match="unknown field `__class__`"):
        ModelSpec.from_dict({"__class__": "os.system"})
    with pytest.raises(SpecError, match="blocks.0"):
        ModelSpec.from_dict({"blocks": [{"kind": "lambda", "function": "lambda x: x"}]})
    pickled = tmp_path / "spec.json"
    pickled.write_bytes(pickle.dumps({"task": "forecast"}))
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json(pickled)
    from builder.app import parse_spec_upload

    with pytest.raises(SpecError, match="not valid JSON"):
        parse_spec_upload(pickle.dumps(ModelSpec()))


def test_nothing_is_unpickled_or_evaluated():
    """No code path loads pickles, turns safe mode off, or evaluates strings."""
    pattern = re.compile(r"pickle\.load|allow_pickle\s*=\s*True|safe_mode\s*=\s*False|(?<![.\w])eval\(|(?<![.\w])exec\(|"
                         r"joblib\.load|torch\.load|yaml\.load|marshal\.load|enable_unsafe_deserialization")
    files = [*(REPO / "builder").rglob("*.py"), *(REPO / "pages").rglob("*.py"), REPO / "app.py"]
    hits = [f"{f.relative_to(REPO)}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if pattern.search(line)]
    assert hits == []


def test_csv_safe_neutralises_formulas_and_keeps_numbers():
    df = pd.DataFrame({"label": [*FORMULAS, "-1.5", "+2", "plain", "a=b"],
                       "value": [-1.5, 2.0, -3.0, 4.0, -5.0, 6.0, 7.0, -8.0, 9.0, 10.0, 11.0]})
    out = csv_safe(df)
    assert out["label"].tolist()[: len(FORMULAS)] == ["'" + f for f in FORMULAS]
    assert out["label"].tolist()[len(FORMULAS):] == ["-1.5", "+2", "plain", "a=b"]
    assert out["value"].tolist() == df["value"].tolist() and out["value"].dtype == df["value"].dtype
    assert list(csv_safe(pd.DataFrame(columns=["=x", "ok"])).columns) == ["'=x", "ok"]


def test_real_classify_predict_csv_is_formula_safe(tmp_path, capsys):
    labels = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)"]
    rows = []
    rng = np.random.default_rng(0)
    for sid in range(18):
        label = labels[sid % 3]
        ident = ["-5", "=cmd|' /C calc'!A0", f"s{sid}"][sid % 3] if sid < 3 else f"s{sid}"
        rows += [(ident, t, float(np.sin(t * (1 + sid % 3)) + rng.normal(0, 0.1)), label) for t in range(6)]
    data = tmp_path / "seq.csv"
    pd.DataFrame(rows, columns=["sequence_id", "t", "a", "label"]).to_csv(data, index=False)
    run = tmp_path / "run"
    spec = tmp_path / "spec.json"
    spec.write_text(ModelSpec.from_dict({
        "task": "classify", "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
        "training": {"epochs": 1, "patience": None}}).to_json())
    assert main(["train", "--data", str(data), "--spec", str(spec), "--out", str(run), "--quiet"]) == 0, capsys.readouterr().err
    out = tmp_path / "pred.csv"
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(out)]) == 0
    cells = [c for row in csv.reader(io.StringIO(out.read_text())) for c in row]
    risky = [c for c in cells if c.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert risky == ["-5"], "only the real negative number keeps its sign"
    text = out.read_text()
    for label in labels:
        assert f"'{label}".replace('"', '""') in text
    assert "'=cmd|' /C calc'!A0" in text
    probs = pd.read_csv(out).filter(like="p_")
    assert probs.shape[1] == 3 and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


@pytest.mark.parametrize("name", ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "", " x", "x\x00", "../../run"])
def test_safe_child_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(ValueError, match="invalid name"):
        safe_child(tmp_path, name)


def test_safe_child_accepts_plain_names(tmp_path):
    assert safe_child(tmp_path, "run-1.x") == (tmp_path / "run-1.x").resolve()


def test_user_names_stay_inside_the_data_folders(tmp_path):
    from builder import paths
    from builder.app import new_run_dir, run_by_id, save_upload
    from builder.spec.presets import save_preset

    up = save_upload(b"a,b\n1,2\n", "../../../etc/passwd")
    assert up.parent == paths.subdir("uploads").resolve()
    run_dir = new_run_dir(ModelSpec(name="../../evil"), preset="../../x")
    assert run_dir.parent == paths.subdir("runs").resolve()
    assert run_by_id("../../etc") is None and run_by_id("/etc") is None
    preset = save_preset(ModelSpec(), paths.subdir("presets"), "../../evil")
    assert preset.parent == paths.subdir("presets")
    json.loads(preset.read_text())
