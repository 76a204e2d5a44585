"""The house rules, checked on the source: one home per provider, floors that only look down.

- No provider name as a string literal outside `genctl/providers/` and `genctl/sandbox/` (ask the registry).
- The registry and the value types stand on the ground floor: they import nothing above `errors`.
- `config` parses plain data: it imports neither the key pool nor the aliases.
- No import circle among the core's modules, counting `TYPE_CHECKING` and function-local imports too.
- Outside `cli/`, every import is at module level (a local import hides a cycle; `cli/` defers for start-up,
  and each run of deferred imports says so in a comment just above it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from genctl.providers import registry

ROOT = Path(__file__).resolve().parent.parent / "genctl"
CORE = sorted(p for p in ROOT.rglob("*.py") if "sandbox" not in p.relative_to(ROOT).parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(module imported, the node, whether at module level) for every genctl import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, ast.If) for n in node.body}  # TYPE_CHECKING
    found: list[tuple[str, ast.AST, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genctl"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                target = sub if (ROOT.parent / (sub.replace(".", "/") + ".py")).exists() else node.module
                found.append((target, node, id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(a.name, node, id(node) in top) for a in node.names if a.name.startswith("genctl")]
    return found


def test_no_provider_name_literal_outside_the_providers_package() -> None:
    names = set(registry.NAMES)
    offenders = []
    for path in CORE:
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "providers":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                offenders.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert offenders == [], "ask genctl.providers.registry instead"


def test_source_text_spells_no_quoted_provider_name_either() -> None:
    """The check CI's hook makes: a quoted name even in a comment or docstring counts."""
    hits = []
    for path in CORE:
        if path.relative_to(ROOT).parts[0] == "providers":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if any(f'"{n}"' in line or f"'{n}'" in line for n in registry.NAMES):
                hits.append(f"{path.relative_to(ROOT)}:{number}")
    assert hits == []


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("genctl.providers.registry", {"genctl.errors"}),
        ("genctl.values", {"genctl.errors", "genctl.providers.registry"}),
        ("genctl.cost", {"genctl.errors"}),
        ("genctl.settings", {"genctl.errors", "genctl.values", "genctl.providers.registry", "genctl.cost"}),
    ],
)
def test_ground_floor_imports_nothing_above_it(module: str, allowed: set[str]) -> None:
    path = ROOT.parent / (module.replace(".", "/") + ".py")
    assert {target for target, _, _ in imports(path)} <= allowed


def test_config_imports_neither_the_key_pool_nor_the_aliases() -> None:
    targets = {target for target, _, _ in imports(ROOT / "config.py")}
    assert not {t for t in targets if t == "genctl.keys" or t.startswith(("genctl.keys.", "genctl.aliases"))}


def test_local_imports_only_in_cli() -> None:
    local = []
    for path in CORE:
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "cli":
            continue
        local += [f"{rel}:{node.lineno} {t}" for t, node, at_top in imports(path) if not at_top]
    # The one exception: the emulator, loaded for --sandbox alone (config.py says so where it imports it).
    assert [x for x in local if not x.startswith("config.py:")] == []


def test_no_other_local_import_in_the_core_unless_it_says_why() -> None:
    """httpx, json… at module level in the core; a deferred import (the fal SDK) says why just above it."""
    silent = []
    for path in CORE:
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "cli":
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        top = {id(node) for node in tree.body}
        top |= {id(n) for node in tree.body if isinstance(node, ast.If | ast.Try) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
                continue
            above = lines[node.lineno - 2].strip()
            if not (above.startswith("# Lazy import") or above.startswith(("import ", "from "))):
                silent.append(f"{rel}:{node.lineno}")
    # The one exception: the emulator, for --sandbox alone (config.py says so beside it).
    assert [place.split(":")[0] for place in silent] == ["config.py"]


def test_each_lazy_import_in_cli_says_why() -> None:
    silent = []
    for path in sorted((ROOT / "cli").glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for func in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                above = lines[
                    node.lineno - 2
                ].strip()  # the line above: a comment, or the run's import before
                if not (above.startswith("# Lazy import") or above.startswith(("import ", "from "))):
                    silent.append(f"cli/{path.name}:{node.lineno}")
    assert silent == []


def test_no_import_circle_in_the_core() -> None:
    graph: dict[str, set[str]] = {module_name(p): set() for p in CORE}
    for path in CORE:
        me = module_name(path)
        for target, _, _ in imports(path):
            if target in graph and target != me:
                graph[me].add(target)
    # A package's __init__ runs before its submodules: importing genctl.x.y imports genctl.x too.
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []
