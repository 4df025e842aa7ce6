"""The CrossGuard pack (policy/) against the resources the program registers under mocks.

Every registration of a stack run (the ``program`` fixture of test_program.py) is
handed to every policy as the analyzer would hand it: ``ResourceValidationArgs``
with the engine's camelCase inputs, secrets unwrapped, unknowns as the engine's
sentinels behind the SDK's unknown-checking proxy, and the policy's config with
its schema defaults filled in (what ``pulumi preview --policy-pack`` does).
"""

from __future__ import annotations

import importlib.metadata
import json
import runpy
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from conftest import REPO_ROOT
from policy import rules
from policy.rules import POLICIES
from pulumi_harness import RecordingMocks, Registration, program  # noqa: F401  (program: the fixture)
from pulumi_harness import project_copy as _project_copy
from test_program import NS, STACKS

POLICY_DIR = REPO_ROOT / "policy"
BY_NAME = {p.name: p for p in POLICIES}
ECR = BY_NAME["ecr-repository-hardened"]
EKS = BY_NAME["eks-cluster-hardened"]
IAM = BY_NAME["iam-no-wildcards"]
KMS = BY_NAME["kms-key-rotation-enabled"]
HELM = BY_NAME["helm-chart-version-pinned"]


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    message: str
    urn: str | None


# --- feeding registrations to policies the way the analyzer does ---------------------

