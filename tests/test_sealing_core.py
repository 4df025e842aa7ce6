"""Offline sealing: what the controller can open, what it must refuse, and the shape it expects.

"The controller's algorithm" below is ``unseal_sealed_secret`` / ``unseal_value``
(a port of ``HybridDecrypt`` and ``Unseal``) and, independently of our code,
pyca's standard RSA-OAEP decryption plus AES-GCM with a zero nonce.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtensionOID, NameOID

from gitops import yamlio
from gitops.errors import InputError
from gitops.sealing import (
    SCOPE_ANNOTATIONS,
    SESSION_KEY_BYTES,
    Scope,
    SealingCert,
    UnsealError,
    label_for,
    load_certificate,
    scope_of,
    seal_secret,
    seal_value,
    stability_key,
    unseal_sealed_secret,
    unseal_value,
)
from gitops.sealing.crypto import _eme_oaep_encode

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "schemas" / "sealed-secrets"
NOW = datetime.now(UTC)
DAY = timedelta(days=1)
PASSWORD = "s3cr3t-Pa55word-never-print-me"
DERIVATION = bytes(range(32))
OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


# --- builders, shared with test_seal_cli ---------------------------------------------------------

def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def certificate_pem(key: Any, not_before: datetime = NOW - DAY, not_after: datetime = NOW + 365 * DAY,
                    go_key_usage: bool = False) -> bytes:
    """A self-signed certificate like the controller's (CA, CN=sealed-secret), as PEM.

    ``go_key_usage`` writes the critical KeyUsage(encipherOnly) exactly as Go
    does, which pyca cannot read back through ``cert.extensions``.
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if go_key_usage:
        builder = builder.add_extension(x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, bytes.fromhex("03020001")),
                                        critical=True)
    else:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def public_key_pem(key: rsa.RSAPrivateKey, fmt: serialization.PublicFormat) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt)


def certificate_pem_text(bundle: bytes, index: int) -> str:
    """The ``index``-th CERTIFICATE block of a PEM bundle, as text."""
    body = bundle.split(b"-----BEGIN CERTIFICATE-----")[index + 1].split(b"-----END CERTIFICATE-----")[0]
    return f"-----BEGIN CERTIFICATE-----{body.decode()}-----END CERTIFICATE-----\n"


def a_secret(**changes: Any) -> dict[str, Any]:
    """A strict Secret ``shop/db``; ``changes`` replace top-level fields (None removes one)."""
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
        "type": "Opaque",
        "data": {"USER": base64.b64encode(b"admin").decode()},
        "stringData": {"PASSWORD": PASSWORD},
    }
    for field, value in changes.items():
        if value is None:
            secret.pop(field, None)
        else:
            secret[field] = value
    return secret


def with_metadata(**changes: Any) -> dict[str, Any]:
    """``a_secret()`` with metadata fields replaced (None removes one)."""
    secret = a_secret()
    for field, value in changes.items():
        if value is None:
            secret["metadata"].pop(field, None)
        else:
            secret["metadata"][field] = value
    return secret


def moved(sealed: dict[str, Any], **metadata: str | None) -> dict[str, Any]:
    """The SealedSecret applied under another name or namespace (the label comes from there)."""
    copied = copy.deepcopy(sealed)
    for field, value in metadata.items():
        if value is None:
            copied["metadata"].pop(field, None)
        else:
            copied["metadata"][field] = value
    return copied


def session_key_by_pyca(key: rsa.RSAPrivateKey, payload: bytes, label: bytes) -> bytes:
    size = int.from_bytes(payload[:2], "big")
    return key.decrypt(payload[2:2 + size], padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                         algorithm=hashes.SHA256(), label=label or None))


def open_by_pyca(key: rsa.RSAPrivateKey, payload: bytes, label: bytes) -> bytes:
    """The controller's decryption spelled out with standard primitives only."""
    size = int.from_bytes(payload[:2], "big")
    return AESGCM(session_key_by_pyca(key, payload, label)).decrypt(bytes(12), payload[2 + size:], None)


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dev_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def prod_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def dev_cert(dev_key: rsa.RSAPrivateKey) -> SealingCert:
    return load_certificate(certificate_pem(dev_key), "dev.pem")


@pytest.fixture(scope="module")
def seal(dev_cert: SealingCert) -> Callable[..., dict[str, Any]]:
    """``seal(secret, scope=None, derivation=None)`` with the dev certificate."""
    def _seal(secret: dict[str, Any], scope: Scope | None = None,
              derivation: bytes | None = None) -> dict[str, Any]:
        return seal_secret(secret, dev_cert, "secret.yaml", scope, derivation)
    return _seal


@pytest.fixture(scope="module")
def crd_schema() -> dict[str, Any]:
    """The SealedSecret openAPIV3Schema shipped with sealed-secrets (kept beside the project)."""
    for name, path in (("schema-v1alpha1.yaml", ("openAPIV3Schema",)),
                       ("bitnami.com_sealedsecrets.yaml", ("spec", "versions", 0, "schema", "openAPIV3Schema"))):
        file = SCHEMA_DIR / name
        if file.is_file():
            doc: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
            for step in path:
                doc = doc[step]
            return doc
    pytest.skip(f"sealed-secrets CRD schema not found in {SCHEMA_DIR} (CI has ../shared beside the project)")


# --- the wire format -----------------------------------------------------------------------------

@pytest.mark.parametrize("derivation", [None, DERIVATION], ids=["random", "deterministic"])
def test_a_sealed_value_opens_with_the_controllers_algorithm(dev_key, derivation) -> None:
    payload = seal_value(dev_key.public_key(), b"value", b"shop/db", derivation)
    assert unseal_value([dev_key], payload, b"shop/db") == b"value"


@pytest.mark.parametrize("derivation", [None, DERIVATION], ids=["random", "deterministic"])
@pytest.mark.parametrize("label", [b"shop/db", b"shop", b""], ids=["strict", "namespace-wide", "cluster-wide"])
def test_standard_oaep_and_gcm_open_a_sealed_value(dev_key, derivation, label) -> None:
    payload = seal_value(dev_key.public_key(), b"value", label, derivation)
    assert len(session_key_by_pyca(dev_key, payload, label)) == SESSION_KEY_BYTES
    assert open_by_pyca(dev_key, payload, label) == b"value"


def test_the_layout_is_length_prefix_then_rsa_block_then_ciphertext_and_tag(dev_key) -> None:
    payload = seal_value(dev_key.public_key(), b"12345", b"shop/db")
    assert payload[:2] == (256).to_bytes(2, "big")
    assert len(payload) == 2 + 256 + 5 + 16


def test_a_4096_bit_key_gives_the_0x0200_prefix_that_reads_Ag_in_base64() -> None:
    payload = seal_value(new_key(4096).public_key(), b"value", b"shop/db", DERIVATION)
    assert payload[:2] == b"\x02\x00"
    assert base64.b64encode(payload).startswith(b"Ag")


def test_random_sealing_gives_new_bytes_every_time(dev_key) -> None:
    first, second = (seal_value(dev_key.public_key(), b"value", b"shop/db") for _ in range(2))
    assert first != second


def test_deterministic_sealing_gives_identical_bytes_for_identical_inputs(dev_key) -> None:
    first, second = (seal_value(dev_key.public_key(), b"value", b"shop/db", DERIVATION) for _ in range(2))
    assert first == second


@pytest.mark.parametrize("plaintext, label, derivation", [
    (b"value2", b"shop/db", DERIVATION),
    (b"value", b"shop/cache", DERIVATION),
    (b"value", b"shop/db", bytes(32)),
], ids=["plaintext", "label", "derivation-key"])
def test_deterministic_sealing_changes_with_any_input(dev_key, plaintext, label, derivation) -> None:
    reference = seal_value(dev_key.public_key(), b"value", b"shop/db", DERIVATION)
    other = seal_value(dev_key.public_key(), plaintext, label, derivation)
    assert other[2:258] != reference[2:258]
    assert other[258:] != reference[258:]


def test_deterministic_session_key_is_the_documented_hmac_sha512_derivation(dev_key) -> None:
    payload = seal_value(dev_key.public_key(), b"value", b"shop/db", DERIVATION)
    material = hmac.new(DERIVATION, b"gitops-platform/seal/v1\0" + b"shop/db" + b"\0" + b"value", "sha512").digest()
    assert session_key_by_pyca(dev_key, payload, b"shop/db") == material[:32]


def test_deterministic_sealing_refuses_a_label_containing_nul(dev_key) -> None:
    with pytest.raises(ValueError, match="NUL"):
        seal_value(dev_key.public_key(), b"value", b"shop\0db", DERIVATION)


