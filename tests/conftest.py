"""Shared fixtures: a private copy of the example project, an in-process CLI
runner and a directory snapshot. Nothing here changes the working directory;
the one autouse fixture keeps the writer's local state (its journal key) in a
temporary directory instead of the home directory of whoever runs the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # also when pytest is started from another directory
    sys.path.insert(0, str(REPO_ROOT))
# The benchmarks' synthetic catalog generator (``synthetic.make_project``) serves tests of large catalogs.
if str(REPO_ROOT / "benchmarks") not in sys.path:
    sys.path.append(str(REPO_ROOT / "benchmarks"))

from gitops.cli import main  # noqa: E402
from gitops.expansionroots import cut_roots  # noqa: E402
from gitops.options import ValidateOptions  # noqa: E402
from gitops.validate import generated_applications  # noqa: E402
from gitops.writer import STATE_ENV  # noqa: E402

# The Pulumi mocks fixture (pulumi_mocks) for the component tests.
pytest_plugins = ("pulumi_harness",)


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` as {posix relative path: bytes}; {} when ``root`` is missing."""
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def expanded_whole_and_cut(tree: Path) -> tuple[list[Any], list[Any]]:
    """The tree's generated Applications, then again after cutting its roots as ``diff``'s scratch trees are
    (``gitops.expansionroots``); the tree is left cut."""
    whole, problems = generated_applications(tree, ValidateOptions())
    assert not problems and whole
    cut = cut_roots(snapshot_tree(tree))
    assert cut.left_out, "nothing to cut: the comparison would prove nothing"
    for path in cut.left_out:
        (tree / path).unlink()
    for path, content in cut.kustomizations.items():
        (tree / path).write_bytes(content)
    after, problems = generated_applications(tree, ValidateOptions())
    assert not problems
    return whole, after


@pytest.fixture(scope="session", autouse=True)
def local_writer_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``GITOPS_PLATFORM_STATE_DIR`` for this test session (inherited by the CLI subprocesses tests start)."""
    state = tmp_path_factory.mktemp("writer-state")
    previous = os.environ.get(STATE_ENV)
    os.environ[STATE_ENV] = str(state)
    yield state
    if previous is None:
        os.environ.pop(STATE_ENV, None)
    else:
        os.environ[STATE_ENV] = previous


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project (Pulumi*.yaml and services/) that a test may edit."""
    root = tmp_path / "project"
    root.mkdir()
    for stack_file in sorted(REPO_ROOT.glob("Pulumi*.yaml")):
        shutil.copyfile(stack_file, root / stack_file.name)
    shutil.copytree(REPO_ROOT / "services", root / "services")
    return root


def git(repo: Path, *args: str) -> str:
    """``git -C repo ...`` with an identity for commits; its output."""
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(project: Path) -> Path:
    """The example project as a git repository with one commit (``HEAD`` = the base)."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    return project


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """``run("render", "--all", ...)`` or ``run([...])``: ``gitops.cli.main`` in-process.

    Arguments may be Paths. Usage errors (argparse's SystemExit) become exit codes.
    """

    def _run(*argv: object) -> CliResult:
        if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
            argv = tuple(argv[0])
        capsys.readouterr()  # drop anything printed before this call
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    """The ``snapshot_tree`` helper, for "nothing written / survives" assertions."""
    return snapshot_tree
