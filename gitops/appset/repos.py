"""Local checkouts standing in for the repo-server's Git access.

The git generator asks Argo's repo-server two questions: which tracked files
match a pathspec (``git ls-files``) and which directories exist. Offline, a
local working tree answers them. It is listed once and cached, because one
ApplicationSet can match thousands of files and many ApplicationSets share a
repository.

Two matching rules live here because they differ in a way that changes results:
directory patterns use Go's ``path.Match`` (``*`` stays inside one path
segment), file patterns are git pathspecs whose ``*`` crosses ``/``.
"""

from __future__ import annotations

import bisect
import os
import pathlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_GLOB_META = "*?[\\"


@dataclass(frozen=True)
class RepoCheckout:
    """A local directory that holds ``path_prefix`` of the Git repository ``repo_url``."""

    repo_url: str
    root: pathlib.Path
    path_prefix: str = ""  # "" = root is the repository root; "deploy" = root holds <repo>/deploy
    # The checkout's files by path below ``root`` when they are in memory rather than on disk (``diff``
    # renders both revisions; writing them out only to list and read them again was most of its time).
    files: Mapping[str, bytes] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        prefix = self.path_prefix.strip("/")
        if prefix != self.path_prefix:
            object.__setattr__(self, "path_prefix", prefix)
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise ValueError(f"path_prefix {self.path_prefix!r} must be a plain relative path")


def normalize_repo_url(url: str) -> str:
    """Roughly Argo CD's git.NormalizeGitURL: compare URLs ignoring case, a
    trailing ``.git`` or ``/``, and the scp-like vs ssh:// spelling."""
    u = url.strip().lower()
    scp = re.fullmatch(r"([a-z0-9_.-]+@)?([a-z0-9_.-]+):(?!//)(.*)", u)
    if scp and not u.startswith(("http:", "https:", "ssh:", "git:", "file:")):
        u = f"{scp.group(1) or ''}{scp.group(2)}/{scp.group(3)}"
    elif u.startswith("ssh://"):
        u = u[len("ssh://") :]
    u = u.rstrip("/")
    if u.endswith(".git"):
        u = u[: -len(".git")]
    return u.rstrip("/")


