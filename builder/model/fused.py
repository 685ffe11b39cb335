"""Fused whole-sequence recurrences with a hand-written backward pass (BPTT).

Why: ``keras.layers.RNN`` runs a cell step by step and lets autodiff
differentiate the loop. On the CPU that costs more than the arithmetic: autodiff
keeps one accumulator per intermediate of every step, the gate activations run
as several small kernels, and the weight gradients are summed one step at a time.
This module runs the same equations as the cells, but:

* the input projection ``x_t @ W (+ b)`` of every step is one matmul before the
  loop (``(T*B, D) @ (D, KU)``);
* the gate non-linearities of a step are one ``tanh`` over all gate blocks
  (``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``), except the peephole LSTM's, one
  per gate (its gates see the cell state);
* training runs under ``keras.ops.custom_gradient``: the forward loop stores the
  states and gate activations, the backward loop does one matmul per step
  (``dz @ R^T``), and the weight gradients are single large matmuls after it
  (``dW = X^T dZ``, ``dR = S^T dZ``, ``dX = dZ W^T``);
* inference (``training=False``: predict, evaluate, the exported SavedModel) runs
  a lean forward loop that stores nothing but the outputs asked for.

Everything is ``keras.ops``. Results equal ``keras.layers.RNN`` over the same
cell to float32 round-off (tests/unit/test_fused.py compares outputs and every
gradient). ``fused_kind`` says whether a cell has a fused form; anything else
(masks, unrolling, other activations, Keras's ``implementation=1``) falls back
to ``keras.layers.RNN``'s loop in :class:`builder.model.recurrent` ``FusedRNN``.

Shapes: ``T`` time steps, ``B`` batch, ``D`` input features, ``U`` units, ``P``
projection, ``O`` output size (= size of state 0), ``K`` gate blocks. Sequences
inside this module are time-major ``(T, B, .)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from keras import ops

Tensor = Any


def _const(values: np.ndarray) -> Tensor:
    return ops.convert_to_tensor(np.asarray(values, dtype="float32"))


def _gate_consts(kinds: str, units: int) -> tuple[Tensor, Tensor]:
    """Per-column constants for one-``tanh`` gate activations.

    ``kinds`` has one letter per gate block: ``s`` (sigmoid) or ``t`` (tanh).
    Returns ``(scale, shift)`` each (K*U,) so that the activations are
    ``a = tanh(z * scale) * scale + shift``.
    """
    sig = np.array([k == "s" for k in kinds]).repeat(units)
    return _const(np.where(sig, 0.5, 1.0)), _const(np.where(sig, 0.5, 0.0))


def _is(fn: Any, name: str) -> bool:
    return getattr(fn, "__name__", None) == name


@dataclass(frozen=True)
class Kind:
    """How one cell family runs fused.

    Attributes:
        name: the family (``simple``, ``lstm``, ``cifg``, ``peephole``,
            ``lstm_proj``, ``gru``, ``proj_gru``).
        state_sizes: sizes of the states, state 0 feeds the recurrent matmul
            and is the output.
        gates: K*U, width of ``zx`` and of the recurrent matmul.
        split_bias: True if the bias is ``(2, KU)`` (input row, recurrent row,
            GRU ``reset_after`` style); False if ``(KU,)`` added to ``zx``.
        extra: names of the cell's extra weights, in order.
        saved: shapes (without batch) of the per-step tensors the forward
            stores for the backward (beyond the states).
        stored: widths of the per-step tensors the backward stores for
            :func:`_extra_grads`.
        keep_states: the states whose whole sequence the forward stores (state 0
            always: it is the output and feeds the recurrent weight gradient).
        sums: how many (B, U) running sums the backward loop carries, one per extra
            weight, whose gradient is the sum's total over the batch (the peephole's).
        in_zx: the first saved tensor is (B, KU), as wide as ``zx``, and the forward
            writes it into the row of the input projection's buffer that the step
            has just read (dead from then on) instead of a zero-filled buffer of
            its own.
    """

    name: str
    state_sizes: tuple[int, ...]
    gates: int
    split_bias: bool
    extra: tuple[str, ...]
    saved: tuple[tuple[int, ...], ...]
    stored: tuple[int, ...]
    keep_states: tuple[int, ...] = (0,)
    sums: int = 0
    in_zx: bool = False

    def __post_init__(self) -> None:
        if self.in_zx and (not self.saved or self.saved[0] != (self.gates,)):
            raise ValueError(f"Kind {self.name!r}: in_zx needs a first saved tensor as wide as the gates ({self.gates})")
        if self.sums and self.sums != len(self.extra):
            raise ValueError(f"Kind {self.name!r}: {self.sums} sums for {len(self.extra)} extra weights")


def _lstm_saved(k: int, u: int) -> tuple[tuple[int, ...], ...]:
    """Per-step shapes an LSTM-family forward stores: [M | N] ((k+1) U), E, F (U each)."""
    return (((k + 1) * u,), (u,), (u,))


def fused_kind(cell: Any) -> Kind | None:
    """The fused family of ``cell``, or None when only the generic loop can run it.

    The family comes from the cell registry (builder.model.cells.registry: the entry whose cell class
    ``cell`` is an instance of); :data:`_KINDS` then checks what the fused form assumes: tanh/sigmoid
    activations, Keras's ``implementation=2`` for ``LSTMCell`` and ``GRUCell`` (no recurrent dropout)
    and ``reset_after=True`` for the GRU.
    """
    from builder.model.cells.registry import CELLS

    for entry in CELLS.values():
        if entry.fused is not None and type(cell) is entry.cell_class():
            return _KINDS[entry.fused](cell)
    return None


def _kind_simple(cell: Any) -> Kind | None:
    u = cell.units
    return Kind("simple", (u,), u, False, (), (), ()) if _is(cell.activation, "tanh") else None


def _gated(make: Callable[[Any, int], Kind | None]) -> Callable[[Any], Kind | None]:
    """A kind factory that first checks the tanh / sigmoid activations every gated family assumes."""

    def kind(cell: Any) -> Kind | None:
        if not (_is(cell.activation, "tanh") and _is(cell.recurrent_activation, "sigmoid")):
            return None
        return make(cell, cell.units)

    return kind


_KINDS: dict[str, Callable[[Any], Kind | None]] = {
    "simple": _kind_simple,
    "lstm": _gated(lambda c, u: Kind("lstm", (u, u), 4 * u, False, (), _lstm_saved(3, u), (), in_zx=True)
                   if c.implementation == 2 else None),
    "gru": _gated(lambda c, u: Kind("gru", (u,), 3 * u, True, (), ((3 * u,), (u,)), ())
                  if c.implementation == 2 and c.reset_after else None),
    "cifg": _gated(lambda c, u: Kind("cifg", (u, u), 3 * u, False, (), _lstm_saved(2, u), (), in_zx=True)),
    "peephole": _gated(lambda c, u: Kind(
        "peephole", (u, u), 4 * u, False, ("input_peephole", "forget_peephole", "output_peephole"),
        _lstm_saved(3, u), (), keep_states=(0, 1), sums=3, in_zx=True)),
    "lstm_proj": _gated(lambda c, u: Kind(
        "lstm_proj", (c.proj_units, u), 4 * u, False, ("projection_kernel",), (*_lstm_saved(3, u), (u,)),
        (c.proj_units,), in_zx=True)),
    "proj_gru": _gated(lambda c, u: Kind(
        "proj_gru", (c.proj_units, u), 3 * u, True, ("projection_kernel",), ((3 * u,), (u,), (u,)),
        (c.proj_units,), keep_states=(0, 1))),
}


# ----------------------------------------------------------------------------
# One step of each family, forward and backward.
#
# forward(zx, m, prev, w) -> (new_states, saved)
#   zx: (B, KU) input part (bias included), m: (B, KU) recurrent part
#   (``state0_{t-1} @ R``, plus the recurrent bias for split-bias families),
#   prev: previous states, w: dict of weights and constants.
# backward(d_new, saved, prev, new, w) -> (d_zx, d_m, d_prev, stored, sums)
#   d_new: gradients reaching the new states (outputs included);
#   d_prev: the gradients to the previous states through the cell itself (the
#   recurrent matmul's share, d_m @ R^T, is added by the driver);
#   sums: this step's terms of the ``Kind.sums`` running sums (empty without).
# ----------------------------------------------------------------------------


def _fwd_simple(zx: Tensor, m: Tensor, prev: list[Tensor], w: dict) -> tuple[list[Tensor], list[Tensor]]:
    return [ops.tanh(zx + m)], []


def _bwd_simple(d_new, saved, prev, new, w):
    dz = d_new[0] * (1.0 - new[0] * new[0])
    return dz, dz, [None], [], []


def _lstm_n_e(tc: Tensor, o: Tensor) -> tuple[Tensor, Tensor]:
    """``N = dz_o / dh`` and ``E = dc / dh`` through ``h = o * tanh(c)``, each (B, U)."""
    return tc * o * (1.0 - o), o * (1.0 - tc * tc)


def _lstm_pre(blocks: list[Tensor], n: Tensor, e: Tensor, f: Tensor) -> list[Tensor]:
    """What the LSTM-family backward needs from a forward step, precomputed.

    ``blocks`` are ``dz_k / dc`` for the k gate blocks fed by ``dc`` (each (B, U)); returns
    ``[M | N (B, (k+1) U), E (B, U), F (B, U)]`` with ``dz = [M | N] * [dc, ..., dc, dh]``,
    ``dc = dc_in + dh * E``, ``dc_prev = dc * F``. ``[M | N]`` is as wide as the step's gates
    (``Kind.in_zx``), and both it and ``dz`` stay (B, width) matrices: built as (B, k+1, U) and
    reshaped, the per-step kernels that wrote and read them were slower, because XLA computed the
    reshape's indices element by element (figures in bench/RESULTS.md).
    """
    return [ops.concatenate([*blocks, n], axis=-1), e, f]


def _lstm_family_bwd(dh: Tensor, dc_in: Tensor, saved: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Backward of one LSTM-family step from :func:`_lstm_pre`'s tensors: (dz, dc, dc_prev)."""
    mn, e, f = saved[:3]
    dc = dc_in + dh * e
    k = mn.shape[-1] // e.shape[-1] - 1
    return mn * ops.concatenate([dc] * k + [dh], axis=-1), dc, dc * f


