"""The core (gitops/) never imports pulumi: the CLI, the tests and the program share it without the engine."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_the_core_imports_pulumi() -> None:
    offenders = {str(path.relative_to(REPO_ROOT)): sorted(n for n in imported_modules(path) if n.split(".")[0].startswith("pulumi"))
                 for path in sorted((REPO_ROOT / "gitops").rglob("*.py"))}
    assert {path: names for path, names in offenders.items() if names} == {}
