"""``validate`` and ``apps``: prove a rendered tree deploys, without a cluster.

Every kustomization is built with ``kubectl kustomize`` (in parallel), every
built object is checked against the Kubernetes schemas or its CRD, every
ApplicationSet is expanded offline and each Application must have a valid
unique name, an existing AppProject, one destination, and a source path that
is a kustomization that builds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import layout, yamlio
from .appset import ExpansionContext, RepoCheckout, check_applications, expand
from .errors import GitOpsError, InputError, OutputError
from .k8sschema import Schemas, describe
from .kustomize import build_many, find_roots
from .options import ValidateOptions


@dataclass(frozen=True)
class Finding:
    where: str       # a directory of the tree, or a file
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class AppInfo:
    name: str
    project: str
    path: str
    destination: str
    namespace: str
    applicationset: str

    def as_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class ValidationReport:
    builds: int = 0
    objects: int = 0
    crd_schemas: int = 0
    applications: list[AppInfo] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "kustomizations": self.builds,
            "objects": self.objects,
            "applications": [a.as_json() for a in self.applications],
            "problems": [{"where": p.where, "message": p.message} for p in self.problems],
        }


@dataclass
class _ArgoObjects:
    appsets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # (where, object)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    cluster_secrets: list[dict[str, Any]] = field(default_factory=list)


def check_tree(tree: Path) -> None:
    if not tree.exists():
        raise InputError(f"{tree}: no such directory; render first or give the GitOps tree's path")
    if not tree.is_dir():
        raise InputError(f"{tree}: is a file; give the directory of the rendered GitOps tree")


def repo_path_of(tree: Path) -> str:
    """Where the tree sits in its Git repository, from the render records ('.' if unknown)."""
    paths = set()
    for record in sorted((tree / layout.STATE_DIR).glob("*.json")):
        try:
            paths.add(json.loads(record.read_text(encoding="utf-8")).get("gitops", {}).get("path", "."))
        except (OSError, ValueError, AttributeError):
            raise OutputError(f"{record}: unreadable ownership record; restore it from Git") from None
    if len(paths) > 1:
        raise InputError(f"{tree}: stacks disagree on gitops.path ({', '.join(sorted(paths))}); pass --repo-path")
    return paths.pop() if paths else "."


def validate_tree(tree: Path, options: ValidateOptions, repo_path: str | None = None) -> ValidationReport:
    check_tree(tree)
    report = ValidationReport()
    schemas = Schemas(options.kubernetes_version, options.schema_dir)
    report.crd_schemas = len(schemas.crd_sources)
    roots = find_roots(tree)
    if not roots:
        report.problems.append(Finding(str(tree), "no kustomization found; is this a rendered GitOps tree?"))
        return report
    builds = build_many(tree, roots, options.kubectl, options.jobs)
    report.builds = len(builds)
    built_ok = {b.directory for b in builds if b.ok}
    argo = _ArgoObjects()
    seen: set[str] = set()
    for b in builds:
        if not b.ok:
            report.problems.append(Finding(b.directory, f"kustomize build failed: {_first_lines(b.output)}"))
            continue
        try:
            objects = yamlio.parse_all(b.output, f"{b.directory} (built)")
        except GitOpsError as exc:
            report.problems.append(Finding(b.directory, str(exc)))
            continue
        for obj in objects:
            if not isinstance(obj, dict):
                report.problems.append(Finding(b.directory, "built output holds a non-object document"))
                continue
            report.objects += 1
            key = json.dumps(obj, sort_keys=True)
            if key in seen:
                continue  # a base's objects recur unchanged in builds that include it
            seen.add(key)
            for error in schemas.errors(obj):
                report.problems.append(Finding(b.directory, f"{describe(obj)}: {error}"))
            _collect(obj, b.directory, argo)
    if options.schema_dir is None:
        report.problems.append(Finding(str(tree), "custom resources were not validated: no CRD schema directory "
                                       "(pass --schemas DIR)"))
    if repo_path is None:
        repo_path = repo_path_of(tree)
    apps, problems = expand_all(tree, argo, repo_path)
    report.problems.extend(problems)
    for info, app, where in apps:
        for error in schemas.errors(app):
            report.problems.append(Finding(where, f"generated {describe(app)}: {error}"))
        source_dir = _tree_dir(info.path, repo_path)
        if source_dir is None or not (tree / source_dir).is_dir():
            report.problems.append(Finding(where, f"Application {info.name}: source path {info.path!r} does not exist in the tree"))
        elif source_dir not in built_ok:
            report.problems.append(Finding(where, f"Application {info.name}: source path {info.path!r} is not a kustomization that builds"))
    report.applications = [a for a, _, _ in apps]
    return report


def list_applications(tree: Path, options: ValidateOptions, repo_path: str | None = None) -> tuple[list[AppInfo], list[Finding]]:
    """The Applications the tree's ApplicationSets generate (the ``apps`` command)."""
    apps, problems = generated_applications(tree, options, repo_path)
    return [a for a, _ in apps], problems


