"""Pod template checksums: a new config or secret value rolls the service's pods.

Pods read config (``envFrom`` the ConfigMap) and secrets (``secretKeyRef``
into the Secret the SealedSecret becomes) once, when their containers start.
Changing the ConfigMap or Secret in place changes nothing that runs, and
nothing in the Deployment, so Kubernetes starts no rollout. Each overlay
therefore puts a checksum of what its pods read on the pod template: when a
value changes, the template changes and the Deployment rolls out (with its
usual surge and readiness gates); when nothing changed, the checksum is the
same bytes and nothing happens.

- ``gitops-platform.io/config-checksum``: SHA-256 of the environment's
  effective config (the catalog's ``config`` with ``environments.<profile>.config``
  merged over it, exactly what the ConfigMap holds), as sorted JSON.
- ``gitops-platform.io/secrets-checksum``: SHA-256 of the overlay's sealed
  ``encryptedData``, as sorted JSON. Never of the plaintext: the checksum is
  public, and a hash of a short secret could be guessed. Sealing is
  deterministic per value and certificate (``render.secrets``), so the
  ciphertext, and with it the checksum, changes exactly when a value changes
  (or the cluster's certificate does, which re-seals every value: one extra
  rollout per key rotation).

The ConfigMap keeps one name (``generatorOptions.disableNameSuffixHash``,
see ``workloads``): kustomize's name hash would also roll the pods, but leaves
the old ConfigMap behind for Argo CD to prune, and an environment that syncs
without pruning (manual sync) would stay OutOfSync for ever. The checksum
gives the rollout without the leftover.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .. import layout, yamlio
from ..model import Service, Stack
from .manifest import Manifest

PATCH_FILE = "patch-checksums.yaml"


def effective_config(service: Service, stack: Stack) -> dict[str, str]:
    """What the environment's ConfigMap holds: the overlay's literals merged over the base's."""
    config = dict(service.config)
    config.update(dict(service.override(stack.profile).config))
    return config


def digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_checksum(service: Service, stack: Stack) -> str | None:
    config = effective_config(service, stack)
    return digest(config) if config else None


def secrets_checksum(sealed: Manifest) -> str:
    """Of the ciphertext the overlay carries (``spec.encryptedData``), whatever else its file says."""
    doc = yamlio.parse(sealed.content.decode("utf-8"), sealed.path)
    return digest((doc.get("spec") or {}).get("encryptedData") or {})


def pod_annotations(service: Service, stack: Stack, sealed: Manifest | None) -> dict[str, str]:
    annotations = {}
    config = config_checksum(service, stack)
    if config is not None:
        annotations[layout.ANNOTATION_CONFIG_CHECKSUM] = config
    if sealed is not None:
        annotations[layout.ANNOTATION_SECRETS_CHECKSUM] = secrets_checksum(sealed)
    return annotations


def checksum_patch(service: Service, stack: Stack, sealed: Manifest | None) -> dict[str, Any] | None:
    """A strategic-merge patch of the Deployment's pod template annotations; None when the pods read neither."""
    annotations = pod_annotations(service, stack, sealed)
    if not annotations:
        return None
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name},
        "spec": {"template": {"metadata": {"annotations": annotations}}},
    }
