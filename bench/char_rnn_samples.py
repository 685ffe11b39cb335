"""char-RNN on a text file: the model's bits per character beside the baselines, the training time and
three samples from one prompt (temperature 0.5, temperature 1.0, beam width 5), from a finished run.

    python -m builder train --task generate --data ../shared/data/text/fortunes_english.txt --out RUN
    python bench/char_rnn_samples.py RUN [--prompt "The "] [--length 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--prompt", default="The ")
    p.add_argument("--length", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    from builder.serving.export import load_run_model
    from builder.serving.generate import generate_from_run
    from builder.tasks.registry import get_task
    from builder.training.runs import Run

    run = Run(args.run)
    metrics = json.loads(Path(run.file("metrics.json")).read_text())
    print(get_task("generate").cli_table(metrics))
    m, ng = metrics["model"]["bits_per_char"], metrics["ngram"]["bits_per_char"]
    print(f"model vs best n-gram: {(ng - m) / ng:+.1%} fewer bits per character (target: +15% or more)")
    print(f"training: {metrics['epochs_run']} epochs, best {metrics['best_epoch']}, {metrics['train_seconds']:.0f} s "
          f"wall (fit only), stopped_by_user={metrics['stopped_by_user']}")
    model = load_run_model(run)
    for label, kwargs in (("temperature 0.5", {"temperature": 0.5}), ("temperature 1.0", {"temperature": 1.0}),
                          ("beam width 5", {"beam": 5})):
        t0 = time.time()
        text = generate_from_run(run.path, args.prompt, args.length, seed=args.seed, model=model, **kwargs)
        print(f"\n--- {label} (seed {args.seed}, {time.time() - t0:.1f} s) ---\n{text}")


if __name__ == "__main__":
    main()
