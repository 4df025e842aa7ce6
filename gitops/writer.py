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
import hmac
import json
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import layout
from .errors import OutputError, Problem
from .record import Record, checked_files, load_records

if TYPE_CHECKING:   # the no-change fast path imports the writer's Report, not the renderer
    from .render import RenderResult

TEMP_MARK = ".gitops-platform-tmp-"
# Where this user's local writer state lives (the key that signs write journals); never in a tree.
STATE_ENV = "GITOPS_PLATFORM_STATE_DIR"
JOURNAL_KEY = "journal.key"


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
    with tree_lock(out, enabled=not options.dry_run):
        plans = plan_renders(out, [result], options)
        if not options.dry_run:
            apply_plans(out, plans)
    return plans[0].report


def plan_renders(out: Path, results: list[RenderResult], options: WriteOptions = WriteOptions()) -> list[Plan]:
    """Plan every stack against the tree as it is; raises before anything is written.

    Call it under ``tree_lock`` when the plans will be applied: a plan made
    from records another writer is about to change would drop its entries.
    """
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
    """Write the plans; identical writes of shared files happen once. Call under ``tree_lock``."""
    _apply(out, plans)


def scratch_files(results: list[RenderResult]) -> dict[str, bytes]:
    """Every file ``write_render`` of each result in turn leaves in a new tree, records included
    (a later stack's file winning where two differ)."""
    files: dict[str, bytes] = {}
    for result in results:
        files.update((m.path, m.content) for m in result.files)
        record = Record(result.stack, result.environment, result.repo_url, result.repo_path,
                        {m.path: sha256(m.content) for m in result.files})
        files[layout.ownership_record(result.stack)] = record.dump()
    return files


