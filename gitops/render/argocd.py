"""The environment's Argo CD root: AppProjects, the ApplicationSet and the Image Updater policy.

``argocd/<env>/`` is what the root Application syncs: the one the Pulumi
program creates (standalone, hub) or, for a spoke, the one the hub's
``fleet-roots`` generates. One ApplicationSet per environment generates one
Application per service from the ``config.json`` files of that environment's
overlays; its template is the only place an Application is described. A hub
adds its fleet files (``render.fleet``); a spoke's Applications target the
spoke by its registered name instead of the in-cluster server.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import layout, yamlio
from ..ingress import READINESS_GATE_ENABLED, READINESS_GATE_LABEL
from ..model import Catalog, Service, Stack, SyncMode, SyncWindow, Topology
from .fleet import destination, hub_files
from .imageupdater import FILE as IMAGE_UPDATER_FILE
from .imageupdater import image_updater
from .labels import argocd_labels
from .manifest import Manifest, kustomization, yaml_file
from .notifications import subscriptions
from .ordering import ordered
from .overlays import render_overlay
from .quotas import admitted_kinds as namespace_policy_kinds
from .rollouts import scale_target
from .workloads import render_base

# What every team's Application may create, used or not: the kinds a service
# gets from its catalog entry alone (ports, ingress, autoscaling, config,
# secrets, replicas), nothing cluster-wide but the namespace Argo CD creates.
# A team's project admits these plus whatever else the renderer emits for its
# services (``admitted_kinds``), so this list is a floor, never the limit.
NAMESPACED_KINDS: tuple[tuple[str, str], ...] = (
    ("", "ConfigMap"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("apps", "Deployment"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("bitnami.com", "SealedSecret"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
)


def render_argocd(catalog: Catalog, stack: Stack, notifications_secret: Manifest | None = None,
                  overlays: Mapping[str, Sequence[Manifest]] | None = None) -> list[Manifest]:
    """``notifications_secret``: the notifiers' sealed credentials (``render.notifications.secret_file``), once
    they can be sealed; without it the environment renders as if they were pending.
    ``overlays``: service name -> its ``render_overlay(service, stack)`` files, for the services whose
    overlay the caller already rendered so (``admitted_kinds`` reads them instead of rendering them again)."""
    directory = layout.argocd_env_dir(stack.environment)
    files = []
    for team in catalog.teams:
        services = sorted(s.name for s in catalog.services if s.team == team)
        namespaces = sorted({s.namespace for s in catalog.services if s.team == team})
        kinds = admitted_kinds([s for s in catalog.services if s.team == team], stack, overlays)
        kinds = tuple(sorted({*kinds, *namespace_policy_kinds(catalog, team)}))   # render.quotas
        files.append(yaml_file(f"{directory}/project-{team}.yaml",
                               ordered(app_project(team, namespaces, stack, kinds))))
        files.append(yaml_file(f"{directory}/{layout.applicationset_file(team)}",
                               ordered(application_set(stack, team, services, replica_ignores(
                                   [s for s in catalog.services if s.team == team])))))
    if stack.argocd.topology is not Topology.SPOKE:
        # The Argo CD this stack runs: its built-in project must grant nothing (a spoke's is the hub's).
        files.append(yaml_file(f"{directory}/project-{layout.DEFAULT_PROJECT}.yaml",
                               ordered(locked_default_project(stack))))
    updater = image_updater(catalog, stack)
    if updater is not None:
        files.append(yaml_file(f"{directory}/{IMAGE_UPDATER_FILE}", ordered(updater)))
    files.extend(hub_files(stack))
    if notifications_secret is not None:
        files.append(notifications_secret)
    resources = sorted(f.path.rsplit("/", 1)[1] for f in files)
    files.append(yaml_file(f"{directory}/{layout.KUSTOMIZATION}", kustomization(resources, labels=argocd_labels(stack))))
    return files


def _labels(stack: Stack, **extra: str) -> dict[str, str]:
    out = {layout.LABEL_MANAGED_BY: layout.MANAGED_BY, layout.LABEL_ENVIRONMENT: stack.environment}
    out.update(extra)
    return out


def sync_window(window: SyncWindow) -> dict[str, Any]:
    """Applies to every Application of the project: the window is the environment's, not a service's."""
    return {"kind": window.kind, "schedule": window.schedule, "duration": window.duration,
            "applications": ["*"], "manualSync": window.manual_sync, "timeZone": window.time_zone}


def admitted_kinds(services: Iterable[Service], stack: Stack,
                   overlays: Mapping[str, Sequence[Manifest]] | None = None) -> tuple[tuple[str, str], ...]:
    """The namespaced kinds a team's project admits: ``NAMESPACED_KINDS`` and every kind rendered for its services.

    Read from the rendered files (and their kustomizations' generators), so a
    kind the renderer starts emitting is admitted in the same change, and a
    kind only some services get, such as the migration's ``batch/Job``, only by
    the projects of their teams; ``validate`` proves every built object is
    admitted. A SealedSecret counts whether or not it is sealed yet.

    Why a floor instead of exactly what is rendered: Argo CD ignores a live
    object whose kind its project does not admit: it neither prunes it nor
    deletes it with the Application. A project that lost Ingress with a team's
    last ingress would leave that Ingress and its load balancer running,
    managed by nobody. Everything a catalog edit can take away is in the
    floor; a migration Job is deleted by Argo CD once it succeeds, so a team
    that drops its migration leaves at most a failed run, which Argo CD never
    prunes anyway (it is a hook).

    ``overlays``: see ``render_argocd``; rendering every overlay a second time
    was a third of a render at 1000 services.
    """
    kinds = set(NAMESPACED_KINDS)
    for service in services:
        for manifest in render_base(service):
            kinds |= _base_kinds_in(manifest.path, manifest.content)
        overlay = overlays.get(service.name) if overlays is not None else None
        for manifest in render_overlay(service, stack) if overlay is None else overlay:
            kinds |= _kinds_in(manifest.path, manifest.content)
        if service.secrets:
            kinds.add(("bitnami.com", "SealedSecret"))
    return tuple(sorted(kinds))


_KIND_KEYS = ("apiVersion", "kind", "configMapGenerator", "secretGenerator")


def _kinds_in(path: str, content: bytes) -> frozenset[tuple[str, str]]:
    """(group, kind) of each object a rendered file defines or generates.

    Read from the top-level keys of the renderer's own canonical output rather
    than by parsing it (``yamlio.top_level_scalars``): building every document
    again would take as long as rendering it. A JSON 6902 patch (a list) has no
    top-level keys.
    """
    if not path.endswith((".yaml", ".yml")):
        return frozenset()
    kinds: set[tuple[str, str]] = set()
    for fields in yamlio.top_level_scalars(content.decode("utf-8"), _KIND_KEYS):
        if fields.get("kind") == "Kustomization":
            kinds |= {("", "ConfigMap")} if fields.get("configMapGenerator") not in (None, "[]") else set()
            kinds |= {("", "Secret")} if fields.get("secretGenerator") not in (None, "[]") else set()
        elif fields.get("kind") and fields.get("apiVersion"):
            group, _, _ = fields["apiVersion"].rpartition("/")
            kinds.add((group, fields["kind"]))
    return frozenset(kinds)


# A base is the same bytes in every stack (``render_base`` is cached), so its kinds are read once; the
# cache holds no more than that cache does. Overlays differ per stack and are read uncached.
_base_kinds_in = functools.lru_cache(maxsize=None)(_kinds_in)


def app_project(team: str, namespaces: list[str], stack: Stack,
                kinds: Iterable[tuple[str, str]] = NAMESPACED_KINDS) -> dict[str, Any]:
    """One project per team and environment: this repository, these namespaces, these kinds (``admitted_kinds``)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": layout.project_name(team, stack.environment),
            "namespace": stack.argocd.namespace,
            "labels": _labels(stack, **{layout.LABEL_TEAM: team}),
            # Keeps the project until no Application uses it.
            "finalizers": [layout.RESOURCES_FINALIZER],
        },
        "spec": {
            "description": f"Services of team {team} in {stack.environment}",
            "sourceRepos": [stack.gitops.repo_url],
            "destinations": [destination(stack, ns) for ns in namespaces],
            **({"syncWindows": [sync_window(w) for w in stack.delivery.sync_windows]} if stack.delivery.sync_windows else {}),
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in sorted(kinds)],
            "orphanedResources": {"warn": True},
        },
    }


