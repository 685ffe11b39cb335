"""Sequence classification on the shared UCR/UEA sets: the default preset beside the baselines. Not a test.

For every file in ../shared/data/classification with the package's own split (splits/<name>_train.csv,
splits/<name>_test.csv as --test-data), trains each preset as `python -m builder train --task classify`
does (builder.training.fit.train_run: the preset's own training settings, the validation part taken
from the train file), and prints the test accuracy of the model beside the majority class, 1-NN
Euclidean, 1-NN DTW (full window and a band chosen on the train file) and MiniRocket, which the run
scores on the same test sequences (builder.tasks.classify_baselines), with the training wall time.

    .venv/bin/python bench/classify_table.py                       # the default preset, every set
    .venv/bin/python bench/classify_table.py --presets lstm_fcn mlstm_fcn --sets gunpoint
    .venv/bin/python bench/classify_table.py --from bench-out.jsonl   # reprint a table from saved results
    .venv/bin/python bench/classify_table.py --sets chinatown_unittest --seeds 42 0 1 2 3 --summary  # median, spread

Each run's figures are appended as one JSON line to --out (default /tmp/classify_table.jsonl).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: the shared data beside the checkout (a worktree one level deeper finds it two levels up)
DATA = next((p / "shared" / "data" / "classification" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data" / "classification").is_dir()), ROOT.parent / "shared" / "data" / "classification")
BASELINES = ("majority_class", "nn_euclidean", "nn_dtw_full", "nn_dtw_band", "minirocket")
HEADERS = ("majority", "1-NN ED", "1-NN DTW", "1-NN DTW band", "MiniRocket")


def run_one(name: str, preset: str, seed: int, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Train `preset` on `name`'s train split, score on its test split; the run's figures. `overrides`:
    spec sections to change ({"data": {"sequence_norm": "zscore"}}), for one-change experiments."""
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from builder.spec.presets import load_preset
    from builder.training.fit import train_run

    over = overrides or {}
    spec = load_preset(preset).updated(data={"id_col": "sequence_id", "label_col": "label", **over.get("data", {})},
                                       training={"seed": seed, **over.get("training", {})})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        metrics = train_run(spec, DATA / "splits" / f"{name}_train.csv", Path(tmp) / "run",
                            test_path=DATA / "splits" / f"{name}_test.csv")
        wall = time.perf_counter() - t0
        wrong = _wrong(Path(tmp) / "run" / "predictions.csv")
        members = _member_wrong(Path(tmp) / "run", spec, name) if spec.training.ensemble > 1 else None
    row = {"set": name, "preset": preset + "".join(f" {k}={v}" for sec in over.values() for k, v in sec.items()),
           "seed": seed, "n_test": metrics["n_sequences"],
           "accuracy": metrics["model"]["accuracy"], "macro_f1": metrics["model"]["macro_f1"],
           "train_seconds": metrics["train_seconds"], "wall_seconds": round(wall, 1),
           "epochs_run": metrics["epochs_run"], "best_epoch": metrics["best_epoch"], "verdict": metrics["verdict"],
           "wrong": wrong, **({"member_wrong": members} if members is not None else {})}
    for key in BASELINES:
        b = metrics.get(key) or {}
        row[key] = b.get("accuracy")
        row[f"{key}_seconds"] = b.get("seconds")
        if b.get("reason"):
            row[f"{key}_reason"] = b["reason"]
    return row


def _wrong(predictions: Path) -> dict[str, float]:
    """The misclassified test sequences of a run's predictions.csv: {sequence id: probability the model
    gave the true class}, so runs can be compared sequence by sequence."""
    import pandas as pd

    df = pd.read_csv(predictions, dtype={"sequence": str, "actual": str, "predicted": str})
    bad = df[df["actual"] != df["predicted"]]
    return {str(r["sequence"]): round(float(r[f"p_{r['actual']}"]), 4) for _, r in bad.iterrows()}


