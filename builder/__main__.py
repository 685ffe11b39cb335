"""The command line: python -m builder presets | train | predict | export | backtest | generate | code | explain |
import-torch | spec (the worker process is `python -m builder.training.worker`).

Bad input ends with one line `error: ...` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from builder.tasks.registry import TASKS, accepted_loss, get_task  # light: TensorFlow stays unimported

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")

EXIT_USAGE = 2


class CliError(Exception):
    """A problem with the user's input: printed as `error: ...`, exit status 2."""


class _Parser(argparse.ArgumentParser):
    #: the parser of each command (set on the top-level parser by `_parser`)
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        # self.prog: "python -m builder" for the top level, "python -m builder train" for a command
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_USAGE)


def _parser() -> _Parser:
    p = _Parser(prog="python -m builder", description="RNN Studio: design, train, evaluate and export RNNs.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("presets", help="list the presets")

    t = sub.add_parser("train", help="train a model on a CSV into a run directory")
    t.add_argument("--data", help="training CSV (task generate: a UTF-8 text file)")
    t.add_argument("--text", help="task generate: the UTF-8 text file (same as --data)")
    t.add_argument("--context", type=int, help="task generate: window length in characters (the spec's lookback)")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--preset", help="preset name (see `presets`); default: the task's default preset")
    src.add_argument("--spec", help="spec JSON file")
    t.add_argument("--task", choices=sorted(TASKS), help="default: the spec's task")
    t.add_argument("--target", nargs="+", dest="targets", help="column(s) to forecast")
    t.add_argument("--time-col")
    t.add_argument("--features", nargs="+", help="covariate / feature columns (default: every numeric column)")
    t.add_argument("--known-future", nargs="+", dest="known_future", metavar="COLUMN",
                   help="forecast: covariate columns whose future values are known (holiday flags, planned prices); "
                        "their next --horizon values become inputs, and `predict` needs them in rows after the data")
    t.add_argument("--lookback", type=int)
    t.add_argument("--horizon", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--missing", choices=["interpolate", "ffill", "drop", "refuse"])
    t.add_argument("--season-length", type=int)
    t.add_argument("--id-col")
    t.add_argument("--order-col")
    t.add_argument("--label-col")
    t.add_argument("--test-data", help="evaluate on this CSV instead of a held-out part")
    # tree task (node tables): the role of each column, detected from the shared names when not given
    t.add_argument("--tree-col", help="tree id column (task tree; same as --id-col)")
    t.add_argument("--node-col", help="node id column (task tree)")
    t.add_argument("--parent-col", help="parent id column, empty at a root (task tree)")
    t.add_argument("--token-col", help="token column (task tree)")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    t.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    t.add_argument("--out", required=True, help="run directory to create")
    # task translate (builder/tasks/translate.py): a table of text pairs; each flag sets a spec field
    t.add_argument("--source-col", help="task translate: the source text column (data.source_col)")
    t.add_argument("--target-col", help="task translate: the target text column (data.target_col)")
    t.add_argument("--tokens", choices=["characters", "words"], help="task translate: token unit (seq2seq.tokens)")
    t.add_argument("--units", type=int, help="units of every recurrent block (task translate: the encoder and the decoder)")
    t.add_argument("--attention", choices=["bahdanau", "luong", "none"],
                   help="task translate: attention over the encoder outputs (seq2seq.attention)")
    t.add_argument("--schedule", choices=["none", "linear", "exponential", "inverse_sigmoid"],
                   help="task translate: scheduled-sampling decay of the teacher-forcing ratio (seq2seq.teacher_forcing)")
    t.add_argument("--beam-width", type=int,
                   help="task translate: beam width of the evaluation beside greedy (seq2seq.beam_width; 0: greedy only)")
    t.add_argument("--budget-s", type=float, help="with --preset auto: seconds for the search (default 600)")
    t.add_argument("--workers", help="train on several workers (MultiWorkerMirroredStrategy): HOST:PORT,HOST:PORT,...; "
                   "start the same command once per worker with its --worker-index (0 = the chief, which writes --out); "
                   "an existing TF_CONFIG does the same")
    t.add_argument("--worker-index", type=int, help="with --workers: this process's place in the list (0 = chief)")
    t.add_argument("--mirrored", action="store_true", help="train with MirroredStrategy over this host's devices")

    pr = sub.add_parser("predict", help="forecast after the data's end, or classify each sequence")
    pr.add_argument("--run", required=True)
    pr.add_argument("--data", required=True)
    pr.add_argument("--out", required=True, help="output CSV")
    pr.add_argument("--beam", type=int, help="task translate: beam width (default 0: greedy)")

    e = sub.add_parser("export", help="copy a run's SavedModel, model.keras and metadata to a directory, "
                       "or convert its model to ONNX / LiteRT (checked against the SavedModel)")
    e.add_argument("--run", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--format", choices=["savedmodel", "onnx", "litert"], default="savedmodel",
                   help="savedmodel (default): the run's artifacts; onnx: model.onnx; litert: model.tflite")

    g = sub.add_parser("generate", help="generate text with a trained `generate` run")
    g.add_argument("--run", required=True)
    g.add_argument("--prompt", default="", help="text to continue (default: none)")
    g.add_argument("--length", type=int, default=200, help="characters to generate")
    g.add_argument("--temperature", type=float, help="sampling temperature (default 1); 0: greedy (argmax)")
    g.add_argument("--top-k", type=int, help="sample from the k most likely characters only (default 0: all)")
    g.add_argument("--beam", type=int, default=0, help="beam search of this width instead of sampling")
    g.add_argument("--alpha", type=float, help="with --beam: length normalisation exponent (default 0)")
    g.add_argument("--seed", type=int, default=0, help="seed of the sampling draws (same seed, same text)")
    c = sub.add_parser("code", help="write a standalone plain-Keras Python file of a run's model (+ its weights) or a spec's")
    src_c = c.add_mutually_exclusive_group(required=True)
    src_c.add_argument("--run", help="finished run: the file and its weights beside it (model.py: model.weights.h5)")
    src_c.add_argument("--spec", help="spec JSON file: the file alone, freshly initialised")
    c.add_argument("--out", required=True, help="the .py file to write")

    x = sub.add_parser("explain", help="integrated gradients and gradient saliency of one window / sequence, per step and feature")
    x.add_argument("--run", required=True)
    x.add_argument("--data", required=True, help="CSV with the run's columns")
    x.add_argument("--index", type=int, required=True,
                   help="forecast: the window starting at this row (-1: the last window); classify: the sequence number")
    x.add_argument("--out", required=True, help="attributions CSV (one row per time step and feature)")
    x.add_argument("--baseline", choices=["mean", "seasonal_naive"], default="mean",
                   help="integrated gradients' baseline: the training mean (default) or the window's last season repeated")
    x.add_argument("--steps", type=int, default=64, help="integration steps (more: closer completeness)")
    x.add_argument("--step", type=int, help="forecast step to explain, 1..horizon (default: the sum over the horizon)")
    x.add_argument("--target", type=int, help="forecast target index (0-based; default 0)")
    x.add_argument("--class", type=int, dest="klass", help="class index to explain (default: the predicted class)")

    it = sub.add_parser("import-torch", help="prepare a run from an nn.LSTM / nn.GRU state dict (.safetensors) and a spec; "
                        "then `train --resume --data F.csv --out RUN` trains it")
    it.add_argument("--weights", required=True, help=".safetensors state dict (pickled .pt files are refused)")
    it.add_argument("--spec", required=True, help="spec JSON whose first recurrent block takes the weights")
    it.add_argument("--out", required=True, help="run directory to create")
    it.add_argument("--n-features", type=int, help="input features, when the spec does not fix them")

    s = sub.add_parser("spec", help="print a preset's spec as JSON (or the JSON Schema); default: the spec `train` uses")
    s.add_argument("--preset", default=None, help="default: the default task's default preset, as `train` without --preset")
    s.add_argument("--schema", action="store_true")

    b = sub.add_parser("backtest", help="rolling-origin backtest of a forecast run beside the baselines")
    b.add_argument("--run", required=True)
    b.add_argument("--data", required=True, help="the series CSV (the run's columns)")
    b.add_argument("--origins", type=int, required=True, help="number of origins K (the last K x horizon rows)")
    b.add_argument("--refit", action="store_true", help="train the run's spec again before every origin")
    p.commands = dict(sub.choices)
    return p


# ---- where each option applies ------------------------------------------------------------------------
ANY = ("*",)  # every task
FORECAST = ("forecast",)
LONG_ROWS = ("classify", "label_steps")  # long-format sequence tables: one row per step of a sequence
EXPLAINED = ("forecast", "classify")  # builder.serving.explain: forecast windows and classified sequences

#: The tasks each option of a command applies to: command -> argparse dest -> task names (ANY: every task).
#: `train` decides once its task is known (--task, else the preset's or the spec file's; with --resume the
#: run's); predict / explain / backtest / generate read the run's task. An option given for a task that
#: does not use it is refused (`error: --horizon does not apply to task generate (it is used by: forecast)`)
#: instead of being ignored; a required option that does not apply refuses the command for that run.
#: Every option of these commands is listed (tests/unit/test_cli_flags.py checks), so a new option, or a
#: new task, says here where it applies.
APPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        # the run: files, progress, resuming, devices
        "data": ANY, "out": ANY, "test_data": ANY, "resume": ANY, "quiet": ANY,
        "workers": ANY, "worker_index": ANY, "mirrored": ANY,
        # the spec and its training settings
        "preset": ANY, "spec": ANY, "task": ANY, "epochs": ANY, "batch_size": ANY, "learning_rate": ANY,
        "seed": ANY, "units": ANY, "budget_s": FORECAST,  # --preset auto searches forecasts only
        # spec.data: forecast
        "targets": FORECAST, "time_col": FORECAST, "known_future": FORECAST, "horizon": FORECAST,
        "season_length": FORECAST,
        # spec.data: shared by several tasks
        "features": ("forecast", *LONG_ROWS, "tree"),
        "lookback": ("forecast", *LONG_ROWS, "generate"),  # generate: the context, as --context
        "missing": ("forecast", *LONG_ROWS),
        "id_col": (*LONG_ROWS, "tree"), "label_col": (*LONG_ROWS, "tree"), "order_col": LONG_ROWS,
        # tree: the node table's columns
        "tree_col": ("tree",), "node_col": ("tree",), "parent_col": ("tree",), "token_col": ("tree",),
        # generate: a text file and its window
        "text": ("generate",), "context": ("generate",),
        # translate: the pairs' columns and spec.seq2seq
        "source_col": ("translate",), "target_col": ("translate",), "tokens": ("translate",),
        "attention": ("translate",), "schedule": ("translate",), "beam_width": ("translate",),
    },
    "predict": {"run": ANY, "data": ANY, "out": ANY, "beam": ("translate",)},  # beam: Task.predict_options
    "explain": {"run": EXPLAINED, "data": EXPLAINED, "index": EXPLAINED, "out": EXPLAINED, "baseline": EXPLAINED,
                "steps": EXPLAINED, "step": FORECAST, "target": FORECAST, "klass": ("classify",)},
    "backtest": {"run": FORECAST, "data": FORECAST, "origins": FORECAST, "refit": FORECAST},
    "generate": {key: ("generate",) for key in
                 ("run", "prompt", "length", "temperature", "top_k", "beam", "alpha", "seed")},
}

