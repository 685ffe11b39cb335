"""Build the label_steps sample: BasicMotions recordings of one class each joined into longer sequences.

Each output sequence is two recordings of the UEA BasicMotions set (smart-watch accelerometer and
gyroscope, 6 channels, classes standing / walking / running / badminton), each cut to a random piece of
30-70 steps, joined end to end, so the per-step label changes once within a sequence. Every recording is
used once, so no recording is in two sequences (no leak across a split by sequence). Deterministic (seed).

    python datasets/make_label_steps.py --out /tmp/label_steps.csv

The source states no licence, so the result is not shipped in datasets/ (see datasets/README.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "classification" / "basic_motions.csv"
if not SOURCE.exists():
    SOURCE = Path("/work/shared/data/classification/basic_motions.csv")


def build(source: Path | str = SOURCE, per_sequence: int = 2, seed: int = 0,
          min_len: int = 30, max_len: int = 70) -> pd.DataFrame:
    """Long table `sequence_id, t, dim_0..dim_5, label` with a label on every row (per step)."""
    df = pd.read_csv(source)
    rng = np.random.default_rng(seed)
    rec_ids = df["sequence_id"].unique()
    rng.shuffle(rec_ids)
    groups = {k: g for k, g in df.groupby("sequence_id", sort=False)}
    features = [c for c in df.columns if c.startswith("dim_")]
    out = []
    for s in range(len(rec_ids) // per_sequence):
        pieces = []
        for rid in rec_ids[s * per_sequence:(s + 1) * per_sequence]:
            g = groups[rid].sort_values("t")
            n = int(rng.integers(min_len, max_len + 1))
            start = int(rng.integers(0, len(g) - n + 1))
            pieces.append(g.iloc[start:start + n][features + ["label"]])
        seq = pd.concat(pieces, ignore_index=True)
        seq.insert(0, "t", np.arange(len(seq)))
        seq.insert(0, "sequence_id", s)
        out.append(seq)
    return pd.concat(out, ignore_index=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--source", default=str(SOURCE))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    frame = build(a.source, seed=a.seed)
    frame.to_csv(a.out, index=False, float_format="%.6g")
    print(f"{a.out}: {frame['sequence_id'].nunique()} sequences, {len(frame)} rows")


if __name__ == "__main__":
    main()
