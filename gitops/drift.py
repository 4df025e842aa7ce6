"""``drift``: what differs between a service's environments that is not meant to.

"Works in staging, fails in prod" is usually a difference nobody decided on: a
hand-edited patch, an env var added in one overlay, a probe tuned in one
place. Every service with overlays in two or more environments is built with
``kubectl kustomize``, what is *expected* to differ is normalised away, and
the rest is compared field by field, every environment against the first in
sorted order.

Expected to differ (normalised away, never reported):

- replica counts: Deployment/StatefulSet/Rollout ``spec.replicas``, HPA
  ``spec.minReplicas``/``spec.maxReplicas``, and PodDisruptionBudgets as a
  whole (whether one exists follows the replica floor);
- container ``resources``;
- the image tag and digest; the image *repository* is compared;
- what comes from the environment's ingress config: Ingress
  ``spec.rules[].host``, ``spec.tls``, ``spec.ingressClassName`` and
  ``metadata.annotations``, and the NetworkPolicy rules that admit the
  load balancer's subnets or the ingress controller's and monitoring
  namespaces;
- the ``gitops-platform.io/environment`` label, wherever it appears, and the
  ``app.kubernetes.io/instance`` and ``app.kubernetes.io/version`` labels (the
  Application's name and the image tag);
- the pods' config and secrets checksum annotations (the config itself is
  compared in its ConfigMap; sealed values differ per cluster anyway);
- the namespace's ResourceQuota and LimitRange as a whole (derived from the
  replica counts and resources above);
- SealedSecret ``spec.encryptedData`` values (each cluster has its own key, so
  only the key names are compared) and its ``gitops-platform.io/sealed-with``
  annotation;
- ConfigMap/Secret generator hash suffixes (``<name>-<hash>``), in the names
  and in every reference to them. The generated names are taken from the
  ConfigMaps and Secrets of the build itself, so only names that really were
  generated are rewritten.

Declared differences are expected too: what the project itself asks to
differ (the catalog's ``environments.<profile>`` config values and
autoscaling targets, anything a stack file sets per environment). With the
project at hand, it is rendered afresh and compared the same way; a row the
fresh render has as well, with the same value in every environment, is left
out (``declared_only``).

Everything else is drift: config values, env vars, probes, ports, commands,
security context, autoscaling targets, objects present in one environment
only, whenever the project does not declare them so. Image Updater write-back
files (``.argocd-source-*.yaml``) are not part of a kustomize build and so are
never compared.

The comparison (``normalise``, ``compare``) is pure and needs no kubectl;
``drift_tree`` is the thin part that finds and builds the overlays.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from . import layout, yamlio
from .errors import InputError, Problem
from .kustomize import KUSTOMIZATION_FILES, Build, build_many

SEALED_WITH_ANNOTATION: Final = layout.ANNOTATION_SEALED_WITH
WHOLE_OBJECT: Final = ""        # the path of a row about an object's existence
PRESENT: Final = "present"      # its value where the object exists

# kustomize's name hash: 10 hex digits with 0, 1, 3, a, e replaced (no vowels, no look-alikes).
_GENERATED_NAME = re.compile(r"^(?P<name>.+)-[2456789bcdfghkmt]{10}$")
_REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet", "Rollout"})   # Rollout: a canary's pods
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class _Absent:
    """Where an object or field does not exist in an environment (null in JSON)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()


@dataclass(frozen=True)
class Drift:
    """One field (or whole object) that differs, with its value in every environment compared."""

    object: str                # Kind/name
    path: str                  # e.g. spec.template.spec.containers[app].env[DB_HOST].value; "" = the object
    values: dict[str, Any]     # environment -> value, ABSENT where it does not exist

    def as_json(self) -> dict[str, Any]:
        return {"object": self.object, "path": self.path,
                "values": {env: None if v is ABSENT else v for env, v in self.values.items()}}

    def __str__(self) -> str:
        where = f"{self.object} {self.path}" if self.path else f"{self.object} (object)"
        return f"{where}: " + " ".join(f"{env}={_show(v)}" for env, v in self.values.items())


@dataclass
class DriftReport:
    """Per service: the environments compared (the first is the reference) and what drifts."""

    environments: dict[str, list[str]] = field(default_factory=dict)
    services: dict[str, list[Drift]] = field(default_factory=dict)   # drifting services only

    @property
    def drifting(self) -> int:
        return len(self.services)

    @property
    def fields(self) -> int:
        return sum(len(d) for d in self.services.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "services": {svc: [d.as_json() for d in drifts] for svc, drifts in self.services.items()},
            "drifting": self.drifting,
            "fields": self.fields,
            "compared": self.environments,
        }

    def text_lines(self) -> list[str]:
        lines = []
        for svc, drifts in self.services.items():
            lines.append(f"{svc} ({', '.join(self.environments[svc])})")
            lines += [f"  {d}" for d in drifts]
        lines.append(f"{self.drifting} services drift, {self.fields} fields "
                     f"({len(self.environments)} services with two or more environments compared)")
        return lines


