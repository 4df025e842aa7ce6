"""Rollouts happen when they must, and only then, on a live cluster.

- A new config or secret value rolls the pods: each overlay carries a checksum
  of what its pods read on the pod template, which changes exactly when a value
  does (sealing is deterministic per value, so the same values give the same
  checksum).
- The ConfigMap keeps one name, so a config change leaves nothing behind that
  a sync without pruning (a manual environment) would leave OutOfSync.
- Turning autoscaling on does not reset a running service to one replica: the
  Deployment stops carrying ``spec.replicas`` and its Application ignores that
  field and respects the ignore when it syncs, so the live count stays.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops import layout
from gitops.model import Project, Stack
from gitops.options import ValidateOptions
from gitops.project import load_project
from gitops.render import Manifest, render_stack
from gitops.render.secrets import sealed_secret_file
from gitops.sealing import load_certificate, stability_key
from gitops.validate import generated_applications
from pulumi_harness import mock_key_pair, rsa_private_key

needs_kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")

CONFIG = layout.ANNOTATION_CONFIG_CHECKSUM
SECRETS = layout.ANNOTATION_SECRETS_CHECKSUM


# --- helpers -------------------------------------------------------------------------------------------------
def stack_of(project: Project, env: str) -> Stack:
    return next(s for s in project.stacks if s.environment == env)


def sealed_for(project: Project, stack: Stack, values: Mapping[str, Mapping[str, str]]) -> dict[str, Manifest]:
    """Each service's SealedSecret for ``stack``, sealed deterministically as ``pulumi up`` and ``render`` do."""
    key_pem, cert_pem = mock_key_pair()
    cert = load_certificate(cert_pem.encode(), "test certificate")
    derivation = stability_key(rsa_private_key(key_pem))
    services = {s.name: s for s in project.catalog.services}
    return {name: sealed_secret_file(services[name], stack, cert, {k: v.encode() for k, v in given.items()}, derivation)
            for name, given in values.items()}


def secret_values(project: Project, tag: str) -> dict[str, dict[str, str]]:
    return {s.name: {n: f"{tag}-{s.name}-{n}" for n in s.secrets} for s in project.catalog.services if s.secrets}


def pod_annotations(project: Project, env: str, sealed: Mapping[str, Manifest] | None = None) -> dict[str, dict[str, str]]:
    """service -> the pod template annotations its overlay's checksum patch sets ({} without one)."""
    stack = stack_of(project, env)
    files = {m.path: m.content for m in render_stack(project, stack, sealed=sealed or {}).files}
    out = {}
    for service in project.catalog.services:
        patch = files.get(f"{layout.overlay_dir(service.name, env)}/patch-checksums.yaml")
        out[service.name] = yaml.safe_load(patch)["spec"]["template"]["metadata"]["annotations"] if patch else {}
    return out


def edit_service(root: Path, service: str, edit: Any) -> None:
    path = root / "services" / f"{service}.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def render_tree(run: Any, root: Path, out: Path) -> Path:
    result = run("render", "--all", "--project", root, "--out", out, "--force")
    assert result.code == 0, result.err
    return out


def build(overlay: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True, timeout=120)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def applications(tree: Path) -> dict[str, dict[str, Any]]:
    """Every Application the tree's ApplicationSets generate, by name, expanded offline as Argo CD would."""
    apps, problems = generated_applications(tree, ValidateOptions())
    assert not problems, problems
    return {info.name: app for info, app in apps}


# --- secrets ---------------------------------------------------------------------------------------------------
def test_the_same_secret_values_give_the_same_checksum(project: Path) -> None:
    loaded = load_project(project)
    values = secret_values(loaded, "v1")
    first = pod_annotations(loaded, "dev", sealed_for(loaded, stack_of(loaded, "dev"), values))
    again = pod_annotations(loaded, "dev", sealed_for(loaded, stack_of(loaded, "dev"), values))
    assert first == again
    assert {s for s, a in first.items() if SECRETS in a} == set(values)


def test_a_changed_secret_value_changes_the_checksum_of_exactly_that_service(project: Path) -> None:
    loaded = load_project(project)
    dev = stack_of(loaded, "dev")
    before = secret_values(loaded, "v1")
    after = {**before, "payments": {**before["payments"], "STRIPE_API_KEY": "rotated"}}
    old = pod_annotations(loaded, "dev", sealed_for(loaded, dev, before))
    new = pod_annotations(loaded, "dev", sealed_for(loaded, dev, after))
    changed = {s for s in old if old[s].get(SECRETS) != new[s].get(SECRETS)}
    assert changed == {"payments"}
    assert old["payments"][CONFIG] == new["payments"][CONFIG]   # the config did not change


