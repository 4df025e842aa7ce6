"""Hub and spokes: what the hub renders, what a spoke renders, the registration
metadata, and the contract check between them.

The fleet is the example project (catalog trimmed to three services, one per
team, so the validations stay fast) plus a hub stack offering metrics-server
and two spokes made with ``new-cluster --hub hub``: ``eu-prod`` (a second prod)
and ``us-dev`` (a second dev, labelled for metrics-server). Registrations are
published the way ``pulumi up`` does it: the GitOps provider writes
``clusters/<cluster>/registration.yaml`` into the stack's cluster slice.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.gitops_repo import GitOpsFilesProvider
from conftest import REPO_ROOT, expanded_whole_and_cut
from gitops import layout
from gitops.cli import main
from gitops.errors import InputError
from gitops.fleetcheck import applicationsets, check_metadata_contract, check_registration, metadata_references
from gitops.project import load_project
from gitops.render import render_stack
from gitops.render.registration import registration_file, registration_secret

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
SCHEMA_ARGS = ["--schemas", SCHEMAS] if SCHEMAS.is_dir() else []  # the project's own CRD schemas apply either way
SERVICES = ("email-worker", "payments", "web-frontend")   # teams platform, checkout, storefront
HUB_FILE = """\
# The hub: its own environment (ops) plus every spoke's Argo CD.
config:
  aws:region: eu-west-1
  gitops-platform:environment: ops
  gitops-platform:awsAccountId: "444444444444"
  gitops-platform:cluster:
    name: shop-hub
    vpcCidr: 10.40.0.0/16
    deployRoleArn: arn:aws:iam::444444444444:role/gitops-platform-deploy
  gitops-platform:registry:
    accountId: "999999999999"
    region: eu-west-1
    prefix: shop
  gitops-platform:gitops:
    repoURL: https://github.com/example-shop/gitops.git
  gitops-platform:ingress:
    domain: ops.shop.example.com
  gitops-platform:argocd:
    topology: hub
    addons: [metrics-server]
    fleetAddons:
      metrics-server:
        repoURL: https://kubernetes-sigs.github.io/metrics-server/
        chart: metrics-server
        version: 3.12.2
        namespace: kube-system
"""
SPOKES = {"eu-prod": "prod", "us-dev": "dev"}   # spoke -> the environment it copies
ENV_LABEL = layout.LABEL_ENVIRONMENT
pytestmark = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")


@dataclass(frozen=True)
class Fleet:
    project: Path
    out: Path


def copy_example(root: Path, services: tuple[str, ...] = SERVICES) -> Path:
    root.mkdir(parents=True)
    for stack_file in sorted(REPO_ROOT.glob("Pulumi*.yaml")):
        shutil.copyfile(stack_file, root / stack_file.name)
    (root / "services").mkdir()
    for service in services:
        shutil.copyfile(REPO_ROOT / "services" / f"{service}.yaml", root / "services" / f"{service}.yaml")
    return root


def edit_stack(project: Path, stack: str, change: Callable[[dict[str, Any]], object]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc["config"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def publish_registrations(project: Path, out: Path) -> None:
    """What each hub's and spoke's ``pulumi up`` publishes: its registration, through its cluster slice."""
    for stack in load_project(project).stacks:
        if stack.argocd.topology.value == "standalone":
            continue
        server = (layout.IN_CLUSTER_SERVER if stack.argocd.topology.value == "hub"
                  else f"https://{stack.cluster.name.upper()}.gr7.{stack.region}.eks.amazonaws.com")
        manifest = registration_file(stack, server, f"arn:aws:iam::{stack.account_id}:role/{stack.cluster.name}-argocd")
        GitOpsFilesProvider().create({
            "checkout": str(out), "stack": stack.name, "environment": stack.environment,
            "prefixes": [f"{layout.cluster_dir(stack.cluster.name)}/"],
            "repoUrl": stack.gitops.repo_url, "repoPath": stack.gitops.path,
            "files": {manifest.path: manifest.content.decode()},
        })


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("fleet")
    project, out = copy_example(base / "project"), base / "gitops-repo"
    (project / "Pulumi.hub.yaml").write_text(HUB_FILE)
    for spoke, env in SPOKES.items():
        assert main(["new-cluster", spoke, "--env", env, "--region", "us-east-1" if env == "dev" else "eu-central-1",
                     "--hub", "hub", "--project", str(project)]) == 0
    edit_stack(project, "us-dev", lambda c: c[f"{layout.CONFIG_NAMESPACE}:argocd"].update(addons=["metrics-server"]))
    assert main(["render", "--all", "--project", str(project), "--out", str(out)]) == 0
    publish_registrations(project, out)
    return Fleet(project, out)


@pytest.fixture
def tree(fleet: Fleet, tmp_path: Path) -> Path:
    """A private copy of the fleet's rendered tree that a test may break."""
    return Path(shutil.copytree(fleet.out, tmp_path / "gitops-repo"))