def test_oaep_encoding_of_the_longest_allowed_message_decrypts_with_pyca(dev_key) -> None:
    message = bytes(range(190))  # k - 2*hLen - 2 for a 256-byte modulus
    encoded = _eme_oaep_encode(message, b"label", b"\x07" * 32, 256)
    numbers = dev_key.public_key().public_numbers()
    ciphertext = pow(int.from_bytes(encoded, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=b"label")
    assert dev_key.decrypt(ciphertext, oaep) == message


def test_oaep_encoding_refuses_a_message_too_long_for_the_modulus() -> None:
    with pytest.raises(ValueError, match="too long"):
        _eme_oaep_encode(bytes(191), b"", bytes(32), 256)


# --- unsealing -----------------------------------------------------------------------------------

def test_an_altered_ciphertext_does_not_open(dev_key) -> None:
    payload = bytearray(seal_value(dev_key.public_key(), b"value", b"shop/db"))
    payload[-1] ^= 1
    with pytest.raises(UnsealError, match="altered"):
        unseal_value([dev_key], bytes(payload), b"shop/db")


def test_an_altered_key_block_does_not_open(dev_key) -> None:
    payload = bytearray(seal_value(dev_key.public_key(), b"value", b"shop/db"))
    payload[10] ^= 1
    with pytest.raises(UnsealError, match="no key could decrypt"):
        unseal_value([dev_key], bytes(payload), b"shop/db")


@pytest.mark.parametrize("payload", [b"", b"\x01", b"\x01\x00" + bytes(100)], ids=["empty", "one-byte", "truncated"])
def test_a_too_short_payload_is_refused(dev_key, payload) -> None:
    with pytest.raises(UnsealError, match="too short"):
        unseal_value([dev_key], payload, b"shop/db")


def test_a_value_sealed_for_one_cluster_does_not_open_with_another_clusters_key(dev_key, prod_key) -> None:
    payload = seal_value(dev_key.public_key(), b"value", b"shop/db")
    with pytest.raises(UnsealError, match="no key could decrypt"):
        unseal_value([prod_key], payload, b"shop/db")


def test_every_key_is_tried_until_one_opens_the_value(dev_key, prod_key) -> None:
    payload = seal_value(dev_key.public_key(), b"value", b"shop/db")
    assert unseal_value([prod_key, dev_key], payload, b"shop/db") == b"value"


def test_an_unseal_error_never_contains_the_plaintext(dev_key, prod_key) -> None:
    payload = seal_value(dev_key.public_key(), PASSWORD.encode(), b"shop/db")
    with pytest.raises(UnsealError) as caught:
        unseal_value([prod_key], payload, b"shop/db")
    assert PASSWORD not in str(caught.value)


# --- the stability key ---------------------------------------------------------------------------

def test_the_stability_key_is_hmac_sha256_of_the_pkcs8_der_private_key(dev_key) -> None:
    der = dev_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    expected = hmac.new(der, b"gitops-platform sealing stability v1", hashlib.sha256).digest()
    assert stability_key(dev_key) == expected
    assert len(expected) == 32


def test_each_cluster_key_has_its_own_stability_key(dev_key, prod_key) -> None:
    assert stability_key(dev_key) != stability_key(prod_key)


# --- scopes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope, label", [
    (Scope.STRICT, b"shop/db"), (Scope.NAMESPACE_WIDE, b"shop"), (Scope.CLUSTER_WIDE, b""),
])
def test_the_label_binds_a_value_to_its_scope(scope, label) -> None:
    assert label_for(scope, "shop", "db") == label


