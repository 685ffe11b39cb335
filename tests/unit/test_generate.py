"""Task `generate`: text reading and its errors, the Kneser-Ney baseline, training through the CLI,
generation (repeatable under a seed, beam) and the SavedModel's `generate` / `step` signatures in a
process that imports only TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from builder.__main__ import main
from builder.data.read import DataError
from builder.data.text import UNK, prepare_text, read_text
from builder.tasks.text_baselines import KneserNey, unigram_bits

TEXT = ("The quick brown fox jumps over the lazy dog. " * 6 + "A stitch in time saves nine.\n%\n" * 6) * 4


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b"abc\x00def", "byte 3 is a NUL"),
    ("caf\u00e9 ok ".encode() + b"\xff\xfe tail", "invalid UTF-8 at byte 9 (0xff)"),
    ("caf\u00e9 ok".encode("utf-16"), "UTF-16 text (it starts with the byte-order mark 0xff 0xfe); expected UTF-8"),
    ("caf\u00e9 ok".encode("utf-16-be").join([b"\xfe\xff", b""]), "byte-order mark 0xfe 0xff"),
])
def test_read_text_errors_name_the_problem(tmp_path, content, fragment):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(DataError, match=r"bad\.txt: .*") as err:
        read_text(p)
    assert fragment in str(err.value)


def test_split_is_contiguous_and_vocabulary_from_training_part():
    d = prepare_text("abcdefghij" * 10 + "XYZ" * 10, "t", context=5, val_fraction=0.1, test_fraction=0.2)
    assert d.split == {"train": 91, "val": 13, "test": 26}
    assert d.vocab[0] == UNK and "X" not in d.vocab  # X only after the training part
    assert d.unknown["test"] > 0 and any("unknown symbol" in n for n in d.notices)
    x, y = d.windows("train")
    assert x.shape[1] == 5 and (x[:, 1:] == y[:, :-1]).all()


def test_text_shorter_than_the_context_is_refused():
    with pytest.raises(DataError, match=r"short\.txt: 40 characters; the training part holds 28, but windows of context 50 need at least 51"):
        prepare_text("x" * 40, "short.txt", context=50, val_fraction=0.15, test_fraction=0.15)


def test_kneser_ney_is_a_distribution():
    rng = np.random.default_rng(0)
    train = rng.integers(1, 6, 3000).astype(np.int32)
    train[::7] = 2  # some structure
    for order in (1, 2, 4):
        kn = KneserNey(train, order, vocab_size=7)
        for history in ("", "\x02", "\x02\x03\x04", "\x06\x06\x06"):
            total = sum(kn.prob(history, chr(c)) for c in range(7))
            assert total == pytest.approx(1.0, abs=1e-9)
    assert unigram_bits(train, train[:100], 7) < np.log2(7)


@pytest.fixture(scope="module")
def gen_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gen")
    (tmp / "t.txt").write_text(TEXT, encoding="utf-8")
    spec = tmp / "spec.json"
    from builder.spec.presets import load_preset

    load_preset("char_rnn").updated(
        blocks=[{"kind": "recurrent", "cell": "lstm", "units": 16, "num_layers": 2}], embedding_dim=8,
        training={"epochs": 2, "batch_size": 16}).to_json(spec)
    run = tmp / "run"
    assert main(["train", "--task", "generate", "--text", str(tmp / "t.txt"), "--spec", str(spec),
                 "--context", "20", "--out", str(run), "--quiet"]) == 0
    return run


def test_train_writes_bits_per_char_for_model_and_baselines(gen_run):
    m = json.loads((gen_run / "metrics.json").read_text())
    assert set(m["bits_per_char"]) == {"model", "unigram", "ngram"}
    assert all(isinstance(v, float) and v > 0 for v in m["bits_per_char"].values())
    assert m["ngram"]["order"] in range(2, 8) and "Kneser-Ney" in m["ngram"]["smoothing"]
    assert m["model"]["perplexity"] == pytest.approx(2 ** m["model"]["bits_per_char"])
    meta = json.loads((gen_run / "metadata.json").read_text())
    assert meta["resolved"]["lookback"] == 20 and meta["resolved"]["classes"][0] == UNK
    samples = json.loads((gen_run / "sample.json").read_text())["samples"]
    assert [s["epoch"] for s in samples] == [1, 2] and all(len(s["text"]) > 100 for s in samples)


def test_generate_cli_repeats_under_a_seed(gen_run, capsys):
    outs = []
    for seed in (5, 5, 6):
        assert main(["generate", "--run", str(gen_run), "--prompt", "The ", "--length", "60",
                     "--temperature", "1.5", "--seed", str(seed)]) == 0
        outs.append(capsys.readouterr().out[:-1])
    assert outs[0] == outs[1] != outs[2] and outs[0].startswith("The ") and len(outs[0]) == 64
    assert main(["generate", "--run", str(gen_run), "--prompt", "The ", "--length", "20", "--beam", "3"]) == 0
    assert len(capsys.readouterr().out[:-1]) == 24
    assert main(["generate", "--run", str(gen_run), "--length", "0"]) == 2
    assert "--length: expected 1..100000" in capsys.readouterr().err
    n = len(json.loads((gen_run / "metadata.json").read_text())["resolved"]["classes"])
    assert main(["generate", "--run", str(gen_run), "--prompt", "The ", "--length", "5", "--top-k", "1000"]) == 0
    assert f"note: --top-k 1000: more than the {n} characters the model knows" in capsys.readouterr().err


SERVE = r"""
import json, sys
import tensorflow as tf
assert "builder" not in sys.modules
m = tf.saved_model.load(sys.argv[1])
out = m.generate(prompt=tf.constant("The "), length=tf.constant(50), temperature=tf.constant(0.9),
                 top_k=tf.constant(5), seed=tf.constant(7, tf.int64))
