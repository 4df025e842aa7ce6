"""Ordering on a live cluster: sync waves, the migration hook, and what each team's project admits.

Argo CD applies an Application wave by wave, waiting for each wave to be
healthy before the next (``gitops.render.ordering``). These tests pin the order
the renderer gives every object, the migration Job of the example's ``orders``
service, and the two checks ``validate`` adds: every built object admitted by
its Application's project, and what a workload reads applied before it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops import layout
from gitops.model import AddOn, Topology
from gitops.project import load_project
from gitops.render import render_stack
from gitops.render.fleet import hub_files
from gitops.render.secrets import sealed_secret_file
from gitops.sealing import load_certificate
from gitops.synccheck import admits, ordering_findings
from test_sealing_core import certificate_pem, new_key

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
WAVE = layout.SYNC_WAVE_ANNOTATION
HOOK = layout.HOOK_ANNOTATION
# The order a service's objects are applied in (the kinds this file knows; others must carry a wave too).
SERVICE_WAVES = {
    "ServiceAccount": "0", "NetworkPolicy": "0", "ConfigMap": "0", "SealedSecret": "0",
    "Job": "1",
    "Deployment": "2",
    "Service": "3", "Ingress": "3", "HorizontalPodAutoscaler": "3", "PodDisruptionBudget": "3",
}
ROOT_WAVES = {"AppProject": "0", "ApplicationSet": "1", "ImageUpdater": "2"}
needs_kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")
SCHEMA_ARGS = ["--schemas", str(SCHEMAS)] if SCHEMAS.is_dir() else []  # the project's own CRD schemas apply either way


def docs_of(content: bytes) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(content) if isinstance(d, dict)]


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def build(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True)
    return docs_of(out.stdout.encode())


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


@pytest.fixture(scope="module")
def example():
    """The example project, loaded."""
    return load_project(REPO_ROOT)


@pytest.fixture(scope="module")
def files(example) -> dict[str, dict[str, bytes]]:
    """environment -> {path: content} of what render_stack returns for that stack."""
    return {s.environment: {m.path: m.content for m in render_stack(example, s).files} for s in example.stacks}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gitops.cli import main

    out = tmp_path_factory.mktemp("ordering") / "repo"
    assert main(["render", "--all", "--out", str(out), "--project", str(REPO_ROOT)]) == 0
    return out


@pytest.fixture()
def broken(rendered: Path, tmp_path: Path) -> Path:
    """A private copy of the rendered example that a test may tamper with."""
    return Path(shutil.copytree(rendered, tmp_path / "repo"))


def overlays(tree: Path) -> Iterator[Path]:
    yield from sorted(p.parent for p in tree.glob("apps/*/overlays/*/kustomization.yaml"))


def validate(run, tree: Path) -> dict[str, Any]:
    result = run("validate", str(tree), *SCHEMA_ARGS, "--output", "json")
    return {"code": result.code, **json.loads(result.out)}


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new))


# --- waves ----------------------------------------------------------------------------------------

@needs_kubectl
def test_every_object_a_service_deploys_carries_the_wave_of_its_kind(rendered: Path) -> None:
    for overlay in overlays(rendered):
        for obj in build(overlay):
            wave = annotations_of(obj).get(WAVE)
            assert wave is not None, f"{overlay}: {obj['kind']} {obj['metadata']['name']} has no sync wave"
            if obj["kind"] in SERVICE_WAVES:
                assert wave == SERVICE_WAVES[obj["kind"]], f"{overlay}: {obj['kind']} in wave {wave}"


@needs_kubectl
def test_a_generated_config_map_comes_in_the_first_wave_in_every_environment(rendered: Path) -> None:
    for env in ("dev", "staging", "prod"):
        config = of_kind(build(rendered / f"apps/payments/overlays/{env}"), "ConfigMap")
        assert annotations_of(config)[WAVE] == "0"


@needs_kubectl
def test_an_ingress_keeps_its_wave_where_the_environment_replaces_its_annotations(rendered: Path) -> None:
    for overlay in sorted(rendered.glob("apps/*/overlays/*")):
        for obj in (o for o in build(overlay) if o["kind"] == "Ingress"):
            assert annotations_of(obj)[WAVE] == "3", overlay


def test_a_sealed_secret_comes_in_the_first_wave(example) -> None:
    orders = next(s for s in example.catalog.services if s.name == "orders")
    cert = load_certificate(certificate_pem(new_key()), "test certificate")
    sealed = sealed_secret_file(orders, example.stacks[0], cert, {"DATABASE_PASSWORD": b"x"}, None)
    (doc,) = docs_of(sealed.content)
    assert annotations_of(doc)[WAVE] == "0"


def test_the_root_applies_projects_then_applicationsets_then_the_image_updater(files) -> None:
    seen = set()
    for env, tree in files.items():
        for path, content in tree.items():
            if path.startswith(f"argocd/{env}/") and not path.endswith("kustomization.yaml"):
                for doc in docs_of(content):
                    seen.add(doc["kind"])
                    assert WAVE in annotations_of(doc), path
                    if doc["kind"] in ROOT_WAVES:
                        assert annotations_of(doc)[WAVE] == ROOT_WAVES[doc["kind"]], path
    assert set(ROOT_WAVES) <= seen


def test_a_hubs_fleet_files_apply_the_add_ons_project_before_the_applicationsets(example) -> None:
    dev = example.stacks[0]
    addon = AddOn("metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.12.2",
                  "kube-system")
    hub = dataclasses.replace(dev, argocd=dataclasses.replace(dev.argocd, topology=Topology.HUB, fleet_addons=(addon,)))
    waves = {(d["kind"], d["metadata"]["name"]): annotations_of(d)[WAVE] for m in hub_files(hub) for d in docs_of(m.content)}
    assert waves == {("ApplicationSet", "fleet-roots"): "1", ("AppProject", "fleet-addons"): "0",
                     ("ApplicationSet", "addon-metrics-server"): "1"}


# --- the migration --------------------------------------------------------------------------------

def migration_of(files: dict[str, dict[str, bytes]], env: str = "dev") -> list[dict[str, Any]]:
    """The Job and its NetworkPolicy, one file each like every rendered object."""
    return [*docs_of(files[env]["apps/orders/base/migration.yaml"]),
            *docs_of(files[env]["apps/orders/base/networkpolicy-migration.yaml"])]


def test_the_migration_is_a_sync_hook_between_its_inputs_and_the_deployment(files) -> None:
    job = of_kind(migration_of(files), "Job")
    assert {k: v for k, v in annotations_of(job).items() if k.startswith("argocd.argoproj.io/")} == {
        HOOK: "Sync", layout.HOOK_DELETE_POLICY_ANNOTATION: "BeforeHookCreation,HookSucceeded", WAVE: "1"}


def test_the_migration_runs_its_command_with_the_limits_of_the_catalog(files) -> None:
    spec = of_kind(migration_of(files), "Job")["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert (container["command"], container["args"]) == (["/app/migrate"], ["up"])
    assert (spec["activeDeadlineSeconds"], spec["backoffLimit"]) == (300, 1)
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_the_migration_uses_the_services_image_secrets_identity_and_restricted_security_context(files) -> None:
    job = of_kind(migration_of(files), "Job")["spec"]["template"]["spec"]
    deployment = docs_of(files["dev"]["apps/orders/base/deployment.yaml"])[0]["spec"]["template"]["spec"]
    for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext", "volumes"):
        assert job[key] == deployment[key], key
    server, migration = deployment["containers"][0], job["containers"][0]
    for key in ("image", "imagePullPolicy", "env", "resources", "securityContext", "volumeMounts"):
        assert migration[key] == server[key], key
    assert migration["securityContext"]["allowPrivilegeEscalation"] is False
    assert migration["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert job["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "ports" not in migration and "readinessProbe" not in migration and "livenessProbe" not in migration


@needs_kubectl
def test_each_overlay_rewrites_the_migrations_image_to_its_environments_tag(rendered: Path, example) -> None:
    orders = next(s for s in example.catalog.services if s.name == "orders")
    for stack in example.stacks:
        objects = build(rendered / f"apps/orders/overlays/{stack.environment}")
        image = of_kind(objects, "Job")["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"{stack.registry.image(orders.image_repository)}:{stack.image_tag(orders)}"
        assert image == of_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]


@needs_kubectl
def test_the_migration_gets_the_environments_resources(rendered: Path) -> None:
    objects = build(rendered / "apps/orders/overlays/prod")
    job = of_kind(objects, "Job")["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert job == of_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert job["requests"] == {"cpu": "500m", "memory": "1Gi"}


def test_migration_pods_are_not_selected_as_the_services_pods_and_accept_no_connections(files) -> None:
    job, policy = of_kind(migration_of(files), "Job"), of_kind(migration_of(files), "NetworkPolicy")
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert layout.LABEL_NAME not in labels   # what the Service, PDB, HPA and the service's policy select by
    base = docs_of(files["dev"]["apps/orders/base/kustomization.yaml"])[0]
    assert all(not (layout.LABEL_NAME in entry["pairs"] and entry["includeTemplates"]) for entry in base["labels"])
    assert policy["spec"] == {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"]}


def test_a_service_without_a_migration_renders_no_job(files) -> None:
    assert not [p for p in files["dev"] if p.endswith("/migration.yaml") and not p.startswith("apps/orders/")]


# --- projects -------------------------------------------------------------------------------------

def project_kinds(files: dict[str, dict[str, bytes]], env: str, team: str) -> set[tuple[str, str]]:
    doc = docs_of(files[env][f"argocd/{env}/project-{team}.yaml"])[0]
    return {(k["group"], k["kind"]) for k in doc["spec"]["namespaceResourceWhitelist"]}


def test_only_a_team_with_a_migration_may_deploy_jobs(files, example) -> None:
    with_migration = {s.team for s in example.catalog.services if s.migration}
    assert with_migration == {"checkout"}
    for env in files:
        for team in example.catalog.teams:
            assert (("batch", "Job") in project_kinds(files, env, team)) == (team in with_migration), (env, team)


def test_every_project_admits_the_kinds_its_services_keep_whether_used_or_not(files, example) -> None:
    # A kind a catalog edit can take away stays admitted: Argo CD would neither prune nor delete what is left of it.
    for env in files:
        for team in example.catalog.teams:
            assert {("networking.k8s.io", "Ingress"), ("autoscaling", "HorizontalPodAutoscaler"),
                    ("policy", "PodDisruptionBudget"), ("bitnami.com", "SealedSecret"),
                    ("", "ConfigMap")} <= project_kinds(files, env, team)


def test_the_kinds_read_from_rendered_files_are_those_a_full_parse_finds(files) -> None:
    from gitops.render.argocd import _kinds_in

    for tree in files.values():
        for path, content in tree.items():
            if not path.endswith(".yaml"):
                continue
            parsed: set[tuple[str, str]] = set()
            for doc in docs_of(content):
                if doc.get("kind") == "Kustomization":
                    parsed |= {("", "ConfigMap")} if doc.get("configMapGenerator") else set()
                    parsed |= {("", "Secret")} if doc.get("secretGenerator") else set()
                elif "apiVersion" in doc:
                    parsed.add((doc["apiVersion"].rpartition("/")[0], doc["kind"]))
            assert _kinds_in(path, content) == parsed, path


# --- validate -------------------------------------------------------------------------------------

@needs_kubectl
def test_validate_reports_a_kind_the_applications_project_does_not_admit(run, broken: Path) -> None:
    project_file = broken / "argocd/dev/project-checkout.yaml"
    doc = yaml.safe_load(project_file.read_text())
    doc["spec"]["namespaceResourceWhitelist"].remove({"group": "batch", "kind": "Job"})
    project_file.write_text(yaml.safe_dump(doc))
    report = validate(run, broken)
    assert report["code"] == 1
    refused = [p for p in report["problems"] if "does not admit" in p["message"]]
    assert len(refused) == 1 and refused[0]["where"] == "argocd/dev"
    assert "orders-dev" in refused[0]["message"] and "kind Job (group batch" in refused[0]["message"]


@needs_kubectl
def test_validate_reports_a_config_map_applied_in_the_wave_of_its_deployment(run, broken: Path) -> None:
    replace_in(broken / "apps/payments/base/kustomization.yaml", "argocd.argoproj.io/sync-wave: \"0\"",
               "argocd.argoproj.io/sync-wave: \"2\"")
    report = validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "apps/payments/overlays/prod" and "Deployment payments reads ConfigMap" in p["message"]
               and "wave 2 of the Sync phase" in p["message"] for p in report["problems"])


@needs_kubectl
def test_validate_reports_a_migration_that_would_run_before_its_service_account(run, broken: Path) -> None:
    replace_in(broken / "apps/orders/base/migration.yaml", f"{HOOK}: Sync", f"{HOOK}: PreSync")
    report = validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "apps/orders/overlays/dev" and "Job orders reads ServiceAccount orders" in p["message"]
               and "PreSync" in p["message"] for p in report["problems"])


@needs_kubectl
def test_validate_reports_an_applicationset_applied_with_its_project(run, broken: Path) -> None:
    replace_in(broken / "argocd/prod/project-catalog.yaml", f'{WAVE}: "0"', f'{WAVE}: "1"')
    report = validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "argocd/prod" and "ApplicationSet services-catalog-prod names AppProject catalog-prod"
               in p["message"] for p in report["problems"])


# --- the checks, on objects -----------------------------------------------------------------------

def _obj(kind: str, name: str, wave: str | None = None, api: str = "v1", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if wave is not None:
        meta["annotations"] = {WAVE: wave}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def _deployment(wave: str, **pod: Any) -> dict[str, Any]:
    return _obj("Deployment", "web", wave, "apps/v1",
                spec={"template": {"spec": {"containers": [{"name": "web", "image": "web"}], **pod}}})


def test_a_sealed_secret_in_the_wave_of_the_deployment_reading_its_secret_is_reported() -> None:
    deployment = _deployment("0", volumes=[{"name": "s", "secret": {"secretName": "web-secrets"}}])
    sealed = _obj("SealedSecret", "web-secrets", "0", "bitnami.com/v1alpha1",
                  spec={"template": {"metadata": {"name": "web-secrets"}}})
    (message,) = ordering_findings([deployment, sealed])
    assert "Deployment web reads SealedSecret web-secrets" in message


def test_what_a_workload_reads_in_an_earlier_wave_is_in_order() -> None:
    deployment = _deployment("2", serviceAccountName="web", imagePullSecrets=[{"name": "pull"}])
    deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "web-config"}}]
    assert ordering_findings([deployment, _obj("ServiceAccount", "web", "0"), _obj("Secret", "pull", "1"),
                              _obj("ConfigMap", "web-config")]) == []


def test_a_wave_that_is_not_an_integer_is_reported() -> None:
    assert ordering_findings([_obj("ConfigMap", "c", "first")]) == [
        f"ConfigMap c: {WAVE} 'first' is not an integer; Argo CD ignores it and applies the object in wave 0"]


@pytest.mark.parametrize("spec,namespaced,admitted", [
    ({}, True, True),                                                           # no whitelist: every namespaced kind
    ({"namespaceResourceWhitelist": []}, True, False),                          # an empty one: none
    ({"namespaceResourceWhitelist": [{"group": "batch", "kind": "*"}]}, True, True),   # globs
    ({"namespaceResourceBlacklist": [{"group": "*", "kind": "*"}]}, True, False),      # the blacklist wins
    ({}, False, False),                                                         # cluster-scoped: only when listed
    ({"clusterResourceWhitelist": [{"group": "batch", "kind": "Job"}]}, False, True),
], ids=["no-whitelist", "empty-whitelist", "glob", "blacklisted", "cluster-unlisted", "cluster-listed"])
def test_a_project_admits_kinds_as_argo_cd_does(spec: dict[str, Any], namespaced: bool, admitted: bool) -> None:
    assert admits({"spec": spec}, "batch", "Job", "migrate", namespaced) is admitted


# --- the catalog ----------------------------------------------------------------------------------

@pytest.mark.parametrize("migration,key,hint", [
    ("migration: {timeoutSeconds: 60}", "migration", "needs a command or args"),
    ("migration: {command: [], args: []}", "migration", "needs a command or args"),
    ("migration: {command: [/m], timeoutSeconds: 5}", "migration.timeoutSeconds", "30..86400"),
    ("migration: {command: [/m], backoffLimit: 50}", "migration.backoffLimit", "0..10"),
    ("migration: {command: [/m], retries: 2}", "migration.retries", "unknown key"),
], ids=["nothing-to-run", "empty-lists", "timeout", "backoff", "unknown-key"])
def test_a_bad_migration_is_refused_naming_the_file_the_key_and_what_is_valid(
        run, project: Path, tmp_path: Path, migration: str, key: str, hint: str) -> None:
    path = project / "services/cart.yaml"
    path.write_text(path.read_text() + migration + "\n")
    result = run("render", "--all", "--project", project, "--out", tmp_path / "out")
    assert result.code == 2 and result.err.count("Error:") == 1
    assert "services/cart.yaml" in result.err and key in result.err and hint in result.err
    assert not (tmp_path / "out").exists()
