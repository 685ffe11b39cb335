"""Task `translate`: sequence-to-sequence on a table of text pairs (an encoder-decoder with attention).

Data (builder.data.pairs): a CSV with a source and a target text column (spec.data.source_col /
target_col), split in file order; tokens are characters or words (spec.seq2seq.tokens); each side's
vocabulary comes from the training part. Model (builder.model.seq2seq, built from the spec's one
recurrent block and `spec.seq2seq`): source ids [B, S] and the shifted target [B, T] -> logits
[B, T, V]; loss: cross-entropy from logits with the padding left out; training feeds the decoder
the true previous token with the teacher-forcing ratio of `spec.seq2seq.teacher_forcing`'s schedule
(scheduled sampling, Bengio et al. 2015), else its own prediction.

Evaluation on the test part: exact match (the whole output equals the target) and character error
rate (Levenshtein distance over the target's length, summed over pairs) of greedy decoding, and of
beam search (spec.seq2seq.beam_width) on the first `BEAM_MAX_PAIRS` test pairs, beside two baselines:
copy the source, and always answer the most frequent training target. Export: a SavedModel whose
``translate`` signature maps a string batch to a string batch (greedy decoding in the graph).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from builder.data.pairs import PAD, PAIR_PARTS, PairsData, prepare_pairs, read_sources
from builder.data.read import load_table
from builder.limits import check_beam_width
from builder.spec import ModelSpec
from builder.tasks.base import LogitsHead, Resolved, Task

#: test pairs decoded by beam search (one search per pair, in NumPy around the TF step)
BEAM_MAX_PAIRS = 300
#: vocabulary and lengths a spec-only model (no data yet) is drawn with
PLACEHOLDER_VOCAB, PLACEHOLDER_SOURCE, PLACEHOLDER_TARGET = 64, 32, 16
#: the baselines' keys in metrics.json and their labels
BASELINE_LABELS = {"copy_source": "copy the source", "most_frequent": "most frequent target"}


# ---- teacher forcing -----------------------------------------------------------------------------------
def teacher_forcing_ratio(schedule: str, epoch: int, k: float = 1.0, c: float = 0.1, minimum: float = 0.0) -> float:
    """The teacher-forcing ratio at ``epoch`` (0-based) under Bengio et al. (2015)'s decays.

    ``none``: 1; ``linear``: max(minimum, k - c * epoch); ``exponential``: max(minimum, k ** epoch)
    (0 < k < 1); ``inverse_sigmoid``: max(minimum, k / (k + exp(epoch / k))) (k >= 1).
    """
    if schedule == "none":
        return 1.0
    if schedule == "linear":
        value = k - c * epoch
    elif schedule == "exponential":
        value = k**epoch
    elif schedule == "inverse_sigmoid":
        value = k / (k + math.exp(epoch / k))
    else:
        raise ValueError(f"unknown schedule {schedule!r}; expected none, linear, exponential or inverse_sigmoid")
    return float(min(1.0, max(minimum, value)))


def schedule_table(schedule: str, epochs: int, k: float = 1.0, c: float = 0.1, minimum: float = 0.0) -> pd.DataFrame:
    """The ratio per epoch (1-based) for `epochs` epochs: what the Train page plots."""
    return pd.DataFrame({"epoch": np.arange(1, epochs + 1),
                         "teacher_forcing": [teacher_forcing_ratio(schedule, e, k, c, minimum) for e in range(epochs)]})


def schedule_callback_class() -> type:
    """The Keras callback class that sets ``model.teacher_ratio`` at each epoch's start and logs it as
    ``teacher_forcing`` (made on first use, so importing this module does not import Keras)."""
    import keras

    class TeacherForcingSchedule(keras.callbacks.Callback):
        """Sets ``model.teacher_ratio`` at each epoch's start and logs it as ``teacher_forcing``."""

        def __init__(self, schedule: str, k: float = 1.0, c: float = 0.1, minimum: float = 0.0) -> None:
            super().__init__()
            self.schedule, self.k, self.c, self.minimum = schedule, k, c, minimum
            self.ratio = 1.0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.ratio = teacher_forcing_ratio(self.schedule, epoch, self.k, self.c, self.minimum)
            self.model.teacher_ratio.assign(self.ratio)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if logs is not None:
                logs["teacher_forcing"] = self.ratio

    return TeacherForcingSchedule


