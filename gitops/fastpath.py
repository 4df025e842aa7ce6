"""Skip a render whose inputs and outputs are exactly as the last render left them.

A no-change render is what pre-commit hooks and CI run most. The last
successful render of a stack leaves a local cache entry (not part of the
GitOps tree's content, ignored by Git) with the fingerprint of every input it
read and the (size, mtime) of every file it owns. When both still match, the
render would write nothing, so nothing is loaded or rendered. Any difference
(an edited input, an upgraded tool, a touched or deleted output, a changed
ownership record) falls back to the full render, which does all the checks.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from . import layout

CACHE_DIR = f"{layout.STATE_DIR}/cache"
_GITIGNORE = f"{layout.STATE_DIR}/.gitignore"


def tool_fingerprint() -> str:
    """Changes whenever the code that renders changes."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def input_fingerprint(project: Path, stack: str) -> str | None:
    """Everything ``load_project`` reads, or None when it cannot be read (the full path reports why)."""
    digest = hashlib.sha256(tool_fingerprint().encode())
    digest.update(stack.encode())
    try:
        files = [project / layout.PROJECT_FILE]
        files += sorted(project.glob(f"{layout.STACK_FILE_PREFIX}*{layout.STACK_FILE_SUFFIX}"))
        catalog = project / layout.CATALOG_DIR
        files += sorted(p for p in catalog.iterdir() if p.suffix in (".yaml", ".yml"))
        for file in files:
            digest.update(file.name.encode() + b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _cache_file(out: Path, stack: str) -> Path:
    return out / CACHE_DIR / f"{stack}.json"


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def is_unchanged(out: Path, stack: str, fingerprint: str | None) -> list[str] | None:
    """The stack's files when nothing changed since its last render, else None."""
    if fingerprint is None:
        return None
    try:
        entry = json.loads(_cache_file(out, stack).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        return None
    files = entry.get("files")
    if not isinstance(files, dict):
        return None
    record = str(out / layout.ownership_record(stack))
    if _stat(record) != entry.get("record"):
        return None
    root = str(out)
    for path, signature in files.items():
        if _stat(os.path.join(root, path)) != signature:
            return None
    return sorted(files)


def remember(out: Path, stack: str, fingerprint: str | None, paths: list[str]) -> None:
    """Store the cache entry after a successful render (best effort: a cache is never required)."""
    if fingerprint is None:
        return
    root = str(out)
    entry = {
        "fingerprint": fingerprint,
        "record": _stat(str(out / layout.ownership_record(stack))),
        "files": {p: _stat(os.path.join(root, p)) for p in paths},
    }
    try:
        (out / CACHE_DIR).mkdir(parents=True, exist_ok=True)
        ignore = out / _GITIGNORE
        if not ignore.exists():
            ignore.write_text("# Local to this checkout: render cache and lock.\ncache/\nlock\n", encoding="utf-8")
        tmp = _cache_file(out, stack).with_suffix(".tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(tmp, _cache_file(out, stack))
    except OSError:
        pass


def forget(out: Path, stack: str) -> None:
    try:
        _cache_file(out, stack).unlink()
    except OSError:
        pass
