"""PyTorch weights into a run: an nn.LSTM / nn.GRU state dict, read from a .safetensors file, becomes
the weights of a spec's first recurrent block.

safetensors only: a .pt / .pth file is a pickle, and unpickling a user's file runs its code. The state
dict is mapped with builder.serving.interop's conversion (the core of `from_torch`, which needs no
torch): gate order, transposes, GRU's r/z/n -> z/r/n, LSTM's two biases summed, the projection. Every
tensor's name and shape is checked against what the spec's block needs before anything is written
(`weight_hh_l0: expected (192, 64) from the spec, found (256, 64)`).

The result is a prepared run directory: spec.json and `imported.weights.npz` (the Keras arrays per
layer and direction, keyed `<layer name>/<direction>/<weight>`), plus `imported.json` (the source
file's SHA-256 and tensors). `python -m builder train --resume --data F.csv --out RUN` trains it: fit
sets the data's scalers, puts the imported arrays into the recurrent layers, and trains the rest
(builder.training.imported).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from builder.data import DataError
from builder.files import atomic_write_json
from builder.spec import ModelSpec, RecurrentBlock
from builder.training.imported import IMPORTED_WEIGHTS, apply_arrays
from builder.training.runs import Run

#: the spec cells that have a torch twin, and the torch module each stands for
TORCH_CELLS = {"lstm": "LSTM", "gru": "GRU", "lstm_proj": "LSTM"}


def read_safetensors(data: str | Path | bytes, name: str | None = None) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file (path or bytes) as float32 NumPy arrays; never unpickles."""
    from safetensors.numpy import load, load_file

    label = name or (str(data) if not isinstance(data, bytes) else "upload")
    if not isinstance(data, bytes) and not label.endswith(".safetensors"):
        raise DataError(f"{label}: expected a .safetensors file (a .pt / .pth pickle is refused: unpickling runs code)")
    try:
        tensors = load(data) if isinstance(data, bytes) else load_file(str(data))
    except FileNotFoundError:
        raise
    except Exception as err:  # safetensors raises SafetensorError (or ValueError) on a malformed header
        raise DataError(f"{label}: not a readable safetensors file ({err})") from err
    return {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}


def _first_recurrent(spec: ModelSpec) -> tuple[int, RecurrentBlock]:
    for i, block in enumerate(spec.blocks):
        if isinstance(block, RecurrentBlock):
            if block.cell not in TORCH_CELLS:
                raise DataError(f"spec block {i}: cell {block.cell!r} has no PyTorch twin; expected one of "
                                f"{sorted(TORCH_CELLS)} (nn.LSTM, nn.GRU, nn.LSTM with proj_size)")
            if block.bidirectional and block.merge_mode != "concat":
                raise DataError(f"spec block {i}: merge_mode {block.merge_mode!r}; a bidirectional torch module concatenates")
            return i, block
    raise DataError("the spec has no recurrent block to take the weights")


def _n_features(spec: ModelSpec, index: int, state: dict[str, np.ndarray], n_features: int | None) -> int:
    if n_features is not None:
        return n_features
    listed = list(spec.data.targets) + [c for c in (spec.data.features or []) if c not in spec.data.targets]
    if spec.task == "forecast" and spec.data.targets and spec.data.features is not None:
        return len(listed)
    if index == 0 and "weight_ih_l0" in state and state["weight_ih_l0"].ndim == 2:
        return int(state["weight_ih_l0"].shape[1])  # the recurrent block reads the inputs themselves
    raise DataError("the number of input features is not fixed by the spec; give --n-features")


def import_torch(weights: str | Path | bytes, spec: ModelSpec, out: str | Path, n_features: int | None = None,
                 name: str | None = None) -> dict[str, Any]:
    """Check a torch state dict against the spec's first recurrent block and write the prepared run.

    Returns imported.json's record. Raises DataError naming the tensor and the expected vs found shape.
    """
    import keras

    from builder.model.build import build_model
    from builder.serving.interop import (
        TorchRNNConfig,
        _expected_state_shapes,
        _keras_weights_from_state,
        _suffix,
    )
    from builder.tasks.base import Resolved

    state = read_safetensors(weights, name)
    label = name or (str(weights) if not isinstance(weights, bytes) else "upload")
    index, block = _first_recurrent(spec)
    n_in = _n_features(spec, index, state, n_features)
    forecast = spec.task == "forecast"
    n_out = (len(spec.data.targets) or 1) if forecast else 2
    length = (spec.data.lookback or 8) if forecast else 8  # the head's size only: it is trained, not imported
    resolved = Resolved(source=label, inputs=tuple(f"x{k}" for k in range(n_in)), lookback=length,
                        input_length=length if forecast else None,
                        horizon=spec.data.horizon if forecast else None,
                        targets=tuple(f"y{k}" for k in range(n_out)) if forecast else (),
                        classes=tuple(f"c{k}" for k in range(n_out)) if not forecast else ())
    model = build_model(spec, resolved)
    first = model.get_layer(f"{'bi_' if block.bidirectional else ''}{block.cell}_{index}_0")
    rnn = first.forward_layer if isinstance(first, keras.layers.Bidirectional) else first
    config = TorchRNNConfig(mode=TORCH_CELLS[block.cell], input_size=int(rnn.cell.kernel.shape[0]),
                            hidden_size=block.units, num_layers=block.num_layers, bias="bias_ih_l0" in state,
                            bidirectional=block.bidirectional, proj_size=int(block.proj_units or 0) if block.cell == "lstm_proj" else 0)
    expected = _expected_state_shapes(config)
    what = (f"{config.mode} of {config.num_layers} layer(s), hidden {config.hidden_size}"
            + (f", proj {config.proj_size}" if config.proj_size else "")
            + (", bidirectional" if config.bidirectional else "") + f", input {config.input_size}")
    for key, shape in expected.items():
        if key not in state:
            raise DataError(f"{label}: tensor {key} is missing; the spec ({what}) needs shape {shape}")
        if tuple(state[key].shape) != shape:
            raise DataError(f"{label}: tensor {key}: expected shape {shape} from the spec ({what}), "
                            f"found {tuple(state[key].shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise DataError(f"{label}: tensor(s) {extra[:5]} are not part of a {what} state dict")
    arrays: dict[str, np.ndarray] = {}
    for k in range(block.num_layers):
        for direction, reverse in (("forward", False), ("backward", True))[: config.num_directions]:
            layer = f"{'bi_' if block.bidirectional else ''}{block.cell}_{index}_{k}"
            for attr, value in _keras_weights_from_state(state, config, _suffix(k, reverse)).items():
                arrays[f"{layer}/{direction}/{attr}"] = value.astype(np.float32)
    apply_arrays(model, arrays)  # the same check fit makes: every array fits its variable
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"--out {out}: the directory exists and is not empty; choose a new run directory")
    run = Run(out)
    out.mkdir(parents=True, exist_ok=True)
    run.write_json("spec.json", spec.model_dump(mode="json"))
    tmp = out / f".{IMPORTED_WEIGHTS}.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(out / IMPORTED_WEIGHTS)
    digest = hashlib.sha256(weights if isinstance(weights, bytes) else Path(weights).read_bytes()).hexdigest()
    record = {"source": label, "sha256": digest, "torch": config.to_json(), "block": index,
              "tensors": {k: list(v.shape) for k, v in sorted(state.items())}}
    atomic_write_json(out / "imported.json", record)
    return record