def test_the_secrets_checksum_is_of_the_ciphertext_never_of_a_value(project: Path) -> None:
    loaded = load_project(project)
    dev = stack_of(loaded, "dev")
    values = secret_values(loaded, "v1")
    sealed = sealed_for(loaded, dev, values)
    checksum = pod_annotations(loaded, "dev", sealed)["email-worker"][SECRETS]
    encrypted = yaml.safe_load(sealed["email-worker"].content)["spec"]["encryptedData"]
    assert checksum == hashlib.sha256(json.dumps(encrypted, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    plain = values["email-worker"]
    assert checksum != hashlib.sha256(json.dumps(plain, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_a_service_whose_secrets_are_not_sealed_yet_has_no_secrets_checksum(project: Path) -> None:
    annotations = pod_annotations(load_project(project), "dev")
    assert all(SECRETS not in a for a in annotations.values())


# --- config ----------------------------------------------------------------------------------------------------
def test_a_config_change_of_one_environment_changes_that_environments_checksum_only(project: Path) -> None:
    before = {env: pod_annotations(load_project(project), env) for env in ("dev", "staging", "prod")}
    edit_service(project, "api-gateway", lambda d: d["environments"]["dev"]["config"].update(RATE_LIMIT_PER_MINUTE="5"))
    after = {env: pod_annotations(load_project(project), env) for env in ("dev", "staging", "prod")}
    assert before["dev"]["api-gateway"][CONFIG] != after["dev"]["api-gateway"][CONFIG]
    assert before["staging"] == after["staging"] and before["prod"] == after["prod"]
    assert {s: a for s, a in before["dev"].items() if s != "api-gateway"} == \
        {s: a for s, a in after["dev"].items() if s != "api-gateway"}


def test_a_config_change_of_the_catalog_changes_every_environments_checksum_of_that_service(project: Path) -> None:
    before = {env: pod_annotations(load_project(project), env)["cart"][CONFIG] for env in ("dev", "staging", "prod")}
    edit_service(project, "cart", lambda d: d["config"].update(CART_TTL_HOURS="24"))
    after = {env: pod_annotations(load_project(project), env)["cart"][CONFIG] for env in ("dev", "staging", "prod")}
    assert all(before[env] != after[env] for env in before)


def test_the_config_checksum_is_of_what_the_environments_configmap_holds(project: Path) -> None:
    loaded = load_project(project)
    checksum = pod_annotations(loaded, "dev")["api-gateway"][CONFIG]
    expected = {"RATE_LIMIT_PER_MINUTE": "0", "UPSTREAM_TIMEOUT_MS": "3000"}   # the catalog, dev's override merged
    assert checksum == hashlib.sha256(json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_a_service_without_config_or_secrets_gets_no_checksum_patch(project: Path) -> None:
    edit_service(project, "cart", lambda d: d.pop("config"))
    loaded = load_project(project)
    files = {m.path for m in render_stack(loaded, stack_of(loaded, "dev")).files}
    assert "apps/cart/overlays/dev/patch-checksums.yaml" not in files


@needs_kubectl
def test_the_built_deployment_carries_the_checksums_on_its_pod_template(run, project: Path, tmp_path: Path) -> None:
    tree = render_tree(run, project, tmp_path / "repo")
    objects = build(tree / "apps/api-gateway/overlays/dev")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    template = deployment["spec"]["template"]["metadata"]
    assert template["annotations"][CONFIG] == pod_annotations(load_project(project), "dev")["api-gateway"][CONFIG]
    assert CONFIG not in (deployment["metadata"].get("annotations") or {})   # the template rolls, not the object


# --- the ConfigMap and manual environments -----------------------------------------------------------------------
@needs_kubectl
def test_the_configmap_has_one_name_in_every_environment_and_the_pods_read_it(run, project: Path, tmp_path: Path) -> None:
    tree = render_tree(run, project, tmp_path / "repo")
    for env in ("dev", "staging", "prod"):
        objects = build(tree / f"apps/api-gateway/overlays/{env}")
        maps = [o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"]
        assert maps == ["api-gateway-config"]
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        assert deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
            {"configMapRef": {"name": "api-gateway-config"}}]


@needs_kubectl
def test_in_a_manual_environment_a_config_change_leaves_nothing_to_prune(run, project: Path, tmp_path: Path) -> None:
    """A manual sync prunes only when asked: a change must not leave an object that is no longer in Git."""
    tree = render_tree(run, project, tmp_path / "repo")
    identities = {(o["kind"], o["metadata"]["name"]) for o in build(tree / "apps/cart/overlays/staging")}
    edit_service(project, "cart", lambda d: d["config"].update(CART_TTL_HOURS="24"))
    render_tree(run, project, tree)
    changed = build(tree / "apps/cart/overlays/staging")
    assert {(o["kind"], o["metadata"]["name"]) for o in changed} == identities
    assert next(o for o in changed if o["kind"] == "ConfigMap")["data"]["CART_TTL_HOURS"] == "24"


@needs_kubectl
def test_a_manual_environments_applications_sync_only_when_asked_and_respect_ignored_fields(run, project: Path, tmp_path: Path) -> None:
    apps = applications(render_tree(run, project, tmp_path / "repo"))
    staging = {name: app for name, app in apps.items() if name.endswith("-staging")}
    assert staging
    for app in staging.values():
        policy = app["spec"]["syncPolicy"]
        assert "automated" not in policy
        assert "RespectIgnoreDifferences=true" in policy["syncOptions"]
    assert all(apps[f"cart-{env}"]["spec"]["syncPolicy"]["syncOptions"] == apps["cart-staging"]["spec"]["syncPolicy"]["syncOptions"]
               for env in ("dev", "prod"))


# --- autoscaling -------------------------------------------------------------------------------------------------
REPLICAS_IGNORED = {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}


def ignored(app: dict[str, Any]) -> list[dict[str, Any]]:
    return app["spec"].get("ignoreDifferences") or []


@needs_kubectl
def test_an_autoscaled_service_keeps_its_live_replica_count_through_every_sync(run, project: Path, tmp_path: Path) -> None:
    tree = render_tree(run, project, tmp_path / "repo")
    apps = applications(tree)
    for env in ("dev", "staging", "prod"):
        app = apps[f"payments-{env}"]
        assert {**REPLICAS_IGNORED, "name": "payments"} in ignored(app)
        assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
        deployment = next(o for o in build(tree / f"apps/payments/overlays/{env}") if o["kind"] == "Deployment")
        assert "replicas" not in deployment["spec"]


@needs_kubectl
def test_a_canarys_autoscaled_rollout_keeps_its_live_replica_count(run, project: Path, tmp_path: Path) -> None:
    apps = applications(render_tree(run, project, tmp_path / "repo"))
    canaries = [s for s in load_project(project).catalog.services if s.autoscaling and s.delivery is not None]
    if not canaries:
        pytest.skip("the example has no autoscaled canary")
    for service in canaries:
        assert {"group": "argoproj.io", "kind": "Rollout", "name": service.name, "jsonPointers": ["/spec/replicas"]} \
            in ignored(apps[f"{service.name}-prod"])


@needs_kubectl
def test_a_fixed_replica_count_from_git_is_never_ignored(run, project: Path, tmp_path: Path) -> None:
    """Ignoring replicas of a service without an HPA would keep a new count in Git from ever being applied."""
    apps = applications(render_tree(run, project, tmp_path / "repo"))
    fixed = {s.name for s in load_project(project).catalog.services if s.autoscaling is None}
    for app in apps.values():
        assert not {entry["name"] for entry in ignored(app)} & fixed


@needs_kubectl
def test_turning_autoscaling_on_for_a_running_service_does_not_reset_it_to_one_replica(run, project: Path, tmp_path: Path) -> None:
    tree = render_tree(run, project, tmp_path / "repo")
    cart = next(o for o in build(tree / "apps/cart/overlays/staging") if o["kind"] == "Deployment")
    assert cart["spec"]["replicas"] == 2   # running with a fixed count from Git
    assert not any(e["name"] == "cart" for e in ignored(applications(tree)["cart-staging"]))

    def autoscale(doc: dict[str, Any]) -> None:
        doc["autoscaling"] = {"minReplicas": 2, "maxReplicas": 6}
        doc["environments"]["prod"].pop("replicas")   # the autoscaler owns the count now

    edit_service(project, "cart", autoscale)
    render_tree(run, project, tree)
    objects = build(tree / "apps/cart/overlays/staging")
    assert "replicas" not in next(o for o in objects if o["kind"] == "Deployment")["spec"]   # the HPA owns it now
    assert any(o["kind"] == "HorizontalPodAutoscaler" for o in objects)
    app = applications(tree)["cart-staging"]
    # Argo CD copies the live spec.replicas into what it applies instead of deleting it (which defaults to 1).
    assert {**REPLICAS_IGNORED, "name": "cart"} in ignored(app)
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
