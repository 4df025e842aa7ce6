"""Running Pulumi code under the SDK's mocks, with a fresh runtime per test.

The mocks echo inputs as outputs and add the computed outputs the program reads
(ARNs, the EKS endpoint and CA, a real PEM key pair for pulumi-tls), so code
that derives values from them runs as it would against the engine. Stack
references answer with the outputs a test gives (``stack_outputs``), for
example another stack's exports from an earlier ``program(...)`` run.

The ``program`` fixture runs the whole ``__main__.py`` of a project directory
(the repository's or a ``project_copy``) for one stack.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import json
import re
import runpy
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.sync_await import _sync_await

MOCK_ACCOUNT = "123456789012"
MOCK_VPC_ID = "vpc-0a1b2c3d4e5f60718"
PROJECT = "gitops-platform"
REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_REFERENCE = "pulumi:pulumi:StackReference"
SECRETS_KEY = f"{PROJECT}:secrets"
PLAINTEXT_MARK = "plaintext-"


class ConfigValidationError(Exception):
    """What the Pulumi CLI prints when it refuses a stack's config before the program starts."""


def _is_secure(value: Any) -> bool:
    """A ``{secure: ...}`` value anywhere inside: the CLI marks the whole top-level key secret."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_is_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secure(v) for v in value)
    return False


def _valid_config_value(type_name: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    """``ValidateConfigValue`` of the CLI (pulumi sdk/go/common/workspace/project.go).

    Non-object stack values reach it as the string the CLI stores, so any
    scalar is a valid ``string``; integers and booleans may come as text.
    """
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value == int(value)):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) is not None
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if type_name != "array" or not isinstance(value, list) or not items:
        return False
    return all(_valid_config_value(items["type"], items.get("items"), v) for v in value)


def _as_cli_value(value: Any) -> Any:
    """A scalar as the CLI holds it (text, YAML's own spelling of booleans); objects and lists as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return value


def cli_stack_config(root: Path, stack: str) -> tuple[dict[str, Any], set[str]]:
    """The stack's config after the Pulumi CLI's project-config validation, before the program runs.

    Emulates ``mergeConfig`` and ``validateStackConfigValues`` of pulumi
    ``sdk/go/common/workspace/config.go``: every key ``Pulumi.yaml`` declares in
    the project's namespace without ``default``/``value`` must be set by the
    stack ("Stack 'dev' is missing configuration value 'x'"); declared defaults
    fill in what the stack does not set; every declared key's value (defaults
    included) must have the declared type, and a ``secret: true`` key must be
    encrypted. Returns the namespaced values and the keys the engine marks
    secret; ConfigValidationError with the CLI's message otherwise.
    """
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    stack_values: dict[str, Any] = dict(yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()).get("config") or {})
    declared = {(k if ":" in k else f"{PROJECT}:{k}"): (d if isinstance(d, dict) else {"default": d})
                for k, d in (project.get("config") or {}).items()}
    missing = sorted(key.split(":", 1)[1] for key, d in declared.items()
                     if key.startswith(PROJECT + ":") and key not in stack_values
                     and d.get("default") is None and d.get("value") is None)
    if missing:
        quoted = [f"'{m}'" for m in missing]
        listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
        raise ConfigValidationError(
            f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {listed}")
    values = dict(stack_values)
    for key, d in declared.items():
        if key not in values:
            values[key] = d["default"] if d.get("default") is not None else d.get("value")
    secret = {key for key, value in values.items() if _is_secure(value)}
    for key, d in sorted(declared.items()):
        if "type" not in d or not key.startswith(PROJECT + ":"):
            continue
        short = key.split(":", 1)[1]
        if d.get("secret") and key not in secret:
            raise ConfigValidationError(
                f"Stack '{stack}' with configuration key '{short}' must be encrypted as it's secret")
        value = values[key]
        if not _is_secure(value) and not _valid_config_value(d["type"], d.get("items"), _as_cli_value(value)):
            raise ConfigValidationError(
                f"Stack '{stack}' with configuration key '{short}' must be of type '{d['type']}'")
    return values, secret


def engine_config(root: Path, stack: str) -> tuple[dict[str, str], list[str]]:
    """What ``pulumi up`` hands the program: the CLI-validated config, every key namespaced, every value a string.

    Encrypted leaves become ``mock-secret``; a key holding one is secret.
    """
    values, secret_keys = cli_stack_config(root, stack)
    config = {key: _engine_string(_decrypted(value)) for key, value in values.items()}
    return config, sorted(secret_keys)


def _decrypted(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return "mock-secret"
        return {k: _decrypted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypted(v) for v in value]
    return value


def _engine_string(value: Any) -> str:
    """The engine's wire form: text as is, YAML scalars as their text, structures as JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return _as_cli_value(value)


def plain_strings(value: Any) -> Iterator[str]:
    """Every string of a registered input that is not inside a secret (what state and diffs show)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return
        for item in value.values():
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
    elif isinstance(value, str):
        yield value


@dataclass(frozen=True)
class Export:
    """A stack output as the engine stores it: its value and whether it is secret."""

    value: Any
    secret: bool


def export(value: Any) -> Export:
    output = pulumi.Output.from_input(value)
    return Export(_sync_await(output.future()), bool(_sync_await(output.is_secret())))


@dataclass(frozen=True)
class Registration:
    typ: str
    name: str
    inputs: dict[str, Any]
    custom: bool | None
    provider: str = ""


@functools.cache
def mock_private_key(name: str) -> str:
    """A real RSA key (PEM, PKCS#1) per ``tls.PrivateKey`` resource name, made once per test session.

    2048 bits keeps the suite fast; the program asks pulumi-tls for 4096 and the
    tests check that request, not the mock's answer.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The key of a PEM the program or the mocks made (sealing keys are RSA)."""
    key = load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey), f"not an RSA key: {type(key).__name__}"
    return key


@functools.cache
def mock_certificate(key_pem: str) -> str:
    """The self-signed certificate pulumi-tls would return for ``key_pem`` (fixed dates: deterministic)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = rsa_private_key(key_pem)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def mock_key_pair(name: str = "sealing-g1-key") -> tuple[str, str]:
    """(key PEM, certificate PEM) the mocks give the ``tls.PrivateKey`` named ``name`` and its certificate."""
    key_pem = mock_private_key(name)
    return key_pem, mock_certificate(key_pem)


def computed_outputs(typ: str, name: str, inputs: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """What the real provider would add to a resource's outputs, for the types the program reads."""
    physical = inputs.get("name", name)
    if typ == "aws:iam/role:Role":
        return {"arn": f"arn:aws:iam::{account}:role/{physical}"}
    if typ == "aws:kms/key:Key":
        return {"arn": f"arn:aws:kms:{region}:{account}:key/{name}", "keyId": name}
    if typ == "aws:eks/cluster:Cluster":
        return {
            "arn": f"arn:aws:eks:{region}:{account}:cluster/{physical}",
            "endpoint": f"https://{physical}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthority": {"data": base64.b64encode(b"mock-ca").decode()},
            # EKS reports the VPC its subnets are in; the mocks cannot know it, so any fixed id stands in.
            "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{name}",
                          "vpcId": MOCK_VPC_ID},
        }
    if typ == "tls:index/privateKey:PrivateKey":
        return {"privateKeyPem": mock_private_key(name), "publicKeyPem": "mock-public-key"}
    if typ == "tls:index/selfSignedCert:SelfSignedCert":
        key_pem = inputs.get("privateKeyPem")
        if isinstance(key_pem, dict) and key_pem.get(rpc._special_sig_key) == rpc._special_secret_sig:
            key_pem = key_pem.get("value")
        return {"certPem": mock_certificate(key_pem)} if isinstance(key_pem, str) else {}
    if typ.startswith("aws:ec2/"):
        return {"arn": f"arn:aws:ec2:{region}:{account}:{name}"}
    return {}