def _lstm_fwd_core(zx, m, c_prev, w):
    """Plain LSTM gates (i, f, g, o): (h, c, saved for the backward)."""
    u = w["units"]
    a = ops.tanh((zx + m) * w["scale"]) * w["scale"] + w["shift"]
    i, f, g, o = a[:, :u], a[:, u : 2 * u], a[:, 2 * u : 3 * u], a[:, 3 * u :]
    c = f * c_prev + i * g
    tc = ops.tanh(c)
    blocks = [g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)]
    return o * tc, c, _lstm_pre(blocks, *_lstm_n_e(tc, o), f)


def _fwd_lstm(zx, m, prev, w):
    h, c, saved = _lstm_fwd_core(zx, m, prev[1], w)
    return [h, c], saved


def _bwd_lstm(d_new, saved, prev, new, w):
    dz, _, dc_prev = _lstm_family_bwd(d_new[0], d_new[1], saved)
    return dz, dz, [None, dc_prev], [], []


def _fwd_cifg(zx, m, prev, w):
    u = w["units"]
    a = ops.tanh((zx + m) * w["scale"]) * w["scale"] + w["shift"]
    f, g, o = a[:, :u], a[:, u : 2 * u], a[:, 2 * u :]
    c_prev = prev[1]
    c = g + f * (c_prev - g)
    tc = ops.tanh(c)
    blocks = [(c_prev - g) * f * (1.0 - f), (1.0 - f) * (1.0 - g * g)]
    return [o * tc, c], _lstm_pre(blocks, *_lstm_n_e(tc, o), f)


