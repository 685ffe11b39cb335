"""Generated code: a standalone plain-Keras file per preset that, with the run's weights beside it,
reproduces the run's predictions in a process that never imports builder; from a spec alone it builds."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from builder import list_presets, load_preset
from builder.data import load_table
from builder.serving import convert
from builder.serving.codegen import CodegenError, code_from_run, code_from_spec
from builder.serving.export import load_run_model
from builder.tasks import prepare_frame
from builder.training.artifacts import metadata_for, save_keras
from builder.training.fit import fit
from builder.training.runs import Run
from tests.conftest import make_sequences_csv, make_series_csv
from tests.unit.test_pipeline import tiny

#: the presets the generator writes: window models without an FCN branch (the FCN branch, the token and
#: tree models are not generated yet; test_a_task_without_a_generator_is_named covers the refusal)
PRESETS = [p["name"] for p in list_presets()
           if load_preset(p["name"]).task in ("forecast", "classify")
           and all(b.kind != "fcn" for b in load_preset(p["name"]).blocks)]


def _tiny_run(name: str, root) -> Run:
    """One epoch of the shrunk preset; model.keras, spec.json and metadata.json as training writes them."""
    spec = load_preset(name)
    if spec.task == "forecast":
        spec, csv = tiny(spec, lookback=8, horizon=2), make_series_csv(root / "series.csv")
    else:
        spec, csv = tiny(spec), make_sequences_csv(root / "seq.csv")
    result = fit(spec, prepare_frame(load_table(csv), spec))
    run = Run(root / name)
    run.path.mkdir(parents=True)
    save_keras(result.raw_model, run.file("model.keras"))
    run.write_json("spec.json", spec.model_dump(mode="json"))
    run.write_json("metadata.json", metadata_for(spec, result.resolved, result.raw_model))
    return run


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Per preset: (generated file, raw windows, the run model's predictions on them)."""
    root = tmp_path_factory.mktemp("codegen")
    out = {}
    for name in PRESETS:
        run = _tiny_run(name, root)
        code, weights = code_from_run(run, root / "gen" / name / "model.py")
        assert weights.name == "model.weights.h5" and weights.parent == code.parent
        model = load_run_model(run)
        x = convert.check_windows(model, run.metadata(), n=3, seed=1)
        out[name] = (code, x, np.asarray(model(x, training=False)))
    return out


def test_generated_code_reproduces_every_presets_predictions_without_builder(generated, tmp_path):
    cases = {}
    for name, (code, x, _) in generated.items():
        np.save(tmp_path / f"{name}.npy", x)
        cases[name] = str(code)
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        import numpy as np
        cases = json.loads({json.dumps(json.dumps(cases))})
        for name, path in cases.items():
            spec = importlib.util.spec_from_file_location("generated_" + name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            model = module.load_trained()
            x = np.load({str(tmp_path)!r} + "/" + name + ".npy")
            np.save({str(tmp_path)!r} + "/" + name + ".out.npy", np.asarray(model(x, training=False)))
        bad = [m for m in sys.modules if m.split(".")[0] == "builder"]
        assert not bad, bad
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, (_, _, ref) in generated.items():
        got = np.load(tmp_path / f"{name}.out.npy")
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5, err_msg=name)


def test_generated_file_is_readable_and_runs_as_a_script(generated):
    code, _, _ = generated["lstmp"]
    text = code.read_text()
    tree = ast.parse(text)
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"build_model", "load_trained", "Standardize", "Unstandardize", "GatedCell", "LSTMProjCell"} <= names
    assert "import builder" not in text and "from builder" not in text
    assert 'keras.layers.RNN(LSTMProjCell(' in text
    done = subprocess.run([sys.executable, str(code)], capture_output=True, text=True, timeout=300, cwd=code.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model.weights.h5" in done.stdout and "Total params" in done.stdout


def test_code_from_a_spec_alone_builds_the_same_architecture(tmp_path):
    spec = load_preset("attention_lstm")
    path = code_from_spec(spec, tmp_path / "m.py")
    script = (f"import importlib.util; s = importlib.util.spec_from_file_location('m', {str(path)!r}); "
              "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); model = m.build_model(); "
              "print(model.input_shape, model.output_shape, model.count_params())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from builder import build_model

    n_features = 1  # the preset lists no columns: one target, no covariates
    ours = build_model(spec, n_features, 1)
    lookback = ours.input_shape[1]
    # the served model adds Unstandardize (2 x n_targets non-trainable weights)
    assert done.stdout.split("\n")[0] == f"(None, {lookback}, {n_features}) (None, {spec.data.horizon}, 1) {ours.count_params() + 2}"


def test_cli_code(generated, tmp_path, capsys):
    from builder.__main__ import main

    spec_file = tmp_path / "s.json"
    spec_file.write_text(load_preset("cldnn").to_json())
    assert main(["code", "--spec", str(spec_file), "--out", str(tmp_path / "a.py")]) == 0
    assert "no weights" in capsys.readouterr().out and (tmp_path / "a.py").exists()
    assert main(["code", "--spec", str(spec_file), "--out", str(tmp_path / "a.txt")]) == 2
    assert main(["code", "--run", str(tmp_path / "missing"), "--out", str(tmp_path / "b.py")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_a_task_without_a_generator_is_named(tmp_path):
    spec = load_preset("stacked_lstm")
    object.__setattr__(spec, "task", "generate")
    with pytest.raises(CodegenError, match="task 'generate'"):
        code_from_spec(spec, tmp_path / "x.py")
