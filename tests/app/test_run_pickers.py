"""Evaluate and Export pick runs by id, name and best-run marks; the Export page's first visit does not
load TensorFlow (the serving snippet is text from the run's metadata); Train's summary comes from the task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from builder import app as u
from builder.spec import ModelSpec
from builder.training.runs import Run
from tests.app.conftest import REPO, make_app, seeded

FORECAST = {"task": "forecast", **{k: {"mae": 1.0, "rmse": 1.0, "smape": 1.0, "mase": 1.0}
                                   for k in ("model", "naive", "seasonal_naive")}}


def _run(home: Path, name: str, mae: float, age: float) -> Run:
    """A finished forecast run with what Evaluate and Export read (no model: nothing here loads one)."""
    run = Run(home / "runs" / name)
    run.write_json("spec.json", ModelSpec.from_dict({"name": name, "training": {"epochs": 2}}).model_dump(mode="json"))
    run.write_json("job.json", {"data": "/x/a.csv", "submitted": time.time()})
    run.append_history({"epoch": 1, "loss": 1.0, "val_loss": 1.0 + mae})
    run.write_json("metrics.json", {**FORECAST, "model": {"mae": mae, "rmse": mae, "smape": mae, "mase": mae}})
    resolved = {"source": "/x/a.csv", "inputs": ["y"], "lookback": 4, "input_length": 4, "horizon": 1,
                "targets": ["y"]}
    run.write_json("metadata.json", {
        "format": "rnn-studio/2", "task": "forecast", "params": 50, "resolved": resolved,
        "serving": {"signature": "serve", "input": {"name": "window", "dtype": "float32", "shape": [None, 4, 1]},
                    "output": {"shape": [None, 1, 1], "meaning": "[batch, 1, 1] forecasts of ['y']"}}})
    (run.path / "saved_model").mkdir()
    (run.path / "saved_model" / "saved_model.pb").write_bytes(b"not a real graph")
    run.file("model.keras").write_bytes(b"not a real model")
    run.set_status("finished", finished=time.time())
    t = time.time() - age
    os.utime(run.file("spec.json"), (t, t))
    return run


def test_evaluate_and_export_pickers_show_names_and_best_marks(tiny_csv, studio_home) -> None:
    best = _run(studio_home, "r-best", mae=0.5, age=20)
    _run(studio_home, "r-other", mae=2.0, age=10)
    u.set_run_label(best, "small gru", "")
    want = "r-best · small gru · ★ val loss ★ MAE"
    assert u.run_choices()["r-best"] == want and u.run_choices()["r-other"] == "r-other"

    ev = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="r-best"))
    assert not ev.exception
    picker = ev.multiselect(key="eval_runs")
    assert want in picker.options and picker.value == ["r-best"]

    ex = make_app("pages/export.py", seeded(tiny_csv, run_id="r-best"))
    assert not ex.exception
    pick = ex.selectbox(key="export_run")
    assert want in pick.options and pick.value == "r-best"
    assert any("tf.saved_model.load" in c.value for c in ex.code)


def test_export_first_visit_does_not_import_tensorflow(studio_home, tmp_path) -> None:
    _run(studio_home, "r-one", mae=1.0, age=0)
    code = ("import sys; from streamlit.testing.v1 import AppTest; at = AppTest.from_file('pages/export.py', "
            "default_timeout=120); at.session_state['run_id'] = 'r-one'; at.run(); "
            "assert not at.exception, at.exception; "
            "assert any('tf.saved_model.load' in c.value for c in at.code), 'no serving snippet'; "
            "print('tensorflow' in sys.modules)")
    env = {**os.environ, "RNN_STUDIO_HOME": str(studio_home)}
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert res.stdout.strip().splitlines()[-1:] == ["False"], res.stderr[-2000:]


def test_train_summary_comes_from_the_task() -> None:
    assert u.result_summary(FORECAST) == ("Test MAE 1 vs naive 1 and seasonal naive 1; level with the best baseline, "
                                          "naive (last value) (MASE 1 vs 1).")
    assert u.result_kind(FORECAST) == "info"
    scores = {"mae": 3.0, "rmse": 3.0, "smape": 3.0, "mase": 3.0}
    losing = {**FORECAST, "model": scores, "ets": {**scores, "mase": 0.5, "mae": 0.5}}
    assert "; worse than ETS" in u.result_summary(losing) and u.result_kind(losing) == "warning"
    winning = {**FORECAST, "model": {k: 0.5 for k in scores}}
    assert u.result_summary(winning).startswith("Test MAE 0.5 vs naive 1 and seasonal naive 1; beats every baseline")
    assert u.result_kind(winning) == "success"
    tree = {"task": "tree", "model": {"accuracy": 0.9}, "sequence_lstm": {"accuracy": 0.8},
            "majority_class": {"accuracy": 0.5}, "n_trees": 10}
    assert u.result_summary(tree) == "Test tree accuracy 0.900 (+0.100 vs sequence LSTM)."  # the default: first card
    assert u.result_kind(tree) == "success"
    assert u.result_kind({**tree, "majority_class": {"accuracy": 0.95}}) == "warning"  # any baseline counts
    classify = {"task": "classify", "model": {"accuracy": 0.7}, "majority_class": {"accuracy": 0.5},
                "nn_dtw_full": {"accuracy": 0.8}, "verdict": "the model loses to 1-NN DTW (full window) (0.700 vs 0.800)"}
    assert u.result_summary(classify).endswith(": the model loses to 1-NN DTW (full window) (0.700 vs 0.800).")
    assert u.result_kind(classify) == "warning"
    assert u.result_kind({**classify, "nn_dtw_full": {"accuracy": 0.7}}) == "info"
    text = {"task": "generate", "model": {"bits_per_char": 2.0}, "ngram": {"order": 3, "bits_per_char": 2.2},
            "unigram": {"bits_per_char": 4.0}}
    assert u.result_kind(text) == "success" and u.result_kind({**text, "ngram": {"bits_per_char": 1.9}}) == "warning"
    steps = {"task": "label_steps", "model": {"accuracy": 0.8}, "window_logreg": {"accuracy": 0.85},
             "majority_label": {"accuracy": 0.4}}
    assert u.result_kind(steps) == "warning"
    assert u.result_kind({"task": "translate", "verdict": "beats every baseline (best: copy)"}) == "success"
    assert u.result_kind({"task": "forecast"}) == "info"  # incomplete metrics: neutral, no error
    assert u.result_summary({"task": "forecast"}) is None  # incomplete metrics: no sentence, no error
    assert u.task_refits("forecast") and not u.task_refits("classify")
    assert u.task_ensembles("forecast") and u.task_ensembles("classify") and not u.task_ensembles("generate")
    json.dumps(u.run_choices())  # plain strings
