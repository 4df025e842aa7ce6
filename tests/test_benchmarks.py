"""The benchmarks compare like with like: what the cdk8s side synthesizes is what our overlays deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench_render import cdk8s_spec
from gitops import layout
from gitops.kustomize import build_many
from synthetic import make_project

SERVICES = 10   # servers and a worker, secrets, config, autoscaled services


def _without_annotations(obj: dict[str, Any]) -> dict[str, Any]:
    """Sync waves and checksums are Argo CD's and the rollout's business, not what cdk8s is asked to write."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj["metadata"].pop("annotations", None)
    obj["spec"].get("template", {}).get("metadata", {}).pop("annotations", None)
    return obj


def test_the_cdk8s_spec_holds_the_deployments_and_services_kustomize_builds_from_our_overlays(run, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", SERVICES)
    out = tmp_path / "repo"
    assert run("render", "--all", "--project", project, "--out", out).code == 0
    spec = cdk8s_spec(project)["stacks"]
    overlays = [f"{layout.APPS_DIR}/{s['name']}/overlays/{stack['environment']}" for stack in spec for s in stack["services"]]
    builds = {b.directory: b for b in build_many(out, overlays, "kubectl", jobs=2)}
    compared = 0
    for stack in spec:
        for service in stack["services"]:
            build = builds[f"{layout.APPS_DIR}/{service['name']}/overlays/{stack['environment']}"]
            assert build.ok, build.output
            built = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(build.output) if o}
            for obj in service["objects"]:
                assert _without_annotations(obj) == _without_annotations(built[(obj["kind"], obj["metadata"]["name"])])
                compared += 1
    assert compared > len(spec) * SERVICES   # every Deployment in every stack, and the Services