def read(tree: Path, path: str) -> Any:
    return yaml.safe_load((tree / path).read_text())


def applications(run, tree: Path) -> dict[str, dict[str, str]]:
    result = run("apps", tree, "--output", "json")
    assert result.code == 0, result.err
    return {a["name"]: a for a in json.loads(result.out)["applications"]}


# --- what each topology renders -------------------------------------------------------------------

def test_a_spokes_projects_and_applicationset_target_the_spoke_by_its_registered_name(fleet: Fleet) -> None:
    for spoke in SPOKES:
        project = read(fleet.out, f"argocd/{spoke}/project-checkout.yaml")
        assert project["spec"]["destinations"] == [{"name": spoke, "namespace": "checkout"}]
        appset = read(fleet.out, f"argocd/{spoke}/applicationset-checkout.yaml")
        assert appset["spec"]["template"]["spec"]["destination"] == {"name": spoke, "namespace": "{{.namespace}}"}


def test_the_hub_adds_fleet_roots_and_one_applicationset_per_fleet_addon_to_its_kustomization(fleet: Fleet) -> None:
    kustomization = read(fleet.out, "argocd/ops/kustomization.yaml")
    assert {"fleet-roots.yaml", "addon-metrics-server.yaml", "fleet-addons-project.yaml"} <= set(kustomization["resources"])
    roots = read(fleet.out, "argocd/ops/fleet-roots.yaml")
    assert roots["spec"]["goTemplateOptions"] == ["missingkey=error"]
    assert roots["spec"]["generators"] == [{"clusters": {"selector": {"matchLabels": {layout.LABEL_ROLE: "spoke"}}}}]
    addon = read(fleet.out, "argocd/ops/addon-metrics-server.yaml")
    assert addon["spec"]["generators"][0]["clusters"]["selector"]["matchLabels"] == {
        "addons.gitops-platform.io/metrics-server": "enabled"}
    assert addon["spec"]["template"]["spec"]["source"] == {
        "repoURL": "https://kubernetes-sigs.github.io/metrics-server/", "chart": "metrics-server",
        "targetRevision": "3.12.2", "helm": {"releaseName": "metrics-server"}}
    for standalone in ("dev", "staging", "prod"):
        assert not (fleet.out / f"argocd/{standalone}/fleet-roots.yaml").exists()
        assert read(fleet.out, f"argocd/{standalone}/applicationset-checkout.yaml")["spec"]["template"]["spec"]["destination"][
            "server"] == layout.IN_CLUSTER_SERVER


