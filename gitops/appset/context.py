"""What the ApplicationSet controller would know about its environment.

Expansion is only offline-reproducible if everything the controller reads from
the cluster or from Git is given explicitly: the repositories (as local
checkouts), the cluster Secrets, the AppProjects and the few controller
settings that change results. A context is a snapshot: checkouts are listed
the first time they are needed and then reused for every ApplicationSet
expanded with the same context.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops.errors import InputError, Problem
from gitops.layout import ARGOCD_NAMESPACE, IN_CLUSTER_SERVER, SECRET_TYPE_LABEL

from .govalues import StringMap
from .repos import RepoCheckout, RepoIndex

__all__ = ["IN_CLUSTER_NAME", "IN_CLUSTER_SERVER", "SECRET_TYPE_LABEL", "Cluster", "ExpansionContext"]

IN_CLUSTER_NAME = "in-cluster"


@dataclass(frozen=True)
class Cluster:
    """One cluster Secret, decoded as Argo CD's SecretToCluster reads it."""

    secret: str  # namespace/name of the Secret, for messages
    name: str
    server: str
    project: str | None
    labels: StringMap
    annotations: StringMap


@dataclass(frozen=True)
class ExpansionContext:
    """Inputs and controller settings for offline ApplicationSet expansion.

    ``projects`` (AppProject dicts by name) is optional here: when given, a git
    generator whose ``spec.template.spec.project`` is a literal fails like the
    controller does if that project is missing; when None that check is left to
    ``check_applications``.
    """

    repos: Sequence[RepoCheckout] = ()
    cluster_secrets: Sequence[object] = ()  # v1 Secret dicts (checked); stringData and base64 data both accepted
    argocd_namespace: str = ARGOCD_NAMESPACE
    in_cluster_enabled: bool = True
    projects: Mapping[str, Any] | None = None
    include_hidden_directories: bool = False  # reposerver.include.hidden.directories
    new_git_file_globbing: bool = False  # applicationsetcontroller.enable.new.git.file.globbing (refused)
    progressive_syncs_enabled: bool = False  # applicationsetcontroller.enable.progressive.syncs (refused)
    max_file_bytes: int = 1 << 20
    clusters: tuple[Cluster, ...] = field(init=False, repr=False, compare=False)
    repo_index: RepoIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "repos", tuple(self.repos))
        object.__setattr__(self, "cluster_secrets", tuple(self.cluster_secrets))
        try:
            index = RepoIndex(tuple(self.repos))
        except ValueError as exc:
            raise InputError(f"expansion context: {exc}") from None
        object.__setattr__(self, "repo_index", index)
        object.__setattr__(self, "clusters", tuple(self._decode_clusters()))

    def _decode_clusters(self) -> list[Cluster]:
        clusters: list[Cluster] = []
        problems: list[Problem] = []
        for i, secret in enumerate(self.cluster_secrets):
            meta = secret.get("metadata") if isinstance(secret, Mapping) else None
            if not isinstance(secret, Mapping) or not isinstance(meta, Mapping):
                problems.append(Problem(f"cluster_secrets[{i}]", "metadata", "a Secret needs metadata"))
                continue
            labels = meta.get("labels") or {}
            if not isinstance(labels, Mapping) or labels.get(SECRET_TYPE_LABEL) != "cluster":
                continue
            namespace = meta.get("namespace") or self.argocd_namespace
            if namespace != self.argocd_namespace:
                continue
            where = f"Secret {namespace}/{meta.get('name', f'#{i}')}"
            try:
                data = _secret_data(secret)
                annotations = meta.get("annotations") or {}
                clusters.append(
                    Cluster(
                        secret=f"{namespace}/{meta.get('name', '')}",
                        name=data.get("name", ""),
                        server=data.get("server", ""),
                        project=data.get("project"),
                        labels=StringMap(_string_map(labels, "labels")),
                        annotations=StringMap(_string_map(annotations, "annotations")),
                    )
                )
            except ValueError as exc:
                problems.append(Problem(where, "", str(exc)))
        if problems:
            raise InputError(problems)
        return clusters


def _string_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"metadata.{what} must map strings to strings")
    return dict(value)


def _secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """data (base64) overlaid with stringData, as the API server stores it."""
    result: dict[str, str] = {}
    data = secret.get("data") or {}
    if not isinstance(data, Mapping):
        raise ValueError("data must be a map")
    for key, value in data.items():
        if not isinstance(value, str):
            raise ValueError(f"data.{key} must be a base64 string")
        try:
            result[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError(f"data.{key} is not base64-encoded UTF-8 text") from None
    string_data = secret.get("stringData") or {}
    if not isinstance(string_data, Mapping):
        raise ValueError("stringData must be a map")
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise ValueError(f"stringData.{key} must be a string")
        result[key] = value
    return result
