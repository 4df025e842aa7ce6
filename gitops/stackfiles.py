"""Which stacks a project has: the ``Pulumi.<stack>.yaml`` files next to ``Pulumi.yaml``.

Apart from the stack-config reader because the no-change fast path needs the
stack names and nothing else of it (see ``workflow``).
"""

from __future__ import annotations

from pathlib import Path

from . import layout


def stack_names(root: Path) -> list[str]:
    """The project's stacks, sorted: one per ``Pulumi.<stack>.yaml`` file in ``root``."""
    out = []
    for path in root.glob(f"{layout.STACK_FILE_PREFIX}*{layout.STACK_FILE_SUFFIX}"):
        name = path.name[len(layout.STACK_FILE_PREFIX):-len(layout.STACK_FILE_SUFFIX)]
        if name:
            out.append(name)
    return sorted(out)


def stack_file(stack: str) -> str:
    """The file that holds ``stack``'s config, relative to the project: named in errors about it."""
    return f"{layout.STACK_FILE_PREFIX}{stack}{layout.STACK_FILE_SUFFIX}"
