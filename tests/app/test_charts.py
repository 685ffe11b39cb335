"""Charts: fitted y-axes, distinct colours with a legend, dates by frequency, nothing drawn for no data,
loss curves visible from the first epoch, the too-short-training hint, the class distribution."""

from __future__ import annotations

import json

import pandas as pd

from builder.app import charts as c
from tests.app.conftest import by_label, errors, make_app, seeded


def _spec(el) -> dict:
    return json.loads(el.proto.spec)


def test_series_chart_fits_the_axis_and_formats_dates() -> None:
    idx = pd.DatetimeIndex(pd.date_range("2000-01-01", periods=24, freq="MS"), name="month")
    frame = pd.DataFrame({"actual": range(300, 324), "predicted": range(301, 325)}, index=idx)
    spec = c.series_chart(frame).to_dict()
    enc = spec["encoding"]
    assert enc["y"]["scale"]["zero"] is False
    assert enc["x"]["axis"]["format"] == "%b %Y" and enc["x"]["type"] == "temporal"
    assert enc["color"]["scale"]["scheme"] == c.PALETTE and enc["color"]["legend"]["orient"] == "bottom"
    assert c.time_format(pd.DatetimeIndex(pd.date_range("2000", periods=5, freq="YS"))) == "%Y"
    assert c.time_format(pd.DatetimeIndex(pd.date_range("2000", periods=5, freq="QS"))) == "%Y Q%q"
    assert c.time_format(pd.DatetimeIndex(pd.date_range("2000", periods=5, freq="h"))) == "%d %b %H:%M"
    assert c.time_format(pd.RangeIndex(3)) is None
    assert c.series_chart(pd.DataFrame()) is None
    assert c.series_chart(pd.DataFrame({"y": [float("nan")]})) is None


def test_loss_chart_shows_one_epoch_and_switches_to_log_scale() -> None:
    one = pd.DataFrame({"loss": [0.5], "val_loss": [0.7]}, index=pd.Index([1], name="epoch"))
    spec = c.loss_chart(one).to_dict()
    assert spec["mark"]["point"] is True and spec["encoding"]["y"]["scale"]["zero"] is False
    assert spec["encoding"]["x"]["axis"]["format"] == "d"
    assert spec["encoding"]["x"]["scale"]["padding"] > 0  # the first and last epochs' points are drawn whole
    wide = pd.DataFrame({"loss": [100.0, 1.0, 0.1]}, index=pd.Index([1, 2, 3], name="epoch"))
    assert c.loss_chart(wide).to_dict()["encoding"]["y"]["scale"]["type"] == "log"
    assert c.loss_chart(pd.DataFrame(columns=["loss", "val_loss"])) is None


def test_interval_chart_fits_the_axis_to_lines_and_bands() -> None:
    times = pd.date_range("1959-01-01", periods=20, freq="MS")
    sub = pd.DataFrame({"time": times, "actual": range(400, 420), "predicted": range(398, 418)})
    for lv, w in ((80, 10), (95, 20)):
        sub[f"lower_{lv}"], sub[f"upper_{lv}"] = sub["predicted"] - w, sub["predicted"] + w
    spec = c.interval_chart(sub, [80, 95], "passengers").to_dict()
    layers = spec["layer"]
    assert [lyr["mark"]["type"] for lyr in layers] == ["area", "area", "line"]
    # an area mark starts a shared y-axis at zero unless every layer says otherwise
    assert all(lyr["encoding"]["y"]["scale"]["zero"] is False for lyr in layers)
    assert all(lyr["encoding"]["x"]["axis"]["format"] == "%b %Y" for lyr in layers)
    lines = layers[-1]["encoding"]
    assert lines["color"]["scale"]["range"] == [c.ACTUAL, c.PREDICTED] and c.ACTUAL != c.PREDICTED
    assert lines["color"]["legend"]["orient"] == "bottom"
    assert layers[0]["mark"]["opacity"] < layers[1]["mark"]["opacity"]  # the 95% band is the paler one
    plain = sub.assign(time=range(20))
    assert c.interval_chart(plain, [80], "y").to_dict()["layer"][0]["encoding"]["x"]["type"] == "quantitative"
    assert c.interval_chart(sub.iloc[:0], [80], "y") is None


