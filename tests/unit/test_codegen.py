"""Generated code: a standalone plain-Keras file per preset that, with the run's weights beside it,
reproduces the run's outputs in a process that never imports builder; from a spec alone it builds; the
tree presets are refused with the reason, in the library and the CLI.

The runs are built, not trained (tests/unit/built_runs.py): every weight off its initial value, so a
weight copied to the wrong place changes the outputs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pandas as pd
import pytest

from builder import list_presets, load_preset
from builder.data import load_table
from builder.serving import convert
from builder.serving.codegen import CodegenError, code_from_run, code_from_spec
from builder.serving.export import load_run_model
from builder.spec import ModelSpec
from builder.tasks import prepare_frame
from builder.tasks.registry import get_task
from builder.training.runs import Run
from tests.conftest import make_sequences_csv, make_series_csv, make_trees_csv
from tests.unit.built_runs import built_run
from tests.unit.test_pipeline import tiny

#: every bundled preset the generator writes (all but those of a task with a `codegen_refusal`:
#: translate), and two variants that take the generator's other paths: a log-space seasonal residual
#: forecast and per-sequence z-normalisation
TREE_PRESETS = [p["name"] for p in list_presets() if load_preset(p["name"]).task == "tree"]
REFUSED_PRESETS = [p["name"] for p in list_presets() if get_task(load_preset(p["name"]).task).codegen_refusal]
PRESETS = [p["name"] for p in list_presets() if p["name"] not in REFUSED_PRESETS]
VARIANTS = {"stacked_lstm+log_season": ("stacked_lstm", {"residual": True, "residual_space": "log",
                                                          "residual_base": "season"}),
            "bigru_classifier+zscore": ("bigru_classifier", {"data": {"sequence_norm": "zscore"}})}
TEXT = "a stitch in time saves nine. " * 30


def test_the_presets_cover_every_task_but_translate():
    assert len(PRESETS) >= 14 and set(TREE_PRESETS) < set(PRESETS)
    assert {load_preset(n).task for n in REFUSED_PRESETS} == {"translate"}
    assert {load_preset(n).task for n in PRESETS} == {"forecast", "classify", "label_steps", "generate", "tree"}
    assert any(b.kind == "fcn" for n in PRESETS for b in load_preset(n).blocks)


def _shrunk(name: str, root) -> tuple[ModelSpec, object]:
    """The preset (or variant) at most 8 units wide, and its prepared data."""
    base, change = VARIANTS.get(name, (name, {}))
    spec = load_preset(base)
    if change:
        spec = spec.updated(**{k: v for k, v in change.items() if k != "data"})
    data = change.get("data", {})
    if spec.task == "forecast":
        spec, csv = tiny(spec, lookback=8, horizon=2, **data), make_series_csv(root / "series.csv")
    elif spec.task == "generate":
        spec = tiny(spec, lookback=10)
        return spec, prepare_frame(pd.DataFrame({"text": [TEXT]}), spec)
    elif spec.task == "tree":  # the node table's nodes have up to 3 children: an N-ary preset takes N from it
        spec = tiny(spec.updated(blocks=[{**b, "arity": None} if b["kind"] == "recurrent" else b
                                         for b in spec.model_dump(mode="json")["blocks"]]))
        csv = make_trees_csv(root / "trees.csv")
    else:
        spec, csv = tiny(spec, **data), make_sequences_csv(root / "seq.csv")
    return spec, prepare_frame(load_table(csv), spec)


def _built_run(name: str, root) -> Run:
    """The shrunk preset's model built for its data and saved as a run, without training."""
    spec, data = _shrunk(name, root)
    return built_run(spec, data, root / name, seed=zlib.crc32(name.encode()), saved_model=False)


