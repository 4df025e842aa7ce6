"""The Registry component: repositories only in the owner stack, URLs everywhere."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pytest

from components.registry import PULL_ACTIONS, Registry, RegistryArgs
from gitops.model import RegistryConfig

OWNER = RegistryConfig(account_id="999999999999", region="eu-west-1", prefix="shop", owner=True,
                       keep_release_images=30, immutable_tags=True)
REPOS = ("cart", "payments")


def _build(start, config: RegistryConfig, **extra):  # type: ignore[no-untyped-def]
    mocks = start()
    holder = {}

    @pulumi.runtime.test
    def program():  # type: ignore[no-untyped-def]
        holder["registry"] = Registry("ecr", RegistryArgs(config, REPOS, **extra))

    program()
    return mocks, holder["registry"]


def test_the_owner_stack_creates_one_repository_per_service_with_lifecycle_and_pull_policy(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    mocks, _ = _build(pulumi_mocks, OWNER)
    assert sorted(r.inputs["name"] for r in mocks.of_type("aws:ecr/repository:Repository")) == ["shop/cart", "shop/payments"]
    assert len(mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 2
    assert len(mocks.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")) == 2


def test_repositories_scan_on_push_and_are_encrypted(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    mocks, _ = _build(pulumi_mocks, OWNER)
    for repo in mocks.of_type("aws:ecr/repository:Repository"):
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
        assert repo.inputs["forceDelete"] is False


def test_a_kms_key_switches_encryption_to_kms(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    key = "arn:aws:kms:eu-west-1:999999999999:key/abc"
    mocks, _ = _build(pulumi_mocks, OWNER, kms_key_arn=key)
    repo = mocks.of_type("aws:ecr/repository:Repository")[0]
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]


@pytest.mark.parametrize("immutable,expected", [(True, "IMMUTABLE"), (False, "MUTABLE")])
def test_tag_mutability_follows_the_stack_config(pulumi_mocks, immutable: bool, expected: str) -> None:  # type: ignore[no-untyped-def]
    mocks, _ = _build(pulumi_mocks, dataclasses.replace(OWNER, immutable_tags=immutable))
    assert {r.inputs["imageTagMutability"] for r in mocks.of_type("aws:ecr/repository:Repository")} == {expected}


def test_the_lifecycle_policy_keeps_the_configured_number_of_releases(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    mocks, _ = _build(pulumi_mocks, OWNER)
    rules = json.loads(mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")[0].inputs["policy"])["rules"]
    tagged = next(r for r in rules if r["selection"]["tagStatus"] == "tagged")
    assert tagged["selection"]["countNumber"] == 30
    assert any(r["selection"]["tagStatus"] == "untagged" for r in rules)


def test_pull_is_granted_to_the_given_principals_with_read_actions_only(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    node_role = "arn:aws:iam::111111111111:role/shop-dev-node"
    mocks, _ = _build(pulumi_mocks, OWNER, pull_principals=[node_role])
    statement = json.loads(mocks.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")[0].inputs["policy"])["Statement"][0]
    assert node_role in statement["Principal"]["AWS"]
    assert set(statement["Action"]) == set(PULL_ACTIONS)
    assert not any(a.startswith(("ecr:Put", "ecr:Delete", "ecr:Upload")) or a.endswith("*") for a in statement["Action"])


def test_a_stack_that_does_not_own_the_registry_creates_nothing_but_knows_the_urls(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    mocks, registry = _build(pulumi_mocks, dataclasses.replace(OWNER, owner=False))
    assert [r.typ for r in mocks.registrations if r.custom] == []
    assert registry.repository_urls["payments"] == "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments"


def test_the_component_registers_under_its_gitops_platform_type(pulumi_mocks) -> None:  # type: ignore[no-untyped-def]
    mocks, _ = _build(pulumi_mocks, OWNER)
    component = [r for r in mocks.registrations if r.typ == "gitops-platform:registry:Registry"]
    assert len(component) == 1 and component[0].custom is False
