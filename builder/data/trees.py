"""Trees from a node table: one CSV row per node -> validated, flat, batched trees.

The table has a tree id, a node id and a parent id (empty at the root) per row, a token column and/or
numeric feature columns, and either a tree label (the same on every row of a tree, or on its root
only) or a label on every node. Roles are detected from the column names the shared data uses
(`tree_id`, `node_id`, `parent_id`, `token`, `label`) and can be named in the spec's DataSettings
(`id_col` = tree, `label_col`) and its `tree` settings.

Every problem raises `DataError` with one line naming the file, the tree and the node: a cycle, more
than one root, a parent that does not exist, a node id used twice, an empty tree, a tree deeper than
`RNN_STUDIO_MAX_TREE_DEPTH` (builder.limits) or a node with more children than an N-ary cell takes.

The result keeps the nodes of each tree contiguous, in file order (so siblings keep their order):
tree t owns rows `offsets[t]:offsets[t+1]` of every per-node array, and `parent` holds the parent's
row *within its tree* (-1 at the root). `tree_batch` concatenates trees into the flat arrays the
model takes: parent index into the batch, token id and tree id per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from builder.data.columns import number_spellings, spelling_notice
from builder.data.read import DataError, Source, load_table, reading_notices
from builder.limits import current as current_limits
from builder.limits import describe

PARTS = ("train", "val", "test")
#: token id 0 of every vocabulary: a token the training part never had
UNKNOWN = "<unk>"
#: column names detected for each role, first match wins
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "tree_col": ("tree_id", "tree", "sentence_id"),
    "node_col": ("node_id", "node"),
    "parent_col": ("parent_id", "parent"),
    "token_col": ("token", "word", "tokens"),
    "label_col": ("label", "y", "target", "class"),
}


@dataclass(frozen=True)
class TreeColumns:
    """The column of each role (token_col and label_col may be None: features only / no labels)."""

    tree_col: str
    node_col: str
    parent_col: str
    token_col: str | None
    label_col: str | None
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Forest:
    """Validated trees of one file, flat.

    tree_ids: [T] tree ids as text; offsets: [T+1] row ranges; node_ids: [N] node ids as text;
    parent: [N] parent row within the tree (-1 root); depth: [N] edges from the root; rows: [N] the
    CSV line of each node (header = line 1); tokens: [N] text or None; features: [N, F] float32 or
    None; labels: [N] raw label per node (object) or None; notices: what reading the ids assumed.
    """

    source: str
    tree_ids: np.ndarray
    offsets: np.ndarray
    node_ids: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    rows: np.ndarray
    tokens: np.ndarray | None
    features: np.ndarray | None
    labels: np.ndarray | None
    notices: tuple[str, ...] = ()

    @property
    def n_trees(self) -> int:
        return len(self.tree_ids)

    def tree_depths(self) -> np.ndarray:
        """[T] depth of each tree (edges on its longest root-to-leaf path; a single node: 0)."""
        return np.maximum.reduceat(self.depth, self.offsets[:-1]) if len(self.depth) else np.zeros(0, int)

    def children_counts(self) -> np.ndarray:
        """[N] number of children of each node."""
        glob = self.global_parent()
        return np.bincount(glob[glob >= 0], minlength=len(glob))

    def global_parent(self) -> np.ndarray:
        """[N] parent row in the whole forest (-1 at roots)."""
        start = np.repeat(self.offsets[:-1], np.diff(self.offsets))
        return np.where(self.parent >= 0, self.parent + start, -1)


def _text(s: pd.Series) -> pd.Series:
    """Ids and tokens as text (object): whole numbers without a trailing `.0`, missing (or blank) as NaN."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(v) & (v == np.round(v))
        out = np.empty(len(v), dtype=object)
        out[whole] = list(map(str, v[whole].astype(np.int64).tolist()))
        out[~whole] = list(map(str, v[~whole].tolist()))
    else:
        out = s.astype(str).str.strip().to_numpy(dtype=object)
        missing = missing | (out == "")
    out[missing] = np.nan
    return pd.Series(out, index=s.index, dtype=object)


def tree_id_columns(columns: list[str], overrides: dict[str, str | None] | None = None) -> list[str]:
    """The tree, node and parent id columns of a header `columns` (`overrides` first, else the first name of
    ROLE_NAMES found): the columns read as the text the file holds (`load_tree_table`)."""
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    found = [overrides.get(role) or named_role(columns, role) for role in ("tree_col", "node_col", "parent_col")]
    return [c for c in found if c]