# ---- metrics and baselines ---------------------------------------------------------------------------
def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def scores(predicted: list[str], targets: list[str]) -> dict[str, float | None]:
    """{"exact_match": share of exact outputs, "cer": total edit distance / total target characters}
    (None for no pairs)."""
    if not targets:
        return {"exact_match": None, "cer": None}
    exact = float(np.mean([p == t for p, t in zip(predicted, targets, strict=True)]))
    dist = sum(levenshtein(p, t) for p, t in zip(predicted, targets, strict=True))
    return {"exact_match": exact, "cer": dist / max(1, sum(len(t) for t in targets))}


def baselines(data: PairsData, part: str = "test") -> dict[str, dict[str, Any]]:
    """The copy-the-source and most-frequent-training-target baselines on `part`."""
    df = data.parts[part]
    targets = df["target"].tolist()
    frequent = str(data.parts["train"]["target"].value_counts().index[0])
    return {"copy_source": scores(df["source"].tolist(), targets),
            "most_frequent": {**scores([frequent] * len(targets), targets), "answer": frequent}}


def verdict(metrics: dict[str, Any]) -> tuple[str, str]:
    """(best baseline key, one line on the model's greedy exact match and CER against it); the best baseline
    has the higher exact match, then the lower CER."""
    best = max(BASELINE_LABELS, key=lambda k: (metrics[k]["exact_match"], -metrics[k]["cer"]))
    m, b = metrics["model"], metrics[best]
    label = BASELINE_LABELS[best]
    figures = (f"exact match {m['exact_match']:.1%} vs {b['exact_match']:.1%}, CER {m['cer']:.3f} vs {b['cer']:.3f}")
    if m["exact_match"] > b["exact_match"] or (m["exact_match"] == b["exact_match"] and m["cer"] < b["cer"]):
        return best, f"beats every baseline (best: {label}; {figures})"
    return best, (f"no better than {label} ({figures}): try more epochs, more units, or attention if it is off")


def translate_texts(model: Any, data: PairsData, texts: list[str], beam: int = 0,
                    batch_size: int = 256) -> list[str]:
    """Translations of `texts`: greedy (beam 0 or 1) in batches, or beam search of width `beam` one by one."""
    src = data.src_vocab.encode(texts, data.tokens, data.src_length)
    if beam > 1:
        out = []
        for row in src:
            best = model.beam(row[None, :], data.tgt_length, beam)[0]
            out.append(data.tgt_vocab.decode(np.asarray([best.tokens]), data.tokens)[0])
        return out
    decoded: list[str] = []
    for at in range(0, len(src), batch_size):
        ids, _ = model.greedy(src[at:at + batch_size], data.tgt_length)
        decoded += data.tgt_vocab.decode(np.asarray(ids), data.tokens)
    return decoded


def attention_frame(model: Any, data: PairsData, text: str) -> tuple[str, pd.DataFrame | None]:
    """(greedy translation of `text`, its attention weights as a long frame: out_pos, out_token, in_pos,
    in_token, weight, one row per output token before END and source token), None without attention."""
    src = data.src_vocab.encode([text], data.tokens, data.src_length)
    ids, weights = model.greedy(src, data.tgt_length)
    ids = np.asarray(ids)[0]
    out = data.tgt_vocab.decode(ids[None, :], data.tokens)[0]
    if weights is None:
        return out, None
    from builder.data.pairs import split_tokens

    w = np.asarray(weights)[0]
    n_out = data.tgt_vocab.cut(ids)
    src_tokens = split_tokens(text, data.tokens)[:data.src_length]
    rows = [{"out_pos": t, "out_token": data.tgt_vocab.tokens[int(ids[t])] if int(ids[t]) < len(data.tgt_vocab.tokens)
             else "?", "in_pos": s, "in_token": tok, "weight": float(w[t, s])}
            for t in range(n_out) for s, tok in enumerate(src_tokens)]
    return out, pd.DataFrame(rows, columns=["out_pos", "out_token", "in_pos", "in_token", "weight"])