def write_scratch(out: Path, files: Mapping[str, bytes], paths: Iterable[str] | None = None) -> None:
    """Write ``files`` (those of ``paths`` only, if given) into ``out``, a directory only this process uses.

    Without what protects a shared tree: no plan, lock, journal or
    temporaries (a failure discards the whole tree). ``diff`` renders two
    revisions of a project into such trees; planning them cost as much as
    rendering, and it writes only the parts it reads (``diff._side``).
    """
    root = str(out)
    present: set[str] = set()
    try:
        os.makedirs(root, exist_ok=True)
        for path in files if paths is None else paths:
            directory = os.path.join(root, path.rpartition("/")[0])
            if directory not in present:
                os.makedirs(directory, exist_ok=True)
                present.add(directory)
            fd = os.open(os.path.join(root, path), _NEW_FILE, 0o666)
            try:
                _write_all(fd, files[path])
            finally:
                os.close(fd)
    except OSError as exc:
        raise OutputError(f"{exc.filename or out}: cannot write ({exc.strerror})") from None


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
    with tree_lock(out, wait_seconds, enabled=not options.dry_run):
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
    """What interrupted writes were about to write: the next write recognises those files as its own.

    A journal counts only when it carries this user's signature (a key kept
    outside every tree, see ``journal_key``): a journal that arrived any other
    way, e.g. committed in a pull request, could otherwise declare a hand edit
    to be the writer's own and have it overwritten. Unsigned or foreign
    journals are ignored; their paths are checked like a record's all the same.
    """
    journals = []
    key = journal_key(create=False)
    for file in sorted((out / layout.STATE_DIR).glob(f"*{layout.JOURNAL_SUFFIX}")) if out.is_dir() else []:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
            files, signature = doc["files"], doc["signature"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a journal cut short by the crash it records: its files were never written
        files = checked_files(files, str(file))
        if key is not None and isinstance(signature, str) and hmac.compare_digest(signature, _sign(key, files)):
            journals.append(files)
    return journals


def journal_key(create: bool = True) -> bytes | None:
    """This user's key for signing write journals, made on first use (0600); None when there is none.

    Kept in ``$GITOPS_PLATFORM_STATE_DIR`` or the XDG state directory
    (``~/.local/state/gitops-platform``): crash recovery happens where the
    crash did, so the key never needs to leave the machine.
    """
    base = os.environ.get(STATE_ENV) or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state"), "gitops-platform")
    path = os.path.join(base, JOURNAL_KEY)
    try:
        with open(path, "rb") as fh:
            key = fh.read()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    if not create:
        return None
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        fd = os.open(path + f".{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        os.replace(path + f".{os.getpid()}", path)
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None   # no journal then: a crash leaves files the next render reports instead of trusting


def _sign(key: bytes, files: dict[str, str]) -> str:
    return hmac.new(key, json.dumps(files, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def _apply(out: Path, plans: list[Plan]) -> None:
    """Write the plans crash-safely, staging everything before the first visible change.

    1. Stage: every new file (records included) is written to a temporary
       sibling, and every directory a delete touches must be writable. A
       failure here (a full disk, an unwritable directory) removes what was
       staged and says that nothing was written.
    2. A journal, signed with this user's key, records the hashes about to
       appear.
    3. Commit: renames and deletes, the records last, then the journal goes.
       A render killed in between leaves every file either as it was or as it
       was meant to be, and the next render recognises the new ones as its own
       (from the journal) instead of reporting them as hand edits. Should a
       rename or delete still fail, the message lists what was and was not
       written.
    """
    _remove_stale_temporaries(out)
    targets: dict[str, bytes] = {}
    pending: dict[str, str] = {}   # the journal: what each tree file about to be written hashes to
    for plan in plans:
        for path, content in plan.writes:
            if path not in targets:
                targets[path] = content
                pending[path] = plan.record[path]   # the plan hashed it already
        if plan.record_changed:
            record = Record(plan.result.stack, plan.result.environment, plan.result.repo_url,
                            plan.result.repo_path, plan.record)
            targets[layout.ownership_record(plan.result.stack)] = record.dump()
    deletes = [path for plan in plans for path in plan.deletes]
    staged = _stage(out, targets, deletes)
    journal = out / layout.STATE_DIR / f"{os.getpid()}{layout.JOURNAL_SUFFIX}"
    key = journal_key() if pending else None
    if key is not None:
        try:
            _atomic_write(journal, (json.dumps({"files": pending, "signature": _sign(key, pending)}) + "\n").encode())
        except OutputError:
            _unstage(staged)
            raise
    done: list[str] = []
    try:
        # Tree files first, records last: a record never names a file that is not there yet.
        for path in sorted(staged, key=lambda p: p.startswith(layout.STATE_DIR + "/")):
            os.replace(staged[path], os.path.join(out, path))
            done.append(path)
        for path in deletes:
            target = os.path.join(out, path)
            if os.path.isfile(target):
                os.unlink(target)
                _prune_empty_dirs(out, Path(target).parent)
            done.append(path)
    except OSError as exc:
        _unstage({p: t for p, t in staged.items() if p not in done})
        left = [p for p in [*staged, *deletes] if p not in done]
        raise OutputError(
            f"{out}: writing stopped ({exc.strerror}: {exc.filename}); written: {len(done)} "
            f"({', '.join(done[:10])}{' ...' if len(done) > 10 else ''}); not written: {len(left)} "
            f"({', '.join(left[:10])}{' ...' if len(left) > 10 else ''}). Fix the cause and render again: "
            "the files written are recognised as the render's own") from None
    for stale in (out / layout.STATE_DIR).glob(f"*{layout.JOURNAL_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()   # this write completed, and so (under the lock) did every earlier one


def _stage(out: Path, targets: dict[str, bytes], deletes: list[str]) -> dict[str, str]:
    """Every target written to a temporary sibling ({path: temporary}); OutputError with nothing left behind.

    Tens of thousands of files at 1000 services: each directory is checked
    (or made) once, and each file is written with one open, write and close.
    """
    staged: dict[str, str] = {}
    made_dirs: list[str] = []
    present: set[str] = set()   # directories known to exist
    suffix = f"{TEMP_MARK}{os.getpid()}"
    root = str(out)
    try:
        for path, content in targets.items():
            directory, _, name = path.rpartition("/")
            directory = os.path.join(root, directory) if directory else root
            if directory not in present:
                if not os.path.isdir(directory):
                    made_dirs.extend(_makedirs(directory))
                present.add(directory)
            tmp = f"{directory}/.{name}{suffix}"
            fd = os.open(tmp, _NEW_FILE, 0o666)
            staged[path] = tmp
            try:
                _write_all(fd, content)
            finally:
                os.close(fd)
        for path in deletes:
            directory = os.path.dirname(os.path.join(out, path))
            if not os.access(directory, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "Permission denied", directory)
    except OSError as exc:
        _unstage(staged)
        for directory in reversed(made_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise OutputError(f"{exc.filename or out}: cannot write ({exc.strerror}); nothing was written") from None
    return staged


# A new file (or a stale temporary of ours, truncated); never through a symbolic link.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view):]


def _makedirs(directory: str) -> list[str]:
    """``os.makedirs``, returning the directories it created (outermost first) so a failed stage can remove them."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for d in reversed(missing):
        os.mkdir(d)
    return list(reversed(missing))


def _unstage(staged: dict[str, str]) -> None:
    for tmp in staged.values():
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary files a killed write left behind (named by ``_atomic_write``; never a user's file)."""
    for dirpath, _dirs, files in os.walk(out):
        for name in files:
            if TEMP_MARK in name and name.startswith("."):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))


def _plan(out: Path, result: RenderResult, records: dict[str, dict[str, str]], known: dict[str, set[str]],
          force: bool, problems: list[Problem], checked_dirs: set[str], planned: dict[str, bytes],
          scope: Callable[[str], bool] | None = None) -> Plan:
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
        blocked = _blocked_parent(root, path, checked_dirs)
        if blocked is not None:
            problems.append(blocked)
            continue
        if os.path.islink(target):
            problems.append(Problem(target, "", "is a symbolic link where the render wrote a file; "
                                    "the writer never deletes through a link: remove it yourself"))
            continue
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
    blocked = _blocked_parent(root, path, checked_dirs)
    if blocked is not None:
        problems.append(blocked)
        return "error"
    try:
        current = _read_existing(target)
    except FileNotFoundError:
        return "create"
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(target) and not os.path.exists(target):
            problems.append(Problem(target, "", "is a dangling symbolic link; move it away"))
        else:
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


# An existing file as it is: never through a symbolic link (ELOOP), never blocking on a FIFO.
_EXISTING_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _read_existing(target: str) -> bytes:
    """The content of the regular file ``target``; FileNotFoundError when there is none, another OSError
    for a symbolic link (ELOOP), a directory, a FIFO or anything else that is not a regular file.

    One open, fstat, read and close: the plan reads every file a render
    would write, tens of thousands at 1000 services.
    """
    fd = os.open(target, _EXISTING_FILE)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", target)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _blocked_parent(root: str, path: str, checked_dirs: set[str]) -> Problem | None:
    """A directory on the way to ``path`` that the writer must not go through: a symbolic link or a file.

    A symbolic link (Git carries them, so a pull request can add one) could
    lead a write, rename or delete out of the tree; none is ever followed.
    """
    parent = os.path.dirname(path)
    while parent and parent not in checked_dirs:
        p = os.path.join(root, parent)
        try:
            mode = os.lstat(p).st_mode
        except OSError:
            mode = stat.S_IFDIR   # not there (yet): nothing blocks it
        if stat.S_ISLNK(mode):
            return Problem(p, "", f"is a symbolic link, and {path} lies behind it; the writer never writes "
                           "through a link (it could lead outside the tree): replace it with a directory")
        if not stat.S_ISDIR(mode):
            return Problem(p, "", f"is a file, but {path} needs it to be a directory; move it away")
        checked_dirs.add(parent)
        parent = os.path.dirname(parent)
    return None


def _problems_message(problems: list[Problem]) -> str:
    if len(problems) == 1:
        return str(problems[0])
    head = f"{len(problems)} files block the render (nothing was written):"
    return "\n".join([head] + [f"  - {p}" for p in problems[:50]]
                     + ([f"  ... and {len(problems) - 50} more"] if len(problems) > 50 else []))


def read_records(out: Path) -> dict[str, dict[str, str]]:
    """Every stack's ownership record in ``out`` (stack -> path -> sha256), each path checked (``gitops.record``)."""
    return {stack: dict(record.files) for stack, record in load_records(out).items()}


def owned_file(out: Path, stack: str, path: str, record: Mapping[str, str] | None = None) -> bytes | None:
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
    target = os.path.join(out, path)
    if os.path.islink(target) or _blocked_parent(str(out), path, set()) is not None:
        return None
    try:
        with open(target, "rb") as fh:
            content = fh.read()
    except OSError:
        return None
    return content if sha256(content) == record[path] else None


def _check_root(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: the output path is a file; give a directory with --out")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{parent}: is a file, so {out} cannot be created; give another --out")


@contextlib.contextmanager
def tree_lock(out: Path, wait_seconds: float = 0.0, enabled: bool = True) -> Iterator[None]:
    """One writer at a time per tree: hold it from reading the records to writing the last file.

    The lock is taken on the tree's directory itself, so a render that ends
    up writing nothing leaves nothing behind (not even a lock file); a tree
    directory the command had to create is removed again if it stays empty.
    ``enabled=False`` (a dry run) takes no lock: it writes nothing.
    """
    if not enabled:
        yield
        return
    _check_root(out)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OutputError(f"{exc.filename or out}: cannot open the tree to lock it ({exc.strerror})") from None
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
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()   # only succeeds while empty


def _atomic_write(target: str | Path, content: bytes) -> None:
    target = str(target)
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}{TEMP_MARK}{os.getpid()}")
    try:
        try:
            fh = open(tmp, "wb")  # noqa: SIM115  (closed by the `with` below)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fh = open(tmp, "wb")  # noqa: SIM115
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


__all__ = [
    "Plan",
    "Report",
    "WriteOptions",
    "apply_plans",
    "owned_file",
    "plan_renders",
    "read_records",
    "scratch_files",
    "sha256",
    "tree_lock",
    "write_render",
    "write_scratch",
    "write_slice",
]
