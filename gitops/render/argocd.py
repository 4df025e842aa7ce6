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
from ..model import Catalog, Stack, SyncMode, SyncWindow, Topology
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
        services = sorted(s.name for s in catalog.services if s.team == team)
        namespaces = sorted({s.namespace for s in catalog.services if s.team == team})
        files.append(yaml_file(f"{directory}/project-{team}.yaml", app_project(team, namespaces, stack)))
        files.append(yaml_file(f"{directory}/{layout.applicationset_file(team)}", application_set(stack, team, services)))
    if stack.argocd.topology is not Topology.SPOKE:
        # The Argo CD this stack runs: its built-in project must grant nothing (a spoke's is the hub's).
        files.append(yaml_file(f"{directory}/project-{layout.DEFAULT_PROJECT}.yaml", locked_default_project(stack)))
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


def platform_project(repo_url: str, argocd_namespace: str) -> dict[str, Any]:
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
        "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in PLATFORM_KINDS],
        "orphanedResources": {"warn": True},
    }


# What an environment's root (``argocd/<env>/``) holds.
PLATFORM_KINDS: tuple[tuple[str, str], ...] = (
    ("argoproj.io", "AppProject"),
    ("argoproj.io", "ApplicationSet"),
    ("argocd-image-updater.argoproj.io", "ImageUpdater"),
)


def application_set(stack: Stack, team: str, services: list[str]) -> dict[str, Any]:
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
            "name": layout.application_name(service, env),
            "labels": {
                layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
                layout.LABEL_SERVICE: service,
                layout.LABEL_TEAM: team,
                layout.LABEL_ENVIRONMENT: env,
            },
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
