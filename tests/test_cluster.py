"""The Cluster component: network, EKS control plane, access, nodes and a provider that waits for them."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.cluster import (
    CLUSTER_ADMIN_POLICY,
    CLUSTER_VIEW_POLICY,
    Cluster,
    ClusterArgs,
    admin_names,
    kubeconfig,
)
from gitops.model import ClusterConfig, NodeGroup
from gitops.network import subnet_plan
from pulumi_harness import RecordingMocks, Replacement, changed_resources, name_collisions, replacements

ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
BREAK_GLASS = "arn:aws:iam::123456789012:role/ops/break-glass"
DEPLOY = "arn:aws:iam::123456789012:role/ci/gitops-platform-deploy"
PREVIEW = "arn:aws:iam::123456789012:role/ci/gitops-platform-preview"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
CONFIG = ClusterConfig(
    name="shop-dev", kubernetes_version="1.33", vpc_cidr="10.0.0.0/16", availability_zones=3, subnet_ids=(),
    node_group=NodeGroup(instance_types=("m6i.large", "m7i.large"), min_size=2, max_size=5, desired_size=3,
                         disk_size_gib=80),
    endpoint_public_access=True, endpoint_private_access=True, public_access_cidrs=("203.0.113.0/24",),
    admin_role_arns=(ADMIN, BREAK_GLASS), deploy_role_arn=DEPLOY,
)
GIVEN_SUBNETS = ("subnet-0aaa1111", "subnet-0bbb2222")
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")


def _build(start, config: ClusterConfig = CONFIG, **extra):
    mocks = start()
    holder = {}

    @pulumi.runtime.test
    def program():
        holder["cluster"] = Cluster("eks", ClusterArgs(config, "eu-west-1", **extra))

    program()
    return mocks, holder["cluster"]


def _missing_before(mocks: RecordingMocks, later: str, earlier: Iterable[str]) -> list[str]:
    """Which of ``earlier`` the registration ``later`` does not itself depend on (sorted, for the message)."""
    return sorted(n for n in earlier if not mocks.directly_depends_on(mocks.named(later), mocks.named(n)))


def _resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    """The value of an already settled output and whether it is secret."""
    loop = asyncio.get_event_loop()
    return loop.run_until_complete(output.future()), loop.run_until_complete(output.is_secret())


# Pure functions -------------------------------------------------------------------------------------------


def test_a_slash_16_gets_slash_19_private_and_slash_22_public_subnets_per_zone() -> None:
    plan = subnet_plan("10.0.0.0/16", 3)
    assert [z.private for z in plan] == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert [z.public for z in plan] == ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"]


@pytest.mark.parametrize("vpc", ["10.0.0.0/16", "172.16.0.0/18", "10.8.0.0/20", "192.168.4.0/22"])
@pytest.mark.parametrize("zones", [2, 3, 6])
def test_subnets_lie_inside_the_vpc_and_never_overlap(vpc: str, zones: int) -> None:
    plan = subnet_plan(vpc, zones)
    assert plan == subnet_plan(vpc, zones)
    nets = [ipaddress.IPv4Network(c) for z in plan for c in (z.private, z.public)]
    assert len(nets) == 2 * zones
    assert all(n.subnet_of(ipaddress.IPv4Network(vpc)) and n.prefixlen <= 28 for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


def test_adding_a_zone_keeps_the_subnets_of_the_existing_zones() -> None:
    assert subnet_plan("10.0.0.0/16", 3)[:2] == subnet_plan("10.0.0.0/16", 2)


@pytest.mark.parametrize("vpc", ["10.0.0.0/23", "10.0.0.0/24"])
def test_a_vpc_too_small_for_the_layout_is_refused_naming_the_cidr(vpc: str) -> None:
    with pytest.raises(ValueError, match="too small") as info:
        subnet_plan(vpc, 2)
    assert vpc in str(info.value)


def test_a_cidr_with_host_bits_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.1/16"):
        subnet_plan("10.0.0.1/16", 2)


def test_admin_resources_are_named_after_the_role_not_its_position() -> None:
    assert admin_names([ADMIN, BREAK_GLASS]) == {ADMIN: "platform-admin", BREAK_GLASS: "break-glass"}
    assert admin_names([BREAK_GLASS, ADMIN, BREAK_GLASS]) == {BREAK_GLASS: "break-glass", ADMIN: "platform-admin"}


def test_two_admin_roles_with_the_same_name_are_refused() -> None:
    with pytest.raises(ValueError, match="platform-admin"):
        admin_names([ADMIN, "arn:aws:iam::210987654321:role/platform-admin"])


def test_the_kubeconfig_authenticates_with_aws_eks_get_token_for_the_cluster_and_region() -> None:
    config = json.loads(kubeconfig("shop-dev", "https://api.example", "Q0E=", "eu-central-1"))
    assert config["clusters"][0]["cluster"] == {"server": "https://api.example", "certificate-authority-data": "Q0E="}
    assert config["current-context"] == "shop-dev"
    user = config["users"][0]["user"]
    assert set(user) == {"exec"}
    assert user["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["exec"]["command"] == "aws"
    args = user["exec"]["args"]
    assert args[:2] == ["eks", "get-token"]
    assert args[args.index("--cluster-name") + 1] == "shop-dev"
    assert args[args.index("--region") + 1] == "eu-central-1"


# Network --------------------------------------------------------------------------------------------------


def test_the_vpc_resolves_dns_for_the_private_endpoint(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    vpc = mocks.named("eks-vpc").inputs
    assert vpc["cidrBlock"] == "10.0.0.0/16"
    assert vpc["enableDnsSupport"] is True and vpc["enableDnsHostnames"] is True


def test_each_zone_gets_a_public_and_a_private_subnet_tagged_for_load_balancers(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    plan = subnet_plan("10.0.0.0/16", 3)
    for zone, cidrs in zip(ZONES, plan, strict=True):
        public = mocks.named(f"eks-public-{zone}").inputs
        private = mocks.named(f"eks-private-{zone}").inputs
        assert (public["availabilityZone"], public["cidrBlock"]) == (zone, cidrs.public)
        assert (private["availabilityZone"], private["cidrBlock"]) == (zone, cidrs.private)
        assert public["tags"]["kubernetes.io/role/elb"] == "1"
        assert private["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in public["tags"]
        assert "kubernetes.io/role/elb" not in private["tags"]
        for subnet in (public, private):
            assert subnet["tags"]["kubernetes.io/cluster/shop-dev"] == "shared"
    assert len(mocks.of_type("aws:ec2/subnet:Subnet")) == 6


def test_only_the_configured_number_of_zones_is_used(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, availability_zones=2))
    assert sorted(s.inputs["availabilityZone"] for s in mocks.of_type("aws:ec2/subnet:Subnet")) == \
        ["eu-west-1a", "eu-west-1a", "eu-west-1b", "eu-west-1b"]
    zone_calls = [args for token, args in mocks.calls if token == "aws:index/getAvailabilityZones:getAvailabilityZones"]
    assert zone_calls == [{"state": "available"}]


def test_more_zones_than_the_region_has_is_an_error(pulumi_mocks) -> None:
    with pytest.raises(ValueError, match="only 3 available zones"):
        _build(pulumi_mocks, dataclasses.replace(CONFIG, availability_zones=4))


def test_each_zone_has_its_own_nat_gateway_so_a_zone_outage_keeps_egress_elsewhere(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert len(mocks.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert {e.inputs["domain"] for e in mocks.of_type("aws:ec2/eip:Eip")} == {"vpc"}
    for zone in ZONES:
        nat = mocks.named(f"eks-nat-{zone}").inputs
        assert nat["subnetId"] == f"eks-public-{zone}-id"
        assert nat["allocationId"] == f"eks-nat-{zone}-eip-id"
        egress = mocks.named(f"eks-private-{zone}-egress").inputs
        assert egress == {"routeTableId": f"eks-private-{zone}-rt-id", "destinationCidrBlock": "0.0.0.0/0",
                          "natGatewayId": f"eks-nat-{zone}-id"}
        assert mocks.named(f"eks-private-{zone}-rta").inputs["subnetId"] == f"eks-private-{zone}-id"
        assert mocks.named(f"eks-public-{zone}-rta").inputs["routeTableId"] == "eks-public-rt-id"


def test_public_subnets_route_to_the_internet_gateway(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    route = mocks.named("eks-public-internet").inputs
    assert route == {"routeTableId": "eks-public-rt-id", "destinationCidrBlock": "0.0.0.0/0", "gatewayId": "eks-igw-id"}
    assert mocks.named("eks-igw").inputs["vpcId"] == "eks-vpc-id"


def test_given_subnets_are_used_as_they_are_and_no_network_is_created(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, subnet_ids=GIVEN_SUBNETS))
    assert [r.typ for r in mocks.registrations if r.typ.startswith("aws:ec2/")] == []
    assert not any(token.endswith("getAvailabilityZones") for token, _ in mocks.calls)
    assert mocks.named("eks-cluster").inputs["vpcConfig"]["subnetIds"] == list(GIVEN_SUBNETS)
    assert mocks.named("eks-default").inputs["subnetIds"] == list(GIVEN_SUBNETS)


# Control plane --------------------------------------------------------------------------------------------


def test_the_cluster_is_named_from_config_and_pinned_to_its_kubernetes_version(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, kubernetes_version="1.32"))
    cluster = mocks.named("eks-cluster").inputs
    assert (cluster["name"], cluster["version"]) == ("shop-dev", "1.32")


def test_the_control_plane_spans_private_and_public_subnets_of_a_created_network(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    subnets = mocks.named("eks-cluster").inputs["vpcConfig"]["subnetIds"]
    assert sorted(subnets) == sorted(f"eks-{kind}-{zone}-id" for kind in ("public", "private") for zone in ZONES)


def test_secrets_are_envelope_encrypted_with_a_rotating_kms_key(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    key = mocks.named("eks-secrets-key").inputs
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    alias = mocks.named("eks-secrets-alias").inputs
    assert alias == {"name": "alias/shop-dev-eks-secrets", "targetKeyId": "eks-secrets-key"}
    encryption = mocks.named("eks-cluster").inputs["encryptionConfig"]
    assert encryption == {"provider": {"keyArn": "arn:aws:kms:eu-west-1:123456789012:key/eks-secrets-key"},
                          "resources": ["secrets"]}


def test_control_plane_logs_go_to_a_retained_log_group_created_before_the_cluster(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, log_retention_days=365)
    logs = mocks.named("eks-control-plane-logs").inputs
    assert (logs["name"], logs["retentionInDays"]) == ("/aws/eks/shop-dev/cluster", 365)
    assert mocks.named("eks-cluster").inputs["enabledClusterLogTypes"] == [
        "api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert mocks.directly_depends_on(mocks.named("eks-cluster"), mocks.named("eks-control-plane-logs"))


def test_the_cluster_role_trusts_eks_and_has_the_cluster_policy_before_the_cluster_exists(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    role = mocks.named("eks-cluster-role").inputs
    assert role["name"] == "shop-dev-cluster"
    trust = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attachment = mocks.named("eks-cluster-AmazonEKSClusterPolicy").inputs
    assert attachment == {"role": "shop-dev-cluster", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}
    assert mocks.named("eks-cluster").inputs["roleArn"] == "arn:aws:iam::123456789012:role/shop-dev-cluster"
    assert mocks.directly_depends_on(mocks.named("eks-cluster"), mocks.named("eks-cluster-AmazonEKSClusterPolicy"))


def test_access_is_managed_by_the_eks_api_and_creating_the_cluster_grants_no_admin(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert mocks.named("eks-cluster").inputs["accessConfig"] == {
        "authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


def test_a_cluster_created_with_creator_admin_is_not_replaced_by_the_switch(pulumi_mocks) -> None:
    before, _ = _build(pulumi_mocks)
    # What the state of a cluster created by the earlier program says (the API never reports it).
    before.named("eks-cluster").inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] = True
    after, _ = _build(pulumi_mocks)
    assert replacements(before, after) == []


def test_endpoint_access_and_allowed_cidrs_follow_the_config(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, endpoint_private_access=False))
    assert mocks.named("eks-cluster").inputs["vpcConfig"] | {"subnetIds": None} == {
        "subnetIds": None, "endpointPublicAccess": True, "endpointPrivateAccess": False,
        "publicAccessCidrs": ["203.0.113.0/24"]}


def test_public_access_without_cidrs_leaves_the_aws_default(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, public_access_cidrs=()))
    assert "publicAccessCidrs" not in mocks.named("eks-cluster").inputs["vpcConfig"]


def test_a_private_only_endpoint_sends_no_public_cidrs(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, endpoint_public_access=False))
    vpc_config = mocks.named("eks-cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc_config


def test_each_admin_role_gets_a_cluster_admin_access_entry_named_after_the_role(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    for arn, role in ((ADMIN, "platform-admin"), (BREAK_GLASS, "break-glass")):
        entry = mocks.named(f"eks-admin-{role}").inputs
        assert (entry["clusterName"], entry["principalArn"], entry["type"]) == ("shop-dev", arn, "STANDARD")
        association = mocks.named(f"eks-admin-{role}-policy").inputs
        assert association == {"clusterName": "shop-dev", "principalArn": arn, "policyArn": CLUSTER_ADMIN_POLICY,
                               "accessScope": {"type": "cluster"}}
    assert CLUSTER_ADMIN_POLICY == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_reordering_admin_roles_keeps_every_resource_name(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, admin_role_arns=(BREAK_GLASS, ADMIN)))
    entries = {r.name: r.inputs["principalArn"] for r in mocks.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries == {"eks-admin-platform-admin": ADMIN, "eks-admin-break-glass": BREAK_GLASS,
                       "eks-admin-gitops-platform-deploy": DEPLOY}


def test_the_deploy_role_gets_its_own_cluster_admin_access_entry(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    entry = mocks.named("eks-admin-gitops-platform-deploy").inputs
    assert (entry["clusterName"], entry["principalArn"], entry["type"]) == ("shop-dev", DEPLOY, "STANDARD")
    assert mocks.named("eks-admin-gitops-platform-deploy-policy").inputs == {
        "clusterName": "shop-dev", "principalArn": DEPLOY, "policyArn": CLUSTER_ADMIN_POLICY,
        "accessScope": {"type": "cluster"}}


def test_a_deploy_role_also_listed_as_admin_gets_one_access_entry(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, admin_role_arns=(ADMIN, DEPLOY, BREAK_GLASS)))
    declared = [r.inputs["principalArn"] for r in mocks.of_type("aws:eks/accessEntry:AccessEntry")]
    # Asked to, EKS makes an entry of its own for the principal creating the cluster: the deploy role.
    made_by_eks = [DEPLOY] if mocks.named("eks-cluster").inputs["accessConfig"][
        "bootstrapClusterCreatorAdminPermissions"] else []
    assert sorted(declared + made_by_eks) == sorted({ADMIN, DEPLOY, BREAK_GLASS})
    associated = [r.inputs["principalArn"] for r in mocks.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")]
    assert associated.count(DEPLOY) == 1


def test_listing_the_deploy_role_among_the_admins_or_not_changes_no_resource(pulumi_mocks) -> None:
    before, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, admin_role_arns=(ADMIN, DEPLOY, BREAK_GLASS)))
    after, _ = _build(pulumi_mocks)
    assert sorted((r.typ, r.name) for r in before.registrations) == sorted((r.typ, r.name) for r in after.registrations)
    assert changed_resources(before, after) == []


def test_the_preview_role_reads_everything_secrets_included_at_cluster_scope(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, preview_role_arn=PREVIEW))
    entry = mocks.named("eks-preview-gitops-platform-preview").inputs
    assert (entry["clusterName"], entry["principalArn"], entry["type"]) == ("shop-dev", PREVIEW, "STANDARD")
    assert mocks.named("eks-preview-gitops-platform-preview-policy").inputs == {
        "clusterName": "shop-dev", "principalArn": PREVIEW, "policyArn": CLUSTER_VIEW_POLICY,
        "accessScope": {"type": "cluster"}}
    # The Kubernetes `view` role (AmazonEKSViewPolicy) cannot read the Helm releases' Secrets.
    assert CLUSTER_VIEW_POLICY == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"


def test_without_a_preview_role_no_read_only_access_exists(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert [r.name for r in mocks.registrations if "-preview-" in r.name] == []


# Nodes ----------------------------------------------------------------------------------------------------


def test_the_node_group_is_sized_from_config_in_the_private_subnets(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    nodes = mocks.named("eks-default").inputs
    assert nodes["clusterName"] == "shop-dev"
    assert nodes["amiType"] == "AL2023_x86_64_STANDARD"
    assert nodes["instanceTypes"] == ["m6i.large", "m7i.large"]
    assert nodes["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 3}
    assert nodes["diskSize"] == 80
    assert nodes["updateConfig"] == {"maxUnavailable": 1}
    assert nodes["subnetIds"] == [f"eks-private-{zone}-id" for zone in ZONES]


def test_every_node_group_gets_a_fresh_name_from_a_prefix(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    nodes = mocks.named("eks-default").inputs
    assert nodes["nodeGroupNamePrefix"] == "default-"
    assert "nodeGroupName" not in nodes


@pytest.mark.parametrize("change", [
    pytest.param({"instance_types": ("m7i.xlarge",)}, id="instance types"),
    pytest.param({"disk_size_gib": 120}, id="disk size"),
])
def test_a_replacing_node_group_change_gets_a_name_that_cannot_collide(pulumi_mocks, change: dict[str, Any]) -> None:
    before, _ = _build(pulumi_mocks)
    after, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, node_group=dataclasses.replace(CONFIG.node_group, **change)))
    [replaced] = replacements(before, after)
    assert (replaced.typ, replaced.name) == (NODE_GROUP, "eks-default")
    assert replaced.new_identity is None   # a fresh name per creation
    assert name_collisions(before, after) == []


def test_a_node_group_change_replaces_nothing_else(pulumi_mocks) -> None:
    before, _ = _build(pulumi_mocks)
    after, _ = _build(pulumi_mocks, dataclasses.replace(
        CONFIG, node_group=dataclasses.replace(CONFIG.node_group, instance_types=("m7i.xlarge",), disk_size_gib=120)))
    assert changed_resources(before, after) == [(NODE_GROUP, "eks-default")]
    assert replacements(before, after) == [Replacement(NODE_GROUP, "eks-default", ("diskSize", "instanceTypes"), None, None)]


def test_the_node_group_follows_the_cluster_version(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert mocks.named("eks-default").inputs["version"] == "1.33"


def test_autoscalers_own_the_desired_size(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert mocks.links_of(mocks.named("eks-default")).ignore_changes == ("scalingConfig.desiredSize",)


def test_nodes_wait_for_their_role_policies_and_their_route_out(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    needed = {"eks-node-AmazonEKSWorkerNodePolicy", "eks-node-AmazonEKS_CNI_Policy",
              "eks-node-AmazonEC2ContainerRegistryReadOnly", *(f"eks-private-{zone}-egress" for zone in ZONES)}
    assert _missing_before(mocks, "eks-default", needed) == []


def test_the_node_role_trusts_ec2_with_the_worker_cni_and_ecr_read_policies(pulumi_mocks) -> None:
    mocks, cluster = _build(pulumi_mocks)
    role = mocks.named("eks-node-role").inputs
    assert role["name"] == "shop-dev-node"
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {a.inputs["policyArn"] for a in mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == "shop-dev-node"}
    assert attached == {f"arn:aws:iam::aws:policy/{p}" for p in
                        ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")}
    assert mocks.named("eks-default").inputs["nodeRoleArn"] == "arn:aws:iam::123456789012:role/shop-dev-node"
    assert _resolve(cluster.node_role_arn)[0] == "arn:aws:iam::123456789012:role/shop-dev-node"


def test_the_pod_identity_agent_is_installed_once_nodes_exist(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    addon = mocks.named("eks-pod-identity-agent").inputs
    assert addon["addonName"] == "eks-pod-identity-agent"
    assert addon["clusterName"] == "shop-dev"
    assert (addon["resolveConflictsOnCreate"], addon["resolveConflictsOnUpdate"]) == ("OVERWRITE", "OVERWRITE")
    assert mocks.directly_depends_on(mocks.named("eks-pod-identity-agent"), mocks.named("eks-default"))


# Tags -----------------------------------------------------------------------------------------------------


def test_the_given_tags_are_on_every_taggable_resource(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, tags={"team": "platform", "cost-center": "42"})
    untaggable = ("aws:kms/alias:Alias", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:ec2/route:Route",
                  "aws:ec2/routeTableAssociation:RouteTableAssociation",
                  "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    aws_resources = [r for r in mocks.registrations if r.typ.startswith("aws:") and r.typ not in untaggable]
    assert len(aws_resources) > 20
    for resource in aws_resources:
        assert {"team": "platform", "cost-center": "42"}.items() <= resource.inputs["tags"].items(), resource.name


# Kubernetes provider and outputs --------------------------------------------------------------------------


def test_the_kubeconfig_is_secret_and_execs_aws_eks_get_token(pulumi_mocks) -> None:
    _, cluster = _build(pulumi_mocks)
    text, secret = _resolve(cluster.kubeconfig)
    assert secret is True
    config = json.loads(text)
    assert config["clusters"][0]["cluster"]["server"] == "https://shop-dev.gr7.eu-west-1.eks.amazonaws.com"
    exec_args = config["users"][0]["user"]["exec"]["args"]
    assert exec_args[:6] == ["eks", "get-token", "--cluster-name", "shop-dev", "--region", "eu-west-1"]


def test_the_public_outputs_come_from_the_cluster(pulumi_mocks) -> None:
    _, cluster = _build(pulumi_mocks)
    assert _resolve(cluster.name) == ("shop-dev", False)
    assert _resolve(cluster.endpoint)[0] == "https://shop-dev.gr7.eu-west-1.eks.amazonaws.com"
    assert _resolve(cluster.certificate_authority)[0] == "bW9jay1jYQ=="


def test_the_provider_keeps_its_identity_when_the_kubeconfig_changes(pulumi_mocks) -> None:
    mocks, cluster = _build(pulumi_mocks)
    provider = mocks.named("eks-k8s")
    assert provider.typ == "pulumi:providers:kubernetes"
    assert provider.inputs["clusterIdentifier"] == "shop-dev"
    assert provider.inputs["enableServerSideApply"] == "true"  # provider inputs travel JSON-encoded
    assert isinstance(cluster.provider, k8s.Provider)


def test_in_cluster_installs_wait_for_nodes_the_agent_and_admin_access(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    needed = {"eks-default", "eks-pod-identity-agent", "eks-admin-platform-admin-policy", "eks-admin-break-glass-policy"}
    assert _missing_before(mocks, "eks-k8s", needed) == []


def test_the_provider_waits_for_the_deploy_roles_admin_access(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(CONFIG, admin_role_arns=()))
    assert _missing_before(mocks, "eks-k8s", {"eks-admin-gitops-platform-deploy-policy"}) == []


def test_the_component_registers_under_its_gitops_platform_type_and_parents_everything(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    component = [r for r in mocks.registrations if r.typ == "gitops-platform:cluster:Cluster"]
    assert len(component) == 1 and component[0].custom is False
    children = [r for r in mocks.registrations if r.custom]
    assert all(r.name.startswith("eks-") for r in children)
    assert all("gitops-platform:cluster:Cluster$" in mocks.links_of(r).urn for r in children)
    assert {mocks.links_of(r).parent for r in children} == {mocks.links_of(component[0]).urn}


def test_the_vpc_cni_enforces_network_policies(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    addon = next(r for r in mocks.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == "vpc-cni")
    assert json.loads(addon.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
