"""How a hub or spoke appears to the hub's Argo CD: the metadata contract, checked, then published.

The labels and annotations come from the core (``gitops.render.registration``)
so the Secret in the hub, the ``clusters/<cluster>/registration.yaml`` file in
Git and ``validate``'s offline check all agree. Before a spoke writes its
Secret, its metadata is checked against the hub's ApplicationSets (rendered
from the hub stack's config in this project): a key a template reads that
the Secret lacks stops the program, naming cluster, key and ApplicationSet,
instead of failing later inside Argo CD.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.fleet import fleet_role_name, spoke_role_arn
from gitops import layout
from gitops.fleet import hub_of
from gitops.fleetcheck import applicationsets, check_registration
from gitops.model import Project, Stack, Topology
from gitops.render import render_stack
from gitops.render.registration import registration_file, registration_secret


def role_arn(stack: Stack) -> str:
    """The IAM role the hub's Argo CD uses for this cluster (known from config, so known at preview)."""
    if stack.argocd.topology is Topology.HUB:
        return f"arn:aws:iam::{stack.account_id}:role/{fleet_role_name(stack.cluster.name)}"
    return spoke_role_arn(stack.account_id, stack.cluster.name)


def check_against_hub(project: Project, stack: Stack) -> None:
    """``pulumi.RunError`` when the hub's ApplicationSets read metadata this cluster would not carry."""
    hub = stack if stack.argocd.topology is Topology.HUB else hub_of(stack, project.stacks)
    if hub is None:
        return  # a hub in another project: its ApplicationSets are not known here
    appsets = applicationsets(render_stack(project, hub).files)
    findings = check_registration(registration_secret(stack, layout.IN_CLUSTER_SERVER, role_arn(stack)), appsets)
    if findings:
        raise pulumi.RunError(f"{stack.file}: the hub's ApplicationSets need metadata this cluster's registration "
                              "lacks:\n" + "\n".join(f"  - {f}" for f in findings))


def published_files(stack: Stack, server: pulumi.Input[str]) -> pulumi.Output[Mapping[str, str]]:
    """``clusters/<cluster>/registration.yaml`` for the GitOps repository's cluster slice."""
    def files(endpoint: str) -> Mapping[str, str]:
        manifest = registration_file(stack, endpoint, role_arn(stack))
        return {manifest.path: manifest.content.decode("utf-8")}
    return pulumi.Output.from_input(server).apply(files)


def hub_self_registration(stack: Stack, opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Secret:
    """The hub's own cluster Secret (in-cluster server, no credentials): it carries the hub's labels,
    so fleet add-ons reach the hub too, replacing Argo CD's built-in in-cluster entry.

    Made through ``ArgoCDArgs.cluster_registration``, with options that keep it until the drain is
    done: removed earlier, the add-on ApplicationSets would delete the hub's add-ons while its
    workloads (whose load balancers they may manage) are still being deleted."""
    doc = registration_secret(stack, layout.IN_CLUSTER_SERVER, role_arn(stack))
    return k8s.core.v1.Secret(
        "fleet-hub-registration",
        metadata=doc["metadata"],
        type=doc["type"],
        string_data=doc["stringData"],
        opts=opts,
    )