def test_a_registration_carries_the_contracts_labels_and_annotations_and_no_credentials(fleet: Fleet) -> None:
    project = load_project(fleet.project)
    secret = registration_secret(project.stack("us-dev"), "https://api.example", "arn:aws:iam::111111111111:role/r",
                                 ca_data="Q0E=")
    assert secret["metadata"]["name"] == "cluster-us-dev" and secret["metadata"]["namespace"] == "argocd"
    assert secret["metadata"]["labels"] == {
        "argocd.argoproj.io/secret-type": "cluster", ENV_LABEL: "us-dev", layout.LABEL_PROFILE: "dev",
        layout.LABEL_CLUSTER: "us-dev", layout.LABEL_REGION: "us-east-1", layout.LABEL_ROLE: "spoke",
        "addons.gitops-platform.io/metrics-server": "enabled"}
    assert secret["metadata"]["annotations"] == {
        layout.ANNOTATION_REGISTRY: "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop",
        layout.ANNOTATION_GITOPS_REPO: "https://github.com/example-shop/gitops.git",
        layout.ANNOTATION_GITOPS_REVISION: "main", layout.ANNOTATION_GITOPS_PATH: "argocd/us-dev",
        layout.ANNOTATION_ARGOCD_ROLE_ARN: "arn:aws:iam::111111111111:role/r"}
    assert secret["stringData"] == {"name": "us-dev", "server": "https://api.example"}   # config is the program's
    hub = read(fleet.out, "clusters/shop-hub/registration.yaml")
    assert hub["metadata"]["labels"][layout.LABEL_ROLE] == "hub"
    assert hub["stringData"]["server"] == layout.IN_CLUSTER_SERVER
    with pytest.raises(ValueError, match="standalone"):
        registration_secret(project.stack("dev"), "https://x", "arn:aws:iam::1:role/r")


# --- the hub's view of its fleet, offline ----------------------------------------------------------

def test_each_spoke_gets_its_root_application_on_the_hub_and_its_services_on_the_spoke(run, fleet: Fleet) -> None:
    apps = applications(run, fleet.out)
    for spoke in SPOKES:
        root = apps[f"root-{spoke}"]
        assert (root["applicationset"], root["path"], root["project"]) == ("fleet-roots", f"argocd/{spoke}", "gitops-platform")
        assert (root["destination"], root["namespace"]) == (layout.IN_CLUSTER_SERVER, "argocd")
        for service in SERVICES:
            assert apps[f"{service}-{spoke}"]["destination"] == spoke
            assert apps[f"{service}-{spoke}"]["path"] == f"apps/{service}/overlays/{spoke}"
    assert sorted(a for a in apps if a.startswith("root-")) == ["root-eu-prod", "root-us-dev"]   # not the hub itself


def test_an_addon_reaches_only_the_clusters_labelled_for_it_including_the_hub_itself(run, fleet: Fleet) -> None:
    apps = applications(run, fleet.out)
    addon_apps = {name: a for name, a in apps.items() if a["applicationset"] == "addon-metrics-server"}
    assert sorted(addon_apps) == ["metrics-server-shop-hub", "metrics-server-us-dev"]
    assert addon_apps["metrics-server-us-dev"]["destination"] == "https://US-DEV.gr7.us-east-1.eks.amazonaws.com"
    assert addon_apps["metrics-server-shop-hub"]["destination"] == layout.IN_CLUSTER_SERVER
    assert {a["chart"] for a in addon_apps.values()} == {"metrics-server@3.12.2"}


def test_the_fleet_validates(run, fleet: Fleet) -> None:
    result = run("validate", fleet.out, *SCHEMA_ARGS, "--output", "json")
    report = json.loads(result.out)
    assert result.code == 0, report["problems"]
    assert len(report["applications"]) == (len(SERVICES) * 6) + len(SPOKES) + 2


def test_the_fleets_applications_expand_the_same_from_roots_cut_for_diff(tree: Path) -> None:
    """Hub and spokes included: leaving out what the expansion ignores (diff's scratch) changes no Application."""
    whole, cut = expanded_whole_and_cut(tree)
    assert cut == whole


