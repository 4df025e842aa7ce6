"""The controllers a cluster needs for what the GitOps tree deploys to work at all.

The rendered manifests assume three things EKS does not run by itself:

- **AWS Load Balancer Controller** (pinned Helm chart): every Ingress of class
  ``alb``, Argo CD's included, becomes an Application Load Balancer; without
  it they stay without an address forever.
- **metrics-server** (the EKS community add-on ``metrics-server``, so AWS
  builds and patches it for the cluster's Kubernetes version): the resource
  metrics every HorizontalPodAutoscaler reads; without it they are Degraded.
- **Cluster Autoscaler** (pinned Helm chart, one per Kubernetes minor): grows
  and shrinks the managed node group between its ``minSize`` and ``maxSize``,
  which is why the node group's desired size is "left to autoscalers".

Cluster Autoscaler rather than Karpenter: EKS managed node groups already tag
their Auto Scaling groups for its auto-discovery, so it needs nothing but one
role limited to those groups, and the node group in stack config stays the
single description of the nodes. Karpenter would need an SQS interruption
queue with EventBridge rules, its own node role and access entry, and
EC2NodeClass/NodePool objects of CRDs its own chart installs in the same run,
and it would take node provisioning away from the node group the cluster
component manages. ``addons.autoscaler: none`` leaves the node group at its
configured size.

Identity: each controller that calls AWS runs as an IAM role trusted by EKS
Pod Identity (``pods.eks.amazonaws.com``), bound to its ServiceAccount by a
``PodIdentityAssociation`` that exists before the release, because the agent
injects credentials when the pod starts. The policies are written here from
the controllers' documented actions: reads that IAM grants only on ``*``
(Describe/List) on ``*``, every change limited to this account and region and,
where the controller tags what it owns, to resources carrying its tag.
Features the policies do not grant are switched off in the chart values (WAF,
Shield), so the controller never half-configures them.

Teardown: ``releases`` are what must outlive Argo CD's Applications. When an
Application with an ``alb`` Ingress is deleted, the load balancer controller
removes the Ingress finalizer after deleting the ALB and its target groups;
gone first, it would leave both behind and the namespace stuck terminating.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.argocd import pod_identity_trust_policy
from components.charts import AWS_LOAD_BALANCER_CONTROLLER, CLUSTER_AUTOSCALER_BY_KUBERNETES, Chart
from gitops import layout
from gitops.errors import InputError, Problem
from gitops.layout import CONFIG_NAMESPACE
from gitops.model import AddonsConfig, Autoscaler

TYPE = "gitops-platform:addons:ClusterAddons"
NAMESPACE = layout.KUBE_SYSTEM_NAMESPACE
LOAD_BALANCER_CONTROLLER = layout.LOAD_BALANCER_CONTROLLER   # release, ServiceAccount and Deployment name
CLUSTER_AUTOSCALER = layout.CLUSTER_AUTOSCALER               # release, ServiceAccount and Deployment name
METRICS_SERVER_ADDON = layout.METRICS_SERVER                 # the EKS community add-on
# Role names are <cluster>-<suffix>: a cluster name has at most 40 characters, IAM allows 64.
LOAD_BALANCER_ROLE_SUFFIX = "lb-controller"
AUTOSCALER_ROLE_SUFFIX = "cluster-autoscaler"
AUTOSCALER_KEY = f"config.{CONFIG_NAMESPACE}:addons.autoscaler"

# The tag the load balancer controller puts on every security group, load balancer and target group it creates.
LB_CLUSTER_TAG = "elbv2.k8s.aws/cluster"
# What it may read everywhere: IAM grants these (all read-only) only on "*".
LOAD_BALANCER_DISCOVERY_ACTIONS = (
    "acm:ListCertificates",
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetSecurityGroupsForVpc",
    "elasticloadbalancing:DescribeCapacityReservation",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTrustStores",
)
# Changes to load balancers and target groups it created (they carry LB_CLUSTER_TAG).
LOAD_BALANCER_OWNED_ACTIONS = (
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
)
# Listeners and rules carry no cluster tag; they exist only on its load balancers.
LOAD_BALANCER_LISTENER_ACTIONS = (
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:SetRulePriorities",
)
# Chart switches for integrations the policy does not grant (their APIs would be denied on every reconcile).
LOAD_BALANCER_DISABLED_FEATURES = {"enableShield": False, "enableWaf": False, "enableWafv2": False}

AUTOSCALER_DISCOVERY_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
AUTOSCALER_SCALING_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")
# EKS tags the Auto Scaling group of every managed node group with these (auto-discovery uses the same keys).
AUTOSCALER_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"


def autoscaler_owner_tag(cluster_name: str) -> str:
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


@dataclass(frozen=True)
class ClusterAddonsArgs:
    """Plain values shape the IAM policies and Helm values, so previews show them; only ``vpc_id`` may be an Output.

    ``cluster_name`` and ``kubernetes_version``: the EKS cluster's, from
    config (the autoscaler release follows the version). ``account_id`` and
    ``region``: where the controllers may act. ``vpc_id``: the cluster's VPC,
    which the load balancer controller would otherwise look up through the
    node's instance metadata. ``ready``: what must exist before any add-on
    (the cluster with its nodes: the add-ons run as pods, and an association
    needs the cluster). ``stack_file``: named in configuration errors.
    ``tags``: AWS tags of the roles, associations and add-on, and the load
    balancer controller's default tags for what it creates.
    """

    config: AddonsConfig
    cluster_name: str
    kubernetes_version: str
    account_id: str
    region: str
    vpc_id: pulumi.Input[str]
    ready: Sequence[pulumi.Resource] = ()
    stack_file: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


class AddonsConfigError(InputError):
    """An add-on the stack asks for cannot be installed as configured."""


def role_name(cluster_name: str, suffix: str) -> str:
    return f"{cluster_name}-{suffix}"


def cluster_autoscaler_chart(kubernetes_version: str, stack_file: str = "") -> Chart:
    """The Cluster Autoscaler chart pinned for the cluster's Kubernetes minor, or AddonsConfigError naming the key."""
    chart = CLUSTER_AUTOSCALER_BY_KUBERNETES.get(kubernetes_version)
    if chart is None:
        pinned = ", ".join(sorted(CLUSTER_AUTOSCALER_BY_KUBERNETES))
        raise AddonsConfigError([Problem(
            stack_file, AUTOSCALER_KEY,
            f"no Cluster Autoscaler release is pinned for Kubernetes {kubernetes_version} (cluster.kubernetesVersion), "
            f"and its version must match the cluster's; pinned for: {pinned}. Use one of those versions, pin a chart "
            "for it in components/charts.py, or set autoscaler: none")])
    return chart