def effective_config(policy: ResourceValidationPolicy, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The schema's defaults overlaid with ``given``: what the CLI hands the policy (ReconcilePolicyPackConfig)."""
    schema = policy.config_schema.properties if policy.config_schema else {}
    return {**{k: v["default"] for k, v in schema.items() if "default" in v}, **(given or {})}


def as_sent_by_engine(value: Any) -> Any:
    """Mock inputs with unknowns (preview) as the engine sends them to an analyzer: sentinel strings."""
    if isinstance(value, pulumi.output.Unknown):
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: as_sent_by_engine(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_sent_by_engine(v) for v in value]
    return value


def validation_args(typ: str, name: str, inputs: Mapping[str, Any], urn: str, *, parent: str = "",
                    ignore_changes: Iterable[str] = (), provider: PolicyProviderResource | None = None,
                    config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    props = unknown_checking_proxy(deserialize_properties(as_sent_by_engine(dict(inputs))))
    opts = PolicyResourceOptions(protect=False, ignore_changes=list(ignore_changes), delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=[], parent=parent or None)
    return ResourceValidationArgs(typ, props, urn, name, opts, provider, dict(config or {}))


def registration_args(mocks: RecordingMocks, reg: Registration,
                      config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    links = mocks.links_of(reg)
    provider = None
    if reg.provider:
        provider_urn = reg.provider.rsplit("::", 1)[0]   # a provider reference is "<urn>::<id>"
        match = [r for r in mocks.registrations if mocks.links_of(r).urn == provider_urn]
        if match:
            provider = PolicyProviderResource(match[0].typ, unknown_checking_proxy(
                deserialize_properties(as_sent_by_engine(dict(match[0].inputs)))), provider_urn, match[0].name)
    return validation_args(reg.typ, reg.name, reg.inputs, links.urn, parent=links.parent,
                           ignore_changes=links.ignore_changes, provider=provider, config=config)


def run_policy(policy: ResourceValidationPolicy, args: ResourceValidationArgs) -> list[Violation]:
    found: list[Violation] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(Violation(policy.name, args.name, message, urn))

    assert policy.validate(args, report) is None   # synchronous: nothing for the analyzer to await
    return found


def check(mocks: RecordingMocks, config: Mapping[str, Mapping[str, Any]] | None = None,
          policies: Iterable[ResourceValidationPolicy] = POLICIES) -> list[Violation]:
    """Every policy on every registration; ``config`` is {policy name: config given for it}."""
    found: list[Violation] = []
    for reg in mocks.registrations:
        for policy in policies:
            args = registration_args(mocks, reg, effective_config(policy, (config or {}).get(policy.name)))
            found.extend(run_policy(policy, args))
    return found


def crafted(policy: ResourceValidationPolicy, typ: str, name: str, inputs: Mapping[str, Any],
            config: Mapping[str, Any] | None = None) -> list[Violation]:
    """One hand-made registration (what the program never makes) through ``policy``."""
    urn = f"urn:pulumi:test::gitops-platform::{typ}::{name}"
    return run_policy(policy, validation_args(typ, name, inputs, urn, config=effective_config(policy, config)))


def messages(violations: Iterable[Violation]) -> str:
    return "\n".join(f"{v.policy} {v.resource}: {v.message}" for v in violations)


# --- the shipped stacks --------------------------------------------------------------

# The types each policy exists for, and which stack creates them (only the owner makes the registry).
CHECKED_TYPES = {
    "dev": {rules.ECR_REPOSITORY, rules.ECR_REPOSITORY_POLICY, rules.EKS_CLUSTER, rules.IAM_ROLE,
            rules.IAM_ROLE_POLICY, rules.KMS_KEY, rules.HELM_RELEASE},
    "staging": {rules.EKS_CLUSTER, rules.IAM_ROLE, rules.IAM_ROLE_POLICY, rules.KMS_KEY, rules.HELM_RELEASE},
    "prod": {rules.EKS_CLUSTER, rules.IAM_ROLE, rules.IAM_ROLE_POLICY, rules.KMS_KEY, rules.HELM_RELEASE},
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_passes_every_policy(program, stack: str) -> None:
    mocks, _ = program(stack)
    # Not vacuous: the stack registers the resources the policies are about.
    assert CHECKED_TYPES[stack] <= {r.typ for r in mocks.registrations}
    violations = check(mocks)
    assert violations == [], messages(violations)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_policy_runs_at_a_stacks_first_preview(program, stack: str) -> None:
    """Nothing exists yet, so ARNs and ids are unknown: no rule may need one (it would only warn)."""
    mocks, _ = program(stack, preview=True)
    unknown_seen = False
    for reg in mocks.registrations:
        for policy in POLICIES:
            args = registration_args(mocks, reg, effective_config(policy))
            try:
                assert run_policy(policy, args) == [], reg.name
            except UnknownValueError as exc:
                pytest.fail(f"{policy.name} on {reg.name} needs a value unknown at preview: {exc.message}")
        unknown_seen = unknown_seen or "pulumi.output.Unknown" in repr(reg.inputs)
    assert unknown_seen   # the preview really had unknowns for the policies to step around


# --- variants the pack must reject ---------------------------------------------------

def _stack_config(root: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_mutable_tags_in_a_registry_prod_owns_are_rejected(program, tmp_path: Path) -> None:
    # The project refuses a mutable owner while another stack requires immutable tags, so
    # for a config that loads: dev stops owning (and requiring), prod owns with mutable tags.
    root = _project_copy(tmp_path)
    dev = yaml.safe_load((root / "Pulumi.dev.yaml").read_text())
    dev["config"][f"{NS}:registry"].update(owner=False, immutableTags=False)
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    registry = {**_stack_config(root, "prod")[f"{NS}:registry"], "owner": True, "immutableTags": False,
                "roleArn": "arn:aws:iam::999999999999:role/gitops-platform-registry"}   # prod is account 333333333333
    mocks, _ = program("prod", root=root, extra={f"{NS}:registry": json.dumps(registry)})

    repos = mocks.of_type(rules.ECR_REPOSITORY)
    assert repos and {r.inputs["imageTagMutability"] for r in repos} == {"MUTABLE"}
    violations = check(mocks)
    assert {v.policy for v in violations} == {ECR.name}, messages(violations)
    assert sorted(v.resource for v in violations) == sorted(r.name for r in repos)
    for v in violations:
        assert f"ECR repository '{v.resource}'" in v.message
        assert "imageTagMutability is MUTABLE but must be IMMUTABLE" in v.message
        # The shared repositories carry no environment tag: it is requireImmutableTags that rejects them.
        assert "requireImmutableTags" in v.message
        assert v.urn == mocks.links_of(mocks.named(v.resource)).urn

    # With that switched off, only repositories tagged with a production environment must be immutable.
    assert check(mocks, {ECR.name: {"requireImmutableTags": False}}) == []
    tagged = {**repos[0].inputs, "tags": {**repos[0].inputs["tags"], "environment": "prod"}}
    rejected = crafted(ECR, rules.ECR_REPOSITORY, "prod-only", tagged, {"requireImmutableTags": False})
    assert len(rejected) == 1 and "tagged environment=prod (production)" in rejected[0].message
    assert "ECR repository 'prod-only'" in rejected[0].message
    assert crafted(ECR, rules.ECR_REPOSITORY, "prod-only", tagged,
                   {"requireImmutableTags": False, "productionEnvironments": ["live"]}) == []


def test_a_public_only_api_endpoint_in_prod_is_rejected(program) -> None:
    cluster = {**_stack_config(REPO_ROOT, "prod")[f"{NS}:cluster"],
               "endpointPrivateAccess": False, "endpointPublicAccess": True}
    del cluster["publicAccessCidrs"]
    mocks, _ = program("prod", extra={f"{NS}:cluster": json.dumps(cluster)})

    violations = check(mocks)
    assert {v.policy for v in violations} == {EKS.name}, messages(violations)
    assert {v.resource for v in violations} == {"eks-cluster"}
    text = messages(violations)
    assert "EKS cluster 'eks-cluster': vpcConfig.endpointPrivateAccess must be true on a production cluster" in text
    assert "0.0.0.0/0" in text   # no CIDRs given: the program (and AWS) open the endpoint to everyone
    # The same cluster is acceptable where its environment is not a production one.
    assert check(mocks, {EKS.name: {"productionEnvironments": ["live"]}}, [EKS]) == []


ROLE_POLICY_WITH_WILDCARD = {
    "role": "ci-deployer",
    "policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Push", "Effect": "Allow", "Action": "ecr:*",
         "Resource": "arn:aws:ecr:eu-west-1:999999999999:repository/shop/*"}]}),
}


def test_a_wildcard_iam_action_is_rejected() -> None:
    violations = crafted(IAM, rules.IAM_ROLE_POLICY, "ci-deployer-push", ROLE_POLICY_WITH_WILDCARD)
    assert len(violations) == 1, messages(violations)
    assert violations[0].message.startswith("IAM role policy 'ci-deployer-push': policy statement 'Push' allows "
                                            "wildcard action ecr:*")


def test_a_wildcard_action_in_the_programs_own_policy_builder_is_rejected(program, monkeypatch) -> None:
    import components.argocd

    monkeypatch.setattr(components.argocd, "ECR_READ_ACTIONS", (*components.argocd.ECR_READ_ACTIONS, "ecr:*"))
    mocks, _ = program("prod")
    violations = check(mocks)
    assert [(v.policy, v.resource) for v in violations] == [(IAM.name, "argocd-image-updater-ecr-read")], \
        messages(violations)
    assert "IAM role policy 'argocd-image-updater-ecr-read': policy statement 'EcrRead' allows wildcard action ecr:*" \
        in violations[0].message


# --- the pure helpers ----------------------------------------------------------------

@pytest.mark.parametrize("action,wildcard", [
    ("*", True), ("ecr:*", True), ("S3:*", True), (" iam:* ", True), ("*:*", True),
    ("ecr:GetAuthorizationToken", False), ("ecr:Describe*", False), ("sts:AssumeRole", False),
])
def test_wildcard_actions_are_star_or_a_whole_service(action: str, wildcard: bool) -> None:
    assert rules.is_wildcard_action(action) is wildcard


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_wildcard_action_is_found_as_a_string_or_in_a_list() -> None:
    as_string = rules.policy_document_problems(_document({"Effect": "Allow", "Action": "*", "Resource": "arn:x"}))
    as_list = rules.policy_document_problems(_document(
        {"Effect": "Allow", "Action": ["ecr:ListImages", "s3:*"], "Resource": "arn:x"}))
    assert len(as_string) == 1 and "wildcard action *" in as_string[0]
    assert len(as_list) == 1 and "wildcard action s3:*" in as_list[0] and "ecr:ListImages" not in as_list[0]


def test_not_action_and_not_resource_in_an_allow_are_wildcards() -> None:
    problems = rules.policy_document_problems(_document(
        {"Sid": "Broad", "Effect": "Allow", "NotAction": "iam:*", "NotResource": ["arn:x"]}))
    assert len(problems) == 2
    assert "statement 'Broad' allows NotAction ['iam:*']" in problems[0]
    assert "statement 'Broad' allows NotResource ['arn:x']" in problems[1]


def test_deny_statements_are_never_a_problem() -> None:
    assert rules.policy_document_problems(_document(
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "s3:GetObject", "NotResource": "arn:x"})) == []


