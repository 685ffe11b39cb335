"""Token models: the one-step form of the `generate` task's character language model, generation, serving.

`builder.model.build.build_language_model(spec, resolved)` makes the model: token ids [batch, time] int32 -> Embedding(V, E) -> the
spec's recurrent blocks (every layer returns its sequence; dense blocks act per step) -> Dense(V)
next-token logits [batch, time, V]. V = len(resolved.classes), the vocabulary (id 0: unknown).

`Stepper(model)` runs the same weights one token at a time with explicit state, the form that
generation, beam search and the exported `step` signature use: tokens [B] int32 and states
[B, S] float32 (every layer's states concatenated in layer order) -> (logits [B, V], states [B, S]).
"""

from __future__ import annotations

from typing import Any

import keras

Tensor = Any


def _state_sizes(cell: Any) -> list[int]:
    size = cell.state_size
    return [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]


class Stepper:
    """One-token-at-a-time view of a trained language model (the same layer objects and weights).

    __call__(tokens [B] int32, states [B, S] float32) -> (logits [B, V] float32, states [B, S]).
    """

    def __init__(self, model: keras.Model) -> None:
        self.embedding = model.get_layer("embedding")
        self.logits = model.get_layer("logits")
        self.layers: list[tuple[str, Any, list[int]]] = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.Bidirectional):
                raise ValueError(f"layer {layer.name}: a bidirectional layer cannot generate one token at a time")
            if isinstance(layer, keras.layers.RNN):
                self.layers.append(("rnn", layer.cell, _state_sizes(layer.cell)))
            elif isinstance(layer, keras.layers.Dense) and layer is not self.logits:
                self.layers.append(("dense", layer, []))
        self.state_sizes = [s for _, _, sizes in self.layers for s in sizes]
        self.state_size = int(sum(self.state_sizes))
        self.vocab_size = int(self.logits.units)

    def initial_state(self, batch: int | Tensor) -> Tensor:
        """Zeros [batch, S]."""
        import tensorflow as tf

        return tf.zeros(tf.stack([batch, self.state_size]), tf.float32)

    def __call__(self, tokens: Tensor, states: Tensor) -> tuple[Tensor, Tensor]:
        import tensorflow as tf

        x = self.embedding(tf.cast(tokens, tf.int32))
        new_states = []
        offset = 0
        for kind, obj, sizes in self.layers:
            if kind == "dense":
                x = obj(x)
                continue
            parts = []
            for s in sizes:
                parts.append(states[:, offset:offset + s])
                offset += s
            x, out = obj(x, parts, training=False)
            out = out if isinstance(out, (list, tuple)) else [out]
            new_states.extend(out)
        logits = tf.cast(self.logits(x), tf.float32)
        if not new_states:
            return logits, states
        return logits, tf.concat([tf.cast(s, tf.float32) for s in new_states], axis=-1)

    def prime(self, prompt: Tensor, states: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Feed prompt ids [B, P] (P >= 1); (logits after the last one [B, V], states [B, S])."""
        import tensorflow as tf

        prompt = tf.convert_to_tensor(prompt, tf.int32)
        if states is None:
            states = self.initial_state(tf.shape(prompt)[0])
        logits = tf.zeros(tf.stack([tf.shape(prompt)[0], self.vocab_size]), tf.float32)

        def body(t: Tensor, logits: Tensor, states: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            logits, states = self(prompt[:, t], states)
            return t + 1, logits, states

        _, logits, states = tf.while_loop(lambda t, *_: t < tf.shape(prompt)[1], body,
                                          (tf.constant(0), logits, states))
        return logits, states


def generate_text(model: keras.Model | Stepper, vocab: tuple[str, ...] | list[str], prompt: str, length: int,
                  temperature: float = 1.0, top_k: int = 0, seed: int = 0, beam: int = 0,
                  alpha: float = 0.0) -> str:
    """`prompt` followed by `length` generated characters.

    beam > 0: beam search of that width (the highest-scoring continuation); otherwise temperature
    <= 0: greedy, else sampling at `temperature` from the top_k characters (0: all), repeatable
    under `seed` (the same draws as the exported `generate` signature). An empty prompt starts
    from the unknown symbol's position with a fresh state.
    """
    import tensorflow as tf

    from builder.data.text import encode
    from builder.model.decode import beam_search, sample_tokens

    step = model if isinstance(model, Stepper) else Stepper(model)
    ids = encode(prompt, vocab) if prompt else [0]
    logits, states = step.prime(tf.constant([list(ids)], tf.int32))
    if beam > 0:
        best = beam_search(step, logits, states, int(length), int(beam), alpha=alpha)[0]
        tokens = list(best.tokens)
    else:
        tokens = sample_tokens(step, logits, states, int(length), float(temperature), int(top_k), int(seed))[0].numpy().tolist()
    return prompt + "".join(vocab[int(i)] for i in tokens)


def serving_endpoints(model: keras.Model, vocab: tuple[str, ...] | list[str]) -> dict[str, tuple[Any, list[Any]]]:
    """The SavedModel endpoints of a language model: name -> (function, input signature).

    generate(prompt: string [], length: int32 [], temperature: float32 [], top_k: int32 [],
             seed: int64 []) -> {"text": string [] (prompt + length characters), "tokens": int32 [length]}
        temperature <= 0: greedy; top_k <= 0: every character; the same draws as `generate_text`.
    step(token: int32 [B], states: float32 [B, S]) -> {"logits": float32 [B, V], "states": float32 [B, S]}
        S = Stepper(model).state_size; start from zeros.
    Only TensorFlow ops: the vocabulary is a string constant, characters are matched by comparison.
    """
    import tensorflow as tf

    from builder.model.decode import sample_tokens

    stepper = Stepper(model)
    table = tf.constant(list(vocab))

    def to_ids(prompt: Any) -> Any:
        chars = tf.strings.unicode_split(prompt, "UTF-8")
        hit = tf.equal(chars[:, None], table[None, 1:])  # [P, V-1]
        ids = tf.where(tf.reduce_any(hit, axis=1), tf.argmax(tf.cast(hit, tf.int32), axis=1, output_type=tf.int32) + 1, 0)
        return tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.zeros([1], tf.int32))

    def generate(prompt: Any, length: Any, temperature: Any, top_k: Any, seed: Any) -> dict[str, Any]:
        logits, states = stepper.prime(to_ids(prompt)[None, :])
        tokens = sample_tokens(stepper, logits, states, length, temperature, top_k, seed)[0]
        return {"text": tf.strings.join([prompt, tf.strings.reduce_join(tf.gather(table, tokens))]), "tokens": tokens}

    def step(token: Any, states: Any) -> dict[str, Any]:
        logits, states = stepper(token, states)
        return {"logits": logits, "states": states}

    scalar = tf.TensorSpec
    return {
        "generate": (generate, [scalar([], tf.string, name="prompt"), scalar([], tf.int32, name="length"),
                                scalar([], tf.float32, name="temperature"), scalar([], tf.int32, name="top_k"),
                                scalar([], tf.int64, name="seed")]),
        "step": (step, [scalar([None], tf.int32, name="token"), scalar([None, stepper.state_size], tf.float32, name="states")]),
    }
