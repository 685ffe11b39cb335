"""PyTorch <-> Keras conversion for stacked ``nn.LSTM`` / ``nn.GRU`` modules.

The conversion core works on plain data, so it needs no torch:

* a :class:`TorchRNNConfig` (the constructor arguments of the torch module), and
* a *state dict*: ``{name: np.ndarray}`` with PyTorch's parameter names and
  layouts (``weight_ih_l{k}[_reverse]`` ``(G*H, D_k)``, ``weight_hh_l{k}``
  ``(G*H, H_out)``, ``bias_ih_l{k}``/``bias_hh_l{k}`` ``(G*H,)``, ``weight_hr_l{k}``
  ``(P, H)``; ``G`` = 4 for LSTM, 3 for GRU; ``H_out`` = ``P`` if ``proj_size`` else ``H``).

:func:`keras_model_from_state_dict` builds the Keras model from those, and
:func:`state_dict_from_keras` goes back. :func:`from_torch` / :func:`to_torch`
are thin wrappers that import torch lazily (``builder`` imports without torch).

Mapping (per layer and direction):

* LSTM (``proj_size == 0``) -> ``keras.layers.LSTM``: gate order ``i, f, g, o`` is
  the same in both; ``kernel = W_ih.T``, ``recurrent_kernel = W_hh.T``,
  ``bias = b_ih + b_hh`` (Keras has one bias; going back we put it all in
  ``bias_ih`` and zeros in ``bias_hh``).
* LSTM with ``proj_size = P`` -> ``keras.layers.RNN(LSTMProjCell(H, proj_units=P))``,
  plus ``projection_kernel = W_hr.T``.
* GRU -> ``keras.layers.GRU(reset_after=True)``: PyTorch's block order is
  ``r, z, n``, Keras's is ``z, r, n``; biases stay separate (``bias`` is
  ``(2, 3H)`` = ``[b_ih, b_hh]``), which is exactly ``reset_after=True``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

import keras
import numpy as np

from builder.model.cells.lstm_proj import LSTMProjCell

StateDict = dict[str, np.ndarray]

#: Name of the Keras input when the model takes time-major ``(T, B, D)`` input.
TIME_MAJOR_INPUT = "time_major_input"
#: Name of the Keras input when the model takes batch-major ``(B, T, D)`` input.
BATCH_FIRST_INPUT = "batch_first_input"


@dataclass(frozen=True)
class TorchRNNConfig:
    """Constructor arguments of a ``torch.nn.LSTM`` / ``torch.nn.GRU``.

    ``mode`` is the torch ``module.mode`` (``"LSTM"`` or ``"GRU"``); ``dropout``
    is the between-layer dropout rate (a no-op in eval mode).
    """

    mode: Literal["LSTM", "GRU"]
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    bidirectional: bool = False
    proj_size: int = 0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("LSTM", "GRU"):
            raise ValueError(
                f"Received an invalid value for argument `mode`, expected 'LSTM' or 'GRU', got {self.mode!r}."
            )
        for name in ("input_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive integer, got {value!r}."
                )
        if self.proj_size and (self.mode != "LSTM" or not 0 < self.proj_size < self.hidden_size):
            raise ValueError(
                "Received an invalid value for argument `proj_size`, expected 0, or for an LSTM an integer "
                f"with 0 < proj_size < hidden_size (hidden_size={self.hidden_size}), got {self.proj_size!r} "
                f"(mode={self.mode!r})."
            )

    @property
    def num_directions(self) -> int:
        """1, or 2 if bidirectional."""
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """``H_out``: ``proj_size`` if set, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    def to_json(self) -> str:
        """The config as a JSON object string."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TorchRNNConfig:
        """Inverse of ``asdict``; unknown keys are an error."""
        return cls(**data)


# --------------------------------------------------------------------------- torch side (lazy)


def config_from_torch(module: Any) -> TorchRNNConfig:
    """Read a :class:`TorchRNNConfig` from a ``torch.nn.LSTM`` / ``torch.nn.GRU``."""
    import torch

    if not isinstance(module, (torch.nn.LSTM, torch.nn.GRU)):
        raise ValueError(
            "Received an invalid value for argument `module`, expected a torch.nn.LSTM or "
            f"torch.nn.GRU, got {type(module).__name__}."
        )
    return TorchRNNConfig(
        mode=module.mode,
        input_size=int(module.input_size),
        hidden_size=int(module.hidden_size),
        num_layers=int(module.num_layers),
        bias=bool(module.bias),
        batch_first=bool(module.batch_first),
        bidirectional=bool(module.bidirectional),
        proj_size=int(getattr(module, "proj_size", 0) or 0),
        dropout=float(module.dropout),
    )


def state_dict_from_torch(module: Any) -> StateDict:
    """The module's parameters as float32 NumPy arrays under their torch names."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in module.state_dict().items()}


