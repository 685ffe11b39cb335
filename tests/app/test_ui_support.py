"""builder.app: the plain helpers behind the pages (no Streamlit, no TensorFlow)."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from builder import app as u
from builder.spec import ModelSpec, SpecError
from builder.training.runs import Run


def test_block_editing_keeps_the_order_rules() -> None:
    blocks = ModelSpec.from_dict({"blocks": [{"kind": "recurrent"}, {"kind": "dense"}]}).model_dump(mode="json")["blocks"]
    for kind in ("conv", "attention", "recurrent", "dense"):
        blocks = u.insert_block(blocks, kind)
        ModelSpec.from_dict({"blocks": blocks})  # still valid
    assert [b["kind"] for b in blocks] == ["conv", "recurrent", "recurrent", "attention", "dense", "dense"]
    assert [b["kind"] for b in u.move_block(blocks, 1, -1)][:2] == ["recurrent", "conv"]
    assert u.move_block(blocks, 0, -1) == blocks
    assert len(u.remove_block(blocks, 0)) == 5


def test_field_specs_come_from_the_schema() -> None:
    fields = {f["name"]: f for f in u.field_specs("recurrent")}
    assert fields["cell"]["widget"] == "select" and "lstm_proj" in fields["cell"]["options"]
    assert fields["units"]["widget"] == "int" and fields["units"]["min"] == 1 and fields["units"]["max"] == 4096
    assert fields["proj_units"]["optional"] and fields["bidirectional"]["widget"] == "bool"
    assert fields["dropout"]["widget"] == "float" and fields["dropout"]["exclusive_max"]
    assert all(f["help"] for f in fields.values())


def test_apply_preset_keeps_the_data_choices() -> None:
    current = ModelSpec.from_dict({"data": {"targets": ["sales"], "lookback": 12}}).model_dump(mode="json")
    new = u.apply_preset(current, ModelSpec.from_dict({"name": "p", "blocks": [{"kind": "recurrent", "cell": "gru"}]}))
    assert new["data"]["targets"] == ["sales"] and new["blocks"][0]["cell"] == "gru" and new["name"] == "p"
    other = u.apply_preset(current, ModelSpec.from_dict({"task": "classify", "blocks": [{"kind": "recurrent"}]}))
    assert other["task"] == "classify" and other["data"]["targets"] == []


def test_spec_upload_errors_are_readable() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        u.parse_spec_upload(b"{nope")
    with pytest.raises(SpecError, match="units"):
        u.parse_spec_upload(json.dumps({"blocks": [{"kind": "recurrent", "units": 0}]}).encode())


def test_save_upload_is_content_addressed_and_safe(studio_home) -> None:
    a = u.save_upload(b"t,y\n1,2\n", "../../etc/passwd")
    b = u.save_upload(b"t,y\n1,2\n", "other name.csv")
    assert a.parent == b.parent == studio_home / "uploads"
    assert a.name.startswith(b.name[:12]) and ".." not in a.name


def test_column_summary_and_chart_frame() -> None:
    df = pd.DataFrame({"time": ["2020-01-01", "2020-01-02", "2020-01-03"], "y": [1.0, None, 3.0], "s": ["a", "b", "c"]})
    summary = u.column_summary(df).set_index("column")
    assert summary.loc["time", "type"] == "time" and summary.loc["y", "missing"] == 1
    assert (summary.loc["y", "min"], summary.loc["y", "max"]) == ("1", "3") and summary.loc["s", "type"] == "text"
    chart = u.chart_frame(df, "time", ["y"])
    assert isinstance(chart.index, pd.DatetimeIndex) and list(chart.columns) == ["y"]


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d 00:00:00+01:00"])
def test_chart_times_are_the_training_readers_times(tmp_path, fmt) -> None:
    # before: the charts read each cell on its own (format="mixed"): 07/12/2014 became July 12 while
    # 13/12/2014 was December 13, so the chart's days were not training's days
    from builder.data import load_table
    from builder.tasks import prepare_frame

    days = pd.date_range("2014-12-01", periods=40, freq="D")
    pd.DataFrame({"time": days.strftime(fmt), "y": np.arange(40.0)}).to_csv(tmp_path / "d.csv", index=False)
    df = load_table(tmp_path / "d.csv")
    trained = prepare_frame(df, ModelSpec().updated(data={"lookback": 4, "horizon": 1})).time
    assert list(trained) == list(days)
    assert list(u.chart_frame(df, "time", ["y"]).index) == list(trained)
    assert list(u.to_datetime(df["time"])) == list(trained)


def test_progress_view_eta_and_runs_table(studio_home) -> None:
    run = Run(studio_home / "runs" / "r1")
    run.write_json("spec.json", ModelSpec.from_dict({"training": {"epochs": 4, "batch_size": 10}}).model_dump(mode="json"))
    run.set_status("running", message="training")
    run.append_history({"epoch": 1, "loss": 1.0, "val_loss": 2.0})
    run.write_json("progress.json", {"epoch": 2, "epochs": 4, "steps": 10, "batch": 5, "elapsed": 15.0,
                                     "time": time.time(), "logs": {}})
    v = u.progress_view(run)
    assert v["steps"] == 10 and v["fraction"] == pytest.approx(1.5 / 4)
    assert v["eta"] == pytest.approx(25.0, rel=0.1) and v["active"]
    table = u.runs_table()
    assert table.loc[0, "run"] == "r1" and table.loc[0, "epochs"] == "1/4" and table.loc[0, "best val loss"] == 2.0
    assert u.current_run(None).path == run.path, "a running run on disk is found without a session id"


def test_runs_table_display_has_no_none_cells_and_fitted_widths() -> None:
    table = pd.DataFrame({"run": ["20261206-034446-stacked-lstm", "r2"], "state": ["finished", "queued"],
                          "best val loss": [0.0795912, None], "note": [None, "x" * 200]})
    shown = u.blank_missing(table, {"best val loss": "{:.4g}"})
    assert shown["best val loss"].tolist() == ["0.07959", ""] and shown["note"].tolist() == ["", "x" * 200]
    assert "None" not in shown.astype(str).to_numpy().ravel().tolist() and table["best val loss"].isna().iloc[1]
    widths = {c: w["width"] for c, w in u.table_columns(shown).items()}
    assert widths["run"] >= 28 * 7.5 and widths["state"] < 100 and widths["note"] == 360


def test_metrics_tables_and_confusion() -> None:
    fm = {"task": "forecast", "season_length": 12,
          **{k: {"mae": 1.0, "rmse": 2.0, "smape": 3.0, "mase": 0.5} for k in ("model", "naive", "seasonal_naive")}}
    assert list(u.metrics_table(fm).index) == ["model", "naive (last value)", "seasonal naive (m=12)"]
    cm = {"task": "classify", "classes": ["a", "b"], "confusion_matrix": [[3, 1], [0, 4]],
          "model": {"accuracy": 0.875, "macro_f1": 0.87}, "majority_class": {"accuracy": 0.5, "macro_f1": 0.33, "class": "a"}}
    assert u.metrics_table(cm).loc["model", "accuracy"] == 0.875
    assert u.confusion_frame(cm)["count"].tolist() == [3, 1, 0, 4]


def test_zip_and_csv_bytes(tmp_path) -> None:
    (tmp_path / "sm" / "variables").mkdir(parents=True)
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"pb")
    (tmp_path / "sm" / "variables" / "v.index").write_bytes(b"ix")
    names = zipfile.ZipFile(io.BytesIO(u.zip_dir_bytes(tmp_path / "sm", "saved_model"))).namelist()
    assert sorted(names) == ["saved_model/saved_model.pb", "saved_model/variables/v.index"]
    assert b"'=cmd" in u.csv_bytes(pd.DataFrame({"a": ["=cmd"]}))


def test_helpers_do_not_import_tensorflow() -> None:
    import subprocess

    code = ("import sys, builder.app, builder.model.diagram; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_test_predictions_align_with_the_data(tmp_path) -> None:
    """Actual vs predicted on the test part: actual values and times are the CSV's own rows."""
    from builder import load_preset
    from builder.app import test_predictions
    from builder.training.fit import train_run
    from tests.conftest import make_series_csv

    csv = make_series_csv(tmp_path / "s.csv")
    spec = load_preset("simple_rnn_baseline").updated(
        data={"lookback": 8, "horizon": 2}, training={"epochs": 1, "batch_size": 16},
        blocks=[{"kind": "recurrent", "cell": "simple_rnn", "units": 4}])
    run_dir = tmp_path / "run"
    metrics = train_run(spec, csv, run_dir)
    stored = pd.read_csv(run_dir / "predictions.csv")
    csv.rename(tmp_path / "moved.csv")  # Evaluate reads the run directory only: the CSV may be gone
    out = test_predictions(str(run_dir))
    frame = out["frame"]
    assert out["part"] == "test" and len(frame) == 2 * metrics["n_windows"]
    raw = pd.read_csv(tmp_path / "moved.csv", parse_dates=["time"]).set_index("time")["y"]
    np.testing.assert_allclose(frame["actual"], raw.loc[frame["time"]], atol=1e-4)
    # the page's errors agree with the run's own evaluation, step by step
    for h, mae in enumerate(metrics["model_mae_by_step"], start=1):
        assert abs(frame[frame.step == h]["error"]).mean() == pytest.approx(mae, rel=1e-4)

    # a run of format rnn-studio/1 (metadata.json + data.json, no predictions.csv) is predicted again
    # from its CSV, to the same numbers, and serves predictions on new data
    from builder.app import predict_on, serving_snippet

    meta = json.loads((run_dir / "metadata.json").read_text())
    r = meta["resolved"]
    (run_dir / "metadata.json").write_text(json.dumps({
        "format": "rnn-studio/1", "task": "forecast", "lookback": r["lookback"], "horizon": r["horizon"],
        "features": r["inputs"], "targets": r["targets"], "classes": [], "time_col": r["time_col"], "freq": r["freq"],
        "input": meta["serving"]["input"], "output": meta["serving"]["output"], "params": meta["params"]}))
    (run_dir / "data.json").write_text(json.dumps({"source": str(tmp_path / "moved.csv"), "missing": r["missing"],
                                                   "x_scaler": r["x_scaler"], "y_scaler": r["y_scaler"]}))
    (run_dir / "predictions.csv").unlink()
    again = test_predictions(str(run_dir))["frame"]
    np.testing.assert_allclose(again["predicted"], stored["predicted"], rtol=1e-5, atol=1e-5)
    assert len(predict_on(Run(run_dir), pd.read_csv(tmp_path / "moved.csv"))) == 2
    assert f"(1, {r['lookback']}, {len(r['inputs'])})" in serving_snippet(Run(run_dir))


