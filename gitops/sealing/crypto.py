"""The sealed-secrets controller's hybrid encryption, byte for byte.

One sealed value is::

    uint16_be(len(rsa_ct)) || rsa_ct || aes_gcm_ct || tag

where ``rsa_ct`` is RSA-OAEP (SHA-256, MGF1-SHA-256, label) of a 32-byte
session key and the AES-256-GCM part uses an all-zero 12-byte nonce and no
associated data (``pkg/crypto/crypto.go`` ``HybridEncrypt``). The controller
opens anything laid out like this, whoever made it.

Two ways to choose the session key:

* random (``derivation=None``), exactly like ``kubeseal``: every sealing gives
  new bytes, so re-sealing an unchanged value still changes the Git file;
* deterministic (``derivation=<secret>``), so that re-rendering an unchanged
  value gives an unchanged file and Git diffs show only real changes::

      material    = HMAC-SHA512(derivation, "gitops-platform/seal/v1\\0" || label || "\\0" || plaintext)
      session key = material[0:32]
      OAEP seed   = material[32:64]

  pyca/cryptography cannot be given an OAEP seed, so EME-OAEP (RFC 8017
  §7.1.1) and the raw RSA step are done here; the result is ordinary OAEP,
  which the controller (and pyca) decrypt like any other.

Why the deterministic mode is safe:

* The zero GCM nonce is only safe if a key never encrypts two different
  messages. The session key is a PRF of (label, plaintext), so two different
  inputs get unrelated keys; the same key only ever sees the same input again,
  which produces the same ciphertext and reveals nothing new. Labels are
  Kubernetes names and never contain NUL, and a label with NUL is refused, so
  the PRF input is unambiguous.
* Without the derivation key nobody can recompute a ciphertext, so holding the
  certificate and a sealed value does not allow testing guesses of the
  plaintext (the attack deterministic public-key encryption usually invites).
* What is revealed is only that an unchanged value is unchanged, which the Git
  history shows anyway.
* The label (``namespace/name``, ``namespace`` or empty, by scope) is part of
  the input, so the same password in two Secrets gives unrelated ciphertexts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import GitOpsError

SESSION_KEY_BYTES = 32
_NONCE = bytes(12)          # safe: each session key encrypts one message only (see above)
_HASH_BYTES = 32            # SHA-256, for OAEP and MGF1 alike (Go uses one hash for both)
_DERIVATION_CONTEXT = b"gitops-platform/seal/v1\0"
_STABILITY_MESSAGE = b"gitops-platform sealing stability v1"


class UnsealError(GitOpsError):
    """A sealed value that none of the given keys opens; the message never holds plaintext."""


def _oaep_padding(label: bytes) -> padding.OAEP:
    # An empty label is the cluster-wide scope; pyca wants None for "no label".
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)


def seal_value(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes,
               derivation: bytes | None = None) -> bytes:
    """One value sealed for the controller holding the private half of ``public_key``.

    ``derivation=None`` seals like kubeseal (random); a secret ``derivation``
    key makes equal inputs give equal bytes (see the module docstring).
    """
    if derivation is None:
        session_key = os.urandom(SESSION_KEY_BYTES)
        wrapped = public_key.encrypt(session_key, _oaep_padding(label))
    else:
        if b"\0" in label:
            raise ValueError("a sealing label never contains NUL (it is a Kubernetes namespace/name)")
        material = hmac.new(derivation, _DERIVATION_CONTEXT + label + b"\0" + plaintext, hashlib.sha512).digest()
        session_key, seed = material[:SESSION_KEY_BYTES], material[SESSION_KEY_BYTES:SESSION_KEY_BYTES + _HASH_BYTES]
        wrapped = _rsa_encrypt(public_key, _eme_oaep_encode(session_key, label, seed, _modulus_bytes(public_key)))
    sealed = AESGCM(session_key).encrypt(_NONCE, plaintext, None)
    return struct.pack(">H", len(wrapped)) + wrapped + sealed


def unseal_value(private_keys: Sequence[rsa.RSAPrivateKey], payload: bytes, label: bytes) -> bytes:
    """The plaintext, as the controller's ``HybridDecrypt`` gets it: the first key that opens it wins."""
    if len(payload) < 2:
        raise UnsealError("sealed value is too short")
    (rsa_len,) = struct.unpack(">H", payload[:2])
    if len(payload) < rsa_len + 2:
        raise UnsealError("sealed value is too short")
    wrapped, sealed = payload[2:2 + rsa_len], payload[2 + rsa_len:]
    altered = False
    for key in private_keys:
        try:
            session_key = key.decrypt(wrapped, _oaep_padding(label))
        except ValueError:
            continue
        try:
            return AESGCM(session_key).decrypt(_NONCE, sealed, None)
        except (InvalidTag, ValueError):
            altered = True  # the key fits but the data does not: keep trying, like the controller
    if altered:
        raise UnsealError("the sealed value was altered: its AES-GCM authentication tag does not match")
    raise UnsealError(f"no key could decrypt the sealed value ({len(private_keys)} key(s) tried; "
                      "wrong cluster key, wrong namespace/name/scope, or the value was altered)")


def stability_key(private_key: rsa.RSAPrivateKey) -> bytes:
    """The derivation key for deterministic sealing: a 32-byte secret per cluster key.

    Derived from the private key so that whoever holds the sealing key (the
    Pulumi stack) can reproduce it on every run without storing another
    secret, and nobody with only the certificate can.
    """
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return hmac.new(der, _STABILITY_MESSAGE, hashlib.sha256).digest()


# --- RFC 8017 ----------------------------------------------------------------------------------

def _modulus_bytes(public_key: rsa.RSAPublicKey) -> int:
    return (public_key.key_size + 7) // 8


def _mgf1_sha256(seed: bytes, length: int) -> bytes:
    """MGF1 with SHA-256 (RFC 8017 B.2.1)."""
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _eme_oaep_encode(message: bytes, label: bytes, seed: bytes, k: int) -> bytes:
    """EME-OAEP encoding with SHA-256 and a caller-chosen seed (RFC 8017 §7.1.1 step 2)."""
    if len(seed) != _HASH_BYTES:
        raise ValueError(f"an OAEP seed is {_HASH_BYTES} bytes, got {len(seed)}")
    if len(message) > k - 2 * _HASH_BYTES - 2:
        raise ValueError(f"message too long for OAEP with a {k}-byte modulus")
    l_hash = hashlib.sha256(label).digest()
    ps = bytes(k - len(message) - 2 * _HASH_BYTES - 2)
    db = l_hash + ps + b"\x01" + message
    masked_db = _xor(db, _mgf1_sha256(seed, k - _HASH_BYTES - 1))
    masked_seed = _xor(seed, _mgf1_sha256(masked_db, _HASH_BYTES))
    return b"\x00" + masked_seed + masked_db


def _rsa_encrypt(public_key: rsa.RSAPublicKey, encoded: bytes) -> bytes:
    """RSAEP (RFC 8017 §5.1.1) on an encoded message, left-padded to the modulus size."""
    numbers = public_key.public_numbers()
    k = _modulus_bytes(public_key)
    m = int.from_bytes(encoded, "big")
    if m >= numbers.n:  # cannot happen for a well-formed EM (leading 0x00), kept as a guard
        raise ValueError("message representative out of range")
    return pow(m, numbers.e, numbers.n).to_bytes(k, "big")
