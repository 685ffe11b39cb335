"""Known-future covariates (`data.known_future`): lead columns as inputs, prediction with future rows,
backtest, explanation, the export contract, and the errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from builder import ModelSpec
from builder.__main__ import main
from builder.data import load_table
from builder.data.read import DataError
from builder.data.series import lead_name, lead_values
from builder.tasks import prepare_frame
from builder.tasks.base import Resolved
from builder.tasks.registry import get_task
from tests.conftest import make_series_csv

H = 3


def _spec(**data) -> ModelSpec:
    return ModelSpec.from_dict({"name": "kf", "task": "forecast",
                                "data": {"lookback": 8, "horizon": H, "known_future": ["x"], "season_length": 2,
                                         **data},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}],
                                "training": {"epochs": 1, "batch_size": 32, "patience": None}})


@pytest.fixture(scope="module")
def kf_run(tmp_path_factory):
    """A built (untrained) run with `x` known ahead, its CSV, and the same CSV with H future rows."""
    from tests.unit.built_runs import built_run

    folder = tmp_path_factory.mktemp("kf")
    csv = make_series_csv(folder / "series.csv", n=120)
    spec = _spec()
    built_run(spec, prepare_frame(load_table(csv), spec), folder / "run", saved_model=False)
    df = pd.read_csv(csv)
    future = pd.DataFrame({"time": pd.date_range("2020-04-30", periods=H, freq="D").strftime("%Y-%m-%d"),
                           "y": np.nan, "x": [0.5, -0.25, 1.0]})
    pd.concat([df, future], ignore_index=True).to_csv(folder / "future.csv", index=False)
    return folder / "run", csv, folder / "future.csv"


def test_lead_values_hold_the_value_j_rows_ahead_and_repeat_the_last_past_the_end():
    values = np.arange(5, dtype=np.float32)[:, None]  # one column 0..4
    leads = lead_values(values, np.zeros((0, 1), np.float32), 2)
    assert leads.tolist() == [[1, 2], [2, 3], [3, 4], [4, 4], [4, 4]]
    leads = lead_values(values, np.array([[7], [8]], np.float32), 2)  # future rows continue the column
    assert leads[-2:].tolist() == [[4, 7], [7, 8]]


def test_prepared_data_carries_the_next_horizon_values_of_each_known_column(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    data = prepare_frame(load_table(csv), _spec())
    assert data.inputs == ("y", "x", *[lead_name("x", j) for j in range(1, H + 1)])
    assert data.read_columns == ("y", "x") and data.known_future == ("x",)
    x = data.values[:, 1]
    for j in range(1, H + 1):
        np.testing.assert_array_equal(data.values[: -j, 1 + j], x[j:])
    # every window's last row holds exactly the known column's values at its forecast steps
    lo, hi = data.window_range("all")
    for s in range(lo, hi):
        np.testing.assert_array_equal(data.values[s + 7, 2:], x[s + 8 : s + 8 + H])
    resolved = get_task("forecast").resolve(data)
    assert resolved.known_future == ("x",) and resolved.read_columns == ("y", "x")
    assert Resolved.from_dict(json.loads(json.dumps(resolved.to_dict()))).read_columns == ("y", "x")


def test_the_leads_cover_the_horizon_and_at_least_one_season(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    data = prepare_frame(load_table(csv), _spec(season_length=None))  # daily: a season of 7 > horizon 3
    assert data.season_length == 7 and data.lead_steps == 7
    assert data.inputs[-1] == lead_name("x", 7) and data.read_columns == ("y", "x")
    assert any("next 7 value(s) (one season of 7)" in n for n in data.notices)
    data = prepare_frame(load_table(csv), _spec(season_length=None, horizon=9))
    assert data.lead_steps == 9 and any("next 9 value(s) (the horizon)" in n for n in data.notices)


def test_windows_whose_leads_reach_past_the_data_are_left_out_unless_future_rows_follow(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    plain = prepare_frame(load_table(csv), _spec(known_future=[], season_length=None))
    data = prepare_frame(load_table(csv), _spec(season_length=None))  # leads 7, horizon 3: 4 rows short
    assert data.lead_tail == 4 and any("the last 4 window(s) are left out" in n for n in data.notices)
    lo, hi = plain.window_range("test")
    assert data.window_range("test") == (lo, hi - 4)
    last = data.window_starts("test")[-1] + 7  # the last window's last row: its leads are all in the data
    assert last + 7 == data.n_rows - 1
    # with the next 4 rows' x after the data (targets empty), every window is kept and reads them
    df = pd.read_csv(csv)
    future = pd.DataFrame({"time": pd.date_range("2020-03-01", periods=5, freq="D").strftime("%Y-%m-%d"),
                           "y": np.nan, "x": [9.0, 8.0, 7.0, 6.0, np.nan]})  # read up to the first gap
    pd.concat([df, future], ignore_index=True).to_csv(tmp_path / "f.csv", index=False)
    full = prepare_frame(load_table(tmp_path / "f.csv"), _spec(season_length=None))
    assert full.n_rows == 60 and full.lead_tail == 0 and full.window_range("test") == (lo, hi)
    assert any("the last 5 row(s) have no target value: the first 4 read" in n for n in full.notices)
    assert full.values[-1, 2:].tolist() == [9.0, 8.0, 7.0, 6.0, 6.0, 6.0, 6.0]  # row 59: x at rows 60..
    np.testing.assert_array_equal(full.values[:-1, :2], data.values[:-1, :2])


def test_a_known_column_outside_the_features_becomes_an_input(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    data = prepare_frame(load_table(csv), _spec(features=[]))
    assert data.read_columns == ("y", "x") and len(data.inputs) == 2 + H


@pytest.mark.parametrize(("known", "message"), [
    (["y"], "data.known_future names ['y'], which is a target or the time column"),
    (["nope"], "nope"),
])
def test_bad_known_future_columns_are_named(tmp_path, known, message):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        prepare_frame(load_table(csv), _spec(known_future=known))


def test_a_column_named_like_a_lead_is_refused(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    df = pd.read_csv(csv)
    df["x@+2"] = 1.0
    df.to_csv(csv, index=False)
    with pytest.raises(DataError, match="`x@\\+2` clashes"):
        prepare_frame(load_table(csv), _spec())


def test_predict_reads_the_future_rows_and_forecasts_after_the_last_target(kf_run, tmp_path):
    from builder.serving.export import load_run_model
    from builder.training.runs import Run

    run, _, future = kf_run
    out = tmp_path / "p.csv"
    assert main(["predict", "--run", str(run), "--data", str(future), "--out", str(out)]) == 0
    pred = pd.read_csv(out)
    assert pred["time"].tolist() == ["2020-04-30", "2020-05-01", "2020-05-02"]
    # the same forecast by hand: the last window, its last row's leads = the future rows' x
    model = load_run_model(Run(run))
    df = pd.read_csv(future)
    past = df.iloc[:-H][["y", "x"]].to_numpy(np.float32)
    window = np.concatenate([past, lead_values(past[:, 1:], np.array([[0.5], [-0.25], [1.0]], np.float32), H)], 1)
    assert window[-1, 2:].tolist() == [0.5, -0.25, 1.0]
    want = np.asarray(model.predict(window[None, -8:], verbose=0))[0, :, 0]
    np.testing.assert_allclose(pred["y"].to_numpy(), want, rtol=1e-5)
    # the future values matter: other values, another forecast
    df.loc[df.index[-H:], "x"] = [3.0, 3.0, 3.0]
    df.to_csv(tmp_path / "other.csv", index=False)
    assert main(["predict", "--run", str(run), "--data", str(tmp_path / "other.csv"), "--out", str(out)]) == 0
    assert not np.allclose(pd.read_csv(out)["y"].to_numpy(), want)


@pytest.mark.parametrize(("rows", "message"), [
    (0, "must end with 3 row(s) whose targets ['y'] are empty and whose ['x'] hold the values of the steps ahead; "
        "found 0 such row(s) after the last target value (row 121)"),
    (2, "found 2 such row(s)"),
    ("gap", "known-future column `x` is empty in row 123 (step 2 ahead)"),
])
def test_predict_without_the_future_values_ends_in_one_line(kf_run, tmp_path, capsys, rows, message):
    run, csv, future = kf_run
    df = pd.read_csv(future)
    if rows == "gap":
        df.loc[df.index[-2], "x"] = np.nan
    else:
        df = df.iloc[: 120 + rows]
    df.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["predict", "--run", str(run), "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_backtest_and_explain_derive_the_leads_again(kf_run, capsys):
    run, csv, future = kf_run
    assert main(["backtest", "--run", str(run), "--data", str(csv), "--origins", "3"]) == 0
    result = json.loads((run / "backtest.json").read_text())
    assert result["model"]["mae"] is not None and [r["origin"] for r in result["per_origin"]] == [111, 114, 117]
    from builder.serving.explain import window_from_table
    from builder.training.runs import Run

    meta = Run(run).metadata()
    df = load_table(str(csv))
    last, _ = window_from_table(meta, df, -1)  # the last window whose leads are all in the file
    assert last.shape == (8, 2 + H)
    y = pd.read_csv(csv)
    np.testing.assert_allclose(last[-1, 2:], y["x"].to_numpy()[-H:], rtol=1e-6)
    with_future, _ = window_from_table(meta, load_table(str(future)), -1)  # the forecast after the file
    np.testing.assert_allclose(with_future[-1, 2:], [0.5, -0.25, 1.0])


def test_the_export_contract_explains_the_known_future_columns(kf_run):
    from builder.serving.export import contract_lines, serving_snippet
    from builder.training.runs import Run

    meta = Run(kf_run[0]).metadata()
    assert meta["resolved"]["known_future"] == ["x"]
    text = meta["serving"]["input"]["known_future"]
    assert "the last 3 columns are the next 3 value(s) of ['x']" in text and "`x@+j`" in text
    assert any(line.startswith("known-future inputs: ") for line in contract_lines(meta))
    assert "known-future inputs" in serving_snippet(meta)


def test_backtest_origins_stop_where_the_known_future_inputs_end(tmp_path, capsys):
    from tests.unit.built_runs import built_run

    csv = make_series_csv(tmp_path / "s.csv", n=120)
    spec = _spec(season_length=None)  # leads 7 > horizon 3: the last 4 rows cannot be forecast
    built_run(spec, prepare_frame(load_table(csv), spec), tmp_path / "run", saved_model=False)
    assert main(["backtest", "--run", str(tmp_path / "run"), "--data", str(csv), "--origins", "2"]) == 0
    result = json.loads((tmp_path / "run" / "backtest.json").read_text())
    assert [r["origin"] for r in result["per_origin"]] == [110, 113]  # the last forecast ends at row 115


def test_rows_after_the_last_target_value_are_not_filled_in_as_targets(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    df = pd.read_csv(csv)
    after = pd.DataFrame({"time": ["2020-03-01", "2020-03-02"], "y": [np.nan, np.nan], "x": [1.0, 2.0]})
    pd.concat([df, after], ignore_index=True).to_csv(tmp_path / "f.csv", index=False)
    data = prepare_frame(load_table(tmp_path / "f.csv"), _spec(known_future=[]))
    assert data.n_rows == 60 and str(data.time[-1].date()) == "2020-02-29"
    assert any("the last 2 row(s) have no target value: ignored" in n for n in data.notices)


def test_predict_without_known_future_ignores_rows_after_the_last_target(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    df = load_table(csv)
    spec = _spec(known_future=[])
    data = prepare_frame(df, spec)
    resolved = get_task("forecast").resolve(data)

    class Last:  # a model that returns its window's last target value: shows which rows it was given
        def predict(self, x, verbose=0):
            return np.repeat(x[:, -1:, :1], H, axis=1)

    padded = pd.concat([df, pd.DataFrame({"time": ["2020-03-01"], "y": [np.nan], "x": [5.0]})], ignore_index=True)
    padded.attrs = dict(df.attrs)
    out = get_task("forecast").predict(resolved, padded, Last())
    assert out["y"].tolist() == [pytest.approx(float(df["y"].iloc[-1]))] * H
    assert str(out["time"].iloc[0].date()) == "2020-03-01"


def test_a_flag_column_prompts_for_known_future(tmp_path):
    csv = make_series_csv(tmp_path / "s.csv", n=60)
    df = pd.read_csv(csv)
    df["holiday"] = (np.arange(60) % 9 == 0).astype(int)
    df.to_csv(csv, index=False)
    data = prepare_frame(load_table(csv), _spec(known_future=[]))
    assert any("column(s) ['holiday'] hold only 0 and 1 (flags)" in n and "data.known_future" in n for n in data.notices)
    data = prepare_frame(load_table(csv), _spec(known_future=["holiday"]))
    assert not any("hold only 0 and 1" in n for n in data.notices)


def test_code_from_a_spec_alone_counts_the_known_future_inputs():
    from builder.serving.codegen import spec_sizes

    sizes = spec_sizes(_spec(features=["x"]))  # season 2, horizon 3: 3 leads
    assert sizes["inputs"] == ["(first numeric column)", "x", "x@+1", "x@+2", "x@+3"] and sizes["n_features"] == 5


def test_the_saved_model_builds_the_leads_from_past_and_future_values(tmp_path):
    import tensorflow as tf

    from builder.serving.export import contract_lines, serving_snippet
    from builder.training.runs import Run
    from tests.unit.built_runs import built_run

    csv = make_series_csv(tmp_path / "s.csv", n=120)
    spec = _spec(season_length=None)  # 7 lead steps
    run = built_run(spec, prepare_frame(load_table(csv), spec), tmp_path / "run")
    meta = Run(tmp_path / "run").metadata()
    assert meta["serving"]["known_future"]["signature"] == "serve_known_future"
    assert any("signature `serve_known_future`" in line for line in contract_lines(meta))
    snippet = serving_snippet(meta)
    assert "model.serve_known_future(window=" in snippet
    model = tf.saved_model.load(str(run.file("saved_model")))
    rng = np.random.default_rng(0)
    past = rng.normal(size=(2, 8, 2)).astype(np.float32)
    future = rng.normal(size=(2, 7, 1)).astype(np.float32)
    built = np.stack([np.concatenate([p, lead_values(p[:, 1:], f, 7)], axis=1) for p, f in zip(past, future, strict=True)])
    want = model.serve(tf.constant(built)).numpy()
    got = model.serve_known_future(window=tf.constant(past), future=tf.constant(future)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    other = model.serve_known_future(window=tf.constant(past), future=tf.constant(future + 1.0)).numpy()
    assert not np.allclose(other, want)
    exec(compile(snippet.replace('"saved_model"', repr(str(run.file("saved_model")))), "snippet", "exec"), {})
