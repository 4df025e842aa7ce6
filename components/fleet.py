"""Hub and spoke: one Argo CD (on the hub) deploys to every cluster of the fleet.

Argo CD reaches a spoke the way the EKS Blueprints hub-spoke pattern does, with
no long-lived credential anywhere:

- On the hub, ``HubAccess``: an IAM role ``<hub>-argocd-fleet`` that Argo CD's
  controller, ApplicationSet controller and server get through EKS Pod
  Identity. It may only assume roles named ``*-argocd-spoke`` (in any account
  of the fleet); it has no other permission.
- On each spoke, ``SpokeRegistration``: a role ``<spoke>-argocd-spoke`` that
  only the hub's fleet role may assume, with no IAM permissions at all; what it
  can do is what the spoke's EKS access entry grants (cluster admin: Argo CD
  creates namespaces and whatever the Applications hold). Then the Argo CD
  cluster Secret, written into the hub's Argo CD namespace through a
  Kubernetes provider made from the hub's kubeconfig (a StackReference output),
  with ``awsAuthConfig`` naming the spoke role: Argo CD assumes it with its
  Pod Identity credentials and authenticates with an EKS token.

The spoke stack owns its registration, so adding a cluster to the fleet is a
new stack file and ``pulumi up`` of that stack; the hub's stack does not change.

Ordering. ``pulumi up`` creates: spoke cluster -> access entry and policy
(and the in-cluster prerequisites in ``ready``) -> cluster Secret on the hub
(Argo CD sees the spoke only once it can log in) -> ``ApplicationsDrained``
(records only). ``pulumi destroy`` runs the same edges backwards, so the drain
goes first, while Argo CD can still reach the spoke:

1. ``ApplicationsDrained`` deletes the spoke's Applications on the hub: the
   workloads first (their ApplicationSet held, so it neither re-creates them
   nor strips the resources finalizer the drain adds where
   ``preserveResourcesOnDeletion`` left it out), then it removes the cluster
   Secret's labels, so no ApplicationSet selects the spoke any more and the
   hub deletes its add-ons and root Application with cascade; it returns once
   none is left (or fails naming them, stopping the destroy);
2. then the cluster Secret, which nothing selects any more;
3. then the access entry (Argo CD needed it while deleting), ``ready`` and
   the cluster.

Deleting the Secret first instead would make Argo CD drop the Applications
without deleting anything: with the destination gone, it cannot reach the
cluster, so it removes their finalizers and orphans the load balancers and
volumes.

Destroy spokes before their hub (a hub's drain refuses while spokes are
registered). A spoke destroyed after its hub finds the hub's API server gone:
the drain counts that as drained, but deleting the Secret through an
unreachable hub fails; set ``PULUMI_K8S_DELETE_UNREACHABLE=true`` for that
destroy (or ``pulumi state delete`` the Secret).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.argocd import REPO_SECRET_LABEL, pod_identity_trust_policy
from components.cluster import CLUSTER_ADMIN_POLICY, Cluster
from components.drain import ApplicationsDrained, ApplicationsDrainedArgs
from gitops import layout

HUB_TYPE = "gitops-platform:fleet:HubAccess"
SPOKE_TYPE = "gitops-platform:fleet:SpokeRegistration"
FLEET_ROLE_SUFFIX = "-argocd-fleet"
SPOKE_ROLE_SUFFIX = "-argocd-spoke"
# Every spoke role follows the naming above, in whichever account the spoke lives.
SPOKE_ROLES = f"arn:aws:iam::*:role/*{SPOKE_ROLE_SUFFIX}"
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:TagSession")
# The Argo CD parts that talk to destination clusters (chart 10.x names with release "argocd").
ARGOCD_SERVICE_ACCOUNTS = ("argocd-application-controller", "argocd-applicationset-controller", "argocd-server")
CLUSTER_SECRET_TYPE = "cluster"
# Hub stack outputs a spoke reads (exported by __main__.py on the hub).
HUB_KUBECONFIG = "kubeconfig"
HUB_CLUSTER_NAME = "clusterName"
HUB_NAMESPACE = "argocdNamespace"
HUB_FLEET_ROLE_ARN = "argocdFleetRoleArn"


def fleet_role_name(cluster: str) -> str:
    return f"{cluster}{FLEET_ROLE_SUFFIX}"


def spoke_role_name(cluster: str) -> str:
    return f"{cluster}{SPOKE_ROLE_SUFFIX}"


def spoke_role_arn(account_id: str, cluster: str) -> str:
    """The spoke role's ARN from config alone: known at preview, before the role exists."""
    return f"arn:aws:iam::{account_id}:role/{spoke_role_name(cluster)}"


