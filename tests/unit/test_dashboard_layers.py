"""Imports point one way: dashboard features import only the layers above them, the core never
imports workers/ or the dashboard."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HOTLINE = Path(__file__).resolve().parents[2] / "hotline"
DASHBOARD = HOTLINE / "dashboard"
# The order of hotline/dashboard/__init__.py's docstring: each imports only those before it.
LAYERS = ["web", "accounts", "calls", "outcomes", "stats", "roster", "live"]
# The two places that assemble everything: the app factory and the command line.
ASSEMBLERS = {HOTLINE / "__init__.py", HOTLINE / "cli.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module path.py imports, as an absolute dotted name."""
    package = ".".join(path.relative_to(HOTLINE.parent).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(HOTLINE.parent).parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def dashboard_layer(module: str) -> str | None:
    """The dashboard package a module belongs to (None outside those packages)."""
    parts = module.split(".")
    if parts[:2] == ["hotline", "dashboard"] and len(parts) > 2 and parts[2] in LAYERS:
        return parts[2]
    return None


def test_the_layer_list_names_every_dashboard_package():
    packages = {p.parent.name for p in DASHBOARD.glob("*/__init__.py")}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_dashboard_package_imports_only_the_layers_above_it(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    wrong = sorted(
        f"{path.relative_to(HOTLINE)} imports {module}"
        for path in (DASHBOARD / layer).rglob("*.py")
        for module in imported_modules(path)
        if (target := dashboard_layer(module)) is not None and target not in allowed
    )
    assert wrong == []


def test_the_core_imports_neither_the_workers_nor_the_dashboard():
    wrong = sorted(
        f"{path.relative_to(HOTLINE)} imports {module}"
        for path in HOTLINE.rglob("*.py")
        if path not in ASSEMBLERS and DASHBOARD not in path.parents
        for module in imported_modules(path)
        if module.split(".")[0] == "workers" or module.startswith("hotline.dashboard")
    )
    assert wrong == []


def test_the_import_reader_resolves_relative_imports():
    # The checks above are only as good as this reader: it must resolve both spellings.
    stats = DASHBOARD / "stats" / "query.py"
    modules = imported_modules(stats)
    assert "hotline.dashboard.calls.query" in modules
    assert "hotline.models.call" in modules
