"""The sealing certificate, accepted exactly when ``kubeseal --cert`` would accept it.

kubeseal (``ParseKey``) takes the first PEM ``CERTIFICATE`` block, needs an
RSA key and refuses a certificate whose NotAfter has passed. It checks nothing
else: not NotBefore, not key usage, not a chain. So neither does this module,
and a certificate that works here works with kubeseal and the other way round.

``cert.extensions`` is never read: pyca/cryptography raises on the critical
``KeyUsage(encipher_only)`` that the controller puts in its own certificates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import InputError, Problem

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----[ \t]*\r?\n.*?-----END \1-----", re.DOTALL)
_PUBLIC_KEYS = (b"PUBLIC KEY", b"RSA PUBLIC KEY")
_GET_CERT = "pass the certificate (sealed-secrets-cert.pem, or `kubeseal --fetch-cert`)"


@dataclass(frozen=True)
class SealingCert:
    """What sealing needs from the certificate, plus what identifies it to a person."""

    public_key: rsa.RSAPublicKey
    fingerprint: str            # sha256 hex of the certificate DER
    not_after: datetime         # timezone-aware, UTC
    pem: str                    # the first CERTIFICATE block, normalised


def load_certificate(data: bytes, source: str, now: datetime | None = None) -> SealingCert:
    """The sealing certificate in ``data`` (read from ``source``), or an InputError naming ``source``.

    ``now`` (default: the current time; a naive value is taken as UTC) is
    when the certificate must still be valid, so tests can pin it.
    """
    blocks = [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    pem = next((block for kind, block in blocks if kind == b"CERTIFICATE"), None)
    if pem is None:
        raise InputError([Problem(source, "", _why_not_a_certificate([kind for kind, _ in blocks]))])
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise InputError([Problem(source, "", "the CERTIFICATE block is not a valid X.509 certificate; "
                                  + _GET_CERT)]) from None
    try:
        public_key = cert.public_key()
    except ValueError:  # an algorithm pyca does not know at all
        public_key = None
    if not isinstance(public_key, rsa.RSAPublicKey):
        kind = type(public_key).__name__.lstrip("_").replace("PublicKey", "") if public_key is not None else "unknown"
        raise InputError([Problem(source, "", f"the certificate's key is {kind}; sealed-secrets uses RSA keys only")])
    not_after = cert.not_valid_after_utc
    moment = _utc(now or datetime.now(UTC))
    if moment > not_after:
        raise InputError([Problem(source, "", f"the certificate expired on {not_after:%Y-%m-%d %H:%M:%S} UTC and "
                                  "kubeseal refuses expired certificates; get the cluster's current one "
                                  "(sealed-secrets-cert.pem, or `kubeseal --fetch-cert`)")])
    return SealingCert(
        public_key=public_key,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        not_after=not_after,
        pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


def _why_not_a_certificate(kinds: list[bytes]) -> str:
    if any(kind in _PUBLIC_KEYS for kind in kinds):
        return f"is a public key, not a certificate; {_GET_CERT}"
    if any(kind.endswith(b"PRIVATE KEY") for kind in kinds):
        return f"is a private key, not a certificate (keep it out of the sealing workflow); {_GET_CERT}"
    return f"is not a PEM certificate (no -----BEGIN CERTIFICATE----- block); {_GET_CERT}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
