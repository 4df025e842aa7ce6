"""Stack config: ``Pulumi.yaml`` declarations + ``Pulumi.<stack>.yaml`` -> ``Stack``.

The same ``stack_from_config`` serves the CLI (which reads the stack file) and
the Pulumi program (which gets the values from the engine), so both see one
model. Project-level defaults apply the way Pulumi applies them: a stack value
replaces the default wholesale; field defaults inside objects live here, in
one place, and are documented in the README.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import ingress as ingress_rules
from . import layout, names, yamlio
from .catalog import tag_problem
from .errors import InputError, Problem
from .lifecycle import expire_pattern_problem
from .model import ALB_INGRESS_CLASS
from .model import (
    ArgoCDConfig, ClusterConfig, DeliveryPolicy, GitOpsConfig, IngressConfig, NodeGroup,
    DEFAULT_ALLOW_TAGS, AddOn, ImageUpdatePolicy, RegistryConfig, SealingConfig, Stack, SyncMode, SyncWindow, Topology, UpdateMode,
    WorkloadDefaults, AddonsConfig, Autoscaler, NamespaceQuota, Resources,
)
from .notifications import read_notifications
from .reader import Node, Problems, checked, did_you_mean, type_name

NS = layout.CONFIG_NAMESPACE
_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}
_STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
REQUIRED_KEYS = ("environment", "awsAccountId", "cluster", "gitops")
# Keys whose values must be encrypted (`pulumi config set --secret`). Pulumi.yaml cannot say so with
# `secret: true`: the CLI would then demand them in every stack, since a default is never encrypted.
SECRET_KEYS = ("secrets", "gitopsCredentials")
# Providers the program configures from stack config; any other namespace is a typo.
PROVIDER_NAMESPACES = ("aws", "kubernetes", "tls", "pulumi")


@dataclass(frozen=True)
class Declaration:
    type: str
    default: Any
    secret: bool = False   # `secret: true`: set with `pulumi config set --secret`, never copied between stacks


@dataclass(frozen=True)
class ProjectConfig:
    """What ``Pulumi.yaml`` declares: typed keys of our namespace, provider values."""

    declarations: Mapping[str, Declaration]
    provider_values: Mapping[str, Any]


def read_project_config(root: Path) -> ProjectConfig:
    file = layout.PROJECT_FILE
    data = yamlio.parse(yamlio.read_file_text(root / file, file), file)
    problems = Problems()
    node = Node.root(data, file, problems, "project settings")
    declarations: dict[str, Declaration] = {}
    providers: dict[str, Any] = {}
    if node is not None:
        if node.str("name") != layout.PROJECT_NAME:
            node.error("name", f"must be {layout.PROJECT_NAME!r}: stack keys and component types are named after it")
        for key, spec in node.entries("config"):
            where = f"config.{key}"
            if ":" in key and not key.startswith(NS + ":"):
                providers[key] = spec.get("value") if isinstance(spec, dict) else spec
                continue
            short = key.split(":", 1)[1] if ":" in key else key
            if not isinstance(spec, dict) or spec.get("type") not in _TYPES:
                problems.add(file, where, f"declare a type: one of {', '.join(_TYPES)}")
                continue
            default = spec.get("default", spec.get("value"))
            if default is not None and not _is_type(default, spec["type"]):
                problems.add(file, f"{where}.default", f"expected {spec['type']}, got {type_name(default)}")
                continue
            declarations[short] = Declaration(spec["type"], default, spec.get("secret") is True or short in SECRET_KEYS)
    if problems:
        raise InputError(problems.items)
    return ProjectConfig(declarations, providers)


def stack_names(root: Path) -> list[str]:
    """Stacks are the ``Pulumi.<stack>.yaml`` files next to ``Pulumi.yaml``."""
    out = []
    for path in root.glob(f"{layout.STACK_FILE_PREFIX}*{layout.STACK_FILE_SUFFIX}"):
        name = path.name[len(layout.STACK_FILE_PREFIX):-len(layout.STACK_FILE_SUFFIX)]
        if name:
            out.append(name)
    return sorted(out)


def stack_file(stack: str) -> str:
    return f"{layout.STACK_FILE_PREFIX}{stack}{layout.STACK_FILE_SUFFIX}"


def read_stack_values(root: Path, stack: str) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, as namespaced key -> value."""
    file = stack_file(stack)
    path = root / file
    if not path.exists():   # a directory, device or FIFO exists: the reader says what it is instead
        known = stack_names(root)
        hint = did_you_mean(stack, known)
        raise InputError([Problem(file, "", f"stack file not found{hint}; stacks of this project: {', '.join(known) or 'none'}")])
    data = yamlio.parse(yamlio.read_file_text(path, file), file)
    if data is None:
        data = {}
    problems = Problems()
    node = Node.root(data, file, problems, "stack settings")
    values: dict[str, Any] = {}
    if node is not None:
        for key in _STACK_FILE_KEYS:
            node.raw(key)
        node.done()
        for key, value in node.entries("config"):
            values[key] = value
    if problems:
        raise InputError(problems.items)
    return values


# Masterminds semver constraints as the Image Updater reads them: "~1.4", "^2", ">=1.2 <2", "1.x", "*".
SEMVER_CONSTRAINT = re.compile(r"[\^~<>=!*xX0-9vV.|, -]+(-[0-9A-Za-z.-]+)?")
# A branch the Image Updater pushes to: plain git ref characters, no ':' (base:target) and no template.
WRITE_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")
CRON = re.compile(r"(\S+\s+){4}\S+")
DURATION = re.compile(r"(\d+h)?(\d+m)?(?<=[hm])")
TIME_ZONE = re.compile(r"[A-Za-z_]+(/[A-Za-z_+-]+)*")
STACK_REFERENCE = re.compile(r"([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+")
EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")
KMS_KEY_REF = re.compile(r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/)?[A-Za-z0-9/_-]+")
SECRETS_MANAGER_REF = re.compile(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}")
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+")
ACM_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+")
# The oldest Kubernetes minor whose API server accepts lifecycle.preStop.sleep (PodLifecycleSleepAction,
# beta and on by default since 1.30): every pod with a Service uses it to drain (render.workloads).
MIN_KUBERNETES_MINOR = 30
# Ingress annotations the stack's own ingress keys produce (gitops.ingress): set by hand they would fight them.
STACK_DERIVED_ANNOTATIONS: Mapping[str, str] = {
    ingress_rules.GROUP_NAME: f"set ingress.group instead (default: the environment; '{ingress_rules.NO_GROUP}' for a "
                              "load balancer per Ingress)",
    ingress_rules.GROUP_ORDER: "is derived per service from its ingress path (longer paths first); remove it",
    ingress_rules.CLASS_ANNOTATION: "set ingress.className instead",
}


