"""The one exception hierarchy of the core.

Every failure a user can cause is a ``GitOpsError``; the CLI turns it into one
``Error: ...`` line on stderr and the exit code carried by the class, so no
caller needs to know which module raised it. Anything else escaping is a bug
and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

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
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


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
