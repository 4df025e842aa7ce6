"""Skip a render whose inputs and outputs are exactly as the last render left them.

A no-change render is what pre-commit hooks and CI run most. The last
successful render of a stack leaves a local cache entry (ignored by Git) with
the fingerprint of every input it read and the hash of the stack's ownership
record. When the inputs still have that fingerprint, the record is the same,
and every file the record lists still has the recorded content (hashed, not
judged by size or time), the render would write nothing, so nothing is loaded
or rendered. Any difference falls back to the full render, which does all the
checks and reports hand edits.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from pathlib import Path

from . import layout
from .errors import GitOpsError
from .record import load_record
from .yamlio import MAX_INPUT_BYTES

CACHE_DIR = f"{layout.STATE_DIR}/cache"
MAX_TREE_FILE_BYTES = 64 * 1024 * 1024   # a rendered file is kilobytes; anything larger is not ours
_GITIGNORE = f"{layout.STATE_DIR}/.gitignore"
# Local to one checkout: the render cache, a crashed write's journal (and the lock file older versions made).
GITIGNORE_TEXT = "# Local to this checkout: render cache, write journals.\ncache/\n*.journal\nlock\n"


@functools.lru_cache(maxsize=1)
def tool_fingerprint() -> str:
    """Changes whenever the code that renders changes."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def project_digest(project: Path) -> str | None:
    """Everything ``load_project`` reads; hash it once per command and derive each stack's from it."""
    digest = hashlib.sha256(tool_fingerprint().encode())
    try:
        files = [project / layout.PROJECT_FILE]
        files += sorted(project.glob(f"{layout.STACK_FILE_PREFIX}*{layout.STACK_FILE_SUFFIX}"))
        catalog = project / layout.CATALOG_DIR
        files += sorted(p for p in catalog.iterdir() if p.suffix in (".yaml", ".yml"))
        for file in files:
            content = _read_regular(file, MAX_INPUT_BYTES)
            if content is None:
                return None   # the full render reports a FIFO, a device or an oversized input
            digest.update(file.name.encode() + b"\0")
            digest.update(content)
            digest.update(b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _read_regular(path: "str | Path", limit: int) -> bytes | None:
    """The content of a regular file of at most ``limit`` bytes, else None.

    The fast path must never hang or exhaust memory on what the full render
    refuses: a FIFO blocks on open, /dev/zero never ends.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    return data if len(data) <= limit else None


def input_fingerprint(project_hash: str | None, stack: str) -> str | None:
    """The inputs of one stack's render, or None when they cannot be read (the full path reports why)."""
    return None if project_hash is None else hashlib.sha256(f"{project_hash}:{stack}".encode()).hexdigest()


def _cache_file(out: Path, stack: str) -> Path:
    return out / CACHE_DIR / f"{stack}.json"


def _file_hash(path: "str | Path") -> str | None:
    try:
        content = _read_regular(path, MAX_TREE_FILE_BYTES)
    except OSError:
        return None
    return None if content is None else hashlib.sha256(content).hexdigest()


def is_unchanged(out: Path, stack: str, fingerprint: str | None) -> list[str] | None:
    """The stack's files when nothing changed since its last render, else None."""
    if fingerprint is None:
        return None
    state = out / layout.STATE_DIR
    if state.is_symlink() or any(state.glob(f"*{layout.JOURNAL_SUFFIX}")):
        return None   # a crashed write to finish, or a state directory the full render refuses
    try:
        entry = json.loads(_cache_file(out, stack).read_text(encoding="utf-8"))
        record_path = out / layout.ownership_record(stack)
        record_bytes = record_path.read_bytes()
        files = load_record(record_path, record_bytes).files   # every path checked to lie in the tree
    except (OSError, ValueError, KeyError, TypeError, GitOpsError):
        return None   # the full render reports what is wrong
    if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        return None
    if entry.get("record") != hashlib.sha256(record_bytes).hexdigest() or not isinstance(files, dict):
        return None
    root = str(out)
    for path, digest in files.items():
        if _file_hash(os.path.join(root, path)) != digest:
            return None
    return sorted(files)


def remember(out: Path, stack: str, fingerprint: str | None) -> None:
    """Store the cache entry after a successful render (best effort: the cache is never required)."""
    if fingerprint is None:
        return
    record = _file_hash(out / layout.ownership_record(stack))
    if record is None:
        return
    try:
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        ignore = out / _GITIGNORE
        if not ignore.is_file() or ignore.read_text(encoding="utf-8") != GITIGNORE_TEXT:
            ignore.write_text(GITIGNORE_TEXT, encoding="utf-8")   # the state directory is ours
        tmp = _cache_file(out, stack).with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "record": record}), encoding="utf-8")
        os.replace(tmp, _cache_file(out, stack))
    except OSError:
        pass
