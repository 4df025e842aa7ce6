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

``write_slice`` applies the same rules to one slice of a stack (the files under
some path prefixes): the Pulumi program writes each service as its own
resource, so a change to one service touches only that service's files and
that slice of the stack's record.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from . import layout
from .errors import OutputError, Problem
from .render import RenderResult

RECORD_VERSION = 1
JOURNAL_SUFFIX = ".journal"
TEMP_MARK = ".gitops-platform-tmp-"


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


@dataclass(frozen=True)
class Plan:
    """What writing one stack's render would do; ``apply_plan`` does exactly that."""

    result: RenderResult
    report: Report
    writes: tuple[tuple[str, bytes], ...]
    deletes: tuple[str, ...]
    record: dict[str, str]      # the stack's record after the plan (path -> sha256)
    record_changed: bool


def write_render(out: Path, result: RenderResult, options: WriteOptions = WriteOptions()) -> Report:
    """Bring ``out`` to ``result`` for this stack; see the module docstring."""
    plans = plan_renders(out, [result], options)
    if not options.dry_run:
        apply_plans(out, plans)
    return plans[0].report


def plan_renders(out: Path, results: list[RenderResult], options: WriteOptions = WriteOptions()) -> list[Plan]:
    """Plan every stack against the tree as it is; raises before anything is written."""
    _check_root(out)
    records = read_records(out) if out.is_dir() else {}
    known = _known(out, records)
    problems: list[Problem] = []
    checked_dirs: set[str] = set()
    planned: dict[str, bytes] = {}
    plans = []
    for result in results:
        plan = _plan(out, result, records, known, options.force, problems, checked_dirs, planned)
        plans.append(plan)
        # Later stacks of this run see this stack's new record: the last one to drop a
        # shared base file is the one that deletes it.
        records = {**records, result.stack: plan.record}
    if problems:
        raise OutputError(_problems_message(problems))
    return plans


def apply_plans(out: Path, plans: list[Plan]) -> None:
    """Write the plans (locked); identical writes of shared files happen once."""
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        _apply(out, plans)


def write_slice(out: Path, result: RenderResult, prefixes: tuple[str, ...],
                options: WriteOptions = WriteOptions(), wait_seconds: float = 120.0) -> Report:
    """Bring the stack's files under ``prefixes`` to ``result.files``; leave the rest of its record alone.

    ``result.files`` must all lie under ``prefixes``; an empty ``result.files``
    deletes the slice (shared base files stay while another stack records them).
    Waits for the tree's lock instead of failing, since the slices of one
    ``pulumi up`` are written concurrently.
    """
    stray = [m.path for m in result.files if not m.path.startswith(prefixes)]
    if stray:
        raise ValueError(f"{stray[0]} lies outside the slice {', '.join(prefixes)}")
    _check_root(out)
    if not options.dry_run:
        out.mkdir(parents=True, exist_ok=True)
    with (_locked(out, wait_seconds) if not options.dry_run else contextlib.nullcontext()):
        records = read_records(out) if out.is_dir() else {}
        known = _known(out, records)
        problems: list[Problem] = []
        plan = _plan(out, result, records, known, options.force, problems, set(), {},
                     scope=lambda path: path.startswith(prefixes))
        if problems:
            raise OutputError(_problems_message(problems))
        if not options.dry_run:
            _apply(out, [plan])
    return plan.report


def _known(out: Path, records: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """Every hash the writer wrote or was about to write at each path (records plus interrupted journals)."""
    known: dict[str, set[str]] = {}
    for files in [*records.values(), *_journals(out)]:
        for path, digest in files.items():
            known.setdefault(path, set()).add(digest)
    return known


def _journals(out: Path) -> list[dict[str, str]]:
    """What interrupted writes were about to write: the next write recognises those files as its own."""
    journals = []
    for file in sorted((out / layout.STATE_DIR).glob(f"*{JOURNAL_SUFFIX}")) if out.is_dir() else []:
        try:
            files = json.loads(file.read_text(encoding="utf-8"))["files"]
            if isinstance(files, dict):
                journals.append({str(k): str(v) for k, v in files.items()})
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a journal cut short by the crash it records: its files were never written
    return journals


def _apply(out: Path, plans: list[Plan]) -> None:
    """Write the plans crash-safely.

    Each file is written to a temporary sibling and renamed, so no file is
    ever half-written. Before the first write, a journal records the hashes
    about to be written; the record is written last and the journal removed
    after it. A render killed in between leaves every file either as it was or
    as it was meant to be, and the next render recognises the new ones as its
    own (from the journal) instead of reporting them as hand edits.
    """
    _remove_stale_temporaries(out)
    journal = out / layout.STATE_DIR / f"{os.getpid()}{JOURNAL_SUFFIX}"
    pending = {path: sha256(content) for plan in plans for path, content in plan.writes}
    if pending:
        _atomic_write(journal, (json.dumps({"files": pending}) + "\n").encode())
    done: dict[str, bytes] = {}
    for plan in plans:
        for path, content in plan.writes:
            if done.get(path) != content:
                _atomic_write(os.path.join(out, path), content)
                done[path] = content
        for path in plan.deletes:
            target = os.path.join(out, path)
            if os.path.isfile(target):
                os.unlink(target)
                _prune_empty_dirs(out, Path(target).parent)
        if plan.record_changed:
            _write_record(out, plan.result, plan.record)
    for stale in (out / layout.STATE_DIR).glob(f"*{JOURNAL_SUFFIX}"):
        stale.unlink()   # this write completed, and so (under the lock) did every earlier one


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary files a killed write left behind (named by ``_atomic_write``; never a user's file)."""
    for dirpath, _dirs, files in os.walk(out):
        for name in files:
            if TEMP_MARK in name and name.startswith("."):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))


