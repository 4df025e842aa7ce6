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
from typing import Mapping, Optional

from .. import layout, yamlio
from ..errors import InputError, Problem
from ..model import Service, Stack
from ..sealing import Scope, SealingCert, seal_secret
from .labels import service_labels
from .manifest import Manifest, yaml_file
from .ordering import wave_annotation

SEALED_FILE = "sealedsecret.yaml"
CERT_ANNOTATION = "gitops-platform.io/sealed-with"
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
                       derivation: Optional[bytes]) -> Manifest:
    """The overlay's SealedSecret holding exactly the catalog's declared secret names."""
    missing = [name for name in service.secrets if name not in values]
    if missing:
        raise missing_values(service, stack, missing)
    extra = sorted(set(values) - set(service.secrets))
    if extra:
        raise InputError([Problem(stack.file, f"config.{SECRETS_KEY}.{service.name}.{name}",
                                  f"is not a secret of service {service.name}; declared in {service.file}: "
                                  f"{', '.join(service.secrets)}") for name in extra])
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": layout.secret_name(service.name),
            "namespace": service.namespace,
            # Copied into the SealedSecret's template: the Secret the controller unseals carries them.
            "labels": service_labels(service),
        },
        "type": "Opaque",
        "data": {name: base64.b64encode(values[name]).decode() for name in service.secrets},
    }
    sealed = seal_secret(secret, cert, f"{service.file} (secrets)", Scope.STRICT, derivation)
    annotations = sealed["metadata"].setdefault("annotations", {})
    annotations[CERT_ANNOTATION] = cert_marker(cert)
    # Before the Deployment that reads the Secret (render.ordering); not sealed, so never a reason to re-seal.
    annotations.update(wave_annotation("SealedSecret"))
    sealed["metadata"]["labels"] = service_labels(service)
    return yaml_file(sealed_secret_path(service, stack), sealed)


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
