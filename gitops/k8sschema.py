"""Schema validation of built objects: Kubernetes kinds and CRDs.

Kubernetes kinds use the strict schemas shipped by ``kubernetes-validate``;
one validator per kind is built once (the library re-reads its definitions
file on every call, which made large trees slow). Custom resources are
validated against the CRDs' ``openAPIV3Schema`` made strict the way the API
server's field validation is: a field the schema does not declare is an error
unless the schema preserves unknown fields.

Which CRDs: the project's own schemas (``gitops/crds/<vendor>/*.yaml``) of
every custom resource it emits always apply. They are its output contract,
written for it (not copied upstream CRDs), so a clone validates with nothing
beside it; ``tests/test_crd_contract.py`` keeps them a strict subset of the
upstream CRDs. A CRD directory (``--schemas``) adds upstream CRDs: an object
of a kind both describe must pass both, the contract (what the project means
to emit) and the upstream CRD (what the API server will take).
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import names, yamlio
from .errors import InputError, Problem, shown
from .names import DNS1123_SUBDOMAIN

if TYPE_CHECKING:   # jsonschema loads when something is validated (not for diff, apps or render)
    import jsonschema
    from referencing import Registry


def _kubernetes_validate() -> Any:
    """kubernetes-validate's schema files, loaded (with jsonschema, which it imports) when first needed."""
    from kubernetes_validate import utils

    return utils


# The project's output contract (gitops/crds/<vendor>/*.yaml), in the layout of a CRD directory.
PROJECT_CRDS = Path(__file__).resolve().parent / "crds"


class SchemaNotFound(Exception):
    pass