def test_step_error_and_confusion_charts_are_readable() -> None:
    by_step = pd.DataFrame({"forecaster": ["model", "naive"] * 3, "step": [1, 1, 2, 2, 3, 3],
                            "MAE": [30.0, 45.0, 28.0, 80.0, 27.0, 95.0]})
    enc = c.step_error_chart(by_step).to_dict()["encoding"]
    assert enc["x"]["axis"]["labelAngle"] == 0 and enc["color"]["scale"]["scheme"] == c.PALETTE
    assert enc["color"]["sort"] == ["model", "naive"]
    one = c.step_error_chart(by_step[by_step["step"] == 1]).to_dict()
    assert one["mark"]["type"] == "bar"
    cm = pd.DataFrame([{"true": t, "predicted": p, "count": 9 if t == p else 1}
                       for t in ("sine", "square", "sawtooth") for p in ("sine", "square", "sawtooth")])
    spec = c.confusion_chart(cm).to_dict()
    heat, text = spec["layer"]
    assert spec["height"] >= 44 * 3  # rows tall enough to read a count in
    assert heat["encoding"]["x"]["axis"]["labelAngle"] == 0 and heat["encoding"]["color"]["legend"] is None
    assert heat["encoding"]["x"]["sort"] == ["sine", "square", "sawtooth"] == heat["encoding"]["y"]["sort"]
    assert text["encoding"]["text"]["field"] == "count"
    assert text["encoding"]["color"]["condition"]["value"] == "white"  # white on the dark cells
    assert c.confusion_chart(cm.iloc[:0]) is None


def test_display_dates_writes_dates_for_their_spacing() -> None:
    fc = pd.DataFrame({"time": pd.date_range("1961-01-01", periods=3, freq="MS"), "passengers": [439.1, 422.9, 451.2]})
    assert c.display_dates(fc)["time"].tolist() == ["Jan 1961", "Feb 1961", "Mar 1961"]
    assert fc["time"].dtype.kind == "M"  # the caller's frame (the CSV download) keeps its timestamps
    q = pd.DataFrame({"when": pd.date_range("2000-01-01", periods=3, freq="QS")})
    assert c.display_dates(q)["when"].tolist() == ["2000 Q1", "2000 Q2", "2000 Q3"]
    steps = pd.DataFrame({"step": [1, 2], "y": [1.0, 2.0]})
    assert c.display_dates(steps).equals(steps)


def test_training_hint_and_class_counts() -> None:
    assert "25 optimiser steps" in c.training_hint(5, 5)
    assert c.training_hint(50, 10) is None and c.training_hint(5, None) is None
    df = pd.DataFrame({"id": [1, 1, 2, 3, 4], "label": ["a", "a", "b", "a", "c"]})
    counts = c.class_counts(df, "id", "label")
    assert counts.set_index("class")["sequences"].to_dict() == {"a": 2, "b": 1, "c": 1}


def test_data_page_draws_fitted_series_and_class_distribution(tiny_csv, tmp_path) -> None:
    at = make_app("pages/data.py", seeded(tiny_csv))
    assert not at.exception and not errors(at), errors(at)
    charts = [_spec(el) for el in at.get("vega_lite_chart")]
    assert charts and charts[0]["encoding"]["y"]["scale"]["zero"] is False
    assert charts[0]["encoding"]["x"]["axis"]["format"] == "%b %Y"
    rows = ["sequence_id,t,x,label"] + [f"{s},{t},{t * (s % 3)},{'abc'[s % 3]}" for s in range(30) for t in range(8)]
    csv = tmp_path / "seqs.csv"
    csv.write_text("\n".join(rows) + "\n")
    at = make_app("pages/data.py", seeded(csv))
    by_label(at.radio, "Task").set_value("classify").run()
    assert not at.exception and not errors(at), errors(at)
    assert "Classes" in [h.value for h in at.subheader]
    assert any("30 sequences in 3 classes" in cap.value for cap in at.caption)
