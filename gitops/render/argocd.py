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

from typing import Any

from .. import layout
from ..model import Catalog, Stack, SyncMode, SyncWindow
from .fleet import destination, hub_files
from .imageupdater import FILE as IMAGE_UPDATER_FILE
from .imageupdater import image_updater
from .manifest import Manifest, kustomization, yaml_file

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"

# What a service's Application may create: exactly the kinds the renderer
# emits (and the SealedSecret controller's input), nothing cluster-wide but the
# namespace Argo CD creates for it.
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


def render_argocd(catalog: Catalog, stack: Stack) -> list[Manifest]:
    directory = layout.argocd_env_dir(stack.environment)
    files = []
    for team in catalog.teams:
        namespaces = sorted({s.namespace for s in catalog.services if s.team == team})
        files.append(yaml_file(f"{directory}/project-{team}.yaml", app_project(team, namespaces, stack)))
    files.append(yaml_file(f"{directory}/applicationset.yaml", application_set(stack)))
    updater = image_updater(catalog, stack)
    if updater is not None:
        files.append(yaml_file(f"{directory}/{IMAGE_UPDATER_FILE}", updater))
    files.extend(hub_files(stack))
    resources = sorted(f.path.rsplit("/", 1)[1] for f in files)
    files.append(yaml_file(f"{directory}/{layout.KUSTOMIZATION}", kustomization(resources)))
    return files


def _labels(stack: Stack, **extra: str) -> dict[str, str]:
    out = {layout.LABEL_MANAGED_BY: layout.MANAGED_BY, layout.LABEL_ENVIRONMENT: stack.environment}
    out.update(extra)
    return out


def sync_window(window: SyncWindow) -> dict[str, Any]:
    """Applies to every Application of the project: the window is the environment's, not a service's."""
    return {"kind": window.kind, "schedule": window.schedule, "duration": window.duration,
            "applications": ["*"], "manualSync": window.manual_sync, "timeZone": window.time_zone}


def app_project(team: str, namespaces: list[str], stack: Stack) -> dict[str, Any]:
    """One project per team and environment: this repository, these namespaces, these kinds."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": layout.project_name(team, stack.environment),
            "namespace": stack.argocd.namespace,
            "labels": _labels(stack, **{layout.LABEL_TEAM: team}),
            # Keeps the project until no Application uses it.
            "finalizers": [RESOURCES_FINALIZER],
        },
        "spec": {
            "description": f"Services of team {team} in {stack.environment}",
            "sourceRepos": [stack.gitops.repo_url],
            "destinations": [destination(stack, ns) for ns in namespaces],
            **({"syncWindows": [sync_window(w) for w in stack.delivery.sync_windows]} if stack.delivery.sync_windows else {}),
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in NAMESPACED_KINDS],
            "orphanedResources": {"warn": True},
        },
    }


def application_set(stack: Stack) -> dict[str, Any]:
    env = stack.environment
    sync_policy: dict[str, Any] = {
        "syncOptions": ["CreateNamespace=true", "PrunePropagationPolicy=foreground", "PruneLast=true"],
        "managedNamespaceMetadata": {
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
            },
        },
        "retry": {
            "limit": stack.delivery.retry_limit,
            "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
        },
    }
    if stack.delivery.sync is SyncMode.AUTOMATED:
        sync_policy["automated"] = {"prune": stack.delivery.prune, "selfHeal": stack.delivery.self_heal}
    template = {
        "metadata": {
            "name": "{{.service}}-{{.environment}}",
            "labels": {
                layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
                layout.LABEL_SERVICE: "{{.service}}",
                layout.LABEL_TEAM: "{{.team}}",
                layout.LABEL_ENVIRONMENT: "{{.environment}}",
            },
        },
        "spec": {
            "project": "{{.project}}",
            "source": {
                "repoURL": stack.gitops.repo_url,
                "targetRevision": stack.gitops.revision,
                "path": "{{.path.path}}",
            },
            "destination": destination(stack, "{{.namespace}}"),
            "syncPolicy": sync_policy,
        },
    }
    spec: dict[str, Any] = {
        "goTemplate": True,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{
            "git": {
                "repoURL": stack.gitops.repo_url,
                "revision": stack.gitops.revision,
                "files": [{"path": layout.app_config_pattern(env, stack.gitops.path)}],
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
            "name": layout.applicationset_name(env),
            "namespace": stack.argocd.namespace,
            "labels": _labels(stack),
        },
        "spec": spec,
    }
