"""``diff``: what a change does to the GitOps repository and to every Application, offline.

Both revisions of the project are rendered into scratch trees with the same
core the CLI and ``pulumi up`` use, then compared three ways:

* the files of the GitOps tree (added, removed, changed, unified diffs);
* the Applications the ApplicationSets generate (offline expansion): added,
  removed, and changed, where changed means the Application object or the
  manifests of its source changed;
* for each changed Application, the diff of ``kubectl kustomize`` of its
  source on both sides, with Secret values masked.

Sealed secrets are left out of both renders (their content is ciphertext
under each cluster's key; ``pulumi preview`` shows re-sealed files), so a
diff needs no certificate, no secret value and no cluster: it runs on a fork's
pull request with no credentials.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import layout, yamlio
from .errors import GitOpsError, InputError, Problem, printable
from .expansionroots import cut_roots
from .kustomize import FilesTree, build_many
from .options import ValidateOptions
from .parallel import Forked, Mailbox
from .project import load_project
from .render import render_stack
from .render.registration import offline_registration_file
from .validate import AppInfo, generated_applications, source_dir
from .writer import scratch_files, write_scratch

MASK = "*** (masked)"
GIT_TIMEOUT_SECONDS = 120
# From this many service files on, the base revision is rendered in a forked child (two seconds apiece at
# 1000 services); below, the fork costs more than it saves.
PARALLEL_FROM_SERVICES = 100


@dataclass(frozen=True)
class FileChange:
    path: str
    change: str              # added | removed | changed
    diff: str                # unified diff ("" for binary-free additions/removals shown in full)


@dataclass(frozen=True)
class AppChange:
    name: str
    change: str              # added | removed | changed
    info: AppInfo
    application_diff: str = ""   # the Application object itself (sync policy, project, source...)
    manifest_diff: str = ""      # kustomize build of its source, Secrets masked


@dataclass
class DiffReport:
    base: str
    head: str
    files: list[FileChange] = field(default_factory=list)
    apps: list[AppChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files or self.apps)

    def count(self, items: list[Any], change: str) -> int:
        return sum(1 for i in items if i.change == change)

    def as_json(self) -> dict[str, Any]:
        return {
            "base": self.base, "head": self.head, "changed": self.changed,
            "files": [{"path": f.path, "change": f.change, "diff": f.diff} for f in self.files],
            "applications": [{"name": a.name, "change": a.change, "applicationSet": a.info.applicationset,
                              "path": a.info.path or a.info.chart, "applicationDiff": a.application_diff,
                              "manifestDiff": a.manifest_diff} for a in self.apps],
        }


@dataclass(frozen=True)
class _Side:
    label: str
    tree: Path
    files: dict[str, bytes]
    # None: the other revision's (its expansion had the same inputs; only a child's side says so).
    apps: dict[str, tuple[AppInfo, dict[str, Any]]] | None
    repo_path: str
    # What ``tree`` holds on disk so far: the Argo CD and cluster directories, then each service directory
    # a build reads (``_materialize``); everything else is read from memory.
    written: set[str] = field(default_factory=set)
    # Builds (masked) done while the other revision was still being computed, by directory.
    prebuilt: dict[str, bytes] = field(default_factory=dict)

    @functools.cached_property
    def reach(self) -> FilesTree:
        """What a build of each directory of ``files`` may read, worked out once per side."""
        return FilesTree(self.files)


@dataclass(frozen=True)
class _Rendered:
    label: str
    tree: Path
    files: dict[str, bytes]        # the GitOps files
    everything: dict[str, bytes]   # and the writer's records: the tree as a render leaves it
    repo_path: str


@dataclass(frozen=True)
class _Digests:
    """What one revision tells the other (in another process) about its tree: enough to know whether the
    two expansions must be equal, and which files differ."""

    repo_path: str
    files: dict[str, bytes]   # path -> SHA-256, records included


# The head's answer to the base's child: ("same", directories) or ("own",).
_SAME, _OWN = "same", "own"


def diff_revisions(project: Path, base: str, head: str | None, options: ValidateOptions) -> DiffReport:
    """Render ``base`` and ``head`` (None: the working tree) of the project and compare them."""
    with tempfile.TemporaryDirectory(prefix="gitops-diff-") as scratch:
        root = Path(scratch)
        if options.jobs > 1 and _catalog_size(project) >= PARALLEL_FROM_SERVICES:
            # The two revisions are independent: the base is rendered in a child meanwhile (gitops.parallel),
            # and skips its expansion when the head's has the same inputs (``_head_side``).
            mailbox = Mailbox(root / "mailbox")

            def in_child() -> _Side:
                mailbox.open(child=True)
                try:
                    return _base_side(project, base, root / "base", options, mailbox)
                finally:
                    mailbox.close()

            child = Forked(in_child, again=lambda: _side(project, base, root / "base-again", options))
            mailbox.open(child=False)
            try:
                try:
                    head_side = _head_side(project, head, root / "head", options, mailbox)
                finally:
                    mailbox.close()   # before waiting for the child: it may be waiting for a message
            except GitOpsError:
                child.result()   # the base's error first, as without a child
                raise
            except BaseException:
                child.cancel()
                raise
            base_side = child.result()
            if base_side.apps is None:
                base_side = replace(base_side, apps=head_side.apps)
        else:
            base_side = _side(project, base, root / "base", options)
            head_side = _side(project, head, root / "head", options)
        report = DiffReport(base, head or "working tree")
        report.files = _file_changes(base_side.files, head_side.files)
        report.apps = _app_changes(base_side, head_side, report.files, options)
        return report


# --- one side ---------------------------------------------------------------------------------

def _side(project: Path, ref: str | None, scratch: Path, options: ValidateOptions) -> _Side:
    rendered = _render(project, ref, scratch)
    apps, written = _expand(rendered, options)
    return _Side(rendered.label, rendered.tree, rendered.files, apps, rendered.repo_path, written)


def _head_side(project: Path, ref: str | None, scratch: Path, options: ValidateOptions, mailbox: Mailbox) -> _Side:
    """The head revision, telling the base's child whether the head's expansion is also the base's.

    It is when the inputs of the expansion are the same: every file outside the services' directories
    (the Argo CD roots, the registrations), the same paths everywhere (what the git generators list), and
    the same content in every file the git generators read. A change inside services leaves all that
    alone, so the base skips building its roots and expanding 3,000 Applications. Then the changed
    Applications are the same on both sides too, and each side builds them while the other finishes."""
    rendered = _render(project, ref, scratch)
    mine = _digests(rendered)
    mailbox.send(mine)
    reads: set[str] = set()
    apps, written = _expand(rendered, options, reads)
    side = _Side(rendered.label, rendered.tree, rendered.files, apps, rendered.repo_path, written)
    theirs = mailbox.receive()
    if not isinstance(theirs, _Digests) or not _same_expansion_inputs(mine, theirs, reads):
        mailbox.send((_OWN,))
        return side
    directories = _reading_changes(side, _changed_paths(mine, theirs))
    mailbox.send((_SAME, directories))
    side.prebuilt.update(_builds(side, directories, options))
    return side


def _base_side(project: Path, ref: str, scratch: Path, options: ValidateOptions, mailbox: Mailbox) -> _Side:
    """The base revision in the child: its own expansion unless the head says it has the same inputs."""
    rendered = _render(project, ref, scratch)
    mine = _digests(rendered)
    mailbox.send(mine)
    theirs = mailbox.receive()
    # Whether it may be the same is known here; only the head knows what its git generators read.
    if isinstance(theirs, _Digests) and _same_expansion_inputs(mine, theirs, ()):
        side = _Side(rendered.label, rendered.tree, rendered.files, None, rendered.repo_path)
        # While the head expands: the builds it will most likely ask for.
        side.prebuilt.update(_builds(side, _likely_sources(side, _changed_paths(mine, theirs)), options, strict=False))
        answer = mailbox.receive()
        if isinstance(answer, tuple) and answer[0] == _SAME:
            side.prebuilt.update(_builds(side, answer[1], options))
            return side
        apps, written = _expand(rendered, options)
        return replace(side, apps=apps, written=written | side.written)
    apps, written = _expand(rendered, options)
    return _Side(rendered.label, rendered.tree, rendered.files, apps, rendered.repo_path, written)


def _render(project: Path, ref: str | None, scratch: Path) -> _Rendered:
    label = ref or "working tree"
    source = project if ref is None else _checkout(project, ref, scratch / "project")
    try:
        loaded = load_project(source)
    except GitOpsError as exc:
        raise InputError(f"the project at {label} does not load:\n{exc}") from None
    files: dict[str, bytes] = {}
    repo_paths = set()
    results = []
    for stack in loaded.stacks:
        # Hubs and spokes get placeholder registrations, so the hub's view of its fleet expands offline.
        result = render_stack(loaded, stack, registration=offline_registration_file(stack))
        results.append(result)
        repo_paths.add(result.repo_path)
        files.update({m.path: m.content for m in result.files})
    repo_path = repo_paths.pop() if len(repo_paths) == 1 else "."
    return _Rendered(label, scratch / "tree", files, scratch_files(results), repo_path)


def _expand(rendered: _Rendered, options: ValidateOptions, reads: set[str] | None = None,
            ) -> tuple[dict[str, tuple[AppInfo, dict[str, Any]]], set[str]]:
    """The generated Applications by name, and what is on disk now. ``reads``: filled with the files
    the git generators read."""
    everything, tree = rendered.everything, rendered.tree
    # The tree as the writer leaves it (records included), but on disk only what kustomize reads: the
    # roots the ApplicationSets come from now (cut to what the expansion reads: the ImageUpdater is
    # neither written nor built), a service's directory when one of its builds is wanted. The git
    # generators list and read it from memory. Writing both revisions' 19,000 files (and deleting them
    # again) was most of a diff at 1000 services.
    cut = cut_roots(everything)
    on_disk = [p for p in everything if not p.startswith(layout.APPS_DIR + "/") and p not in cut.left_out]
    write_scratch(tree, {**everything, **cut.kustomizations}, on_disk)
    written = set(on_disk) - set(cut.kustomizations)   # as rendered: the cut kustomizations are not
    listed: Mapping[str, bytes] = everything if reads is None else _Recording(everything, reads)
    try:
        apps, problems = generated_applications(tree, options, rendered.repo_path, listed)
    except InputError:
        if not cut.kustomizations:
            raise
        # Something needed a left-out object after all: the roots as rendered, whose error (if any) is the user's.
        restored = [*cut.kustomizations, *cut.left_out]
        write_scratch(tree, everything, restored)
        written.update(restored)
        apps, problems = generated_applications(tree, options, rendered.repo_path, listed)
    if problems:
        raise InputError(f"the ApplicationSets at {rendered.label} do not expand:\n"
                         + "\n".join(str(p) for p in problems))
    return {info.name: (info, app) for info, app in apps}, written


class _Recording(Mapping[str, bytes]):
    """The rendered files, noting each one read (listing them is not reading them)."""

    def __init__(self, files: Mapping[str, bytes], reads: set[str]) -> None:
        self._files, self._reads = files, reads

    def __getitem__(self, path: str) -> bytes:
        self._reads.add(path)
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def _digests(rendered: _Rendered) -> _Digests:
    return _Digests(rendered.repo_path, {p: hashlib.sha256(c).digest() for p, c in rendered.everything.items()})


def _same_expansion_inputs(a: _Digests, b: _Digests, reads: Iterable[str]) -> bool:
    """Whether two revisions expand to the same Applications: the roots are built only from files outside
    the services' directories, which the writer's records (never read) aside must be equal; the git
    generators list every path and read ``reads``."""
    if a.repo_path != b.repo_path or a.files.keys() != b.files.keys():
        return False
    own = (layout.APPS_DIR + "/", layout.STATE_DIR + "/")
    return (all(digest == b.files[p] for p, digest in a.files.items() if not p.startswith(own))
            and all(a.files[p] == b.files[p] for p in reads))


def _changed_paths(a: _Digests, b: _Digests) -> set[str]:
    """The GitOps files that differ (the records aside), as ``_file_changes`` finds them."""
    return {p for p in a.files.keys() | b.files.keys()
            if a.files.get(p) != b.files.get(p) and not p.startswith(layout.STATE_DIR + "/")}


def _likely_sources(side: _Side, changed: set[str]) -> list[str]:
    """The overlays that may read a changed file: the source directories of their services' Applications."""
    reads = _ChangedScopes(changed)
    suffix = "/" + layout.KUSTOMIZATION
    overlays = [path[: -len(suffix)] for path in side.files
                if path.endswith(suffix) and path.count("/") == 4 and path.split("/")[2] == layout.OVERLAYS_DIR]
    return sorted(d for d in overlays if reads.by(d, side.reach))


