"""Golden output tree: the example project's render, byte for byte.

`tests/golden/example/` is what `render --all` makes of the repository's own
example catalog and stacks (the writer's state folder `.gitops-platform/`
excluded: it is bookkeeping, not output). A change to rendering shows up as a
reviewable diff of this tree in the same commit; after reviewing it, refresh
the tree with

    GITOPS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_golden.py
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO_ROOT, CliResult, snapshot_tree

GOLDEN = REPO_ROOT / "tests" / "golden" / "example"
STATE_DIR = ".gitops-platform"


def output_files(root: Path) -> dict[str, bytes]:
    """The rendered tree without the writer's state folder."""
    return {rel: data for rel, data in snapshot_tree(root).items() if not rel.startswith(f"{STATE_DIR}/")}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from gitops.cli import main

    out = tmp_path_factory.mktemp("golden") / "repo"
    code = main(["render", "--all", "--project", str(REPO_ROOT), "--out", str(out)])
    assert code == 0
    return output_files(out)


def update_golden(files: dict[str, bytes]) -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for rel, data in files.items():
        path = GOLDEN / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_example_render_matches_the_golden_tree(rendered: dict[str, bytes]) -> None:
    if os.environ.get("GITOPS_UPDATE_GOLDEN") == "1":
        update_golden(rendered)
    golden = snapshot_tree(GOLDEN)
    missing = sorted(set(golden) - set(rendered))
    extra = sorted(set(rendered) - set(golden))
    changed = sorted(rel for rel in set(golden) & set(rendered) if golden[rel] != rendered[rel])
    assert (missing, extra, changed) == ([], [], []), (
        "the example's render differs from tests/golden/example "
        "(review, then refresh with GITOPS_UPDATE_GOLDEN=1)")


def test_golden_tree_covers_every_stack_and_service(rendered: dict[str, bytes]) -> None:
    services = sorted(p.stem for p in (REPO_ROOT / "services").glob("*.yaml") if not p.name.startswith("_"))
    stacks = sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))
    for service in services:
        assert f"apps/{service}/base/kustomization.yaml" in rendered
        for env in stacks:
            assert f"apps/{service}/overlays/{env}/kustomization.yaml" in rendered
    for env in stacks:
        assert f"argocd/{env}/kustomization.yaml" in rendered


def test_render_is_byte_identical_when_repeated(rendered: dict[str, bytes], tmp_path: Path,
                                                run: Callable[..., CliResult]) -> None:
    again = tmp_path / "repo"
    assert run("render", "--all", "--project", REPO_ROOT, "--out", again).code == 0
    assert output_files(again) == rendered
