"""How one stack's rendered files divide into independently changing slices.

The Pulumi program turns each slice into one resource, so the unit of change
in ``pulumi preview`` is the unit a person edits: a service (its base and this
environment's overlay), the environment's Argo CD objects, the cluster's
published files. A one-line change to one service's environment config
therefore changes exactly one resource. Every rendered path belongs to exactly
one slice; a path that fits none is a bug, not something to drop silently.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import layout
from .render import Manifest, RenderResult


@dataclass(frozen=True)
class Slice:
    name: str                   # stable and unique within a stack: a Pulumi resource name part
    prefixes: tuple[str, ...]   # the tree paths this slice owns (each ends with "/")
    files: tuple[Manifest, ...]

    def result(self, whole: RenderResult) -> RenderResult:
        """``whole`` narrowed to this slice, for ``writer.write_slice``."""
        return replace(whole, files=self.files)


SERVICE_SLICE_PREFIX = "service-"
ARGOCD_SLICE = "argocd"
CLUSTER_SLICE = "cluster"


def service_slice_name(service: str) -> str:
    return f"{SERVICE_SLICE_PREFIX}{service}"


def slice_render(result: RenderResult, services: tuple[str, ...], cluster: str) -> list[Slice]:
    """Every service (even one with no file yet), the environment's Argo CD directory, the cluster directory."""
    specs = [(service_slice_name(s), (layout.service_dir(s) + "/",)) for s in services]
    specs.append((ARGOCD_SLICE, (layout.argocd_env_dir(result.environment) + "/",)))
    specs.append((CLUSTER_SLICE, (layout.cluster_dir(cluster) + "/",)))
    by_prefix = {prefixes[0]: name for name, prefixes in specs}
    files: dict[str, list[Manifest]] = {name: [] for name, _ in specs}
    for manifest in result.files:
        files[_owner(manifest.path, by_prefix)].append(manifest)
    return [Slice(name, prefixes, tuple(files[name])) for name, prefixes in specs]


def _owner(path: str, by_prefix: dict[str, str]) -> str:
    parts = path.split("/")
    for depth in (2, 1):
        prefix = "/".join(parts[:depth]) + "/"
        if len(parts) > depth and prefix in by_prefix:
            return by_prefix[prefix]
    raise ValueError(f"{path}: rendered outside every slice of the stack; add a slice for it in gitops/slices.py")
