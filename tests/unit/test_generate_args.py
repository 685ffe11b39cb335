"""`generate`'s arguments: values sampling cannot use are refused naming the flag, and prompt characters
outside the run's vocabulary are said (no training: the checks are plain functions)."""

from __future__ import annotations

import pytest

from builder.data.text import UNK
from builder.serving.generate import check_generate_args, prompt_notices


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"temperature": float("nan")}, "--temperature: expected a finite number"),
    ({"temperature": float("inf")}, "--temperature: expected a finite number"),
    ({"temperature": -0.5}, "--temperature"),
    ({"alpha": float("nan")}, "--alpha: expected a finite number"),
    ({"alpha": float("-inf")}, "--alpha: expected a finite number"),
])
def test_non_finite_temperature_and_alpha_are_refused(kwargs, fragment):
    args = {"length": 10, "temperature": 1.0, "top_k": 0, "beam": 0, "alpha": 0.0, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        check_generate_args(**args)


def test_finite_values_pass():
    check_generate_args(10, 0.0, 0, 0, 0.0)
    check_generate_args(10, 2.5, 500, 3, 0.7)


def test_prompt_characters_outside_the_vocabulary_are_named():
    vocab = (UNK, " ", "T", "e", "h")
    assert prompt_notices("The ", vocab) == []
    assert prompt_notices("", vocab) == []
    (note,) = prompt_notices("Thé €é", vocab)
    assert "3 character(s)" in note and "'é'" in note and "'€'" in note and "unknown symbol" in note
    (note,) = prompt_notices(UNK, vocab)  # the unknown symbol itself is no training character
    assert "1 character(s)" in note


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--beam", "3", "--temperature", "0.5"], "error: --temperature: for sampling; --beam 3 searches for the most likely text"),
    (["--beam", "2", "--top-k", "5", "--temperature", "0"], "error: --temperature and --top-k: for sampling; --beam 2"),
    (["--alpha", "0.7"], "error: --alpha 0.7: the beam's length normalisation; only with --beam N"),
])
def test_flags_that_the_chosen_decoding_ignores_are_refused(tmp_path, capsys, extra, fragment):
    from builder.__main__ import main

    assert main(["generate", "--run", str(tmp_path / "no-run"), "--prompt", "a", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(fragment) and err.count("\n") == 1


def test_the_app_generate_box_notes_as_the_cli_with_its_own_names(tmp_path):
    """builder.app.text.generate_notices: the CLI's notes, naming the app's boxes; top-k beside greedy or beam
    search (which the CLI refuses) is said to be unused; another task's run gives none."""
    import json

    from builder.app.text import generate_notices
    from builder.training.runs import METADATA_FORMAT, Run

    vocab = [UNK, " ", "T", "e", "h"]
    (tmp_path / "metadata.json").write_text(json.dumps({"format": METADATA_FORMAT, "task": "generate", "resolved": {"classes": vocab}}))
    run = Run(tmp_path)
    assert generate_notices(run, "The ", 1.0, 5, 0) == []
    assert generate_notices(run, "The x", 1.0, 9, 0) == [
        "Prompt: 1 character(s) do not occur in the run's training text ('x'); the model reads them as the unknown symbol",
        "Top-k 9: more than the 5 characters the model knows (the unknown symbol included), so all 5 are sampled "
        "from, as with Top-k 0"]
    assert generate_notices(run, "The", 1.0, 9, 4) == [
        "Top-k 9: for sampling; beam search (width 4) takes the most likely text and does not use it"]
    (tmp_path / "metadata.json").write_text(json.dumps({"format": METADATA_FORMAT, "task": "classify", "resolved": {"classes": ["a", "b"]}}))
    assert generate_notices(Run(tmp_path), "x", 1.0, 9, 0) == []
