"""Shared base of the builder's gated recurrent cells.

``GatedCell`` holds what every cell in this package has in common: the single
constructor signature (``units``, ``proj_units``, activations, initialisers,
``unit_forget_bias``, dropout rates, ``seed``) with its argument checks, the
state sizes (``[P, U]`` or ``[U, U]``), the fused ``kernel`` /
``recurrent_kernel`` / ``bias`` weights with the forget-("keep"-)gate bias
offset, the optional ``projection_kernel``, the per-sequence dropout masks, zero
initial states and ``get_config``. A subclass keeps only what is specific to it:
its gate layout (``gate_blocks``, ``keep_block``, ``bias_rows``), whether it
projects (``projected``), its extra weights (``add_cell_weights``), its step
equations (``step``) and the docstring that states them.

Shapes below use ``B`` = batch, ``D`` = input features, ``U`` = ``units``,
``K`` = number of gate blocks.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import numpy as np
from keras import activations, initializers, ops

# `DropoutRNNCell` is not exported by the public `keras` namespace, but
# `keras.layers.RNN` only pre-builds (and later resets) the per-sequence dropout
# masks of cells that are instances of it (`RNN._maybe_config_dropout_masks`), so
# a cell that wants Keras's variational dropout semantics has to inherit it.
# keras is pinned (requirements.lock), so this private import is stable for us.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

Tensor = Any


class GatedCell(keras.layers.Layer, DropoutRNNCell):
    """Common constructor, weights helper, dropout, initial state and config.

    Not registered for serialisation and not usable on its own: a subclass sets
    the class attributes ``gate_blocks``, ``keep_block`` (and ``projected``,
    ``bias_rows`` where they differ from the defaults), adds its own weights in
    ``add_cell_weights`` and writes its equations in ``step``. ``state_size`` /
    ``output_size`` follow ``projected``; override them for another state layout.

    Args:
        units: ``U`` (positive int).
        proj_units: ``P`` with ``0 < P < U`` when the subclass sets
            ``projected = True``; otherwise it must be ``None`` (accepted so that
            every builder cell shares one signature).
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer: as in ``keras.layers.LSTMCell``.
        unit_forget_bias: add 1 to the bias of the forget ("keep") gate block at
            initialisation (the block at index ``keep_block``).
        dropout, recurrent_dropout: rates in ``[0, 1)``.
        seed: seed for the dropout masks.
    """

    projected: ClassVar[bool] = False  # True: requires 0 < proj_units < units, adds projection_kernel
    gate_blocks: ClassVar[int]  # K, blocks of width U in kernel / recurrent_kernel / bias
    keep_block: ClassVar[int]  # index of the forget ("keep") gate block, for unit_forget_bias
    bias_rows: ClassVar[int | None] = None  # None: bias (KU,); n: bias (n, KU)

    def __init__(
        self,
        units: int,
        proj_units: int | None = None,
        activation: str | Any = "tanh",
        recurrent_activation: str | Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: str | Any = "glorot_uniform",
        recurrent_initializer: str | Any = "orthogonal",
        bias_initializer: str | Any = "zeros",
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a positive integer, got {units!r}."
            )
        if self.projected:
            if not isinstance(proj_units, int) or isinstance(proj_units, bool) or not 0 < proj_units < units:
                raise ValueError(
                    "Received an invalid value for argument `proj_units`, expected an integer "
                    f"with 0 < proj_units < units (units={units}), got {proj_units!r}."
                )
        elif proj_units is not None:
            raise ValueError(
                "Received an invalid value for argument `proj_units`, expected None "
                f"({type(self).__name__} has no projection), got {proj_units!r}."
            )
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a float in [0, 1), got {rate!r}."
                )
        self.units = units
        self.proj_units = proj_units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    @property
    def state_size(self) -> list[int]:
        """``[P, U]`` (projection, full-width memory) if ``projected``, else ``[U, U]``.

        Override in a cell whose state does not follow this pattern.
        """
        return [self.proj_units, self.units] if self.projected else [self.units, self.units]

    @property
    def output_size(self) -> int:
        """``P`` if ``projected``, else ``U`` (the first state is the output)."""
        return self.proj_units if self.projected else self.units

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the weights for inputs of shape ``(B, D)``.

        In this order: ``kernel`` (D, KU), ``recurrent_kernel`` (S, KU) with ``S =
        state_size[0]``, ``bias`` (``(KU,)``, or ``(bias_rows, KU)``; absent without
        ``use_bias``), then ``projection_kernel`` (U, P) if ``projected``, then the
        cell's own weights (``add_cell_weights``). ``kernel_initializer`` also
        initialises ``projection_kernel``. With ``unit_forget_bias`` the
        ``keep_block``-th block of ``bias`` (of its first row, if 2-D) starts at
        ``bias_initializer + 1``.
        """
        u = self.units
        width = self.gate_blocks * u
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.state_size[0], width), name="recurrent_kernel", initializer=self.recurrent_initializer
        )
        self.bias = None
        if self.use_bias:
            shape = (width,) if self.bias_rows is None else (self.bias_rows, width)
            init = self.bias_initializer
            if self.unit_forget_bias:
                offset = np.zeros(shape, dtype="float32")
                offset.reshape(-1, width)[0, self.keep_block * u : (self.keep_block + 1) * u] = 1.0  # a view

                def init(shape: tuple[int, ...], dtype: Any = None) -> Tensor:
                    base = self.bias_initializer(shape, dtype=dtype)
                    return base + ops.cast(offset, base.dtype)

            self.bias = self.add_weight(shape=shape, name="bias", initializer=init)
        if self.projected:
            self.projection_kernel = self.add_weight(
                shape=(u, self.proj_units), name="projection_kernel", initializer=self.kernel_initializer
            )
        self.add_cell_weights()
        super().build(input_shape)

    def add_cell_weights(self) -> None:
        """Add the cell's own weights (after the shared ones); none by default."""

    def call(
        self, inputs: Tensor, states: list[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """One step: ``inputs`` (B, D), ``states`` shaped as ``state_size``.

        When training, applies this sequence's dropout masks (``dropout`` to
        ``inputs``, ``recurrent_dropout`` to ``states[0]``, the state that feeds the
        recurrent matmul) and returns ``step(inputs, masked states[0], states)``.
        """
        recurrent = states[0]
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            recurrent = recurrent * self.get_recurrent_dropout_mask(recurrent)
        return self.step(inputs, recurrent, states)

    def step(self, inputs: Tensor, recurrent: Tensor, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """The cell's equations: ``(output, new_states)``. ``states`` are unmasked."""
        raise NotImplementedError

    def fused_gates(self, inputs: Tensor, recurrent: Tensor) -> Tensor:
        """``inputs @ kernel + recurrent @ recurrent_kernel (+ bias)``, shape (B, KU)."""
        z = ops.matmul(inputs, self.kernel) + ops.matmul(recurrent, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        return z

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        """Zeros of shape ``(B, n)`` for each ``n`` in ``state_size``."""
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in self.state_size]

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument, serialised, merged with the base config."""
        config = {
            "units": self.units,
            "proj_units": self.proj_units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
