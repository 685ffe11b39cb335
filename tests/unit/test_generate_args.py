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