@dataclass(frozen=True)
class Links:
    """What the engine would order and nest by: a registration's URN, parent and dependencies."""

    urn: str
    parent: str
    dependencies: frozenset[str]   # explicit depends_on plus every input's dependencies
    ignore_changes: tuple[str, ...]


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping each registration's dependencies (mocks alone never see them)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            deps = set(request.dependencies)
            for prop in request.propertyDependencies.values():
                deps.update(prop.urns)
            self.recording.links[(request.type, request.name)] = Links(
                self.make_urn(request.parent, request.type, request.name), request.parent,
                frozenset(deps), tuple(request.ignoreChanges))
        return super().RegisterResource(request)

    def ReadResource(self, request):
        """Reads (``.get()``, StackReference) have a URN and a parent too, and whatever they depend on."""
        self.recording.links[(request.type, request.name)] = Links(
            self.make_urn(request.parent, request.type, request.name), request.parent,
            frozenset(request.dependencies), ())
        return super().ReadResource(request)


DYNAMIC_PREFIX = "pulumi-python:dynamic"


class CheckFailed(Exception):
    """A provider's ``check`` refused a resource's inputs: the engine stops the preview or update there."""


@functools.cache
def _dynamic_provider(serialized: str) -> Any:
    """The provider object the dynamic provider host would load from ``__provider`` (dill, base64)."""
    import dill  # what pulumi.dynamic serialises providers with

    return dill.loads(base64.b64decode(serialized))