def named_role(columns: list[str], role: str) -> str | None:
    """The first name of ROLE_NAMES[role] (case-insensitive) among `columns`, or None."""
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in ROLE_NAMES[role] if n in lower), None)


def load_tree_table(source: Source, settings: Any, name: str | None = None) -> pd.DataFrame:
    """`load_table` with the tree, node and parent id columns (`tree_settings(settings)`, else named like
    them) kept as the text the file holds: read as numbers, trees `001` and `1` were one tree."""
    overrides = tree_settings(settings)
    return load_table(source, name=name, text_columns=lambda cols: tree_id_columns(cols, overrides))


def id_spelling_notices(tree: pd.Series, node: pd.Series, cols: TreeColumns, line: np.ndarray) -> list[str]:
    """Notices naming tree ids, and node ids within a tree, that are one number written several ways
    (`001` and `1`; `1` and `1.0`): different trees / nodes, as the ids are compared as the file writes them."""
    notices = []
    alike = number_spellings(tree.dropna())
    if alike:
        notices.append(spelling_notice("tree", cols.tree_col, alike, line[tree.isin(alike[0]).to_numpy()].tolist()))
    pairs = pd.DataFrame({"tree": tree.to_numpy(dtype=object), "node": node.to_numpy(dtype=object), "line": line})
    pairs["num"] = pd.to_numeric(pairs["node"], errors="coerce")
    pairs = pairs[pairs["num"].notna() & pairs["tree"].notna()].drop_duplicates(["tree", "node"])
    if len(pairs) and pairs.duplicated(["tree", "num"]).any():
        many = pairs[pairs.duplicated(["tree", "num"], keep=False)]
        first = many[many["tree"] == many["tree"].iloc[0]]
        first = first[first["num"] == first["num"].iloc[0]]
        n_trees = many["tree"].nunique()
        notices.append(f"node id column `{cols.node_col}` writes a number in several ways within {n_trees} tree(s) "
                       f"(tree {first['tree'].iloc[0]}: {' and '.join(repr(v) for v in first['node'].tolist()[:3])}; "
                       f"rows {first['line'].tolist()[:5]}); they are different nodes (ids are compared as the file "
                       "writes them)")
    return notices


def detect_tree_columns(df: pd.DataFrame, overrides: dict[str, str | None] | None = None,
                        features: list[str] | None = None) -> TreeColumns:
    """The column of each role: `overrides` first, else the first name of ROLE_NAMES found.

    `features`: numeric feature columns; None: none when there is a token column, else every numeric
    column without a role (another numeric column such as a per-node value would otherwise leak).
    """
    source = df.attrs.get("source", "data")
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    found: dict[str, str | None] = {}
    for role in ROLE_NAMES:
        if role in overrides:
            col = overrides[role]
            if col not in df.columns:
                raise DataError(f"{source}: column `{col}` ({role.replace('_col', '')}) not found; columns are {list(df.columns)}")
            found[role] = col
        else:
            found[role] = named_role(list(df.columns), role)
    for role in ("tree_col", "node_col", "parent_col"):
        if found[role] is None:
            raise DataError(
                f"{source}: no {role.replace('_col', '')} id column; expected one named "
                f"{' or '.join(ROLE_NAMES[role])}, or name it with --{role.replace('_', '-')}; columns are {list(df.columns)}"
            )
    taken = {v for v in found.values() if v}
    if features is None:
        feats: list[str] = [] if found["token_col"] else [
            c for c in df.columns if c not in taken and pd.api.types.is_numeric_dtype(df[c])]
    else:
        feats = list(features)
        for c in feats:
            if c not in df.columns:
                raise DataError(f"{source}: feature column `{c}` not found; columns are {list(df.columns)}")
    if not found["token_col"] and not feats:
        raise DataError(f"{source}: no token column (expected one named {' or '.join(ROLE_NAMES['token_col'])}) "
                        "and no numeric feature columns; a node needs a token or features")
    return TreeColumns(found["tree_col"], found["node_col"], found["parent_col"], found["token_col"],
                       found["label_col"], tuple(feats))