def test_only_ecr_get_authorization_token_and_read_only_discovery_may_be_allowed_on_every_resource() -> None:
    assert rules.policy_document_problems(_document(
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"})) == []
    assert rules.policy_document_problems(_document(
        {"Effect": "Allow", "Action": "ECR:getAuthorizationToken", "Resource": ["*"]})) == []   # IAM ignores case
    assert rules.policy_document_problems(_document(
        {"Effect": "Allow", "Action": ["ec2:DescribeSubnets", "autoscaling:DescribeAutoScalingGroups"],
         "Resource": "*"})) == []
    problems = rules.policy_document_problems(_document(
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"], "Resource": "*"}))
    assert len(problems) == 1 and "allows ecr:BatchGetImage on Resource \"*\"" in problems[0]
    problems = rules.policy_document_problems(_document(
        {"Effect": "Allow", "Action": ["autoscaling:DescribeTags", "autoscaling:SetDesiredCapacity"], "Resource": "*"}))
    assert len(problems) == 1 and "allows autoscaling:SetDesiredCapacity on Resource \"*\"" in problems[0]


def test_every_action_allowed_on_every_resource_only_reads() -> None:
    verbs = {a.split(":", 1)[1] for a in rules.WILDCARD_RESOURCE_ACTIONS} - {"GetAuthorizationToken"}
    assert all(v.startswith(("Describe", "List", "Get")) for v in verbs), sorted(verbs)


def test_documents_may_be_objects_with_a_single_statement_and_must_be_json() -> None:
    single = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "arn:x"}}
    assert len(rules.policy_document_problems(single)) == 1
    assert rules.policy_document_problems("{not json") == ["is not a JSON policy document, so it cannot be checked"]


def test_every_document_of_an_iam_role_is_checked() -> None:
    role = {
        "assumeRolePolicy": _document({"Effect": "Allow", "Action": "sts:*", "Principal": {"Service": "x"}}),
        "inlinePolicies": [{"name": "ok", "policy": _document({"Effect": "Allow", "Action": "s3:GetObject",
                                                               "Resource": "arn:x"})},
                           {"name": "bad", "policy": _document({"Effect": "Allow", "Action": "*",
                                                                "Resource": "arn:x"})}],
    }
    problems = rules.iam_problems(rules.IAM_ROLE, role)
    assert [p.split(" ", 1)[0] for p in problems] == ["assumeRolePolicy", "inlinePolicies[1].policy"]
    violations = crafted(IAM, rules.IAM_ROLE, "too-broad", role)
    assert [v.message.split(":", 1)[0] for v in violations] == ["IAM role 'too-broad'"] * 2
    # A type without policy documents is none of this policy's business.
    assert crafted(IAM, rules.KMS_KEY, "key", {"policy": _document({"Effect": "Allow", "Action": "*"})}) == []


GOOD_REPOSITORY = {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE",
                   "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "arn:aws:kms:x"}]}


def test_ecr_repository_rules() -> None:
    defaults = effective_config(ECR)
    assert rules.ecr_repository_problems(GOOD_REPOSITORY, defaults) == []
    problems = rules.ecr_repository_problems({}, defaults)   # everything left to AWS's defaults
    assert [p.split(" ", 1)[0] for p in problems] == [
        "imageScanningConfiguration.scanOnPush", "encryptionConfigurations", "imageTagMutability"]
    odd = {**GOOD_REPOSITORY, "encryptionConfigurations": [{"encryptionType": "NONE"}]}
    assert "found ['NONE']" in rules.ecr_repository_problems(odd, defaults)[0]
    assert rules.ecr_repository_problems(GOOD_REPOSITORY, {}) == []   # no config at all: the same defaults


GOOD_CLUSTER = {
    "tags": {"environment": "prod"},
    "accessConfig": {"authenticationMode": "API"},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:x"}},
    "enabledClusterLogTypes": ["api", "audit"],
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
}


@pytest.mark.parametrize("change,problem", [
    ({"encryptionConfig": None}, "encryptionConfig.resources"),
    ({"enabledClusterLogTypes": ["api"]}, "enabledClusterLogTypes"),
    ({"accessConfig": None}, "accessConfig.authenticationMode is CONFIG_MAP"),
    ({"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8"]}},
     "vpcConfig.endpointPrivateAccess"),
    ({"vpcConfig": {"endpointPrivateAccess": True}}, "vpcConfig.publicAccessCidrs is not set"),
    ({"vpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": ["10.0.0.0/8", "0.0.0.0/0"]}},
     "vpcConfig.publicAccessCidrs contains 0.0.0.0/0"),
])
def test_eks_cluster_rules(change: dict[str, Any], problem: str) -> None:
    cluster = {k: v for k, v in {**GOOD_CLUSTER, **change}.items() if v is not None}
    problems = rules.eks_cluster_problems(cluster, effective_config(EKS))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_eks_endpoint_rules_apply_to_production_clusters_only() -> None:
    defaults = effective_config(EKS)
    assert rules.eks_cluster_problems(GOOD_CLUSTER, defaults) == []
    private_only = {**GOOD_CLUSTER, "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False}}
    assert rules.eks_cluster_problems(private_only, defaults) == []
    open_dev = {**GOOD_CLUSTER, "tags": {"environment": "dev"}, "vpcConfig": {"endpointPublicAccess": True}}
    assert rules.eks_cluster_problems(open_dev, defaults) == []
    assert len(rules.eks_cluster_problems(open_dev, {"productionEnvironments": ["dev"]})) == 2
    untagged = {k: v for k, v in open_dev.items() if k != "tags"}
    assert rules.eks_cluster_problems(untagged, defaults) == []


def test_kms_keys_must_rotate() -> None:
    assert rules.kms_key_problems({"enableKeyRotation": True}) == []
    assert rules.kms_key_problems({"enableKeyRotation": False})[0].startswith("enableKeyRotation must be true")
    assert len(rules.kms_key_problems({})) == 1
    assert crafted(KMS, rules.KMS_KEY, "k", {})[0].message.startswith("KMS key 'k': enableKeyRotation")


@pytest.mark.parametrize("version,pinned", [
    ("2.18.5", True), ("v1.2.3", True), ("1.0.0-rc.1", True), ("1.0.0+build.7", True),
    (None, False), ("", False), ("^1.2.3", False), ("~1.2", False), ("1.2", False), ("1.x", False),
    ("*", False), (">=1.0.0", False), ("1.2.3 || 1.2.4", False), ("latest", False),
])
def test_chart_versions_must_be_exact(version: str | None, pinned: bool) -> None:
    assert rules.is_pinned_version(version) is pinned
    release = {"chart": "argo-cd", **({"version": version} if version is not None else {})}
    violations = crafted(HELM, rules.HELM_RELEASE, "argocd", release)
    assert (violations == []) is pinned
    if not pinned:
        assert violations[0].message.startswith("Helm release 'argocd': chart 'argo-cd' must be installed at an "
                                                "exact version")


# --- the pack itself -----------------------------------------------------------------

def test_policies_have_unique_names_descriptions_and_valid_config_defaults() -> None:
    assert len(BY_NAME) == len(POLICIES) == 5
    for policy in POLICIES:
        assert isinstance(policy, ResourceValidationPolicy)
        assert policy.description
        if policy.config_schema is not None:
            schema = {"type": "object", "properties": policy.config_schema.properties}
            jsonschema.Draft4Validator.check_schema(schema)   # the CLI validates config with a draft-4 validator
            jsonschema.Draft4Validator(schema).validate(effective_config(policy))
    assert effective_config(ECR) == {"productionEnvironments": ["prod"], "requireImmutableTags": True}
    assert effective_config(EKS) == {"productionEnvironments": ["prod"]}


def test_the_pack_entry_point_builds_a_mandatory_pack_of_every_policy(monkeypatch) -> None:
    """Run policy/ as the CLI does (run_path of the directory), with PolicyPack recorded instead of serving."""
    import pulumi_policy

    built: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda name, **kwargs: built.append({"name": name, **kwargs}))
    try:
        runpy.run_path(str(POLICY_DIR), run_name="__main__")
    finally:
        sys.modules.pop("rules", None)   # the pack's own import of rules.py, as a top-level module
    assert len(built) == 1
    assert built[0]["name"] == "gitops-platform"
    assert built[0]["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    assert [p.name for p in built[0]["policies"]] == [p.name for p in POLICIES]


def test_the_pack_project_pins_the_installed_policy_sdk() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["description"]
    pins = dict(line.split("==", 1) for line in (POLICY_DIR / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    assert pins["pulumi-policy"] == importlib.metadata.version("pulumi-policy")
    assert pins["pulumi"] == importlib.metadata.version("pulumi")
