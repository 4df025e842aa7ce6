"""Pure rendering: model -> files. No disk, clock, network or subprocess.

``render_stack`` returns exactly the bytes the writer and the Pulumi
``GitOpsRepo`` component put into the GitOps tree for one stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .. import layout
from ..errors import InputError, Problem
from ..model import Project, Service, Stack
from .argocd import render_argocd
from .manifest import Manifest
from .notifications import SECRETS_ENTRY as NOTIFICATIONS_ENTRY
from .overlays import render_overlay
from .quotas import namespace_policy
from .registration import registration_file
from .workloads import render_base

__all__ = ["Manifest", "RenderResult", "namespace_policy", "registration_file", "render_service", "render_stack",
           "sealing_cert_file"]


@dataclass(frozen=True)
class RenderResult:
    stack: str
    environment: str
    repo_url: str
    repo_path: str                # where the tree sits in the Git repository
    files: tuple[Manifest, ...]   # sorted by path, unique


def render_stack(project: Project, stack: Stack, sealing_cert: str | None = None,
                 sealed: Mapping[str, Manifest] = MappingProxyType({}),
                 registration: Manifest | None = None, published: Sequence[Manifest] = ()) -> RenderResult:
    """``sealing_cert``: the cluster's sealed-secrets certificate (PEM) once the program created it.
    ``sealed``: service -> its SealedSecret for this environment (render.secrets); a service with
    secrets and no entry renders without one (its secrets are pending: the caller decides whether
    that is an error). Under ``render.notifications.SECRETS_ENTRY`` (no service's name): the
    notifiers' sealed credentials, rendered into ``argocd/<env>/``.
    ``registration``: ``clusters/<cluster>/registration.yaml`` (``registration_file``) once the
    program registered the cluster with its hub; the endpoint and role come from the cloud.
    ``published``: any other file the program published under ``clusters/<cluster>/``, carried
    forward as it is, so a render never deletes what only the program can make."""
    files: list[Manifest] = []
    plain_overlays: dict[str, list[Manifest]] = {}   # overlays without a SealedSecret or namespace objects
    for service in project.catalog.services:
        seal = sealed.get(service.name)
        namespace_objects = namespace_policy(project.catalog, stack, service)
        files.extend(render_base(service))   # render_service's files, in its order
        overlay = render_overlay(service, stack, seal, namespace_objects)
        files.extend(overlay)
        if seal is None and not namespace_objects:
            plain_overlays[service.name] = overlay
    files.extend(render_argocd(project.catalog, stack, sealed.get(NOTIFICATIONS_ENTRY), plain_overlays))
    if sealing_cert is not None:
        files.append(sealing_cert_file(stack.cluster.name, sealing_cert))
    if registration is not None:
        _check_cluster_file(registration, stack, layout.registration_path(stack.cluster.name))
        files.append(registration)
    for manifest in published:
        _check_cluster_file(manifest, stack)
    known = {m.path for m in files}
    files.extend(m for m in published if m.path not in known)
    files.sort(key=lambda m: m.path)
    return RenderResult(stack.name, stack.environment, stack.gitops.repo_url, stack.gitops.path, tuple(files))


def render_service(service: Service, stack: Stack, sealed: Manifest | None = None,
                   namespace_objects: Sequence[tuple[str, dict[str, Any]]] = ()) -> list[Manifest]:
    """One service's files for one stack: its base and this environment's overlay.

    ``namespace_objects``: ``render.quotas.namespace_policy(catalog, stack, service)``, the
    namespace's ResourceQuota and LimitRange when this service's Application deploys them."""
    return [*render_base(service), *render_overlay(service, stack, sealed, namespace_objects)]


def _check_cluster_file(manifest: Manifest, stack: Stack, path: str | None = None) -> None:
    """A published file belongs to this stack's cluster directory (and, when given, at that path)."""
    directory = layout.cluster_dir(stack.cluster.name) + "/"
    if (path is not None and manifest.path != path) or not manifest.path.startswith(directory):
        raise InputError([Problem(manifest.path, "", f"is not {path or f'a file under {directory}'}: "
                                  f"stack {stack.name} publishes only its cluster's files")])


def sealing_cert_file(cluster: str, pem: str) -> Manifest:
    """The certificate as published in ``clusters/<cluster>/``; only a PEM certificate is accepted."""
    text = pem.strip()
    if not (text.startswith("-----BEGIN CERTIFICATE-----") and text.endswith("-----END CERTIFICATE-----")):
        raise InputError([Problem(layout.sealing_cert_path(cluster), "",
                                  "is not a PEM certificate (-----BEGIN CERTIFICATE-----)")])
    return Manifest(layout.sealing_cert_path(cluster), (text + "\n").encode())