def engine_view(value: Any) -> Any:
    """Inputs as the engine hands them to a dynamic provider that does not accept secrets: secrets unwrapped,
    unknowns kept as ``pulumi.output.Unknown`` (pulumi/dynamic/__main__.py deserialises with keep_unknowns)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return engine_view(value.get("value"))
        return {k: engine_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [engine_view(v) for v in value]
    return value


def run_dynamic_check(typ: str, name: str, inputs: Mapping[str, Any]) -> None:
    """Call the dynamic provider's ``check`` as the engine does before every create, update and preview step."""
    news = engine_view(dict(inputs))
    serialized = news.get("__provider")
    if not isinstance(serialized, str):
        raise CheckFailed(f"{typ} {name}: no serialised provider in its inputs")
    result = _dynamic_provider(serialized).check({}, news)
    if result.failures:
        reasons = "; ".join(f"{f.property}: {f.reason}" for f in result.failures)
        raise CheckFailed(f"{typ} {name}: check failed: {reasons}")


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes inputs as outputs (plus ``computed_outputs``) and records every registration.

    Like the engine, it runs every dynamic provider's ``check`` on the inputs
    it gets (unknowns included during a preview) and fails the registration
    on a check failure.
    """

    account_id: str = MOCK_ACCOUNT
    region: str = "eu-west-1"
    # A preview: what does not exist yet has unknown computed outputs. ``existing`` names the
    # resources that do (an update's preview); None means nothing does (a new stack's first preview).
    preview: bool = False
    existing: frozenset[str] | None = None
    registrations: list[Registration] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    links: dict[tuple[str, str], Links] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)   # secret id -> secret string
    # Stack reference name -> {output: value}; an ``Export`` value carries its secretness.
    stack_outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.registrations.append(Registration(args.typ, args.name, inputs, args.custom, args.provider or ""))
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args.resource_id or inputs.get("name") or args.name)
        if args.typ.startswith(DYNAMIC_PREFIX):
            run_dynamic_check(args.typ, args.name, inputs)
        known = not self.preview or (self.existing is not None and args.name in self.existing)
        outputs = {**inputs, **computed_outputs(args.typ, args.name, inputs, self.account_id, self.region)} if known else inputs
        return f"{args.name}-id", outputs

    def _stack_reference(self, name: str) -> tuple[str, dict[str, Any]]:
        """What the engine reads for ``StackReference(name)``: outputs and which of them are secret (also in a preview)."""
        if name not in self.stack_outputs:
            raise LookupError(f"no outputs mocked for stack reference {name!r}; pass stack_outputs={{{name!r}: ...}}")
        given = self.stack_outputs[name]
        outputs = {k: v.value if isinstance(v, Export) else v for k, v in given.items()}
        secret = sorted(k for k, v in given.items() if isinstance(v, Export) and v.secret)
        return name, {"name": name, "outputs": outputs, "secretOutputNames": secret}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return self.invoke_result(args), []   # no check failures

    def invoke_result(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        """What a mocked function (data source) returns."""
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account_id, "arn": f"arn:aws:iam::{self.account_id}:user/ci",
                    "userId": "AIDAMOCK", "id": self.account_id}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abc"
            return {"names": [f"{self.region}{x}" for x in letters],
                    "zoneIds": [f"euw1-az{i}" for i in range(1, len(letters) + 1)], "id": self.region}
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            secret_id = args.args["secretId"]
            return {"secretId": secret_id, "secretString": self.secrets_manager[secret_id], "id": secret_id,
                    "arn": secret_id, "versionId": "v1"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        return {}

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.typ == typ]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        assert len(matches) == 1, f"{len(matches)} registrations named {name!r}"
        return matches[0]

    def links_of(self, reg: Registration) -> Links:
        return self.links[(reg.typ, reg.name)]

    def directly_depends_on(self, later: Registration, earlier: Registration) -> bool:
        """Whether ``later`` itself names ``earlier`` (through depends_on or an input), not only through others."""
        return self.links_of(earlier).urn in self.links_of(later).dependencies

    def depends_on(self, later: Registration, earlier: Registration) -> bool:
        """Whether the engine creates ``earlier`` before ``later`` (directly or through other resources)."""
        target = self.links_of(earlier).urn
        by_urn = {link.urn: link for link in self.links.values()}
        seen: set[str] = set()
        todo = list(self.links_of(later).dependencies)
        while todo:
            urn = todo.pop()
            if urn == target:
                return True
            if urn in seen or urn not in by_urn:
                continue
            seen.add(urn)
            todo.extend(by_urn[urn].dependencies)
        return False


@pytest.fixture()
def pulumi_mocks() -> Iterator[Callable[..., RecordingMocks]]:
    """Call ``start(stack=..., preview=..., account_id=..., region=..., stack_outputs=...)`` to install mocks; torn down after the test."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.reset_options()

    def start(stack: str = "dev", preview: bool = False, account_id: str = MOCK_ACCOUNT,
              region: str = "eu-west-1",
              stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
              existing: frozenset[str] | None = None) -> RecordingMocks:
        # A fresh root stack per start: a second program in the same test (a hub, then its spoke)
        # must not see the first one's exports.
        pulumi.runtime.reset_options()
        mocks = RecordingMocks(account_id=account_id, region=region, preview=preview, existing=existing,
                               stack_outputs=dict(stack_outputs or {}))
        pulumi.runtime.set_mocks(mocks, project="gitops-platform", stack=stack, preview=preview,
                                 monitor=RecordingMonitor(mocks))
        return mocks

    yield start
    # Let the runtime's own bookkeeping tasks (root stack outputs) finish before the loop goes.
    pending = asyncio.all_tasks(loop)
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=5))
    for task in asyncio.all_tasks(loop):
        task.cancel()
    pulumi.runtime.reset_options()
    pulumi.runtime.set_all_config({}, [])
    loop.close()
    asyncio.set_event_loop(None)


