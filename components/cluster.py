"""The EKS cluster of one stack, its network and a Kubernetes provider for it.

Built from raw ``aws.*`` resources rather than ``pulumi_eks`` so that every IAM
role, subnet and node group is a resource the mock tests, policies and PR
previews can see. The Kubernetes provider it hands out waits for node capacity
and cluster access, so in-cluster installs never race the cluster coming up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from gitops import layout
from gitops.model import ClusterConfig

# The VPC layout (8 blocks: a private subnet per zone, the last block cut into public subnets) lives in
# the core (gitops.network), which admits load balancer traffic from the same subnets.
from gitops.network import subnet_plan

TYPE = "gitops-platform:cluster:Cluster"
MANAGED_BY = {layout.AWS_TAG_MANAGED_BY: layout.MANAGED_BY}

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# Read-only on every resource, Secrets included: `pulumi preview --refresh` reads the Helm releases'
# storage Secrets (sh.helm.release.v1.*) and the sealing key Secret, which AmazonEKSViewPolicy
# (the Kubernetes `view` role: no Secrets, no custom resources) would refuse.
CLUSTER_VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
AMI_TYPE = "AL2023_x86_64_STANDARD"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
VPC_CNI = "vpc-cni"
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
# Cluster autoscalers (or people) move the desired size; a deploy must not reset it.
AUTOSCALER_OWNED = ["scalingConfig.desiredSize"]
# Changing instance types, disk size, subnets or AMI type replaces the node group, and Pulumi
# creates the new one before deleting the old: a fixed name would collide with the group still
# running (ResourceInUseException). A prefix gets a fresh name per group; node group names are
# per cluster, so the prefix needs no cluster name (and stays within the provider's 37 characters).
NODE_GROUP_NAME_PREFIX = "default-"
# Read at creation only, and ForceNew in the provider (terraform-provider-aws
# internal/service/eks/cluster.go; the EKS API never returns it, so the state keeps what was
# sent): clusters created when this program still asked for creator admin would otherwise be
# replaced, control plane and all, by the switch to explicit access entries.
CREATE_ONLY = ["accessConfig.bootstrapClusterCreatorAdminPermissions"]


@dataclass(frozen=True)
class ClusterArgs:
    """``config`` shapes the resource graph, so everything here is a plain value.

    ``tags`` are merged into every taggable AWS resource; ``log_retention_days``
    is how long the control-plane logs are kept (default 90).
    """

    config: ClusterConfig
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)
    log_retention_days: int = 90


@dataclass(frozen=True)
class _Network:
    """What the cluster and node group need from the network, however it came to be.

    ``ready``: resources that must exist before nodes boot (their route to the
    internet, without which they cannot pull images or reach the API server).
    """

    private_subnet_ids: list[pulumi.Input[str]]
    public_subnet_ids: list[pulumi.Input[str]]
    ready: list[pulumi.Resource]


@dataclass(frozen=True)
class _Role:
    """A role's ARN and the policy attachments that must exist before anything uses it."""

    arn: pulumi.Output[str]
    attachments: list[aws.iam.RolePolicyAttachment]


def admin_names(role_arns: Sequence[str]) -> dict[str, str]:
    """{role ARN: role name} for the admin access resources' names.

    Names come from the ARN, not the list position, so reordering or removing
    one admin never replaces (and briefly revokes) another admin's access, and
    the deploy role keeps its resources whether or not it is also listed as an
    admin. Two different roles with the same name (other account or path)
    would collide, so that is refused.
    """
    names: dict[str, str] = {}
    for arn in dict.fromkeys(role_arns):  # the same ARN twice is one admin
        role = arn.rsplit("/", 1)[-1]
        clash = next((other for other, name in names.items() if name == role), None)
        if clash is not None:
            raise ValueError(f"admin roles {clash!r} and {arn!r} share the role name {role!r}; "
                             "their access entries would have the same resource name")
        names[arn] = role
    return names


