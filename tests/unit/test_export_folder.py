"""Exports into a folder that already holds one (builder.serving.export.export_folder): each export is
written whole into a fresh folder beside the target and swapped into place only once it is complete, so
the folder holds exactly the latest export's files (never an old ONNX file beside a new SavedModel, never a
half-written export), a failed export leaves the earlier one as it was, and a folder of files that no export
of ours wrote is refused by name and left alone."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from builder import load_preset
from builder.__main__ import main
from builder.data import load_table
from builder.serving import convert, export
from builder.serving.convert import ConversionError, convert_run
from builder.serving.export import EXPORT_RECORD, ExportFolderError, export_run
from builder.tasks import prepare_frame
from tests.conftest import make_series_csv
from tests.unit.built_runs import built_run
from tests.unit.test_pipeline import tiny

SAVEDMODEL_FILES = {"saved_model", "model.keras", "metadata.json", "spec.json", "README.txt", EXPORT_RECORD}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two built (untrained) forecast runs of different models: a (GRU, horizon 2) and b (LSTM, horizon 3)."""
    root = tmp_path_factory.mktemp("runs")
    csv = make_series_csv(root / "series.csv")
    out = {}
    for name, cell, horizon in (("a", "gru", 2), ("b", "lstm", 3)):
        spec = tiny(load_preset("deep_gru"), lookback=8, horizon=horizon).updated(
            name=f"run-{name}", blocks=[{"kind": "recurrent", "cell": cell, "units": 4}], training={"jit_compile": False})
        out[name] = built_run(spec, prepare_frame(load_table(csv), spec), root / f"run-{name}")
    return out


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256 of its bytes)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _export(run, out: Path, fmt: str = "savedmodel") -> int:
    return main(["export", "--run", str(run.path), "--out", str(out), "--format", fmt])