def _member_wrong(run_dir: Path, spec: Any, name: str) -> list[dict[str, float]]:
    """Per ensemble member (member_0 = the seed's own model, member_i = seed + i): its misclassified test
    sequences as in `_wrong`, from the run's model.keras on the test split's raw inputs x [N, L, F]."""
    import numpy as np

    from builder.serving.export import load_run_model
    from builder.tasks.registry import get_task
    from builder.training.runs import Run

    data = get_task("classify").prepare(DATA / "splits" / f"{name}_train.csv", spec,
                                  test_source=DATA / "splits" / f"{name}_test.csv")
    mask = data.split == "test"
    model = load_run_model(Run(run_dir))
    out = []
    for layer in model.layers:
        if layer.name.startswith("member_"):
            probs = np.asarray(layer.predict(data.x[mask], verbose=0))
            y, ids = data.y[mask], data.ids[mask]
            bad = np.flatnonzero(probs.argmax(axis=1) != y)
            out.append({str(ids[k]): round(float(probs[k, y[k]]), 4) for k in bad})
    return out


def table(rows: list[dict[str, Any]], default: str) -> str:
    """Markdown: one line per set and preset; baselines once per set; `beats DTW`: above both DTW figures."""
    def f(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, (int, float)) else "n/a"

    lines = ["| set | preset | accuracy | " + " | ".join(HEADERS) + " | beats 1-NN DTW | train s | epochs |",
             "|---" * (6 + len(HEADERS)) + "|"]
    for r in rows:
        dtws = [v for v in (r.get("nn_dtw_full"), r.get("nn_dtw_band")) if v is not None]
        beats = ("yes" if r["accuracy"] > max(dtws) else "no") if dtws else "n/a (not measured)"
        name = r["preset"] + (" (default)" if r["preset"] == default else "")
        lines.append(f"| {r['set']} | {name} | {f(r['accuracy'])} | " + " | ".join(f(r.get(k)) for k in BASELINES)
                     + f" | {beats} | {r['train_seconds']:.0f} | {r['epochs_run']} |")
    return "\n".join(lines)


def seed_summary(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per (set, preset) over its seeds: median, min-max and the accuracy of each seed."""
    import statistics

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["set"], r["preset"]), []).append(r)
    lines = ["| set | preset | seeds | median accuracy | min-max | per seed | median train s |", "|---" * 7 + "|"]
    for (name, preset), rs in groups.items():
        acc = [r["accuracy"] for r in rs]
        per = ", ".join(f"{r['seed']}: {r['accuracy']:.3f}" for r in rs)
        lines.append(f"| {name} | {preset} | {len(rs)} | {statistics.median(acc):.3f} | {min(acc):.3f}-{max(acc):.3f} "
                     f"| {per} | {statistics.median(r['train_seconds'] for r in rs):.0f} |")
    return "\n".join(lines)


def main() -> None:
    from builder.tasks.registry import TASKS

    default = TASKS["classify"].default_preset
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", default=sorted(f.stem for f in DATA.glob("*.csv")))
    p.add_argument("--presets", nargs="+", default=[default])
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--override", nargs="*", default=[], metavar="SECTION.KEY=VALUE",
                   help="one-change experiments, e.g. data.sequence_norm=zscore training.batch_size=8 (JSON values)")
    p.add_argument("--out", default="/tmp/classify_table.jsonl")
    p.add_argument("--from", dest="source", nargs="+", help="print the table of saved result lines (one or more "
                   "files) instead of running")
    p.add_argument("--summary", action="store_true", help="with several seeds: also the median and spread per preset")
    args = p.parse_args()
    if args.source:
        rows = [json.loads(line) for src in args.source for line in Path(src).read_text().splitlines() if line.strip()]
    else:
        rows = []
        over: dict[str, dict[str, Any]] = {}
        for item in args.override:
            path, _, value = item.partition("=")
            section, _, key = path.partition(".")
            if section not in ("data", "training") or not key or not value:
                p.error(f"--override {item!r}: expected data.KEY=VALUE or training.KEY=VALUE")
            try:
                over.setdefault(section, {})[key] = json.loads(value)
            except json.JSONDecodeError:
                over.setdefault(section, {})[key] = value  # a bare word: the string itself
        for name, preset, seed in itertools.product(args.sets, args.presets, args.seeds):
            row = run_one(name, preset, seed, over)
            rows.append(row)
            with open(args.out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows, default))
    if args.summary:
        print()
        print(seed_summary(rows))


if __name__ == "__main__":
    main()