def _reading_changes(side: _Side, changed: set[str]) -> list[str]:
    """The source directories of the side's Applications whose build may read a changed file."""
    assert side.apps is not None
    reads = _ChangedScopes(changed)
    directories = {source_dir(info, side.repo_path) for info, _ in side.apps.values()}
    return sorted(d for d in directories if d is not None and reads.by(d, side.reach))


def _catalog_size(project: Path) -> int:
    try:
        return sum(1 for name in os.listdir(project / layout.CATALOG_DIR) if name.endswith((".yaml", ".yml")))
    except OSError:
        return 0


def _checkout(project: Path, ref: str, dest: Path) -> Path:
    """The project's inputs (Pulumi*.yaml, services/) as they are at ``ref``, extracted into ``dest``."""
    top = _git(project, "rev-parse", "--show-toplevel").strip()
    prefix = _git(project, "rev-parse", "--show-prefix").strip()
    _git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", what=f"revision {ref!r}")
    listing = _git(Path(top), "ls-tree", "-r", "--name-only", "-z", f"{ref}:{prefix}" if prefix else ref)
    wanted = [p for p in listing.split("\0") if p and _is_input(p)]
    if layout.PROJECT_FILE not in wanted:
        raise InputError([Problem(f"{ref}:{prefix}{layout.PROJECT_FILE}", "", "not found at the base revision; "
                                  "the project did not exist there (pick an older --base)")])
    dest.mkdir(parents=True)
    proc = subprocess.run(["git", "-C", top, "archive", "--format=tar", f"{ref}:{prefix}" if prefix else ref, "--", *wanted],
                          capture_output=True, timeout=GIT_TIMEOUT_SECONDS, check=False)
    if proc.returncode != 0:
        raise InputError(f"git archive of {ref} failed: {proc.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryFile() as tar_file:
        tar_file.write(proc.stdout)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as archive:
            try:
                archive.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                # A link committed as an input (to /etc/..., or out of the project) would read a file that is
                # no part of the revision; git stores only the link's target path.
                where = f"{ref}:{prefix}{printable(exc.tarinfo.name)}"
                if isinstance(exc, (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError)):
                    message = (f"is a symbolic link to {printable(exc.tarinfo.linkname)}, outside the project; diff "
                               "reads the files committed at the revision, so commit the file itself, not a link")
                else:
                    message = f"cannot be extracted safely ({printable(str(exc))})"
                raise InputError([Problem(where, "", message)]) from None
            except tarfile.TarError as exc:
                raise InputError(f"git archive of {ref}: cannot extract the project ({exc})") from None
    return dest


def _is_input(path: str) -> bool:
    if "/" not in path:
        return path == layout.PROJECT_FILE or (path.startswith(layout.STACK_FILE_PREFIX)
                                               and path.endswith(layout.STACK_FILE_SUFFIX))
    first, rest = path.split("/", 1)
    return first == layout.CATALOG_DIR and "/" not in rest


def _git(cwd: Path, *args: str, what: str = "") -> str:
    try:
        proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_SECONDS, check=False)
    except FileNotFoundError:
        raise InputError("git not found on PATH; diff reads revisions with git") from None
    if proc.returncode != 0:
        detail = what or " ".join(args)
        raise InputError(f"{cwd}: git cannot read {detail}: {proc.stderr.strip() or 'unknown revision'} "
                         "(is this a git repository, and is the ref fetched? CI needs fetch-depth: 0)")
    return proc.stdout