def cluster_secret_name(cluster: str) -> str:
    """The same name the core gives the registration (``clusters/<cluster>/registration.yaml``)."""
    return layout.registration_secret_name(cluster)


def fleet_policy() -> str:
    """The hub role's only permission: become a spoke role (with Pod Identity's session tags)."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AssumeSpokeRoles",
            "Effect": "Allow",
            "Action": list(ASSUME_ACTIONS),
            "Resource": SPOKE_ROLES,
        }],
    }, sort_keys=True)


def spoke_trust_policy(hub_role_arn: str) -> str:
    """Only the hub's fleet role may assume the spoke role; TagSession because its session carries Pod Identity tags."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": hub_role_arn},
            "Action": list(ASSUME_ACTIONS),
        }],
    }, sort_keys=True)


def cluster_config(cluster: str, role_arn: str, ca_data: str) -> str:
    """The ``config`` of Argo CD's cluster Secret: an EKS token as ``role_arn``, the cluster's CA checked."""
    return json.dumps({
        "awsAuthConfig": {"clusterName": cluster, "roleARN": role_arn},
        "tlsClientConfig": {"insecure": False, "caData": ca_data},
    }, sort_keys=True)


def cluster_string_data(cluster: str, server: str, role_arn: str, ca_data: str) -> dict[str, str]:
    """``stringData`` of the cluster Secret; ``name`` is what Applications and cluster generators refer to."""
    return {"name": cluster, "server": server, "config": cluster_config(cluster, role_arn, ca_data)}


def cluster_secret_metadata(cluster: str, namespace: pulumi.Input[str], labels: Mapping[str, str],
                            annotations: Mapping[str, str]) -> k8s.meta.v1.ObjectMetaArgsDict:
    """Name, namespace, the given labels and annotations, and the label that makes it a cluster to Argo CD."""
    metadata: k8s.meta.v1.ObjectMetaArgsDict = {
        "name": cluster_secret_name(cluster),
        "namespace": namespace,
        "labels": {**labels, REPO_SECRET_LABEL: CLUSTER_SECRET_TYPE},
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata


@dataclass(frozen=True)
class HubAccessArgs:
    """The hub cluster Argo CD runs in.

    ``cluster_name``: the EKS cluster the Pod Identity associations attach to
    (an Output, so they wait for it). ``role_prefix``: the cluster's config name;
    the role is ``<role_prefix>-argocd-fleet`` (at most 40 + 13 characters).
    ``namespace``: Argo CD's namespace. ``tags``: AWS tags of the role and
    associations.
    """

    cluster_name: pulumi.Input[str]
    role_prefix: str
    namespace: str
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)


