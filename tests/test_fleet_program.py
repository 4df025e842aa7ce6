"""A hub and two spokes as whole programs under Pulumi's mocks.

The fleet is a copy of the example project whose stack files are edited copies
of the shipped ones: ``hub`` (from dev, the registry owner), ``spoke-a`` (from
staging) and ``spoke-b`` (from prod), each in its own account with its own
cluster name and VPC range. The hub runs first; its exports are what the
spokes' StackReference reads, secrets included.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc

from components.fleet import (
    ARGOCD_SERVICE_ACCOUNTS,
    SPOKE_ROLES,
    cluster_config,
    cluster_secret_metadata,
    fleet_policy,
    fleet_role_name,
    spoke_role_arn,
    spoke_role_name,
    spoke_trust_policy,
)
from pulumi_harness import (
    REPO_ROOT,
    Export,
    ProgramRun,
    RecordingMocks,
    Registration,
    delete_order,
    deleted_before,
    project_copy,
    write_stack,
)

NS = "gitops-platform"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
K8S_PROVIDER = "pulumi:providers:kubernetes"
DRAINED = "pulumi-python:dynamic/argocd:ApplicationsDrained"
CLUSTER_LABEL = "argocd.argoproj.io/secret-type"
HUB_ROLE_ARN = "arn:aws:iam::111111111111:role/shop-hub-argocd-fleet"
SPOKES = {"spoke-a": ("shop-spoke-a", "222222222222"), "spoke-b": ("shop-spoke-b", "333333333333")}


def _stack_edit(cluster: str, cidr: str, argocd: dict[str, Any], owner: bool) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        config[f"{NS}:cluster"].update(name=cluster, vpcCidr=cidr)
        config[f"{NS}:registry"]["owner"] = owner
        config[f"{NS}:argocd"] = argocd
        if argocd.get("topology") == "spoke":
            # A spoke's notifications go out through its hub's notifiers, and this hub (dev's copy) has none.
            config.pop(f"{NS}:notifications", None)
    return edit


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """The example project with the hub and spoke stack files instead of the shipped ones."""
    root = project_copy(tmp_path, stacks=())
    write_stack(root, "hub", REPO_ROOT / "Pulumi.dev.yaml",
                _stack_edit("shop-hub", "10.100.0.0/16", {"topology": "hub"}, owner=True))
    write_stack(root, "spoke-a", REPO_ROOT / "Pulumi.staging.yaml",
                _stack_edit("shop-spoke-a", "10.101.0.0/16", {"topology": "spoke", "hub": "hub"}, owner=False))
    write_stack(root, "spoke-b", REPO_ROOT / "Pulumi.prod.yaml",
                _stack_edit("shop-spoke-b", "10.102.0.0/16", {"topology": "spoke", "hub": "hub"}, owner=False))
    return root


@pytest.fixture
def hub(program: ProgramRun, fleet: Path) -> tuple[RecordingMocks, dict[str, Export]]:
    return program("hub", root=fleet)


@pytest.fixture
def spoke(program: ProgramRun, fleet: Path, hub: tuple[RecordingMocks, dict[str, Export]]) -> Callable[..., tuple[RecordingMocks, dict[str, Export]]]:
    """``spoke("spoke-a", preview=False)``: run a spoke stack, its hub reference answered with the hub's exports."""
    _, hub_exports = hub

    def run(name: str, preview: bool = False) -> tuple[RecordingMocks, dict[str, Export]]:
        return program(name, root=fleet, preview=preview, stack_outputs={"hub": hub_exports})

    return run


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _unsecret(value: Any) -> Any:
    return value["value"] if _is_secret(value) else value


def _chart(reg: Registration) -> str:
    return str(reg.inputs["chart"])


def _cluster_secrets(mocks: RecordingMocks) -> list[Registration]:
    return [r for r in mocks.of_type(SECRET) if r.inputs["metadata"].get("labels", {}).get(CLUSTER_LABEL) == "cluster"]


def _only(regs: list[Registration]) -> Registration:
    assert len(regs) == 1, [r.name for r in regs]
    return regs[0]


# --- pure values --------------------------------------------------------------------------


