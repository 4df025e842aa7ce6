"""``validate`` and ``apps``: prove a rendered tree deploys, without a cluster.

Every kustomization is built with ``kubectl kustomize`` (in parallel), every
built object is checked against the Kubernetes schemas or its CRD, every
ApplicationSet is expanded offline and each Application must have a valid
unique name, an existing AppProject, one destination, and a source path that
is a kustomization that builds (a Helm chart source is left to Argo CD).

Cluster Secrets come from the builds and from ``clusters/*/registration.yaml``
(what ``pulumi up`` registered in a hub, without credentials), so a hub's
cluster generators expand as the hub would see them; every cluster an
ApplicationSet selects must carry the metadata its template reads
(``fleetcheck``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout, yamlio
from .appset import ExpansionContext, RepoCheckout, check_applications, expand
from .appset.tamper import tamper_findings
from .errors import GitOpsError, InputError
from .fleetcheck import check_metadata_contract, is_cluster_secret
from .k8sschema import Schemas, describe
from .kustomize import build_many, find_roots
from .options import ValidateOptions
from .record import load_records
from .render.argocd import PLATFORM_KINDS
from .synccheck import CLUSTER_SCOPED, admission_findings, ordering_findings


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
    chart: str = ""          # <chart>@<version> for a Helm chart source (path is then "")

    def as_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class ValidationReport:
    """What ``validate`` found, and how much it checked.

    ``contract_checked``: custom resources (distinct objects, generated
    Applications included) checked against the project's own schemas;
    ``crd_checked``: those also checked against a ``--schemas`` CRD. A report
    says both so a pass is never mistaken for coverage it did not have.
    """

    builds: int = 0
    objects: int = 0
    crd_schemas: int = 0
    contract_checked: int = 0
    crd_checked: int = 0
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
            "contractChecked": self.contract_checked,
            "crdChecked": self.crd_checked,
            "applications": [a.as_json() for a in self.applications],
            "problems": [{"where": p.where, "message": p.message} for p in self.problems],
        }


@dataclass
class _ArgoObjects:
    appsets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # (where, object)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    cluster_secrets: list[dict[str, Any]] = field(default_factory=list)
    secret_sources: dict[str, str] = field(default_factory=dict)   # namespace/name -> where it came from
    default_projects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # every ``default`` AppProject
    project_sources: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # every AppProject, with where


# Projects that exist without being in the tree: Argo CD creates ``default`` itself (unrestricted until the
# tree's own ``default`` replaces it), and the Pulumi program creates the roots' project with the root Application.
BUILT_IN_PROJECTS: dict[str, dict[str, Any]] = {
    layout.DEFAULT_PROJECT: {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": layout.DEFAULT_PROJECT},
        "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                 "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]},
    },
    layout.PLATFORM_PROJECT: {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": layout.PLATFORM_PROJECT},
        # The kinds as the program creates it (``render.argocd.platform_project``): what a root may deploy. The
        # notifiers' SealedSecret is admitted exactly when the stack has notifier secrets, which is also when the
        # root holds one (``render.notifications.platform_kinds``); the tree does not say which, so it counts.
        "spec": {"sourceRepos": ["*"], "destinations": [{"server": layout.IN_CLUSTER_SERVER, "namespace": "*"}],
                 "clusterResourceWhitelist": [],
                 "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in
                                                (*PLATFORM_KINDS, ("bitnami.com", "SealedSecret"))]},
    },
}


def check_tree(tree: Path) -> None:
    if not tree.exists():
        raise InputError(f"{tree}: no such directory; render first or give the GitOps tree's path")
    if not tree.is_dir():
        raise InputError(f"{tree}: is a file; give the directory of the rendered GitOps tree")


def repo_path_of(tree: Path) -> str:
    """Where the tree sits in its Git repository, from the render records ('.' if unknown).

    The records are read by ``gitops.record`` like everywhere else, so a record
    the writer would refuse (unreadable, a path outside the tree) stops
    ``validate`` with the same message instead of being half-trusted here.
    """
    paths = {record.repo_path for record in load_records(tree).values()}
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
    built: dict[str, list[dict[str, Any]]] = {}   # directory -> every object of its build
    for b in builds:
        if not b.ok:
            report.problems.append(Finding(b.directory, f"kustomize build failed: {_first_lines(b.output)}"))
            continue
        try:
            objects = yamlio.parse_all(b.output, f"{b.directory} (built)", generated=True)
        except GitOpsError as exc:
            report.problems.append(Finding(b.directory, str(exc)))
            continue
        for obj in objects:
            if not isinstance(obj, dict):
                report.problems.append(Finding(b.directory, "built output holds a non-object document"))
                continue
            report.objects += 1
            built.setdefault(b.directory, []).append(obj)
            key = json.dumps(obj, sort_keys=True)
            if key in seen:
                continue  # a base's objects recur unchanged in builds that include it
            seen.add(key)
            for error in schemas.errors(obj):
                report.problems.append(Finding(b.directory, f"{describe(obj)}: {error}"))
            _collect(obj, b.directory, argo)
    for where, obj in _load_registrations(tree, report.problems):
        report.objects += 1
        for error in schemas.errors(obj):
            report.problems.append(Finding(where, f"{describe(obj)}: {error}"))
        _collect(obj, where, argo)
    if repo_path is None:
        repo_path = repo_path_of(tree)
    report.problems.extend(contract_findings(argo))
    apps, problems = expand_all(tree, argo, repo_path)
    report.problems.extend(problems)
    report.problems.extend(project_boundary_findings(tree, argo, repo_path, apps))
    report.problems.extend(duplicate_name_findings(argo, apps, repo_path))
    report.problems.extend(sync_findings(built, argo, apps, repo_path, schemas))
    for info, app, where in apps:
        for error in schemas.errors(app):
            report.problems.append(Finding(where, f"generated {describe(app)}: {error}"))
        if info.chart:
            continue  # a chart from a Helm repository: nothing of the tree to build
        source_dir = _tree_dir(info.path, repo_path)
        if source_dir is None or not (tree / source_dir).is_dir():
            report.problems.append(Finding(where, f"Application {info.name}: source path {info.path!r} does not exist in the tree"))
        elif source_dir not in built_ok:
            report.problems.append(Finding(where, f"Application {info.name}: source path {info.path!r} is not a kustomization that builds"))
    report.applications = [a for a, _, _ in apps]
    report.contract_checked, report.crd_checked = schemas.contract_checked, schemas.crd_checked
    return report


def list_applications(tree: Path, options: ValidateOptions, repo_path: str | None = None) -> tuple[list[AppInfo], list[Finding]]:
    """The Applications the tree's ApplicationSets generate (the ``apps`` command)."""
    apps, problems = generated_applications(tree, options, repo_path)
    return [a for a, _ in apps], problems


