"""The stack config, declared once: every key and field, its type, default, validation and description.

Before this module a key's default and meaning lived in ``Pulumi.yaml``, the
reader, the model, the README and ``new-cluster``, and a new key had to be
added to each by hand. Now everything that is a property of one field is
declared here and the rest is derived:

- ``gitops.stackconfig`` reads each field with the type, default, allowed
  values, pattern, range and check declared here, and reports unknown keys
  against the declared ones (rules that span fields stay code next to it);
- the ``config:`` section of ``Pulumi.yaml`` (the top-level keys, which the
  Pulumi CLI validates before the program runs) and ``docs/configuration.md``
  are rendered from it by ``gitops.configdocs`` (``python -m gitops
  config-schema --write``), and tests fail while either is out of date;
- ``new-cluster`` copies exactly the fields marked ``Copy.COPY``.

Plain data, no magic: a ``Field`` is a frozen dataclass, a section is a
``Field`` of type ``object`` with ``fields``; a mapping whose keys are chosen by
the user (services, namespaces, add-on names) is an ``object`` with ``items``,
the declaration of each value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from . import ingress as ingress_rules
from . import layout, names
from .catalog import tag_problem
from .lifecycle import expire_pattern_problem
from .model import Autoscaler, NotificationTrigger, SyncMode, Topology, UpdateMode
from .reader import Node, checked

# The value types of Pulumi's project config declarations (``Pulumi.yaml``), used for every field.
TYPES: Final = ("string", "integer", "boolean", "array", "object")
# What regenerates Pulumi.yaml's config section and docs/configuration.md from this module.
REGENERATE_COMMAND: Final = "python -m gitops config-schema --write"


class Copy(enum.Enum):
    """What ``new-cluster`` does with a field of the stack it copies."""

    COPY = "copied"                             # the new cluster gets the source's value
    OMIT = "not copied"                         # the source cluster's own (its keys, pins, subnets) or a secret
    NEW = "set"                                 # new-cluster writes the new cluster's own value
    NOT_TO_SPOKE = "copied, not to a spoke"     # copied, except when --hub makes the new cluster a spoke


@dataclass(frozen=True)
class Field:
    """One key of the stack config: a top-level key, a field of a section, or the items of a list or mapping.

    ``default`` is applied when the key is absent (None: no static default;
    ``default_text`` then says what happens, e.g. "the environment").
    ``describe`` is what a valid value looks like and appears in error
    messages; ``valid`` says it for the documentation only, where a ``check``
    function's own message names what is valid. ``items`` declares each
    element of an ``array``, or each value of an ``object`` whose keys the user
    chooses (``keys`` names them, e.g. ``<service>``).
    """

    key: str
    type: str
    description: str = ""
    default: Any = None
    default_text: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    describe: str = ""
    valid: str = ""
    minimum: int | None = None
    maximum: int | None = None
    max_len: int | None = None
    check: Callable[[Any], str | None] | None = None
    copy: Copy = Copy.COPY
    secret: bool = False
    fields: tuple[Field, ...] = ()
    items: Field | None = None
    keys: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"field {self.key!r}: type {self.type!r} is not one of {', '.join(TYPES)}")

    def __getitem__(self, key: str) -> Field:
        """The declared field ``key`` of this section; KeyError for an undeclared one (a bug in the reader)."""
        for field in self.fields:
            if field.key == key:
                return field
        raise KeyError(f"{self.key}.{key} is not declared in gitops/configschema.py")

    @property
    def field_keys(self) -> tuple[str, ...]:
        return tuple(field.key for field in self.fields)


def label_check(max_len: int, rule: re.Pattern[str] = names.DNS1123_LABEL) -> Callable[[str], str | None]:
    """``names.label_problem`` with a fixed length, as a field's ``check``."""
    return lambda value: names.label_problem(value, max_len, rule)