# --- comparisons --------------------------------------------------------------------------------

def _file_changes(base: dict[str, bytes], head: dict[str, bytes]) -> list[FileChange]:
    changes = []
    for path in sorted(set(base) | set(head)):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        changes.append(FileChange(path, change, unified(old, new, path)))
    return changes


def _app_changes(base: _Side, head: _Side, files: list[FileChange], options: ValidateOptions) -> list[AppChange]:
    old_apps, new_apps = base.apps, head.apps
    assert old_apps is not None and new_apps is not None, "diff_revisions gives the base the head's expansion"
    changes: list[AppChange] = []
    for name in sorted(set(old_apps) - set(new_apps)):
        changes.append(AppChange(name, "removed", old_apps[name][0]))
    for name in sorted(set(new_apps) - set(old_apps)):
        changes.append(AppChange(name, "added", new_apps[name][0]))
    touched = _ChangedScopes({f.path for f in files})
    candidates = []
    for name in sorted(set(old_apps) & set(new_apps)):
        (old_info, old_app), (new_info, new_app) = old_apps[name], new_apps[name]
        app_diff = "" if old_app == new_app else unified(_dump(old_app), _dump(new_app), f"Application {name}")
        old_dir, new_dir = source_dir(old_info, base.repo_path), source_dir(new_info, head.repo_path)
        may_differ = old_dir != new_dir or touched.by(new_dir, head.reach) or touched.by(old_dir, base.reach)
        if app_diff or may_differ:
            candidates.append((name, new_info, app_diff, old_dir, new_dir))
    # Both sides' builds at once: each is a handful of kubectl processes, mostly waited for.
    with ThreadPoolExecutor(max_workers=2) as pool:
        old_future = pool.submit(_builds, base, [c[3] for c in candidates], options)
        new_builds = _builds(head, [c[4] for c in candidates], options)
        old_builds = old_future.result()
    for name, info, app_diff, old_dir, new_dir in candidates:
        manifests = unified(old_builds.get(old_dir or ""), new_builds.get(new_dir or ""), f"{name} manifests")
        if app_diff or manifests:
            changes.append(AppChange(name, "changed", info, app_diff, manifests))
    return sorted(changes, key=lambda c: (c.name, c.change))