def generated_applications(tree: Path, options: ValidateOptions, repo_path: str | None = None,
                           files: Mapping[str, bytes] | None = None,
                           ) -> tuple[list[tuple[AppInfo, dict[str, Any]]], list[Finding]]:
    """Each generated Application with its object, expanded offline from the tree's ApplicationSets.

    ``files``: every file of the tree by path, when the caller has them in memory; the git generators
    then list and read those, and only the Argo CD and cluster directories need to be on disk.
    """
    check_tree(tree)
    roots = [r for r in find_roots(tree) if r.split("/")[0] in (layout.ARGOCD_DIR, layout.CLUSTERS_DIR)]
    argo = _ArgoObjects()
    problems: list[Finding] = []
    for b in build_many(tree, roots, options.kubectl, options.jobs):
        if not b.ok:
            problems.append(Finding(b.directory, f"kustomize build failed: {_first_lines(b.output)}"))
            continue
        for obj in yamlio.parse_all(b.output, f"{b.directory} (built)", generated=True):
            if isinstance(obj, dict):
                _collect(obj, b.directory, argo)
    for where, obj in _load_registrations(tree, problems):
        _collect(obj, where, argo)
    if problems:
        raise InputError("\n".join(str(p) for p in problems))
    apps, more = expand_all(tree, argo, repo_path if repo_path is not None else repo_path_of(tree), strict=True,
                            files=files)
    return [(a, app) for a, app, _ in apps], more


