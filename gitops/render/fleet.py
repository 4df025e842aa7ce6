"""What a hub adds to its ``argocd/<env>/``, and where a spoke's Applications go.

A hub's Argo CD manages every spoke without a file per spoke: ``fleet-roots``
generates one root Application per cluster Secret labelled as a spoke (its
``argocd/<env>/``, read from the environment label), and each fleet add-on is
an ApplicationSet that deploys its chart to every cluster labelled for it. A
new spoke is therefore a new cluster Secret with the right labels (written by
``pulumi up`` of the spoke's stack); no file in Git changes.
"""

from __future__ import annotations

from typing import Any

from .. import layout
from ..model import AddOn, Stack, Topology
from .manifest import Manifest, yaml_file
from .ordering import ordered

ENV_FROM_CLUSTER = '{{ index .metadata.labels "' + layout.LABEL_ENVIRONMENT + '" }}'
GO_TEMPLATE_OPTIONS = ["missingkey=error"]


def destination(stack: Stack, namespace: str) -> dict[str, str]:
    """Where this stack's Applications deploy: in-cluster, or (spoke) the cluster registered in the hub by name."""
    if stack.argocd.topology is Topology.SPOKE:
        return {"name": stack.cluster.name, "namespace": namespace}
    return {"server": layout.IN_CLUSTER_SERVER, "namespace": namespace}


def hub_files(stack: Stack) -> list[Manifest]:
    """The hub's extra files in ``argocd/<env>/``; none for other topologies."""
    if stack.argocd.topology is not Topology.HUB:
        return []
    directory = layout.argocd_env_dir(stack.environment)
    # In the root's waves (render.ordering): the add-ons' project before the ApplicationSets naming it.
    files = [yaml_file(f"{directory}/{layout.FLEET_ROOTS}.yaml", ordered(fleet_roots(stack)))]
    if stack.argocd.fleet_addons:
        files.append(yaml_file(f"{directory}/{layout.FLEET_ADDONS_PROJECT}-project.yaml",
                               ordered(addons_project(stack))))
    for addon in stack.argocd.fleet_addons:
        files.append(yaml_file(f"{directory}/{layout.addon_applicationset_name(addon.name)}.yaml",
                               ordered(addon_application_set(stack, addon))))
    return files


def _metadata(stack: Stack, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": stack.argocd.namespace,
        "labels": {layout.LABEL_MANAGED_BY: layout.MANAGED_BY, layout.LABEL_ENVIRONMENT: stack.environment},
    }


def fleet_roots(stack: Stack) -> dict[str, Any]:
    """One ``root-<env>`` Application per spoke: the spoke's ``argocd/<env>/`` synced into the hub's Argo CD.

    It reads the environment from the label (not an annotation) because the
    label is also what a person filters spokes by; ``validate`` checks every
    spoke's Secret has it. The source is the hub's own repository: a spoke
    in the same project must use the same one (checked when the project loads).
    """
    gitops = stack.gitops
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": _metadata(stack, layout.FLEET_ROOTS),
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": GO_TEMPLATE_OPTIONS,
            "generators": [{"clusters": {"selector": {"matchLabels": {layout.LABEL_ROLE: Topology.SPOKE.value}}}}],
            "template": {
                "metadata": {
                    "name": layout.root_application_name(ENV_FROM_CLUSTER),
                    "labels": {
                        layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
                        layout.LABEL_ENVIRONMENT: ENV_FROM_CLUSTER,
                        layout.LABEL_CLUSTER: "{{ .name }}",
                    },
                },
                "spec": {
                    "project": layout.PLATFORM_PROJECT,
                    "source": {
                        "repoURL": gitops.repo_url,
                        "targetRevision": gitops.revision,
                        "path": layout.repo_path(gitops.path, layout.argocd_env_dir(ENV_FROM_CLUSTER)),
                    },
                    # The spoke's AppProjects and ApplicationSet belong in the hub's Argo CD namespace.
                    "destination": {"server": layout.IN_CLUSTER_SERVER, "namespace": stack.argocd.namespace},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
            },
        },
    }


def addons_project(stack: Stack) -> dict[str, Any]:
    """The add-ons' AppProject: only their chart repositories and namespaces, on any registered cluster.

    Charts install cluster-scoped objects (ClusterRoles, APIServices, CRDs), so
    those are allowed; which clusters get an add-on is the labels' decision.
    """
    addons = stack.argocd.fleet_addons
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {**_metadata(stack, layout.FLEET_ADDONS_PROJECT), "finalizers": [layout.RESOURCES_FINALIZER]},
        "spec": {
            "description": f"Fleet add-ons the hub {stack.cluster.name} deploys to labelled clusters",
            "sourceRepos": sorted({a.repo_url for a in addons}),
            "destinations": [{"server": "*", "namespace": ns} for ns in sorted({a.namespace for a in addons})],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "orphanedResources": {"warn": True},
        },
    }


def addon_application_set(stack: Stack, addon: AddOn) -> dict[str, Any]:
    """``<addon>-<cluster>`` on every cluster labelled ``addons.gitops-platform.io/<addon>: enabled``."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": _metadata(stack, layout.addon_applicationset_name(addon.name)),
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": GO_TEMPLATE_OPTIONS,
            "generators": [{"clusters": {"selector": {"matchLabels": {
                layout.addon_label(addon.name): layout.ADDON_ENABLED}}}}],
            "template": {
                "metadata": {
                    "name": f"{addon.name}-{{{{ .name }}}}",
                    "labels": {
                        layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
                        layout.LABEL_ADDON: addon.name,
                        layout.LABEL_CLUSTER: "{{ .name }}",
                        layout.LABEL_ENVIRONMENT: ENV_FROM_CLUSTER,
                    },
                },
                "spec": {
                    "project": layout.FLEET_ADDONS_PROJECT,
                    "source": {
                        "repoURL": addon.repo_url,
                        "chart": addon.chart,
                        "targetRevision": addon.version,
                        "helm": {"releaseName": addon.name},
                    },
                    "destination": {"server": "{{ .server }}", "namespace": addon.namespace},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                    },
                },
            },
        },
    }
