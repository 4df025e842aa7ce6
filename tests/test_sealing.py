"""The SealingKey component: a pre-generated key the controller takes as its only sealing key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.charts import SEALED_SECRETS
from components.sealing import (
    KEYS_ANNOTATION,
    BackupError,
    SealingKey,
    SealingKeyArgs,
    backup_document,
    controller_values,
    restored_pair,
)
from gitops.model import SealingConfig
from pulumi_harness import RecordingMocks, mock_key_pair, plain_strings

SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"


def _build(start: Callable[..., RecordingMocks],
           args: SealingKeyArgs = SealingKeyArgs("shop-dev")) -> tuple[RecordingMocks, SealingKey]:
    mocks = start()
    holder = {}

    @pulumi.runtime.test
    def program():
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="c")
        holder["key"] = SealingKey("sealing", args, pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}))

    program()
    return mocks, holder["key"]


def _is_secret(output: pulumi.Output[Any]) -> bool:
    return asyncio.get_event_loop().run_until_complete(output.is_secret())


def test_the_key_is_rsa_4096(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    key = mocks.of_type("tls:index/privateKey:PrivateKey")
    assert [(k.inputs["algorithm"], k.inputs["rsaBits"]) for k in key] == [("RSA", 4096)]


def test_the_certificate_is_a_self_signed_ca_valid_for_the_given_days_and_names_the_cluster(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, SealingKeyArgs("shop-qa-eu", validity_days=30))
    cert = mocks.of_type("tls:index/selfSignedCert:SelfSignedCert")[0].inputs
    assert cert["validityPeriodHours"] == 30 * 24
    assert cert["isCaCertificate"] is True
    assert cert["subject"] == {"commonName": "sealed-secret", "organization": "gitops-platform shop-qa-eu"}


def test_the_key_is_a_labelled_tls_secret_named_by_generation_in_kube_system(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    secret = mocks.named("sealing-g1-secret").inputs
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {"name": "sealed-secrets-key-g1", "namespace": "kube-system",
                                  "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}}
    assert secret["stringData"]["value"]["tls.key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert secret["stringData"]["value"]["tls.crt"].startswith("-----BEGIN CERTIFICATE-----")


def test_a_namespace_moves_both_the_key_and_the_controller(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, SealingKeyArgs("shop-dev", SealingConfig(namespace="sealed-secrets")))
    assert mocks.named("sealing-g1-secret").inputs["metadata"]["namespace"] == "sealed-secrets"
    assert mocks.named("sealing-controller").inputs["namespace"] == "sealed-secrets"


def test_the_private_key_is_secret_and_never_sent_in_plain(pulumi_mocks) -> None:
    mocks, key = _build(pulumi_mocks)
    assert _is_secret(key.private_key_pem)
    for registration in mocks.registrations:
        if registration.typ != "tls:index/privateKey:PrivateKey":
            assert not any("PRIVATE KEY" in s for s in plain_strings(registration.inputs)), registration.name


def test_the_certificate_is_plain_so_it_can_be_published(pulumi_mocks) -> None:
    _, key = _build(pulumi_mocks)
    assert not _is_secret(key.certificate_pem)
    pem = asyncio.get_event_loop().run_until_complete(key.certificate_pem.future())
    assert pem is not None and pem.startswith("-----BEGIN CERTIFICATE")


def test_the_controller_chart_is_pinned_with_renewal_off_and_the_name_kubeseal_expects(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    release = mocks.named("sealing-controller").inputs
    assert (release["chart"], release["version"]) == ("sealed-secrets", "2.18.5") == (SEALED_SECRETS.name, SEALED_SECRETS.version)
    assert release["repositoryOpts"] == {"repo": SEALED_SECRETS.repo}
    assert release["values"]["keyrenewperiod"] == "0"
    assert release["values"]["fullnameOverride"] == "sealed-secrets-controller"
    assert (release["namespace"], release["name"]) == ("kube-system", "sealed-secrets")


def test_the_controller_starts_only_after_every_key_exists(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, SealingKeyArgs("shop-dev", SealingConfig(generation=2)))
    for g in (1, 2):
        secret = mocks.named(f"sealing-g{g}-secret")
        assert secret.typ == SECRET
        assert mocks.directly_depends_on(mocks.named("sealing-controller"), secret)


def test_rotation_adds_a_key_keeps_the_old_one_and_seals_with_the_new(pulumi_mocks) -> None:
    mocks, key = _build(pulumi_mocks, SealingKeyArgs("shop-dev", SealingConfig(generation=2)))
    assert sorted(r.name for r in mocks.of_type("tls:index/privateKey:PrivateKey")) == ["sealing-g1-key", "sealing-g2-key"]
    assert sorted(r.inputs["metadata"]["name"] for r in mocks.of_type(SECRET)) == [
        "sealed-secrets-key-g1", "sealed-secrets-key-g2"]
    assert key.keys[2].certificate_pem is key.certificate_pem


def test_retiring_a_generation_removes_only_its_key(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks, SealingKeyArgs("shop-dev", SealingConfig(generation=3, oldest_generation=2)))
    assert sorted(r.inputs["metadata"]["name"] for r in mocks.of_type(SECRET)) == [
        "sealed-secrets-key-g2", "sealed-secrets-key-g3"]


def test_a_change_of_installed_keys_restarts_the_controller() -> None:
    assert controller_values((1,))["podAnnotations"] != controller_values((1, 2))["podAnnotations"]
    assert controller_values((1, 2))["podAnnotations"] == {KEYS_ANNOTATION: "g1,g2"}


def test_backup_copies_every_installed_key_to_secrets_manager_as_a_secret(pulumi_mocks) -> None:
    mocks, key = _build(pulumi_mocks, SealingKeyArgs("shop-dev", SealingConfig(
        generation=2, backup=True, backup_kms_key_id="alias/sealed-secrets-backup")))
    secret = mocks.of_type("aws:secretsmanager/secret:Secret")
    assert len(secret) == 1
    assert secret[0].inputs["namePrefix"] == "shop-dev/sealed-secrets-keys-"
    assert secret[0].inputs["kmsKeyId"] == "alias/sealed-secrets-backup"
    version = mocks.of_type("aws:secretsmanager/secretVersion:SecretVersion")[0]
    assert not any("PRIVATE KEY" in s for s in plain_strings(version.inputs))
    assert key.backup_arn is not None


def test_no_backup_unless_asked(pulumi_mocks) -> None:
    mocks, key = _build(pulumi_mocks)
    assert mocks.of_type("aws:secretsmanager/secret:Secret") == [] and key.backup_arn is None


def test_a_backup_document_restores_each_generation() -> None:
    document = backup_document("shop-dev", {1: ("-----BEGIN RSA PRIVATE KEY-----\nA", "-----BEGIN CERTIFICATE-----\nB")})
    assert restored_pair(document, 1, "arn:backup") == ("-----BEGIN RSA PRIVATE KEY-----\nA", "-----BEGIN CERTIFICATE-----\nB")


def test_restoring_a_generation_the_backup_lacks_names_the_setting_and_no_key_material() -> None:
    document = backup_document("shop-dev", {1: ("-----BEGIN RSA PRIVATE KEY-----\nSECRETKEY", "-----BEGIN CERTIFICATE-----\nB")})
    with pytest.raises(BackupError, match=r"sealing\.restoreFrom.*generation 2") as info:
        restored_pair(document, 2, "arn:backup")
    assert "SECRETKEY" not in str(info.value)


def test_in_cluster_resources_use_the_given_kubernetes_provider(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    in_cluster = mocks.of_type(SECRET) + mocks.of_type(RELEASE)
    assert len(in_cluster) == 2
    assert all("pulumi:providers:kubernetes::k8s::" in r.provider for r in in_cluster)


def test_the_component_registers_under_its_gitops_platform_type(pulumi_mocks) -> None:
    mocks, _ = _build(pulumi_mocks)
    component = mocks.of_type("gitops-platform:sealing:SealingKey")
    assert len(component) == 1 and component[0].custom is False


def test_a_rebuilt_stack_installs_the_backed_up_keys_instead_of_new_ones(pulumi_mocks) -> None:
    key_pem, cert_pem = mock_key_pair()
    mocks = pulumi_mocks()
    mocks.secrets_manager["arn:backup"] = backup_document("shop-dev", {1: (key_pem, cert_pem)})
    holder = {}

    @pulumi.runtime.test
    def program():
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}", cluster_identifier="c")
        holder["key"] = SealingKey("sealing", SealingKeyArgs("shop-dev", SealingConfig(restore_from="arn:backup")),
                                   pulumi.ResourceOptions(providers={"kubernetes": k8s_provider}))

    program()
    assert mocks.of_type("tls:index/privateKey:PrivateKey") == []
    secret = mocks.named("sealing-g1-secret").inputs
    assert secret["stringData"]["value"]["tls.key"] == key_pem
    assert _resolved(holder["key"].certificate_pem) == cert_pem
    assert _is_secret(holder["key"].private_key_pem)


def _resolved(output: pulumi.Output[Any]) -> Any:
    return asyncio.get_event_loop().run_until_complete(output.future())