def source_dir(info: AppInfo, repo_path: str) -> str | None:
    """The tree directory an Application's source path names (None when outside the tree or a chart)."""
    if info.chart:
        return None
    return _tree_dir(info.path, repo_path)


def _load_registrations(tree: Path, problems: list[Finding]) -> list[tuple[str, dict[str, Any]]]:
    """``clusters/*/registration.yaml``: one cluster Secret each (as the hub holds it, minus credentials)."""
    out = []
    for file in sorted((tree / layout.CLUSTERS_DIR).glob(f"*/{layout.REGISTRATION}")):
        where = file.relative_to(tree).as_posix()
        try:
            docs = yamlio.parse_all(yamlio.read_file_text(file, where), where)
        except GitOpsError as exc:
            problems.append(Finding(where, str(exc)))
            continue
        if len(docs) != 1 or not is_cluster_secret(docs[0]):
            problems.append(Finding(where, "must hold exactly one v1 Secret labelled "
                                    f"{layout.SECRET_TYPE_LABEL}: cluster (render it with registration_file)"))
            continue
        cluster = file.parent.name
        if (docs[0].get("stringData") or {}).get("name") != cluster:
            problems.append(Finding(where, f"stringData.name must be {cluster!r}, the cluster of its directory"))
            continue
        out.append((where, docs[0]))
    return out


def contract_findings(argo: _ArgoObjects) -> list[Finding]:
    """Selected clusters that lack metadata an ApplicationSet reads, located at the cluster's Secret."""
    findings = []
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for _, appset in argo.appsets:
        by_namespace.setdefault(_namespace(appset), []).append(appset)
    for namespace, appsets in sorted(by_namespace.items()):
        for f in check_metadata_contract(appsets, argo.cluster_secrets, namespace):
            findings.append(Finding(argo.secret_sources.get(f.secret, f.applicationset), str(f)))
    return findings


def _namespace(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or layout.ARGOCD_NAMESPACE)


def expand_all(tree: Path, argo: _ArgoObjects, repo_path: str, strict: bool = False,
               files: Mapping[str, bytes] | None = None) -> tuple[list[tuple[AppInfo, dict[str, Any], str]], list[Finding]]:
    """Expand every ApplicationSet; with ``strict`` an appset that cannot be expanded is raised, else reported.
    ``files``: see ``generated_applications``."""
    repos = _checkouts(argo, repo_path, tree, files)
    contexts: dict[str, ExpansionContext] = {}   # one per Argo CD namespace: it lists its own cluster Secrets
    projects = {**BUILT_IN_PROJECTS, **argo.projects}
    out: list[tuple[AppInfo, dict[str, Any], str]] = []
    problems: list[Finding] = []
    for where, appset in argo.appsets:
        name = (appset.get("metadata") or {}).get("name", "?")
        namespace = _namespace(appset)
        if namespace not in contexts:
            contexts[namespace] = ExpansionContext(repos=repos, cluster_secrets=argo.cluster_secrets,
                                                   argocd_namespace=namespace)
        ctx = contexts[namespace]
        try:
            apps = expand(appset, ctx)
        except GitOpsError as exc:
            if strict:
                raise InputError(f"{where}: {exc}") from None
            problems.append(Finding(where, str(exc)))
            continue
        for problem in check_applications(apps, projects, ctx):
            problems.append(Finding(where, f"ApplicationSet {name}: {problem}"))
        for app in apps:
            out.append((_info(app, name), app, where))
    return out, problems


