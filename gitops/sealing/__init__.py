"""Offline sealing for the sealed-secrets controller, compatible with ``kubeseal --cert``.

Only the cluster's public certificate is needed to seal, so Secrets can be
sealed by anyone, anywhere, and committed to Git; only the controller (and
whoever holds its private key, such as the Pulumi stack) can open them.

* ``crypto``: the controller's hybrid RSA-OAEP + AES-GCM format, random or deterministic;
* ``certs``: which certificates kubeseal accepts;
* ``objects``: Secret to SealedSecret, shaped as kubeseal emits it.
"""

from .certs import SealingCert, load_certificate
from .crypto import SESSION_KEY_BYTES, UnsealError, seal_value, stability_key, unseal_value
from .objects import (
    SCOPE_ANNOTATIONS,
    Scope,
    label_for,
    scope_annotations,
    scope_of,
    seal_secret,
    unseal_sealed_secret,
)

__all__ = [
    "SCOPE_ANNOTATIONS", "SESSION_KEY_BYTES", "Scope", "SealingCert", "UnsealError", "label_for",
    "load_certificate", "scope_annotations", "scope_of", "seal_secret", "seal_value", "stability_key",
    "unseal_sealed_secret", "unseal_value",
]
