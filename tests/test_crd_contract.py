"""The project's own CRD schemas (``gitops/crds``) are its output contract, and they cannot drift.

``validate`` checks every custom resource against them with nothing beside the
clone. So that passing them means something, each is checked here against the
upstream CRDs in ``../shared/schemas`` (every copy there: the newest and the
versions the charts pin): every field the contract declares exists upstream
with the same type, its enums are subsets, and it requires at least what
upstream requires. Every custom resource the example renders (and the
variants the example does not use: a hub, a spoke, pull requests, sealed
values, the Pulumi program's root) passes both, and an unknown field fails
the contract.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import REPO_ROOT
from gitops import yamlio
from gitops.k8sschema import PROJECT_CRDS, Schemas, _strict

SHARED_SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
# The vendors whose upstream CRDs ../shared/schemas holds; argo-rollouts is the project's alone (no upstream copy).
CHECKED_VENDORS = ("argocd", "image-updater", "sealed-secrets")
needs_upstream = pytest.mark.skipif(
    not SHARED_SCHEMAS.is_dir(),
    reason=f"upstream CRDs not found in {SHARED_SCHEMAS} (the contract is checked where ../shared is beside the clone)")
Key = tuple[str, str]   # (apiVersion, kind)


# --- reading the schemas --------------------------------------------------------------------------------------


def _crd_schemas(doc: Any) -> Iterator[tuple[Key, dict[str, Any]]]:
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        return
    spec = doc["spec"]
    for version in spec["versions"]:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema:
            yield (f"{spec['group']}/{version['name']}", spec["names"]["kind"]), schema


def _contract() -> dict[Key, tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(apiVersion, kind) -> (file, CRD, openAPIV3Schema as written) of the project's checked schemas."""
    out = {}
    for vendor in CHECKED_VENDORS:
        for file in sorted((PROJECT_CRDS / vendor).glob("*.yaml")):
            doc = yaml.safe_load(file.read_text(encoding="utf-8"))
            for key, schema in _crd_schemas(doc):
                out[key] = (file, doc, schema)
    return out


CONTRACT = _contract()


@pytest.fixture(scope="module")
def upstream() -> dict[Key, list[tuple[str, dict[str, Any], dict[str, Any]]]]:
    """(apiVersion, kind) -> [(file, CRD, openAPIV3Schema)] of every upstream copy, newest and pinned versions."""
    if not SHARED_SCHEMAS.is_dir():
        pytest.skip(f"upstream CRDs not found in {SHARED_SCHEMAS} (the contract is checked where ../shared is "
                    "beside the clone)")
    out: dict[Key, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {}
    for vendor in CHECKED_VENDORS:
        for file in sorted((SHARED_SCHEMAS / vendor).rglob("*.yaml")):
            doc = yamlio.parse(file.read_text(encoding="utf-8"), str(file), generated=True)
            for key, schema in _crd_schemas(doc):
                out.setdefault(key, []).append((str(file.relative_to(SHARED_SCHEMAS)), doc, schema))
    return out


# --- the contract is a subset of upstream -------------------------------------------------------------------


def _types(node: dict[str, Any]) -> set[str] | None:
    """The JSON types a node admits; None for any (upstream's free-form nodes)."""
    if "type" in node:
        return {node["type"]} if isinstance(node["type"], str) else set(node["type"])
    if node.get("x-kubernetes-int-or-string"):
        return {"integer", "string"}
    alternatives = [a for key in ("anyOf", "oneOf") for a in node.get(key, []) if "type" in a]
    if alternatives:
        return {a["type"] for a in alternatives}
    return None


def drift(ours: dict[str, Any], theirs: dict[str, Any], path: str = "") -> list[str]:
    """Where ``ours`` admits what ``theirs`` (the upstream CRD's schema) does not say, or requires less."""
    where = path or "(root)"
    found = []
    our_types, their_types = _types(ours), _types(theirs)
    if our_types is None:
        found.append(f"{where}: declares no type")
    elif their_types is not None and not our_types <= their_types:
        found.append(f"{where}: type {sorted(our_types)}, upstream {sorted(their_types)}")
    if "enum" in theirs and "enum" not in ours:
        found.append(f"{where}: admits any value, upstream only {theirs['enum']}")
    elif "enum" in theirs and set(ours["enum"]) - set(theirs["enum"]):
        extra = sorted(map(str, set(ours["enum"]) - set(theirs["enum"])))
        found.append(f"{where}: admits {extra} beyond upstream's enum {theirs['enum']}")
    missing = set(theirs.get("required", [])) - set(ours.get("required", []))
    if missing:
        found.append(f"{where}: does not require {sorted(missing)}, which upstream requires")
    our_props = ours.get("properties", {})
    for alternative in (a for key in ("anyOf", "oneOf") for a in ours.get(key, [])):
        undeclared = set(alternative.get("required", [])) - set(our_props)
        if undeclared:
            found.append(f"{where}: an alternative requires undeclared {sorted(undeclared)}")
    for name, sub in our_props.items():
        child = f"{path}.{name}" if path else name
        if name in theirs.get("properties", {}):
            found.extend(drift(sub, theirs["properties"][name], child))
        elif isinstance(theirs.get("additionalProperties"), dict):
            found.extend(drift(sub, theirs["additionalProperties"], child))
        else:
            found.append(f"{child}: not a field of the upstream CRD")
    if "items" in ours:
        if isinstance(theirs.get("items"), dict):
            found.extend(drift(ours["items"], theirs["items"], f"{path}[]"))
        else:
            found.append(f"{where}: has items, upstream's has none")
    if isinstance(ours.get("additionalProperties"), dict):
        if isinstance(theirs.get("additionalProperties"), dict):
            found.extend(drift(ours["additionalProperties"], theirs["additionalProperties"], f"{path}.*"))
        elif not theirs.get("x-kubernetes-preserve-unknown-fields"):
            found.append(f"{where}: a map, upstream's is not")
    return found


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or "(root)", schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}.*")


