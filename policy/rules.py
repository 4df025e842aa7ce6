"""The policies of the ``gitops-platform`` CrossGuard pack, importable without starting a server.

``policy/__main__.py`` only wraps ``POLICIES`` in a ``PolicyPack`` (constructing one
starts the analyzer's gRPC server and blocks), so tests import this module and call
each policy's ``validate`` with ``ResourceValidationArgs`` built from the program's
registrations under mocks.

What a policy sees: the resource's *inputs* as the program registers them, under the
engine's camelCase names (``imageTagMutability``, ``vpcConfig.endpointPrivateAccess``),
not the provider's checked inputs: a property the program leaves out is absent here even
when AWS fills in a default, so every rule treats "absent" as AWS's default. During a
preview, reading a value that is not known yet raises ``UnknownValueError``, which the
analyzer reports as an advisory "can't run policy during preview"; the rules read only
properties the program knows at preview time.

Each rule is a pure function ``props (, config) -> [problem, ...]``; ``validate`` adds
the resource's name and reports one violation per problem.

Rules deliberately left out:

* Kubernetes ``Secret`` values must be secrets: the analyzer unwraps secret values
  before ``validate`` runs (``deserialize_properties(..., proxy_secrets=False)``), so a
  secret and a plaintext ``stringData`` look the same here and the rule could never
  fire in a real preview. The program makes them secret (``pulumi.Output.secret``) and
  tests/test_program.py and tests/test_sealing.py check, under mocks, that no secret
  value is registered in plain.
* The objects a Helm ``Release`` installs are not resources of the stack; a policy sees
  the Release itself (chart, version, values), which is what the chart rule checks.
* S3, RDS and the like: the program creates none.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
KMS_KEY = "aws:kms/key:Key"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# The tag the program puts on every per-environment AWS resource (__main__.py `tags`).
ENVIRONMENT_TAG = "environment"
DEFAULT_PRODUCTION_ENVIRONMENTS = ("prod",)

PRODUCTION_ENVIRONMENTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "default": list(DEFAULT_PRODUCTION_ENVIRONMENTS),
    "description": "Values of a resource's `environment` tag that mark it as production.",
}

ECR_ENCRYPTION_TYPES = frozenset({"AES256", "KMS", "KMS_DSSE"})
EKS_API_AUTHENTICATION_MODES = frozenset({"API", "API_AND_CONFIG_MAP"})

# Documents whose Allow statements may not use wildcard actions, per resource type.
IAM_DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    IAM_ROLE_POLICY: ("policy",),
    IAM_POLICY: ("policy",),
    IAM_ROLE: ("assumeRolePolicy",),    # plus each of `inlinePolicies[].policy`
    ECR_REPOSITORY_POLICY: ("policy",),
}

# Actions that may be allowed on Resource "*". ecr:GetAuthorizationToken has no
# resource-level permissions: IAM only accepts it on "*", and the token it returns
# grants nothing by itself (every pull is still authorised per repository, by the
# other statements and the repositories' own policies). The rest are the read-only
# discovery calls of the cluster's controllers (load balancer controller, Cluster
# Autoscaler): Describe/List/Get actions that IAM grants on "*" (most have no
# resource-level permissions) and that change nothing. Every action that changes
# something must name its resources. Compared case-insensitively, as IAM does.
WILDCARD_RESOURCE_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "acm:ListCertificates",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetInstanceTypesFromInstanceRequirements",
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
_WILDCARD_RESOURCE_ACTIONS = frozenset(a.lower() for a in WILDCARD_RESOURCE_ACTIONS)

# An exact chart version: Helm treats anything else ("^1.2", "~1.2.3", "1.2", "1.x",
# ">=1.0", "*") as a constraint and installs whatever newest release matches it.
_EXACT_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


# --- shared helpers -----------------------------------------------------------------

def _get(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None when any step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _strings(value: Any) -> list[str]:
    """A string or a list of strings (IAM's and AWS's "one or many") as a list; anything else as []."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [item for item in value if isinstance(item, str)]
    return []


def production_environments(config: Mapping[str, Any]) -> frozenset[str]:
    """The pack config's ``productionEnvironments`` (the CLI fills in the schema default; so does this)."""
    value = config.get("productionEnvironments")
    if value is None:
        value = DEFAULT_PRODUCTION_ENVIRONMENTS
    return frozenset(_strings(value))


