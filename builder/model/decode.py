"""Decoding a next-token model: greedy, temperature and top-k sampling, and beam search, in TensorFlow ops.

Every function takes a step function `step(tokens [B] int32, states [B, S] float32) -> (logits [B, V],
states [B, S])` (builder.model.sequence.Stepper, or the decoder of a translation model), so the same
code runs eagerly in the app and the CLI and traced inside an exported SavedModel. Sampling draws with
`tf.random.stateless_categorical` seeded by (seed, step): a seed gives the same text in every process.

Why not keras_hub's samplers: keras_hub is not in our lock (its releases pin tensorflow-text below the
TensorFlow 2.21 we use), so beam search is written here and tested against brute-force enumeration
(tests/unit/test_decode.py: the beam of width V^L finds the exact best sequence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Tensor = Any
StepFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def adjust_logits(logits: Tensor, temperature: Tensor, top_k: Tensor) -> Tensor:
    """logits [B, V] / temperature, with every token outside the top k set to -inf (top_k <= 0: all)."""
    import tensorflow as tf

    logits = tf.convert_to_tensor(logits, tf.float32)
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(tf.cast(top_k, tf.int32), vocab), vocab)
    kth = tf.reduce_min(tf.math.top_k(logits, k=k).values, axis=-1, keepdims=True)
    masked = tf.where(logits < kth, tf.fill(tf.shape(logits), float("-inf")), logits)
    return masked / tf.maximum(tf.cast(temperature, tf.float32), 1e-6)


def sample_tokens(step: StepFn, logits: Tensor, states: Tensor, length: Tensor, temperature: Tensor,
                  top_k: Tensor, seed: Tensor) -> Tensor:
    """Generate `length` tokens [B, length] int32 after a primed state.

    logits [B, V]: the distribution of the first token; states [B, S]. temperature <= 0 picks the
    argmax (greedy); otherwise samples softmax(logits / temperature) restricted to the top_k tokens
    (top_k <= 0: all), with draw i seeded by (seed, i).
    """
    import tensorflow as tf

    temperature = tf.cast(temperature, tf.float32)
    top_k = tf.cast(top_k, tf.int32)
    seed = tf.cast(seed, tf.int64)
    length = tf.cast(length, tf.int32)
    batch = tf.shape(logits)[0]
    out = tf.TensorArray(tf.int32, size=length)

    def pick(i: Tensor, logits: Tensor) -> Tensor:
        greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
        adjusted = adjust_logits(logits, temperature, top_k)
        drawn = tf.random.stateless_categorical(adjusted, 1, seed=tf.stack([seed, tf.cast(i, tf.int64)]),
                                                dtype=tf.int32)[:, 0]
        return tf.where(temperature > 0, drawn, greedy)

    def body(i: Tensor, logits: Tensor, states: Tensor, out: Any) -> tuple[Tensor, Tensor, Tensor, Any]:
        token = pick(i, logits)
        out = out.write(i, token)
        logits, states = step(token, states)
        return i + 1, logits, states, out

    _, _, _, out = tf.while_loop(lambda i, *_: i < length, body, (tf.constant(0), logits, states, out))
    tokens = out.stack()  # [length, B]
    return tf.reshape(tf.transpose(tokens), tf.stack([batch, length]))


@dataclass(frozen=True)
class Hypothesis:
    """A finished beam: tokens (without the end token's successors), total log-probability, normalised score."""

    tokens: tuple[int, ...]
    log_prob: float
    score: float


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length normalisation ((5 + length) / 6) ** alpha (Wu et al. 2016); alpha 0: none."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(step: StepFn, logits: Tensor, states: Tensor, length: int, width: int,
                end_token: int | None = None, alpha: float = 0.0) -> list[Hypothesis]:
    """Beam search for one sequence; returns the finished hypotheses, best (highest score) first.

    logits [1, V]: the distribution of the first token after the primed `states` [1, S]. Each step
    keeps the `width` best continuations by total log-probability; a continuation that emits
    `end_token` is finished (its tokens include the end token), and at `length` tokens every live
    one is. The score is the log-probability divided by `length_penalty(len, alpha)`.
    With width >= V ** length the search is exhaustive and returns the exact best sequence.
    """
    import numpy as np
    import tensorflow as tf

    logp = tf.nn.log_softmax(tf.convert_to_tensor(logits, tf.float32), axis=-1).numpy()  # [k, V]
    live_tokens: list[tuple[int, ...]] = [()]
    live_scores = np.zeros(1, np.float64)
    finished: list[Hypothesis] = []
    for t in range(length):
        vocab = logp.shape[1]
        cand = (live_scores[:, None] + logp.astype(np.float64)).reshape(-1)
        k = min(width, cand.size)
        top = np.argpartition(-cand, k - 1)[:k] if k < cand.size else np.arange(cand.size)
        top = top[np.argsort(-cand[top], kind="stable")]
        parents, tokens, keep = [], [], []
        for idx in top:
            parent, token = divmod(int(idx), vocab)
            seq = (*live_tokens[parent], token)
            if (end_token is not None and token == end_token) or t == length - 1:
                finished.append(Hypothesis(seq, float(cand[idx]), float(cand[idx]) / length_penalty(len(seq), alpha)))
            else:
                parents.append(parent)
                tokens.append(token)
                keep.append(seq)
        if not keep:
            break
        live_tokens = keep
        live_scores = cand[np.asarray(parents) * vocab + np.asarray(tokens)]
        logits, states = step(tf.constant(tokens, tf.int32), tf.gather(states, parents))
        logp = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1).numpy()
    finished.sort(key=lambda h: -h.score)
    return finished
