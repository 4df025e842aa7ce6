"""``diff`` with the base revision in a forked child: the same report, and the base's expansion skipped
when the head's has the same inputs."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git
from gitops import diff as diff_module
from gitops.options import ValidateOptions
from gitops.parallel import Forked, Mailbox

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None or not hasattr(os, "fork"),
                                reason="diff builds with kubectl; the child is forked")


@pytest.fixture
def expansions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], int]:
    """How many revisions were expanded (in this process or the child), since the last call."""
    log = tmp_path / "expansions.log"
    real = diff_module._expand

    def counted(*args: Any, **kwargs: Any) -> Any:
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(diff_module, "_expand", counted)

    def count() -> int:
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return len(lines)
    return count


def both_ways(run, repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report with the base in a forked child, then computed in one process."""
    reports = []
    for threshold in (0, 10**9):
        monkeypatch.setattr(diff_module, "PARALLEL_FROM_SERVICES", threshold)
        result = run("diff", "--base", "HEAD", "--project", repo, "--output", "json")
        assert result.code == 1, result.err
        reports.append(json.loads(result.out))
    return reports[0], reports[1]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_config_change_reuses_the_heads_expansion_and_reports_the_same(run, repo, monkeypatch, expansions) -> None:
    edit(repo / "services" / "catalog.yaml", 'CACHE_TTL_SECONDS: "300"', 'CACHE_TTL_SECONDS: "600"')
    forked, single = both_ways(run, repo, monkeypatch)
    assert forked == single
    assert expansions() == 1 + 2   # forked: the head's only; then both sides in one process
    assert sorted(a["name"] for a in forked["applications"]) == ["catalog-dev", "catalog-prod", "catalog-staging"]


def test_a_new_service_changes_the_applicationsets_so_the_base_expands_its_own(run, repo, monkeypatch,
                                                                              expansions) -> None:
    shutil.copyfile(repo / "services" / "catalog.yaml", repo / "services" / "reviews.yaml")
    forked, single = both_ways(run, repo, monkeypatch)
    assert forked == single
    assert expansions() == 2 + 2
    assert sorted(a["name"] for a in forked["applications"] if a["change"] == "added") == [
        "reviews-dev", "reviews-prod", "reviews-staging"]


def test_a_stack_change_outside_the_services_makes_the_base_expand_its_own(run, repo, monkeypatch,
                                                                          expansions) -> None:
    edit(repo / "Pulumi.prod.yaml", "    revision: main\n", "    revision: release\n")   # the ApplicationSets' too
    forked, single = both_ways(run, repo, monkeypatch)
    assert forked == single
    assert expansions() == 2 + 2


def digests(files: dict[str, bytes], repo_path: str = ".") -> diff_module._Digests:
    """Contents stand in for their digests: only equality matters."""
    return diff_module._Digests(repo_path, dict(files))


BASE = {"argocd/dev/applicationset-web.yaml": b"appset", "apps/web/overlays/dev/config.json": b"{}",
        "apps/web/base/deployment.yaml": b"v1", ".gitops-platform/dev.json": b"record 1"}


@pytest.mark.parametrize(("change", "same"), [
    ({"apps/web/base/deployment.yaml": b"v2"}, True),          # a service's manifest: not read by the expansion
    ({".gitops-platform/dev.json": b"record 2"}, True),        # the writer's record: never read
    ({"apps/web/overlays/dev/config.json": b"{\"x\": 1}"}, False),   # read by a git files generator
    ({"argocd/dev/applicationset-web.yaml": b"other"}, False),       # a root
    ({"apps/api/overlays/dev/config.json": b"{}"}, False),      # a new path: the generators list paths
], ids=["manifest", "record", "read-file", "root", "new-path"])
def test_the_expansions_are_the_same_only_when_roots_paths_and_read_files_are(change: dict[str, bytes],
                                                                              same: bool) -> None:
    reads = {"apps/web/overlays/dev/config.json"}
    assert diff_module._same_expansion_inputs(digests(BASE), digests({**BASE, **change}), reads) is same


def test_a_different_repository_path_is_a_different_expansion() -> None:
    assert not diff_module._same_expansion_inputs(digests(BASE, "."), digests(BASE, "deploy"), ())


def test_a_build_reads_its_services_directory_and_other_directories_what_is_below_them() -> None:
    changed = diff_module._ChangedScopes({"apps/web/base/deployment.yaml", "clusters/hub/extra/x.yaml"})
    assert changed.by("apps/web/overlays/prod")
    assert not changed.by("apps/api/overlays/prod")
    assert changed.by("clusters/hub") and not changed.by("clusters/spoke")
    assert not changed.by(None)


def test_a_message_sent_before_the_child_reads_arrives_and_a_closed_peer_reads_as_none(tmp_path: Path) -> None:
    mailbox = Mailbox(tmp_path / "mailbox")

    def child() -> list[Any]:
        mailbox.open(child=True)
        try:
            received = [mailbox.receive()]
            mailbox.send({"from": "child"})
            return [*received, mailbox.receive()]
        finally:
            mailbox.close()

    forked = Forked(child)
    mailbox.open(child=False)
    mailbox.send({"from": "parent"})
    answer = mailbox.receive()
    mailbox.close()
    assert forked.result() == [{"from": "parent"}, None]   # the second: the parent had closed
    assert answer == {"from": "child"}


def test_a_head_that_does_not_load_is_reported_while_the_child_waits_for_nothing(run, repo, monkeypatch) -> None:
    monkeypatch.setattr(diff_module, "PARALLEL_FROM_SERVICES", 0)
    (repo / "services" / "catalog.yaml").write_text("team: [not, a, team]\n")
    result = run("diff", "--base", "HEAD", "--project", repo, "--output", "json")
    assert result.code == 2
    assert "working tree does not load" in result.err and "services/catalog.yaml" in result.err


def test_a_base_that_does_not_load_is_reported_first(run, repo, monkeypatch) -> None:
    monkeypatch.setattr(diff_module, "PARALLEL_FROM_SERVICES", 0)
    good = (repo / "services" / "catalog.yaml").read_text()
    (repo / "services" / "catalog.yaml").write_text("team: [not, a, team]\n")
    git(repo, "commit", "-q", "-am", "broken")
    (repo / "services" / "catalog.yaml").write_text(good)
    result = run("diff", "--base", "HEAD", "--project", repo, "--output", "json")
    assert result.code == 2
    assert "the project at HEAD does not load" in result.err


def test_the_heads_expansion_records_every_file_its_git_generators_read(project: Path, tmp_path: Path) -> None:
    rendered = diff_module._render(project, None, tmp_path / "head")
    reads: set[str] = set()
    apps, _ = diff_module._expand(rendered, ValidateOptions(), reads)
    config_files = {p for p in rendered.everything if p.endswith("/config.json")}
    assert config_files and reads == config_files   # one per service and environment, nothing else
    assert len(apps) == len(config_files)
