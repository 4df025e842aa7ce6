"""Progressive delivery as an opt-in per service: an Argo Rollouts canary in front of the Deployment.

The example's web-frontend (team storefront, autoscaled) rolls out as a canary
with a web analysis; every other service is a plain Deployment. The Rollout
references the Deployment (``workloadRef``), so the Deployment stays the one
description of the pods, and owns the replica count: the HPA scales the
Rollout, the overlay's count goes to the Rollout, and Git never sets the
Deployment's count, which the Rollout scales to zero.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components import charts
from components.rollouts import NAMESPACE, rollouts_values
from conftest import REPO_ROOT
from gitops import layout
from gitops.drift import normalise
from gitops.k8sschema import PROJECT_CRDS, Schemas
from gitops.project import load_project
from gitops.render.argocd import render_argocd
from gitops.render.workloads import render_base
from pulumi_harness import RecordingMocks, program, project_copy, write_stack  # noqa: F401  (program: fixture)
from test_fleet_program import fleet, hub, spoke  # noqa: F401  (fixtures)

NS = layout.CONFIG_NAMESPACE
RELEASE = "kubernetes:helm.sh/v3:Release"
SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
CANARY = {
    "strategy": "canary",
    "steps": [{"setWeight": 25}, {"pause": {"duration": "2m"}}, {"setWeight": 75}, {"pause": {}}],
}
kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")


def edit_service(project: Path, service: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = project / "services" / f"{service}.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def base_objects(project: Path, service: str) -> dict[str, dict[str, Any]]:
    """``kind`` -> object of the service's base files (not built)."""
    svc = next(s for s in load_project(project).catalog.services if s.name == service)
    out = {}
    for manifest in render_base(svc):
        doc = yaml.safe_load(manifest.content)
        if doc.get("kind") != "Kustomization":
            out[doc["kind"]] = doc
    return out


def build(tree: Path, directory: str) -> dict[str, dict[str, Any]]:
    text = subprocess.run(["kubectl", "kustomize", str(tree / directory)], check=True, capture_output=True,
                          text=True).stdout
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


def whitelist(project: Path, env: str, team: str) -> set[tuple[str, str]]:
    loaded = load_project(project)
    files = render_argocd(loaded.catalog, loaded.stack(env))
    doc = yaml.safe_load(next(f for f in files if f.path == f"argocd/{env}/project-{team}.yaml").content)
    return {(k["group"], k["kind"]) for k in doc["spec"]["namespaceResourceWhitelist"]}


# --- the rendered objects ----------------------------------------------------------------------------------


def test_a_canary_gets_a_rollout_that_takes_over_its_deployments_pods(project: Path) -> None:
    objects = base_objects(project, "web-frontend")
    rollout, deployment = objects["Rollout"], objects["Deployment"]
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    assert rollout["spec"]["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-frontend",
                                              "scaleDown": "progressively"}
    assert "template" not in rollout["spec"]   # the pod template is the Deployment's
    assert rollout["spec"]["selector"] == deployment["spec"]["selector"]
    # The Rollout scales the Deployment to zero; Git never names its count, so Argo CD leaves it to the Rollout.
    assert "replicas" not in deployment["spec"]


def test_the_catalogs_steps_and_analysis_become_the_canary_strategy_and_an_analysis_template(project: Path) -> None:
    objects = base_objects(project, "web-frontend")
    canary = objects["Rollout"]["spec"]["strategy"]["canary"]
    assert canary["steps"] == [{"setWeight": 20}, {"pause": {"duration": "5m"}}, {"setWeight": 50},
                               {"pause": {"duration": "10m"}}]
    assert canary["analysis"] == {"templates": [{"templateName": "web-frontend"}]}
    metric = objects["AnalysisTemplate"]["spec"]["metrics"][0]
    assert metric["provider"]["web"]["url"] == "http://web-frontend.storefront.svc.cluster.local/internal/canary-check"
    assert (metric["successCondition"], metric["interval"], metric["failureLimit"]) == ("result == true", "1m", 1)


def test_an_indefinite_pause_waits_for_a_promotion_and_no_analysis_means_no_template(project: Path) -> None:
    edit_service(project, "recommendations", lambda d: d.update(delivery=CANARY))
    objects = base_objects(project, "recommendations")
    assert objects["Rollout"]["spec"]["strategy"]["canary"]["steps"][-1] == {"pause": {}}
    assert "analysis" not in objects["Rollout"]["spec"]["strategy"]["canary"]
    assert "AnalysisTemplate" not in objects


def test_the_hpa_of_a_canary_scales_the_rollout_and_every_other_hpa_its_deployment(project: Path) -> None:
    assert base_objects(project, "web-frontend")["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"] == \
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web-frontend"}
    assert base_objects(project, "search")["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"] == \
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "search"}
    assert "Rollout" not in base_objects(project, "search")