def test_every_project_schema_of_an_upstream_vendor_is_checked_here() -> None:
    """A contract file added under a vendor with upstream CRDs is in CONTRACT, so it cannot skip the checks."""
    files = {f for vendor in CHECKED_VENDORS for f in (PROJECT_CRDS / vendor).glob("*.yaml")}
    assert files == {file for file, _, _ in CONTRACT.values()}
    assert {kind for _, kind in CONTRACT} == {"Application", "ApplicationSet", "AppProject", "ImageUpdater",
                                              "SealedSecret"}
    assert {p.name for p in PROJECT_CRDS.iterdir()} == {*CHECKED_VENDORS, "argo-rollouts"}


@pytest.mark.parametrize("key", sorted(CONTRACT), ids=lambda k: k[1])
def test_the_contract_is_closed_and_says_why(key: Key) -> None:
    """Strict: every object declares its fields (or is a map of strings, or empty); nothing preserves unknowns."""
    file, doc, schema = CONTRACT[key]
    text = file.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert header.startswith("# The project's output contract") and "tests/test_crd_contract.py" in header
    assert "x-kubernetes-preserve-unknown-fields" not in text
    assert doc["spec"]["scope"] == "Namespaced"
    for where, node in _nodes(schema):
        if node.get("type") == "object" and where != "(root)":
            closed = "properties" in node or isinstance(node.get("additionalProperties"), dict) \
                or node.get("maxProperties") == 0
            assert closed, f"{file.name}: {where} is an object that declares nothing"
        assert len(node.get("description", "")) <= 120, f"{file.name}: {where}: keep descriptions short"


@needs_upstream
@pytest.mark.parametrize("key", sorted(CONTRACT), ids=lambda k: k[1])
def test_every_field_of_the_contract_exists_upstream_with_the_same_type(upstream, key: Key) -> None:
    file, doc, schema = CONTRACT[key]
    assert key in upstream, f"{file.name}: no upstream CRD of {key[1]} {key[0]} in {SHARED_SCHEMAS}"
    for source, their_doc, theirs in upstream[key]:
        assert their_doc["spec"]["scope"] == doc["spec"]["scope"], source
        assert drift(schema, theirs) == [], f"{file.relative_to(REPO_ROOT)} against {source}"


