"""Task translate through the registry: pair preparation, bad input, metrics and baselines, the size
estimate, the run contract (metrics.json, predictions.csv, history) and the TF-only SavedModel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder.data.pairs import Vocab, prepare_pairs
from builder.data.read import DataError, load_table
from builder.spec import ModelSpec, SpecError
from builder.tasks.registry import TASKS, get_task
from builder.tasks.translate import baselines, levenshtein, scores, teacher_forcing_ratio, verdict
from builder.training.runs import Run
from tests.conftest import DATASETS, tiny_translate_spec

SAMPLE = DATASETS / "dates_to_iso_sample.csv"


def _pairs(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = ["ab", "ba", "abc", "ca", "bb"]
    src = [" ".join(rng.choice(words, size=rng.integers(1, 4))) for _ in range(n)]
    return pd.DataFrame({"src": src, "tgt": [s[::-1] for s in src]})


def test_registered_with_its_form_and_default_preset() -> None:
    entry = TASKS["translate"]
    assert [f.key for f in entry.form] == ["source_col", "target_col"]
    spec = tiny_translate_spec()
    assert spec.task == "translate" and entry.default_preset == "gru_seq2seq_bahdanau"
    assert get_task("translate").model_kind == "seq2seq"
    from builder.app.runs import _lower_is_better  # the runs table's ★ goes to the highest exact match

    assert not _lower_is_better(get_task("translate").headline({"model": {"exact_match": 0.5}})[0])


def test_prepare_splits_and_vocab() -> None:
    data = prepare_pairs(_pairs(40), "src", "tgt", val_fraction=0.1, test_fraction=0.2)
    assert data.split == {"train": 28, "val": 4, "test": 8}
    assert data.src_vocab.tokens[:4] == ("<pad>", "<unk>", "<s>", "</s>")
    arrays = data.arrays("train")
    assert arrays["target_in"][:, 0].tolist() == [2] * 28
    np.testing.assert_array_equal(arrays["target_in"][:, 1:], arrays["target_out"][:, :-1])
    words = prepare_pairs(_pairs(40), "src", "tgt", tokens="words")
    assert set(words.src_vocab.tokens[4:]) <= {"ab", "ba", "abc", "ca", "bb"}


def test_vocab_round_trip_and_unknown() -> None:
    vocab = Vocab.build(["abc"], "characters")
    ids = vocab.encode(["cab", "xa"], "characters", 5, ends=True)
    assert vocab.decode(ids[:, 1:], "characters") == ["cab", "a"]
    assert ids[1, 1] == 1  # x is unknown


def test_bad_input_names_file_row_column() -> None:
    spec = tiny_translate_spec().updated(data={"source_col": "src", "target_col": "nope"})
    task = get_task("translate")
    df = _pairs(10)
    df.attrs["source"] = "pairs.csv"
    with pytest.raises(DataError, match=r"pairs.csv: target column 'nope' not found"):
        task.prepare_frame(df, spec)
    df.loc[4, "tgt"] = "  "
    with pytest.raises(DataError, match=r"pairs.csv: row 6, column 'tgt': expected a non-empty target"):
        task.prepare_frame(df, spec.updated(data={"target_col": "tgt"}))
    with pytest.raises(DataError, match=r"pairs.csv: no source column chosen \(--source-col, or the spec's data.source_col\)"):
        task.prepare_frame(df, spec.updated(data={"source_col": None}))


def test_spec_rules() -> None:
    with pytest.raises(SpecError, match="exactly one recurrent block"):
        tiny_translate_spec().updated(blocks=[{"kind": "recurrent"}, {"kind": "dense"}])
    with pytest.raises(SpecError, match="seq2seq.score: 'dot'"):
        tiny_translate_spec(attention="luong", score="dot")
    with pytest.raises(SpecError, match="seq2seq.attention"):
        ModelSpec.from_dict({**tiny_translate_spec().model_dump(), "seq2seq": {"attention": "cosine"}})


def test_metrics_baselines_and_verdict() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert scores(["abc", "xy"], ["abc", "xyz"]) == {"exact_match": 0.5, "cer": pytest.approx(1 / 6)}
    df = pd.DataFrame({"s": ["a", "b", "c", "d", "e"], "t": ["a", "x", "x", "d", "e"]})
    data = prepare_pairs(df, "s", "t", val_fraction=0.0, test_fraction=0.4)
    base = baselines(data)
    assert base["copy_source"]["exact_match"] == 1.0
    assert base["most_frequent"]["exact_match"] == 0.0 and base["most_frequent"]["answer"] == "x"
    best, line = verdict({**base, "model": {"exact_match": 0.5, "cer": 0.5}})
    assert best == "copy_source" and line.startswith("no better than copy the source")
    other = {"copy_source": {"exact_match": 0.0, "cer": 0.9}, "most_frequent": {"exact_match": 0.1, "cer": 0.6}}
    best, line = verdict({**other, "model": {"exact_match": 0.4, "cer": 0.2}})
    assert best == "most_frequent" and line.startswith("beats every baseline (best: most frequent target")
    assert [teacher_forcing_ratio("linear", e, 1.0, 0.3, 0.2) for e in range(4)] == pytest.approx([1.0, 0.7, 0.4, 0.2])


@pytest.mark.parametrize("preset", ["gru_seq2seq_bahdanau", "luong_lstm_seq2seq"])
@pytest.mark.parametrize("attention", ["bahdanau", "luong", "none"])
def test_size_estimate_equals_keras(preset: str, attention: str) -> None:
    from builder.model.build import build_model
    from builder.model.size import estimate_params
    from builder.spec.presets import load_preset

    spec = load_preset(preset).updated(seq2seq={"attention": attention})
    resolved = get_task("translate").placeholder(spec, 30, 14)
    assert estimate_params(spec, resolved) == build_model(spec, resolved).count_params()


@pytest.mark.parametrize("preset", ["gru_seq2seq_bahdanau", "luong_lstm_seq2seq"])
def test_auto_compiles_the_whole_encoder_decoder_step_on_the_cpu(preset: str) -> None:
    # measured: one XLA program for the step beats the fused encoder's shards beside the decoder's
    # unrolled ops in TF's executor (bench/RESULTS.md); other fused models keep their shards
    from builder.model.build import build_model
    from builder.spec.presets import load_preset
    from builder.training.fit import has_gpu, resolve_jit

    if has_gpu():
        pytest.skip("on a GPU 'auto' is Keras's own choice")
    spec = load_preset(preset)
    model = build_model(spec, get_task("translate").placeholder(spec, 30, 14))
    assert resolve_jit(spec, model) is True
    assert resolve_jit(spec.updated(training={"jit_compile": False}), model) is False


def test_run_contract(translate_run: Path) -> None:
    run = Run(translate_run)
    assert run.status()["state"] == "finished"
    metrics = json.loads((translate_run / "metrics.json").read_text())
    assert metrics["task"] == "translate" and metrics["n_pairs"] == {"train": 255, "val": 30, "test": 15}
    for key in ("model", "copy_source", "most_frequent"):
        assert 0 <= metrics[key]["exact_match"] <= 1 and metrics[key]["cer"] >= 0
    assert metrics["model_beam"]["width"] == 2 and metrics["model_beam"]["pairs"] == 15
    assert metrics["copy_source"]["exact_match"] == 0.0  # no date is written in ISO form in the sample
    assert metrics["verdict"] and metrics["best_baseline"] in ("copy_source", "most_frequent")
    preds = pd.read_csv(translate_run / "predictions.csv", dtype=str, keep_default_na=False)
    assert list(preds.columns[:4]) == ["source", "target", "greedy", "beam"] and len(preds) == 15
    assert preds["target"].str.match(r"^\d{4}-\d{2}-\d{2}$").all()
    assert run.history()[0]["teacher_forcing"] == 1.0
    meta = run.metadata()
    assert meta["serving"]["signature"] == "translate" and meta["resolved"]["tokens"] == "characters"
    assert meta["resolved"]["horizon"] == 11  # YYYY-MM-DD + END


def test_saved_model_runs_with_tensorflow_alone(translate_run: Path) -> None:
    from builder.serving.predict import predict_file

    texts = ["3 March 2001", "12/01/1999", "5 gen 2026"]
    new = translate_run.parent / "new.csv"
    pd.DataFrame({"source": texts}).to_csv(new, index=False)
    greedy = predict_file(translate_run, new)["translation"].tolist()
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['translate'](source=tf.constant(json.loads(sys.argv[2])))\n"
        "vals = list(out.values())[0].numpy().tolist()\n"
        "assert not any(k.startswith('builder') for k in sys.modules)\n"
        "print(json.dumps([v.decode('utf-8') for v in vals]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(translate_run / "saved_model"), json.dumps(texts)],
                          capture_output=True, text=True, timeout=120, cwd=translate_run.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == greedy
    beam = predict_file(translate_run, new, options={"beam": 2})
    assert list(beam.columns) == ["source", "translation"] and len(beam) == 3


def test_bundled_sample_prepares() -> None:
    spec = tiny_translate_spec()
    data = get_task("translate").prepare(SAMPLE, spec)
    assert sum(data.split.values()) == 300 and data.tgt_length == 11
    assert baselines(data)["copy_source"]["exact_match"] == 0.0
    assert list(load_table(SAMPLE).columns) == ["source", "target"]


def test_one_column_as_both_source_and_target_is_refused() -> None:
    df = _pairs(10)
    df.attrs["source"] = "pairs.csv"
    spec = tiny_translate_spec().updated(data={"source_col": "src", "target_col": "src"})
    with pytest.raises(DataError, match=r"pairs.csv: the source and the target column are both 'src'; expected two different"):
        get_task("translate").prepare_frame(df, spec)


def test_test_pairs_repeating_training_sources_are_said() -> None:
    df = pd.DataFrame({"s": [f"w{i}" for i in range(10)] * 3, "t": [f"v{i}" for i in range(10)] * 3})
    data = prepare_pairs(df, "s", "t", val_fraction=0.1, test_fraction=0.2, name="dup.csv")
    assert data.split == {"train": 21, "val": 3, "test": 6}
    assert any(n.startswith("3 of the 3 validation pairs have a source that is also a training source") for n in data.notices)
    assert any(n.startswith("6 of the 6 test pairs") and "'w" in n for n in data.notices)
    assert prepare_pairs(_pairs(40).drop_duplicates("src"), "src", "tgt").notices == ()


def test_what_reading_the_file_assumed_reaches_the_notices() -> None:
    text = "src;tgt\n" + "".join(f"d\xe9c {i};{i}\n" for i in range(20))
    df = load_table(text.encode("latin-1"), name="p.csv")
    test = load_table(b"\xef\xbb\xbfsrc,tgt\nx,y\n", name="t.csv")
    data = prepare_pairs(df, "src", "tgt", name="p.csv", test_df=test, test_name="t.csv")
    assert "the file is not valid UTF-8; read as Latin-1" in data.notices and "separator detected: ';'" in data.notices
    assert "t.csv: removed the UTF-8 byte-order mark at the start of the file" in data.notices
    assert data.parts["train"]["source"][0] == "d\xe9c 0"


def test_translating_longer_or_unseen_sources_is_said() -> None:
    from builder.tasks.translate import source_notices

    data = prepare_pairs(_pairs(40), "src", "tgt", val_fraction=0.1, test_fraction=0.2)
    assert source_notices(data, ["ab", "ba ca"]) == []
    long = "ab " * data.src_length
    notes = source_notices(data, ["ab", long, "abz", "ab\u00e9"])
    assert len(notes) == 2
    assert notes[0].startswith(f"1 source(s) have more characters than the model reads ({data.src_length}") and "row 3:" in notes[0]
    assert notes[1].startswith("2 source(s) have characters that no training source has (e.g. row 4; 'z', '\u00e9')")


def test_a_new_table_without_the_source_column_names_its_own_columns() -> None:
    from builder.data.pairs import read_sources

    with pytest.raises(DataError, match=r"new.csv: source column 'src' not found; expected one of \['text'\]$"):
        read_sources(pd.DataFrame({"text": ["a"]}), "src", name="new.csv")


def test_one_stray_long_text_is_said() -> None:
    df = _pairs(40).drop_duplicates("src").reset_index(drop=True)
    assert prepare_pairs(df, "src", "tgt").notices == ()
    df.loc[7, "src"] = "ab " * 100
    notes = prepare_pairs(df, "src", "tgt").notices
    assert len(notes) == 1 and notes[0].startswith("row 9: its source has 299 characters,") and "padded" in notes[0]
