"""Known-future covariates in the UI: the Data page's "Known in advance" choice sets `data.known_future` (and
survives a reload), its Check row counts the derived inputs apart, and the Export page forecasts a
known-future run from the future values typed into (or read into) its table of the next steps; an empty
cell gives the library's message, not a traceback. The Evaluate page draws such a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.app.conftest import by_label, errors, make_app

H = 3  # the horizon of this module's runs
LEADS = 7  # future values of each known-future column they read: the horizon and at least one season (daily: 7)


def daily_frame(n: int = 90, future: int = 0) -> pd.DataFrame:
    """A daily demand with a workday effect and a temperature, then `future` rows with the demand empty."""
    rng = np.random.default_rng(1)
    t = np.arange(n + future)
    workday = ((t % 7) < 5).astype(int)
    temp = (20 + 5 * np.sin(2 * np.pi * t / 30) + rng.normal(0, 0.5, t.size)).round(2)
    demand = (100 + 20 * workday + 0.5 * temp + rng.normal(0, 1, t.size)).round(3)
    frame = pd.DataFrame({"time": pd.date_range("2014-01-01", periods=n + future, freq="D").strftime("%Y-%m-%d"),
                          "demand": demand, "workday": workday, "temp": temp})
    frame.loc[n:, "demand"] = np.nan
    return frame


@pytest.fixture
def daily_csv(tmp_path: Path) -> Path:
    path = tmp_path / "daily.csv"
    daily_frame().to_csv(path, index=False)
    return path


def _spec(**data: object) -> dict:
    from builder.spec import ModelSpec

    return ModelSpec.from_dict({
        "name": "tiny known future", "task": "forecast",
        "data": {"time_col": "time", "targets": ["demand"], "features": ["workday", "temp"], "lookback": 7,
                 "horizon": H, **data},
        "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
        "training": {"epochs": 1, "batch_size": 32, "patience": None, "jit_compile": False},
    }).model_dump(mode="json")


def test_data_page_known_in_advance_sets_the_spec_and_survives_a_reload(daily_csv: Path) -> None:
    seed = {"source": {"path": str(daily_csv), "name": daily_csv.name, "kind": "upload"}, "spec": _spec(),
            "spec_rev": 0}
    at = make_app("pages/data.py", seed)
    assert not at.exception and not errors(at), errors(at)
    known = by_label(at.multiselect, "Known in advance")
    assert known.options == ["workday", "temp"] and known.value == []
    assert "steps ahead" in known.help and "future values" in known.help
    known.set_value(["workday"]).run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["data"]["known_future"] == ["workday"]
    card = next(m for m in at.metric if m.label == "Inputs → outputs")
    assert card.value == f"3 + {LEADS} known-future → 1 × {H}"
    wid = at.query_params["ws"]
    again = make_app("pages/data.py", query={"ws": wid})  # a reload: a new session on the same workspace
    assert not again.exception and not errors(again), errors(again)
    assert by_label(again.multiselect, "Known in advance").value == ["workday"]
    assert again.session_state["spec"]["data"]["known_future"] == ["workday"]
    # a covariate taken out of the inputs leaves the known-in-advance choice too
    by_label(again.multiselect, "Covariates (extra inputs)").set_value(["temp"]).run()
    assert not again.exception and not errors(again), errors(again)
    assert by_label(again.multiselect, "Known in advance").options == ["temp"]
    assert again.session_state["spec"]["data"]["known_future"] == []


@pytest.fixture(scope="module")
def known_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory, data file): a tiny known-future run (workday known in advance), trained one epoch on
    a file that ends with its last target value."""
    from builder.spec import ModelSpec
    from builder.training.fit import train_run

    folder = tmp_path_factory.mktemp("known-future")
    data = folder / "daily.csv"
    daily_frame().to_csv(data, index=False)
    run = folder / "runs" / "run-known"
    train_run(ModelSpec.from_dict(_spec(known_future=["workday"])), data, run)
    return run, data


