"""No tenant can claim what is not theirs.

A service file is written by one team, but what it renders lands next to the
platform's own controllers and other teams' services. These tests pin down
what a service may not take: a reserved or another team's namespace, a name
of Argo CD's or the controllers' pods, a generated name that is already
another object's in the same Argo CD, another service's ingress host and
path, and (through stack config) the Go template of every Application.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops.errors import InputError
from gitops.project import load_project

NS = "gitops-platform"
DEV = "Pulumi.dev.yaml"


def edit(project: Path, file: str, old: str, new: str) -> None:
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{file}: {old!r} is not there exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append(project: Path, file: str, text: str) -> None:
    path = project / file
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def add_service(project: Path, name: str, *, like: str = "cart", team: str | None = None,
                extra: str = "") -> None:
    """A copy of an example service under another name, optionally of another team, plus extra keys."""
    text = (project / "services" / f"{like}.yaml").read_text(encoding="utf-8")
    if team is not None:
        lines = [f"team: {team}" if line.startswith("team:") else line for line in text.splitlines()]
        text = "\n".join(lines) + "\n"
    (project / "services" / f"{name}.yaml").write_text(text + extra, encoding="utf-8")


def problems(project: Path) -> list[str]:
    """Every problem of loading the project, one string each ("file: key: message")."""
    with pytest.raises(InputError) as caught:
        load_project(project)
    return [str(p) for p in caught.value.problems]


def only(project: Path) -> str:
    found = problems(project)
    assert len(found) == 1, found
    return found[0]


# --- reserved and foreign namespaces ----------------------------------------------------------------

def test_argocd_and_sealing_namespaces_are_reserved_per_stack(project: Path) -> None:
    """Only the stack that configures a namespace reserves it, and the message names that stack and key."""
    append(project, DEV, f"  {NS}:sealing:\n    namespace: secrets-system\n")
    append(project, "Pulumi.staging.yaml", f"  {NS}:argocd:\n    namespace: cd\n")
    edit(project, "services/cart.yaml", "team: checkout\n", "team: checkout\nnamespace: secrets-system\n")
    edit(project, "services/payments.yaml", "team: checkout\n", "team: checkout\nnamespace: cd\n")
    found = problems(project)
    assert sorted(found) == [
        "services/cart.yaml: namespace: 'secrets-system' is the sealed-secrets controller's namespace "
        f"(config.{NS}:sealing.namespace of {DEV}); choose a namespace of the team's own",
        "services/payments.yaml: namespace: 'cd' is Argo CD's namespace "
        f"(config.{NS}:argocd.namespace of Pulumi.staging.yaml); choose a namespace of the team's own",
    ]


def test_a_namespace_no_stack_reserves_is_a_teams_own(project: Path) -> None:
    """With Argo CD elsewhere, 'argocd' is an ordinary namespace (reservations follow the stack config)."""
    for stack in ("dev", "staging"):
        append(project, f"Pulumi.{stack}.yaml", f"  {NS}:argocd:\n    namespace: cd\n")
    edit(project, "Pulumi.prod.yaml", "    ha: true\n", "    ha: true\n    namespace: cd\n")
    edit(project, "services/cart.yaml", "team: checkout\n", "team: checkout\nnamespace: argocd\n")
    assert next(s for s in load_project(project).catalog.services if s.name == "cart").namespace == "argocd"


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease", "default"])
def test_system_namespaces_are_refused(project: Path, namespace: str) -> None:
    edit(project, "services/cart.yaml", "team: checkout\n", f"team: checkout\nnamespace: {namespace}\n")
    assert only(project).startswith(f"services/cart.yaml: namespace: '{namespace}' is a system namespace")


def test_a_fleet_add_on_namespace_is_reserved_on_the_hub_and_its_spokes(project: Path) -> None:
    append(project, DEV, f"  {NS}:argocd:\n    topology: hub\n    fleetAddons:\n      monitoring:\n"
                         "        repoURL: https://prometheus-community.github.io/helm-charts\n"
                         "        chart: kube-prometheus-stack\n        version: 65.1.0\n        namespace: monitoring\n")
    edit(project, "services/cart.yaml", "team: checkout\n", "team: checkout\nnamespace: monitoring\n")
    assert only(project) == ("services/cart.yaml: namespace: 'monitoring' is the namespace of fleet add-on monitoring "
                             f"(config.{NS}:argocd.fleetAddons.monitoring.namespace of {DEV}); "
                             "choose a namespace of the team's own")


def test_another_teams_namespace_is_refused_naming_the_owner(project: Path) -> None:
    edit(project, "services/web-frontend.yaml", "team: storefront\n", "team: storefront\nnamespace: checkout\n")
    message = only(project)
    assert message.startswith("services/web-frontend.yaml: namespace: 'checkout' belongs to team checkout")
    assert "services/_namespaces.yaml" in message and "shared: {checkout: [checkout, storefront]}" in message


def test_a_namespace_used_by_two_teams_is_refused_unless_shared(project: Path) -> None:
    """No team is named 'shop-shared': the team of the first service using it owns it."""
    edit(project, "services/cart.yaml", "team: checkout\n", "team: checkout\nnamespace: shop-shared\n")
    edit(project, "services/web-frontend.yaml", "team: storefront\n", "team: storefront\nnamespace: shop-shared\n")
    assert only(project).startswith("services/web-frontend.yaml: namespace: 'shop-shared' is team checkout's "
                                    "(services/cart.yaml uses it)")
    (project / "services/_namespaces.yaml").write_text(
        "# Reviewed by both teams.\nshared:\n  shop-shared: [checkout, storefront]\n")
    catalog = load_project(project).catalog
    assert {s.name: s.namespace for s in catalog.services if s.namespace == "shop-shared"} == {
        "cart": "shop-shared", "web-frontend": "shop-shared"}


def test_a_shared_namespace_admits_only_the_teams_it_lists(project: Path) -> None:
    (project / "services/_namespaces.yaml").write_text("shared:\n  checkout: [checkout, platform]\n")
    edit(project, "services/web-frontend.yaml", "team: storefront\n", "team: storefront\nnamespace: checkout\n")
    assert only(project).startswith("services/web-frontend.yaml: namespace: 'checkout' is shared by teams "
                                    "checkout, platform only (services/_namespaces.yaml)")


@pytest.mark.parametrize("text,expected", [
    ("shared: [checkout]\n", "services/_namespaces.yaml: shared: expected a mapping, got a list"),
    ("shared:\n  checkout: checkout\n", "services/_namespaces.yaml: shared.checkout: expected a list of teams"),
    ("shared:\n  Bad_NS: [checkout]\n", "services/_namespaces.yaml: shared.Bad_NS: 'Bad_NS' is not a valid name"),
    ("shared:\n  ns: [Bad_Team]\n", "services/_namespaces.yaml: shared.ns[0]: 'Bad_Team' is not a valid name"),
    ("sharde: {}\n", "services/_namespaces.yaml: sharde: unknown key (did you mean 'shared'?)"),
    ("- 1\n", "services/_namespaces.yaml: expected a mapping of namespace declarations, got a list"),
])
def test_a_bad_namespaces_file_is_reported_naming_file_and_key(project: Path, text: str, expected: str) -> None:
    (project / "services/_namespaces.yaml").write_text(text)
    assert only(project).startswith(expected)


@pytest.mark.parametrize("name", [
    "argocd", "argocd-server", "argocd-repo-server", "argocd-application-controller", "argocd-redis",
    "argocd-dex-server", "argocd-applicationset-controller", "argocd-notifications-controller",
    "argocd-image-updater", "argocd-commit-server", "sealed-secrets", "sealed-secrets-controller",
    "aws-load-balancer-controller", "metrics-server", "cluster-autoscaler",
])
def test_names_of_the_platforms_own_pods_are_refused(project: Path, name: str) -> None:
    (project / "services/cart.yaml").rename(project / f"services/{name}.yaml")
    message = only(project)
    assert message.startswith(f"services/{name}.yaml: the file name gives the service name, and '{name}' ")
    assert "reserved" in message


# --- generated names, per Argo CD ---------------------------------------------------------------

def new_spoke_of_dev(project: Path, spoke: str, run) -> None:
    append(project, DEV, f"  {NS}:argocd:\n    topology: hub\n")
    result = run("new-cluster", spoke, "--env", "dev", "--region", "us-east-1", "--hub", "dev", "--project", project)
    assert result.code == 0, result.err


def test_a_service_named_root_is_refused_for_the_root_applications_name(project: Path) -> None:
    (project / "services/cart.yaml").rename(project / "services/root.yaml")
    found = problems(project)
    assert len(found) == 3   # one per environment: each stack's root-<env>
    assert ("services/root.yaml: Application 'root-dev' of service root in environment dev (Pulumi.dev.yaml) is also "
            "the root Application of environment dev (Pulumi.dev.yaml), both in Argo CD namespace argocd of "
            "Pulumi.dev.yaml; rename the service or the environment") in found


def test_services_and_environments_that_concatenate_alike_are_refused_in_one_argo_cd(project: Path, run) -> None:
    new_spoke_of_dev(project, "gateway-dev", run)
    add_service(project, "api")
    assert only(project) == (
        "services/api.yaml: Application 'api-gateway-dev' of service api in environment gateway-dev "
        "(Pulumi.gateway-dev.yaml) is also the Application of service api-gateway (services/api-gateway.yaml) in "
        "environment dev (Pulumi.dev.yaml), "
        "both in Argo CD namespace argocd of Pulumi.dev.yaml; rename the service or the environment")


def test_the_same_names_in_separate_argo_cds_are_fine(project: Path) -> None:
    """Without a hub, dev and prod each run their own Argo CD: api-gateway-dev and api-dev... never meet."""
    edit(project, "Pulumi.staging.yaml", "environment: staging", "environment: gateway-dev")
    edit(project, "Pulumi.prod.yaml", "from: staging", "from: gateway-dev")
    add_service(project, "api")
    load_project(project)


def test_teams_and_environments_that_concatenate_alike_are_refused(project: Path, run) -> None:
    new_spoke_of_dev(project, "gateway-dev", run)
    add_service(project, "gateway-tools", team="platform-gateway")
    message = only(project)
    assert message == (
        "services/gateway-tools.yaml: team: AppProject 'platform-gateway-dev' (and ApplicationSet "
        "'services-platform-gateway-dev') of team platform-gateway in environment dev (Pulumi.dev.yaml) is also "
        "that of team platform in environment gateway-dev (Pulumi.gateway-dev.yaml), both in Argo CD namespace argocd "
        "of Pulumi.dev.yaml; rename the team or the environment")


def test_a_team_whose_project_is_the_platforms_own_is_refused(project: Path) -> None:
    edit(project, "Pulumi.staging.yaml", "environment: staging", "environment: platform")
    edit(project, "Pulumi.prod.yaml", "from: staging", "from: platform")
    add_service(project, "gitops-bot", team="gitops")
    assert only(project) == (
        "services/gitops-bot.yaml: team: AppProject 'gitops-platform' of team gitops in environment platform "
        "(Pulumi.staging.yaml) is also the project of the root Applications (created by the Pulumi program of "
        "Pulumi.staging.yaml), both in Argo CD namespace argocd of Pulumi.staging.yaml; rename the team or the environment")


# --- ingress hosts and paths ----------------------------------------------------------------------

def test_two_services_on_one_host_and_path_are_refused_once_naming_every_environment(project: Path) -> None:
    edit(project, "services/api-gateway.yaml", "  host: api\n", "  host: www\n  path: /\n")
    assert only(project) == (
        "services/web-frontend.yaml: ingress: host 'www' path '/' is also claimed by service api-gateway "
        "(services/api-gateway.yaml) in dev (www.dev.shop.example.com), prod (www.shop.example.com), "
        "staging (www.staging.shop.example.com); one host and path route to one service: change the host or the path")


def test_one_host_with_different_paths_is_fine(project: Path) -> None:
    edit(project, "services/api-gateway.yaml", "  host: api\n", "  host: www\n  path: /api\n")
    load_project(project)


def test_a_trailing_slash_is_the_same_prefix(project: Path) -> None:
    edit(project, "services/api-gateway.yaml", "  host: api\n", "  host: www\n  path: /shop/\n")
    edit(project, "services/web-frontend.yaml", "  host: www\n", "  host: www\n  path: /shop\n")
    assert "host 'www' path '/shop' is also claimed by service api-gateway" in only(project)


def test_argo_cds_own_host_is_refused_and_follows_the_configured_hostname(project: Path) -> None:
    append(project, DEV, f"  {NS}:argocd:\n    hostname: cd.dev.shop.example.com\n")
    edit(project, "services/api-gateway.yaml", "  host: api\n", "  host: cd\n")
    assert only(project) == (
        "services/api-gateway.yaml: ingress.host: 'cd' gives Argo CD's own host in dev (cd.dev.shop.example.com, "
        f"config.{NS}:argocd.hostname of {DEV}); choose another host")


def test_a_spoke_has_no_argo_cd_host_to_protect(project: Path, run) -> None:
    new_spoke_of_dev(project, "edge-dev", run)
    edit(project, "Pulumi.edge-dev.yaml", "domain: dev.shop.example.com", "domain: edge.shop.example.com")
    add_service(project, "docs", like="web-frontend")
    edit(project, "services/docs.yaml", "  host: www\n", "  host: argocd\n")
    found = problems(project)
    assert all("edge" not in p for p in found), found


# --- stack config in Go templates -------------------------------------------------------------------

@pytest.mark.parametrize("key,old,new,reason", [
    ("repoURL", "repoURL: https://github.com/example-shop/gitops.git",
     "repoURL: https://github.com/example-shop/gitops.git{{.path.path}}", "'{{'"),
    ("repoURL", "repoURL: https://github.com/example-shop/gitops.git",
     'repoURL: "https://github.com/example-shop/gitops.git\\u200b"', "control or format character"),
    ("revision", "revision: main", 'revision: "main{{.name}}"', "'{{'"),
    ("revision", "revision: main", 'revision: "main\\x07"', "control or format character"),
    ("revision", "revision: main", 'revision: "main "', "whitespace"),
    ("path", "path: .", 'path: "{{.path.basename}}"', "'{{'"),
    ("path", "path: .", 'path: "gitops\\ttree"', "whitespace"),
    ("path", "path: .", 'path: "gitops\\x1b[31m"', "control or format character"),
    ("path", "path: .", 'path: "deploy/*"', "glob"),
    ("path", "path: .", 'path: "deploy//gitops"', "empty or '.' segment"),
    ("path", "path: .", 'path: "./deploy"', "empty or '.' segment"),
])
def test_template_breaking_gitops_values_are_refused(project: Path, key: str, old: str, new: str, reason: str) -> None:
    edit(project, DEV, old, new)
    message = only(project)
    assert message.startswith(f"{DEV}: config.{NS}:gitops.{key}: "), message
    assert reason in message, message
    assert "\x07" not in message and "\x1b" not in message and "\u200b" not in message


def test_a_nested_gitops_path_is_still_fine(project: Path) -> None:
    for stack in ("dev", "staging", "prod"):
        edit(project, f"Pulumi.{stack}.yaml", "    path: .\n", "    path: deploy/gitops-tree_v2\n")
    assert {s.gitops.path for s in load_project(project).stacks} == {"deploy/gitops-tree_v2"}


# --- validate: names unique per Argo CD ---------------------------------------------------------------

kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gitops.cli import main

    out = tmp_path_factory.mktemp("tenancy") / "repo"
    assert main(["render", "--all", "--out", str(out), "--project", str(REPO_ROOT)]) == 0
    return out


def validate(run, tree: Path) -> dict[str, Any]:
    result = run("validate", tree, "--output", "json")
    return {"code": result.code, **json.loads(result.out)}


def duplicate_findings(report: dict[str, Any]) -> list[dict[str, str]]:
    return [p for p in report["problems"] if "is defined more than once" in p["message"]]


@kubectl
def test_the_example_has_no_duplicate_names(run, rendered: Path) -> None:
    assert duplicate_findings(validate(run, rendered)) == []


@kubectl
def test_validate_reports_a_generated_application_named_like_the_root(run, rendered: Path, tmp_path: Path) -> None:
    tree = Path(shutil.copytree(rendered, tmp_path / "repo"))
    appset = tree / "argocd/dev/applicationset-storefront.yaml"
    doc = yaml.safe_load(appset.read_text())
    doc["spec"]["template"]["metadata"]["name"] = "root-dev"
    appset.write_text(yaml.safe_dump(doc))
    found = duplicate_findings(validate(run, tree))
    assert any(f["message"].startswith("Application 'root-dev' is defined more than once in Argo CD namespace argocd "
                                       "(the Argo CD that syncs argocd/dev)")
               and "the root Application of argocd/dev" in f["message"]
               and "ApplicationSet services-storefront-dev (argocd/dev)" in f["message"] for f in found), found


@kubectl
def test_validate_reports_an_applicationset_of_a_spoke_named_like_one_of_its_hubs(
        run, tmp_path: Path) -> None:
    from test_fleet import HUB_FILE, copy_example, publish_registrations

    project, out = copy_example(tmp_path / "project"), tmp_path / "repo"
    (project / "Pulumi.hub.yaml").write_text(HUB_FILE)
    assert run("new-cluster", "eu-prod", "--env", "prod", "--region", "eu-central-1", "--hub", "hub",
               "--project", project).code == 0
    assert run("render", "--all", "--project", project, "--out", out).code == 0
    publish_registrations(project, out)
    assert duplicate_findings(validate(run, out)) == []
    spoke_appset = out / "argocd/eu-prod/applicationset-platform.yaml"
    spoke_appset.write_text(spoke_appset.read_text().replace("name: services-platform-eu-prod",
                                                             "name: services-platform-ops"))
    found = duplicate_findings(validate(run, out))
    assert [f["where"] for f in found] == ["argocd/ops"], found
    assert found[0]["message"].startswith("ApplicationSet 'services-platform-ops' is defined more than once in Argo CD "
                                          "namespace argocd (the Argo CD that syncs argocd/ops)")
