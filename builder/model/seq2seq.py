"""Encoder-decoder with attention for sequence-to-sequence tasks (translate).

Encoder: an embedding and a stack of recurrent layers from the cell registry (any cell, stacked,
bidirectional); its last layer's final states start the decoder, through a learned Dense bridge
when the encoder is bidirectional (forward and backward states concatenated). Decoder: one cell of
the same kind, stepped token by token. Attention over the encoder outputs [B, S, E]:

* ``"bahdanau"`` (additive): score = v . tanh(W_k h_s + W_q s_t);
* ``"luong"`` with ``score="dot"`` (s_t . h_s, needs E == units) or ``"general"`` (s_t . W h_s);
* ``"none"``: no context (the plain encoder-decoder of Sutskever et al. 2014).

The context of step t-1 is fed to the decoder input at step t (input feeding) and the context of
step t to the output layer: logits_t = Dense(V)([s_t; c_t]). Source padding (token 0) is masked.

Training is teacher forcing with scheduled sampling (Bengio et al. 2015): at step t > 0 the
previous target is replaced by the model's own argmax prediction with probability 1 - ratio, where
``ratio`` (the teacher-forcing ratio, a non-trainable variable) decays per epoch by
:func:`teacher_forcing_ratio`; :class:`TeacherForcingSchedule` sets it and logs it as
``teacher_forcing`` in the training history.
"""

from __future__ import annotations

import weakref
from typing import Any, Literal

import keras
from keras import ops

from builder.data.pairs import END, PAD, SPECIALS, START, UNK
from builder.model.cells.registry import get_cell
from builder.model.recurrent import FusedRNN
from builder.tasks.translate import schedule_callback_class, teacher_forcing_ratio

Tensor = Any
Attention = Literal["bahdanau", "luong", "none"]
Schedule = Literal["none", "linear", "exponential", "inverse_sigmoid"]

__all__ = ["END", "PAD", "START", "UNK", "Seq2Seq", "TeacherForcingSchedule", "build_seq2seq", "teacher_forcing_ratio",
           "translate_module"]


def _state_sizes(cell: Any) -> list[int]:
    size = cell.state_size
    return [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]


