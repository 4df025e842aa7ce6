"""The shortcuts taken for speed give exactly what the long ways give.

Each shortcut (the no-change fast path's file identities, the render's reuse
of overlays for the projects' kinds, the emitter's string quoting, pathspec
matching by prefix, the in-memory checkout and scratch trees of ``diff``, the
forked child) is compared here with the way it replaced, in-process and on
the example project, so the file stays cheap (about two seconds).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, snapshot_tree
from gitops import fastpath, yamlio
from gitops.appset.repos import RepoCheckout, RepoTree, pathspec_head, pathspec_matcher
from gitops.errors import InputError, OutputError
from gitops.parallel import Forked
from gitops.project import load_project
from gitops.render import render_stack
from gitops.render.argocd import render_argocd
from gitops.render.overlays import render_overlay
from gitops.writer import plan_renders, scratch_files, write_render, write_scratch


@pytest.fixture(scope="module")
def example() -> Any:
    return load_project(REPO_ROOT)


@pytest.fixture(scope="module")
def results(example: Any) -> list[Any]:
    return [render_stack(example, stack) for stack in example.stacks]


# --- the no-change fast path --------------------------------------------------------------------
@pytest.fixture
def remembered(tmp_path: Path, results: list[Any]) -> tuple[Path, str]:
    """A tree written for the dev stack, its cache entry made a moment after the last write."""
    out = tmp_path / "tree"
    result = results[0]
    write_render(out, result)
    time.sleep(0.05)   # past the file system clock's tick: no file is racy
    fastpath.remember(out, result.stack, "fingerprint")
    return out, result.stack


def hashed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []
    real = fastpath._file_hash

    def counting(path: str | Path) -> str | None:
        hashed.append(str(path))
        return real(path)

    monkeypatch.setattr(fastpath, "_file_hash", counting)
    return hashed


def test_an_unchanged_tree_is_recognised_by_identity_without_reading_a_file(remembered: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    out, stack = remembered
    hashed = hashed_files(monkeypatch)
    assert fastpath.is_unchanged(out, stack, "fingerprint") is not None
    assert hashed == []


def test_a_file_rewritten_with_the_same_size_and_mtime_is_caught_by_its_change_time(remembered: tuple[Path, str]) -> None:
    out, stack = remembered
    path = next(p for p in sorted((out / "apps").rglob("*.yaml")))
    info = path.stat()
    path.write_bytes(path.read_bytes().replace(b"a", b"b", 1))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert fastpath.is_unchanged(out, stack, "fingerprint") is None


def test_files_not_older_than_the_entry_are_hashed_and_a_touched_unchanged_file_still_counts(
        remembered: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    out, stack = remembered
    entry_file = out / fastpath.CACHE_DIR / f"{stack}.json"
    entry = json.loads(entry_file.read_text())
    entry["since"] = 0   # every identity racy: as if each file had changed in the entry's own tick
    entry_file.write_text(json.dumps(entry))
    hashed = hashed_files(monkeypatch)
    files = fastpath.is_unchanged(out, stack, "fingerprint")
    assert files is not None and len(hashed) == len(files)
    hashed.clear()
    entry["since"] = 1 << 62
    entry_file.write_text(json.dumps(entry))
    touched = out / files[0]
    os.utime(touched)   # new times, same bytes: hashed, and still unchanged
    assert fastpath.is_unchanged(out, stack, "fingerprint") is not None
    assert hashed == [str(touched)]


def test_identities_of_another_byte_order_are_ignored_not_misread(remembered: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    out, stack = remembered
    entry_file = out / fastpath.CACHE_DIR / f"{stack}.json"
    entry = json.loads(entry_file.read_text())
    entry["identities"] = "other:" + entry["identities"].split(":", 1)[1]
    entry_file.write_text(json.dumps(entry))
    hashed = hashed_files(monkeypatch)
    assert fastpath.is_unchanged(out, stack, "fingerprint") is not None
    assert hashed   # every file read instead


def test_stacks_checked_in_one_command_read_a_shared_file_once(tmp_path: Path, results: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "tree"
    for result in results:
        write_render(out, result)
    for result in results:
        fastpath.remember(out, result.stack, "fingerprint")
    hashed = hashed_files(monkeypatch)
    verified: dict[str, str] = {}
    for result in results:   # make every file of every stack racy, so each check is a read
        entry_file = out / fastpath.CACHE_DIR / f"{result.stack}.json"
        entry = json.loads(entry_file.read_text())
        entry_file.write_text(json.dumps({**entry, "since": 0}))
    for result in results:
        assert fastpath.is_unchanged(out, result.stack, "fingerprint", verified) is not None
    assert len(hashed) == len(set(hashed)) == len({m.path for r in results for m in r.files})


def test_a_render_the_fast_path_answers_loads_neither_the_renderer_nor_cryptography(tmp_path: Path) -> None:
    """A third of a no-change render's time was importing what it then did not use."""
    out = tmp_path / "tree"
    probe = ("import sys; from gitops.cli import main; "
             f"code = main(['render', '--all', '--out', {str(out)!r}]); "
             "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('cryptography', 'yaml') "
             "or m.startswith(('gitops.render', 'gitops.project', 'gitops.assemble'))))")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    first = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 0 and "gitops.render" in first.stdout, first.stderr   # the long way, this time
    time.sleep(0.05)   # past the file system clock's tick: no file is racy
    again = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert again.stdout.splitlines()[-1] == "0 []", again.stderr