class _ChangedScopes:
    """Changed paths, asked whether building a directory may read one of them.

    First by service: a directory of a service may read only that service's directory (overlay and base),
    any other directory only what is below it. Then, for a tree given, by what the build's kustomizations
    reference (``kustomize.FilesTree``): a change of one environment's overlays leaves the others' builds
    alone, which matters when a stack setting changes thousands of overlays."""

    def __init__(self, changed: set[str]) -> None:
        self._paths = changed
        self._by_service: dict[str, list[str]] = {}
        for path in changed:
            service = _service_dir(path)
            if service:
                self._by_service.setdefault(service, []).append(path)

    def by(self, directory: str | None, tree: FilesTree | None = None) -> bool:
        if directory is None:
            return False
        service = _service_dir(directory)
        candidates = self._by_service.get(service, []) if service else [
            p for p in self._paths if p.startswith(directory + "/")]
        if not candidates or tree is None:
            return bool(candidates)
        reached = tree.reachable(directory)
        if reached is None:   # unbounded: it may read anything of its service
            return True
        return any(p.startswith(d + "/") for d in reached for p in candidates)


def _builds(side: _Side, directories: Iterable[str | None], options: ValidateOptions,
            strict: bool = True) -> dict[str, bytes]:
    """Each directory's build, masked (those done already taken as they are). Not ``strict``: a guess,
    whose failures are left for the builds that are wanted to report."""
    named = [d for d in directories if d is not None]
    done = {d: side.prebuilt[d] for d in named if d in side.prebuilt}
    missing = [d for d in named if d not in done]
    _materialize(side, {_service_dir(d) for d in missing})
    wanted = sorted({d for d in missing if (side.tree / d).is_dir()})
    builds = build_many(side.tree, wanted, options.kubectl, options.jobs)
    if strict and not all(b.ok for b in builds) and not side.written.issuperset(side.files):
        # A kustomization that reads beyond its service's directory: build again in the whole tree.
        _materialize(side, {""})
        builds = build_many(side.tree, wanted, options.kubectl, options.jobs)
    out: dict[str, bytes] = done
    for build in builds:
        if build.ok:
            out[build.directory] = masked_manifests(build.output).encode()
        elif strict:
            raise InputError(f"{side.label}: {build.directory}: kustomize build failed: {build.output.strip()}")
    return out


