"""Baselines of the tree task: the majority class (or the training mean), and a sequence LSTM that reads
the same tokens left to right, each tree in pre-order with brackets around every inner node
(``( MAX 7 ( MIN 4 1 ) )``), so the Evaluate page shows whether the tree structure paid.

The sequence LSTM predicts a node at the position where a left-to-right reader has seen the node's
whole subtree (a leaf's own token, an inner node's closing bracket); for tree targets that is the
root's closing bracket, the sequence's last token. It is trained like the tree model: the same
optimiser, learning rate, clipping, batch size, epochs, early-stopping patience and seed, with the
same units, on the same training and validation trees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.data.trees import TreeData, preorder_tokens

OPEN, CLOSE, PAD = "(", ")", "<pad>"


def sequences(data: TreeData, vocab_index: dict[str, int], texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """([T, L] int32 token ids, 0-padded at the end; [N] the position of each node in its tree's
    sequence). `texts` maps a tree token id to its text; unknown texts map to 1 (unknown)."""
    seqs, positions = [], np.zeros(len(data.parent), np.int32)
    words = np.asarray(texts, dtype=object)[data.tokens]
    for t in range(data.n_trees):
        s, e = int(data.offsets[t]), int(data.offsets[t + 1])
        seq, done = preorder_tokens(data.parent, words, s, e, OPEN, CLOSE)
        seqs.append([vocab_index.get(w, 1) for w in seq])
        positions[s:e] = done
    length = max(len(s) for s in seqs)
    out = np.zeros((len(seqs), length), np.int32)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, positions


def _targets(data: TreeData, positions: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """([T, L] target at each predicted position, [T, L] weight 1 there, else 0)."""
    y = np.zeros((data.n_trees, length), np.float32 if data.regression else np.int32)
    w = np.zeros((data.n_trees, length), np.float32)
    tree = np.repeat(np.arange(data.n_trees), np.diff(data.offsets))
    if data.level == "node":
        y[tree, positions] = _scaled(data, data.y_node)
        w[tree, positions] = 1.0
    else:
        roots = np.flatnonzero(data.parent == -1)
        y[tree[roots], positions[roots]] = _scaled(data, data.y_tree)
        w[tree[roots], positions[roots]] = 1.0
    return y, w


def _scaled(data: TreeData, y: np.ndarray) -> np.ndarray:
    return data.y_scaler.transform(y[:, None])[:, 0] if data.regression else y


def sequence_lstm_baseline(data: TreeData, units: int, part: str) -> dict[str, Any]:
    """Train the sequence LSTM on the training trees (validation trees for early stopping) and return
    its predictions on `part`: {"pred_node": [N_part] or None, "pred_tree": [T_part], "seconds"}.
    Classes: predicted class indices; regression: values in the target's units."""
    import time

    import keras

    t0 = time.time()
    training = data.training
    texts = list(data.vocabulary)
    vocab = [PAD, "<unk>", OPEN, CLOSE, *[w for w in texts[1:] if w not in (OPEN, CLOSE)]]
    index = {w: i for i, w in enumerate(vocab)}
    x, positions = sequences(data, index, texts)
    y, w = _targets(data, positions, x.shape[1])
    if data.regression:
        y = y[..., None]  # [T, L, 1] like the head's output, so the loss compares value with value
    keras.utils.set_random_seed(training.seed)
    inp = keras.Input((None,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(len(vocab), units, name="embedding")(inp)
    h = keras.layers.LSTM(units, return_sequences=True, name="lstm")(h)  # right padding: no mask needed
    n_out = 1 if data.regression else len(data.classes)
    out = keras.layers.Dense(n_out, activation=None if data.regression else "softmax", name="head")(h)
    model = keras.Model(inp, out, name="sequence_lstm_baseline")
    opt_kwargs: dict[str, Any] = {"learning_rate": training.learning_rate}
    if training.clipnorm is not None:
        opt_kwargs["clipnorm"] = training.clipnorm
    if training.clipvalue is not None:
        opt_kwargs["clipvalue"] = training.clipvalue
    opt = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop,
           "sgd": keras.optimizers.SGD, "nadam": keras.optimizers.Nadam}[training.optimizer](**opt_kwargs)
    loss = {"mse": "mse", "mae": "mae", "huber": "huber"}.get(training.loss, "mse") if data.regression \
        else "sparse_categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss, jit_compile=True)
    tr, va = data.split == "train", data.split == "val"
    callbacks = []
    val = None
    if va.any():
        val = (x[va], y[va], w[va])
        if training.patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(patience=training.patience, restore_best_weights=True))
    model.fit(x[tr], y[tr], sample_weight=w[tr], validation_data=val, epochs=training.epochs,
              batch_size=training.batch_size, shuffle=True, callbacks=callbacks, verbose=0)
    sel = data.split == part
    out = np.asarray(model.predict(x[sel], batch_size=256, verbose=0))
    tree = np.repeat(np.arange(data.n_trees), np.diff(data.offsets))
    node_sel = sel[tree]
    local_tree = np.cumsum(sel) - 1
    node_out = out[local_tree[tree[node_sel]], positions[node_sel]]
    roots = np.flatnonzero((data.parent == -1) & node_sel)
    root_out = out[local_tree[tree[roots]], positions[roots]]

    def decode(o: np.ndarray) -> np.ndarray:
        if data.regression:
            return data.y_scaler.inverse_transform(o[:, :1])[:, 0] if hasattr(data.y_scaler, "inverse_transform") \
                else o[:, 0] * data.y_scaler.scale_[0] + data.y_scaler.offset_[0]
        return o.argmax(axis=1)

    return {"pred_node": decode(node_out) if data.level == "node" else None, "pred_tree": decode(root_out),
            "seconds": round(time.time() - t0, 3), "epochs": len(model.history.history.get("loss", []))}
