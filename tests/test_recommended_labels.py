"""Kubernetes' recommended labels on every object the renderer emits, selectors untouched.

``app.kubernetes.io/name``, ``instance`` (the Application), ``version`` (the
image tag that runs), ``component``, ``part-of`` (the team) and ``managed-by``,
on every built object of every overlay (PodDisruptionBudgets, SealedSecrets
and the Secrets they unseal into included) and of every environment's Argo CD
root; the selectors stay what they were, since a Deployment's cannot change.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops import layout
from gitops.project import load_project
from gitops.render import render_service
from gitops.render.labels import instance
from gitops.render.secrets import sealed_secret_file
from gitops.sealing import load_certificate, stability_key
from pulumi_harness import mock_key_pair, rsa_private_key

pytestmark = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")

RECOMMENDED = (layout.LABEL_NAME, layout.LABEL_INSTANCE, layout.LABEL_COMPONENT, layout.LABEL_PART_OF,
               layout.LABEL_MANAGED_BY)
NAMESPACE_KINDS = ("ResourceQuota", "LimitRange")   # the namespace's, not a release's: no version


def build(directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True,
                          timeout=120)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gitops.cli import main

    out = tmp_path_factory.mktemp("labels") / "repo"
    assert main(["render", "--all", "--out", str(out), "--project", str(REPO_ROOT)]) == 0
    return out


@pytest.fixture(scope="module")
def overlays(tree: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(service, env) -> the objects its overlay builds to."""
    return {(o.parent.parent.name, o.name): build(o) for o in sorted(tree.glob("apps/*/overlays/*"))}


def image_tag(objects: list[dict[str, Any]]) -> str:
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]


def test_every_object_of_every_overlay_carries_the_recommended_labels(overlays) -> None:
    assert len(overlays) >= 30
    for (service, env), objects in overlays.items():
        for obj in objects:
            labels = obj["metadata"].get("labels") or {}
            where = f"{service}/{env}: {obj['kind']}/{obj['metadata']['name']}"
            assert all(labels.get(key) for key in RECOMMENDED), (where, labels)
            assert labels[layout.LABEL_INSTANCE] == f"{service}-{env}", where
            assert labels[layout.LABEL_MANAGED_BY] == layout.MANAGED_BY, where
            if obj["kind"] in NAMESPACE_KINDS:
                assert layout.LABEL_VERSION not in labels, where
                assert labels[layout.LABEL_NAME] == obj["metadata"]["namespace"], where
            else:
                assert labels[layout.LABEL_VERSION] == image_tag(objects), where
                assert labels[layout.LABEL_NAME] == service, where


def test_the_component_says_whether_a_service_serves_or_works(overlays) -> None:
    catalog = {s.name: s for s in load_project(REPO_ROOT).catalog.services}
    for (service, _), objects in overlays.items():
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        expected = "worker" if catalog[service].is_worker else "server"
        assert deployment["metadata"]["labels"][layout.LABEL_COMPONENT] == expected