def generated_applications(tree: Path, options: ValidateOptions, repo_path: str | None = None,
                           ) -> tuple[list[tuple[AppInfo, dict[str, Any]]], list[Finding]]:
    """Each generated Application with its object, expanded offline from the tree's ApplicationSets."""
    check_tree(tree)
    roots = [r for r in find_roots(tree) if r.split("/")[0] in (layout.ARGOCD_DIR, layout.CLUSTERS_DIR)]
    argo = _ArgoObjects()
    problems: list[Finding] = []
    for b in build_many(tree, roots, options.kubectl, options.jobs):
        if not b.ok:
            problems.append(Finding(b.directory, f"kustomize build failed: {_first_lines(b.output)}"))
            continue
        for obj in yamlio.parse_all(b.output, f"{b.directory} (built)"):
            if isinstance(obj, dict):
                _collect(obj, b.directory, argo)
    if problems:
        raise InputError("\n".join(str(p) for p in problems))
    apps, more = expand_all(tree, argo, repo_path if repo_path is not None else repo_path_of(tree), strict=True)
    return [(a, app) for a, app, _ in apps], more


def source_dir(info: AppInfo, repo_path: str) -> str | None:
    """The tree directory an Application's source path names (None when outside the tree)."""
    return _tree_dir(info.path, repo_path)


def expand_all(tree: Path, argo: _ArgoObjects, repo_path: str, strict: bool = False) -> tuple[list[tuple[AppInfo, dict[str, Any], str]], list[Finding]]:
    """Expand every ApplicationSet; with ``strict`` an appset that cannot be expanded is raised, else reported."""
    repo_urls = sorted({_repo_url(g) for _, a in argo.appsets for g in _generators(a) if _repo_url(g)})
    ctx = ExpansionContext(
        repos=[RepoCheckout(url, tree, "" if repo_path in (".", "") else repo_path) for url in repo_urls],
        cluster_secrets=argo.cluster_secrets,
    )
    out: list[tuple[AppInfo, dict[str, Any], str]] = []
    problems: list[Finding] = []
    for where, appset in argo.appsets:
        name = (appset.get("metadata") or {}).get("name", "?")
        try:
            apps = expand(appset, ctx)
        except GitOpsError as exc:
            if strict:
                raise InputError(f"{where}: {exc}") from None
            problems.append(Finding(where, str(exc)))
            continue
        for problem in check_applications(apps, argo.projects, ctx):
            problems.append(Finding(where, f"ApplicationSet {name}: {problem}"))
        for app in apps:
            out.append((_info(app, name), app, where))
    return out, problems


def _info(app: dict[str, Any], appset: str) -> AppInfo:
    spec = app.get("spec") or {}
    dest = spec.get("destination") or {}
    source = spec.get("source") or {}
    return AppInfo(
        name=str((app.get("metadata") or {}).get("name", "")),
        project=str(spec.get("project", "")),
        path=str(source.get("path", "")),
        destination=str(dest.get("server") or dest.get("name") or ""),
        namespace=str(dest.get("namespace", "")),
        applicationset=appset,
    )


def _collect(obj: dict[str, Any], where: str, argo: _ArgoObjects) -> None:
    kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
    if api.startswith("argoproj.io/") and kind == "ApplicationSet":
        argo.appsets.append((where, obj))
    elif api.startswith("argoproj.io/") and kind == "AppProject":
        argo.projects[str((obj.get("metadata") or {}).get("name"))] = obj
    elif api == "v1" and kind == "Secret":
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels.get("argocd.argoproj.io/secret-type") == "cluster":
            argo.cluster_secrets.append(obj)


def _generators(appset: dict[str, Any]) -> Iterable[dict[str, Any]]:
    stack = list((appset.get("spec") or {}).get("generators") or [])
    while stack:
        gen = stack.pop()
        if not isinstance(gen, dict):
            continue
        yield gen
        for combinator in ("matrix", "merge"):
            if isinstance(gen.get(combinator), dict):
                stack.extend(gen[combinator].get("generators") or [])


def _repo_url(gen: dict[str, Any]) -> str | None:
    git = gen.get("git")
    return git.get("repoURL") if isinstance(git, dict) else None


def _tree_dir(repo_relative: str, repo_path: str) -> str | None:
    path = repo_relative.strip("/")
    prefix = repo_path.strip("/")
    if prefix in ("", "."):
        return path or "."
    if path == prefix:
        return "."
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1:]
    return None


def _first_lines(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[:n]) + (" ..." if len(lines) > n else "")

