"""Generated code: a standalone plain-Keras file per preset that, with the run's weights beside it,
reproduces the run's outputs in a process that never imports builder (translate runs: the teacher-forced
logits, and greedy translations equal to builder's own); from a spec alone it builds; a task with a
`codegen_refusal` is refused with the reason, in the library and the CLI.

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
from builder.data.pairs import END, START
from builder.serving import convert
from builder.serving.codegen import CodegenError, code_from_run, code_from_spec
from builder.serving.export import load_run_model
from builder.spec import ModelSpec
from builder.tasks import prepare_frame
from builder.tasks.registry import get_task
from builder.training.runs import Run
from tests.conftest import DATASETS, make_sequences_csv, make_series_csv, make_trees_csv
from tests.unit.built_runs import built_run
from tests.unit.test_pipeline import tiny

#: every bundled preset, and variants that take the generator's other paths: log-space seasonal and
#: seasonal-drift residual forecasts, per-sequence z-normalisation, and two encoder-decoders: Luong's dot
#: score on word tokens (one LSTM layer), and no attention with a bidirectional builder cell (peephole LSTM,
#: copied in)
TREE_PRESETS = [p["name"] for p in list_presets() if load_preset(p["name"]).task == "tree"]
PRESETS = [p["name"] for p in list_presets()]
TRANSLATE_PRESETS = [n for n in PRESETS if load_preset(n).task == "translate"]
VARIANTS = {"stacked_lstm+log_season": ("stacked_lstm", {"residual": True, "residual_space": "log",
                                                          "residual_base": "season"}),
            "stacked_lstm+log_season_drift": ("stacked_lstm", {"residual": True, "residual_space": "log",
                                                                "residual_base": "season_drift"}),
            "bigru_classifier+zscore": ("bigru_classifier", {"data": {"sequence_norm": "zscore"}}),
            "luong_lstm_seq2seq+dot_words": ("luong_lstm_seq2seq", {"seq2seq": {"score": "dot", "tokens": "words"},
                                                                    "block": {"num_layers": 1}}),
            "gru_seq2seq_bahdanau+peephole_none": ("gru_seq2seq_bahdanau", {"seq2seq": {"attention": "none"},
                                                                            "block": {"cell": "peephole_lstm"}})}
TEXT = "a stitch in time saves nine. " * 30
#: the pairs translate runs are built for, and the texts their generated `translate` must translate as
#: builder does: test sources, one with tokens no vocabulary has, one longer than any source
PAIRS = pd.read_csv(DATASETS / "dates_to_iso_sample.csv", dtype=str).head(60)
TEXTS = [*PAIRS["source"].iloc[40:52], "zz ¤ 31 décembre 1999 ¤", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 " * 2]


def test_the_presets_cover_every_task():
    assert len(PRESETS) >= 16 and set(TREE_PRESETS) < set(PRESETS) and len(TRANSLATE_PRESETS) >= 2
    assert {load_preset(n).task for n in PRESETS} == {"forecast", "classify", "label_steps", "generate", "tree",
                                                      "translate"}
    assert not [n for n in PRESETS if get_task(load_preset(n).task).codegen_refusal]
    assert any(b.kind == "fcn" for n in PRESETS for b in load_preset(n).blocks)
    assert {load_preset(n).seq2seq.attention for n in TRANSLATE_PRESETS} == {"bahdanau", "luong"}


def _shrunk(name: str, root) -> tuple[ModelSpec, object]:
    """The preset (or variant) at most 8 units wide, and its prepared data."""
    base, change = VARIANTS.get(name, (name, {}))
    spec = load_preset(base)
    if change:
        spec = spec.updated(**{k: v for k, v in change.items() if k not in ("data", "block")})
    data = change.get("data", {})
    if spec.task == "translate":  # 8 units, an 8-wide embedding; 60 date pairs
        blocks = [{**b, "units": 8, **change.get("block", {})} for b in spec.model_dump(mode="json")["blocks"]]
        spec = spec.updated(blocks=blocks, embedding_dim=8, data={"source_col": "source", "target_col": "target"})
        return spec, prepare_frame(PAIRS, spec)
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


def _decisive(data) -> object:
    """For a built translate model: logits that follow the decoder (output kernel x 4, no bias), and an END
    bias that ends the greedy translation of about half of TEXTS, each at its own step (the untouched built
    model writes one token over and over, or END first for every text).

    With END's logit left out, greedy decoding follows one path per text; raising END's bias to b ends a
    text at the first step where (the best other logit - END's logit) < b, and leaves the path before it
    as it was. b is the midpoint between the two middle texts' smallest such gaps."""

    def adjust(model) -> None:
        layer = model.get_layer("logits")
        kernel, bias = layer.get_weights()
        never = np.zeros_like(bias)
        never[END] = -100.0
        layer.set_weights([kernel * 4, never])
        source = data.src_vocab.encode(TEXTS, data.tokens, data.src_length)
        path = np.asarray(model.greedy(source, data.tgt_length)[0])
        target_in = np.concatenate([np.full((len(TEXTS), 1), START, np.int32), path[:, :-1]], axis=1)
        logits = np.asarray(model({"source": source, "target_in": target_in}))
        gap = np.delete(logits, END, axis=-1).max(-1) - (logits[..., END] + 100.0)  # [texts, steps]
        smallest = np.sort(gap.min(axis=1))
        half = len(smallest) // 2
        never[END] = (smallest[half - 1] + smallest[half]) / 2
        layer.set_weights([kernel * 4, never])

    return adjust


def _built_run(name: str, root) -> Run:
    """The shrunk preset's model built for its data and saved as a run, without training."""
    spec, data = _shrunk(name, root)
    adjust = _decisive(data) if spec.task == "translate" else None
    return built_run(spec, data, root / name, seed=zlib.crc32(name.encode()), saved_model=False, adjust=adjust)


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
    if meta["task"] == "translate":  # source ids (the first row padded after 2 tokens), target ids after START
        r, rng = meta["resolved"], np.random.default_rng(1)
        source = rng.integers(1, len(r["vocabulary"]), (3, r["lookback"])).astype("int32")
        source[0, 2:] = 0
        target_in = rng.integers(3, len(r["classes"]), (3, r["horizon"])).astype("int32")
        target_in[:, 0] = START
        return {"source": source, "target_in": target_in}
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
        if run.metadata()["task"] == "translate":
            out[name] += (_builder_greedy(run, model),)
    return out


def _builder_greedy(run: Run, model) -> tuple[list[str], np.ndarray]:
    """Builder's greedy translations of TEXTS (the Task's `predict`, as `python -m builder predict` runs it)
    and its token ids [len(TEXTS), max target length] (`Seq2Seq.greedy`: all steps, no stop at END)."""
    from builder.tasks.base import Resolved
    from builder.tasks.translate import pairs_of

    resolved = Resolved.from_dict(run.metadata()["resolved"])
    texts = get_task("translate").predict(resolved, pd.DataFrame({"source": TEXTS}), model)["translation"].tolist()
    data = pairs_of(resolved)
    ids, _ = model.greedy(data.src_vocab.encode(TEXTS, data.tokens, data.src_length), data.tgt_length)
    return texts, np.asarray(ids)


def test_generated_code_reproduces_every_presets_predictions_without_builder(generated, tmp_path):
    cases = {}
    for name, (code, x, *_) in generated.items():
        np.savez(tmp_path / f"{name}.npz", **(x if isinstance(x, dict) else {"x": x}))  # tree, translate: named arrays
        cases[name] = str(code)
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        import numpy as np
        cases, texts = json.loads({json.dumps(json.dumps(cases))}), {TEXTS!r}
        for name, path in cases.items():
            spec = importlib.util.spec_from_file_location("generated_" + name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            model = module.load_trained()
            x = dict(np.load({str(tmp_path)!r} + "/" + name + ".npz"))
            x = x["x"] if list(x) == ["x"] else x
            np.save({str(tmp_path)!r} + "/" + name + ".out.npy", np.asarray(model(x, training=False)))
            if hasattr(module, "translate"):  # greedy decoding with the file's own tables and loop
                with open({str(tmp_path)!r} + "/" + name + ".json", "w") as f:
                    json.dump(module.translate(texts), f)
                np.save({str(tmp_path)!r} + "/" + name + ".ids.npy", module.greedy_ids(model, module.encode(texts)))
        bad = [m for m in sys.modules if m.split(".")[0] == "builder"]
        assert not bad, bad
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, (_, _, ref, *greedy) in generated.items():
        got = np.load(tmp_path / f"{name}.out.npy")
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5, err_msg=name)
        if greedy:
            texts, ids = greedy[0]
            assert json.loads((tmp_path / f"{name}.json").read_text()) == texts, name
            # the file's loop stops once every row has written END; up to there it writes builder's tokens
            mine = np.load(tmp_path / f"{name}.ids.npy")
            np.testing.assert_array_equal(mine, ids[:, :mine.shape[1]], err_msg=name)
            assert mine.shape[1] == ids.shape[1] or (mine == END).any(axis=1).all(), name
    # the comparison can fail: in every translate run the translations differ from text to text, about half
    # of them end (_decisive), and in some run a translation ends after a few tokens, not at the first
    first_end = []
    for name in [n for n in generated if len(generated[n]) == 4]:
        texts, ids = generated[name][3]
        ended = (ids == END).any(axis=1)
        assert len(set(texts)) >= 2 and ended.any() and not ended.all(), (name, texts)
        first_end += (ids == END).argmax(axis=1)[ended].tolist()
    assert max(first_end) >= 2, first_end


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
    assert 'ChildSumTreeLSTMCell(8, composition_layers=3, name="child_sum_tree_lstm")' in text  # the preset's
    assert "import builder" not in text and "from builder" not in text
    assert all(f'keras.Input(shape=(), dtype="int32", name="{n}")' in text for n in ("parent", "tree", "tokens"))


def test_cli_code_writes_a_tree_run(generated, tmp_path, capsys):
    from builder.__main__ import main

    run = generated["binary_tree_lstm"][0].parents[2] / "binary_tree_lstm"
    assert main(["code", "--run", str(run), "--out", str(tmp_path / "t.py")]) == 0
    assert (tmp_path / "t.py").exists() and (tmp_path / "t.weights.h5").exists()
    assert "NaryTreeLSTMCell(8, arity=3" in (tmp_path / "t.py").read_text()


def test_cli_code_writes_a_translate_run(generated, tmp_path, capsys):
    from builder.__main__ import main

    run = generated["luong_lstm_seq2seq"][0].parents[2] / "luong_lstm_seq2seq"
    assert main(["code", "--run", str(run), "--out", str(tmp_path / "t.py")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 't.py'} and {tmp_path / 't.weights.h5'}")
    text = (tmp_path / "t.py").read_text()
    assert "def translate(texts: list[str]" in text and 'keras.layers.LSTMCell(8, name="dec_cell")' in text


def test_an_unknown_task_is_named(tmp_path):
    spec = load_preset("stacked_lstm")
    object.__setattr__(spec, "task", "nonsense")
    with pytest.raises(CodegenError, match="task 'nonsense': unknown; the code generator writes classify, forecast"):
        code_from_spec(spec, tmp_path / "x.py")


def test_translate_code_carries_the_runs_token_tables(generated):
    code, _, _, _ = generated["luong_lstm_seq2seq+dot_words"]
    text = code.read_text()
    assert "import builder" not in text and "from builder" not in text
    names = ("TOKENS", "SOURCE_TOKENS", "TARGET_TOKENS", "SOURCE_LENGTH", "TARGET_LENGTH")
    constants = {}
    for node in ast.parse(text).body:
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in names:
            constants[target.id] = ast.literal_eval(node.value)
    r = Run(code.parents[2] / "luong_lstm_seq2seq+dot_words").metadata()["resolved"]
    assert constants == {"TOKENS": "words", "SOURCE_TOKENS": r["vocabulary"], "TARGET_TOKENS": r["classes"],
                         "SOURCE_LENGTH": r["lookback"], "TARGET_LENGTH": r["horizon"]}
    assert "score(s_t, h_s) = s_t . h_s" in text and "self.key_dense" not in text
    bahdanau = generated["gru_seq2seq_bahdanau"][0].read_text()
    assert 'keras.layers.GRU(8, return_sequences=True, return_state=True, name="enc_0")' in bahdanau
    assert 'merge_mode="concat", name="bi_enc_0")' in bahdanau
    assert 'keras.layers.GRUCell(8, name="dec_cell")' in bahdanau and "self.bridge = [" in bahdanau
    peephole = generated["gru_seq2seq_bahdanau+peephole_none"][0].read_text()
    assert "class PeepholeLSTMCell(GatedCell)" in peephole and "def attend(" not in peephole


def test_translate_code_runs_as_a_script_and_translates_its_arguments(generated):
    code = generated["gru_seq2seq_bahdanau"][0]
    texts, _ = generated["gru_seq2seq_bahdanau"][3]
    done = subprocess.run([sys.executable, str(code), TEXTS[0], TEXTS[1]], capture_output=True, text=True,
                          timeout=300, cwd=code.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Total params" in done.stdout and "model.weights.h5" in done.stdout
    assert f"{TEXTS[0]!r} -> {texts[0]!r}" in done.stdout and f"{TEXTS[1]!r} -> {texts[1]!r}" in done.stdout


@pytest.mark.parametrize("name", ["gru_seq2seq_bahdanau", "luong_lstm_seq2seq"])
def test_translate_code_from_a_spec_alone_builds_the_same_encoder_decoder(name, tmp_path):
    """No data: the task's placeholder vocabularies and lengths, token tables of the special symbols only; the
    same weights as builder's model for those sizes, and translate() answers (a freshly initialised model)."""
    from builder.model.build import build_model
    from builder.tasks.translate import PLACEHOLDER_VOCAB

    spec = load_preset(name)
    path = code_from_spec(spec, tmp_path / "m.py")
    script = (f"import importlib.util; s = importlib.util.spec_from_file_location('m', {str(path)!r}); "
              "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); model = m.build_model(); "
              "print(model.count_params(), sorted(tuple(w.shape) for w in model.weights), m.SOURCE_TOKENS, "
              "type(m.translate(['12 mai 2001'])[0]).__name__)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ours = build_model(spec, get_task("translate").placeholder(spec, 0))
    weights = [w for layer in ours.layers for w in layer.weights]
    assert sum(int(np.prod(w.shape)) for w in weights) == ours.count_params() - 1  # less teacher_ratio
    expected = (f"{ours.count_params() - 1} {sorted(tuple(w.shape) for w in weights)} "
                "['<pad>', '<unk>', '<s>', '</s>'] str")
    assert done.stdout.strip().splitlines()[-1] == expected
    assert f"build_model(source_vocab: int = {PLACEHOLDER_VOCAB}" in path.read_text()


def test_a_task_with_a_codegen_refusal_is_refused_by_it(tmp_path, capsys, monkeypatch):
    """The refusal is the registry Task's `codegen_refusal`, not a table in the generator: one `error:` line
    and exit 2 in the CLI, from a spec or from a run's spec before its model is read."""
    from builder.__main__ import main

    monkeypatch.setattr(get_task("classify"), "codegen_refusal", "a reason of the task's own")
    spec = load_preset("bigru_classifier")
    with pytest.raises(CodegenError, match="task 'classify': no plain-Keras code: a reason of the task's own"):
        code_from_spec(spec, tmp_path / "x.py")
    assert not (tmp_path / "x.py").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.json").write_text(spec.to_json())
    assert main(["code", "--run", str(run), "--out", str(tmp_path / "b.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: task 'classify': no plain-Keras code: a reason") and err.count("\n") == 1


def test_two_generated_files_in_one_folder_keep_their_own_weights(series_csv, tmp_path):
    # before: both wrote model.weights.h5, so a.py silently loaded the weights of the run written after it
    from builder.serving.codegen import load_generated

    spec = tiny(load_preset("stacked_lstm"), lookback=8, horizon=2)
    data = prepare_frame(load_table(series_csv), spec)
    runs = [built_run(spec, data, tmp_path / f"run{i}", seed=i, saved_model=False) for i in (1, 2)]
    files = [code_from_run(run, tmp_path / "gen" / f"{name}.py") for run, name in zip(runs, "ab", strict=True)]
    assert [w.name for _, w in files] == ["a.weights.h5", "b.weights.h5"]
    x = data.values[None, :8]
    for run, (code, _) in zip(runs, files, strict=True):
        assert "a.weights.h5" in code.read_text() or "b.weights.h5" in code.read_text()
        np.testing.assert_allclose(load_generated(code).load_trained().predict(x, verbose=0),
                                   load_run_model(run).predict(x, verbose=0), rtol=1e-5, atol=1e-5)
