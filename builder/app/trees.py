"""Plain helpers behind the pages for the tree task (no streamlit): one tree of a node table as
Graphviz DOT, and the per-depth accuracy of a run's metrics as a table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from builder.data.read import DataError
from builder.data.trees import detect_tree_columns, read_forest

#: nodes drawn at most (a larger tree is cut, and the drawing says so)
MAX_DRAWN_NODES = 300


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def tree_columns(df: pd.DataFrame, overrides: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """The detected role of each column (tree_col, node_col, parent_col, token_col, label_col), or
    DataError naming what is missing."""
    c = detect_tree_columns(df, overrides)
    return {"tree_col": c.tree_col, "node_col": c.node_col, "parent_col": c.parent_col, "token_col": c.token_col,
            "label_col": c.label_col}


def tree_ids(df: pd.DataFrame, tree_col: str, limit: int = 2000) -> list[Any]:
    """The first `limit` tree ids in file order."""
    return list(dict.fromkeys(df[tree_col].tolist()))[:limit]


def tree_dot(df: pd.DataFrame, cols: dict[str, str | None], tree_id: Any) -> tuple[str, str | None]:
    """(DOT text of tree `tree_id`, its label or None). Nodes show the token (or the node id) and, for
    node labels, the node's label; the tree is validated as training would (DataError otherwise)."""
    one = df[df[cols["tree_col"]] == tree_id]
    if one.empty:
        raise DataError(f"{df.attrs.get('source', 'data')}: tree {tree_id} not found")
    one.attrs.update(df.attrs)
    c = detect_tree_columns(one, cols, [])
    forest = read_forest(one, c)
    label_col = cols.get("label_col")
    labels = one[label_col].tolist() if label_col in one.columns else None
    per_node = labels is not None and len({str(v) for v in labels if not pd.isna(v)}) > 1
    lines = ["digraph tree {", '  node [shape=box, style="rounded,filled", fillcolor="#dbeedd", fontname="Helvetica", fontsize=11];',
             '  edge [color="#666666"];']
    n = min(len(forest.parent), MAX_DRAWN_NODES)
    for k in range(n):
        text = str(forest.tokens[k]) if forest.tokens is not None else str(forest.node_ids[k])
        if per_node:
            text += f"\n= {labels[k]}"
        root_fill = ', fillcolor="#e8eef7"' if forest.parent[k] < 0 else ""
        lines.append(f"  n{k} [label={_quote(text)}{root_fill}];")
    for k in range(n):
        if 0 <= forest.parent[k] < n:
            lines.append(f"  n{forest.parent[k]} -> n{k};")
    if len(forest.parent) > n:
        lines.append(f'  more [label={_quote(f"... {len(forest.parent) - n} more nodes")}, shape=plaintext, style=""];')
    lines.append("}")
    root = int((forest.parent < 0).argmax())
    label = None if labels is None else str(labels[root])
    return "\n".join(lines) + "\n", label


def depth_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """Tree accuracy (or MAE) by tree depth: one row per depth, the model and each baseline."""
    key = "mae" if metrics.get("regression") else "accuracy"
    who = {"model": "Tree-LSTM", "sequence_lstm": "sequence LSTM",
           "mean" if metrics.get("regression") else "majority_class": "baseline"}
    rows = []
    for name, label in who.items():
        for depth, v in (metrics.get(name, {}).get("by_depth") or {}).items():
            rows.append({"depth": int(depth), "who": label, key: v[key], "trees": v["trees"]})
    return pd.DataFrame(rows)
