"""Text from a finished `generate` run: its model.keras run one character at a time
(builder.model.sequence.generate_text), greedy, sampled or by beam search."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from builder.limits import check_beam_width
from builder.training.runs import Run


def check_generate_args(length: int, temperature: float, top_k: int, beam: int, alpha: float = 0.0) -> None:
    """ValueError naming the argument for a value generation cannot use."""
    if not 1 <= length <= 100_000:
        raise ValueError(f"--length: expected 1..100000 characters, got {length}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"--temperature: expected a finite number, 0 (greedy) or more, got {temperature}")
    if top_k < 0:
        raise ValueError(f"--top-k: expected 0 (all) or more, got {top_k}")
    check_beam_width(beam, "--beam")
    if not math.isfinite(alpha):
        raise ValueError(f"--alpha: expected a finite number, got {alpha}")


def prompt_notices(prompt: str, vocab: tuple[str, ...] | list[str], name: str = "--prompt") -> list[str]:
    """What generation assumes about `prompt`: its characters outside the run's vocabulary (the training
    part's characters) are read as the unknown symbol (id 0). `name`: how the notice names the prompt
    (the CLI's flag, or the app's box)."""
    known = set(vocab[1:])
    missing = sorted({c for c in prompt if c not in known})
    if not missing:
        return []
    count = sum(c not in known for c in prompt)
    shown = ", ".join(repr(c) for c in missing[:10]) + (", ..." if len(missing) > 10 else "")
    return [f"{name}: {count} character(s) do not occur in the run's training text ({shown}); "
            "the model reads them as the unknown symbol"]


def sampling_notices(top_k: int, vocab: tuple[str, ...] | list[str], name: str = "--top-k") -> list[str]:
    """What sampling assumes about `top_k`: a k beyond the run's vocabulary (its characters and the unknown
    symbol: the model's outputs) keeps every character, as top-k 0 does. `name`: how the notice names
    top-k (the CLI's flag, or the app's box)."""
    if top_k <= len(vocab):
        return []
    return [f"{name} {top_k}: more than the {len(vocab)} characters the model knows (the unknown symbol "
            f"included), so all {len(vocab)} are sampled from, as with {name} 0"]


def generate_from_run(run_dir: str | Path, prompt: str, length: int, temperature: float = 1.0, top_k: int = 0,
                      seed: int = 0, beam: int = 0, alpha: float = 0.0, model: Any | None = None) -> str:
    """The prompt followed by `length` characters from the run's model (`model`: already loaded)."""
    from builder.model.sequence import generate_text
    from builder.serving.export import load_run_model

    run = Run(run_dir)
    meta = run.metadata()
    if meta.get("task") != "generate":
        raise ValueError(f"{run.path}: a `{meta.get('task')}` run; `generate` needs a run of task generate")
    check_generate_args(length, temperature, top_k, beam, alpha)
    vocab = tuple(meta["resolved"]["classes"])
    return generate_text(model or load_run_model(run), vocab, prompt, length, temperature=temperature, top_k=top_k,
                         seed=seed, beam=beam, alpha=alpha)
