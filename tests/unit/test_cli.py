"""The CLI: defaults that work, predict and export, and `error: ...` with exit status 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import nullcontext

import numpy as np
import pandas as pd
import pytest

from builder.__main__ import main
from builder.tasks.forecast_intervals import range_text
from tests.conftest import REPO


def test_train_predict_export(series_csv, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(series_csv), "--out", str(run), "--epochs", "1", "--lookback", "8",
                 "--horizon", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "seasonal naive (m=7)" in out and "MASE" in out and "ETS(" in out and "Theta(" in out and "verdict: " in out
    assert main(["predict", "--run", str(run), "--data", str(series_csv), "--out", str(tmp_path / "f.csv")]) == 0
    forecast = pd.read_csv(tmp_path / "f.csv")
    levels = json.loads((run / "metrics.json").read_text())["intervals"]["levels"]
    radius = {int(lv): np.asarray(rec["radius"])[:, 0] for lv, rec in levels.items() if rec.get("radius")}
    assert 80 in radius  # the validation windows are enough for an 80% interval
    rec = levels["80"]  # the CLI prints the coverage beside the range a calibrated interval scores on those windows
    assert f"80%: {rec['coverage']:.1%} (calibrated: {range_text(80, rec)})" in out and rec["windows"] > 0
    bands = [f"y_{side}_{lv}" for lv in sorted(radius) for side in ("lower", "upper")]
    assert list(forecast.columns) == ["time", "y", *bands] and len(forecast) == 3
    for lv, r in radius.items():  # the forecast -/+ each step's conformal radius, in the data's units
        np.testing.assert_allclose(forecast[f"y_upper_{lv}"] - forecast["y"], r, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(forecast["y"] - forecast[f"y_lower_{lv}"], r, rtol=1e-5, atol=1e-4)
    assert list(forecast["time"]) == ["2020-04-30", "2020-05-01", "2020-05-02"]  # the days after the data's end
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "exp")]) == 0
    assert (tmp_path / "exp" / "saved_model" / "saved_model.pb").exists()
    assert json.loads((tmp_path / "exp" / "metadata.json").read_text())["resolved"]["targets"] == ["y"]


def test_classify_with_separate_test_file(sequences_csv, tmp_path, capsys):
    df = pd.read_csv(sequences_csv)
    df[df.sequence_id % 4 != 0].to_csv(tmp_path / "train.csv", index=False)
    df[df.sequence_id % 4 == 0].to_csv(tmp_path / "test.csv", index=False)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--test-data", str(tmp_path / "test.csv"),
                 "--task", "classify", "--id-col", "sequence_id", "--label-col", "label", "--epochs", "1",
                 "--out", str(run), "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_sequences"] == 6  # exactly the test file's sequences
    assert main(["predict", "--run", str(run), "--data", str(tmp_path / "test.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["sequence_id", "label", "predicted", "p_fast", "p_slow"] and len(pred) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "missing.csv", "--out", "{tmp}/r"], "error: missing.csv: file not found"),
        (["train", "--data", "{series}", "--target", "nope", "--out", "{tmp}/r"], "target column(s) ['nope'] not found"),
        (["train", "--data", "{series}", "--lookback", "0", "--out", "{tmp}/r"], "field `data.lookback`"),
        (["train", "--data", "{series}", "--preset", "nope", "--out", "{tmp}/r"], "unknown preset 'nope'"),
        (["train", "--data", "{series}", "--lookback", "500", "--out", "{tmp}/r"], "need at least"),
        (["train", "--data", "{series}", "--epochs", "x", "--out", "{tmp}/r"], "error: argument --epochs"),
        (["predict", "--run", "{tmp}", "--data", "{series}", "--out", "{tmp}/p.csv"], "no metadata.json"),
    ],
)
def test_bad_input_is_one_error_line_and_status_2(args, message, series_csv, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, series=series_csv) for a in args]
    with pytest.raises(SystemExit) if "--epochs" in argv and "x" in argv else nullcontext():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_subprocess_exit_status_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02binary\x00")
    proc = subprocess.run([sys.executable, "-m", "builder", "train", "--data", str(bad), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {bad}: expected a text CSV file, found binary content (NUL bytes)"]
    assert "Traceback" not in proc.stderr


def test_predict_prints_what_it_assumed_reading_the_file(series_csv, tmp_path, capsys):
    from builder import ModelSpec
    from builder.data import load_table
    from builder.tasks import prepare_frame
    from tests.unit.built_runs import built_run

    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    built_run(spec, prepare_frame(load_table(series_csv), spec), tmp_path / "run", saved_model=False)
    df = pd.read_csv(series_csv).drop(index=[100])
    df.to_csv(tmp_path / "new.csv", sep=";", decimal=",", index=False)
    assert main(["predict", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "new.csv"),
                 "--out", str(tmp_path / "f.csv")]) == 0
    err = capsys.readouterr().err
    assert "note: separator detected: ';'" in err and "note: decimal commas detected" in err
    assert "note: time column `time` skips 1 step(s) of frequency D" in err


def test_a_run_directory_left_by_a_failed_data_check_can_be_used_again(series_csv, tmp_path, capsys):
    # before: the second command said "--out ...: the directory exists and is not empty"
    run = tmp_path / "run"
    args = ["train", "--data", str(series_csv), "--out", str(run), "--epochs", "1", "--quiet"]
    assert main([*args, "--horizon", "500"]) == 2
    assert json.loads((run / "status.json").read_text())["state"] == "failed"
    assert main([*args, "--target", "nope"]) == 2
    err = capsys.readouterr().err
    assert "target column(s) ['nope'] not found" in err and "directory exists" not in err
    (run / "model.keras").write_text("")  # a run that got further is never overwritten
    assert main([*args, "--target", "nope"]) == 2
    assert "the directory exists and is not empty" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_export_onto_an_existing_file_is_a_usage_error(tmp_path, capsys, fmt):
    # before: "error: unexpected FileExistsError ..." and exit status 1
    (tmp_path / "taken.csv").write_text("a,b\n")
    assert main(["export", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "taken.csv"), "--format", fmt]) == 2
    assert "taken.csv: a file of that name exists; expected a directory" in capsys.readouterr().err


def test_predict_onto_a_directory_is_a_usage_error(series_csv, tmp_path, capsys):
    # before: "error: unexpected IsADirectoryError: ... '/tmp/.x.tmp' -> '...'" and exit status 1
    from builder import ModelSpec
    from builder.data import load_table
    from builder.tasks import prepare_frame
    from tests.unit.built_runs import built_run

    spec = ModelSpec().updated(data={"lookback": 8, "horizon": 2})
    built_run(spec, prepare_frame(load_table(series_csv), spec), tmp_path / "run", saved_model=False)
    (tmp_path / "out").mkdir()
    assert main(["predict", "--run", str(tmp_path / "run"), "--data", str(series_csv), "--out", str(tmp_path / "out")]) == 2
    assert f"error: {tmp_path / 'out'}: is a directory; expected a file name" in capsys.readouterr().err


def test_train_leaves_filled_in_test_actuals_out_of_every_score_with_a_note(series_csv, tmp_path, capsys):
    df = pd.read_csv(series_csv)
    df.loc[[105, 111], "y"] = np.nan  # empty target cells in the test part (rows 102-119)
    df.drop(index=[114]).to_csv(tmp_path / "F.csv", index=False)  # and a skipped date there
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "F.csv"), "--out", str(run), "--epochs", "1", "--lookback", "8",
                 "--horizon", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())  # strict JSON
    n = metrics["unobserved_points"]
    assert n == 6  # 3 rows x 2 horizon steps each
    assert out.count(f"note: {n} test point(s) whose actual y was filled in (missing in {tmp_path / 'F.csv'}) are left "
                     "out of every score") == 1
    pred = pd.read_csv(run / "predictions.csv")
    assert pred["actual"].isna().sum() == n
    kept = pred.dropna(subset=["actual"])
    assert metrics["model"]["mae"] == pytest.approx(np.abs(kept["actual"] - kept["predicted"]).mean(), rel=1e-5)


def test_a_test_file_without_any_target_value_is_an_error_before_training(series_csv, tmp_path, capsys):
    df = pd.read_csv(series_csv)
    df.iloc[:100].to_csv(tmp_path / "train.csv", index=False)
    test = df.iloc[100:].copy()
    test["y"] = np.nan
    test.to_csv(tmp_path / "T.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--test-data", str(tmp_path / "T.csv"),
                 "--out", str(tmp_path / "run"), "--epochs", "1", "--lookback", "8", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'T.csv'}: every actual of `y` in the test part (")
    assert "so there is nothing to score; at least one observed value of `y` is needed there" in err
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_file_mixing_utf8_and_latin1_is_one_error_line_naming_the_line(tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    rows = "".join(f"2020-01-{d:02d},{d},{'é' if d % 2 else 'ü'}\n" for d in range(1, 29))
    path.write_bytes(("time,y,note\n" + rows).encode().replace(b"2020-01-20,20,\xc3\xbc", b"2020-01-20,20,\xfc"))
    assert main(["train", "--data", str(path), "--target", "y", "--out", str(tmp_path / "r")]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path} line 21: byte 0xFC is not UTF-8"), lines
