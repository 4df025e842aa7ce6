"""The writer never reaches outside the tree, never trusts what a pull request can forge, and never half-writes.

Records and journals are files in the tree, and Git carries symbolic links:
anything that names a path is input. Each test plants what an attacker or an
accident would, runs ``render`` through the CLI, and checks the exit status,
the message and that nothing outside (or, on error, inside) the tree changed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from gitops import assemble
from gitops.fastpath import GITIGNORE_TEXT
from gitops.record import tree_path_problem

STATE = ".gitops-platform"
PAYMENTS_DEV = "apps/payments/overlays/dev/kustomization.yaml"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file next to the tree that no render may touch."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    return victim


@pytest.fixture
def rendered(run, project: Path, out: Path) -> Path:
    result = run("render", "--all", "--project", project, "--out", out)
    assert result.code == 0, result.err
    return out


def render(run, project: Path, out: Path, *argv: str):
    return run("render", "--all", "--project", project, "--out", out, *argv)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def edit_record(out: Path, stack: str, change: Any) -> None:
    path = out / STATE / f"{stack}.json"
    doc = json.loads(path.read_text())
    change(doc["files"])
    path.write_text(json.dumps(doc, indent=1) + "\n")


def hand_edit(out: Path, path: str) -> bytes:
    target = out / path
    edited = target.read_bytes() + b"# tuned by hand\n"
    target.write_bytes(edited)
    return edited


# --- paths from records and journals --------------------------------------------------------


@pytest.mark.parametrize("path, problem", [
    ("../../victim.txt", "normalised"),
    ("/etc/passwd", "absolute"),
    ("apps/./x.yaml", "normalised"),
    ("apps//x.yaml", "normalised"),
    ("apps\\x.yaml", "backslash"),
    ("apps/x\n.yaml", "control character"),
    ("README.md", "outside the directories a stack owns"),
    (".gitops-platform/dev.json", "outside the directories a stack owns"),
    ("", "non-empty"),
])
def test_a_path_outside_the_owned_directories_is_refused(path: str, problem: str) -> None:
    assert problem in (tree_path_problem(path) or "")


def test_owned_paths_are_accepted() -> None:
    assert [tree_path_problem(p) for p in ("apps/a/base/x.yaml", "argocd/dev/appset.yaml", "clusters/c/cert.pem")] == [None] * 3


@pytest.mark.parametrize("force", [False, True])
def test_a_record_entry_leading_out_of_the_tree_stops_the_render_and_deletes_nothing(
        run, project: Path, rendered: Path, outside: Path, snapshot, force: bool) -> None:
    escape = os.path.relpath(outside, rendered)
    edit_record(rendered, "dev", lambda files: files.update({escape: sha(outside.read_bytes())}))
    before = snapshot(rendered)
    (project / "services/payments.yaml").unlink()   # a render that deletes things
    result = render(run, project, rendered, *(["--force"] if force else []))
    assert result.code == 2
    assert f"files entry {escape!r}" in result.err and f"{STATE}/dev.json" in result.err
    assert outside.read_bytes() == b"precious\n" and snapshot(rendered) == before


def test_an_absolute_record_entry_stops_the_render(run, project: Path, rendered: Path, outside: Path) -> None:
    edit_record(rendered, "prod", lambda files: files.update({str(outside): sha(outside.read_bytes())}))
    result = render(run, project, rendered, "--force")
    assert result.code == 2 and "is absolute" in result.err
    assert outside.read_bytes() == b"precious\n"


def test_a_journal_from_elsewhere_cannot_make_a_hand_edit_look_like_the_writers_own(
        run, project: Path, rendered: Path) -> None:
    edited = hand_edit(rendered, PAYMENTS_DEV)
    forged = {"files": {PAYMENTS_DEV: sha(edited)}, "signature": "0" * 64}
    (rendered / STATE / "4242.journal").write_text(json.dumps(forged))
    (project / "Pulumi.dev.yaml").write_text((project / "Pulumi.dev.yaml").read_text().replace("replicas: 1", "replicas: 2"))
    result = render(run, project, rendered)
    assert result.code == 2 and "edited by hand" in result.err
    assert (rendered / PAYMENTS_DEV).read_bytes() == edited


def test_a_journal_entry_leading_out_of_the_tree_stops_the_render(run, project: Path, rendered: Path) -> None:
    (rendered / STATE / "4242.journal").write_text(json.dumps({"files": {"../x": "0" * 64}, "signature": ""}))
    result = render(run, project, rendered)
    assert result.code == 2 and "files entry '../x'" in result.err and "4242.journal" in result.err


# --- symbolic links -------------------------------------------------------------------------


def test_a_symlinked_directory_in_the_tree_is_never_written_through(
        run, project: Path, out: Path, tmp_path: Path, snapshot) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "apps").mkdir(parents=True)
    (out / "apps" / "payments").symlink_to(elsewhere, target_is_directory=True)
    result = render(run, project, out)
    assert result.code == 2
    assert f"{out / 'apps/payments'}: is a symbolic link" in result.err
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_planted_after_a_render_is_not_followed_by_deletes(
        run, project: Path, rendered: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (rendered / "apps/payments/overlays/dev").rename(elsewhere)
    (rendered / "apps/payments/overlays/dev").symlink_to(elsewhere, target_is_directory=True)
    kept = sorted(p.name for p in elsewhere.iterdir())
    (project / "services/payments.yaml").unlink()
    result = render(run, project, rendered, "--force")
    assert result.code == 2 and "is a symbolic link" in result.err
    assert sorted(p.name for p in elsewhere.iterdir()) == kept


def test_a_symlinked_state_directory_is_refused(run, project: Path, rendered: Path, tmp_path: Path) -> None:
    (rendered / STATE).rename(tmp_path / "state-elsewhere")
    (rendered / STATE).symlink_to(tmp_path / "state-elsewhere", target_is_directory=True)
    result = render(run, project, rendered)
    assert result.code == 2 and f"{STATE}: is a symbolic link" in result.err


# --- the lock and partial writes --------------------------------------------------------------


def test_the_tree_is_locked_before_the_records_are_read(run, project: Path, rendered: Path, monkeypatch) -> None:
    """A render racing another writer must plan from records nobody changes under it."""
    seen: list[bool] = []
    real = assemble.read_records  # type: ignore[attr-defined]  # patched where the render looks it up

    def read_records_noting_the_lock(out: Path) -> Any:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append(False)
        except OSError as exc:
            seen.append(exc.errno in (errno.EAGAIN, errno.EACCES))
        finally:
            os.close(fd)
        return real(out)

    monkeypatch.setattr(assemble, "read_records", read_records_noting_the_lock)
    (project / "Pulumi.dev.yaml").write_text((project / "Pulumi.dev.yaml").read_text().replace("replicas: 1", "replicas: 2"))
    assert render(run, project, rendered).code == 0
    assert seen == [True]


def test_a_directory_that_cannot_be_written_mid_render_leaves_the_whole_tree_as_it_was(
        run, project: Path, rendered: Path, snapshot, monkeypatch) -> None:
    """Three stacks change; writing into prod's Argo CD directory fails. Either all is written or nothing is."""
    for stack in ("dev", "staging", "prod"):
        path = project / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text().replace("revision: main", "revision: release"))
    before = snapshot(rendered)
    real_open = os.open

    def failing_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and "/argocd/prod/" in str(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)   # the writer creates every file with os.open
    result = render(run, project, rendered)
    monkeypatch.setattr(os, "open", real_open)
    assert result.code == 2
    assert "Permission denied" in result.err and "nothing was written" in result.err
    assert snapshot(rendered) == before


def test_an_empty_out_is_refused_instead_of_rendering_into_the_current_directory(run, project: Path) -> None:
    result = run("render", "--all", "--project", project, "--out", "")
    assert result.code == 2 and "--out" in result.err


def test_a_failed_render_into_a_fresh_directory_leaves_nothing_behind(run, project: Path, out: Path) -> None:
    (project / "services/payments.yaml").write_text("name: [unclosed\n")
    assert render(run, project, out).code == 2
    assert not out.exists()


def test_the_state_directory_ignores_journals_and_the_cache(rendered: Path) -> None:
    assert (rendered / STATE / ".gitignore").read_text() == GITIGNORE_TEXT
    assert {"*.journal", "cache/"} <= set(GITIGNORE_TEXT.splitlines())


def test_a_record_that_is_a_directory_is_refused_naming_it(run, project: Path, rendered: Path) -> None:
    record = rendered / STATE / "dev.json"
    record.unlink()
    record.mkdir()
    result = render(run, project, rendered)
    assert result.code == 2 and f"{record}: an ownership record must be a regular file" in result.err