def locked_default_project(stack: Stack) -> dict[str, Any]:
    """Argo CD's built-in ``default`` project, granting nothing.

    Every Application of the platform names its own project; one that ends up
    in ``default`` (a hand-made one, or one whose project was tampered with)
    can then deploy nothing anywhere. This is Argo CD's documented way to
    restrict the default project (it recreates the project if deleted).
    """
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": layout.DEFAULT_PROJECT, "namespace": stack.argocd.namespace, "labels": _labels(stack)},
        "spec": {
            "description": "Grants nothing: every Application of gitops-platform names its own project",
            "sourceRepos": [],
            "sourceNamespaces": [],
            "destinations": [],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": [{"group": "*", "kind": "*"}],
        },
    }


def platform_project(repo_url: str, argocd_namespace: str,
                     extra_kinds: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """The project of the root Applications: this repository into Argo CD's namespace, Argo CD's own kinds only.

    The Pulumi program creates it with the root Application (before it, since
    the root syncs ``argocd/<env>/`` where everything else is defined); a hub's
    ``fleet-roots`` Applications use it too.
    """
    return {
        "description": "Roots of gitops-platform: AppProjects, ApplicationSets and Image Updater policy per environment",
        "sourceRepos": [repo_url],
        "destinations": [{"server": layout.IN_CLUSTER_SERVER, "namespace": argocd_namespace}],
        "clusterResourceWhitelist": [],
        # extra_kinds: what else the root renders there, such as the notifiers' SealedSecret (render.notifications).
        "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in (*PLATFORM_KINDS, *extra_kinds)],
        "orphanedResources": {"warn": True},
    }


# What an environment's root (``argocd/<env>/``) holds.
PLATFORM_KINDS: tuple[tuple[str, str], ...] = (
    ("argoproj.io", "AppProject"),
    ("argoproj.io", "ApplicationSet"),
    ("argocd-image-updater.argoproj.io", "ImageUpdater"),
)


def namespace_labels(stack: Stack) -> dict[str, str]:
    """Labels of the namespaces Argo CD creates (and keeps) for the environment's Applications.

    With className ``alb`` the load balancer controller's webhook injects a
    readiness gate into every pod created there that backs a target group:
    such a pod counts as ready (for rollouts, disruption budgets and the
    Service) only once its load balancer target is healthy, so a rolling
    update never replaces the last healthy target with ones still in
    ``initial``. Only pods created after the label is set get the gate.
    """
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
    }
    if stack.ingress.is_alb:
        labels[READINESS_GATE_LABEL] = READINESS_GATE_ENABLED
    return labels


