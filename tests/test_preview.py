"""``pulumi preview`` with unknowns: every stack previews, new or changed, without a provider check failing.

In a preview the engine knows nothing that a resource still to be created
computes: a new cluster's endpoint and kubeconfig, a new key generation's
certificate, a new spoke's API server. It passes such inputs to the dynamic
providers' ``check`` as unknowns. The harness runs every dynamic ``check`` the
way the engine does, so a check that refuses unknowns fails these runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from components.drain import ApplicationsDrainedProvider
from components.gitops_repo import GitOpsFiles, GitOpsFilesProvider
from pulumi_harness import (
    REPO_ROOT,
    CheckFailed,
    Export,
    ProgramRun,
    RecordingMocks,
    project_copy,
)

NS = "gitops-platform"
STACKS = ("dev", "staging", "prod")
FILES = "pulumi-python:dynamic/gitops:Files"
DRAINED = "pulumi-python:dynamic/argocd:ApplicationsDrained"


def unknown_inputs(mocks: RecordingMocks, typ: str) -> dict[str, list[str]]:
    """{resource name: its input keys the engine did not know} for the registrations of one type."""
    return {r.name: sorted(k for k, v in r.inputs.items() if _has_unknown(v))
            for r in mocks.of_type(typ) if any(_has_unknown(v) for v in r.inputs.values())}


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def files_props(**changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "checkout": "gitops-repo", "stack": "dev", "environment": "dev", "repoUrl": "https://example.com/g.git",
        "repoPath": ".", "prefixes": ["clusters/shop-dev/"], "files": {"clusters/shop-dev/a.yaml": "a: 1\n"},
    }
    return {**props, **changes}


# --- the providers' checks ------------------------------------------------------------------


def test_the_files_check_accepts_contents_the_engine_does_not_know_yet() -> None:
    whole = GitOpsFilesProvider().check({}, files_props(files=Unknown()))
    nested = GitOpsFilesProvider().check({}, files_props(files={"clusters/shop-dev/a.yaml": Unknown()}))
    assert (whole.failures, nested.failures) == ([], [])


def test_the_files_check_still_refuses_a_known_path_outside_its_prefixes() -> None:
    result = GitOpsFilesProvider().check({}, files_props(files={"apps/x/a.yaml": Unknown()}))
    assert [(f.property, f.reason) for f in result.failures] == [("files", "apps/x/a.yaml lies outside clusters/shop-dev/")]


def test_a_files_diff_with_unknown_contents_is_an_update_not_a_replacement() -> None:
    result = GitOpsFilesProvider().diff("id", files_props(), files_props(files=Unknown()))
    assert (result.changes, result.replaces) == (True, [])


def test_the_drain_check_accepts_an_unknown_kubeconfig_namespace_and_endpoint() -> None:
    news = {"kubeconfig": Unknown(), "namespace": Unknown(), "destinationName": "shop-a",
            "destinationServer": Unknown(), "timeoutSeconds": 900, "pollSeconds": 5}
    assert ApplicationsDrainedProvider().check({}, news).failures == []


def test_the_drain_check_still_refuses_a_known_bad_timeout() -> None:
    news = {"kubeconfig": Unknown(), "namespace": "argocd", "timeoutSeconds": 0, "pollSeconds": 5}
    assert [f.property for f in ApplicationsDrainedProvider().check({}, news).failures] == ["timeoutSeconds"]


def test_the_harness_fails_a_registration_its_provider_check_refuses(pulumi_mocks) -> None:
    pulumi_mocks(preview=True)

    @pulumi.runtime.test
    def register() -> None:
        GitOpsFiles("bad", files_props(files={"apps/x/a.yaml": "x"}))

    with pytest.raises(CheckFailed, match="lies outside"):
        register()


# --- whole stacks -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_previews_as_a_new_stack(program: ProgramRun, stack: str) -> None:
    mocks, _ = program(stack, preview=True)
    # The certificate does not exist yet, so the cluster directory and every sealed service are unknown.
    assert unknown_inputs(mocks, FILES)["gitops-cluster"] == ["files"]
    assert unknown_inputs(mocks, DRAINED) == {"argocd-applications-drained": ["kubeconfig"]}


def test_a_key_rotation_previews_against_the_existing_stack(program: ProgramRun) -> None:
    first, _ = program("dev")
    existing = frozenset(r.name for r in first.registrations)
    rotated = json.dumps({"generation": 2})
    mocks, _ = program("dev", preview=True, existing=existing, extra={f"{NS}:sealing": rotated})
    assert "sealing-g2-key" not in existing
    mocks.named("sealing-g2-key")   # registered, exactly once
    # Only what the new key feeds is unknown: the certificate file and the re-sealed services.
    unknown = unknown_inputs(mocks, FILES)
    assert "gitops-cluster" in unknown and "gitops-argocd" not in unknown
    assert unknown_inputs(mocks, DRAINED) == {}


def test_a_new_spoke_made_by_new_cluster_previews_while_its_hub_exists(program: ProgramRun, run, tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    dev = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    (root / "Pulumi.hub.yaml").write_text(
        dev.replace("environment: dev", "environment: ops").replace("name: shop-dev", "name: shop-hub")
        .replace("vpcCidr: 10.10.0.0/16", "vpcCidr: 10.40.0.0/16").replace("    owner: true\n", "")
        + f"  {NS}:argocd:\n    topology: hub\n")
    _, hub = program("hub", root=root)
    made = run("new-cluster", "prod-us", "--env", "prod", "--region", "us-east-1", "--hub", "hub", "--project", root)
    assert made.code == 0, made.err
    mocks, exports = program("prod-us", root=root, preview=True, stack_outputs={"hub": hub})
    # Its cluster does not exist: the drain's endpoint and the published registration are unknown.
    assert unknown_inputs(mocks, DRAINED) == {"fleet-applications-drained": ["destinationServer"]}
    assert "files" in unknown_inputs(mocks, FILES)["gitops-cluster"]
    assert exports["argocdHub"] == Export("hub", False)
