"""Can an edit of a discovered file move an Application? Expand every ApplicationSet twice to find out.

A git files generator reads files anyone with push access to the repository
can change (the Image Updater's credentials included), unlike the
ApplicationSets themselves, which only the environment's root syncs. If a
template takes its project, name or destination from such a file, an edit
can put a service into another team's project (or Argo CD's ``default``)
and namespaces (Argo CD's ApplicationSet security notes warn about templated
projects). So each ApplicationSet is expanded as the tree is and again with
every discovered file replaced by a hostile one; any Application whose name
or project changes, or that appears only after the edit, is a finding. A
namespace change is not: the project must admit the destination, or Argo CD
refuses the Application.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .context import ExpansionContext
from .expand import expand

# What a hostile edit writes into every field a discovered file has (and these, should a template read them).
HOSTILE_VALUE = "intruder"
HOSTILE_FIELDS: Mapping[str, str] = {
    "project": "default",
    "namespace": "kube-system",
    "service": "root",
    "name": "root",
    "team": HOSTILE_VALUE,
    "environment": HOSTILE_VALUE,
}


def tamper_findings(appset: Mapping[str, Any], make_context: Callable[[], ExpansionContext]) -> list[str]:
    """How a hostile edit of the ApplicationSet's discovered files would change its Applications (empty: it cannot)."""
    findings = pattern_findings(appset)
    honest_ctx = make_context()
    honest = _by_source(expand(appset, honest_ctx))
    discovered = {url: dict(tree.parsed_files) for url, tree in _trees(honest_ctx).items() if tree.parsed_files}
    if not discovered:
        return findings   # no generator read a file of the repository
    hostile_ctx = make_context()
    for url, tree in _trees(hostile_ctx).items():
        for path, objects in discovered.get(url, {}).items():
            tree.parsed_files[path] = [_hostile(obj) for obj in objects]
    try:
        hostile = _by_source(expand(appset, hostile_ctx))
    except Exception:
        return findings
    for source, (name, project) in sorted(hostile.items()):
        if source not in honest:
            findings.append(f"an edit of a discovered file adds Application {name} (source {source}, project {project})")
            continue
        old_name, old_project = honest[source]
        if name != old_name:
            findings.append(f"an edit of a discovered file renames Application {old_name} to {name}")
        if project != old_project:
            findings.append(f"an edit of a discovered file moves Application {old_name} from project "
                            f"{old_project} to {project}; fix the project in the template, not in the file")
    return findings


def pattern_findings(appset: Mapping[str, Any]) -> list[str]:
    """Git files generators that discover by pattern: then a pushed file adds an Application."""
    findings = []
    for generator in _git_generators((appset.get("spec") or {}).get("generators") or []):
        for entry in generator.get("files") or []:
            path = entry.get("path") if isinstance(entry, Mapping) else None
            if isinstance(path, str) and any(c in path for c in "*?["):
                findings.append(f"the git files generator discovers {path!r} by pattern, so a file pushed to the "
                                "repository adds an Application; list the files of the services it owns")
    return findings


def _git_generators(generators: list[Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for generator in generators:
        if not isinstance(generator, Mapping):
            continue
        if isinstance(generator.get("git"), Mapping):
            out.append(generator["git"])
        for combinator in ("matrix", "merge"):
            if isinstance(generator.get(combinator), Mapping):
                out.extend(_git_generators(generator[combinator].get("generators") or []))
    return out


def _trees(ctx: ExpansionContext) -> dict[str, Any]:
    index = ctx.repo_index
    return {url: tree for url in index.known_urls if (tree := index.tree(url)) is not None}


def _hostile(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {**dict.fromkeys(obj, HOSTILE_VALUE), **HOSTILE_FIELDS}


def _by_source(apps: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """{source path or chart: (name, project)}: an Application's identity is what it deploys."""
    out = {}
    for app in apps:
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        key = f"{source.get('repoURL', '')}#{source.get('path') or source.get('chart') or ''}"
        out[key] = (str((app.get("metadata") or {}).get("name", "")), str(spec.get("project", "")))
    return out