def test_a_registration_missing_a_label_the_hub_reads_fails_validate_naming_cluster_key_and_applicationset(
        run, tree: Path) -> None:
    path = tree / "clusters/eu-prod/registration.yaml"
    doc = yaml.safe_load(path.read_text())
    del doc["metadata"]["labels"][ENV_LABEL]
    path.write_text(yaml.safe_dump(doc))
    result = run("validate", tree, *SCHEMA_ARGS, "--output", "json")
    assert result.code == 1
    contract = [p for p in json.loads(result.out)["problems"] if p["where"] == "clusters/eu-prod/registration.yaml"]
    assert len(contract) == 1
    assert "cluster eu-prod" in contract[0]["message"]
    assert f"label '{ENV_LABEL}'" in contract[0]["message"]
    assert "ApplicationSet argocd/fleet-roots" in contract[0]["message"]


def test_a_spoke_with_no_registration_yet_is_a_destination_the_hub_does_not_know(run, tree: Path) -> None:
    (tree / "clusters/us-dev/registration.yaml").unlink()
    result = run("apps", tree, "--output", "json")
    problems = [p["message"] for p in json.loads(result.out)["problems"]]
    assert result.code == 1
    assert any("there are no clusters with this name: us-dev" in p for p in problems)


def test_render_carries_published_registrations_forward(run, fleet: Fleet, tree: Path) -> None:
    before = (tree / "clusters/eu-prod/registration.yaml").read_bytes()
    result = run("render", "--all", "--force", "--project", fleet.project, "--out", tree, "--output", "json")
    assert result.code == 0, result.err
    assert all(not s["deleted"] for s in json.loads(result.out)["stacks"])
    assert (tree / "clusters/eu-prod/registration.yaml").read_bytes() == before


# --- the contract check as a function (what the Pulumi program calls) ------------------------------

def test_check_registration_compares_one_registration_with_the_hubs_rendered_applicationsets(fleet: Fleet) -> None:
    project = load_project(fleet.project)
    hub_sets = applicationsets(render_stack(project, project.stack("hub")).files)
    assert {a["metadata"]["name"] for a in hub_sets} == {
        "services-checkout-ops", "services-platform-ops", "services-storefront-ops", "fleet-roots", "addon-metrics-server"}
    secret = registration_secret(project.stack("eu-prod"), "https://api.example", "arn:aws:iam::1:role/r")
    assert check_registration(secret, hub_sets) == []
    del secret["metadata"]["labels"][ENV_LABEL]
    [finding] = check_registration(secret, hub_sets)
    assert (finding.cluster, finding.kind, finding.key, finding.applicationset) == (
        "eu-prod", "labels", ENV_LABEL, "argocd/fleet-roots")


@pytest.mark.parametrize("template, go, expected", [
    ('{{ index .metadata.annotations "gitops-platform.io/registry" }}', True, ("annotations", "gitops-platform.io/registry")),
    ("{{ .metadata.labels.tier }}", True, ("labels", "tier")),
    ('{{ index .metadata "labels" "team" }}', True, ("labels", "team")),
    ("{{metadata.annotations.gitops-platform.io/gitops-repo}}", False, ("annotations", "gitops-platform.io/gitops-repo")),
    ("{{ metadata.labels.tier }}", False, ("labels", "tier")),
], ids=["go index", "go field", "go index of metadata", "fasttemplate", "fasttemplate spaced"])
def test_every_template_form_of_a_metadata_reference_is_recognised(template: str, go: bool,
                                                                      expected: tuple[str, str]) -> None:
    appset = {"spec": {"goTemplate": go, "template": {"metadata": {"name": template}}}}
    assert metadata_references(appset) == {expected}


