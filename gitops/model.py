"""The typed model: what the catalog and a stack say, after validation.

Everything here is frozen and holds only checked values, so the renderer can
trust it and never re-validate. Mappings are stored as sorted tuples of pairs
to keep the objects hashable and their iteration order deterministic.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from . import layout

Pairs = tuple[tuple[str, str], ...]

# The IngressClass the AWS Load Balancer Controller's chart creates (controller ingress.k8s.aws/alb).
ALB_INGRESS_CLASS = "alb"


class PortPurpose(enum.Enum):
    """What a port is for, and so who may reach it (its NetworkPolicy rule).

    ``traffic`` ports serve the service's callers; ``metrics`` and ``admin``
    ports stay inside the service's namespace (metrics also open to the
    stack's monitoring namespace): nothing routes there from an ingress or
    another team.
    """

    TRAFFIC = "traffic"
    METRICS = "metrics"
    ADMIN = "admin"


class ProbeKind(enum.Enum):
    HTTP = "http"
    TCP = "tcp"
    EXEC = "exec"


class SyncMode(enum.Enum):
    AUTOMATED = "automated"
    MANUAL = "manual"


class UpdateMode(enum.Enum):
    GIT = "git"                    # the Image Updater commits to the tracked branch
    PULL_REQUEST = "pull-request"  # it opens a pull request against the tracked branch
    OFF = "off"                    # no automatic updates: tags move only by `promote`


class Topology(enum.Enum):
    STANDALONE = "standalone"
    HUB = "hub"
    SPOKE = "spoke"


class Autoscaler(enum.Enum):
    """What grows and shrinks the cluster's nodes (``addons.autoscaler``)."""

    CLUSTER_AUTOSCALER = "cluster-autoscaler"   # scales the managed node group's Auto Scaling group
    NONE = "none"                               # nothing: the node group stays at its configured size


