"""The ArgoCD component: pinned releases, ECR read access through Pod Identity, the root Application."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi.runtime import rpc

from components.argocd import (
    ECR_READ_ACTIONS,
    ArgoCD,
    ArgoCDArgs,
    RepoCredentialsError,
    argocd_values,
    ecr_read_policy,
    image_updater_values,
    pod_identity_trust_policy,
    repository_secret_data,
    root_app_values,
)
from components.charts import ARGO_CD, ARGOCD_APPS, IMAGE_UPDATER
from gitops.errors import InputError
from gitops.model import GitOpsConfig, RegistryConfig
from gitops.project import load_project
from pulumi_harness import RecordingMocks, delete_order, deleted_before

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
REGISTRY = RegistryConfig(account_id="999999999999", region="eu-central-1", prefix="shop", owner=False,
                          keep_release_images=30, immutable_tags=False)
GITOPS = GitOpsConfig(repo_url="https://git.example.com/shop/gitops.git", revision="release", path=".")
ARGS = ArgoCDArgs(environment="qa-eu", cluster_name="shop-qa-eu", region="eu-west-3", namespace="argocd",
                  gitops=GITOPS, registry=REGISTRY, role_prefix="shop-qa-eu")
HTTPS_CREDENTIALS = {"username": "bot", "password": "s3cret-token"}
WRITE_MARKERS = ("Put", "Delete", "Upload", "Create", "Complete", "Initiate", "Replicate", "Tag", "Set")


def _build(start: Callable[..., RecordingMocks], args: ArgoCDArgs = ARGS,
           preview: bool = False) -> tuple[RecordingMocks, ArgoCD]:
    mocks = start(stack="qa-eu", preview=preview)
    holder = {}

    @pulumi.runtime.test
    def program():
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="c")
        holder["argocd"] = ArgoCD("argocd", args, pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}))

    program()
    return mocks, holder["argocd"]


def _after(mocks: RecordingMocks, later: str, earlier: str) -> bool:
    """Whether the registration named ``later`` itself depends on the one named ``earlier``."""
    return mocks.directly_depends_on(mocks.named(later), mocks.named(earlier))


def _is_wire_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


# --- pure values --------------------------------------------------------------------


def test_without_ha_the_chart_defaults_stay() -> None:
    values = argocd_values(ARGS)
    assert not {"redis-ha", "controller", "repoServer", "applicationSet"} & set(values)
    assert "replicas" not in values.get("server", {})


def test_ha_replicates_the_stateless_parts_and_enables_redis_ha() -> None:
    values = argocd_values(dataclasses.replace(ARGS, ha=True))
    assert values["redis-ha"] == {"enabled": True}
    assert values["controller"] == {"replicas": 1}
    assert (values["server"]["replicas"], values["repoServer"]["replicas"], values["applicationSet"]["replicas"]) == (2, 2, 2)


def test_ha_and_an_ingress_combine_on_the_server() -> None:
    server = argocd_values(dataclasses.replace(ARGS, ha=True, hostname="argocd.qa.example.com"))["server"]
    assert server["replicas"] == 2 and server["ingress"]["enabled"] is True


def test_argocd_keeps_its_crds_and_tracks_resources_by_annotation() -> None:
    values = argocd_values(ARGS)
    assert values["crds"] == {"keep": True}
    assert values["configs"]["cm"] == {"application.resourceTrackingMethod": "annotation"}


def test_without_a_hostname_there_is_no_ingress_and_the_server_keeps_tls() -> None:
    values = argocd_values(ARGS)
    assert "global" not in values and "params" not in values["configs"]
    assert "ingress" not in values.get("server", {})


def test_a_hostname_adds_the_ingress_with_class_and_annotations_behind_tls_termination() -> None:
    annotations = {"alb.ingress.kubernetes.io/scheme": "internal"}
    values = argocd_values(dataclasses.replace(ARGS, hostname="argocd.qa.example.com", ingress_class="alb",
                                               ingress_annotations=annotations))
    assert values["global"] == {"domain": "argocd.qa.example.com"}
    assert values["configs"]["params"] == {"server.insecure": True}
    assert values["server"]["ingress"] == {"enabled": True, "hostname": "argocd.qa.example.com",
                                           "ingressClassName": "alb", "annotations": {**ON_ALB, **annotations}}


HOST = "argocd.qa.example.com"
# Every alb ingress: pod IP targets (the chart's server Service is ClusterIP), plain HTTP to server.insecure.
ON_ALB = {
    "alb.ingress.kubernetes.io/target-type": "ip",
    "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
}
HTTPS_ON_ALB = {
    **ON_ALB,
    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
    "alb.ingress.kubernetes.io/ssl-redirect": "443",
}
CERTIFICATE = "arn:aws:acm:eu-west-3:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def _server_ingress(**changes: Any) -> dict[str, Any]:
    return argocd_values(dataclasses.replace(ARGS, hostname=HOST, **changes))["server"]["ingress"]


def test_tls_on_an_alb_ingress_adds_https_listeners_with_a_redirect_and_the_tls_host() -> None:
    ingress = _server_ingress(ingress_class="alb", ingress_tls=True)
    assert ingress["annotations"] == HTTPS_ON_ALB
    # spec.tls names the host and no Secret: the ALB controller finds the host's certificate in ACM by it,
    # and the chart's `tls: true` would name argocd-server-tls, which nothing creates.
    assert ingress["extraTls"] == [{"hosts": [HOST]}] and "tls" not in ingress


def test_a_certificate_arn_is_the_alb_listeners_certificate() -> None:
    ingress = _server_ingress(ingress_class="alb", ingress_tls=True, certificate_arn=CERTIFICATE)
    assert ingress["annotations"] == {**HTTPS_ON_ALB, "alb.ingress.kubernetes.io/certificate-arn": CERTIFICATE}


def test_without_tls_an_alb_ingress_gets_no_https_annotations() -> None:
    annotations = {"alb.ingress.kubernetes.io/scheme": "internal"}
    ingress = _server_ingress(ingress_class="alb", ingress_annotations=annotations)
    assert ingress["annotations"] == {**ON_ALB, **annotations}
    assert "tls" not in ingress and "extraTls" not in ingress


def test_tls_on_another_ingress_class_keeps_only_the_stacks_annotations() -> None:
    annotations = {"cert-manager.io/cluster-issuer": "letsencrypt"}
    ingress = _server_ingress(ingress_class="nginx", ingress_annotations=annotations, ingress_tls=True,
                              certificate_arn=CERTIFICATE)
    assert ingress["annotations"] == annotations
    # The Secret cert-manager creates for the issuer annotation.
    assert ingress["extraTls"] == [{"hosts": [HOST], "secretName": "argocd-server-tls"}]


def test_tls_on_another_ingress_class_names_the_stacks_tls_secret() -> None:
    ingress = _server_ingress(ingress_class="nginx", ingress_tls=True, tls_secret_name="wildcard-tls")
    assert ingress["extraTls"] == [{"hosts": [HOST], "secretName": "wildcard-tls"}] and "annotations" not in ingress


def test_the_stacks_own_alb_annotations_win_over_the_https_defaults() -> None:
    mine = {"alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 8443}]'}
    ingress = _server_ingress(ingress_class="alb", ingress_annotations=mine, ingress_tls=True)
    assert ingress["annotations"] == {**HTTPS_ON_ALB, **mine}


@pytest.mark.parametrize("tls,url", [(False, "http://argocd.qa.example.com"), (True, "https://argocd.qa.example.com")])
def test_argocd_is_told_the_url_its_ingress_serves(tls: bool, url: str) -> None:
    values = argocd_values(dataclasses.replace(ARGS, hostname=HOST, ingress_class="alb", ingress_tls=tls))
    assert values["configs"]["cm"]["url"] == url


def test_the_image_updater_trusts_eks_pod_identity_only() -> None:
    statement = json.loads(pod_identity_trust_policy())["Statement"]
    assert statement == [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                          "Action": ["sts:AssumeRole", "sts:TagSession"]}]


def test_the_image_updater_can_only_read_the_registrys_repositories() -> None:
    statements = json.loads(ecr_read_policy(REGISTRY))["Statement"]
    assert len(statements) == 2
    token, read = sorted(statements, key=lambda s: len(s["Action"]))
    assert (token["Action"], token["Resource"]) == (["ecr:GetAuthorizationToken"], "*")
    assert set(read["Action"]) == set(ECR_READ_ACTIONS)
    assert read["Resource"] == "arn:aws:ecr:eu-central-1:999999999999:repository/shop/*"
    actions = [a for s in statements for a in s["Action"]]
    assert not any("*" in a or any(m in a.split(":")[1] for m in WRITE_MARKERS) for a in actions)


def test_a_registry_without_prefix_grants_read_on_all_its_repositories() -> None:
    read = json.loads(ecr_read_policy(dataclasses.replace(REGISTRY, prefix="")))["Statement"][1]
    assert read["Resource"] == "arn:aws:ecr:eu-central-1:999999999999:repository/*"


def test_registries_conf_has_one_ecr_entry_logging_in_with_the_script() -> None:
    config = image_updater_values(ARGS)["config"]
    host = "999999999999.dkr.ecr.eu-central-1.amazonaws.com"
    assert config["registries"] == [{
        "name": "ECR", "api_url": f"https://{host}", "prefix": host, "ping": True, "insecure": False,
        "credentials": "ext:/scripts/ecr-login.sh", "credsexpire": "11h", "default": False,
    }]


def test_the_ecr_login_script_asks_the_registrys_region() -> None:
    values = image_updater_values(ARGS)
    assert values["authScripts"]["enabled"] is True
    script = values["authScripts"]["scripts"]["ecr-login.sh"]
    assert script.startswith("#!/bin/sh\n") and "--region eu-central-1 get-authorization-token" in script
    assert {"name": "AWS_REGION", "value": "eu-west-3"} in values["extraEnv"]


def test_the_image_updater_runs_as_the_service_account_the_association_names() -> None:
    values = image_updater_values(ARGS)
    assert values["serviceAccount"] == {"create": True, "name": "argocd-image-updater"}
    assert values["config"]["argocd.namespace"] == "argocd"
    assert values["config"]["log.level"] == "info"


@pytest.mark.parametrize("path,expected", [(".", "argocd/qa-eu"), ("deploy/gitops/", "deploy/gitops/argocd/qa-eu")])
def test_the_root_application_points_at_the_environments_argocd_directory(path: str, expected: str) -> None:
    values = root_app_values(dataclasses.replace(ARGS, gitops=dataclasses.replace(GITOPS, path=path)))
    assert values["applications"]["root-qa-eu"]["source"] == {
        "repoURL": GITOPS.repo_url, "targetRevision": "release", "path": expected}


def test_the_root_application_syncs_into_argocds_namespace_automatically_with_cascade_delete() -> None:
    app = root_app_values(dataclasses.replace(ARGS, namespace="gitops"))["applications"]["root-qa-eu"]
    assert (app["namespace"], app["project"]) == ("gitops", "gitops-platform")
    assert app["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "gitops"}
    assert app["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert app["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_the_root_applications_project_admits_only_argo_cds_own_kinds_into_its_namespace() -> None:
    """Argo CD's ``default`` grants nothing once the root has synced, so the root brings its own project."""
    project = root_app_values(dataclasses.replace(ARGS, namespace="gitops"))["projects"]["gitops-platform"]
    assert project["namespace"] == "gitops" and project["sourceRepos"] == [GITOPS.repo_url]
    assert project["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "gitops"}]
    assert project["clusterResourceWhitelist"] == []
    assert {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]} == {
        ("argoproj.io", "AppProject"), ("argoproj.io", "ApplicationSet"),
        ("argocd-image-updater.argoproj.io", "ImageUpdater")}