# --- the whole program ------------------------------------------------------------------


def secret_values(root: Path, stack: str | None = None) -> dict[str, dict[str, str]]:
    """A value for every secret the catalog declares (distinct per service and name), and, given the stack, for
    the credentials of its Argo CD notifiers (``secrets.argocd-notifications.<NAME>``)."""
    from gitops.project import load_project
    from gitops.render import notifications

    project = load_project(root)
    values = {s.name: {n: f"{PLAINTEXT_MARK}{s.name}-{n}" for n in s.secrets} for s in project.catalog.services if s.secrets}
    names = notifications.secret_names(project.stack(stack)) if stack is not None else ()
    if names:
        values[notifications.SECRETS_ENTRY] = {n: f"{PLAINTEXT_MARK}{stack}-notifications-{n}" for n in names}
    return values


def project_copy(tmp_path: Path, stacks: tuple[str, ...] = ("dev", "staging", "prod")) -> Path:
    """The example project plus the program (with the given shipped stack files), so a test can edit it and run it."""
    root = tmp_path / "program"
    root.mkdir()
    for item in ("Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in stacks), "__main__.py"):
        shutil.copyfile(REPO_ROOT / item, root / item)
    shutil.copytree(REPO_ROOT / "services", root / "services")
    return root


def write_stack(root: Path, name: str, source: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    """``Pulumi.<name>.yaml`` in ``root``: the stack file ``source`` with ``edit`` applied to its ``config``."""
    doc = yaml.safe_load(source.read_text())
    edit(doc["config"])
    path = root / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


ProgramRun = Callable[..., tuple[RecordingMocks, dict[str, Export]]]


@pytest.fixture
def program(pulumi_mocks) -> ProgramRun:
    """``program(stack, root=REPO_ROOT, extra={...}, preview=False, secrets=None, stack_outputs=None, existing=None)``.

    Runs ``__main__.py`` of ``root`` for ``stack`` with its config fed the way the
    CLI would (``cli_stack_config``: a stack the CLI refuses raises
    ConfigValidationError); returns the mocks and the exports. ``stack_outputs``
    answers stack references: ``{"hub": exports_of_the_hub_run}``. ``preview``
    with ``existing`` (names of resources already created, e.g. every
    registration of an earlier run) previews an update: only the others have
    unknown computed outputs.
    """

    def _run(stack: str, root: Path = REPO_ROOT, extra: dict[str, str] | None = None, preview: bool = False,
             secrets: dict[str, dict[str, str]] | None = None,
             stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
             existing: frozenset[str] | None = None) -> tuple[RecordingMocks, dict[str, Export]]:
        config, secret = engine_config(root, stack)
        # What `pulumi config set --secret --path 'gitops-platform:secrets.<svc>.<NAME>'` gives the program.
        config[SECRETS_KEY] = json.dumps(secret_values(root, stack) if secrets is None else secrets)
        secret.append(SECRETS_KEY)
        config.update(extra or {})
        account = config[f"{PROJECT}:awsAccountId"]
        pulumi.runtime.set_all_config(config, secret)
        mocks = pulumi_mocks(stack=stack, preview=preview, account_id=account, stack_outputs=stack_outputs,
                             existing=existing)

        @pulumi.runtime.test
        def run() -> None:
            runpy.run_path(str(root / "__main__.py"), run_name="__main__")

        run()
        stack_resource = pulumi.runtime.get_root_resource()
        assert isinstance(stack_resource, pulumi.runtime.stack.Stack), stack_resource
        outputs = stack_resource.outputs
        return mocks, {name: export(value) for name, value in outputs.items()}

    return _run


# --- replacements under create-before-delete ---------------------------------------------------
#
# Pulumi replaces a resource when an input its provider marks ForceNew changes, and by default
# creates the replacement before deleting the original. A physical name that comes from a
# fixed input is then still taken by the original, and the create fails (EKS answers
# ResourceInUseException, IAM EntityAlreadyExists); for an association the later delete of the
# original undoes the new one. Given the registrations of two runs (before and after a config
# change), the functions below say which resources would be replaced and which new physical
# resource would meet a live one of the same name.

# ForceNew inputs per resource type, in the engine's camelCase, nested blocks as dotted paths,
# as the upstream schemas of hashicorp/terraform-provider-aws (which pulumi-aws bridges) mark them:
#   aws:eks/nodeGroup        internal/service/eks/node_group.go (resourceNodeGroup)
#   aws:eks/cluster          internal/service/eks/cluster.go (resourceCluster; also replaced when
#                            encryption_config is removed, a CustomizeDiff not modelled here)
#   aws:eks/accessEntry      internal/service/eks/access_entry.go
#   aws:eks/accessPolicyAssociation  internal/service/eks/access_policy_association.go
#   aws:eks/addon            internal/service/eks/addon.go
#   aws:iam/role             internal/service/iam/role.go
#   aws:iam/rolePolicyAttachment     internal/service/iam/role_policy_attachment.go
#   aws:cloudwatch/logGroup  internal/service/logs/group.go
#   aws:kms/alias            internal/service/kms/alias.go
#   aws:ecr/repository       internal/service/ecr/repository.go (encryption_configuration: the
#                            encryption of a repository is fixed at creation)
FORCE_NEW: Mapping[str, frozenset[str]] = {
    "aws:eks/nodeGroup:NodeGroup": frozenset({
        "amiType", "capacityType", "clusterName", "diskSize", "instanceTypes", "launchTemplate.id",
        "launchTemplate.name", "nodeGroupName", "nodeGroupNamePrefix", "nodeRoleArn", "remoteAccess", "subnetIds"}),
    "aws:eks/cluster:Cluster": frozenset({
        "accessConfig.bootstrapClusterCreatorAdminPermissions", "bootstrapSelfManagedAddons",
        "kubernetesNetworkConfig.ipFamily", "kubernetesNetworkConfig.serviceIpv4Cidr", "name", "outpostConfig",
        "roleArn"}),
    "aws:eks/accessEntry:AccessEntry": frozenset({"clusterName", "principalArn", "type"}),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": frozenset({
        "accessScope", "clusterName", "policyArn", "principalArn"}),
    "aws:eks/addon:Addon": frozenset({"addonName", "clusterName"}),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": frozenset({"policyArn", "role"}),
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"logGroupClass", "name", "namePrefix"}),
    "aws:kms/alias:Alias": frozenset({"name", "namePrefix"}),
    "aws:ecr/repository:Repository": frozenset({"encryptionConfigurations", "name"}),
}


