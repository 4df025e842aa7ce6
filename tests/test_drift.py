"""``drift``: what differs between a service's environments beyond what is meant to.

Expected differences (replicas, resources, image tag, ingress host/class/TLS/
annotations, the environment label, disruption budgets, sealed values,
generator hash suffixes) are never reported, and neither is what the project
itself declares per environment (the catalog's ``environments.<profile>``, the
stack files): a fresh render of it differs the same way. Anything else is, per
service, object and field, with the value in every environment.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT, CliResult
from gitops import layout
from gitops.drift import ABSENT, PRESENT, compare, declared_only, drift_tree, image_without_tag, normalise

needs_kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")

# What the shipped catalog asks to differ per environment beyond replicas and resources
# (services/*.yaml `environments:` blocks): config values, and web-frontend's autoscaling
# targets, whose dev override keeps the service's targetCPUUtilizationPercentage. Declared,
# so not drift; reported only when drift has no project to know it from.
EXAMPLE_DECLARED = {
    ("api-gateway", "ConfigMap/api-gateway-config", "data.RATE_LIMIT_PER_MINUTE"):
        {"dev": "0", "prod": "600", "staging": "600"},
    ("recommendations", "ConfigMap/recommendations-config", "data.MODEL_VERSION"):
        {"dev": "2026-11-rc1", "prod": "2026-10", "staging": "2026-10"},
    ("web-frontend", "ConfigMap/web-frontend-config", "data.LOG_LEVEL"):
        {"dev": "debug", "prod": "info", "staging": "info"},
    ("web-frontend", "HorizontalPodAutoscaler/web-frontend", "spec.metrics[0].resource.target.averageUtilization"):
        {"dev": 65, "prod": 60, "staging": 65},  # dev's override keeps the service's target
}
PAYMENTS_CONTAINER = "spec.template.spec.containers[payments]"


# --- building blocks ---------------------------------------------------------------------------------
def deployment(image: str = "registry.example/shop/app:1.0", env: dict[str, str] | None = None,
               config_map: str = "app-config", environment: str = "dev") -> dict[str, Any]:
    """A built Deployment as kustomize prints it, with the parts drift normalises."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "labels": {layout.LABEL_NAME: "app", layout.LABEL_ENVIRONMENT: environment}},
        "spec": {"template": {
            "metadata": {"labels": {layout.LABEL_ENVIRONMENT: environment}},
            "spec": {
                "containers": [{
                    "name": "app", "image": image,
                    "envFrom": [{"configMapRef": {"name": config_map}}],
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                }],
                "volumes": [{"name": "config", "configMap": {"name": config_map}}],
            },
        }},
    }


def config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def sealed_secret(encrypted: dict[str, str], sealed_with: str) -> dict[str, Any]:
    return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "app-secrets", "annotations": {"gitops-platform.io/sealed-with": sealed_with}},
            "spec": {"encryptedData": encrypted}}


def render(project: Path, run: Callable[..., CliResult], out: Path) -> Path:
    result = run("render", "--all", "--project", project, "--out", out)
    assert result.code == 0, result.err
    return out


