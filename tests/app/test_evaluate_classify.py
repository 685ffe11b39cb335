"""The Evaluate page on a classify run: baselines, verdict, per-class report, misclassified sequences."""

from __future__ import annotations

from tests.app.conftest import errors, make_app, seeded
from tests.app.test_pages import _fake_run


def test_evaluate_shows_baselines_per_class_and_misclassified(tiny_csv, studio_home) -> None:
    metrics = {
        "task": "classify", "classes": ["a", "b"], "confusion_matrix": [[3, 1], [0, 4]], "n_sequences": 8,
        "part": "test", "model": {"accuracy": 0.875, "macro_f1": 0.873},
        "majority_class": {"accuracy": 0.5, "macro_f1": 0.333, "class": "a"},
        "nn_euclidean": {"accuracy": 0.75, "macro_f1": 0.74, "seconds": 0.1},
        "nn_dtw_full": {"accuracy": None, "macro_f1": None, "reason": "above the cap"},
        "per_class": [{"class": "a", "precision": 1.0, "recall": 0.75, "f1": 0.857, "support": 4},
                      {"class": "b", "precision": 0.8, "recall": 1.0, "f1": 0.889, "support": 4}],
        "verdict": "the model beats the best baseline, 1-NN Euclidean (0.875 vs 0.750)",
        "baseline_notes": ["baselines: sequences of 5-9 steps stretched to 9"],
        "misclassified_examples": [{"id": "s7", "actual": "a", "predicted": "b", "channels": ["x"],
                                    "values": [[0.0, 1.0, 0.5]], "correct_id": "s1", "correct_values": [[0.0, 0.9, 0.4]]}],
    }
    _fake_run(studio_home, "run-c", metrics, "classify")
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-c"))
    assert not at.exception and not errors(at), errors(at)
    table = at.dataframe[0].value
    assert {"model", "1-NN Euclidean", "1-NN DTW (full window)"} <= set(table.index)
    per_class = at.dataframe[1].value
    assert per_class.loc["b", "recall"] == 1.0 and per_class.loc["a", "support"] == 4
    text = " ".join(m.value for m in at.markdown)
    assert "Misclassified test sequences" in text
    assert any("beats the best baseline" in s.value for s in at.success), "a winning verdict is shown in green"
    assert any("stretched" in c.value for c in at.caption)
    accuracy = next(m for m in at.metric if m.label == "Accuracy")
    assert "1-NN Euclidean" in accuracy.delta


def test_evaluate_shows_a_losing_classify_verdict_as_a_warning(tiny_csv, studio_home) -> None:
    metrics = {"task": "classify", "classes": ["a", "b"], "confusion_matrix": [[2, 2], [1, 3]], "n_sequences": 8,
               "part": "test", "model": {"accuracy": 0.625, "macro_f1": 0.62},
               "majority_class": {"accuracy": 0.5, "macro_f1": 0.333, "class": "a"},
               "nn_dtw_full": {"accuracy": 0.75, "macro_f1": 0.74, "seconds": 0.1},
               "verdict": "the model loses to 1-NN DTW (full window) (0.625 vs 0.750); try another preset or more epochs"}
    _fake_run(studio_home, "run-l", metrics, "classify")
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-l"))
    assert not at.exception and not errors(at), errors(at)
    assert any("loses to 1-NN DTW" in w.value for w in at.warning) and not at.success


def test_evaluate_old_classify_run_without_the_new_fields(tiny_csv, studio_home) -> None:
    metrics = {"task": "classify", "classes": ["a", "b"], "confusion_matrix": [[3, 1], [0, 4]], "n_sequences": 8,
               "model": {"accuracy": 0.875, "macro_f1": 0.87}, "majority_class": {"accuracy": 0.5, "macro_f1": 0.33, "class": "a"}}
    _fake_run(studio_home, "run-old", metrics, "classify")
    at = make_app("pages/evaluate.py", seeded(tiny_csv, run_id="run-old"))
    assert not at.exception and not errors(at), errors(at)
