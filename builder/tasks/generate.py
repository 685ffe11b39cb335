"""Task `generate`: a character-level language model (char-RNN) of a UTF-8 text file.

Data (builder.data.text): the text split into contiguous train / validation / test parts; the
vocabulary comes from the training part (id 0: the unknown symbol); training windows of `context`
characters (spec.data.lookback) start every `stride` characters, and stride 1 (the default) means
every `context` characters: overlapping windows of text would multiply an epoch by the context for
little gain. Model (builder.model.sequence): Embedding -> the spec's recurrent stack -> next-character
logits at every step; loss: cross-entropy from logits. Evaluation: bits per character (and perplexity)
on the validation and test parts, each part read as 64 contiguous streams with the state carried
along, beside the add-one unigram model and the interpolated Kneser-Ney n-gram model whose order
(2..7) is chosen on the validation part (builder.tasks.text_baselines).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from builder.data.read import DataError
from builder.data.text import PARTS, TextData, encode, prepare_text, read_text
from builder.spec import ModelSpec
from builder.tasks.base import LogitsHead, Resolved, Task, standing

#: the context (window length in characters) when the spec leaves lookback empty
DEFAULT_CONTEXT = 100
#: vocabulary size a spec-only model (no data yet) is drawn with
PLACEHOLDER_VOCAB = 96
#: contiguous streams a part is scored in (the state runs along each stream)
EVAL_STREAMS = 64
LN2 = float(np.log(2.0))


def context_of(spec: ModelSpec) -> int:
    return int(spec.data.lookback or DEFAULT_CONTEXT)


def stream_bits(model: Any, ids: np.ndarray, streams: int = EVAL_STREAMS) -> tuple[float, int, np.ndarray]:
    """(total bits, characters scored, bits per scored character [N-1]) of ids[1:] under `model`
    ([B, T] ids -> [B, T, V] logits), reading ids as `streams` contiguous pieces with the state
    carried along each piece (its first character is predicted from a fresh state)."""
    import tensorflow as tf

    x, y = ids[:-1], ids[1:]
    m = len(x)
    if m < 1:
        return 0.0, 0, np.zeros(0)
    streams = max(1, min(streams, m))
    length = int(np.ceil(m / streams))
    pad = streams * length - m
    xs = np.concatenate([x, np.zeros(pad, np.int32)]).reshape(streams, length)
    ys = np.concatenate([y, np.zeros(pad, np.int32)]).reshape(streams, length)
    logits = tf.constant(np.asarray(model.predict(xs, batch_size=streams, verbose=0)), tf.float32)
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(ys), logits=logits).numpy()
    bits = (nll.reshape(-1)[:m] / LN2).astype(np.float64)
    return float(bits.sum()), m, bits


def _scores(bits: float) -> dict[str, float]:
    return {"bits_per_char": float(bits), "perplexity": float(2.0 ** bits)}


class GenerateTask(LogitsHead, Task):
    model_fields = ("embedding_dim",)
    evaluate_views = ("generate",)
    model_kind = "language_model"
    samples_each_epoch = True
    convert_refusal = "its SavedModel serves `generate` and `step` (text and token ids in, text and logits out)"

    # ---- data ----------------------------------------------------------------------------------------
    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        n_out = int(n_outputs) if n_outputs is not None else PLACEHOLDER_VOCAB
        return Resolved(source="", inputs=("token",), lookback=context_of(spec), input_length=None,
                        classes=tuple(str(i) for i in range(n_out)))

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> TextData:
        text, label = read_text(source, name=name)
        test_text = read_text(test_source)[0] if test_source is not None else None
        d = spec.data
        context = context_of(spec)
        return prepare_text(text, label, context, d.val_fraction, d.test_fraction,
                            step=d.stride if d.stride > 1 else context, test_text=test_text)

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> TextData:
        if "text" not in df.columns:
            raise DataError(f"the generate task reads UTF-8 text; a table needs a `text` column, found {list(df.columns)}")
        return prepare_text("\n".join(df["text"].astype(str)), df.attrs.get("source", "table"), context_of(spec),
                            spec.data.val_fraction, spec.data.test_fraction)

    def resolve(self, data: TextData, source: str | None = None, test_source: str | None = None) -> Resolved:
        return Resolved(source=source or data.source, inputs=("token",), lookback=data.context, input_length=None,
                        classes=data.vocab, split=data.split,
                        windows={p: int(len(data.windows(p)[0])) for p in PARTS},
                        notices=data.notices, test_source=test_source)

    def datasets(self, data: TextData, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        import tensorflow as tf

        from builder.data.windows import finish_pipeline

        t = spec.training
        x, y = data.windows("train")
        train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=t.seed, reshuffle_each_iteration=True)
        train = finish_pipeline(train.batch(t.batch_size))
        vx, vy = data.windows("val", step=data.context)
        val = finish_pipeline(tf.data.Dataset.from_tensor_slices((vx, vy)).batch(t.batch_size)) if len(vx) else None
        return train, val, int(len(x))

    def overview(self, data: TextData) -> dict[str, Any]:
        return {"task": self.name, "characters": data.split, "vocabulary": len(data.vocab),
                "context": data.context, "windows": {p: int(len(data.windows(p)[0])) for p in PARTS},
                "notices": list(data.notices), "n_features": 1, "n_outputs": len(data.vocab),
                "sample": decode_head(data)}

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        chars, wins = overview["characters"], overview["windows"]
        return [
            {"label": "Characters (train / val / test)",
             "value": f"{chars['train']:,} / {chars['val']:,} / {chars['test']:,}", "help": None},
            {"label": "Vocabulary", "value": str(overview["vocabulary"]),
             "help": "Distinct characters of the training part, plus the unknown symbol."},
            {"label": "Training windows", "value": f"{wins['train']:,}", "help": None},
        ]

    # ---- model (built by builder.model.sequence.build_language_model) ------------------------------
    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        v = resolved.n_outputs
        return [(f"Dense per step\n{v} characters (logits)", "head", f"[batch, T, {v}]"),
                ("Output: next-character logits", "io", "")]

    def loss(self, spec: ModelSpec) -> Any:
        import keras

        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, data: TextData, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """Bits per character of the model, the unigram and the best Kneser-Ney n-gram on val and test."""
        from builder.tasks.text_baselines import best_ngram, unigram_bits

        vocab = len(data.vocab)
        train = data.ids["train"]
        part = "test" if len(data.ids["test"]) > 1 else "val"
        order, by_order, kn = best_ngram(train, data.ids["val"] if len(data.ids["val"]) > 1 else train[-50_000:], vocab)
        out: dict[str, Any] = {"task": self.name, "part": part, "vocabulary": vocab, "context": data.context,
                               "n_chars": {p: int(len(data.ids[p])) for p in PARTS}}
        rows: dict[str, dict[str, Any]] = {"model": {}, "unigram": {}, "ngram": {}}
        test_bits = np.zeros(0)
        for p in ("val", "test"):
            ids = data.ids[p]
            if len(ids) < 2:
                continue
            total, count, bits = stream_bits(raw_model, ids)
            if p == part:
                test_bits = bits
            prefix = "" if p == part else "val_"
            for who, value in (("model", total / count), ("unigram", unigram_bits(train, ids[1:], vocab)),
                               ("ngram", kn.bits(ids))):
                rows[who].update({f"{prefix}{k}": v for k, v in _scores(value).items()})
        rows["ngram"].update({"order": int(order), "smoothing": "interpolated Kneser-Ney, discount n1/(n1+2n2) per order",
                              "val_bits_by_order": {str(k): float(v) for k, v in by_order.items()}})
        rows["unigram"]["smoothing"] = "add-one"
        out.update(rows)
        out["bits_per_char"] = {who: rows[who].get("bits_per_char") for who in rows}
        ids = data.ids[part]
        n = min(2000, len(test_bits))
        frame = pd.DataFrame({"position": np.arange(1, n + 1), "character": [data.vocab[i] for i in ids[1:n + 1]],
                              "bits": test_bits[:n]})
        return out, frame

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        ng = metrics.get("ngram", {})
        who = {"model": "model", "unigram": "unigram (add-one)",
               "ngram": f"{ng.get('order', '?')}-gram (Kneser-Ney)"}
        rows = [{"": label, "bits/char": metrics.get(k, {}).get("bits_per_char"),
                 "perplexity": metrics.get(k, {}).get("perplexity"),
                 "val bits/char": metrics.get(k, {}).get("val_bits_per_char")} for k, label in who.items()]
        return pd.DataFrame(rows).set_index("")

    number_format = ".3f"

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        m, ng = metrics["model"]["bits_per_char"], metrics["ngram"]["bits_per_char"]
        return [
            {"label": "Bits per character", "value": f"{m:.3f}", "lower_is_better": True,
             "delta": f"{(m - ng) / ng:+.1%} vs {metrics['ngram'].get('order')}-gram", "help": "test part; lower is better"},
            {"label": "Perplexity", "value": f"{metrics['model']['perplexity']:.2f}", "delta": None, "help": ""},
            {"label": "Vocabulary", "value": str(metrics.get("vocabulary", "–")), "delta": None, "help": ""},
        ]

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        return "bits/char", metrics.get("model", {}).get("bits_per_char")

    def result_summary(self, metrics: dict[str, Any]) -> str:
        return (f"Test bits per character {metrics['model']['bits_per_char']:.3f} vs "
                f"{metrics['ngram']['order']}-gram {metrics['ngram']['bits_per_char']:.3f} and unigram "
                f"{metrics['unigram']['bits_per_char']:.3f}.")

    def result_kind(self, metrics: dict[str, Any]) -> str:
        best = min(metrics[k]["bits_per_char"] for k in ("ngram", "unigram"))
        return standing(metrics["model"]["bits_per_char"], best, lower_is_better=True)

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {"bits/char": metrics["model"]["bits_per_char"], "n-gram bits/char": metrics["ngram"]["bits_per_char"],
                "unigram bits/char": metrics["unigram"]["bits_per_char"]}

    def cli_table(self, metrics: dict[str, Any]) -> str:
        lines = [f"{'':24}{'bits/char':>10}{'perplexity':>12}{'val bits/char':>15}"]
        for label, row in self.metrics_table(metrics).iterrows():
            def fmt(v: Any, w: int) -> str:
                return f"{v:{w}.3f}" if v is not None and np.isfinite(v) else f"{'–':>{w}}"
            lines.append(f"{label:24}{fmt(row['bits/char'], 10)}{fmt(row['perplexity'], 12)}{fmt(row['val bits/char'], 15)}")
        lines.append(f"({metrics['n_chars'][metrics['part']]:,} {metrics['part']} characters, vocabulary {metrics['vocabulary']})")
        return "\n".join(lines)

    # ---- serving -------------------------------------------------------------------------------------
    def output_meaning(self, resolved: Resolved) -> str:
        return f"[batch, time, {resolved.n_outputs}] next-character logits over the vocabulary (metadata classes; id 0 unknown)"

    def load_new(self, source: Any, name: str | None = None, resolved: Resolved | None = None) -> pd.DataFrame:
        """A text file as a one-row table with a `text` column (what `predict` scores)."""
        text, label = read_text(source, name=name)
        df = pd.DataFrame({"text": [text]})
        df.attrs["source"] = label
        return df

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any) -> pd.DataFrame:
        """Bits per character of each row's `text` under the model (its characters after the first)."""
        source = df.attrs.get("source", "data")
        if "text" not in df.columns:
            raise DataError(f"{source}: expected a `text` column (or a .txt file), found {list(df.columns)}")
        rows = []
        for i, text in enumerate(df["text"].astype(str)):
            ids = encode(text, resolved.classes)
            total, count, _ = stream_bits(model, ids, streams=1 if len(ids) < 4096 else EVAL_STREAMS)
            rows.append({"row": i + 1, "characters": len(text), "unknown": int((ids == 0).sum()),
                         "bits_per_char": total / count if count else None})
        return pd.DataFrame(rows)


def decode_head(data: TextData, n: int = 300) -> str:
    """The first `n` characters of the training part (the Data page's preview)."""
    return "".join(data.vocab[i] for i in data.ids["train"][:n])
