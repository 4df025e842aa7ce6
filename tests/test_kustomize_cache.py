"""Builds are reused only when everything kustomize could read is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops import kustomize

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: {level}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "app" / "base").mkdir(parents=True)
    (tmp_path / "app" / "overlay").mkdir()
    (tmp_path / "app" / "base" / "kustomization.yaml").write_text("resources:\n- configmap.yaml\n")
    (tmp_path / "app" / "base" / "configmap.yaml").write_text(CONFIGMAP.format(level="info"))
    (tmp_path / "app" / "overlay" / "kustomization.yaml").write_text("resources:\n- ../base\nnamePrefix: dev-\n")
    return tmp_path


def build(tree: Path, directory: str = "app/overlay") -> kustomize.Build:
    return kustomize.build_many(tree, [directory], "kubectl", jobs=1)[0]


def test_a_change_in_a_referenced_base_is_built_again(tree: Path) -> None:
    assert "level: info" in build(tree).output
    (tree / "app" / "base" / "configmap.yaml").write_text(CONFIGMAP.format(level="debug"))
    assert "level: debug" in build(tree).output


def test_an_identical_tree_elsewhere_reuses_the_build(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    first = build(tree)
    copy = tmp_path_factory.mktemp("copy") / "tree"
    shutil.copytree(tree, copy)
    key = kustomize._cache_key(copy, "app/overlay", KUBECTL or "")
    assert key is not None and key == kustomize._cache_key(tree, "app/overlay", KUBECTL or "")
    assert build(copy) == first


def test_a_reference_that_is_missing_is_never_cached(tree: Path) -> None:
    (tree / "app" / "overlay" / "kustomization.yaml").write_text("resources:\n- ../base\n- ../extra\n")
    assert kustomize._cache_key(tree, "app/overlay", KUBECTL or "") is None
    assert not build(tree).ok
    (tree / "app" / "extra").mkdir()
    (tree / "app" / "extra" / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    (tree / "app" / "extra" / "cm.yaml").write_text(CONFIGMAP.format(level="warn").replace("settings", "extra"))
    assert build(tree).ok


def test_a_reference_leaving_the_tree_is_never_cached(tree: Path) -> None:
    (tree / "app" / "overlay" / "kustomization.yaml").write_text("resources:\n- ../base\n- ../../../elsewhere\n")
    assert kustomize._cache_key(tree, "app/overlay", KUBECTL or "") is None


@pytest.mark.parametrize("overlay", [
    "resources:\n- ../base\nnamePrefix: dev-\n",
    "resources:\n- ../base\n- extra/cm.yaml\n",                 # a file below its own directory
    "resources:\n- ../../elsewhere/base\n",                      # a directory of another part of the tree
    "resources:\n- ../missing\n",                                # missing: unbounded
    "resources:\n- ../base/configmap.yaml\n",                   # a file outside its own directory: unbounded
    "resources:\n- ../../../outside\n",                          # leaves the tree: unbounded
    "resources:\n- https://github.com/example/repo//base\n",    # remote: unbounded
    "helmCharts:\n- name: x\n",                                  # a chart: unbounded
])
def test_a_tree_in_memory_reaches_the_directories_the_same_tree_on_disk_does(tree: Path, overlay: str) -> None:
    (tree / "app" / "overlay" / "kustomization.yaml").write_text(overlay)
    (tree / "app" / "overlay" / "extra").mkdir()
    (tree / "app" / "overlay" / "extra" / "cm.yaml").write_text(CONFIGMAP.format(level="x"))
    (tree / "elsewhere" / "base").mkdir(parents=True)
    (tree / "elsewhere" / "base" / "kustomization.yaml").write_text("resources: []\n")
    files = {p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    on_disk = kustomize._reachable_directories(tree, "app/overlay")
    assert kustomize.FilesTree(files).reachable("app/overlay") == on_disk