#: train's options that set the run rather than its spec: the only ones --resume takes (it continues
#: with the spec.json the run started with)
RUN_OPTIONS = frozenset({"data", "text", "out", "test_data", "resume", "quiet", "workers", "worker_index", "mirrored"})


def given_options(parser: _Parser, args: argparse.Namespace) -> list[tuple[str, str, bool]]:
    """(dest, flag, required) of each option of `args.command` given a value other than its default."""
    command = parser.commands[args.command]
    return [(a.dest, a.option_strings[0], a.required) for a in command._actions
            if a.option_strings and a.dest != "help" and getattr(args, a.dest) != a.default]


def _train_task(args: argparse.Namespace) -> tuple[str, str]:
    """(the task `train` will build, the tail of a message saying where it comes from)."""
    from builder import ModelSpec, load_preset

    if args.task:
        return args.task, ""
    if args.spec:
        return ModelSpec.from_json(args.spec).task, f"; the task comes from --spec {args.spec} (or give --task)"
    if args.preset and args.preset != "auto":
        return load_preset(args.preset).task, f"; the task comes from --preset {args.preset} (or give --task)"
    task = str(ModelSpec.model_fields["task"].default)
    return task, f"; {task} is the default task (give --task)"


def _run_task(run: str) -> str | None:
    """The task of finished run `run`, or None where it has none to read (the command then says why)."""
    from builder.training.runs import Run

    try:
        return str(Run(run).metadata()["task"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_options(parser: _Parser, args: argparse.Namespace) -> None:
    """CliError for an option given to a command whose task does not use it (see APPLIES); before any
    data is read or TensorFlow imported."""
    table = APPLIES.get(args.command)
    if table is None:
        return
    given = given_options(parser, args)
    if args.command == "train":
        if args.resume:  # (a directory that is no run: cmd_train says so)
            spec_options = [flag for dest, flag, _ in given if dest not in RUN_OPTIONS]
            if spec_options and (Path(args.out) / "spec.json").exists():
                raise CliError(f"{', '.join(spec_options)}: not with --resume, which continues {args.out} with the "
                               f"spec it started with ({Path(args.out) / 'spec.json'}); leave "
                               f"{'it' if len(spec_options) == 1 else 'them'} out (or train a new run)")
            return
        task, where = _train_task(args)
    else:
        found = _run_task(args.run)
        if found is None:
            return
        task, where = found, f"; {args.run} is a {found} run"
    for dest, flag, required in sorted(given, key=lambda g: not g[2]):  # the command's own refusal first
        tasks = table[dest]
        if tasks != ANY and task not in tasks:
            if required:
                raise CliError(f"{args.command}: for {' and '.join(tasks)} runs{where}")
            raise CliError(f"{flag} does not apply to task {task} (it is used by: {', '.join(tasks)}){where}")


def build_spec(args: argparse.Namespace) -> Any:
    """The spec from --spec / --preset with the command-line overrides applied."""
    from builder import ModelSpec, load_preset

    if args.spec:
        spec = ModelSpec.from_json(args.spec)
    else:
        spec = load_preset(args.preset or TASKS[args.task or ModelSpec.model_fields["task"].default].default_preset)
    data: dict[str, Any] = {}
    for flag, key, alias in (("--context", "lookback", "context"), ("--tree-col", "id_col", "tree_col")):
        value, other = getattr(args, alias, None), getattr(args, key, None)
        if value is not None and other is not None and value != other:
            raise CliError(f"{flag} {value} and --{key.replace('_', '-')} {other}: the same setting; give it once")
        if value is not None:
            setattr(args, key, value)
    for key in ("targets", "time_col", "features", "known_future", "lookback", "horizon", "missing", "season_length",
                "id_col", "order_col", "label_col", "node_col", "parent_col", "token_col", "source_col", "target_col"):
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    training = {k: getattr(args, k) for k in ("epochs", "batch_size", "learning_rate", "seed") if getattr(args, k) is not None}
    changes: dict[str, Any] = {"data": data, "training": training}
    if args.task:
        changes["task"] = args.task
        training["loss"] = accepted_loss(args.task, spec.training.loss)
    seq2seq = {field: getattr(args, flag) for flag, field in (("tokens", "tokens"), ("attention", "attention"),
               ("schedule", "teacher_forcing"), ("beam_width", "beam_width")) if getattr(args, flag, None) is not None}
    if seq2seq:
        changes["seq2seq"] = seq2seq
    if getattr(args, "units", None) is not None:
        changes["blocks"] = [{**b, "units": args.units} if b["kind"] == "recurrent" else b
                             for b in spec.model_dump(mode="json")["blocks"]]
    return spec.updated(**changes)


def _printer(spec: Any) -> Any:
    tty = sys.stderr.isatty()
    epochs = spec.training.epochs

    def progress(epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        if batch is not None:
            if tty:
                sys.stderr.write(f"\repoch {epoch + 1}/{epochs}  batch {batch + 1}  loss {logs.get('loss', float('nan')):.4f}")
                sys.stderr.flush()
            return
        parts = [f"epoch {epoch + 1}/{epochs}", f"loss {logs.get('loss', float('nan')):.4f}"]
        if "val_loss" in logs:
            parts.append(f"val_loss {logs['val_loss']:.4f}")
        parts.append(f"{logs.get('seconds', 0):.1f}s")
        sys.stderr.write(("\r" if tty else "") + "  ".join(parts) + "\n")
        sys.stderr.flush()

    return progress


def format_metrics(metrics: dict[str, Any]) -> str:
    """A small text table of the model beside its baselines (the task's own layout)."""
    return get_task(metrics["task"]).cli_table(metrics)


def cmd_train(args: argparse.Namespace) -> int:
    from builder.training.fit import train_run

    out = Path(args.out)
    if args.data and args.text and args.data != args.text:
        raise CliError(f"--data {args.data} and --text {args.text}: give the training file once")
    args.data = args.data or args.text
    if not args.data:
        raise CliError("train: expected --data FILE (or --text FILE for task generate)")
    from builder.training.distributed import make_strategy, parse_cluster

    cluster = parse_cluster(args.workers, args.worker_index)
    if cluster is not None and args.mirrored:
        raise CliError("--mirrored: not with --workers / TF_CONFIG (each worker mirrors its own devices already)")
    if cluster is not None and args.preset == "auto":
        raise CliError("--preset auto: not with --workers / TF_CONFIG")
    chief = cluster is None or cluster.is_chief
    if args.resume:
        from builder.spec import ModelSpec

        if not (out / "spec.json").exists():
            raise CliError(f"--resume: {out} is not a run directory (no spec.json)")
        spec = ModelSpec.from_json(out / "spec.json")
        (out / "stop.request").unlink(missing_ok=True)  # a stop asked of the interrupted run is not for this one
    else:
        if chief and out.exists() and any(out.iterdir()) and not _failed_before_training(out):
            raise CliError(f"--out {out}: the directory exists and is not empty; choose a new run directory (or --resume)")
        if args.preset == "auto":
            return cmd_train_auto(args)
        if args.budget_s is not None:
            raise CliError(f"--budget-s {args.budget_s:g}: only used with --preset auto")
        spec = build_spec(args)
    strategy = make_strategy(cluster, args.mirrored) if cluster is not None or args.mirrored else None
    t0 = time.time()
    from builder.training.runs import Run, worker_slot

    if strategy is not None:
        from builder.training.distributed import train_distributed

        metrics = train_distributed(spec, args.data, str(out), strategy, is_chief=cluster is None or cluster.is_chief,
                                    test_path=args.test_data, progress=None if args.quiet else _printer(spec),
                                    resume=args.resume)
        if metrics is None:
            print(f"worker {cluster.index if cluster else 0}: training done ({time.time() - t0:.1f}s)")
            return 0
        print(format_metrics(metrics))
        print(f"run directory: {out}  ({time.time() - t0:.1f}s, {metrics['replicas']} replicas)")
        return 0

    def waiting(position: int, running: int) -> None:
        print(f"waiting for a free training slot: number {position} in the queue, {running} busy "
              "(RNN_STUDIO_MAX_WORKERS)", file=sys.stderr)

    with worker_slot(Run(out), on_wait=waiting):  # at most RNN_STUDIO_MAX_WORKERS trainings at once
        metrics = train_run(spec, args.data, out, test_path=args.test_data,
                            progress=None if args.quiet else _printer(spec), resume=args.resume)
    for note in Run(out).metadata()["resolved"].get("notices", []):
        print(f"note: {note}", file=sys.stderr)
    print(format_metrics(metrics))
    print(f"run directory: {out}  ({time.time() - t0:.1f}s)")
    return 0


def _failed_before_training(out: Path) -> bool:
    """A run directory that a training left when it failed before writing anything but its spec and status
    (bad data, a bad flag): the same --out may be used again."""
    if {p.name for p in out.iterdir()} - {"spec.json", "status.json", ".status.lock"}:
        return False
    try:
        return json.loads((out / "status.json").read_text()).get("state") == "failed"
    except (OSError, ValueError, AttributeError):
        return False


def cmd_train_auto(args: argparse.Namespace) -> int:
    """`train --preset auto`: search presets, lookback, units and learning rate, then train the winner."""
    from builder.training.auto import check_budget, leaderboard_text, search
    from builder.training.fit import train_run
    from builder.training.runs import Run, worker_slot

    budget = check_budget(600.0 if args.budget_s is None else args.budget_s)
    args.preset = None
    base = build_spec(args)
    out = Path(args.out)
    t0 = time.time()
    say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    with worker_slot(Run(out), on_wait=None):
        found = search(base, args.data, budget, seed=base.training.seed, log=say, test_path=args.test_data)
        metrics = train_run(found["best_spec"], args.data, out, test_path=args.test_data,
                            progress=None if args.quiet else _printer(found["best_spec"]))
    Run(out).write_json("auto.json", {k: (v.model_dump(mode="json") if k == "best_spec" else v) for k, v in found.items()})
    print(leaderboard_text(found))
    print(format_metrics(metrics))
    print(f"run directory: {out}  ({time.time() - t0:.1f}s; search {found['complete']} of {found['trials']} trials "
          f"finished in a {budget:g} s budget)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from builder.limits import check_beam_width
    from builder.serving.predict import predict_file

    if (Path(args.run) / "translate.json").exists() and not (Path(args.run) / "metadata.json").exists():
        raise CliError(f"--run {args.run}: a translate run of the old layout (translate.json); train it again with "
                       "`train --task translate`")
    options: dict[str, Any] = {}
    if args.beam is not None:  # only for the tasks APPLIES names (translate), checked in main
        check_beam_width(args.beam, "--beam")
        options["beam"] = args.beam
    out = predict_file(args.run, args.data, args.out, options=options)
    for note in out.attrs.get("notices", []):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(out)} rows to {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from builder.serving.export import export_run
    from builder.training.runs import Run

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise CliError(f"--out {args.out}: a file of that name exists; expected a directory to export into")
    if args.format != "savedmodel":
        from builder.serving.convert import convert_run

        done = convert_run(Run(args.run), args.format, args.out)
        batch = "any batch size" if done.batch is None else f"batch {done.batch}"
        print(f"wrote {done.path} ({done.size_bytes:,} bytes, {batch}); max |difference| to the SavedModel on "
              f"{done.n_check_windows} raw windows: {done.max_abs_diff:.3g}")
        for note in done.notes:
            print(f"note: {note}")
        return 0
    path = export_run(Run(args.run), args.out)
    print(f"exported to {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from builder.serving.generate import (
        check_generate_args,
        generate_from_run,
        prompt_notices,
        sampling_notices,
    )
    from builder.training.runs import Run

    sampling = [f for f, v in (("--temperature", args.temperature), ("--top-k", args.top_k)) if v is not None]
    if args.beam and sampling:
        raise CliError(f"{' and '.join(sampling)}: for sampling; --beam {args.beam} searches for the most likely text "
                       f"and does not use {'it' if len(sampling) == 1 else 'them'} (leave out --beam to sample)")
    if args.alpha is not None and not args.beam:
        raise CliError(f"--alpha {args.alpha:g}: the beam's length normalisation; only with --beam N")
    if args.top_k is not None and args.temperature == 0:
        raise CliError(f"--top-k {args.top_k}: for sampling; --temperature 0 takes the most likely character "
                       "(greedy) and does not use it (leave out --top-k, or give a temperature above 0)")
    args.temperature = 1.0 if args.temperature is None else args.temperature
    args.top_k = 0 if args.top_k is None else args.top_k
    args.alpha = 0.0 if args.alpha is None else args.alpha
    meta = Run(args.run).metadata()
    if meta.get("task") == "generate":  # another task's run: generate_from_run's error names it
        check_generate_args(args.length, args.temperature, args.top_k, args.beam, args.alpha)
        vocab = meta["resolved"]["classes"]
        for note in prompt_notices(args.prompt, vocab) + sampling_notices(args.top_k, vocab):
            print(f"note: {note}", file=sys.stderr)
    print(generate_from_run(args.run, args.prompt, args.length, temperature=args.temperature, top_k=args.top_k,
                            seed=args.seed, beam=args.beam, alpha=args.alpha))
    return 0


def cmd_code(args: argparse.Namespace) -> int:
    from builder.serving.codegen import code_from_run, code_from_spec

    if not args.out.endswith(".py"):
        raise CliError(f"--out {args.out}: expected a .py file name")
    if args.run:
        from builder.training.runs import Run

        code, weights = code_from_run(Run(args.run), args.out)
        print(f"wrote {code} and {weights}")
    else:
        from builder.spec import ModelSpec

        print(f"wrote {code_from_spec(ModelSpec.from_json(args.spec), args.out)} (no weights: built from the spec alone)")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from builder.files import write_csv
    from builder.serving.explain import explain_file
    from builder.training.runs import Run

    expl, table = explain_file(Run(args.run), args.data, args.index, args.baseline, args.steps, args.step,
                               0 if args.target is None else args.target, args.klass)
    for note in table.attrs.get("notices", []):
        print(f"note: {note}", file=sys.stderr)
    write_csv(args.out, table)
    print(f"explained: {expl.output}; f(x) = {expl.f_x:.6g}, f(baseline {expl.baseline_name}) = {expl.f_baseline:.6g}, "
          f"sum of integrated gradients = {expl.integrated_gradients.sum():.6g} "
          f"(gap {100 * expl.completeness_gap:.2f}% with {expl.steps} steps)")
    print(f"wrote {len(table)} rows to {args.out}")
    return 0


def cmd_import_torch(args: argparse.Namespace) -> int:
    from builder.serving.torch_import import import_torch
    from builder.spec import ModelSpec

    record = import_torch(args.weights, ModelSpec.from_json(args.spec), args.out, n_features=args.n_features)
    print(f"imported {len(record['tensors'])} tensors into {args.out} (spec block {record['block']}); "
          f"train it with: python -m builder train --resume --data F.csv --out {args.out}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from builder import list_presets

    for p in list_presets():
        print(f"{p['name']:22} {p['task']:9} {p['title']}\n{'':32}{p['when_to_use']}")
    return 0


def cmd_spec(args: argparse.Namespace) -> int:
    from builder import ModelSpec, load_preset

    if args.schema:
        print(json.dumps(ModelSpec.model_json_schema(), indent=2))
    else:
        default = TASKS[ModelSpec.model_fields["task"].default].default_preset
        print(load_preset(args.preset or default).to_json())
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from builder.serving.backtest import backtest_table, run_backtest

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = run_backtest(args.run, args.data, args.origins, refit=args.refit, progress=say)
    for note in result.get("notices", []):
        say(f"note: {note}")
    print(backtest_table(result))
    print(f"wrote {Path(args.run) / 'backtest.json'} and backtest.csv")
    return 0


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "export": cmd_export, "presets": cmd_presets, "spec": cmd_spec,
            "backtest": cmd_backtest, "generate": cmd_generate}
COMMANDS["code"] = cmd_code
COMMANDS["explain"] = cmd_explain
COMMANDS["import-torch"] = cmd_import_torch


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from builder.data import DataError
    from builder.spec import SpecError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        check_options(parser, args)  # before TensorFlow: an option the task does not use costs nothing
        if args.command in {"train", "predict", "export", "backtest", "generate", "code", "explain", "import-torch"}:
            from builder.quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
        return COMMANDS[args.command](args)
    except (CliError, DataError, SpecError, FileNotFoundError, ValueError) as err:
        sys.stderr.write(f"\nerror: {err}\n" if sys.stderr.isatty() else f"error: {err}\n")
        return EXIT_USAGE
    except (IsADirectoryError, NotADirectoryError, PermissionError) as err:  # an --out / --data path that cannot be used
        path = err.filename2 or err.filename
        what = {IsADirectoryError: "is a directory; expected a file name",
                NotADirectoryError: "a part of the path is a file, not a directory",
                PermissionError: "permission denied"}[type(err)]
        sys.stderr.write(f"error: {path}: {what}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as err:  # training failures (NaN loss ...) and anything unexpected: one line, no traceback
        from builder.training.fit import TrainingError

        if isinstance(err, TrainingError):
            sys.stderr.write(f"error: training failed: {err}\n")
            return 1
        sys.stderr.write(f"error: unexpected {type(err).__name__}: {err} (set RNN_STUDIO_DEBUG=1 for a traceback)\n")
        if os.environ.get("RNN_STUDIO_DEBUG"):
            raise
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
