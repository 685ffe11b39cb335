"""Decoding (builder.model.decode): beam search equals brute-force enumeration on tiny cases,
beam width 1 equals greedy, sampling repeats under a seed and top-k 1 is greedy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from builder.model.decode import beam_search, length_penalty, sample_tokens  # noqa: E402

V, S = 3, 4


class ToyStep:
    """A small recurrent next-token model with random weights: states [B, S], V tokens."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.a = tf.constant(rng.normal(0, 1.0, (S, S)), tf.float32)
        self.e = tf.constant(rng.normal(0, 1.0, (V, S)), tf.float32)
        self.u = tf.constant(rng.normal(0, 2.0, (S, V)), tf.float32)
        self.s0 = tf.constant(rng.normal(0, 1.0, (1, S)), tf.float32)

    def __call__(self, tokens, states):
        states = tf.tanh(states @ self.a + tf.gather(self.e, tokens))
        return states @ self.u, states

    def start(self):
        return self.s0 @ self.u, self.s0

    def log_prob(self, seq: tuple[int, ...]) -> float:
        """The same model in NumPy (float64), one sequence at a time."""
        a, e, u, states = (np.asarray(t, np.float64) for t in (self.a, self.e, self.u, self.s0))
        logits, total = states @ u, 0.0
        for tok in seq:
            total += float(logits[0, tok] - np.log(np.exp(logits[0]).sum()))
            states = np.tanh(states @ a + e[tok])
            logits = states @ u
        return total


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("length", [1, 3])
def test_full_beam_is_exact(seed, length):
    step = ToyStep(seed)
    best = max(itertools.product(range(V), repeat=length), key=step.log_prob)
    logits, states = step.start()
    hyps = beam_search(step, logits, states, length, width=V ** length)
    assert hyps[0].tokens == best
    assert hyps[0].log_prob == pytest.approx(step.log_prob(best), abs=1e-4)
    assert len(hyps) == V ** length  # every sequence was kept


@pytest.mark.parametrize(("seed", "alpha"), [(0, 0.0), (3, 0.6), (5, 2.0)])
def test_full_beam_with_end_token_and_length_normalisation(seed, alpha):
    step, length, end = ToyStep(seed), 3, 0
    candidates = set()
    for seq in itertools.product(range(V), repeat=length):
        cut = seq.index(end) + 1 if end in seq else length
        candidates.add(seq[:cut])
    scored = {c: step.log_prob(c) / length_penalty(len(c), alpha) for c in candidates}
    best = max(scored, key=scored.get)
    logits, states = step.start()
    hyps = beam_search(step, logits, states, length, width=V ** length, end_token=end, alpha=alpha)
    assert hyps[0].tokens == best
    assert hyps[0].score == pytest.approx(scored[best], abs=1e-4)
    assert {h.tokens for h in hyps} == candidates


def test_width_one_is_greedy():
    step = ToyStep(7)
    logits, states = step.start()
    greedy = sample_tokens(step, logits, states, 5, 0.0, 0, 0)[0].numpy().tolist()
    assert list(beam_search(step, logits, states, 5, width=1)[0].tokens) == greedy


def test_sampling_repeats_under_a_seed():
    step = ToyStep(4)
    logits, states = step.start()
    a = sample_tokens(step, logits, states, 40, 5.0, 0, 11).numpy()
    b = sample_tokens(step, logits, states, 40, 5.0, 0, 11).numpy()
    c = sample_tokens(step, logits, states, 40, 5.0, 0, 12).numpy()
    assert (a == b).all() and not (a == c).all()
    top1 = sample_tokens(step, logits, states, 40, 5.0, 1, 11).numpy()
    greedy = sample_tokens(step, logits, states, 40, 0.0, 0, 11).numpy()
    assert (top1 == greedy).all()