# --- the tree (kubectl) ----------------------------------------------------------------------------
def drift_tree(tree: Path, kubectl: str = "kubectl", jobs: int = 4, reference: Path | None = None) -> DriftReport:
    """Build every overlay of every service that has two or more environments and compare them.

    ``reference``: the project rendered afresh (``render_reference``). What
    differs there too, with the same values in every environment, is what
    the catalog (``environments.<profile>``) and the stack files declare, so
    it is not drift (``declared_only``); only what a fresh render would not
    produce is reported. Without it, only the built-in expected differences
    are left out.
    """
    compared = {svc: envs for svc, envs in find_overlays(tree).items() if len(envs) >= 2}
    builds = _built(tree, [d for envs in compared.values() for d in envs.values()], kubectl, jobs)
    report = DriftReport()
    for svc in sorted(compared):
        envs = compared[svc]
        report.environments[svc] = sorted(envs)
        drifts = compare({env: _objects(builds[envs[env]]) for env in envs})
        if drifts:
            report.services[svc] = drifts
    if reference is not None and report.services:
        # Only the services that differ at all are built a second time, from the fresh render.
        rendered = find_overlays(reference)
        references = {svc: {env: rendered[svc][env] for env in compared[svc]} for svc in report.services
                      if set(compared[svc]) <= set(rendered.get(svc, {}))}
        reference_builds = _built(reference, [d for envs in references.values() for d in envs.values()], kubectl, jobs)
        for svc, envs in references.items():
            left = declared_only(report.services[svc], compare({env: _objects(reference_builds[d])
                                                                 for env, d in envs.items()}))
            if left:
                report.services[svc] = left
            else:
                del report.services[svc]
    return report


def render_reference(project_root: Path, out: Path) -> Path:
    """Render every stack of the project at ``project_root`` into the empty directory ``out``; returns it.

    No certificate and no secret values: sealed secrets are left out (the
    tree's are compared by key names anyway), so this needs nothing but the
    project's inputs.
    """
    from .project import load_project
    from .render import render_stack
    from .writer import write_render

    project = load_project(project_root)
    for stack in project.stacks:
        write_render(out, render_stack(project, stack))
    return out


def _built(tree: Path, directories: Sequence[str], kubectl: str, jobs: int) -> dict[str, Build]:
    builds = {b.directory: b for b in build_many(tree, list(directories), kubectl, jobs)}
    failed = [b for b in builds.values() if not b.ok]
    if failed:
        raise InputError([Problem(b.directory, "", f"kustomize build failed: {_first_lines(b.output)}")
                          for b in failed])
    return builds


def find_overlays(tree: Path) -> dict[str, dict[str, str]]:
    """service -> environment -> overlay directory (relative to the tree), for every overlay with a kustomization."""
    render_hint = f"render it first: python -m gitops render --all --out {tree}"
    if not tree.exists():
        raise InputError(f"{tree}: no such directory; give the rendered GitOps tree, or {render_hint}")
    if not tree.is_dir():
        raise InputError(f"{tree}: is a file; give the directory of the rendered GitOps tree")
    found: dict[str, dict[str, str]] = {}
    for overlay in sorted(tree.glob(f"{layout.APPS_DIR}/*/{layout.OVERLAYS_DIR}/*")):
        if any((overlay / name).is_file() for name in KUSTOMIZATION_FILES):
            service, env = overlay.parent.parent.name, overlay.name
            found.setdefault(service, {})[env] = layout.overlay_dir(service, env)
    if not found:
        raise InputError(f"{tree}: no {layout.overlay_dir('<service>', '<env>')}/{layout.KUSTOMIZATION}; "
                         f"is this a rendered GitOps tree? {render_hint}")
    return found


def _objects(build: Build) -> list[dict[str, Any]]:
    docs = yamlio.parse_all(build.output, f"{build.directory} (built)", generated=True)
    return [d for d in docs if isinstance(d, dict)]


def _first_lines(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[:n]) + (" ..." if len(lines) > n else "")


