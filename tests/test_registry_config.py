"""The registry settings the core checks before anything runs, and the tags the lifecycle policy keeps.

``registry.roleArn`` (an owner in another account creates the repositories as
that role), ``registry.expireTagPatterns`` (only non-release tags may expire by
count) and ``gitops.lifecycle``: which tags every stack pins, and whether an ECR
wildcard pattern can match a tag the Image Updater accepts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.configschema import DEFAULT_ALLOW_TAGS
from gitops.errors import InputError
from gitops.lifecycle import MAX_POLICY_CHARS, lifecycle_policy, lifecycle_problems, may_match_release, pinned_tags
from gitops.model import UpdateMode
from gitops.project import load_project

NS = "gitops-platform"
DEV = "Pulumi.dev.yaml"
ROLE_KEY = f"config.{NS}:registry.roleArn"


def edit_config(project: Path, stack: str, key: str, change: dict[str, Any]) -> None:
    """Merge ``change`` into ``<namespace>:<key>`` of the stack file (a value of None removes that field)."""
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    section = doc["config"].setdefault(f"{NS}:{key}", {})
    for field, value in change.items():
        if value is None:
            section.pop(field, None)
        else:
            section[field] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def load_error(project: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_project(project)
    return str(caught.value)


# --- registry.roleArn ---------------------------------------------------------------------------------


def test_an_owner_whose_registry_is_in_another_account_without_a_role_is_refused(project: Path) -> None:
    edit_config(project, "dev", "registry", {"roleArn": None})
    message = load_error(project)
    assert f"{DEV}: {ROLE_KEY}: is required" in message
    assert "account 999999999999" in message and "account 111111111111" in message
    assert "arn:aws:iam::999999999999:role/<name>" in message   # what would be valid


def test_a_role_in_another_account_than_the_registry_is_refused(project: Path) -> None:
    edit_config(project, "dev", "registry", {"roleArn": "arn:aws:iam::111111111111:role/gitops-platform-registry"})
    message = load_error(project)
    assert f"{DEV}: {ROLE_KEY}: 'arn:aws:iam::111111111111:role/gitops-platform-registry' is a role in account " \
           "111111111111, but registry.accountId is 999999999999" in message
    assert "arn:aws:iam::999999999999:role/<name>" in message


def test_a_role_arn_that_is_not_an_iam_role_is_refused(project: Path) -> None:
    edit_config(project, "dev", "registry", {"roleArn": "gitops-platform-registry"})
    message = load_error(project)
    assert f"{DEV}: {ROLE_KEY}: 'gitops-platform-registry' is not valid" in message
    assert "arn:aws:iam::999999999999:role/<name>" in message


def test_the_owner_keeps_the_configured_role(project: Path) -> None:
    registry = load_project(project).stack("dev").registry
    assert registry.owner and registry.role_arn == "arn:aws:iam::999999999999:role/gitops-platform-registry"


def test_a_stack_that_does_not_own_the_registry_never_needs_the_role(project: Path) -> None:
    stacks = {s.name: s for s in load_project(project).stacks}
    for name in ("staging", "prod"):
        assert stacks[name].account_id != stacks[name].registry.account_id
        assert not stacks[name].registry.owner and stacks[name].registry.role_arn is None


def test_an_owner_in_its_registrys_account_needs_no_role(project: Path) -> None:
    edit_config(project, "dev", "registry", {"accountId": "111111111111", "roleArn": None})
    registry = load_project(project).stack("dev").registry
    assert registry.owner and registry.role_arn is None


def test_a_cluster_copied_from_the_owner_takes_none_of_the_owners_registry_settings(run, project: Path) -> None:
    edit_config(project, "dev", "registry", {"forceDelete": True, "expireTagPatterns": ["pr-*"]})
    result = run("new-cluster", "dev-b", "--env", "dev", "--region", "eu-central-1", "--project", project)
    assert result.code == 0, result.err
    registry = yaml.safe_load((project / "Pulumi.dev-b.yaml").read_text())["config"][f"{NS}:registry"]
    assert registry["owner"] is False
    assert not {"roleArn", "forceDelete", "expireTagPatterns", "kmsKeyArn"} & set(registry)


# --- registry.forceDelete -----------------------------------------------------------------------------


def test_force_delete_is_off_unless_the_owner_sets_it(project: Path) -> None:
    assert load_project(project).stack("dev").registry.force_delete is False
    edit_config(project, "dev", "registry", {"forceDelete": True})
    assert load_project(project).stack("dev").registry.force_delete is True


def test_force_delete_must_be_a_boolean(project: Path) -> None:
    edit_config(project, "dev", "registry", {"forceDelete": "yes"})
    assert f"{DEV}: config.{NS}:registry.forceDelete: expected true or false" in load_error(project)


# --- registry.expireTagPatterns -----------------------------------------------------------------------


def test_no_tag_pattern_expires_unless_the_owner_names_one(project: Path) -> None:
    assert load_project(project).stack("dev").registry.expire_tag_patterns == ()


def test_a_pattern_of_non_release_tags_is_accepted(project: Path) -> None:
    edit_config(project, "dev", "registry", {"expireTagPatterns": ["pr-*", "sha-*"]})
    assert load_project(project).stack("dev").registry.expire_tag_patterns == ("pr-*", "sha-*")


@pytest.mark.parametrize("pattern,why", [
    ("*", "matches every tag, releases included"),
    ("**", "matches every tag, releases included"),
    ("a*b*c*d*e*f", "has 5 wildcards; ECR allows at most 4"),
    ("pr/*", "is not an ECR tag pattern"),
])
def test_a_pattern_ecr_refuses_or_that_matches_everything_is_refused(project: Path, pattern: str, why: str) -> None:
    edit_config(project, "dev", "registry", {"expireTagPatterns": [pattern]})
    assert f"{DEV}: config.{NS}:registry.expireTagPatterns[0]: {pattern!r} {why}" in load_error(project)


def test_a_pattern_listed_twice_is_refused(project: Path) -> None:
    edit_config(project, "dev", "registry", {"expireTagPatterns": ["pr-*", "pr-*"]})
    assert f"{DEV}: config.{NS}:registry.expireTagPatterns[1]: 'pr-*' is listed twice" in load_error(project)


def test_a_pattern_that_can_match_a_release_the_image_updater_deploys_is_refused(project: Path) -> None:
    edit_config(project, "dev", "registry", {"expireTagPatterns": ["pr-*", "v*"]})
    message = load_error(project)
    assert f"{DEV}: config.{NS}:registry.expireTagPatterns[1]: 'v*' can match a release tag" in message
    assert DEFAULT_ALLOW_TAGS in message and "'pr-*' or 'sha-*'" in message
    assert "expireTagPatterns[0]" not in message


def test_a_stack_that_takes_any_tag_as_a_release_blocks_every_expire_pattern(project: Path) -> None:
    edit_config(project, "dev", "imageUpdates", {"allowTags": "any"})
    edit_config(project, "dev", "registry", {"expireTagPatterns": ["pr-*"]})
    message = load_error(project)
    assert f"{DEV}: config.{NS}:registry.expireTagPatterns[0]: 'pr-*' can match a release tag the Image Updater " \
           "of Pulumi.dev.yaml deploys (imageUpdates.allowTags any)" in message


def test_a_stack_without_image_updates_does_not_block_an_expire_pattern(project: Path) -> None:
    # prod is promoted from staging: no Image Updater, whatever tags its allowTags would accept.
    edit_config(project, "prod", "imageUpdates", {"allowTags": "any"})
    edit_config(project, "dev", "imageUpdates", {"allowTags": "any", "mode": UpdateMode.OFF.value})
    edit_config(project, "dev", "registry", {"expireTagPatterns": ["pr-*"]})
    assert load_project(project).stack("dev").registry.expire_tag_patterns == ("pr-*",)


# --- gitops.lifecycle ---------------------------------------------------------------------------------


def test_pinned_tags_are_the_catalogs_tag_and_every_stacks_pin_per_repository(project: Path) -> None:
    edit_config(project, "prod", "imageTags", {"payments": "1.3.9"})
    edit_config(project, "staging", "imageTags", {"payments": "1.4.1", "cart": "4.0.2"})
    loaded = load_project(project)
    pins = pinned_tags(loaded.catalog, loaded.stacks, loaded.stack("dev").registry)
    assert pins["payments"] == ("1.3.9", "1.4.1", "1.4.2")
    assert pins["cart"] == ("4.0.2", "4.1.0")
    assert set(pins) == {s.image_repository for s in loaded.catalog.services}


def test_pins_of_a_stack_that_pulls_from_another_registry_are_not_this_registrys(project: Path) -> None:
    edit_config(project, "prod", "imageTags", {"payments": "1.3.9"})
    edit_config(project, "prod", "registry", {"prefix": "shop-prod", "owner": True,
                                              "roleArn": "arn:aws:iam::999999999999:role/registry"})
    loaded = load_project(project)
    assert pinned_tags(loaded.catalog, loaded.stacks, loaded.stack("dev").registry)["payments"] == ("1.4.2",)
    assert pinned_tags(loaded.catalog, loaded.stacks, loaded.stack("prod").registry)["payments"] == ("1.3.9", "1.4.2")


def test_a_lifecycle_policy_above_ecrs_size_limit_is_refused(project: Path) -> None:
    loaded = load_project(project)
    staging = loaded.stack("staging")
    # Hundreds of stacks each pinning another payments release: more keep rules than ECR stores.
    many = [dataclasses.replace(staging, name=f"s{i}", file=f"Pulumi.s{i}.yaml", environment=f"s{i}",
                                image_tags=(("payments", f"1.0.{i}"),)) for i in range(400)]
    problems = lifecycle_problems(loaded.catalog, [*loaded.stacks, *many])
    assert [(p.file, p.key) for p in problems] == [(DEV, f"config.{NS}:registry")]
    assert "repository 'payments'" in problems[0].message and f"above ECR's {MAX_POLICY_CHARS}" in problems[0].message


def test_a_pattern_equal_to_a_pinned_tag_only_keeps_it(project: Path) -> None:
    rules = json.loads(lifecycle_policy(("nightly",), ("nightly", "pr-*"), 5))["rules"]
    assert [r["selection"].get("tagPatternList") for r in rules] == [["nightly"], None, ["pr-*"]]


@pytest.mark.parametrize("pattern,allow,overlap", [
    ("pr-*", DEFAULT_ALLOW_TAGS, False),
    ("sha-*", DEFAULT_ALLOW_TAGS, False),
    ("*-rc*", DEFAULT_ALLOW_TAGS, False),      # anchored: a suffix makes it no release
    ("*", DEFAULT_ALLOW_TAGS, True),
    ("v*", DEFAULT_ALLOW_TAGS, True),
    ("1.*", DEFAULT_ALLOW_TAGS, True),
    ("*.*.*", DEFAULT_ALLOW_TAGS, True),
    ("pr-*", "any", True),
    ("pr-*", "regexp:[0-9]+", True),           # unanchored: any tag containing a digit is a release
    ("pr-*", "regexp:^[0-9]+", False),
    ("PR-*", "regexp:(?i)^pr-", True),
    ("x*", "regexp:^(a|x)b$", True),
    ("x*", "regexp:^(a|y)b$", False),
    ("ab", "regexp:^a{2,3}b$", False),
    ("aab", "regexp:^a{2,3}b$", True),
    ("a", "regexp:[^a]", False),
    ("b*", "regexp:(?<=x)b", True),             # look-behind is not modelled: assumed to overlap
])
def test_an_expire_pattern_overlaps_allow_tags_exactly_when_a_tag_matches_both(pattern: str, allow: str,
                                                                               overlap: bool) -> None:
    assert may_match_release(pattern, allow) is overlap
