"""Rendered files: a path inside the GitOps tree and its exact bytes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import layout, yamlio


@dataclass(frozen=True)
class Manifest:
    path: str      # POSIX, relative to the root of the rendered tree
    content: bytes


def yaml_file(path: str, *docs: Any) -> Manifest:
    """A generated YAML file: header comment, canonical documents, LF endings."""
    return Manifest(path, (layout.GENERATED_HEADER + yamlio.dump_all(docs)).encode())


def json_file(path: str, doc: Any) -> Manifest:
    return Manifest(path, yamlio.dump_json(doc).encode())


def kustomization(resources: Iterable[str], **fields: Any) -> dict[str, Any]:
    """A Kustomization document; empty fields are dropped so overlays stay minimal."""
    doc: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
    }
    doc.update({k: v for k, v in fields.items() if v})
    return doc