def from_torch(module: Any) -> keras.Model:
    """Keras functional model with the weights and I/O layout of a torch LSTM/GRU.

    Input: ``(B, T, D)`` if ``module.batch_first`` else ``(T, B, D)``.
    Outputs: ``[output, h_n]`` (GRU) or ``[output, h_n, c_n]`` (LSTM) with
    PyTorch's shapes: ``output`` ``(B, T, num_directions * H_out)`` (or
    ``(T, B, ...)`` if not batch_first), ``h_n`` ``(num_layers * num_directions,
    B, H_out)``, ``c_n`` ``(num_layers * num_directions, B, H)``.
    Matches the torch module in eval mode (dropout between layers is kept as
    ``keras.layers.Dropout``, active only in training).
    """
    return keras_model_from_state_dict(state_dict_from_torch(module), config_from_torch(module))


def to_torch(obj: keras.Model | keras.layers.Layer) -> Any:
    """Torch ``nn.LSTM`` / ``nn.GRU`` (in eval mode) with the weights of a Keras layer or model.

    Accepts a ``keras.layers.LSTM``, ``keras.layers.GRU(reset_after=True)``, a
    ``keras.layers.RNN`` around :class:`LSTMProjCell`, any of those wrapped in
    ``keras.layers.Bidirectional(merge_mode="concat")``, or a model that stacks
    such layers (e.g. one made by :func:`from_torch`). See :func:`state_dict_from_keras`.
    """
    import torch

    state, config = state_dict_from_keras(obj)
    cls = torch.nn.LSTM if config.mode == "LSTM" else torch.nn.GRU
    kwargs: dict[str, Any] = {"proj_size": config.proj_size} if config.mode == "LSTM" else {}
    module = cls(
        input_size=config.input_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        bias=config.bias,
        batch_first=config.batch_first,
        dropout=config.dropout,
        bidirectional=config.bidirectional,
        **kwargs,
    )
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    return module.eval()


def spec_dict_from_torch(module: Any) -> dict[str, Any]:
    """Recurrent-block description of a torch LSTM/GRU (see :func:`spec_dict_from_config`)."""
    return spec_dict_from_config(config_from_torch(module))


def spec_dict_from_config(config: TorchRNNConfig) -> dict[str, Any]:
    """``{"cell", "units", "proj_units", "num_layers", "bidirectional", "merge_mode", "dropout",
    "recurrent_dropout"}`` for a :class:`TorchRNNConfig`.

    ``cell`` is ``"lstm"``, ``"gru"`` or ``"lstm_proj"``. Torch's between-layer
    dropout has no exact Keras twin (Keras's ``dropout`` masks every layer's
    input, including the first), so ``dropout`` is reported as 0.0.
    """
    cell = {"GRU": "gru", "LSTM": "lstm_proj" if config.proj_size else "lstm"}[config.mode]
    return {
        "cell": cell,
        "units": config.hidden_size,
        "proj_units": config.proj_size or None,
        "num_layers": config.num_layers,
        "bidirectional": config.bidirectional,
        "merge_mode": "concat",
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
    }


# --------------------------------------------------------------------------- weights: torch -> keras