def test_disruption_budgets_carry_them_like_everything_else(overlays) -> None:
    budgets = [(s, o) for (s, _), objects in overlays.items() for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert budgets
    for service, pdb in budgets:
        assert pdb["metadata"]["labels"][layout.LABEL_NAME] == service
        assert pdb["metadata"]["labels"][layout.LABEL_PART_OF]


def test_selectors_stay_the_service_name_alone(overlays) -> None:
    """A Deployment's spec.selector is immutable: a new label in it would fail every sync of a running service."""
    for (service, _), objects in overlays.items():
        selector = {layout.LABEL_NAME: service}
        for obj in objects:
            spec = obj.get("spec") or {}
            if obj["kind"] in ("Deployment", "PodDisruptionBudget"):
                assert spec["selector"] == {"matchLabels": selector}
            elif obj["kind"] == "Service":
                assert spec["selector"] == selector
            elif obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == service:
                assert spec["podSelector"] == {"matchLabels": selector}


def test_pods_carry_the_instance_and_version_of_their_release(overlays) -> None:
    for (service, env), objects in overlays.items():
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels[layout.LABEL_NAME] == service
        assert labels[layout.LABEL_INSTANCE] == f"{service}-{env}"
        assert labels[layout.LABEL_VERSION] == image_tag(objects)


def test_the_version_is_the_tag_that_runs_after_the_image_updater_moved_it(tree: Path, tmp_path: Path) -> None:
    """Argo CD applies the Image Updater's tag over the overlay's images: pin (kustomize edit set image)."""
    overlay = tmp_path / "repo"
    shutil.copytree(tree, overlay)
    kustomization = overlay / "apps/cart/overlays/dev/kustomization.yaml"
    doc = yaml.safe_load(kustomization.read_text())
    doc["images"][0]["newTag"] = "4.2.0"
    kustomization.write_text(yaml.safe_dump(doc))
    objects = build(overlay / "apps/cart/overlays/dev")
    assert {o["metadata"]["labels"][layout.LABEL_VERSION] for o in objects if o["kind"] not in NAMESPACE_KINDS} == {"4.2.0"}


def test_every_object_of_the_argocd_roots_carries_them(tree: Path) -> None:
    for root in sorted(tree.glob("argocd/*")):
        for obj in build(root):
            labels = obj["metadata"].get("labels") or {}
            assert all(labels.get(key) for key in RECOMMENDED), (root.name, obj["kind"], labels)
            assert labels[layout.LABEL_INSTANCE] == f"root-{root.name}"


def test_a_sealed_secret_and_the_secret_it_becomes_carry_them(tmp_path: Path) -> None:
    project = load_project(REPO_ROOT)
    stack = next(s for s in project.stacks if s.environment == "dev")
    service = next(s for s in project.catalog.services if s.name == "payments")
    key_pem, cert_pem = mock_key_pair()
    sealed = sealed_secret_file(service, stack, load_certificate(cert_pem.encode(), "cert"),
                                dict.fromkeys(service.secrets, b"value"),
                                stability_key(rsa_private_key(key_pem)))
    for manifest in render_service(service, stack, sealed):
        (tmp_path / manifest.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / manifest.path).write_bytes(manifest.content)
    objects = build(tmp_path / "apps/payments/overlays/dev")
    sealed_secret = next(o for o in objects if o["kind"] == "SealedSecret")
    for labels in (sealed_secret["metadata"]["labels"], sealed_secret["spec"]["template"]["metadata"]["labels"]):
        assert all(labels.get(key) for key in (*RECOMMENDED, layout.LABEL_VERSION)), labels
        assert labels[layout.LABEL_INSTANCE] == "payments-dev"


def test_a_sealed_secret_carried_from_an_older_render_gets_them_without_being_resealed() -> None:
    project = load_project(REPO_ROOT)
    stack = next(s for s in project.stacks if s.environment == "dev")
    service = next(s for s in project.catalog.services if s.name == "inventory")
    key_pem, cert_pem = mock_key_pair()
    sealed = sealed_secret_file(service, stack, load_certificate(cert_pem.encode(), "cert"),
                                {"DATABASE_PASSWORD": b"value"},
                                stability_key(rsa_private_key(key_pem)))
    old = yaml.safe_load(sealed.content)
    old["metadata"].pop("labels")
    old["spec"]["template"]["metadata"]["labels"] = {layout.LABEL_NAME: "inventory"}
    carried = type(sealed)(sealed.path, yaml.safe_dump(old).encode())
    rendered = next(m for m in render_service(service, stack, carried) if m.path == sealed.path)
    doc = yaml.safe_load(rendered.content)
    assert doc["spec"]["encryptedData"] == old["spec"]["encryptedData"]
    assert doc["metadata"]["labels"][layout.LABEL_PART_OF] == service.team
    assert doc["spec"]["template"]["metadata"]["labels"][layout.LABEL_COMPONENT] == "server"
    assert rendered.content == sealed.content   # once labelled, the bytes are what sealing writes


def test_the_instance_label_fits_however_long_the_names() -> None:
    long = instance("s" * 63, "staging")
    assert len(long) <= 63 and long == instance("s" * 63, "staging") != instance("s" * 63, "prod")
    assert instance("cart", "prod") == "cart-prod"


def test_a_tag_that_is_no_label_value_gets_no_version_label(project: Path) -> None:
    text = (project / "Pulumi.dev.yaml").read_text()
    tag = "_" + "1" * 70
    (project / "Pulumi.dev.yaml").write_text(text + f"  gitops-platform:imageTags:\n    cart: \"{tag}\"\n")
    loaded = load_project(project)
    stack = next(s for s in loaded.stacks if s.environment == "dev")
    assert stack.image_tag(next(s for s in loaded.catalog.services if s.name == "cart")) == tag
    service = next(s for s in loaded.catalog.services if s.name == "cart")
    kustomization = next(m for m in render_service(service, stack) if m.path.endswith("overlays/dev/kustomization.yaml"))
    assert "replacements" not in yaml.safe_load(kustomization.content)