@dataclass
class _CrdSchema:
    """One version of one CRD: its strict schema, where it came from, its validator once built."""

    schema: dict[str, Any]
    source: str                 # the CRD file
    label: str                  # how an error names it: the project's file, or the --schemas CRD file
    validator: jsonschema.protocols.Validator | None = None

    def errors(self, obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """(path, message) of each error; an InputError naming the file when the CRD's schema is unusable.

        A CRD of ``--schemas`` is input: one with a broken schema (a property
        that is null, a type that is no type) must stop ``validate`` with its
        file named, not with a traceback. Checked only when validating fails,
        since checking every schema up front costs most of a second.
        """
        import jsonschema

        try:
            if self.validator is None:
                self.validator = jsonschema.Draft7Validator(self.schema)
            errors = sorted(self.validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        except Exception as exc:   # the object is plain data: a failure is the schema's
            try:
                jsonschema.Draft7Validator.check_schema(self.schema)
                detail = f"{type(exc).__name__}: {exc}"
            except jsonschema.exceptions.SchemaError as bad:
                detail = f"{'.'.join(str(p) for p in bad.absolute_path) or '(root)'}: {bad.message}"
            raise InputError([Problem(self.source, "openAPIV3Schema", f"is not a usable schema ({detail}); "
                                      "fix the CRD or leave it out of --schemas")]) from None
        for error in errors:
            yield ".".join(str(p) for p in error.absolute_path) or "(root)", error.message


class Schemas:
    """Validators for every kind this tree may contain, built lazily and cached.

    ``crd_dir`` (``--schemas``): upstream CRDs to check custom resources
    against as well as the project's own schemas; None checks against the
    project's alone. ``contract_checked`` and ``crd_checked`` count the
    objects checked against each, so a report can say what was covered.
    """

    def __init__(self, kubernetes_version: str, crd_dir: Path | None) -> None:
        self.version = _schema_version(kubernetes_version)
        self.crd_dir = crd_dir
        self._k8s: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        self._registry: Registry | None = None
        self._contract: dict[tuple[str, str], _CrdSchema] = {}   # (apiVersion, kind) -> the project's schema
        self._crds: dict[tuple[str, str], _CrdSchema] = {}       # (apiVersion, kind) -> the --schemas CRD
        self.crd_sources: list[str] = []
        self.cluster_scoped_crds: set[tuple[str, str]] = set()   # (group, kind) of CRDs with scope: Cluster
        self.contract_checked = 0
        self.crd_checked = 0
        for file in sorted(PROJECT_CRDS.glob("*/*.yaml")):
            label = f"the project's schema {file.relative_to(PROJECT_CRDS.parent.parent).as_posix()}"
            self._add_crd(_project_crd(file), str(file), label, self._contract)
        if crd_dir is not None:
            self._load_crd_dir(crd_dir)

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
        key = (api_version, kind)
        contract, crd = self._contract.get(key), self._crds.get(key)
        if contract is None and crd is None:
            try:
                validator = self._k8s_validator(api_version, kind)
            except SchemaNotFound as exc:
                yield str(exc)
                return
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                yield f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            return
        said: set[tuple[str, str]] = set()   # an unknown field both reject is said once, by the contract
        for schema in (contract, crd):
            if schema is None:
                continue
            if schema is contract:
                self.contract_checked += 1
            else:
                self.crd_checked += 1
            for path, message in schema.errors(obj):
                if (path, message) not in said:
                    said.add((path, message))
                    yield f"{path}: {message} ({schema.label})"

    def _k8s_validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator:
        key = (api_version, kind)
        if key in self._k8s:
            return self._k8s[key]
        short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        folder = f"kubernetes-json-schema/v{self.version}-local-strict"
        try:
            schema = _kubernetes_validate().schema_contents(f"{folder}/{kind.lower()}-{short}.json", self.version)
        except FileNotFoundError:
            hint = (f", nor in the CRDs of {self.crd_dir}" if self.crd_dir is not None
                    else "; pass --schemas DIR with its CRD to validate it")
            raise SchemaNotFound(f"no schema for {kind} {api_version}: not a Kubernetes {self.version} kind, nor a "
                                 f"custom resource of the project's schemas (gitops/crds){hint}") from None
        import jsonschema
        from referencing import Registry, Resource

        if self._registry is None:
            definitions = _kubernetes_validate().schema_contents(f"{folder}/_definitions.json", self.version)
            self._registry = Resource.from_contents(definitions) @ Registry()
        registry = Resource.from_contents(schema) @ self._registry
        self._k8s[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._k8s[key]

    def _load_crd_dir(self, crd_dir: Path) -> None:
        """Every CRD of ``crd_dir`` (``*.yaml`` and ``<vendor>/*.yaml``), or an InputError when it holds none.

        Only the top of each vendor folder: version subfolders hold older
        copies. A file that is no CRD (a helper file, a schema fragment) is
        skipped: it is not ours to judge.
        """
        found = 0
        for file in sorted([*crd_dir.glob("*.yaml"), *crd_dir.glob("*/*.yaml")]):
            try:
                doc = yamlio.parse(file.read_text(encoding="utf-8"), str(file), generated=True)
            except Exception:   # a non-CRD helper file in the folder is not ours to judge
                continue
            if _is_crd(doc):
                self._add_crd(doc, str(file), f"CRD {file}", self._crds)
                found += 1
        if not found:
            raise InputError([Problem("--schemas", "", f"{crd_dir} holds no CustomResourceDefinition (looked for "
                                      "*.yaml and <vendor>/*.yaml); give a directory of CRDs, or leave --schemas "
                                      "out to validate against the project's own schemas")])

    def _add_crd(self, doc: dict[str, Any], source: str, label: str,
                 into: dict[tuple[str, str], _CrdSchema]) -> None:
        spec = doc["spec"]
        if spec.get("scope") == "Cluster":
            self.cluster_scoped_crds.add((spec["group"], spec["names"]["kind"]))
        for version in spec["versions"]:
            if not isinstance(version, dict) or not isinstance(version.get("name"), str):
                continue   # not a version a resource can name
            wrapper = version.get("schema")
            schema = wrapper.get("openAPIV3Schema") if isinstance(wrapper, dict) else None
            if isinstance(schema, dict):
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                into[key] = _CrdSchema(_strict(copy.deepcopy(schema), top=True), source, label)
        self.crd_sources.append(source)


def _is_crd(doc: Any) -> bool:
    if not isinstance(doc, dict) or not isinstance(spec := doc.get("spec"), dict):
        return False
    return (doc.get("kind") == "CustomResourceDefinition"
            and isinstance(spec.get("group"), str) and isinstance((spec.get("names") or {}).get("kind"), str)
            and isinstance(spec.get("versions"), list))


@functools.cache
def _project_crd(file: Path) -> dict[str, Any]:
    """One of the project's own CRDs, parsed once per process (read-only: ``_add_crd`` copies the schema)."""
    doc = yamlio.parse(file.read_text(encoding="utf-8"), str(file), generated=True)
    if not isinstance(doc, dict) or not _is_crd(doc):
        raise ValueError(f"{file}: not a CustomResourceDefinition; every file of gitops/crds/<vendor>/ must be one")
    return doc


_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?")
_STRICT_FOLDER = re.compile(r"v(\d+)\.(\d+)\.\d+-local-strict")


@functools.lru_cache(maxsize=1)
def supported_kubernetes_versions() -> tuple[str, ...]:
    """The minor versions (``1.33``) whose strict schemas ``kubernetes-validate`` ships."""
    folders = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = {(int(m[1]), int(m[2])) for entry in folders.iterdir() if (m := _STRICT_FOLDER.fullmatch(entry.name))}
    return tuple(f"{major}.{minor}" for major, minor in sorted(found))


def kubernetes_version_problem(version: str) -> str | None:
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
    kv = _kubernetes_validate()
    versions: list[str] = [v for v in kv.all_versions() if kv.major_minor(v) == wanted]
    return versions[-1]


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
