"""`python -m builder backtest`: rolling origins over the last K x horizon rows, beside the baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import main
from builder.serving.backtest import backtest_origins
from tests.conftest import make_series_csv


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run built, not trained (tests/unit/built_runs.py): the backtest reads its spec, metadata and model;
    --refit trains its own models per origin."""
    from builder import ModelSpec
    from builder.data import load_table
    from builder.tasks import prepare_frame
    from tests.unit.built_runs import built_run

    folder = tmp_path_factory.mktemp("bt")
    csv = make_series_csv(folder / "series.csv", n=120, covariate=False)
    spec = ModelSpec.from_dict({"name": "tiny", "task": "forecast", "data": {"lookback": 8, "horizon": 3},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 1, "batch_size": 32, "patience": None}})
    built_run(spec, prepare_frame(load_table(csv), spec), folder / "run", saved_model=False)
    return folder / "run", csv


def test_origins_tile_the_last_k_blocks():
    assert backtest_origins(100, 3, 4).tolist() == [88, 92, 96]


def test_backtest_scores_the_model_and_every_baseline_on_the_same_origins(tiny_run, capsys):
    run, csv = tiny_run
    assert main(["backtest", "--run", str(run), "--data", str(csv), "--origins", "5"]) == 0
    out = capsys.readouterr().out
    assert "verdict: " in out and "5 origins x horizon 3 from row 105 of 120" in out and "ETS" in out
    result = json.loads((run / "backtest.json").read_text())  # strict JSON
    assert [r["origin"] for r in result["per_origin"]] == [105, 108, 111, 114, 117]
    for who in ("model", "naive", "seasonal_naive", "ets", "theta"):
        assert result[who]["mae"] is not None and len(result["by_step"]["mae"][who]) == 3
    frame = pd.read_csv(run / "backtest.csv")
    assert len(frame) == 15 and set(frame["step"]) == {1, 2, 3}
    y = pd.read_csv(csv)["y"].to_numpy()
    first = frame[frame["origin"] == 105].sort_values("step")
    np.testing.assert_allclose(first["actual"], y[105:108], rtol=1e-5)
    np.testing.assert_allclose(first["naive"], [y[104]] * 3, rtol=1e-5)  # the last value before the origin
    np.testing.assert_allclose(np.abs(frame["actual"] - frame["model"]).mean(), result["model"]["mae"], rtol=1e-6)


def test_backtest_with_refit_trains_before_every_origin(tiny_run, capsys):
    run, csv = tiny_run
    assert main(["backtest", "--run", str(run), "--data", str(csv), "--origins", "2", "--refit"]) == 0
    captured = capsys.readouterr()
    assert "origin 2/2 (row 117): training on 117 rows" in captured.err
    result = json.loads((run / "backtest.json").read_text())
    assert result["refit"] and result["baselines"]["ets"]["fit"] == "per origin"
    assert result["model"]["mae"] is not None and result["ets"]["mae"] is not None


@pytest.mark.parametrize(("origins", "message"), [
    ("0", "error: --origins 0: expected at least 1 origin"),
    ("40", "error: {csv}: 120 rows are too few for 40 origins of horizon 3: the backtest needs 11 rows before the "
           "first origin (lookback 8) + 40 x 3 forecast rows = 131 rows; use at most 36 origins"),
])
def test_bad_origins_end_in_one_line_naming_k_and_the_rows_needed(tiny_run, capsys, origins, message):
    run, csv = tiny_run
    assert main(["backtest", "--run", str(run), "--data", str(csv), "--origins", origins]) == 2
    err = capsys.readouterr().err.strip()
    assert err == message.format(csv=csv) and "Traceback" not in err


def test_backtest_says_what_it_assumed_reading_the_file(tiny_run, tmp_path, capsys):
    run, csv = tiny_run
    df = pd.read_csv(csv)
    df.loc[110, "y"] = np.nan  # an actual the forecasts are scored against is filled in
    df.to_csv(tmp_path / "holes.csv", index=False)
    assert main(["backtest", "--run", str(run), "--data", str(tmp_path / "holes.csv"), "--origins", "3"]) == 0
    assert "note: interpolated 1 missing values linearly (`y`: 1)" in capsys.readouterr().err
    assert any("interpolated 1 missing" in n for n in json.loads((run / "backtest.json").read_text())["notices"])


def test_backtest_leaves_out_the_actuals_the_file_did_not_have(tiny_run, tmp_path, capsys):
    run, csv = tiny_run
    df = pd.read_csv(csv)
    y = df["y"].to_numpy()
    df.loc[[106, 112], "y"] = np.nan  # empty cells in the rows the origins forecast
    df.drop(index=[115]).to_csv(tmp_path / "holes.csv", index=False)  # and a skipped date
    assert main(["backtest", "--run", str(run), "--data", str(tmp_path / "holes.csv"), "--origins", "5"]) == 0
    out = capsys.readouterr().out
    assert f"note: 3 backtest point(s) whose actual y was filled in (missing in {tmp_path / 'holes.csv'}) are left out " \
           "of every score" in out
    result = json.loads((run / "backtest.json").read_text())  # strict JSON
    assert result["unobserved_points"] == 3 and result["left_out"]["by_target"] == {"y": 3}
    frame = pd.read_csv(run / "backtest.csv")
    assert sorted(frame.loc[frame["actual"].isna(), "origin"] + frame.loc[frame["actual"].isna(), "step"] - 1) == [106, 112, 115]
    kept = frame.dropna(subset=["actual"])
    np.testing.assert_allclose(kept["actual"], y[kept["origin"] + kept["step"] - 1], rtol=1e-5)  # the file's values
    for who in ("model", "naive", "seasonal_naive", "ets", "theta"):  # every forecaster on the same points
        np.testing.assert_allclose(np.abs(kept["actual"] - kept[who]).mean(), result[who]["mae"], rtol=1e-5)
    origin = [r for r in result["per_origin"] if r["origin"] == 105][0]
    first = kept[kept["origin"] == 105]
    np.testing.assert_allclose(origin["model"], np.abs(first["actual"] - first["model"]).mean(), rtol=1e-5)