greedy = m.generate(prompt=tf.constant("The "), length=tf.constant(30), temperature=tf.constant(0.0),
                    top_k=tf.constant(0), seed=tf.constant(0, tf.int64))
states = tf.zeros([2, int(sys.argv[2])])
step = m.step(token=tf.constant([3, 4]), states=states)
print(json.dumps({"text": out["text"].numpy().decode(), "greedy": greedy["text"].numpy().decode(),
                  "logits": step["logits"].numpy().tolist(),
                  "leaked": sorted(k for k in sys.modules if k.split(".")[0] == "builder")}))
"""


def test_saved_model_runs_with_tensorflow_alone_and_matches_the_app(gen_run):
    import tensorflow as tf

    from builder.model.sequence import Stepper, generate_text
    from builder.serving.export import load_run_model
    from builder.training.runs import Run

    meta = json.loads((gen_run / "metadata.json").read_text())
    size = meta["serving"]["state_size"]
    res = subprocess.run([sys.executable, "-c", SERVE, str(gen_run / "saved_model"), str(size)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["leaked"] == []
    model = load_run_model(Run(gen_run))
    vocab = tuple(meta["resolved"]["classes"])
    assert got["text"] == generate_text(model, vocab, "The ", 50, temperature=0.9, top_k=5, seed=7)
    assert got["greedy"] == generate_text(model, vocab, "The ", 30, temperature=0.0)
    logits, _ = Stepper(model)(tf.constant([3, 4]), tf.zeros([2, size]))
    np.testing.assert_allclose(got["logits"], logits.numpy(), rtol=1e-4, atol=1e-5)


def test_predict_scores_a_text_file(gen_run, text_file, tmp_path):
    import pandas as pd

    assert main(["predict", "--run", str(gen_run), "--data", str(text_file), "--out", str(tmp_path / "p.csv")]) == 0
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns) == ["row", "characters", "unknown", "bits_per_char"] and out["bits_per_char"][0] > 0


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "the file is empty; expected UTF-8 text"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "byte 8 is a NUL (0x00): binary content"),
    (b"good text " * 20 + b"\xc3\x28 more", "invalid UTF-8 at byte 200 (0xc3)"),
    (b"too short", "windows of context 100 need at least 101"),
])
def test_cli_bad_text_is_one_line_exit_2(tmp_path, capsys, content, fragment):
    p = tmp_path / "in.txt"
    p.write_bytes(content)
    assert main(["train", "--task", "generate", "--data", str(p), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and fragment in err and "\n" not in err and "in.txt" in err


@pytest.mark.parametrize(("content", "fragment"), [
    ("café\n".encode() * 3 + b"caf\xe9\n", "invalid UTF-8 at byte 21 (0xe9) on line 4: invalid continuation byte; "
                                           "the file mixes encodings (line 1 has 'é' written in UTF-8)"),
    ("café\nnaïve\n".encode("latin-1"), "on line 1: invalid continuation byte; the file reads as Windows-1252 / Latin-1 text"),
])
def test_read_text_says_whether_the_file_mixes_encodings_or_is_another_one(tmp_path, content, fragment):
    p = tmp_path / "t.txt"
    p.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_text(p)
    assert fragment in str(err.value) and "re-save the file as UTF-8" in str(err.value)