# --- patterns and checks the fields use --------------------------------------------------------------
# Masterminds semver constraints as the Image Updater reads them: "~1.4", "^2", ">=1.2 <2", "1.x", "*".
SEMVER_CONSTRAINT: Final = re.compile(r"[\^~<>=!*xX0-9vV.|, -]+(-[0-9A-Za-z.-]+)?")
# A branch the Image Updater pushes to: plain git ref characters, no ':' (base:target) and no template.
WRITE_BRANCH: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")
CRON: Final = re.compile(r"(\S+\s+){4}\S+")
DURATION: Final = re.compile(r"(\d+h)?(\d+m)?(?<=[hm])")
TIME_ZONE: Final = re.compile(r"[A-Za-z_]+(/[A-Za-z_+-]+)*")
STACK_REFERENCE: Final = re.compile(r"([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+")
EXACT_VERSION: Final = re.compile(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")
KMS_KEY_REF: Final = re.compile(r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/)?[A-Za-z0-9/_-]+")
SECRETS_MANAGER_REF: Final = re.compile(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}")
KMS_KEY_ARN: Final = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+")
ACM_CERTIFICATE_ARN: Final = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+")
SUBNET_ID: Final = re.compile(r"subnet-[0-9a-f]{8,17}")
INSTANCE_TYPE: Final = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
# A Slack channel name (lowercase, digits, '-', '_') or a channel ID (C0123ABCD); never a list.
SLACK_CHANNEL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
SLACK_NOTIFIER: Final = "slack"
# The webhook's name is part of each subscription annotation key
# (notifications.argoproj.io/subscribe.on-health-degraded.<name>, at most 63 characters after the '/').
WEBHOOK_NAME_MAX: Final = 30
# The oldest Kubernetes minor whose API server accepts lifecycle.preStop.sleep (PodLifecycleSleepAction,
# beta and on by default since 1.30): every pod with a Service uses it to drain (render.workloads).
MIN_KUBERNETES_MINOR: Final = 30
DEFAULT_ALLOW_TAGS: Final = r"regexp:^v?[0-9]+\.[0-9]+\.[0-9]+$"


def kubernetes_version_problem(version: str) -> str | None:
    if int(version.split(".")[1]) < MIN_KUBERNETES_MINOR:
        return (f"{version!r} is too old: pods with a Service drain with the preStop sleep action, on by default "
                f"from Kubernetes 1.{MIN_KUBERNETES_MINOR}; use 1.{MIN_KUBERNETES_MINOR} or later")
    return None


def ecr_prefix_problem(prefix: str) -> str | None:
    if prefix and not names.ECR_REPOSITORY.fullmatch(prefix):
        return f"{prefix!r} is not a valid ECR repository prefix (lowercase, digits, '._-', '/')"
    return None


def webhook_name_problem(name: str) -> str | None:
    problem = names.label_problem(name, WEBHOOK_NAME_MAX)
    if problem is None and name == SLACK_NOTIFIER:
        problem = f"{name!r} is the Slack notifier's name; choose another"
    return problem


# --- the declarations, in the order of Pulumi.yaml -----------------------------------------------------
ENVIRONMENT: Final = Field(
    "environment", "string", required=True, copy=Copy.NEW,
    check=label_check(names.ENVIRONMENT_MAX), valid=f"a DNS label, at most {names.ENVIRONMENT_MAX} characters",
    description="Environment this stack's cluster runs (e.g. dev). Names overlays/<env> and argocd/<env>; unique "
                "across stacks.",
)

PROFILE: Final = Field(
    "profile", "string", default="", default_text="the environment", copy=Copy.NEW,
    check=label_check(names.ENVIRONMENT_MAX),
    valid=f"a DNS label, at most {names.ENVIRONMENT_MAX} characters",
    description="Kind of environment this cluster serves. The catalog's environments.<profile> overrides apply, so "
                "a second prod region is environment prod-us with profile prod.",
)

AWS_ACCOUNT_ID: Final = Field(
    "awsAccountId", "string", required=True, pattern=names.AWS_ACCOUNT, describe="a 12-digit AWS account id in quotes",
    description="AWS account id the stack must deploy into; the program refuses credentials of any other account.",
)

_CIDR_BLOCK: Final = Field("", "string", describe="CIDR blocks", valid="CIDR blocks such as '203.0.113.0/24'")

CLUSTER: Final = Field(
    "cluster", "object", required=True,
    description="The EKS cluster.",
    fields=(
        Field("name", "string", required=True, check=label_check(names.CLUSTER_MAX), copy=Copy.NEW,
              valid=f"a DNS label, at most {names.CLUSTER_MAX} characters",
              description="EKS cluster name; unique across stacks."),
        Field("kubernetesVersion", "string", default="1.33", pattern=names.K8S_VERSION,
              describe="a minor version like '1.33'", check=kubernetes_version_problem,
              valid=f"a minor version, 1.{MIN_KUBERNETES_MINOR} or later",
              description=f"Kubernetes minor version. 1.{MIN_KUBERNETES_MINOR} or later: pods drain with the preStop "
                          "sleep action."),
        Field("vpcCidr", "string", default="10.0.0.0/16", check=names.cidr_problem, copy=Copy.NEW,
              valid="a private CIDR block, /16 to /22",
              description="The VPC's CIDR block; new-cluster picks the first free 10.N.0.0/16."),
        Field("availabilityZones", "integer", default=3, minimum=2, maximum=6,
              description="Availability zones the VPC's subnets span."),
        Field("subnetIds", "array", copy=Copy.OMIT, default_text="a new VPC",
              items=Field("", "string", pattern=SUBNET_ID, describe="subnet ids like 'subnet-0abc1234'"),
              description="Given subnets (at least two availability zones) instead of a new VPC."),
        Field("nodeGroup", "object", description="The managed node group.", fields=(
            Field("instanceTypes", "array", default=["m6i.large"],
                  items=Field("", "string", pattern=INSTANCE_TYPE, describe="EC2 instance types like 'm6i.large'"),
                  description="EC2 instance types of the nodes."),
            Field("minSize", "integer", default=2, minimum=1, maximum=450, description="Fewest nodes."),
            Field("maxSize", "integer", default=4, minimum=1, maximum=450, description="Most nodes."),
            Field("desiredSize", "integer", minimum=1, maximum=450, default_text="minSize",
                  description="Nodes at creation; between minSize and maxSize."),
            Field("diskSizeGiB", "integer", default=50, minimum=20, maximum=16384, description="Disk of each node."),
        )),
        Field("endpointPublicAccess", "boolean", default=True,
              description="The API endpoint is reachable from the internet (from publicAccessCidrs). At least one of "
                          "the two endpoints is on."),
        Field("endpointPrivateAccess", "boolean", default=True, description="The API endpoint is reachable from the VPC."),
        Field("publicAccessCidrs", "array", default=["0.0.0.0/0"], items=_CIDR_BLOCK,
              description="Only these blocks reach the public endpoint, and GitHub-hosted runners are not in them: CI "
                          "then needs its own runner (docs/pr-previews.md)."),
        Field("adminRoleArns", "array",
              items=Field("", "string", pattern=names.IAM_ROLE_ARN, describe="IAM role ARNs"),
              description="IAM roles with cluster admin."),
        Field("deployRoleArn", "string", required=True, pattern=names.IAM_ROLE_ARN,
              valid="an IAM role ARN of awsAccountId, arn:aws:iam::<account>:role/[<path>/]<name>",
              description="The IAM role `pulumi up` runs as (CI's deploy role): cluster admin through its own access "
                          "entry, also when listed in adminRoleArns. Not the `sts ... assumed-role` session ARN."),
        Field("previewRoleArn", "string", pattern=names.IAM_ROLE_ARN,
              valid="an IAM role ARN of awsAccountId, neither the deploy role nor an admin",
              description="The read-only role `pulumi preview` runs as: read access to every resource, Secrets "
                          "included."),
    ),
)

ADDONS: Final = Field(
    "addons", "object", default={},
    description="Cluster controllers the manifests rely on, each installed unless set off here "
                "(docs/pulumi-program.md).",
    fields=(
        Field("loadBalancerController", "boolean", default=True,
              description="The AWS Load Balancer Controller; without it no alb Ingress gets a load balancer."),
        Field("metricsServer", "boolean", default=True, description="metrics-server; without it every HPA is degraded."),
        Field("autoscaler", "string", default=Autoscaler.CLUSTER_AUTOSCALER.value,
              choices=tuple(a.value for a in Autoscaler),
              description="What grows and shrinks the node group. Cluster Autoscaler needs a chart pinned for "
                          "cluster.kubernetesVersion (1.33, 1.34)."),
        Field("argoRollouts", "boolean", default_text="installed when a service of the catalog has delivery",
              description="The Argo Rollouts controller; false is refused while a service uses a canary."),
    ),
)

REGISTRY: Final = Field(
    "registry", "object", default={},
    description="The ECR registry the services' images come from: <account>.dkr.ecr.<region>.amazonaws.com/"
                "<prefix>/<repository>. One stack owns the repositories.",
    fields=(
        Field("accountId", "string", pattern=names.AWS_ACCOUNT, describe="a 12-digit AWS account id in quotes",
              default_text="awsAccountId", copy=Copy.NEW, description="Account of the registry."),
        Field("region", "string", pattern=names.AWS_REGION, describe="an AWS region such as 'eu-west-1'",
              default_text="aws:region", copy=Copy.NEW, description="Region of the registry."),
        Field("prefix", "string", default="", describe="ECR repository prefix like 'shop'", check=ecr_prefix_problem,
              valid="lowercase letters, digits, '._-', '/'", description="Repositories are <prefix>/<repository>."),
        Field("owner", "boolean", default=False, copy=Copy.NEW,
              description="This stack creates the repositories; at most one owner per registry."),
        Field("roleArn", "string", pattern=names.IAM_ROLE_ARN, copy=Copy.OMIT,
              valid="an IAM role ARN of accountId",
              description="Owner only: the IAM role in accountId the repositories are created, changed and deleted "
                          "as; required when accountId is not awsAccountId, whose credentials cannot create "
                          "repositories in another account."),
        Field("keepReleaseImages", "integer", default=30, minimum=1, maximum=1000,
              description="Images kept per expireTagPatterns pattern; release tags never expire by count."),
        Field("expireTagPatterns", "array", copy=Copy.OMIT, default_text="none",
              items=Field("", "string", describe="ECR tag patterns", check=expire_pattern_problem,
                          valid="ECR tag patterns, at most four '*' each, that no release tag can match"),
              description="Owner only: patterns of tags that are never releases (pr-*, sha-*), expired beyond "
                          "keepReleaseImages. A catch-all, or a pattern matching a tag some stack's "
                          "imageUpdates.allowTags accepts, is refused."),
        Field("forceDelete", "boolean", default=False, copy=Copy.OMIT,
              description="Owner only: destroying the stack deletes repositories that still hold images (otherwise "
                          "the destroy fails, see docs/pulumi-program.md, Running it for real)."),
        Field("immutableTags", "boolean", default=False,
              description="Tags cannot be overwritten; on a stack that does not own the registry it is a requirement "
                          "the owner must meet."),
        Field("kmsKeyArn", "string", pattern=KMS_KEY_ARN, copy=Copy.OMIT, default_text="AES-256",
              describe="a KMS key ARN like 'arn:aws:kms:eu-west-1:111111111111:key/<id>'",
              description="Owner only: encrypt the repositories with this KMS key."),
    ),
)

GITOPS: Final = Field(
    "gitops", "object", required=True,
    description="The GitOps repository Argo CD syncs from. repoURL, revision and path are written into every "
                "ApplicationSet's generator and Application template, so '{{', '}}', whitespace and control or "
                "format characters are refused.",
    fields=(
        Field("repoURL", "string", required=True, pattern=names.REPO_URL, describe="an https:// or ssh Git URL",
              description="The repository."),
        Field("revision", "string", default="main", pattern=names.GIT_REVISION, describe="a branch, tag or commit",
              description="The branch Argo CD tracks."),
        Field("path", "string", default=".", describe="the directory of the rendered tree inside the repository",
              valid="a relative path of plain directory names (no glob characters, empty or '.' segments)",
              description="Where the rendered tree sits in the repository."),
        Field("checkout", "string", default=layout.DEFAULT_CHECKOUT,
              describe="the local clone `pulumi up` writes into, relative to the project directory",
              description="The local clone `pulumi up` writes into, relative to the project."),
    ),
)

_QUANTITIES: Final = (
    Field("cpu", "string", check=names.cpu_problem, valid="a CPU quantity such as 4 or 500m",
          description="CPU total of the namespace."),
    Field("memory", "string", check=names.memory_problem, valid="a memory quantity such as 8Gi",
          description="Memory total of the namespace."),
)

WORKLOADS: Final = Field(
    "workloads", "object", default={},
    description="Workload defaults of the environment.",
    fields=(
        Field("replicas", "integer", default=1, minimum=1, maximum=1000,
              description="Replicas of every service without its own."),
        Field("pdbMaxUnavailable", "integer", default=1, minimum=1, maximum=1000,
              description="maxUnavailable of the PodDisruptionBudget each service with more than one replica gets."),
        Field("monitoringNamespace", "string", check=label_check(63), valid="a DNS label",
              description="The namespace of the metrics scraper, admitted to every service's metrics ports."),
        Field("quotas", "object", keys="<namespace>",
              description="The namespace's ResourceQuota numbers; each one not set is derived (docs/live-cluster.md, "
                          "Live-cluster behaviour). A namespace no service deploys into is refused.",
              items=Field("", "object", fields=(
                  Field("requests", "object", fields=_QUANTITIES, description="requests.cpu and requests.memory."),
                  Field("limits", "object", fields=_QUANTITIES, description="limits.cpu and limits.memory."),
                  Field("pods", "integer", minimum=1, maximum=100000, description="Pods in the namespace."),
              ))),
    ),
)

INGRESS: Final = Field(
    "ingress", "object", default={},
    description="Ingress of the environment's services.",
    fields=(
        Field("domain", "string", pattern=names.DNS1123_SUBDOMAIN, max_len=190,
              describe="a DNS domain like 'dev.shop.example.com'",
              description="Each service's host is <host>.<domain>; required when a service has an ingress."),
        Field("className", "string", check=label_check(63), valid="a DNS label", default_text="the cluster default",
              description="The IngressClass; alb is the AWS Load Balancer Controller's."),
        Field("tls", "boolean", default=False, description="Serve HTTPS."),
        Field("annotations", "object", keys="<annotation key>",
              items=Field("", "string", description="The annotation's value."),
              description="Annotations of every Ingress. Keys are qualified names as the API server checks them (such "
                          "as alb.ingress.kubernetes.io/scheme), at most 256 KiB together. Refused: group.name, "
                          "group.order, kubernetes.io/ingress.class (set by the keys here) and target-type other than "
                          "ip (Services are ClusterIP)."),
        Field("certificateArn", "string", pattern=ACM_CERTIFICATE_ARN,
              describe="an ACM certificate ARN like 'arn:aws:acm:eu-west-1:111111111111:certificate/<id>'",
              default_text="the one ACM holds for each host",
              description="With tls on alb only: the HTTPS listeners' ACM certificate."),
        Field("group", "string", check=ingress_rules.group_problem, default_text="the environment",
              valid="an IngressGroup name, or none",
              description="alb: the IngressGroup every service's Ingress joins, so the environment's services share "
                          "one load balancer; none for one per Ingress. Argo CD's own ingress stays out of it."),
        Field("loadBalancerCidrs", "array", items=_CIDR_BLOCK,
              default_text="the subnets the cluster component creates for the scheme",
              description="alb: the CIDR blocks of the load balancer's subnets, admitted to the ingress port by each "
                          "exposed service's NetworkPolicy; required with cluster.subnetIds or a subnets annotation."),
        Field("tlsSecretName", "string", check=label_check(253, names.DNS1123_SUBDOMAIN), valid="a DNS subdomain",
              description="Other classes: the kubernetes.io/tls Secret in every service namespace and Argo CD's. With "
                          "tls on another class it or a cert-manager issuer annotation is required."),
        Field("controllerNamespace", "string", check=label_check(63), valid="a DNS label",
              default_text="the ingress port is open to every source",
              description="Other classes: the ingress controller's namespace, the only one admitted to the ingress "
                          "port."),
    ),
)

DELIVERY: Final = Field(
    "delivery", "object", default={},
    description="Argo CD sync policy of the environment's Applications.",
    fields=(
        Field("sync", "string", default=SyncMode.MANUAL.value, choices=tuple(m.value for m in SyncMode),
              description="Whether Argo CD syncs by itself or a person does."),
        Field("prune", "boolean", default=False, description="Automated sync only: delete what left the tree."),
        Field("selfHeal", "boolean", default=False, description="Automated sync only: undo changes made in the cluster."),
        Field("retryLimit", "integer", default=5, minimum=0, maximum=100, description="Sync retries."),
        Field("preserveResourcesOnDeletion", "boolean", default=False,
              description="Resources stay when their Application goes."),
        Field("syncWindows", "array", description="Sync windows on the environment's AppProjects.",
              items=Field("", "object", fields=(
                  Field("kind", "string", required=True, choices=("allow", "deny"), description="Allow or deny syncs."),
                  Field("schedule", "string", required=True, pattern=CRON,
                        describe="a five-field cron schedule such as '0 22 * * *'", description="When it opens."),
                  Field("duration", "string", required=True, pattern=DURATION, describe="a duration such as '8h' or '30m'",
                        description="How long it stays open."),
                  Field("manualSync", "boolean", default_text="true with automated sync, false with manual",
                        description="A person may sync while the window blocks; refused with manual sync, where it "
                                    "would block nothing."),
                  Field("timeZone", "string", default="UTC", pattern=TIME_ZONE,
                        describe="an IANA time zone such as 'Europe/Berlin'", description="Time zone of the schedule."),
              ))),
    ),
)

ARGOCD: Final = Field(
    "argocd", "object", default={},
    description="Argo CD of this cluster (docs/fleets.md).",
    fields=(
        Field("namespace", "string", default=layout.ARGOCD_NAMESPACE, check=label_check(63), valid="a DNS label",
              description="Argo CD's namespace."),
        Field("topology", "string", default=Topology.STANDALONE.value, choices=tuple(t.value for t in Topology),
              description="standalone, a hub that deploys to spokes, or a spoke registered into a hub."),
        Field("ha", "boolean", default=False, copy=Copy.NOT_TO_SPOKE,
              description="Replicated server, repo-server, ApplicationSet controller and redis-ha; needs 3 nodes."),
        Field("hostname", "string", pattern=names.DNS1123_SUBDOMAIN, max_len=253,
              describe="a DNS name like 'argocd.shop.example.com'", copy=Copy.NOT_TO_SPOKE,
              default_text="argocd.<ingress domain>", description="Argo CD's UI and API host."),
        Field("hub", "string", pattern=STACK_REFERENCE,
              describe="the hub's stack as <org>/<project>/<stack> (or <stack> in the same project)",
              description="Spoke, required: the hub's stack. A hub of this project must be a hub with the same Argo "
                          "CD namespace and GitOps repository, revision and path."),
        Field("addons", "array",
              items=Field("", "string", pattern=names.DNS1123_LABEL, describe="add-on names like 'metrics-server'"),
              description="Add-ons this cluster gets from its hub, one label each; each must be a fleet add-on of "
                          "the hub."),
        Field("fleetAddons", "object", keys="<name>", copy=Copy.NOT_TO_SPOKE,
              description="Hub only: Helm charts it deploys to every cluster labelled for them.",
              items=Field("", "object", fields=(
                  Field("repoURL", "string", required=True, pattern=names.REPO_URL, describe="a Helm repository URL",
                        description="The chart's repository."),
                  Field("chart", "string", required=True, pattern=names.DNS1123_SUBDOMAIN, describe="a chart name",
                        description="The chart."),
                  Field("version", "string", required=True, pattern=EXACT_VERSION,
                        describe="an exact chart version like '3.12.2'", description="The chart version."),
                  Field("namespace", "string", required=True, check=label_check(63), valid="a DNS label",
                        description="Where it is installed."),
              ))),
    ),
)

NOTIFICATIONS: Final = Field(
    "notifications", "object", default={},
    description="Argo CD notifications of the environment's Applications; off unless a notifier is set. The "
                "credentials are secrets: secrets.argocd-notifications.SLACK_TOKEN / WEBHOOK_URL. On a spoke only "
                "its subscriptions: the notifiers are the hub's (docs/notifications.md).",
    fields=(
        Field("slack", "object", description="The Slack notifier.", fields=(
            Field("channel", "string", required=True, pattern=SLACK_CHANNEL,
                  describe="a Slack channel name or ID such as shop-deploys (no '#')", description="The channel."),
        )),
        Field("webhook", "object", description="A webhook notifier.", fields=(
            Field("name", "string", required=True, check=webhook_name_problem,
                  describe="the notifier's name, a DNS label such as ops-events",
                  valid=f"a DNS label, at most {WEBHOOK_NAME_MAX} characters, not {SLACK_NOTIFIER}",
                  description="The notifier's name."),
        )),
        Field("triggers", "array", default_text="all three when a notifier is set",
              items=Field("", "string", choices=tuple(t.value for t in NotificationTrigger)),
              description="What the environment's Applications report."),
    ),
)

IMAGE_TAGS: Final = Field(
    "imageTags", "object", default={}, keys="<service>", copy=Copy.OMIT,
    items=Field("", "string", check=tag_problem, valid="an image tag in quotes, not latest"),
    description="Pinned image tag per service for this environment; the catalog's image.tag otherwise.",
)

IMAGE_UPDATES: Final = Field(
    "imageUpdates", "object", default={},
    description="Argo CD Image Updater policy (docs/image-updates.md).",
    fields=(
        Field("mode", "string", choices=tuple(m.value for m in UpdateMode),
              default_text="git; off, the only mode allowed, with promotion.from",
              description="git: the Image Updater commits to the tracked branch; pull-request (HTTPS credentials "
                          "only); off."),
        Field("pullRequestProvider", "string", default="github", choices=("github", "gitlab"),
              description="Who hosts the pull requests."),
        Field("allowTags", "string", default=DEFAULT_ALLOW_TAGS, describe="'regexp:<pattern>' or 'any'",
              description="Which tags count as releases."),
        Field("constraints", "object", keys="<service>", default_text="^X.Y.Z of the catalog's tag, ~0.Y.Z below 1.0",
              items=Field("", "string", pattern=SEMVER_CONSTRAINT,
                          describe="a semver constraint such as '~1.4' or '^2.0.0'"),
              description="Semver constraint per service; a pinned service is held at its pin."),
        Field("credentialsSecret", "string", check=label_check(253), valid="a Secret name",
              default_text="Argo CD's repository credentials",
              description="A Secret in Argo CD's namespace with write access."),
        Field("writeBranch", "string", pattern=WRITE_BRANCH,
              describe="a fixed branch name such as 'image-updater-dev' (letters, digits, '.', '_', '-', '/'; no ':' "
                       "and no template: one branch takes every update)",
              default_text="the tracked branch",
              description="Mode git: commit every update to this one branch instead of the tracked one."),
    ),
)

PROMOTION: Final = Field(
    "promotion", "object", default={},
    description="Promotion order.",
    fields=(
        Field("from", "string", default="", default_text="none",
              describe="the environment whose tags are promoted into this one",
              description="The environment whose running tags `promote` pins into this one (staging: dev, prod: "
                          "staging); such an environment has no Image Updater."),
    ),
)

SEALING: Final = Field(
    "sealing", "object", default={},
    description="The cluster's sealed-secrets keys (docs/secrets.md).",
    fields=(
        Field("generation", "integer", default=1, minimum=1, maximum=1000, copy=Copy.OMIT,
              description="The newest key, which seals; raising it rotates."),
        Field("oldestGeneration", "integer", default=1, minimum=1, maximum=1000, copy=Copy.OMIT,
              description="The oldest key still installed (at most generation); raising it retires keys."),
        Field("namespace", "string", default=layout.SEALING_NAMESPACE, check=label_check(63), valid="a DNS label",
              description="The controller's namespace."),
        Field("backup", "boolean", default=False, description="Copy the private keys to AWS Secrets Manager."),
        Field("backupKmsKeyId", "string", pattern=KMS_KEY_REF, copy=Copy.OMIT,
              describe="a KMS key id, ARN or alias like 'alias/sealed-secrets-backup'",
              description="The KMS key of the backup."),
        Field("restoreFrom", "string", pattern=SECRETS_MANAGER_REF, copy=Copy.OMIT,
              describe="a Secrets Manager secret name or ARN (the backup of a previous cluster)",
              description="Install the keys of this backup instead of new ones."),
    ),
)

SECRETS: Final = Field(
    "secrets", "object", default={}, keys="<service>", secret=True, copy=Copy.OMIT,
    items=Field("", "object", keys="<NAME>", items=Field("", "string")),
    description="Secret values per service, sealed into the overlays; under argocd-notifications the notifiers' "
                "credentials (SLACK_TOKEN, WEBHOOK_URL). Set only with `pulumi config set --secret --path "
                "'gitops-platform:secrets.<service>.<NAME>' <value>` (unencrypted values are refused).",
)

GITOPS_CREDENTIALS: Final = Field(
    "gitopsCredentials", "object", default={}, secret=True, copy=Copy.OMIT,
    fields=(
        Field("username", "string", description="HTTPS user."),
        Field("password", "string", description="HTTPS password or token."),
        Field("sshPrivateKey", "string", description="SSH key, instead of username and password."),
    ),
    description="Credentials Argo CD uses to read the GitOps repository; set only with `pulumi config set --secret "
                "--path` (unencrypted values are refused); empty for a public repository.",
)

# Every top-level key of the project's namespace (gitops-platform:<key>), in the order Pulumi.yaml declares them.
STACK_CONFIG: Final[tuple[Field, ...]] = (
    ENVIRONMENT, PROFILE, AWS_ACCOUNT_ID, CLUSTER, ADDONS, REGISTRY, GITOPS, WORKLOADS, INGRESS, DELIVERY, ARGOCD,
    NOTIFICATIONS, IMAGE_TAGS, IMAGE_UPDATES, PROMOTION, SEALING, SECRETS, GITOPS_CREDENTIALS,
)
TOP_LEVEL: Final = {field.key: field for field in STACK_CONFIG}
REQUIRED_KEYS: Final = tuple(field.key for field in STACK_CONFIG if field.required)
# Keys whose values must be encrypted (`pulumi config set --secret`). Pulumi.yaml cannot say so with
# `secret: true`: the CLI would then demand them in every stack, since a default is never encrypted.
SECRET_KEYS: Final = tuple(field.key for field in STACK_CONFIG if field.secret)


# --- reading a declared field ----------------------------------------------------------------------
_DECLARED: Any = object()   # the default of read_str/read_int/read_bool: the one declared


def read_str(node: Node, field: Field, default: Any = _DECLARED) -> str | None:
    """A string field as the schema declares it: default, allowed values, pattern, length, then its check.

    ``default`` replaces the declared one where it is computed from other
    values (``registry.accountId`` is ``awsAccountId`` unless set). The
    default comes back when the key is absent and, reported, when the value
    is wrong; None when the ``check`` refuses it.
    """
    assert field.type == "string", f"{field.key} is declared {field.type}"
    value = node.as_str(field.key, _default(field, default), required=field.required, pattern=field.pattern,
                        describe=field.describe, max_len=field.max_len, choices=field.choices or None)
    return checked(value, field.check, node, field.key) if field.check is not None else value


def read_int(node: Node, field: Field, default: Any = _DECLARED) -> int | None:
    """An integer field as declared: default and range (see ``read_str``)."""
    assert field.type == "integer", f"{field.key} is declared {field.type}"
    return node.as_int(field.key, _default(field, default), required=field.required, minimum=field.minimum,
                       maximum=field.maximum)


def read_bool(node: Node, field: Field, default: Any = _DECLARED) -> bool:
    """A boolean field as declared (see ``read_str``)."""
    assert field.type == "boolean", f"{field.key} is declared {field.type}"
    return bool(node.as_bool(field.key, _default(field, default)))


def _default(field: Field, default: Any) -> Any:
    return field.default if default is _DECLARED else default


def read_strings(node: Node, field: Field) -> tuple[str, ...]:
    """A list of strings, each matching the declared items' pattern and check; wrong items are reported and dropped."""
    items = field.items
    assert items is not None, f"{field.key} declares no items"
    out = []
    for i, item in enumerate(node.as_list(field.key) or []):
        if not isinstance(item, str) or (items.pattern is not None and not items.pattern.fullmatch(item)):
            node.error(f"{field.key}[{i}]", f"expected {items.describe}, got {item!r}")
        elif items.check is not None and (problem := items.check(item)):
            node.error(f"{field.key}[{i}]", problem)
        else:
            out.append(item)
    return tuple(out)


def section_node(parent: Node, field: Field) -> Node:
    """The mapping of an optional section inside ``parent``, empty when absent, so every field reads its default."""
    return parent.node(field.key) or Node({}, parent.file, parent.key(field.key), parent.problems)


def walk(fields: tuple[Field, ...] = STACK_CONFIG, prefix: str = "") -> Iterator[tuple[str, Field]]:
    """Every declared field with its dotted path (``cluster.nodeGroup.minSize``), parents before children.

    Items of a list are ``[]`` and values of a user-keyed mapping ``<keys>``:
    ``delivery.syncWindows[].kind``, ``argocd.fleetAddons.<name>.chart``.
    """
    for field in fields:
        path = f"{prefix}.{field.key}" if prefix else field.key
        yield path, field
        yield from _walk_items(field, path)


def _walk_items(field: Field, path: str) -> Iterator[tuple[str, Field]]:
    yield from walk(field.fields, path)
    if field.items is None:
        return
    item_path = f"{path}[]" if field.type == "array" else f"{path}.{field.keys}"
    if field.items.fields:
        yield from walk(field.items.fields, item_path)
    elif field.items.items is not None:
        yield from _walk_items(field.items, item_path)


def copy_paths(copy: Copy) -> frozenset[str]:
    """The dotted paths of the fields ``new-cluster`` treats as ``copy``, at the depth it decides them.

    A top-level key marked ``OMIT`` is left out whole (the secrets); any other
    section is decided field by field (``cluster.subnetIds``), and a key without
    fields by its own mark (``imageTags``). Marks below a decided field are not
    used: ``cluster.nodeGroup`` is copied whole.
    """
    out: set[str] = set()
    for field in STACK_CONFIG:
        if field.fields and field.copy is not Copy.OMIT:
            out.update(f"{field.key}.{sub.key}" for sub in field.fields if sub.copy is copy)
        elif field.copy is copy:
            out.add(field.key)
    return frozenset(out)
