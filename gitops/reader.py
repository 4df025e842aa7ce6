"""Typed, error-collecting access to parsed YAML.

A ``Node`` wraps one mapping of an input file together with its file name and
key path, so every value read from it knows where it came from. Reads never
raise: problems are collected in a shared ``Problems`` list and a fallback
value is returned, so one run reports *every* mistake of a file, each naming
the file and the key. ``done()`` turns unread keys into "unknown key" errors
with a did-you-mean hint, because a typo must never be silently ignored.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import Problem, shown

T = TypeVar("T")


@dataclass
class Problems:
    """Problems collected while reading; one per wrong value."""

    items: list[Problem] = field(default_factory=list)

    def add(self, file: str, key: str, message: str) -> None:
        self.items.append(Problem(file, key, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def did_you_mean(word: str, choices: list[str]) -> str:
    if len(word) > 100:   # no typo of a key or choice is that long; difflib would only spend time on it
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Node:
    """One mapping of an input file; see the module docstring."""

    def __init__(self, data: dict[str, Any], file: str, path: str, problems: Problems) -> None:
        self.data = data
        self.file = file
        self.path = path
        self.problems = problems
        self._known: set[str] = set()

    @classmethod
    def root(cls, value: Any, file: str, problems: Problems, what: str) -> Node | None:
        if not isinstance(value, dict):
            problems.add(file, "", f"expected a mapping of {what}, got {type_name(value)}")
            return None
        return cls(value, file, "", problems)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> None:
        self.problems.add(self.file, self.key(name), message)

    def has(self, name: str) -> bool:
        self._known.add(name)
        return name in self.data and self.data[name] is not None

    def raw(self, name: str) -> Any:
        self._known.add(name)
        return self.data.get(name)

    # --- scalars -------------------------------------------------------------------
    def as_str(
        self,
        name: str,
        default: str | None = None,
        *,
        required: bool = False,
        pattern: re.Pattern[str] | None = None,
        describe: str = "",
        max_len: int | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.error(name, f"is required{': ' + describe if describe else ''}")
            return default
        if not isinstance(value, str):
            self.error(name, f"expected a string{' (' + describe + ')' if describe else ''}, got {type_name(value)}")
            return default
        if choices is not None and value not in choices:
            self.error(name, f"{shown(value)} is not one of {', '.join(choices)}{did_you_mean(value, list(choices))}")
            return default
        if max_len is not None and len(value) > max_len:
            self.error(name, f"{shown(value)} is {len(value)} characters, at most {max_len} allowed")
            return default
        if pattern is not None and not pattern.fullmatch(value):
            self.error(name, f"{shown(value)} is not valid: {describe or 'must match ' + pattern.pattern}")
            return default
        return value

    def as_int(
        self,
        name: str,
        default: int | None = None,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.error(name, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, f"expected an integer, got {type_name(value)}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.error(name, f"{value} is out of range, expected {_range(minimum, maximum)}")
            return default
        return value

    def as_bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(name, f"expected true or false, got {type_name(value)}")
            return default
        return value

    # --- containers ------------------------------------------------------------------
    def node(self, name: str, *, required: bool = False) -> Node | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.error(name, "is required")
            return None
        if not isinstance(value, dict):
            self.error(name, f"expected a mapping, got {type_name(value)}")
            return None
        return Node(value, self.file, self.key(name), self.problems)

    def as_list(self, name: str) -> list[Any] | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            self.error(name, f"expected a list, got {type_name(value)}")
            return None
        return value

    def nodes(self, name: str) -> Iterator[Node]:
        """The mapping items of a list, each as a Node keyed ``name[i]``."""
        for i, item in enumerate(self.as_list(name) or []):
            key = f"{name}[{i}]"
            if not isinstance(item, dict):
                self.error(key, f"expected a mapping, got {type_name(item)}")
                continue
            yield Node(item, self.file, self.key(key), self.problems)

    def entries(self, name: str) -> Iterator[tuple[str, Any]]:
        """Key/value pairs of a free-form mapping (keys are checked by the caller)."""
        value = self.raw(name)
        if value is None:
            return
        if not isinstance(value, dict):
            self.error(name, f"expected a mapping, got {type_name(value)}")
            return
        for k, v in value.items():
            if not isinstance(k, str):
                self.error(name, f"key {shown(k)} must be a string")
                continue
            yield k, v

    def child_key(self, name: str, sub: str) -> str:
        return f"{self.key(name)}.{sub}"

    def done(self, valid: Iterable[str] = ()) -> None:
        """Report every key that no read asked for.

        ``valid``: the keys a declared schema allows (``gitops.configschema``),
        so the did-you-mean and the list of valid keys come from the
        declaration, not from whichever keys this read happened to ask for.
        """
        allowed = self._known.union(valid)
        known = sorted(allowed)
        for k in self.data:
            if k not in allowed:
                hint = did_you_mean(str(k), known)
                listed = f"; valid keys: {', '.join(known)}" if not hint else ""
                self.problems.add(self.file, self.key(str(k)), f"unknown key{hint}{listed}")


def checked(value: T | None, check: Callable[[T], str | None], node: Node, name: str) -> T | None:
    """Apply a value check that returns an error message or None."""
    if value is None:
        return None
    message = check(value)
    if message:
        node.error(name, message)
        return None
    return value


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{minimum}..{maximum}"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}"