@keras.saving.register_keras_serializable(package="builder")
class Seq2Seq(keras.Model):
    """Source tokens [B, S] and shifted targets [B, T] (START first) -> logits [B, T, V]."""

    #: attention scores and context as batched matmuls ([B, S, E] @ [B, E, 1], [B, 1, S] @ [B, S, E]); False: as
    #: broadcast multiplies summed over an axis, the same sums in another order (tests/unit/test_seq2seq.py compares)
    attention_matmul = True

    def __init__(self, src_vocab: int, tgt_vocab: int, units: int = 64, embed: int = 32, cell: str = "gru",
                 layers: int = 1, bidirectional: bool = False, attention: Attention = "bahdanau",
                 score: Literal["dot", "general"] = "general", dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if attention not in ("bahdanau", "luong", "none"):
            raise ValueError(f"attention: expected bahdanau, luong or none, found {attention!r}")
        if score not in ("dot", "general"):
            raise ValueError(f"score: expected dot or general, found {score!r}")
        enc_width = units * (2 if bidirectional else 1)
        if attention == "luong" and score == "dot" and enc_width != units:
            raise ValueError("score: 'dot' needs encoder outputs of the decoder's size; a bidirectional encoder "
                             f"gives {enc_width}, the decoder {units}; use score 'general'")
        self.config_ = {"src_vocab": src_vocab, "tgt_vocab": tgt_vocab, "units": units, "embed": embed,
                        "cell": cell, "layers": layers, "bidirectional": bidirectional, "attention": attention,
                        "score": score, "dropout": dropout}
        self.attention, self.score, self.units, self.tgt_vocab = attention, score, units, tgt_vocab
        entry = get_cell(cell)
        self.src_embed = keras.layers.Embedding(src_vocab, embed, name="src_embed")
        self.tgt_embed = keras.layers.Embedding(tgt_vocab, embed, name="tgt_embed")
        self.encoder = []
        for i in range(layers):
            layer_class = entry.layer_class()
            if layer_class is not None:
                rnn = layer_class(units, return_sequences=True, return_state=True, dropout=dropout, name=f"enc_{i}")
            else:
                rnn = FusedRNN(entry.cell_class()(units, dropout=dropout), return_sequences=True, return_state=True,
                               name=f"enc_{i}")
            if bidirectional:
                rnn = keras.layers.Bidirectional(rnn, merge_mode="concat", name=f"bi_enc_{i}")
            self.encoder.append(rnn)
        self.cell = entry.cell_class()(units, name="dec_cell")
        self.n_states = len(_state_sizes(self.cell))
        self.bridge = ([keras.layers.Dense(s, activation="tanh", name=f"bridge_{i}")
                        for i, s in enumerate(_state_sizes(self.cell))] if bidirectional else [])
        self.key_dense = (keras.layers.Dense(units, use_bias=False, name="att_keys")
                          if attention == "bahdanau" or (attention == "luong" and score == "general") else None)
        self.query_dense = keras.layers.Dense(units, use_bias=False, name="att_query") if attention == "bahdanau" else None
        self.att_v = keras.layers.Dense(1, use_bias=False, name="att_v") if attention == "bahdanau" else None
        self.out = keras.layers.Dense(tgt_vocab, name="logits")
        self.ctx_width = enc_width if attention != "none" else 0
        self.teacher_ratio = keras.Variable(1.0, trainable=False, name="teacher_ratio")
        self.sampling_seed = keras.random.SeedGenerator(0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.config_}

    # -- encoder ---------------------------------------------------------------------------------
    def encode(self, source: Tensor, training: bool = False) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """source [B, S] -> (outputs [B, S, E], keys [B, S, units or E], mask [B, S], decoder states)."""
        mask = ops.not_equal(source, PAD)
        x = self.src_embed(source)
        finals: list[Tensor] = []
        for rnn in self.encoder:
            result = rnn(x, training=training)
            x, finals = result[0], list(result[1:])
        if self.bridge:
            half = len(finals) // 2
            finals = [dense(ops.concatenate([f, b], axis=-1))
                      for dense, f, b in zip(self.bridge, finals[:half], finals[half:], strict=True)]
        keys = self.key_dense(x) if self.key_dense is not None else x
        return x, keys, mask, finals

    # -- one decoder step -------------------------------------------------------------------------
    def attend(self, query: Tensor, outputs: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """query [B, units] -> (context [B, E], weights [B, S]) over encoder outputs; padding gets weight 0."""
        if self.attention == "bahdanau":
            scores = ops.squeeze(self.att_v(ops.tanh(keys + ops.expand_dims(self.query_dense(query), 1))), -1)
        elif self.attention_matmul:
            scores = ops.squeeze(ops.matmul(keys, ops.expand_dims(query, -1)), -1)
        else:
            scores = ops.sum(keys * ops.expand_dims(query, 1), axis=-1)
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        if self.attention_matmul:
            return ops.squeeze(ops.matmul(ops.expand_dims(weights, 1), outputs), 1), weights
        return ops.sum(outputs * ops.expand_dims(weights, -1), axis=1), weights

    def step(self, token: Tensor, states: list[Tensor], context: Tensor | None, outputs: Tensor, keys: Tensor,
             mask: Tensor, training: bool = False) -> tuple[Tensor, list[Tensor], Tensor | None, Tensor | None]:
        """token [B] -> (logits [B, V], new states, context [B, E] or None, weights [B, S] or None)."""
        x = self.tgt_embed(token)
        if context is not None:
            x = ops.concatenate([x, context], axis=-1)
        h, new_states = self.cell(x, states, training=training)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if self.attention == "none":
            return self.out(h), new_states, None, None
        context, weights = self.attend(h, outputs, keys, mask)
        return self.out(ops.concatenate([h, context], axis=-1)), new_states, context, weights

    def start_context(self, outputs: Tensor) -> Tensor | None:
        """The zero context [B, E] fed with the first token (None without attention)."""
        return None if self.attention == "none" else ops.zeros_like(outputs[:, 0, :])

    # -- whole sequences --------------------------------------------------------------------------
    def run(self, source: Tensor, target_in: Tensor, training: bool = False) -> tuple[Tensor, Tensor | None]:
        """source [B, S], target_in [B, T] -> (logits [B, T, V], attention weights [B, T, S] or None).

        With ``training`` the input at step t > 0 is the model's previous argmax with probability
        1 - ``teacher_ratio`` (scheduled sampling), otherwise target_in[:, t].
        """
        outputs, keys, mask, states = self.encode(source, training=training)
        context = self.start_context(outputs)
        all_logits, all_weights = [], []
        token = target_in[:, 0]
        for t in range(target_in.shape[1]):
            if t > 0:
                token = target_in[:, t]
                if training:
                    own = ops.cast(ops.argmax(all_logits[-1], axis=-1), token.dtype)
                    draw = keras.random.uniform(ops.shape(token), seed=self.sampling_seed)
                    token = ops.where(draw < self.teacher_ratio, token, own)
            logits, states, context, weights = self.step(token, states, context, outputs, keys, mask, training)
            all_logits.append(logits)
            if weights is not None:
                all_weights.append(weights)
        stacked = ops.stack(all_logits, axis=1)
        return stacked, (ops.stack(all_weights, axis=1) if all_weights else None)

    def call(self, inputs: dict[str, Tensor], training: bool = False) -> Tensor:
        """{"source": [B, S], "target_in": [B, T]} -> logits [B, T, V]."""
        return self.run(inputs["source"], inputs["target_in"], training=training)[0]

    def greedy(self, source: Tensor, length: int) -> tuple[Tensor, Tensor | None]:
        """source [B, S] -> (argmax tokens [B, length], attention [B, length, S] or None); stops at nothing
        (callers cut at the END token), so it traces to a fixed graph."""
        outputs, keys, mask, states = self.encode(source)
        context = self.start_context(outputs)
        token = ops.full((ops.shape(source)[0],), START, dtype="int32")
        tokens, all_weights = [], []
        for _ in range(length):
            logits, states, context, weights = self.step(token, states, context, outputs, keys, mask)
            token = ops.cast(ops.argmax(logits, axis=-1), "int32")
            tokens.append(token)
            if weights is not None:
                all_weights.append(weights)
        return ops.stack(tokens, axis=1), (ops.stack(all_weights, axis=1) if all_weights else None)

    def packed_step(self, tokens: Tensor, packed: Tensor, outputs: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """One decoder step of k hypotheses of one source: tokens [k], packed [k, S'] (the decoder states and the
        context, concatenated) and the source's encoder outputs [1, S, E], keys and mask [1, S] -> (logits [k, V],
        packed [k, S'])."""
        k = ops.shape(tokens)[0]
        parts, at = [], 0
        for size in _state_sizes(self.cell):
            parts.append(packed[:, at:at + size])
            at += size
        context = packed[:, at:] if self.attention != "none" else None
        rep = [ops.repeat(t, k, axis=0) for t in (outputs, keys, mask)]
        logits, states, context, _ = self.step(ops.cast(tokens, "int32"), parts, context, *rep)
        return logits, ops.concatenate([*states, *([context] if context is not None else [])], axis=-1)

    def beam(self, source: Tensor, length: int, width: int, alpha: float = 0.0) -> list[Any]:
        """Beam search for one source [1, S] with builder.model.decode.beam_search; best hypothesis first.

        The decoder state and context are packed into one [k, S'] tensor for the search; the encoder
        outputs (batch 1) broadcast over the k live hypotheses. The step runs as one traced TensorFlow
        function per model (traced again only for a new number of hypotheses), not op by op.
        """
        from builder.model.decode import beam_search

        outputs, keys, mask, states = self.encode(source)
        context = self.start_context(outputs)
        fn = _traced_step(self)

        def step(tokens: Tensor, packed: Tensor) -> tuple[Tensor, Tensor]:
            return fn(ops.cast(tokens, "int32"), packed, outputs, keys, mask)

        packed = ops.concatenate([*states, *([context] if context is not None else [])], axis=-1)
        logits, packed = step(ops.full((1,), START, dtype="int32"), packed)
        return beam_search(step, logits, packed, length, width, end_token=END, alpha=alpha)


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _traced_step(model: Seq2Seq) -> Any:
    """`model.packed_step` as a tf.function, made once per model."""
    fn = _TRACED.get(model)
    if fn is None:
        import tensorflow as tf

        fn = _TRACED[model] = tf.function(model.packed_step, reduce_retracing=True)
    return fn


#: the callback that sets ``teacher_ratio`` per epoch (defined with the task, builder.tasks.translate)
TeacherForcingSchedule = schedule_callback_class()


def build_seq2seq(spec: Any, resolved: Any) -> Seq2Seq:
    """The Seq2Seq of a translate spec (its one recurrent block is the encoder; `spec.seq2seq` the rest) for the
    vocabularies of `resolved` (vocabulary: source tokens, classes: target tokens), built on a dummy batch."""
    import numpy as np

    block = spec.recurrent_blocks[0]
    s = spec.seq2seq
    model = Seq2Seq(len(resolved.vocabulary), len(resolved.classes), units=block.units, embed=spec.embedding_dim,
                    cell=block.cell, layers=block.num_layers, bidirectional=block.bidirectional,
                    attention=s.attention, score=s.score, dropout=block.dropout, name="seq2seq")
    model({"source": np.zeros((1, int(resolved.lookback or 1)), np.int32),
           "target_in": np.full((1, int(resolved.horizon or 1)), START, np.int32)})
    return model


def translate_module(model: Seq2Seq, src_tokens: tuple[str, ...], tgt_tokens: tuple[str, ...], tokens: str,
                     src_length: int, tgt_length: int) -> Any:
    """A tf.Module whose ``translate(source: string [B]) -> string [B]`` runs tokenisation, the encoder and
    greedy decoding (tgt_length steps) in the graph, so the SavedModel runs with TensorFlow alone."""
    import tensorflow as tf

    src_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(src_tokens)), tf.range(len(src_tokens), dtype=tf.int64)),
        UNK)
    sep = "" if tokens == "characters" else " "

    class Translator(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.src_table, self.tgt_tokens = model, src_table, tf.constant(list(tgt_tokens))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="source")])
        def translate(self, source: Any) -> Any:
            pieces = tf.strings.unicode_split(source, "UTF-8") if tokens == "characters" else tf.strings.split(source)
            ids = tf.cast(self.src_table.lookup(pieces), tf.int32)
            ids = ids[:, :src_length].to_tensor(default_value=PAD, shape=[None, src_length])
            out, _ = self.model.greedy(ids, tgt_length)
            out = tf.cast(out, tf.int32)
            # keep the tokens before the first END; drop the specials
            ended = tf.cumsum(tf.cast(tf.equal(out, END), tf.int32), axis=1) > 0
            keep = tf.logical_and(tf.logical_not(ended), out >= len(SPECIALS))
            words = tf.ragged.boolean_mask(tf.gather(self.tgt_tokens, out), keep)
            return tf.strings.reduce_join(words, axis=1, separator=sep)

    return Translator()
