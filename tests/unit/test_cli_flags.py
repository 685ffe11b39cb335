"""CLI options that the run's task does not use are refused from one table (builder.__main__.APPLIES), before
any data is read or TensorFlow imported; options shared by several tasks still work; beam widths are bounded
(builder.limits) and a top-k beyond the vocabulary is said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder import ModelSpec, load_preset
from builder import __main__ as cli
from builder.__main__ import ANY, APPLIES, RUN_OPTIONS, _parser, build_spec, check_options, main
from builder.limits import LimitError, check_beam_width
from builder.serving.generate import check_generate_args, sampling_notices
from builder.tasks.registry import TASKS, get_task
from builder.training.runs import METADATA_FORMAT

TRAIN = ["train", "--data", "x.csv", "--out", "run"]


@pytest.fixture(autouse=True)
def _no_tensorflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal comes before TensorFlow: importing it here fails the test."""
    import builder.quiet

    def refuse() -> None:
        raise AssertionError("TensorFlow imported before the options were checked")

    monkeypatch.setattr(builder.quiet, "import_tensorflow_quietly", refuse)


def fake_run(path: Path, task: str, **resolved: object) -> Path:
    """A run directory with only the metadata that names its task (enough for the option checks)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "metadata.json").write_text(json.dumps({"format": METADATA_FORMAT, "task": task, "resolved": resolved}))
    return path


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one `error:` line of `argv` (exit status 2)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


def test_every_option_of_the_checked_commands_says_where_it_applies() -> None:
    parser = _parser()
    for command, table in APPLIES.items():
        options = {a.dest for a in parser.commands[command]._actions if a.option_strings and a.dest != "help"}
        assert options == set(table), (command, options ^ set(table))
        for tasks in table.values():
            assert tasks == ANY or set(tasks) <= set(TASKS), tasks
    assert set(APPLIES["train"]) >= RUN_OPTIONS
    # predict's options are the tasks' own (Task.predict_options)
    assert set(APPLIES["predict"]["beam"]) == {t for t in TASKS if "beam" in get_task(t).predict_options}


@pytest.mark.parametrize(("extra", "message"), [
    (["--task", "generate", "--horizon", "3"], "--horizon does not apply to task generate (it is used by: forecast)"),
    (["--preset", "char_rnn", "--horizon", "3"],
     "--horizon does not apply to task generate (it is used by: forecast); the task comes from --preset char_rnn"),
    (["--source-col", "a"], "--source-col does not apply to task forecast (it is used by: translate); "
                            "forecast is the default task (give --task)"),
    (["--task", "forecast", "--beam-width", "2"], "--beam-width does not apply to task forecast"),
    (["--task", "forecast", "--attention", "luong"], "--attention does not apply to task forecast"),
    (["--task", "forecast", "--schedule", "linear"], "--schedule does not apply to task forecast"),
    (["--task", "forecast", "--tokens", "words"], "--tokens does not apply to task forecast"),
    (["--task", "classify", "--known-future", "h"], "--known-future does not apply to task classify"),
    (["--task", "classify", "--season-length", "7"], "--season-length does not apply to task classify"),
    (["--task", "classify", "--target", "y"], "--target does not apply to task classify"),
    (["--task", "classify", "--time-col", "t"], "--time-col does not apply to task classify"),
    (["--task", "label_steps", "--node-col", "n"], "--node-col does not apply to task label_steps (it is used by: tree)"),
    (["--task", "classify", "--parent-col", "p"], "--parent-col does not apply to task classify"),
    (["--task", "forecast", "--token-col", "w"], "--token-col does not apply to task forecast"),
    (["--task", "classify", "--tree-col", "t"], "--tree-col does not apply to task classify"),
    (["--task", "forecast", "--context", "50"], "--context does not apply to task forecast (it is used by: generate)"),
    (["--task", "translate", "--text", "t.txt"], "--text does not apply to task translate"),
    (["--task", "tree", "--order-col", "o"], "--order-col does not apply to task tree"),
    (["--task", "tree", "--missing", "drop"], "--missing does not apply to task tree"),
    (["--task", "translate", "--lookback", "8"], "--lookback does not apply to task translate"),
    (["--task", "generate", "--features", "a"], "--features does not apply to task generate"),
    (["--task", "generate", "--id-col", "a"], "--id-col does not apply to task generate"),
    (["--task", "translate", "--label-col", "a"], "--label-col does not apply to task translate"),
    (["--task", "classify", "--budget-s", "5"], "--budget-s does not apply to task classify"),
])
def test_train_refuses_an_option_its_task_does_not_use(extra, message, capsys) -> None:
    assert refused([*TRAIN, *extra], capsys).startswith(f"error: {message}")


def test_the_task_of_a_spec_file_decides(tmp_path, capsys) -> None:
    spec = tmp_path / "tree.json"
    load_preset("child_sum_tree_lstm").to_json(spec)
    err = refused([*TRAIN, "--spec", str(spec), "--horizon", "2"], capsys)
    assert f"--horizon does not apply to task tree (it is used by: forecast); the task comes from --spec {spec}" in err
    check_options(_parser(), _parser().parse_args([*TRAIN, "--spec", str(spec), "--node-col", "n"]))  # tree's own
    # --task overrides the spec file's task: its options are the new task's
    args = _parser().parse_args([*TRAIN, "--spec", str(spec), "--task", "forecast", "--horizon", "2"])
    check_options(_parser(), args)


@pytest.mark.parametrize("argv", [
    ["--task", "forecast", "--target", "y", "--time-col", "t", "--features", "a", "b", "--known-future", "a",
     "--lookback", "8", "--horizon", "2", "--season-length", "4", "--missing", "ffill", "--test-data", "t.csv"],
    ["--task", "classify", "--id-col", "s", "--label-col", "l", "--order-col", "o", "--features", "a",
     "--lookback", "20", "--missing", "drop"],
    ["--task", "label_steps", "--id-col", "s", "--label-col", "l", "--order-col", "o", "--features", "a",
     "--lookback", "20", "--missing", "interpolate"],
    ["--task", "tree", "--tree-col", "t", "--node-col", "n", "--parent-col", "p", "--token-col", "w",
     "--label-col", "l", "--features", "a", "--test-data", "t.csv"],
    ["--task", "generate", "--text", "t.txt", "--context", "40"],
    ["--task", "generate", "--lookback", "40"],
    ["--task", "translate", "--source-col", "s", "--target-col", "t", "--tokens", "words", "--attention", "luong",
     "--schedule", "linear", "--beam-width", "3"],
    ["--preset", "auto", "--budget-s", "30"],
])
@pytest.mark.parametrize("common", [[], ["--epochs", "2", "--batch-size", "8", "--learning-rate", "0.01", "--seed", "3",
                                         "--units", "16", "--quiet", "--mirrored"]])
def test_options_a_task_uses_are_accepted(argv, common) -> None:
    parser = _parser()
    check_options(parser, parser.parse_args([*TRAIN, *argv, *common]))


def test_aliases_set_one_field_and_must_agree(capsys) -> None:
    spec = build_spec(_parser().parse_args([*TRAIN, "--task", "tree", "--tree-col", "tid"]))
    assert spec.task == "tree" and spec.data.id_col == "tid"
    assert build_spec(_parser().parse_args([*TRAIN, "--task", "generate", "--context", "40"])).data.lookback == 40
    with pytest.raises(cli.CliError, match="--tree-col a and --id-col b: the same setting; give it once"):
        build_spec(_parser().parse_args([*TRAIN, "--task", "tree", "--tree-col", "a", "--id-col", "b"]))
    with pytest.raises(cli.CliError, match="--context 40 and --lookback 30"):
        build_spec(_parser().parse_args([*TRAIN, "--task", "generate", "--context", "40", "--lookback", "30"]))


def test_resume_refuses_spec_options_and_keeps_run_options(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    ModelSpec().to_json(out / "spec.json")
    base = ["train", "--resume", "--data", "x.csv", "--out", str(out)]
    err = refused([*base, "--epochs", "5", "--horizon", "2"], capsys)
    assert err.startswith("error: --horizon, --epochs: not with --resume, which continues") and "spec.json" in err
    check_options(_parser(), _parser().parse_args([*base, "--quiet", "--test-data", "t.csv"]))


@pytest.mark.parametrize(("task", "extra", "message"), [
    ("forecast", ["predict", "--out", "o.csv", "--data", "x.csv", "--beam", "3"],
     "--beam does not apply to task forecast (it is used by: translate)"),
    ("classify", ["predict", "--out", "o.csv", "--data", "x.csv", "--beam", "0"], "--beam does not apply to task classify"),
    ("forecast", ["explain", "--out", "o.csv", "--data", "x.csv", "--index", "0", "--class", "1"],
     "--class does not apply to task forecast (it is used by: classify)"),
    ("classify", ["explain", "--out", "o.csv", "--data", "x.csv", "--index", "0", "--step", "1"],
     "--step does not apply to task classify (it is used by: forecast)"),
    ("classify", ["explain", "--out", "o.csv", "--data", "x.csv", "--index", "0", "--target", "0"],
     "--target does not apply to task classify"),
    ("tree", ["explain", "--out", "o.csv", "--data", "x.csv", "--index", "0"], "explain: for forecast and classify runs"),
    ("translate", ["backtest", "--data", "x.csv", "--origins", "2"], "backtest: for forecast runs"),
    ("forecast", ["generate", "--prompt", "a"], "generate: for generate runs"),
])
def test_run_commands_refuse_what_the_runs_task_does_not_use(task, extra, message, tmp_path, capsys) -> None:
    run = fake_run(tmp_path / "run", task)
    err = refused([extra[0], "--run", str(run), *extra[1:]], capsys)
    assert err.startswith(f"error: {message}") and err.endswith(f"; {run} is a {task} run"), err


@pytest.mark.parametrize(("task", "argv"), [
    ("translate", ["predict", "--data", "x.csv", "--out", "o.csv", "--beam", "3"]),
    ("forecast", ["explain", "--data", "x.csv", "--index", "0", "--out", "o.csv", "--step", "1", "--target", "0",
                  "--baseline", "seasonal_naive"]),
    ("classify", ["explain", "--data", "x.csv", "--index", "0", "--out", "o.csv", "--class", "1", "--steps", "8"]),
    ("forecast", ["backtest", "--data", "x.csv", "--origins", "2", "--refit"]),
    ("generate", ["generate", "--prompt", "a", "--top-k", "3", "--length", "5"]),
])
def test_run_commands_accept_the_options_of_their_task(task, argv, tmp_path) -> None:
    run = fake_run(tmp_path / "run", task)
    parser = _parser()
    check_options(parser, parser.parse_args([argv[0], "--run", str(run), *argv[1:]]))


def test_beam_widths_are_bounded(tmp_path, capsys, monkeypatch) -> None:
    run = fake_run(tmp_path / "run", "translate")
    argv = ["predict", "--run", str(run), "--data", "x.csv", "--out", "o.csv", "--beam"]
    monkeypatch.setattr(cli, "check_options", lambda *_: None)  # past the table; the bound comes before any loading
    monkeypatch.setattr("builder.quiet.import_tensorflow_quietly", lambda: None)
    err = refused([*argv, "100000"], capsys)
    assert err == ("error: --beam 100000: a beam search of 100,000 hypotheses per output token is too wide; "
                   "the limit is 256 (RNN_STUDIO_MAX_BEAM_WIDTH)")
    assert "expected a beam width of 0 (no beam search) or more" in refused([*argv, "-1"], capsys)
    monkeypatch.setenv("RNN_STUDIO_MAX_BEAM_WIDTH", "4")
    assert "the limit is 4 (RNN_STUDIO_MAX_BEAM_WIDTH)" in refused([*argv, "5"], capsys)
    check_beam_width(4, "--beam")
    with pytest.raises(LimitError, match="--beam 5"):  # generate's beam: the same limit
        check_generate_args(10, 1.0, 0, 5)
    # train --beam-width: the spec field's own bound (the evaluation's beam)
    with pytest.raises(ValueError, match="seq2seq.beam_width"):
        build_spec(_parser().parse_args([*TRAIN, "--task", "translate", "--beam-width", "100000"]))


def test_top_k_beyond_the_vocabulary_is_said(tmp_path, capsys, monkeypatch) -> None:
    vocab = ["\x00", "a", "b", "c"]
    assert sampling_notices(4, vocab) == [] and sampling_notices(0, vocab) == []
    (note,) = sampling_notices(50, vocab)
    assert note == ("--top-k 50: more than the 4 characters the model knows (the unknown symbol included), "
                    "so all 4 are sampled from, as with --top-k 0")
    run = fake_run(tmp_path / "run", "generate", classes=vocab)
    monkeypatch.setattr("builder.quiet.import_tensorflow_quietly", lambda: None)
    monkeypatch.setattr("builder.serving.generate.generate_from_run", lambda *a, **k: "abc")
    assert main(["generate", "--run", str(run), "--prompt", "a", "--top-k", "50"]) == 0
    assert capsys.readouterr().err == f"note: {note}\n"
    with pytest.raises(ValueError, match="--top-k: expected 0 \\(all\\) or more, got -1"):
        check_generate_args(10, 1.0, -1, 0)
    assert "--top-k 3: for sampling; --temperature 0 takes the most likely character" in refused(
        ["generate", "--run", str(run), "--top-k", "3", "--temperature", "0"], capsys)
