"""The catalog's secrets through ``render``: sealed per environment, stable, never in plaintext.

The cluster certificate is published the way ``pulumi up`` does it (the GitOps
provider writes ``clusters/<cluster>/sealed-secrets-cert.pem``); values come
from a file outside the project or from environment variables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from components.gitops_repo import GitOpsFilesProvider
from gitops.project import load_project
from gitops.sealing import UnsealError, stability_key, unseal_sealed_secret
from pulumi_harness import mock_key_pair, rsa_private_key
from synthetic import make_project
from test_sealing_core import certificate_pem, new_key

SECRET_SERVICES = ("email-worker", "inventory", "orders", "payments")
SECRETS_CHECKSUM = "gitops-platform.io/secrets-checksum"
CONFIG_CHECKSUM = "gitops-platform.io/config-checksum"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def dev_key() -> rsa.RSAPrivateKey:
    return rsa_private_key(mock_key_pair()[0])


@pytest.fixture
def publish(out: Path) -> Callable[[str, str, str], None]:
    """``publish(stack, cluster, cert_pem)``: what ``pulumi up`` writes into ``clusters/<cluster>/``."""
    def _publish(stack: str, cluster: str, pem: str) -> None:
        GitOpsFilesProvider().create({
            "checkout": str(out), "stack": stack, "environment": stack, "prefixes": [f"clusters/{cluster}/"],
            "repoUrl": "https://github.com/example-shop/gitops.git", "repoPath": ".",
            "files": {f"clusters/{cluster}/sealed-secrets-cert.pem": pem},
        })
    return _publish


def values_for(project: Path, tag: str = "v1") -> dict[str, dict[str, str]]:
    catalog = load_project(project).catalog
    return {s.name: {n: f"plain-{tag}-{s.name}-{n}" for n in s.secrets} for s in catalog.services if s.secrets}


@pytest.fixture
def secrets_file(tmp_path: Path, project: Path) -> Callable[..., Path]:
    """A values file outside the project: ``secrets_file(tag="v1", stability=True)``."""
    def _write(tag: str = "v1", stability: bool = True) -> Path:
        doc: dict[str, Any] = {"services": values_for(project, tag)}
        if stability:
            doc["stabilityKey"] = stability_key(rsa_private_key(mock_key_pair()[0])).hex()
        path = tmp_path / "outside" / f"secrets-{tag}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(doc))
        return path
    return _write


@pytest.fixture
def render(run, project: Path, out: Path):
    def _render(*argv: object, code: int = 0):
        result = run("render", *argv, "--project", project, "--out", out)
        assert result.code == code, result.err
        return result
    return _render


def sealed_doc(out: Path, service: str, env: str = "dev") -> dict[str, Any]:
    text = (out / f"apps/{service}/overlays/{env}/sealedsecret.yaml").read_text()
    return yaml.safe_load(text)


def test_without_a_certificate_secrets_are_pending_and_the_render_says_so(render, out: Path) -> None:
    result = render("--all")
    assert "secrets of email-worker, inventory, orders, payments are not sealed yet" in result.err
    assert not list(out.rglob("sealedsecret.yaml"))


def test_a_long_list_of_pending_secrets_is_cut_short_in_the_warning_and_whole_in_json(run, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", 60)   # every sixth service has secrets: 10 of them
    argv = ("render", "--stack", "dev", "--project", project, "--out", tmp_path / "repo", "--dry-run")
    result = run(*argv)
    assert result.code == 0, result.err
    assert ("dev: secrets of svc-0000, svc-0006, svc-0012, svc-0018, svc-0024, svc-0030, svc-0036, svc-0042 "
            "and 2 more are not sealed yet") in result.err
    report = json.loads(run(*argv, "--output", "json").out)
    assert len(report["stacks"][0]["pendingSecrets"]) == 10


def test_values_are_sealed_into_each_overlay_and_open_with_the_clusters_key(
        render, publish, secrets_file, project: Path, out: Path, dev_key) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    expected = values_for(project)
    for service in SECRET_SERVICES:
        doc = sealed_doc(out, service)
        assert doc["metadata"]["namespace"] == next(s.namespace for s in load_project(project).catalog.services if s.name == service)
        opened = unseal_sealed_secret(doc, [dev_key])
        assert {k: v.decode() for k, v in opened.items()} == expected[service]
        kustomization = yaml.safe_load((out / f"apps/{service}/overlays/dev/kustomization.yaml").read_text())
        assert "sealedsecret.yaml" in kustomization["resources"]


def test_a_value_sealed_for_dev_does_not_open_with_the_prod_key(render, publish, secrets_file, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    with pytest.raises(UnsealError):
        unseal_sealed_secret(sealed_doc(out, "payments"), [new_key()])


def test_a_sealed_secret_moved_to_another_namespace_does_not_open(render, publish, secrets_file, out: Path, dev_key) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    doc = sealed_doc(out, "payments")
    doc["metadata"]["namespace"] = "elsewhere"
    with pytest.raises(UnsealError):
        unseal_sealed_secret(doc, [dev_key])


def test_no_plaintext_reaches_the_tree(render, publish, secrets_file, project: Path, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    result = render("--stack", "dev", "--secrets", secrets_file())
    plaintexts = [v for values in values_for(project).values() for v in values.values()]
    for path in out.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(p.encode() in content for p in plaintexts), path
    assert not any(p in result.out + result.err for p in plaintexts)


def test_re_rendering_the_same_values_leaves_sealed_files_byte_identical(
        render, publish, secrets_file, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    first = {p: p.read_bytes() for p in out.rglob("sealedsecret.yaml")}
    report = json.loads(render("--stack", "dev", "--secrets", secrets_file(), "--output", "json").out)
    assert report["stacks"][0]["updated"] == [] and report["stacks"][0]["created"] == []
    assert {p: p.read_bytes() for p in out.rglob("sealedsecret.yaml")} == first


def test_a_changed_value_re_seals_and_rolls_only_that_environments_services(render, publish, secrets_file, out: Path) -> None:
    """Each re-sealed service's pod template checksum changes with it, so its pods restart with the new value."""
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file("v1"))
    before = {s: checksums(out, s) for s in SECRET_SERVICES}
    report = json.loads(render("--stack", "dev", "--secrets", secrets_file("v2"), "--output", "json").out)
    assert sorted(report["stacks"][0]["updated"]) == sorted(
        f"apps/{s}/overlays/dev/{name}" for s in SECRET_SERVICES for name in ("sealedsecret.yaml", "patch-checksums.yaml"))
    after = {s: checksums(out, s) for s in SECRET_SERVICES}
    assert all(before[s][SECRETS_CHECKSUM] != after[s][SECRETS_CHECKSUM] for s in SECRET_SERVICES)
    assert all(before[s].get(CONFIG_CHECKSUM) == after[s].get(CONFIG_CHECKSUM) for s in SECRET_SERVICES)