def test_forecast_band_frame_opens_the_band_at_the_last_actual_point() -> None:
    from builder.tasks.forecast_intervals import interval_columns

    df = pd.DataFrame({"time": pd.date_range("2020-01-01", periods=10, freq="MS"), "y": np.arange(10.0)})
    resolved = {"targets": ["y"], "time_col": "time", "lookback": 2}
    fc = pd.DataFrame({"time": pd.date_range("2020-11-01", periods=2, freq="MS"), "y": [10.0, 11.0]})
    record = {"levels": {"80": {"radius": [[1.0], [2.0]]}, "95": {"coverage": None, "reason": "too few"}}}
    with_bands = interval_columns(fc, record)
    assert list(with_bands.columns) == ["time", "y", "y_lower_80", "y_upper_80"]
    assert with_bands["y_upper_80"].tolist() == [11.0, 13.0] and with_bands["y_lower_80"].tolist() == [9.0, 9.0]
    band, levels = u.forecast_band_frame(df, resolved, with_bands)
    assert levels == [80] and list(band.columns) == ["time", "actual", "predicted", "lower_80", "upper_80"]
    assert band["actual"].notna().sum() == 6 and band["predicted"].tolist()[-3:] == [9.0, 10.0, 11.0]
    assert band["lower_80"].tolist()[-3:] == [9.0, 9.0, 9.0] and band["upper_80"].tolist()[-3:] == [9.0, 11.0, 13.0]
    assert band["lower_80"].isna().sum() == 5  # no band over the history before the last point
    assert u.interval_chart(band, levels, "y") is not None
    assert u.forecast_band_frame(df, resolved, fc) == (None, [])  # no interval columns: the plain chart
    assert u.forecast_band_frame(df, {**resolved, "targets": ["y", "z"]}, with_bands) == (None, [])
