"""The Argo CD roots cut down to what the offline expansion reads, for ``diff``'s scratch trees.

``diff`` builds each revision's Argo CD roots with kustomize only to take the
ApplicationSets, AppProjects and cluster Secrets out of the result
(``validate.generated_applications``). A root also holds objects the
expansion never looks at: at 1000 services, the dev root's ImageUpdater is
three quarters of its bytes, and building and parsing it was the slowest part
of each revision's expansion. The scratch copy of such a root lists only the
files that can hold what the expansion reads; kustomize still builds it, so
the objects are exactly what Argo CD would apply.

A file is left out only where that changes nothing the expansion reads: its
kustomization has only fields that act on each resource by itself (labels,
namespace...), the file sits in the kustomization's own directory, and every
document in it is of a kind the expansion ignores. Another kustomization
that includes this root gets the same objects minus ignored ones; one that
patches or replaces from a left-out object fails to build, and ``diff`` then
builds the roots as rendered. The files are ``diff``'s own renders, in its
own scratch tree; the user's tree is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import layout, yamlio
from .errors import GitOpsError
from .kustomize import KUSTOMIZATION_FILES

# What validate._collect takes from a root's build; nothing else of it is read.
EXPANSION_KINDS = frozenset({"ApplicationSet", "AppProject", "Secret"})
# Kustomization fields that change each resource on its own, never one resource because of another.
PER_RESOURCE_FIELDS = frozenset({"apiVersion", "kind", "resources", "labels", "commonLabels",
                                 "commonAnnotations", "namespace"})
_ROOT_DIRS = (layout.ARGOCD_DIR, layout.CLUSTERS_DIR)


@dataclass(frozen=True)
class CutRoots:
    """Scratch content for the cut kustomizations, and the files they no longer list."""

    kustomizations: Mapping[str, bytes]
    left_out: frozenset[str]


def cut_roots(files: Mapping[str, bytes]) -> CutRoots:
    """The kustomizations of the Argo CD and cluster directories without the files no expansion reads."""
    kustomizations = {p: c for p, c in files.items()
                      if p.split("/", 1)[0] in _ROOT_DIRS and p.rpartition("/")[2] in KUSTOMIZATION_FILES}
    cut: dict[str, bytes] = {}
    left_out: set[str] = set()
    for path, content in sorted(kustomizations.items()):
        doc = _parsed(path, content)
        if doc is None:
            continue
        directory = path.rpartition("/")[0]
        kept, dropped = [], []
        for entry in doc["resources"]:
            name = entry if isinstance(entry, str) else ""
            file = f"{directory}/{name}"
            if name and "/" not in name and name.endswith((".yaml", ".yml")) and file in files \
                    and _ignored_kinds_only(files[file]):
                dropped.append(file)
            else:
                kept.append(entry)
        if dropped:
            cut[path] = yamlio.dump({**doc, "resources": kept}).encode()
            left_out.update(dropped)
    return CutRoots(cut, frozenset(left_out))


def _parsed(path: str, content: bytes) -> dict[str, Any] | None:
    """The kustomization when only per-resource fields are set and it lists resources, else None."""
    try:
        doc = yamlio.parse(content.decode("utf-8"), path, generated=True)
    except (GitOpsError, UnicodeDecodeError):
        return None
    if (not isinstance(doc, dict) or not set(doc) <= PER_RESOURCE_FIELDS
            or not isinstance(doc.get("resources"), list)):
        return None
    return doc


def _ignored_kinds_only(content: bytes) -> bool:
    """Every document has a top-level ``kind``, none of them one the expansion reads.

    Read from the text (``yamlio.top_level_scalars``), not parsed: parsing the ImageUpdater is the cost
    this saves. A document whose kind is not found there (flow style, none at all) counts as read (kept)."""
    try:
        documents = yamlio.top_level_scalars(content.decode("utf-8"), ("kind",))
    except UnicodeDecodeError:
        return False
    return bool(documents) and all(d.get("kind", "") not in ("", *EXPANSION_KINDS) for d in documents)


__all__ = ["EXPANSION_KINDS", "PER_RESOURCE_FIELDS", "CutRoots", "cut_roots"]
