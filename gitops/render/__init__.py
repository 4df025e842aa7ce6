"""Pure rendering: model -> files. No disk, clock, network or subprocess.

``render_stack`` returns exactly the bytes the writer and the Pulumi
``GitOpsRepo`` component put into the GitOps tree for one stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import layout
from ..errors import InputError, Problem
from ..model import Project, Stack
from .argocd import render_argocd
from .manifest import Manifest
from .overlays import render_overlay
from .workloads import render_base

__all__ = ["Manifest", "RenderResult", "render_stack", "sealing_cert_file"]


@dataclass(frozen=True)
class RenderResult:
    stack: str
    environment: str
    repo_url: str
    repo_path: str                # where the tree sits in the Git repository
    files: tuple[Manifest, ...]   # sorted by path, unique


def render_stack(project: Project, stack: Stack, sealing_cert: Optional[str] = None) -> RenderResult:
    """``sealing_cert``: the cluster's sealed-secrets certificate (PEM) once the program created it."""
    files: list[Manifest] = []
    for service in project.catalog.services:
        files.extend(render_base(service))
        files.extend(render_overlay(service, stack))
    files.extend(render_argocd(project.catalog, stack))
    if sealing_cert is not None:
        files.append(sealing_cert_file(stack.cluster.name, sealing_cert))
    files.sort(key=lambda m: m.path)
    return RenderResult(stack.name, stack.environment, stack.gitops.repo_url, stack.gitops.path, tuple(files))


def sealing_cert_file(cluster: str, pem: str) -> Manifest:
    """The certificate as published in ``clusters/<cluster>/``; only a PEM certificate is accepted."""
    text = pem.strip()
    if not (text.startswith("-----BEGIN CERTIFICATE-----") and text.endswith("-----END CERTIFICATE-----")):
        raise InputError([Problem(layout.sealing_cert_path(cluster), "",
                                  "is not a PEM certificate (-----BEGIN CERTIFICATE-----)")])
    return Manifest(layout.sealing_cert_path(cluster), (text + "\n").encode())