def read_forest(df: pd.DataFrame, cols: TreeColumns, max_children: int | None = None) -> Forest:
    """Validate the node table and return its trees (see the module docstring for the checks).

    `max_children`: the N of an N-ary cell; a node with more children is an error.
    """
    source = df.attrs.get("source", "data")
    limits = current_limits()
    line = np.arange(len(df)) + 2  # CSV line of each row (header = line 1)
    tree = _text(df[cols.tree_col])
    node = _text(df[cols.node_col])
    parent = _text(df[cols.parent_col])
    notices = id_spelling_notices(tree, node, cols, line)
    missing_tree = tree.isna().to_numpy()
    if missing_tree.any():
        raise DataError(f"{source}: row {line[missing_tree.argmax()]}: column `{cols.tree_col}` is empty; every node needs a tree id")
    missing_node = node.isna().to_numpy()
    if missing_node.any():
        tree_has_node = pd.Series(~missing_node).groupby(tree.to_numpy()).any()
        empty = tree_has_node.index[~tree_has_node.to_numpy()]
        if len(empty):
            raise DataError(f"{source}: tree {empty[0]}: the tree is empty (no row has a node id in `{cols.node_col}`)")
        r = missing_node.argmax()
        raise DataError(f"{source}: tree {tree.iloc[r]}, row {line[r]}: column `{cols.node_col}` is empty; every node needs an id")

    # group the rows by tree (first appearance order), keeping file order inside a tree
    codes, uniques = pd.factorize(tree, sort=False)
    order = np.argsort(codes, kind="stable")
    codes, line = codes[order], line[order]
    tree_ids = np.asarray(uniques, dtype=object)
    node_ids = node.to_numpy(dtype=object)[order]
    parent_ids = parent.to_numpy(dtype=object)[order]
    counts = np.bincount(codes, minlength=len(tree_ids))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = len(node_ids)

    keys = pd.MultiIndex.from_arrays([codes, node_ids])
    dup = keys.duplicated()
    if dup.any():
        i = int(dup.argmax())
        first = int(np.flatnonzero((codes == codes[i]) & (node_ids == node_ids[i]))[0])
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]}: the node id is used twice "
                        f"(rows {line[first]} and {line[i]}); expected each node id once per tree")
    is_root = pd.isna(parent_ids).astype(bool) if n else np.zeros(0, bool)
    glob = np.full(n, -1, dtype=np.int64)
    lookup = pd.Series(np.arange(n), index=keys)
    child_rows = np.flatnonzero(~is_root)
    pos = lookup.reindex(pd.MultiIndex.from_arrays([codes[child_rows], parent_ids[child_rows]])).to_numpy()
    bad = np.isnan(pos.astype(float)) if len(pos) else np.zeros(0, bool)
    if bad.any():  # a parent written otherwise than its node (1.0 for 1: a float column): matched by number
        pos, bad, matched = _parents_by_number(pos, bad, child_rows, codes, node_ids, parent_ids, line, cols, tree_ids, source)
        notices += matched
    if bad.any():
        i = child_rows[int(bad.argmax())]
        rootless = "" if is_root[codes == codes[i]].any() else (
            f"; no row of the tree has an empty `{cols.parent_col}`: a root's parent must be empty, not {parent_ids[i]}")
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]} (row {line[i]}): parent "
                        f"{parent_ids[i]} does not exist in the tree{rootless}")
    glob[child_rows] = pos.astype(np.int64)
    self_parent = glob == np.arange(n)
    if self_parent.any():
        i = int(self_parent.argmax())
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]} (row {line[i]}): a cycle "
                        f"({node_ids[i]} is its own parent)")
    roots = np.bincount(codes[is_root], minlength=len(tree_ids))
    if (roots > 1).any():
        t = int((roots > 1).argmax())
        ids = node_ids[(codes == t) & is_root][:3]
        raise DataError(f"{source}: tree {tree_ids[t]}: more than one root ({roots[t]} nodes with an empty "
                        f"`{cols.parent_col}`: {', '.join(map(str, ids))}); expected exactly one")

    # depth by pointer doubling: O(N log N), a cycle never reaches a root
    jump = np.where(glob >= 0, glob, np.arange(n))
    depth = (glob >= 0).astype(np.int64)
    for _ in range(int(np.ceil(np.log2(max(2, counts.max(initial=1))))) + 1):
        depth = depth + depth[jump]
        jump = jump[jump]
    cyclic = ~is_root[jump] if n else np.zeros(0, bool)
    if cyclic.any() or (roots == 0).any():
        i = int(cyclic.argmax()) if cyclic.any() else int(np.flatnonzero(codes == int((roots == 0).argmax()))[0])
        path, seen = [i], {i}
        while glob[path[-1]] >= 0 and glob[path[-1]] not in seen:
            seen.add(int(glob[path[-1]]))
            path.append(int(glob[path[-1]]))
        loop = [*path[path.index(int(glob[path[-1]])):], int(glob[path[-1]])] if glob[path[-1]] >= 0 else path
        shown = " -> ".join(str(node_ids[k]) for k in loop[:8]) + (" -> ..." if len(loop) > 8 else "")
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[loop[0]]}: a cycle of parents ({shown}); "
                        "a tree's parent links must lead to its one root")
    max_depth = limits.max_tree_depth
    if n and depth.max() > max_depth:
        i = int(depth.argmax())
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]}: the tree is {int(depth[i])} levels "
                        f"deep; {describe('max_tree_depth', max_depth)}")
    if max_children is not None and n:
        kids = np.bincount(glob[glob >= 0], minlength=n)
        if kids.max() > max_children:
            i = int(kids.argmax())
            raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]}: {int(kids[i])} children, but the "
                            f"N-ary Tree-LSTM takes at most N={max_children}; raise `arity` or use the Child-Sum cell")

    start = offsets[codes]
    local_parent = np.where(glob >= 0, glob - start, -1)
    tokens = _text(df[cols.token_col]).to_numpy(dtype=object)[order] if cols.token_col else None
    if tokens is not None and pd.isna(tokens).any():
        i = int(np.flatnonzero(pd.isna(tokens))[0])
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]} (row {line[i]}): the token "
                        f"column `{cols.token_col}` is empty")
    features = None
    if cols.features:
        num = df[list(cols.features)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)[order]
        if not np.isfinite(num).all():
            i, j = np.argwhere(~np.isfinite(num))[0]
            raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]} (row {line[i]}): column "
                            f"`{cols.features[j]}` expected a number, found {df[cols.features[j]].iloc[order[i]]!r}")
        features = num.astype(np.float32)
    labels = df[cols.label_col].to_numpy(dtype=object)[order] if cols.label_col else None
    return Forest(source, tree_ids, offsets, node_ids, local_parent.astype(np.int32), depth.astype(np.int32),
                  line, tokens, features, labels, tuple(notices))


