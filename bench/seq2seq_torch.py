"""Training throughput of the translate encoder-decoder against a PyTorch twin (issue 18). Not a test.

Ours: the default translate preset (gru_seq2seq_bahdanau: embedding 32, bidirectional GRU encoder of 128
units per direction, Dense bridge, GRU decoder of 128 units with Bahdanau attention and input feeding,
Dense over [state; context] to the target tokens), built by `builder.model.build.build_model`, compiled by
`builder.training.fit.compile_model` (the spec's optimiser with clipnorm, loss, jit_compile auto,
steps_per_execution) and trained with `model.fit` on `task.datasets` (shuffled batches of the preset's
batch size) on the first --rows pairs of dates_to_iso.csv (the task's own split; its training part).

--preset picks another translate preset (luong_lstm_seq2seq: a 2-layer LSTM encoder and an LSTM decoder
with Luong "general" attention); the twin follows the preset's cell, layers, direction and attention.

The twin: nn.Embedding + nn.GRU or nn.LSTM (the preset's layers, bidirectional or not) encoder over the same
padded sources, a Linear+tanh bridge per state on the last layer's concatenated final states when
bidirectional, nn.GRUCell or nn.LSTMCell decoder stepped in a Python loop over the same target length with
the same input feeding, the same attention (additive v . tanh(W_k h_s + W_q s_t), or Luong's s_t . W h_s or
s_t . h_s; padding masked) and output layer, the same scheduled sampling op at every step t > 0 (own argmax where a uniform draw >= --ratio),
cross-entropy ignoring the pad token, Adam with the same learning rate and per-variable gradient clipping to
the same norm (Keras 3's `clipnorm`). Same batch size, source / target lengths and vocabularies.

Each side times itself in its own fresh process (TF under this interpreter, torch under --torch-python,
default .torchvenv/bin/python), with --threads for both (TF intra / inter op threads;
torch.set_num_threads). One warm-up epoch, then --rounds timed epochs; samples/s = training pairs / the
best epoch's seconds (the machine is shared). The teacher-forcing ratio is held at --ratio on both sides.

    .venv/bin/python bench/seq2seq_torch.py --rounds 5            # ours, the twin and the ratio
    .venv/bin/python bench/seq2seq_torch.py --rounds 5 --jit on   # ours with jit_compile forced on
    .venv/bin/python bench/seq2seq_torch.py --rounds 3 --preset luong_lstm_seq2seq   # the LSTM twin

Weight counts differ by design where torch keeps two bias vectors per recurrent layer (b_ih and b_hh)
and Keras one; both counts are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = next((p / "shared" / "data" / "seq2seq" / "dates_to_iso.csv" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "data" / "seq2seq" / "dates_to_iso.csv").is_file()),
            Path("/work/shared/data/seq2seq/dates_to_iso.csv"))
TORCH_PYTHON = str(ROOT / ".torchvenv" / "bin" / "python")  # torch==2.13.0, outside requirements.lock


def bench_spec(jit: str, units: int | None, preset: str = "") -> Any:
    """A translate preset (default: the task's; jit_compile per --jit, units per --units when given)."""
    from builder.spec.presets import load_preset
    from builder.tasks.registry import get_task

    spec = load_preset(preset or get_task("translate").entry.default_preset)
    if spec.task != "translate":
        raise SystemExit(f"error: --preset {preset}: expected a translate preset, found task {spec.task!r}")
    blocks = spec.model_dump(mode="json")["blocks"]
    if units:
        blocks = [{**b, "units": units} for b in blocks]
    jit_value: Any = {"auto": "auto", "on": True, "off": False}[jit]
    return spec.updated(blocks=blocks, data={"source_col": "source", "target_col": "target"},
                        training={"jit_compile": jit_value})


def tf_side(args: argparse.Namespace, npz: Path) -> dict[str, Any]:
    """Train ours; write the twin's inputs to `npz`; our best samples/s."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras
    import pandas as pd

    from builder.model.build import build_model
    from builder.tasks import get_task
    from builder.training.fit import compile_model, set_seed

    spec = bench_spec(args.jit, args.units, args.preset)
    task = get_task("translate")
    frame = pd.read_csv(args.data, nrows=args.rows, dtype=str)[["source", "target"]]
    data = task.prepare_frame(frame, spec)
    set_seed(spec.training.seed)
    train_ds, _, n_train = task.datasets(data, spec)
    resolved = task.resolve(data)
    model = build_model(spec, resolved)
    batch = spec.training.batch_size
    compile_model(model, spec, int(np.ceil(n_train / batch)))
    model.teacher_ratio.assign(args.ratio)
    block = spec.recurrent_blocks[0]
    a = data.arrays("train")
    np.savez(npz, source=a["source"].astype(np.int64), target_in=a["target_in"].astype(np.int64),
             target_out=a["target_out"].astype(np.int64), src_vocab=len(resolved.vocabulary),
             tgt_vocab=len(resolved.classes), units=block.units, embed=spec.embedding_dim,
             bidirectional=block.bidirectional, cell=block.cell, layers=block.num_layers,
             attention=spec.seq2seq.attention, score=spec.seq2seq.score, batch=batch, lr=spec.training.learning_rate,
             clipnorm=spec.training.clipnorm or 0.0, ratio=args.ratio, rounds=args.rounds, threads=args.threads,
             seed=spec.training.seed)

    from bench.throughput import epoch_timer

    timer = epoch_timer()
    history = model.fit(train_ds, epochs=1 + args.rounds, callbacks=[timer], verbose=0, shuffle=False)
    return {"samples_per_s": n_train / min(timer.seconds[1:]), "epoch_s": [round(s, 3) for s in timer.seconds],
            "n_train": n_train, "src_len": int(a["source"].shape[1]), "tgt_len": int(a["target_in"].shape[1]),
            "src_vocab": len(resolved.vocabulary), "tgt_vocab": len(resolved.classes), "units": block.units,
            "cell": block.cell, "layers": block.num_layers, "attention": spec.seq2seq.attention, "batch": batch, "params": int(model.count_params()), "jit_compile": model.jit_compile,
            "steps_per_execution": int(model.steps_per_execution), "loss": [round(v, 4) for v in history.history["loss"]],
            "tf": tf.__version__, "keras": keras.__version__}


TORCH_WORKER = r'''
import json, sys, time
import numpy as np
import torch
from torch import nn

d = np.load(sys.argv[1])
torch.set_num_threads(int(d["threads"]))
torch.manual_seed(int(d["seed"]))
src, tin, tout = (torch.from_numpy(d[k]) for k in ("source", "target_in", "target_out"))
units, embed, batch, bi = int(d["units"]), int(d["embed"]), int(d["batch"]), bool(d["bidirectional"])
sv, tv, ratio, clip = int(d["src_vocab"]), int(d["tgt_vocab"]), float(d["ratio"]), float(d["clipnorm"])
cell, layers, attention, score = str(d["cell"]), int(d["layers"]), str(d["attention"]), str(d["score"])
if cell not in ("gru", "lstm"):
    raise SystemExit(f"error: the twin has GRU and LSTM only, the preset's cell is {cell!r}")
lstm = cell == "lstm"
enc_w = units * (2 if bi else 1)


class Twin(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_embed, self.tgt_embed = nn.Embedding(sv, embed), nn.Embedding(tv, embed)
        rnn = nn.LSTM if lstm else nn.GRU
        self.encoder = rnn(embed, units, num_layers=layers, batch_first=True, bidirectional=bi)
        self.bridge = nn.ModuleList([nn.Linear(enc_w, units) for _ in range(2 if lstm else 1)]) if bi else None
        self.keys = (nn.Linear(enc_w, units, bias=False)
                     if attention == "bahdanau" or (attention == "luong" and score == "general") else None)
        self.query = nn.Linear(units, units, bias=False) if attention == "bahdanau" else None
        self.v = nn.Linear(units, 1, bias=False) if attention == "bahdanau" else None
        ctx = enc_w if attention != "none" else 0
        self.cell = (nn.LSTMCell if lstm else nn.GRUCell)(embed + ctx, units)
        self.out = nn.Linear(units + ctx, tv)

    def finals(self, last):
        """The last layer's final states [B, units] per state (h, or h and c), bridged when bidirectional."""
        states = list(last) if lstm else [last]
        if not bi:
            return [st[-1] for st in states]
        return [torch.tanh(dense(torch.cat([st[-2], st[-1]], -1))) for dense, st in zip(self.bridge, states)]

    def forward(self, s, ti):
        mask = s != 0
        outputs, last = self.encoder(self.src_embed(s))       # [B, S, E], [layers * dirs, B, units] (h, c)
        states = self.finals(last)
        keys = self.keys(outputs) if self.keys is not None else outputs
        context = torch.zeros(s.shape[0], enc_w) if attention != "none" else None
        logits_all, token = [], ti[:, 0]
        for t in range(ti.shape[1]):
            if t > 0:                                           # scheduled sampling, as ours
                own = logits_all[-1].argmax(-1)
                draw = torch.rand(token.shape)
                token = torch.where(draw < ratio, ti[:, t], own)
            x = self.tgt_embed(token)
            if context is not None:
                x = torch.cat([x, context], -1)
            states = list(self.cell(x, tuple(states))) if lstm else [self.cell(x, states[0])]
            h = states[0]
            if attention == "none":
                logits_all.append(self.out(h))
                continue
            if attention == "bahdanau":
                scores = self.v(torch.tanh(keys + self.query(h).unsqueeze(1))).squeeze(-1)
            else:
                scores = (keys * h.unsqueeze(1)).sum(-1)
            weights = torch.softmax(scores.masked_fill(~mask, -1e9), -1)
            context = (outputs * weights.unsqueeze(-1)).sum(1)
            logits_all.append(self.out(torch.cat([h, context], -1)))
        return torch.stack(logits_all, 1)                       # [B, T, V]


model = Twin()
params = list(model.parameters())
opt = torch.optim.Adam(params, lr=float(d["lr"]))
rng = np.random.default_rng(int(d["seed"]))
seconds, losses = [], []
for epoch in range(1 + int(d["rounds"])):
    t0 = time.perf_counter()
    order = torch.from_numpy(rng.permutation(len(src)))
    for b in range(0, len(src), batch):
        idx = order[b:b + batch]
        opt.zero_grad()
        logits = model(src[idx], tin[idx])
        loss = nn.functional.cross_entropy(logits.reshape(-1, tv), tout[idx].reshape(-1), ignore_index=0)
        loss.backward()
        if clip:
            for p in params:                                    # Keras 3 clipnorm: each gradient on its own
                torch.nn.utils.clip_grad_norm_([p], clip)
        opt.step()
        last = loss.item()
    seconds.append(time.perf_counter() - t0)
    losses.append(round(last, 4))
print("RESULT " + json.dumps({"samples_per_s": len(src) / min(seconds[1:]),
                              "epoch_s": [round(s, 3) for s in seconds], "last_batch_loss": losses,
                              "params": sum(p.numel() for p in params), "torch": torch.__version__}))
'''


def run_worker(cmd: list[str], what: str) -> dict[str, Any]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"error: {what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3000, help="first rows of --data (the task splits them)")
    ap.add_argument("--rounds", type=int, default=5, help="timed epochs per side (after one warm-up epoch)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both sides")
    ap.add_argument("--ratio", type=float, default=1.0, help="teacher-forcing ratio held on both sides")
    ap.add_argument("--jit", choices=("auto", "on", "off"), default="auto", help="our jit_compile (auto: the tool's)")
    ap.add_argument("--units", type=int, default=0, help="override the preset's units (0: the preset's)")
    ap.add_argument("--preset", default="", help="a translate preset (default: the task's default preset)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--torch-python", default=TORCH_PYTHON, help="a Python with torch==2.13.0 (default .torchvenv)")
    ap.add_argument("--skip-torch", action="store_true", help="ours only")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--npz", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(tf_side(args, Path(args.npz))), flush=True)
        return
    if not args.skip_torch and not Path(args.torch_python).is_file():
        print(f"error: --torch-python {args.torch_python}: expected a Python with torch==2.13.0, found no such file",
              file=sys.stderr)
        raise SystemExit(2)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "twin.npz"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--npz", str(npz)]
        for k in ("rows", "rounds", "threads", "ratio", "jit", "units", "data", "preset"):
            cmd += [f"--{k}", str(getattr(args, k))]
        ours = run_worker(cmd, "TF side")
        print(f"ours  {json.dumps(ours)}", flush=True)
        twin = None if args.skip_torch else run_worker([args.torch_python, "-c", TORCH_WORKER, str(npz)], "torch twin")
        if twin:
            print(f"torch {json.dumps(twin)}", flush=True)
    load1 = os.getloadavg()
    print(f"\nload average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end; --preset "
          f"{args.preset or 'default'} ({ours['cell']} x{ours['layers']}, {ours['attention']}); "
          f"weights ours {ours['params']:,}, torch {twin['params'] if twin else 0:,}; --rows {args.rows} --rounds "
          f"{args.rounds} --threads {args.threads} --ratio {args.ratio} --jit {args.jit}")
    o = ours
    print("| train pairs | src / tgt len | vocab src / tgt | units | batch | jit | ours samples/s | torch samples/s "
          "| ours / torch |")
    print("|---|---|---|---|---|---|---|---|---|")
    t = f"{twin['samples_per_s']:.0f}" if twin else "-"
    r = f"{o['samples_per_s'] / twin['samples_per_s']:.2f}" if twin else "-"
    print(f"| {o['n_train']} | {o['src_len']} / {o['tgt_len']} | {o['src_vocab']} / {o['tgt_vocab']} | {o['units']} | "
          f"{o['batch']} | {o['jit_compile']} | {o['samples_per_s']:.0f} | {t} | {r} |")


if __name__ == "__main__":
    main()
