"""Task `translate` (data, metrics, baselines, export): sequence-to-sequence on a table of text pairs.

Data: a CSV with a source column and a target column (one pair a row); tokens are characters or
whitespace-separated words. Rows are split in file order into train / validation / test parts; each
side's vocabulary comes from the training part, with ids 0..3 = pad, unknown, start, end
(builder.model.seq2seq.PAD/UNK/START/END). Metrics on the test part: exact match (the whole output
equals the target) and character error rate (Levenshtein distance over the target's length, summed
over pairs), beside two baselines: copy the source, and always answer the most frequent training
target. Export: a SavedModel whose ``translate`` signature maps a string batch to a string batch
with greedy decoding in the graph, so it runs with TensorFlow alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from builder.data.read import DataError
from builder.model.seq2seq import END, PAD, START, UNK

Tokens = Literal["characters", "words"]
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")


def split_tokens(text: str, tokens: Tokens) -> list[str]:
    """``text`` as a token list: its characters, or its whitespace-separated words."""
    return list(text) if tokens == "characters" else text.split()


def join_tokens(parts: list[str], tokens: Tokens) -> str:
    return "".join(parts) if tokens == "characters" else " ".join(parts)


@dataclass(frozen=True)
class Vocab:
    """Token of each id; ids 0..3 are the pad, unknown, start and end symbols."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, texts: list[str], tokens: Tokens) -> Vocab:
        counts = Counter(t for text in texts for t in split_tokens(text, tokens))
        return cls(SPECIALS + tuple(sorted(counts)))

    def encode(self, texts: list[str], tokens: Tokens, length: int, ends: bool = False) -> np.ndarray:
        """texts -> ids [N, length] int32 (unknown tokens -> UNK; cut at `length`; with `ends`, START before
        and END after the tokens, inside `length`)."""
        index = {t: i for i, t in enumerate(self.tokens)}
        out = np.full((len(texts), length), PAD, np.int32)
        for row, text in enumerate(texts):
            ids = [index.get(t, UNK) for t in split_tokens(text, tokens)]
            if ends:
                ids = [START, *ids, END]
            ids = ids[:length]
            out[row, :len(ids)] = ids
        return out

    def decode(self, ids: np.ndarray, tokens: Tokens) -> list[str]:
        """ids [N, T] -> texts, each cut at its first END (specials dropped)."""
        texts = []
        for row in np.asarray(ids):
            parts = []
            for i in row:
                if int(i) == END:
                    break
                if int(i) >= len(SPECIALS) and int(i) < len(self.tokens):
                    parts.append(self.tokens[int(i)])
            texts.append(join_tokens(parts, tokens))
        return texts


@dataclass
class PairsData:
    """Prepared pairs: texts per part, both vocabularies and the padded lengths (with START/END)."""

    name: str
    source_col: str
    target_col: str
    tokens: Tokens
    parts: dict[str, pd.DataFrame]
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_length: int
    tgt_length: int

    def arrays(self, part: str) -> dict[str, np.ndarray]:
        """{"source" [N, S], "target_in" [N, T] (START first), "target_out" [N, T] (END last)} of `part`."""
        df = self.parts[part]
        tgt = self.tgt_vocab.encode(df["target"].tolist(), self.tokens, self.tgt_length + 1, ends=True)
        return {"source": self.src_vocab.encode(df["source"].tolist(), self.tokens, self.src_length),
                "target_in": tgt[:, :-1], "target_out": tgt[:, 1:]}


def read_pairs(df: pd.DataFrame, source_col: str, target_col: str, name: str = "upload",
               minimum: int = 3) -> pd.DataFrame:
    """The (source, target) text pairs of `df`; DataError names the file, column or row when one is
    missing or a target is empty."""
    for role, col in (("source", source_col), ("target", target_col)):
        if col not in df.columns:
            raise DataError(f"{name}: {role} column {col!r} not found; expected one of {list(df.columns)}")
    pairs = pd.DataFrame({"source": df[source_col], "target": df[target_col]})
    for role, col in (("source", source_col), ("target", target_col)):
        text = pairs[role].astype("string").str.strip()
        empty = text.isna() | (text == "")
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0]) + 2  # 1-based, after the header line
            raise DataError(f"{name}: row {row}, column {col!r}: expected a non-empty {role} text, found an empty cell "
                            f"({int(empty.sum())} such rows)")
        pairs[role] = text.astype(str)
    if len(pairs) < minimum:
        raise DataError(f"{name}: expected at least {minimum} pairs, found {len(pairs)}")
    return pairs