def test_a_second_export_leaves_exactly_its_own_files(runs, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert _export(runs["a"], out) == 0 and _names(out) == SAVEDMODEL_FILES
    # a different run and format: the first export's SavedModel, model.keras, metadata ... are gone
    assert _export(runs["b"], out, "onnx") == 0
    assert _names(out) == {"model.onnx", "model.onnx.json", EXPORT_RECORD}
    record = json.loads((out / EXPORT_RECORD).read_text())
    assert record["run"] == "run-b" and record["kind"] == "onnx" and record["files"] == ["model.onnx", "model.onnx.json"]
    # and back to a SavedModel of the other run: no ONNX file beside it; the SavedModel is run a's, file for file
    assert _export(runs["a"], out) == 0 and _names(out) == SAVEDMODEL_FILES
    assert _tree(out / "saved_model") == _tree(runs["a"].file("saved_model"))
    assert (out / "metadata.json").read_bytes() == runs["a"].file("metadata.json").read_bytes()
    # savedmodel over savedmodel of another run: run b's files only (its saved_model tree, not a union)
    assert _export(runs["b"], out) == 0
    assert _tree(out / "saved_model") == _tree(runs["b"].file("saved_model"))
    assert json.loads((out / "spec.json").read_text())["name"] == "run-b"
    assert _names(tmp_path) == {"deploy"}, "no temporary or older folder left beside it"
    capsys.readouterr()


def test_a_failed_export_leaves_the_earlier_export_intact(runs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "deploy"
    assert _export(runs["a"], out) == 0
    before = _tree(out)

    def fail(meta):  # midway: after the SavedModel and model.keras were copied
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(export, "serving_snippet", fail)
        with pytest.raises(RuntimeError, match="disk full"):
            export_run(runs["b"], out)
    assert _tree(out) == before and _names(tmp_path) == {"deploy"}
    # a conversion whose file was written but fails its check against the SavedModel leaves it too

    def disagree(fmt, got, ref):
        raise ConversionError(f"{fmt}: the converted file disagrees with the SavedModel")

    monkeypatch.setattr(convert, "_compare", disagree)
    with pytest.raises(ConversionError, match="disagrees"):
        convert_run(runs["b"], "onnx", out)
    assert _tree(out) == before and _names(tmp_path) == {"deploy"}
    assert _export(runs["b"], out, "onnx") == 2  # the CLI: one error line, exit 2, the export still there
    err = capsys.readouterr().err
    assert err.startswith("error: onnx: ") and err.count("\n") == 1 and _tree(out) == before


def test_a_folder_of_other_files_is_refused_and_kept(runs, tmp_path, capsys):
    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "src" / "app.py").write_text("print(1)")
    before = _tree(out)
    for fmt in ("savedmodel", "onnx", "litert"):
        assert _export(runs["a"], out, fmt) == 2
        err = capsys.readouterr().err
        assert err == (f"error: {out}: the folder is not empty and is not an export of ours: it holds notes.txt, src; "
                       "export into a new or empty folder (nothing was changed)\n")
        assert _tree(out) == before and _names(tmp_path) == {"project"}
    # a file of ours alone does not make a folder ours: a README.txt of the user's is not replaced
    other = tmp_path / "docs"
    other.mkdir()
    (other / "README.txt").write_text("mine")
    with pytest.raises(ExportFolderError, match="not an export of ours: it holds README.txt"):
        export_run(runs["a"], other)
    assert (other / "README.txt").read_text() == "mine"


def test_an_export_with_files_added_by_hand_is_refused_by_their_names(runs, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert _export(runs["a"], out) == 0
    (out / "serve.py").write_text("# the engineer's own file")
    before = _tree(out)
    assert _export(runs["b"], out, "onnx") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: an earlier export of run 'run-a' that also holds serve.py, which no export "
                          "wrote") and err.count("\n") == 1
    assert _tree(out) == before


def test_an_empty_folder_and_an_export_written_before_the_record_are_replaced(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _export(runs["a"], empty, "onnx") == 0 and _names(empty) == {"model.onnx", "model.onnx.json", EXPORT_RECORD}
    # an export as the tool wrote it before it kept a record: its files and a conversion record of ours
    (empty / EXPORT_RECORD).unlink()
    assert _export(runs["b"], empty) == 0 and _names(empty) == SAVEDMODEL_FILES
    (empty / EXPORT_RECORD).unlink()  # and an earlier SavedModel export: known by its metadata.json
    assert _export(runs["a"], empty, "onnx") == 0 and _names(empty) == {"model.onnx", "model.onnx.json", EXPORT_RECORD}
    capsys.readouterr()


def test_the_current_folder_is_never_replaced(runs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "deploy"
    assert _export(runs["a"], out) == 0
    monkeypatch.chdir(out)
    assert main(["export", "--run", str(runs["b"].path), "--out", "."]) == 2
    assert capsys.readouterr().err == "error: .: is the current folder or holds it; export into a folder beside it\n"
    assert os.getcwd() == str(out.resolve()) and (out / "metadata.json").exists()


def test_code_from_a_spec_over_a_runs_code_removes_that_runs_weights(runs, tmp_path, capsys):
    # before: m.weights.h5 of run a stayed beside the spec's m.py, whose __main__ loads it when it is there
    out = tmp_path / "m.py"
    assert main(["code", "--run", str(runs["a"].path), "--out", str(out)]) == 0
    assert _names(tmp_path) == {"m.py", "m.weights.h5"}
    assert main(["code", "--spec", str(runs["b"].file("spec.json")), "--out", str(out)]) == 0
    assert _names(tmp_path) == {"m.py"} and "run-b" in out.read_text()
    # weights beside a file that is not a run's generated file are the user's: left alone
    (tmp_path / "h.py").write_text("print('mine')\n")
    (tmp_path / "h.weights.h5").write_bytes(b"mine")
    assert main(["code", "--spec", str(runs["b"].file("spec.json")), "--out", str(tmp_path / "h.py")]) == 0
    assert (tmp_path / "h.weights.h5").read_bytes() == b"mine"
    capsys.readouterr()


def test_the_swapped_folder_keeps_the_mode_a_folder_gets(runs, tmp_path, capsys):
    # the fresh folder comes from mkdtemp (private, 0700): a deployed export must stay readable as mkdir makes it
    out = tmp_path / "deploy"
    assert _export(runs["a"], out, "onnx") == 0
    probe = tmp_path / "probe"
    probe.mkdir()
    assert out.stat().st_mode & 0o777 == probe.stat().st_mode & 0o777
    out.chmod(0o750)  # an earlier export's mode is kept
    assert _export(runs["b"], out, "onnx") == 0 and out.stat().st_mode & 0o777 == 0o750
    capsys.readouterr()
