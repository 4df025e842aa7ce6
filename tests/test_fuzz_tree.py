"""Randomised trees never lead the writer outside: forged records and planted links render or exit 2.

Hypothesis plants record entries (paths with ``..``, absolute paths, control
characters, paths outside the owned directories, with real or bogus hashes)
and replaces directories of the tree with symbolic links to a directory next
to it. Whatever it plants, ``render`` either writes the tree or exits 2 with
one ``Error:`` message, and the files outside the tree stay as they were.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO_ROOT, snapshot_tree
from gitops.cli import main

VICTIM = b"outside the tree\n"
LINKABLE = ("apps/payments/overlays/dev", "apps/cart", "argocd/dev", "clusters", "apps", ".gitops-platform")

segments = st.one_of(st.sampled_from(["..", ".", "", "apps", "argocd", "clusters", "victim.txt", "x"]),
                     st.text(alphabet=st.characters(max_codepoint=0x7f), min_size=1, max_size=6))
paths = st.one_of(
    st.lists(segments, min_size=1, max_size=5).map("/".join),
    st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["../victim.txt", "../../victim.txt", "apps/../../victim.txt", "apps/x\\..\\..\\victim.txt",
                     "apps/payments/base/../../../../victim.txt", "apps/x/\x00", "apps/x/\n.yaml"]),
)
hashes = st.one_of(st.just(hashlib.sha256(VICTIM).hexdigest()), st.text(max_size=64), st.integers())
plantings = st.fixed_dictionaries({
    "entries": st.dictionaries(paths, hashes, max_size=4),
    "link": st.one_of(st.none(), st.sampled_from(LINKABLE)),
    "force": st.booleans(),
})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz-tree") / "tree"
    assert main(["render", "--all", "--project", str(REPO_ROOT), "--out", str(out)]) == 0
    return out


def render(out: Path, force: bool) -> tuple[int, str]:
    err = io.StringIO()
    argv = ["render", "--all", "--project", str(REPO_ROOT), "--out", str(out), *(["--force"] if force else [])]
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(planted=plantings)
def test_forged_records_and_planted_links_never_reach_outside_the_tree(rendered: Path, planted: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "deep" / "er"
        out = base / "tree"
        shutil.copytree(rendered, out, symlinks=True)
        (base / "victim.txt").write_bytes(VICTIM)
        (Path(tmp) / "deep" / "victim.txt").write_bytes(VICTIM)
        elsewhere = Path(tmp) / "elsewhere"
        record = out / ".gitops-platform" / "dev.json"
        doc = json.loads(record.read_text())
        doc["files"].update(planted["entries"])
        record.write_text(json.dumps(doc))
        if planted["link"] is not None:
            target = out / planted["link"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), str(elsewhere))
            target.symlink_to(elsewhere, target_is_directory=True)
        outside_before = snapshot_tree(elsewhere) if elsewhere.exists() else {}

        code, err = render(out, planted["force"])

        assert code in (0, 2), err
        assert "Traceback" not in err
        if code == 2:
            assert err.startswith("Error: ") and err.count("Error:") == 1, err
        assert (base / "victim.txt").read_bytes() == VICTIM
        assert (Path(tmp) / "deep" / "victim.txt").read_bytes() == VICTIM
        if elsewhere.exists():
            assert snapshot_tree(elsewhere) == outside_before
