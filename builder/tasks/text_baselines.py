"""Baselines of the `generate` task: a unigram model and character n-gram models with interpolated
Kneser-Ney smoothing, scored in bits per character.

Unigram: training-part frequencies with add-one (Laplace) smoothing over the vocabulary.
n-gram: interpolated Kneser-Ney (Chen & Goodman 1998, section 3.5) with one absolute discount per order,
D = n1 / (n1 + 2 n2) (n1, n2: n-grams of that order seen once, twice). The highest order uses raw
counts, lower orders continuation counts (how many different characters precede the n-gram), and the
lowest order is interpolated with the uniform distribution over the vocabulary, so every character,
the unknown symbol included, has a probability above zero. Hand-written (about 80 lines) because the
library implementation we would otherwise use, nltk's `KneserNeyInterpolated`, is not in our lock and
scores a character in milliseconds (hours on a test part of 100k characters).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np


def unigram_bits(train: np.ndarray, ids: np.ndarray, vocab_size: int) -> float:
    """Bits per character of `ids` [N] under the add-one unigram model of `train` [M] (ids < vocab_size)."""
    counts = np.bincount(train, minlength=vocab_size).astype(np.float64) + 1.0
    p = counts / counts.sum()
    return float(-np.log2(p[ids]).mean()) if len(ids) else float("nan")


class KneserNey:
    """Interpolated Kneser-Ney character model of order `order` (contexts of order - 1 characters).

    Texts are sequences of ids mapped to characters (chr(id)), so n-grams are short strings.
    """

    def __init__(self, train: np.ndarray, order: int, vocab_size: int) -> None:
        self.order, self.vocab_size = order, vocab_size
        text = "".join(map(chr, train.tolist()))
        n = len(text)
        grams = [Counter(text[i:i + k] for i in range(n - k + 1)) for k in range(1, order + 1)]
        # counts[k-1]: raw counts for the highest order, continuation counts N1+(. g) for the others
        counts: list[Counter] = [Counter() for _ in range(order)]
        counts[order - 1] = grams[order - 1]
        for k in range(1, order):
            cont: Counter = Counter()
            for g in grams[k]:  # each distinct (k+1)-gram adds one left extension to its k-suffix
                cont[g[1:]] += 1
            counts[k - 1] = cont
        self.counts = counts
        self.discount = []
        self.total: list[dict[str, int]] = []
        self.types: list[dict[str, int]] = []
        for k in range(order):
            c = counts[k]
            hist = Counter(c.values())
            n1, n2 = hist.get(1, 0), hist.get(2, 0)
            self.discount.append(n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5)
            tot: dict[str, int] = defaultdict(int)
            typ: dict[str, int] = defaultdict(int)
            for g, v in c.items():
                tot[g[:-1]] += v
                typ[g[:-1]] += 1
            self.total.append(dict(tot))
            self.types.append(dict(typ))

    def prob(self, history: str, ch: str) -> float:
        """P(ch | the last order - 1 characters of `history`)."""
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):  # from unigrams up to the full order
            ctx = history[len(history) - (k - 1):] if k > 1 else ""
            if len(ctx) < k - 1:
                break
            tot = self.total[k - 1].get(ctx)
            if not tot:
                break  # context never seen at this order: the lower orders decide
            d = self.discount[k - 1]
            c = self.counts[k - 1].get(ctx + ch, 0)
            p = max(c - d, 0.0) / tot + d * self.types[k - 1][ctx] / tot * p
        return p

    def bits(self, ids: np.ndarray, history: np.ndarray | None = None) -> float:
        """Bits per character of ids[1:], each given the characters before it in `ids`
        (and `history` [H] before `ids`, if given)."""
        hist = "".join(map(chr, history.tolist())) if history is not None else ""
        text = hist + "".join(map(chr, ids.tolist()))
        start = len(hist) + 1
        h = self.order - 1
        total = 0.0
        for i in range(start, len(text)):
            total -= np.log2(self.prob(text[max(0, i - h):i], text[i]))
        count = len(text) - start
        return total / count if count > 0 else float("nan")


def best_ngram(train: np.ndarray, val: np.ndarray, vocab_size: int, orders: range = range(2, 8),
               max_val: int = 30_000) -> tuple[int, dict[int, float], KneserNey]:
    """(best order on validation, validation bits per order, the best model).

    At most the first `max_val` validation characters choose the order (the choice, not the score).
    """
    scores: dict[int, float] = {}
    best: tuple[float, int, KneserNey | None] = (np.inf, orders[0], None)
    v = val[:max_val]
    for n in orders:
        model = KneserNey(train, n, vocab_size)
        scores[n] = model.bits(v) if len(v) > 1 else float("nan")
        if np.isfinite(scores[n]) and scores[n] < best[0]:
            best = (scores[n], n, model)
        elif best[2] is None and not np.isfinite(scores[n]):
            best = (np.inf, n, model)
    assert best[2] is not None
    return best[1], scores, best[2]