@dataclass(frozen=True)
class Resources:
    """Container requests and limits; any of them may be absent."""

    cpu_request: str | None = None
    memory_request: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None

    def merged(self, override: Resources | None) -> Resources:
        """Field-wise override, so an environment can change only one limit."""
        if override is None:
            return self
        return Resources(
            cpu_request=override.cpu_request or self.cpu_request,
            memory_request=override.memory_request or self.memory_request,
            cpu_limit=override.cpu_limit or self.cpu_limit,
            memory_limit=override.memory_limit or self.memory_limit,
        )

    def as_k8s(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        requests = {k: v for k, v in (("cpu", self.cpu_request), ("memory", self.memory_request)) if v}
        limits = {k: v for k, v in (("cpu", self.cpu_limit), ("memory", self.memory_limit)) if v}
        if requests:
            out["requests"] = requests
        if limits:
            out["limits"] = limits
        return out


@dataclass(frozen=True)
class Port:
    name: str
    container_port: int
    service_port: int
    purpose: PortPurpose = PortPurpose.TRAFFIC

    @property
    def internal(self) -> bool:
        """A metrics or admin port: reachable from the service's own namespace (and monitoring) only."""
        return self.purpose is not PortPurpose.TRAFFIC


@dataclass(frozen=True)
class Probe:
    kind: ProbeKind
    path: str | None = None          # HTTP
    port: str | None = None          # HTTP/TCP: a port name of the service
    command: tuple[str, ...] = ()       # EXEC
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class Ingress:
    host: str                 # DNS label; the full host is <host>.<stack ingress domain>
    path: str = "/"
    port: str = "http"        # a port name of the service (a traffic port)
    # The service's own Ingress annotations (validated: never the keys of a load balancer it shares).
    annotations: Pairs = ()


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    target_cpu_percent: int = 70


@dataclass(frozen=True)
class Migration:
    """A one-off command run to completion before each rollout (a schema migration).

    It runs in the service's own image, with its config, secrets, resources,
    service account and security context: only what it executes and how long
    and how often it may try differ from the service's container.
    """

    command: tuple[str, ...]
    args: tuple[str, ...]
    timeout_seconds: int      # the Job's activeDeadlineSeconds: the sync fails after this long
    backoff_limit: int        # retries in new pods before the Job, and the sync, fail


@dataclass(frozen=True)
class EnvOverride:
    """What one environment changes of a service; None = inherit."""

    replicas: int | None = None
    resources: Resources | None = None
    autoscaling: Autoscaling | None = None
    config: Pairs = ()


@dataclass(frozen=True)
class Service:
    name: str
    file: str
    team: str
    namespace: str
    description: str
    image_repository: str       # ECR repository name below the registry prefix
    image_tag: str              # default tag when a stack pins none
    ports: tuple[Port, ...]
    command: tuple[str, ...]
    args: tuple[str, ...]
    liveness: Probe | None
    readiness: Probe | None
    resources: Resources
    ingress: Ingress | None
    autoscaling: Autoscaling | None
    config: Pairs
    secrets: tuple[str, ...]
    environments: tuple[tuple[str, EnvOverride], ...]
    migration: Migration | None = None   # run as an Argo CD Sync hook before the Deployment rolls out
    # Services in other namespaces that call this one, as (service, namespace): its NetworkPolicy admits
    # their pods on the traffic ports. Pods of its own namespace may always connect.
    clients: tuple[tuple[str, str], ...] = ()
    # Opt-in progressive delivery: an Argo Rollouts canary in front of the Deployment (render/rollouts.py).
    delivery: Canary | None = None

    def override(self, env: str) -> EnvOverride:
        for name, override in self.environments:
            if name == env:
                return override
        return EnvOverride()

    @property
    def is_worker(self) -> bool:
        """No ports: no Service object, nothing routes to it."""
        return not self.ports


@dataclass(frozen=True)
class Catalog:
    services: tuple[Service, ...]   # sorted by name

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(sorted({s.team for s in self.services}))

    @functools.cached_property
    def by_namespace(self) -> Mapping[str, tuple[Service, ...]]:
        """Services per namespace, each in name order; computed once, since every service's render asks."""
        grouped: dict[str, list[Service]] = {}
        for service in self.services:
            grouped.setdefault(service.namespace, []).append(service)
        return {ns: tuple(sorted(group, key=lambda s: s.name)) for ns, group in sorted(grouped.items())}


@dataclass(frozen=True)
class NodeGroup:
    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    desired_size: int
    disk_size_gib: int


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    kubernetes_version: str
    vpc_cidr: str
    availability_zones: int
    subnet_ids: tuple[str, ...]           # given subnets instead of a new VPC
    node_group: NodeGroup
    endpoint_public_access: bool
    endpoint_private_access: bool
    public_access_cidrs: tuple[str, ...]
    admin_role_arns: tuple[str, ...]
    # The role `pulumi up` runs as (CI's deploy role): cluster admin through its own access entry,
    # so admin never depends on who happened to create the cluster.
    deploy_role_arn: str
    # The read-only role `pulumi preview` runs as: read access (Secrets included) through an access entry.
    preview_role_arn: str | None = None


@dataclass(frozen=True)
class RegistryConfig:
    account_id: str
    region: str
    prefix: str               # repositories are <prefix>/<service>
    owner: bool               # this stack creates the repositories
    # Images kept per ``expire_tag_patterns`` pattern. Release tags are never expired by count (an
    # environment may still run an old one), so without patterns nothing tagged expires.
    keep_release_images: int
    immutable_tags: bool
    kms_key_arn: str | None = None   # encrypt repositories with this key instead of AES-256
    # Owner only: the role in ``account_id`` the repositories are created as, when the stack deploys
    # into another account (its own credentials cannot create them there).
    role_arn: str | None = None
    # Owner only: destroying the stack deletes repositories that still hold images (ECR refuses otherwise).
    force_delete: bool = False
    # Owner only: ECR tag patterns of non-release tags ('pr-*') that expire beyond keep_release_images.
    expire_tag_patterns: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        from .names import ecr_host

        return ecr_host(self.account_id, self.region)

    def image(self, repository: str) -> str:
        name = f"{self.prefix}/{repository}" if self.prefix else repository
        return f"{self.host}/{name}"


@dataclass(frozen=True)
class GitOpsConfig:
    repo_url: str
    revision: str
    path: str                 # where our tree sits inside the Git repository ("." = root)
    checkout: str = layout.DEFAULT_CHECKOUT   # local clone `pulumi up` writes into (relative to the project)


@dataclass(frozen=True)
class WorkloadDefaults:
    replicas: int
    pdb_max_unavailable: int   # a PodDisruptionBudget is emitted when replicas > 1
    # Where the cluster's metrics scraper runs: its pods may reach every service's metrics ports.
    monitoring_namespace: str | None = None
    # namespace -> what the stack sets of its ResourceQuota (``workloads.quotas``); the rest is derived.
    quotas: tuple[tuple[str, NamespaceQuota], ...] = ()

    def quota(self, namespace: str) -> NamespaceQuota:
        for name, quota in self.quotas:
            if name == namespace:
                return quota
        return NamespaceQuota()


@dataclass(frozen=True)
class NamespaceQuota:
    """A stack's numbers for one namespace's ResourceQuota; each one left None is derived (render/quotas.py)."""

    resources: Resources = Resources()   # requests.cpu/memory and limits.cpu/memory: the namespace's totals
    pods: int | None = None


@dataclass(frozen=True)
class IngressConfig:
    domain: str | None
    class_name: str | None
    tls: bool
    annotations: Pairs
    # With tls on className alb: the ACM certificate of every HTTPS listener (None: discovered by the TLS host).
    certificate_arn: str | None = None
    # className alb: the IngressGroup every service's Ingress joins, so they share one load balancer
    # (None: each Ingress gets its own). The reader defaults it to the environment.
    group: str | None = None
    # Other classes, with tls: the Secret (in each service's namespace) holding the certificate.
    tls_secret_name: str | None = None
    # className alb: the CIDR blocks the load balancer sends from (its subnets); empty = the subnets
    # the cluster component creates for the load balancer's scheme (see gitops.ingress).
    load_balancer_cidrs: tuple[str, ...] = ()
    # Other classes: the namespace of the ingress controller's pods (None: the ingress port stays open).
    controller_namespace: str | None = None

    @property
    def is_alb(self) -> bool:
        """Served by the AWS Load Balancer Controller (its IngressClass ``alb``)."""
        return self.class_name == ALB_INGRESS_CLASS


@dataclass(frozen=True)
class SyncWindow:
    """An Argo CD sync window on the environment's AppProjects (e.g. no prod syncs at night)."""

    kind: str            # allow | deny
    schedule: str        # cron, five fields
    duration: str        # e.g. 1h, 30m
    manual_sync: bool    # a person may still sync inside a deny window
    time_zone: str       # IANA name the schedule is read in


@dataclass(frozen=True)
class DeliveryPolicy:
    sync: SyncMode
    prune: bool
    self_heal: bool
    retry_limit: int
    preserve_resources_on_deletion: bool
    sync_windows: tuple[SyncWindow, ...] = ()


@dataclass(frozen=True)
class AddOn:
    """A fleet-wide add-on (a Helm chart) the hub deploys to every cluster labelled for it."""

    name: str
    repo_url: str
    chart: str
    version: str
    namespace: str


@dataclass(frozen=True)
class ArgoCDConfig:
    namespace: str
    topology: Topology
    ha: bool = False                 # replicated server/repo-server/ApplicationSet controller and redis-ha
    hostname: str | None = None   # Argo CD UI/API host; argocd.<ingress domain> when a domain is set
    hub: str | None = None        # spoke only: the hub stack (Pulumi StackReference name)
    addons: tuple[str, ...] = ()     # add-ons enabled on this cluster (cluster labels the hub selects by)
    fleet_addons: tuple[AddOn, ...] = ()   # hub only: the add-ons it can deploy


@dataclass(frozen=True)
class AddonsConfig:
    """The controllers every cluster runs because the rendered manifests rely on them (``addons``).

    Each is on unless the stack turns it off explicitly: without the load
    balancer controller no ``alb`` Ingress gets a load balancer, without
    metrics-server every HPA is degraded, without an autoscaler the node group
    never grows past its desired size.
    """

    load_balancer_controller: bool = True
    metrics_server: bool = True
    autoscaler: Autoscaler = Autoscaler.CLUSTER_AUTOSCALER
    # The Argo Rollouts controller: None = installed exactly when a service of the catalog uses a canary.
    argo_rollouts: bool | None = None


@dataclass(frozen=True)
class ImageUpdatePolicy:
    """How new image tags reach this environment without a YAML edit (Argo CD Image Updater).

    The stack config's defaults (``imageUpdates``) are declared in ``gitops.configschema``.
    """

    mode: UpdateMode
    pull_request_provider: str                    # github | gitlab, for pull-request mode
    allow_tags: str                               # which tags count as releases
    constraints: Pairs = ()                        # service -> semver constraint (default: from the catalog's tag)
    credentials_secret: str | None = None      # Secret in Argo CD's namespace with write access; else Argo CD's repo creds
    # git mode: push every update to this one branch instead of the tracked one, so a single pull request
    # from it (opened once) always carries the newest tags instead of one pull request per update.
    write_branch: str | None = None

    def constraint(self, service: str) -> str | None:
        for name, value in self.constraints:
            if name == service:
                return value
        return None


@dataclass(frozen=True)
class SealingConfig:
    """The cluster's sealed-secrets keys: which generations are installed, backup and restore.

    Keys ``oldest_generation..generation`` are all active (each opens what it
    sealed); the newest seals. Raising ``generation`` rotates, raising
    ``oldest_generation`` retires keys nothing is sealed with any more.
    """

    generation: int = 1
    oldest_generation: int = 1
    namespace: str = layout.SEALING_NAMESPACE      # the controller's namespace (kubeseal's default)
    backup: bool = False                # copy the private keys to AWS Secrets Manager
    backup_kms_key_id: str | None = None
    restore_from: str | None = None  # a backup (Secrets Manager name or ARN) to install instead of new keys

    @property
    def generations(self) -> tuple[int, ...]:
        return tuple(range(self.oldest_generation, self.generation + 1))


@dataclass(frozen=True)
class CanaryStep:
    """One step of a canary: move ``set_weight`` percent of the pods to the new version, or pause.

    Exactly one of the two is set. ``pause`` is a duration such as ``5m``, or
    ``""`` for a pause that waits until someone promotes the Rollout.
    """

    set_weight: int | None = None
    pause: str | None = None


@dataclass(frozen=True)
class CanaryAnalysis:
    """A web metric the Rollouts controller polls during the canary; failing it aborts the rollout."""

    url: str
    success_condition: str
    json_path: str | None = None
    interval: str = "1m"
    count: int | None = None         # measurements in all (None: until the rollout ends)
    failure_limit: int = 0              # failed measurements tolerated before the rollout aborts
    starting_step: int | None = None  # the step index from which it runs (None: from the first)


@dataclass(frozen=True)
class Canary:
    """The catalog's ``delivery`` (``strategy: canary``): the steps, optionally gated by an analysis."""

    steps: tuple[CanaryStep, ...]
    analysis: CanaryAnalysis | None = None


class NotificationTrigger(enum.Enum):
    """What the stack's ``notifications.triggers`` may name; each is one of Argo CD's notification triggers."""

    SYNC_FAILED = "sync-failed"
    DEGRADED = "degraded"
    DEPLOYED = "deployed"


@dataclass(frozen=True)
class NotificationsConfig:
    """Argo CD notifications of one environment (``notifications``); off unless a notifier is set.

    ``slack_channel``: the Slack channel the environment's Applications report
    to; ``webhook``: the name of a webhook notifier (its URL is a secret).
    ``triggers``: what the environment's Applications subscribe to.
    """

    slack_channel: str | None = None
    webhook: str | None = None
    triggers: tuple[NotificationTrigger, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.slack_channel is not None or self.webhook is not None


@dataclass(frozen=True)
class Stack:
    """One stack = one environment's cluster.

    ``environment`` is unique per stack (it names ``overlays/<env>`` and
    ``argocd/<env>``); ``profile`` is what the cluster is like, so overrides are
    written once per kind of environment, not once per cluster.
    """

    name: str
    file: str
    environment: str
    account_id: str
    region: str
    cluster: ClusterConfig
    registry: RegistryConfig
    gitops: GitOpsConfig
    workloads: WorkloadDefaults
    ingress: IngressConfig
    delivery: DeliveryPolicy
    argocd: ArgoCDConfig
    image_tags: Pairs
    image_updates: ImageUpdatePolicy
    sealing: SealingConfig = SealingConfig()
    promote_from: str | None = None   # the environment whose tags this one receives by `promote`
    # The kind of environment this cluster serves: the catalog's ``environments.<profile>`` overrides
    # apply. Several clusters (a second prod region) share one profile; "" means the environment itself.
    profile: str = ""
    addons: AddonsConfig = AddonsConfig()
    notifications: NotificationsConfig = NotificationsConfig()

    def __post_init__(self) -> None:
        if not self.profile:
            object.__setattr__(self, "profile", self.environment)

    def image_tag(self, service: Service) -> str:
        for name, tag in self.image_tags:
            if name == service.name:
                return tag
        return service.image_tag

    def replicas(self, service: Service) -> int:
        """The count this environment runs ``service`` at when no autoscaler owns it: the profile's override of
        the service, else the stack's default."""
        override = service.override(self.profile)
        return override.replicas if override.replicas is not None else self.workloads.replicas


@dataclass(frozen=True)
class Project:
    """The catalog and every stack of the project, cross-checked."""

    root: str
    catalog: Catalog
    stacks: tuple[Stack, ...]   # sorted by stack name

    def stack(self, name: str) -> Stack:
        for stack in self.stacks:
            if stack.name == name:
                return stack
        raise KeyError(name)