def test_the_root_application_retries_a_failed_sync_with_backoff() -> None:
    app = root_app_values(ARGS)["applications"]["root-qa-eu"]
    # Argo CD's syncPolicy.retry: its first sync can race the CRDs of a fresh install.
    assert app["syncPolicy"]["retry"] == {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def test_repository_data_for_https_and_ssh() -> None:
    assert repository_secret_data(GITOPS.repo_url, HTTPS_CREDENTIALS) == {
        "type": "git", "url": GITOPS.repo_url, "username": "bot", "password": "s3cret-token"}
    assert repository_secret_data("git@git.example.com:shop/gitops.git", {"sshPrivateKey": "KEY"})["sshPrivateKey"] == "KEY"


@pytest.mark.parametrize("credentials", [
    {"username": "bot"},
    {"username": "bot", "password": "x", "sshPrivateKey": "KEY"},
    {"user": "bot", "password": "x"},
    {},
    {"username": "bot", "password": ""},
    "bot:x",
])
def test_malformed_credentials_are_rejected_naming_the_config_key_but_not_the_values(credentials: Any) -> None:
    with pytest.raises(RepoCredentialsError, match="gitops-platform:gitopsCredentials") as info:
        repository_secret_data(GITOPS.repo_url, credentials)
    assert "bot:x" not in str(info.value) and "KEY" not in str(info.value)


# --- the component under mocks -------------------------------------------------------------


def test_the_charts_are_pinned_and_installed_into_the_argocd_namespace(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    releases = {r.inputs["name"]: r.inputs for r in mocks.of_type(RELEASE)}
    for release, chart in (("argocd", ARGO_CD), ("argocd-image-updater", IMAGE_UPDATER), ("argocd-apps", ARGOCD_APPS)):
        inputs = releases[release]
        assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]) == (chart.name, chart.version, {"repo": chart.repo})
        assert (inputs["namespace"], inputs["createNamespace"]) == ("argocd", False)
    assert releases["argocd"]["version"] == "10.1.1"


