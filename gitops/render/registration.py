"""A cluster's Argo CD registration: the cluster Secret's labels and annotations, without credentials.

The hub's ApplicationSets find clusters by these labels and read values from
these annotations (labels select, annotations carry values), so they are a
contract between two stacks. The Pulumi program writes the real Secret into the
hub, adding ``stringData.config`` (``awsAuthConfig`` with an IAM role and the
cluster's CA: nothing secret, but not part of the contract). This module makes
everything else, and ``clusters/<cluster>/registration.yaml`` in the GitOps
tree, so ``validate`` can expand the hub's ApplicationSets and check the
contract offline with exactly what the hub will see.
"""

from __future__ import annotations

from typing import Any

from .. import layout, yamlio
from ..model import Stack, Topology
from .manifest import Manifest

REGISTRATION_HEADER = (
    "# Metadata of this cluster's Argo CD registration, for offline checks (`python -m gitops validate`).\n"
    "# The Secret Argo CD uses lives in the hub's Argo CD namespace, written by `pulumi up` together with\n"
    "# its connection config (an IAM role, no password or token); this file is never applied.\n"
)


def registration_role(stack: Stack) -> str:
    """``hub`` or ``spoke``; a standalone cluster is registered nowhere."""
    if stack.argocd.topology is Topology.STANDALONE:
        raise ValueError(f"stack {stack.name} is standalone: only hubs and spokes are registered with a hub")
    return str(stack.argocd.topology.value)


def registration_labels(stack: Stack) -> dict[str, str]:
    """What the hub's cluster generators select by: identity, placement and one label per enabled add-on."""
    labels = {
        layout.SECRET_TYPE_LABEL: "cluster",
        layout.LABEL_ENVIRONMENT: stack.environment,
        layout.LABEL_PROFILE: stack.profile,
        layout.LABEL_CLUSTER: stack.cluster.name,
        layout.LABEL_REGION: stack.region,
        layout.LABEL_ROLE: registration_role(stack),
    }
    for addon in stack.argocd.addons:
        labels[layout.addon_label(addon)] = layout.ADDON_ENABLED
    return labels


def registration_annotations(stack: Stack, role_arn: str) -> dict[str, str]:
    """Values the hub's templates may read; not selectable, so not labels."""
    registry = stack.registry
    return {
        layout.ANNOTATION_REGISTRY: f"{registry.host}/{registry.prefix}" if registry.prefix else registry.host,
        layout.ANNOTATION_GITOPS_REPO: stack.gitops.repo_url,
        layout.ANNOTATION_GITOPS_REVISION: stack.gitops.revision,
        layout.ANNOTATION_GITOPS_PATH: layout.repo_path(stack.gitops.path, layout.argocd_env_dir(stack.environment)),
        layout.ANNOTATION_ARGOCD_ROLE_ARN: role_arn,
    }


def registration_secret(stack: Stack, server: str, role_arn: str, ca_data: str | None = None) -> dict[str, Any]:
    """The cluster Secret for the hub, minus ``stringData.config``.

    ``server``: the cluster's API endpoint; a hub registering itself passes
    ``layout.IN_CLUSTER_SERVER`` (its Secret then replaces Argo CD's built-in
    in-cluster entry, carrying the labels). ``ca_data`` belongs to the config
    the Pulumi program adds; it is accepted here so both sides take the same
    arguments, and deliberately left out of the result.
    """
    del ca_data  # connection config, not metadata: see the docstring
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": layout.registration_secret_name(stack.cluster.name),
            "namespace": stack.argocd.namespace,
            "labels": registration_labels(stack),
            "annotations": registration_annotations(stack, role_arn),
        },
        "type": "Opaque",
        "stringData": {"name": stack.cluster.name, "server": server},
    }


def registration_file(stack: Stack, server: str, role_arn: str) -> Manifest:
    """``clusters/<cluster>/registration.yaml``; published through the stack's cluster slice."""
    text = layout.GENERATED_HEADER + REGISTRATION_HEADER + yamlio.dump(registration_secret(stack, server, role_arn))
    return Manifest(layout.registration_path(stack.cluster.name), text.encode())


OFFLINE_SERVER = "https://{cluster}.eks.offline.invalid"
OFFLINE_ROLE_ARN = "arn:aws:iam::{account}:role/{cluster}-offline-placeholder"


def offline_registration_file(stack: Stack) -> Manifest | None:
    """The registration with placeholders for what only the cloud knows (endpoint, role), for previews.

    ``diff`` renders scratch trees from the project alone; without this a spoke's
    Applications would name a cluster the hub does not know. None for a
    standalone stack.
    """
    if stack.argocd.topology is Topology.STANDALONE:
        return None
    server = (layout.IN_CLUSTER_SERVER if stack.argocd.topology is Topology.HUB
              else OFFLINE_SERVER.format(cluster=stack.cluster.name))
    return registration_file(stack, server, OFFLINE_ROLE_ARN.format(account=stack.account_id, cluster=stack.cluster.name))