def drift(run: Callable[..., CliResult], tree: Path) -> tuple[int, dict[str, Any]]:
    """``drift --output json`` of a tree rendered into its project (``<project>/gitops-repo``, the default)."""
    result = run("drift", tree, "--project", tree.parent, "--output", "json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def rows(report: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(service, object, path) -> values, from the JSON report."""
    return {(svc, d["object"], d["path"]): d["values"]
            for svc, drifts in report["services"].items() for d in drifts}


def add_to_overlay(tree: Path, service: str, env: str, file: str, doc: dict[str, Any], as_patch: bool) -> None:
    """A hand edit of one environment's overlay: a new file listed as a patch or as a resource."""
    overlay = tree / layout.overlay_dir(service, env)
    (overlay / file).write_text(yaml.safe_dump(doc))
    kustomization = yaml.safe_load((overlay / layout.KUSTOMIZATION).read_text())
    if as_patch:
        kustomization.setdefault("patches", []).append({"path": file})
    else:
        kustomization["resources"].append(file)
    (overlay / layout.KUSTOMIZATION).write_text(yaml.safe_dump(kustomization))


def payments_patch(container: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "payments"},
            "spec": {"template": {"spec": {"containers": [{"name": "payments", **container}]}}}}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The shipped example rendered once, and its drift report (read-only for this module)."""
    from gitops.cli import main

    out = tmp_path_factory.mktemp("example") / "repo"
    assert main(["render", "--all", "--out", str(out), "--project", str(REPO_ROOT)]) == 0
    return out, drift_tree(out).as_json()


@pytest.fixture
def payments_only(project: Path) -> Path:
    """The example project with one service (payments): no per-environment config, so no drift."""
    for path in (project / "services").glob("*.yaml"):
        if path.stem != "payments":
            path.unlink()
    return project


@pytest.fixture
def dev_sandbox(payments_only: Path) -> Path:
    """``payments_only`` whose catalog declares a dev config value: PAYMENT_PROVIDER sandbox (stripe elsewhere)."""
    path = payments_only / "services" / "payments.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["environments"]["dev"]["config"] = {"PAYMENT_PROVIDER": "sandbox"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return payments_only


@pytest.fixture
def tree(payments_only: Path, run: Callable[..., CliResult], tmp_path: Path) -> Path:
    """``payments_only`` rendered for every stack into its ``gitops-repo/``: a tree a test may hand-edit."""
    return render(payments_only, run, payments_only / "gitops-repo")


# --- normalising (pure) ---------------------------------------------------------------------------------
def test_a_generated_config_map_is_known_by_its_generator_name() -> None:
    objects = normalise([config_map("app-config-b76chtd69h", {"A": "1"}), deployment(config_map="app-config-b76chtd69h")])
    assert "ConfigMap/app-config" in objects


def test_references_to_a_generated_config_map_use_its_generator_name() -> None:
    built = normalise([config_map("app-config-b76chtd69h", {"A": "1"}), deployment(config_map="app-config-b76chtd69h")])
    pod = built["Deployment/app"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"configMapRef": {"name": "app-config"}}]
    assert pod["volumes"][0]["configMap"]["name"] == "app-config"


def test_a_hash_like_name_is_kept_when_the_build_generated_no_such_config_map() -> None:
    built = normalise([deployment(config_map="shared-config-b76chtd69h")])
    assert built["Deployment/app"]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == "shared-config-b76chtd69h"


@pytest.mark.parametrize(("image", "repository"), [
    ("999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments:1.4.2", "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments"),
    ("registry.local:5000/shop/payments", "registry.local:5000/shop/payments"),
    ("registry.local:5000/shop/payments:1.4.2@sha256:" + "a" * 64, "registry.local:5000/shop/payments"),
    ("payments@sha256:" + "b" * 64, "payments"),
])
def test_an_image_is_compared_without_its_tag_or_digest(image: str, repository: str) -> None:
    assert image_without_tag(image) == repository


def test_the_environment_label_is_dropped_wherever_it_appears() -> None:
    built = normalise([deployment(environment="prod")])["Deployment/app"]
    assert layout.LABEL_ENVIRONMENT not in json.dumps(built)
    assert built["metadata"]["labels"] == {layout.LABEL_NAME: "app"}


def test_normalising_leaves_the_built_objects_untouched() -> None:
    original = deployment(config_map="app-config-b76chtd69h")
    before = json.dumps(original, sort_keys=True)
    normalise([config_map("app-config-b76chtd69h", {}), original])
    assert json.dumps(original, sort_keys=True) == before


# --- comparing (pure) -----------------------------------------------------------------------------------
def test_config_maps_with_different_hash_suffixes_but_equal_data_do_not_drift() -> None:
    dev = [config_map("app-config-b76chtd69h", {"A": "1"}), deployment(config_map="app-config-b76chtd69h")]
    prod = [config_map("app-config-5g7k2m9dtf", {"A": "1"}), deployment(config_map="app-config-5g7k2m9dtf")]
    assert compare({"dev": dev, "prod": prod}) == []


def test_another_image_tag_is_not_drift() -> None:
    assert compare({"dev": [deployment(image="r.example/shop/app:1.0")],
                    "prod": [deployment(image="r.example/shop/app:2.0")]}) == []


def test_another_image_repository_is_drift() -> None:
    drifts = compare({"dev": [deployment(image="r.example/dev/app:1.0")],
                      "prod": [deployment(image="r.example/shop/app:1.0")]})
    assert [(d.path, d.values) for d in drifts] == [
        ("spec.template.spec.containers[app].image", {"dev": "r.example/dev/app", "prod": "r.example/shop/app"})]


def test_a_differing_field_in_a_named_list_is_located_by_name() -> None:
    drifts = compare({"dev": [deployment(env={"LOG": "x", "DB_HOST": "db"})],
                      "prod": [deployment(env={"LOG": "x", "DB_HOST": "db-prod"})]})
    assert [(d.object, d.path, d.values) for d in drifts] == [
        ("Deployment/app", "spec.template.spec.containers[app].env[DB_HOST].value", {"dev": "db", "prod": "db-prod"})]


def test_a_list_entry_in_one_environment_only_is_one_row_holding_the_entry() -> None:
    drifts = compare({"dev": [deployment()], "prod": [deployment(env={"DEBUG": "1"})]})
    assert [(d.path, d.values) for d in drifts] == [
        ("spec.template.spec.containers[app].env[DEBUG]", {"dev": ABSENT, "prod": {"name": "DEBUG", "value": "1"}})]


def test_every_environment_is_shown_when_one_differs_from_the_first() -> None:
    drifts = compare({"staging": [deployment(env={"A": "1"})], "dev": [deployment(env={"A": "1"})],
                      "prod": [deployment(env={"A": "2"})]})
    assert list(drifts[0].values.items()) == [("dev", "1"), ("prod", "2"), ("staging", "1")]


def test_an_object_in_one_environment_only_is_reported_as_a_whole() -> None:
    drifts = compare({"dev": [deployment()], "prod": [deployment(), config_map("extra", {"A": "1"})]})
    assert [(d.object, d.path, d.values) for d in drifts] == [("ConfigMap/extra", "", {"dev": ABSENT, "prod": PRESENT})]


def test_a_disruption_budget_in_one_environment_only_is_not_drift() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app"},
           "spec": {"maxUnavailable": 1}}
    assert compare({"dev": [deployment()], "prod": [deployment(), pdb]}) == []


def test_sealed_secrets_compare_their_key_names_not_their_values() -> None:
    assert compare({"dev": [sealed_secret({"API_KEY": "AgB1..."}, "dev-cert")],
                    "prod": [sealed_secret({"API_KEY": "AgC9..."}, "prod-cert")]}) == []


def test_a_sealed_secret_key_in_one_environment_only_is_drift() -> None:
    drifts = compare({"dev": [sealed_secret({"API_KEY": "AgB1..."}, "dev-cert")],
                      "prod": [sealed_secret({"API_KEY": "AgC9...", "EXTRA": "AgD4..."}, "prod-cert")]})
    assert [(d.path, d.values) for d in drifts] == [
        ("spec.encryptedData", {"dev": ["API_KEY"], "prod": ["API_KEY", "EXTRA"]})]


# --- the shipped example ----------------------------------------------------------------------------------
@needs_kubectl
def test_a_fresh_render_of_the_example_has_no_drift(run: Callable[..., CliResult],
                                                    example: tuple[Path, dict[str, Any]]) -> None:
    """Everything that differs there is what its catalog and stack files declare."""
    tree, _ = example
    result = run("drift", tree, "--project", REPO_ROOT)
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith("0 services drift, 0 fields")


@needs_kubectl
def test_without_its_project_drift_cannot_tell_the_declared_differences(example: tuple[Path, dict[str, Any]]) -> None:
    _, report = example
    assert EXAMPLE_DECLARED.items() <= rows(report).items()


@needs_kubectl
def test_a_declared_difference_alone_is_not_drift(dev_sandbox: Path, run: Callable[..., CliResult]) -> None:
    tree = render(dev_sandbox, run, dev_sandbox / "gitops-repo")
    assert drift(run, tree) == (0, {"services": {}, "drifting": 0, "fields": 0,
                                    "compared": {"payments": ["dev", "prod", "staging"]}})


@needs_kubectl
def test_a_hand_edit_of_a_declared_value_is_drift(dev_sandbox: Path, run: Callable[..., CliResult]) -> None:
    tree = render(dev_sandbox, run, dev_sandbox / "gitops-repo")
    kustomization = tree / layout.overlay_dir("payments", "dev") / layout.KUSTOMIZATION
    kustomization.write_text(kustomization.read_text().replace("PAYMENT_PROVIDER=sandbox", "PAYMENT_PROVIDER=mock"))
    code, report = drift(run, tree)
    assert code == 1
    assert rows(report)[("payments", "ConfigMap/payments-config", "data.PAYMENT_PROVIDER")] == \
        {"dev": "mock", "prod": "stripe", "staging": "stripe"}


@needs_kubectl
def test_a_declared_value_copied_by_hand_into_another_environment_is_drift(dev_sandbox: Path,
                                                                          run: Callable[..., CliResult]) -> None:
    """Dev declares sandbox; prod gets it by a hand edit: the differences are no longer the declared ones."""
    tree = render(dev_sandbox, run, dev_sandbox / "gitops-repo")
    kustomization = tree / layout.overlay_dir("payments", "prod") / layout.KUSTOMIZATION
    doc = yaml.safe_load(kustomization.read_text())
    doc["configMapGenerator"] = [{"name": "payments-config", "behavior": "merge",
                                  "literals": ["PAYMENT_PROVIDER=sandbox"]}]
    kustomization.write_text(yaml.safe_dump(doc))
    code, report = drift(run, tree)
    assert code == 1
    assert rows(report)[("payments", "ConfigMap/payments-config", "data.PAYMENT_PROVIDER")] == \
        {"dev": "sandbox", "prod": "sandbox", "staging": "stripe"}


def test_a_row_the_fresh_render_has_with_the_same_values_is_declared() -> None:
    declared = compare({"dev": [config_map("app-config", {"LEVEL": "debug"})],
                        "prod": [config_map("app-config", {"LEVEL": "info"})]})
    same = compare({"dev": [config_map("app-config", {"LEVEL": "debug"})],
                    "prod": [config_map("app-config", {"LEVEL": "info"})]})
    edited = compare({"dev": [config_map("app-config", {"LEVEL": "trace"})],
                      "prod": [config_map("app-config", {"LEVEL": "info"})]})
    assert declared_only(same, declared) == []
    assert [(d.path, d.values) for d in declared_only(edited, declared)] == [
        ("data.LEVEL", {"dev": "trace", "prod": "info"})]


@needs_kubectl
def test_the_example_compares_every_service_across_all_three_environments(example: tuple[Path, dict[str, Any]]) -> None:
    _, report = example
    services = sorted(p.stem for p in (REPO_ROOT / "services").glob("*.yaml"))
    assert report["compared"] == {svc: ["dev", "prod", "staging"] for svc in services}


@needs_kubectl
def test_the_examples_expected_differences_are_not_reported(example: tuple[Path, dict[str, Any]]) -> None:
    tree, report = example
    # They are there: prod has budgets and its own resources, hosts and TLS; dev has none of these.
    prod, dev = tree / layout.overlay_dir("api-gateway", "prod"), tree / layout.overlay_dir("api-gateway", "dev")
    assert (prod / "pdb.yaml").is_file() and (prod / "patch-deployment.yaml").is_file()
    assert not (dev / "pdb.yaml").exists() and "tls" not in (dev / "patch-ingress.yaml").read_text()
    reported = json.dumps(sorted(rows(report)))
    for expected in ("replicas", "resources", "image", "host", "tls", "ingressClassName", "annotations",
                     layout.LABEL_ENVIRONMENT, "PodDisruptionBudget", "Ingress/"):
        assert expected not in reported


# --- the command --------------------------------------------------------------------------------------------
@needs_kubectl
def test_a_tree_without_drift_exits_0_and_says_so(run: Callable[..., CliResult], tree: Path) -> None:
    result = run("drift", tree, "--project", tree.parent)
    assert result.code == 0
    assert result.out.splitlines() == ["0 services drift, 0 fields (1 services with two or more environments compared)"]


@needs_kubectl
def test_a_pinned_image_tag_in_one_environment_is_not_drift(payments_only: Path, run: Callable[..., CliResult],
                                                           tmp_path: Path) -> None:
    stack_file = payments_only / "Pulumi.prod.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["gitops-platform:imageTags"] = {"payments": "1.5.0"}
    stack_file.write_text(yaml.safe_dump(stack))
    tree = render(payments_only, run, payments_only / "gitops-repo")
    assert "1.5.0" in (tree / layout.overlay_dir("payments", "prod") / layout.KUSTOMIZATION).read_text()
    assert drift(run, tree) == (0, {"services": {}, "drifting": 0, "fields": 0,
                                    "compared": {"payments": ["dev", "prod", "staging"]}})


@needs_kubectl
def test_a_hand_edited_probe_in_one_overlay_is_reported_with_its_path_and_values(
        run: Callable[..., CliResult], tree: Path) -> None:
    add_to_overlay(tree, "payments", "prod", "hotfix.yaml",
                   payments_patch({"readinessProbe": {"initialDelaySeconds": 30}}), as_patch=True)
    code, report = drift(run, tree)
    assert code == 1
    assert rows(report) == {("payments", "Deployment/payments", f"{PAYMENTS_CONTAINER}.readinessProbe.initialDelaySeconds"):
                            {"dev": 5, "prod": 30, "staging": 5}}


@needs_kubectl
def test_an_env_var_added_in_one_overlay_is_reported_as_the_whole_entry(run: Callable[..., CliResult], tree: Path) -> None:
    add_to_overlay(tree, "payments", "staging", "debug.yaml",
                   payments_patch({"env": [{"name": "DEBUG", "value": "1"}]}), as_patch=True)
    code, report = drift(run, tree)
    assert code == 1
    assert rows(report) == {("payments", "Deployment/payments", f"{PAYMENTS_CONTAINER}.env[DEBUG]"):
                            {"dev": None, "prod": None, "staging": {"name": "DEBUG", "value": "1"}}}


@needs_kubectl
def test_an_extra_object_in_one_environment_is_reported(run: Callable[..., CliResult], tree: Path) -> None:
    add_to_overlay(tree, "payments", "staging", "flags.yaml", config_map("feature-flags", {"NEW_CHECKOUT": "on"}),
                   as_patch=False)
    code, report = drift(run, tree)
    assert code == 1
    assert rows(report) == {("payments", "ConfigMap/feature-flags", ""): {"dev": None, "prod": None, "staging": "present"}}


@needs_kubectl
def test_text_output_groups_lines_by_service_and_ends_with_a_summary(run: Callable[..., CliResult], tree: Path) -> None:
    add_to_overlay(tree, "payments", "prod", "hotfix.yaml",
                   payments_patch({"readinessProbe": {"initialDelaySeconds": 30}}), as_patch=True)
    result = run("drift", tree, "--project", tree.parent)
    assert result.code == 1
    assert result.out.splitlines() == [
        "payments (dev, prod, staging)",
        f"  Deployment/payments {PAYMENTS_CONTAINER}.readinessProbe.initialDelaySeconds: dev=5 prod=30 staging=5",
        "1 services drift, 1 fields (1 services with two or more environments compared)",
    ]


@needs_kubectl
def test_json_output_lists_each_drifting_field_under_its_service(run: Callable[..., CliResult], tree: Path) -> None:
    add_to_overlay(tree, "payments", "prod", "hotfix.yaml",
                   payments_patch({"readinessProbe": {"initialDelaySeconds": 30}}), as_patch=True)
    _, report = drift(run, tree)
    assert report == {
        "services": {"payments": [{"object": "Deployment/payments",
                                   "path": f"{PAYMENTS_CONTAINER}.readinessProbe.initialDelaySeconds",
                                   "values": {"dev": 5, "prod": 30, "staging": 5}}]},
        "drifting": 1,
        "fields": 1,
        "compared": {"payments": ["dev", "prod", "staging"]},
    }


@needs_kubectl
def test_without_a_project_drift_says_it_cannot_tell_what_is_declared(run: Callable[..., CliResult], tree: Path,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)   # no Pulumi.yaml here, and no --project
    result = run("drift", tree)
    assert result.code == 0
    assert result.err.startswith("note: no project here (no Pulumi.yaml): differences the catalog and stack files "
                                 "declare are reported as drift too; give --project")


def test_a_project_that_does_not_load_exits_2(run: Callable[..., CliResult], tree: Path, tmp_path: Path) -> None:
    result = run("drift", tree, "--project", tmp_path / "nowhere")
    assert (result.code, result.out) == (2, "")
    assert "not a gitops-platform project (no Pulumi.yaml)" in result.err


def test_a_missing_directory_exits_2_and_tells_how_to_render(run: Callable[..., CliResult], tmp_path: Path) -> None:
    result = run("drift", tmp_path / "nowhere")
    assert result.code == 2
    assert "no such directory" in result.err and "python -m gitops render --all --out" in result.err


def test_a_directory_that_is_not_a_rendered_tree_exits_2(run: Callable[..., CliResult], tmp_path: Path) -> None:
    result = run("drift", tmp_path)
    assert result.code == 2
    assert "apps/<service>/overlays/<env>/kustomization.yaml" in result.err and "render" in result.err


def test_a_missing_kubectl_exits_2(run: Callable[..., CliResult], tree: Path) -> None:
    result = run("drift", tree, "--project", tree.parent, "--kubectl", "no-such-kubectl")
    assert result.code == 2
    assert "'no-such-kubectl' not found" in result.err


@needs_kubectl
def test_an_overlay_that_does_not_build_exits_2_naming_it(run: Callable[..., CliResult], tree: Path) -> None:
    kustomization = tree / layout.overlay_dir("payments", "prod") / layout.KUSTOMIZATION
    doc = yaml.safe_load(kustomization.read_text())
    doc["resources"].append("missing.yaml")
    kustomization.write_text(yaml.safe_dump(doc))
    result = run("drift", tree, "--project", tree.parent)
    assert result.code == 2
    assert "apps/payments/overlays/prod: kustomize build failed" in result.err