def test_a_fifo_where_the_render_writes_is_refused_without_blocking_on_it(tmp_path: Path, results: list[Any]) -> None:
    out = tmp_path / "tree"
    path = results[0].files[0].path
    (out / path).parent.mkdir(parents=True)
    os.mkfifo(out / path)
    with pytest.raises(OutputError, match="not a regular file"):
        plan_renders(out, [results[0]])


# --- rendering -----------------------------------------------------------------------------------
def test_the_projects_kinds_read_from_the_rendered_overlays_are_the_ones_rendering_them_again_gives(example: Any) -> None:
    for stack in example.stacks:
        overlays = {s.name: render_overlay(s, stack) for s in example.catalog.services}
        assert render_argocd(example.catalog, stack, overlays=overlays) == render_argocd(example.catalog, stack)


def reference_quoting(text: str) -> str:
    """The emitter's escaping before it got a fast path: character by character."""
    return '"' + "".join(yamlio._escape(c) for c in text) + '"'


def test_quoted_strings_are_escaped_as_character_by_character_escaping_does() -> None:
    alphabet = ['a', ' ', '"', '\\', '\n', '\t', '\r', '\x85', '\u2028', '\u2029', '\x00', '\x01', '\x7f', '\x9f',
                '\ufeff', '\ufffe', '\uffff', '\u00e9', '#', ':', '-', '0', '\U0001f600']
    rng = random.Random(15)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        quoted = yamlio._string.__wrapped__(text)
        if quoted.startswith('"'):
            assert quoted == reference_quoting(text)
        assert yamlio.parse(f"k: {quoted}\n", "t", generated=True) == {"k": text}


# --- diff: pathspecs, in-memory checkouts, scratch trees, the forked child ------------------------
def test_a_pathspec_matches_the_same_files_as_scanning_every_file() -> None:
    rng = random.Random(7)
    parts = ["a", "b", "/", "-", ".", "*", "?", "[a]", "\\*", "a/", "b/c", "!"]
    for _ in range(3000):
        files = tuple(sorted({"".join(rng.choice("ab/-.!*") for _ in range(rng.randint(1, 6))) for _ in range(20)}))
        pattern = "".join(rng.choice(parts) for _ in range(rng.randint(1, 5)))
        try:
            match = pathspec_matcher(pattern)
        except ValueError:
            continue
        expected = tuple(f for f in files if match(f))
        assert all(f.startswith(pathspec_head(pattern)) for f in expected)
        tree = RepoTree(RepoCheckout("https://example.com/r.git", Path("/nonexistent")), files, frozenset())
        assert tree.files_matching(pattern) == expected


def test_a_checkout_in_memory_lists_and_reads_what_the_same_files_on_disk_do(tmp_path: Path, results: list[Any]) -> None:
    files = scratch_files(results)
    write_scratch(tmp_path / "tree", files)
    for prefix in ("", "deploy"):
        disk = RepoTree.scan(RepoCheckout("https://example.com/r.git", tmp_path / "tree", prefix))
        memory = RepoTree.scan(RepoCheckout("https://example.com/r.git", tmp_path / "elsewhere", prefix, files))
        assert memory.files == disk.files
        for path in disk.files[::7]:
            assert memory.read(path, 1 << 20) == disk.read(path, 1 << 20)


def test_a_scratch_tree_holds_what_writing_each_stack_in_turn_leaves(tmp_path: Path, results: list[Any]) -> None:
    for result in results:
        write_render(tmp_path / "written", result)
    write_scratch(tmp_path / "scratch", scratch_files(results))
    assert snapshot_tree(tmp_path / "scratch") == snapshot_tree(tmp_path / "written")


def test_a_forked_computation_returns_its_result() -> None:
    job = Forked(lambda: {"pid": os.getpid(), "data": list(range(1000))})
    result = job.result()
    assert result["data"] == list(range(1000))
    assert result["pid"] != os.getpid() or not hasattr(os, "fork")


def test_a_failed_child_is_recomputed_in_place_so_the_error_is_the_callers_own() -> None:
    calls: list[int] = []

    def fails() -> None:
        calls.append(os.getpid())
        raise InputError("services/x.yaml: no such thing")

    job = Forked(fails)
    with pytest.raises(InputError, match="no such thing"):
        job.result()
    assert calls == [os.getpid()]   # the child's call appended in the child only


def test_a_cancelled_child_is_reaped() -> None:
    job = Forked(lambda: time.sleep(30))
    pid = job._pid
    job.cancel()
    if pid:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_a_diff_loads_neither_schemas_nor_cryptography(repo: Path) -> None:
    """It validates no schema and seals nothing: jsonschema and cryptography were a third of its imports."""
    probe = ("import sys; from gitops.cli import main; "
             f"code = main(['diff', '--base', 'HEAD', '--project', {str(repo)!r}]); "
             "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('cryptography', 'jsonschema')))")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr
