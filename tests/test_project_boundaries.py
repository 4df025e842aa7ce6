"""No edit of a discovered file moves an Application out of its team's project and namespaces.

The ApplicationSets read ``apps/<svc>/overlays/<env>/config.json``, files that
anyone with push access to the GitOps repository (the Image Updater's
credentials included) can change. What reaches an Application from them is
bounded: the project is fixed per team, the name comes from the path, and the
files are listed by path. ``validate`` proves it by expanding every
ApplicationSet again with every discovered file replaced by a hostile one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops import layout
from gitops.appset.tamper import HOSTILE_FIELDS
from gitops.project import load_project
from gitops.render import render_stack

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def example_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gitops.cli import main

    out = tmp_path_factory.mktemp("boundaries") / "tree"
    assert main(["render", "--all", "--project", str(REPO_ROOT), "--out", str(out)]) == 0
    return out


@pytest.fixture
def tree(example_tree: Path, tmp_path: Path) -> Path:
    """A private copy of the rendered example that a test may tamper with."""
    copy = tmp_path / "tree"
    shutil.copytree(example_tree, copy)
    return copy


def rendered(stack: str) -> dict[str, Any]:
    project = load_project(REPO_ROOT)
    return {m.path: yaml.safe_load(m.content) for m in render_stack(project, project.stack(stack)).files
            if m.path.endswith(".yaml")}


def appsets(files: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc for doc in files.values() if isinstance(doc, dict) and doc.get("kind") == "ApplicationSet"]


def validate(run, tree: Path) -> dict[str, Any]:
    result = run("validate", tree, "--output", "json")
    return {"code": result.code, **json.loads(result.out)}


def messages(report: dict[str, Any]) -> list[str]:
    return [p["message"] for p in report["problems"]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_applicationset_fixes_its_project_and_names_applications_by_path(stack: str) -> None:
    for appset in appsets(rendered(stack)):
        template = appset["spec"]["template"]
        assert "{{" not in template["spec"]["project"]
        assert template["metadata"]["name"] == "{{index .path.segments 1}}-" + stack
        team = appset["metadata"]["labels"][layout.LABEL_TEAM]
        assert template["spec"]["project"] == layout.project_name(team, stack)


@pytest.mark.parametrize("stack", STACKS)
def test_each_team_discovers_exactly_its_own_services_by_path(stack: str) -> None:
    catalog = load_project(REPO_ROOT).catalog
    for appset in appsets(rendered(stack)):
        team = appset["metadata"]["labels"][layout.LABEL_TEAM]
        paths = [f["path"] for f in appset["spec"]["generators"][0]["git"]["files"]]
        assert paths == [f"apps/{s.name}/overlays/{stack}/config.json"
                         for s in sorted(catalog.services, key=lambda s: s.name) if s.team == team]


def test_the_default_project_grants_nothing_where_argo_cd_runs() -> None:
    default = rendered("prod")[f"argocd/prod/project-{layout.DEFAULT_PROJECT}.yaml"]
    spec = default["spec"]
    assert (spec["sourceRepos"], spec["destinations"], spec["clusterResourceWhitelist"]) == ([], [], [])
    assert spec["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]


def test_the_example_passes_the_tamper_check(run, tree: Path) -> None:
    report = validate(run, tree)
    assert report["code"] == 0, messages(report)


def test_hostile_config_files_leave_every_application_in_its_project(run, tree: Path) -> None:
    """What the tamper check simulates, done for real: the Applications keep their names and projects."""
    for config in tree.glob("apps/*/overlays/*/config.json"):
        config.write_text(json.dumps({**json.loads(config.read_text()), **HOSTILE_FIELDS}))
    apps = json.loads(run("apps", tree, "--output", "json").out)
    by_name = {a["name"]: a for a in apps["applications"]}
    assert by_name["payments-prod"]["project"] == "checkout-prod"
    assert "root" not in by_name and all(a["project"] != layout.DEFAULT_PROJECT for a in apps["applications"])


def test_validate_reports_an_applicationset_that_takes_its_project_from_a_discovered_file(run, tree: Path) -> None:
    appset = tree / "argocd/dev/applicationset-checkout.yaml"
    appset.write_text(appset.read_text().replace("project: checkout-dev", 'project: "{{.project}}"'))
    for config in tree.glob("apps/*/overlays/dev/config.json"):
        config.write_text(json.dumps({**json.loads(config.read_text()), "project": "checkout-dev"}))
    report = validate(run, tree)
    assert report["code"] == 1
    assert any("services-checkout-dev" in m and "from project checkout-dev to default" in m for m in messages(report))


def test_validate_reports_discovery_by_pattern(run, tree: Path) -> None:
    appset = tree / "argocd/dev/applicationset-checkout.yaml"
    text = appset.read_text()
    first = "      - path: apps/cart/overlays/dev/config.json\n"
    appset.write_text(text.replace(first, "      - path: apps/*/overlays/dev/config.json\n"))
    report = validate(run, tree)
    assert report["code"] == 1
    assert any("by pattern" in m and "services-checkout-dev" in m for m in messages(report))


def test_validate_reports_a_default_project_that_grants_something(run, tree: Path) -> None:
    default = tree / f"argocd/dev/project-{layout.DEFAULT_PROJECT}.yaml"
    default.write_text(default.read_text().replace("  sourceRepos: []", "  sourceRepos:\n  - '*'"))
    report = validate(run, tree)
    assert report["code"] == 1
    assert any("AppProject default grants sourceRepos" in m for m in messages(report))
