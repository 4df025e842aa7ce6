"""Skip a render whose inputs and outputs are exactly as the last render left them.

A no-change render is what pre-commit hooks and CI run most. The last
successful render of a stack leaves a local cache entry (ignored by Git) with
the fingerprint of every input it read, the hash of the stack's ownership
record and the identity of every file the record lists (inode, size,
modification and change time, as Git's index keeps them). When the inputs
still have that fingerprint, the record is the same, and every file the
record lists still has the recorded content, the render would write nothing,
so nothing is loaded or rendered. Any difference falls back to the full
render, which does all the checks and reports hand edits.

"Still has the recorded content" is decided by the file's identity where that
is conclusive and by hashing its content where it is not: reading and hashing
19,000 files took four times the 0.3 s a no-change render may take. Any write
to a file changes its change time (``os.utime`` can set the modification time
back, never the change time) and a replaced file has another inode, so an
unchanged identity means unchanged bytes, with one exception Git calls "racy":
a file changed again within the same tick of the file system's clock as the
identity was taken keeps its change time. So the identity counts only for
files whose change time is older than the moment the entry was made (the
creation time of the entry's temporary file, on the tree's own clock); newer
ones, and any whose identity differs, are hashed. The identities are taken
right after the render wrote the tree, so a hand edit made while the render
was still writing may go unreported until the next render that changes
something, as it could also be overwritten by that render's own writes.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import stat
import sys
from array import array
from pathlib import Path
from typing import Any

from . import layout
from .layout import MAX_INPUT_BYTES

CACHE_DIR = f"{layout.STATE_DIR}/cache"
MAX_TREE_FILE_BYTES = 64 * 1024 * 1024   # a rendered file is kilobytes; anything larger is not ours
_GITIGNORE = f"{layout.STATE_DIR}/.gitignore"
_INODE_BITS = (1 << 63) - 1   # inode numbers are unsigned 64-bit; the identities are stored as signed
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


def _read_regular(path: str | Path, limit: int) -> bytes | None:
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


def _file_hash(path: str | Path) -> str | None:
    try:
        content = _read_regular(path, MAX_TREE_FILE_BYTES)
    except OSError:
        return None
    return None if content is None else hashlib.sha256(content).hexdigest()


def is_unchanged(out: Path, stack: str, fingerprint: str | None,
                 verified: dict[str, str] | None = None) -> list[str] | None:
    """The stack's files when nothing changed since its last render, else None.

    ``verified``: path -> sha256 of the files an earlier stack's check of this
    command found on disk, skipped here and added to: stacks share their base files.
    """
    if fingerprint is None:
        return None
    state = out / layout.STATE_DIR
    if state.is_symlink() or any(state.glob(f"*{layout.JOURNAL_SUFFIX}")):
        return None   # a crashed write to finish, or a state directory the full render refuses
    try:
        entry = json.loads(_cache_file(out, stack).read_text(encoding="utf-8"))
        record_bytes = (out / layout.ownership_record(stack)).read_bytes()
        if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
            return None
        if entry.get("record") != hashlib.sha256(record_bytes).hexdigest():
            return None
        # The very bytes the render that made the entry read or wrote, every path checked then
        # (``gitops.record``), so they are not checked again.
        files = json.loads(record_bytes)["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None   # the full render reports what is wrong
    if not isinstance(files, dict):
        return None
    since = entry.get("since")
    identities = _identities(entry, len(files)) if isinstance(since, int) else None
    if identities is None or not isinstance(since, int):
        since, identities = 0, [(0, 0, 0, 0)] * len(files)   # none usable: every file is hashed
    seen: dict[str, str] = {} if verified is None else verified
    root = f"{out}/"
    lstat = os.lstat
    for (path, digest), known in zip(files.items(), identities, strict=True):   # a no-change render's hot loop
        if seen.get(path) == digest:
            continue
        target = root + path
        if known[3] < since:   # not racy: see the module docstring
            try:
                info = lstat(target)
            except OSError:
                return None   # gone: the full render writes it again
            if (info.st_ino & _INODE_BITS, info.st_size, info.st_mtime_ns, info.st_ctime_ns) != known \
                    and _file_hash(target) != digest:
                return None
        elif _file_hash(target) != digest:
            return None
        seen[path] = digest
    return sorted(files)


def remember(out: Path, stack: str, fingerprint: str | None) -> None:
    """Store the cache entry after a successful render (best effort: the cache is never required)."""
    remember_all(out, {stack: fingerprint})


def remember_all(out: Path, fingerprints: dict[str, str | None]) -> None:
    """``remember`` for several stacks of one render: the files they share (every service's base) are
    looked at once, all after the one moment the entries count from."""
    stacks = [stack for stack, fingerprint in fingerprints.items() if fingerprint is not None]
    if not stacks:
        return
    temporaries = [_cache_file(out, stack).with_suffix(".tmp") for stack in stacks]
    try:
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        ignore = out / _GITIGNORE
        if not ignore.is_file() or ignore.read_text(encoding="utf-8") != GITIGNORE_TEXT:
            ignore.write_text(GITIGNORE_TEXT, encoding="utf-8")   # the state directory is ours
        for tmp in temporaries:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        # A new file's change time is the tree's clock now: identities taken from here on are newer.
        fd = os.open(temporaries[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            since = os.fstat(fd).st_ctime_ns
        finally:
            os.close(fd)
        seen: dict[str, tuple[int, int, int, int]] = {}
        for stack, tmp in zip(stacks, temporaries, strict=True):
            record_bytes = _read_regular(out / layout.ownership_record(stack), MAX_TREE_FILE_BYTES)
            if record_bytes is None:
                raise OSError("the record is not a regular file")
            entry = {"fingerprint": fingerprints[stack], "record": hashlib.sha256(record_bytes).hexdigest(),
                     "since": since, "identities": _snapshot(str(out), json.loads(record_bytes)["files"], seen)}
            tmp.write_bytes(json.dumps(entry).encode())
            os.replace(tmp, _cache_file(out, stack))
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        for tmp in temporaries:
            with contextlib.suppress(OSError):
                tmp.unlink()


_NOT_REGULAR = (-1, -1, -1, -1)


def _snapshot(root: str, files: dict[str, Any], seen: dict[str, tuple[int, int, int, int]]) -> str:
    """(inode, size, mtime, ctime) of each file, in the record's order, packed; -1s for a file that is not regular.
    ``seen``: the identities taken for earlier stacks' entries, by path (added to)."""
    values = array("q")
    for path in files:
        identity = seen.get(path)
        if identity is None:
            try:
                info = os.lstat(os.path.join(root, path))
                identity = ((info.st_ino & _INODE_BITS, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
                            if stat.S_ISREG(info.st_mode) else _NOT_REGULAR)
            except OSError:
                identity = _NOT_REGULAR
            seen[path] = identity
        values.extend(identity)
    return f"{sys.byteorder}:" + base64.b64encode(values.tobytes()).decode()


def _identities(entry: dict[str, Any], count: int) -> list[tuple[int, ...]] | None:
    """The identities ``_snapshot`` packed, when they are this machine's and one per file; else None (hash all)."""
    packed = entry.get("identities")
    if not isinstance(packed, str) or not packed.startswith(f"{sys.byteorder}:"):
        return None
    values = array("q")
    try:
        values.frombytes(base64.b64decode(packed.split(":", 1)[1], validate=True))
    except ValueError:
        return None
    if len(values) != 4 * count:
        return None
    fields = iter(values)
    return list(zip(fields, fields, fields, fields, strict=True))
