"""AppProjects: least privilege by default, and the environment's sync windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops.errors import InputError
from gitops.project import load_project
from gitops.render import render_stack


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


def test_projects_name_this_repository_and_the_teams_namespaces_with_no_wildcards(projects) -> None:
    for docs in projects.values():
        for doc in docs:
            assert doc["spec"]["sourceRepos"] == ["https://github.com/example-shop/gitops.git"]
            assert all("*" not in d["namespace"] and "*" not in d.get("server", "") for d in doc["spec"]["destinations"])
            assert doc["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]


def test_prod_projects_carry_the_configured_sync_window_and_dev_none(projects) -> None:
    """Prod syncs by hand, so its nightly window blocks syncs by hand too (manualSync: false): nothing syncs then."""
    for doc in projects["prod"]:
        assert doc["spec"]["syncWindows"] == [{"kind": "deny", "schedule": "0 1 * * *", "duration": "3h",
                                               "applications": ["*"], "manualSync": False, "timeZone": "Europe/Dublin"}]
    assert all("syncWindows" not in doc["spec"] for doc in projects["dev"])


def _set_delivery(project: Path, stack: str, delivery: dict[str, Any]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["gitops-platform:delivery"] = delivery
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize("kind, where", [("deny", "inside"), ("allow", "outside")])
def test_a_window_that_lets_people_sync_is_refused_where_every_sync_is_a_persons(project: Path, kind: str,
                                                                                 where: str) -> None:
    """Argo CD's windows hold back automated syncs; manualSync: true exempts syncs a person starts. With sync:
    manual there are only those, so such a window would block nothing."""
    window = {"kind": kind, "schedule": "0 1 * * *", "duration": "3h", "manualSync": True}
    _set_delivery(project, "prod", {"sync": "manual", "syncWindows": [window]})
    with pytest.raises(InputError) as caught:
        load_project(project)
    assert str(caught.value) == (
        f"Pulumi.prod.yaml: config.gitops-platform:delivery.syncWindows[0].manualSync: true lets a person sync {where} "
        f"this {kind} window, and with gitops-platform:delivery.sync manual every sync is a person's: the window would "
        f"block nothing. Set manualSync: false (no sync at all {where} it), or sync: automated")


@pytest.mark.parametrize("sync, manual", [("manual", False), ("automated", True)])
def test_a_window_without_manual_sync_blocks_what_the_environments_syncs_are(project: Path, sync: str,
                                                                             manual: bool) -> None:
    """Unset, manualSync is false where syncs are manual (else the window does nothing) and true where they are
    automated (the window holds back the automation, a person may still sync)."""
    _set_delivery(project, "prod", {"sync": sync, "syncWindows": [{"kind": "deny", "schedule": "0 1 * * *",
                                                                    "duration": "3h"}]})
    assert load_project(project).stack("prod").delivery.sync_windows[0].manual_sync is manual
