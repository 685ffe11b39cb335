"""Training throughput of every recurrent cell, ours (Keras 3 / TF) against a PyTorch twin.

Fixed configuration: batch 64, window 48, 8 features, 2 recurrent layers x 64
units (projection 32 for lstm_proj / proj_gru), Dense/Linear to 1 output, MSE,
Adam. Each side: ``--warmup`` steps, then ``--repeats`` timed runs of
``--steps`` train steps (ours: epochs of ``model.fit``; PyTorch: runs of its loop);
the best run counts, since the machine is shared.

Every measurement runs in its own fresh process (TensorFlow's and PyTorch's
thread pools in one process slow each other down several-fold on 2 cores).
Ours is the layer ``builder.model.build`` makes (the fused loop of builder/model/fused.py),
trained as ``builder.training.fit.fit`` trains (``model.fit`` on a dataset, the spec's default
``steps_per_execution`` batches per graph call), measured with ``jit_compile=False``
and ``True``; the ratio uses the faster. PyTorch trains in its usual Python loop.
``--keras-loop`` adds Keras's own loop over the same cells (``keras.layers.RNN`` /
``LSTM`` / ``GRU`` / ``SimpleRNN``, XLA) as a second reference.

PyTorch twins: ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``,
``nn.LSTM(proj_size=32)``; ``nn.LSTM`` stands in for the cells PyTorch lacks
(peephole_lstm, cifg_lstm, proj_gru). PyTorch runs with
``torch.set_num_threads(2)``; the torch column is skipped if torch is missing.

``--rounds N`` repeats the whole measurement N times (each value a fresh process,
best of ``--repeats``) and reports each variant's median over the rounds. A round
takes the cells twin by twin: the twin once, then every variant of every cell it is
the reference of; rounds 2, 4, ... run the same list reversed (twin last). So the
four rows that nn.LSTM is the reference of divide by one and the same series of
nn.LSTM measurements, instead of four series of which one could draw a lucky spell
(session 5: the same nn.LSTM had medians of 3,093 to 3,700 samples/s in four rows of
one run). The table also gives the range of the per-round ratios (a cell's value
over its twin's in the same round).

    /work/main/.torchvenv/bin/python bench/cells.py --rounds 3 --keras-loop   # full table
    /work/main/.torchvenv/bin/python bench/cells.py --steps 5 --repeats 1 --rounds 1 --cells lstm   # smoke
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: builder is importable

from builder.model.cells.registry import CELLS as REGISTRY  # noqa: E402
from builder.model.cells.registry import CellEntry  # noqa: E402

BATCH, WINDOW, FEATURES, UNITS, PROJ, LAYERS = 64, 48, 8, 64, 32, 2
CELLS = list(REGISTRY)


def _twin(entry: CellEntry) -> tuple[str, dict[str, Any], str]:
    """(torch class, extra kwargs, label) of a registry entry's PyTorch twin in this bench's shapes."""
    extra = {"proj_size": PROJ} if entry.projected and entry.twin_exact else {}
    label = f"nn.{entry.twin}" + (f"(proj_size={PROJ})" if extra else "") + ("" if entry.twin_exact else " (stand-in)")
    return entry.twin, extra, label


#: cell -> (torch class, extra kwargs, label), from the cell registry
TORCH_TWIN: dict[str, tuple[str, dict[str, Any], str]] = {name: _twin(e) for name, e in REGISTRY.items()}


def twin_of(cell: str) -> str:
    """The PyTorch module that is ``cell``'s reference (its label without "(stand-in)")."""
    return TORCH_TWIN[cell][2].removesuffix(" (stand-in)")


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (BATCH, WINDOW, FEATURES) and ``y`` (BATCH, 1), float32."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, WINDOW, FEATURES)).astype("float32")
    return x, x.mean(axis=(1, 2))[:, None].astype("float32")


def keras_recurrent_layer(cell: str, return_sequences: bool, fused: bool = True) -> Any:
    """One recurrent layer of kind ``cell`` with UNITS units, as ``builder.model.build`` makes it.

    ``fused=False`` gives the plain Keras layer over the same cell (keras.layers.RNN's loop).
    """
    import keras

    from builder.model.build import recurrent_layer
    from builder.model.cells.registry import get_cell
    from builder.spec import RecurrentBlock

    entry = get_cell(cell)
    proj = PROJ if entry.projected else None
    if fused:
        block = RecurrentBlock(cell=cell, units=UNITS, proj_units=proj)
        return recurrent_layer(block, return_sequences, name=f"{cell}_{int(return_sequences)}")
    builtin = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    if cell in builtin:
        return builtin[cell](UNITS, return_sequences=return_sequences)
    return keras.layers.RNN(entry.cell_class()(UNITS, proj_units=proj), return_sequences=return_sequences)


