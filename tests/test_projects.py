"""AppProjects: least privilege by default, and the environment's sync windows."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from gitops.project import load_project
from gitops.render import render_stack

from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def projects() -> dict[str, list[dict[str, Any]]]:
    """Every rendered team AppProject, per environment (the locked ``default`` has its own tests)."""
    project = load_project(REPO_ROOT)
    out: dict[str, list[dict[str, Any]]] = {}
    for stack in project.stacks:
        docs = [yaml.safe_load(m.content) for m in render_stack(project, stack).files
                if m.path.startswith(f"argocd/{stack.environment}/project-")
                and m.path != f"argocd/{stack.environment}/project-default.yaml"]
        out[stack.environment] = docs
    return out


def test_projects_name_this_repository_and_the_teams_namespaces_with_no_wildcards(projects) -> None:  # type: ignore[no-untyped-def]
    for docs in projects.values():
        for doc in docs:
            assert doc["spec"]["sourceRepos"] == ["https://github.com/example-shop/gitops.git"]
            assert all("*" not in d["namespace"] and "*" not in d.get("server", "") for d in doc["spec"]["destinations"])
            assert doc["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]


def test_prod_projects_carry_the_configured_sync_window_and_dev_none(projects) -> None:  # type: ignore[no-untyped-def]
    for doc in projects["prod"]:
        assert doc["spec"]["syncWindows"] == [{"kind": "deny", "schedule": "0 1 * * *", "duration": "3h",
                                               "applications": ["*"], "manualSync": True, "timeZone": "Europe/Dublin"}]
    assert all("syncWindows" not in doc["spec"] for doc in projects["dev"])
