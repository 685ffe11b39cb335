"""AppTest fixtures: a throw-away data directory, a tiny series CSV, app factories with seeded state, and
one tiny trained run per registry task (`task_runs`, trained once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
PAGES = ["pages/data.py", "pages/design.py", "pages/train.py", "pages/evaluate.py", "pages/export.py"]


@pytest.fixture(autouse=True)
def studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every app test writes runs, uploads and presets under its own temporary RNN_STUDIO_HOME."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("RNN_STUDIO_HOME", str(home))
    monkeypatch.setenv("RNN_STUDIO_WARM_WORKER", "0")  # no pre-started worker unless a test asks for one
    return home


@pytest.fixture(autouse=True)
def navigation_runs_the_router(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AppTest run executes app.py (the router) before the page, as the server does.

    AppTest resets `PagesManager.uses_pages_directory` before each run, and with a pages/ folder beside
    app.py it then reruns the page file alone, skipping app.py (and its workspace restore and save). The
    app uses st.navigation, so the flag is False in the server after the first run; keep it so here.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 monthly rows of a noisy seasonal series with one covariate."""
    path = tmp_path_factory.mktemp("data") / "tiny_monthly.csv"
    rng = np.random.default_rng(0)
    t = np.arange(120)
    y = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, t.size)
    x = np.cos(2 * np.pi * t / 12)
    dates = [f"{2000 + k // 12}-{k % 12 + 1:02d}-01" for k in t]
    lines = ["month,sales,promo"] + [f"{d},{a:.3f},{b:.3f}" for d, a, b in zip(dates, y, x, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_spec(**training: object) -> dict:
    """A small, fast forecast spec for the tiny CSV."""
    from builder.spec import ModelSpec

    return ModelSpec.from_dict({
        "name": "tiny lstm", "task": "forecast",
        "data": {"time_col": "month", "targets": ["sales"], "features": [], "lookback": 12, "horizon": 3},
        "blocks": [{"kind": "recurrent", "cell": "lstm", "units": 8}, {"kind": "dense", "units": 8}],
        "training": {"epochs": 1, "batch_size": 16, "patience": None, **training},
    }).model_dump(mode="json")


def make_app(page: str | None = None, seed: dict | None = None, timeout: float = 90,
             query: dict | None = None) -> AppTest:
    """The app (via app.py) on `page`, with session state seeded before the first run and the URL's
    query parameters `query` (e.g. {"ws": id}: a reload or a shared link of that workspace)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query or {})
    for key, value in (seed or {}).items():
        at.session_state[key] = value
    at.run()
    if page and page != "pages/data.py":
        at.switch_page(page)
        at.run()
    return at


def seeded(csv: Path, **extra: object) -> dict:
    return {"source": {"path": str(csv), "name": csv.name, "kind": "upload"}, "spec": tiny_spec(),
            "spec_rev": 0, **extra}


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def by_label(elements, label: str):
    found = [w for w in elements if w.label == label]
    assert found, f"no widget labelled {label!r}; have {[w.label for w in elements]}"
    return found[0]


#: the text of the tiny generate run (task_runs)
TEXT = "Where there's a will, there's a way.\n%\nA penny saved is a penny earned.\n%\n" * 30


def _specs(folder: Path) -> dict[str, tuple[object, Path]]:
    """One tiny spec per task (8 units, one epoch) and its data file written under `folder`."""
    from builder import load_preset
    from tests.conftest import (
        DATASETS,
        make_sequences_csv,
        make_series_csv,
        make_trees_csv,
        tiny_translate_spec,
    )
    from tests.unit.test_label_steps import steps_frame

    one = {"epochs": 1, "patience": None, "jit_compile": False}
    make_series_csv(folder / "series.csv", n=80, covariate=False)
    make_sequences_csv(folder / "sequences.csv", n_per_class=8)
    steps_frame(12).to_csv(folder / "steps.csv", index=False)
    (folder / "sayings.txt").write_text(TEXT, encoding="utf-8")
    make_trees_csv(folder / "nodes.csv", n_trees=60)
    lstm8 = [{"kind": "recurrent", "cell": "lstm", "units": 8}]
    tree = load_preset("child_sum_tree_lstm").model_dump(mode="json")["blocks"]
    tree[0]["units"] = 8
    return {
        "forecast": (load_preset("stacked_lstm").updated(
            blocks=lstm8, training={**one, "batch_size": 16},
            data={"time_col": "time", "targets": ["y"], "features": [], "lookback": 7, "horizon": 2}), folder / "series.csv"),
        "classify": (load_preset("bigru_classifier").updated(
            blocks=[{"kind": "recurrent", "cell": "gru", "units": 8}], training={**one, "batch_size": 8, "baselines": "off"},
            data={"id_col": "sequence_id", "order_col": "t", "label_col": "label", "features": ["a", "b"]}),
            folder / "sequences.csv"),
        "label_steps": (load_preset("bilstm_tagger").updated(
            blocks=lstm8, training={**one, "batch_size": 4},
            data={"id_col": "sequence_id", "label_col": "label", "order_col": "t"}), folder / "steps.csv"),
        "generate": (load_preset("char_rnn").updated(
            embedding_dim=8, blocks=lstm8, training={**one, "batch_size": 32}, data={"lookback": 16}),
            folder / "sayings.txt"),
        "tree": (load_preset("child_sum_tree_lstm").updated(blocks=tree, training={**one, "batch_size": 8}),
                 folder / "nodes.csv"),
        "translate": (tiny_translate_spec(), DATASETS / "dates_to_iso_sample.csv"),
    }


@pytest.fixture(scope="session")
def task_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """{task: (run directory, data file)}: one finished tiny run per registry task, trained once."""
    from builder.tasks.registry import TASKS
    from builder.training.fit import train_run

    folder = tmp_path_factory.mktemp("export-contract")
    specs = _specs(folder)
    assert set(specs) == set(TASKS), f"a registry task without an Export contract run: {set(TASKS) ^ set(specs)}"
    runs = {}
    for task, (spec, data) in specs.items():
        assert spec.task == task
        train_run(spec, data, folder / "runs" / f"run-{task}")
        runs[task] = (folder / "runs" / f"run-{task}", data)
    return runs
