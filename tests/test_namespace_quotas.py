"""Each team namespace gets one ResourceQuota and one LimitRange per environment.

They belong to exactly one Application (the namespace's first service by
name), only that team's AppProject admits their kinds, the derived quota lets
every service run at its catalog maximum while rolling out, and a stack can
set the numbers itself.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops import layout, names
from gitops.project import load_project
from gitops.render import render_stack

needs_kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")
ENVIRONMENTS = ("dev", "staging", "prod")


def rendered(root: Path, env: str) -> dict[str, Any]:
    """path -> the YAML document of one environment's render (the first, for a file that holds several)."""
    project = load_project(root)
    stack = next(s for s in project.stacks if s.environment == env)
    return {m.path: next(yaml.safe_load_all(m.content)) for m in render_stack(project, stack).files
            if m.path.endswith(".yaml")}


def quotas(files: dict[str, Any], kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """namespace -> (file path, object) of every object of ``kind`` rendered."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for path, doc in files.items():
        if isinstance(doc, dict) and doc.get("kind") == kind:
            found[doc["metadata"]["namespace"]].append((path, doc))
    assert all(len(v) == 1 for v in found.values()), {k: [p for p, _ in v] for k, v in found.items() if len(v) > 1}
    return {ns: v[0] for ns, v in found.items()}


def test_every_namespace_gets_exactly_one_quota_and_limit_range_from_its_first_service() -> None:
    catalog = load_project(REPO_ROOT).catalog
    namespaces = {s.namespace for s in catalog.services}
    for env in ENVIRONMENTS:
        files = rendered(REPO_ROOT, env)
        for kind in ("ResourceQuota", "LimitRange"):
            found = quotas(files, kind)
            assert set(found) == namespaces
            for namespace, (path, _) in found.items():
                first = min(s.name for s in catalog.services if s.namespace == namespace)
                assert path.startswith(f"{layout.overlay_dir(first, env)}/"), path
                kustomization = files[f"{layout.overlay_dir(first, env)}/kustomization.yaml"]
                assert path.rsplit("/", 1)[1] in kustomization["resources"]


def test_only_the_owning_teams_project_admits_resource_quotas_and_limit_ranges() -> None:
    catalog = load_project(REPO_ROOT).catalog
    owners = {min((s for s in catalog.services if s.namespace == ns), key=lambda s: s.name).team
              for ns in {s.namespace for s in catalog.services}}
    for env in ENVIRONMENTS:
        files = rendered(REPO_ROOT, env)
        for team in catalog.teams:
            project = files[f"argocd/{env}/project-{team}.yaml"]
            kinds = {(k["group"], k["kind"]) for k in project["spec"]["namespaceResourceWhitelist"]}
            admitted = {("", "ResourceQuota"), ("", "LimitRange")} <= kinds
            assert admitted == (team in owners), (env, team)


def test_a_shared_namespace_has_one_quota_owned_by_its_first_service_of_any_team(project: Path) -> None:
    (project / "services" / "_namespaces.yaml").write_text("shared:\n  shop-shared: [checkout, storefront]\n")
    for name in ("cart", "web-frontend"):
        path = project / "services" / f"{name}.yaml"
        path.write_text(path.read_text() + "namespace: shop-shared\n")
    files = rendered(project, "prod")
    quota_path, quota = quotas(files, "ResourceQuota")["shop-shared"]
    assert quota_path.startswith("apps/cart/overlays/prod/")
    assert quota["metadata"]["labels"][layout.LABEL_PART_OF] == "checkout"
    storefront = files["argocd/prod/project-storefront.yaml"]["spec"]["namespaceResourceWhitelist"]
    owns_another = any(s.team == "storefront" and s.namespace != "shop-shared"
                       for s in load_project(project).catalog.services)
    assert ({"group": "", "kind": "ResourceQuota"} in storefront) == owns_another


def _quantity(text: Any) -> Decimal:
    value = names.parse_quantity(str(text))
    assert value is not None, text
    return value


def build(directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True,
                          timeout=120)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@needs_kubectl
def test_the_derived_quota_admits_every_service_at_its_maximum_while_it_rolls_out(tmp_path: Path) -> None:
    """Read from the built objects alone: each workload's pods at the most, surge included, fit under the quota."""
    from gitops.cli import main

    tree = tmp_path / "repo"
    assert main(["render", "--all", "--out", str(tree), "--project", str(REPO_ROOT)]) == 0
    for env in ENVIRONMENTS:
        need: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        hard: dict[str, dict[str, Any]] = {}
        limit_ranges: dict[str, dict[str, Any]] = {}
        for overlay in sorted(tree.glob(f"apps/*/overlays/{env}")):
            objects = build(overlay)
            for obj in objects:
                if obj["kind"] == "ResourceQuota":
                    hard[obj["metadata"]["namespace"]] = obj["spec"]["hard"]
                elif obj["kind"] == "LimitRange":
                    limit_ranges[obj["metadata"]["namespace"]] = obj["spec"]["limits"][0]
            hpa = next((o for o in objects if o["kind"] == "HorizontalPodAutoscaler"), None)
            deployment = next(o for o in objects if o["kind"] == "Deployment")
            rollout = next((o for o in objects if o["kind"] == "Rollout"), None)
            replicas = hpa["spec"]["maxReplicas"] if hpa else (rollout or deployment)["spec"]["replicas"]
            pods = replicas + math.ceil(replicas * 0.25)
            namespace = deployment["metadata"]["namespace"]
            resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
            need[namespace]["pods"] += pods
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    need[namespace][f"{section}.{resource}"] += _quantity(resources[section][resource]) * pods
        assert set(hard) == set(need) == set(limit_ranges)
        for namespace, totals in need.items():
            for key, value in totals.items():
                assert _quantity(hard[namespace][key]) >= value, (env, namespace, key, hard[namespace][key], value)
            defaults = limit_ranges[namespace]
            for resource in ("cpu", "memory"):
                assert _quantity(defaults["defaultRequest"][resource]) <= _quantity(defaults["default"][resource])


def test_prod_gets_more_room_than_dev_from_the_same_catalog() -> None:
    dev = quotas(rendered(REPO_ROOT, "dev"), "ResourceQuota")
    prod = quotas(rendered(REPO_ROOT, "prod"), "ResourceQuota")
    assert dev and set(dev) == set(prod)
    for namespace in dev:
        assert int(prod[namespace][1]["spec"]["hard"]["pods"]) > int(dev[namespace][1]["spec"]["hard"]["pods"])


def test_a_stack_sets_a_namespaces_numbers_and_the_rest_stay_derived(project: Path) -> None:
    derived = quotas(rendered(project, "prod"), "ResourceQuota")["checkout"][1]["spec"]["hard"]
    stack_file = project / "Pulumi.prod.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["gitops-platform:workloads"]["quotas"] = {"checkout": {"limits": {"cpu": 64}, "pods": 200}}
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    hard = quotas(rendered(project, "prod"), "ResourceQuota")["checkout"][1]["spec"]["hard"]
    assert hard["limits.cpu"] == "64" and hard["pods"] == "200"
    assert {k: v for k, v in hard.items() if k not in ("limits.cpu", "pods")} == \
        {k: v for k, v in derived.items() if k not in ("limits.cpu", "pods")}
    assert quotas(rendered(project, "staging"), "ResourceQuota")["checkout"][1]["spec"]["hard"]["pods"] != "200"


def test_a_quota_for_a_namespace_no_service_deploys_into_is_refused(run, project: Path, tmp_path: Path) -> None:
    stack_file = project / "Pulumi.prod.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["gitops-platform:workloads"]["quotas"] = {"chekout": {"pods": 10}}
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run("render", "--all", "--project", project, "--out", tmp_path / "repo")
    assert result.code == 2
    assert "workloads.quotas.chekout" in result.err and "no service deploys into namespace 'chekout'" in result.err


def test_a_malformed_quota_names_the_key(run, project: Path, tmp_path: Path) -> None:
    stack_file = project / "Pulumi.prod.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["gitops-platform:workloads"]["quotas"] = {"checkout": {"limits": {"cpu": "lots"}, "pod": 3}}
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run("render", "--all", "--project", project, "--out", tmp_path / "repo", "--output", "json")
    assert result.code == 2
    assert "workloads.quotas.checkout.limits.cpu" in result.err
    assert "workloads.quotas.checkout.pod" in result.err and "did you mean" in result.err


@needs_kubectl
def test_the_quota_and_limit_range_validate_and_are_admitted(run, tmp_path: Path) -> None:
    tree = tmp_path / "repo"
    assert run("render", "--all", "--out", tree, "--project", REPO_ROOT).code == 0
    assert list(tree.glob("apps/*/overlays/*/resourcequota.yaml")) and list(tree.glob("apps/*/overlays/*/limitrange.yaml"))
    schemas = REPO_ROOT.parent / "shared" / "schemas"
    argv = ["validate", tree, "--output", "json"] + (["--schemas", schemas] if schemas.is_dir() else [])
    report = json.loads(run(*argv).out)
    mine = [p for p in report["problems"] if any(k in p["message"] for k in ("ResourceQuota", "LimitRange"))]
    assert mine == []
