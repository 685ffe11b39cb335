"""Task translate on dates_to_iso through the registry (`train_run`, the same path as `python -m builder train
--task translate`): greedy and beam exact match / CER beside the baselines, with and without attention.

    .venv/bin/python bench/translate_dates.py --rows 3000 --units 64 --epochs 5 --test 400

Trains the default preset (gru_seq2seq_bahdanau) with --units per direction, --epochs, --schedule and a
patience of --epochs (no early stop), once per --attention (default: with Bahdanau attention, then without), on the first `rows` rows
of the file (the last `test` of them the test part, 10% of the rest validation), beam width --beam on every
test pair. Prints one JSON line per model and the baselines (from the first run's metrics.json).

Teacher forcing alone vs scheduled sampling (same seed, epochs and everything else):

    .venv/bin/python bench/translate_dates.py --attention bahdanau --schedule none
    .venv/bin/python bench/translate_dates.py --attention bahdanau --schedule linear
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from builder.spec.presets import load_preset
from builder.training.fit import train_run

DATA = "/work/shared/data/seq2seq/dates_to_iso.csv"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--test", type=int, default=400)
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--schedule", default="linear", choices=("none", "linear", "exponential", "inverse_sigmoid"),
                   help="spec.seq2seq.teacher_forcing; none: teacher forcing alone (ratio 1.0 every epoch)")
    p.add_argument("--attention", default="bahdanau,none",
                   help="comma-separated attentions to train, in order (bahdanau, luong, none)")
    p.add_argument("--data", default=DATA)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="translate_dates."))
    csv = work / "pairs.csv"
    pd.read_csv(args.data, nrows=args.rows, dtype=str)[["source", "target"]].to_csv(csv, index=False)
    base = load_preset("gru_seq2seq_bahdanau")
    test_fraction = args.test / args.rows
    blocks = [{**b, "units": args.units} for b in base.model_dump(mode="json")["blocks"]]
    attentions = [a.strip() for a in args.attention.split(",") if a.strip()]
    for attention in attentions:
        spec = base.updated(
            blocks=blocks, data={"source_col": "source", "target_col": "target", "test_fraction": test_fraction,
                                 "val_fraction": 0.1 * (1 - test_fraction)},
            seq2seq={"attention": attention, "teacher_forcing": args.schedule,
                     "beam_width": args.beam if attention != "none" else 0},
            training={"epochs": args.epochs, "patience": args.epochs})
        if spec.seq2seq.beam_width > 1:  # every test pair, not the evaluation's default subset
            import builder.tasks.translate as translate

            translate.BEAM_MAX_PAIRS = args.test
        start = time.time()
        metrics = train_run(spec, csv, work / attention)
        history = [json.loads(line) for line in (work / attention / "history.jsonl").read_text().splitlines()]
        if attention == attentions[0]:
            print(json.dumps({"baselines": {k: metrics[k] for k in ("copy_source", "most_frequent")},
                              "test_pairs": metrics["n_pairs"]["test"]}), flush=True)
        print(json.dumps({"attention": attention, "wall_s": round(time.time() - start, 1),
                          "fit_s": metrics["train_seconds"], "teacher_forcing": [h["teacher_forcing"] for h in history],
                          "greedy": metrics["model"], "beam": metrics["model_beam"], "verdict": metrics["verdict"]}),
              flush=True)


if __name__ == "__main__":
    main()
