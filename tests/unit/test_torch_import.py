"""PyTorch weights (safetensors, made here with numpy: no torch) into a run: the builder model then
matches PyTorch's recorded outputs; shapes that do not fit the spec are named; pickles are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from builder import ModelSpec, build_model
from builder.data import DataError
from builder.serving.torch_import import import_torch
from builder.training.imported import apply_imported_weights
from builder.training.runs import Run

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "torch_golden"


def _golden(name: str, tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    data = np.load(GOLDEN / f"{name}.npz", allow_pickle=False)
    path = tmp_path / f"{name}.safetensors"
    save_file({k[3:]: np.ascontiguousarray(data[k]) for k in data.files if k.startswith("sd.")}, str(path))
    return path, {k: data[k] for k in ("x", "out")}


def _spec(cell: str, units: int, layers: int, bidirectional: bool, n_in: int = 2, **extra) -> ModelSpec:
    features = ["x"] if n_in == 2 else [f"x{k}" for k in range(1, n_in)]
    return ModelSpec.from_dict({
        "name": "imported", "task": "forecast",
        "data": {"targets": ["y"], "features": features, "lookback": 5, "horizon": 1},
        "blocks": [{"kind": "recurrent", "cell": cell, "units": units, "num_layers": layers,
                    "bidirectional": bidirectional, **extra}, {"kind": "dense", "units": 4}],
        "training": {"epochs": 1, "batch_size": 16, "learning_rate": 1e-7, "patience": None},
    })


@pytest.mark.parametrize(("golden", "cell", "units", "layers", "bi", "extra"), [
    ("gru_bidir_3layer_bf", "gru", 4, 3, True, {}),
    ("lstm_proj_2layer_bidir_bf", "lstm_proj", None, 2, True, {}),
])
def test_imported_weights_reproduce_torch(golden, cell, units, layers, bi, extra, tmp_path):
    import json

    import keras

    path, ref = _golden(golden, tmp_path)
    cfg = json.loads(str(np.load(GOLDEN / f"{golden}.npz")["config"]))
    units = units or cfg["hidden_size"]
    if cfg["proj_size"]:
        extra = {"proj_units": cfg["proj_size"]}
    n_in = cfg["input_size"]
    spec = _spec(cell, units, layers, bi, n_in, **extra)
    record = import_torch(path, spec, tmp_path / "run")
    assert record["block"] == 0 and (tmp_path / "run" / "spec.json").exists()
    model = build_model(spec, n_in, 1)  # Standardize: mean 0, scale 1, so the layers see x itself
    assert apply_imported_weights(Run(tmp_path / "run"), model)
    last = model.get_layer(f"bi_{cell}_0_{layers - 1}")
    got = np.asarray(keras.Model(model.input, last.output)(ref["x"]))
    h = ref["out"].shape[-1] // 2
    torch_final = np.concatenate([ref["out"][:, -1, :h], ref["out"][:, 0, h:]], axis=-1)  # forward last, backward first
    np.testing.assert_allclose(got, torch_final, atol=1e-5)


def test_shapes_that_do_not_fit_the_spec_are_named(tmp_path):
    path, _ = _golden("gru_bidir_3layer_bf", tmp_path)
    with pytest.raises(DataError, match=r"tensor weight_ih_l0: expected shape \(15, 2\) .*found \(12, 2\)"):
        import_torch(path, _spec("gru", 5, 3, True), tmp_path / "a")
    with pytest.raises(DataError, match=r"tensor weight_ih_l0: expected shape \(16, 2\)"):
        import_torch(path, _spec("lstm", 4, 3, True), tmp_path / "b")
    with pytest.raises(DataError, match=r"bias_hh_l2.* are not part of a GRU of 2 layer"):
        import_torch(path, _spec("gru", 4, 2, True), tmp_path / "c")
    with pytest.raises(DataError, match="no PyTorch twin"):
        import_torch(path, _spec("cifg_lstm", 4, 3, True), tmp_path / "d")
    assert not any((tmp_path / n).exists() for n in "abcd"), "nothing written on a mismatch"


def test_pickles_and_garbage_are_refused(tmp_path):
    pt = tmp_path / "w.pt"
    pt.write_bytes(b"\x80\x04not read")
    with pytest.raises(DataError, match="pickle is refused"):
        import_torch(pt, _spec("gru", 4, 1, False), tmp_path / "r")
    with pytest.raises(DataError, match="not a readable safetensors file"):
        import_torch(b"\x00garbage", _spec("gru", 4, 1, False), tmp_path / "r", name="up.safetensors")


def test_cli_import_then_train_starts_from_the_weights(series_csv, tmp_path, capsys):
    from builder.__main__ import main
    from builder.serving.export import load_run_model

    path, _ = _golden("gru_bidir_3layer_bf", tmp_path)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(_spec("gru", 4, 3, True).to_json())
    run = tmp_path / "run"
    assert main(["import-torch", "--weights", str(path), "--spec", str(spec_file), "--out", str(run)]) == 0
    assert "train --resume" in capsys.readouterr().out
    assert main(["train", "--resume", "--data", str(series_csv), "--out", str(run), "--quiet"]) == 0
    kernel = load_run_model(Run(run)).get_layer("bi_gru_0_0").forward_layer.cell.kernel.numpy()
    w_ih = np.load(GOLDEN / "gru_bidir_3layer_bf.npz")["sd.weight_ih_l0"]
    r, z, n = np.split(w_ih, 3)
    np.testing.assert_allclose(kernel, np.concatenate([z, r, n]).T, atol=1e-4)  # learning rate 1e-7: still torch's
    bad = tmp_path / "bad.json"
    bad.write_text(_spec("gru", 5, 3, True).to_json())
    assert main(["import-torch", "--weights", str(path), "--spec", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "weight_ih_l0: expected shape (15, 2)" in capsys.readouterr().err