def test_the_fleet_policy_allows_exactly_assuming_spoke_roles() -> None:
    (statement,) = json.loads(fleet_policy())["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert not any("*" in action for action in statement["Action"])
    assert statement["Resource"] == "arn:aws:iam::*:role/*-argocd-spoke"
    assert spoke_role_name("shop-spoke-a").endswith("-argocd-spoke")


def test_a_spoke_trusts_exactly_the_role_it_is_given() -> None:
    (statement,) = json.loads(spoke_trust_policy(HUB_ROLE_ARN))["Statement"]
    assert statement == {"Effect": "Allow", "Principal": {"AWS": HUB_ROLE_ARN},
                         "Action": ["sts:AssumeRole", "sts:TagSession"]}


def test_role_names_and_arns_follow_the_cluster_name() -> None:
    assert fleet_role_name("shop-hub") == "shop-hub-argocd-fleet"
    assert spoke_role_arn("222222222222", "shop-spoke-a") == "arn:aws:iam::222222222222:role/shop-spoke-a-argocd-spoke"
    # Cluster names are at most 40 characters; IAM role names at most 64.
    assert len(spoke_role_name("x" * 40)) <= 64 and len(fleet_role_name("x" * 40)) <= 64


def test_the_cluster_config_is_an_eks_login_with_the_ca_checked() -> None:
    config = json.loads(cluster_config("shop-spoke-a", "arn:aws:iam::2:role/r", "Q0E="))
    assert config == {"awsAuthConfig": {"clusterName": "shop-spoke-a", "roleARN": "arn:aws:iam::2:role/r"},
                      "tlsClientConfig": {"insecure": False, "caData": "Q0E="}}


def test_the_cluster_label_is_always_set_and_given_labels_kept() -> None:
    metadata = cluster_secret_metadata("shop-spoke-a", "argocd", {"team": "platform", CLUSTER_LABEL: "other"}, {})
    assert metadata == {"name": "cluster-shop-spoke-a", "namespace": "argocd",
                        "labels": {"team": "platform", CLUSTER_LABEL: "cluster"}}
    assert cluster_secret_metadata("c", "argocd", {}, {"a": "b"})["annotations"] == {"a": "b"}


# --- the hub -----------------------------------------------------------------------------


def test_the_hub_gives_argocds_three_service_accounts_the_fleet_role(hub) -> None:
    mocks, _ = hub
    assert len(mocks.of_type("gitops-platform:fleet:HubAccess")) == 1
    associations = [r for r in mocks.of_type(POD_IDENTITY) if r.inputs["serviceAccount"] in ARGOCD_SERVICE_ACCOUNTS]
    assert sorted(r.inputs["serviceAccount"] for r in associations) == sorted(ARGOCD_SERVICE_ACCOUNTS)
    assert {(r.inputs["namespace"], r.inputs["clusterName"], r.inputs["roleArn"]) for r in associations} == {
        ("argocd", "shop-hub", HUB_ROLE_ARN)}
    release = next(r for r in mocks.of_type(RELEASE) if _chart(r) == "argo-cd")
    # Pod Identity credentials are injected at pod start: Argo CD's pods come after the associations.
    assert all(mocks.directly_depends_on(release, a) for a in associations)


def test_the_fleet_role_is_trusted_by_pod_identity_and_may_only_assume_spoke_roles(hub) -> None:
    mocks, _ = hub
    role = next(r for r in mocks.of_type(ROLE) if r.inputs["name"] == "shop-hub-argocd-fleet")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                      "Action": ["sts:AssumeRole", "sts:TagSession"]}]
    policies = [r for r in mocks.of_type(ROLE_POLICY) if r.inputs["role"] == "shop-hub-argocd-fleet"]
    statements = json.loads(_only(policies).inputs["policy"])["Statement"]
    assert statements == [{"Sid": "AssumeSpokeRoles", "Effect": "Allow",
                           "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": SPOKE_ROLES}]
    assert SPOKE_ROLES == "arn:aws:iam::*:role/*-argocd-spoke"
    assert not [r for r in mocks.of_type(ATTACHMENT) if r.inputs["role"] == "shop-hub-argocd-fleet"]


def test_the_hub_exports_what_spokes_register_with(hub) -> None:
    _, exports = hub
    assert exports["argocdFleetRoleArn"] == Export(HUB_ROLE_ARN, False)
    assert exports["argocdNamespace"] == Export("argocd", False)
    assert exports["clusterName"] == Export("shop-hub", False)
    assert exports["kubeconfig"].secret and json.loads(exports["kubeconfig"].value)["current-context"] == "shop-hub"


