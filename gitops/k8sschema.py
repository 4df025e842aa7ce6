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
import functools
import importlib.resources
import re
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from . import names, yamlio
from .errors import InputError, Problem, shown
from .names import DNS1123_SUBDOMAIN


# Schemas written for this project (gitops/crds/<vendor>/*.yaml), in the layout of a CRD directory.
PROJECT_CRDS = Path(__file__).resolve().parent / "crds"


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
        self.cluster_scoped_crds: set[tuple[str, str]] = set()   # (group, kind) of CRDs with scope: Cluster
        # The project's own schemas of the custom resources only it emits and no shared schema
        # directory holds (Argo Rollouts'), always; a given directory's CRD of the same kind wins.
        self._load_crds(PROJECT_CRDS)
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
            yield f"metadata.name {shown(name)} is not a valid object name (DNS-1123 subdomain, at most 253)"
        yield from _metadata_key_errors(obj.get("metadata"))
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
                doc = yamlio.parse(file.read_text(encoding="utf-8"), str(file), generated=True)
            except Exception:  # noqa: BLE001 - a non-CRD helper file in the folder is not ours to judge
                continue
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            if spec.get("scope") == "Cluster":
                self.cluster_scoped_crds.add((spec["group"], spec["names"]["kind"]))
            for version in spec.get("versions", []):
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    self._crds[key] = _strict(copy.deepcopy(schema), top=True)
            self.crd_sources.append(str(file))



_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?")
_STRICT_FOLDER = re.compile(r"v(\d+)\.(\d+)\.\d+-local-strict")


@functools.lru_cache(maxsize=1)
def supported_kubernetes_versions() -> tuple[str, ...]:
    """The minor versions (``1.33``) whose strict schemas ``kubernetes-validate`` ships."""
    folders = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = {(int(m[1]), int(m[2])) for entry in folders.iterdir() if (m := _STRICT_FOLDER.fullmatch(entry.name))}
    return tuple(f"{major}.{minor}" for major, minor in sorted(found))


def kubernetes_version_problem(version: str) -> "str | None":
    """Why ``version`` cannot be validated against, or None.

    Only a minor version with its own schemas is accepted: validating 9.99
    against the newest schemas there are (as this once did) reports success
    for a version nothing was checked against.
    """
    supported = supported_kubernetes_versions()
    match = _VERSION.fullmatch(version)
    if match and f"{int(match[1])}.{int(match[2])}" in supported:
        return None
    return (f"{shown(version)} is not a Kubernetes version with schemas here; supported: {', '.join(supported)} "
            f"(a minor version such as {supported[-1] if supported else '1.33'}, or one of its patch releases)")


def _schema_version(version: str) -> str:
    """The schema folder version (``1.33.0``) for ``version``; an InputError when there is none."""
    problem = kubernetes_version_problem(version)
    if problem:
        raise InputError([Problem("--kubernetes-version", "", problem)])
    match = _VERSION.fullmatch(version)
    assert match is not None
    wanted = f"{int(match[1])}.{int(match[2])}"
    return [v for v in kv.all_versions() if kv.major_minor(v) == wanted][-1]


def _metadata_key_errors(metadata: Any) -> Iterator[str]:
    """Label and annotation keys and values as the API server checks them (the schemas do not)."""
    if not isinstance(metadata, dict):
        return
    labels, annotations = metadata.get("labels"), metadata.get("annotations")
    for key, value in (labels or {}).items() if isinstance(labels, dict) else ():
        problem = names.qualified_name_problem(key, "label key") if isinstance(key, str) else "is not a string"
        if problem:
            yield f"metadata.labels: key {shown(key)} {problem}"
        elif isinstance(value, str) and (value_problem := names.label_value_problem(value)):
            yield f"metadata.labels.{key}: {value_problem}"
    for key in annotations or {} if isinstance(annotations, dict) else ():
        problem = names.annotation_key_problem(key) if isinstance(key, str) else "is not a string"
        if problem:
            yield f"metadata.annotations: key {shown(key)} {problem}"
    if isinstance(annotations, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        size_problem = names.annotations_size_problem(annotations)
        if size_problem:
            yield f"metadata.annotations: {size_problem}"


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