@pytest.mark.parametrize("annotations, scope", [
    ({}, Scope.STRICT),
    ({SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true"}, Scope.NAMESPACE_WIDE),
    ({SCOPE_ANNOTATIONS[Scope.CLUSTER_WIDE]: "true"}, Scope.CLUSTER_WIDE),
    ({SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true", SCOPE_ANNOTATIONS[Scope.CLUSTER_WIDE]: "true"},
     Scope.CLUSTER_WIDE),
    ({SCOPE_ANNOTATIONS[Scope.CLUSTER_WIDE]: "True"}, Scope.STRICT),
], ids=["none", "namespace-wide", "cluster-wide", "cluster-wide-wins", "only-exact-true"])
def test_the_scope_is_read_from_annotations_like_the_controller(annotations, scope) -> None:
    assert scope_of(annotations) is scope


@pytest.mark.parametrize("scope", list(Scope), ids=lambda s: s.value)
def test_every_scope_round_trips_through_the_controllers_algorithm(seal, dev_key, scope) -> None:
    assert unseal_sealed_secret(seal(a_secret(), scope), [dev_key]) == {"USER": b"admin", "PASSWORD": PASSWORD.encode()}


@pytest.mark.parametrize("where", [{"namespace": "other"}, {"name": "other"}], ids=["namespace", "name"])
def test_a_strict_secret_does_not_open_under_another_name_or_namespace(seal, dev_key, where) -> None:
    with pytest.raises(UnsealError):
        unseal_sealed_secret(moved(seal(a_secret(), Scope.STRICT), **where), [dev_key])


def test_a_namespace_wide_secret_opens_under_another_name_in_its_namespace(seal, dev_key) -> None:
    sealed = moved(seal(a_secret(), Scope.NAMESPACE_WIDE), name="renamed")
    assert unseal_sealed_secret(sealed, [dev_key])["PASSWORD"] == PASSWORD.encode()


def test_a_namespace_wide_secret_does_not_open_in_another_namespace(seal, dev_key) -> None:
    with pytest.raises(UnsealError):
        unseal_sealed_secret(moved(seal(a_secret(), Scope.NAMESPACE_WIDE), namespace="other"), [dev_key])


def test_a_cluster_wide_secret_opens_under_any_name_in_any_namespace(seal, dev_key) -> None:
    sealed = moved(seal(a_secret(), Scope.CLUSTER_WIDE), name="renamed", namespace="elsewhere")
    assert unseal_sealed_secret(sealed, [dev_key])["PASSWORD"] == PASSWORD.encode()


def test_a_secret_sealed_with_the_dev_certificate_does_not_open_with_the_prod_key(seal, prod_key) -> None:
    with pytest.raises(UnsealError, match=r"PASSWORD|USER"):
        unseal_sealed_secret(seal(a_secret()), [prod_key])


# --- the SealedSecret object ---------------------------------------------------------------------

@pytest.mark.parametrize("scope", [Scope.NAMESPACE_WIDE, Scope.CLUSTER_WIDE], ids=lambda s: s.value)
def test_the_scope_annotation_is_exactly_true_on_metadata_and_template(seal, scope) -> None:
    sealed = seal(a_secret(), scope)
    assert sealed["metadata"]["annotations"] == {SCOPE_ANNOTATIONS[scope]: "true"}
    assert sealed["spec"]["template"]["metadata"]["annotations"] == {SCOPE_ANNOTATIONS[scope]: "true"}


def test_a_strict_sealed_secret_has_no_annotations(seal) -> None:
    sealed = seal(a_secret(), Scope.STRICT)
    assert "annotations" not in sealed["metadata"]
    assert "annotations" not in sealed["spec"]["template"]["metadata"]


def test_without_a_scope_the_secrets_own_annotation_decides(seal, dev_key) -> None:
    secret = with_metadata(annotations={SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true"})
    sealed = seal(secret)
    assert sealed["metadata"]["annotations"] == {SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true"}
    assert unseal_sealed_secret(moved(sealed, name="renamed"), [dev_key])["USER"] == b"admin"


def test_a_given_scope_replaces_the_secrets_scope_annotations(seal) -> None:
    secret = with_metadata(annotations={SCOPE_ANNOTATIONS[Scope.CLUSTER_WIDE]: "true", "team": "payments"})
    sealed = seal(secret, Scope.NAMESPACE_WIDE)
    assert sealed["metadata"]["annotations"] == {SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true"}
    assert sealed["spec"]["template"]["metadata"]["annotations"] == {
        SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true", "team": "payments"}


def test_the_object_has_the_shape_kubeseal_emits(seal) -> None:
    secret = with_metadata(annotations={"team": "payments",
                                        "kubectl.kubernetes.io/last-applied-configuration": "{...}"})
    secret["immutable"] = True
    sealed = seal(secret)
    assert sorted(sealed) == ["apiVersion", "kind", "metadata", "spec"]
    assert (sealed["apiVersion"], sealed["kind"]) == ("bitnami.com/v1alpha1", "SealedSecret")
    assert sealed["metadata"] == {"name": "db", "namespace": "shop"}
    assert list(sealed["spec"]["encryptedData"]) == ["PASSWORD", "USER"]
    assert sealed["spec"]["template"] == {
        "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}, "annotations": {"team": "payments"}},
        "type": "Opaque",
        "immutable": True,
    }


def test_encrypted_values_are_standard_padded_base64(seal) -> None:
    for value in seal(a_secret())["spec"]["encryptedData"].values():
        assert base64.b64encode(base64.b64decode(value, validate=True)).decode() == value


def test_the_secret_type_is_kept_and_defaults_to_opaque(seal) -> None:
    assert seal(a_secret(type="kubernetes.io/basic-auth"))["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    assert seal(a_secret(type=None))["spec"]["template"]["type"] == "Opaque"


def test_string_data_wins_over_data_for_the_same_key(seal, dev_key) -> None:
    secret = a_secret(data={"PASSWORD": base64.b64encode(b"from-data").decode()})
    assert unseal_sealed_secret(seal(secret), [dev_key]) == {"PASSWORD": PASSWORD.encode()}


def test_a_cluster_wide_secret_without_a_namespace_has_none_in_the_output(seal, dev_key) -> None:
    sealed = seal(with_metadata(namespace=None), Scope.CLUSTER_WIDE)
    assert "namespace" not in sealed["metadata"]
    assert "namespace" not in sealed["spec"]["template"]["metadata"]
    assert unseal_sealed_secret(moved(sealed, namespace="anywhere"), [dev_key])["USER"] == b"admin"


def test_deterministic_sealing_gives_the_same_object_twice(seal) -> None:
    assert seal(a_secret(), derivation=DERIVATION) == seal(a_secret(), derivation=DERIVATION)


def test_two_entries_holding_the_same_value_seal_to_unrelated_bytes(seal, dev_key) -> None:
    sealed = seal(a_secret(data=None, stringData={"A": PASSWORD, "B": PASSWORD}), derivation=DERIVATION)
    assert sealed["spec"]["encryptedData"]["A"] != sealed["spec"]["encryptedData"]["B"]
    assert unseal_sealed_secret(sealed, [dev_key]) == {"A": PASSWORD.encode(), "B": PASSWORD.encode()}


def test_the_written_yaml_reads_back_as_the_same_object(seal) -> None:
    sealed = seal(with_metadata(annotations={SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]: "true"}))
    assert yaml.safe_load(yamlio.dump(sealed)) == sealed


@pytest.mark.parametrize("scope", list(Scope), ids=lambda s: s.value)
def test_every_sealed_secret_is_valid_against_the_crd_schema(seal, crd_schema, scope) -> None:
    secret = with_metadata(annotations={"team": "payments"})
    secret["immutable"] = True
    jsonschema.Draft7Validator(crd_schema).validate(seal(secret, scope))


# --- bad Secrets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("secret, key, words", [
    (a_secret(kind="ConfigMap"), "kind", "only a v1 Secret"),
    (a_secret(apiVersion="v2"), "apiVersion", "only a v1 Secret"),
    (with_metadata(name=None), "metadata.name", "is missing"),
    (with_metadata(namespace=None), "metadata.namespace", "set metadata.namespace or use --scope cluster-wide"),
    (a_secret(data={"PASSWORD": PASSWORD}), "data.PASSWORD", "not valid base64"),
    (a_secret(data={"PASSWORD": 1234}), "data.PASSWORD", "must be a base64 string"),
    (a_secret(stringData={"PORT": 5432}), "stringData.PORT", "must be a string, not a number"),
    (a_secret(stringData={"bad key": PASSWORD}), "stringData.bad key", "not a valid Secret key"),
    (a_secret(data=None, stringData=None), "data", "nothing to seal"),
    (a_secret(data={}, stringData={}), "data", "nothing to seal"),
], ids=["not-a-secret", "wrong-api-version", "no-name", "strict-without-namespace", "bad-base64",
        "non-string-data", "non-string-stringData", "bad-key", "no-data", "empty-data"])
def test_a_bad_secret_is_an_input_error_naming_the_file_and_key(seal, secret, key, words) -> None:
    with pytest.raises(InputError) as caught:
        seal(secret)
    message = str(caught.value)
    assert message.startswith(f"secret.yaml: {key}: ")
    assert words in message
    assert PASSWORD not in message


def test_a_namespace_wide_secret_needs_a_namespace_too(seal) -> None:
    with pytest.raises(InputError, match=r"metadata\.namespace"):
        seal(with_metadata(namespace=None), Scope.NAMESPACE_WIDE)


def test_something_other_than_a_mapping_is_not_a_secret(seal) -> None:
    with pytest.raises(InputError, match="expected a v1 Secret"):
        seal(["not", "an", "object"])


# --- certificates --------------------------------------------------------------------------------

def test_a_valid_certificate_gives_its_key_fingerprint_expiry_and_pem(dev_key) -> None:
    pem = certificate_pem(dev_key)
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    cert = load_certificate(pem, "dev.pem")
    assert cert.public_key.public_numbers() == dev_key.public_key().public_numbers()
    assert cert.fingerprint == hashlib.sha256(der).hexdigest()
    assert cert.not_after == x509.load_pem_x509_certificate(pem).not_valid_after_utc
    assert cert.pem == pem.decode()


def test_the_first_certificate_block_is_the_one_used(dev_key, prod_key) -> None:
    bundle = public_key_pem(dev_key, serialization.PublicFormat.SubjectPublicKeyInfo) + certificate_pem(prod_key) \
        + certificate_pem(dev_key)
    cert = load_certificate(bundle, "bundle.pem")
    assert cert.public_key.public_numbers() == prod_key.public_key().public_numbers()
    assert cert.pem == certificate_pem_text(bundle, 0)


def test_a_certificate_made_like_the_controllers_loads(dev_key) -> None:
    cert = load_certificate(certificate_pem(dev_key, go_key_usage=True), "controller.pem")
    assert cert.public_key.key_size == 2048


def test_an_expired_certificate_is_refused_naming_the_expiry_date(dev_key) -> None:
    expired_on = NOW - DAY
    with pytest.raises(InputError, match=f"old.pem: the certificate expired on {expired_on:%Y-%m-%d}"):
        load_certificate(certificate_pem(dev_key, NOW - 30 * DAY, expired_on), "old.pem")


def test_a_certificate_is_valid_up_to_and_including_its_not_after(dev_key) -> None:
    pem = certificate_pem(dev_key)
    not_after = load_certificate(pem, "dev.pem").not_after
    assert load_certificate(pem, "dev.pem", now=not_after).not_after == not_after
    with pytest.raises(InputError, match="expired"):
        load_certificate(pem, "dev.pem", now=not_after + timedelta(seconds=1))


def test_a_certificate_that_is_not_yet_valid_is_accepted_like_kubeseal_does(dev_key) -> None:
    cert = load_certificate(certificate_pem(dev_key, NOW + DAY, NOW + 365 * DAY), "future.pem")
    assert cert.public_key.public_numbers() == dev_key.public_key().public_numbers()


@pytest.mark.parametrize("fmt", [serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1],
                         ids=["PUBLIC KEY", "RSA PUBLIC KEY"])
def test_a_public_key_is_refused_with_where_to_get_the_certificate(dev_key, fmt) -> None:
    with pytest.raises(InputError, match=r"key.pem: is a public key, not a certificate; .*kubeseal --fetch-cert"):
        load_certificate(public_key_pem(dev_key, fmt), "key.pem")


def test_a_private_key_is_refused(dev_key) -> None:
    pem = dev_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    with pytest.raises(InputError, match="is a private key, not a certificate"):
        load_certificate(pem, "tls.key")


@pytest.mark.parametrize("data", [b"", b"hello", b"\x30\x82\x01\x0a"], ids=["empty", "text", "der"])
def test_something_that_is_not_pem_is_refused(data) -> None:
    with pytest.raises(InputError, match="junk: is not a PEM certificate"):
        load_certificate(data, "junk")


def test_a_damaged_certificate_block_is_refused() -> None:
    data = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    with pytest.raises(InputError, match=r"broken\.pem: the CERTIFICATE block is not a valid X\.509 certificate"):
        load_certificate(data, "broken.pem")


def test_a_certificate_with_a_non_rsa_key_is_refused() -> None:
    with pytest.raises(InputError, match=r"ec\.pem: the certificate's key is EC.*; sealed-secrets uses RSA keys only"):
        load_certificate(certificate_pem(ec.generate_private_key(ec.SECP256R1())), "ec.pem")