def test_the_hubs_drain_covers_every_application_whatever_its_destination(hub) -> None:
    mocks, _ = hub
    drained = _only(mocks.of_type(DRAINED))
    # Every Application: a spoke still registered stops the hub's destroy, naming it.
    assert not {"destinationName", "destinationServer", "clusterSecret"} & set(drained.inputs)


def test_a_hub_destroy_drains_before_the_root_the_image_updater_argocd_and_the_cluster(hub) -> None:
    mocks, _ = hub
    order = delete_order(mocks)
    drained = _only(mocks.of_type(DRAINED))
    releases = {_chart(r): r for r in mocks.of_type(RELEASE)}
    sequence = [drained, releases["argocd-apps"], releases["argocd-image-updater"], releases["argo-cd"],
                _only(mocks.of_type("aws:eks/cluster:Cluster"))]
    assert [r for r in order if r in sequence] == sequence


def test_a_hub_destroy_keeps_its_own_registration_and_the_sealing_controller_until_drained(hub) -> None:
    mocks, _ = hub
    order = delete_order(mocks)
    drained = _only(mocks.of_type(DRAINED))
    registration = mocks.named("fleet-hub-registration")
    sealing = _only([r for r in mocks.of_type(RELEASE) if _chart(r) == "sealed-secrets"])
    # The registration's labels select the hub's add-ons: losing them early would delete those mid-drain.
    assert mocks.directly_depends_on(drained, registration) and deleted_before(order, drained, registration)
    assert mocks.directly_depends_on(drained, sealing) and deleted_before(order, drained, sealing)


