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
    assert "forecast steps" in known.help
    known.set_value(["workday"]).run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["data"]["known_future"] == ["workday"]
    card = next(m for m in at.metric if m.label == "Inputs → outputs")
    assert card.value == f"3 + {H} known-future → 1 × {H}"
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