def _service_dir(directory: str) -> str:
    """``apps/<service>/`` for a directory inside it, else "" (the whole tree)."""
    parts = directory.split("/")
    return f"{parts[0]}/{parts[1]}/" if parts[0] == layout.APPS_DIR and len(parts) >= 2 else ""


def _materialize(side: _Side, prefixes: set[str]) -> None:
    """Write the side's files under ``prefixes`` ("" is every file) that are not on disk yet."""
    missing = [p for p in side.files if p not in side.written and p.startswith(tuple(prefixes))]
    write_scratch(side.tree, side.files, missing)
    side.written.update(missing)


def masked_manifests(stream: str) -> str:
    """The built objects, one canonical YAML document each, Secret values replaced by a mask.

    A change of a Secret value still shows (as a changed key), never the value.
    """
    docs = []
    for obj in yamlio.parse_all(stream, "kustomize output", generated=True):
        if not isinstance(obj, dict):
            continue
        docs.append(_mask(obj))
    return yamlio.dump_all(docs)


def _mask(obj: dict[str, Any]) -> dict[str, Any]:
    kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
    if kind == "Secret" and api == "v1":
        obj = dict(obj)
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = dict.fromkeys(obj[key], MASK)
    elif kind == "SealedSecret" and isinstance(obj.get("spec"), dict):
        spec = dict(obj["spec"])
        if isinstance(spec.get("encryptedData"), dict):
            spec["encryptedData"] = dict.fromkeys(spec["encryptedData"], MASK)
        obj = {**obj, "spec": spec}
    return obj


def _dump(obj: Any) -> bytes:
    return yamlio.dump(obj).encode()


def unified(old: bytes | None, new: bytes | None, name: str) -> str:
    """A unified diff (3 lines of context) of two UTF-8 texts; "" when equal."""
    if old == new:
        return ""
    a = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    b = (new or b"").decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, f"base/{name}" if old is not None else "/dev/null",
                                 f"head/{name}" if new is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


__all__ = ["AppChange", "DiffReport", "FileChange", "diff_revisions", "masked_manifests", "unified"]
