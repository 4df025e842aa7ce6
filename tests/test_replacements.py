"""Replacements under create-before-delete: the harness's emulation, and the whole program under it.

Pulumi creates a replacement before it deletes the original, so a resource
whose physical name comes from a fixed input cannot be replaced: the create
meets the original. ``pulumi_harness.replacements`` and ``name_collisions``
compare two mock runs with the upstream ForceNew table (see FORCE_NEW there).

What the table says about the program's fixed names: the IAM roles
(``<cluster>-cluster``, ``<cluster>-node``, the Image Updater's), the KMS alias
and the log group are ForceNew only on their name, so the only change that
replaces them also renames them; the access entries and policy associations
are identified by cluster and principal, which only a new role or a new cluster
changes; the cluster itself is identified by its name, so a change that would
replace it (role, network family, service CIDR) fails rather than quietly
rebuilding the control plane.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from conftest import REPO_ROOT
from pulumi_harness import (  # noqa: F401  (program: the fixture)
    FORCE_NEW,
    Links,
    RecordingMocks,
    Registration,
    changed_resources,
    name_collisions,
    program,
    replacements,
)

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
CLUSTER_KEY = "gitops-platform:cluster"


def _run_of(*registrations: tuple[str, str, dict[str, Any]], ignore: tuple[str, ...] = ()) -> RecordingMocks:
    """A recorded run made of the given (type, name, inputs), each with ``ignore`` as its ignore_changes."""
    mocks = RecordingMocks()
    for typ, name, inputs in registrations:
        mocks.registrations.append(Registration(typ, name, inputs, True))
        mocks.links[(typ, name)] = Links(f"urn:{typ}::{name}", "", frozenset(), ignore)
    return mocks


def _node_group(**inputs: Any) -> tuple[str, str, dict[str, Any]]:
    return NODE_GROUP, "nodes", {"clusterName": "shop", "instanceTypes": ["m6i.large"], **inputs}


def _cluster_config(stack: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"][CLUSTER_KEY])


# The emulation -----------------------------------------------------------------------------------------


def test_a_fixed_name_collides_when_a_force_new_input_changes() -> None:
    before = _run_of(_node_group(nodeGroupName="shop-default"))
    after = _run_of(_node_group(nodeGroupName="shop-default", instanceTypes=["m7i.large"]))
    [replaced] = replacements(before, after)
    assert replaced.because == ("instanceTypes",)
    assert replaced.old_identity == replaced.new_identity == ("shop", "shop-default")
    [problem] = name_collisions(before, after)
    assert problem.startswith(f"{NODE_GROUP} nodes: replaced (changed: instanceTypes), but nodes still holds")


def test_a_prefixed_name_is_fresh_for_every_replacement() -> None:
    before = _run_of(_node_group(nodeGroupNamePrefix="default-"))
    after = _run_of(_node_group(nodeGroupNamePrefix="default-", instanceTypes=["m7i.large"]))
    assert [r.new_identity for r in replacements(before, after)] == [None]
    assert name_collisions(before, after) == []


def test_an_input_outside_the_force_new_table_updates_in_place() -> None:
    before = _run_of(_node_group(nodeGroupName="shop-default", scalingConfig={"minSize": 2}))
    after = _run_of(_node_group(nodeGroupName="shop-default", scalingConfig={"minSize": 3}))
    assert changed_resources(before, after) == [(NODE_GROUP, "nodes")]
    assert replacements(before, after) == []


def test_an_ignored_force_new_input_replaces_nothing() -> None:
    before = _run_of(_node_group(nodeGroupName="shop-default"), ignore=("instanceTypes",))
    after = _run_of(_node_group(nodeGroupName="shop-default", instanceTypes=["m7i.large"]), ignore=("instanceTypes",))
    assert changed_resources(before, after) == []
    assert replacements(before, after) == []


def test_a_new_resource_collides_with_a_removed_one_of_the_same_physical_name() -> None:
    """A renamed logical resource is created before the old one is deleted (deletes run last)."""
    entry = {"clusterName": "shop", "principalArn": "arn:aws:iam::123456789012:role/deploy"}
    before = _run_of(("aws:eks/accessEntry:AccessEntry", "admin-deploy", entry))
    after = _run_of(("aws:eks/accessEntry:AccessEntry", "deploy", entry))
    [problem] = name_collisions(before, after)
    assert problem.startswith("aws:eks/accessEntry:AccessEntry deploy: created, but admin-deploy still holds")


def test_the_table_covers_every_type_of_the_cluster_whose_name_is_fixed() -> None:
    assert {"aws:eks/nodeGroup:NodeGroup", "aws:eks/cluster:Cluster", "aws:eks/accessEntry:AccessEntry",
            "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/addon:Addon", "aws:iam/role:Role",
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:cloudwatch/logGroup:LogGroup",
            "aws:kms/alias:Alias"} <= set(FORCE_NEW)


# The whole program ---------------------------------------------------------------------------------------


def test_a_node_group_change_replaces_only_the_node_group_and_collides_with_nothing(program) -> None:
    before, _ = program("prod")
    cluster = _cluster_config("prod")
    cluster["nodeGroup"] = {**cluster["nodeGroup"], "instanceTypes": ["m7i.xlarge"], "diskSizeGiB": 200}
    after, _ = program("prod", extra={CLUSTER_KEY: json.dumps(cluster)})
    assert changed_resources(before, after) == [(NODE_GROUP, "eks-default")]
    assert [(r.name, r.because) for r in replacements(before, after)] == [("eks-default", ("diskSize", "instanceTypes"))]
    assert name_collisions(before, after) == []


def test_handing_previews_to_another_role_collides_with_nothing(program) -> None:
    before, _ = program("dev")
    cluster = _cluster_config("dev")
    cluster["previewRoleArn"] = "arn:aws:iam::111111111111:role/ci/read-only"
    after, _ = program("dev", extra={CLUSTER_KEY: json.dumps(cluster)})
    assert name_collisions(before, after) == []
    assert changed_resources(before, after) == []   # a new entry and association, nothing updated


def test_a_new_registry_key_replaces_no_repository(program) -> None:
    """ECR cannot re-encrypt a repository: the key applies to repositories created from then on."""
    before, _ = program("dev")
    registry = dict(yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]["gitops-platform:registry"])
    registry["kmsKeyArn"] = "arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    after, _ = program("dev", extra={"gitops-platform:registry": json.dumps(registry)})
    assert [r.name for r in replacements(before, after)] == []
    assert name_collisions(before, after) == []
