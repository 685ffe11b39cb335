"""The Export page's task-aware contract: for a tiny trained run of every registry task (forecast, classify,
label_steps, generate, tree, translate) the page renders without an exception, always offers the SavedModel, offers
ONNX / LiteRT and the plain-Keras code only where the converter / code generator takes the model (else one
line saying why: every task's run has its code now; ONNX / LiteRT only the window tasks'), and its serving
snippet runs against the run's own SavedModel. The converter refuses a model it cannot take with its own
error, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.tasks.registry import get_task
from tests.app.conftest import errors, make_app

#: what each task's run is offered beside the SavedModel: (ONNX and LiteRT, plain-Keras code)
OFFERS = {"forecast": (True, True), "classify": (True, True), "label_steps": (True, True),
          "generate": (False, True), "tree": (False, True), "translate": (False, True)}


def _page(task: str, task_runs: dict, studio_home: Path):
    """The Export page on the task's run, copied into this test's data directory."""
    import shutil

    run, data = task_runs[task]
    shutil.copytree(run, studio_home / "runs" / run.name)
    seed = {"source": {"path": str(data), "name": data.name, "kind": "upload"}, "run_id": run.name}
    return make_app("pages/export.py", seed, timeout=300)


@pytest.mark.parametrize("task", list(OFFERS))
def test_export_page_offers_what_works_for_the_task(task: str, task_runs, studio_home: Path) -> None:
    at = _page(task, task_runs, studio_home)
    assert not at.exception, [e.message for e in at.exception]
    assert not errors(at), errors(at)
    downloads = [b.label for b in at.get("download_button")]
    assert "SavedModel (zip)" in downloads and "model.keras" in downloads
    contract = " ".join(m.value for m in at.markdown)
    assert f"task: **{task}**" in contract and "output:" in contract
    converts, codes = OFFERS[task]
    captions = " ".join(c.value for c in at.caption)
    formats = [r for r in at.radio if r.key == "export_format"]
    if converts:
        assert formats and set(formats[0].options) == {"ONNX (onnxruntime)", "LiteRT (.tflite)"}
    else:
        assert not formats and not [b for b in at.button if b.key == "export_convert"]
        assert "ONNX (onnxruntime) and LiteRT (.tflite): not offered for this run" in captions
        assert "one raw `window` input" in captions
    code_button = [b for b in at.button if b.key == "export_code"]
    if codes:
        assert code_button
    else:
        assert not code_button and "no plain-Keras code: " + get_task(task).codegen_refusal in captions


@pytest.mark.parametrize("task", ["label_steps", "generate", "tree", "translate"])
def test_export_page_extras_work_for_the_task(task: str, task_runs, studio_home: Path) -> None:
    """What the page offers runs: label_steps converts to ONNX; every task predicts on (or scores) its own
    data file uploaded again."""
    at = _page(task, task_runs, studio_home)
    if OFFERS[task][0]:
        at.radio(key="export_format").set_value("onnx").run()
        at.button(key="export_convert").click().run()
        assert not at.exception and not errors(at), errors(at)
        assert f"run-{task}-model.onnx" in [b.label for b in at.get("download_button")]
    _, data = task_runs[task]
    at.file_uploader(key="export_upload").upload(data.name, data.read_bytes(), "text/plain").run()
    assert not at.exception and not errors(at), errors(at)
    table = at.dataframe[-1].value
    assert len(table) > 0, "no predictions"
    if task == "generate":
        assert table["bits_per_char"].iloc[0] > 0


@pytest.mark.parametrize("task", ["forecast", "generate", "tree", "translate"])
def test_serving_snippet_runs_against_the_saved_model(task: str, task_runs, monkeypatch) -> None:
    """The snippet the page shows, run as it is in the run's folder, prints the served output."""
    import contextlib
    import io

    from builder.serving.export import serving_snippet

    run, _ = task_runs[task]
    meta = json.loads((run / "metadata.json").read_text())
    monkeypatch.chdir(run)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(serving_snippet(meta), f"<{task} snippet>", "exec"), {})  # noqa: S102  our own snippet
    printed = out.getvalue()
    assert printed.strip(), "the snippet printed nothing"
    if task == "generate":
        assert len(printed) > 100  # the prompt and 200 generated characters
    else:
        assert "[" in printed and "nan" not in printed.lower()


@pytest.mark.parametrize("task", ["generate", "tree", "translate"])
def test_converter_refuses_a_non_window_model(task: str, task_runs, tmp_path: Path, capsys) -> None:
    from builder.__main__ import main
    from builder.serving.convert import ConversionError, convert_run
    from builder.training.runs import Run

    run, _ = task_runs[task]
    with pytest.raises(ConversionError, match=rf"onnx: task {task}: ONNX and LiteRT conversion takes a model with one raw"):
        convert_run(Run(run), "onnx", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "cli"), "--format", "litert"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: litert: task ") and "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("task", ["forecast", "translate"])
def test_export_page_writes_plain_keras_code(task: str, task_runs, studio_home: Path) -> None:
    """Where the code generator takes the model, the button writes model.py and its weights, both offered
    for download, and the code view wraps long lines (none is cut off at the page's edge). A translate
    run's file carries its token tables and greedy `translate`."""
    at = _page(task, task_runs, studio_home)
    at.button(key="export_code").click().run()
    assert not at.exception and not errors(at), errors(at)
    downloads = [b.label for b in at.get("download_button")]
    assert {f"run-{task}-model.py", f"run-{task}-model.weights.h5"} <= set(downloads), downloads
    code = [c for c in at.code if "def build_model(" in c.value]
    assert code and code[0].proto.wrap_lines, "the generated code is not shown, or its long lines are clipped"
    assert (studio_home / "runs" / f"run-{task}" / "exports" / "code" / f"run-{task}-model.weights.h5").exists()
    assert f'"run-{task}-model.weights.h5"' in code[0].value  # what load_trained reads: the download's name
    if task == "translate":
        assert "SOURCE_TOKENS: list[str] = " in code[0].value and "def translate(texts: list[str]" in code[0].value
