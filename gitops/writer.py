"""The only code that writes the GitOps tree.

Rules it enforces, because the tree is a repository people also edit:

* It writes and deletes only paths it recorded as written (per stack, with the
  hash of what it wrote, in ``.gitops-platform/<stack>.json``). A file at a
  path it wants that it did not write is an error, never overwritten.
* A file it owns whose content matches none of the recorded hashes was edited
  by hand: reported, not overwritten, unless ``force``.
* Shared ``apps/<svc>/base`` files are deleted only by the last stack that
  still records them.
* Everything is checked before the first byte is written; each file is written
  to a temporary sibling and renamed, the record last. Unchanged files are not
  touched, so a no-change render writes nothing.
* One render at a time per tree (an exclusive lock on the state directory).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import layout
from .errors import OutputError, Problem
from .render import RenderResult

RECORD_VERSION = 1


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False   # plan and report, write nothing
    force: bool = False     # overwrite or delete owned files that were edited by hand


@dataclass
class Report:
    stack: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept_shared: list[str] = field(default_factory=list)   # stale base files another stack still records

    @property
    def written(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    def as_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "created": self.created,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
            "deleted": self.deleted,
        }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_shared(path: str) -> bool:
    parts = path.split("/")
    return len(parts) > 2 and parts[0] == layout.APPS_DIR and parts[2] == layout.BASE_DIR


def write_render(out: Path, result: RenderResult, options: WriteOptions = WriteOptions()) -> Report:
    """Bring ``out`` to ``result`` for this stack; see the module docstring."""
    _check_root(out)
    if options.dry_run and not out.exists():
        return Report(result.stack, created=[m.path for m in result.files])
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        records = read_records(out)
        mine = records.get(result.stack, {})
        known: dict[str, set[str]] = {}
        for files in records.values():
            for path, digest in files.items():
                known.setdefault(path, set()).add(digest)
        report = Report(result.stack)
        problems: list[Problem] = []
        writes: list[tuple[str, bytes]] = []
        for manifest in result.files:
            state = _classify(out, manifest.path, manifest.content, known, options.force, problems)
            if state == "create":
                report.created.append(manifest.path)
                writes.append((manifest.path, manifest.content))
            elif state == "update":
                report.updated.append(manifest.path)
                writes.append((manifest.path, manifest.content))
            elif state == "unchanged":
                report.unchanged.append(manifest.path)
        rendered = {m.path for m in result.files}
        deletes: list[str] = []
        for path in sorted(set(mine) - rendered):
            others = any(path in files for stack, files in records.items() if stack != result.stack)
            if _is_shared(path) and others:
                report.kept_shared.append(path)
                continue
            target = out / path
            if not target.is_file():
                continue
            if sha256(target.read_bytes()) not in known.get(path, set()) and not options.force:
                problems.append(Problem(str(target), "", "was edited by hand and is no longer generated; "
                                        "delete it yourself or re-run with --force"))
                continue
            deletes.append(path)
            report.deleted.append(path)
        if problems:
            raise OutputError(_problems_message(problems))
        if options.dry_run:
            return report
        for path, content in writes:
            _atomic_write(out / path, content)
        for path in deletes:
            (out / path).unlink()
            _prune_empty_dirs(out, (out / path).parent)
        new_record = {m.path: sha256(m.content) for m in result.files}
        if new_record != mine or not (out / layout.ownership_record(result.stack)).is_file():
            _write_record(out, result, new_record)
        return report


def _classify(out: Path, path: str, content: bytes, known: dict[str, set[str]], force: bool,
              problems: list[Problem]) -> str:
    target = out / path
    for parent in target.relative_to(out).parents:
        p = out / parent
        if parent != Path(".") and p.exists() and not p.is_dir():
            problems.append(Problem(str(p), "", f"is a file, but {path} needs it to be a directory; move it away"))
            return "error"
    if target.is_symlink() or (target.exists() and not target.is_file()):
        problems.append(Problem(str(target), "", "exists and is not a regular file; move it away"))
        return "error"
    if not target.exists():
        return "create"
    current = target.read_bytes()
    if current == content:
        return "unchanged"
    if path not in known:
        problems.append(Problem(str(target), "", "exists but was not written by gitops-platform; "
                                "move it away (it is never overwritten)"))
        return "error"
    if sha256(current) not in known[path] and not force:
        problems.append(Problem(str(target), "", "was edited by hand since gitops-platform wrote it; "
                                "move the change into services/ or the stack file, or re-run with --force"))
        return "error"
    return "update"


def _problems_message(problems: list[Problem]) -> str:
    if len(problems) == 1:
        return str(problems[0])
    head = f"{len(problems)} files block the render (nothing was written):"
    return "\n".join([head] + [f"  - {p}" for p in problems[:50]]
                     + ([f"  ... and {len(problems) - 50} more"] if len(problems) > 50 else []))


def read_records(out: Path) -> dict[str, dict[str, str]]:
    """Every stack's ownership record in ``out`` (stack -> path -> sha256)."""
    state = out / layout.STATE_DIR
    records: dict[str, dict[str, str]] = {}
    if not state.is_dir():
        return records
    for file in sorted(state.glob("*.json")):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            files = data["files"]
            if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
                raise ValueError("files must map paths to hashes")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputError(f"{file}: unreadable ownership record ({exc}); restore it from Git") from None
        records[file.stem] = files
    return records


def _write_record(out: Path, result: RenderResult, files: dict[str, str]) -> None:
    doc = {"version": RECORD_VERSION, "stack": result.stack, "environment": result.environment,
           "gitops": {"repoURL": result.repo_url, "path": result.repo_path},
           "files": dict(sorted(files.items()))}
    _atomic_write(out / layout.ownership_record(result.stack), (json.dumps(doc, indent=1) + "\n").encode())


def _check_root(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: the output path is a file; give a directory with --out")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{parent}: is a file, so {out} cannot be created; give another --out")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    state = out / layout.STATE_DIR
    state.mkdir(exist_ok=True)
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise OutputError(f"{out}: another render is writing this tree; wait for it to finish") from None
            raise
        yield
    finally:
        os.close(fd)


def _atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(content)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"{target}: cannot write ({exc.strerror})") from None


def _prune_empty_dirs(out: Path, directory: Path) -> None:
    """Remove directories our deletions emptied; stop at the first non-empty one."""
    while directory != out and out in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


__all__ = ["Report", "WriteOptions", "read_records", "sha256", "write_render"]