class HubAccess(pulumi.ComponentResource):
    """The IAM identity Argo CD on the hub uses to reach spokes: a role that can only assume spoke roles."""

    role_arn: pulumi.Output[str]
    associations: list[aws.eks.PodIdentityAssociation]

    def __init__(self, name: str, args: HubAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(HUB_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=fleet_role_name(args.role_prefix),
            description="Argo CD on the hub: assume the spoke clusters' roles (EKS Pod Identity)",
            assume_role_policy=pod_identity_trust_policy(),
            tags=dict(args.tags),
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(f"{name}-assume-spokes", role=role.name, policy=fleet_policy(), opts=child)
        self.role_arn = role.arn
        # Credentials are injected when a pod starts: the argo-cd release must wait for these
        # (ArgoCDArgs.pod_identities), or its pods run without them until restarted.
        self.associations = [
            aws.eks.PodIdentityAssociation(
                f"{name}-{account}",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=account,
                role_arn=role.arn,
                region=args.region,
                tags=dict(args.tags),
                # The policy too: an association is usable as soon as it exists.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
            )
            for account in ARGOCD_SERVICE_ACCOUNTS
        ]
        self.register_outputs({"roleArn": self.role_arn})


@dataclass(frozen=True)
class SpokeRegistrationArgs:
    """This spoke and the hub it registers into.

    ``cluster_name``: the spoke's config name (names its role, the cluster
    Secret and the Argo CD destination). ``cluster``: the spoke's cluster; its
    endpoint and CA go into the Secret, and nothing of it is deleted before the
    drain. ``hub``: the hub stack, whose outputs ``kubeconfig`` (secret),
    ``clusterName``, ``argocdNamespace`` and ``argocdFleetRoleArn`` are read.
    ``labels`` / ``annotations``: extra metadata of the cluster Secret (what the
    hub's cluster generators select and template by; default none).
    ``ready``: in-cluster prerequisites the first sync needs (the sealed-secrets
    controller) and what deleting the Applications needs (controllers that
    remove load balancers and volumes); the hub deploys only after them and
    they stay until the drain is done (default none).
    ``drain_timeout_seconds``: how long a destroy's drain may take for the
    spoke's Applications (default 900). ``tags``: AWS tags.
    """

    cluster_name: str
    cluster: Cluster
    hub: pulumi.StackReference
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    ready: Sequence[pulumi.Resource] = ()
    drain_timeout_seconds: int = 900
    tags: Mapping[str, str] = field(default_factory=dict)


class SpokeRegistration(pulumi.ComponentResource):
    """The spoke's role for the hub's Argo CD, its access entry, and its cluster Secret on the hub."""

    role_arn: pulumi.Output[str]
    secret: k8s.core.v1.Secret

    def __init__(self, name: str, args: SpokeRegistrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SPOKE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        hub, cluster = args.hub, args.cluster
        hub_namespace = hub.require_output(HUB_NAMESPACE)
        role = aws.iam.Role(
            f"{name}-role",
            name=spoke_role_name(args.cluster_name),
            description="Argo CD on the hub: administer this cluster (EKS access entry; no IAM permissions)",
            assume_role_policy=hub.require_output(HUB_FLEET_ROLE_ARN).apply(spoke_trust_policy),
            tags=dict(args.tags),
            opts=child,
        )
        self.role_arn = role.arn
        entry = aws.eks.AccessEntry(f"{name}-access", cluster_name=cluster.name, principal_arn=role.arn,
                                    type="STANDARD", tags=dict(args.tags), opts=child)
        admin = aws.eks.AccessPolicyAssociation(
            f"{name}-access-admin",
            cluster_name=cluster.name,
            principal_arn=entry.principal_arn,
            policy_arn=CLUSTER_ADMIN_POLICY,
            access_scope={"type": "cluster"},
            opts=child,
        )
        self.hub_provider = k8s.Provider(
            f"{name}-hub-k8s",
            kubeconfig=hub.require_output(HUB_KUBECONFIG),
            # Replaced only if the hub is another cluster, never because its kubeconfig text changed.
            cluster_identifier=hub.require_output(HUB_CLUSTER_NAME),
            enable_server_side_apply=True,
            opts=child,
        )
        string_data = pulumi.Output.all(cluster.endpoint, role.arn, cluster.certificate_authority).apply(
            lambda v: cluster_string_data(args.cluster_name, v[0], v[1], v[2]))
        # Nothing in it is a credential, but it is a Secret: keep it out of plain state and diffs.
        secret_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(string_data)
        self.secret = k8s.core.v1.Secret(
            f"{name}-cluster-secret",
            metadata=cluster_secret_metadata(args.cluster_name, hub_namespace, args.labels, args.annotations),
            type="Opaque",
            string_data=secret_data,
            # Argo CD sees the spoke once it can log in and the first sync's prerequisites run.
            opts=pulumi.ResourceOptions(parent=self, provider=self.hub_provider,
                                        depends_on=[entry, admin, *args.ready]),
        )
        self.drained = ApplicationsDrained(
            f"{name}-applications-drained",
            ApplicationsDrainedArgs(
                kubeconfig=hub.require_output(HUB_KUBECONFIG),
                namespace=hub_namespace,
                destination_name=args.cluster_name,
                destination_server=cluster.endpoint,
                cluster_secret=cluster_secret_name(args.cluster_name),
                timeout_seconds=args.drain_timeout_seconds,
            ),
            # Deleted before any of these: Argo CD needs the Secret, the cluster and its access while it deletes.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.secret, entry, admin, cluster, *args.ready]),
        )
        self.register_outputs({"roleArn": self.role_arn, "secretName": cluster_secret_name(args.cluster_name)})
