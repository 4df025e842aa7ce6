"""Per-environment image update policy: which environment gets an ImageUpdater, what it may deploy, and who owns
which file.

Dev follows new images by itself (an ImageUpdater committing to the tracked branch, automated sync). Staging and
prod are promoted from the environment before them (``promotion.from``): they get no ImageUpdater at all, so they
run only what ``promote`` pins, which only ever is what ran before them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from conftest import REPO_ROOT, CliResult
from gitops.k8sschema import Schemas
from gitops.model import UpdateMode
from gitops.project import load_project
from gitops.render import render_stack
from gitops.render.imageupdater import default_constraint, image_updater, pinned_constraint

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
NS = "gitops-platform"
REGISTRY = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop"


@pytest.fixture(scope="module")
def example() -> Any:
    return load_project(REPO_ROOT)


def _updater(example: Any, env: str) -> dict[str, Any]:
    stack = next(s for s in example.stacks if s.environment == env)
    doc = image_updater(example.catalog, stack)
    assert doc is not None
    return doc


def _application_template(example: Any, env: str) -> dict[str, Any]:
    stack = next(s for s in example.stacks if s.environment == env)
    files = {m.path: m.content for m in render_stack(example, stack).files}
    return yaml.safe_load(files[f"argocd/{env}/applicationset-checkout.yaml"])["spec"]["template"]


def _with_updates(example: Any, env: str, **changes: Any) -> Any:
    stack = example.stack(env)
    return dataclasses.replace(stack, image_updates=dataclasses.replace(stack.image_updates, **changes))


def set_image_updates(project: Path, stack: str, updates: dict[str, Any]) -> None:
    """Replace ``gitops-platform:imageUpdates`` of a stack file."""
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][f"{NS}:imageUpdates"] = updates
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def render_error(run: Any, project: Path, tmp_path: Path) -> CliResult:
    result = run("render", "--all", "--project", project, "--out", tmp_path / "tree")
    assert (result.code, result.out) == (2, ""), result.out + result.err
    assert result.err.count("\n") == 1, result.err   # one Error line
    return result


# --- who gets an updater -------------------------------------------------------------------------------
def test_dev_writes_updates_to_the_tracked_branch_and_its_applications_sync_themselves(example) -> None:
    write_back = _updater(example, "dev")["spec"]["writeBackConfig"]
    assert write_back == {"method": "git", "gitConfig": {"branch": "main"}}
    assert "automated" in _application_template(example, "dev")["spec"]["syncPolicy"]


@pytest.mark.parametrize("env, source", [("staging", "dev"), ("prod", "staging")])
def test_a_promoted_environment_gets_no_image_updater_so_only_promote_moves_its_tags(example, env, source) -> None:
    stack = example.stack(env)
    assert (stack.promote_from, stack.image_updates.mode) == (source, UpdateMode.OFF)
    files = {m.path: m.content for m in render_stack(example, stack).files}
    assert f"argocd/{env}/image-updater.yaml" not in files
    assert "image-updater.yaml" not in yaml.safe_load(files[f"argocd/{env}/kustomization.yaml"])["resources"]
    assert "automated" not in _application_template(example, env)["spec"]["syncPolicy"]


def test_a_promoted_stack_is_off_without_saying_so(project: Path) -> None:
    set_image_updates(project, "staging", {})   # no mode: the default follows promotion.from
    assert load_project(project).stack("staging").image_updates.mode is UpdateMode.OFF


@pytest.mark.parametrize("mode", ["git", "pull-request"])
def test_an_update_mode_on_a_promoted_stack_is_refused_naming_the_key(run, project: Path, tmp_path: Path,
                                                                      mode: str) -> None:
    set_image_updates(project, "prod", {"mode": mode})
    result = render_error(run, project, tmp_path)
    assert result.err.startswith(f"Error: Pulumi.prod.yaml: config.{NS}:imageUpdates.mode: is '{mode}', but this "
                                 f"environment is promoted from staging (config.{NS}:promotion.from)")
    assert "Set mode: off (or remove imageUpdates.mode)" in result.err


# --- what the updater may deploy ----------------------------------------------------------------------
def test_each_service_is_selected_by_its_own_application_with_its_registry_path_and_constraint(example) -> None:
    refs = {r["namePattern"]: r for r in _updater(example, "dev")["spec"]["applicationRefs"]}
    assert sorted(refs) == sorted(f"{s.name}-dev" for s in example.catalog.services)
    image = refs["payments-dev"]["images"][0]
    assert image["imageName"] == f"{REGISTRY}/payments:^1.4.2"
    assert image["manifestTargets"] == {"kustomize": {"name": "payments"}}
    assert image["commonUpdateSettings"]["updateStrategy"] == "semver"


def test_a_service_below_1_0_follows_patches_of_its_minor_only(example) -> None:
    """recommendations is 0.9.4: in 0.x a minor release may break, so ~0.9.4 (>=0.9.4 <0.10.0), never 0.10."""
    refs = {r["namePattern"]: r for r in _updater(example, "dev")["spec"]["applicationRefs"]}
    assert refs["recommendations-dev"]["images"][0]["imageName"] == f"{REGISTRY}/recommendations:~0.9.4"


@pytest.mark.parametrize("tag,constraint", [
    ("1.4.2", "^1.4.2"),     # >=1.4.2 <2.0.0: newer minors and patches of major 1
    ("v2.0.1", "^2.0.1"),
    ("0.9.4", "~0.9.4"),     # >=0.9.4 <0.10.0: Masterminds reads ^0.9.4 the same, ~ says it for every 0.x
    ("0.0.3", "~0.0.3"),     # >=0.0.3 <0.1.0: ^0.0.3 would be >=0.0.3 <0.0.4, never moving
    ("2024-06-01", None), ("1.4", None), ("1.4.2-rc.1", None),
])
def test_the_default_constraint_never_downgrades_and_never_takes_a_breaking_release(tag: str, constraint: Any) -> None:
    assert default_constraint(tag) == constraint


def test_a_configured_constraint_and_tag_pattern_win_over_the_defaults(example) -> None:
    stack = _with_updates(example, "dev", constraints=(("payments", "~1.4"),), allow_tags="regexp:^1\\.")
    doc = image_updater(example.catalog, stack)
    assert doc is not None
    image = next(r for r in doc["spec"]["applicationRefs"] if r["namePattern"] == "payments-dev")["images"][0]
    assert image["imageName"].endswith("/shop/payments:~1.4")
    assert image["commonUpdateSettings"]["allowTags"] == "regexp:^1\\."


def test_a_pinned_service_is_held_at_exactly_its_tag_so_a_rollback_beats_the_updaters_own_file(example) -> None:
    """A pin (what ``promote --tag`` writes) wins over a configured constraint; a bare version is an exact match,
    and the updater writes whatever differs from what runs, an older tag too."""
    stack = dataclasses.replace(_with_updates(example, "dev", constraints=(("payments", "~1.4"),)),
                                image_tags=(("payments", "1.4.0"),))
    doc = image_updater(example.catalog, stack)
    assert doc is not None
    image = next(r for r in doc["spec"]["applicationRefs"] if r["namePattern"] == "payments-dev")["images"][0]
    assert image["imageName"] == f"{REGISTRY}/payments:1.4.0"
    assert image["commonUpdateSettings"]["allowTags"] == "regexp:^1\\.4\\.0$"


@pytest.mark.parametrize("tag,constraint", [("1.4.0", "1.4.0"), ("v2.0.1", "v2.0.1"), ("2024-06-01", None)])
def test_a_pinned_constraint_is_the_version_itself_never_with_an_equals_sign(tag: str, constraint: Any) -> None:
    """The updater reads ``alias=image`` at the first ``=``: ``payments:=1.4.0`` would not be an image."""
    assert pinned_constraint(tag) == constraint


def test_a_pin_that_is_not_semver_leaves_the_service_out(example) -> None:
    stack = dataclasses.replace(example.stack("dev"), image_tags=(("payments", "2024-06-01"),))
    doc = image_updater(example.catalog, stack)
    assert doc is not None
    assert "payments-dev" not in [r["namePattern"] for r in doc["spec"]["applicationRefs"]]


# --- where updates are written ------------------------------------------------------------------------
def test_the_image_updater_lives_in_argo_cds_namespace_without_the_removed_spec_namespace(example) -> None:
    doc = _updater(example, "dev")
    assert doc["metadata"]["namespace"] == "argocd"
    assert "namespace" not in doc["spec"]


def test_a_credentials_secret_is_used_for_write_back(example) -> None:
    doc = image_updater(example.catalog, _with_updates(example, "dev", credentials_secret="image-updater-git"))
    assert doc is not None and doc["spec"]["writeBackConfig"]["method"] == "git:secret:image-updater-git"


def test_pull_request_mode_names_the_base_branch_and_the_provider(example) -> None:
    """Upstream names the head branch itself; a base:target branch is a validation error with pullRequest."""
    doc = image_updater(example.catalog, _with_updates(example, "dev", mode=UpdateMode.PULL_REQUEST,
                                                       pull_request_provider="gitlab"))
    assert doc is not None
    assert doc["spec"]["writeBackConfig"]["gitConfig"] == {"branch": "main", "pullRequest": {"gitlab": {}}}


def test_a_write_branch_puts_every_update_of_the_environment_on_one_branch(run, project: Path, tmp_path: Path) -> None:
    set_image_updates(project, "dev", {"writeBranch": "image-updater-dev"})
    out = tmp_path / "tree"
    assert run("render", "--stack", "dev", "--project", project, "--out", out).code == 0
    doc = yaml.safe_load((out / "argocd/dev/image-updater.yaml").read_text())
    assert doc["spec"]["writeBackConfig"] == {"method": "git", "gitConfig": {"branch": "main:image-updater-dev"}}


@pytest.mark.parametrize("updates, key, message", [
    ({"mode": "pull-request", "writeBranch": "image-updater-dev"}, "writeBranch",
     "applies to mode git only (this stack's mode is 'pull-request')"),
    ({"writeBranch": "main"}, "writeBranch", "is the tracked branch"),
    ({"writeBranch": "main:image-updater"}, "writeBranch", "is not valid: a fixed branch name"),
    ({"writeBranch": "image-updater-{{.SHA256}}"}, "writeBranch", "is not valid: a fixed branch name"),
])
def test_a_write_branch_that_would_not_do_what_it_says_is_refused(run, project: Path, tmp_path: Path,
                                                                  updates, key, message) -> None:
    set_image_updates(project, "dev", updates)
    result = render_error(run, project, tmp_path)
    assert result.err.startswith(f"Error: Pulumi.dev.yaml: config.{NS}:imageUpdates.{key}: ")
    assert message in result.err


def test_mode_off_emits_no_image_updater(example) -> None:
    off = _with_updates(example, "dev", mode=UpdateMode.OFF)
    files = {m.path: m.content for m in render_stack(example, off).files}
    assert "argocd/dev/image-updater.yaml" not in files
    assert "image-updater.yaml" not in yaml.safe_load(files["argocd/dev/kustomization.yaml"])["resources"]


# --- pull requests need HTTPS credentials -------------------------------------------------------------
def test_pull_request_mode_with_an_ssh_repository_url_is_refused(run, project: Path, tmp_path: Path) -> None:
    """Upstream opens pull requests with the API token of its Git credentials; an SSH key has none."""
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("repoURL: https://github.com/example-shop/gitops.git",
                                             "repoURL: git@github.com:example-shop/gitops.git"))
    for stack in ("staging", "prod"):   # one repository for the whole project
        other = project / f"Pulumi.{stack}.yaml"
        other.write_text(other.read_text().replace("https://github.com/example-shop/gitops.git",
                                                   "git@github.com:example-shop/gitops.git"))
    set_image_updates(project, "dev", {"mode": "pull-request"})
    result = render_error(run, project, tmp_path)
    assert result.err.startswith(f"Error: Pulumi.dev.yaml: config.{NS}:imageUpdates.mode: pull-request needs HTTPS "
                                 f"Git credentials, but {NS}:gitops.repoURL git@github.com:example-shop/gitops.git "
                                 "is an SSH URL")


def test_pull_request_mode_with_argo_cds_ssh_key_is_refused_unless_a_credentials_secret_is_given(
        run, project: Path, tmp_path: Path) -> None:
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + f"  {NS}:gitopsCredentials:\n    sshPrivateKey:\n      secure: v1:AAAA\n")
    set_image_updates(project, "dev", {"mode": "pull-request"})
    result = render_error(run, project, tmp_path)
    assert result.err.startswith(f"Error: Pulumi.dev.yaml: config.{NS}:imageUpdates.mode: pull-request needs HTTPS "
                                 f"Git credentials, but the Image Updater would use Argo CD's, and {NS}:gitopsCredentials "
                                 "holds an sshPrivateKey")
    set_image_updates(project, "dev", {"mode": "pull-request", "credentialsSecret": "image-updater-token"})
    assert load_project(project).stack("dev").image_updates.mode is UpdateMode.PULL_REQUEST


def test_pulumi_up_refuses_pull_request_mode_with_an_ssh_key_the_engine_keeps_secret(example) -> None:
    """The engine never shows the loader a secret config value, so the program checks its key names itself."""
    from components.config import check_pull_request_credentials

    stack = _with_updates(example, "dev", mode=UpdateMode.PULL_REQUEST)
    with pytest.raises(pulumi.RunError, match=r"Pulumi.dev.yaml: config.gitops-platform:imageUpdates.mode: .*"
                                              "holds an sshPrivateKey"):
        check_pull_request_credentials(stack, {"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----"})
    check_pull_request_credentials(stack, {"username": "bot", "password": "token"})
    check_pull_request_credentials(_with_updates(example, "dev", mode=UpdateMode.GIT), {"sshPrivateKey": "key"})


# --- the schema and the files ---------------------------------------------------------------------------
@pytest.mark.skipif(not SCHEMAS.is_dir(), reason="CRD schemas live beside the project (../shared/schemas)")
@pytest.mark.parametrize("changes", [{}, {"mode": UpdateMode.PULL_REQUEST}, {"write_branch": "image-updater-dev"}])
def test_every_rendered_image_updater_is_valid_against_the_image_updater_crd(example, changes) -> None:
    schemas = Schemas("1.33.0", SCHEMAS)
    doc = image_updater(example.catalog, _with_updates(example, "dev", **changes))
    assert doc is not None and list(schemas.errors(doc)) == []


def test_the_renderer_never_writes_the_file_the_updater_writes(run, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "tree"
    assert run("render", "--all", "--project", project, "--out", out).code == 0
    updater_file = out / "apps/payments/overlays/dev/.argocd-source-payments-dev.yaml"
    updater_file.write_text("kustomize:\n  images:\n  - payments=999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments:1.4.9\n")
    edited = project / "services" / "payments.yaml"
    edited.write_text(edited.read_text().replace('tag: "1.4.2"', 'tag: "1.4.3"'))
    result = run("render", "--all", "--project", project, "--out", out)
    assert result.code == 0, result.err
    assert updater_file.read_text().endswith(":1.4.9\n")
