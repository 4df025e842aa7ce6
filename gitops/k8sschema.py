"""Schema validation of built objects: Kubernetes kinds and CRDs.

Kubernetes kinds use the strict schemas shipped by ``kubernetes-validate``;
one validator per kind is built once (the library re-reads its definitions
file on every call, which made large trees slow). Custom resources are
validated against the CRDs' ``openAPIV3Schema`` made strict the way the API
server's field validation is: a field the schema does not declare is an error
unless the schema preserves unknown fields.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from . import yamlio
from .names import DNS1123_SUBDOMAIN


class SchemaNotFound(Exception):
    pass


class Schemas:
    """Validators for every kind this tree may contain, built lazily and cached."""

    def __init__(self, kubernetes_version: str, crd_dir: Path | None) -> None:
        self.version = _schema_version(kubernetes_version)
        self._k8s: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self._registry: Registry | None = None
        self._crds: dict[tuple[str, str], dict[str, Any]] = {}
        self._crd_validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self.crd_sources: list[str] = []
        if crd_dir is not None:
            self._load_crds(crd_dir)

    def errors(self, obj: dict[str, Any]) -> Iterator[str]:
        """Human-readable schema errors of one object (empty when valid)."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            yield "missing apiVersion or kind"
            return
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
            yield f"metadata.name {name!r} is not a valid object name (DNS-1123 subdomain, at most 253)"
        try:
            validator = self._validator(api_version, kind)
        except SchemaNotFound as exc:
            yield str(exc)
            return
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in error.absolute_path) or "(root)"
            yield f"{path}: {error.message}"

    def _validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator:
        key = (api_version, kind)
        if key in self._crds:
            if key not in self._crd_validators:
                self._crd_validators[key] = jsonschema.Draft7Validator(self._crds[key])
            return self._crd_validators[key]
        if key not in self._k8s:
            self._k8s[key] = self._k8s_validator(api_version, kind)
        return self._k8s[key]

    def _k8s_validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator:
        short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        folder = f"kubernetes-json-schema/v{self.version}-local-strict"
        try:
            schema = kv.schema_contents(f"{folder}/{kind.lower()}-{short}.json", self.version)
        except FileNotFoundError:
            raise SchemaNotFound(
                f"no schema for {kind} {api_version} in Kubernetes {self.version} or the CRD schemas"
            ) from None
        if self._registry is None:
            definitions = kv.schema_contents(f"{folder}/_definitions.json", self.version)
            self._registry = Resource.from_contents(definitions) @ Registry()
        registry = Resource.from_contents(schema) @ self._registry
        return jsonschema.Draft202012Validator(schema, registry=registry)

    def _load_crds(self, crd_dir: Path) -> None:
        # Only the top of each vendor folder: version subfolders hold older copies.
        for file in sorted(crd_dir.glob("*/*.yaml")):
            try:
                doc = yamlio.parse(file.read_text(encoding="utf-8"), str(file))
            except Exception:  # noqa: BLE001 - a non-CRD helper file in the folder is not ours to judge
                continue
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions", []):
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    self._crds[key] = _strict(copy.deepcopy(schema), top=True)
            self.crd_sources.append(str(file))



def _schema_version(version: str) -> str:
    wanted = kv.major_minor(version.lstrip("v"))
    candidates = [v for v in kv.all_versions() if _minor_key(kv.major_minor(v)) <= _minor_key(wanted)]
    if not candidates:
        raise ValueError(f"no Kubernetes schemas for {version}")
    return candidates[-1]


def _minor_key(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _strict(schema: Any, top: bool = False) -> Any:
    """Closed objects where the CRD declares properties, like server-side strict field validation."""
    if isinstance(schema, dict):
        for key in ("properties", "patternProperties", "definitions"):
            if isinstance(schema.get(key), dict):
                for sub in schema[key].values():
                    _strict(sub)
        for key in ("items", "additionalProperties", "not"):
            if isinstance(schema.get(key), dict):
                _strict(schema[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []) or []:
                _strict(sub)
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        if schema.get("nullable") and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        if top:
            props = schema.setdefault("properties", {})
            props.setdefault("apiVersion", {"type": "string"})
            props.setdefault("kind", {"type": "string"})
            props.setdefault("metadata", {"type": "object"})
            props.setdefault("status", {"type": "object"})
    return schema


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {ns}{meta.get('name')}"