def project_boundary_findings(tree: Path, argo: _ArgoObjects, repo_path: str,
                              apps: list[tuple[AppInfo, dict[str, Any], str]]) -> list[Finding]:
    """No edit of a discovered file moves an Application (``appset.tamper``); ``default`` grants nothing and holds nothing."""
    findings: list[Finding] = []
    repos = _checkouts(argo, repo_path, tree)
    for where, appset in argo.appsets:
        name = (appset.get("metadata") or {}).get("name", "?")
        namespace = _namespace(appset)

        def context(namespace: str = namespace) -> ExpansionContext:
            return ExpansionContext(repos=repos, cluster_secrets=argo.cluster_secrets, argocd_namespace=namespace)

        try:
            moves = tamper_findings(appset, context)
        except GitOpsError:
            continue   # expand_all already reported why it does not expand
        findings.extend(Finding(where, f"ApplicationSet {name}: {move}") for move in moves)
    for where, default in argo.default_projects:
        spec = default.get("spec") or {}
        granted = [key for key in ("sourceRepos", "destinations", "clusterResourceWhitelist", "namespaceResourceWhitelist")
                   if spec.get(key)]
        if granted:
            findings.append(Finding(where, f"AppProject {layout.DEFAULT_PROJECT} grants {', '.join(granted)}; "
                                    "it must grant nothing (an Application that lands in it could deploy anywhere)"))
    for info, _, where in apps:
        if info.project == layout.DEFAULT_PROJECT:
            findings.append(Finding(where, f"Application {info.name} is in project {layout.DEFAULT_PROJECT}, "
                                    "which grants nothing; give it its own project"))
    return findings


def sync_findings(built: dict[str, list[dict[str, Any]]], argo: _ArgoObjects,
                  apps: list[tuple[AppInfo, dict[str, Any], str]], repo_path: str, schemas: Schemas) -> list[Finding]:
    """Every build in Argo CD's sync order, and every object an Application deploys admitted by its project.

    See ``synccheck``. An Application deploys the build of its source path;
    an ``argocd/<env>`` that no generated Application syncs is a root, synced
    by the program's ``root-<env>`` in the platform project.
    """
    findings = [Finding(directory, message)
                for directory, objects in sorted(built.items()) for message in ordering_findings(objects)]
    projects = {**BUILT_IN_PROJECTS, **argo.projects}

    def cluster_scoped(group: str, kind: str) -> bool:
        return (group, kind) in CLUSTER_SCOPED or (group, kind) in schemas.cluster_scoped_crds

    synced: list[tuple[str, str, str, str]] = []   # (Application, project, source directory, where)
    for info, _, where in apps:
        source = source_dir(info, repo_path)
        if source is not None and source in built:
            synced.append((info.name, info.project, source, where))
    generated = {source for _, _, source, _ in synced}
    for directory in sorted(built):
        parts = directory.split("/")
        if len(parts) == 2 and parts[0] == layout.ARGOCD_DIR and directory not in generated:
            synced.append((layout.root_application_name(parts[1]), layout.PLATFORM_PROJECT, directory, directory))
    for name, project_name, source, where in synced:
        project = projects.get(project_name)
        if project is None:
            continue   # check_applications reports the missing project
        findings.extend(Finding(where, message)
                        for message in admission_findings(name, project_name, project, built[source], cluster_scoped))
    return findings