def _gru_torch_to_keras_order(w: np.ndarray) -> np.ndarray:
    """Reorder the gate blocks on axis 0 from torch ``r, z, n`` to Keras ``z, r, n`` (and back)."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def _suffix(layer: int, reverse: bool) -> str:
    return f"_l{layer}" + ("_reverse" if reverse else "")


def _keras_weights_from_state(state: StateDict, config: TorchRNNConfig, sfx: str) -> dict[str, np.ndarray]:
    """Keras cell weights ``{attribute: array}`` for one layer/direction (suffix ``_l{k}[_reverse]``)."""
    w_ih, w_hh = state["weight_ih" + sfx], state["weight_hh" + sfx]
    out: dict[str, np.ndarray] = {}
    if config.mode == "GRU":
        out["kernel"] = _gru_torch_to_keras_order(w_ih).T
        out["recurrent_kernel"] = _gru_torch_to_keras_order(w_hh).T
        if config.bias:
            out["bias"] = np.stack(
                [
                    _gru_torch_to_keras_order(state["bias_ih" + sfx]),
                    _gru_torch_to_keras_order(state["bias_hh" + sfx]),
                ]
            )
    else:
        out["kernel"] = w_ih.T
        out["recurrent_kernel"] = w_hh.T
        if config.bias:
            out["bias"] = state["bias_ih" + sfx] + state["bias_hh" + sfx]
        if config.proj_size:
            out["projection_kernel"] = state["weight_hr" + sfx].T
    return out


def _make_rnn_layer(config: TorchRNNConfig, name: str) -> keras.layers.Layer:
    common: dict[str, Any] = {"return_sequences": True, "return_state": True, "name": name}
    if config.mode == "GRU":
        return keras.layers.GRU(config.hidden_size, use_bias=config.bias, reset_after=True, **common)
    if config.proj_size:
        cell = LSTMProjCell(config.hidden_size, proj_units=config.proj_size, use_bias=config.bias)
        return keras.layers.RNN(cell, **common)
    return keras.layers.LSTM(config.hidden_size, use_bias=config.bias, **common)


def _assign(cell: keras.layers.Layer, weights: dict[str, np.ndarray]) -> None:
    for attr, value in weights.items():
        var = getattr(cell, attr)
        if tuple(var.shape) != value.shape:
            raise ValueError(
                f"Weight `{attr}` of {cell.name} has shape {tuple(var.shape)}, but the state dict gives "
                f"{value.shape}."
            )
        var.assign(value.astype(np.float32))


def keras_model_from_state_dict(
    state: StateDict, config: TorchRNNConfig | dict[str, Any], name: str | None = None
) -> keras.Model:
    """Build the Keras twin of a torch LSTM/GRU from its config and state dict (no torch needed).

    Layer ``k`` is named ``l{k}`` (a ``Bidirectional`` if ``config.bidirectional``);
    between layers a ``keras.layers.Dropout(config.dropout)`` named ``dropout_l{k}``
    mirrors torch's inter-layer dropout. Inputs/outputs: see :func:`from_torch`.
    """
    if isinstance(config, dict):
        config = TorchRNNConfig.from_dict(config)
    expected = _expected_state_shapes(config)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"State dict does not match the config: missing keys {missing}, unexpected keys {unexpected}."
        )
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise ValueError(
                f"State dict entry `{key}` should have shape {shape}, got {tuple(state[key].shape)}."
            )

    if config.batch_first:
        inp = keras.Input(shape=(None, config.input_size), name=BATCH_FIRST_INPUT)
        x = inp
    else:
        inp = keras.Input(batch_shape=(None, None, config.input_size), name=TIME_MAJOR_INPUT)
        x = keras.ops.transpose(inp, (1, 0, 2))  # (T, B, D) -> (B, T, D)

    n_states = 2 if config.mode == "LSTM" else 1
    h_list, c_list, built = [], [], []
    for k in range(config.num_layers):
        if k > 0 and config.dropout > 0:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_l{k}")(x)
        layer = _make_rnn_layer(config, name=f"l{k}")
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, merge_mode="concat", name=f"l{k}")
        x, *states = layer(x)
        # Bidirectional returns forward states then backward states.
        for d in range(config.num_directions):
            h_list.append(states[d * n_states])
            if n_states == 2:
                c_list.append(states[d * n_states + 1])
        built.append(layer)

    out = x if config.batch_first else keras.ops.transpose(x, (1, 0, 2))
    outputs = [out, keras.ops.stack(h_list, axis=0)]
    if config.mode == "LSTM":
        outputs.append(keras.ops.stack(c_list, axis=0))
    model = keras.Model(inp, outputs, name=name or f"from_torch_{config.mode.lower()}")

    for k, layer in enumerate(built):
        if config.bidirectional:
            pairs = [(layer.forward_layer, False), (layer.backward_layer, True)]
        else:
            pairs = [(layer, False)]
        for rnn, reverse in pairs:
            _assign(rnn.cell, _keras_weights_from_state(state, config, _suffix(k, reverse)))
    return model


def _expected_state_shapes(config: TorchRNNConfig) -> dict[str, tuple[int, ...]]:
    """Torch parameter names and shapes for a config."""
    g = (4 if config.mode == "LSTM" else 3) * config.hidden_size
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(config.num_layers):
        d_in = config.input_size if k == 0 else config.num_directions * config.output_size
        for reverse in [False, True][: config.num_directions]:
            sfx = _suffix(k, reverse)
            shapes["weight_ih" + sfx] = (g, d_in)
            shapes["weight_hh" + sfx] = (g, config.output_size)
            if config.bias:
                shapes["bias_ih" + sfx] = (g,)
                shapes["bias_hh" + sfx] = (g,)
            if config.proj_size:
                shapes["weight_hr" + sfx] = (config.proj_size, config.hidden_size)
    return shapes


# --------------------------------------------------------------------------- weights: keras -> torch


def _layer_info(layer: keras.layers.Layer) -> tuple[str, int, int, bool, list[keras.layers.Layer]]:
    """``(mode, hidden, proj, bias, [rnn per direction])`` of one recurrent layer, or ValueError."""
    if isinstance(layer, keras.layers.Bidirectional):
        if layer.merge_mode != "concat":
            raise ValueError(
                f"Layer `{layer.name}`: torch only concatenates directions; expected merge_mode='concat', "
                f"got {layer.merge_mode!r}."
            )
        directions = [layer.forward_layer, layer.backward_layer]
    else:
        directions = [layer]
    infos = []
    for rnn in directions:
        cell = getattr(rnn, "cell", None)
        if isinstance(cell, keras.layers.LSTMCell):
            mode, proj = "LSTM", 0
        elif isinstance(cell, keras.layers.GRUCell):
            if not cell.reset_after:
                raise ValueError(
                    f"Layer `{rnn.name}`: torch's GRU is reset_after=True; expected reset_after=True, got False."
                )
            mode, proj = "GRU", 0
        elif isinstance(cell, LSTMProjCell):
            mode, proj = "LSTM", cell.proj_units
        else:
            raise ValueError(
                f"Layer `{rnn.name}`: expected an LSTM, GRU(reset_after=True) or RNN(LSTMProjCell) layer, "
                f"got {type(rnn).__name__} with cell {type(cell).__name__}."
            )
        acts = (
            keras.activations.serialize(cell.activation),
            keras.activations.serialize(cell.recurrent_activation),
        )
        if acts != ("tanh", "sigmoid"):
            raise ValueError(
                f"Layer `{rnn.name}`: torch uses activation='tanh', recurrent_activation='sigmoid'; got {acts}."
            )
        if getattr(rnn, "go_backwards", False) and not isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(f"Layer `{rnn.name}`: a lone go_backwards=True layer has no torch twin.")
        infos.append((mode, cell.units, proj, bool(cell.use_bias)))
    if len(set(infos)) != 1:
        raise ValueError(f"Layer `{layer.name}`: forward and backward layers differ: {infos}.")
    mode, hidden, proj, bias = infos[0]
    return mode, hidden, proj, bias, directions


def _torch_weights_from_cell(cell: keras.layers.Layer, mode: str, sfx: str) -> StateDict:
    """Torch-named arrays for one layer/direction from a Keras cell."""

    def get(attr: str) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(getattr(cell, attr)), dtype=np.float32)

    out: StateDict = {}
    if mode == "GRU":
        out["weight_ih" + sfx] = _gru_torch_to_keras_order(get("kernel").T)  # the swap is its own inverse
        out["weight_hh" + sfx] = _gru_torch_to_keras_order(get("recurrent_kernel").T)
        if cell.use_bias:
            bias = get("bias")
            out["bias_ih" + sfx] = _gru_torch_to_keras_order(bias[0])
            out["bias_hh" + sfx] = _gru_torch_to_keras_order(bias[1])
    else:
        out["weight_ih" + sfx] = get("kernel").T
        out["weight_hh" + sfx] = get("recurrent_kernel").T
        if cell.use_bias:
            out["bias_ih" + sfx] = get("bias")
            out["bias_hh" + sfx] = np.zeros_like(out["bias_ih" + sfx])
        if isinstance(cell, LSTMProjCell):
            out["weight_hr" + sfx] = get("projection_kernel").T
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def state_dict_from_keras(obj: keras.Model | keras.layers.Layer) -> tuple[StateDict, TorchRNNConfig]:
    """Torch state dict and config for a Keras recurrent layer or a model stacking them.

    A model may hold only Input, Dropout and recurrent layers (no heads, no
    Masking). All recurrent layers of a model (in ``model.layers`` order) must share the
    cell type, units, projection, bias and direction. ``batch_first`` is False
    only for a model whose input is named :data:`TIME_MAJOR_INPUT` (as
    :func:`from_torch` makes); ``dropout`` is the rate of ``dropout_l{k}``
    layers, if any. Weights must be built. LSTM biases go to ``bias_ih``
    (``bias_hh`` is zeros).
    """
    if isinstance(obj, keras.Model):
        allowed = (
            keras.layers.InputLayer,
            keras.layers.RNN,
            keras.layers.Bidirectional,
            keras.layers.Dropout,
        )
        others = [
            f"{layer.name} ({type(layer).__name__})" for layer in obj.layers if not isinstance(layer, allowed)
        ]
        if others:
            raise ValueError(
                "Received a model with layers a torch.nn.LSTM/GRU cannot hold; expected only recurrent, "
                f"Dropout and Input layers, got {others}."
            )
        layers = [
            layer for layer in obj.layers if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
        ]
        names = [getattr(t, "name", "") for t in obj.inputs] if obj.inputs else []
        batch_first = not any(n.startswith(TIME_MAJOR_INPUT) for n in names)
        rates = [layer.rate for layer in obj.layers if isinstance(layer, keras.layers.Dropout)]
        dropout = float(rates[0]) if rates else 0.0
    else:
        layers, batch_first, dropout = [obj], True, 0.0
    if not layers:
        raise ValueError(
            "Received a model with no recurrent layers; expected at least one LSTM/GRU/RNN layer."
        )
    if not all(layer.built for layer in layers):
        raise ValueError("The recurrent layers have no weights yet; build or call the model first.")

    infos = [_layer_info(layer) for layer in layers]
    heads = {info[:4] + (len(info[4]),) for info in infos}
    if len(heads) != 1:
        raise ValueError(
            f"torch stacks identical layers only; got different (mode, units, proj, bias, directions): {sorted(heads)}."
        )
    mode, hidden, proj, bias, _ = infos[0]
    state: StateDict = {}
    for k, (*_, directions) in enumerate(infos):
        for d, rnn in enumerate(directions):
            state.update(_torch_weights_from_cell(rnn.cell, mode, _suffix(k, reverse=d == 1)))
    input_size = int(state["weight_ih_l0"].shape[1])
    config = TorchRNNConfig(
        mode=mode,
        input_size=input_size,
        hidden_size=int(hidden),
        num_layers=len(layers),
        bias=bias,
        batch_first=batch_first,
        bidirectional=len(infos[0][4]) == 2,
        proj_size=int(proj),
        dropout=dropout,
    )
    expected = _expected_state_shapes(config)
    for key, shape in expected.items():
        if key not in state or state[key].shape != shape:
            got = state[key].shape if key in state else None
            raise ValueError(
                f"Layer stack does not chain like a torch module: `{key}` expected {shape}, got {got}."
            )
    return state, config