def _plan(out: Path, result: RenderResult, records: dict[str, dict[str, str]], known: dict[str, set[str]],
          force: bool, problems: list[Problem], checked_dirs: set[str], planned: dict[str, bytes],
          scope: "Callable[[str], bool] | None" = None) -> Plan:
    """Plan one stack; with ``scope``, only the recorded paths it accepts are this plan's to delete."""
    mine = records.get(result.stack, {})
    report = Report(result.stack)
    writes: list[tuple[str, bytes]] = []
    root = str(out)
    for manifest in result.files:
        if planned.get(manifest.path) == manifest.content:
            # A shared base file an earlier stack of this run writes (or found unchanged).
            report.unchanged.append(manifest.path)
            continue
        state = _classify(root, manifest.path, manifest.content, known, force, problems, checked_dirs)
        planned[manifest.path] = manifest.content
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
        if scope is not None and not scope(path):
            continue
        if _is_shared(path) and any(path in files for stack, files in records.items() if stack != result.stack):
            report.kept_shared.append(path)
            continue
        target = os.path.join(root, path)
        if not os.path.isfile(target):
            continue
        with open(target, "rb") as fh:
            digest = sha256(fh.read())
        if digest not in known.get(path, set()) and not force:
            problems.append(Problem(target, "", "was edited by hand and is no longer generated; "
                                    "delete it yourself or re-run with --force"))
            continue
        deletes.append(path)
        report.deleted.append(path)
    new_record = {m.path: sha256(m.content) for m in result.files}
    if scope is not None:
        new_record = {**{p: h for p, h in mine.items() if not scope(p)}, **new_record}
    new_record = dict(sorted(new_record.items()))
    record_changed = new_record != mine or not os.path.isfile(os.path.join(root, layout.ownership_record(result.stack)))
    return Plan(result, report, tuple(writes), tuple(deletes), new_record, record_changed)


def _classify(root: str, path: str, content: bytes, known: dict[str, set[str]], force: bool,
              problems: list[Problem], checked_dirs: set[str]) -> str:
    target = os.path.join(root, path)
    parent = os.path.dirname(path)
    while parent and parent not in checked_dirs:
        p = os.path.join(root, parent)
        if os.path.exists(p) and not os.path.isdir(p):
            problems.append(Problem(p, "", f"is a file, but {path} needs it to be a directory; move it away"))
            return "error"
        checked_dirs.add(parent)
        parent = os.path.dirname(parent)
    try:
        with open(target, "rb") as fh:
            if os.path.islink(target):
                raise IsADirectoryError
            current = fh.read()
    except FileNotFoundError:
        if os.path.islink(target):
            problems.append(Problem(target, "", "is a dangling symbolic link; move it away"))
            return "error"
        return "create"
    except (IsADirectoryError, PermissionError, OSError):
        problems.append(Problem(target, "", "exists and is not a regular file we can read; move it away"))
        return "error"
    if current == content:
        return "unchanged"
    if path not in known:
        problems.append(Problem(target, "", "exists but was not written by gitops-platform; "
                                "move it away (it is never overwritten)"))
        return "error"
    if sha256(current) not in known[path] and not force:
        problems.append(Problem(target, "", "was edited by hand since gitops-platform wrote it; "
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


def owned_file(out: Path, stack: str, path: str, record: "Mapping[str, str] | None" = None) -> "bytes | None":
    """A file the stack's record owns, when it still has the recorded content; else None.

    Some files (the sealing certificate) come from the Pulumi program; the CLI
    carries them forward from the tree instead of deleting what it cannot make.
    ``record``: the stack's record when the caller already read it (a render
    asks for many files; reading every record per file would repeat that I/O).
    """
    if record is None:
        try:
            record = read_records(out).get(stack, {}) if out.is_dir() else {}
        except OutputError:
            return None
    if path not in record:
        return None
    try:
        with open(os.path.join(out, path), "rb") as fh:
            content = fh.read()
    except OSError:
        return None
    return content if sha256(content) == record[path] else None


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
def _locked(out: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    state = out / layout.STATE_DIR
    state.mkdir(exist_ok=True)
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise OutputError(f"{out}: another render is writing this tree; wait for it to finish") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _atomic_write(target: "str | Path", content: bytes) -> None:
    target = str(target)
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}{TEMP_MARK}{os.getpid()}")
    try:
        try:
            fh = open(tmp, "wb")
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fh = open(tmp, "wb")
        with fh:
            fh.write(content)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{target}: cannot write ({exc.strerror})") from None


def _prune_empty_dirs(out: Path, directory: Path) -> None:
    """Remove directories our deletions emptied; stop at the first non-empty one."""
    while directory != out and out in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


__all__ = ["Plan", "Report", "WriteOptions", "apply_plans", "plan_renders", "owned_file", "read_records", "sha256", "write_render", "write_slice"]