def test_a_render_without_values_keeps_the_checksum_of_what_was_sealed(render, publish, secrets_file, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    before = {s: checksums(out, s) for s in SECRET_SERVICES}
    render("--stack", "dev")
    assert {s: checksums(out, s) for s in SECRET_SERVICES} == before


def checksums(out: Path, service: str, env: str = "dev") -> dict[str, str]:
    """The pod template annotations the overlay's checksum patch sets."""
    patch = yaml.safe_load((out / f"apps/{service}/overlays/{env}/patch-checksums.yaml").read_text())
    return patch["spec"]["template"]["metadata"]["annotations"]


def test_a_render_without_values_keeps_what_was_sealed(render, publish, secrets_file, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    before = {p: p.read_bytes() for p in out.rglob("sealedsecret.yaml")}
    report = json.loads(render("--all", "--output", "json").out)
    dev = next(s for s in report["stacks"] if s["stack"] == "dev")
    assert dev["updated"] == [] and dev["deleted"] == []
    assert {p: p.read_bytes() for p in out.rglob("sealedsecret.yaml")} == before


def test_a_missing_value_names_the_service_the_environment_and_the_command(render, publish, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    result = render("--all", code=2)
    assert "service payments needs secret STRIPE_API_KEY in environment dev" in result.err
    assert "pulumi config set --stack dev --secret --path 'gitops-platform:secrets.payments.STRIPE_API_KEY'" in result.err
    assert not (out / "apps").exists()


def test_a_new_certificate_needs_the_values_again(render, publish, secrets_file, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    publish_new = certificate_pem(new_key()).decode()
    GitOpsFilesProvider().update("id", {}, {
        "checkout": str(out), "stack": "dev", "environment": "dev", "prefixes": ["clusters/shop-dev/"],
        "repoUrl": "https://github.com/example-shop/gitops.git", "repoPath": ".",
        "files": {"clusters/shop-dev/sealed-secrets-cert.pem": publish_new},
    })
    result = render("--stack", "dev", code=2)
    assert "needs secret" in result.err


def test_values_can_come_from_the_environment(render, publish, project: Path, out: Path, dev_key,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    for service, values in values_for(project).items():
        for name, value in values.items():
            monkeypatch.setenv(f"GITOPS_SECRET_{service.upper().replace('-', '_')}__{name}", value)
    render("--stack", "dev")
    opened = unseal_sealed_secret(sealed_doc(out, "email-worker"), [dev_key])
    assert {k: v.decode() for k, v in opened.items()} == values_for(project)["email-worker"]


def add_billing_services(project: Path) -> None:
    """``billing`` (API_KEY) and ``billing-api`` (KEY): the old variable form gave both GITOPS_SECRET_BILLING_API_KEY."""
    orders = (project / "services/orders.yaml").read_text()
    assert orders.count("secrets: [DATABASE_PASSWORD]") == 1
    (project / "services/billing.yaml").write_text(orders.replace("secrets: [DATABASE_PASSWORD]", "secrets: [API_KEY]"))
    (project / "services/billing-api.yaml").write_text(orders.replace("secrets: [DATABASE_PASSWORD]", "secrets: [KEY]"))


def test_services_whose_names_concatenate_alike_each_read_their_own_variable(
        render, publish, secrets_file, project: Path, out: Path, dev_key,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_billing_services(project)
    publish("dev", "shop-dev", mock_key_pair()[1])
    monkeypatch.setenv("GITOPS_SECRET_BILLING__API_KEY", "billing-team-value")
    monkeypatch.setenv("GITOPS_SECRET_BILLING_API__KEY", "billing-api-team-value")
    render("--stack", "dev", "--secrets", secrets_file())
    assert unseal_sealed_secret(sealed_doc(out, "billing"), [dev_key]) == {"API_KEY": b"billing-team-value"}
    assert unseal_sealed_secret(sealed_doc(out, "billing-api"), [dev_key]) == {"KEY": b"billing-api-team-value"}


def test_the_old_ambiguous_variable_form_is_refused_naming_the_new_one(
        render, publish, secrets_file, project: Path, out: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_billing_services(project)
    publish("dev", "shop-dev", mock_key_pair()[1])
    monkeypatch.setenv("GITOPS_SECRET_BILLING_API_KEY", "whose-value-is-this")
    result = render("--stack", "dev", "--secrets", secrets_file(), code=2)
    lines = result.err.splitlines()
    assert lines[0].startswith("Error: GITOPS_SECRET_BILLING_API_KEY: ") and len(lines) == 1, result.err
    assert "GITOPS_SECRET_BILLING__API_KEY (secret API_KEY of service billing)" in result.err
    assert "GITOPS_SECRET_BILLING_API__KEY (secret KEY of service billing-api)" in result.err
    assert "whose-value-is-this" not in result.err
    assert not list(out.rglob("sealedsecret.yaml"))


def test_a_values_file_inside_the_project_is_refused(render, project: Path) -> None:
    inside = project / "secrets.yaml"
    inside.write_text("services: {}\n")
    result = render("--stack", "dev", "--secrets", inside, code=2)
    assert "keep secret values outside the project" in result.err


def test_the_sealed_overlays_build_and_validate(render, publish, secrets_file, run, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    render("--stack", "dev", "--secrets", secrets_file())
    result = run("validate", out, "--output", "json")
    assert result.code == 0, result.out + result.err


def test_render_carries_forward_the_certificate_pulumi_published(render, publish, secrets_file, out: Path) -> None:
    publish("dev", "shop-dev", mock_key_pair()[1])
    report = json.loads(render("--stack", "dev", "--secrets", secrets_file(), "--output", "json").out)
    assert "clusters/shop-dev/sealed-secrets-cert.pem" not in report["stacks"][0]["deleted"]
    assert (out / "clusters/shop-dev/sealed-secrets-cert.pem").read_text() == mock_key_pair()[1]
    record = json.loads((out / ".gitops-platform/dev.json").read_text())["files"]
    assert "clusters/shop-dev/sealed-secrets-cert.pem" in record
