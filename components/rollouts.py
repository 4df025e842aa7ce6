"""The Argo Rollouts controller: what turns a canary service's Rollout into pods.

Installed on every cluster that runs workloads (standalone, hub and spoke
alike: a spoke's Rollouts are reconciled by a controller in the spoke, not by
the hub), as a pinned Helm release like the other cluster controllers, and only
when it has work: a service of the catalog uses ``delivery: {strategy:
canary}``, or the stack sets ``addons.argoRollouts: true`` (``false`` while a
service uses a canary is refused when the project loads). The decision is the
core's (``gitops.canary.rollouts_controller``), so ``render`` and the program
agree.

Values: the chart's CRDs, kept when the release goes (``keepCRDs``): deleting
them would delete every Rollout, and with it every canary service's pods.
The canaries the renderer emits route no traffic (pods are the weight), so the
traffic routers' RBAC is off (``providerRBAC``) and so is the dashboard:
the controller gets the permissions it uses and nothing that serves HTTP.

Ordering: after whatever the cluster must run first (``installed_after``,
such as the load balancer controller's webhook); the release is one of the
things Applications need, so the program keeps it until the drain is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.charts import ARGO_ROLLOUTS
from gitops import layout

TYPE = "gitops-platform:rollouts:ArgoRollouts"
NAMESPACE = layout.ROLLOUTS_NAMESPACE
RELEASE = layout.ROLLOUTS_CONTROLLER   # also the chart's fullname, so the pods are named and labelled argo-rollouts


@dataclass(frozen=True)
class ArgoRolloutsArgs:
    """``installed_after``: in-cluster components the release waits for (default none)."""

    installed_after: Sequence[pulumi.Resource] = ()


def rollouts_values() -> dict[str, Any]:
    """Helm values of the argo-rollouts chart; anything not set here is the chart's default."""
    return {
        "installCRDs": True,
        "keepCRDs": True,
        "providerRBAC": {"enabled": False},
        "dashboard": {"enabled": False},
    }


class ArgoRollouts(pulumi.ComponentResource):
    """The controller's namespace and its pinned release."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ArgoRolloutsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": NAMESPACE},
                                          opts=pulumi.ResourceOptions(parent=self))
        self.release = k8s.helm.v3.Release(
            f"{name}-controller",
            name=RELEASE,
            namespace=NAMESPACE,
            create_namespace=False,
            values=rollouts_values(),
            **ARGO_ROLLOUTS.release_args(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.installed_after]),
        )
        self.register_outputs({"namespace": NAMESPACE})
