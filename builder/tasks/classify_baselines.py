"""Baselines of the classify task: majority class, 1-NN Euclidean, 1-NN DTW (full window and a
Sakoe-Chiba band chosen on the training part) and MiniRocket, fit on the training sequences and
scored on the same test sequences as the model.

Library: sktime 1.2.0 (`DtwDist`, its numba DTW, and the `MiniRocket` transforms).
aeon 1.6 was the other candidate; it requires numpy 2.3, and sktime 1.2.0 installs with the project's
numpy 2.4.6. 1-NN Euclidean is scikit-learn's `KNeighborsClassifier` on the flattened sequences.

Unequal lengths: sktime 1.2.0's numba DTW, its `DtwDist` and MiniRocket take equal-length panels only
(their `capability:unequal_length` tag is False), and Euclidean distance needs equal lengths by
definition, so sequences of unequal length are stretched to the longest length by linear
interpolation (uniform scaling) for every baseline, and a note says so.

Values: the raw values as read (the archive's sets are z-normalised already), no scaler.
Cost: each DTW distance matrix is refused above `MAX_DTW_CELLS` cell updates (n_a * n_b * L * band
width * channels) and MiniRocket above `MAX_ROCKET_VALUES` input values, with the reason in the
metrics; numba compiles DTW and MiniRocket on first use (cached on disk afterwards).

Shapes: x [N, L, F] raw float32, NaN-padded at the end; lengths [N]; y [N] class indices.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

#: Sakoe-Chiba band radii tried on the training part, as fractions of the sequence length
BAND_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2)
#: the most DTW cell updates (pairs x length x band width x channels) one distance matrix may take
#: (about a minute of numba on one core of this project's machine)
MAX_DTW_CELLS = 4e9
#: the most input values (sequences x length x channels, train + test) MiniRocket is run on
MAX_ROCKET_VALUES = 2e7
#: MiniRocket's shortest input (its kernels are 9 steps wide)
ROCKET_MIN_LENGTH = 9
#: baselines per level of `TrainingSpec.baselines`
LEVELS = {"all": ("nn_euclidean", "nn_dtw_full", "nn_dtw_band", "minirocket"), "fast": ("nn_euclidean",), "off": ()}
LABELS = {"majority_class": "majority class", "nn_euclidean": "1-NN Euclidean", "nn_dtw_full": "1-NN DTW (full window)",
          "nn_dtw_band": "1-NN DTW (band from train)", "minirocket": "MiniRocket"}


def equal_length(x: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
    """NaN-padded [N, L, F] -> [N, F, length] float64, each sequence stretched to `length` steps by
    linear interpolation (unchanged when its real length is `length` already)."""
    n, _, f = x.shape
    out = np.empty((n, f, length), dtype=np.float64)
    grid = np.linspace(0.0, 1.0, length)
    for i in range(n):
        k = int(lengths[i])
        seq = x[i, :k].astype(np.float64)
        if k == length:
            out[i] = seq.T
        elif k == 1:
            out[i] = np.repeat(seq.T, length, axis=1)
        else:
            src = np.linspace(0.0, 1.0, k)
            for c in range(f):
                out[i, c] = np.interp(grid, src, seq[:, c])
    return np.nan_to_num(out)  # a NaN inside a sequence (missing policy left it) counts as 0


def _scores(y: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, labels=list(range(n_classes)), average="macro", zero_division=0))}


def _skipped(reason: str) -> dict[str, Any]:
    return {"accuracy": None, "macro_f1": None, "reason": reason}


def _dtw_matrix(a: np.ndarray, b: np.ndarray | None, radius: int | None) -> np.ndarray:
    """DTW distances [len(a), len(b)] (b None: a against itself), Sakoe-Chiba radius in steps (None: full).

    sktime's numba DTW takes the radius as a float fraction of the length (an int is refused, although
    `DtwDist`'s docstring says int).
    """
    from sktime.dists_kernels import DtwDist

    window = None if radius is None else float(radius) / a.shape[-1]
    return np.asarray(DtwDist(window=window).transform(a, b if b is not None else a), dtype=np.float64)


def _dtw_cells(n_a: int, n_b: int, length: int, channels: int, radius: int | None) -> float:
    width = length if radius is None else min(length, 2 * radius + 1)
    return float(n_a) * n_b * length * width * channels


def _nearest(dist: np.ndarray, y_ref: np.ndarray) -> np.ndarray:
    """Class of the nearest reference per row (ties: the first reference, as scikit-learn's brute search)."""
    return y_ref[np.argmin(dist, axis=1)]


def classify_baselines(
    x: np.ndarray, lengths: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, n_classes: int,
    level: str = "all", seed: int = 0,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Fit each baseline of `level` on the `train` rows and score it on the `test` rows (boolean masks).

    Returns ({name: {"accuracy", "macro_f1", "seconds", ... or "reason" when not run}}, notes).
    The majority class is scored by the task itself and is not repeated here.
    """
    wanted = LEVELS[level]
    out: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    if not wanted or not test.any():
        return out, notes
    length = int(lengths.max())
    if int(lengths.min()) != length:
        notes.append(f"baselines: sequences of {int(lengths.min())}-{length} steps stretched to {length} by linear "
                     "interpolation (sktime's DTW and MiniRocket, and Euclidean distance, need equal lengths)")
    xa = equal_length(x, lengths, length)
    x_tr, x_te, y_tr, y_te = xa[train], xa[test], y[train], y[test]
    n_tr, n_te, f = len(x_tr), len(x_te), xa.shape[1]

    if "nn_euclidean" in wanted:
        from sklearn.neighbors import KNeighborsClassifier

        t0 = time.perf_counter()
        knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute").fit(x_tr.reshape(n_tr, -1), y_tr)
        out["nn_euclidean"] = {**_scores(y_te, knn.predict(x_te.reshape(n_te, -1)), n_classes),
                               "seconds": round(time.perf_counter() - t0, 3)}

    if "nn_dtw_full" in wanted:
        cells = _dtw_cells(n_te, n_tr, length, f, None)
        if cells > MAX_DTW_CELLS:
            out["nn_dtw_full"] = _skipped(f"{cells:.2g} DTW cell updates, above the cap of {MAX_DTW_CELLS:.2g} "
                                          "(about a minute of one core)")
        else:
            t0 = time.perf_counter()
            pred = _nearest(_dtw_matrix(x_te, x_tr, None), y_tr)
            out["nn_dtw_full"] = {**_scores(y_te, pred, n_classes), "seconds": round(time.perf_counter() - t0, 3)}

    if "nn_dtw_band" in wanted:
        radii = sorted({int(round(fr * length)) for fr in BAND_FRACTIONS})
        cells = sum(_dtw_cells(n_tr, n_tr, length, f, r) for r in radii) + _dtw_cells(n_te, n_tr, length, f, max(radii))
        if n_tr < 2:
            out["nn_dtw_band"] = _skipped("leave-one-out needs at least two training sequences")
        elif cells > MAX_DTW_CELLS:
            out["nn_dtw_band"] = _skipped(f"{cells:.2g} DTW cell updates for the band search, above the cap of "
                                          f"{MAX_DTW_CELLS:.2g}")
        else:
            t0 = time.perf_counter()
            loo: dict[str, float] = {}
            for r in radii:
                d = _dtw_matrix(x_tr, None, r)
                np.fill_diagonal(d, np.inf)  # leave one out: a sequence is not its own neighbour
                loo[str(r)] = float(np.mean(_nearest(d, y_tr) == y_tr))
            best = max(radii, key=lambda r: (loo[str(r)], -r))  # ties: the narrower band
            pred = _nearest(_dtw_matrix(x_te, x_tr, best), y_tr)
            out["nn_dtw_band"] = {**_scores(y_te, pred, n_classes), "seconds": round(time.perf_counter() - t0, 3),
                                  "radius": best, "radius_fraction": round(best / length, 4),
                                  "train_loo_accuracy": loo}

    if "minirocket" in wanted:
        values = float(len(xa)) * length * f
        if length < ROCKET_MIN_LENGTH:
            out["minirocket"] = _skipped(f"sequences of {length} steps; MiniRocket needs at least {ROCKET_MIN_LENGTH}")
        elif values > MAX_ROCKET_VALUES:
            out["minirocket"] = _skipped(f"{values:.2g} input values, above the cap of {MAX_ROCKET_VALUES:.2g}")
        elif len(np.unique(y_tr)) < 2:
            out["minirocket"] = _skipped("the training part has a single class")
        else:
            t0 = time.perf_counter()
            pred = _minirocket_predict(x_tr, y_tr, x_te, seed)
            out["minirocket"] = {**_scores(y_te, pred, n_classes), "seconds": round(time.perf_counter() - t0, 3)}
    return out, notes


def _minirocket_predict(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, seed: int) -> np.ndarray:
    """MiniRocket features (sktime; the multivariate variant for several channels) + standardised
    ridge regression with alphas chosen by leave-one-out (scikit-learn), as Dempster et al. (2021).

    Not sktime's `RocketClassifier(rocket_transform="minirocket")`: on 50 GunPoint sequences it took
    33 s against 0.7 s for the same transform and ridge classifier composed here.
    x_tr [N, F, L], x_te [M, F, L] -> predicted class indices [M].
    """
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.transformations.panel.rocket import MiniRocket, MiniRocketMultivariate

    rocket = (MiniRocket if x_tr.shape[1] == 1 else MiniRocketMultivariate)(random_state=seed).fit(x_tr)
    ridge = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))
    ridge.fit(np.asarray(rocket.transform(x_tr), dtype=np.float64), y_tr)
    return np.asarray(ridge.predict(np.asarray(rocket.transform(x_te), dtype=np.float64))).astype(np.int64)


def best_baseline(metrics: dict[str, Any], key: str = "accuracy") -> tuple[str, float] | None:
    """(label, score) of the baseline with the highest `key` ("accuracy" or "macro_f1") in classify
    `metrics` (majority class included)."""
    found = [(LABELS[k], metrics[k][key]) for k in LABELS
             if isinstance(metrics.get(k), dict) and metrics[k].get(key) is not None]
    return max(found, key=lambda kv: kv[1]) if found else None


def verdict(metrics: dict[str, Any]) -> str:
    """One line: the model's accuracy against the best baseline's."""
    best = best_baseline(metrics)
    acc = metrics.get("model", {}).get("accuracy")
    if best is None or acc is None:
        return "no baseline to compare with"
    label, b = best
    if acc > b:
        return f"the model beats the best baseline, {label} ({acc:.3f} vs {b:.3f})"
    if acc == b:
        return f"the model ties the best baseline, {label} ({acc:.3f})"
    return f"the model loses to {label} ({acc:.3f} vs {b:.3f}); try another preset or more epochs"
