"""The one exception hierarchy of the core.

Every failure a user can cause is a ``GitOpsError``; the CLI turns it into one
``Error: ...`` line on stderr and the exit code carried by the class, so no
caller needs to know which module raised it. Anything else escaping is a bug
and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located precisely enough to fix it.

    ``file`` is the path as the user would type it, ``key`` a dotted key path
    inside that file (empty for the file as a whole).
    """

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        key = printable(self.key, MAX_KEY_CHARS)
        where = f"{self.file}: {key}" if key else self.file
        message = "\n".join(line if len(line) <= MAX_LINE_CHARS else f"{line[:MAX_LINE_CHARS]}... (shortened)"
                            for line in self.message.split("\n"))
        return f"{where}: {message}"


# Key paths and values come from the input: a key may hold a newline (which would split the one
# ``Error:`` line), a value may be a megabyte. Messages show at most this much of either; a message
# line that quotes a value without ``shown`` is still cut at MAX_LINE_CHARS.
MAX_KEY_CHARS = 200
MAX_VALUE_CHARS = 80
MAX_LINE_CHARS = 2000


def printable(text: str, limit: int = MAX_KEY_CHARS) -> str:
    """``text`` with control characters escaped and at most ``limit`` characters, for a message.

    Why: a key path is printed as written, and a key with a newline or an
    escape sequence would otherwise break the one-line error or the terminal.
    """
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters.

    Why: an input value can be up to the input size limit (or, built from
    YAML aliases, far larger); quoting it whole would bury the message or
    exhaust memory. Containers are not formatted at all, only described.
    """
    if isinstance(value, (dict, list, tuple, set)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}..."
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class GitOpsError(Exception):
    """Base of every error the user can act on."""

    exit_code: ClassVar[int] = EXIT_USAGE


class InputError(GitOpsError):
    """Bad input (catalog, stack config, flags, files): exit 2, nothing written."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", "", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return _plain(self.problems[0])
        lines = [f"{len(self.problems)} problems in the input:"]
        lines += [f"  - {_plain(p)}" for p in self.problems]
        return "\n".join(lines)


class UnsupportedError(InputError):
    """Input that is valid for Argo CD but that this tool will not guess at."""


class OutputError(GitOpsError):
    """The output location cannot be written safely (exit 2, nothing written)."""


def _plain(problem: Problem) -> str:
    return str(problem) if problem.file else problem.message
