"""Workspaces: the session's data, columns, spec and run survive a reload (a fresh session with the URL's
?ws=id), a shared link opens the same work, tabs on different workspaces do not interfere, and "New
workspace" starts clean."""

from __future__ import annotations

import json

from builder.app import workspace as ws
from tests.app.conftest import by_label, errors, make_app


def _upload(at, csv) -> None:
    at.radio(key="data_mode").set_value("Upload a CSV").run()
    at.get("file_uploader")[0].upload(csv.name, csv.read_bytes(), "text/csv").run()
    assert not at.exception and not errors(at), errors(at)


def test_reload_restores_data_columns_spec_and_run(tiny_csv, studio_home) -> None:
    at = make_app()
    wid = at.query_params["ws"]
    assert ws.valid_id(wid) and at.session_state["workspace"] == wid
    _upload(at, tiny_csv)
    assert at.session_state["source"]["kind"] == "upload"
    by_label(at.number_input, "Horizon (steps ahead)").set_value(5).run()
    by_label(at.multiselect, "Covariates (extra inputs)").set_value([]).run()
    at.session_state["run_id"] = None
    at.run()
    saved = json.loads((studio_home / "workspaces" / f"{wid}.json").read_text())
    assert saved["spec"]["data"]["horizon"] == 5 and saved["source"]["name"] == tiny_csv.name

    again = make_app(query={"ws": wid})  # the reload: a new session, same URL
    assert not again.exception and not errors(again), errors(again)
    assert again.session_state["workspace"] == wid and again.query_params["ws"] == wid
    assert again.session_state["source"] == at.session_state["source"]
    assert again.session_state["spec"] == at.session_state["spec"]
    assert by_label(again.number_input, "Horizon (steps ahead)").value == 5
    assert by_label(again.multiselect, "Covariates (extra inputs)").value == []
    assert again.radio(key="data_mode").value == "Upload a CSV"
    assert any(tiny_csv.name in c.value for c in again.caption)

    # the Train page of the reloaded workspace shows the same spec (epochs edited there persist too)
    again.switch_page("pages/train.py").run()
    by_label(again.number_input, "Epochs").set_value(7).run()
    third = make_app("pages/train.py", query={"ws": wid})
    assert by_label(third.number_input, "Epochs").value == 7


def test_two_workspaces_do_not_interfere(tiny_csv) -> None:
    a, b = make_app(), make_app()
    assert a.query_params["ws"] != b.query_params["ws"]
    _upload(a, tiny_csv)
    by_label(a.number_input, "Horizon (steps ahead)").set_value(4).run()
    by_label(b.number_input, "Horizon (steps ahead)").set_value(9).run()
    by_label(a.number_input, "Lookback (steps, 0 = auto)").set_value(10).run()
    ra, rb = make_app(query={"ws": a.query_params["ws"]}), make_app(query={"ws": b.query_params["ws"]})
    assert ra.session_state["spec"]["data"]["horizon"] == 4 and ra.session_state["spec"]["data"]["lookback"] == 10
    assert rb.session_state["spec"]["data"]["horizon"] == 9 and rb.session_state["spec"]["data"]["lookback"] != 10
    assert ra.session_state["source"]["kind"] == "upload" and rb.session_state["source"]["kind"] == "sample"


def test_new_workspace_starts_clean_and_the_old_link_still_works(tiny_csv) -> None:
    at = make_app()
    old = at.query_params["ws"]
    _upload(at, tiny_csv)
    by_label(at.button, "New workspace").click().run()
    assert not at.exception and not errors(at), errors(at)
    new = at.query_params["ws"]
    assert new != old and at.session_state["workspace"] == new
    assert at.session_state["source"]["kind"] == "sample"
    assert at.radio(key="data_mode").value == "Bundled sample"
    back = make_app(query={"ws": old})
    assert back.session_state["source"]["kind"] == "upload"


def test_a_bad_or_unknown_id_starts_a_fresh_workspace(studio_home) -> None:
    at = make_app(query={"ws": "../../etc"})
    assert not at.exception and ws.valid_id(at.query_params["ws"]) and at.query_params["ws"] != "../../etc"
    unknown = make_app(query={"ws": "abcdef0123456789"})
    assert unknown.query_params["ws"] == "abcdef0123456789" and unknown.session_state["source"]["kind"] == "sample"


def test_workspace_file_round_trip_and_missing_files(studio_home, tmp_path) -> None:
    gone = tmp_path / "gone.csv"
    gone.write_text("t,y\n1,2\n")
    ws.save("abcdef01", {"source": {"path": str(gone), "name": "gone.csv", "kind": "upload"},
                         "spec": {"task": "forecast"}, "run_id": "no-such-run", "preset": "x", "other": 1})
    rec = json.loads((studio_home / "workspaces" / "abcdef01.json").read_text())
    assert "other" not in rec and rec["format"] == ws.FORMAT
    wid, saved, notices = ws.restore("abcdef01")
    assert wid == "abcdef01" and saved["source"]["name"] == "gone.csv" and saved["run_id"] is None
    assert notices == ["run no-such-run no longer exists"]
    gone.unlink()
    _, saved, notices = ws.restore("abcdef01")
    assert "source" not in saved and any("gone.csv" in n for n in notices)
    assert ws.restore(None)[1] is None and ws.restore("NOT/valid")[1] is None