def _export(known_run: tuple[Path, Path], studio_home: Path, data: Path | None = None):
    """The Export page on a copy of the known-future run; `data`: the data file its job records instead."""
    import shutil

    from builder.training.runs import Run

    run, own = known_run
    copy = studio_home / "runs" / run.name
    shutil.copytree(run, copy)
    if data is not None:
        Run(copy).write_json("job.json", {"data": str(data)})
    seed = {"source": {"path": str(data or own), "name": (data or own).name, "kind": "upload"}, "run_id": run.name}
    return make_app("pages/export.py", seed, timeout=300)


def _forecast_table(at) -> pd.DataFrame:
    tables = [t.value for t in at.dataframe if t.editing_mode == "read_only" and "demand" in t.value.columns]
    assert tables, "no forecast table"
    return tables[-1]


def test_export_forecasts_a_known_future_run_from_the_values_filled_in(known_run, studio_home: Path) -> None:
    at = _export(known_run, studio_home)
    assert not at.exception and not errors(at), errors(at)
    assert any("known-future inputs" in m.value for m in at.markdown), "the contract names the known-future inputs"
    editor = at.data_editor(key="export_future_run-known")
    table = editor.value
    assert list(table.columns) == ["time", "workday"] and len(table) == LEADS
    assert table["workday"].isna().all(), "the file has no rows after its last target value: nothing to pre-fill"
    assert str(table["time"].iloc[0]).startswith("2014-04-01") or "Apr 2014" in str(table["time"].iloc[0])

    at.button(key="export_forecast").click().run()  # empty cells: the library's message, no traceback
    assert not at.exception
    assert any("known-future column `workday` is empty" in e and "step 1 ahead" in e for e in errors(at)), errors(at)

    at.session_state["export_future_run-known"] = {  # the user fills in the cells
        "edited_rows": {i: {"workday": int(i % 7 < 5)} for i in range(LEADS)}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not errors(at), errors(at)
    fc = _forecast_table(at)
    assert len(fc) == H and fc["demand"].notna().all()
    assert "Forecast CSV" in [b.label for b in at.get("download_button")]


def test_export_prefills_future_values_found_after_the_data(known_run, studio_home: Path, tmp_path: Path) -> None:
    data = tmp_path / "daily_and_future.csv"
    daily_frame(future=LEADS).to_csv(data, index=False)  # the same rows, then LEADS of workday, demand empty
    at = _export(known_run, studio_home, data)
    assert not at.exception and not errors(at), errors(at)
    table = at.data_editor(key="export_future_run-known").value
    assert table["workday"].tolist() == daily_frame(future=LEADS)["workday"].iloc[-LEADS:].astype(float).tolist()
    at.button(key="export_forecast").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert len(_forecast_table(at)) == H


def test_evaluate_draws_a_known_future_run_and_explains_its_last_window(known_run, studio_home: Path) -> None:
    import shutil

    run, data = known_run
    shutil.copytree(run, studio_home / "runs" / run.name)
    seed = {"source": {"path": str(data), "name": data.name, "kind": "upload"}, "run_id": run.name}
    at = make_app("pages/evaluate.py", seed, timeout=300)
    assert not at.exception and not errors(at), errors(at)
    at.button(key="explain_go").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any(m.value.startswith("Explained: ") for m in at.markdown)


def test_the_known_future_choice_reaches_training(daily_csv: Path, studio_home: Path) -> None:
    """Data page -> Train page: the run trained from the session's spec reads the known-future inputs."""
    import json

    from tests.app.test_train_flow import _wait_finished

    seed = {"source": {"path": str(daily_csv), "name": daily_csv.name, "kind": "upload"}, "spec": _spec(),
            "spec_rev": 0}
    at = make_app("pages/data.py", seed, timeout=120)
    by_label(at.multiselect, "Known in advance").set_value(["workday"]).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception and not errors(at), errors(at)
    by_label(at.button, "Train").click().run()
    assert not at.exception
    run = studio_home / "runs" / at.session_state["run_id"]
    assert json.loads((run / "spec.json").read_text())["data"]["known_future"] == ["workday"]
    head = _wait_finished(at)
    assert "finished" in head, (head, errors(at))
    resolved = json.loads((run / "metadata.json").read_text())["resolved"]
    assert resolved["known_future"] == ["workday"] and resolved["inputs"][-LEADS:] == [
        f"workday@+{j}" for j in range(1, LEADS + 1)]
