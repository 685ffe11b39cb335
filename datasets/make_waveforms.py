"""Generate datasets/waveforms_classification.csv: labelled sequences in long format (our own, CC0).

Three classes of noisy waveforms (sine, square, sawtooth) with random period, phase, amplitude and
length (30-80 steps), two channels (the wave and a noisy copy of its derivative). Deterministic (seed 7).
Run: python datasets/make_waveforms.py
"""

from pathlib import Path

import numpy as np
import pandas as pd


def make(n_per_class: int = 60, seed: int = 7) -> pd.DataFrame:
    """Rows: sequence_id, t, wave, slope, label."""
    rng = np.random.default_rng(seed)
    rows = []
    sid = 0
    for label in ("sine", "square", "sawtooth"):
        for _ in range(n_per_class):
            n = int(rng.integers(30, 81))
            t = np.arange(n)
            period = rng.uniform(8, 20)
            phase = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(0.5, 2.0)
            arg = 2 * np.pi * t / period + phase
            if label == "sine":
                wave = np.sin(arg)
            elif label == "square":
                wave = np.sign(np.sin(arg))
            else:
                wave = 2 * ((arg / (2 * np.pi)) % 1.0) - 1
            wave = amp * wave + rng.normal(0, 0.25, n)
            slope = np.gradient(wave) + rng.normal(0, 0.1, n)
            rows += [(sid, int(i), round(float(w), 4), round(float(s), 4), label) for i, w, s in zip(t, wave, slope, strict=False)]
            sid += 1
    return pd.DataFrame(rows, columns=["sequence_id", "t", "wave", "slope", "label"])


if __name__ == "__main__":
    out = Path(__file__).with_name("waveforms_classification.csv")
    make().to_csv(out, index=False)
    print(f"wrote {out}")