def _inputs(model, run: Run) -> np.ndarray:
    """Three inputs for the run's model: raw windows (the first one NaN-padded where padding is masked),
    or token ids for a language model."""
    meta = run.metadata()
    if meta["task"] == "tree":  # three trees as flat node arrays: 3 nodes, 2 nodes (ordered children), 1 node
        vocab = len(meta["resolved"]["vocabulary"])
        return {"parent": np.array([-1, 0, 0, -1, 3, -1], "int32"), "tree": np.array([0, 0, 0, 1, 1, 2], "int32"),
                "tokens": np.random.default_rng(1).integers(0, vocab, 6).astype("int32")}
    if meta["task"] == "generate":
        return np.random.default_rng(1).integers(0, len(meta["resolved"]["classes"]), (3, 12)).astype("int32")
    return convert.check_windows(model, meta, n=3, seed=1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Per preset and variant: (generated file, inputs, the run model's outputs on them)."""
    root = tmp_path_factory.mktemp("codegen")
    out = {}
    for name in [*PRESETS, *VARIANTS]:
        run = _built_run(name, root)
        code, weights = code_from_run(run, root / "gen" / name / "model.py")
        assert weights.name == "model.weights.h5" and weights.parent == code.parent
        model = load_run_model(run)
        x = _inputs(model, run)
        out[name] = (code, x, np.asarray(model(x, training=False)))
    return out


def test_generated_code_reproduces_every_presets_predictions_without_builder(generated, tmp_path):
    cases = {}
    for name, (code, x, _) in generated.items():
        np.savez(tmp_path / f"{name}.npz", **(x if isinstance(x, dict) else {"x": x}))  # tree models: named arrays
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
            x = dict(np.load({str(tmp_path)!r} + "/" + name + ".npz"))
            x = x["x"] if list(x) == ["x"] else x
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


def test_language_model_code_carries_the_runs_vocabulary(generated):
    code, _, _ = generated["char_rnn"]
    text = code.read_text()
    assert 'keras.layers.Embedding(vocab_size, ' in text and 'name="logits"' in text
    vocab = ast.literal_eval(next(line for line in text.splitlines() if line.startswith("VOCABULARY")).split(" = ", 1)[1])
    assert vocab == list(Run(code.parents[2] / "char_rnn").metadata()["resolved"]["classes"])


def test_tree_code_takes_named_node_arrays(generated):
    code, _, _ = generated["child_sum_tree_lstm"]
    text = code.read_text()
    names = {n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"build_model", "TreeLSTM", "TreeRoots", "ChildSumTreeLSTMCell", "tree_structure"} <= names
    assert 'ChildSumTreeLSTMCell(8, composition_layers=2, name="child_sum_tree_lstm")' in text  # the preset's
    assert "import builder" not in text and "from builder" not in text
    assert all(f'keras.Input(shape=(), dtype="int32", name="{n}")' in text for n in ("parent", "tree", "tokens"))


def test_cli_code_writes_a_tree_run(generated, tmp_path, capsys):
    from builder.__main__ import main

    run = generated["binary_tree_lstm"][0].parents[2] / "binary_tree_lstm"
    assert main(["code", "--run", str(run), "--out", str(tmp_path / "t.py")]) == 0
    assert (tmp_path / "t.py").exists() and (tmp_path / "model.weights.h5").exists()
    assert "NaryTreeLSTMCell(8, arity=3" in (tmp_path / "t.py").read_text()


def test_an_unknown_task_is_named(tmp_path):
    spec = load_preset("stacked_lstm")
    object.__setattr__(spec, "task", "nonsense")
    with pytest.raises(CodegenError, match="task 'nonsense': unknown; the code generator writes classify, forecast"):
        code_from_spec(spec, tmp_path / "x.py")


@pytest.mark.parametrize("name", [n for n in REFUSED_PRESETS])
def test_a_translate_preset_is_refused_by_its_task(name, tmp_path, capsys):
    """The refusal is the registry Task's `codegen_refusal`, not a table in the generator: one `error:` line
    and exit 2 in the CLI, from a spec or from a run's spec before its model is read."""
    from builder.__main__ import main

    with pytest.raises(CodegenError, match="task 'translate': no plain-Keras code: the encoder-decoder's"):
        code_from_spec(load_preset(name), tmp_path / "x.py")
    assert not (tmp_path / "x.py").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.json").write_text(load_preset(name).to_json())
    assert main(["code", "--run", str(run), "--out", str(tmp_path / "b.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: task 'translate': no plain-Keras code") and err.count("\n") == 1