def test_the_applicationset_template_spec_is_the_application_spec() -> None:
    """One schema of an Application's spec, written twice (a CRD has no references): kept equal."""
    application = CONTRACT[("argoproj.io/v1alpha1", "Application")][2]
    appset = CONTRACT[("argoproj.io/v1alpha1", "ApplicationSet")][2]
    assert appset["properties"]["spec"]["properties"]["template"]["properties"]["spec"] == \
        application["properties"]["spec"]


def test_drift_finds_an_undeclared_field_a_wrong_type_a_wider_enum_and_a_dropped_requirement() -> None:
    theirs = {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "string", "enum": ["x", "y"]}, "b": {"type": "integer"}}}
    assert drift({"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "enum": ["x"]}}},
                 theirs) == []
    assert drift({"type": "object", "required": ["a"], "properties": {"c": {"type": "string"}}}, theirs) == [
        "c: not a field of the upstream CRD"]
    assert drift({"type": "object", "required": ["a"], "properties": {"b": {"type": "string"}}}, theirs) == [
        "b: type ['string'], upstream ['integer']"]
    assert drift({"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "enum": ["z"]}}},
                 theirs) == ["a: admits ['z'] beyond upstream's enum ['x', 'y']"]
    assert drift({"type": "object", "properties": {"a": {"type": "string"}}}, theirs) == [
        "(root): does not require ['a'], which upstream requires", "a: admits any value, upstream only ['x', 'y']"]
    assert drift({"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "enum": ["x"]},
                                                                     "b": {"type": "object"}}}, theirs) == [
        "b: type ['object'], upstream ['integer']"]


# --- what the project emits passes both ---------------------------------------------------------------------


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """Strict the way ``validate`` makes a CRD's schema (closed objects)."""
    return jsonschema.Draft7Validator(_strict(copy.deepcopy(schema), top=True))


def _errors(validator: jsonschema.protocols.Validator, obj: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project rendered once for this module."""
    from gitops.cli import main

    out = tmp_path_factory.mktemp("contract") / "repo"
    assert main(["render", "--all", "--out", str(out), "--project", str(REPO_ROOT)]) == 0
    return out


def _rendered_custom_resources(tree: Path) -> list[dict[str, Any]]:
    objects = []
    for file in sorted(tree.rglob("*.yaml")):
        for doc in yamlio.parse_all(file.read_text(encoding="utf-8"), str(file), generated=True):
            if isinstance(doc, dict) and (doc.get("apiVersion"), doc.get("kind")) in CONTRACT:
                objects.append(doc)
    return objects


def _variants() -> list[dict[str, Any]]:
    """Custom resources the example does not render: each other shape the renderer and the sealer can emit."""
    from components.argocd import ArgoCDArgs, root_app_values
    from gitops.model import AddOn, Topology, UpdateMode
    from gitops.project import load_project
    from gitops.render.argocd import application_set, platform_project
    from gitops.render.fleet import addon_application_set, addons_project, fleet_roots
    from gitops.render.imageupdater import image_updater
    from gitops.render.secrets import sealed_object
    from gitops.sealing import Scope, SealingCert, seal_secret

    project = load_project(REPO_ROOT)
    dev = next(s for s in project.stacks if not s.promote_from)
    addon = AddOn(name="metrics-server", repo_url="https://charts.example.com", chart="metrics-server",
                  version="3.12.1", namespace="kube-system")
    hub = dataclasses.replace(dev, argocd=dataclasses.replace(dev.argocd, topology=Topology.HUB,
                                                              fleet_addons=(addon,)))
    spoke = dataclasses.replace(dev, argocd=dataclasses.replace(dev.argocd, topology=Topology.SPOKE, hub="ops"))
    out: list[dict[str, Any]] = [fleet_roots(hub), addons_project(hub), addon_application_set(hub, addon),
                                 application_set(spoke, "checkout", ["cart"])]
    for policy in (dataclasses.replace(dev.image_updates, mode=UpdateMode.PULL_REQUEST, pull_request_provider="gitlab"),
                   dataclasses.replace(dev.image_updates, mode=UpdateMode.PULL_REQUEST),
                   dataclasses.replace(dev.image_updates, write_branch="image-updates", credentials_secret="git-push",
                                       allow_tags="any")):
        updater = image_updater(project.catalog, dataclasses.replace(dev, image_updates=policy))
        assert updater is not None
        out.append(updater)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = SealingCert(public_key=key.public_key(), fingerprint="0" * 64,
                       not_after=datetime.now(UTC) + timedelta(days=1), pem="")
    out.append(sealed_object("cart-secrets", "checkout", {"app.kubernetes.io/name": "cart"},
                             {"DB_PASSWORD": b"s3cret"}, cert, "test", None))
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth", "immutable": True,
              "metadata": {"name": "bot", "labels": {"team": "platform"}, "annotations": {"note": "x"}},
              "stringData": {"username": "bot", "password": "token"}}
    out.append(seal_secret(secret, cert, "secret.yaml", Scope.CLUSTER_WIDE, None))
    args = ArgoCDArgs(environment="qa", cluster_name="shop-qa", region="eu-west-3", namespace="argocd",
                      gitops=dev.gitops, registry=dev.registry, role_prefix="shop-qa")
    values = root_app_values(args)
    for kind, section in (("AppProject", "projects"), ("Application", "applications")):
        for name, entry in values[section].items():   # as the argocd-apps chart makes each object
            metadata = {"name": name, "namespace": entry["namespace"], "finalizers": entry["finalizers"]}
            spec = {k: v for k, v in entry.items() if k not in ("namespace", "finalizers")}
            out.append({"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec})
    out.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "roots"},
                "spec": platform_project("https://git.example.com/gitops.git", "argocd",
                                         [("bitnami.com", "SealedSecret")])})
    return out


@pytest.fixture(scope="module")
def emitted(rendered: Path) -> list[dict[str, Any]]:
    """Every custom resource of the rendered example, its generated Applications, and the variants."""
    objects = _rendered_custom_resources(rendered)
    if shutil.which("kubectl"):
        from gitops.options import ValidateOptions
        from gitops.validate import generated_applications

        apps, problems = generated_applications(rendered, ValidateOptions())
        assert problems == []
        objects += [app for _, app in apps]
    return objects + _variants()


def test_the_example_and_its_variants_emit_every_kind_of_the_contract(emitted: list[dict[str, Any]]) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in emitted}
    assert kinds == set(CONTRACT)
    assert len(emitted) > 40


def test_every_emitted_custom_resource_passes_the_contract(emitted: list[dict[str, Any]]) -> None:
    schemas = Schemas("1.33", None)
    problems = [f"{o['kind']} {o['metadata']['name']}: {e}" for o in emitted for e in schemas.errors(o)]
    assert problems == []
    assert schemas.contract_checked == len(emitted) and schemas.crd_checked == 0


@needs_upstream
def test_every_emitted_custom_resource_passes_every_upstream_crd(upstream, emitted: list[dict[str, Any]]) -> None:
    validators = {key: [(source, _validator(schema)) for source, _, schema in copies]
                  for key, copies in upstream.items()}
    problems = [f"{o['kind']} {o['metadata']['name']} against {source}: {error}"
                for o in emitted for source, validator in validators[(o["apiVersion"], o["kind"])]
                for error in _errors(validator, o)]
    assert problems == []


@pytest.mark.parametrize(("kind", "path"), [
    ("ApplicationSet", ("spec",)),
    ("ApplicationSet", ("spec", "template", "spec", "source")),
    ("ApplicationSet", ("spec", "generators", 0, "git")),
    ("AppProject", ("spec",)),
    ("AppProject", ("spec", "destinations", 0)),
    ("Application", ("spec", "syncPolicy")),
    ("ImageUpdater", ("spec", "applicationRefs", 0, "images", 0)),
    ("ImageUpdater", ("spec", "writeBackConfig", "gitConfig")),
    ("SealedSecret", ("spec", "template", "metadata")),
])
def test_an_unknown_field_fails_the_contract(emitted: list[dict[str, Any]], kind: str, path: tuple[Any, ...]) -> None:
    obj = copy.deepcopy(next(o for o in emitted if o["kind"] == kind))
    node: Any = obj
    for step in path:
        node = node[step]
    node["unknownField"] = True
    errors = list(Schemas("1.33", None).errors(obj))
    assert any("'unknownField' was unexpected" in e and "the project's schema gitops/crds/" in e for e in errors), errors