def keras_model(cell: str, jit_compile: bool, fused: bool = True) -> Any:
    """``keras.Model``: LAYERS stacked recurrent layers -> Dense(1); compiled with Adam + MSE."""
    import keras

    inp = keras.Input((WINDOW, FEATURES))
    h = inp
    for k in range(LAYERS):
        h = keras_recurrent_layer(cell, return_sequences=k < LAYERS - 1, fused=fused)(h)
    model = keras.Model(inp, keras.layers.Dense(1)(h))
    from builder.model.recurrent import set_training_shards
    from builder.spec import TrainingSpec

    set_training_shards(model, jit_compile)  # as builder.training.fit.compile_model does
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit_compile,
                  steps_per_execution=TrainingSpec().steps_per_execution)
    return model


def time_keras(cell: str, jit_compile: bool, steps: int, warmup: int, repeats: int, fused: bool = True) -> float:
    """Best samples/s over ``repeats`` epochs of ``steps`` batches, trained as the tool trains.

    ``model.fit`` over a ``tf.data`` dataset finished as the tool's pipelines are
    (``builder.data.finish_pipeline``) with the tool's default batches per graph call
    (``TrainingSpec.steps_per_execution``), as ``builder.training.fit.fit`` runs it; each epoch is
    timed from its start to its end by a callback (fit's own set-up is not counted, as the
    PyTorch side's set-up is not). The batch is the same tensor every step, as on the PyTorch side.
    """
    import keras
    import tensorflow as tf

    from builder.data.windows import finish_pipeline

    x, y = (tf.constant(a) for a in make_data())
    model = keras_model(cell, jit_compile, fused)
    rates: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            rates.append(steps * BATCH / (time.perf_counter() - self.start))

    batches = finish_pipeline(tf.data.Dataset.from_tensors((x, y)).repeat(steps))
    model.fit(batches.take(max(warmup, 1)), epochs=1, verbose=0, shuffle=False)
    model.fit(batches, epochs=repeats, verbose=0, callbacks=[EpochTimer()], shuffle=False)
    return max(rates)


