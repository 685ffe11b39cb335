"""A forecast run's SavedModel serves its split-conformal intervals in raw units; metadata.json names them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.conftest import make_series_csv


def test_saved_model_serve_intervals_returns_the_forecast_plus_minus_the_radius(tmp_path):
    import tensorflow as tf

    from builder import ModelSpec
    from builder.training.fit import train_run

    csv = make_series_csv(tmp_path / "series.csv", n=300, covariate=False)
    spec = ModelSpec.from_dict({"name": "tiny", "task": "forecast", "data": {"lookback": 8, "horizon": 2},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 1, "batch_size": 64, "patience": None}})
    run = tmp_path / "run"
    metrics = train_run(spec, csv, run)
    levels = metrics["intervals"]["levels"]
    assert metrics["intervals"]["calibration_windows"] >= 19 and levels["95"]["coverage"] is not None
    meta = json.loads((run / "metadata.json").read_text())
    served = meta["serving"]["intervals"]
    assert served["signature"] == "serve_intervals" and served["levels"] == [80, 95]
    assert served["outputs"] == ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]

    model = tf.saved_model.load(str(run / "saved_model"))
    y = pd.read_csv(csv)["y"].to_numpy(np.float32)
    windows = np.stack([y[i:i + 8] for i in (0, 100, 200)])[:, :, None]
    out = model.serve_intervals(tf.constant(windows))
    np.testing.assert_allclose(out["forecast"].numpy(), model.serve(tf.constant(windows)).numpy(), rtol=1e-6)
    for lv in ("80", "95"):
        radius = np.asarray(levels[lv]["radius"], np.float32)  # [H, K]
        np.testing.assert_allclose(out[f"upper_{lv}"].numpy() - out["forecast"].numpy(), np.broadcast_to(radius, (3, 2, 1)),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out["forecast"].numpy() - out[f"lower_{lv}"].numpy(), np.broadcast_to(radius, (3, 2, 1)),
                                   rtol=1e-5, atol=1e-5)
    preds = pd.read_csv(run / "predictions.csv")  # the same bounds in the held-out predictions
    assert {"lower_80", "upper_80", "lower_95", "upper_95"} <= set(preds.columns)