def assume_role_policy(service: str) -> str:
    """A trust policy that lets one AWS service assume the role."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    }, sort_keys=True)


def certificate_authority_data(ca: aws.eks.outputs.ClusterCertificateAuthority) -> str:
    """The cluster's CA bundle (base64): EKS reports it for every cluster, the provider types it optional."""
    if ca.data is None:
        raise ValueError("the EKS cluster reports no certificate authority data")
    return ca.data


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig (JSON, which is YAML) that authenticates with ``aws eks get-token``.

    A token fetched at use time instead of a stored one: nothing long-lived
    lands in the state, and it is whoever runs ``pulumi up`` that talks to the
    cluster (the ``aws`` CLI must be on their PATH).
    """
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": EXEC_API_VERSION,
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        }}}],
    }, sort_keys=True)


class Cluster(pulumi.ComponentResource):
    """An EKS cluster with secrets encryption, control-plane logs, admin access and one managed node group."""

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    node_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        config = args.config
        self._tags = {**MANAGED_BY, **args.tags}
        network = (_Network(list(config.subnet_ids), [], []) if config.subnet_ids
                   else self._network(name, config))
        cluster = self._cluster(name, args, network)
        associations = self._admin_access(name, config, cluster)
        self._preview_access(name, config, cluster)
        node_role = self._role(name, config, "node", "ec2.amazonaws.com", NODE_POLICIES)
        node_group = self._node_group(name, config, cluster, node_role, network)
        addon = aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=cluster.name,
            addon_name=POD_IDENTITY_AGENT,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self._tags,
            # A DaemonSet: without nodes the addon never becomes healthy.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_group]),
        )
        # The VPC CNI as a managed add-on with its network policy agent: without it EKS accepts the
        # NetworkPolicies every service ships with but enforces none of them.
        network_policies = aws.eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=cluster.name,
            addon_name=VPC_CNI,
            configuration_values=json.dumps(VPC_CNI_CONFIGURATION, sort_keys=True),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_group]),
        )
        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.apply(certificate_authority_data)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, self.endpoint, self.certificate_authority)
            .apply(lambda v: kubeconfig(v[0], v[1], v[2], args.region)))
        self.node_role_arn = node_role.arn
        # As EKS reports it: the VPC of the subnets, created here or given as subnetIds (no lookup, no config).
        self.vpc_id: pulumi.Output[str] = cluster.vpc_config.vpc_id
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # The provider (and every in-cluster resource with it) is replaced only when
            # this changes, never because the kubeconfig text did.
            cluster_identifier=config.name,
            enable_server_side_apply=True,
            # The deploy role's admin association is among them: `pulumi up` talks to the
            # cluster as that role, which has no other way in.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_group, addon, network_policies, *associations]),
        )
        self.register_outputs({"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

    def _network(self, name: str, config: ClusterConfig) -> _Network:
        """A VPC with a public and a private subnet per zone and one NAT gateway per zone.

        One NAT per zone costs more than a shared one, but a zone outage then
        cuts only that zone's egress.
        """
        child = pulumi.ResourceOptions(parent=self)
        zones = self._zones(config.availability_zones)
        plan = subnet_plan(config.vpc_cidr, len(zones))
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=config.vpc_cidr, enable_dns_support=True,
                          enable_dns_hostnames=True, tags=self._named(config.name), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=self._named(config.name), opts=child)
        public_routes = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id,
                                           tags=self._named(f"{config.name}-public"), opts=child)
        aws.ec2.Route(f"{name}-public-internet", route_table_id=public_routes.id,
                      destination_cidr_block="0.0.0.0/0", gateway_id=gateway.id, opts=child)
        network = _Network([], [], [])
        for zone, cidrs in zip(zones, plan, strict=True):
            public = self._subnet(name, config, vpc, zone, cidrs.public, "public")
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}-rta", subnet_id=public.id,
                                          route_table_id=public_routes.id, opts=child)
            private = self._subnet(name, config, vpc, zone, cidrs.private, "private")
            network.public_subnet_ids.append(public.id)
            network.private_subnet_ids.append(private.id)
            network.ready.append(self._zone_egress(name, config, vpc, zone, public, private, gateway))
        return network

    def _zones(self, count: int) -> list[str]:
        """The first ``count`` available zones of the region (a plain invoke: the graph depends on it)."""
        available = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self)).names
        if len(available) < count:
            raise ValueError(f"availabilityZones is {count}, but the region has only {len(available)} "
                             f"available zones ({', '.join(available)})")
        return list(available[:count])

    def _subnet(self, name: str, config: ClusterConfig, vpc: aws.ec2.Vpc, zone: str, cidr: str,
                kind: str) -> aws.ec2.Subnet:
        """A subnet tagged so the AWS load balancer controller finds it (internet-facing or internal)."""
        role = "kubernetes.io/role/elb" if kind == "public" else "kubernetes.io/role/internal-elb"
        return aws.ec2.Subnet(
            f"{name}-{kind}-{zone}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            tags={**self._named(f"{config.name}-{kind}-{zone}"), role: "1",
                  f"kubernetes.io/cluster/{config.name}": "shared"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _zone_egress(self, name: str, config: ClusterConfig, vpc: aws.ec2.Vpc, zone: str,
                     public: aws.ec2.Subnet, private: aws.ec2.Subnet,
                     gateway: aws.ec2.InternetGateway) -> aws.ec2.Route:
        """The zone's NAT gateway and the private subnet's default route through it."""
        child = pulumi.ResourceOptions(parent=self)
        address = aws.ec2.Eip(f"{name}-nat-{zone}-eip", domain="vpc",
                              tags=self._named(f"{config.name}-nat-{zone}"), opts=child)
        nat = aws.ec2.NatGateway(
            f"{name}-nat-{zone}",
            allocation_id=address.id,
            subnet_id=public.id,
            tags=self._named(f"{config.name}-{zone}"),
            # A NAT gateway created before the VPC reaches the internet never routes traffic.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        routes = aws.ec2.RouteTable(f"{name}-private-{zone}-rt", vpc_id=vpc.id,
                                    tags=self._named(f"{config.name}-private-{zone}"), opts=child)
        aws.ec2.RouteTableAssociation(f"{name}-private-{zone}-rta", subnet_id=private.id,
                                      route_table_id=routes.id, opts=child)
        return aws.ec2.Route(f"{name}-private-{zone}-egress", route_table_id=routes.id,
                             destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=child)

    def _cluster(self, name: str, args: ClusterArgs, network: _Network) -> aws.eks.Cluster:
        """The control plane, with what must exist before it: its role, secrets key and log group."""
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(f"{name}-secrets-key", description=f"EKS secrets envelope encryption for {config.name}",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=self._tags, opts=child)
        aws.kms.Alias(f"{name}-secrets-alias", name=f"alias/{config.name}-eks-secrets", target_key_id=key.key_id,
                      opts=child)
        # EKS would create this group itself with no retention; created first, it is ours.
        logs = aws.cloudwatch.LogGroup(f"{name}-control-plane-logs", name=f"/aws/eks/{config.name}/cluster",
                                       retention_in_days=args.log_retention_days, tags=self._tags, opts=child)
        role = self._role(name, config, "cluster", "eks.amazonaws.com", CLUSTER_POLICIES)
        public_cidrs = list(config.public_access_cidrs) if config.endpoint_public_access else []
        return aws.eks.Cluster(
            f"{name}-cluster",
            name=config.name,
            version=config.kubernetes_version,
            role_arn=role.arn,
            access_config={
                "authentication_mode": "API",
                # No admin for whoever happens to create the cluster: the deploy role gets it through
                # its own access entry (and an entry EKS made for the creator would make ours fail).
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            vpc_config={
                "subnet_ids": [*network.private_subnet_ids, *network.public_subnet_ids],
                "endpoint_public_access": config.endpoint_public_access,
                "endpoint_private_access": config.endpoint_private_access,
                # Unset means AWS's default (0.0.0.0/0) when public access is on.
                "public_access_cidrs": public_cidrs or None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, *role.attachments], ignore_changes=CREATE_ONLY),
        )

    def _role(self, name: str, config: ClusterConfig, suffix: str, service: str,
              policies: Sequence[str]) -> _Role:
        """The IAM role ``<cluster>-<suffix>`` for ``service`` with AWS managed policies attached."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-{suffix}-role", name=f"{config.name}-{suffix}",
                            assume_role_policy=assume_role_policy(service), tags=self._tags, opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-{suffix}-{policy}", role=role.name,
                                         policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=child)
            for policy in policies
        ]
        return _Role(role.arn, attachments)

    def _admin_access(self, name: str, config: ClusterConfig,
                      cluster: aws.eks.Cluster) -> list[aws.eks.AccessPolicyAssociation]:
        """Cluster-admin access for the deploy role and each admin role, through EKS access entries (no aws-auth).

        The deploy role is one more admin: listed in ``adminRoleArns`` too, it
        still gets one entry (a second for the same principal would fail).
        """
        child = pulumi.ResourceOptions(parent=self)
        associations = []
        for arn, role in admin_names((config.deploy_role_arn, *config.admin_role_arns)).items():
            entry = aws.eks.AccessEntry(f"{name}-admin-{role}", cluster_name=cluster.name, principal_arn=arn,
                                        type="STANDARD", tags=self._tags, opts=child)
            associations.append(aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{role}-policy",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=CLUSTER_ADMIN_POLICY,
                access_scope={"type": "cluster"},
                opts=child,
            ))
        return associations

    def _preview_access(self, name: str, config: ClusterConfig,
                        cluster: aws.eks.Cluster) -> aws.eks.AccessPolicyAssociation | None:
        """Read access, at cluster scope, for the role previews run as (none when not configured)."""
        if config.preview_role_arn is None:
            return None
        child = pulumi.ResourceOptions(parent=self)
        role = config.preview_role_arn.rsplit("/", 1)[-1]
        entry = aws.eks.AccessEntry(f"{name}-preview-{role}", cluster_name=cluster.name,
                                    principal_arn=config.preview_role_arn, type="STANDARD", tags=self._tags, opts=child)
        return aws.eks.AccessPolicyAssociation(
            f"{name}-preview-{role}-policy",
            cluster_name=cluster.name,
            principal_arn=entry.principal_arn,
            policy_arn=CLUSTER_VIEW_POLICY,
            access_scope={"type": "cluster"},
            opts=child,
        )

    def _node_group(self, name: str, config: ClusterConfig, cluster: aws.eks.Cluster, node_role: _Role,
                    network: _Network) -> aws.eks.NodeGroup:
        """The default managed node group, in the private subnets, following the cluster's version."""
        nodes = config.node_group
        return aws.eks.NodeGroup(
            f"{name}-default",
            cluster_name=cluster.name,
            node_group_name_prefix=NODE_GROUP_NAME_PREFIX,
            node_role_arn=node_role.arn,
            subnet_ids=network.private_subnet_ids,
            version=cluster.version,
            ami_type=AMI_TYPE,
            instance_types=list(nodes.instance_types),
            disk_size=nodes.disk_size_gib,
            scaling_config={"min_size": nodes.min_size, "max_size": nodes.max_size,
                            "desired_size": nodes.desired_size},
            update_config={"max_unavailable": 1},
            tags=self._tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes that boot without their role's policies or a route out never join.
                depends_on=[*node_role.attachments, *network.ready],
                ignore_changes=AUTOSCALER_OWNED,
            ),
        )

    def _named(self, value: str) -> dict[str, str]:
        """The component's tags plus a ``Name`` (what the EC2 console shows for network resources)."""
        return {**self._tags, "Name": value}
