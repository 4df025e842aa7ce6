"""``kubectl kustomize`` as a function: the builds every check relies on.

Builds are reused within a process when their inputs are byte-identical:
`diff` builds two revisions in which most applications did not change, and
`validate` is re-run over trees that differ in one file. The cache key is
the content of every directory kustomize may read for the build (the
kustomization's directory and, transitively, the directories its
``resources``/``bases``/``components`` name: kustomize's default load
restrictor keeps every other file reference inside those), plus the
kubectl binary. A build that could read anything else (a remote or absolute
reference, a Helm chart, a symlink, a path leaving the tree) is never cached.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import layout
from .errors import InputError

# The names kustomize accepts, ours first.
KUSTOMIZATION_FILES = (layout.KUSTOMIZATION, "kustomization.yml", "Kustomization")
BUILD_TIMEOUT_SECONDS = 120
_KLOG = re.compile(r'"command failed" err="(.*)"\s*$', re.S)


@dataclass(frozen=True)
class Build:
    directory: str     # relative to the tree root
    ok: bool
    output: str        # the YAML stream on success, the error text otherwise


def find_roots(tree: Path) -> list[str]:
    """Every directory with a kustomization, hidden directories skipped (Argo CD does the same)."""
    roots = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(name in filenames for name in KUSTOMIZATION_FILES):
            rel = Path(dirpath).relative_to(tree).as_posix()
            roots.append(rel)
    return sorted(roots)


def kubectl_path(kubectl: str) -> str:
    found = shutil.which(kubectl)
    if not found:
        raise InputError(f"{kubectl!r} not found on PATH; install kubectl (with kustomize v5) or pass --kubectl")
    return found


# Keyed by _cache_key; bounded by total bytes held, oldest entry evicted first.
_CACHE: dict[str, tuple[bool, str]] = {}
_CACHE_LIMIT_BYTES = 64 * 1024 * 1024
_cache_bytes = 0
_cache_lock = threading.Lock()
_REFERENCE_KEYS = ("resources", "bases", "components")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _kustomization(directory: Path) -> dict[str, Any] | None:
    for name in KUSTOMIZATION_FILES:
        file = directory / name
        if file.is_file() and not file.is_symlink():
            return _parsed_kustomization(file.read_bytes())
    return None


def _parsed_kustomization(content: bytes) -> dict[str, Any] | None:
    try:
        doc = yaml.load(content, Loader=_LOADER)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


def _reachable_directories(tree: Path, directory: str) -> list[str] | None:
    """Directories (relative to the tree) the build may read, or None when that cannot be bounded."""
    root = tree.resolve()

    def locate(rel: str, entry: str) -> str | None:
        target = (tree / rel / entry).resolve()
        if not target.is_relative_to(root):
            return None
        if target.is_dir():
            return target.relative_to(root).as_posix()
        # missing, or outside the files hashed for this directory
        return "" if target.is_file() and target.is_relative_to((tree / rel).resolve()) else None

    return _reachable(directory, lambda rel: _kustomization(tree / rel), locate)


class FilesTree:
    """A tree held in memory (``diff``'s renders), asked which directories a build of one may read."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._files = files
        self._known: set[str] | None = None
        # Every overlay reaches its service's base: each directory is worked out, and parsed, once.
        self._reached: dict[str, list[str] | None] = {}
        self._parsed: dict[str, dict[str, Any] | None] = {}

    @property
    def _directories(self) -> set[str]:
        """Every directory that holds a file, listed on first use."""
        if self._known is None:
            self._known = set()
            for path in self._files:
                end = path.rfind("/")
                while end > 0 and path[:end] not in self._known:
                    self._known.add(path[:end])
                    end = path.rfind("/", 0, end)
        return self._known

    def reachable(self, directory: str) -> list[str] | None:
        """As ``_reachable_directories`` would answer once the files are written out."""
        if directory not in self._reached:
            self._reached[directory] = _reachable(directory, self._kustomization, self._locate)
        return self._reached[directory]

    def _locate(self, rel: str, entry: str) -> str | None:
        target = posixpath.normpath(posixpath.join(rel, entry))
        if target == ".." or target.startswith(("../", "/")):
            return None
        if target in self._directories:
            return target
        return "" if target in self._files and target.startswith(rel + "/") else None

    def _kustomization(self, directory: str) -> dict[str, Any] | None:
        if directory not in self._parsed:
            found = next((content for name in KUSTOMIZATION_FILES
                          if (content := self._files.get(f"{directory}/{name}")) is not None), None)
            self._parsed[directory] = _parsed_kustomization(found) if found is not None else None
        return self._parsed[directory]


def _reachable(directory: str, kustomization: Callable[[str], dict[str, Any] | None],
               locate: Callable[[str, str], str | None]) -> list[str] | None:
    """The directories reachable from ``directory`` through ``resources``/``bases``/``components``.
    ``locate(directory, entry)``: the directory an entry names, "" for a file the build may read, None
    for anything that leaves the bounds (which makes the whole answer None)."""
    seen: set[str] = set()
    pending = [directory]
    while pending:
        rel = pending.pop()
        if rel in seen:
            continue
        seen.add(rel)
        doc = kustomization(rel)
        if doc is None or "helmCharts" in doc or "helmChartInflationGenerator" in doc:
            return None
        for key in _REFERENCE_KEYS:
            entries = doc.get(key) or []
            if not isinstance(entries, list):
                return None
            for entry in entries:
                if not isinstance(entry, str) or "://" in entry or entry.startswith(("/", "git@", "github.com")):
                    return None
                target = locate(rel, entry)
                if target is None:
                    return None
                if target:
                    pending.append(target)
    return sorted(seen)


def _cache_key(tree: Path, directory: str, kubectl: str) -> str | None:
    directories = _reachable_directories(tree, directory)
    if directories is None:
        return None
    digest = hashlib.sha256()
    binary = os.stat(kubectl)
    digest.update(f"{kubectl}\0{binary.st_size}\0{binary.st_mtime_ns}\0{directory}\0".encode())
    for rel in directories:
        for dirpath, dirnames, filenames in os.walk(tree / rel):
            dirnames.sort()
            if any(os.path.islink(os.path.join(dirpath, d)) for d in dirnames):
                return None
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_symlink():
                    return None
                digest.update(f"{path.relative_to(tree).as_posix()}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build(tree: Path, directory: str, kubectl: str) -> Build:
    """One build, from the cache when the same inputs were built before in this process."""
    global _cache_bytes
    try:
        key = _cache_key(tree, directory, kubectl)
    except OSError:
        key = None
    cached = _CACHE.get(key) if key is not None else None
    if cached is not None:
        return Build(directory, *cached)
    result = _build(tree, directory, kubectl)
    if key is not None and len(result.output) < _CACHE_LIMIT_BYTES:
        with _cache_lock:
            if key in _CACHE:
                return result
            _CACHE[key] = (result.ok, result.output)
            _cache_bytes += len(result.output)
            while _cache_bytes > _CACHE_LIMIT_BYTES:
                _cache_bytes -= len(_CACHE.pop(next(iter(_CACHE)))[1])
    return result


def _build(tree: Path, directory: str, kubectl: str) -> Build:
    try:
        proc = subprocess.run(
            [kubectl, "kustomize", str(tree / directory)],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS, check=False,
            env={**os.environ, "KUBECONFIG": os.devnull},
        )
    except subprocess.TimeoutExpired:
        return Build(directory, False, f"timed out after {BUILD_TIMEOUT_SECONDS}s")
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().replace(str(tree) + "/", "")
        # kubectl wraps the kustomize error in a klog line: keep the error itself.
        match = _KLOG.search(message)
        return Build(directory, False, match.group(1).replace('\\"', '"') if match else message)
    return Build(directory, True, proc.stdout)


def build_many(tree: Path, directories: Sequence[str], kubectl: str, jobs: int) -> list[Build]:
    """Builds in parallel (each is a separate process), results in input order."""
    path = kubectl_path(kubectl)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda d: build(tree, d, path), directories))