def prepare_pairs(df: pd.DataFrame, source_col: str, target_col: str, tokens: Tokens = "characters",
                  val_fraction: float = 0.1, test_fraction: float = 0.15, name: str = "upload") -> PairsData:
    """Split the pairs in file order and build the vocabularies from the training part."""
    if tokens not in ("characters", "words"):
        raise DataError(f"tokens: expected 'characters' or 'words', found {tokens!r}")
    pairs = read_pairs(df, source_col, target_col, name)
    n = len(pairs)
    n_test = max(1, int(round(n * test_fraction)))
    n_val = max(1, int(round(n * val_fraction))) if val_fraction > 0 else 0
    n_train = n - n_test - n_val
    if n_train < 1:
        raise DataError(f"{name}: {n} pairs leave no training pairs after the validation and test parts")
    parts = {"train": pairs.iloc[:n_train], "val": pairs.iloc[n_train:n_train + n_val], "test": pairs.iloc[n_train + n_val:]}
    train = parts["train"]
    src_len = max(len(split_tokens(t, tokens)) for t in pairs["source"])
    tgt_len = max(len(split_tokens(t, tokens)) for t in pairs["target"]) + 1  # + END
    return PairsData(name, source_col, target_col, tokens, {k: v.reset_index(drop=True) for k, v in parts.items()},
                     Vocab.build(train["source"].tolist(), tokens), Vocab.build(train["target"].tolist(), tokens),
                     src_len, tgt_len)


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


def scores(predicted: list[str], targets: list[str]) -> dict[str, float]:
    """{"exact_match": share of exact outputs, "cer": total edit distance / total target characters}."""
    if not targets:
        return {"exact_match": float("nan"), "cer": float("nan")}
    exact = float(np.mean([p == t for p, t in zip(predicted, targets, strict=True)]))
    dist = sum(levenshtein(p, t) for p, t in zip(predicted, targets, strict=True))
    return {"exact_match": exact, "cer": dist / max(1, sum(len(t) for t in targets))}


def baselines(data: PairsData, part: str = "test") -> dict[str, dict[str, float]]:
    """The copy-the-source and most-frequent-training-target baselines on `part`."""
    df = data.parts[part]
    targets = df["target"].tolist()
    frequent = data.parts["train"]["target"].value_counts().index[0]
    return {"copy_source": scores(df["source"].tolist(), targets),
            "most_frequent": scores([frequent] * len(targets), targets)}


# ---- export --------------------------------------------------------------------------------------------
def translate_module(model: Any, data: PairsData) -> Any:
    """A tf.Module whose ``translate(source: string [B]) -> string [B]`` runs tokenisation, the encoder and
    greedy decoding (data.tgt_length steps) in the graph."""
    import tensorflow as tf

    tokens = data.tokens
    src_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(data.src_vocab.tokens)),
                                            tf.range(len(data.src_vocab.tokens), dtype=tf.int64)), UNK)
    tgt_tokens = tf.constant(list(data.tgt_vocab.tokens))
    src_length, tgt_length = data.src_length, data.tgt_length
    sep = "" if tokens == "characters" else " "

    class Translator(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.src_table, self.tgt_tokens = model, src_table, tgt_tokens

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="source")])
        def translate(self, source: Any) -> Any:
            pieces = (tf.strings.unicode_split(source, "UTF-8") if tokens == "characters"
                      else tf.strings.split(source))
            ids = tf.cast(self.src_table.lookup(pieces), tf.int32)
            ids = ids[:, :src_length].to_tensor(default_value=PAD, shape=[None, src_length])
            out, _ = self.model.greedy(ids, tgt_length)
            out = tf.cast(out, tf.int32)
            # keep tokens before the first END; drop the specials
            ended = tf.cumsum(tf.cast(tf.equal(out, END), tf.int32), axis=1) > 0
            keep = tf.logical_and(tf.logical_not(ended), out >= len(SPECIALS))
            words = tf.ragged.boolean_mask(tf.gather(self.tgt_tokens, out), keep)
            return tf.strings.reduce_join(words, axis=1, separator=sep)

    return Translator()


def export_translate(model: Any, data: PairsData, path: str) -> None:
    """Write the SavedModel with the ``translate`` signature (string batch -> string batch) to `path`."""
    import tensorflow as tf

    module = translate_module(model, data)
    tf.saved_model.save(module, path, signatures={"translate": module.translate})


