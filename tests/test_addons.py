"""The cluster add-ons: load balancer controller, metrics-server and Cluster Autoscaler, each on unless switched off."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.addons import (
    AddonsConfigError,
    ClusterAddons,
    ClusterAddonsArgs,
    cluster_autoscaler_policy,
    load_balancer_controller_policy,
    load_balancer_controller_values,
)
from components.argocd import pod_identity_trust_policy
from components.charts import AWS_LOAD_BALANCER_CONTROLLER, CLUSTER_AUTOSCALER_BY_KUBERNETES
from gitops.errors import InputError
from gitops.model import AddonsConfig, Autoscaler
from gitops.project import load_project
from policy import rules
from pulumi_harness import MOCK_VPC_ID, REPO_ROOT, RecordingMocks, Registration, program  # noqa: F401  (program: the fixture)
from test_fleet_program import fleet, hub, spoke  # noqa: F401  (fixtures)

RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
EKS_ADDON = "aws:eks/addon:Addon"
COMPONENT = "gitops-platform:addons:ClusterAddons"
ACCOUNT = "444455556666"
REGION = "eu-central-1"
CLUSTER = "shop-qa"
VPC = "vpc-0123456789abcdef0"
TAGS = {"managed-by": "gitops-platform", "environment": "qa"}
ARGS = ClusterAddonsArgs(config=AddonsConfig(), cluster_name=CLUSTER, kubernetes_version="1.33", account_id=ACCOUNT,
                         region=REGION, vpc_id=VPC, stack_file="Pulumi.qa.yaml", tags=TAGS)
LB_CONTROLLER = "aws-load-balancer-controller"
AUTOSCALER = "cluster-autoscaler"
NS = "gitops-platform"


def _build(start: Callable[..., RecordingMocks], args: ClusterAddonsArgs = ARGS) -> tuple[RecordingMocks, ClusterAddons]:
    mocks = start(stack="qa")
    holder = {}

    @pulumi.runtime.test
    def program():
        cluster = pulumi.CustomResource("test:index:Cluster", "cluster", {})
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="c")
        holder["addons"] = ClusterAddons("addons", dataclasses.replace(args, ready=[cluster]),
                                         pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}))

    program()
    return mocks, holder["addons"]


def _release(mocks: RecordingMocks, name: str) -> Registration:
    return next(r for r in mocks.of_type(RELEASE) if r.inputs["name"] == name)


def _association(mocks: RecordingMocks, service_account: str) -> Registration:
    return next(r for r in mocks.of_type(POD_IDENTITY) if r.inputs["serviceAccount"] == service_account)


def _statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else list(resource)


POLICIES = {
    "load balancer controller": load_balancer_controller_policy(ACCOUNT, REGION),
    "cluster autoscaler": cluster_autoscaler_policy(CLUSTER, ACCOUNT, REGION),
}


def _all_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, document in POLICIES.items():
        for statement in _statements(document):
            yield name, statement


# --- every controller is there by default, pinned, with its own identity ---------------------------


def test_the_load_balancer_controller_is_installed_by_default_from_its_pinned_chart(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    release = _release(mocks, LB_CONTROLLER).inputs
    chart = AWS_LOAD_BALANCER_CONTROLLER
    assert (release["chart"], release["version"], release["repositoryOpts"]) == (chart.name, chart.version, {"repo": chart.repo})
    assert rules.is_pinned_version(release["version"])
    assert (release["namespace"], release["createNamespace"]) == ("kube-system", False)


def test_the_load_balancer_controller_is_told_its_cluster_region_and_vpc(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    values = _release(mocks, LB_CONTROLLER).inputs["values"]
    assert (values["clusterName"], values["region"], values["vpcId"]) == (CLUSTER, REGION, VPC)
    assert values["serviceAccount"] == {"create": True, "name": LB_CONTROLLER}
    assert values["defaultTags"] == TAGS


def test_integrations_the_load_balancer_policy_does_not_grant_are_switched_off() -> None:
    actions = {a for s in _statements(POLICIES["load balancer controller"]) for a in _actions(s)}
    assert not {a for a in actions if a.split(":")[0] in ("waf-regional", "wafv2", "shield", "cognito-idp")}
    values = load_balancer_controller_values(ARGS)
    assert (values["enableShield"], values["enableWaf"], values["enableWafv2"]) == (False, False, False)


def test_cluster_autoscaler_is_installed_by_default_from_the_chart_pinned_for_the_clusters_kubernetes(pulumi_mocks) -> None:
    for version, chart in CLUSTER_AUTOSCALER_BY_KUBERNETES.items():
        mocks, _ = _build(pulumi_mocks, dataclasses.replace(ARGS, kubernetes_version=version))
        release = _release(mocks, AUTOSCALER).inputs
        assert (release["chart"], release["version"], release["repositoryOpts"]) == (
            chart.name, chart.version, {"repo": "https://kubernetes.github.io/autoscaler"})
        assert rules.is_pinned_version(release["version"])


def test_cluster_autoscaler_discovers_this_clusters_node_groups_in_its_region(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    values = _release(mocks, AUTOSCALER).inputs["values"]
    assert values["autoDiscovery"] == {"clusterName": CLUSTER}
    assert (values["cloudProvider"], values["awsRegion"]) == ("aws", REGION)
    assert values["rbac"]["serviceAccount"] == {"create": True, "name": AUTOSCALER}


def test_metrics_server_is_the_eks_add_on_by_default(pulumi_mocks) -> None:
    mocks, addons = _build(pulumi_mocks)
    addon = mocks.named("addons-metrics-server").inputs
    assert (addon["clusterName"], addon["addonName"], addon["region"]) == (CLUSTER, "metrics-server", REGION)
    assert addons.metrics_server is not None


@pytest.mark.parametrize("service_account,role", [(LB_CONTROLLER, f"{CLUSTER}-lb-controller"),
                                                  (AUTOSCALER, f"{CLUSTER}-cluster-autoscaler")])
def test_each_controller_runs_as_its_own_role_through_pod_identity(pulumi_mocks, service_account: str, role: str) -> None:
    mocks, _ = _build(pulumi_mocks)
    association = _association(mocks, service_account).inputs
    assert (association["clusterName"], association["namespace"], association["region"]) == (CLUSTER, "kube-system", REGION)
    assert association["roleArn"] == f"arn:aws:iam::123456789012:role/{role}"
    role_inputs = next(r for r in mocks.of_type(ROLE) if r.inputs["name"] == role).inputs
    assert json.loads(role_inputs["assumeRolePolicy"]) == json.loads(pod_identity_trust_policy())
    assert len(role) <= 64
    assert [r.inputs["role"] for r in mocks.of_type(ROLE_POLICY)].count(role) == 1


@pytest.mark.parametrize("name,service_account", [("addons-lb-controller", LB_CONTROLLER),
                                                  ("addons-cluster-autoscaler", AUTOSCALER)])
def test_each_controller_starts_after_its_association_and_permissions(pulumi_mocks, name: str, service_account: str) -> None:
    mocks, _ = _build(pulumi_mocks)
    release = mocks.named(name)
    assert mocks.directly_depends_on(release, _association(mocks, service_account))
    assert mocks.directly_depends_on(release, mocks.named(f"{name}-policy"))


def test_associations_and_metrics_server_wait_for_the_cluster_they_are_given(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    cluster = mocks.named("cluster")
    for reg in [*mocks.of_type(POD_IDENTITY), mocks.named("addons-metrics-server")]:
        assert mocks.directly_depends_on(reg, cluster), reg.name


def test_releases_are_the_controllers_that_must_outlive_argo_cds_applications(pulumi_mocks) -> None:
    mocks, addons = _build(pulumi_mocks)
    assert addons.releases == [addons.load_balancer_controller, addons.cluster_autoscaler]
    assert len(mocks.of_type(RELEASE)) == 2


def test_the_releases_use_the_given_kubernetes_provider(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    assert all("pulumi:providers:kubernetes::k8s::" in r.provider for r in mocks.of_type(RELEASE))


def test_the_component_registers_under_its_gitops_platform_type(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    component = mocks.of_type(COMPONENT)
    assert len(component) == 1 and component[0].custom is False


# --- switched off only explicitly ---------------------------------------------------------------------


def test_without_the_load_balancer_controller_there_is_no_role_association_or_release(pulumi_mocks) -> None:
    mocks, addons = _build(pulumi_mocks, dataclasses.replace(ARGS, config=AddonsConfig(load_balancer_controller=False)))
    assert [r.inputs["name"] for r in mocks.of_type(RELEASE)] == [AUTOSCALER]
    assert [r.inputs["serviceAccount"] for r in mocks.of_type(POD_IDENTITY)] == [AUTOSCALER]
    assert [r.inputs["name"] for r in mocks.of_type(ROLE)] == [f"{CLUSTER}-cluster-autoscaler"]
    assert addons.load_balancer_controller is None


def test_without_metrics_server_there_is_no_eks_add_on(pulumi_mocks) -> None:
    mocks, addons = _build(pulumi_mocks, dataclasses.replace(ARGS, config=AddonsConfig(metrics_server=False)))
    assert mocks.of_type(EKS_ADDON) == [] and addons.metrics_server is None
    assert len(mocks.of_type(RELEASE)) == 2


def test_autoscaler_none_installs_no_autoscaler_role_association_or_release(pulumi_mocks) -> None:
    mocks, addons = _build(pulumi_mocks, dataclasses.replace(ARGS, config=AddonsConfig(autoscaler=Autoscaler.NONE)))
    assert [r.inputs["name"] for r in mocks.of_type(RELEASE)] == [LB_CONTROLLER]
    assert [r.inputs["serviceAccount"] for r in mocks.of_type(POD_IDENTITY)] == [LB_CONTROLLER]
    assert addons.cluster_autoscaler is None and addons.releases == [addons.load_balancer_controller]


def test_everything_off_leaves_only_the_component(pulumi_mocks) -> None:
    off = AddonsConfig(load_balancer_controller=False, metrics_server=False, autoscaler=Autoscaler.NONE)
    mocks, addons = _build(pulumi_mocks, dataclasses.replace(ARGS, config=off))
    assert [r.typ for r in mocks.registrations if r.typ not in ("pulumi:providers:kubernetes", "test:index:Cluster")] == [COMPONENT]
    assert addons.releases == []


def test_a_kubernetes_version_without_a_pinned_autoscaler_fails_naming_file_key_and_choices(pulumi_mocks) -> None:
    with pytest.raises(AddonsConfigError) as info:
        _build(pulumi_mocks, dataclasses.replace(ARGS, kubernetes_version="1.29"))
    message = str(info.value)
    assert message.startswith("Pulumi.qa.yaml: config.gitops-platform:addons.autoscaler: ")
    assert "Kubernetes 1.29" in message and "1.33, 1.34" in message and "autoscaler: none" in message
    assert isinstance(info.value, InputError)


def test_a_kubernetes_version_without_a_pinned_autoscaler_is_fine_with_autoscaler_none(pulumi_mocks) -> None:
    config = AddonsConfig(autoscaler=Autoscaler.NONE)
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(ARGS, kubernetes_version="1.29", config=config))
    assert [r.inputs["name"] for r in mocks.of_type(RELEASE)] == [LB_CONTROLLER]


# --- least privilege ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_add_on_policy_allows_a_wildcard_action_or_fails_the_policy_pack(name: str) -> None:
    document = POLICIES[name]
    actions = [a for s in _statements(document) for a in _actions(s)]
    assert not [a for a in actions if rules.is_wildcard_action(a) or "*" in a]
    assert rules.iam_problems(rules.IAM_ROLE_POLICY, {"policy": document}) == []


def test_only_read_only_discovery_is_granted_on_every_resource() -> None:
    for name, statement in _all_statements():
        if "*" in _resources(statement):
            assert statement["Sid"] == "Discover", (name, statement["Sid"])
            assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in _actions(statement))


def test_every_other_statement_names_resources_of_this_account_and_region_only() -> None:
    for name, statement in _all_statements():
        if statement["Sid"] == "Discover":
            continue
        for resource in _resources(statement):
            assert (resource.startswith("arn:aws:") and f":{ACCOUNT}:" in resource
                    and (f":{REGION}:" in resource or resource.startswith(f"arn:aws:iam::{ACCOUNT}:"))), (name, resource)


OWNED_ONLY = {"ec2:DeleteSecurityGroup", "elasticloadbalancing:DeleteLoadBalancer",
              "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyLoadBalancerAttributes",
              "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
              "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:SetSecurityGroups",
              "elasticloadbalancing:SetSubnets"}


def test_the_load_balancer_controller_deletes_and_modifies_only_what_it_tagged_as_its_own() -> None:
    granted: set[str] = set()
    for statement in _statements(POLICIES["load balancer controller"]):
        if OWNED_ONLY & set(_actions(statement)):
            assert statement["Condition"]["Null"]["aws:ResourceTag/elbv2.k8s.aws/cluster"] == "false", statement["Sid"]
            granted |= OWNED_ONLY & set(_actions(statement))
    assert granted == OWNED_ONLY


def test_the_load_balancer_controller_creates_load_balancers_only_with_its_tag() -> None:
    create = next(s for s in _statements(POLICIES["load balancer controller"]) if s["Sid"] == "CreateLoadBalancers")
    assert create["Condition"] == {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}


def test_the_autoscaler_resizes_only_auto_scaling_groups_tagged_for_this_cluster() -> None:
    scale = next(s for s in _statements(POLICIES["cluster autoscaler"])
                 if "autoscaling:SetDesiredCapacity" in _actions(s))
    assert sorted(_actions(scale)) == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert scale["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                                                   f"aws:ResourceTag/k8s.io/cluster-autoscaler/{CLUSTER}": "owned"}}
    assert _resources(scale) == [f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/*"]
    nodegroups = next(s for s in _statements(POLICIES["cluster autoscaler"]) if s["Sid"] == "ReadNodeGroups")
    assert _resources(nodegroups) == [f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/{CLUSTER}/*"]


def test_the_policy_pack_still_refuses_a_change_on_every_resource() -> None:
    problems = rules.policy_document_problems(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["elasticloadbalancing:DescribeLoadBalancers",
                                       "elasticloadbalancing:DeleteLoadBalancer"], "Resource": "*"}]}))
    assert len(problems) == 1 and "elasticloadbalancing:DeleteLoadBalancer on Resource \"*\"" in problems[0]


# --- stack config ----------------------------------------------------------------------------------------


def _with_addons(project: Path, value: Any) -> None:
    path = project / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][f"{NS}:addons"] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_the_project_declares_addons_as_an_object_that_defaults_to_empty(project: Path) -> None:
    declared = yaml.safe_load((project / "Pulumi.yaml").read_text())["config"]["addons"]
    assert (declared["type"], declared["default"]) == ("object", {})


def test_every_addon_is_on_when_the_stack_says_nothing(project: Path) -> None:
    for stack in load_project(project).stacks:
        assert stack.addons == AddonsConfig(True, True, Autoscaler.CLUSTER_AUTOSCALER), stack.name


@pytest.mark.parametrize("setting,expected", [
    ({"loadBalancerController": False}, AddonsConfig(load_balancer_controller=False)),
    ({"metricsServer": False}, AddonsConfig(metrics_server=False)),
    ({"autoscaler": "none"}, AddonsConfig(autoscaler=Autoscaler.NONE)),
    ({"loadBalancerController": True, "metricsServer": True, "autoscaler": "cluster-autoscaler"}, AddonsConfig()),
])
def test_each_addon_is_switched_off_only_by_its_own_explicit_setting(project: Path, setting: dict[str, Any],
                                                                     expected: AddonsConfig) -> None:
    _with_addons(project, setting)
    assert load_project(project).stack("dev").addons == expected


@pytest.mark.parametrize("setting,key,expected", [
    ({"metricServer": False}, "addons.metricServer", "unknown key (did you mean 'metricsServer'?)"),
    ({"loadBalancerController": "no"}, "addons.loadBalancerController", "expected true or false, got a string"),
    ({"autoscaler": "karpenter"}, "addons.autoscaler", "'karpenter' is not one of cluster-autoscaler, none"),
    ("on", "addons", "expected object, got a string"),
])
def test_a_bad_addons_setting_names_the_file_the_key_and_what_is_valid(project: Path, setting: Any, key: str,
                                                                         expected: str) -> None:
    _with_addons(project, setting)
    with pytest.raises(InputError) as info:
        load_project(project)
    assert f"Pulumi.dev.yaml: config.{NS}:{key}: {expected}" in str(info.value)


# --- the program: every topology ------------------------------------------------------------------------


def test_a_standalone_cluster_gets_every_addon_with_its_vpc(program) -> None:
    mocks, _ = program("dev")
    assert len(mocks.of_type(COMPONENT)) == 1
    assert {r.inputs["name"] for r in mocks.of_type(RELEASE)} >= {LB_CONTROLLER, AUTOSCALER}
    values = _release(mocks, LB_CONTROLLER).inputs["values"]
    assert (values["clusterName"], values["vpcId"]) == ("shop-dev", MOCK_VPC_ID)
    assert mocks.named("addons-metrics-server").inputs["clusterName"] == "shop-dev"
    # The associations need the cluster, the add-on its nodes.
    node_group = mocks.of_type("aws:eks/nodeGroup:NodeGroup")[0]
    assert mocks.depends_on(mocks.named("addons-metrics-server"), node_group)
    assert mocks.depends_on(_association(mocks, LB_CONTROLLER), node_group)


def test_with_given_subnets_the_load_balancer_controller_gets_the_vpc_eks_reports(program) -> None:
    cluster = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"][f"{NS}:cluster"]
    cluster["subnetIds"] = ["subnet-0aaa1111", "subnet-0bbb2222"]
    ingress = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"][f"{NS}:ingress"]
    ingress["loadBalancerCidrs"] = ["10.0.224.0/22", "10.0.228.0/22"]   # given subnets: their CIDRs are not known offline
    mocks, _ = program("dev", extra={f"{NS}:cluster": json.dumps(cluster), f"{NS}:ingress": json.dumps(ingress)})
    assert mocks.of_type("aws:ec2/vpc:Vpc") == []
    assert _release(mocks, LB_CONTROLLER).inputs["values"]["vpcId"] == MOCK_VPC_ID


def test_the_autoscaler_follows_the_stacks_kubernetes_version(program) -> None:
    mocks, _ = program("dev")
    assert _release(mocks, AUTOSCALER).inputs["version"] == CLUSTER_AUTOSCALER_BY_KUBERNETES["1.33"].version


def test_a_stack_switches_an_addon_off_in_its_config(program) -> None:
    mocks, _ = program("dev", extra={f"{NS}:addons": json.dumps({"autoscaler": "none", "metricsServer": False})})
    assert AUTOSCALER not in {r.inputs["name"] for r in mocks.of_type(RELEASE)}
    assert "metrics-server" not in {r.inputs["addonName"] for r in mocks.of_type(EKS_ADDON)}
    assert LB_CONTROLLER in {r.inputs["name"] for r in mocks.of_type(RELEASE)}


def test_a_hub_gets_every_addon(hub) -> None:
    mocks, _ = hub
    assert {r.inputs["name"] for r in mocks.of_type(RELEASE)} >= {LB_CONTROLLER, AUTOSCALER}
    assert len([r for r in mocks.of_type(EKS_ADDON) if r.inputs["addonName"] == "metrics-server"]) == 1


def test_a_spoke_gets_every_addon_though_it_runs_no_argocd(spoke) -> None:
    mocks, _ = spoke("spoke-a")
    assert {r.inputs["name"] for r in mocks.of_type(RELEASE)} >= {LB_CONTROLLER, AUTOSCALER}
    assert _release(mocks, LB_CONTROLLER).inputs["values"]["clusterName"] == "shop-spoke-a"
    assert len([r for r in mocks.of_type(EKS_ADDON) if r.inputs["addonName"] == "metrics-server"]) == 1


# --- ordering against Argo CD: the controllers come first and go last -----------------------------------

DRAINED = "pulumi-python:dynamic/argocd:ApplicationsDrained"


def _chart_release(mocks: RecordingMocks, chart: str) -> Registration:
    return next(r for r in mocks.of_type(RELEASE) if r.inputs["chart"] == chart)


def test_charts_with_services_install_after_the_load_balancer_controllers_webhook(program) -> None:
    """Its admission webhook refuses every Service until its pods run (failurePolicy Fail)."""
    mocks, _ = program("dev")
    controller = _release(mocks, LB_CONTROLLER)
    for chart in ("argo-cd", "sealed-secrets"):
        assert mocks.depends_on(_chart_release(mocks, chart), controller), chart


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_standalone_destroy_drains_before_removing_the_controllers(program, stack: str) -> None:
    mocks, _ = program(stack)
    drained = mocks.of_type(DRAINED)[0]
    for controller in (LB_CONTROLLER, AUTOSCALER):
        assert mocks.depends_on(drained, _release(mocks, controller)), controller


def test_a_hub_destroy_drains_before_removing_the_controllers(hub) -> None:
    mocks, _ = hub
    drained = mocks.of_type(DRAINED)[0]
    assert mocks.depends_on(drained, _release(mocks, LB_CONTROLLER))


def test_a_spoke_destroy_drains_before_removing_the_controllers(spoke) -> None:
    mocks, _ = spoke("spoke-a")
    drained = mocks.of_type(DRAINED)[0]
    assert mocks.depends_on(drained, _release(mocks, LB_CONTROLLER))
    assert mocks.depends_on(drained, _release(mocks, AUTOSCALER))
