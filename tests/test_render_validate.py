"""The rendered example repository deploys: every overlay builds, every object
validates, and the ApplicationSets generate exactly services x environments
Applications that each point at an overlay that builds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT
from synthetic import make_project

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
pytestmark = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project rendered once for the read-only tests of this module."""
    from gitops.cli import main

    out = tmp_path_factory.mktemp("rendered") / "repo"
    assert main(["render", "--all", "--out", str(out), "--project", str(REPO_ROOT)]) == 0
    return out


@pytest.fixture()
def broken(rendered: Path, tmp_path: Path) -> Path:
    """A private copy of the rendered tree that a test may break."""
    copy = tmp_path / "repo"
    shutil.copytree(rendered, copy)
    return copy


def _services() -> list[str]:
    return sorted(p.stem for p in (REPO_ROOT / "services").glob("*.yaml"))


def _environments() -> list[str]:
    return sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))


def _validate(run, tree: Path) -> dict[str, Any]:
    # The project's own CRD schemas always apply; the upstream CRDs as well where ../shared is beside the clone.
    schemas = ["--schemas", str(SCHEMAS)] if SCHEMAS.is_dir() else []
    result = run("validate", str(tree), *schemas, "--output", "json")
    return {"code": result.code, **json.loads(result.out)}


def test_the_example_catalog_has_at_least_ten_services_of_two_or_more_teams() -> None:
    import yaml

    teams = {yaml.safe_load(p.read_text())["team"] for p in (REPO_ROOT / "services").glob("*.yaml")}
    assert len(_services()) >= 10 and len(teams) >= 2


def test_the_rendered_example_validates(run, rendered: Path) -> None:
    report = _validate(run, rendered)
    assert report["code"] == 0, report["problems"]
    assert report["problems"] == []
    assert report["objects"] > 100


def test_apps_lists_one_application_per_service_and_environment(run, rendered: Path) -> None:
    result = run("apps", str(rendered), "--output", "json")
    assert result.code == 0
    apps = json.loads(result.out)["applications"]
    expected = {f"{s}-{e}" for s in _services() for e in _environments()}
    assert sorted(a["name"] for a in apps) == sorted(expected)


def test_every_application_points_at_its_own_existing_overlay(run, rendered: Path) -> None:
    apps = json.loads(run("apps", str(rendered), "--output", "json").out)["applications"]
    for app in apps:
        service, env = app["name"].rsplit("-", 1)
        assert app["path"] == f"apps/{service}/overlays/{env}"
        assert (rendered / app["path"] / "kustomization.yaml").is_file()
        assert app["project"].endswith(f"-{env}")


def test_applications_use_the_team_project_and_namespace(run, rendered: Path) -> None:
    import yaml

    apps = json.loads(run("apps", str(rendered), "--output", "json").out)["applications"]
    payments = next(a for a in apps if a["name"] == "payments-prod")
    team = yaml.safe_load((REPO_ROOT / "services" / "payments.yaml").read_text())["team"]
    assert payments["project"] == f"{team}-prod"
    assert payments["namespace"] == team


def test_a_broken_overlay_fails_validation_naming_it(run, broken: Path) -> None:
    kustomization = broken / "apps/cart/overlays/staging/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("../../base", "../../no-such-base"))
    report = _validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "apps/cart/overlays/staging" for p in report["problems"])


def test_an_invalid_object_in_an_overlay_fails_validation_naming_it(run, broken: Path) -> None:
    patch = broken / "apps/payments/overlays/prod/patch-hpa.yaml"
    patch.write_text(patch.read_text().replace("minReplicas: 3", "minReplicas: three"))
    report = _validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "apps/payments/overlays/prod" and "minReplicas" in p["message"]
               for p in report["problems"])


def test_a_broken_applicationset_template_fails_validation_naming_it(run, broken: Path) -> None:
    appset = broken / "argocd/prod/applicationset-checkout.yaml"
    appset.write_text(appset.read_text().replace("{{.namespace}}", "{{.namespaec}}"))
    report = _validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "argocd/prod" and "services-checkout-prod" in p["message"] and "namespaec" in p["message"]
               for p in report["problems"])


def test_an_unknown_field_in_an_applicationset_fails_crd_validation(run, broken: Path) -> None:
    appset = broken / "argocd/dev/applicationset-checkout.yaml"
    appset.write_text(appset.read_text().replace("goTemplate: true", "goTemplate: true\n  goTemplat: true"))
    report = _validate(run, broken)
    assert report["code"] == 1
    assert any(p["where"] == "argocd/dev" and "goTemplat" in p["message"] for p in report["problems"])


def test_an_application_whose_project_is_missing_fails_validation(run, broken: Path) -> None:
    (broken / "argocd/dev/project-checkout.yaml").unlink()
    kustomization = broken / "argocd/dev/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- project-checkout.yaml\n", ""))
    report = _validate(run, broken)
    assert report["code"] == 1
    assert any("checkout-dev" in p["message"] for p in report["problems"])


def test_an_application_whose_overlay_is_gone_fails_validation(run, broken: Path) -> None:
    (broken / "apps/orders/overlays/dev/kustomization.yaml").unlink()
    report = _validate(run, broken)
    assert report["code"] == 1
    assert any("orders-dev" in p["message"] and "apps/orders/overlays/dev" in p["message"]
               for p in report["problems"])


def test_validate_of_a_missing_directory_is_bad_input(run, tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope"))
    assert result.code == 2 and "no such directory" in result.err


def test_apps_refuses_a_generator_it_does_not_support(run, broken: Path) -> None:
    appset = broken / "argocd/dev/applicationset-checkout.yaml"
    text = appset.read_text().replace("  - git:\n", "  - plugin:\n      configMapRef:\n        name: x\n  - git:\n", 1)
    appset.write_text(text)
    result = run("apps", str(broken))
    assert result.code == 2
    assert "plugin" in result.err and "services-checkout-dev" in result.err


@pytest.mark.parametrize("services,name_length", [(60, 0), (3, 40)], ids=["sixty services", "forty-character names"])
def test_larger_and_longer_named_catalogs_render_and_validate_without_edits(
    run, tmp_path: Path, services: int, name_length: int
) -> None:
    project = make_project(tmp_path / "project", services, name_length)
    out = tmp_path / "repo"
    assert run("render", "--all", "--out", str(out), "--project", str(project)).code == 0
    report = _validate(run, out)
    assert report["code"] == 0, report["problems"][:5]
    assert len(report["applications"]) == services * len(_environments())
    if name_length:
        assert all(len(a["name"].rsplit("-", 1)[0]) == name_length for a in report["applications"])
