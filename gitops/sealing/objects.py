"""Secret in, SealedSecret out, shaped exactly like ``kubeseal`` output.

The shape matters beyond looks: the controller takes the OAEP label from the
SealedSecret's own ``metadata`` (name, namespace, scope annotation), so those
must say what the values were sealed for, and ``spec.template`` becomes the
Secret's metadata, type and immutability. References are to
``pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`` (``NewSealedSecret``,
``UpdateScopeAnnotations``, ``Unseal``) and ``pkg/kubeseal/kubeseal.go`` (``Seal``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import InputError, Problem
from .certs import SealingCert
from .crypto import UnsealError, seal_value, unseal_value

API_VERSION = "bitnami.com/v1alpha1"
KIND = "SealedSecret"
DEFAULT_TYPE = "Opaque"


class Scope(enum.Enum):
    """Where a sealed value may be opened: this name in this namespace, any name there, anywhere."""

    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"


SCOPE_ANNOTATIONS: Mapping[Scope, str] = {
    Scope.NAMESPACE_WIDE: "sealedsecrets.bitnami.com/namespace-wide",
    Scope.CLUSTER_WIDE: "sealedsecrets.bitnami.com/cluster-wide",
}
# Full copies of an applied object (values included) that kubectl/kubecfg keep in
# an annotation; copying them into the template would publish the plaintext.
_LAST_APPLIED = ("kubectl.kubernetes.io/last-applied-configuration",
                 "kubecfg.ksonnet.io/last-applied-configuration")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def label_for(scope: Scope, namespace: str, name: str) -> bytes:
    """The OAEP label that binds a value to its scope: ``ns/name``, ``ns`` or empty."""
    if scope is Scope.CLUSTER_WIDE:
        return b""
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode("utf-8")
    return f"{namespace}/{name}".encode()


def scope_of(annotations: Mapping[str, str]) -> Scope:
    """The scope the controller reads: exactly ``"true"`` counts, cluster-wide before namespace-wide."""
    if annotations.get(SCOPE_ANNOTATIONS[Scope.CLUSTER_WIDE]) == "true":
        return Scope.CLUSTER_WIDE
    if annotations.get(SCOPE_ANNOTATIONS[Scope.NAMESPACE_WIDE]) == "true":
        return Scope.NAMESPACE_WIDE
    return Scope.STRICT


def scope_annotations(annotations: Mapping[str, str], scope: Scope) -> dict[str, str]:
    """``annotations`` with both scope annotations replaced by the one for ``scope`` (``UpdateScopeAnnotations``)."""
    result = {k: v for k, v in annotations.items() if k not in SCOPE_ANNOTATIONS.values()}
    if scope in SCOPE_ANNOTATIONS:
        result[SCOPE_ANNOTATIONS[scope]] = "true"
    return result


@dataclass(frozen=True)
class _Secret:
    name: str
    namespace: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    type: str | None
    immutable: bool | None
    values: dict[str, bytes]


def entry_derivation(derivation: bytes | None, key: str) -> bytes | None:
    """A derivation key per Secret entry: two entries holding the same value seal to unrelated bytes."""
    if derivation is None:
        return None
    return hmac.new(derivation, b"gitops-platform/seal/entry/v1\0" + key.encode(), hashlib.sha256).digest()


def seal_secret(secret: Mapping[str, Any], cert: SealingCert, source: str, scope: Scope | None = None,
                derivation: bytes | None = None) -> dict[str, Any]:
    """The SealedSecret for a v1 Secret (as parsed from YAML), or an InputError naming ``source`` and the key.

    ``scope=None`` takes the scope from the Secret's annotations (strict when
    there are none); a given scope replaces both scope annotations, so the
    output always says how it was sealed. ``derivation`` selects
    deterministic sealing (see ``crypto``); None seals randomly, like kubeseal.
    """
    parsed = _read_secret(secret, source)
    annotations = parsed.annotations
    if scope is None:
        scope = scope_of(annotations)
    else:
        annotations = scope_annotations(annotations, scope)
    if scope is not Scope.CLUSTER_WIDE and parsed.namespace is None:
        raise InputError([Problem(source, "metadata.namespace",
                                  f"is missing; a {scope.value} SealedSecret can only be opened in its namespace: "
                                  "set metadata.namespace or use --scope cluster-wide")])
    label = label_for(scope, parsed.namespace or "", parsed.name)
    encrypted = {
        key: base64.b64encode(seal_value(cert.public_key, parsed.values[key], label,
                                         entry_derivation(derivation, key))).decode("ascii")
        for key in sorted(parsed.values)
    }
    template_annotations = {k: v for k, v in sorted(annotations.items()) if k not in _LAST_APPLIED}
    template: dict[str, Any] = {
        "metadata": _metadata(parsed.name, parsed.namespace, labels=dict(sorted(parsed.labels.items())),
                              annotations=template_annotations),
        "type": parsed.type or DEFAULT_TYPE,
    }
    if parsed.immutable is not None:
        template["immutable"] = parsed.immutable
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": _metadata(parsed.name, parsed.namespace, annotations=scope_annotations({}, scope)),
        "spec": {"encryptedData": encrypted, "template": template},
    }


def unseal_sealed_secret(sealed: Mapping[str, Any], private_keys: Sequence[rsa.RSAPrivateKey]) -> dict[str, bytes]:
    """Every value of a SealedSecret, opened as the controller opens it.

    The label comes from the SealedSecret's own metadata, as in the
    controller's ``Unseal``: a SealedSecret moved to another name or
    namespace than it was sealed for does not open.
    """
    metadata = sealed.get("metadata") or {}
    scope = scope_of(metadata.get("annotations") or {})
    label = label_for(scope, metadata.get("namespace") or "", metadata.get("name") or "")
    values: dict[str, bytes] = {}
    for key, value in sorted((sealed.get("spec") or {}).get("encryptedData", {}).items()):
        try:
            payload = base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise UnsealError(f"spec.encryptedData.{key}: is not valid base64") from None
        try:
            values[key] = unseal_value(private_keys, payload, label)
        except UnsealError as exc:
            raise UnsealError(f"spec.encryptedData.{key}: {exc}") from None
    return values


def _metadata(name: str, namespace: str | None, **maps: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata.update((field, value) for field, value in maps.items() if value)
    return metadata


# --- reading the input Secret -------------------------------------------------------------------
# Every message names the key path and never the value: the values are the secrets.

def _read_secret(secret: Any, source: str) -> _Secret:
    if not isinstance(secret, Mapping):
        raise InputError([Problem(source, "", "is not a Kubernetes object; expected a v1 Secret "
                                  "(apiVersion: v1, kind: Secret)")])
    api_version, kind = secret.get("apiVersion"), secret.get("kind")
    if (api_version, kind) != ("v1", "Secret"):
        wrong = "kind" if kind != "Secret" else "apiVersion"
        raise InputError([Problem(source, wrong, f"is {secret.get(wrong)!r}; only a v1 Secret "
                                  "(apiVersion: v1, kind: Secret) can be sealed")])
    problems: list[Problem] = []
    metadata = secret.get("metadata")
    if not isinstance(metadata, Mapping):
        raise InputError([Problem(source, "metadata", "is missing; a Secret needs metadata.name "
                                  "(and metadata.namespace unless it is sealed cluster-wide)")])
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(source, "metadata.name", "is missing; the name is part of what a value is sealed for"))
        name = ""   # never used: the problem is raised below
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        problems.append(Problem(source, "metadata.namespace", "must be a string"))
    labels = _string_map(metadata.get("labels"), source, "metadata.labels", problems)
    annotations = _string_map(metadata.get("annotations"), source, "metadata.annotations", problems)
    values = _data_values(secret.get("data"), source, problems)
    values.update(_string_data_values(secret.get("stringData"), source, problems))  # stringData wins
    type_ = secret.get("type")
    if type_ is not None and not (isinstance(type_, str) and type_):
        problems.append(Problem(source, "type", "must be a Secret type such as Opaque"))
    immutable = secret.get("immutable")
    if immutable is not None and not isinstance(immutable, bool):
        problems.append(Problem(source, "immutable", "must be true or false"))
    if not values and not problems:
        problems.append(Problem(source, "data", "the Secret has nothing to seal; add data (base64) or stringData"))
    if problems:
        raise InputError(problems)
    return _Secret(name, namespace or None, labels, annotations, type_, immutable, values)


def _entries(value: Any, source: str, field: str, problems: list[Problem]) -> list[tuple[str, Any]]:
    """The (key, value) pairs of an optional mapping whose keys must be Secret keys."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        problems.append(Problem(source, field, "must be a mapping of key: value"))
        return []
    entries = []
    for key, item in value.items():
        if not isinstance(key, str) or not _SECRET_KEY.fullmatch(key):
            problems.append(Problem(source, f"{field}.{key}", "is not a valid Secret key "
                                    "(letters, digits, '-', '_' and '.', at most 253)"))
        else:
            entries.append((key, item))
    return entries


