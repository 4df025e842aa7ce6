"""One piece of work in a forked child process while the caller does another.

``diff`` renders two revisions and ``render --all`` several stacks: pure
computations of seconds each at 1000 services, independent of each other, on
a machine with two cores. Threads would not run them at once (the GIL), and
a process pool would import and load everything again; a child forked after
loading shares all of it and sends back only its result, pickled over a
pipe. The result is the same as computing it in place (the work must be a
pure function of what the caller already has), so which process computed it
never shows.

Anything unusual falls back to computing in place: no ``os.fork`` (not
POSIX), a child that failed or died, a result that cannot be pickled. A
failure is then raised by the caller's own run of the work, with its own
traceback and exit code, so errors look exactly as without a child.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """``work()`` started in a child now; ``result()`` waits for it (or computes ``again()`` in place)."""

    def __init__(self, work: Callable[[], T], again: Callable[[], T] | None = None) -> None:
        self._again = again or work
        self._pid = 0
        self._read = -1
        if not hasattr(os, "fork"):
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:   # the child: compute, send, and leave without running the parent's cleanup
            status = 1
            try:
                os.close(read)
                try:
                    payload = pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
                    status = 0
                except BaseException:   # the caller recomputes and raises it properly
                    payload = pickle.dumps((False, None))
                view = memoryview(payload)
                while view:
                    view = view[os.write(write, view):]
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    def cancel(self) -> None:
        """Stop the child (the caller failed and will not want its result)."""
        if self._pid:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            os.close(self._read)
            os.waitpid(self._pid, 0)
            self._pid = 0

    def result(self) -> T:
        if not self._pid:
            return self._again()
        chunks = []
        try:
            while chunk := os.read(self._read, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._read)
            _, status = os.waitpid(self._pid, 0)
            self._pid = 0
        collecting = gc.isenabled()
        gc.disable()   # the result may be hundreds of thousands of new containers: collect after, not during
        try:
            ok, value = pickle.loads(b"".join(chunks))
        except Exception:   # a child killed mid-write: compute in place
            ok, value = False, None
        finally:
            if collecting:
                gc.enable()
        if not ok or os.waitstatus_to_exitcode(status) != 0:
            return self._again()
        result: T = value
        return result


class Mailbox:
    """Messages between a parent and the child it forks while both work: what one has computed that
    spares the other the same work (``diff``: the head revision's expansion, when the base's would be
    equal).

    Create it before the fork and ``open`` it in each process after. A message is a pickled payload in
    a file of ``directory`` (which both see), announced by one byte through a pipe, so a sender never
    blocks on a reader still busy. A peer that failed, exited or closed its side reads as no message
    (None): nobody waits for work that will not come, and the caller computes it itself. Payloads
    must not be None.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._to_child = os.pipe()
        self._to_parent = os.pipe()
        self._role = ""
        self._read = self._write = -1
        self._sent = self._received = 0

    def open(self, child: bool) -> None:
        """Keep this process's ends of the pipes: a peer's exit then closes the only other end."""
        keep = (self._to_child[0], self._to_parent[1]) if child else (self._to_parent[0], self._to_child[1])
        for fd in (*self._to_child, *self._to_parent):
            if fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._read, self._write = keep
        self._role = "child" if child else "parent"

    def send(self, payload: Any) -> None:
        if self._write < 0:
            return
        path = self._directory / f"{self._role}-{self._sent}"
        temporary = path.with_suffix(".partial")
        temporary.write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)
        self._sent += 1
        try:
            os.write(self._write, b".")
        except BrokenPipeError:   # the peer is gone: nobody will read it
            self._close_write()

    def receive(self) -> Any:
        """The peer's next message, waiting for it; None once the peer can send no more."""
        if self._read < 0:
            return None
        try:
            signalled = os.read(self._read, 1)
        except OSError:
            signalled = b""
        if not signalled:
            return None
        path = self._directory / f"{'parent' if self._role == 'child' else 'child'}-{self._received}"
        self._received += 1
        try:
            return pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError):
            return None

    def close(self) -> None:
        """Send nothing more (the peer's ``receive`` returns None) and read nothing more."""
        self._close_write()
        if self._read >= 0:
            os.close(self._read)
            self._read = -1

    def _close_write(self) -> None:
        if self._write >= 0:
            os.close(self._write)
            self._write = -1


__all__ = ["Forked", "Mailbox"]