# --- comparison (pure) -----------------------------------------------------------------------------
def compare(built: Mapping[str, Sequence[dict[str, Any]]]) -> list[Drift]:
    """What differs between environments once the expected differences are normalised away.

    ``built``: environment -> the objects its overlay builds to. Every
    environment is compared against the first in sorted order; a row carries
    the value of every environment so the odd one out is visible.
    """
    envs = sorted(built)
    objects = {env: normalise(built[env]) for env in envs}
    drifts: list[Drift] = []
    for key in sorted(set().union(*(objects[env] for env in envs))):
        present = [env for env in envs if key in objects[env]]
        if len(present) < len(envs):
            drifts.append(Drift(key, WHOLE_OBJECT, {env: PRESENT if env in present else ABSENT for env in envs}))
        if len(present) >= 2:
            values = {env: objects[env][key] for env in present}
            drifts += [Drift(key, _format_path(path), diff) for path, diff in _differences((), values)]
    return drifts


def declared_only(drifts: Sequence[Drift], declared: Sequence[Drift]) -> list[Drift]:
    """``drifts`` without the rows ``declared`` has too: the same object, path and value in every environment.

    ``declared`` is the comparison of a fresh render of the project. A row
    differs from it when an overlay was edited by hand (one environment's
    value is not the rendered one), so it stays.
    """
    expected = {_row(d) for d in declared}
    return [d for d in drifts if _row(d) not in expected]


def _row(drift: Drift) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return drift.object, drift.path, tuple((env, _canonical(v)) for env, v in sorted(drift.values.items()))


def normalise(objects: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``Kind/name`` -> the object without what is expected to differ between environments.

    The input is not modified. PodDisruptionBudgets, ResourceQuotas and LimitRanges are left out entirely.
    """
    generated = generated_names(objects)
    out: dict[str, dict[str, Any]] = {}
    for original in objects:
        kind = original.get("kind")
        if kind in ("PodDisruptionBudget", "ResourceQuota", "LimitRange"):
            continue
        obj = _renamed(copy.deepcopy(original), generated)
        for key in (layout.LABEL_ENVIRONMENT, layout.LABEL_INSTANCE, layout.LABEL_VERSION,
                    layout.ANNOTATION_CONFIG_CHECKSUM, layout.ANNOTATION_SECRETS_CHECKSUM):
            _strip_key(obj, key)
        _normalise_pod_specs(obj)
        if kind in _REPLICATED_KINDS:
            _pop(obj, "spec", "replicas")
        elif kind == "HorizontalPodAutoscaler":
            _pop(obj, "spec", "minReplicas")
            _pop(obj, "spec", "maxReplicas")
        elif kind == "Ingress":
            _normalise_ingress(obj)
        elif kind == "NetworkPolicy":
            _normalise_network_policy(obj)
        elif kind == "SealedSecret":
            _normalise_sealed_secret(obj)
        out[_unique_key(obj, out)] = obj
    return out


def generated_names(objects: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Built name -> generator name, for the ConfigMaps and Secrets kustomize gave a hash suffix."""
    names = {}
    for obj in objects:
        if obj.get("kind") in ("ConfigMap", "Secret"):
            name = str((obj.get("metadata") or {}).get("name", ""))
            match = _GENERATED_NAME.match(name)
            if match:
                names[name] = match.group("name")
    return names


def image_without_tag(image: str) -> str:
    """``registry:5000/repo/name:tag@sha256:...`` -> ``registry:5000/repo/name``: the repository only."""
    name = image.split("@", 1)[0]
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


def _renamed(node: Any, generated: Mapping[str, str]) -> Any:
    """Every string equal to a generated name (its own name and every reference) back to the generator's name."""
    if isinstance(node, dict):
        return {k: _renamed(v, generated) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, generated) for v in node]
    if isinstance(node, str):
        return generated.get(node, node)
    return node


def _strip_key(node: Any, key: str) -> bool:
    """Remove ``key`` from every mapping under ``node``; a mapping left empty by that goes too.

    Returns True when ``node`` itself is such an emptied mapping.
    """
    if isinstance(node, list):
        for item in node:
            _strip_key(item, key)
        return False
    if not isinstance(node, dict):
        return False
    removed = node.pop(key, ABSENT) is not ABSENT
    for child in list(node):
        if _strip_key(node[child], key):
            del node[child]
    return removed and not node


def _normalise_pod_specs(node: Any) -> None:
    """Resources and image tags of every container, wherever a pod spec sits (Deployment, CronJob, ...)."""
    if isinstance(node, list):
        for item in node:
            _normalise_pod_specs(item)
        return
    if not isinstance(node, dict):
        return
    for key in _CONTAINER_LISTS:
        for container in node.get(key) or []:
            if isinstance(container, dict):
                container.pop("resources", None)
                if isinstance(container.get("image"), str):
                    container["image"] = image_without_tag(container["image"])
    for value in node.values():
        _normalise_pod_specs(value)