def test_a_preview_of_a_new_cluster_already_knows_every_releases_values(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(ARGS, cluster_name=pulumi.Output.from_input("shop-qa-eu")),
                      preview=True)
    releases = {r.inputs["name"]: r.inputs["values"] for r in mocks.of_type(RELEASE)}
    assert releases == {"argocd": argocd_values(ARGS), "argocd-image-updater": image_updater_values(ARGS),
                        "argocd-apps": root_app_values(ARGS)}


def test_the_namespace_is_created_before_argocd(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert mocks.named("argocd-namespace").inputs["metadata"] == {"name": "argocd"}
    assert _after(mocks, "argocd-argo-cd", "argocd-namespace")


def test_the_root_application_and_the_image_updater_wait_for_argocd(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert _after(mocks, "argocd-root-app", "argocd-argo-cd")
    assert _after(mocks, "argocd-image-updater", "argocd-argo-cd")


def test_the_image_updater_starts_after_its_pod_identity_association(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert _after(mocks, "argocd-image-updater", "argocd-image-updater-pod-identity")


def test_pod_identity_binds_the_role_to_the_image_updaters_service_account(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    association = mocks.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")[0].inputs
    assert (association["clusterName"], association["namespace"], association["serviceAccount"]) == (
        "shop-qa-eu", "argocd", "argocd-image-updater")
    assert association["roleArn"] == "arn:aws:iam::123456789012:role/shop-qa-eu-image-updater"
    role = mocks.of_type("aws:iam/role:Role")[0].inputs
    assert json.loads(role["assumeRolePolicy"]) == json.loads(pod_identity_trust_policy())
    policy = mocks.of_type("aws:iam/rolePolicy:RolePolicy")[0].inputs
    assert policy["role"] == "shop-qa-eu-image-updater"
    assert json.loads(policy["policy"]) == json.loads(ecr_read_policy(REGISTRY))


def test_no_names_are_hard_coded_to_an_environment(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    root = mocks.named("argocd-root-app").inputs["values"]["applications"]
    assert list(root) == ["root-qa-eu"] and root["root-qa-eu"]["source"]["path"] == "argocd/qa-eu"
    text = json.dumps([r.inputs for r in mocks.registrations])
    assert not any(f'{env}"' in text or f"{env}/" in text or f"-{env}" in text for env in ("dev", "staging", "prod"))


def test_without_credentials_there_is_no_repository_secret(pulumi_mocks) -> None:
    mocks, argocd = _build(pulumi_mocks)
    assert mocks.of_type(SECRET) == [] and argocd.repo_secret is None


def test_credentials_become_a_secret_repository_secret_read_by_the_root_application(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(ARGS, repo_credentials=pulumi.Output.secret(HTTPS_CREDENTIALS)))
    secret = mocks.named("argocd-repo").inputs
    assert secret["metadata"] == {"name": "gitops-repo", "namespace": "argocd",
                                  "labels": {"argocd.argoproj.io/secret-type": "repository"}}
    assert _is_wire_secret(secret["stringData"])
    assert secret["stringData"]["value"] == {"type": "git", "url": GITOPS.repo_url, **HTTPS_CREDENTIALS}
    assert _after(mocks, "argocd-root-app", "argocd-repo")


def test_plain_credentials_are_sent_as_a_secret_too(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(ARGS, repo_credentials={"sshPrivateKey": "KEY"}))
    assert _is_wire_secret(mocks.named("argocd-repo").inputs["stringData"])


def test_malformed_plain_credentials_fail_before_anything_is_registered(pulumi_mocks) -> None:
    mocks = pulumi_mocks(stack="qa-eu")

    @pulumi.runtime.test
    def program():
        ArgoCD("argocd", dataclasses.replace(ARGS, repo_credentials={"token": "x"}))

    with pytest.raises(RepoCredentialsError, match="gitops-platform:gitopsCredentials"):
        program()
    assert mocks.registrations == []


def test_malformed_secret_credentials_fail_the_program(pulumi_mocks) -> None:
    loop = asyncio.get_event_loop()
    # Every Output derived from the failed one holds the same error; only the program's is awaited.
    loop.set_exception_handler(_ignore_credential_errors)
    with pytest.raises(RepoCredentialsError, match="gitops-platform:gitopsCredentials"):
        _build(pulumi_mocks, dataclasses.replace(ARGS, repo_credentials=pulumi.Output.secret({"token": "x"})))
    gc.collect()


def _ignore_credential_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if not isinstance(context.get("exception"), RepoCredentialsError):
        loop.default_exception_handler(context)


@pytest.mark.parametrize("hostname,tls,url", [
    (None, False, None),
    (None, True, None),
    ("argocd.qa.example.com", False, "http://argocd.qa.example.com"),
    ("argocd.qa.example.com", True, "https://argocd.qa.example.com"),
])
def test_the_url_is_https_only_when_the_ingress_serves_tls(pulumi_mocks, hostname: str | None, tls: bool,
                                                           url: str | None) -> None:
    _, argocd = _build(pulumi_mocks, dataclasses.replace(ARGS, hostname=hostname, ingress_tls=tls))
    assert argocd.url == url


def test_in_cluster_resources_use_the_given_kubernetes_provider(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(ARGS, repo_credentials=HTTPS_CREDENTIALS))
    in_cluster = [r for r in mocks.registrations if r.typ.startswith("kubernetes:") and r.custom]
    assert len(in_cluster) == 5
    assert all("pulumi:providers:kubernetes::k8s::" in r.provider for r in in_cluster)


def test_the_component_registers_under_its_gitops_platform_type(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    component = mocks.of_type("gitops-platform:argocd:ArgoCD")
    assert len(component) == 1 and component[0].custom is False


# --- teardown and a hub's own identity -----------------------------------------------------

DRAINED = "pulumi-python:dynamic/argocd:ApplicationsDrained"


def test_without_a_kubeconfig_there_is_no_drain(pulumi_mocks) -> None:
    mocks, argocd = _build(pulumi_mocks)
    assert mocks.of_type(DRAINED) == [] and argocd.drained is None


@pytest.fixture
def with_teardown(pulumi_mocks) -> RecordingMocks:
    """ArgoCD with a kubeconfig, a controller its Applications' deletion needs, and the cluster's own registration."""
    mocks = pulumi_mocks(stack="qa-eu")

    @pulumi.runtime.test
    def program():
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="c")
        controller = pulumi.CustomResource("test:index:Controller", "load-balancer-controller", {})

        def registration(opts: pulumi.ResourceOptions) -> pulumi.Resource:
            return pulumi.CustomResource("test:index:ClusterSecret", "self-registration", {}, opts)

        ArgoCD("argocd", dataclasses.replace(ARGS, kubeconfig='{"kind": "Config"}', keep_until_drained=[controller],
                                             cluster_registration=registration),
               pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}))

    program()
    return mocks


def test_with_a_kubeconfig_the_drain_covers_every_application_of_argocds_namespace(with_teardown: RecordingMocks) -> None:
    drained = with_teardown.named("argocd-applications-drained")
    assert drained.typ == DRAINED
    assert _is_wire_secret(drained.inputs["kubeconfig"])
    assert drained.inputs["namespace"] == "argocd"
    assert not {"destinationName", "destinationServer", "clusterSecret"} & set(drained.inputs)


def test_the_drain_is_made_last_depending_on_all_that_deleting_the_applications_needs(
        with_teardown: RecordingMocks) -> None:
    for needed in ("argocd-root-app", "argocd-image-updater", "argocd-argo-cd", "load-balancer-controller",
                   "self-registration"):
        assert _after(with_teardown, "argocd-applications-drained", needed), needed


def test_a_destroy_drains_first_then_removes_the_root_the_image_updater_and_argocd_in_that_order(
        with_teardown: RecordingMocks) -> None:
    order = delete_order(with_teardown)
    names = [r.name for r in order]
    sequence = ["argocd-applications-drained", "argocd-root-app", "argocd-image-updater", "argocd-argo-cd"]
    assert [n for n in names if n in sequence] == sequence
    for kept in ("load-balancer-controller", "self-registration", "argocd-namespace"):
        assert names.index("argocd-applications-drained") < names.index(kept), kept


def test_the_root_application_comes_after_the_image_updater_whose_crd_it_syncs(with_teardown: RecordingMocks) -> None:
    assert _after(with_teardown, "argocd-root-app", "argocd-image-updater")


def test_the_clusters_own_registration_is_made_once_argocd_is_installed(with_teardown: RecordingMocks) -> None:
    registration = with_teardown.named("self-registration")
    assert with_teardown.directly_depends_on(registration, with_teardown.named("argocd-argo-cd"))
    assert deleted_before(delete_order(with_teardown), registration, with_teardown.named("argocd-argo-cd"))


def test_argocd_starts_after_the_pod_identities_it_is_given(pulumi_mocks) -> None:
    mocks = pulumi_mocks(stack="qa-eu")

    @pulumi.runtime.test
    def program():
        association = pulumi.CustomResource("test:index:Association", "hub-identity", {})
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="c")
        ArgoCD("argocd", dataclasses.replace(ARGS, pod_identities=[association]),
               pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}))

    program()
    assert _after(mocks, "argocd-argo-cd", "hub-identity")
    assert _after(mocks, "argocd-argo-cd", "argocd-namespace")


# --- stack config: ingress.certificateArn ----------------------------------------------------------------


def _with_ingress(project: Path, **settings: Any) -> None:
    path = project / "Pulumi.staging.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["gitops-platform:ingress"].update(settings)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_certificate_arn_is_read_from_the_stacks_ingress(project: Path) -> None:
    _with_ingress(project, certificateArn=CERTIFICATE)
    assert load_project(project).stack("staging").ingress.certificate_arn == CERTIFICATE


@pytest.mark.parametrize("settings,expected", [
    ({"certificateArn": CERTIFICATE, "tls": False}, "certificateArn: applies only with tls: true"),
    ({"certificateArn": "arn:aws:iam::123456789012:server-certificate/argocd"},
     "certificateArn: 'arn:aws:iam::123456789012:server-certificate/argocd' is not valid: an ACM certificate ARN"),
])
def test_a_bad_certificate_arn_names_the_file_the_key_and_what_is_valid(project: Path, settings: dict[str, Any],
                                                                        expected: str) -> None:
    _with_ingress(project, **settings)
    with pytest.raises(InputError) as info:
        load_project(project)
    assert f"Pulumi.staging.yaml: config.gitops-platform:ingress.{expected}" in str(info.value)

