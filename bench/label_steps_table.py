"""Per-step labelling (task label_steps) on the BasicMotions sample: the model beside its baselines. Not a test.

Builds the sample of datasets/make_label_steps.py (two BasicMotions recordings of one class each joined per
sequence, so the label changes within a sequence), trains `--preset` as `python -m builder train --task
label_steps` does (builder.training.fit.train_run: the split by sequence, early stopping on the validation
part), and prints the test step accuracy and macro-F1 of the model beside the majority label and the
windowed logistic regression that the run scores on the same test steps, with the training wall time.

    .venv/bin/python bench/label_steps_table.py                     # bilstm_tagger, seed 42, its own epochs
    .venv/bin/python bench/label_steps_table.py --epochs 20 --seeds 0 1
"""

from __future__ import annotations

import argparse
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


def _load_build() -> Any:
    """datasets/make_label_steps.py's `build` (datasets/ is a folder of files, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_label_steps", ROOT / "datasets" / "make_label_steps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def run_one(preset: str, seed: int, epochs: int | None) -> dict[str, Any]:
    """Train `preset` on the sample with `seed` (and `epochs` when given); the run's test figures."""
    from builder.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from builder.spec.presets import load_preset
    from builder.training.fit import train_run

    build = _load_build()
    training: dict[str, Any] = {"seed": seed, **({"epochs": epochs} if epochs else {})}
    spec = load_preset(preset).updated(data={"id_col": "sequence_id", "label_col": "label", "order_col": "t"},
                                       training=training)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "label_steps_basic_motions.csv"
        build().to_csv(csv, index=False)
        t0 = time.perf_counter()
        m = train_run(spec, csv, Path(tmp) / "run")
        wall = time.perf_counter() - t0
    return {"preset": preset, "seed": seed, "epochs_run": m.get("epochs_run"), "n_steps": m["n_steps"],
            "n_sequences": m["n_sequences"], "model": m["model"], "window_logreg": m["window_logreg"],
            "majority_label": m["majority_label"], "seconds": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="bilstm_tagger")
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--epochs", type=int, default=None, help="cap the preset's epochs (default: its own)")
    a = p.parse_args()
    rows = [run_one(a.preset, s, a.epochs) for s in a.seeds]
    print("| preset | seed | epochs run | test steps (sequences) | model acc / macro-F1 | windowed logistic "
          "regression acc / macro-F1 | majority label acc / macro-F1 | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cell = [f"{r[k]['accuracy']:.3f} / {r[k]['macro_f1']:.3f}" for k in ("model", "window_logreg", "majority_label")]
        print(f"| {r['preset']} | {r['seed']} | {r['epochs_run']} | {r['n_steps']} ({r['n_sequences']}) | "
              + " | ".join(cell) + f" | {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()
