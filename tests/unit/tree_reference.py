"""A per-node NumPy implementation of the Tree-LSTM equations (Tai et al. 2015), the tests' reference.

Written from the paper, node by node in a plain recursion order (children before parents), with no
batching or levels, so that builder.model.cells.tree_lstm's level-by-level loop can be checked
against it.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def reference_tree_lstm(x: np.ndarray, parent: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray,
                        forget: np.ndarray, bias: np.ndarray, arity: int | None = None,
                        compose: tuple[np.ndarray, list[np.ndarray], list[np.ndarray]] | None = None) -> np.ndarray:
    """h [N, U] of every node. x [N, D]; parent [N] (-1 root); weights as the cells store them
    (gate blocks i, o, u, f). arity None: Child-Sum; else N-ary with that N (children in index order).
    compose: the composition layers (A [D, U], [B [NU, U], C_2 [U, U], ...], [a_1, a_2, ...]): the
    i, o, u gates then read z_K = relu(... relu(A x_j + B h_children + a_1) ...) instead of the
    children's states, and the recurrent kernel is [U, 3U]."""
    n, u = len(parent), bias.shape[0] // 4
    children: list[list[int]] = [[] for _ in range(n)]
    for j, p in enumerate(parent):
        if p >= 0:
            children[p].append(j)
    h = np.zeros((n, u), x.dtype)
    c = np.zeros((n, u), x.dtype)
    done = np.zeros(n, bool)
    order: list[int] = []

    def visit(j: int) -> None:  # iterative post-order (a deep chain must not hit the recursion limit)
        stack = [(j, False)]
        while stack:
            k, ready = stack.pop()
            if ready:
                order.append(k)
                continue
            stack.append((k, True))
            stack.extend((ch, False) for ch in children[k])

    for r in np.flatnonzero(parent < 0):
        visit(int(r))
    for j in order:
        W = x[j] @ kernel + bias
        wi, wo, wu, wf = W[:u], W[u:2 * u], W[2 * u:3 * u], W[3 * u:]
        kids = children[j]
        if compose is not None:  # z_K replaces the children's state in the i, o, u gates
            if arity is None:
                hc = h[kids].sum(axis=0) if kids else np.zeros(u, x.dtype)
            else:
                hc = np.zeros(arity * u, x.dtype)
                for pos, k in enumerate(kids):
                    hc[pos * u:(pos + 1) * u] = h[k]
            a_kernel, kernels, biases = compose
            z = np.maximum(x[j] @ a_kernel + hc @ kernels[0] + biases[0], 0.0)
            for c_kernel, c_bias in zip(kernels[1:], biases[1:], strict=True):
                z = np.maximum(z @ c_kernel + c_bias, 0.0)
            i = _sigmoid(wi + z @ recurrent[:, :u])
            o = _sigmoid(wo + z @ recurrent[:, u:2 * u])
            g = np.tanh(wu + z @ recurrent[:, 2 * u:])
            cj = i * g
            for kk, k in enumerate(kids):  # the forget gates as without composition layers
                if arity is None:
                    f_pre = wf + h[k] @ forget
                else:
                    f_pre = wf.copy()
                    for pos, l_node in enumerate(kids):
                        f_pre += h[l_node] @ forget[pos * u:(pos + 1) * u, kk * u:(kk + 1) * u]
                cj = cj + _sigmoid(f_pre) * c[k]
        elif arity is None:
            hs = h[kids].sum(axis=0) if kids else np.zeros(u, x.dtype)
            i = _sigmoid(wi + hs @ recurrent[:, :u])
            o = _sigmoid(wo + hs @ recurrent[:, u:2 * u])
            g = np.tanh(wu + hs @ recurrent[:, 2 * u:])
            cj = i * g
            for k in kids:
                f = _sigmoid(wf + h[k] @ forget)
                cj = cj + f * c[k]
        else:
            i_pre, o_pre, u_pre = wi.copy(), wo.copy(), wu.copy()
            for pos, k in enumerate(kids):  # U_l h_jl summed over the children present (the rest are zero)
                block = recurrent[pos * u:(pos + 1) * u]
                i_pre += h[k] @ block[:, :u]
                o_pre += h[k] @ block[:, u:2 * u]
                u_pre += h[k] @ block[:, 2 * u:]
            i, o, g = _sigmoid(i_pre), _sigmoid(o_pre), np.tanh(u_pre)
            cj = i * g
            for kk, k in enumerate(kids):  # f_jk = sigmoid(W_f x + sum_l U_f,kl h_jl + b_f)
                f_pre = wf.copy()
                for pos, l_node in enumerate(kids):
                    f_pre += h[l_node] @ forget[pos * u:(pos + 1) * u, kk * u:(kk + 1) * u]
                cj = cj + _sigmoid(f_pre) * c[k]
        c[j] = cj
        h[j] = o * np.tanh(cj)
        done[j] = True
    return h