_bwd_cifg = _bwd_lstm


def _fwd_peephole(zx, m, prev, w):
    u = w["units"]
    z = zx + m
    c_prev = prev[1]
    p_i, p_f, p_o = w["input_peephole"], w["forget_peephole"], w["output_peephole"]
    # each gate its own (B, U) expression: as one (B, 3, U) block (a reshape of z), the per-step
    # kernels of one shard's forward and backward were slower, and so was the bench model's training
    # (figures in bench/RESULTS.md)
    i = 0.5 * ops.tanh(0.5 * (z[:, :u] + p_i * c_prev)) + 0.5
    f = 0.5 * ops.tanh(0.5 * (z[:, u : 2 * u] + p_f * c_prev)) + 0.5
    g = ops.tanh(z[:, 2 * u : 3 * u])
    c = f * c_prev + i * g
    o = 0.5 * ops.tanh(0.5 * (z[:, 3 * u :] + p_o * c)) + 0.5  # sigmoid, as the other gates
    tc = ops.tanh(c)
    d_i, d_f = g * i * (1.0 - i), c_prev * f * (1.0 - f)
    n, e = _lstm_n_e(tc, o)
    # the output gate sees c_t, the input and forget gates see c_{t-1}
    return [o * tc, c], _lstm_pre([d_i, d_f, i * (1.0 - g * g)], n, e + n * p_o, f + d_i * p_i + d_f * p_f)


