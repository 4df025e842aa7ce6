"""The ownership record (``.gitops-platform/<stack>.json``) and the checks on every path read from disk.

A record says which files a stack wrote and the hash of each. It is committed
with the tree, so it is input like any other: a pull request can change it.
The writer deletes and overwrites what records name, so a path read from a
record (or from a write journal) is accepted only when it is a normalised
relative path inside one of the directories a stack may own; anything else
stops the command (exit 2) naming the file and the entry. Nothing here trusts
a record's hashes beyond what the writer's rules already allow.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout
from .errors import OutputError

RECORD_VERSION = 1
# The top-level directories a stack may own; the state directory is the writer's own.
OWNED_ROOTS = (layout.APPS_DIR, layout.ARGOCD_DIR, layout.CLUSTERS_DIR)
SHA256 = re.compile(r"[0-9a-f]{64}")
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")
# Stack names are file names of the project (Pulumi.<stack>.yaml); a record's name must be one too.
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def tree_path_problem(path: Any) -> str | None:
    """Why ``path`` is not a path the writer may touch, or None.

    Accepted: a string of ``/``-separated parts, relative, already normalised
    (no ``.``/``..``/empty parts), without control characters or backslashes,
    under ``apps/``, ``argocd/`` or ``clusters/``.
    """
    if not isinstance(path, str) or not path:
        return "is not a non-empty path string"
    if _UNSAFE_CHARACTERS.search(path):
        return "contains a control character or a backslash"
    if path.startswith("/"):
        return "is absolute"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or posixpath.normpath(path) != path:
        return "is not a normalised relative path (it has '.', '..' or empty parts)"
    if len(parts) < 2 or parts[0] not in OWNED_ROOTS:
        return f"lies outside the directories a stack owns ({', '.join(r + '/' for r in OWNED_ROOTS)})"
    return None


def checked_files(files: Any, where: str) -> dict[str, str]:
    """``{path: sha256}`` from a record or journal, every entry checked; OutputError naming the bad entry."""
    if not isinstance(files, dict):
        raise OutputError(f"{where}: 'files' must map paths to sha256 hashes; restore the file from Git")
    for path, digest in files.items():
        problem = tree_path_problem(path)
        if problem is not None:
            raise OutputError(f"{where}: files entry {path!r} {problem}; nothing was written. "
                              "Restore the file from Git (a record names only files the render wrote)")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise OutputError(f"{where}: files entry {path!r} has no sha256 hash; restore the file from Git")
    return dict(files)


@dataclass(frozen=True)
class Record:
    """What one stack wrote: ``files`` maps tree paths to the sha256 of their content."""

    stack: str
    environment: str = ""
    repo_url: str = ""
    repo_path: str = "."
    files: Mapping[str, str] = field(default_factory=dict)

    def dump(self) -> bytes:
        doc = {"version": RECORD_VERSION, "stack": self.stack, "environment": self.environment,
               "gitops": {"repoURL": self.repo_url, "path": self.repo_path},
               "files": dict(sorted(self.files.items()))}
        return (json.dumps(doc, indent=1) + "\n").encode()


def load_record(file: Path, data: bytes | None = None) -> Record:
    """One record, checked; OutputError naming the file (and the entry) when it cannot be trusted."""
    where = str(file)
    try:
        doc = json.loads(file.read_bytes() if data is None else data)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{where}: unreadable ownership record ({exc}); restore it from Git") from None
    if not isinstance(doc, dict):
        raise OutputError(f"{where}: an ownership record is a JSON object; restore it from Git")
    stack = file.stem
    if not STACK_NAME.fullmatch(stack):
        raise OutputError(f"{where}: not a stack's record name; remove it or restore it from Git")
    gitops = doc.get("gitops")
    if not isinstance(gitops, dict):
        gitops = {}
    repo_path = gitops.get("path", ".")
    return Record(
        stack=stack,
        environment=str(doc.get("environment", "")),
        repo_url=str(gitops.get("repoURL", "")),
        repo_path=repo_path if isinstance(repo_path, str) else ".",
        files=checked_files(doc.get("files"), where),
    )


def load_records(out: Path) -> dict[str, Record]:
    """Every stack's record in the tree ``out``, by stack name."""
    state = out / layout.STATE_DIR
    if state.is_symlink():
        raise OutputError(f"{state}: is a symbolic link; the records must live inside the tree: replace it "
                          "with the directory from Git")
    if not state.exists():
        return {}
    if not state.is_dir():
        raise OutputError(f"{state}: is a file, but it must be the directory of the render records; "
                          "move it away or restore it from Git")
    records = {}
    for file in sorted(state.glob("*.json")):
        if file.is_symlink() or not file.is_file():
            raise OutputError(f"{file}: an ownership record must be a regular file, not a directory or link; "
                              "remove it or restore it from Git")
        records[file.stem] = load_record(file)
    return records