def _parents_by_number(pos: np.ndarray, bad: np.ndarray, child_rows: np.ndarray, codes: np.ndarray,
                       node_ids: np.ndarray, parent_ids: np.ndarray, line: np.ndarray, cols: TreeColumns,
                       tree_ids: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parents that no node id of their tree writes alike, matched by number when exactly one node of the
    tree is that number (a parent column with empty roots is often written as floats: `1.0` for node `1`).
    Returns (positions, still unmatched, a notice naming the first rows); DataError when the number is
    several nodes of the tree (`1` and `1.0`: which one is meant?)."""
    rows = child_rows[bad]
    want = pd.to_numeric(pd.Series(parent_ids[rows], dtype=object), errors="coerce").to_numpy()
    num = pd.to_numeric(pd.Series(node_ids, dtype=object), errors="coerce").to_numpy()
    nodes = pd.DataFrame({"code": codes, "num": num, "row": np.arange(len(node_ids))}).dropna(subset=["num"])
    many = nodes.duplicated(["code", "num"], keep=False)
    found = pd.Series(nodes["row"].to_numpy()[~many.to_numpy()],
                      index=pd.MultiIndex.from_arrays([nodes["code"][~many], nodes["num"][~many]]))
    hit = found.reindex(pd.MultiIndex.from_arrays([codes[rows], want])).to_numpy() if len(rows) else np.zeros(0)
    ok = ~np.isnan(hit.astype(float))
    twice = pd.MultiIndex.from_arrays([nodes["code"][many], nodes["num"][many]])
    clash = np.flatnonzero(~ok & pd.MultiIndex.from_arrays([codes[rows], want]).isin(twice))
    if len(clash):
        i = rows[clash[0]]
        same = [str(v) for v in node_ids[(codes == codes[i]) & (num == want[clash[0]])][:3]]
        raise DataError(f"{source}: tree {tree_ids[codes[i]]}, node {node_ids[i]} (row {line[i]}): parent "
                        f"{parent_ids[i]} is not written as any node id of the tree, and nodes {' and '.join(map(repr, same))} "
                        f"are that number; write the parent in `{cols.parent_col}` as its node id is written")
    if not ok.any():
        return pos, bad, []
    pos = pos.astype(float)
    idx = np.flatnonzero(bad)[ok]
    pos[idx] = hit[ok]
    first = rows[ok][:3]
    shown = ", ".join(f"row {line[r]}: {parent_ids[r]!r} for node {node_ids[int(pos[np.searchsorted(child_rows, r)])]!r}"
                      for r in first)
    notice = (f"{int(ok.sum())} parent id(s) in `{cols.parent_col}` are written otherwise than their node ids ({shown}); "
              "matched by number, as no node id of the tree is written alike")
    still = bad.copy()
    still[idx] = False
    return pos, still, [notice]


# ---- labels ------------------------------------------------------------------------------------------
def label_level(forest: Forest, label_col: str) -> str:
    """"tree" when each tree has one label (on every row, or on its root only), else "node"."""
    labels = pd.Series(forest.labels)
    codes = np.repeat(np.arange(forest.n_trees), np.diff(forest.offsets))
    present = labels.notna()
    per_tree = labels[present].astype(str).groupby(codes[present.to_numpy()]).nunique()
    roots = forest.parent == -1
    if (per_tree <= 1).all() and len(per_tree) == forest.n_trees and present[roots].all():
        return "tree"
    if present.all():
        return "node"
    if (per_tree <= 1).all():  # one label per tree wherever there is one: a tree without it, or a root without it
        unlabelled = np.setdiff1d(np.arange(forest.n_trees), per_tree.index.to_numpy())
        if len(unlabelled):
            t = int(unlabelled[0])
            r = int(forest.offsets[t] + np.flatnonzero(roots[forest.offsets[t]:forest.offsets[t + 1]])[0])
            raise DataError(f"{forest.source}: tree {forest.tree_ids[t]} (root node {forest.node_ids[r]}, row "
                            f"{forest.rows[r]}): no row of the tree has a label in `{label_col}` ({len(unlabelled)} such "
                            "tree(s)); expected one label per tree, on every row or on the root")
        r = int(np.flatnonzero(roots & ~present.to_numpy())[0])
        raise DataError(f"{forest.source}: tree {forest.tree_ids[int(codes[r])]}, node {forest.node_ids[r]} (row "
                        f"{forest.rows[r]}): the root's label `{label_col}` is empty, but other rows of the tree have "
                        "one; a tree label goes on every row or on the root")
    i = int(np.flatnonzero(~present.to_numpy())[0])
    t = int(codes[i])
    raise DataError(f"{forest.source}: tree {forest.tree_ids[t]}, node {forest.node_ids[i]} (row {forest.rows[i]}): "
                    f"the label `{label_col}` is empty, but its tree's labels differ from node to node; "
                    "give either one label per tree (on every row or on the root) or a label on every node")


def _mostly_tree_labels(forest: Forest, label_col: str) -> list[str]:
    """A notice when labels are read per node although at most one tree in ten has different labels on its
    nodes: a tree-label column with a few wrong rows also reads as node labels."""
    codes = np.repeat(np.arange(forest.n_trees), np.diff(forest.offsets))
    per_tree = pd.Series(forest.labels).astype(str).groupby(codes).nunique()
    differ = np.flatnonzero(per_tree.to_numpy() > 1)
    if not len(differ) or len(differ) * 10 > forest.n_trees:
        return []
    t = int(differ[0])
    values = sorted({_label_text(v) for v in forest.labels[forest.offsets[t]:forest.offsets[t + 1]]})[:3]
    return [f"`{label_col}` is read as a label per node because {len(differ)} of {forest.n_trees} tree(s) have "
            f"different labels on their nodes (e.g. tree {forest.tree_ids[t]}: {', '.join(map(repr, values))}); the "
            f"other {forest.n_trees - len(differ)} have one label on every node: if it is a label per tree, correct "
            "those trees' rows"]


def tree_labels(forest: Forest) -> np.ndarray:
    """[T] each tree's label: its root's (object)."""
    roots = np.flatnonzero(forest.parent == -1)
    return forest.labels[roots]


def label_is_numeric(values: np.ndarray) -> bool:
    return bool(pd.to_numeric(pd.Series(values), errors="coerce").notna().all())


def is_regression(values: np.ndarray) -> bool:
    """Numbers that are not all whole: regression (whole numbers and text are classes)."""
    num = pd.to_numeric(pd.Series(values), errors="coerce")
    return bool(num.notna().all() and (num != np.round(num)).any())


def class_list(values: np.ndarray) -> tuple[str, ...]:
    """The distinct labels as text, numbers in numeric order."""
    texts = {_label_text(v) for v in values}

    def key(v: str) -> tuple[int, float | str]:
        try:
            return (0, float(v))
        except ValueError:
            return (1, v)

    return tuple(sorted(texts, key=key))


def _label_text(v: Any) -> str:
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v).strip()


def encode_labels(values: np.ndarray, classes: tuple[str, ...], source: str, what: str) -> np.ndarray:
    """Class indices of `values`; a label the training part never had is a DataError."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(values), dtype=np.int32)
    for k, v in enumerate(values):
        t = _label_text(v)
        if t not in index:
            raise DataError(f"{source}: {what} has label {t!r}, which the training data does not have; known: {list(classes)}")
        out[k] = index[t]
    return out


# ---- vocabulary ----------------------------------------------------------------------------------
def build_vocabulary(tokens: np.ndarray) -> tuple[str, ...]:
    """UNKNOWN first, then the tokens by falling frequency (ties alphabetical)."""
    counts = pd.Series(tokens).value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return (UNKNOWN, *[t for t, _ in ordered if t != UNKNOWN])


def token_ids(tokens: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """[N] int32 ids; a token outside the vocabulary is 0 (UNKNOWN)."""
    index = {t: i for i, t in enumerate(vocabulary)}
    return np.fromiter((index.get(t, 0) for t in tokens), dtype=np.int32, count=len(tokens))


def unseen_token_notices(forest: Forest, ids: np.ndarray) -> list[str]:
    """A notice for the nodes of `forest` whose token the vocabulary lacks (`ids` 0: read as UNKNOWN)."""
    if forest.tokens is None:
        return []
    unseen = np.flatnonzero((np.asarray(ids) == 0) & (forest.tokens != UNKNOWN))
    if not len(unseen):
        return []
    i = int(unseen[0])
    t = int(np.searchsorted(forest.offsets, i, side="right") - 1)
    shown = sorted({str(forest.tokens[k]) for k in unseen})
    return [f"{len(unseen)} node(s) have a token that the training trees lack (e.g. tree {forest.tree_ids[t]}, node "
            f"{forest.node_ids[i]}, row {forest.rows[i]}; {', '.join(map(repr, shown[:10]))}"
            f"{', ...' if len(shown) > 10 else ''}); the model reads them as {UNKNOWN}"]


# ---- batching ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TreeBatch:
    """Flat arrays of a batch of B trees with N nodes in all (the model's and the SavedModel's input).

    parent: [N] int32 index of the parent in the batch (-1 at roots); tree: [N] int32 0..B-1;
    tokens: [N] int32 ids; features: [N, F] float32 (F may be 0).
    """

    parent: np.ndarray
    tree: np.ndarray
    tokens: np.ndarray
    features: np.ndarray
    node_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def inputs(self) -> dict[str, np.ndarray]:
        return {"parent": self.parent, "tree": self.tree, "tokens": self.tokens, "features": self.features}


def tree_batch(offsets: np.ndarray, parent: np.ndarray, tokens: np.ndarray, features: np.ndarray,
               trees: np.ndarray) -> TreeBatch:
    """Concatenate trees `trees` (indices into `offsets`) into one flat batch.

    offsets: [T+1]; parent: [N] parent row within the tree; tokens: [N]; features: [N, F].
    """
    starts, ends = offsets[trees], offsets[trees + 1]
    sizes = ends - starts
    rows = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)]) if len(trees) else np.zeros(0, np.int64)
    new_start = np.repeat(np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    p = parent[rows]
    return TreeBatch(np.where(p >= 0, p + new_start, -1).astype(np.int32),
                     np.repeat(np.arange(len(trees), dtype=np.int32), sizes),
                     tokens[rows].astype(np.int32), features[rows].astype(np.float32), rows)


def preorder_tokens(forest_parent: np.ndarray, tokens: np.ndarray, start: int, end: int,
                    open_tok: str = "(", close_tok: str = ")") -> tuple[list[str], list[int]]:
    """One tree (rows start:end) read in pre-order with brackets around every inner node.

    Returns (the token sequence, for each node of the tree the position at which a left-to-right
    reader has seen its whole subtree: a leaf's own token, an inner node's closing bracket).
    """
    n = end - start
    children: list[list[int]] = [[] for _ in range(n)]
    root = 0
    for k in range(n):
        p = int(forest_parent[start + k])
        if p >= 0:
            children[p].append(k)
        else:
            root = k
    seq: list[str] = []
    done = [0] * n
    stack: list[tuple[int, bool]] = [(root, False)]
    while stack:
        k, closing = stack.pop()
        if closing:
            seq.append(close_tok)
            done[k] = len(seq) - 1
            continue
        if not children[k]:
            seq.append(str(tokens[start + k]))
            done[k] = len(seq) - 1
            continue
        seq.extend([open_tok, str(tokens[start + k])])
        stack.append((k, True))
        stack.extend((c, False) for c in reversed(children[k]))
    return seq, done


# ---- prepared data -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TreeData:
    """Trees ready for training, fully resolved and never changed after construction.

    Per node [N]: parent (row within its tree, -1 root), tokens (ids into `vocabulary`), features
    [N, F] raw, node_depth, node_ids, y_node (class index or number; node targets only). Per tree [T]:
    offsets [T+1], tree_ids, y_tree (the root's target), depth, split ("train" / "val" / "test").
    level: "tree" (one label per tree) or "node"; regression: numeric targets (else `classes`).
    """

    source: str
    cols: TreeColumns
    offsets: np.ndarray
    parent: np.ndarray
    tokens: np.ndarray
    features: np.ndarray
    node_depth: np.ndarray
    node_ids: np.ndarray
    tree_ids: np.ndarray
    y_node: np.ndarray | None
    y_tree: np.ndarray
    depth: np.ndarray
    split: np.ndarray
    level: str
    regression: bool
    classes: tuple[str, ...]
    vocabulary: tuple[str, ...]
    x_scaler: Any
    y_scaler: Any
    arity: int | None
    max_children: int
    notices: tuple[str, ...] = ()
    test_source: str | None = None
    training: Any = None

    @property
    def n_trees(self) -> int:
        return len(self.tree_ids)

    def batch(self, trees: np.ndarray) -> TreeBatch:
        """The flat batch of trees `trees` (indices 0..T-1)."""
        return tree_batch(self.offsets, self.parent, self.tokens, self.features, np.asarray(trees))

    def targets(self, b: TreeBatch) -> np.ndarray:
        """The batch's targets: [B] per tree (level "tree") or [N] per node."""
        if self.level == "node":
            return self.y_node[b.node_rows]
        starts = self.offsets[:-1]
        trees = np.searchsorted(starts, b.node_rows[b.parent < 0], side="right") - 1
        return self.y_tree[trees]


def _concat(a: Forest, b: Forest) -> Forest:
    """Two forests as one (the test file's trees after the training file's)."""
    def cat(x: Any, y: Any) -> Any:
        return None if x is None or y is None else np.concatenate([x, y])

    return Forest(a.source, np.concatenate([a.tree_ids, b.tree_ids]),
                  np.concatenate([a.offsets, b.offsets[1:] + a.offsets[-1]]), cat(a.node_ids, b.node_ids),
                  cat(a.parent, b.parent), cat(a.depth, b.depth), cat(a.rows, b.rows), cat(a.tokens, b.tokens),
                  cat(a.features, b.features), cat(a.labels, b.labels), a.notices + b.notices)


def tree_settings(settings: Any) -> dict[str, str | None]:
    """The role overrides of a spec's DataSettings (tree = id_col)."""
    return {"tree_col": settings.id_col, "node_col": settings.node_col, "parent_col": settings.parent_col,
            "token_col": settings.token_col, "label_col": settings.label_col}


def prepare_trees(df: pd.DataFrame, spec: Any, test_df: pd.DataFrame | None = None) -> TreeData:
    """Validate the node table(s), choose the target, split by tree, build the vocabulary and scalers.

    `spec`: a ModelSpec of task `tree` (its data settings name the columns; its loss chooses
    classification or regression when not "auto"; an N-ary block's `arity` bounds the children).
    With `test_df`, its trees are the test part and the validation part comes from `df`.
    """
    from builder.data.scaler import Scaler

    settings = spec.data
    source = df.attrs.get("source", "data")
    cols = detect_tree_columns(df, tree_settings(settings), settings.features)
    if cols.label_col is None:
        raise DataError(f"{source}: no label column; expected one named {' or '.join(ROLE_NAMES['label_col'])}, "
                        f"or name it with --label-col; columns are {list(df.columns)}")
    block = spec.recurrent_blocks[0]
    arity = block.arity if block.cell == "nary_tree_lstm" else None
    forest = read_forest(df, cols, arity)
    n_train_file = forest.n_trees
    test_source = None
    if test_df is not None:
        test_source = test_df.attrs.get("source", "test data")
        missing = [c for c in (cols.tree_col, cols.node_col, cols.parent_col, cols.token_col, cols.label_col,
                               *cols.features) if c and c not in test_df.columns]
        if missing:
            raise DataError(f"{test_source}: column(s) {missing} of the training file not found; columns are {list(test_df.columns)}")
        forest = _concat(forest, read_forest(test_df, cols, arity))
    level = label_level(forest, cols.label_col)
    mixed = _mostly_tree_labels(forest, cols.label_col) if level == "node" else []
    raw = forest.labels if level == "node" else tree_labels(forest)
    loss = spec.training.loss
    regression = loss in ("mse", "mae", "huber")
    if loss == "auto" and is_regression(raw):
        raise DataError(f"{source}: column `{cols.label_col}` holds numbers that are not whole (e.g. "
                        f"{next(v for v in raw if float(v) != round(float(v)))!r}); for tree regression set the loss "
                        "to mse, mae or huber, for classes use whole numbers or text")
    if regression and not label_is_numeric(raw):
        bad = next(v for v in raw if pd.isna(pd.to_numeric(pd.Series([v]), errors="coerce")[0]))
        raise DataError(f"{source}: column `{cols.label_col}` expected numbers for a regression loss, found {bad!r}")

    # split by tree
    n = forest.n_trees
    split = np.full(n, "train", dtype=object)
    rng = np.random.default_rng(spec.training.seed)
    pool = np.arange(n_train_file)
    if test_df is not None:
        split[n_train_file:] = "test"
        test_frac = 0.0
    else:
        test_frac = settings.test_fraction
    perm = rng.permutation(pool)
    n_test = int(round(len(pool) * test_frac))
    n_val = int(round(len(pool) * settings.val_fraction))
    split[perm[:n_test]] = "test"
    split[perm[n_test:n_test + n_val]] = "val"
    if (split == "train").sum() == 0:
        raise DataError(f"{source}: {n_train_file} trees are too few to split into train / val / test")
    tree_of_node = np.repeat(np.arange(n), np.diff(forest.offsets))
    train_nodes = split[tree_of_node] == "train"

    vocabulary = build_vocabulary(forest.tokens[train_nodes]) if forest.tokens is not None else (UNKNOWN,)
    tokens = token_ids(forest.tokens, vocabulary) if forest.tokens is not None else np.zeros(len(tree_of_node), np.int32)
    features = forest.features if forest.features is not None else np.zeros((len(tree_of_node), 0), np.float32)
    x_scaler = Scaler(settings.scaler if settings.scaler != "none" else "none").fit(features[train_nodes]) if features.shape[1] else None

    notices = reading_notices(df, test_df, test_source)  # what reading the file(s) assumed
    notices += forest.notices
    notices += mixed
    train_raw = raw[train_nodes] if level == "node" else raw[split == "train"]
    y_scaler = None
    if regression:
        values = pd.to_numeric(pd.Series(raw)).to_numpy(dtype=np.float32)
        y_scaler = Scaler("standard").fit(values[(train_nodes if level == "node" else split == "train")][:, None])
        classes: tuple[str, ...] = ()
    else:
        classes = class_list(train_raw)
        if len(classes) < 2:
            where = "training nodes" if level == "node" else "training trees"
            raise DataError(f"{source}: label column `{cols.label_col}` has a single class {list(classes)} in the {where}; "
                            "classification needs at least two (for numbers to predict, set the loss to mse, mae or huber)")
        what = "a node" if level == "node" else "a tree"
        try:
            values = encode_labels(raw, classes, source, what)
        except DataError:
            seen = set(classes)
            bad = next(i for i, v in enumerate(raw) if _label_text(v) not in seen)
            t = tree_of_node[bad] if level == "node" else bad
            raise DataError(f"{test_source if split[t] == 'test' and test_source else source}: tree {forest.tree_ids[t]}: label "
                            f"{_label_text(raw[bad])!r} does not occur in the training trees; known: {list(classes)}") from None
    roots = np.flatnonzero(forest.parent == -1)
    y_tree = values[roots] if level == "node" else values
    y_node = values if level == "node" else None
    kids = forest.children_counts()
    if forest.tokens is not None:
        unseen = int((tokens[~train_nodes] == 0).sum())
        if unseen:
            notices.append(f"{unseen} node(s) outside the training trees have a token the training trees lack (read as {UNKNOWN})")
    if arity is None and block.cell == "nary_tree_lstm":
        arity = int(kids.max(initial=1))
        notices.append(f"N-ary Tree-LSTM: N = {arity}, the most children of any node")
    return TreeData(source, cols, forest.offsets, forest.parent, tokens, features, forest.depth, forest.node_ids,
                    forest.tree_ids, y_node, y_tree, forest.tree_depths(), split, level, regression, classes,
                    vocabulary, x_scaler, y_scaler, arity, int(kids.max(initial=0)), tuple(notices), test_source,
                    spec.training)