def _normalise_ingress(obj: dict[str, Any]) -> None:
    _pop(obj, "metadata", "annotations")
    _pop(obj, "spec", "tls")
    _pop(obj, "spec", "ingressClassName")
    for rule in (obj.get("spec") or {}).get("rules") or []:
        if isinstance(rule, dict):
            rule.pop("host", None)


def _normalise_network_policy(obj: dict[str, Any]) -> None:
    """Without the rules the environment's ingress and monitoring settings add (``gitops.ingress.environment_rules``).

    Those admit a load balancer's subnets (``ipBlock``), a controller's or
    monitoring namespace (a namespace peer without a pod selector), or an
    ingress port from anywhere (no ``from``); the base's own rules always name
    pods (its namespace's, or clients by namespace and pod label).
    """
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("ingress"), list):
        return

    def from_environment(rule: Any) -> bool:
        peers = rule.get("from") if isinstance(rule, dict) else None
        return isinstance(rule, dict) and (not peers or all(
            isinstance(peer, dict) and ("ipBlock" in peer or ("namespaceSelector" in peer and "podSelector" not in peer))
            for peer in peers))

    spec["ingress"] = [rule for rule in spec["ingress"] if not from_environment(rule)]


def _normalise_sealed_secret(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("encryptedData"), dict):
        spec["encryptedData"] = sorted(spec["encryptedData"])
    _pop(obj, "metadata", "annotations", SEALED_WITH_ANNOTATION)
    if (obj.get("metadata") or {}).get("annotations") == {}:
        del obj["metadata"]["annotations"]


def _pop(obj: dict[str, Any], *path: str) -> None:
    node: Any = obj
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _unique_key(obj: dict[str, Any], seen: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    key = f"{obj.get('kind', '?')}/{meta.get('name', '?')}"
    # One overlay may hold the same kind/name in two namespaces; keep both apart.
    return key if key not in seen else f"{key}@{meta.get('namespace', '')}"


# --- field-by-field difference ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Item:
    """A path step into a list by the item's name (``containers[app]``), not by position."""

    name: str


_Path = tuple["str | int | _Item", ...]


def _differences(path: _Path, values: dict[str, Any]) -> Iterator[tuple[_Path, dict[str, Any]]]:
    """Descend while every environment has the same shape; report where values part.

    A field missing somewhere is reported once at its top (an added env var is
    one row holding the whole entry), never as one row per leaf.
    """
    if _all_same(values.values()):
        return
    shapes = list(values.values())
    if all(isinstance(v, dict) for v in shapes):
        for key in _union(v.keys() for v in shapes):
            yield from _differences((*path, key), {e: v.get(key, ABSENT) for e, v in values.items()})
    elif all(isinstance(v, list) for v in shapes) and _named(shapes):
        items = {e: {item["name"]: item for item in v} for e, v in values.items()}
        for name in _union(i.keys() for i in items.values()):
            yield from _differences((*path, _Item(name)), {e: i.get(name, ABSENT) for e, i in items.items()})
    elif all(isinstance(v, list) for v in shapes) and all(isinstance(x, dict) for v in shapes for x in v):
        for index in range(max(len(v) for v in shapes)):
            yield from _differences((*path, index), {e: v[index] if index < len(v) else ABSENT
                                                      for e, v in values.items()})
    else:
        yield path, values


def _named(lists: list[list[Any]]) -> bool:
    """Lists of items with unique names (containers, env, ports, volumes): compared by name, not position."""
    for items in lists:
        if not all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in items):
            return False
        if len({x["name"] for x in items}) != len(items):
            return False
    return True


def _union(keys: Iterator[Any]) -> list[Any]:
    """Keys in first-seen order: the order of the reference environment, then any extras."""
    return list(dict.fromkeys(k for ks in keys for k in ks))


def _all_same(values: Any) -> bool:
    # JSON text, not ==: in Python 1 == True and 1 == 1.0, in Kubernetes they differ.
    return len({_canonical(v) for v in values}) == 1


def _canonical(value: Any) -> str:
    # An explicit null and a missing field mean the same to the API server.
    return "<absent>" if value is ABSENT or value is None else json.dumps(value, sort_keys=True)


def _format_path(path: _Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, _Item):
            out += f"[{part.name}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _show(value: Any) -> str:
    return "<absent>" if value is ABSENT else json.dumps(value, sort_keys=True)
