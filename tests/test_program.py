"""The whole program (``__main__.py``) under Pulumi's mocks, once per shipped stack.

Config is fed the way the CLI would: project defaults from Pulumi.yaml, then
the stack file, structured values as JSON, ``secure`` values as secret keys.
"""

from __future__ import annotations

import fnmatch
import json
import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components import charts
from conftest import REPO_ROOT
from gitops.project import load_project
from gitops.render import RenderResult, notifications, render_stack
from gitops.render.secrets import sealed_secret_file
from gitops.sealing import UnsealError, load_certificate, stability_key, unseal_sealed_secret
from pulumi_harness import (  # noqa: F401  (program: the fixture)
    PLAINTEXT_MARK,
    Export,
    RecordingMocks,
    engine_config,
    mock_key_pair,
    plain_strings,
    program,
    rsa_private_key,
    secret_values,
)
from pulumi_harness import project_copy as _project_copy

STACKS = ("dev", "staging", "prod")
FILES = "pulumi-python:dynamic/gitops:Files"
RELEASE = "kubernetes:helm.sh/v3:Release"
REPOSITORY = "aws:ecr/repository:Repository"
NS = "gitops-platform"
SECRETS = f"{NS}:secrets"


def expected_render(root: Path, stack_name: str) -> RenderResult:
    """What ``render`` writes for the stack once the mock cluster key exists and the test values are set."""
    project = load_project(root)
    stack = project.stack(stack_name)
    key_pem, cert_pem = mock_key_pair()
    cert = load_certificate(cert_pem.encode(), "mock certificate")
    derivation = stability_key(rsa_private_key(key_pem))
    values = secret_values(root, stack_name)
    sealed = {s.name: sealed_secret_file(s, stack, cert, {k: v.encode() for k, v in values[s.name].items()}, derivation)
              for s in project.catalog.services if s.secrets}
    if notifications.secret_names(stack):
        credentials = {k: v.encode() for k, v in values[notifications.SECRETS_ENTRY].items()}
        sealed[notifications.SECRETS_ENTRY] = notifications.secret_file(stack, cert, credentials, derivation)
    return render_stack(project, stack, sealing_cert=cert_pem, sealed=sealed)


def _files(mocks: RecordingMocks) -> dict[str, dict[str, str]]:
    return {r.name: r.inputs["files"] for r in mocks.of_type(FILES)}


def _resolve(export: Export) -> Any:
    return export.value


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_registers_cluster_sealing_argocd_and_gitops_resources(program, stack: str) -> None:
    mocks, _ = program(stack)
    types = Counter(r.typ for r in mocks.registrations)
    services = len(list((REPO_ROOT / "services").glob("*.yaml")))
    for typ in ("gitops-platform:registry:Registry", "gitops-platform:cluster:Cluster",
                "gitops-platform:sealing:SealingKey", "gitops-platform:argocd:ArgoCD",
                "gitops-platform:gitops:GitOpsRepo", "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup",
                "pulumi:providers:kubernetes", "tls:index/privateKey:PrivateKey", "kubernetes:core/v1:Secret"):
        assert types[typ] >= 1, typ
    # Argo CD, Image Updater, root Application, sealed-secrets, load balancer controller, Cluster Autoscaler,
    # and Argo Rollouts (the example's web-frontend rolls out as a canary).
    assert types[RELEASE] == 7
    assert types[FILES] == services + 2


def test_only_the_registry_owner_stack_creates_repositories_and_they_are_immutable(program) -> None:
    owner, _ = program("dev")
    repos = owner.of_type(REPOSITORY)
    assert len(repos) == len(list((REPO_ROOT / "services").glob("*.yaml")))
    assert {r.inputs["imageTagMutability"] for r in repos} == {"IMMUTABLE"}
    prod, outputs = program("prod")
    assert prod.of_type(REPOSITORY) == []
    assert _resolve(outputs["ecrRepositoryUrls"])["payments"] == "999999999999.dkr.ecr.eu-west-1.amazonaws.com/shop/payments"


