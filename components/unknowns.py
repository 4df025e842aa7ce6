"""Values the engine does not know yet, as dynamic providers see them.

During ``pulumi preview`` (and an update whose inputs depend on resources
still to be created) the engine hands a dynamic provider's ``check`` and
``diff`` the inputs it cannot know as ``pulumi.output.Unknown`` (the provider
host deserialises with ``keep_unknowns``), whole or nested inside a mapping.
A ``check`` must accept them: they are checked again, known, at ``pulumi up``.
"""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)
