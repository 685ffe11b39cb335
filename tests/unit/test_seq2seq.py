"""Unit tests for builder.model.seq2seq: shapes, attention weights, scheduled sampling, beam search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from builder.model.seq2seq import END, START, Seq2Seq, TeacherForcingSchedule, teacher_forcing_ratio


def _batch(b: int = 3, s: int = 5, t: int = 4, v: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    source = rng.integers(4, v, size=(b, s)).astype("int32")
    source[0, 3:] = 0  # padding
    target = rng.integers(4, v, size=(b, t)).astype("int32")
    target[:, 0] = START
    return {"source": source, "target_in": target}


@pytest.mark.parametrize(("cell", "bidirectional", "attention", "score", "layers"), [
    ("gru", False, "bahdanau", "general", 1),
    ("lstm", True, "luong", "general", 2),
    ("lstm", False, "luong", "dot", 1),
    ("gru", True, "none", "general", 1),
])
def test_shapes_and_attention_weights(cell: str, bidirectional: bool, attention: str, score: str, layers: int) -> None:
    model = Seq2Seq(7, 9, units=8, embed=4, cell=cell, layers=layers, bidirectional=bidirectional,
                    attention=attention, score=score)
    batch = _batch()
    logits, weights = model.run(batch["source"], batch["target_in"])
    assert tuple(logits.shape) == (3, 4, 9)
    if attention == "none":
        assert weights is None
    else:
        w = np.asarray(weights)
        assert w.shape == (3, 4, 5)
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
        assert np.all(w[0, :, 3:] < 1e-6)  # padded source positions get no weight
    tokens, _ = model.greedy(batch["source"], 6)
    assert tuple(tokens.shape) == (3, 6)


def test_dot_score_refuses_size_mismatch() -> None:
    with pytest.raises(ValueError, match="score"):
        Seq2Seq(7, 9, units=8, bidirectional=True, attention="luong", score="dot")


def test_schedules() -> None:
    assert teacher_forcing_ratio("none", 5) == 1.0
    assert teacher_forcing_ratio("linear", 0, k=1.0, c=0.25) == 1.0
    assert teacher_forcing_ratio("linear", 2, k=1.0, c=0.25) == 0.5
    assert teacher_forcing_ratio("linear", 10, k=1.0, c=0.25, minimum=0.1) == 0.1
    assert teacher_forcing_ratio("exponential", 3, k=0.5) == pytest.approx(0.125)
    values = [teacher_forcing_ratio("inverse_sigmoid", i, k=5.0) for i in range(20)]
    assert values[0] == pytest.approx(5 / 6)
    assert all(a > b for a, b in itertools.pairwise(values))
    with pytest.raises(ValueError, match="schedule"):
        teacher_forcing_ratio("cosine", 1)  # type: ignore[arg-type]


def test_scheduled_sampling_uses_own_predictions() -> None:
    model = Seq2Seq(7, 9, units=8, embed=4, attention="bahdanau")
    batch = _batch()
    forced = np.asarray(model.run(batch["source"], batch["target_in"], training=False)[0])
    model.teacher_ratio.assign(1.0)
    np.testing.assert_allclose(np.asarray(model.run(batch["source"], batch["target_in"], training=True)[0]), forced,
                               atol=1e-5)
    # ratio 0: every step after the first feeds the model's own argmax, as greedy decoding does
    model.teacher_ratio.assign(0.0)
    free = np.asarray(model.run(batch["source"], batch["target_in"], training=True)[0])
    tokens, _ = model.greedy(batch["source"], 4)
    np.testing.assert_array_equal(free.argmax(-1), np.asarray(tokens))


def test_schedule_callback_logs_ratio() -> None:
    model = Seq2Seq(7, 9, units=8, embed=4, attention="luong")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    batch = _batch(b=8)
    y = np.roll(batch["target_in"], -1, axis=1)
    history = model.fit(batch, y, epochs=3, batch_size=4, verbose=0,
                        callbacks=[TeacherForcingSchedule("linear", k=1.0, c=0.5)])
    assert history.history["teacher_forcing"] == [1.0, 0.5, 0.0]


def test_beam_matches_brute_force() -> None:
    """A beam as wide as V ** L finds the exact most probable sequence of length <= L."""
    vocab, length = 5, 3
    model = Seq2Seq(6, vocab, units=8, embed=4, attention="bahdanau")
    source = np.array([[4, 5, 4, 0]], "int32")
    best = model.beam(source, length, width=vocab**length)[0]

    outputs, keys, mask, states0 = model.encode(source)

    def logprob(seq: tuple[int, ...]) -> float:
        states, context, token, total = states0, model.start_context(outputs), START, 0.0
        for tok in seq:
            logits, states, context, _ = model.step(np.array([token], "int32"), states, context, outputs, keys, mask)
            lp = np.asarray(logits)[0].astype(np.float64)
            lp = lp - np.log(np.exp(lp - lp.max()).sum()) - lp.max()
            total += lp[tok]
            token = tok
        return total

    candidates = []
    for n in range(1, length + 1):
        for seq in itertools.product(range(vocab), repeat=n):
            if (END in seq[:-1]) or (n < length and seq[-1] != END):
                continue
            candidates.append((logprob(seq), seq))
    want = max(candidates)
    assert best.tokens == want[1]
    assert best.log_prob == pytest.approx(want[0], abs=1e-4)


@pytest.mark.parametrize(("attention", "score"), [("luong", "general"), ("luong", "dot"), ("bahdanau", "general")])
def test_attention_as_matmuls_matches_broadcast_sums(attention: str, score: str) -> None:
    """Attention scores and context as batched matmuls (the default) give the broadcast-multiply-and-sum form's
    logits, attention weights and gradients, with the source padding masked."""
    import keras
    import tensorflow as tf

    model = Seq2Seq(7, 9, units=8, embed=4, cell="lstm", attention=attention, score=score)
    batch = _batch(b=4, s=6, t=5)
    batch["source"][:, -2:] = 0  # padding: weight 0 in both forms
    y = np.roll(batch["target_in"], -1, axis=1)
    model(batch)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def run(matmul: bool) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        model.attention_matmul = matmul

        @tf.function
        def step() -> tuple:
            with tf.GradientTape() as tape:
                logits, weights = model.run(batch["source"], batch["target_in"], training=True)  # ratio 1
                loss = loss_fn(y, logits) + tf.reduce_sum(weights[:, :, 0])
            return logits, weights, tape.gradient(loss, model.trainable_variables)

        logits, weights, grads = step()
        return logits.numpy(), weights.numpy(), [tf.convert_to_tensor(g).numpy() for g in grads]

    mm_logits, mm_weights, mm_grads = run(True)
    sum_logits, sum_weights, sum_grads = run(False)
    np.testing.assert_allclose(mm_logits, sum_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mm_weights, sum_weights, rtol=1e-5, atol=1e-7)
    assert np.all(mm_weights[:, :, -2:] == 0.0)
    for got, want, var in zip(mm_grads, sum_grads, model.trainable_variables, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=var.path)
