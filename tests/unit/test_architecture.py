"""The shape of the code: no import cycles inside builder/, pages import only builder.app, builder
never imports streamlit, no module without a docstring."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` except those under `if TYPE_CHECKING:` (annotations only, never run)."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _imports(path: Path, names: bool = True) -> set[str]:
    """Every module `path` imports when it runs, at any depth (function-level imports count too).

    With `names`, `from m import x` also yields `m.x` (x may be a submodule); without, only `m`.
    """
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if names:
                found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """builder module -> the builder modules it imports (a package import counts as its __init__)."""
    modules = {_module_name(p): p for p in (ROOT / "builder").rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_in_builder() -> None:
    graph = import_graph()
    assert len(graph) > 30 and "builder.model.build" in graph["builder.training.fit"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


#: the layers, bottom first: a module may import its own layer and the ones below, never above
LAYERS = ("builder.spec", "builder.data", "builder.tasks", "builder.model", "builder.training", "builder.serving",
          "builder.app")
#: modules below every layer: they import nothing of ours that sits in a layer
LEAVES = ("builder.files", "builder.limits", "builder.paths", "builder.quiet", "builder.model.cells.registry",
          "builder.tasks.registry", "builder.model.layers")


def layer_of(module: str) -> int:
    """0 for the leaves, 1.. for the layers in LAYERS order, above them all for builder and its CLI."""
    if module in LEAVES:
        return 0
    for rank, layer in enumerate(LAYERS, start=1):
        if module == layer or module.startswith(layer + "."):
            return rank
    return len(LAYERS) + 1


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = sorted(f"{a} -> {b}" for a, deps in import_graph().items() for b in deps if layer_of(b) > layer_of(a))
    assert not upward, upward
    assert layer_of("builder.serving.export") > layer_of("builder.training.fit") > layer_of("builder.model.build")


def test_pages_import_only_builder_app() -> None:
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        modules = _imports(path, names=False)
        ours = {m for m in modules if m.split(".")[0] == "builder"}
        assert ours <= {"builder.app"}, (path.name, ours)
        assert not {m for m in modules if m.split(".")[0] in ("keras", "tensorflow")}, path.name


def test_builder_never_imports_streamlit_and_documents_every_module() -> None:
    for path in (ROOT / "builder").rglob("*.py"):
        assert not any(m.split(".")[0] == "streamlit" for m in _imports(path)), path
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path} has no docstring"
