"""``diff`` builds the Argo CD roots without the objects the offline expansion ignores, and expands the same."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, expanded_whole_and_cut, snapshot_tree
from gitops import diff as diff_module
from gitops.cli import main
from gitops.expansionroots import CutRoots, cut_roots

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="the roots are built with kubectl")

LABELS = ("labels:\n- includeSelectors: false\n  pairs:\n    app.kubernetes.io/part-of: gitops-platform\n")
APPSET = "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: a\n"
UPDATER = "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\nmetadata:\n  name: u\n"


def kustomization(*resources: str, extra: str = "") -> bytes:
    listed = "".join(f"- {r}\n" for r in resources)
    return (f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n{LABELS}{extra}resources:\n{listed}").encode()


def root(*resources: tuple[str, str], extra: str = "") -> dict[str, bytes]:
    """``argocd/dev/`` with these (file name, content) resources, all listed in its kustomization."""
    files = {f"argocd/dev/{name}": content.encode() for name, content in resources}
    files["argocd/dev/kustomization.yaml"] = kustomization(*(name for name, _ in resources), extra=extra)
    return files


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project rendered (every stack), as a tree a test copies."""
    out = tmp_path_factory.mktemp("rendered") / "gitops-repo"
    assert main(["render", "--all", "--project", str(REPO_ROOT), "--out", str(out)]) == 0
    return out


def test_the_image_updater_is_left_out_of_the_dev_root_and_every_other_resource_stays_listed(rendered: Path) -> None:
    files = snapshot_tree(rendered)
    cut = cut_roots(files)
    assert cut.left_out == {"argocd/dev/image-updater.yaml"}
    assert set(cut.kustomizations) == {"argocd/dev/kustomization.yaml"}
    listed = cut.kustomizations["argocd/dev/kustomization.yaml"].decode()
    assert "image-updater.yaml" not in listed
    assert all(f"- {name}\n" in listed for name in ("applicationset-catalog.yaml", "project-default.yaml"))
    assert "app.kubernetes.io/instance: root-dev" in listed   # the kustomization's labels are kept


@needs_kubectl
def test_the_applications_expand_the_same_from_the_cut_roots(rendered: Path, tmp_path: Path) -> None:
    whole, cut = expanded_whole_and_cut(Path(shutil.copytree(rendered, tmp_path / "tree")))
    assert cut == whole


def test_a_file_holding_an_applicationset_among_other_documents_is_kept() -> None:
    files = root(("mixed.yaml", f"{UPDATER}---\n{APPSET}"), ("image-updater.yaml", UPDATER))
    assert cut_roots(files).left_out == {"argocd/dev/image-updater.yaml"}


def test_a_kustomization_with_a_patch_or_a_transformer_across_resources_is_not_cut() -> None:
    patched = root(("image-updater.yaml", UPDATER), ("appset.yaml", APPSET),
                   extra="patches:\n- path: patch.yaml\n")
    replaced = root(("image-updater.yaml", UPDATER), ("appset.yaml", APPSET), extra="replacements: []\n")
    assert cut_roots(patched) == CutRoots({}, frozenset())
    assert cut_roots(replaced) == CutRoots({}, frozenset())


@pytest.mark.parametrize("content", [
    "{apiVersion: v1, kind: ConfigMap, metadata: {name: flow}}\n",   # no top-level kind line to read
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nmetadata:\n  name: b\n",
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster\n",   # a cluster Secret is read
], ids=["flow-style", "a-document-without-kind", "secret"])
def test_a_file_whose_every_document_is_not_known_to_be_ignored_is_kept(content: str) -> None:
    assert cut_roots(root(("other.yaml", content), ("appset.yaml", APPSET))).left_out == frozenset()


def test_only_files_in_the_kustomizations_own_directory_and_the_roots_directories_are_cut() -> None:
    files = root(("appset.yaml", APPSET))
    files["argocd/shared/image-updater.yaml"] = UPDATER.encode()
    files["argocd/dev/kustomization.yaml"] = kustomization("appset.yaml", "../shared/image-updater.yaml")
    files["apps/web/overlays/dev/image-updater.yaml"] = UPDATER.encode()
    files["apps/web/overlays/dev/kustomization.yaml"] = kustomization("image-updater.yaml")
    assert cut_roots(files) == CutRoots({}, frozenset())


@needs_kubectl
def test_diff_builds_the_roots_as_rendered_when_a_cut_root_does_not_build(run, project: Path, monkeypatch) -> None:
    def broken(files):
        kustomizations = {p: kustomization("missing.yaml") for p in files
                          if p.startswith("argocd/") and p.endswith("/kustomization.yaml")}
        return CutRoots(kustomizations, frozenset())

    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)
    service = project / "services" / "catalog.yaml"
    service.write_text(service.read_text().replace("  prod:\n", "  prod:\n    replicas: 5\n"))
    monkeypatch.setattr(diff_module, "cut_roots", broken)
    result = run("diff", "--base", "HEAD", "--project", project, "--output", "json")
    assert result.code == 1, result.err
    assert [(a["name"], a["change"]) for a in json.loads(result.out)["applications"]] == [("catalog-prod", "changed")]
