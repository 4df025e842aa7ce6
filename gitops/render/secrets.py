"""A service's secrets in its environment overlay, as one strict-scope SealedSecret.

The Deployment (base) reads each declared secret from the Secret
``<service>-secrets``; the overlay of each environment carries that Secret
sealed with the environment's cluster certificate, so a value sealed for dev
cannot be opened by prod's controller and no plaintext reaches Git.

Sealing with a ``derivation`` key (the cluster's stability key) is
deterministic: same value, same certificate, same bytes, so re-rendering
changes nothing; a changed value or certificate re-seals. The SealedSecret
records the certificate's fingerprint (public information) so a render can
tell whether a file sealed earlier was sealed for the current certificate.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import layout, yamlio
from ..errors import InputError, Problem
from ..model import Service, Stack
from .labels import service_labels
from .manifest import Manifest, yaml_file
from .ordering import wave_annotation

if TYPE_CHECKING:
    from ..sealing import SealingCert

SEALED_FILE = "sealedsecret.yaml"
CERT_ANNOTATION = layout.ANNOTATION_SEALED_WITH
SECRETS_KEY = f"{layout.CONFIG_NAMESPACE}:secrets"


def sealed_secret_path(service: Service, stack: Stack) -> str:
    return f"{layout.overlay_dir(service.name, stack.environment)}/{SEALED_FILE}"


def cert_marker(cert: SealingCert) -> str:
    return f"sha256:{cert.fingerprint}"


def set_command(service: Service, stack: Stack, name: str) -> str:
    """How a user gives this secret its value for this stack."""
    return (f"pulumi config set --stack {stack.name} --secret --path "
            f"'{SECRETS_KEY}.{service.name}.{name}' <value>")


def missing_values(service: Service, stack: Stack, names: list[str]) -> InputError:
    """Names the service, the environment, and the command that sets each missing value."""
    return InputError([
        Problem(stack.file, f"config.{SECRETS_KEY}.{service.name}.{name}",
                f"service {service.name} needs secret {name} in environment {stack.environment}, and no value "
                f"is set; run: {set_command(service, stack, name)}")
        for name in names
    ])


def sealed_secret_file(service: Service, stack: Stack, cert: SealingCert, values: Mapping[str, bytes],
                       derivation: bytes | None) -> Manifest:
    """The overlay's SealedSecret holding exactly the catalog's declared secret names."""
    missing = [name for name in service.secrets if name not in values]
    if missing:
        raise missing_values(service, stack, missing)
    extra = sorted(set(values) - set(service.secrets))
    if extra:
        raise InputError([Problem(stack.file, f"config.{SECRETS_KEY}.{service.name}.{name}",
                                  f"is not a secret of service {service.name}; declared in {service.file}: "
                                  f"{', '.join(service.secrets)}") for name in extra])
    # The labels are copied into the SealedSecret's template: the Secret the controller unseals carries them.
    sealed = sealed_object(layout.secret_name(service.name), service.namespace, service_labels(service),
                           {name: values[name] for name in service.secrets}, cert,
                           f"{service.file} (secrets)", derivation)
    sealed["metadata"]["labels"] = service_labels(service)
    return yaml_file(sealed_secret_path(service, stack), sealed)


def sealed_object(name: str, namespace: str, labels: Mapping[str, str], values: Mapping[str, bytes],
                  cert: SealingCert, source: str, derivation: bytes | None) -> dict[str, Any]:
    """The strict-scope SealedSecret of an Opaque Secret holding ``values``, marked with the certificate it used.

    The marker and the sync wave (before whatever reads the Secret, see
    ``render.ordering``) are not sealed, so they are never a reason to re-seal.
    """
    from ..sealing import Scope, seal_secret  # here: a render without secrets to seal never loads cryptography

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in values.items()},
    }
    sealed = seal_secret(secret, cert, source, Scope.STRICT, derivation)
    annotations = sealed["metadata"].setdefault("annotations", {})
    annotations[CERT_ANNOTATION] = cert_marker(cert)
    annotations.update(wave_annotation("SealedSecret"))
    return sealed


def labelled(sealed: Manifest, service: Service) -> Manifest:
    """``sealed`` with the service's labels on the SealedSecret and its template (unchanged when it has them).

    A SealedSecret carried forward from an earlier render (no values given) is
    kept as it was sealed; its labels are not sealed, so they are brought up
    to date here without the values, and the bytes stay the same once they are.
    """
    try:
        doc = yamlio.parse(sealed.content.decode("utf-8"), sealed.path)
        template = doc["spec"]["template"].setdefault("metadata", {})
    except (InputError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return sealed   # not ours to repair: validate reports a malformed file
    wanted = service_labels(service)
    for metadata in (doc.setdefault("metadata", {}), template):
        metadata["labels"] = {**(metadata.get("labels") or {}), **wanted}
    return yaml_file(sealed.path, doc)