@kubectl
def test_without_autoscaling_the_environments_count_goes_to_the_rollout_and_the_image_to_the_deployment(
        run, project: Path, tmp_path: Path) -> None:
    edit_service(project, "recommendations", lambda d: d.update(delivery=CANARY))
    out = tmp_path / "gitops-repo"
    assert run("render", "--all", "--project", project, "--out", out).code == 0
    kustomization = yaml.safe_load((out / "apps/recommendations/overlays/prod/kustomization.yaml").read_text())
    assert "replicas" not in kustomization
    built = build(out, "apps/recommendations/overlays/prod")
    assert built["Rollout"]["spec"]["replicas"] == 3   # prod's workloads.replicas
    assert "replicas" not in built["Deployment"]["spec"]
    image = built["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/recommendations:0.9.4"
    # The disruption budget of prod's replica floor covers the Rollout's pods by label.
    assert built["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == \
        built["Rollout"]["spec"]["selector"]["matchLabels"]


def test_drift_leaves_a_rollouts_replica_count_to_its_environment() -> None:
    def rollout(replicas: int) -> dict[str, Any]:
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"},
                "spec": {"replicas": replicas, "workloadRef": {"name": "web"}}}
    assert normalise([rollout(1)]) == normalise([rollout(5)])


# --- the team's project ----------------------------------------------------------------------------------------


def test_only_the_canary_teams_project_admits_rollouts_and_only_with_an_analysis_analysis_templates(project: Path) -> None:
    for env in ("dev", "staging", "prod"):
        assert {("argoproj.io", "Rollout"), ("argoproj.io", "AnalysisTemplate")} <= whitelist(project, env, "storefront")
        for team in ("catalog", "checkout", "platform"):
            assert not {k for g, k in whitelist(project, env, team) if g == "argoproj.io"}, team
    edit_service(project, "cart", lambda d: d.update(delivery=CANARY))   # team checkout, no analysis
    kinds = whitelist(project, "prod", "checkout")
    assert ("argoproj.io", "Rollout") in kinds and ("argoproj.io", "AnalysisTemplate") not in kinds


# --- schema: the project's own ---------------------------------------------------------------------------------


def test_rollouts_and_analysis_templates_validate_against_the_projects_schema_without_a_schema_directory(
        project: Path) -> None:
    schemas = Schemas("1.33", None)   # no ../shared: the project's own schemas are always there
    assert {str(p) for p in PROJECT_CRDS.glob("*/*.yaml")} <= set(schemas.crd_sources)
    objects = base_objects(project, "web-frontend")
    for kind in ("Rollout", "AnalysisTemplate"):
        assert list(schemas.errors(objects[kind])) == [], kind


@pytest.mark.parametrize(("kind", "change", "error"), [
    ("Rollout", lambda o: o["spec"].update(template={"spec": {}}), "'template' was unexpected"),
    ("Rollout", lambda o: o["spec"]["workloadRef"].update(scaleDown="sometimes"), "'sometimes' is not one of"),
    ("Rollout", lambda o: o["spec"]["strategy"]["canary"]["steps"].append({"setWeight": 10, "pause": {}}),
     "has too many properties"),
    ("Rollout", lambda o: o["spec"]["strategy"]["canary"]["steps"].append({"setWeight": 120}), "120 is greater than"),
    ("Rollout", lambda o: o["spec"].pop("workloadRef"), "'workloadRef' is a required property"),
    ("AnalysisTemplate", lambda o: o["spec"]["metrics"][0]["provider"].update(prometheus={}), "'prometheus' was unexpected"),
])
def test_the_schema_refuses_what_the_renderer_does_not_emit(project: Path, kind: str, change: Callable[[Any], Any],
                                                           error: str) -> None:
    obj = base_objects(project, "web-frontend")[kind]
    change(obj)
    assert any(error in message for message in Schemas("1.33", None).errors(obj))


@kubectl
def test_the_example_renders_and_validates_with_its_rollout(run, tmp_path: Path) -> None:
    out = tmp_path / "gitops-repo"
    assert run("render", "--all", "--project", REPO_ROOT, "--out", out).code == 0
    argv = ["validate", out, "--output", "json", *(["--schemas", SCHEMAS] if SCHEMAS.is_dir() else [])]
    report = json.loads(run(*argv).out)
    assert report["problems"] == []
    built = build(out, "apps/web-frontend/overlays/prod")
    assert built["Rollout"]["metadata"]["namespace"] == "storefront"
    assert built["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["kind"] == "Rollout"


# --- catalog input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("delivery", "key", "message"), [
    ({"strategy": "blueGreen", "steps": [{"setWeight": 50}]}, "delivery.strategy", "not one of canary"),
    ({"strategy": "canary"}, "delivery.steps", "is required"),
    ({"strategy": "canary", "steps": []}, "delivery.steps", "at least one step"),
    ({"strategy": "canary", "steps": [{"setWeight": 0}]}, "delivery.steps[0].setWeight", "out of range"),
    ({"strategy": "canary", "steps": [{"setWeight": 20, "pause": {}}]}, "delivery.steps[0]", "exactly one of"),
    ({"strategy": "canary", "steps": [{"pause": {"duration": "5 minutes"}}]}, "delivery.steps[0].pause.duration",
     "a duration such as"),
    ({"strategy": "canary", "steps": [{"setWeight": 20}], "analysis": {"url": "http://checks/web",
                                                                        "successCondition": "result == {{args.x}}"}},
     "delivery.analysis.successCondition", "template delimiter"),
    ({"strategy": "canary", "steps": [{"setWeight": 20}], "analysis": {"url": "ftp://checks"}},
     "delivery.analysis.url", "http(s) URL"),
    ({"strategy": "canary", "steps": [{"setWeight": 20}], "analysis": {"url": "http://checks", "successCondition": "ok",
                                                                        "startingStep": 3}},
     "delivery.analysis.startingStep", "out of range"),
])
def test_bad_delivery_settings_exit_2_naming_file_and_key(run, project: Path, delivery: dict[str, Any], key: str,
                                                          message: str) -> None:
    edit_service(project, "cart", lambda d: d.update(delivery=delivery))
    result = run("render", "--all", "--project", project, "--out", project.parent / "out")
    assert result.code == 2
    assert f"services/cart.yaml: {key}" in result.err and message in result.err