def engine_values(raw: Mapping[str, Any], secret_keys: "set[str] | frozenset[str]", project: ProjectConfig) -> dict[str, Any]:
    """The engine's config (every value a string; structured ones JSON) as the stack file would hold it.

    Secret values are left out: nothing the renderer reads may be secret, and
    the program reads secrets only through ``pulumi.Config.get_secret*``.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in secret_keys:
            continue
        short = key[len(NS) + 1:] if key.startswith(NS + ":") else None
        decl = project.declarations.get(short) if short is not None else None
        if decl is not None and decl.type != "string" and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass  # reported by the type check as the wrong type
        values[key] = value
    return values


def stack_from_config(
    stack: str, file: str, values: Mapping[str, Any], project: ProjectConfig, catalog_services: tuple[str, ...]
) -> Stack:
    """Validate one stack's config values into a ``Stack``; all problems at once."""
    problems = Problems()
    config: dict[str, Any] = {}
    mistyped: set[str] = set()
    for key, value in values.items():
        namespace = key.split(":", 1)[0] if ":" in key else ""
        if namespace != NS and namespace not in PROVIDER_NAMESPACES:
            hint = did_you_mean(namespace, [NS, *PROVIDER_NAMESPACES]) if namespace else ""
            problems.add(file, f"config.{key}", f"unknown config namespace{hint}; keys of this project are "
                         f"'{NS}:<key>', provider keys '<provider>:<key>' ({', '.join(PROVIDER_NAMESPACES)})")
            continue
        if key.startswith(NS + ":"):
            short = key[len(NS) + 1:]
            if short not in project.declarations:
                problems.add(file, f"config.{key}", f"unknown key{did_you_mean(short, list(project.declarations))}; "
                             f"declared keys: {', '.join(sorted(project.declarations))}")
                continue
            config[short] = value
    for short, decl in project.declarations.items():
        if short not in config and decl.default is not None:
            config[short] = decl.default
        if short in config and not _is_type(config[short], decl.type):
            hint = "; quote it" if decl.type == "string" and isinstance(config[short], (int, float)) else ""
            problems.add(file, f"config.{NS}:{short}", f"expected {decl.type}, got {type_name(config[short])}{hint}")
            mistyped.add(short)
            del config[short]
    for short in SECRET_KEYS:
        for path in plaintext_paths(config.get(short)):
            problems.add(file, f"config.{NS}:{short}{path}",
                         f"is not encrypted: set it with `pulumi config set --secret --path '{NS}:{short}{path}' <value>` "
                         "(and rotate the value: it has been in plain text)")
    for short in REQUIRED_KEYS:
        if short not in config and short not in mistyped and short in project.declarations:
            problems.add(file, f"config.{NS}:{short}", "is required")
    region = values.get("aws:region", project.provider_values.get("aws:region"))
    if not isinstance(region, str) or not names.AWS_REGION.fullmatch(region):
        problems.add(file, "config.aws:region", f"expected an AWS region such as 'eu-west-1', got {region!r}")
        region = None
    reader = _StackReader(Node(config, file, "", problems), file, problems)
    stack_obj = reader.read(stack, region, catalog_services)
    if problems or stack_obj is None:
        raise InputError(problems.items)
    return stack_obj


def pull_request_credentials_problem(repo_url: str, credential_keys: Iterable[str],
                                     credentials_secret: "str | None") -> "str | None":
    """Why the Image Updater could not open pull requests with a stack's Git credentials, or None.

    It opens them through the provider's API with the token of its write-back
    credentials (HTTPS username and token, or a GitHub App); with an SSH key it
    pushes the branch and then fails ("credentials type ... do not support PR
    creation"). An SSH repository URL means SSH credentials whatever the Secret;
    Argo CD's own credentials, used without ``credentialsSecret``, are SSH when
    ``gitopsCredentials`` holds an ``sshPrivateKey``. Only key names are looked at.
    The CLI sees them in the stack file; ``pulumi up`` (where the engine keeps the
    secret to itself) checks them in ``components/config.py``.
    """
    if repo_url.startswith(("ssh://", "git@")):
        return (f"pull-request needs HTTPS Git credentials, but {NS}:gitops.repoURL {repo_url} is an SSH URL: the "
                "Image Updater opens pull requests with the API token of its credentials, and an SSH key has none. "
                "Use an https:// repoURL with a token (or a GitHub App), or mode: git")
    if "sshPrivateKey" in set(credential_keys) and not credentials_secret:
        return (f"pull-request needs HTTPS Git credentials, but the Image Updater would use Argo CD's, and "
                f"{NS}:gitopsCredentials holds an sshPrivateKey: an SSH key cannot open pull requests. Set "
                "imageUpdates.credentialsSecret to a Secret with username and password (a token with write access) "
                "or GitHub App fields, or mode: git")
    return None


def plaintext_paths(value: Any, path: str = "") -> list[str]:
    """Key paths (``.billing.API_KEY``) of the leaves of a secret key's value that are not ``{secure: ...}``.

    The engine hands the program a properly encrypted key as secret and
    ``engine_values`` drops it, so whatever reaches here unencrypted was set
    without ``--secret``. Paths only: a value is never put into a message.
    """
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return []
        return [p for key, item in value.items() for p in plaintext_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in plaintext_paths(item, f"{path}[{i}]")]
    return [path] if value is not None else []


