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
    wide = pd.DataFrame({"loss": [100.0, 1.0, 0.1]}, index=pd.Index([1, 2, 3], name="epoch"))
    assert c.loss_chart(wide).to_dict()["encoding"]["y"]["scale"]["type"] == "log"
    assert c.loss_chart(pd.DataFrame(columns=["loss", "val_loss"])) is None


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