def pairs_of(resolved: Resolved) -> PairsData:
    """The vocabularies and lengths of a run (no parts), from its resolved record."""
    from builder.data.pairs import Vocab

    return PairsData(resolved.source, resolved.inputs[0], resolved.targets[0], resolved.tokens or "characters",  # type: ignore[arg-type]
                     {}, Vocab(tuple(resolved.vocabulary)), Vocab(tuple(resolved.classes)),
                     int(resolved.lookback or 1), int(resolved.horizon or 1))


def _num(value: Any, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


class TranslateTask(LogitsHead, Task):
    """Text pairs -> an encoder-decoder; shapes: B batch, S source tokens, T target tokens, V target vocabulary."""

    model_kind = "seq2seq"
    model_fields = ("embedding_dim", "seq2seq")
    evaluate_views = ("translate",)
    predict_options = ("beam",)
    number_format = ".3f"
    convert_refusal = ("its SavedModel decodes strings (a TensorFlow lookup table, a token loop and string joins in "
                       "the graph), which neither ONNX nor LiteRT converts; serve the SavedModel's `translate` signature")

    # ---- data ----------------------------------------------------------------------------------------
    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        """n_features / n_outputs: the source / target vocabulary sizes when known (> 1)."""
        n_src = int(n_features) if n_features and n_features > 1 else PLACEHOLDER_VOCAB
        n_tgt = int(n_outputs) if n_outputs and n_outputs > 1 else PLACEHOLDER_VOCAB
        return Resolved(source="", inputs=("source",), targets=("target",), lookback=PLACEHOLDER_SOURCE,
                        input_length=PLACEHOLDER_SOURCE, horizon=PLACEHOLDER_TARGET,
                        vocabulary=tuple(str(i) for i in range(n_src)), classes=tuple(str(i) for i in range(n_tgt)),
                        tokens=spec.seq2seq.tokens)

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> PairsData:
        df = load_table(source, name=name)
        label = name or str(source)
        test_df = load_table(test_source) if test_source is not None else None
        return self._prepare(df, spec, label, test_df, str(test_source))

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> PairsData:
        return self._prepare(df, spec, str(df.attrs.get("source", "table")))

    def _prepare(self, df: pd.DataFrame, spec: ModelSpec, name: str, test_df: pd.DataFrame | None = None,
                 test_name: str = "test") -> PairsData:
        d = spec.data
        data = prepare_pairs(df, d.source_col, d.target_col, spec.seq2seq.tokens, d.val_fraction, d.test_fraction,
                             name=name, test_df=test_df, test_name=test_name)
        data.beam_width = int(spec.seq2seq.beam_width)
        return data

    def resolve(self, data: PairsData, source: str | None = None, test_source: str | None = None) -> Resolved:
        return Resolved(source=source or data.name, inputs=(data.source_col,), targets=(data.target_col,),
                        lookback=data.src_length, input_length=data.src_length, horizon=data.tgt_length,
                        vocabulary=data.src_vocab.tokens, classes=data.tgt_vocab.tokens, split=data.split,
                        notices=data.notices, test_source=test_source, tokens=data.tokens)

    def datasets(self, data: PairsData, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        import tensorflow as tf

        from builder.data.windows import finish_pipeline

        t = spec.training

        def pipeline(part: str, shuffle: bool) -> Any:
            a = data.arrays(part)
            ds = tf.data.Dataset.from_tensor_slices(({"source": a["source"], "target_in": a["target_in"]},
                                                     a["target_out"]))
            if shuffle:
                ds = ds.shuffle(len(a["source"]), seed=t.seed, reshuffle_each_iteration=True)
            return finish_pipeline(ds.batch(t.batch_size))

        val = pipeline("val", False) if len(data.parts["val"]) else None
        return pipeline("train", True), val, int(len(data.parts["train"]))

    def overview(self, data: PairsData) -> dict[str, Any]:
        head = data.parts["train"].head(5)
        return {"task": self.name, "pairs": data.split, "tokens": data.tokens,
                "source_vocabulary": len(data.src_vocab.tokens), "target_vocabulary": len(data.tgt_vocab.tokens),
                "source_length": data.src_length, "target_length": data.tgt_length, "notices": list(data.notices),
                "n_features": len(data.src_vocab.tokens), "n_outputs": len(data.tgt_vocab.tokens),
                "examples": head.to_dict(orient="records")}

    def guess_columns(self, df: pd.DataFrame, data: Any) -> dict[str, Any]:
        """source_col / target_col: the spec's where they name columns of `df`, else columns named source and
        target, else the first two text columns."""
        chosen = {k: getattr(data, k, None) for k in ("source_col", "target_col")}
        text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        out: dict[str, Any] = {}
        for key, named in (("source_col", "source"), ("target_col", "target")):
            col = chosen[key] if chosen[key] in df.columns else (named if named in df.columns else None)
            if col is None:
                col = next((c for c in text if c not in out.values()), None)
            if col is not None:
                out[key] = col
        return out

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        p = overview["pairs"]
        return [
            {"label": "Pairs (train / val / test)", "value": f"{p['train']:,} / {p['val']:,} / {p['test']:,}",
             "help": "Split in file order."},
            {"label": f"Vocabulary ({overview['tokens']})",
             "value": f"{overview['source_vocabulary']} → {overview['target_vocabulary']}",
             "help": "Distinct source and target tokens of the training part, plus pad, unknown, start and end."},
            {"label": "Longest text (tokens)", "value": f"{overview['source_length']} → {overview['target_length']}",
             "help": "Source, and target with its end token: how far the decoder runs."},
        ]

    # ---- model (built by builder.model.seq2seq.build_seq2seq) -------------------------------------------
    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        v = resolved.n_outputs
        return [(f"Dense per step\n{v} target tokens (logits)", "head", f"[batch, T, {v}]"),
                ("Output: the target text (greedy / beam decoding)", "io", "")]

    def loss(self, spec: ModelSpec) -> Any:
        import keras

        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD)

    def callbacks(self, spec: ModelSpec) -> list[Any]:
        s = spec.seq2seq
        return [schedule_callback_class()(s.teacher_forcing, k=s.tf_k, c=s.tf_c, minimum=s.tf_min)]

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, data: PairsData, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """Greedy on every test pair, beam search on the first BEAM_MAX_PAIRS, beside the two baselines."""
        df = data.parts["test"]
        sources, targets = df["source"].tolist(), df["target"].tolist()
        greedy = translate_texts(raw_model, data, sources)
        width = data.beam_width
        n_beam = min(len(sources), BEAM_MAX_PAIRS) if width > 1 else 0
        beam = translate_texts(raw_model, data, sources[:n_beam], beam=width) if n_beam else []
        metrics: dict[str, Any] = {
            "task": self.name, "part": "test", "tokens": data.tokens, "n_pairs": data.split,
            "model": scores(greedy, targets), **baselines(data),
            "model_beam": ({**scores(beam, targets[:n_beam]), "width": width, "pairs": n_beam,
                            "greedy_on_same": scores(greedy[:n_beam], targets[:n_beam])} if n_beam else None),
        }
        metrics["best_baseline"], metrics["verdict"] = verdict(metrics)
        frame = pd.DataFrame({"source": sources, "target": targets, "greedy": greedy,
                              "beam": beam + [None] * (len(sources) - n_beam)})
        frame["greedy_exact"] = frame["greedy"] == frame["target"]
        return metrics, frame

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        beam = metrics.get("model_beam")
        rows = [("model (greedy)", metrics["model"])]
        if beam and beam["pairs"] < metrics["n_pairs"]["test"]:
            rows.append((f"model (beam {beam['width']}, first {beam['pairs']} pairs)", beam))
            rows.append((f"model (greedy, first {beam['pairs']} pairs)", beam["greedy_on_same"]))
        elif beam:
            rows.append((f"model (beam {beam['width']})", beam))
        rows += [(f"baseline: {label}", metrics[key]) for key, label in BASELINE_LABELS.items()]
        return pd.DataFrame([{"": who, "exact match": r["exact_match"], "CER": r["cer"]} for who, r in rows]).set_index("")

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        m, best = metrics["model"], metrics[metrics["best_baseline"]]
        label = BASELINE_LABELS[metrics["best_baseline"]]
        cards = [
            {"label": "Exact match (greedy)", "value": f"{m['exact_match']:.1%}", "lower_is_better": False,
             "delta": f"{(m['exact_match'] - best['exact_match']) * 100:+.1f} pts vs {label}",
             "help": "Share of test pairs whose whole output equals the target."},
            {"label": "CER (greedy)", "value": f"{m['cer']:.3f}", "lower_is_better": True,
             "delta": f"{m['cer'] - best['cer']:+.3f} vs {label}",
             "help": "Character error rate: edit distance over the target's characters, summed over the test pairs."},
        ]
        beam = metrics.get("model_beam")
        if beam:
            same = beam["greedy_on_same"]
            cards.append({"label": f"Exact match (beam {beam['width']})", "value": f"{beam['exact_match']:.1%}",
                          "lower_is_better": False,
                          "delta": f"{(beam['exact_match'] - same['exact_match']) * 100:+.1f} pts vs greedy",
                          "help": f"On the first {beam['pairs']} test pairs, against greedy on the same pairs."})
        return cards

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        return "exact match", (metrics.get("model") or {}).get("exact_match")

    def result_summary(self, metrics: dict[str, Any]) -> str:
        return f"Test exact match {metrics['model']['exact_match']:.1%}, CER {metrics['model']['cer']:.3f}: {metrics['verdict']}."

    def result_kind(self, metrics: dict[str, Any]) -> str:
        return "success" if str(metrics.get("verdict", "")).startswith("beats") else "warning"

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        beam = metrics.get("model_beam") or {}
        return {"exact match": metrics["model"]["exact_match"], "CER": metrics["model"]["cer"],
                "beam exact match": beam.get("exact_match"),
                "copy exact match": metrics["copy_source"]["exact_match"]}

    def cli_table(self, metrics: dict[str, Any]) -> str:
        lines = [f"{'':44}{'exact match':>12}{'CER':>9}"]
        for label, row in self.metrics_table(metrics).iterrows():
            lines.append(f"{label:44}{_num(row['exact match'], '>12.3f')}{_num(row['CER'], '>9.4f')}")
        lines.append(f"({metrics['n_pairs']['test']:,} test pairs) {metrics['verdict']}")
        return "\n".join(lines)

    # ---- serving -------------------------------------------------------------------------------------
    def output_meaning(self, resolved: Resolved) -> str:
        return (f"the {resolved.targets[0]} text of each {resolved.inputs[0]} text (greedy decoding, at most "
                f"{resolved.horizon} {resolved.tokens})")

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any, beam: int = 0) -> pd.DataFrame:
        """The translation of each row's source column (beam search of width `beam` when > 1, else greedy)."""
        check_beam_width(beam, "beam")
        data = pairs_of(resolved)
        sources = read_sources(df, data.source_col, name=str(df.attrs.get("source", "data")))
        out = pd.DataFrame({"source": sources, "translation": translate_texts(model, data, sources, beam=beam)})
        out.attrs["notices"] = [*df.attrs.get("notices", []), *source_notices(data, sources)]
        return out