@dataclass
class RepoTree:
    """Every file of one checkout, by repository path, listed once.

    Deliberately mutable: it memoises directory lists, pathspec matches and
    parsed generator files for every ApplicationSet that reads the checkout."""

    checkout: RepoCheckout
    files: tuple[str, ...]  # sorted repository paths (path_prefix applied)
    symlinks: frozenset[str]
    parsed_files: dict[str, Any] = field(default_factory=dict)
    _directories: dict[bool, tuple[str, ...]] = field(default_factory=dict)
    _matches: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def scan(cls, checkout: RepoCheckout) -> RepoTree:
        prefix = checkout.path_prefix
        if checkout.files is not None:
            listed = sorted(f"{prefix}/{path}" if prefix else path for path in checkout.files)
            return cls(checkout, tuple(listed), frozenset())
        root = pathlib.Path(checkout.root)
        if not root.is_dir():
            raise FileNotFoundError(f"checkout root {root} is not a directory")
        files: list[str] = []
        links: set[str] = set()
        stack = [(str(root), prefix)]
        while stack:
            directory, repo_dir = stack.pop()
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name == ".git":
                        continue
                    repo_path = f"{repo_dir}/{entry.name}" if repo_dir else entry.name
                    if entry.is_symlink():
                        files.append(repo_path)
                        links.add(repo_path)
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, repo_path))
                    elif entry.is_file(follow_symlinks=False):
                        files.append(repo_path)
        files.sort()
        return cls(checkout, tuple(files), frozenset(links))

    def local_path(self, repo_path: str) -> pathlib.Path:
        prefix = self.checkout.path_prefix
        rel = repo_path[len(prefix) + 1 :] if prefix else repo_path
        return pathlib.Path(self.checkout.root) / rel

    def read(self, repo_path: str, limit: int) -> bytes:
        """At most ``limit`` bytes of a listed file (from memory when the checkout has its files there)."""
        files = self.checkout.files
        if files is not None:
            prefix = self.checkout.path_prefix
            return files[repo_path[len(prefix) + 1 :] if prefix else repo_path][:limit]
        with open(self.local_path(repo_path), "rb") as handle:
            return handle.read(limit)

    def directories(self, include_hidden: bool) -> tuple[str, ...]:
        """Directories that a clean checkout has (ancestors of tracked files), in
        the lexical pre-order of Go's filepath.WalkDir; hidden subtrees skipped
        unless asked for."""
        cached = self._directories.get(include_hidden)
        if cached is not None:
            return cached
        dirs: set[str] = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        if not include_hidden:
            dirs = {d for d in dirs if not any(p.startswith(".") for p in d.split("/"))}
        ordered = tuple(sorted(dirs, key=lambda d: d.split("/")))
        self._directories[include_hidden] = ordered
        return ordered

    def files_matching(self, pathspec: str) -> tuple[str, ...]:
        """The files ``pathspec`` matches, in order. Only the run of sorted files that starts with the
        pattern's literal head is tested: a generator listing each service's path matched every
        file of the tree per path, quadratic at 1000 services."""
        cached = self._matches.get(pathspec)
        if cached is None:
            match = pathspec_matcher(pathspec)
            head = pathspec_head(pathspec)
            files = self.files
            start = end = bisect.bisect_left(files, head)
            while end < len(files) and files[end].startswith(head):
                end += 1
            cached = tuple(f for f in files[start:end] if match(f))
            self._matches[pathspec] = cached
        return cached

    def covers(self, pattern: str, *, files: bool) -> bool:
        """Whether every repository path ``pattern`` could match lies inside
        this checkout, so that matching it here gives the repository's answer."""
        prefix = self.checkout.path_prefix
        if not prefix:
            return True
        cut = min((i for i, ch in enumerate(pattern) if ch in _GLOB_META), default=None)
        if cut is None:  # a literal path
            if pattern.rstrip("/") == prefix or pattern.startswith(prefix + "/"):
                return True
            # a directory pattern naming an ancestor of the prefix is known to exist
            return not files and (prefix + "/").startswith(pattern.rstrip("/") + "/")
        return pattern[:cut].startswith(prefix + "/")


class RepoIndex:
    """The checkouts of an ExpansionContext, scanned lazily and only once."""

    def __init__(self, checkouts: tuple[RepoCheckout, ...]) -> None:
        self._by_url: dict[str, RepoCheckout] = {}
        for checkout in checkouts:
            key = normalize_repo_url(checkout.repo_url)
            if key in self._by_url:
                raise ValueError(f"two checkouts for repository {checkout.repo_url!r}")
            self._by_url[key] = checkout
        self._trees: dict[str, RepoTree] = {}
        self._lock = threading.Lock()

    @property
    def known_urls(self) -> list[str]:
        return sorted(c.repo_url for c in self._by_url.values())

    def tree(self, repo_url: str) -> RepoTree | None:
        key = normalize_repo_url(repo_url)
        checkout = self._by_url.get(key)
        if checkout is None:
            return None
        with self._lock:
            tree = self._trees.get(key)
            if tree is None:
                tree = RepoTree.scan(checkout)
                self._trees[key] = tree
        return tree


# ---------------------------------------------------------------- matching


class PatternError(ValueError):
    """Go's path.ErrBadPattern."""