class _StackReader:
    def __init__(self, node: Node, file: str, problems: Problems) -> None:
        self.node = node
        self.file = file
        self.problems = problems

    def sub(self, name: str) -> "Node | None":
        value = self.node.raw(name)
        if value is None:
            return None
        return Node(value, self.file, f"config.{NS}:{name}", self.problems)

    def read(self, stack: str, region: "str | None", services: tuple[str, ...]) -> "Stack | None":
        env = self._env(self.node)
        profile = self._profile(self.node)
        account = self.node.raw("awsAccountId")
        if isinstance(account, int):
            account = f"{account:012d}"
        if account is not None and (not isinstance(account, str) or not names.AWS_ACCOUNT.fullmatch(account)):
            self.problems.add(self.file, f"config.{NS}:awsAccountId", f"expected a 12-digit AWS account id in quotes, got {account!r}")
            account = None
        cluster = self._cluster(self.sub("cluster"), account)
        registry = self._registry(self.sub("registry"), account, region)
        gitops = self._gitops(self.sub("gitops"))
        workloads = self._workloads(self.sub("workloads"))
        ingress = self._ingress(self.sub("ingress"))
        delivery = self._delivery(self.sub("delivery"))
        argocd = self._argocd(self.sub("argocd"))
        tags = self._image_tags(self.sub("imageTags"), services)
        sealing = self._sealing(self.sub("sealing"))
        promote_from = self._promotion(self.sub("promotion"))
        updates = self._image_updates(self.sub("imageUpdates"), services, promote_from, gitops)
        addons = self._addons(self.sub("addons"))
        notifications = read_notifications(self.sub("notifications"), self.file, self.problems)
        if None in (env, profile, account, region, cluster, registry, gitops, workloads, ingress, delivery, argocd, tags,
                    sealing, updates, promote_from, addons, notifications):
            return None
        return Stack(
            name=stack, file=self.file, environment=env, account_id=account, region=region,  # type: ignore[arg-type]
            cluster=cluster, registry=registry, gitops=gitops, workloads=workloads,  # type: ignore[arg-type]
            ingress=ingress, delivery=delivery, argocd=argocd, image_tags=tags,  # type: ignore[arg-type]
            sealing=sealing, image_updates=updates,  # type: ignore[arg-type]
            promote_from=promote_from or None, profile=profile or "", addons=addons,  # type: ignore[arg-type]
            notifications=notifications,  # type: ignore[arg-type]
        )

    def _env(self, top: Node) -> "str | None":
        value = top.raw("environment")
        if value is None:
            return None  # reported as required
        if not isinstance(value, str):
            self.problems.add(self.file, f"config.{NS}:environment", f"expected a string, got {type_name(value)}")
            return None
        problem = names.label_problem(value, names.ENVIRONMENT_MAX)
        if problem:
            self.problems.add(self.file, f"config.{NS}:environment", problem)
            return None
        return value

    def _profile(self, top: Node) -> "str | None":
        """"" when absent (the environment is its own profile); None when invalid (reported)."""
        value = top.raw("profile")
        if value is None or value == "":   # "" is the project default: the environment is its own profile
            return ""
        key = f"config.{NS}:profile"
        if not isinstance(value, str):
            self.problems.add(self.file, key, f"expected a string, got {type_name(value)}")
            return None
        problem = names.label_problem(value, names.ENVIRONMENT_MAX)
        if problem:
            self.problems.add(self.file, key, f"{problem}; a profile is a DNS label such as 'prod'")
            return None
        return value

    def _cluster(self, node: "Node | None", account: "str | None") -> "ClusterConfig | None":
        if node is None or not self._is_map(node):
            return None
        name = checked(node.str("name", required=True), lambda v: names.label_problem(v, names.CLUSTER_MAX), node, "name")
        version = node.str("kubernetesVersion", "1.33", pattern=names.K8S_VERSION, describe="a minor version like '1.33'")
        if version is not None and int(version.split(".")[1]) < MIN_KUBERNETES_MINOR:
            node.error("kubernetesVersion", f"{version!r} is too old: pods with a Service drain with the preStop "
                       f"sleep action, on by default from Kubernetes 1.{MIN_KUBERNETES_MINOR}; use 1.{MIN_KUBERNETES_MINOR} "
                       "or later")
            version = None
        cidr = checked(node.str("vpcCidr", "10.0.0.0/16"), names.cidr_problem, node, "vpcCidr")
        azs = node.int("availabilityZones", 3, minimum=2, maximum=6)
        subnets = self._strings(node, "subnetIds", r"subnet-[0-9a-f]{8,17}", "subnet ids like 'subnet-0abc1234'")
        if subnets and len(subnets) < 2:
            node.error("subnetIds", "EKS needs subnets in at least two availability zones")
        ng = node.node("nodeGroup")
        node_group = self._node_group(ng) if ng is not None else NodeGroup(("m6i.large",), 2, 4, 2, 50)
        public = node.bool("endpointPublicAccess", True)
        private = node.bool("endpointPrivateAccess", True)
        if not public and not private:
            node.error("endpointPublicAccess", "at least one of endpointPublicAccess and endpointPrivateAccess must be true")
        cidrs = self._strings(node, "publicAccessCidrs", None, "CIDR blocks")
        for i, c in enumerate(cidrs):
            try:
                ipaddress.ip_network(c, strict=True)
            except ValueError:
                node.error(f"publicAccessCidrs[{i}]", f"{c!r} is not a CIDR block such as '203.0.113.0/24'")
        admins = self._strings(node, "adminRoleArns", names.IAM_ROLE_ARN.pattern, "IAM role ARNs")
        deploy = self._role_arn(node, "deployRoleArn", account, required=True,
                                role="the role `pulumi up` runs as (CI's deploy role); it gets cluster admin")
        preview = self._role_arn(node, "previewRoleArn", account, required=False,
                                 role="the read-only role `pulumi preview` runs as; it gets read access")
        if preview is not None and (preview == deploy or preview in admins):
            node.error("previewRoleArn", f"{preview!r} is also the {'deployRoleArn' if preview == deploy else 'adminRoleArns'} "
                       "role, which is cluster admin; previewRoleArn is for a separate read-only role (leave it out "
                       "when previews run as an admin role)")
            preview = None
        node.done()
        if None in (name, version, cidr, azs, node_group, deploy):
            return None
        return ClusterConfig(
            name=name, kubernetes_version=version, vpc_cidr=cidr, availability_zones=azs,  # type: ignore[arg-type]
            subnet_ids=subnets, node_group=node_group, endpoint_public_access=public,  # type: ignore[arg-type]
            endpoint_private_access=private, public_access_cidrs=cidrs or ("0.0.0.0/0",), admin_role_arns=admins,
            deploy_role_arn=deploy, preview_role_arn=preview,  # type: ignore[arg-type]
        )

    def _role_arn(self, node: Node, key: str, account: "str | None", *, required: bool, role: str) -> "str | None":
        """An IAM role ARN of the stack's own account, or None (reported when malformed or required).

        The program refuses credentials of any other account (the account guard),
        so a role elsewhere could never run it: that is a typo caught here rather
        than an access entry nobody can use. A session ARN (``sts ... assumed-role``)
        is what ``aws sts get-caller-identity`` prints, not what an access entry takes.
        """
        example = f"arn:aws:iam::{account or '111111111111'}:role/<name>"
        value = node.raw(key)
        if value is None:
            if required:
                node.error(key, f"is required: {role}; an IAM role ARN such as {example!r}")
            return None
        if not isinstance(value, str):
            node.error(key, f"expected an IAM role ARN such as {example!r}, got {type_name(value)}")
            return None
        session = re.fullmatch(r"arn:(aws[a-z-]*):sts::([0-9]{12}):assumed-role/([^/]+)/.*", value)
        if session:
            node.error(key, f"{value!r} is a session of a role, not the role: use "
                       f"'arn:{session[1]}:iam::{session[2]}:role/{session[3]}' (with the role's path, if it has one)")
            return None
        if not names.IAM_ROLE_ARN.fullmatch(value):
            node.error(key, f"{value!r} is not an IAM role ARN; expected one such as {example!r}")
            return None
        owner = value.split(":")[4]
        if account is not None and owner != account:
            node.error(key, f"{value!r} is a role of account {owner}, but awsAccountId is {account}: the program only "
                       "runs with credentials of awsAccountId, so the role must be one of that account")
            return None
        return value

    def _node_group(self, ng: Node) -> "NodeGroup | None":
        types = self._strings(ng, "instanceTypes", r"[a-z][a-z0-9-]*\.[a-z0-9]+", "EC2 instance types like 'm6i.large'") or ("m6i.large",)
        low = ng.int("minSize", 2, minimum=1, maximum=450)
        high = ng.int("maxSize", 4, minimum=1, maximum=450)
        desired = ng.int("desiredSize", low, minimum=1, maximum=450)
        disk = ng.int("diskSizeGiB", 50, minimum=20, maximum=16384)
        ng.done()
        if None in (low, high, desired, disk):
            return None
        if not (low <= desired <= high):  # type: ignore[operator]
            ng.error("desiredSize", f"must lie between minSize {low} and maxSize {high}, got {desired}")
            return None
        return NodeGroup(types, low, high, desired, disk)  # type: ignore[arg-type]

    def _registry(self, node: "Node | None", account: "str | None", region: "str | None") -> "RegistryConfig | None":
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:registry", self.problems)
        acct = node.str("accountId", account, pattern=names.AWS_ACCOUNT, describe="a 12-digit AWS account id in quotes")
        reg = node.str("region", region, pattern=names.AWS_REGION, describe="an AWS region such as 'eu-west-1'")
        prefix = node.str("prefix", "", describe="ECR repository prefix like 'shop'")
        if prefix and not names.ECR_REPOSITORY.fullmatch(prefix):
            node.error("prefix", f"{prefix!r} is not a valid ECR repository prefix (lowercase, digits, '._-', '/')")
        owner = node.bool("owner", False)
        keep = node.int("keepReleaseImages", 30, minimum=1, maximum=1000)
        immutable = node.bool("immutableTags", False)
        kms = node.str("kmsKeyArn", None, pattern=KMS_KEY_ARN,
                       describe="a KMS key ARN like 'arn:aws:kms:eu-west-1:111111111111:key/<id>'")
        role = self._registry_role(node, acct, account, owner)
        force_delete = node.bool("forceDelete", False)
        expire = self._strings(node, "expireTagPatterns", None, "ECR tag patterns")
        for i, pattern in enumerate(expire):
            problem = expire_pattern_problem(pattern)
            if problem is None and pattern in expire[:i]:
                problem = f"{pattern!r} is listed twice"
            if problem:
                node.error(f"expireTagPatterns[{i}]", problem)
        node.done()
        if acct is None or reg is None or keep is None or prefix is None:
            return None
        return RegistryConfig(acct, reg, prefix, owner, keep, immutable, kms,
                              role_arn=role, force_delete=force_delete, expire_tag_patterns=expire)

    def _registry_role(self, node: Node, registry_account: "str | None", stack_account: "str | None",
                       owner: bool) -> "str | None":
        """``roleArn``: the owner creates the repositories as this role when the registry is in another account.

        The stack's own credentials are for ``awsAccountId`` (the account guard
        insists), so an owner whose registry lives elsewhere cannot create the
        repositories without a role there; the role's account is checked here,
        not discovered at ``pulumi up`` as an access error halfway through.
        """
        describe = f"an IAM role ARN in the registry's account like 'arn:aws:iam::{registry_account or '<account>'}:role/<name>'"
        role = node.str("roleArn", None, pattern=names.IAM_ROLE_ARN, describe=describe)
        if role is not None and registry_account is not None:
            role_account = role.split(":")[4]
            if role_account != registry_account:
                node.error("roleArn", f"{role!r} is a role in account {role_account}, but registry.accountId is "
                           f"{registry_account}; the repositories are created as this role, so it must be "
                           f"{describe}")
                return None
        if (owner and not node.has("roleArn") and registry_account is not None and stack_account is not None
                and registry_account != stack_account):
            node.error("roleArn", f"is required: this stack owns the registry in account {registry_account} but deploys "
                       f"into account {stack_account} (awsAccountId), whose credentials cannot create repositories "
                       f"there; give {describe} that those credentials may assume, or set owner: false here and "
                       f"owner: true on a stack of account {registry_account}")
        return role

    def _gitops(self, node: "Node | None") -> "GitOpsConfig | None":
        if node is None or not self._is_map(node):
            return None
        # All three are written into every ApplicationSet's generator and Application template.
        url = (node.str("repoURL", required=True, pattern=names.REPO_URL, describe="an https:// or ssh Git URL")
               if self._template_safe(node, "repoURL") else None)
        rev = (node.str("revision", "main", pattern=names.GIT_REVISION, describe="a branch, tag or commit")
               if self._template_safe(node, "revision") else None)
        path = (node.str("path", ".", describe="the directory of the rendered tree inside the repository")
                if self._template_safe(node, "path") else None)
        if path is not None and (path.startswith("/") or ".." in path.split("/")):
            node.error("path", f"{path!r} must be relative to the repository root and stay inside it")
            path = None
        if path is not None and (path_problem := self._repo_path_problem(path)):
            node.error("path", path_problem)
            path = None
        checkout = node.str("checkout", "gitops-repo",
                            describe="the local clone `pulumi up` writes into, relative to the project directory")
        if checkout is not None and (not checkout.strip() or "\0" in checkout):
            node.error("checkout", "must be a directory path such as '../gitops' or 'gitops-repo'")
            checkout = None
        node.done()
        if url is None or rev is None or path is None or checkout is None:
            return None
        return GitOpsConfig(url, rev, path.strip("/") or ".", checkout)

    def _template_safe(self, node: Node, key: str) -> bool:
        """False (reported) when the value would change the Go template it is written into."""
        value = node.raw(key)
        problem = names.template_text_problem(value) if isinstance(value, str) else None
        if problem:
            node.error(key, f"{problem}; it is written into the Go template of every generated Application")
        return problem is None

    @staticmethod
    def _repo_path_problem(path: str) -> "str | None":
        """Why ``path`` cannot locate the tree for the ApplicationSets, or None.

        The git files generators use ``<path>/apps/<service>/overlays/<env>/config.json``
        as a glob pattern, and the template finds the service at a fixed index of
        the discovered file's path segments, so the path must be plain segments.
        """
        from .errors import shown

        trimmed = path.rstrip("/")
        if trimmed in ("", "."):
            return None
        for ch in "*?[]{}\\":
            if ch in trimmed:
                return (f"{shown(path)} contains {ch!r}: the ApplicationSets' git files generators read the path as a "
                        "glob pattern, so it would match other directories; use plain directory names")
        if any(segment in ("", ".") for segment in trimmed.split("/")):
            return (f"{shown(path)} has an empty or '.' segment; write it like 'deploy/gitops' "
                    "(or '.' for the repository root)")
        return None

    def _workloads(self, node: "Node | None") -> "WorkloadDefaults | None":
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:workloads", self.problems)
        replicas = node.int("replicas", 1, minimum=1, maximum=1000)
        pdb = node.int("pdbMaxUnavailable", 1, minimum=1, maximum=1000)
        quotas = self._quotas(node)
        monitoring = checked(node.str("monitoringNamespace", None), lambda v: names.label_problem(v, 63), node,
                             "monitoringNamespace")
        node.done()
        if replicas is None or pdb is None or quotas is None:
            return None
        return WorkloadDefaults(replicas, pdb, quotas=quotas, monitoring_namespace=monitoring)

    def _quotas(self, node: Node) -> "tuple[tuple[str, NamespaceQuota], ...] | None":
        """``workloads.quotas.<namespace>``: {requests: {cpu, memory}, limits: {cpu, memory}, pods}, each optional.

        Whether the namespace is one a service deploys into is checked with the
        catalog (``render.quotas.quota_problems``); here only the form.
        """
        out = []
        before = len(self.problems.items)
        for namespace, value in node.entries("quotas"):
            where = node.child_key("quotas", namespace)
            problem = names.label_problem(namespace, 63)
            if problem:
                self.problems.add(self.file, where, problem)
                continue
            if not isinstance(value, dict):
                self.problems.add(self.file, where, f"expected a mapping, got {type_name(value)}")
                continue
            entry = Node(value, self.file, where, self.problems)
            totals: dict[str, "str | None"] = {}
            for section in ("requests", "limits"):
                part = entry.node(section)
                if part is None:
                    continue
                for kind, problem_of in (("cpu", names.cpu_problem), ("memory", names.memory_problem)):
                    raw = part.raw(kind)
                    text = str(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else part.str(kind)
                    totals[f"{kind}_{section[:-1]}"] = checked(text, problem_of, part, kind)
                part.done()
            pods = entry.int("pods", None, minimum=1, maximum=100000)
            entry.done()
            out.append((namespace, NamespaceQuota(Resources(**totals), pods)))
        if len(self.problems.items) > before:
            return None
        return tuple(sorted(out))

    def _ingress(self, node: "Node | None") -> "IngressConfig | None":
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:ingress", self.problems)
        domain = node.str("domain", None, pattern=names.DNS1123_SUBDOMAIN, max_len=190,
                          describe="a DNS domain like 'dev.shop.example.com'")
        class_name = checked(node.str("className", None), lambda v: names.label_problem(v, 63), node, "className")
        tls = node.bool("tls", False)
        alb = class_name == ALB_INGRESS_CLASS
        annotations = []
        for key, value in node.entries("annotations"):
            where = node.child_key("annotations", key)
            key_problem = names.annotation_key_problem(key)
            if key_problem:
                self.problems.add(self.file, where, key_problem)
            elif not isinstance(value, str):
                self.problems.add(self.file, where, f"expected a string, got {type_name(value)}")
            elif key in STACK_DERIVED_ANNOTATIONS:
                self.problems.add(self.file, where, STACK_DERIVED_ANNOTATIONS[key])
            elif key == ingress_rules.TARGET_TYPE and ingress_rules.target_type_problem(value):
                self.problems.add(self.file, where, str(ingress_rules.target_type_problem(value)))
            else:
                annotations.append((key, value))
        size_problem = names.annotations_size_problem(dict(annotations))
        if size_problem:
            node.error("annotations", size_problem)
        certificate = node.str("certificateArn", None, pattern=ACM_CERTIFICATE_ARN,
                               describe="an ACM certificate ARN like 'arn:aws:acm:eu-west-1:111111111111:certificate/<id>'")
        if certificate is not None and not tls:
            node.error("certificateArn", "applies only with tls: true (it is the certificate of the HTTPS listener); "
                       "set tls: true or remove certificateArn")
            certificate = None
        if certificate is not None and not alb:
            node.error("certificateArn", f"applies to className {ALB_INGRESS_CLASS} only (an ACM certificate of the "
                       f"load balancer's listener); className {class_name or '(the cluster default)'} takes its "
                       "certificate from a Secret: set tlsSecretName, or a cert-manager issuer annotation")
            certificate = None
        group = self._ingress_group(node, alb)
        secret = self._tls_secret(node, alb, tls, dict(annotations))
        cidrs = self._strings(node, "loadBalancerCidrs", None, "CIDR blocks")
        for i, cidr in enumerate(cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                node.error(f"loadBalancerCidrs[{i}]", f"{cidr!r} is not a CIDR block such as '10.0.224.0/22'")
        if cidrs and not alb:
            node.error("loadBalancerCidrs", f"applies to className {ALB_INGRESS_CLASS} only (the subnets its load "
                       "balancer sends from); other controllers run in the cluster: set controllerNamespace")
        controller = checked(node.str("controllerNamespace", None), lambda v: names.label_problem(v, 63), node,
                             "controllerNamespace")
        if controller is not None and alb:
            node.error("controllerNamespace", f"applies to classes other than {ALB_INGRESS_CLASS}, whose controller "
                       "runs in the cluster; the load balancer's traffic comes from loadBalancerCidrs")
        node.done()
        return IngressConfig(domain, class_name, tls, tuple(sorted(annotations)), certificate,
                             group=group, tls_secret_name=secret, load_balancer_cidrs=tuple(cidrs),
                             controller_namespace=controller)

    def _ingress_group(self, node: Node, alb: bool) -> "str | None":
        """The IngressGroup of an ``alb`` stack: ``group`` (default: the environment), None for ``none``."""
        value = checked(node.str("group", None), ingress_rules.group_problem, node, "group")
        if value is not None and not alb:
            node.error("group", f"applies to className {ALB_INGRESS_CLASS} only (its IngressGroups share a load "
                       "balancer); remove it")
            return None
        if not alb or value == ingress_rules.NO_GROUP:
            return None
        environment = self.node.raw("environment")
        return value or (environment if isinstance(environment, str) else None)

    def _tls_secret(self, node: Node, alb: bool, tls: bool, annotations: dict[str, str]) -> "str | None":
        """``tlsSecretName`` of a class other than ``alb``; with tls one of it or a cert-manager issuer is required.

        Without either, ``spec.tls`` would name a Secret nothing creates and
        the controller would serve its own default certificate.
        """
        secret = checked(node.str("tlsSecretName", None), lambda v: names.label_problem(v, 253, names.DNS1123_SUBDOMAIN),
                         node, "tlsSecretName")
        if secret is not None and alb:
            node.error("tlsSecretName", f"does not apply to className {ALB_INGRESS_CLASS}: its load balancer takes the "
                       "certificate from ACM (certificateArn, or discovered by host); remove it")
            return None
        if secret is not None and not tls:
            node.error("tlsSecretName", "applies only with tls: true; set tls: true or remove it")
            return None
        if tls and not alb and secret is None and not node.has("tlsSecretName") \
                and not ingress_rules.cert_manager_issues(annotations):
            node.error("tls", f"className {node.data.get('className') or '(the cluster default)'} needs a certificate "
                       "Secret for TLS: set tlsSecretName (a kubernetes.io/tls Secret in every service namespace and "
                       f"in Argo CD's), or a cert-manager issuer annotation ({', '.join(ingress_rules.CERT_MANAGER_ISSUER_KEYS)}) "
                       f"in annotations; className {ALB_INGRESS_CLASS} uses ACM instead")
        return secret

    def _delivery(self, node: "Node | None") -> "DeliveryPolicy | None":
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:delivery", self.problems)
        sync = node.str("sync", "manual", choices=tuple(m.value for m in SyncMode))
        prune = node.bool("prune", False)
        heal = node.bool("selfHeal", False)
        retry = node.int("retryLimit", 5, minimum=0, maximum=100)
        preserve = node.bool("preserveResourcesOnDeletion", False)
        if sync == SyncMode.MANUAL.value and (prune or heal):
            node.error("prune" if prune else "selfHeal", "applies only to automated sync; set sync: automated or remove it")
        windows = self._sync_windows(node, sync)
        node.done()
        if sync is None or retry is None or windows is None:
            return None
        return DeliveryPolicy(SyncMode(sync), prune, heal, retry, preserve, windows)

    def _sync_windows(self, node: Node, sync: "str | None") -> "tuple[SyncWindow, ...] | None":
        """The AppProjects' sync windows; ``manualSync`` defaults to true with automated sync, false with manual.

        Argo CD's windows govern automated syncs, and ``manualSync: true`` exempts
        syncs started by a person; on an environment whose sync is manual that
        exemption covers every sync, so it is refused there rather than shipped
        as a window that does nothing.
        """
        items = node.list("syncWindows")
        if items is None:
            return ()
        out, ok = [], True
        for i, item in enumerate(items):
            key = f"syncWindows[{i}]"
            if not isinstance(item, dict):
                node.error(key, "expected {kind: allow|deny, schedule: <cron>, duration: <e.g. 1h>, manualSync: true|false}")
                ok = False
                continue
            window = Node(item, self.file, f"{node.path}.{key}", self.problems)
            kind = window.str("kind", required=True, choices=("allow", "deny"))
            schedule = window.str("schedule", required=True, pattern=CRON,
                                  describe="a five-field cron schedule such as '0 22 * * *'")
            duration = window.str("duration", required=True, pattern=DURATION, describe="a duration such as '8h' or '30m'")
            # With sync: manual every sync is a person's, so a window that lets people sync blocks nothing.
            manual = window.bool("manualSync", sync != SyncMode.MANUAL.value)
            if manual and sync == SyncMode.MANUAL.value and window.has("manualSync"):
                window.error("manualSync", f"true lets a person sync {'inside' if kind == 'deny' else 'outside'} "
                             f"this {kind or ''} window, and with {NS}:delivery.sync manual every sync is a person's: "
                             "the window would block nothing. Set manualSync: false (no sync at all "
                             f"{'inside' if kind == 'deny' else 'outside'} it), or sync: automated")
            zone = window.str("timeZone", "UTC", pattern=TIME_ZONE, describe="an IANA time zone such as 'Europe/Berlin'")
            window.done()
            if None in (kind, schedule, duration, zone):
                ok = False
                continue
            out.append(SyncWindow(kind, schedule, duration, manual, zone))  # type: ignore[arg-type]
        return tuple(out) if ok else None

    def _argocd(self, node: "Node | None") -> "ArgoCDConfig | None":
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:argocd", self.problems)
        ns = checked(node.str("namespace", "argocd"), lambda v: names.label_problem(v, 63), node, "namespace")
        topology = node.str("topology", "standalone", choices=tuple(t.value for t in Topology))
        ha = node.bool("ha", False)
        hostname = node.str("hostname", None, pattern=names.DNS1123_SUBDOMAIN, max_len=253,
                            describe="a DNS name like 'argocd.shop.example.com'")
        hub = node.str("hub", None, pattern=STACK_REFERENCE,
                       describe="the hub's stack as <org>/<project>/<stack> (or <stack> in the same project)")
        if topology == Topology.SPOKE.value and hub is None and not node.has("hub"):
            node.error("hub", "is required for topology 'spoke': the hub stack this cluster registers into")
        if topology != Topology.SPOKE.value and hub is not None:
            node.error("hub", f"applies to topology 'spoke' only (this stack is {topology!r})")
        addons = self._strings(node, "addons", names.DNS1123_LABEL.pattern, "add-on names like 'metrics-server'")
        fleet = self._fleet_addons(node, topology)
        node.done()
        if ns is None or topology is None or fleet is None:
            return None
        return ArgoCDConfig(ns, Topology(topology), ha, hostname, hub, tuple(sorted(set(addons))), fleet)

    def _fleet_addons(self, node: Node, topology: "str | None") -> "tuple[AddOn, ...] | None":
        section = node.node("fleetAddons")
        if section is None:
            return ()
        if topology != Topology.HUB.value:
            node.error("fleetAddons", "only a hub deploys fleet add-ons; set topology: hub or move this to the hub's stack")
            return None
        out = []
        for name in sorted(section.data):
            item = section.node(str(name))
            if item is None:
                continue
            if not names.DNS1123_LABEL.fullmatch(str(name)):
                section.error(str(name), "an add-on name is a DNS label like 'metrics-server'")
            repo = item.str("repoURL", required=True, pattern=names.REPO_URL, describe="a Helm repository URL")
            chart = item.str("chart", required=True, pattern=names.DNS1123_SUBDOMAIN, describe="a chart name")
            version = item.str("version", required=True, pattern=EXACT_VERSION, describe="an exact chart version like '3.12.2'")
            namespace = checked(item.str("namespace", required=True), lambda v: names.label_problem(v, 63), item, "namespace")
            item.done()
            if None not in (repo, chart, version, namespace):
                out.append(AddOn(str(name), repo, chart, version, namespace))  # type: ignore[arg-type]
        return tuple(out)

    def _sealing(self, node: "Node | None") -> "SealingConfig | None":
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:sealing", self.problems)
        generation = node.int("generation", 1, minimum=1, maximum=1000)
        oldest = node.int("oldestGeneration", 1, minimum=1, maximum=1000)
        if generation is not None and oldest is not None and oldest > generation:
            node.error("oldestGeneration", f"is {oldest}, above generation {generation}; the newest key must stay installed")
            oldest = None
        ns = checked(node.str("namespace", "kube-system"), lambda v: names.label_problem(v, 63), node, "namespace")
        backup = node.bool("backup", False)
        kms = node.str("backupKmsKeyId", None, pattern=KMS_KEY_REF,
                       describe="a KMS key id, ARN or alias like 'alias/sealed-secrets-backup'")
        restore = node.str("restoreFrom", None, pattern=SECRETS_MANAGER_REF,
                           describe="a Secrets Manager secret name or ARN (the backup of a previous cluster)")
        node.done()
        if generation is None or oldest is None or ns is None:
            return None
        return SealingConfig(generation, oldest, ns, backup, kms, restore)

    def _image_updates(self, node: "Node | None", services: tuple[str, ...], promote_from: "str | None",
                       gitops: "GitOpsConfig | None") -> "ImageUpdatePolicy | None":
        """The Image Updater policy; ``off`` by default (and only ``off``) where ``promotion.from`` is set.

        A promoted environment must run only what ran in the one it is
        promoted from, and its tags come from ``promote``; an updater would
        deploy whatever newest tag the registry holds (see render/imageupdater.py).
        """
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:imageUpdates", self.problems)
        default_mode = UpdateMode.OFF if promote_from else UpdateMode.GIT
        mode = node.str("mode", default_mode.value, choices=tuple(m.value for m in UpdateMode))
        if promote_from and mode is not None and mode != UpdateMode.OFF.value:
            node.error("mode", f"is {mode!r}, but this environment is promoted from {promote_from} "
                       f"(config.{NS}:promotion.from): its tags come only from `python -m gitops promote`, so it runs "
                       f"only what ran in {promote_from}; an Image Updater here would deploy the newest matching tag "
                       "whether or not it ran there. Set mode: off (or remove imageUpdates.mode)")
            mode = None
        provider = node.str("pullRequestProvider", "github", choices=("github", "gitlab"))
        if mode == UpdateMode.PULL_REQUEST.value:
            problem = self._pull_request_credentials_problem(node, gitops)
            if problem:
                node.error("mode", problem)
                mode = None
        write_branch = node.str("writeBranch", None, pattern=WRITE_BRANCH,
                                describe="a fixed branch name such as 'image-updater-dev' (letters, digits, '.', '_', "
                                         "'-', '/'; no ':' and no template: one branch takes every update)")
        if write_branch is not None and mode is not None and mode != UpdateMode.GIT.value:
            node.error("writeBranch", f"applies to mode git only (this stack's mode is {mode!r}): in pull-request mode "
                       "the Image Updater names each pull request's branch itself; remove writeBranch or set mode: git")
            write_branch = None
        if write_branch is not None and gitops is not None and write_branch == gitops.revision:
            node.error("writeBranch", f"is the tracked branch ({NS}:gitops.revision {gitops.revision}); "
                       "name another branch, or remove writeBranch to commit to the tracked branch")
            write_branch = None
        allow = node.str("allowTags", DEFAULT_ALLOW_TAGS,
                         describe="'regexp:<pattern>' or 'any'")
        if allow is not None and not (allow == "any" or allow.startswith("regexp:")):
            node.error("allowTags", f"{allow!r} must be 'any' or 'regexp:<pattern>'")
            allow = None
        elif allow is not None and allow.startswith("regexp:"):
            try:
                re.compile(allow[len("regexp:"):])
            except re.error as exc:
                node.error("allowTags", f"is not a valid regular expression ({exc})")
                allow = None
        secret = checked(node.str("credentialsSecret", None), lambda v: names.label_problem(v, 253), node,
                         "credentialsSecret")
        constraints = []
        for key, value in node.entries("constraints"):
            where = node.child_key("constraints", key)
            if key not in services:
                self.problems.add(self.file, where, f"no such service in the catalog{did_you_mean(str(key), list(services))}")
            elif not isinstance(value, str) or not SEMVER_CONSTRAINT.fullmatch(value):
                self.problems.add(self.file, where, f"expected a semver constraint such as '~1.4' or '^2.0.0', got {value!r}")
            else:
                constraints.append((key, value))
        node.done()
        if mode is None or provider is None or allow is None:
            return None
        return ImageUpdatePolicy(UpdateMode(mode), provider, allow, tuple(sorted(constraints)), secret, write_branch)

    def _pull_request_credentials_problem(self, node: Node, gitops: "GitOpsConfig | None") -> "str | None":
        credentials = self.node.raw("gitopsCredentials")
        keys = credentials.keys() if isinstance(credentials, dict) else ()
        secret = node.raw("credentialsSecret")
        return pull_request_credentials_problem(gitops.repo_url if gitops else "", keys, secret if secret else None)

    def _promotion(self, node: "Node | None") -> "str | None":
        """The environment this one is promoted from ('' when none); checked against the stacks in project.py."""
        if node is None:
            return ""
        if not self._is_map(node):
            return None
        source = node.str("from", "", describe="the environment whose tags are promoted into this one")
        node.done()
        return source

    def _addons(self, node: "Node | None") -> "AddonsConfig | None":
        """The cluster controllers; each stays on unless the stack sets it off (``false`` / ``none``) explicitly."""
        if node is not None and not self._is_map(node):
            return None
        node = node or Node({}, self.file, f"config.{NS}:addons", self.problems)
        defaults = AddonsConfig()
        load_balancer = node.bool("loadBalancerController", defaults.load_balancer_controller)
        metrics = node.bool("metricsServer", defaults.metrics_server)
        autoscaler = node.str("autoscaler", defaults.autoscaler.value, choices=tuple(a.value for a in Autoscaler))
        # Unset: installed exactly when a service uses a canary (project.py refuses false in that case).
        rollouts = node.bool("argoRollouts", False) if node.has("argoRollouts") else None
        node.done()
        if autoscaler is None:
            return None
        return AddonsConfig(load_balancer, metrics, Autoscaler(autoscaler), rollouts)

    def _image_tags(self, node: "Node | None", services: tuple[str, ...]) -> "tuple[tuple[str, str], ...] | None":
        if node is None:
            return ()
        if not self._is_map(node):
            return None
        out = []
        for key, value in node.data.items():
            where = f"{node.path}.{key}"
            if key not in services:
                self.problems.add(self.file, where, f"no such service in the catalog{did_you_mean(str(key), list(services))}")
                continue
            if not isinstance(value, str):
                self.problems.add(self.file, where, f"expected a tag string in quotes, got {type_name(value)}")
                continue
            problem = tag_problem(value)
            if problem:
                self.problems.add(self.file, where, problem)
                continue
            out.append((key, value))
        return tuple(sorted(out))

    def _strings(self, node: Node, name: str, pattern: "str | None", describe: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(node.list(name) or []):
            if not isinstance(item, str) or (pattern and not re.fullmatch(pattern, item)):
                node.error(f"{name}[{i}]", f"expected {describe}, got {item!r}")
            else:
                out.append(item)
        return tuple(out)

    def _is_map(self, node: Node) -> bool:
        if not isinstance(node.data, dict):
            self.problems.add(self.file, node.path, f"expected a mapping, got {type_name(node.data)}")
            return False
        return True


def _is_type(value: Any, declared: str) -> bool:
    expected = _TYPES[declared]
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)
