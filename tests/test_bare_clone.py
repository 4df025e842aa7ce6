"""The README's first command works on a clone with nothing beside it.

``make render`` renders the example and validates it. A user's clone has no
``../shared``: every custom resource must still be schema-checked (against the
project's own schemas, ``gitops/crds``) and the example must pass. The clone is
made from the files Git would commit (tracked and new, not ignored), so the
test also fails when a file the product needs is left untracked or ignored.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(not shutil.which("kubectl") or not shutil.which("git"),
                                reason="kubectl (kustomize v5) and git are required")


def _clone_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            check=True, capture_output=True).stdout.decode("utf-8").split("\0")
    return [path for path in listed if path and (REPO_ROOT / path).is_file()]   # a deleted file stays in the index


def test_make_render_on_a_clone_with_nothing_beside_it_validates_every_custom_resource(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    clone = tmp_path_factory.mktemp("alone") / "gitops-platform"
    for path in _clone_files():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, clone / path)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["gitops-platform"]
    assert (clone / "gitops/crds/argocd/applicationsets.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": str(clone)}

    def gitops(*argv: str) -> subprocess.CompletedProcess[str]:   # the Makefile's `make render`, step by step
        return subprocess.run([sys.executable, "-m", "gitops", *argv], cwd=clone, env=env, text=True,
                              capture_output=True, timeout=300)

    render = gitops("render", "--all", "--out", "gitops-repo")
    assert render.returncode == 0, render.stderr
    validate = gitops("validate", "gitops-repo")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "not validated" not in validate.stdout + validate.stderr
    summary = validate.stdout.strip().splitlines()[-1]
    checked = re.search(r"\((\d+) custom resources against the project's schemas\)", summary)
    assert summary.startswith("ok: ") and checked and int(checked[1]) > 30, summary