def test_a_clusters_generator_nested_in_a_matrix_is_checked_and_only_selected_clusters_count() -> None:
    def secret(name: str, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret", "stringData": {"name": name, "server": f"https://{name}"},
                "metadata": {"name": name, "namespace": "argocd", "annotations": annotations,
                             "labels": {"argocd.argoproj.io/secret-type": "cluster", **labels}}}
    appset = {"metadata": {"name": "per-team", "namespace": "argocd"}, "spec": {
        "goTemplate": False,
        "generators": [{"matrix": {"generators": [
            {"clusters": {"selector": {"matchLabels": {"tier": "edge"}},
                          "values": {"repo": "{{metadata.annotations.repo}}"}}},
            {"list": {"elements": [{"team": "a"}]}}]}}],
        "template": {"metadata": {"name": "{{name}}-{{team}}"}, "spec": {"source": {"repoURL": "{{values.repo}}"}}}}}
    findings = check_metadata_contract([appset], [
        secret("ok", {"tier": "edge"}, {"repo": "https://r"}),
        secret("bare", {"tier": "edge"}, {}),
        secret("core", {"tier": "core"}, {}),          # not selected: owes nothing
    ])
    assert [(f.cluster, f.kind, f.key, f.applicationset) for f in findings] == [("bare", "annotations", "repo", "argocd/per-team")]


def test_an_empty_selector_also_selects_the_in_cluster_entry_which_has_no_metadata() -> None:
    appset = {"metadata": {"name": "all"}, "spec": {"goTemplate": True, "generators": [{"clusters": {}}],
                                                     "template": {"metadata": {"name": "{{ .metadata.labels.env }}"}}}}
    [finding] = check_metadata_contract([appset], [])
    assert finding.cluster == "in-cluster" and "built-in entry" in str(finding)


# --- fleet rules across stacks ---------------------------------------------------------------------

@pytest.mark.parametrize("change, key, message", [
    (lambda c: c["gitops-platform:argocd"].update(hub="hbu"), "argocd.hub", "no stack 'hbu' in this project (did you mean 'hub'?)"),
    (lambda c: c["gitops-platform:argocd"].update(hub="prod"), "argocd.hub", "stack 'prod' is standalone, not a hub"),
    (lambda c: c["gitops-platform:gitops"].update(repoURL="https://github.com/example-shop/other.git"), "gitops.repoURL",
     "the hub hub syncs this spoke's argocd/eu-prod from 'https://github.com/example-shop/gitops.git'"),
    (lambda c: c["gitops-platform:argocd"].update(namespace="argo"), "argocd.namespace", "the hub hub runs Argo CD in 'argocd'"),
    (lambda c: c["gitops-platform:argocd"].update(addons=["metrics-servr"]), "argocd.addons",
     "'metrics-servr' is not a fleet add-on of the hub hub (did you mean 'metrics-server'?)"),
], ids=["unknown hub", "hub is not a hub", "other repository", "other namespace", "add-on the hub does not offer"])
def test_a_spoke_the_hub_could_not_manage_is_refused_naming_file_and_key(
        fleet: Fleet, tmp_path: Path, change: Callable[[dict[str, Any]], None], key: str, message: str) -> None:
    project = Path(shutil.copytree(fleet.project, tmp_path / "project"))
    edit_stack(project, "eu-prod", change)
    with pytest.raises(InputError) as err:
        load_project(project)
    assert f"Pulumi.eu-prod.yaml: config.gitops-platform:{key}: " in str(err.value)
    assert message in str(err.value)


def test_a_catalog_override_for_an_environment_that_uses_another_profile_points_at_the_profile(
        fleet: Fleet, tmp_path: Path) -> None:
    project = Path(shutil.copytree(fleet.project, tmp_path / "project"))
    service = project / "services/payments.yaml"
    service.write_text(service.read_text().replace("environments:\n", "environments:\n  eu-prod:\n    resources:\n"
                                                   "      limits: {memory: 2Gi}\n", 1))
    with pytest.raises(InputError, match=r"services/payments\.yaml: environments\.eu-prod: environment 'eu-prod' uses "
                                         r"profile 'prod'.*put them under environments\.prod"):
        load_project(project)