def test_the_owner_grants_pull_to_every_account_that_uses_the_registry(program) -> None:
    mocks, _ = program("dev")
    policy = json.loads(mocks.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")[0].inputs["policy"])
    principals = set(policy["Statement"][0]["Principal"]["AWS"])
    assert {f"arn:aws:iam::{a}:root" for a in ("111111111111", "222222222222", "333333333333")} <= principals


ECR_TYPES = (REPOSITORY, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy")


def test_the_owner_creates_the_registry_in_its_account_as_the_configured_role_not_in_the_stacks(program) -> None:
    mocks, _ = program("dev")   # dev deploys into 111111111111; its registry is 999999999999
    dev = load_project(REPO_ROOT).stack("dev")
    [provider] = mocks.of_type("pulumi:providers:aws")
    assert [r["roleArn"] for r in json.loads(provider.inputs["assumeRoles"])] == [dev.registry.role_arn]
    assert dev.registry.role_arn is not None and dev.registry.role_arn.split(":")[4] == "999999999999"
    assert provider.inputs["region"] == dev.registry.region
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["999999999999"]
    reference = mocks.links_of(provider).urn + "::"
    for typ in ECR_TYPES:
        assert mocks.of_type(typ) and all(r.provider.startswith(reference) for r in mocks.of_type(typ)), typ


def _lifecycle_rules(mocks: RecordingMocks) -> dict[str, list[dict[str, Any]]]:
    return {r.inputs["repository"]: json.loads(r.inputs["policy"])["rules"]
            for r in mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")}


def _running_tags(root: Path) -> dict[str, set[str]]:
    """Repository -> the catalog's tag and the tag every stack runs by config."""
    project = load_project(root)
    tags: dict[str, set[str]] = {}
    for service in project.catalog.services:
        tags.setdefault(f"shop/{service.image_repository}", {service.image_tag}).update(
            stack.image_tag(service) for stack in project.stacks)
    return tags


def _assert_kept_first(rules: list[dict[str, Any]], tag: str) -> None:
    """ECR applies to an image the lowest-priority rule whose tag selection matches it; that must keep it."""
    ordered = sorted(rules, key=lambda r: r["rulePriority"])
    first = next(r for r in ordered if r["selection"]["tagStatus"] == "tagged"
                 and all(fnmatch.fnmatchcase(tag, p) for p in r["selection"]["tagPatternList"]))
    assert first["selection"]["tagPatternList"] == [tag], (tag, first)
    assert first["selection"]["countType"] == "imageCountMoreThan" and first["selection"]["countNumber"] >= 1


def test_the_owners_lifecycle_policies_keep_every_tag_any_shipped_stack_runs(program) -> None:
    mocks, _ = program("dev")
    rules = _lifecycle_rules(mocks)
    running = _running_tags(REPO_ROOT)
    assert set(rules) == set(running)
    for repo, tags in running.items():
        for tag in tags:
            _assert_kept_first(rules[repo], tag)


def test_tags_other_stacks_pin_are_kept_by_the_owners_lifecycle_policy(program, tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    with (root / "Pulumi.prod.yaml").open("a") as prod:
        prod.write(f'  {NS}:imageTags:\n    payments: "1.3.9"\n    cart: "4.0.2"\n')
    with (root / "Pulumi.staging.yaml").open("a") as staging:
        staging.write(f'  {NS}:imageTags:\n    payments: "1.4.1"\n')
    mocks, _ = program("dev", root=root)
    rules = _lifecycle_rules(mocks)
    for tag in ("1.3.9", "1.4.1", "1.4.2"):
        _assert_kept_first(rules["shop/payments"], tag)
    for tag in ("4.0.2", "4.1.0"):
        _assert_kept_first(rules["shop/cart"], tag)


def test_no_lifecycle_rule_of_the_shipped_owner_expires_tagged_images_by_count(program) -> None:
    mocks, _ = program("dev")
    for repo, rules in _lifecycle_rules(mocks).items():
        for rule in rules:
            sel = rule["selection"]
            assert sel["tagStatus"] in ("tagged", "untagged"), repo
            if sel["tagStatus"] == "tagged":
                # Only the keep rules of exact pinned tags: no wildcard, so no catch-all over releases.
                assert len(sel["tagPatternList"]) == 1 and "*" not in sel["tagPatternList"][0], (repo, rule)


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_is_installed_at_its_pinned_version(program, stack: str) -> None:
    mocks, _ = program(stack)
    pins = {(c.name, c.version) for c in charts.ALL}
    installed = {(r.inputs["chart"], r.inputs["version"]) for r in mocks.of_type(RELEASE)}
    assert installed <= pins
    # Every chart is installed, the Cluster Autoscaler at the one pin for the stack's Kubernetes version.
    assert {name for name, _ in installed} == {c.name for c in charts.ALL}


def _release(mocks: RecordingMocks, chart: str):
    return next(r for r in mocks.of_type(RELEASE) if r.inputs["chart"] == chart)


def test_the_sealing_key_secret_exists_before_the_controller_starts(program) -> None:
    mocks, _ = program("dev")
    key = next(r for r in mocks.of_type("kubernetes:core/v1:Secret")
               if r.inputs.get("metadata", {}).get("labels", {}).get("sealedsecrets.bitnami.com/sealed-secrets-key") == "active")
    assert mocks.depends_on(_release(mocks, "sealed-secrets"), key)


def test_the_root_application_is_installed_after_argo_cd(program) -> None:
    mocks, _ = program("dev")
    assert mocks.depends_on(_release(mocks, "argocd-apps"), _release(mocks, "argo-cd"))
    root_apps = _release(mocks, "argocd-apps").inputs["values"]["applications"]
    assert [app["source"]["path"] for app in root_apps.values()] == ["argocd/dev"]


def test_argo_cd_is_highly_available_only_where_the_stack_asks_for_it(program) -> None:
    prod, _ = program("prod")
    dev, _ = program("dev")
    assert _release(prod, "argo-cd").inputs["values"]["redis-ha"]["enabled"] is True
    assert "redis-ha" not in _release(dev, "argo-cd").inputs["values"]


def test_argo_cd_serves_https_on_its_alb_only_where_the_stack_asks_for_tls(program) -> None:
    staging, staging_outputs = program("staging")
    dev, dev_outputs = program("dev")
    https = _release(staging, "argo-cd").inputs["values"]["server"]["ingress"]
    # The host only: the ALB controller discovers the certificate in ACM by it (no Secret to create).
    assert https["extraTls"] == [{"hosts": ["argocd.staging.shop.example.com"]}] and https["ingressClassName"] == "alb"
    assert https["annotations"]["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTP": 80}, {"HTTPS": 443}]'
    assert https["annotations"]["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert _resolve(staging_outputs["argocdUrl"]) == "https://argocd.staging.shop.example.com"
    plain = _release(dev, "argo-cd").inputs["values"]["server"]["ingress"]
    assert "extraTls" not in plain and "alb.ingress.kubernetes.io/listen-ports" not in plain["annotations"]
    assert _resolve(dev_outputs["argocdUrl"]) == "http://argocd.dev.shop.example.com"


def test_a_stacks_certificate_arn_becomes_argo_cds_alb_certificate(program) -> None:
    certificate = "arn:aws:acm:eu-west-1:222222222222:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    ingress = {"domain": "staging.shop.example.com", "className": "alb", "tls": True, "certificateArn": certificate}
    mocks, _ = program("staging", extra={f"{NS}:ingress": json.dumps(ingress)})
    annotations = _release(mocks, "argo-cd").inputs["values"]["server"]["ingress"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == certificate


@pytest.mark.parametrize("stack", STACKS)
def test_in_cluster_resources_use_the_clusters_provider(program, stack: str) -> None:
    mocks, _ = program(stack)
    providers = mocks.of_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    provider_urn = mocks.links_of(providers[0]).urn
    in_cluster = [r for r in mocks.registrations if r.typ.startswith("kubernetes:")]
    assert in_cluster
    for reg in in_cluster:
        assert reg.provider.startswith(provider_urn + "::"), reg.name


@pytest.mark.parametrize("stack", STACKS)
def test_the_gitops_resources_hold_exactly_what_render_writes_for_the_stack(program, stack: str) -> None:
    mocks, _ = program(stack)
    expected = expected_render(REPO_ROOT, stack)
    registered: dict[str, str] = {}
    for files in _files(mocks).values():
        assert not set(files) & set(registered), "a path is in two resources"
        registered.update(files)
    assert registered == {m.path: m.content.decode() for m in expected.files}


def test_a_one_line_change_to_one_services_environment_config_changes_exactly_one_resource(
        program, tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    before, _ = program("prod", root=root)
    path = root / "services" / "payments.yaml"
    path.write_text(path.read_text().replace("autoscaling: {minReplicas: 3, maxReplicas: 12}",
                                             "autoscaling: {minReplicas: 4, maxReplicas: 12}"))
    after, _ = program("prod", root=root)
    old, new = _files(before), _files(after)
    assert sorted(old) == sorted(new)
    assert [name for name in old if old[name] != new[name]] == ["gitops-service-payments"]
    changed_inputs = [r.name for r in after.registrations
                      if r.inputs != next(b.inputs for b in before.registrations if (b.typ, b.name) == (r.typ, r.name))]
    assert changed_inputs == ["gitops-service-payments"]


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_appear_only_as_secret_outputs(program, stack: str) -> None:
    mocks, outputs = program(stack)
    key_pem = mock_key_pair()[0]
    secret_outputs = ("kubeconfig", "sealingPrivateKey", "sealingStabilityKey")
    for name in secret_outputs:
        assert outputs[name].secret, name
    for name, export in outputs.items():
        if name in secret_outputs:
            continue
        assert not export.secret, name
        assert "PRIVATE KEY" not in json.dumps(export.value, default=str), name
    for files in _files(mocks).values():
        assert all(key_pem not in content and "PRIVATE KEY" not in content for content in files.values())


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_name_the_cluster_certificate_and_gitops_paths(program, stack: str) -> None:
    _, outputs = program(stack)
    project = load_project(REPO_ROOT)
    s = project.stack(stack)
    assert _resolve(outputs["clusterName"]) == s.cluster.name
    assert _resolve(outputs["clusterEndpoint"]).startswith("https://")
    assert _resolve(outputs["sealingCertificate"]).startswith("-----BEGIN CERTIFICATE-----")
    assert _resolve(outputs["argocdUrl"]) == f"{'https' if s.ingress.tls else 'http'}://argocd.{s.ingress.domain}"
    paths = _resolve(outputs["gitopsPaths"])
    assert f"argocd/{s.environment}/" in paths and f"clusters/{s.cluster.name}/" in paths


def test_credentials_of_another_account_stop_the_program_before_any_resource(program, pulumi_mocks) -> None:
    config, secret = engine_config(REPO_ROOT, "prod")
    config[SECRETS] = json.dumps(secret_values(REPO_ROOT, "prod"))
    pulumi.runtime.set_all_config(config, [*secret, SECRETS])
    mocks = pulumi_mocks(stack="prod", account_id="444444444444")

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")

    with pytest.raises(pulumi.RunError, match=r"333333333333.*444444444444"):
        run()
    assert [r for r in mocks.registrations if r.custom] == []


def test_bad_stack_config_stops_the_program_with_file_and_key(program) -> None:
    with pytest.raises(pulumi.RunError, match=r"Pulumi\.dev\.yaml.*workloads\.replicas"):
        program("dev", extra={f"{NS}:workloads": json.dumps({"replicas": 0})})


def test_a_stack_added_later_runs_unchanged(program, tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    text = (root / "Pulumi.staging.yaml").read_text()
    text = (text.replace("gitops-platform:environment: staging", "gitops-platform:environment: qa")
                .replace("shop-staging", "shop-qa").replace("10.20.0.0/16", "10.40.0.0/16")
                .replace("staging.shop.example.com", "qa.shop.example.com"))
    (root / "Pulumi.qa.yaml").write_text(text)
    mocks, outputs = program("qa", root=root)
    assert _resolve(outputs["clusterName"]) == "shop-qa"
    paths = {p for files in _files(mocks).values() for p in files}
    assert "argocd/qa/applicationset-checkout.yaml" in paths
    assert "apps/payments/overlays/qa/kustomization.yaml" in paths


def test_a_preview_knows_every_file_that_needs_no_certificate_before_anything_exists(program) -> None:
    mocks, _ = program("prod", preview=True)
    project = load_project(REPO_ROOT)
    with_secrets = {f"gitops-service-{s.name}" for s in project.catalog.services if s.secrets}
    plain = render_stack(project, project.stack("prod"))   # without the sealed files
    known_slices = [reg for reg in mocks.of_type(FILES) if isinstance(reg.inputs.get("files"), dict)]
    known = {path: content for reg in known_slices for path, content in reg.inputs["files"].items()}
    # prod's Argo CD notifies Slack: its argocd/prod/ holds the token sealed for the cluster that does not exist yet.
    assert notifications.secret_names(project.stack("prod"))
    assert {reg.name for reg in mocks.of_type(FILES)} - {reg.name for reg in known_slices} == \
        with_secrets | {"gitops-cluster", "gitops-argocd"}
    secret_dirs = (*(f"apps/{name[len('gitops-service-'):]}/" for name in with_secrets), "argocd/prod/")
    assert known == {m.path: m.content.decode() for m in plain.files if not m.path.startswith(secret_dirs)}


def test_a_configured_kms_key_encrypts_the_repositories(program) -> None:
    key = "arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    registry = {"accountId": "999999999999", "region": "eu-west-1", "prefix": "shop", "owner": True,
                "immutableTags": True, "kmsKeyArn": key, "roleArn": "arn:aws:iam::999999999999:role/registry"}
    mocks, _ = program("dev", extra={f"{NS}:registry": json.dumps(registry)})
    repos = mocks.of_type(REPOSITORY)
    assert repos and all(r.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]
                         for r in repos)


def test_an_owner_without_a_role_in_the_registry_account_stops_before_any_resource(program) -> None:
    registry = {"accountId": "999999999999", "prefix": "shop", "owner": True, "immutableTags": True}
    with pytest.raises(pulumi.RunError, match=r"Pulumi\.dev\.yaml.*registry\.roleArn: is required.*"
                                              r"arn:aws:iam::999999999999:role/<name>"):
        program("dev", extra={f"{NS}:registry": json.dumps(registry)})


def test_a_malformed_kms_key_is_a_config_error(program) -> None:
    registry = {"accountId": "999999999999", "owner": True, "immutableTags": True, "kmsKeyArn": "my-key"}
    with pytest.raises(pulumi.RunError, match=r"registry\.kmsKeyArn.*KMS key ARN"):
        program("dev", extra={f"{NS}:registry": json.dumps(registry)})


@pytest.mark.parametrize("stack", STACKS)
def test_secret_values_never_appear_in_plain_in_any_resource_or_output(program, stack: str) -> None:
    mocks, outputs = program(stack)
    for reg in mocks.registrations:
        assert not any(PLAINTEXT_MARK in text for text in plain_strings(reg.inputs)), reg.name
    for name, export in outputs.items():
        assert PLAINTEXT_MARK not in json.dumps(export.value, default=str), name


def test_the_sealed_files_open_with_the_clusters_key_to_the_configured_values(program) -> None:
    mocks, _ = program("prod")
    key = rsa_private_key(mock_key_pair()[0])
    doc = yaml.safe_load(mocks.named("gitops-service-payments").inputs["files"]["apps/payments/overlays/prod/sealedsecret.yaml"])
    opened = unseal_sealed_secret(doc, [key])
    assert {k: v.decode() for k, v in opened.items()} == secret_values(REPO_ROOT)["payments"]


def test_a_missing_secret_value_stops_the_program_naming_service_environment_and_command(program) -> None:
    values = secret_values(REPO_ROOT)
    del values["payments"]["STRIPE_WEBHOOK_SECRET"]
    with pytest.raises(pulumi.RunError, match=r"service payments needs secret STRIPE_WEBHOOK_SECRET in environment "
                                              r"staging.*pulumi config set --stack staging --secret --path"):
        program("staging", secrets=values)


def test_rotating_the_sealing_key_re_seals_with_the_new_certificate(program) -> None:
    mocks, _ = program("dev", extra={f"{NS}:sealing": json.dumps({"generation": 2})})
    assert sorted(r.name for r in mocks.of_type("tls:index/privateKey:PrivateKey")) == ["sealing-g1-key", "sealing-g2-key"]
    old, new = (rsa_private_key(mock_key_pair(f"sealing-g{g}-key")[0]) for g in (1, 2))
    files = _files(mocks)
    doc = yaml.safe_load(files["gitops-service-orders"]["apps/orders/overlays/dev/sealedsecret.yaml"])
    assert unseal_sealed_secret(doc, [new])
    with pytest.raises(UnsealError):
        unseal_sealed_secret(doc, [old])
    assert files["gitops-cluster"]["clusters/shop-dev/sealed-secrets-cert.pem"] == mock_key_pair("sealing-g2-key")[1]