def _bwd_peephole(d_new, saved, prev, new, w):
    """:func:`_bwd_lstm`, and the step's terms of the peephole gradients: three (B, U).

    Terms i, f, o: ``dz_i * c_{t-1}``, ``dz_f * c_{t-1}``, ``dz_o * c_t`` (the g block has no
    peephole). The driver sums them in the backward loop's carry, where XLA fuses each product and
    sum into a kernel of the step, instead of a whole-sequence product and reduction after the loop
    (which cost a concatenation and a reduce-window per shard call). The g block is skipped rather
    than computing a (B, 4, U) product; that trained the bench model a little faster (figures in
    bench/RESULTS.md).
    """
    d_zx, d_m, d_prev, stored, _ = _bwd_lstm(d_new, saved, prev, new, w)
    u = w["units"]
    c_prev, c_new = prev[1], new[1]
    return d_zx, d_m, d_prev, stored, [d_zx[:, :u] * c_prev, d_zx[:, u : 2 * u] * c_prev, d_zx[:, 3 * u :] * c_new]


def _fwd_lstm_proj(zx, m, prev, w):
    h, c, saved = _lstm_fwd_core(zx, m, prev[1], w)
    return [ops.matmul(h, w["projection_kernel"]), c], [*saved, h]


def _bwd_lstm_proj(d_new, saved, prev, new, w):
    dr = d_new[0]
    dz, _, dc_prev = _lstm_family_bwd(ops.matmul(dr, w["projection_kernel_t"]), d_new[1], saved)
    return dz, dz, [None, dc_prev], [dr], []


def _gru_fwd(zx, m, h_prev, w):
    """Keras ``reset_after=True`` GRU: returns (h, [z, q, n] (B,3U), m_n (B,U))."""
    u = w["units"]
    s2 = w["scale"][: 2 * u]
    zq = ops.tanh((zx[:, : 2 * u] + m[:, : 2 * u]) * s2) * s2 + w["shift"][: 2 * u]
    z, q = zq[:, :u], zq[:, u:]
    m_n = m[:, 2 * u :]
    n = ops.tanh(zx[:, 2 * u :] + q * m_n)
    h = n + z * (h_prev - n)
    return h, ops.concatenate([zq, n], axis=-1), m_n


def _gru_bwd(dh, a, m_n, h_prev, w):
    """Backward of :func:`_gru_fwd`: (d_zx, d_m, dh_prev through the interpolation)."""
    u = w["units"]
    z, q, n = a[:, :u], a[:, u : 2 * u], a[:, 2 * u :]
    dn = dh * (1.0 - z) * (1.0 - n * n)
    dzq = ops.concatenate([dh * (h_prev - n), dn * m_n], axis=-1) * (a[:, : 2 * u] * (1.0 - a[:, : 2 * u]))
    return ops.concatenate([dzq, dn], axis=-1), ops.concatenate([dzq, dn * q], axis=-1), dh * z


def _fwd_gru(zx, m, prev, w):
    h, a, m_n = _gru_fwd(zx, m, prev[0], w)
    return [h], [a, m_n]


def _bwd_gru(d_new, saved, prev, new, w):
    a, m_n = saved
    d_zx, d_m, dh_prev = _gru_bwd(d_new[0], a, m_n, prev[0], w)
    return d_zx, d_m, [dh_prev], [], []


def _fwd_proj_gru(zx, m, prev, w):
    h, a, m_n = _gru_fwd(zx, m, prev[1], w)
    return [ops.matmul(h, w["projection_kernel"]), h], [a, m_n, h]


def _bwd_proj_gru(d_new, saved, prev, new, w):
    a, m_n, _ = saved
    dr = d_new[0]
    dh = d_new[1] + ops.matmul(dr, w["projection_kernel_t"])
    d_zx, d_m, dh_prev = _gru_bwd(dh, a, m_n, prev[1], w)
    return d_zx, d_m, [None, dh_prev], [dr], []


