"""ONNX and LiteRT exports of a run: checked against the SavedModel, runnable without TensorFlow, and
a conversion that cannot work says why and leaves no file."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from builder import load_preset
from builder.data import load_table
from builder.serving import convert
from builder.serving.convert import ConversionError, convert_run
from builder.tasks import prepare_frame
from tests.conftest import make_sequences_csv, make_series_csv
from tests.unit.built_runs import built_run
from tests.unit.test_pipeline import tiny


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    """A run built, not trained (tests/unit/built_runs.py): conversion reads only its model and metadata."""
    root = tmp_path_factory.mktemp("fc")
    # recurrent dropout: Keras's implementation 1, which the inference copy turns into the fused form
    spec = tiny(load_preset("deep_gru"), lookback=8, horizon=2).updated(
        blocks=[{"kind": "recurrent", "cell": "gru", "units": 4, "num_layers": 2, "dropout": 0.2, "recurrent_dropout": 0.1}],
        training={"jit_compile": False})
    return built_run(spec, prepare_frame(load_table(make_series_csv(root / "series.csv")), spec), root / "run")


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cl")
    spec = tiny(load_preset("bigru_classifier"))
    return built_run(spec, prepare_frame(load_table(make_sequences_csv(root / "seq.csv")), spec), root / "run")


def _run_without_tensorflow(tmp_path, files: dict[str, str], x: np.ndarray) -> dict[str, np.ndarray]:
    """Each file's output on `x` in a fresh process that never imports tensorflow or builder."""
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys, numpy as np
        x = np.load({str(tmp_path / 'x.npy')!r})
        out = {{}}
        if {files.get('onnx')!r}:
            import onnxruntime as ort
            s = ort.InferenceSession({files.get('onnx')!r})
            out["onnx"] = s.run(None, {{"window": x}})[0]
        if {files.get('litert')!r}:
            from ai_edge_litert.interpreter import Interpreter
            it = Interpreter(model_path={files.get('litert')!r})
            serve = it.get_signature_runner("serve")
            batch = serve.get_input_details()["window"]["shape_signature"][0]
            rows = [x[i:i + 1] for i in range(len(x))] if batch == 1 else [x]
            out["litert"] = np.concatenate([next(iter(serve(window=r).values())) for r in rows])
        bad = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "builder")]
        assert not bad, bad
        np.savez({str(tmp_path / 'out.npz')!r}, **out)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(tmp_path / "out.npz"))


def test_forecast_run_to_onnx_and_litert(forecast_run, tmp_path):
    # one folder per export: each conversion replaces its folder whole (tests/unit/test_export_folder.py)
    onnx = convert_run(forecast_run, "onnx", tmp_path / "onnx")
    lite = convert_run(forecast_run, "litert", tmp_path / "litert")
    for done, name in ((onnx, "model.onnx"), (lite, "model.tflite")):
        out = Path(done.path).parent
        assert done.path.endswith(name) and (out / name).stat().st_size == done.size_bytes > 0
        assert done.max_abs_diff <= 1e-5 and done.batch is None
        record = json.loads((out / f"{name}.json").read_text())
        assert record["input"]["shape"] == [None, 8, 2] and record["max_abs_diff"] == done.max_abs_diff
    # raw windows of another batch size, run by the runtimes alone, against the SavedModel
    model = convert.inference_model(forecast_run)
    x = convert.check_windows(model, forecast_run.metadata(), n=5, seed=3)
    ref = convert.saved_model_outputs(forecast_run, x)
    got = _run_without_tensorflow(tmp_path, {"onnx": onnx.path, "litert": lite.path}, x)
    assert ref.shape == (5, 2, 1) and abs(ref.mean()) > 1, "raw units, not the standardised scale"
    for fmt in ("onnx", "litert"):
        np.testing.assert_allclose(got[fmt], ref, atol=1e-5, rtol=1e-5)


def test_padded_classifier_to_onnx_and_litert(classify_run, tmp_path):
    onnx = convert_run(classify_run, "onnx", tmp_path / "onnx")
    lite = convert_run(classify_run, "litert", tmp_path / "litert")
    assert onnx.batch is None and lite.batch == 1 and "batch 1" in lite.notes[0]
    model = convert.inference_model(classify_run)
    x = convert.check_windows(model, classify_run.metadata(), n=3, seed=5)
    assert np.isnan(x[0, -1]).all() and not np.isnan(x[1]).any(), "one NaN-padded sequence"
    ref = convert.saved_model_outputs(classify_run, x)
    got = _run_without_tensorflow(tmp_path, {"onnx": onnx.path, "litert": lite.path}, x)
    for fmt in ("onnx", "litert"):
        np.testing.assert_allclose(got[fmt], ref, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(got[fmt].sum(axis=1), 1.0, atol=1e-5)


def test_a_file_that_would_fail_later_is_refused_with_the_reason(forecast_run, tmp_path, monkeypatch):
    # with the fused loop left on, tf2onnx writes a graph with XlaDynamicUpdateSlice, which onnxruntime refuses
    monkeypatch.setattr(convert, "keras_loop", lambda model: contextlib.nullcontext())
    with pytest.raises(ConversionError, match="no ONNX equivalent for the TensorFlow op.s. XlaDynamicUpdateSlice"):
        convert_run(forecast_run, "onnx", tmp_path)
    assert not list(tmp_path.iterdir()), "no file left behind"


def test_cli_export_formats(forecast_run, tmp_path, capsys):
    from builder.__main__ import main

    assert main(["export", "--run", str(forecast_run.path), "--out", str(tmp_path / "o"), "--format", "onnx"]) == 0
    assert "model.onnx" in capsys.readouterr().out and (tmp_path / "o" / "model.onnx").exists()
    assert main(["export", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "p"), "--format", "litert"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--run", str(forecast_run.path), "--out", str(tmp_path / "q"), "--format", "pt"])
    assert exit_.value.code == 2