def time_torch(cell: str, steps: int, warmup: int, repeats: int) -> float | None:
    """Best samples/s of the PyTorch twin, or None if torch is not importable."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    kind, extra, _ = TORCH_TWIN[cell]
    rnn = getattr(torch.nn, kind)(FEATURES, UNITS, num_layers=LAYERS, batch_first=True, **extra)
    head = torch.nn.Linear(extra.get("proj_size") or UNITS, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x_np, y_np = make_data()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        opt.step()
        return loss.detach()

    for _ in range(warmup):
        step()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        float(loss)
        best = max(best, steps * BATCH / (time.perf_counter() - start))
    return best


def measure(side: str, cell: str, jit: bool, args: argparse.Namespace, loop: str = "fused") -> float | None:
    """Run one measurement in a fresh process; None if that side cannot run (torch missing)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--cells", cell]
    cmd += ["--jit", "on" if jit else "off", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += ["--repeats", str(args.repeats), "--loop", loop]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    value = lines[-1].split()[1]
    return None if value == "None" else float(value)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, measure every cell (one process each), print a markdown table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", nargs="+", default=CELLS, choices=CELLS)
    parser.add_argument("--steps", type=int, default=50, help="timed train steps per repeat")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (tracing/compiling)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per process; the best counts")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure every variant this many times, interleaved; the median counts")
    parser.add_argument("--jit", choices=["both", "on", "off"], default="both")
    parser.add_argument("--keras-loop", action="store_true",
                        help="also measure Keras's own loop over the same cells (keras.layers.RNN, XLA)")
    parser.add_argument("--loop", choices=["fused", "keras"], default="fused", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["keras", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.jit]

    if args.worker:  # child process: one cell, one side, one jit mode
        cell = args.cells[0]
        if args.worker == "torch":
            value = time_torch(cell, args.steps, args.warmup, args.repeats)
        else:
            value = time_keras(cell, modes[0], args.steps, args.warmup, args.repeats, args.loop == "fused")
        print(f"RESULT {value}")
        return

    print(
        f"batch {BATCH}, window {WINDOW}, {FEATURES} features, {LAYERS}x{UNITS} units (proj {PROJ}), "
        f"{args.steps} steps x best of {args.repeats}, median of {args.rounds} rounds, cpus {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    variants: list[tuple[str, bool, str]] = [(f"jit={j}", j, "fused") for j in modes]
    if args.keras_loop:
        variants.append(("keras_loop", True, "keras"))
    # cells grouped by PyTorch twin: a twin is measured once per round and that one series is
    # the reference of every row that names it (nn.LSTM for lstm and the three stand-in rows)
    groups: dict[str, list[str]] = {}
    for cell in dict.fromkeys(args.cells):  # a cell named twice is measured once
        groups.setdefault(twin_of(cell), []).append(cell)
    for members in groups.values():  # one label, one module: the shared twin fits every member
        assert all(TORCH_TWIN[c][:2] == TORCH_TWIN[members[0]][:2] for c in members), members
    # (variant or "torch", cell or twin) -> {round: value}
    seen: dict[tuple[str, str], dict[int, float]] = {}
    for r in range(args.rounds):
        for twin, members in groups.items():
            plan: list[tuple[str, str, str, bool, str]] = [("torch", members[0], twin, False, "fused")]
            plan += [("keras", cell, name, jit, loop) for cell in members for name, jit, loop in variants]
            # rounds 1, 3, 5, ... (r even) in this order, twin first; rounds 2, 4, ... reversed,
            # twin last: drift within a round does not always fall on the same side
            for side, cell, name, jit, loop in plan if r % 2 == 0 else plan[::-1]:
                value = measure(side, cell, jit, args, loop)
                if value is not None:
                    seen.setdefault(("torch", twin) if side == "torch" else (name, cell), {})[r] = value
        print(f"  round {r + 1} of {args.rounds} done, load average {os.getloadavg()[0]:.1f}", flush=True)

    print(f"load average at the end {os.getloadavg()[0]:.1f} (the machine may be shared)")
    for key, values in seen.items():
        print(f"  {key[1]} {key[0]}: median {np.median(list(values.values())):.0f} of "
              f"{[round(v) for v in values.values()]}")
    print()
    ours_cols = [f"jit={j}" for j in modes]
    header = "| cell | " + " | ".join(f"ours {c} samples/s" for c in ours_cols)
    header += " | Keras loop samples/s" if args.keras_loop else ""
    header += " | PyTorch samples/s | PyTorch twin | ours (best) / PyTorch | per-round ratios |"
    header += " fused / Keras loop |" if args.keras_loop else ""
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")

    def med(key: tuple[str, str]) -> float | None:
        return float(np.median(list(seen[key].values()))) if seen.get(key) else None

    for cell in dict.fromkeys(args.cells):
        best_col = max(ours_cols, key=lambda c: med((c, cell)) or 0.0)
        ours = med((best_col, cell)) or 0.0
        line = f"| {cell} | " + " | ".join(f"{med((c, cell)):.0f}" for c in ours_cols)
        if args.keras_loop:
            line += f" | {med(('keras_loop', cell)):.0f}"
        theirs = med(("torch", twin_of(cell)))
        if theirs:
            # each round's ours / the same round's twin: the spread the median ratio hides
            ours_r, twin_r = seen[(best_col, cell)], seen[("torch", twin_of(cell))]
            per_round = np.array([ours_r[r] / twin_r[r] for r in ours_r if r in twin_r])
            line += f" | {theirs:.0f} | {TORCH_TWIN[cell][2]} | {ours / theirs:.2f}x |"
            line += f" {per_round.min():.2f}-{per_round.max():.2f}x |"
        else:
            line += " | - | - | - | - |"
        if args.keras_loop:
            line += f" {ours / med(('keras_loop', cell)):.2f}x |"
        print(line)
    shared = [f"{twin} ({', '.join(m)})" for twin, m in groups.items() if len(m) > 1 and ("torch", twin) in seen]
    if shared:
        print(f"\nRows with the same twin share one series of its measurements: {'; '.join(shared)}.")


if __name__ == "__main__":
    main()
