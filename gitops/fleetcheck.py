"""The metadata contract: every cluster an ApplicationSet selects has every label and annotation it reads.

An ApplicationSet with a clusters generator reads cluster Secrets' metadata in
its template (``{{ index .metadata.labels "k" }}``). A Secret its selector
matches that lacks such a key breaks the ApplicationSet at runtime (with
``missingkey=error`` the whole set stops; without it an Application gets an
empty value), and nothing in Argo CD says so beforehand. Both sides are known
offline (the hub's rendered ApplicationSets, each cluster's registration), so
this module compares them: pure, for ``validate`` and for the Pulumi program.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import layout, yamlio
from .appset.context import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, ExpansionContext
from .appset.selectors import SelectorError, parse_selector
from .render.manifest import Manifest

KINDS = ("labels", "annotations")

# goTemplate: .metadata.labels.k (an identifier), index .metadata.labels "k", index .metadata "labels" "k".
_GO_FIELD = re.compile(r"\.metadata\.(labels|annotations)\.([A-Za-z_][A-Za-z0-9_]*)")
_GO_INDEX = re.compile(r"""\bindex\s+\.metadata\.(labels|annotations)\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)""")
_GO_INDEX2 = re.compile(r"""\bindex\s+\.metadata\s+"(labels|annotations)"\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)""")
# fasttemplate: {{metadata.labels.k}} (the key runs to the closing braces).
_FAST = re.compile(r"\{\{\s*metadata\.(labels|annotations)\.([^\s{}]+?)\s*\}\}")


@dataclass(frozen=True, order=True)
class MetadataFinding:
    """A selected cluster lacks a key an ApplicationSet reads."""

    applicationset: str   # namespace/name
    cluster: str          # the cluster's name (data.name), or in-cluster
    secret: str           # namespace/name of the cluster Secret ("" for the in-cluster pseudo entry)
    kind: str             # labels | annotations
    key: str

    def __str__(self) -> str:
        what = "label" if self.kind == "labels" else "annotation"
        source = f" (Secret {self.secret})" if self.secret else " (Argo CD's built-in entry has no metadata)"
        return (f"cluster {self.cluster}{source} has no {what} {self.key!r}, which ApplicationSet "
                f"{self.applicationset} reads (metadata.{self.kind}); its selector matches the cluster")


def metadata_references(appset: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    """(labels|annotations, key) pairs the ApplicationSet's template and generators read.

    Every string of ``spec`` counts except selectors (which name labels to match,
    not values to read): the template, ``templatePatch``, generator ``values``
    and generators that a matrix interpolates with a cluster's parameters.
    """
    spec = appset.get("spec") or {}
    go = bool(spec.get("goTemplate"))
    refs: set[tuple[str, str]] = set()
    for text in _strings(spec):
        if go:
            refs.update(_GO_FIELD.findall(text))
            for pattern in (_GO_INDEX, _GO_INDEX2):
                for kind, quoted, raw in pattern.findall(text):
                    refs.add((kind, _unquote(quoted) if quoted or not raw else raw))
        else:
            refs.update(_FAST.findall(text))
    return frozenset(refs)


def cluster_selectors(appset: Mapping[str, Any]) -> list[Any]:
    """The ``selector`` of every clusters generator, also inside matrix and merge."""
    out = []
    for gen in _generators((appset.get("spec") or {}).get("generators") or []):
        clusters = gen.get("clusters")
        if isinstance(clusters, Mapping):
            out.append(clusters.get("selector"))
    return out


def check_metadata_contract(appsets: Iterable[Mapping[str, Any]], cluster_secrets: Sequence[Mapping[str, Any]],
                            argocd_namespace: str = layout.ARGOCD_NAMESPACE) -> list[MetadataFinding]:
    """Every (ApplicationSet, selected cluster, missing key), sorted.

    ``cluster_secrets``: v1 Secrets as Argo CD lists them (labels, annotations,
    ``data``/``stringData`` name and server); those of other namespaces and
    without the cluster secret-type label are not seen by the generator, as in
    Argo CD. An empty selector also selects the in-cluster pseudo entry, which
    has no metadata at all, unless a Secret registers the in-cluster server.
    """
    clusters = ExpansionContext(cluster_secrets=cluster_secrets, argocd_namespace=argocd_namespace).clusters
    findings: set[MetadataFinding] = set()
    for appset in appsets:
        selectors = cluster_selectors(appset)
        refs = metadata_references(appset)
        if not selectors or not refs:
            continue
        meta = appset.get("metadata") or {}
        name = f"{meta.get('namespace') or argocd_namespace}/{meta.get('name', '?')}"
        for raw in selectors:
            try:
                selector = parse_selector(raw, validate_values=True)
            except SelectorError:
                continue  # the expansion reports an invalid selector
            for cluster in clusters:
                if not selector.matches(cluster.labels):
                    continue
                have = {"labels": cluster.labels, "annotations": cluster.annotations}
                findings.update(MetadataFinding(name, cluster.name, cluster.secret, kind, key)
                                for kind, key in refs if not have[kind].get(key))
            if selector.is_empty and not any(c.server == IN_CLUSTER_SERVER for c in clusters):
                findings.update(MetadataFinding(name, IN_CLUSTER_NAME, "", kind, key) for kind, key in refs)
    return sorted(findings)


def check_registration(registration: Mapping[str, Any], appsets: Iterable[Mapping[str, Any]],
                       others: Sequence[Mapping[str, Any]] = ()) -> list[MetadataFinding]:
    """The findings about one cluster's registration Secret against the hub's ApplicationSets.

    For the Pulumi program before it writes a registration into the hub:
    ``check_registration(registration_secret(stack, server, role), applicationsets(hub_render.files))``.
    ``others``: the hub's other cluster Secrets, if known (only this cluster's findings are returned).
    """
    meta = registration.get("metadata") or {}
    namespace = str(meta.get("namespace") or layout.ARGOCD_NAMESPACE)
    secret = f"{namespace}/{meta.get('name', '')}"
    return [f for f in check_metadata_contract(appsets, [registration, *others], namespace) if f.secret == secret]


def applicationsets(files: Iterable[Manifest]) -> list[dict[str, Any]]:
    """The ApplicationSets among rendered files (e.g. ``render_stack(project, hub).files``)."""
    out = []
    for manifest in files:
        if not manifest.path.endswith((".yaml", ".yml")):
            continue
        for doc in yamlio.parse_all(manifest.content.decode("utf-8"), manifest.path):
            if (isinstance(doc, dict) and doc.get("kind") == "ApplicationSet"
                    and str(doc.get("apiVersion", "")).startswith("argoproj.io/")):
                out.append(doc)
    return out


def is_cluster_secret(obj: Any) -> bool:
    return (isinstance(obj, dict) and obj.get("apiVersion") == "v1" and obj.get("kind") == "Secret"
            and ((obj.get("metadata") or {}).get("labels") or {}).get(layout.SECRET_TYPE_LABEL) == "cluster")


def _generators(items: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    for gen in items:
        if not isinstance(gen, Mapping):
            continue
        yield gen
        for combinator in ("matrix", "merge"):
            body = gen.get(combinator)
            if isinstance(body, Mapping):
                yield from _generators(body.get("generators") or [])


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if key == "selector":
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _unquote(text: str) -> str:
    try:
        return str(json.loads(f'"{text}"'))
    except ValueError:
        return text