def _data_values(data: Any, source: str, problems: list[Problem]) -> dict[str, bytes]:
    values = {}
    for key, item in _entries(data, source, "data", problems):
        if not isinstance(item, str):
            problems.append(Problem(source, f"data.{key}", f"must be a base64 string, not {_kind(item)}"))
            continue
        try:
            # Kubernetes decodes []byte with Go's StdEncoding, which skips line breaks.
            values[key] = base64.b64decode(item.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            problems.append(Problem(source, f"data.{key}", "is not valid base64 (padded, standard alphabet); "
                                    "put plain text under stringData instead"))
    return values


def _string_data_values(data: Any, source: str, problems: list[Problem]) -> dict[str, bytes]:
    values = {}
    for key, item in _entries(data, source, "stringData", problems):
        if not isinstance(item, str):
            problems.append(Problem(source, f"stringData.{key}", f"must be a string, not {_kind(item)}; "
                                    "quote numbers and booleans"))
            continue
        values[key] = item.encode("utf-8")
    return values


def _string_map(value: Any, source: str, field: str, problems: list[Problem]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(Problem(source, field, "must be a mapping of key: string"))
        return {}
    result = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            problems.append(Problem(source, f"{field}.{key}", "must be a string; quote numbers and booleans"))
        else:
            result[key] = item
    return result


def _kind(value: Any) -> str:
    """A value's YAML type for a message; the value itself is never shown."""
    if value is None:
        return "empty (use \"\" for an empty value)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"
