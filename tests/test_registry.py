"""The Registry component: repositories only in the owner stack, URLs everywhere.

The owner creates them in the registry's account and region (through a provider
assuming ``registry.roleArn`` when that is not the stack's own), and their
lifecycle policies keep every pinned tag and never expire releases by count.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from typing import Any

import pulumi
import pytest

from components.registry import PULL_ACTIONS, Registry, RegistryArgs
from gitops.model import RegistryConfig

OWNER = RegistryConfig(account_id="999999999999", region="eu-west-1", prefix="shop", owner=True,
                       keep_release_images=30, immutable_tags=True)
REPOS = ("cart", "payments")
ROLE = "arn:aws:iam::999999999999:role/gitops-platform-registry"
# The owner deploys into another account; the registry account's role creates the repositories.
REMOTE_OWNER = dataclasses.replace(OWNER, role_arn=ROLE)
ECR_TYPES = ("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
             "aws:ecr/repositoryPolicy:RepositoryPolicy")
AWS_PROVIDER = "pulumi:providers:aws"
PINS = {"cart": ("4.1.0",), "payments": ("1.3.9", "1.4.2", "pr-17")}
RELEASES = ("1.4.2", "v2.0.0", "10.20.30", "1.4.3")   # what the default imageUpdates.allowTags accepts


def _build(start, config: RegistryConfig, **extra):
    mocks = start()
    holder = {}

    @pulumi.runtime.test
    def program():
        holder["registry"] = Registry("ecr", RegistryArgs(config, REPOS, **extra))

    program()
    return mocks, holder["registry"]


def test_the_owner_stack_creates_one_repository_per_service_with_lifecycle_and_pull_policy(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, OWNER)
    assert sorted(r.inputs["name"] for r in mocks.of_type("aws:ecr/repository:Repository")) == ["shop/cart", "shop/payments"]
    assert len(mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 2
    assert len(mocks.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")) == 2


def test_repositories_scan_on_push_and_are_encrypted(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, OWNER)
    for repo in mocks.of_type("aws:ecr/repository:Repository"):
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
        assert repo.inputs["forceDelete"] is False


def test_a_kms_key_switches_encryption_to_kms(pulumi_mocks) -> None:
    key = "arn:aws:kms:eu-west-1:999999999999:key/abc"
    mocks, _ = _build(pulumi_mocks, OWNER, kms_key_arn=key)
    repo = mocks.of_type("aws:ecr/repository:Repository")[0]
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]


@pytest.mark.parametrize("immutable,expected", [(True, "IMMUTABLE"), (False, "MUTABLE")])
def test_tag_mutability_follows_the_stack_config(pulumi_mocks, immutable: bool, expected: str) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, immutable_tags=immutable))
    assert {r.inputs["imageTagMutability"] for r in mocks.of_type("aws:ecr/repository:Repository")} == {expected}


def _policies(mocks) -> dict[str, list[dict[str, Any]]]:
    """Repository name -> its lifecycle rules."""
    return {r.inputs["repository"]: json.loads(r.inputs["policy"])["rules"]
            for r in mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")}


def _kept(rules: list[dict[str, Any]], tag: str) -> bool:
    """ECR never expires ``tag``: a rule that selects it exactly keeps more images than one tag can name."""
    return any(r["selection"]["tagStatus"] == "tagged" and r["selection"]["tagPatternList"] == [tag]
               and r["selection"]["countType"] == "imageCountMoreThan" and r["selection"]["countNumber"] >= 1
               for r in rules)


def _first_rule_selecting(rules: list[dict[str, Any]], tag: str) -> dict[str, Any]:
    """The rule ECR applies to an image tagged only ``tag``: the lowest priority whose tag selection matches."""
    for rule in sorted(rules, key=lambda r: r["rulePriority"]):
        sel = rule["selection"]
        if sel["tagStatus"] == "any" or (sel["tagStatus"] == "tagged"
                                         and all(fnmatch.fnmatchcase(tag, p) for p in sel["tagPatternList"])):
            return rule
    raise AssertionError(f"no rule selects {tag}")


def test_every_protected_tag_is_kept_by_a_rule_before_any_rule_that_expires_tagged_images(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, expire_tag_patterns=("pr-*",)), protected_tags=PINS)
    policies = _policies(mocks)
    for repo, tags in PINS.items():
        rules = policies[f"shop/{repo}"]
        for tag in tags:
            assert _kept(rules, tag), (repo, tag)
            # "pr-17" also matches the expiring pattern: the keep rule comes first, so ECR cannot expire it.
            assert _first_rule_selecting(rules, tag)["selection"]["tagPatternList"] == [tag]


def test_without_expire_patterns_only_untagged_images_expire(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, OWNER, protected_tags=PINS)
    for rules in _policies(mocks).values():
        untagged = [r for r in rules if r["selection"]["tagStatus"] == "untagged"]
        assert [r["selection"]["countType"] for r in untagged] == ["sinceImagePushed"]
        assert all(r["selection"]["tagStatus"] == "untagged" or "*" not in "".join(r["selection"]["tagPatternList"])
                   for r in rules)


def test_no_rule_expires_release_tags_by_count(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, expire_tag_patterns=("pr-*", "sha-*")),
                      protected_tags=PINS)
    for rules in _policies(mocks).values():
        for release in RELEASES:
            rule = next((r for r in sorted(rules, key=lambda r: r["rulePriority"])
                         if r["selection"]["tagStatus"] != "untagged"
                         and all(fnmatch.fnmatchcase(release, p) for p in r["selection"].get("tagPatternList", ["*"]))),
                        None)
            # Either no rule selects the release at all, or it is the keep rule of that very tag.
            assert rule is None or rule["selection"]["tagPatternList"] == [release], (release, rule)


def test_expire_patterns_expire_beyond_keep_release_images_one_rule_per_pattern(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, expire_tag_patterns=("pr-*", "sha-*")),
                      protected_tags=PINS)
    rules = _policies(mocks)["shop/cart"]
    counted = {r["selection"]["tagPatternList"][0]: r["selection"]["countNumber"] for r in rules
               if "*" in r["selection"].get("tagPatternList", [""])[0]}
    assert counted == {"pr-*": 30, "sha-*": 30}


def test_the_lifecycle_policy_stays_within_what_ecr_accepts(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, expire_tag_patterns=("pr-*", "build-*-*")),
                      protected_tags=PINS)
    for record in mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        text = record.inputs["policy"]
        assert 100 <= len(text) <= 30720   # PutLifecyclePolicy lifecyclePolicyText
        rules = json.loads(text)["rules"]
        priorities = [r["rulePriority"] for r in rules]
        # Unique, ascending as written (the provider would otherwise show a diff on every run).
        assert priorities == sorted(set(priorities)) and all(isinstance(p, int) and p >= 1 for p in priorities)
        assert sum(r["selection"]["tagStatus"] == "untagged" for r in rules) == 1
        assert all(r["selection"]["tagStatus"] in ("tagged", "untagged") for r in rules)   # no "any" rule
        patterns = []
        for rule in rules:
            sel = rule["selection"]
            assert rule["action"] == {"type": "expire"}
            assert isinstance(sel["countNumber"], int) and sel["countNumber"] >= 1
            if sel["countType"] == "sinceImagePushed":
                assert sel["countUnit"] == "days"
            else:
                assert sel["countType"] == "imageCountMoreThan" and "countUnit" not in sel
            if sel["tagStatus"] == "tagged":
                # Several patterns in one list select images carrying all of them: one pattern per rule.
                assert len(sel["tagPatternList"]) == 1 and "tagPrefixList" not in sel
                assert sel["tagPatternList"][0].count("*") <= 4
                patterns.append(sel["tagPatternList"][0])
            else:
                assert "tagPatternList" not in sel and "tagPrefixList" not in sel
        assert len(patterns) == len(set(patterns))


@pytest.mark.parametrize("force_delete", [False, True])
def test_force_delete_flows_to_every_repository(pulumi_mocks, force_delete: bool) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, force_delete=force_delete))
    assert {r.inputs["forceDelete"] for r in mocks.of_type("aws:ecr/repository:Repository")} == {force_delete}


def _provider_ref(mocks, provider) -> str:
    return mocks.links_of(provider).urn + "::"


def test_an_owner_deploying_into_another_account_creates_every_ecr_resource_as_the_registry_role(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, REMOTE_OWNER, stack_account_id="111111111111", stack_region="eu-west-1")
    [provider] = mocks.of_type(AWS_PROVIDER)
    for typ in ECR_TYPES:
        records = mocks.of_type(typ)
        assert len(records) == len(REPOS), typ
        for record in records:
            assert record.provider.startswith(_provider_ref(mocks, provider)), (typ, record.name, record.provider)


def test_the_registry_provider_assumes_the_configured_role_in_the_registry_region_and_account(pulumi_mocks) -> None:
    registry = dataclasses.replace(REMOTE_OWNER, region="eu-central-1")
    mocks, _ = _build(pulumi_mocks, registry, stack_account_id="111111111111", stack_region="eu-west-1")
    [provider] = mocks.of_type(AWS_PROVIDER)
    assert provider.inputs["region"] == "eu-central-1"
    assert [role["roleArn"] for role in json.loads(provider.inputs["assumeRoles"])] == [ROLE]
    # Credentials that end up in any other account make the provider stop before it creates anything.
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["999999999999"]


def test_a_registry_in_another_region_of_the_stacks_account_gets_a_provider_for_that_region(pulumi_mocks) -> None:
    registry = dataclasses.replace(OWNER, region="eu-central-1")
    mocks, _ = _build(pulumi_mocks, registry, stack_account_id="999999999999", stack_region="eu-west-1")
    [provider] = mocks.of_type(AWS_PROVIDER)
    assert provider.inputs["region"] == "eu-central-1" and "assumeRoles" not in provider.inputs
    assert all(r.provider.startswith(_provider_ref(mocks, provider)) for typ in ECR_TYPES for r in mocks.of_type(typ))


def test_an_owner_in_the_registry_account_and_region_uses_the_stacks_default_provider(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, OWNER, stack_account_id="999999999999", stack_region="eu-west-1")
    assert mocks.of_type(AWS_PROVIDER) == []
    # The mocks leave the reference empty for the default provider; the engine names it "default_<version>".
    assert all(r.provider == "" or "::pulumi:providers:aws::default" in r.provider
               for typ in ECR_TYPES for r in mocks.of_type(typ))


def test_a_stack_that_does_not_own_the_registry_needs_no_provider_even_with_a_role(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(REMOTE_OWNER, owner=False),
                      stack_account_id="333333333333", stack_region="eu-west-1")
    assert [r.typ for r in mocks.registrations if r.custom] == []


def test_pull_is_granted_to_the_given_principals_with_read_actions_only(pulumi_mocks) -> None:
    node_role = "arn:aws:iam::111111111111:role/shop-dev-node"
    mocks, _ = _build(pulumi_mocks, OWNER, pull_principals=[node_role])
    statement = json.loads(mocks.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")[0].inputs["policy"])["Statement"][0]
    assert node_role in statement["Principal"]["AWS"]
    assert set(statement["Action"]) == set(PULL_ACTIONS)
    assert not any(a.startswith(("ecr:Put", "ecr:Delete", "ecr:Upload")) or a.endswith("*") for a in statement["Action"])


def test_a_stack_that_does_not_own_the_registry_creates_nothing_but_knows_the_urls(pulumi_mocks) -> None:
    mocks, registry = _build(pulumi_mocks, dataclasses.replace(OWNER, owner=False))
    assert [r.typ for r in mocks.registrations if r.custom] == []
    assert registry.repository_urls["payments"] == "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments"


def test_the_component_registers_under_its_gitops_platform_type(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, OWNER)
    component = [r for r in mocks.registrations if r.typ == "gitops-platform:registry:Registry"]
    assert len(component) == 1 and component[0].custom is False