def application_set(stack: Stack, team: str, services: list[str],
                    ignore_differences: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The Applications of one team's services in this environment.

    What the template takes from a discovered ``config.json`` (a file anyone
    with push access to the repository, the Image Updater included, can edit)
    is bounded: the generator lists the team's files by path, so a new file
    adds no Application; the name and ``service`` label come from that path;
    the project is fixed here, and the namespace (from the file) must be one
    of the project's destinations or Argo CD refuses the Application. So no
    edit of a discovered file moves an Application out of its team's project
    and namespaces (``validate`` checks this by tampering with each file).
    """
    env = stack.environment
    service = f"{{{{index .path.segments {layout.service_segment(stack.gitops.path)}}}}}"
    sync_policy: dict[str, Any] = {
        # RespectIgnoreDifferences: a sync leaves what ignoreDifferences names as it is live (replica_ignores).
        "syncOptions": ["CreateNamespace=true", "PrunePropagationPolicy=foreground", "PruneLast=true",
                        "RespectIgnoreDifferences=true"],
        "managedNamespaceMetadata": {"labels": namespace_labels(stack)},
        "retry": {
            "limit": stack.delivery.retry_limit,
            "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
        },
    }
    if stack.delivery.sync is SyncMode.AUTOMATED:
        sync_policy["automated"] = {"prune": stack.delivery.prune, "selfHeal": stack.delivery.self_heal}
    template = {
        "metadata": {
            "name": layout.application_name(service, env),
            "labels": {
                layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
                layout.LABEL_SERVICE: service,
                layout.LABEL_TEAM: team,
                layout.LABEL_ENVIRONMENT: env,
            },
            # The environment's notification subscriptions (render.notifications), if any.
            **({"annotations": subscriptions(stack)} if subscriptions(stack) else {}),
        },
        "spec": {
            "project": layout.project_name(team, env),
            "source": {
                "repoURL": stack.gitops.repo_url,
                "targetRevision": stack.gitops.revision,
                "path": "{{.path.path}}",
            },
            "destination": destination(stack, "{{.namespace}}"),
            "syncPolicy": sync_policy,
            **({"ignoreDifferences": list(ignore_differences)} if ignore_differences else {}),
        },
    }
    spec: dict[str, Any] = {
        "goTemplate": True,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{
            "git": {
                "repoURL": stack.gitops.repo_url,
                "revision": stack.gitops.revision,
                "files": [{"path": layout.app_config_path(name, env, stack.gitops.path)} for name in services],
            },
        }],
        "template": template,
    }
    if stack.delivery.preserve_resources_on_deletion:
        spec["syncPolicy"] = {"preserveResourcesOnDeletion": True}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {
            "name": layout.applicationset_name(team, env),
            "namespace": stack.argocd.namespace,
            "labels": _labels(stack, **{layout.LABEL_TEAM: team}),
        },
        "spec": spec,
    }


def replica_ignores(services: Iterable[Service]) -> list[dict[str, Any]]:
    """``ignoreDifferences`` of ``/spec/replicas`` for the workload of each service an HPA scales.

    With autoscaling the base carries no replica count (the HPA owns it). When a
    running service turns autoscaling on, its Deployment stops carrying
    ``spec.replicas``, and Argo CD's client-side apply, a three-way merge
    against the last-applied configuration that still names the field, would
    delete it, which the API server defaults to 1: every pod but one would stop
    until the HPA scaled back up (Kubernetes' HPA documentation warns of exactly
    this one-time degradation). Server-side apply does the same for a field
    only its applier owns, and the HPA has not written it yet in the sync that
    creates the HPA. With ``RespectIgnoreDifferences=true`` (set on every
    Application) Argo CD copies each ignored field from the live object into
    what it applies, so the running count survives the transition and every
    later sync, and the HPA's count is never shown as drift.

    Per workload, by name, and only for autoscaled services: the same rule on
    a fixed-count service would also keep its replica count from Git from
    ever being applied. Each Application holds one service's workload, so a
    team's list can be the same in all its Applications. The workload is the
    HPA's scale target, the Rollout for a canary (render.rollouts).
    """
    out = []
    for service in sorted(services, key=lambda s: s.name):
        if service.autoscaling is None:
            continue
        target = scale_target(service)
        out.append({"group": target["apiVersion"].rpartition("/")[0], "kind": target["kind"], "name": service.name,
                    "jsonPointers": ["/spec/replicas"]})
    return out