def _class_regex(pattern: str, i: int, negators: str) -> tuple[str, int]:
    """Translate a git wildmatch character class starting after '[' at ``i``."""
    j = i
    negate = j < len(pattern) and pattern[j] in negators
    if negate:
        j += 1
    parts: list[str] = []
    first = True
    while True:
        if j >= len(pattern):
            raise PatternError("unterminated character class")
        ch = pattern[j]
        if ch == "]" and not first:
            j += 1
            break
        first = False
        if ch == "\\":
            j += 1
            if j >= len(pattern):
                raise PatternError("trailing backslash in character class")
            ch = pattern[j]
        lo = ch
        j += 1
        if j + 1 < len(pattern) and pattern[j] == "-" and pattern[j + 1] != "]":
            hi = pattern[j + 1]
            j += 2
            if hi == "\\":
                if j >= len(pattern):
                    raise PatternError("trailing backslash in character class")
                hi = pattern[j]
                j += 1
            if lo <= hi:  # an inverted range never matches
                parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            parts.append(re.escape(lo))
    if not parts:
        return ("(?s:.)" if negate else "(?!)"), j
    return ("[^" if negate else "[") + "".join(parts) + "]", j


def _go_class_char(pattern: str, i: int) -> tuple[str, int]:
    """Go's getEsc: one (possibly escaped) class character; '-' and ']' must be escaped."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise PatternError("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise PatternError("syntax error in pattern")
    ch = pattern[i]
    i += 1
    if i >= len(pattern):
        raise PatternError("syntax error in pattern")
    return ch, i


def _go_class_regex(pattern: str, i: int) -> tuple[str, int]:
    """Translate the class after '[' at ``i`` with Go path.Match's grammar."""
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    ranges: list[str] = []
    count = 0
    while True:
        if i < len(pattern) and pattern[i] == "]" and count > 0:
            i += 1
            break
        lo, i = _go_class_char(pattern, i)
        hi = lo
        if pattern[i] == "-":
            hi, i = _go_class_char(pattern, i + 1)
        if lo <= hi:  # Go accepts an inverted range; it just never matches
            ranges.append(f"{re.escape(lo)}-{re.escape(hi)}")
        count += 1
    if not ranges:
        return ("(?s:.)" if negate else "(?!)"), i
    return ("[^" if negate else "[") + "".join(ranges) + "]", i


@lru_cache(maxsize=1024)
def _go_path_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            regex, i = _go_class_regex(pattern, i + 1)
            out.append(regex)
        elif ch == "\\":
            if i + 1 >= len(pattern):
                raise PatternError("syntax error in pattern")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def go_path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: whole-string match, ``*``/``?`` never cross ``/``, no
    ``**``; a negated class may match ``/`` as in Go. Raises PatternError."""
    return _go_path_regex(pattern).fullmatch(name) is not None


@lru_cache(maxsize=1024)
def _wildmatch_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            out.append(".*")
        elif ch == "?":
            out.append(".")
            i += 1
        elif ch == "[":
            if pattern.startswith("[:", i + 1) or pattern.startswith("[:", i + 2):
                raise PatternError("POSIX character classes ([:alpha:]) in pathspecs")
            try:
                regex, i = _class_regex(pattern, i + 1, "!^")
            except PatternError:
                out.append(re.escape("["))
                i += 1
                continue
            out.append(regex)
        elif ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def pathspec_head(pattern: str) -> str:
    """A prefix of every path ``pathspec_matcher(pattern)`` accepts (its literal start)."""
    if not any(ch in pattern for ch in "*?["):
        return (pattern.replace("\\", "") if "\\" in pattern else pattern).rstrip("/")
    return pattern[: min(i for i, ch in enumerate(pattern) if ch in "*?[\\")]


def pathspec_matcher(pattern: str) -> Callable[[str], bool]:
    """``git ls-files -- <pattern>`` membership test (legacy, greedy globbing):
    wildcards match across ``/``; a pattern without wildcards matches that file
    or everything below that directory."""
    has_wildcard = any(ch in pattern for ch in "*?[")
    if not has_wildcard:
        literal = pattern.replace("\\", "") if "\\" in pattern else pattern
        base = literal.rstrip("/")
        return lambda path: path == literal or path.startswith(base + "/")
    regex = _wildmatch_regex(pattern)
    literal_head = pattern[: min(i for i, ch in enumerate(pattern) if ch in "*?[\\")]
    base = pattern.rstrip("/")
    return lambda path: path.startswith(literal_head) and (
        regex.fullmatch(path) is not None or path == pattern or path.startswith(base + "/")
    )