# --- the spokes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_a_spoke_runs_no_argocd_of_its_own_but_keeps_its_sealing_key(spoke, name: str) -> None:
    mocks, exports = spoke(name)
    assert mocks.of_type("gitops-platform:argocd:ArgoCD") == []
    # Argo Rollouts too: the example's web-frontend is a canary, and its Rollout runs on the spoke.
    assert sorted(_chart(r) for r in mocks.of_type(RELEASE)) == ["argo-rollouts", "aws-load-balancer-controller",
                                                                  "cluster-autoscaler", "sealed-secrets"]
    assert len(mocks.of_type("gitops-platform:sealing:SealingKey")) == 1
    assert len(mocks.of_type("gitops-platform:gitops:GitOpsRepo")) == 1
    assert _only(mocks.of_type("pulumi:pulumi:StackReference")).name == "hub"
    assert "argocdUrl" not in exports and "imageUpdaterRoleArn" not in exports


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_the_cluster_secret_is_written_into_the_hub_through_the_hubs_kubeconfig(spoke, name: str) -> None:
    cluster, account = SPOKES[name]
    mocks, exports = spoke(name)
    secret = _only(_cluster_secrets(mocks))
    providers = {r.name: r for r in mocks.of_type(K8S_PROVIDER)}
    hub_provider, own_provider = providers["fleet-hub-k8s"], providers["eks-k8s"]
    assert secret.provider.startswith(mocks.links_of(hub_provider).urn + "::")
    assert not secret.provider.startswith(mocks.links_of(own_provider).urn + "::")
    # The hub provider is made from the hub stack's (secret) kubeconfig and names the hub cluster.
    assert _is_secret(hub_provider.inputs["kubeconfig"])
    assert json.loads(_unsecret(hub_provider.inputs["kubeconfig"]))["current-context"] == "shop-hub"
    assert _unsecret(hub_provider.inputs["clusterIdentifier"]) == "shop-hub"
    assert mocks.links_of(_only(mocks.of_type("pulumi:pulumi:StackReference"))).urn in \
        mocks.links_of(hub_provider).dependencies
    # Every other in-cluster resource stays on the spoke's own cluster.
    others = [r for r in mocks.registrations if r.typ.startswith("kubernetes:") and r is not secret]
    assert others and all(r.provider.startswith(mocks.links_of(own_provider).urn + "::") for r in others)

    metadata = secret.inputs["metadata"]
    assert (metadata["name"], metadata["namespace"]) == (f"cluster-{cluster}", "argocd")
    assert metadata["labels"][CLUSTER_LABEL] == "cluster"
    assert secret.inputs["type"] == "Opaque"
    assert _is_secret(secret.inputs["stringData"])
    data = _unsecret(secret.inputs["stringData"])
    assert data["name"] == cluster
    assert data["server"] == exports["clusterEndpoint"].value
    assert json.loads(data["config"]) == {
        "awsAuthConfig": {"clusterName": cluster, "roleARN": f"arn:aws:iam::{account}:role/{cluster}-argocd-spoke"},
        "tlsClientConfig": {"insecure": False, "caData": base64.b64encode(b"mock-ca").decode()},
    }


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_only_the_hubs_fleet_role_may_assume_the_spoke_role_which_has_no_iam_permissions(spoke, name: str) -> None:
    cluster, account = SPOKES[name]
    mocks, exports = spoke(name)
    role = next(r for r in mocks.of_type(ROLE) if r.inputs["name"] == f"{cluster}-argocd-spoke")
    trust = json.loads(_unsecret(role.inputs["assumeRolePolicy"]))["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"AWS": HUB_ROLE_ARN},
                      "Action": ["sts:AssumeRole", "sts:TagSession"]}]
    role_names = {role.inputs["name"]}
    assert not [r for r in mocks.of_type(ROLE_POLICY) + mocks.of_type(ATTACHMENT) if r.inputs["role"] in role_names]
    role_arn = f"arn:aws:iam::{account}:role/{cluster}-argocd-spoke"
    assert exports["argocdSpokeRoleArn"] == Export(role_arn, False)


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_the_spoke_role_is_cluster_admin_through_an_access_entry(spoke, name: str) -> None:
    cluster, account = SPOKES[name]
    mocks, _ = spoke(name)
    role_arn = f"arn:aws:iam::{account}:role/{cluster}-argocd-spoke"
    entry = _only([r for r in mocks.of_type(ACCESS_ENTRY) if r.inputs["principalArn"] == role_arn])
    assert (entry.inputs["clusterName"], entry.inputs["type"]) == (cluster, "STANDARD")
    policy = _only([r for r in mocks.of_type(ACCESS_POLICY) if r.inputs["principalArn"] == role_arn])
    assert policy.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert policy.inputs["accessScope"] == {"type": "cluster"}


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_a_spokes_drain_depends_on_its_cluster_secret_access_cluster_and_sealing_controller(
        spoke, name: str) -> None:
    mocks, _ = spoke(name)
    drained = _only(mocks.of_type(DRAINED))
    # Argo CD reaches the spoke through the Secret and the access entry while the drain deletes.
    assert mocks.directly_depends_on(drained, _only(_cluster_secrets(mocks)))
    assert mocks.directly_depends_on(drained, mocks.named("fleet-access"))
    assert mocks.directly_depends_on(drained, mocks.named("fleet-access-admin"))
    assert mocks.depends_on(drained, _only(mocks.of_type("aws:eks/cluster:Cluster")))
    assert mocks.depends_on(drained, _only(mocks.of_type("aws:eks/nodeGroup:NodeGroup")))
    # The hub deploys once sealed secrets can be opened, and the controller stays until the drain is done.
    assert mocks.depends_on(drained, _only([r for r in mocks.of_type(RELEASE) if _chart(r) == "sealed-secrets"]))


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_a_spoke_destroy_drains_before_removing_its_secret_then_its_access_then_its_cluster(
        spoke, name: str) -> None:
    mocks, _ = spoke(name)
    order = delete_order(mocks)
    sequence = [_only(mocks.of_type(DRAINED)), _only(_cluster_secrets(mocks)), mocks.named("fleet-access-admin"),
                mocks.named("fleet-access"), _only(mocks.of_type("aws:eks/cluster:Cluster"))]
    assert [r for r in order if r in sequence] == sequence


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_the_secret_is_written_once_argocd_can_log_in_and_the_first_sync_can_open_sealed_secrets(
        spoke, name: str) -> None:
    mocks, _ = spoke(name)
    secret = _only(_cluster_secrets(mocks))
    assert mocks.directly_depends_on(secret, mocks.named("fleet-access-admin"))
    assert mocks.depends_on(secret, _only([r for r in mocks.of_type(RELEASE) if _chart(r) == "sealed-secrets"]))


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_a_spokes_drain_works_on_the_hub_for_this_cluster_and_unlabels_its_secret(spoke, name: str) -> None:
    cluster, _ = SPOKES[name]
    mocks, exports = spoke(name)
    drained = _only(mocks.of_type(DRAINED))
    assert _is_secret(drained.inputs["kubeconfig"])
    assert json.loads(_unsecret(drained.inputs["kubeconfig"]))["current-context"] == "shop-hub"
    assert drained.inputs["namespace"] == "argocd"
    assert drained.inputs["destinationName"] == cluster
    assert drained.inputs["destinationServer"] == exports["clusterEndpoint"].value
    assert drained.inputs["clusterSecret"] == _only(_cluster_secrets(mocks)).inputs["metadata"]["name"]