_STEPS: dict[str, tuple[Callable, Callable, str]] = {
    # family: (forward, backward, gate kinds for the one-tanh constants)
    "simple": (_fwd_simple, _bwd_simple, "t"),
    "lstm": (_fwd_lstm, _bwd_lstm, "ssts"),
    "cifg": (_fwd_cifg, _bwd_cifg, "sts"),
    "peephole": (_fwd_peephole, _bwd_peephole, "ssts"),
    "lstm_proj": (_fwd_lstm_proj, _bwd_lstm_proj, "ssts"),
    "gru": (_fwd_gru, _bwd_gru, "sst"),
    "proj_gru": (_fwd_proj_gru, _bwd_proj_gru, "sst"),
}


def _extra_grads(kind: Kind, w: dict, saved: list[Tensor], stored: list[Tensor], acc: Sequence[Tensor]) -> list[Tensor]:
    """Gradients of the extra weights from whole-sequence buffers (time-major) and the loop's ``Kind.sums``."""
    if kind.sums:
        return [ops.sum(a, axis=0) for a in acc]
    if kind.stored:  # a projection: its gradient is H^T dR over the whole sequence
        h, dr = saved[-1], stored[0]
        u = h.shape[-1]
        return [ops.matmul(ops.transpose(ops.reshape(h, (-1, u))), ops.reshape(dr, (-1, dr.shape[-1])))]
    return []


def _flat(x: Tensor) -> Tensor:
    return ops.reshape(x, (-1, x.shape[-1]))


