"""Which test sequences 1-NN Euclidean and 1-NN DTW get wrong on a shared classification split, and how
far each test sequence lies from the nearest training sequence of each class. Not a test; no training.

For issue #17 (Chinatown against 1-NN DTW): prints, per test sequence, its label, the nearest training
neighbour by Euclidean distance and by DTW (full window, the same function the runs' baseline calls:
builder.tasks.classify_baselines._dtw_matrix), the distance to the nearest training sequence of each
class and the ratio own-class / other-class (above 1: the sequence sits closer to the other class), then
the raw values of the sequences named with --show (default: every test sequence either 1-NN gets wrong).

    .venv/bin/python bench/chinatown_neighbours.py                       # chinatown_unittest
    .venv/bin/python bench/chinatown_neighbours.py --set gunpoint --show 57 60

Shapes: x [N, L] raw values (univariate sets only), y [N] labels as read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.classify_table import DATA  # noqa: E402


def load(name: str, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """splits/<name>_<part>.csv -> ids [N], x [N, L] (first value column, ordered by t), labels [N]."""
    df = pd.read_csv(DATA / "splits" / f"{name}_{part}.csv").sort_values(["sequence_id", "t"])
    value = [c for c in df.columns if c not in ("sequence_id", "t", "label")][0]
    groups = list(df.groupby("sequence_id", sort=True))
    ids = np.array([str(k) for k, _ in groups])
    x = np.stack([g[value].to_numpy(dtype=np.float64) for _, g in groups])
    y = np.array([str(g["label"].iloc[0]) for _, g in groups])
    return ids, x, y


def report(dist: np.ndarray, y_tr: np.ndarray, ids_tr: np.ndarray, y_te: np.ndarray, ids_te: np.ndarray,
           title: str) -> list[str]:
    """Print one line per test sequence for the distance matrix dist [n_test, n_train]; the wrong ids."""
    classes = sorted(set(y_tr))
    print(f"\n{title}: test id, label, nearest train id (label, distance), nearest per class, own/other ratio")
    wrong = []
    for i in range(len(y_te)):
        j = int(np.argmin(dist[i]))
        per = {c: float(dist[i][y_tr == c].min()) for c in classes}
        other = min(v for c, v in per.items() if c != y_te[i])
        ratio = per[y_te[i]] / other if other > 0 else np.inf
        flag = "WRONG" if y_tr[j] != y_te[i] else ""
        if flag:
            wrong.append(str(ids_te[i]))
        print(f"  {ids_te[i]:>4} y={y_te[i]} -> {ids_tr[j]:>3} ({y_tr[j]}, {dist[i, j]:10.1f})  "
              + "  ".join(f"class {c}: {v:10.1f}" for c, v in per.items()) + f"  ratio {ratio:5.2f} {flag}")
    print(f"  {title}: {len(y_te) - len(wrong)} of {len(y_te)} correct; wrong: {wrong}")
    return wrong


def main() -> None:
    from builder.tasks.classify_baselines import _dtw_matrix

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", default="chinatown_unittest")
    p.add_argument("--show", nargs="*", default=None, help="test ids whose values to print (default: the wrong ones)")
    p.add_argument("--rocket", type=int, nargs="*", default=[], metavar="SEED",
                   help="also MiniRocket's misses with these seeds (the runs' baseline uses the run's seed)")
    args = p.parse_args()
    ids_tr, x_tr, y_tr = load(args.set, "train")
    ids_te, x_te, y_te = load(args.set, "test")
    print(f"{args.set}: train {x_tr.shape}, test {x_te.shape}, train labels "
          f"{dict(zip(*np.unique(y_tr, return_counts=True), strict=True))}, test labels "
          f"{dict(zip(*np.unique(y_te, return_counts=True), strict=True))}")
    ed = np.sqrt(((x_te[:, None, :] - x_tr[None, :, :]) ** 2).sum(-1))
    dtw = _dtw_matrix(x_te[:, None, :], x_tr[:, None, :], None)
    wrong = report(ed, y_tr, ids_tr, y_te, ids_te, "1-NN Euclidean") + report(dtw, y_tr, ids_tr, y_te, ids_te,
                                                                            "1-NN DTW (full window)")
    for seed in args.rocket:
        from builder.tasks.classify_baselines import _minirocket_predict

        classes = sorted(set(y_tr))
        code = np.array([classes.index(v) for v in y_tr])
        pred = np.array(classes)[_minirocket_predict(x_tr[:, None, :], code, x_te[:, None, :], seed)]
        print(f"\nMiniRocket (seed {seed}): {int((pred == y_te).sum())} of {len(y_te)} correct; wrong: "
              f"{[str(i) for i in ids_te[pred != y_te]]}")
    dtw_tr = _dtw_matrix(x_tr[:, None, :], None, None)
    np.fill_diagonal(dtw_tr, np.inf)
    loo = y_tr[np.argmin(dtw_tr, axis=1)]
    print(f"\nleave-one-out 1-NN DTW on the train part: {int((loo == y_tr).sum())} of {len(y_tr)}; wrong: "
          f"{[str(i) for i in ids_tr[loo != y_tr]]}")
    ids_all, x_all, y_all = np.concatenate([ids_tr, ids_te]), np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    pooled = {"DTW": _dtw_matrix(x_all[:, None, :], None, None),
              "ED": np.sqrt(((x_all[:, None, :] - x_all[None, :, :]) ** 2).sum(-1))}
    for name, d in pooled.items():  # diagnostic only: the test labels are used as references here
        np.fill_diagonal(d, np.inf)
        loo = y_all[np.argmin(d, axis=1)]
        print(f"leave-one-out 1-NN {name} over train + test pooled ({len(y_all)} sequences): "
              f"{int((loo == y_all).sum())} of {len(y_all)}; wrong: {[str(i) for i in ids_all[loo != y_all]]}")
    for part, xs, ys, ids in (("train", x_tr, y_tr, ids_tr), ("test", x_te, y_te, ids_te)):
        print(f"first value by class, {part}: " + "; ".join(
            f"class {c}: {int(xs[ys == c, 0].min())}-{int(xs[ys == c, 0].max())}"
            f" (ids by value: {', '.join(str(ids[k]) for k in np.flatnonzero(ys == c)[np.argsort(-xs[ys == c, 0])][:3])}...)"
            for c in sorted(set(ys))))
    show = args.show if args.show is not None else sorted(set(wrong), key=wrong.index)
    np.set_printoptions(linewidth=200)
    print("\nclass means (train), then the sequences shown with their nearest train neighbours:")
    for c in sorted(set(y_tr)):
        print(f"  mean class {c}: {np.round(x_tr[y_tr == c].mean(0)).astype(int)}")
    for sid in show:
        i = int(np.flatnonzero(ids_te == sid)[0])
        print(f"  test {sid} (y={y_te[i]}): {x_te[i].astype(int)}")
        for name, d in (("ED", ed), ("DTW", dtw)):
            for k in np.argsort(d[i])[:3]:
                print(f"    {name} neighbour train {ids_tr[k]} (y={y_tr[k]}, {d[i, k]:.1f}): {x_tr[k].astype(int)}")
        k_all = int(np.flatnonzero(ids_all == sid)[0])
        for name, d in pooled.items():
            near = np.argsort(d[k_all])[:5]
            print(f"    {name}: its 5 nearest of the other {len(y_all) - 1} (train + test): "
                  + ", ".join(f"{ids_all[k]} (y={y_all[k]})" for k in near))


if __name__ == "__main__":
    main()