def test_two_spokes_register_under_different_names(spoke) -> None:
    names = set()
    for name in sorted(SPOKES):
        mocks, _ = spoke(name)
        names.add(_only(_cluster_secrets(mocks)).inputs["metadata"]["name"])
    assert names == {"cluster-shop-spoke-a", "cluster-shop-spoke-b"}


def test_a_spoke_previews_before_its_cluster_exists(spoke) -> None:
    mocks, _ = spoke("spoke-a", preview=True)
    secret = _only(_cluster_secrets(mocks))
    assert secret.inputs["metadata"]["name"] == "cluster-shop-spoke-a"


def test_a_spokes_secrets_appear_only_as_secret_outputs(spoke) -> None:
    _, exports = spoke("spoke-a")
    secret = {name for name, export in exports.items() if export.secret}
    assert secret == {"kubeconfig", "sealingPrivateKey", "sealingStabilityKey"}
    assert exports["argocdHub"] == Export("hub", False)
    assert exports["clusterCertificateAuthority"] == Export(base64.b64encode(b"mock-ca").decode(), False)


# --- a standalone cluster -----------------------------------------------------------------


def test_a_standalone_destroy_drains_before_the_root_the_image_updater_argocd_and_the_cluster(
        program: ProgramRun) -> None:
    mocks, _ = program("dev")
    order = delete_order(mocks)
    drained = _only(mocks.of_type(DRAINED))
    releases = {_chart(r): r for r in mocks.of_type(RELEASE)}
    sequence = [drained, releases["argocd-apps"], releases["argocd-image-updater"], releases["argo-cd"],
                _only(mocks.of_type("aws:eks/cluster:Cluster"))]
    assert [r for r in order if r in sequence] == sequence
    assert deleted_before(order, drained, releases["sealed-secrets"])
    assert _is_secret(drained.inputs["kubeconfig"]) and drained.inputs["namespace"] == "argocd"
    assert not {"destinationName", "destinationServer", "clusterSecret"} & set(drained.inputs)
    assert mocks.of_type("gitops-platform:fleet:HubAccess") == [] and _cluster_secrets(mocks) == []


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_the_spokes_secret_carries_the_metadata_the_hubs_applicationsets_select_and_read(spoke, name: str) -> None:
    cluster, account = SPOKES[name]
    mocks, _ = spoke(name)
    metadata = _only(_cluster_secrets(mocks)).inputs["metadata"]
    assert metadata["labels"]["gitops-platform.io/role"] == "spoke"
    assert metadata["labels"]["gitops-platform.io/cluster"] == cluster
    assert metadata["annotations"]["gitops-platform.io/argocd-role-arn"] == f"arn:aws:iam::{account}:role/{cluster}-argocd-spoke"


@pytest.mark.parametrize("name", sorted(SPOKES))
def test_a_spoke_publishes_its_registration_metadata_in_the_gitops_repository(spoke, name: str) -> None:
    cluster, _ = SPOKES[name]
    mocks, exports = spoke(name)
    files = mocks.named("gitops-cluster").inputs["files"]
    registration = yaml.safe_load(files[f"clusters/{cluster}/registration.yaml"])
    assert registration["stringData"] == {"name": cluster, "server": exports["clusterEndpoint"].value}
    assert "config" not in registration["stringData"]


def test_the_hub_registers_itself_with_its_labels_and_no_credentials(hub) -> None:
    mocks, _ = hub
    secret = mocks.named("fleet-hub-registration").inputs
    assert secret["metadata"]["labels"]["gitops-platform.io/role"] == "hub"
    assert _unsecret(secret["stringData"]) == {"name": "shop-hub", "server": "https://kubernetes.default.svc"}


def test_a_stack_made_by_new_cluster_runs_under_the_program_unchanged(program: ProgramRun, run, tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    made = run("new-cluster", "shop-prod-eu2", "--env", "prod", "--region", "eu-west-2", "--project", root)
    assert made.code == 0, made.err
    mocks, exports = program("shop-prod-eu2", root=root)
    assert exports["clusterName"].value == "shop-prod-eu2"
    cluster = _only(mocks.of_type("aws:eks/cluster:Cluster"))
    assert cluster.inputs["name"] == "shop-prod-eu2"
    assert mocks.of_type("aws:ecr/repository:Repository") == []   # a new cluster never owns the registry
