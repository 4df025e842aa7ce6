"""Per-environment image update policy: the ImageUpdater each environment gets, and who owns which file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.k8sschema import Schemas
from gitops.model import UpdateMode
from gitops.project import load_project
from gitops.render import render_stack
from gitops.render.imageupdater import default_constraint, image_updater

from conftest import REPO_ROOT

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"


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


def test_dev_writes_updates_to_the_tracked_branch_and_its_applications_sync_themselves(example) -> None:  # type: ignore[no-untyped-def]
    write_back = _updater(example, "dev")["spec"]["writeBackConfig"]
    assert write_back == {"method": "git", "gitConfig": {"branch": "main"}}
    assert "automated" in _application_template(example, "dev")["spec"]["syncPolicy"]


def test_staging_writes_updates_to_git_but_its_applications_wait_for_a_manual_sync(example) -> None:  # type: ignore[no-untyped-def]
    write_back = _updater(example, "staging")["spec"]["writeBackConfig"]
    assert write_back == {"method": "git", "gitConfig": {"branch": "main"}}
    assert "automated" not in _application_template(example, "staging")["spec"]["syncPolicy"]


def test_prod_updates_arrive_only_as_pull_requests(example) -> None:  # type: ignore[no-untyped-def]
    git_config = _updater(example, "prod")["spec"]["writeBackConfig"]["gitConfig"]
    assert git_config["pullRequest"] == {"github": {}}
    assert git_config["branch"] == "main"   # the pull request's base, never pushed to
    assert "automated" not in _application_template(example, "prod")["spec"]["syncPolicy"]


def test_each_service_is_selected_by_its_own_application_with_its_registry_path_and_constraint(example) -> None:  # type: ignore[no-untyped-def]
    refs = {r["namePattern"]: r for r in _updater(example, "staging")["spec"]["applicationRefs"]}
    assert sorted(refs) == sorted(f"{s.name}-staging" for s in example.catalog.services)
    image = refs["payments-staging"]["images"][0]
    stack = example.stack("staging")
    payments = next(s for s in example.catalog.services if s.name == "payments")
    assert image["imageName"] == f"999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments:^{stack.image_tag(payments)}"
    assert image["manifestTargets"] == {"kustomize": {"name": "payments"}}
    assert image["commonUpdateSettings"]["updateStrategy"] == "semver"


def test_the_image_updater_lives_in_argo_cds_namespace_without_the_removed_spec_namespace(example) -> None:  # type: ignore[no-untyped-def]
    doc = _updater(example, "dev")
    assert doc["metadata"]["namespace"] == "argocd"
    assert "namespace" not in doc["spec"]


def test_a_configured_constraint_and_tag_pattern_win_over_the_defaults(example) -> None:  # type: ignore[no-untyped-def]
    stack = example.stack("dev")
    policy = dataclasses.replace(stack.image_updates, constraints=(("payments", "~1.4"),), allow_tags="regexp:^1\\.")
    doc = image_updater(example.catalog, dataclasses.replace(stack, image_updates=policy))
    assert doc is not None
    image = next(r for r in doc["spec"]["applicationRefs"] if r["namePattern"] == "payments-dev")["images"][0]
    assert image["imageName"].endswith("/shop/payments:~1.4")
    assert image["commonUpdateSettings"]["allowTags"] == "regexp:^1\\."


def test_a_credentials_secret_is_used_for_write_back(example) -> None:  # type: ignore[no-untyped-def]
    stack = example.stack("dev")
    policy = dataclasses.replace(stack.image_updates, credentials_secret="image-updater-git")
    doc = image_updater(example.catalog, dataclasses.replace(stack, image_updates=policy))
    assert doc is not None and doc["spec"]["writeBackConfig"]["method"] == "git:secret:image-updater-git"


def test_mode_off_emits_no_image_updater(example) -> None:  # type: ignore[no-untyped-def]
    stack = example.stack("dev")
    off = dataclasses.replace(stack, image_updates=dataclasses.replace(stack.image_updates, mode=UpdateMode.OFF))
    files = {m.path: m.content for m in render_stack(example, off).files}
    assert "argocd/dev/image-updater.yaml" not in files
    assert "image-updater.yaml" not in yaml.safe_load(files["argocd/dev/kustomization.yaml"])["resources"]


@pytest.mark.parametrize("tag,constraint", [("1.4.2", "^1.4.2"), ("v2.0.1", "^2.0.1"), ("2024-06-01", None),
                                            ("1.4", None), ("1.4.2-rc.1", None)])
def test_the_default_constraint_allows_newer_releases_of_the_running_major_only(tag: str, constraint: Any) -> None:
    assert default_constraint(tag) == constraint


@pytest.mark.skipif(not SCHEMAS.is_dir(), reason="CRD schemas live beside the project (../shared/schemas)")
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_rendered_image_updater_is_valid_against_the_image_updater_crd(example, env: str) -> None:  # type: ignore[no-untyped-def]
    schemas = Schemas("1.33.0", SCHEMAS)
    assert list(schemas.errors(_updater(example, env))) == []


def test_the_renderer_never_writes_the_file_the_updater_writes(run, project: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "tree"
    assert run("render", "--all", "--project", project, "--out", out).code == 0
    updater_file = out / "apps/payments/overlays/dev/.argocd-source-payments-dev.yaml"
    updater_file.write_text("kustomize:\n  images:\n  - payments=999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments:1.4.9\n")
    edited = project / "services" / "payments.yaml"
    edited.write_text(edited.read_text().replace('tag: "1.4.2"', 'tag: "1.4.3"'))
    result = run("render", "--all", "--project", project, "--out", out)
    assert result.code == 0, result.err
    assert updater_file.read_text().endswith(":1.4.9\n")
