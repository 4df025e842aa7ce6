"""A render killed while writing leaves no half-written file, and the next render finishes the job.

The render runs in its own process on a large synthetic catalog so that
writing takes long enough to be interrupted; it is killed (SIGKILL, no
cleanup) as soon as its write journal appears, i.e. in the middle of writing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, snapshot_tree
from gitops.writer import TEMP_MARK
from synthetic import make_project

SERVICES = 300   # enough files that writing takes a while
STATE = ".gitops-platform/"


def render(project: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gitops", "render", "--all", "--project", str(project),
                             "--out", str(out)], cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def render_to_end(project: Path, out: Path) -> None:
    proc = render(project, out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()


def bump_every_tag(project: Path) -> None:
    for service in (project / "services").glob("*.yaml"):
        service.write_text(service.read_text().replace('tag: "1.', 'tag: "2.'))


def content(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {p: c for p, c in tree.items() if not p.startswith(STATE)}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A project whose tags were bumped, with the trees of before and after the bump."""
    base = tmp_path_factory.mktemp("crash")
    project = make_project(base / "project", SERVICES)
    render_to_end(project, base / "old")
    bump_every_tag(project)
    render_to_end(project, base / "new")
    return project, content(snapshot_tree(base / "old")), content(snapshot_tree(base / "new"))


def kill_while_writing(project: Path, out: Path, after: float) -> bool:
    """SIGKILL ``after`` seconds into the writing (which starts with the journal); False if it finished first."""
    proc = render(project, out)
    journal_dir = out / ".gitops-platform"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.endswith(".journal") for p in journal_dir.glob("*")):
            break
        time.sleep(0.001)
    time.sleep(after)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03])
def test_a_killed_render_leaves_every_file_old_or_new_and_the_next_render_completes(
        versions, tmp_path: Path, delay: float) -> None:
    project, old, new = versions
    out = tmp_path / "tree"
    newer = {s: s.read_text() for s in (project / "services").glob("*.yaml")}
    for _attempt in range(5):
        for service, text in newer.items():   # the old version first
            service.write_text(text.replace('tag: "2.', 'tag: "1.'))
        render_to_end(project, out)
        for service, text in newer.items():
            service.write_text(text)
        if kill_while_writing(project, out, after=delay):
            break
    else:
        pytest.fail("the render always finished before it could be interrupted")
    interrupted = {p: c for p, c in content(snapshot_tree(out)).items() if TEMP_MARK not in p}
    half_written = [p for p, c in interrupted.items() if c != old.get(p) and c != new.get(p)]
    assert half_written == []
    render_to_end(project, out)   # no "edited by hand" refusal
    assert content(snapshot_tree(out)) == new   # and no temporary left behind
