"""What Argo CD decides when it syncs, checked offline on built objects: admission and order.

**Admission** (``admission_findings``). Argo CD refuses to sync an Application
when one of its objects, hooks included, is of a kind its AppProject does not
admit (``AppProject.IsGroupKindPermitted``, checked for every sync task): a
namespaced kind must match an entry of ``namespaceResourceWhitelist`` (no list
admits every namespaced kind, an empty list none) and no entry of
``namespaceResourceBlacklist``; a cluster-scoped kind must match an entry of
``clusterResourceWhitelist`` (no list admits none) and none of
``clusterResourceBlacklist``. Entries are globs on group and kind (and, for
cluster-scoped entries, an optional name). A kind the renderer starts emitting
without its project admitting it would build, validate and then be refused on
the cluster; this check refuses it here.

**Order** (``ordering_findings``). Argo CD applies an Application phase by phase
(PreSync, Sync, PostSync; an object that is no hook belongs to Sync) and, within
a phase, wave by wave (``argocd.argoproj.io/sync-wave``, default 0), waiting for
each wave to be healthy before the next. Inside one wave it orders by kind with
custom resources last and waits for nothing: a Deployment in the wave of its
SealedSecret starts before the Secret exists. So what a pod reads (its
ServiceAccount, and each ConfigMap, Secret or SealedSecret it names) must come
in an earlier phase or wave than the workload, and in an environment's root
every AppProject before the ApplicationSets naming it (their Applications are
refused while the project does not exist). Only objects of the same build are
compared: what a build does not contain is someone else's to order.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from . import layout

# Argo CD's sync phases in the order it runs them; hooks of the others never run in a sync that succeeds.
PHASES: tuple[str, ...] = ("PreSync", "Sync", "PostSync")

# Built-in kinds that are cluster-scoped (the API server's discovery says so; offline, this list does).
CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset({
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"), ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"), ("networking.k8s.io", "IngressClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"), ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
})

# What a pod reads, by the kind that provides it.
_SECRET_KINDS = ("Secret", "SealedSecret")


def group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    group, _, _ = str(obj.get("apiVersion", "")).rpartition("/")
    return group, str(obj.get("kind", ""))


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


# --- admission ------------------------------------------------------------------------------------

def admits(project: Mapping[str, Any], group: str, kind: str, name: str, namespaced: bool) -> bool:
    """Whether an AppProject admits an object of this kind (Argo CD's rule, see the module docstring)."""
    spec = project.get("spec") or {}
    if namespaced:
        whitelist = spec.get("namespaceResourceWhitelist")
        listed = whitelist is None or _listed(whitelist, group, kind)
        return listed and not _listed(spec.get("namespaceResourceBlacklist") or [], group, kind)
    listed = _listed(spec.get("clusterResourceWhitelist") or [], group, kind, name)
    return listed and not _listed(spec.get("clusterResourceBlacklist") or [], group, kind, name)


def _listed(entries: Iterable[Any], group: str, kind: str, name: str | None = None) -> bool:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if not (fnmatch.fnmatchcase(kind, str(entry.get("kind", ""))) and
                fnmatch.fnmatchcase(group, str(entry.get("group", "")))):
            continue
        if name is not None and entry.get("name") and not fnmatch.fnmatchcase(name, str(entry["name"])):
            continue
        return True
    return False


def admission_findings(application: str, project_name: str, project: Mapping[str, Any],
                       objects: Iterable[Mapping[str, Any]],
                       cluster_scoped: Callable[[str, str], bool]) -> list[str]:
    """One message per kind of ``objects`` that ``project`` does not admit, naming the objects."""
    refused: dict[tuple[str, str, bool], list[str]] = {}
    for obj in objects:
        group, kind = group_kind(obj)
        namespaced = not cluster_scoped(group, kind)
        if not admits(project, group, kind, _name(obj), namespaced):
            refused.setdefault((group, kind, namespaced), []).append(_name(obj))
    messages = []
    for (group, kind, namespaced), names in sorted(refused.items()):
        lists = "namespaceResourceWhitelist" if namespaced else "clusterResourceWhitelist"
        messages.append(
            f"Application {application}: AppProject {project_name} does not admit kind {kind} "
            f"(group {group or 'core'}, {'namespaced' if namespaced else 'cluster-scoped'}) of "
            f"{', '.join(sorted(names))}; Argo CD would refuse the sync: the project's {lists} must list it "
            f"and its blacklist must not")
    return messages


# --- order ----------------------------------------------------------------------------------------

def sync_position(obj: Mapping[str, Any]) -> tuple[int, int] | None:
    """(phase, wave) in which Argo CD applies ``obj`` in a sync; None when it never does (Skip, SyncFail, ...).

    A hook of several phases counts at its earliest. A wave that is not an
    integer counts as 0, as Argo CD reads it (``wave_problem`` reports it).
    """
    annotations = _annotations(obj)
    hooks = [h.strip() for h in str(annotations.get(layout.HOOK_ANNOTATION, "")).split(",") if h.strip()]
    if hooks:
        phases = [PHASES.index(h) for h in hooks if h in PHASES]
        if not phases:
            return None
        phase = min(phases)
    else:
        phase = PHASES.index("Sync")
    try:
        wave = int(str(annotations.get(layout.SYNC_WAVE_ANNOTATION, "0")).strip())
    except ValueError:
        wave = 0
    return phase, wave


def wave_problem(obj: Mapping[str, Any]) -> str | None:
    value = _annotations(obj).get(layout.SYNC_WAVE_ANNOTATION)
    if value is None:
        return None
    try:
        int(str(value).strip())
    except ValueError:
        return (f"{obj.get('kind')} {_name(obj)}: {layout.SYNC_WAVE_ANNOTATION} {value!r} is not an integer; "
                "Argo CD ignores it and applies the object in wave 0")
    return None


def describe_position(position: tuple[int, int]) -> str:
    phase, wave = position
    return f"wave {wave} of the {PHASES[phase]} phase"


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a workload (Pod, anything with ``spec.template``, a CronJob's job template)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if obj.get("kind") == "Pod":
        candidate: Any = spec
    else:
        if obj.get("kind") == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        candidate = (spec.get("template") or {}).get("spec") if isinstance(spec.get("template"), dict) else None
    if isinstance(candidate, dict) and isinstance(candidate.get("containers"), list):
        return candidate
    return None


def references(pod: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(kinds that can provide it, name) for each object a pod needs to start."""
    if pod.get("serviceAccountName"):
        yield ("ServiceAccount",), str(pod["serviceAccountName"])
    for pull in pod.get("imagePullSecrets") or []:
        if isinstance(pull, dict) and pull.get("name"):
            yield _SECRET_KINDS, str(pull["name"])
    for key in ("initContainers", "containers"):
        for container in pod.get(key) or []:
            if not isinstance(container, dict):
                continue
            for source in container.get("envFrom") or []:
                yield from _named(source, "configMapRef", ("ConfigMap",))
                yield from _named(source, "secretRef", _SECRET_KINDS)
            for env in container.get("env") or []:
                value_from = (env or {}).get("valueFrom") if isinstance(env, dict) else None
                if isinstance(value_from, dict):
                    yield from _named(value_from, "configMapKeyRef", ("ConfigMap",))
                    yield from _named(value_from, "secretKeyRef", _SECRET_KINDS)
    for volume in pod.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        yield from _named(volume, "configMap", ("ConfigMap",))
        if isinstance(volume.get("secret"), dict) and volume["secret"].get("secretName"):
            yield _SECRET_KINDS, str(volume["secret"]["secretName"])
        projected = volume.get("projected")
        for source in (projected.get("sources") or []) if isinstance(projected, dict) else []:
            yield from _named(source, "configMap", ("ConfigMap",))
            yield from _named(source, "secret", _SECRET_KINDS)


def _named(holder: Any, key: str, kinds: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    ref = holder.get(key) if isinstance(holder, dict) else None
    if isinstance(ref, dict) and ref.get("name"):
        yield kinds, str(ref["name"])


def _provided_name(obj: Mapping[str, Any]) -> str:
    """The name of what an object provides: a SealedSecret's Secret is named by its template, else by it."""
    if obj.get("kind") == "SealedSecret":
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        return str(template.get("name") or _name(obj))
    return _name(obj)


def ordering_findings(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Objects of one build that Argo CD would apply no earlier than what needs them (see the module docstring)."""
    objects = [o for o in objects if isinstance(o, dict)]
    messages = [problem for problem in map(wave_problem, objects) if problem]
    providers: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for obj in objects:
        providers.setdefault((str(obj.get("kind")), _provided_name(obj)), []).append(obj)
    for obj in objects:
        position = sync_position(obj)
        pod = pod_spec(obj)
        if position is None or pod is None:
            continue
        for kinds, name in sorted(set(references(pod))):
            for kind in kinds:
                for provider in providers.get((kind, name), []):
                    before = sync_position(provider)
                    if before is not None and before >= position:
                        messages.append(
                            f"{obj.get('kind')} {_name(obj)} reads {kind} {_name(provider)}, which Argo CD applies in "
                            f"{describe_position(before)}, not before the {obj.get('kind')} ({describe_position(position)}): "
                            f"its pods could start before it exists; apply the {kind} first (an earlier "
                            f"{layout.SYNC_WAVE_ANNOTATION} for it, or a later wave or phase for the {obj.get('kind')})")
    projects = {_name(o): o for o in objects if group_kind(o) == ("argoproj.io", "AppProject")}
    for appset in (o for o in objects if group_kind(o) == ("argoproj.io", "ApplicationSet")):
        project_name = (((appset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("project")
        project = projects.get(str(project_name)) if isinstance(project_name, str) else None
        position, before = sync_position(appset), sync_position(project) if project is not None else None
        if position is not None and before is not None and before >= position:
            messages.append(
                f"ApplicationSet {_name(appset)} names AppProject {project_name}, which Argo CD applies in "
                f"{describe_position(before)}, not before the ApplicationSet ({describe_position(position)}): "
                f"its Applications would be refused until the project exists; give the AppProject an earlier "
                f"{layout.SYNC_WAVE_ANNOTATION}")
    return messages