def environment_of(props: Mapping[str, Any]) -> str | None:
    """The resource's ``environment`` tag, or None when it has none."""
    value = _get(props, "tags", ENVIRONMENT_TAG)
    return value if isinstance(value, str) else None


def is_production(props: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    return environment_of(props) in production_environments(config)


# --- 1. ECR repositories -------------------------------------------------------------

def ecr_repository_problems(props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Scan on push, explicit encryption, and immutable tags where required.

    Immutable tags: the program creates the shared registry's repositories only in the
    owner stack and tags them without an environment (they serve every environment), so
    a repository does not say whether production pulls from it. The pack therefore
    requires immutable tags on every repository while ``requireImmutableTags`` is true
    (the default), and, when that is switched off, still on any repository tagged with a
    production environment. The project's own cross-check already refuses a mutable owner when a
    stack that pulls from it requires immutable tags; this rule also catches the case
    where every stack (wrongly) allows mutable tags.
    """
    problems = []
    if _get(props, "imageScanningConfiguration", "scanOnPush") is not True:
        problems.append("imageScanningConfiguration.scanOnPush must be true: every pushed image is scanned for "
                        "known vulnerabilities before any cluster pulls it")
    encryption = props.get("encryptionConfigurations")
    types = [_get(item, "encryptionType") for item in (encryption if isinstance(encryption, Sequence)
                                                         and not isinstance(encryption, str) else [])]
    if not types or any(t not in ECR_ENCRYPTION_TYPES for t in types):
        problems.append(f"encryptionConfigurations must set encryptionType to one of "
                        f"{', '.join(sorted(ECR_ENCRYPTION_TYPES))}; found {types or 'none'}")
    mutability = props.get("imageTagMutability") or "MUTABLE"   # AWS's default
    if mutability != "IMMUTABLE":
        require = config.get("requireImmutableTags", True) is not False
        if is_production(props, config):
            why = f"it is tagged {ENVIRONMENT_TAG}={environment_of(props)} (production)"
        elif require:
            why = "the pack requires immutable tags on every repository (config requireImmutableTags)"
        else:
            why = ""
        if why:
            problems.append(f"imageTagMutability is {mutability} but must be IMMUTABLE: {why}, and a released "
                            "tag that can be pushed again can change what an environment runs without a Git change")
    return problems


# --- 2. EKS clusters -----------------------------------------------------------------

def _cidrs_open_to_everyone(cidrs: Iterable[str]) -> list[str]:
    open_ = []
    for cidr in cidrs:
        try:
            if ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
                open_.append(cidr)
        except ValueError:
            continue   # AWS refuses a malformed block; nothing to judge here
    return open_


def eks_cluster_problems(props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    problems = []
    resources = _strings(_get(props, "encryptionConfig", "resources"))
    if not resources:   # pulumi-aws v6 and older took a list of blocks
        blocks = props.get("encryptionConfig")
        if isinstance(blocks, Sequence) and not isinstance(blocks, str):
            resources = [r for block in blocks for r in _strings(_get(block, "resources"))]
    if "secrets" not in resources:
        problems.append("encryptionConfig.resources must contain \"secrets\": Kubernetes Secrets are "
                        "envelope-encrypted with a KMS key, not only by the disk")
    if "audit" not in _strings(props.get("enabledClusterLogTypes")):
        problems.append("enabledClusterLogTypes must contain \"audit\": who did what to the cluster is recorded "
                        "in CloudWatch")
    mode = _get(props, "accessConfig", "authenticationMode") or "CONFIG_MAP"   # AWS's default
    if mode not in EKS_API_AUTHENTICATION_MODES:
        problems.append(f"accessConfig.authenticationMode is {mode} but must be API (or API_AND_CONFIG_MAP): "
                        "access is granted through EKS access entries, not the aws-auth ConfigMap")
    if is_production(props, config):
        env = environment_of(props)
        vpc = props.get("vpcConfig")
        if _get(vpc, "endpointPrivateAccess") is not True:   # AWS's default: false
            problems.append(f"vpcConfig.endpointPrivateAccess must be true on a production cluster "
                            f"({ENVIRONMENT_TAG}={env}): nodes and in-VPC tooling reach the API privately")
        if _get(vpc, "endpointPublicAccess") is not False:   # AWS's default: true
            cidrs = _strings(_get(vpc, "publicAccessCidrs"))
            if not cidrs:
                problems.append(f"vpcConfig.publicAccessCidrs is not set on a production cluster ({ENVIRONMENT_TAG}="
                                f"{env}) with a public endpoint, which opens the API to 0.0.0.0/0: list the "
                                "allowed CIDR blocks or turn endpointPublicAccess off")
            elif _cidrs_open_to_everyone(cidrs):
                problems.append(f"vpcConfig.publicAccessCidrs contains {', '.join(_cidrs_open_to_everyone(cidrs))} "
                                f"on a production cluster ({ENVIRONMENT_TAG}={env}): the public API endpoint must "
                                "be restricted to known CIDR blocks")
    return problems


# --- 3. IAM policy documents ---------------------------------------------------------

def is_wildcard_action(action: str) -> bool:
    """``*`` or ``<service>:*`` (every action, or every action of a service)."""
    action = action.strip()
    return action == "*" or (":" in action and action.split(":", 1)[1] == "*")


def parse_policy_document(document: Any) -> Mapping[str, Any] | None:
    """A JSON policy document (string or already an object) as a mapping, or None when it is neither."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    return document if isinstance(document, Mapping) else None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's statements: ``Statement`` may be one object or a list of them."""
    value = document.get("Statement")
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [s for s in value if isinstance(s, Mapping)]
    return []


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """Why one statement grants too much; Deny statements never do."""
    if statement.get("Effect") != "Allow":
        return []
    label = f"statement {statement['Sid']!r}" if isinstance(statement.get("Sid"), str) else "a statement"
    problems = []
    if "NotAction" in statement:
        problems.append(f"{label} allows NotAction {_strings(statement.get('NotAction'))}: every action except "
                        "those, a wildcard in disguise; list the actions it needs")
    wildcards = [a for a in _strings(statement.get("Action")) if is_wildcard_action(a)]
    if wildcards:
        problems.append(f"{label} allows wildcard action {', '.join(wildcards)}: list the actions it needs")
    if "NotResource" in statement:
        problems.append(f"{label} allows NotResource {_strings(statement.get('NotResource'))}: every resource "
                        "except those; name the resources instead")
    if "*" in [r.strip() for r in _strings(statement.get("Resource"))]:
        broad = sorted(a for a in _strings(statement.get("Action"))
                       if a.strip().lower() not in _WILDCARD_RESOURCE_ACTIONS)
        if broad:
            problems.append(f"{label} allows {', '.join(broad)} on Resource \"*\": only ecr:GetAuthorizationToken "
                            "and read-only discovery actions that IAM grants only on every resource may be "
                            "(WILDCARD_RESOURCE_ACTIONS in policy/rules.py); name the resources it changes")
    return problems


def policy_document_problems(document: Any) -> list[str]:
    parsed = parse_policy_document(document)
    if parsed is None:
        return ["is not a JSON policy document, so it cannot be checked"]
    problems = []
    for statement in statements(parsed):
        problems.extend(statement_problems(statement))
    return problems


def iam_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(property path, document) for every policy document the resource carries."""
    documents = [(name, props[name]) for name in IAM_DOCUMENT_FIELDS.get(resource_type, ()) if name in props]
    if resource_type == IAM_ROLE:
        inline = props.get("inlinePolicies")
        if isinstance(inline, Sequence) and not isinstance(inline, str):
            for i, item in enumerate(inline):
                if isinstance(item, Mapping) and item.get("policy") is not None:
                    documents.append((f"inlinePolicies[{i}].policy", item["policy"]))
    return documents


def iam_problems(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [f"{path} {problem}" for path, document in iam_documents(resource_type, props)
            for problem in policy_document_problems(document)]


# --- 4. KMS keys ---------------------------------------------------------------------

def kms_key_problems(props: Mapping[str, Any]) -> list[str]:
    if props.get("enableKeyRotation") is not True:   # AWS's default: off
        return ["enableKeyRotation must be true: the key material is rotated (yearly by default), so one leaked "
                "version does not decrypt everything ever encrypted"]
    return []


# --- 5. Helm releases ----------------------------------------------------------------

def is_pinned_version(version: Any) -> bool:
    return isinstance(version, str) and _EXACT_VERSION.match(version.strip()) is not None


def helm_release_problems(props: Mapping[str, Any]) -> list[str]:
    version = props.get("version")
    if is_pinned_version(version):
        return []
    found = "none" if version in (None, "") else repr(version)
    return [f"chart {props.get('chart')!r} must be installed at an exact version (e.g. 1.2.3), found {found}: a "
            "missing version or a range installs whatever the repository publishes next, without a reviewed change"]


# --- the policies --------------------------------------------------------------------

Validation = Callable[[ResourceValidationArgs, ReportViolation], None]


def _validator(kinds: Mapping[str, str], check: Callable[[ResourceValidationArgs], list[str]]) -> Validation:
    """``validate`` for the resource types in ``kinds`` ({type: what to call it in a message})."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        kind = kinds.get(args.resource_type)
        if kind is None:
            return
        for problem in check(args):
            report_violation(f"{kind} '{args.name}': {problem}", args.urn)

    return validate


ECR_REPOSITORY_HARDENED = ResourceValidationPolicy(
    name="ecr-repository-hardened",
    description="ECR repositories scan images on push, are encrypted at rest (AES-256 or KMS) and keep tags "
                "immutable where required, so a released tag always means the same, scanned image.",
    validate=_validator({ECR_REPOSITORY: "ECR repository"},
                        lambda args: ecr_repository_problems(args.props, args.get_config())),
    config_schema=PolicyConfigSchema(properties={
        "productionEnvironments": PRODUCTION_ENVIRONMENTS_SCHEMA,
        "requireImmutableTags": {
            "type": "boolean",
            "default": True,
            "description": "Require IMMUTABLE tags on every repository, not only those tagged with a production "
                           "environment (the shared registry's repositories carry no environment tag).",
        },
    }),
)

EKS_CLUSTER_HARDENED = ResourceValidationPolicy(
    name="eks-cluster-hardened",
    description="EKS clusters encrypt Secrets with KMS, send audit logs, authenticate through access entries, "
                "and in production keep the API endpoint private or restricted to known networks.",
    validate=_validator({EKS_CLUSTER: "EKS cluster"},
                        lambda args: eks_cluster_problems(args.props, args.get_config())),
    config_schema=PolicyConfigSchema(properties={"productionEnvironments": PRODUCTION_ENVIRONMENTS_SCHEMA}),
)

IAM_NO_WILDCARDS = ResourceValidationPolicy(
    name="iam-no-wildcards",
    description="IAM and ECR policy documents grant named actions only (no \"*\", \"service:*\" or NotAction "
                "in an Allow), and Resource \"*\" only for ecr:GetAuthorizationToken and read-only "
                "discovery actions, which IAM grants only on every resource.",
    validate=_validator({IAM_ROLE_POLICY: "IAM role policy", IAM_POLICY: "IAM policy", IAM_ROLE: "IAM role",
                                ECR_REPOSITORY_POLICY: "ECR repository policy"},
                        lambda args: iam_problems(args.resource_type, args.props)),
)

KMS_KEY_ROTATION = ResourceValidationPolicy(
    name="kms-key-rotation-enabled",
    description="KMS keys rotate their key material automatically.",
    validate=_validator({KMS_KEY: "KMS key"}, lambda args: kms_key_problems(args.props)),
)

HELM_CHART_PINNED = ResourceValidationPolicy(
    name="helm-chart-version-pinned",
    description="Helm releases install an exact chart version, so an install or upgrade happens only "
                "through a reviewed change.",
    validate=_validator({HELM_RELEASE: "Helm release"}, lambda args: helm_release_problems(args.props)),
)

POLICIES: list[ResourceValidationPolicy] = [
    ECR_REPOSITORY_HARDENED,
    EKS_CLUSTER_HARDENED,
    IAM_NO_WILDCARDS,
    KMS_KEY_ROTATION,
    HELM_CHART_PINNED,
]