def _arn(service: str, region: str, account_id: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account_id}:{resource}"


def load_balancer_controller_policy(account_id: str, region: str) -> str:
    """What the AWS Load Balancer Controller may do: ALBs/NLBs, their target groups and security groups, here only.

    Changes are limited to this account and region; deleting or modifying
    load balancers, target groups and security groups additionally to those
    tagged as created by a load balancer controller.
    """
    def elb(*resources: str) -> list[str]:
        return [_arn("elasticloadbalancing", region, account_id, r) for r in resources]

    def ec2(*resources: str) -> list[str]:
        return [_arn("ec2", region, account_id, r) for r in resources]

    balancers_and_groups = elb("loadbalancer/app/*", "loadbalancer/net/*", "targetgroup/*")
    listeners = elb("listener/app/*", "listener/net/*", "listener-rule/app/*", "listener-rule/net/*")
    every_elb = [*balancers_and_groups, *listeners]
    security_groups = ec2("security-group/*")
    created_with_tag = {"Null": {f"aws:RequestTag/{LB_CLUSTER_TAG}": "false"}}
    owned = {"Null": {f"aws:ResourceTag/{LB_CLUSTER_TAG}": "false"}}
    owned_keeping_tag = {"Null": {f"aws:RequestTag/{LB_CLUSTER_TAG}": "true",
                                  f"aws:ResourceTag/{LB_CLUSTER_TAG}": "false"}}
    statements: list[dict[str, Any]] = [
        {"Sid": "ElbServiceLinkedRole", "Action": ["iam:CreateServiceLinkedRole"],
         "Resource": f"arn:aws:iam::{account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/"
                     "AWSServiceRoleForElasticLoadBalancing",
         "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}},
        {"Sid": "Discover", "Action": list(LOAD_BALANCER_DISCOVERY_ACTIONS), "Resource": "*"},
        {"Sid": "ReadCertificates", "Action": ["acm:DescribeCertificate"],
         "Resource": _arn("acm", region, account_id, "certificate/*")},
        {"Sid": "CreateSecurityGroups", "Action": ["ec2:CreateSecurityGroup"],
         "Resource": [*security_groups, *ec2("vpc/*")]},
        {"Sid": "TagNewSecurityGroups", "Action": ["ec2:CreateTags"], "Resource": security_groups,
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **created_with_tag}},
        {"Sid": "RetagOwnSecurityGroups", "Action": ["ec2:CreateTags", "ec2:DeleteTags"], "Resource": security_groups,
         "Condition": owned_keeping_tag},
        # Rules on the nodes' security group too, which the controller did not create: traffic from the ALB.
        {"Sid": "OpenSecurityGroupsToLoadBalancers",
         "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
         "Resource": [*security_groups, *ec2("security-group-rule/*")]},
        {"Sid": "DeleteOwnSecurityGroups", "Action": ["ec2:DeleteSecurityGroup"], "Resource": security_groups,
         "Condition": owned},
        {"Sid": "CreateLoadBalancers",
         "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
         "Resource": balancers_and_groups, "Condition": created_with_tag},
        {"Sid": "TagOnCreate", "Action": ["elasticloadbalancing:AddTags"], "Resource": balancers_and_groups,
         "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": ["CreateLoadBalancer", "CreateTargetGroup"]},
                       **created_with_tag}},
        {"Sid": "RetagOwnLoadBalancers", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": balancers_and_groups, "Condition": owned_keeping_tag},
        {"Sid": "TagListeners", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": listeners},
        {"Sid": "ManageListeners", "Action": list(LOAD_BALANCER_LISTENER_ACTIONS), "Resource": every_elb},
        {"Sid": "ManageOwnLoadBalancers", "Action": list(LOAD_BALANCER_OWNED_ACTIONS), "Resource": every_elb,
         "Condition": owned},
        {"Sid": "RegisterTargets",
         "Action": ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
         "Resource": elb("targetgroup/*")},
    ]
    return _document(statements)


def cluster_autoscaler_policy(cluster_name: str, account_id: str, region: str) -> str:
    """What Cluster Autoscaler may do: read node groups, and resize only this cluster's auto-discovered groups."""
    statements: list[dict[str, Any]] = [
        {"Sid": "Discover", "Action": list(AUTOSCALER_DISCOVERY_ACTIONS), "Resource": "*"},
        {"Sid": "ReadNodeGroups", "Action": ["eks:DescribeNodegroup"],
         "Resource": _arn("eks", region, account_id, f"nodegroup/{cluster_name}/*")},
        {"Sid": "ScaleThisClustersNodeGroups", "Action": list(AUTOSCALER_SCALING_ACTIONS),
         "Resource": _arn("autoscaling", region, account_id, "autoScalingGroup:*:autoScalingGroupName/*"),
         "Condition": {"StringEquals": {f"aws:ResourceTag/{AUTOSCALER_ENABLED_TAG}": "true",
                                        f"aws:ResourceTag/{autoscaler_owner_tag(cluster_name)}": "owned"}}},
    ]
    return _document(statements)


def _document(statements: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", **s} for s in statements]}, sort_keys=True)


def load_balancer_controller_values(args: ClusterAddonsArgs) -> dict[str, Any]:
    """Helm values of aws-load-balancer-controller: this cluster, region and VPC given, no instance-metadata lookups."""
    return {
        "clusterName": args.cluster_name,
        "region": args.region,
        "vpcId": args.vpc_id,
        # The name is fixed because the Pod Identity association refers to it.
        "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER},
        **LOAD_BALANCER_DISABLED_FEATURES,
        # Load balancers, target groups and security groups say which stack made them.
        "defaultTags": dict(args.tags),
    }


def cluster_autoscaler_values(args: ClusterAddonsArgs) -> dict[str, Any]:
    """Helm values of cluster-autoscaler: auto-discovery of this cluster's node groups (EKS tags them)."""
    return {
        "cloudProvider": "aws",
        "awsRegion": args.region,
        "autoDiscovery": {"clusterName": args.cluster_name},
        "fullnameOverride": CLUSTER_AUTOSCALER,
        "rbac": {"serviceAccount": {"create": True, "name": CLUSTER_AUTOSCALER}},
    }


class ClusterAddons(pulumi.ComponentResource):
    """The load balancer controller, metrics-server and Cluster Autoscaler of one cluster, each as configured."""

    releases: list[k8s.helm.v3.Release]
    load_balancer_controller: k8s.helm.v3.Release | None
    cluster_autoscaler: k8s.helm.v3.Release | None
    metrics_server: aws.eks.Addon | None

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config = args.config
        autoscaler_chart = (cluster_autoscaler_chart(args.kubernetes_version, args.stack_file)
                            if config.autoscaler is Autoscaler.CLUSTER_AUTOSCALER else None)
        super().__init__(TYPE, name, None, opts)
        self._args = args
        self.releases = []
        self.role_arns: dict[str, pulumi.Output[str]] = {}
        self.load_balancer_controller = None
        self.cluster_autoscaler = None
        self.metrics_server = None
        if config.load_balancer_controller:
            self.load_balancer_controller = self._controller(
                f"{name}-lb-controller", LOAD_BALANCER_CONTROLLER, LOAD_BALANCER_ROLE_SUFFIX,
                "AWS Load Balancer Controller: ALBs and NLBs of this cluster (EKS Pod Identity)",
                load_balancer_controller_policy(args.account_id, args.region),
                AWS_LOAD_BALANCER_CONTROLLER, load_balancer_controller_values(args))
        if config.metrics_server:
            self.metrics_server = aws.eks.Addon(
                f"{name}-metrics-server",
                cluster_name=args.cluster_name,
                addon_name=METRICS_SERVER_ADDON,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                region=args.region,
                tags=dict(args.tags),
                # A Deployment: it becomes healthy only once nodes run it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready)),
            )
        if autoscaler_chart is not None:
            self.cluster_autoscaler = self._controller(
                f"{name}-cluster-autoscaler", CLUSTER_AUTOSCALER, AUTOSCALER_ROLE_SUFFIX,
                "Cluster Autoscaler: resize this cluster's node groups (EKS Pod Identity)",
                cluster_autoscaler_policy(args.cluster_name, args.account_id, args.region),
                autoscaler_chart, cluster_autoscaler_values(args))
        self.register_outputs({
            "releases": [r.name for r in self.releases],
            "roleArns": self.role_arns,
            "metricsServer": self.metrics_server.addon_name if self.metrics_server is not None else None,
        })

    def _controller(self, name: str, service_account: str, role_suffix: str, description: str, policy: str,
                    chart: Chart, values: Mapping[str, Any]) -> k8s.helm.v3.Release:
        """Role, policy and Pod Identity association, then the release that runs as that ServiceAccount."""
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=role_name(args.cluster_name, role_suffix),
            description=description,
            assume_role_policy=pod_identity_trust_policy(),
            tags=dict(args.tags),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(f"{name}-policy", role=role.name, policy=policy, opts=child)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=args.cluster_name,
            namespace=NAMESPACE,
            service_account=service_account,
            role_arn=role.arn,
            region=args.region,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.ready)),
        )
        self.role_arns[service_account] = role.arn
        release = k8s.helm.v3.Release(
            name,
            name=service_account,
            namespace=NAMESPACE,
            create_namespace=False,
            values=dict(values),
            **chart.release_args(),
            # Pod Identity credentials are injected when the pod starts: association and permissions first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[association, role_policy]),
        )
        self.releases.append(release)
        return release
