"""The Data page on every file of the bad-input corpus: st.error with the reason, or the notice; never an exception."""

from __future__ import annotations

import pytest

from builder.spec import ModelSpec
from tests.app.conftest import by_label, errors, make_app
from tests.data.make_bad_corpus import CASES, case_path, content

# where the page words a case itself instead of showing the library's message (none: the form's widgets
# come from the task's registry entry and the library's message names the file and its columns)
UI_FRAGMENTS: dict[str, str] = {}
# known page bugs (not in builder.data): strict, so the marker must go when the page is fixed
UI_BUGS: dict[str, str] = {}


def seed(name: str, path) -> dict:
    case = CASES[name]
    data = {"lookback": 4, "horizon": 1, **case.settings} if case.task == "forecast" else dict(case.settings)
    spec = ModelSpec.from_dict({"task": case.task, "data": data}).model_dump(mode="json")
    return {"source": {"path": str(path), "name": path.name, "kind": "upload"}, "spec": spec, "spec_rev": 0}


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=UI_BUGS[n], strict=True)) if n in UI_BUGS else n for n in CASES
])
def test_data_page_on_bad_input(name, tmp_path):
    case = CASES[name]
    at = make_app("pages/data.py", seed(name, case_path(name, tmp_path)))
    assert not at.exception, at.exception
    fragment = UI_FRAGMENTS.get(name, case.fragment)
    if case.outcome == "error":
        assert any(fragment in e for e in errors(at)), errors(at)
    else:
        assert not errors(at), errors(at)
        assert any(fragment in c for c in captions(at)), captions(at)
        assert any("fits the spec" in s.value for s in at.success)


@pytest.mark.parametrize("name", ["binary", "ragged_short", "utf16"])
def test_uploading_a_bad_file_then_a_good_one(name, tmp_path):
    good = case_path("utf8_bom", tmp_path)
    at = make_app("pages/data.py", seed("utf8_bom", good))
    by_label(at.radio, "Source").set_value("Upload a CSV").run()
    at.file_uploader[0].upload(CASES[name].file, content(name), "text/csv").run()
    assert not at.exception
    if CASES[name].outcome == "error":
        assert any(CASES[name].fragment in e for e in errors(at)), errors(at)
    else:
        assert any(CASES[name].fragment in c for c in captions(at)), captions(at)
    at.file_uploader[0].upload("good.csv", content("utf8_bom"), "text/csv").run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["source"]["name"] == "good.csv"
