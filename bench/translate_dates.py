"""Task translate on dates_to_iso: greedy and beam exact match / CER beside the baselines and a no-attention model.

    .venv/bin/python bench/translate_dates.py --rows 3000 --units 64 --epochs 5 --test 400

Prints one JSON line per model (and the baselines); the first `rows` rows of the file, the last
`test` of them as the test part, 10% of the rest for validation.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from builder.serving.translate import baselines, fit_pairs, prepare_pairs, scores, translate_texts

DATA = "/work/shared/data/seq2seq/dates_to_iso.csv"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--test", type=int, default=400)
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--schedule", default="linear")
    args = p.parse_args()
    df = pd.read_csv(DATA, nrows=args.rows, dtype=str)
    data = prepare_pairs(df, "source", "target", test_fraction=args.test / args.rows,
                         val_fraction=0.1 * (1 - args.test / args.rows))
    test = data.parts["test"]
    print(json.dumps({"baselines": baselines(data), "test_pairs": len(test)}), flush=True)
    for attention in ("bahdanau", "none"):
        start = time.time()
        model, history = fit_pairs(data, units=args.units, epochs=args.epochs, attention=attention,
                                   schedule=args.schedule, c=0.1)
        fit_s = time.time() - start
        row = {"attention": attention, "fit_s": round(fit_s, 1), "teacher_forcing": history["teacher_forcing"],
               "greedy": scores(translate_texts(model, data, test["source"].tolist()), test["target"].tolist())}
        if attention != "none" and args.beam > 1:
            row["beam"] = scores(translate_texts(model, data, test["source"].tolist(), beam=args.beam),
                                 test["target"].tolist())
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
