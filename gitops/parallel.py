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
from typing import Generic, TypeVar

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


__all__ = ["Forked"]
