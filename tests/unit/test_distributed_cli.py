"""train --workers / --worker-index / TF_CONFIG checks, and MirroredStrategy on one device against the plain path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from builder.__main__ import main
from builder.spec import ModelSpec
from builder.training.runs import Run
from tests.unit.distributed_helpers import DATA, tiny_spec


@pytest.mark.parametrize(("flags", "env", "named"), [
    (["--workers", "localhost"], None, "--workers"),
    (["--workers", "localhost:99999", "--worker-index", "0"], None, "--workers"),
    (["--workers", "a:1,a:1", "--worker-index", "0"], None, "--workers"),
    (["--workers", "a:1,b:2"], None, "--worker-index"),
    (["--workers", "a:1,b:2", "--worker-index", "2"], None, "--worker-index"),
    (["--worker-index", "1"], None, "--worker-index"),
    ([], "{not json", "TF_CONFIG"),
    ([], json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}), "TF_CONFIG"),
    ([], json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "TF_CONFIG"),
])
def test_bad_cluster_is_a_usage_error(tmp_path, capsys, monkeypatch, flags, env, named):
    if env is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", env)
    code = main(["train", "--spec", str(tiny_spec(tmp_path / "spec.json")), "--data", str(DATA),
                 "--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and named in err, err
    assert not (tmp_path / "run").exists()


def test_mirrored_one_device_matches_the_plain_path(tmp_path):
    import keras
    import tensorflow as tf

    from builder.training.distributed import make_strategy, train_distributed
    from builder.training.fit import train_run

    if len(tf.config.list_logical_devices()) != 1:
        pytest.skip("needs exactly one device (the plain path uses one)")
    spec = ModelSpec.from_json(tiny_spec(tmp_path / "spec.json", epochs=2))
    plain = train_run(spec, DATA, tmp_path / "plain")
    mirrored = train_distributed(spec, str(DATA), str(tmp_path / "mirrored"), make_strategy(None, mirrored=True))
    assert mirrored["replicas"] == 1 and mirrored["epochs_run"] == plain["epochs_run"] == 2
    a = keras.saving.load_model(tmp_path / "plain" / "model.keras").get_weights()
    b = keras.saving.load_model(tmp_path / "mirrored" / "model.keras").get_weights()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)
    losses = [[r["loss"] for r in Run(tmp_path / name).history()] for name in ("plain", "mirrored")]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
