"""The label, annotation and finalizer keys the tool emits or reads are spelled once, in gitops/layout.py.

They are API: Argo CD, its ApplicationSet generators, the drain and users'
own tooling find objects by them. A key retyped in a second module can drift
from the first without any test noticing (the render and the check would then
agree on the wrong one), so every other module must use the layout constant.
Read from the source (AST), so the test costs milliseconds.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

LAYOUT = Path("gitops/layout.py")
# Our own label and annotation prefixes, and Argo CD's and Kubernetes' ones the tool writes.
OWNED_PREFIXES = (
    "gitops-platform.io/",
    "addons.gitops-platform.io/",
    "argocd.argoproj.io/",
    "app.kubernetes.io/",
)
# Exact keys and values of the same kind that carry no such prefix.
OWNED_KEYS = frozenset({
    "resources-finalizer.argocd.argoproj.io",
})


def string_literals(source: Path) -> list[tuple[int, str]]:
    """Every string constant of the module (f-string parts included), with its line."""
    text = source.read_text(encoding="utf-8")
    if not any(key in text for key in (*OWNED_PREFIXES, *OWNED_KEYS)):
        return []   # most modules mention none: skip parsing them
    tree = ast.parse(text, str(source))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def is_layout_key(text: str) -> bool:
    """A literal that is one of the keys (docstrings and messages merely mention them, inside other text)."""
    if any(c.isspace() for c in text):
        return False
    return text in OWNED_KEYS or text.startswith(OWNED_PREFIXES)


def test_label_annotation_and_finalizer_keys_are_literals_only_in_layout() -> None:
    modules = sorted([*(REPO_ROOT / "gitops").rglob("*.py"), *(REPO_ROOT / "components").rglob("*.py")])
    offenders = [f"{path.relative_to(REPO_ROOT)}:{line}: {text!r}"
                 for path in modules if path.relative_to(REPO_ROOT) != LAYOUT
                 for line, text in string_literals(path) if is_layout_key(text)]
    assert offenders == [], "use the gitops.layout constant instead:\n" + "\n".join(offenders)


def test_layout_defines_every_key_the_rule_protects() -> None:
    """The rule has teeth: layout.py itself holds keys of each kind."""
    keys = {text for _, text in string_literals(REPO_ROOT / LAYOUT) if is_layout_key(text)}
    assert keys >= OWNED_KEYS
    assert all(any(k.startswith(prefix) for k in keys) for prefix in OWNED_PREFIXES)
