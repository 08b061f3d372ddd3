"""The package's layers hold (README, "Code layout"): each module imports only from its own layer or the ones
below it, only `ui` prints, and only `engine/` reaches Docker (through python-on-whales)."""
import ast
from pathlib import Path

import pytest

from airflow_compose import cli

PACKAGE = Path(cli.__file__).parent
# what each layer may import from the package, besides itself (the `compose` data package is everyone's)
ALLOWED = {
    "stack": {"errors"},
    "engine": {"errors", "stack"},
    "project": {"errors", "stack", "engine"},
    "commands": {"errors", "stack", "engine", "project"},
    "errors": set(),
    "ui": {"errors", "stack", "project"},
    "cli": {"errors", "stack", "engine", "project", "commands", "ui", "__init__"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path):
    """(layer imported, line, under TYPE_CHECKING) for each import of the package in a module."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(node)}
    depth = len(path.relative_to(PACKAGE).parts)  # 1 at the top, 2 in a layer package
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = (node.module or "").split(".") if node.module else []
            if node.level == depth:  # from the package's top: `from .. import engine` / `from ..stack.spec import`
                targets = parts[:1] or [alias.name for alias in node.names]
            elif node.level < depth:  # within its own layer package
                targets = [_layer(path)]
            else:
                raise AssertionError(f"{path}: import above the package")
            for target in targets:
                yield target if target in ALLOWED or target == "compose" else "__init__", node.lineno, \
                    id(node) in typing_only
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if name and name.startswith("airflow_compose"):
                yield (name.split(".") + ["__init__"])[1], node.lineno, id(node) in typing_only


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent.name != "compose" and p.name != "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_layer_and_the_ones_below(path):
    layer = _layer(path)
    if layer == "__init__":
        return
    for target, line, typing_only in _imports(path):
        if target in ("compose", layer) or typing_only:
            continue
        assert target in ALLOWED[layer], f"{path.relative_to(PACKAGE)}:{line} ({layer}) imports {target}"


def test_the_layer_check_sees_imports():
    found = {target for target, _, _ in _imports(PACKAGE / "commands" / "lifecycle.py")}
    assert {"engine", "errors", "stack", "commands"} <= found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_ui_prints_and_only_the_engine_layer_reaches_docker(path):
    tree = ast.parse(path.read_text())
    scripts = {id(n) for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
               for n in ast.walk(node)}  # `python -m` entry points that write generated docs may print
    calls = {getattr(n.func, "id", "") for n in ast.walk(tree) if isinstance(n, ast.Call) and id(n) not in scripts}
    if path.name != "ui.py":
        assert "print" not in calls, f"{path.relative_to(PACKAGE)} prints"
    modules = {getattr(n, "module", None) or n.names[0].name for n in ast.walk(tree)
               if isinstance(n, (ast.Import, ast.ImportFrom))}
    if _layer(path) != "engine":
        assert not {m for m in modules if m and m.startswith("python_on_whales")}, \
            f"{path.relative_to(PACKAGE)} uses python-on-whales outside engine/"