def duplicate_name_findings(argo: _ArgoObjects, apps: list[tuple[AppInfo, dict[str, Any], str]],
                            repo_path: str) -> list[Finding]:
    """Application, AppProject and ApplicationSet names are unique per Argo CD and namespace.

    Argo CD keeps one object per kind, namespace and name: a second one of the
    same name (or an Application named like ``root-<env>``, the root the Pulumi
    program creates) overwrites the first, and each owner undoes the other.
    Several ``argocd/<env>`` directories can go into one Argo CD, so which do
    is read from the tree: a directory that a generated Application syncs (a
    hub's ``fleet-roots`` syncs each spoke's) belongs to the Argo CD of the
    directory that generated it; every other one is an Argo CD of its own,
    synced by its ``root-<env>``. Standalone clusters' directories never meet,
    however alike their names.
    """
    parent: dict[str, str] = {}
    for info, _, where in apps:
        source = source_dir(info, repo_path)
        if source and source != where and source.startswith(f"{layout.ARGOCD_DIR}/"):
            parent.setdefault(source, where)

    def argocd_of(where: str) -> str:
        seen = {where}
        while where in parent and parent[where] not in seen:
            where = parent[where]
            seen.add(where)
        return where

    claims: dict[tuple[str, str, str, str], set[tuple[str, str]]] = {}   # (Argo CD, namespace, kind, name) -> origins

    def claim(where: str, kind: str, namespace: str, name: str, origin: str) -> None:
        claims.setdefault((argocd_of(where), namespace, kind, name), set()).add((where, origin))

    namespaces: dict[str, str] = {}
    for kind, objects in (("AppProject", argo.project_sources), ("ApplicationSet", argo.appsets)):
        for where, obj in objects:
            namespaces.setdefault(where, _namespace(obj))
            claim(where, kind, _namespace(obj), str((obj.get("metadata") or {}).get("name", "")), where)
    for info, app, where in apps:
        claim(where, "Application", _namespace(app), info.name, f"ApplicationSet {info.applicationset} ({where})")
    for where, namespace in sorted(namespaces.items()):
        parts = where.split("/")
        if len(parts) == 2 and parts[0] == layout.ARGOCD_DIR and where not in parent:
            claim(where, "Application", namespace, layout.root_application_name(parts[1]),
                  f"the root Application of {where} (created by the Pulumi program)")
    findings = []
    for (argocd, namespace, kind, name), origins in sorted(claims.items()):
        if len(origins) < 2:
            continue   # one origin: unique, or an ApplicationSet repeating a name (check_applications reports it)
        ordered = sorted(origins)
        findings.append(Finding(ordered[-1][0], f"{kind} {name!r} is defined more than once in Argo CD namespace "
                                f"{namespace} (the Argo CD that syncs {argocd}): by {', by '.join(o for _, o in ordered)}; "
                                "Argo CD keeps one object of a name, so each would overwrite the other: rename one"))
    return findings


def _checkouts(argo: _ArgoObjects, repo_path: str, tree: Path,
               files: Mapping[str, bytes] | None = None) -> list[RepoCheckout]:
    repo_urls = sorted({url for _, a in argo.appsets for g in _generators(a) if (url := _repo_url(g))})
    return [RepoCheckout(url, tree, "" if repo_path in (".", "") else repo_path, files) for url in repo_urls]


def _info(app: dict[str, Any], appset: str) -> AppInfo:
    spec = app.get("spec") or {}
    dest = spec.get("destination") or {}
    source = spec.get("source") or {}
    chart = f"{source['chart']}@{source.get('targetRevision', '')}" if source.get("chart") else ""
    return AppInfo(
        name=str((app.get("metadata") or {}).get("name", "")),
        project=str(spec.get("project", "")),
        path=str(source.get("path", "")),
        destination=str(dest.get("server") or dest.get("name") or ""),
        namespace=str(dest.get("namespace", "")),
        applicationset=appset,
        chart=chart,
    )


def _collect(obj: dict[str, Any], where: str, argo: _ArgoObjects) -> None:
    kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
    if api.startswith("argoproj.io/") and kind == "ApplicationSet":
        argo.appsets.append((where, obj))
    elif api.startswith("argoproj.io/") and kind == "AppProject":
        argo.projects[str((obj.get("metadata") or {}).get("name"))] = obj
        argo.project_sources.append((where, obj))
        if (obj.get("metadata") or {}).get("name") == layout.DEFAULT_PROJECT:
            argo.default_projects.append((where, obj))
    elif is_cluster_secret(obj):
        argo.cluster_secrets.append(obj)
        meta = obj.get("metadata") or {}
        argo.secret_sources.setdefault(f"{meta.get('namespace') or 'argocd'}/{meta.get('name', '')}", where)


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

