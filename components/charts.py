"""Every Helm chart the program installs, pinned in one place.

Upgrading a chart is a reviewed one-line change here; nothing floats.
"""

from __future__ import annotations

from dataclasses import dataclass

ARGO_HELM = "https://argoproj.github.io/argo-helm"
SEALED_SECRETS_HELM = "https://bitnami-labs.github.io/sealed-secrets"


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str
    version: str

    def release_args(self) -> dict[str, object]:
        """The chart/version/repository_opts arguments of ``helm.v3.Release``."""
        return {"chart": self.name, "version": self.version, "repository_opts": {"repo": self.repo}}


ARGO_CD = Chart("argo-cd", ARGO_HELM, "10.1.1")                      # Argo CD v3.4.4
IMAGE_UPDATER = Chart("argocd-image-updater", ARGO_HELM, "1.2.4")    # Image Updater v1.2.2 (CRD model)
ARGOCD_APPS = Chart("argocd-apps", ARGO_HELM, "2.0.5")               # the root Application
SEALED_SECRETS = Chart("sealed-secrets", SEALED_SECRETS_HELM, "2.18.5")  # controller 0.36.6

ALL = (ARGO_CD, IMAGE_UPDATER, ARGOCD_APPS, SEALED_SECRETS)
