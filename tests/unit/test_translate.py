"""Task translate: pair preparation, bad input, metrics and baselines, training, and the TF-only SavedModel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builder.data.read import DataError
from builder.serving.translate import (
    Vocab,
    baselines,
    evaluate_pairs,
    export_translate,
    fit_pairs,
    levenshtein,
    prepare_pairs,
    scores,
    translate_texts,
)

DATES = Path("/work/shared/data/seq2seq/dates_to_iso.csv")


def _pairs(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = ["ab", "ba", "abc", "ca", "bb"]
    src = [" ".join(rng.choice(words, size=rng.integers(1, 4))) for _ in range(n)]
    return pd.DataFrame({"src": src, "tgt": [s[::-1] for s in src]})


def test_prepare_splits_and_vocab() -> None:
    data = prepare_pairs(_pairs(40), "src", "tgt", val_fraction=0.1, test_fraction=0.2)
    assert {k: len(v) for k, v in data.parts.items()} == {"train": 28, "val": 4, "test": 8}
    assert data.src_vocab.tokens[:4] == ("<pad>", "<unk>", "<s>", "</s>")
    arrays = data.arrays("train")
    assert arrays["target_in"][:, 0].tolist() == [2] * 28
    assert arrays["source"].shape == (28, data.src_length)
    # target_out is target_in shifted left, END after the last token
    np.testing.assert_array_equal(arrays["target_in"][:, 1:], arrays["target_out"][:, :-1])
    words = prepare_pairs(_pairs(40), "src", "tgt", tokens="words")
    assert set(words.src_vocab.tokens[4:]) <= {"ab", "ba", "abc", "ca", "bb"}


def test_vocab_round_trip_and_unknown() -> None:
    vocab = Vocab.build(["abc"], "characters")
    ids = vocab.encode(["cab", "xa"], "characters", 5, ends=True)
    assert vocab.decode(ids[:, 1:], "characters") == ["cab", "<unk>a".replace("<unk>", "")]
    assert ids[1, 1] == 1  # x is unknown


def test_bad_input_names_file_row_column() -> None:
    df = _pairs(10)
    with pytest.raises(DataError, match=r"pairs.csv: target column 'nope' not found"):
        prepare_pairs(df, "src", "nope", name="pairs.csv")
    df.loc[4, "tgt"] = "  "
    with pytest.raises(DataError, match=r"pairs.csv: row 6, column 'tgt': expected a non-empty target"):
        prepare_pairs(df, "src", "tgt", name="pairs.csv")
    with pytest.raises(DataError, match="tokens"):
        prepare_pairs(_pairs(10), "src", "tgt", tokens="bytes")  # type: ignore[arg-type]


def test_metrics_and_baselines() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert scores(["abc", "xy"], ["abc", "xyz"]) == {"exact_match": 0.5, "cer": pytest.approx(1 / 6)}
    df = pd.DataFrame({"s": ["a", "b", "c", "d", "e"], "t": ["a", "x", "x", "d", "e"]})
    data = prepare_pairs(df, "s", "t", val_fraction=0.0, test_fraction=0.4)
    base = baselines(data)
    assert base["copy_source"]["exact_match"] == 1.0
    assert base["most_frequent"] == {"exact_match": 0.0, "cer": 1.0}


def test_train_evaluate_and_export_runs_with_tensorflow_alone(tmp_path: Path) -> None:
    df = pd.read_csv(DATES, nrows=200) if DATES.exists() else _pairs(200)
    cols = ("source", "target") if DATES.exists() else ("src", "tgt")
    data = prepare_pairs(df, *cols)
    model, history = fit_pairs(data, units=8, embed=4, epochs=1, schedule="linear", c=0.5)
    assert history["teacher_forcing"] == [1.0]
    metrics = evaluate_pairs(model, data)
    assert set(metrics) == {"model", "copy_source", "most_frequent"}
    texts = data.parts["test"]["source"].tolist()[:5]
    greedy = translate_texts(model, data, texts)
    assert len(translate_texts(model, data, texts[:2], beam=2)) == 2
    export_translate(model, data, str(tmp_path / "saved"))
    script = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.signatures['translate'](source=tf.constant(json.loads(sys.argv[2])))\n"
        "vals = list(out.values())[0].numpy().tolist()\n"
        "assert 'builder' not in sys.modules and not any(k.startswith('builder') for k in sys.modules)\n"
        "print(json.dumps([v.decode('utf-8') for v in vals]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "saved"), json.dumps(texts)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == greedy


def test_bundled_sample_prepares() -> None:
    from builder.data.read import load_table

    sample = Path(__file__).resolve().parents[2] / "datasets" / "dates_to_iso_sample.csv"
    data = prepare_pairs(load_table(sample), "source", "target", name=str(sample))
    assert sum(len(p) for p in data.parts.values()) == 300
    assert data.tgt_length == 11  # YYYY-MM-DD + END
    assert baselines(data)["copy_source"]["exact_match"] == 0.0
