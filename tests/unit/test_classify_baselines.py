"""The classify task's baselines (builder.tasks.classify_baselines) and its readable results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from builder.files import dumps
from builder.tasks import classify_baselines as cb


def _toy(n_train: int = 12, n_test: int = 8, length: int = 16, channels: int = 1, seed: int = 0):
    """Two classes: a sine (class 0) and a shifted square wave (class 1), with noise; x [N, L, F] NaN-padded."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = np.arange(n) % 2
    t = np.arange(length)
    x = np.stack([np.where(c == 0, np.sin(t / 2), np.sign(np.sin(t / 2 + 1))) for c in y])[..., None]
    x = np.repeat(x, channels, axis=2) + rng.normal(0, 0.1, (n, length, channels))
    split = np.array([True] * n_train + [False] * n_test)
    return x.astype(np.float32), np.full(n, length), y, split


def test_equal_length_stretches_padded_sequences():
    x = np.full((2, 5, 1), np.nan, dtype=np.float32)
    x[0, :5, 0] = [0, 1, 2, 3, 4]
    x[1, :3, 0] = [0, 2, 4]
    out = cb.equal_length(x, np.array([5, 3]), 5)
    assert out.shape == (2, 1, 5)
    np.testing.assert_allclose(out[1, 0], [0, 1, 2, 3, 4])  # stretched by linear interpolation
    np.testing.assert_allclose(out[0, 0], [0, 1, 2, 3, 4])


def test_fast_level_is_euclidean_only():
    x, lengths, y, train = _toy()
    found, notes = cb.classify_baselines(x, lengths, y, train, ~train, 2, "fast")
    assert set(found) == {"nn_euclidean"} and found["nn_euclidean"]["accuracy"] == 1.0 and notes == []
    assert cb.classify_baselines(x, lengths, y, train, ~train, 2, "off") == ({}, [])


def test_all_baselines_on_a_separable_toy_set_and_strict_json():
    x, lengths, y, train = _toy(channels=2)
    lengths[3] = 11  # one shorter sequence: every baseline sees it stretched
    x[3, 11:] = np.nan
    found, notes = cb.classify_baselines(x, lengths, y, train, ~train, 2, "all", seed=1)
    assert set(found) == {"nn_euclidean", "nn_dtw_full", "nn_dtw_band", "minirocket"}
    for name in found:
        assert found[name]["accuracy"] == 1.0, name
    band = found["nn_dtw_band"]
    assert band["radius"] in {0, 1, 2, 3} and set(band["train_loo_accuracy"]) == {"0", "1", "2", "3"}
    assert notes and "stretched to 16" in notes[0]
    json.loads(dumps(found))  # strict JSON


def test_caps_skip_with_a_reason(monkeypatch):
    x, lengths, y, train = _toy(length=8)
    monkeypatch.setattr(cb, "MAX_DTW_CELLS", 10.0)
    found, _ = cb.classify_baselines(x, lengths, y, train, ~train, 2, "all")
    assert found["nn_dtw_full"]["accuracy"] is None and "above the cap" in found["nn_dtw_full"]["reason"]
    assert "above the cap" in found["nn_dtw_band"]["reason"]
    assert "at least 9" in found["minirocket"]["reason"]  # 8 steps: MiniRocket's kernels do not fit
    assert found["nn_euclidean"]["accuracy"] == 1.0


@pytest.mark.parametrize(("acc", "word"), [(0.9, "beats"), (0.8, "ties"), (0.5, "loses")])
def test_verdict_names_the_best_baseline(acc, word):
    metrics = {"model": {"accuracy": acc}, "majority_class": {"accuracy": 0.5},
               "nn_euclidean": {"accuracy": 0.8}, "minirocket": {"accuracy": None, "reason": "x"}}
    line = cb.verdict(metrics)
    assert word in line and "1-NN Euclidean" in line


def test_evaluate_classification_per_class_report():
    from builder.tasks.classify import evaluate_classification

    y = np.array([0, 0, 1, 1, 1])
    probs = np.eye(2)[[0, 1, 1, 1, 0]]
    m = evaluate_classification(y, probs, np.array([1, 1, 0]), ["a", "b"])
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    a, b = m["per_class"]
    assert (a["class"], a["precision"], a["recall"], a["support"]) == ("a", 0.5, 0.5, 2)
    assert b["recall"] == pytest.approx(2 / 3) and b["f1"] == pytest.approx(2 / 3)
    assert m["model"]["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_classify_run_records_baselines_and_examples(sequences_csv, tmp_path):
    from builder.files import read_json
    from builder.spec import ModelSpec
    from builder.tasks.registry import get_task
    from builder.training.fit import train_run

    spec = ModelSpec.from_dict({"task": "classify", "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 1, "patience": None, "baselines": "fast"}})
    train_run(spec, sequences_csv, tmp_path / "run")
    metrics = read_json(tmp_path / "run" / "metrics.json")  # strict JSON
    assert metrics["nn_euclidean"]["accuracy"] is not None and "nn_dtw_full" not in metrics
    assert len(metrics["per_class"]) == 2 and metrics["verdict"]
    for ex in metrics["misclassified_examples"]:
        assert ex["actual"] != ex["predicted"] and len(ex["values"]) == 2  # both channels
    table = get_task("classify").cli_table(metrics)
    assert "1-NN Euclidean" in table and "verdict:" in table


def test_cards_compare_each_score_with_its_best_baseline():
    from builder.tasks.registry import get_task

    metrics = {"model": {"accuracy": 0.556, "macro_f1": 0.467},
               "majority_class": {"accuracy": 0.333, "macro_f1": 0.167},
               "nn_euclidean": {"accuracy": 0.481, "macro_f1": 0.480},
               "minirocket": {"accuracy": 0.926, "macro_f1": 0.926}, "n_sequences": 27}
    cards = {c["label"]: c for c in get_task("classify").metric_cards(metrics)}
    assert cards["Accuracy"]["delta"] == "-0.370 vs MiniRocket"
    assert cards["Macro F1"]["delta"] == "-0.459 vs MiniRocket"  # not "+0.300 vs majority"
    alone = {"model": metrics["model"], "majority_class": metrics["majority_class"]}
    cards = {c["label"]: c for c in get_task("classify").metric_cards(alone)}
    assert cards["Macro F1"]["delta"] == "+0.300 vs majority class"
