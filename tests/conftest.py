"""Shared test fixtures: tiny data sets, a private data directory, quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DATASETS = REPO / "datasets"


@pytest.fixture(autouse=True)
def _studio_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory (runs, uploads, exports)."""
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("RNN_STUDIO_HOME", str(home))
    return home


def make_series_csv(path: Path, n: int = 120, seed: int = 0, covariate: bool = True) -> Path:
    """A daily series with a weekly season and trend (+ an optional covariate): time,y[,x]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, n)
    df = pd.DataFrame({"time": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"), "y": y.round(4)})
    if covariate:
        df["x"] = (np.cos(2 * np.pi * t / 7) + rng.normal(0, 0.1, n)).round(4)
    df.to_csv(path, index=False)
    return path


def make_sequences_csv(path: Path, n_per_class: int = 12, seed: int = 0) -> Path:
    """Long-format labelled sequences of unequal length: sequence_id,t,a,b,label (2 classes)."""
    rng = np.random.default_rng(seed)
    rows = []
    sid = 0
    for label, freq in (("slow", 0.1), ("fast", 0.4)):
        for _ in range(n_per_class):
            n = int(rng.integers(8, 16))
            t = np.arange(n)
            a = np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + rng.normal(0, 0.1, n)
            b = rng.normal(0, 1, n)
            rows += [(sid, int(i), float(x), float(z), label) for i, x, z in zip(t, a, b, strict=False)]
            sid += 1
    pd.DataFrame(rows, columns=["sequence_id", "t", "a", "b", "label"]).to_csv(path, index=False)
    return path


@pytest.fixture
def series_csv(tmp_path: Path) -> Path:
    return make_series_csv(tmp_path / "series.csv")


@pytest.fixture
def sequences_csv(tmp_path: Path) -> Path:
    return make_sequences_csv(tmp_path / "sequences.csv")


def make_trees_csv(path: Path, n_trees: int = 40, seed: int = 0) -> Path:
    """A node table of small expression trees: tree_id,node_id,parent_id,token,value,label, where an
    inner node is MAX or MIN of its 1-3 children (digits 0-4 at the leaves), `value` the subtree's
    value and `label` the root's (5 classes)."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_trees):
        nodes: list[list] = []

        def grow(parent: int | None, depth: int, nodes: list[list] = nodes, t: int = t) -> int:
            k = len(nodes)
            nodes.append([t, k, "" if parent is None else parent, None, None])
            if depth < 2 and rng.random() < 0.6:
                op = "MAX" if rng.random() < 0.5 else "MIN"
                vals = [grow(k, depth + 1) for _ in range(int(rng.integers(1, 4)))]
                nodes[k][3], nodes[k][4] = op, (max(vals) if op == "MAX" else min(vals))
            else:
                d = int(rng.integers(0, 5))
                nodes[k][3], nodes[k][4] = str(d), d
            return nodes[k][4]

        root_value = grow(None, 0)
        rows += [[*n, root_value] for n in nodes]
    pd.DataFrame(rows, columns=["tree_id", "node_id", "parent_id", "token", "value", "label"]).to_csv(path, index=False)
    return path


@pytest.fixture
def trees_csv(tmp_path: Path) -> Path:
    return make_trees_csv(tmp_path / "nodes.csv")


def tiny_translate_spec(**seq2seq: object) -> object:
    """The default translate preset shrunk: 8 units, embedding 8, one epoch, beam width 2."""
    from builder.spec.presets import load_preset

    spec = load_preset("gru_seq2seq_bahdanau")
    blocks = [{**b, "units": 8} for b in spec.model_dump(mode="json")["blocks"]]
    return spec.updated(blocks=blocks, embedding_dim=8, training={"epochs": 1, "batch_size": 32},
                        data={"source_col": "source", "target_col": "target"}, seq2seq={"beam_width": 2, **seq2seq})


@pytest.fixture(scope="session")
def translate_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished translate run trained by the CLI (`train --task translate` with its flags on a tiny spec: the
    bundled 300 date pairs, 15 of them the test part, one epoch), shared by the tests that read a run."""
    from builder.__main__ import main

    root = tmp_path_factory.mktemp("translate")
    spec = root / "tiny.json"
    tiny_translate_spec().updated(data={"test_fraction": 0.05}, seq2seq={"beam_width": 0}).to_json(spec)
    run = root / "run"
    rc = main(["train", "--task", "translate", "--spec", str(spec), "--data", str(DATASETS / "dates_to_iso_sample.csv"),
               "--source-col", "source", "--target-col", "target", "--units", "8", "--attention", "bahdanau",
               "--schedule", "exponential", "--tokens", "characters", "--beam-width", "2", "--out", str(run), "--quiet"])
    assert rc == 0
    return run
