"""The house stays in order: no import circles among the apps' modules (imports inside functions
count: a lazy import hides a circle, it does not remove it), no module past MAX_LINES lines
(migrations aside), and portal, the lower app, imports nothing from referrals."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("portal", "referrals", "eligibility")
MAX_LINES = 500
# Lower apps may not import higher ones: portal holds accounts, settings and the audit trail,
# which every app uses; eligibility is the rules and imports neither.
FORBIDDEN = {"portal": ("referrals",), "eligibility": ("referrals", "portal")}


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, anywhere in its code (functions included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    resolved = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_two_modules_import_each_other():
    edges = graph()
    # A package imports what its modules define only through them, never the other way round,
    # so a package's __init__ is a module like any other here.
    assert circles(edges) == []


def test_no_module_is_past_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_lower_apps_import_nothing_from_higher_ones():
    wrong = [
        (name, target)
        for name, targets in graph().items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(name.split(".")[0], ())
    ]
    assert wrong == []


def test_the_checker_finds_a_circle_and_a_lazy_import():
    """The checks above could pass by finding nothing at all: they do find what they look for."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = ROOT / "tests" / "_layout_probe.py"
    source.write_text("def f():\n    from referrals import workflow\n")
    try:
        found = imports_of("tests._layout_probe", source, {"referrals", "referrals.workflow"})
    finally:
        source.unlink()
    assert found == {"referrals", "referrals.workflow"}  # the package runs too
