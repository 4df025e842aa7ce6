"""``diff``: a change's effect on the GitOps files and on each Application, between two git revisions."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git
from gitops import diff as diff_module
from gitops.diff import AppChange, DiffReport, FileChange, masked_manifests
from gitops.diffreport import MARKER, markdown_parts
from gitops.kustomize import build_many
from gitops.validate import AppInfo

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="diff builds overlays with kubectl")

ENVS = ("dev", "prod", "staging")


@pytest.fixture
def diff(run, repo: Path) -> Callable[..., tuple[int, dict[str, Any]]]:
    """``diff(*extra)``: run ``diff --base HEAD`` on the working tree; (exit code, JSON report)."""
    def _diff(*extra: object) -> tuple[int, dict[str, Any]]:
        result = run("diff", "--base", "HEAD", "--project", repo, "--output", "json", *extra)
        assert result.code in (0, 1), result.err
        return result.code, json.loads(result.out)
    return _diff


def apps(report: dict[str, Any], change: str) -> list[str]:
    return sorted(a["name"] for a in report["applications"] if a["change"] == change)


def files(report: dict[str, Any], change: str) -> list[str]:
    return sorted(f["path"] for f in report["files"] if f["change"] == change)


def test_no_change_exits_0_with_an_empty_report(diff) -> None:
    code, report = diff()
    assert code == 0
    assert report["files"] == [] and report["applications"] == [] and report["changed"] is False


def test_a_replica_change_in_one_environment_diffs_exactly_that_applications_manifests(diff, repo: Path) -> None:
    service = repo / "services" / "catalog.yaml"
    service.write_text(service.read_text().replace("  prod:\n", "  prod:\n    replicas: 5\n"))
    code, report = diff()
    assert code == 1
    assert [(a["name"], a["change"]) for a in report["applications"]] == [("catalog-prod", "changed")]
    manifest = report["applications"][0]["manifestDiff"]
    assert "-  replicas: 3\n" in manifest and "+  replicas: 5\n" in manifest
    # The namespace's quota (in its owner's overlay, catalog's here) follows the new replica count.
    assert files(report, "changed") == ["apps/catalog/overlays/prod/kustomization.yaml",
                                        "apps/catalog/overlays/prod/resourcequota.yaml"]


def test_a_new_service_adds_its_files_and_one_application_per_environment(diff, repo: Path) -> None:
    shutil.copyfile(repo / "services" / "catalog.yaml", repo / "services" / "reviews.yaml")
    code, report = diff()
    assert code == 1
    assert apps(report, "added") == [f"reviews-{env}" for env in ENVS]
    added = files(report, "added")
    assert "apps/reviews/base/deployment.yaml" in added
    assert all(f"apps/reviews/overlays/{env}/kustomization.yaml" in added for env in ENVS)
    assert all(path.startswith("apps/reviews/") for path in added)


def test_a_removed_service_removes_its_files_and_applications(diff, repo: Path) -> None:
    (repo / "services" / "cart.yaml").unlink()
    code, report = diff()
    assert code == 1
    assert apps(report, "removed") == [f"cart-{env}" for env in ENVS]
    assert files(report, "removed") and all(p.startswith("apps/cart/") for p in files(report, "removed"))
    # cart held the checkout namespace's quota (first service by name); it moves to checkout's Applications.
    assert apps(report, "changed") == [f"checkout-{env}" for env in ENVS]


def test_a_change_between_two_commits_is_reported_with_head(run, repo: Path) -> None:
    service = repo / "services" / "catalog.yaml"
    service.write_text(service.read_text().replace('CACHE_TTL_SECONDS: "300"', 'CACHE_TTL_SECONDS: "600"'))
    git(repo, "commit", "-q", "-am", "longer cache")
    service.write_text(service.read_text().replace('"600"', '"900"'))  # uncommitted: must not count
    result = run("diff", "--base", "HEAD~1", "--head", "HEAD", "--project", repo, "--output", "json")
    report = json.loads(result.out)
    assert apps(report, "changed") == [f"catalog-{env}" for env in ENVS]
    assert all('"600"' in a["manifestDiff"] and '"900"' not in a["manifestDiff"] for a in report["applications"])


def test_exit_zero_makes_a_change_exit_0(diff, repo: Path) -> None:
    (repo / "services" / "cart.yaml").unlink()
    code, _ = diff("--exit-zero")
    assert code == 0


def test_an_unknown_base_is_a_usage_error(run, repo: Path) -> None:
    result = run("diff", "--base", "no-such-branch", "--project", repo)
    assert result.code == 2
    assert "no-such-branch" in result.err and "fetch-depth" in result.err


def test_markdown_parts_are_written_to_files_with_markers_and_stale_parts_go(run, repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "diff-part-7.md").write_text("stale")
    (repo / "services" / "cart.yaml").unlink()
    result = run("diff", "--base", "HEAD", "--project", repo, "--format", "markdown", "--output-dir", out)
    assert result.code == 1
    parts = sorted(out.glob("diff-part-*.md"))
    assert [p.name for p in parts] == ["diff-part-1.md"]
    text = parts[0].read_text()
    assert text.startswith(MARKER.format(n=1, total=1))
    assert "| Applications | 0 | 3 | 3 |" in text


# --- bad output directories and inputs: exit 2, one message, no traceback -----------------------------

def markdown_to(run, repo: Path, directory: Path):
    return run("diff", "--base", "HEAD", "--project", repo, "--format", "markdown", "--output-dir", directory)


def test_an_output_dir_that_is_a_file_is_refused_naming_it(run, repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "report"
    target.write_text("keep me\n")
    (repo / "services" / "cart.yaml").unlink()
    result = markdown_to(run, repo, target)
    assert (result.code, result.out) == (2, "")
    assert result.err == (f"Error: {target}: is a file, not a directory: --output-dir names the directory the "
                          "Markdown parts are written to (created when missing)\n")
    assert target.read_text() == "keep me\n"


def test_an_output_dir_below_a_file_is_refused_naming_the_file(run, repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "report"
    blocker.write_text("keep me\n")
    result = markdown_to(run, repo, blocker / "parts")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"Error: {blocker}: is a file, not a directory: --output-dir") and result.err.count("\n") == 1


def test_an_earlier_part_that_is_a_directory_is_refused_before_anything_is_removed(run, repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    (out / "diff-part-1.md").mkdir(parents=True)
    (out / "diff-part-2.md").write_text("stale")
    result = markdown_to(run, repo, out)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"Error: {out / 'diff-part-1.md'}: is a directory") and result.err.count("\n") == 1
    assert (out / "diff-part-2.md").read_text() == "stale"


def test_an_output_dir_that_cannot_be_written_is_one_error(run, repo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "write_text", refuse)   # as root, file modes would not stop the write
    out = tmp_path / "report"
    result = markdown_to(run, repo, out)
    assert (result.code, result.out) == (2, "")
    assert result.err == (f"Error: {out / 'diff-part-1.md'}: cannot write the Markdown parts (Permission denied); "
                          "choose a writable --output-dir\n")


@pytest.mark.parametrize("target", ["absolute", "../../outside.yaml"])
def test_a_service_file_linked_outside_the_project_at_the_base_is_an_error_naming_it(
        run, repo: Path, tmp_path: Path, target: str) -> None:
    outside = tmp_path / "orders.yaml"
    shutil.copyfile(repo / "services" / "orders.yaml", outside)
    (repo / "services" / "orders.yaml").unlink()
    (repo / "services" / "orders.yaml").symlink_to(outside if target == "absolute" else target)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "orders from elsewhere")
    result = run("diff", "--base", "HEAD", "--project", repo)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("Error: HEAD:services/orders.yaml: is a symbolic link to ") and result.err.count("\n") == 1
    assert "commit the file itself" in result.err and "Traceback" not in result.err


# --- report formatting (no kubectl needed, but cheap) -------------------------------------------------

def _big_report(apps_count: int, lines: int) -> DiffReport:
    info = AppInfo("x", "p", "apps/x/overlays/dev", "https://kubernetes.default.svc", "ns", "services-dev")
    body = "".join(f"+  line {i} {'x' * 60}\n" for i in range(lines))
    report = DiffReport("main", "head")
    report.apps = [AppChange(f"svc{i}-dev", "changed", info, "", f"--- a\n+++ b\n@@ -1 +1 @@\n{body}")
                   for i in range(apps_count)]
    report.files = [FileChange(f"apps/svc{i}/overlays/dev/kustomization.yaml", "changed", "--- a\n+++ b\n")
                    for i in range(apps_count)]
    return report


def test_a_long_report_is_split_into_parts_that_fit_a_github_comment_with_the_summary_first() -> None:
    parts = markdown_parts(_big_report(apps_count=40, lines=60))
    assert len(parts) > 1
    assert all(len(p) <= 60_000 for p in parts)
    assert "| Applications | 0 | 0 | 40 |" in parts[0]
    assert all(p.startswith(MARKER.format(n=n, total=len(parts))) for n, p in enumerate(parts, start=1))
    assert sum(p.count("<details>") for p in parts) == 80


def test_a_diff_larger_than_a_part_is_shortened_with_a_note() -> None:
    parts = markdown_parts(_big_report(apps_count=1, lines=5000))
    assert all(len(p) <= 60_000 for p in parts)
    assert "more lines; run `python -m gitops diff` locally" in "".join(parts)


def test_secret_values_are_masked_in_manifest_diffs() -> None:
    stream = ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {PASSWORD: c2VjcmV0}\n"
              "stringData: {TOKEN: plain-token}\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
              "metadata: {name: s}\nspec: {encryptedData: {PASSWORD: AgBy}}\n")
    masked = masked_manifests(stream)
    assert "c2VjcmV0" not in masked and "plain-token" not in masked and "AgBy" not in masked
    assert "PASSWORD" in masked and "TOKEN" in masked


def test_a_change_to_one_environment_builds_only_that_environments_applications(diff, repo: Path,
                                                                                monkeypatch) -> None:
    """A stack setting changes every overlay of its environment: the other environments' builds cannot
    read those files (their kustomizations do not reference them), so they are not built."""
    built: list[str] = []

    def recorded(tree: Path, directories: list[str], *args: Any) -> Any:
        built.extend(directories)
        return build_many(tree, directories, *args)

    monkeypatch.setattr(diff_module, "build_many", recorded)
    stack = repo / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("    replicas: 3\n", "    replicas: 4\n"))
    code, report = diff()
    assert code == 1
    assert apps(report, "changed") and all(name.endswith("-prod") for name in apps(report, "changed"))
    overlays = [d for d in built if d.startswith("apps/")]
    assert overlays and all(d.endswith("/overlays/prod") for d in overlays)