def _project(x: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
    """``x @ kernel (+ bias)`` for time-major ``x`` (T, B, D) -> (T, B, KU), one matmul."""
    t, b = ops.shape(x)[0], ops.shape(x)[1]
    z = ops.matmul(_flat(x), kernel)
    if bias is not None:
        z = z + bias
    return ops.reshape(z, (t, b, kernel.shape[-1]))


def _row(buf: Tensor, t: Tensor) -> Tensor:
    """``buf[t]`` for a time-major buffer (T, B, ...), as a dynamic slice."""
    rest = tuple(buf.shape[2:])
    start = (t,) + (0,) * (1 + len(rest))
    return ops.squeeze(ops.slice(buf, start, (1, ops.shape(buf)[1], *rest)), axis=0)


def _put(buf: Tensor, t: Tensor, value: Tensor) -> Tensor:
    """``buf`` with ``buf[t] = value``, as a dynamic update slice."""
    return ops.slice_update(buf, (t,) + (0,) * (len(buf.shape) - 1), ops.expand_dims(value, 0))


class Weights(NamedTuple):
    """A cell's weights as tensors, and the recurrent dropout mask of this call."""

    kernel: Tensor  # (D, KU)
    recurrent_kernel: Tensor  # (O, KU)
    bias: Tensor | None  # (KU,) or (2, KU); None without use_bias
    extra: Sequence[Tensor]  # the cell's extra weights, in Kind.extra order
    recurrent_mask: Tensor | None  # (B, O) or None


def run_fused(
    kind: Kind,
    x: Tensor,
    initial_states: Sequence[Tensor],
    weights: Weights,
    training: bool,
    return_sequences: bool,
) -> tuple[Tensor, list[Tensor]]:
    """Run one recurrent layer over a whole sequence.

    Args:
        kind: from :func:`fused_kind`.
        x: ``(T, B, D)`` time-major inputs, already reversed for
            ``go_backwards`` and already multiplied by the input dropout mask.
        initial_states: one ``(B, size_k)`` tensor per state.
        weights: the cell's weights and the recurrent dropout mask.
        training: True runs the custom-gradient version (stores what the
            backward needs); False runs a lean forward loop.
        return_sequences: whether the caller needs every step's output.

    Returns:
        ``(outputs, final_states)``: ``outputs`` ``(T, B, O)`` (time-major, the
        processing order) when ``return_sequences`` or ``training``, else None;
        ``final_states`` one ``(B, size_k)`` tensor per state.
    """
    kernel, recurrent_kernel, bias, extra, recurrent_mask = weights
    fwd, bwd, gate_kinds = _STEPS[kind.name]
    units = kind.gates // len(gate_kinds)
    scale, shift = _gate_consts(gate_kinds, units)
    n_states = len(kind.state_sizes)
    bias_x = bias_r = None
    if bias is not None:
        bias_x, bias_r = (bias[0], bias[1]) if kind.split_bias else (bias, None)

    def consts(extra_values: Sequence[Tensor]) -> dict:
        w = {"units": units, "scale": scale, "shift": shift}
        w.update(zip(kind.extra, extra_values, strict=True))
        if "projection_kernel" in w:
            w["projection_kernel_t"] = ops.transpose(w["projection_kernel"])
        return w

    def recurrent(s0: Tensor, r_kernel: Tensor, b_r: Tensor | None) -> Tensor:
        if recurrent_mask is not None:
            s0 = s0 * recurrent_mask
        m = ops.matmul(s0, r_kernel)
        return m if b_r is None else m + b_r

    steps = x.shape[0]
    batch = ops.shape(x)[1]

    if not training:
        w = consts(extra)
        zx_all = _project(x, kernel, bias_x)
        out_buf = ops.zeros((steps, batch, kind.state_sizes[0]), dtype=x.dtype) if return_sequences else None

        def lean_body(t, carry):
            states, out = list(carry[:n_states]), carry[n_states]
            new, _ = fwd(_row(zx_all, t), recurrent(states[0], recurrent_kernel, bias_r), states, w)
            if return_sequences:
                out = _put(out, t, new[0])
            return (*new, out)

        dummy = out_buf if return_sequences else ops.zeros((), dtype=x.dtype)
        result = ops.fori_loop(0, steps, lean_body, (*initial_states, dummy))
        return (result[n_states] if return_sequences else None), list(result[:n_states])

    n_extra = len(kind.extra)

    @ops.custom_gradient
    def fused(x, *args):
        init = list(args[:n_states])
        k, rk = args[n_states], args[n_states + 1]
        rest = args[n_states + 2 :]
        b_x = b_r = None
        if bias is not None:
            b = rest[0]
            rest = rest[1:]
            b_x, b_r = (b[0], b[1]) if kind.split_bias else (b, None)
        extra_values = rest[:n_extra]
        w = consts(extra_values)
        zx_all = _project(x, k, b_x)
        kept = kind.keep_states
        state_bufs = [
            _put(ops.zeros((steps + 1, batch, kind.state_sizes[j]), dtype=x.dtype), 0, init[j]) for j in kept
        ]
        # Kind.in_zx: the first saved tensor goes into the row of zx_all the step has just read
        # (dead from then on), so its buffer needs no zero-filled allocation of its own
        own = kind.saved[1:] if kind.in_zx else kind.saved
        saved_bufs = [ops.zeros((steps, batch, *shape), dtype=x.dtype) for shape in own]

        def body(t, carry):
            n_kept = len(kept)
            states, bufs = list(carry[:n_states]), carry[n_states : n_states + n_kept]
            # zx_all is carried (and written) only with Kind.in_zx; otherwise it is read as it is
            if kind.in_zx:
                zx, saved = carry[n_states + n_kept], carry[n_states + n_kept + 1 :]
            else:
                zx, saved = zx_all, carry[n_states + n_kept :]
            new, keep = fwd(_row(zx, t), recurrent(states[0], rk, b_r), states, w)
            bufs = [_put(buf, t + 1, new[j]) for buf, j in zip(bufs, kept, strict=True)]
            if kind.in_zx:
                zx, keep = _put(zx, t, keep[0]), keep[1:]
            saved = [_put(buf, t, s) for buf, s in zip(saved, keep, strict=True)]
            return (*new, *bufs, *([zx] if kind.in_zx else []), *saved)

        result = ops.fori_loop(0, steps, body, (*init, *state_bufs, *([zx_all] if kind.in_zx else []), *saved_bufs))
        finals = list(result[:n_states])
        states_seq: list[Tensor | None] = [None] * n_states
        for pos, j in enumerate(kept):
            states_seq[j] = result[n_states + pos]
        saved_seq = list(result[n_states + len(kept) :])
        outputs = states_seq[0][1:]

        def grad(*upstream: Tensor) -> list[Tensor]:
            d_out = upstream[0]
            d_final = [
                ops.zeros_like(f) if g is None else g for f, g in zip(finals, upstream[1 : 1 + n_states], strict=True)
            ]
            if d_out is None:
                d_out = ops.zeros_like(outputs)
            rk_t = ops.transpose(rk)
            same = not kind.split_bias  # d_m == d_zx unless the recurrent part is kept apart (GRU family)
            dzx_buf = ops.zeros((steps, batch, kind.gates), dtype=x.dtype)
            # a scalar placeholder in the loop carry when d_m is d_zx
            dm_buf = ops.zeros((), dtype=x.dtype) if same else ops.zeros((steps, batch, kind.gates), dtype=x.dtype)
            stored_bufs = [ops.zeros((steps, batch, width), dtype=x.dtype) for width in kind.stored]
            # Kind.sums (B, U) running sums, or one scalar placeholder for the kinds without
            acc0 = tuple(ops.zeros((batch, units) if kind.sums else (), dtype=x.dtype) for _ in range(kind.sums or 1))

            def back(j, carry):
                t = steps - 1 - j
                d_states = list(carry[:n_states])
                dzx, dm, acc, stored = carry[n_states], carry[n_states + 1], carry[n_states + 2], carry[n_states + 3 :]
                d_states[0] = d_states[0] + _row(d_out, t)
                prev = [None if buf is None else _row(buf, t) for buf in states_seq]
                new = [None if buf is None else _row(buf, t + 1) for buf in states_seq]
                keep = [_row(buf, t) for buf in saved_seq]
                d_zx, d_m, d_prev, to_store, terms = bwd(d_states, keep, prev, new, w)
                d_rec = ops.matmul(d_m, rk_t)
                if recurrent_mask is not None:
                    d_rec = d_rec * recurrent_mask
                d_prev = [d_rec if d_prev[0] is None else d_prev[0] + d_rec] + [
                    ops.zeros_like(s) if d is None else d for d, s in zip(d_prev[1:], d_states[1:], strict=True)
                ]
                dzx = _put(dzx, t, d_zx)
                if not same:
                    dm = _put(dm, t, d_m)
                if kind.sums:
                    acc = tuple(a + term for a, term in zip(acc, terms, strict=True))
                stored = [_put(buf, t, s) for buf, s in zip(stored, to_store, strict=True)]
                return (*d_prev, dzx, dm, acc, *stored)

            res = ops.fori_loop(0, steps, back, (*d_final, dzx_buf, dm_buf, acc0, *stored_bufs))
            d_init = list(res[:n_states])
            dzx_seq = res[n_states]
            dm_seq = dzx_seq if same else res[n_states + 1]
            acc = res[n_states + 2]
            stored_seq = list(res[n_states + 3 :])

            dzx_flat, dm_flat = _flat(dzx_seq), _flat(dm_seq)
            d_x = ops.reshape(ops.matmul(dzx_flat, ops.transpose(k)), ops.shape(x))
            d_k = ops.matmul(ops.transpose(_flat(x)), dzx_flat)
            s_prev = states_seq[0][:-1]
            if recurrent_mask is not None:
                s_prev = s_prev * recurrent_mask
            d_rk = ops.matmul(ops.transpose(_flat(s_prev)), dm_flat)
            grads = [d_x, *d_init, d_k, d_rk]
            if bias is not None:
                d_bx = ops.sum(dzx_flat, axis=0)
                grads.append(ops.stack([d_bx, ops.sum(dm_flat, axis=0)]) if kind.split_bias else d_bx)
            grads += _extra_grads(kind, w, saved_seq, stored_seq, acc)
            return grads

        return (outputs, *finals), grad

    args: list[Tensor] = [*initial_states, kernel, recurrent_kernel]
    if bias is not None:
        args.append(bias)
    args += list(extra)
    result = fused(x, *args)
    return result[0], list(result[1:])


def default_shards() -> int:
    """How many batch shards a training step's recurrences run in parallel on the CPU.

    One per CPU core this process may use (at most 8, and at most TensorFlow's inter-op threads where they
    are set: the shards' calls run in parallel only on separate inter-op threads; on one thread they would
    run one after another, each on part of the batch), or ``RNN_STUDIO_RECURRENT_SHARDS``.
    """
    import os

    import tensorflow as tf

    raw = os.environ.get("RNN_STUDIO_RECURRENT_SHARDS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"RNN_STUDIO_RECURRENT_SHARDS: expected a positive whole number, got {raw!r}")
        return int(raw)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    inter_op = tf.config.threading.get_inter_op_parallelism_threads()  # 0: TensorFlow's default, every core
    return max(1, min(cores, 8, inter_op or cores))


#: attribute of a tensor that :func:`run_fused_sharded` joined from batch shards: the shards.
#: A layer whose input is that very tensor (the next layer of a stack) takes the shards as
#: they are instead of splitting the concatenation again, so each shard's calls wait only on
#: the same shard of the layer before, forward and backward, and the concatenation is pruned
#: from the graph when nothing else reads it (a gain on the bench's 2-layer LSTM; figures in
#: bench/RESULTS.md).
_SHARDS_ATTR = "_rnn_studio_batch_shards"


def run_fused_sharded(
    kind: Kind,
    x: Tensor,
    initial_states: Sequence[Tensor],
    weights: Weights,
    return_sequences: bool,
    shards: int,
    go_backwards: bool = False,
) -> tuple[Tensor | None, list[Tensor]]:
    """Training: :func:`run_fused` as XLA-compiled calls, one per batch shard, run in parallel.

    Each shard is one XLA-compiled ``tf.function`` call (forward; the custom
    backward is a second call). Inside a graph that is not itself XLA-compiled,
    TensorFlow's executor runs independent calls on separate inter-op threads,
    so the sequential loops use every core; inside an XLA-compiled graph the
    calls are inlined and run one after another (same results either way: the
    shards are independent sequences, and the weight gradients are summed over
    shards). With ``shards=1`` this is simply the loop compiled by XLA, which
    runs it much faster than TensorFlow's graph executor, op by op, does.

    Unlike :func:`run_fused`, sequences are batch-major: ``x`` is ``(B, T, D)``
    (input dropout applied, not reversed: ``go_backwards`` reverses time inside
    the calls, where XLA fuses the transposes with the loop's own copies). Returns
    ``(outputs, final_states)``: ``outputs`` ``(B, T, O)`` in processing order,
    or None unless ``return_sequences``; shards are concatenated back along the batch.
    An input that an earlier call joined from the same number of shards is not split
    again: its shards are reused (see ``_SHARDS_ATTR``).
    """
    import tensorflow as tf

    kernel, recurrent_kernel, bias, extra, recurrent_mask = weights
    has_bias, n_extra, has_mask = bias is not None, len(extra), recurrent_mask is not None
    n_states = len(initial_states)

    def one_shard(xs: Tensor, *args: Tensor) -> tuple[Tensor, ...]:
        init = list(args[:n_states])
        k, rk = args[n_states], args[n_states + 1]
        rest = list(args[n_states + 2 :])
        b = rest.pop(0) if has_bias else None
        ex, rest = rest[:n_extra], rest[n_extra:]
        rm = rest[0] if has_mask else None
        xt = tf.transpose(xs, (1, 0, 2))
        if go_backwards:
            xt = tf.reverse(xt, axis=[0])
        outputs, finals = run_fused(kind, xt, init, Weights(k, rk, b, ex, rm), True, return_sequences)
        if not return_sequences:  # the last output is final state 0; no gradient flows into the rest
            return tuple(finals)
        return (tf.transpose(outputs, (1, 0, 2)), *finals)

    def split(t: Tensor) -> list[Tensor]:
        if shards == 1:
            return [t]
        parts = getattr(t, _SHARDS_ATTR, None)
        if parts is not None and len(parts) == shards:  # joined by the layer before: take its shards
            return list(parts)
        batch = tf.shape(t)[0]
        sizes = tf.stack([batch // shards + tf.cast(i < batch % shards, tf.int32) for i in range(shards)])
        return tf.split(t, sizes, num=shards, axis=0)

    def join(parts: list[Tensor]) -> Tensor:
        if shards == 1:
            return parts[0]
        joined = tf.concat(parts, axis=0)
        with contextlib.suppress(AttributeError):  # an eager tensor takes no attributes; graphs do
            setattr(joined, _SHARDS_ATTR, tuple(parts))
        return joined

    compiled = tf.function(one_shard, jit_compile=True)
    weights_list = [kernel, recurrent_kernel, *([bias] if has_bias else []), *extra]
    per_shard = zip(split(x), *map(split, initial_states), *([split(recurrent_mask)] if has_mask else []), strict=True)
    results = [compiled(xs, *pieces[:n_states], *weights_list, *pieces[n_states:]) for xs, *pieces in per_shard]
    first = 1 if return_sequences else 0
    outputs = join([r[0] for r in results]) if return_sequences else None
    return outputs, [join([r[first + k] for r in results]) for k in range(n_states)]
