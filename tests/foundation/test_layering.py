"""Dependencies point one way: views → domain → models; scheduler → portal; no cycles."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """Imports made at module level (function-level imports run later and cannot cycle at import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = [*ROOT.joinpath("portal").rglob("*.py"), *ROOT.joinpath("scheduler").rglob("*.py")]
    files = [f for f in files if "migrations" not in f.parts]
    modules = {_module_name(f): f for f in files}
    return {name: {i for i in _top_level_imports(path) if i in modules and i != name} for name, path in modules.items()}


def test_portal_never_imports_scheduler_or_apscheduler():
    for path in ROOT.joinpath("portal").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("scheduler", "apscheduler")), f"{path} imports {name}"


def test_domain_modules_do_not_import_flask():
    # Flask wiring, not domain logic: the app factory, extensions, request guards, headers, assets, CLI.
    web = {"__init__", "extensions", "access", "security", "static_assets", "template_i18n", "template_catalogue",
           "template_output", "template_calls", "id_urls", "csrf_tokens", "errors"}  # fmt: skip
    for path in ROOT.joinpath("portal").glob("*.py"):
        if path.stem in web or path.stem.startswith("cli"):
            continue
        imports = _top_level_imports(path)
        assert not any(i.split(".")[0].startswith("flask") for i in imports), f"{path.name} imports Flask"


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