def source_notices(data: PairsData, sources: list[str]) -> list[str]:
    """What translating `sources` (rows 2.. of a CSV) assumes: a source longer than the run's longest
    training-time source is cut to it (the model reads no further), and tokens the training sources lack
    are read as the unknown token."""
    from builder.data.pairs import split_tokens

    notices = []
    known = set(data.src_vocab.tokens[4:])
    split = [split_tokens(s, data.tokens) for s in sources]
    long = [i for i, t in enumerate(split) if len(t) > data.src_length]
    if long:
        notices.append(f"{len(long)} source(s) have more {data.tokens} than the model reads ({data.src_length}, the "
                       f"longest source in training) and were cut to it (e.g. row {long[0] + 2}: "
                       f"{len(split[long[0]])} {data.tokens}); their translations are of the cut text")
    unknown = [i for i, t in enumerate(split) if any(tok not in known for tok in t)]
    if unknown:
        shown = sorted({tok for i in unknown for tok in split[i] if tok not in known})
        notices.append(f"{len(unknown)} source(s) have {data.tokens} that no training source has (e.g. row "
                       f"{unknown[0] + 2}; {', '.join(repr(t) for t in shown[:10])}{', ...' if len(shown) > 10 else ''}); "
                       "the model reads them as the unknown token")
    return notices


__all__ = ["PAIR_PARTS", "TranslateTask", "attention_frame", "baselines", "levenshtein", "pairs_of", "schedule_table",
           "scores", "source_notices", "teacher_forcing_ratio", "translate_texts", "verdict"]
