"""Pages with the `generate` task: a .txt source on Data (sample, upload, invalid UTF-8), the per-epoch
sample on Train, the bits/char table and the generate box on Evaluate."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.app.conftest import by_label, errors, make_app

TEXT = ("Where there's a will, there's a way.\n%\nA penny saved is a penny earned.\n%\n" * 40)


def _text_seed(path: Path) -> dict:
    from builder.spec.presets import load_preset

    spec = load_preset("char_rnn").updated(data={"lookback": 40})
    return {"source": {"path": str(path), "name": path.name, "kind": "upload"},
            "spec": spec.model_dump(mode="json"), "spec_rev": 0, "preset": "char_rnn"}


@pytest.fixture
def text_path(tmp_path: Path) -> Path:
    p = tmp_path / "sayings.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def test_data_page_reads_a_text_file(text_path: Path) -> None:
    at = make_app("pages/data.py", _text_seed(text_path))
    assert not at.exception and not errors(at), errors(at)
    assert any("fits the spec" in s.value for s in at.success)
    by_label(at.number_input, "Context (characters)").set_value(25).run()
    assert not at.exception
    assert at.session_state["spec"]["data"]["lookback"] == 25 and at.session_state["spec"]["task"] == "generate"


def test_data_page_upload_of_text_switches_to_generate(text_path: Path, tiny_csv: Path) -> None:
    from tests.app.conftest import seeded

    at = make_app("pages/data.py", seeded(tiny_csv))
    by_label(at.radio, "Source").set_value("Upload a CSV").run()
    at.file_uploader[0].upload("sayings.txt", text_path.read_bytes(), "text/plain").run()
    assert not at.exception, at.exception
    spec = at.session_state["spec"]
    assert spec["task"] == "generate" and spec["blocks"][0]["units"] == 256  # the char-RNN preset
    assert not errors(at), errors(at)


def test_data_page_invalid_utf8_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text\n" * 30 + b"\xff oops")
    at = make_app("pages/data.py", _text_seed(bad))
    assert not at.exception
    assert any("invalid UTF-8 at byte 300 (0xff)" in e for e in errors(at)), errors(at)


@pytest.fixture
def gen_run(studio_home: Path) -> Path:
    """A finished generate run without training: a tiny untrained model, its metadata, metrics and samples."""
    from builder.model.build import build_model
    from builder.spec import ModelSpec
    from builder.tasks.registry import get_task
    from builder.training.artifacts import metadata_for, save_keras
    from builder.training.runs import Run

    spec = ModelSpec.from_dict({"task": "generate", "name": "tiny char", "embedding_dim": 4, "data": {"lookback": 10},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 8}]})
    resolved = get_task("generate").resolve(
        __import__("builder.data.text", fromlist=["prepare_text"]).prepare_text(TEXT, "sayings.txt", 10, 0.15, 0.15))
    run = Run(studio_home / "runs" / "gen-run")
    run.path.mkdir(parents=True)
    run.write_spec(spec)
    model = build_model(spec, resolved)
    save_keras(model, run.file("model.keras"))
    run.write_json("metadata.json", metadata_for(spec, resolved, model))
    scores = {"bits_per_char": 2.5, "perplexity": 2 ** 2.5, "val_bits_per_char": 2.6, "val_perplexity": 2 ** 2.6}
    run.write_json("metrics.json", {
        "task": "generate", "part": "test", "vocabulary": len(resolved.classes), "context": 10,
        "n_chars": resolved.split, "model": scores, "unigram": {**scores, "bits_per_char": 4.1},
        "ngram": {**scores, "bits_per_char": 3.0, "order": 4, "smoothing": "interpolated Kneser-Ney"},
        "bits_per_char": {"model": 2.5, "unigram": 4.1, "ngram": 3.0}})
    run.write_json("sample.json", {"prompt": "Where", "temperature": 0.8, "length": 50,
                                   "samples": [{"epoch": 1, "text": "Where xyz"}, {"epoch": 2, "text": "Where there is"}]})
    run.set_status("finished", message="done", finished=time.time())
    return run.path


def test_train_page_shows_the_latest_sample(gen_run: Path, text_path: Path) -> None:
    at = make_app("pages/train.py", {**_text_seed(text_path), "run_id": gen_run.name})
    assert not at.exception, at.exception
    assert any("Sample after epoch 2" in m.value for m in at.markdown)
    assert any("Where there is" in c.value for c in at.code)


def test_evaluate_shows_bits_per_char_and_generates(gen_run: Path, text_path: Path) -> None:
    at = make_app("pages/evaluate.py", {**_text_seed(text_path), "run_id": gen_run.name})
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert "bits/char" in table.columns and len(table) == 3
    by_label(at.text_input, "Prompt").set_value("A penny")
    by_label(at.number_input, "Length").set_value(30)
    by_label(at.number_input, "Seed").set_value(3)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    texts = [c.value for c in at.code]
    assert any(t.startswith("A penny") and len(t) == 37 for t in texts), texts
    meta = json.loads((gen_run / "metadata.json").read_text())
    assert meta["serving"]["signature"] == "generate"


def test_evaluate_generate_box_notes_what_the_cli_notes(gen_run: Path, text_path: Path) -> None:
    """Before: a top-k beyond the vocabulary and prompt characters the run never saw went by without a word
    in the app, while the CLI's `generate` noted both (builder.serving.generate)."""
    meta = json.loads((gen_run / "metadata.json").read_text())
    n = len(meta["resolved"]["classes"])
    at = make_app("pages/evaluate.py", {**_text_seed(text_path), "run_id": gen_run.name})
    by_label(at.text_input, "Prompt").set_value("A penny€")
    by_label(at.number_input, "Length").set_value(5)
    by_label(at.number_input, "Top-k").set_value(n + 10)
    at.button[0].click().run()
    assert not at.exception and not errors(at), errors(at)
    infos = [i.value for i in at.info]
    assert any(i.startswith("Prompt: 1 character(s) do not occur in the run's training text ('€')") for i in infos), infos
    assert f"Top-k {n + 10}: more than the {n} characters the model knows (the unknown symbol included), so all {n} " \
           "are sampled from, as with Top-k 0" in infos, infos
    assert any(c.value.startswith("A penny") for c in at.code)  # the text still comes
    by_label(at.text_input, "Prompt").set_value("A penny")
    by_label(at.number_input, "Top-k").set_value(3)
    by_label(at.number_input, "Temperature").set_value(0.0)
    at.button[0].click().run()
    assert [i.value for i in at.info] == ["Top-k 3: for sampling; temperature 0 (greedy) takes the most likely text "
                                          "and does not use it"]
    by_label(at.number_input, "Top-k").set_value(0)
    at.button[0].click().run()
    assert not at.info and not errors(at)


def test_design_page_edits_the_embedding_size(text_path: Path) -> None:
    at = make_app("pages/design.py", _text_seed(text_path), timeout=300)  # builds the 2x256 model once
    assert not at.exception, at.exception
    by_label(at.number_input, "Embedding size").set_value(32).run()
    assert not at.exception and at.session_state["spec"]["embedding_dim"] == 32