def test_the_controllers_namespace_and_name_are_not_a_services(run, project: Path) -> None:
    edit_service(project, "cart", lambda d: d.update(namespace="argo-rollouts"))
    result = run("render", "--all", "--project", project, "--out", project.parent / "out")
    assert result.code == 2 and "services/cart.yaml: namespace: 'argo-rollouts' is the Argo Rollouts" in result.err


# --- the controller: pinned, and installed only where it has work ---------------------------------------------------


def _rollouts_release(mocks: RecordingMocks) -> Any:
    return next((r for r in mocks.of_type(RELEASE) if r.inputs["chart"] == charts.ARGO_ROLLOUTS.name), None)


def test_the_controller_chart_is_pinned() -> None:
    assert charts.ARGO_ROLLOUTS in charts.ALL
    assert charts.ARGO_ROLLOUTS.repo == charts.ARGO_HELM and charts.ARGO_ROLLOUTS.version == "2.43.0"
    # The CRDs stay when the release goes: deleting them would delete every Rollout and its pods.
    assert rollouts_values()["keepCRDs"] is True


def test_a_stack_whose_catalog_has_a_canary_installs_the_controller_before_argo_cd(program) -> None:
    mocks, _ = program("dev")
    release = _rollouts_release(mocks)
    assert release is not None
    assert (release.inputs["version"], release.inputs["namespace"]) == (charts.ARGO_ROLLOUTS.version, NAMESPACE)
    argo_cd = next(r for r in mocks.of_type(RELEASE) if r.inputs["chart"] == "argo-cd")
    assert mocks.depends_on(argo_cd, release)   # Rollout objects sync only once their CRD is served
    drained = mocks.of_type("pulumi-python:dynamic/argocd:ApplicationsDrained")
    assert drained and mocks.depends_on(drained[0], release)   # kept until the Applications are gone


def test_without_a_canary_the_controller_is_installed_only_when_the_stack_asks(program, tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    edit_service(root, "web-frontend", lambda d: d.pop("delivery"))
    assert _rollouts_release(program("dev", root=root)[0]) is None
    write_stack(root, "dev", REPO_ROOT / "Pulumi.dev.yaml",
                lambda c: c.update({f"{NS}:addons": {"argoRollouts": True}}))
    assert _rollouts_release(program("dev", root=root)[0]) is not None


def test_switching_the_controller_off_while_a_service_uses_a_canary_stops_the_program(program, tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    write_stack(root, "dev", REPO_ROOT / "Pulumi.dev.yaml",
                lambda c: c.update({f"{NS}:addons": {"argoRollouts": False}}))
    with pytest.raises(pulumi.RunError, match=r"Pulumi\.dev\.yaml: config\.gitops-platform:addons\.argoRollouts: "
                                              r"is false, but web-frontend roll out as a canary"):
        program("dev", root=root, secrets={})   # the project does not load: no values are needed to see that


def test_a_spoke_runs_its_own_controller(spoke) -> None:
    mocks, _ = spoke("spoke-a")
    assert _rollouts_release(mocks) is not None


def test_a_canary_whose_analysis_polls_itself_admits_the_rollouts_controller() -> None:
    """The controller fetches the analysis URL from its own namespace: the service's NetworkPolicy must let it in."""
    from conftest import REPO_ROOT
    from gitops.ingress import ROLLOUTS_NAMESPACE, base_rules
    from gitops.project import load_project

    service = next(s for s in load_project(REPO_ROOT).catalog.services if s.name == "web-frontend")
    peers = [peer for rule in base_rules(service) for peer in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ROLLOUTS_NAMESPACE}}} in peers