# ---- training and prediction ---------------------------------------------------------------------------
def fit_pairs(data: PairsData, units: int = 64, embed: int = 32, cell: str = "gru", attention: str = "bahdanau",
              score: str = "general", bidirectional: bool = False, epochs: int = 5, batch_size: int = 64,
              schedule: str = "none", k: float = 1.0, c: float = 0.1, seed: int = 0,
              verbose: int = 0) -> tuple[Any, dict[str, list[float]]]:
    """Train a Seq2Seq on data's training part (masked cross-entropy); returns (model, history)."""
    import keras

    from builder.model.seq2seq import Seq2Seq, TeacherForcingSchedule

    keras.utils.set_random_seed(seed)
    model = Seq2Seq(len(data.src_vocab.tokens), len(data.tgt_vocab.tokens), units=units, embed=embed, cell=cell,
                    attention=attention, score=score, bidirectional=bidirectional)  # type: ignore[arg-type]
    model.compile(optimizer=keras.optimizers.Adam(0.005),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD))
    train = data.arrays("train")
    val = data.arrays("val") if len(data.parts["val"]) else None
    history = model.fit({"source": train["source"], "target_in": train["target_in"]}, train["target_out"],
                        validation_data=(({"source": val["source"], "target_in": val["target_in"]}, val["target_out"])
                                         if val is not None else None),
                        epochs=epochs, batch_size=batch_size, verbose=verbose,
                        callbacks=[TeacherForcingSchedule(schedule, k=k, c=c)])  # type: ignore[arg-type]
    return model, history.history


def translate_texts(model: Any, data: PairsData, texts: list[str], beam: int = 0, batch_size: int = 256) -> list[str]:
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


def evaluate_pairs(model: Any, data: PairsData, beam: int = 0) -> dict[str, Any]:
    """Test metrics of the model beside the baselines: {"model": {...}, "copy_source": ..., "most_frequent": ...}."""
    df = data.parts["test"]
    predicted = translate_texts(model, data, df["source"].tolist(), beam=beam)
    return {"model": scores(predicted, df["target"].tolist()), **baselines(data)}


# ---- run directories (CLI) -------------------------------------------------------------------------------
def save_run(model: Any, data: PairsData, settings: dict[str, Any], history: dict[str, list[float]],
             metrics: dict[str, Any], out: str) -> None:
    """Write translate.json (settings, vocabularies, lengths), model.weights.h5, metrics.json,
    history.json and the SavedModel (saved_model/) to the run directory `out`."""
    import json
    from pathlib import Path

    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    record = {"task": "translate", "settings": settings, "tokens": data.tokens, "source_col": data.source_col,
              "target_col": data.target_col, "src_vocab": list(data.src_vocab.tokens),
              "tgt_vocab": list(data.tgt_vocab.tokens), "src_length": data.src_length, "tgt_length": data.tgt_length}
    (path / "translate.json").write_text(json.dumps(record, indent=1))
    (path / "metrics.json").write_text(json.dumps({"task": "translate", **metrics}, indent=1))
    (path / "history.json").write_text(json.dumps({k: [float(x) for x in v] for k, v in history.items()}))
    model.save_weights(str(path / "model.weights.h5"))
    export_translate(model, data, str(path / "saved_model"))


def load_run(run: str) -> tuple[Any, PairsData]:
    """(model with its weights, PairsData without parts) of a translate run directory."""
    import json
    from pathlib import Path

    from builder.model.seq2seq import Seq2Seq

    path = Path(run) / "translate.json"
    if not path.exists():
        raise DataError(f"{run}: not a translate run (no translate.json)")
    r = json.loads(path.read_text())
    data = PairsData(run, r["source_col"], r["target_col"], r["tokens"], {}, Vocab(tuple(r["src_vocab"])),
                     Vocab(tuple(r["tgt_vocab"])), r["src_length"], r["tgt_length"])
    s = r["settings"]
    model = Seq2Seq(len(data.src_vocab.tokens), len(data.tgt_vocab.tokens), units=s["units"], embed=s["embed"],
                    cell=s["cell"], attention=s["attention"], score=s["score"], bidirectional=s["bidirectional"])
    model({"source": np.zeros((1, data.src_length), np.int32), "target_in": np.full((1, 1), START, np.int32)})  # build
    model.load_weights(str(Path(run) / "model.weights.h5"))
    return model, data


def cli_table(metrics: dict[str, Any]) -> str:
    """The model beside the baselines: exact match and CER on the test part."""
    lines = [f"{'':16}{'exact match':>12}{'CER':>9}"]
    for key in ("model", "model_beam", "copy_source", "most_frequent"):
        if key in metrics:
            lines.append(f"{key:16}{metrics[key]['exact_match']:>12.3f}{metrics[key]['cer']:>9.4f}")
    return "\n".join(lines)
