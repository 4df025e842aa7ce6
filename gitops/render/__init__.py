"""Pure rendering: model -> files. No disk, clock, network or subprocess.

``render_stack`` returns exactly the bytes the writer and the Pulumi
``GitOpsRepo`` component put into the GitOps tree for one stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional

from .. import layout
from ..errors import InputError, Problem
from ..model import Project, Service, Stack
from .argocd import render_argocd
from .manifest import Manifest
from .overlays import render_overlay
from .workloads import render_base

__all__ = ["Manifest", "RenderResult", "render_service", "render_stack", "sealing_cert_file"]


@dataclass(frozen=True)
class RenderResult:
    stack: str
    environment: str
    repo_url: str
    repo_path: str                # where the tree sits in the Git repository
    files: tuple[Manifest, ...]   # sorted by path, unique


def render_stack(project: Project, stack: Stack, sealing_cert: Optional[str] = None,
                 sealed: Mapping[str, Manifest] = MappingProxyType({})) -> RenderResult:
    """``sealing_cert``: the cluster's sealed-secrets certificate (PEM) once the program created it.
    ``sealed``: service -> its SealedSecret for this environment (render.secrets); a service with
    secrets and no entry renders without one (its secrets are pending: the caller decides whether
    that is an error)."""
    files: list[Manifest] = []
    for service in project.catalog.services:
        files.extend(render_service(service, stack, sealed.get(service.name)))
    files.extend(render_argocd(project.catalog, stack))
    if sealing_cert is not None:
        files.append(sealing_cert_file(stack.cluster.name, sealing_cert))
    files.sort(key=lambda m: m.path)
    return RenderResult(stack.name, stack.environment, stack.gitops.repo_url, stack.gitops.path, tuple(files))


def render_service(service: Service, stack: Stack, sealed: Optional[Manifest] = None) -> list[Manifest]:
    """One service's files for one stack: its base and this environment's overlay."""
    return [*render_base(service), *render_overlay(service, stack, sealed)]


def sealing_cert_file(cluster: str, pem: str) -> Manifest:
    """The certificate as published in ``clusters/<cluster>/``; only a PEM certificate is accepted."""
    text = pem.strip()
    if not (text.startswith("-----BEGIN CERTIFICATE-----") and text.endswith("-----END CERTIFICATE-----")):
        raise InputError([Problem(layout.sealing_cert_path(cluster), "",
                                  "is not a PEM certificate (-----BEGIN CERTIFICATE-----)")])
    return Manifest(layout.sealing_cert_path(cluster), (text + "\n").encode())
