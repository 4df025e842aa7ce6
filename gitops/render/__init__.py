"""Pure rendering: model -> files. No disk, clock, network or subprocess.

``render_stack`` returns exactly the bytes the writer and the Pulumi
``GitOpsRepo`` component put into the GitOps tree for one stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Project, Stack
from .argocd import render_argocd
from .manifest import Manifest
from .overlays import render_overlay
from .workloads import render_base

__all__ = ["Manifest", "RenderResult", "render_stack"]


@dataclass(frozen=True)
class RenderResult:
    stack: str
    environment: str
    repo_url: str
    repo_path: str                # where the tree sits in the Git repository
    files: tuple[Manifest, ...]   # sorted by path, unique


def render_stack(project: Project, stack: Stack) -> RenderResult:
    files: list[Manifest] = []
    for service in project.catalog.services:
        files.extend(render_base(service))
        files.extend(render_overlay(service, stack))
    files.extend(render_argocd(project.catalog, stack))
    files.sort(key=lambda m: m.path)
    return RenderResult(stack.name, stack.environment, stack.gitops.repo_url, stack.gitops.path, tuple(files))
