"""Every Helm chart the program installs, pinned in one place.

Upgrading a chart is a reviewed one-line change here; nothing floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import pulumi_kubernetes as k8s

ARGO_HELM = "https://argoproj.github.io/argo-helm"
SEALED_SECRETS_HELM = "https://bitnami-labs.github.io/sealed-secrets"
EKS_CHARTS = "https://aws.github.io/eks-charts"
AUTOSCALER_HELM = "https://kubernetes.github.io/autoscaler"


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str
    version: str

    def release_args(self) -> ReleaseChartArgs:
        """The chart/version/repository_opts arguments of ``helm.v3.Release``."""
        return {"chart": self.name, "version": self.version, "repository_opts": {"repo": self.repo}}


class ReleaseChartArgs(TypedDict):
    """``Chart.release_args()``, typed so that ``Release(..., **chart.release_args())`` is checked."""

    chart: str
    version: str
    repository_opts: k8s.helm.v3.RepositoryOptsArgsDict


ARGO_CD = Chart("argo-cd", ARGO_HELM, "10.1.1")                      # Argo CD v3.4.4
IMAGE_UPDATER = Chart("argocd-image-updater", ARGO_HELM, "1.2.4")    # Image Updater v1.2.2 (CRD model)
ARGOCD_APPS = Chart("argocd-apps", ARGO_HELM, "2.0.5")               # the root Application
SEALED_SECRETS = Chart("sealed-secrets", SEALED_SECRETS_HELM, "2.18.5")  # controller 0.36.6
AWS_LOAD_BALANCER_CONTROLLER = Chart("aws-load-balancer-controller", EKS_CHARTS, "3.4.2")   # controller v3.4.2
# Only where a service rolls out as a canary (or the stack asks for it): the controller of Rollout objects.
ARGO_ROLLOUTS = Chart("argo-rollouts", ARGO_HELM, "2.43.0")            # Argo Rollouts v1.10.0

# Cluster Autoscaler simulates the scheduler of one Kubernetes minor version, so its release must match the
# cluster's: one chart per supported minor, each the chart whose appVersion is that minor's autoscaler.
CLUSTER_AUTOSCALER_BY_KUBERNETES = {
    "1.33": Chart("cluster-autoscaler", AUTOSCALER_HELM, "9.51.0"),   # Cluster Autoscaler 1.33.0
    "1.34": Chart("cluster-autoscaler", AUTOSCALER_HELM, "9.53.0"),   # Cluster Autoscaler 1.34.2
}

ALL = (ARGO_CD, IMAGE_UPDATER, ARGOCD_APPS, SEALED_SECRETS, AWS_LOAD_BALANCER_CONTROLLER, ARGO_ROLLOUTS,
       *CLUSTER_AUTOSCALER_BY_KUBERNETES.values())
