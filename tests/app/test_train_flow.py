"""Train a real one-epoch run in a worker process from the Train page, then evaluate and export it."""

from __future__ import annotations

import json
import time

from builder.app import result_kind, result_summary
from tests.app.conftest import by_label, errors, make_app, seeded


def _wait_finished(at, timeout: float = 120.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        assert not at.exception
        heads = [m.value for m in at.markdown if m.value.startswith("#### ")]
        if heads and any(s in heads[0] for s in ("— finished", "— failed", "— stopped", "— interrupted")):
            return heads[0]
        time.sleep(1.0)
    raise AssertionError(f"the run did not finish within {timeout} s; last heading {heads}")


def test_train_page_runs_a_worker_and_the_result_flows_on(tiny_csv, studio_home) -> None:
    at = make_app("pages/train.py", seeded(tiny_csv), timeout=120)
    assert not at.exception and not errors(at), errors(at)
    by_label(at.number_input, "Epochs").set_value(2).run()
    assert at.session_state["spec"]["training"]["epochs"] == 2
    by_label(at.number_input, "Epochs").set_value(1).run()
    t0 = time.time()
    by_label(at.button, "Train").click().run()
    assert not at.exception
    run_id = at.session_state["run_id"]
    assert run_id and (studio_home / "runs" / run_id / "spec.json").exists()
    assert len(at.get("progress")) == 1, "the progress panel is drawn at once"
    head = _wait_finished(at)
    assert "finished" in head, (head, errors(at))
    # the sentence names the verdict against the best baseline and is coloured by it (green only when it beats all)
    metrics = json.loads((studio_home / "runs" / run_id / "metrics.json").read_text())
    shown = {kind: [s.value for s in getattr(at, kind) if "Test MAE" in s.value] for kind in ("success", "info", "warning")}
    assert shown[result_kind(metrics)] == [f"{result_summary(metrics)} See **Evaluate** for more."], shown
    assert metrics["verdict"] in shown[result_kind(metrics)][0]
    assert time.time() - t0 < 120
    # the run list shows it
    table = at.dataframe[-1].value
    assert run_id in table["run"].tolist()

    # a fresh session (reload / second tab) falls back to the newest run only while it is running,
    # but the run can always be reopened from the list
    other = make_app("pages/train.py", seeded(tiny_csv))
    by_label(other.selectbox, "Reopen a run").set_value(run_id)
    by_label(other.button, "Open").click().run()
    assert other.session_state["run_id"] == run_id

    ev = make_app("pages/evaluate.py", seeded(tiny_csv, run_id=run_id), timeout=120)
    assert not ev.exception and not errors(ev), errors(ev)
    assert {"MAE", "RMSE", "sMAPE", "MASE"} <= {m.label for m in ev.metric}
    charts = [el for kind in ("arrow_vega_lite_chart", "vega_lite_chart") for el in ev.get(kind)]
    assert len(charts) >= 3, f"expected loss, error-by-step and actual-vs-predicted charts, found {len(charts)}"

    ex = make_app("pages/export.py", seeded(tiny_csv, run_id=run_id), timeout=120)
    assert not ex.exception and not errors(ex), errors(ex)
    labels = [b.label for b in ex.get("download_button")]
    assert "SavedModel (zip)" in labels and "model.keras" in labels
    ex.button(key="export_forecast").click().run()
    assert not ex.exception and not errors(ex), errors(ex)
    forecast = ex.dataframe[0].value
    assert len(forecast) == 3 and "sales" in forecast.columns
    assert {"sales_lower_80", "sales_upper_80"} <= set(forecast.columns), "the forecast ahead carries its intervals"
    assert any("prediction intervals" in c.value for c in ex.caption)
    ex.file_uploader(key="export_upload").upload("new.csv", tiny_csv.read_bytes(), "text/csv").run()
    assert not ex.exception and not errors(ex), errors(ex)
    assert len(ex.dataframe) == 2


def test_train_page_shows_a_running_run_after_reload(tiny_csv, studio_home) -> None:
    at = make_app("pages/train.py", seeded(tiny_csv), timeout=120)
    by_label(at.number_input, "Epochs").set_value(40).run()
    by_label(at.button, "Train").click().run()
    run_id = at.session_state["run_id"]
    # a reload (a fresh session on the same workspace) shows the running run
    other = make_app("pages/train.py", timeout=120, query={"ws": at.session_state["workspace"]})
    heads = [m.value for m in other.markdown if m.value.startswith("#### ")]
    assert heads and run_id in heads[0]
    # a tab on another workspace does not
    third = make_app("pages/train.py", seeded(tiny_csv, run_id=None), timeout=120)
    assert not [m.value for m in third.markdown if m.value.startswith("#### ")]
    by_label(other.button, "Stop").click().run()
    head = _wait_finished(other)
    assert "stopped" in head or "finished" in head, head
