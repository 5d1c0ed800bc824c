"""The one-way rule of DESIGN.md's layout, read from the source: every import of every
module under minilottery/ and backends/ (at any depth, lazy ones included) is parsed
with ast, and the graph they make must have

- no cycle;
- no import of minilottery.cli from outside minilottery/cli (the command line is on top);
- no training code (train, recipe, lottery, transfer, experiments, sweep execution)
  reached from the presentation modules (plots, tables), which read results only;
- nothing of minilottery in backends/ (it is at the bottom);
- every edge pointing down DESIGN.md's layers, with no exception: the instability search
  of ``--rewind-iteration auto`` is called from orchestration (sweep/late_reset.py),
  which hands the lottery the chosen k.

Run it alone with ``python -m pytest tests/test_layers.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# DESIGN.md's layers, bottom (0) to top; a module's layer is its longest listed prefix
LAYERS = {
    "minilottery.backends": 0, "minilottery._source_tree": 0, "minilottery.checks": 0,
    "minilottery": 0,
    "minilottery.nn": 1, "minilottery.threads": 1, "minilottery.optim": 1, "minilottery.models": 1,
    "minilottery.data": 1, "minilottery.train": 1,
    "minilottery.prune": 2, "minilottery.lottery": 2, "minilottery.config": 2,
    "minilottery.presets": 2, "minilottery.runs": 2, "minilottery.seeds": 2,
    "minilottery.schema": 2, "minilottery.recipe": 2, "minilottery.runner": 2,
    "minilottery.stored_run": 2, "minilottery.cost": 2, "minilottery.mask_ops": 2,
    "minilottery.sparse_schedules": 2, "minilottery.drop_grow": 2, "minilottery.nm": 2,
    "minilottery.structured": 2, "minilottery.sparse_training": 2,
    "minilottery.transfer": 3, "minilottery.experiments": 3,
    "minilottery.sweep": 4,
    "minilottery.plots": 5, "minilottery.tables": 5,
    "minilottery.cli": 6, "minilottery.__main__": 6,
}
TRAINING = ("minilottery.train", "minilottery.recipe", "minilottery.lottery",
            "minilottery.transfer", "minilottery.experiments", "minilottery.sweep.execute")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "backends":  # installed as minilottery.backends
        parts = ["minilottery", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    paths = [*(ROOT / "minilottery").rglob("*.py"), *(ROOT / "backends").rglob("*.py")]
    return {module_name(p): p for p in paths}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target.startswith("backends"):
                target = "minilottery." + target
            # "from .x import y": y may be a module or a name; keep what is a module
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    edges = {name: imports_of(name, path, known) for name, path in found.items()}
    # A package's __init__ is imported with any of its modules: "minilottery" and the
    # packages themselves re-export, so edges *to* a package stand for its __init__
    return edges


def layer(name: str) -> int:
    prefix = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def reachable(edges, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def find_cycle(edges) -> list[str] | None:
    """One import cycle among modules (a package's __init__ re-exporting its own modules
    is not one: "minilottery.x" -> "minilottery.x.y" edges of a package are skipped)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for target in edges.get(node, ()):
            if target.startswith(node + "."):
                continue  # a package importing its own submodule
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


EDGES = graph()


def test_the_graph_was_read():
    assert "minilottery.lottery" in EDGES["minilottery.transfer.run"]
    assert "minilottery.cli.arguments" in EDGES["minilottery.cli.lottery"]
    assert "minilottery.transfer.source" in EDGES["minilottery.transfer.run"]
    assert len(EDGES) > 50


def test_no_import_cycle():
    assert find_cycle(EDGES) is None, " -> ".join(find_cycle(EDGES))


def test_only_the_command_line_imports_the_command_line():
    offenders = sorted(f"{a} -> {b}" for a, targets in EDGES.items() for b in targets
                       if b.startswith("minilottery.cli") and not a.startswith(
                           ("minilottery.cli", "minilottery.__main__")))
    assert offenders == []


def test_plots_and_tables_never_reach_training_code():
    for start in [m for m in EDGES if m.startswith(("minilottery.plots",
                                                    "minilottery.tables"))]:
        reached = sorted(m for m in reachable(EDGES, start) if m.startswith(TRAINING))
        assert reached == [], f"{start} reaches {reached}"


def test_backends_import_nothing_of_minilottery():
    for name, targets in EDGES.items():
        if name.startswith("minilottery.backends"):
            outside = sorted(t for t in targets if not t.startswith("minilottery.backends"))
            assert outside == [], f"{name} imports {outside}"


def test_imports_point_down_the_layers():
    upward = sorted((a, b) for a, targets in EDGES.items() for b in targets
                    if layer(b) > layer(a) and a != "minilottery"
                    and not b.startswith(a + "."))
    assert upward == []
