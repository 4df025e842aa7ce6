"""Stack config: ``Pulumi.<stack>.yaml`` (or the engine's config) -> ``Stack``, as ``gitops.configschema`` declares it.

The same ``stack_from_config`` serves the CLI (which reads the stack file) and
the Pulumi program (which gets the values from the engine), so both see one
model. Every key's type, default, allowed values and checks come from the
schema; what is left here are the rules that span fields or stacks' files.
Top-level defaults apply the way Pulumi applies them (a stack value replaces
the default wholesale), and ``Pulumi.yaml`` must declare exactly what the
schema does, so the Pulumi CLI's own validation agrees with this reader. The
fields are documented in docs/configuration.md, generated from the schema.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ingress as ingress_rules
from . import layout, names, yamlio
from .configschema import (
    ADDONS,
    ARGOCD,
    AWS_ACCOUNT_ID,
    CLUSTER,
    DELIVERY,
    ENVIRONMENT,
    GITOPS,
    IMAGE_TAGS,
    IMAGE_UPDATES,
    INGRESS,
    PROFILE,
    PROMOTION,
    REGENERATE_COMMAND,
    REGISTRY,
    REQUIRED_KEYS,
    SEALING,
    SECRET_KEYS,
    STACK_CONFIG,
    TOP_LEVEL,
    TYPES,
    WORKLOADS,
    Field,
    read_bool,
    read_int,
    read_str,
    read_strings,
    section_node,
)
from .errors import InputError, Problem
from .model import (
    ALB_INGRESS_CLASS,
    AddOn,
    AddonsConfig,
    ArgoCDConfig,
    Autoscaler,
    ClusterConfig,
    DeliveryPolicy,
    GitOpsConfig,
    ImageUpdatePolicy,
    IngressConfig,
    NamespaceQuota,
    NodeGroup,
    RegistryConfig,
    Resources,
    SealingConfig,
    Stack,
    SyncMode,
    SyncWindow,
    Topology,
    UpdateMode,
    WorkloadDefaults,
)
from .notifications import read_notifications
from .reader import Node, Problems, checked, did_you_mean, type_name
from .stackfiles import stack_file, stack_names

NS = layout.CONFIG_NAMESPACE
_PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}
_STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
# Providers the program configures from stack config; any other namespace is a typo.
PROVIDER_NAMESPACES = ("aws", "kubernetes", "tls", "pulumi")


@dataclass(frozen=True)
class ProjectConfig:
    """What ``Pulumi.yaml`` sets besides the declarations of our keys: provider values (``aws:region``)."""

    provider_values: Mapping[str, Any]


def read_project_config(root: Path) -> ProjectConfig:
    """``Pulumi.yaml``, checked to declare exactly the schema's top-level keys.

    The Pulumi CLI applies those declarations (required keys, defaults, types)
    before the program runs and the CLI of this project applies the schema's,
    so a hand edit there would make ``pulumi up`` and ``render`` read a stack
    differently; it is refused with the command that regenerates the section.
    """
    file = layout.PROJECT_FILE
    data = yamlio.parse(yamlio.read_file_text(root / file, file), file)
    problems = Problems()
    node = Node.root(data, file, problems, "project settings")
    providers: dict[str, Any] = {}
    declared: set[str] = set()
    if node is not None:
        if node.as_str("name") != layout.PROJECT_NAME:
            node.error("name", f"must be {layout.PROJECT_NAME!r}: stack keys and component types are named after it")
        for key, spec in node.entries("config"):
            if ":" in key and not key.startswith(NS + ":"):
                providers[key] = spec.get("value") if isinstance(spec, dict) else spec
                continue
            short = key.split(":", 1)[1] if ":" in key else key
            declared.add(short)
            problem = _declaration_problem(short, spec)
            if problem:
                problems.add(file, f"config.{key}", f"{problem}; the section is generated from gitops/configschema.py: "
                             f"run `{REGENERATE_COMMAND}`")
        missing = [field.key for field in STACK_CONFIG if field.key not in declared]
        if missing:
            problems.add(file, "config", f"does not declare {', '.join(missing)}; the section is generated from "
                         f"gitops/configschema.py: run `{REGENERATE_COMMAND}`")
    if problems:
        raise InputError(problems.items)
    return ProjectConfig(providers)


def _declaration_problem(key: str, spec: Any) -> str | None:
    """How one ``Pulumi.yaml`` declaration differs from the schema (type, default, secret), or None."""
    field = TOP_LEVEL.get(key)
    if field is None:
        return f"is not a key of this project{did_you_mean(key, list(TOP_LEVEL))}; declared keys: {', '.join(sorted(TOP_LEVEL))}"
    if not isinstance(spec, dict) or spec.get("type") not in TYPES:
        return f"declare a type: one of {', '.join(TYPES)}"
    if spec["type"] != field.type:
        return f"is declared type {spec['type']}, but the schema says {field.type}"
    default = spec.get("default", spec.get("value"))
    expected = None if field.required else field.default
    if default != expected or type(default) is not type(expected):
        return (f"declares default {default!r}, but the schema's is {expected!r}" if expected is not None else
                f"declares default {default!r}, but the key is required: the Pulumi CLI must ask every stack for it")
    if spec.get("secret") is True:
        return ("is declared secret: true, which makes the Pulumi CLI demand it in every stack; the program "
                "refuses unencrypted values of the schema's secret keys itself")
    return None


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


# Ingress annotations the stack's own ingress keys produce (gitops.ingress): set by hand they would fight them.
STACK_DERIVED_ANNOTATIONS: Mapping[str, str] = {
    ingress_rules.GROUP_NAME: f"set ingress.group instead (default: the environment; '{ingress_rules.NO_GROUP}' for a "
                              "load balancer per Ingress)",
    ingress_rules.GROUP_ORDER: "is derived per service from its ingress path (longer paths first); remove it",
    ingress_rules.CLASS_ANNOTATION: "set ingress.className instead",
}


def engine_values(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str]) -> dict[str, Any]:
    """The engine's config (every value a string; structured ones JSON) as the stack file would hold it.

    Secret values are left out: nothing the renderer reads may be secret, and
    the program reads secrets only through ``pulumi.Config.get_secret*``.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in secret_keys:
            continue
        short = key[len(NS) + 1:] if key.startswith(NS + ":") else None
        field = TOP_LEVEL.get(short) if short is not None else None
        if field is not None and field.type != "string" and isinstance(value, str):
            with contextlib.suppress(ValueError):   # reported by the type check as the wrong type
                value = json.loads(value)
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
            if short not in TOP_LEVEL:
                problems.add(file, f"config.{key}", f"unknown key{did_you_mean(short, list(TOP_LEVEL))}; "
                             f"declared keys: {', '.join(sorted(TOP_LEVEL))}")
                continue
            config[short] = value
    for field in STACK_CONFIG:
        short = field.key
        if short not in config and field.default is not None:
            config[short] = copy.deepcopy(field.default)   # the reader never changes it, but no one shares it either
        if short in config and not _is_type(config[short], field.type):
            hint = "; quote it" if field.type == "string" and isinstance(config[short], (int, float)) else ""
            problems.add(file, f"config.{NS}:{short}", f"expected {field.type}, got {type_name(config[short])}{hint}")
            mistyped.add(short)
            del config[short]
    for short in SECRET_KEYS:
        for path in plaintext_paths(config.get(short)):
            problems.add(file, f"config.{NS}:{short}{path}",
                         f"is not encrypted: set it with `pulumi config set --secret --path '{NS}:{short}{path}' <value>` "
                         "(and rotate the value: it has been in plain text)")
    for short in REQUIRED_KEYS:
        if short not in config and short not in mistyped:
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
                                     credentials_secret: str | None) -> str | None:
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

    def sub(self, name: str) -> Node | None:
        value = self.node.raw(name)
        if value is None:
            return None
        return Node(value, self.file, f"config.{NS}:{name}", self.problems)

    def read(self, stack: str, region: str | None, services: tuple[str, ...]) -> Stack | None:
        env = self._env(self.node)
        profile = self._profile(self.node)
        account = self.node.raw(AWS_ACCOUNT_ID.key)
        if isinstance(account, int):
            account = f"{account:012d}"
        if account is not None and (not isinstance(account, str) or AWS_ACCOUNT_ID.pattern is None
                                    or not AWS_ACCOUNT_ID.pattern.fullmatch(account)):
            self.problems.add(self.file, f"config.{NS}:{AWS_ACCOUNT_ID.key}",
                              f"expected {AWS_ACCOUNT_ID.describe}, got {account!r}")
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
        if (env is None or profile is None or account is None or region is None or cluster is None
                or registry is None or gitops is None or workloads is None or ingress is None or delivery is None
                or argocd is None or tags is None or sealing is None or updates is None or promote_from is None
                or addons is None or notifications is None):
            return None
        return Stack(
            name=stack, file=self.file, environment=env, account_id=account, region=region,
            cluster=cluster, registry=registry, gitops=gitops, workloads=workloads,
            ingress=ingress, delivery=delivery, argocd=argocd, image_tags=tags,
            sealing=sealing, image_updates=updates,
            promote_from=promote_from or None, profile=profile or "", addons=addons,
            notifications=notifications,
        )

    def _env(self, top: Node) -> str | None:
        value = top.raw(ENVIRONMENT.key)
        if value is None:
            return None  # reported as required
        key = f"config.{NS}:{ENVIRONMENT.key}"
        if not isinstance(value, str):
            self.problems.add(self.file, key, f"expected a string, got {type_name(value)}")
            return None
        problem = ENVIRONMENT.check(value) if ENVIRONMENT.check is not None else None
        if problem:
            self.problems.add(self.file, key, problem)
            return None
        return value

    def _profile(self, top: Node) -> str | None:
        """"" when absent (the environment is its own profile); None when invalid (reported)."""
        value = top.raw(PROFILE.key)
        if value is None or value == PROFILE.default:   # "": the environment is its own profile
            return ""
        key = f"config.{NS}:{PROFILE.key}"
        if not isinstance(value, str):
            self.problems.add(self.file, key, f"expected a string, got {type_name(value)}")
            return None
        problem = PROFILE.check(value) if PROFILE.check is not None else None
        if problem:
            self.problems.add(self.file, key, f"{problem}; a profile is a DNS label such as 'prod'")
            return None
        return value

    def _cluster(self, node: Node | None, account: str | None) -> ClusterConfig | None:
        if node is None or not self._is_map(node):
            return None
        name = read_str(node, CLUSTER["name"])
        version = read_str(node, CLUSTER["kubernetesVersion"])
        cidr = read_str(node, CLUSTER["vpcCidr"])
        azs = read_int(node, CLUSTER["availabilityZones"])
        subnets = read_strings(node, CLUSTER["subnetIds"])
        if subnets and len(subnets) < 2:
            node.error("subnetIds", "EKS needs subnets in at least two availability zones")
        node_group = self._node_group(section_node(node, CLUSTER["nodeGroup"]))
        public = read_bool(node, CLUSTER["endpointPublicAccess"])
        private = read_bool(node, CLUSTER["endpointPrivateAccess"])
        if not public and not private:
            node.error("endpointPublicAccess", "at least one of endpointPublicAccess and endpointPrivateAccess must be true")
        cidrs = read_strings(node, CLUSTER["publicAccessCidrs"])
        for i, c in enumerate(cidrs):
            try:
                ipaddress.ip_network(c, strict=True)
            except ValueError:
                node.error(f"publicAccessCidrs[{i}]", f"{c!r} is not a CIDR block such as '203.0.113.0/24'")
        admins = read_strings(node, CLUSTER["adminRoleArns"])
        deploy = self._role_arn(node, "deployRoleArn", account, required=True,
                                role="the role `pulumi up` runs as (CI's deploy role); it gets cluster admin")
        preview = self._role_arn(node, "previewRoleArn", account, required=False,
                                 role="the read-only role `pulumi preview` runs as; it gets read access")
        if preview is not None and (preview == deploy or preview in admins):
            node.error("previewRoleArn", f"{preview!r} is also the {'deployRoleArn' if preview == deploy else 'adminRoleArns'} "
                       "role, which is cluster admin; previewRoleArn is for a separate read-only role (leave it out "
                       "when previews run as an admin role)")
            preview = None
        node.done(CLUSTER.field_keys)
        if name is None or version is None or cidr is None or azs is None or node_group is None or deploy is None:
            return None
        return ClusterConfig(
            name=name, kubernetes_version=version, vpc_cidr=cidr, availability_zones=azs,
            subnet_ids=subnets, node_group=node_group, endpoint_public_access=public,
            endpoint_private_access=private, admin_role_arns=admins,
            public_access_cidrs=cidrs or tuple(CLUSTER["publicAccessCidrs"].default),  # an empty list: the default too
            deploy_role_arn=deploy, preview_role_arn=preview,
        )

    def _role_arn(self, node: Node, key: str, account: str | None, *, required: bool, role: str) -> str | None:
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

    def _node_group(self, ng: Node) -> NodeGroup | None:
        spec = CLUSTER["nodeGroup"]
        types = read_strings(ng, spec["instanceTypes"]) or tuple(spec["instanceTypes"].default)
        low = read_int(ng, spec["minSize"])
        high = read_int(ng, spec["maxSize"])
        desired = read_int(ng, spec["desiredSize"], low)
        disk = read_int(ng, spec["diskSizeGiB"])
        ng.done(spec.field_keys)
        if low is None or high is None or desired is None or disk is None:
            return None
        if not (low <= desired <= high):
            ng.error("desiredSize", f"must lie between minSize {low} and maxSize {high}, got {desired}")
            return None
        return NodeGroup(types, low, high, desired, disk)

    def _registry(self, node: Node | None, account: str | None, region: str | None) -> RegistryConfig | None:
        node = self._section(node, REGISTRY)
        if node is None:
            return None
        acct = read_str(node, REGISTRY["accountId"], account)
        reg = read_str(node, REGISTRY["region"], region)
        prefix = read_str(node, REGISTRY["prefix"])
        owner = read_bool(node, REGISTRY["owner"])
        keep = read_int(node, REGISTRY["keepReleaseImages"])
        immutable = read_bool(node, REGISTRY["immutableTags"])
        kms = read_str(node, REGISTRY["kmsKeyArn"])
        role = self._registry_role(node, acct, account, owner)
        force_delete = read_bool(node, REGISTRY["forceDelete"])
        expire = self._expire_tag_patterns(node)
        node.done(REGISTRY.field_keys)
        if acct is None or reg is None or keep is None or prefix is None:
            return None
        return RegistryConfig(acct, reg, prefix, owner, keep, immutable, kms,
                              role_arn=role, force_delete=force_delete, expire_tag_patterns=expire)

    @staticmethod
    def _expire_tag_patterns(node: Node) -> tuple[str, ...]:
        """``registry.expireTagPatterns`` as declared, and each pattern once."""
        spec = REGISTRY["expireTagPatterns"]
        expire = read_strings(node, spec)
        items = node.raw(spec.key)
        seen: set[str] = set()
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, str) or item not in expire:
                continue   # reported by read_strings
            if item in seen:
                node.error(f"{spec.key}[{i}]", f"{item!r} is listed twice")
            seen.add(item)
        return expire

    def _registry_role(self, node: Node, registry_account: str | None, stack_account: str | None,
                       owner: bool) -> str | None:
        """``roleArn``: the owner creates the repositories as this role when the registry is in another account.

        The stack's own credentials are for ``awsAccountId`` (the account guard
        insists), so an owner whose registry lives elsewhere cannot create the
        repositories without a role there; the role's account is checked here,
        not discovered at ``pulumi up`` as an access error halfway through.
        """
        describe = f"an IAM role ARN in the registry's account like 'arn:aws:iam::{registry_account or '<account>'}:role/<name>'"
        role = node.as_str("roleArn", None, pattern=REGISTRY["roleArn"].pattern, describe=describe)
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

    def _gitops(self, node: Node | None) -> GitOpsConfig | None:
        if node is None or not self._is_map(node):
            return None
        # All three are written into every ApplicationSet's generator and Application template.
        url = read_str(node, GITOPS["repoURL"]) if self._template_safe(node, "repoURL") else None
        rev = read_str(node, GITOPS["revision"]) if self._template_safe(node, "revision") else None
        path = read_str(node, GITOPS["path"]) if self._template_safe(node, "path") else None
        if path is not None and (path.startswith("/") or ".." in path.split("/")):
            node.error("path", f"{path!r} must be relative to the repository root and stay inside it")
            path = None
        if path is not None and (path_problem := self._repo_path_problem(path)):
            node.error("path", path_problem)
            path = None
        checkout = read_str(node, GITOPS["checkout"])
        if checkout is not None and (not checkout.strip() or "\0" in checkout):
            node.error("checkout", "must be a directory path such as '../gitops' or 'gitops-repo'")
            checkout = None
        node.done(GITOPS.field_keys)
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
    def _repo_path_problem(path: str) -> str | None:
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

    def _workloads(self, node: Node | None) -> WorkloadDefaults | None:
        node = self._section(node, WORKLOADS)
        if node is None:
            return None
        replicas = read_int(node, WORKLOADS["replicas"])
        pdb = read_int(node, WORKLOADS["pdbMaxUnavailable"])
        quotas = self._quotas(node)
        monitoring = read_str(node, WORKLOADS["monitoringNamespace"])
        node.done(WORKLOADS.field_keys)
        if replicas is None or pdb is None or quotas is None:
            return None
        return WorkloadDefaults(replicas, pdb, quotas=quotas, monitoring_namespace=monitoring)

    def _quotas(self, node: Node) -> tuple[tuple[str, NamespaceQuota], ...] | None:
        """``workloads.quotas.<namespace>``: {requests: {cpu, memory}, limits: {cpu, memory}, pods}, each optional.

        Whether the namespace is one a service deploys into is checked with the
        catalog (``render.quotas.quota_problems``); here only the form.
        """
        spec = WORKLOADS["quotas"].items
        assert spec is not None
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
            totals: dict[str, str | None] = {}
            for section in (spec["requests"], spec["limits"]):
                part = entry.node(section.key)
                if part is None:
                    continue
                for quantity in section.fields:
                    # A quantity may be written as a YAML number (cpu: 4); it is the same quantity as text.
                    raw = part.raw(quantity.key)
                    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                        text = checked(str(raw), quantity.check, part, quantity.key) if quantity.check else str(raw)
                    else:
                        text = read_str(part, quantity)
                    totals[f"{quantity.key}_{section.key[:-1]}"] = text
                part.done(section.field_keys)
            pods = read_int(entry, spec["pods"])
            entry.done(spec.field_keys)
            out.append((namespace, NamespaceQuota(Resources(**totals), pods)))
        if len(self.problems.items) > before:
            return None
        return tuple(sorted(out))

    def _ingress(self, node: Node | None) -> IngressConfig | None:
        node = self._section(node, INGRESS)
        if node is None:
            return None
        domain = read_str(node, INGRESS["domain"])
        class_name = read_str(node, INGRESS["className"])
        tls = read_bool(node, INGRESS["tls"])
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
        certificate = read_str(node, INGRESS["certificateArn"])
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
        cidrs = read_strings(node, INGRESS["loadBalancerCidrs"])
        for i, cidr in enumerate(cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                node.error(f"loadBalancerCidrs[{i}]", f"{cidr!r} is not a CIDR block such as '10.0.224.0/22'")
        if cidrs and not alb:
            node.error("loadBalancerCidrs", f"applies to className {ALB_INGRESS_CLASS} only (the subnets its load "
                       "balancer sends from); other controllers run in the cluster: set controllerNamespace")
        controller = read_str(node, INGRESS["controllerNamespace"])
        if controller is not None and alb:
            node.error("controllerNamespace", f"applies to classes other than {ALB_INGRESS_CLASS}, whose controller "
                       "runs in the cluster; the load balancer's traffic comes from loadBalancerCidrs")
        node.done(INGRESS.field_keys)
        return IngressConfig(domain, class_name, tls, tuple(sorted(annotations)), certificate,
                             group=group, tls_secret_name=secret, load_balancer_cidrs=tuple(cidrs),
                             controller_namespace=controller)

    def _ingress_group(self, node: Node, alb: bool) -> str | None:
        """The IngressGroup of an ``alb`` stack: ``group`` (default: the environment), None for ``none``."""
        value = read_str(node, INGRESS["group"])
        if value is not None and not alb:
            node.error("group", f"applies to className {ALB_INGRESS_CLASS} only (its IngressGroups share a load "
                       "balancer); remove it")
            return None
        if not alb or value == ingress_rules.NO_GROUP:
            return None
        environment = self.node.raw("environment")
        return value or (environment if isinstance(environment, str) else None)

    def _tls_secret(self, node: Node, alb: bool, tls: bool, annotations: dict[str, str]) -> str | None:
        """``tlsSecretName`` of a class other than ``alb``; with tls one of it or a cert-manager issuer is required.

        Without either, ``spec.tls`` would name a Secret nothing creates and
        the controller would serve its own default certificate.
        """
        secret = read_str(node, INGRESS["tlsSecretName"])
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

    def _delivery(self, node: Node | None) -> DeliveryPolicy | None:
        node = self._section(node, DELIVERY)
        if node is None:
            return None
        sync = read_str(node, DELIVERY["sync"])
        prune = read_bool(node, DELIVERY["prune"])
        heal = read_bool(node, DELIVERY["selfHeal"])
        retry = read_int(node, DELIVERY["retryLimit"])
        preserve = read_bool(node, DELIVERY["preserveResourcesOnDeletion"])
        if sync == SyncMode.MANUAL.value and (prune or heal):
            node.error("prune" if prune else "selfHeal", "applies only to automated sync; set sync: automated or remove it")
        windows = self._sync_windows(node, sync)
        node.done(DELIVERY.field_keys)
        if sync is None or retry is None or windows is None:
            return None
        return DeliveryPolicy(SyncMode(sync), prune, heal, retry, preserve, windows)

    def _sync_windows(self, node: Node, sync: str | None) -> tuple[SyncWindow, ...] | None:
        """The AppProjects' sync windows; ``manualSync`` defaults to true with automated sync, false with manual.

        Argo CD's windows govern automated syncs, and ``manualSync: true`` exempts
        syncs started by a person; on an environment whose sync is manual that
        exemption covers every sync, so it is refused there rather than shipped
        as a window that does nothing.
        """
        spec = DELIVERY["syncWindows"].items
        assert spec is not None
        items = node.as_list("syncWindows")
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
            kind = read_str(window, spec["kind"])
            schedule = read_str(window, spec["schedule"])
            duration = read_str(window, spec["duration"])
            # With sync: manual every sync is a person's, so a window that lets people sync blocks nothing.
            manual = read_bool(window, spec["manualSync"], sync != SyncMode.MANUAL.value)
            if manual and sync == SyncMode.MANUAL.value and window.has("manualSync"):
                window.error("manualSync", f"true lets a person sync {'inside' if kind == 'deny' else 'outside'} "
                             f"this {kind or ''} window, and with {NS}:delivery.sync manual every sync is a person's: "
                             "the window would block nothing. Set manualSync: false (no sync at all "
                             f"{'inside' if kind == 'deny' else 'outside'} it), or sync: automated")
            zone = read_str(window, spec["timeZone"])
            window.done(spec.field_keys)
            if kind is None or schedule is None or duration is None or zone is None:
                ok = False
                continue
            out.append(SyncWindow(kind, schedule, duration, manual, zone))
        return tuple(out) if ok else None

    def _argocd(self, node: Node | None) -> ArgoCDConfig | None:
        node = self._section(node, ARGOCD)
        if node is None:
            return None
        ns = read_str(node, ARGOCD["namespace"])
        topology = read_str(node, ARGOCD["topology"])
        ha = read_bool(node, ARGOCD["ha"])
        hostname = read_str(node, ARGOCD["hostname"])
        hub = read_str(node, ARGOCD["hub"])
        if topology == Topology.SPOKE.value and hub is None and not node.has("hub"):
            node.error("hub", "is required for topology 'spoke': the hub stack this cluster registers into")
        if topology != Topology.SPOKE.value and hub is not None:
            node.error("hub", f"applies to topology 'spoke' only (this stack is {topology!r})")
        addons = read_strings(node, ARGOCD["addons"])
        fleet = self._fleet_addons(node, topology)
        node.done(ARGOCD.field_keys)
        if ns is None or topology is None or fleet is None:
            return None
        return ArgoCDConfig(ns, Topology(topology), ha, hostname, hub, tuple(sorted(set(addons))), fleet)

    def _fleet_addons(self, node: Node, topology: str | None) -> tuple[AddOn, ...] | None:
        section = node.node("fleetAddons")
        if section is None:
            return ()
        if topology != Topology.HUB.value:
            node.error("fleetAddons", "only a hub deploys fleet add-ons; set topology: hub or move this to the hub's stack")
            return None
        spec = ARGOCD["fleetAddons"].items
        assert spec is not None
        out = []
        for name in sorted(section.data):
            item = section.node(str(name))
            if item is None:
                continue
            if not names.DNS1123_LABEL.fullmatch(str(name)):
                section.error(str(name), "an add-on name is a DNS label like 'metrics-server'")
            repo = read_str(item, spec["repoURL"])
            chart = read_str(item, spec["chart"])
            version = read_str(item, spec["version"])
            namespace = read_str(item, spec["namespace"])
            item.done(spec.field_keys)
            if repo is not None and chart is not None and version is not None and namespace is not None:
                out.append(AddOn(str(name), repo, chart, version, namespace))
        return tuple(out)

    def _sealing(self, node: Node | None) -> SealingConfig | None:
        node = self._section(node, SEALING)
        if node is None:
            return None
        generation = read_int(node, SEALING["generation"])
        oldest = read_int(node, SEALING["oldestGeneration"])
        if generation is not None and oldest is not None and oldest > generation:
            node.error("oldestGeneration", f"is {oldest}, above generation {generation}; the newest key must stay installed")
            oldest = None
        ns = read_str(node, SEALING["namespace"])
        backup = read_bool(node, SEALING["backup"])
        kms = read_str(node, SEALING["backupKmsKeyId"])
        restore = read_str(node, SEALING["restoreFrom"])
        node.done(SEALING.field_keys)
        if generation is None or oldest is None or ns is None:
            return None
        return SealingConfig(generation, oldest, ns, backup, kms, restore)

    def _image_updates(self, node: Node | None, services: tuple[str, ...], promote_from: str | None,
                       gitops: GitOpsConfig | None) -> ImageUpdatePolicy | None:
        """The Image Updater policy; ``off`` by default (and only ``off``) where ``promotion.from`` is set.

        A promoted environment must run only what ran in the one it is
        promoted from, and its tags come from ``promote``; an updater would
        deploy whatever newest tag the registry holds (see render/imageupdater.py).
        """
        node = self._section(node, IMAGE_UPDATES)
        if node is None:
            return None
        default_mode = UpdateMode.OFF if promote_from else UpdateMode.GIT
        mode = read_str(node, IMAGE_UPDATES["mode"], default_mode.value)
        if promote_from and mode is not None and mode != UpdateMode.OFF.value:
            node.error("mode", f"is {mode!r}, but this environment is promoted from {promote_from} "
                       f"(config.{NS}:promotion.from): its tags come only from `python -m gitops promote`, so it runs "
                       f"only what ran in {promote_from}; an Image Updater here would deploy the newest matching tag "
                       "whether or not it ran there. Set mode: off (or remove imageUpdates.mode)")
            mode = None
        provider = read_str(node, IMAGE_UPDATES["pullRequestProvider"])
        if mode == UpdateMode.PULL_REQUEST.value:
            problem = self._pull_request_credentials_problem(node, gitops)
            if problem:
                node.error("mode", problem)
                mode = None
        write_branch = read_str(node, IMAGE_UPDATES["writeBranch"])
        if write_branch is not None and mode is not None and mode != UpdateMode.GIT.value:
            node.error("writeBranch", f"applies to mode git only (this stack's mode is {mode!r}): in pull-request mode "
                       "the Image Updater names each pull request's branch itself; remove writeBranch or set mode: git")
            write_branch = None
        if write_branch is not None and gitops is not None and write_branch == gitops.revision:
            node.error("writeBranch", f"is the tracked branch ({NS}:gitops.revision {gitops.revision}); "
                       "name another branch, or remove writeBranch to commit to the tracked branch")
            write_branch = None
        allow = read_str(node, IMAGE_UPDATES["allowTags"])
        if allow is not None and not (allow == "any" or allow.startswith("regexp:")):
            node.error("allowTags", f"{allow!r} must be 'any' or 'regexp:<pattern>'")
            allow = None
        elif allow is not None and allow.startswith("regexp:"):
            try:
                re.compile(allow[len("regexp:"):])
            except re.error as exc:
                node.error("allowTags", f"is not a valid regular expression ({exc})")
                allow = None
        secret = read_str(node, IMAGE_UPDATES["credentialsSecret"])
        constraint = IMAGE_UPDATES["constraints"].items
        assert constraint is not None and constraint.pattern is not None
        constraints = []
        for key, value in node.entries("constraints"):
            where = node.child_key("constraints", key)
            if key not in services:
                self.problems.add(self.file, where, f"no such service in the catalog{did_you_mean(str(key), list(services))}")
            elif not isinstance(value, str) or not constraint.pattern.fullmatch(value):
                self.problems.add(self.file, where, f"expected {constraint.describe}, got {value!r}")
            else:
                constraints.append((key, value))
        node.done(IMAGE_UPDATES.field_keys)
        if mode is None or provider is None or allow is None:
            return None
        return ImageUpdatePolicy(UpdateMode(mode), provider, allow, tuple(sorted(constraints)), secret, write_branch)

    def _pull_request_credentials_problem(self, node: Node, gitops: GitOpsConfig | None) -> str | None:
        credentials = self.node.raw("gitopsCredentials")
        keys = credentials.keys() if isinstance(credentials, dict) else ()
        secret = node.raw("credentialsSecret")
        return pull_request_credentials_problem(gitops.repo_url if gitops else "", keys, secret if secret else None)

    def _promotion(self, node: Node | None) -> str | None:
        """The environment this one is promoted from ('' when none); checked against the stacks in project.py."""
        if node is None:
            return ""
        if not self._is_map(node):
            return None
        source = read_str(node, PROMOTION["from"])
        node.done(PROMOTION.field_keys)
        return source

    def _addons(self, node: Node | None) -> AddonsConfig | None:
        """The cluster controllers; each stays on unless the stack sets it off (``false`` / ``none``) explicitly."""
        node = self._section(node, ADDONS)
        if node is None:
            return None
        load_balancer = read_bool(node, ADDONS["loadBalancerController"])
        metrics = read_bool(node, ADDONS["metricsServer"])
        autoscaler = read_str(node, ADDONS["autoscaler"])
        # Unset: installed exactly when a service uses a canary (project.py refuses false in that case).
        rollouts = read_bool(node, ADDONS["argoRollouts"], False) if node.has("argoRollouts") else None
        node.done(ADDONS.field_keys)
        if autoscaler is None:
            return None
        return AddonsConfig(load_balancer, metrics, Autoscaler(autoscaler), rollouts)

    def _image_tags(self, node: Node | None, services: tuple[str, ...]) -> tuple[tuple[str, str], ...] | None:
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
            problem = IMAGE_TAGS.items.check(value) if IMAGE_TAGS.items and IMAGE_TAGS.items.check else None
            if problem:
                self.problems.add(self.file, where, problem)
                continue
            out.append((key, value))
        return tuple(sorted(out))

    def _section(self, node: Node | None, section: Field) -> Node | None:
        """The section's node (an empty one when the key is absent, so field defaults apply); None when not a map."""
        if node is None:
            return Node({}, self.file, f"config.{NS}:{section.key}", self.problems)
        return node if self._is_map(node) else None

    def _is_map(self, node: Node) -> bool:
        if not isinstance(node.data, dict):
            self.problems.add(self.file, node.path, f"expected a mapping, got {type_name(node.data)}")
            return False
        return True


def _is_type(value: Any, declared: str) -> bool:
    expected = _PYTHON_TYPES[declared]
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)
