"""Recurrent layers that run the fused whole-sequence loop of :mod:`builder.model.fused` when they can.

``FusedRNN`` (for the builder cells), ``FusedLSTM``, ``FusedGRU`` and
``FusedSimpleRNN`` are ``keras.layers.RNN`` / ``LSTM`` / ``GRU`` / ``SimpleRNN``
with one method replaced: ``inner_loop``. Everything else (constructor,
weights, ``get_config``, dropout-mask set-up, ``go_backwards``, states,
``Bidirectional``) is Keras's own, and so are the results: the fused loop
computes the same equations, only faster on the CPU.

The Keras loop still runs when the fused one cannot:

* a mask reaches the layer (padded classification sequences), or the number of
  time steps is not known when the graph is built;
* ``unroll=True``; activations other than tanh/sigmoid; Keras's
  ``implementation=1`` (builtin LSTM/GRU with recurrent dropout); a GRU with
  ``reset_after=False``; stacked cells;
* a builtin LSTM or GRU on a GPU, where Keras's cuDNN kernel is faster.

Training on the CPU runs the loop as XLA-compiled calls (:func:`builder.model.fused.run_fused_sharded`),
one per batch shard, in parallel; even a single shard is compiled, since TensorFlow's
graph executor runs the loop op by op about 3 times slower. Shards pay only in a
train step that is not itself one XLA program: a model compiled with
``jit_compile=True`` should first get :func:`set_training_shards` (as
``builder.training.fit.compile_model`` does), or every step recompiles when the batch size
is dynamic. Inference runs plain TensorFlow ops, so an exported SavedModel runs
wherever TensorFlow does.

Input shapes ``(B, T, D)``; outputs as the Keras layer they extend.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from builder.model.fused import Weights, default_shards, fused_kind, run_fused, run_fused_sharded

Tensor = Any


def has_gpu() -> bool:
    """True when TensorFlow sees a GPU (then builtin LSTM / GRU run Keras's cuDNN path)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _as_tensor(variable: Any) -> Tensor:
    """A read of ``variable`` as a plain tensor (custom_gradient and tf.function calls take tensors)."""
    import tensorflow as tf

    return tf.identity(getattr(variable, "value", variable))


class _FusedLoop:
    """Mixin for ``keras.layers.RNN`` subclasses: a fused ``inner_loop`` when possible."""

    #: True for builtin layers that Keras runs with cuDNN on a GPU.
    _cudnn_capable = False
    #: batch shards for training: None = one per CPU core (:func:`builder.model.fused.default_shards`);
    #: 0 = none: the loop's ops inline in the caller's graph, for a train step that is itself
    #: XLA-compiled (:func:`set_training_shards`), where a nested XLA call recompiles every step.
    training_shards: int | None = None
    #: False: Keras's own loop even where the fused one could run (ONNX export: tf2onnx has no
    #: converter for the fused loop's XlaDynamicUpdateSlice; builder.serving.convert sets it)
    use_fused: bool = True

    def _fused_ready(self, mask: Tensor | None) -> Any:
        if not self.use_fused or mask is not None or self.unroll or (self._cudnn_capable and has_gpu()):
            return None
        return fused_kind(self.cell)

    def inner_loop(
        self, sequences: Tensor, initial_state: list[Tensor], mask: Tensor | None, training: bool = False
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """``sequences`` (B, T, D) -> ``(last_output (B, O), outputs (B, T or 1, O), states)``."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        kind = self._fused_ready(mask) if sequences.shape[1] is not None else None
        if kind is None:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        x = sequences
        if training and cell.dropout > 0.0:
            x = x * ops.expand_dims(cell.get_dropout_mask(sequences[:, 0, :]), 1)
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0.0:
            recurrent_mask = cell.get_recurrent_dropout_mask(initial_state[0])
        bias = _as_tensor(cell.bias) if getattr(cell, "bias", None) is not None else None
        extra = [_as_tensor(getattr(cell, name)) for name in kind.extra]
        weights = Weights(_as_tensor(cell.kernel), _as_tensor(cell.recurrent_kernel), bias, extra, recurrent_mask)
        if training and not has_gpu() and self.training_shards != 0:
            shards = self.training_shards or default_shards()
            batch = x.shape[0]
            if batch is not None and batch < 2 * shards:
                shards = 1
            # batch-major in and out: the transposes and the time reversal run inside the XLA calls
            outputs, finals = run_fused_sharded(
                kind, x, list(initial_state), weights, return_sequences=self.return_sequences, shards=shards,
                go_backwards=self.go_backwards,
            )
            last = finals[0]
            return last, (outputs if self.return_sequences else ops.expand_dims(last, 1)), finals
        x = ops.transpose(x, (1, 0, 2))
        if self.go_backwards:
            x = ops.flip(x, axis=0)
        # inline, as plain ops: inference (an XLA call would recompile for every new batch
        # size, about 1 s a layer, more than it saves on an evaluation of a few thousand
        # windows, and a SavedModel traced from it would need XLA to run), a GPU, or a train
        # step that XLA compiles whole
        outputs, finals = run_fused(
            kind, x, list(initial_state), weights, training=bool(training), return_sequences=self.return_sequences
        )
        last = finals[0]
        outputs = ops.transpose(outputs, (1, 0, 2)) if self.return_sequences else ops.expand_dims(last, 1)
        return last, outputs, finals


@keras.saving.register_keras_serializable(package="builder")
class FusedRNN(_FusedLoop, keras.layers.RNN):
    """``keras.layers.RNN`` with the fused loop for the builder cells (see module docstring)."""


@keras.saving.register_keras_serializable(package="builder")
class FusedLSTM(_FusedLoop, keras.layers.LSTM):
    """``keras.layers.LSTM`` with the fused loop on the CPU; cuDNN on a GPU as before."""

    _cudnn_capable = True


@keras.saving.register_keras_serializable(package="builder")
class FusedGRU(_FusedLoop, keras.layers.GRU):
    """``keras.layers.GRU`` with the fused loop on the CPU; cuDNN on a GPU as before."""

    _cudnn_capable = True


@keras.saving.register_keras_serializable(package="builder")
class FusedSimpleRNN(_FusedLoop, keras.layers.SimpleRNN):
    """``keras.layers.SimpleRNN`` with the fused loop."""


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer in ``model``, including both directions of a Bidirectional."""
    found: list[keras.layers.Layer] = []

    def walk(layer: Any) -> None:
        found.append(layer)
        for attr in ("forward_layer", "backward_layer"):
            inner = getattr(layer, attr, None)
            if isinstance(inner, keras.layers.Layer):
                walk(inner)
        for inner in getattr(layer, "layers", []) or []:
            walk(inner)

    walk(model)
    return found


def fused_layers(model: keras.Model) -> list[_FusedLoop]:
    """Every fused recurrent layer in ``model``, including both directions of a Bidirectional."""
    return [layer for layer in _all_layers(model) if isinstance(layer, _FusedLoop)]


def all_fused(model: keras.Model) -> bool:
    """True if ``model`` has recurrent layers and every one of them can run the fused loop.

    Decided per layer by :func:`builder.model.fused.fused_kind` (what a mask or an unknown
    length does is only known when data flows; callers judge that themselves).
    """
    layers = fused_layers(model)
    rnns = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.RNN)]
    return bool(rnns) and len(layers) == len(rnns) and all(
        not layer.unroll and fused_kind(layer.cell) is not None for layer in layers
    )


def set_training_shards(model: keras.Model, jit_compile: bool | str) -> None:
    """Match the fused layers' batch sharding to how the train step is compiled.

    Shards run in parallel only as separate XLA calls inside a train step that is
    not itself XLA-compiled; inside an XLA-compiled step any nested XLA call (even
    a single shard) recompiles at every step when the batch size is dynamic (24 and
    66 samples/s in bench runs). So: the loop inline in the step when ``jit_compile`` is
    True, one XLA call per CPU core otherwise.
    """
    for layer in fused_layers(model):
        layer.training_shards = 0 if jit_compile is True else None


def plain_keras_rnn(layer_class: type) -> str:
    """The name of the plain Keras layer a builtin Fused* layer extends ("LSTM", "GRU" or "SimpleRNN"), which
    generated code writes in its place."""
    for base in layer_class.__mro__:
        if base.__module__.startswith("keras") and issubclass(base, keras.layers.RNN) and base is not keras.layers.RNN:
            return base.__name__
    raise ValueError(f"{layer_class.__name__}: no plain Keras recurrent layer among its bases")