@dataclass(frozen=True)
class Naming:
    """How AWS identifies one resource type: the inputs that together must be unique at any moment.

    ``fresh_unless``: when this input is not given, a fresh unique name is made
    (by the provider, or by Pulumi's auto-naming). ``prefix``: given instead, a
    fresh name with that prefix is made for every creation.
    """

    identity: tuple[str, ...]
    fresh_unless: str = ""
    prefix: str = ""


NAMING: Mapping[str, Naming] = {
    "aws:eks/nodeGroup:NodeGroup": Naming(("clusterName", "nodeGroupName"), "nodeGroupName", "nodeGroupNamePrefix"),
    "aws:eks/cluster:Cluster": Naming(("name",)),
    "aws:eks/accessEntry:AccessEntry": Naming(("clusterName", "principalArn")),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": Naming(("clusterName", "principalArn", "policyArn")),
    "aws:eks/addon:Addon": Naming(("clusterName", "addonName")),
    "aws:iam/role:Role": Naming(("name",), "name", "namePrefix"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Naming(("role", "policyArn")),
    "aws:cloudwatch/logGroup:LogGroup": Naming(("name",), "name", "namePrefix"),
    "aws:kms/alias:Alias": Naming(("name",), "name", "namePrefix"),
    "aws:ecr/repository:Repository": Naming(("name",)),
}

_ABSENT = object()


@dataclass(frozen=True)
class Replacement:
    """A resource the engine would replace: which ForceNew inputs changed, and its physical identity before and after.

    An identity of None is a fresh name per creation, which can never collide.
    """

    typ: str
    name: str
    because: tuple[str, ...]
    old_identity: tuple[Any, ...] | None
    new_identity: tuple[Any, ...] | None


def physical_identity(reg: Registration) -> tuple[Any, ...] | None:
    """What AWS knows ``reg`` by, from its inputs; None when a fresh name is made (or the type is not in NAMING)."""
    naming = NAMING.get(reg.typ)
    if naming is None:
        return None
    if naming.prefix and naming.prefix in reg.inputs:
        return None
    if naming.fresh_unless and reg.inputs.get(naming.fresh_unless) is None:
        return None
    return tuple(reg.inputs.get(key) for key in naming.identity)


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _without(value: Any, path: str) -> Any:
    """``value`` with the dotted ``path`` removed (a copy; the engine never diffs what ignore_changes names)."""
    head, _, rest = path.partition(".")
    if not isinstance(value, dict) or head not in value:
        return value
    if not rest:
        return {k: v for k, v in value.items() if k != head}
    return {**value, head: _without(value[head], rest)}


def _diffed_inputs(mocks: RecordingMocks, reg: Registration) -> dict[str, Any]:
    inputs: Any = reg.inputs
    for path in mocks.links_of(reg).ignore_changes:
        inputs = _without(inputs, path)
    return inputs


def _custom(mocks: RecordingMocks) -> dict[tuple[str, str], Registration]:
    return {(r.typ, r.name): r for r in mocks.registrations if r.custom}


def changed_resources(before: RecordingMocks, after: RecordingMocks) -> list[tuple[str, str]]:
    """(type, name) of every resource of both runs whose inputs differ, ignore_changes applied as the engine does."""
    old, new = _custom(before), _custom(after)
    return sorted(key for key in old.keys() & new.keys()
                  if _diffed_inputs(before, old[key]) != _diffed_inputs(after, new[key]))


def replacements(before: RecordingMocks, after: RecordingMocks,
                 force_new: Mapping[str, frozenset[str]] = FORCE_NEW) -> list[Replacement]:
    """The resources of both runs that the engine would replace, and why.

    Conservative where the mocks cannot tell: an input that disappears counts as
    a change (the provider may keep a computed value instead), and a replaced
    resource's new ID is not propagated to the resources that read it (the mocks
    give it the same ID), so replacements only cascade through changed inputs.
    A changed resource of a type missing from ``force_new`` is not reported
    here; ``changed_resources`` lists it.
    """
    old, new = _custom(before), _custom(after)
    found = []
    for key in sorted(old.keys() & new.keys()):
        typ = key[0]
        if typ not in force_new:
            continue
        was, now = _diffed_inputs(before, old[key]), _diffed_inputs(after, new[key])
        because = tuple(sorted(p for p in force_new[typ] if _at(was, p) != _at(now, p)))
        if because:
            found.append(Replacement(typ, key[1], because, physical_identity(old[key]), physical_identity(new[key])))
    return found


def name_collisions(before: RecordingMocks, after: RecordingMocks,
                    force_new: Mapping[str, frozenset[str]] = FORCE_NEW) -> list[str]:
    """Every resource the update would create (new, or a replacement) while one of the same physical identity still exists.

    Under create-before-delete every resource of the ``before`` run is still
    there when the creates run (replaced originals and removed resources are
    deleted last), so a new identity must not be any of theirs.
    """
    old, new = _custom(before), _custom(after)
    live: dict[tuple[str, tuple[Any, ...]], str] = {}
    for (typ, name), reg in old.items():
        identity = physical_identity(reg)
        if identity is not None:
            live[(typ, identity)] = name
    creates = [(new[(r.typ, r.name)], f"replaced (changed: {', '.join(r.because)})")
               for r in replacements(before, after, force_new)]
    creates += [(reg, "created") for key, reg in sorted(new.items()) if key not in old]
    problems = []
    for reg, why in creates:
        identity = physical_identity(reg)
        holder = live.get((reg.typ, identity)) if identity is not None else None
        if holder is not None and identity is not None:
            problems.append(f"{reg.typ} {reg.name}: {why}, but {holder} still holds the physical identity "
                            f"{dict(zip(NAMING[reg.typ].identity, identity, strict=True))} when it is created")
    return problems


# --- destroy order ------------------------------------------------------------------------------


def delete_order(mocks: RecordingMocks) -> list[Registration]:
    """The order ``pulumi destroy`` deletes the recorded resources in, as the engine derives it from the graph.

    A resource goes before everything it depends on (``depends_on`` and its
    inputs' dependencies), before its parent and before its provider. Where the
    graph leaves a choice (the engine would delete in parallel), later
    registrations go first, so the order is deterministic.
    """
    regs = [r for r in mocks.registrations if (r.typ, r.name) in mocks.links]
    urn_of = {id(r): mocks.links_of(r).urn for r in regs}
    by_urn = {urn_of[id(r)]: r for r in regs}
    position = {id(r): i for i, r in enumerate(regs)}

    def after(reg: Registration) -> set[str]:
        """URNs that must still exist while ``reg`` is deleted."""
        link = mocks.links_of(reg)
        provider = reg.provider.rsplit("::", 1)[0] if reg.provider else ""
        return {urn for urn in (*link.dependencies, link.parent, provider) if urn in by_urn and urn != link.urn}

    waiting_on = dict.fromkeys(by_urn, 0)   # how many not-yet-deleted resources must go before this one
    for reg in regs:
        for urn in after(reg):
            waiting_on[urn] += 1
    order: list[Registration] = []
    ready = [r for r in regs if waiting_on[urn_of[id(r)]] == 0]
    while ready:
        reg = ready.pop()   # the latest registration among those free to go
        order.append(reg)
        for urn in after(reg):
            waiting_on[urn] -= 1
            if waiting_on[urn] == 0:
                ready.append(by_urn[urn])
                ready.sort(key=lambda r: position[id(r)])
    assert len(order) == len(regs), "the recorded graph has a cycle"
    return order


def deleted_before(order: list[Registration], first: Registration, then: Registration) -> bool:
    """Whether a destroy in ``order`` (``delete_order``) deletes ``first`` before ``then``."""
    return order.index(first) < order.index(then)
