"""Label selectors and the DotStyle flattening they are matched against.

Two selectors exist in an ApplicationSet and they validate differently: the
cluster generator's ``selector`` is a real Kubernetes selector over Secret
labels (values must be valid label values), while a generator's post-filter
``selector`` is Argo's copy that accepts any value (so server URLs can be
matched) but still insists on valid label *keys* - ``path[0]`` is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .govalues import StringList, go_sprint

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


class SelectorError(ValueError):
    """The selector is invalid for Kubernetes (and therefore for Argo CD)."""


def qualified_name_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name, or None if it is one."""
    parts = key.split("/")
    if len(parts) > 2:
        return "a qualified name must consist of a name with an optional DNS subdomain prefix and '/'"
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix):
            return "prefix part must be a lowercase DNS-1123 subdomain"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME.fullmatch(name):
        return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    return None


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _NAME.fullmatch(value):
        return "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    return None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        if self.operator == "notin":
            return not present or labels[self.key] not in self.values
        if self.operator == "exists":
            return present
        return not present


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(raw: Any, validate_values: bool) -> Selector:
    """A metav1.LabelSelector dict as a matcher; raises SelectorError as
    LabelSelectorAsSelector would."""
    if raw is None:
        return Selector(())
    if not isinstance(raw, Mapping):
        raise SelectorError("a selector must be an object with matchLabels and/or matchExpressions")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"unknown selector field(s) {sorted(unknown)}; valid: matchLabels, matchExpressions")
    requirements: list[Requirement] = []
    match_labels = raw.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be a map of strings")
    for key, value in match_labels.items():
        if not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key!r}] must be a string")
        requirements.append(_requirement(str(key), "=", [value], validate_values))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    for i, expr in enumerate(expressions):
        if not isinstance(expr, Mapping):
            raise SelectorError(f"matchExpressions[{i}] must be an object with key, operator, values")
        key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if not isinstance(key, str):
            raise SelectorError(f"matchExpressions[{i}].key must be a string")
        if operator not in _OPERATORS:
            raise SelectorError(f"matchExpressions[{i}]: {operator!r} is not a valid label selector operator; valid: {', '.join(_OPERATORS)}")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SelectorError(f"matchExpressions[{i}].values must be a list of strings")
        requirements.append(_requirement(key, _OPERATORS[operator], values, validate_values))
    return Selector(tuple(requirements))


def _requirement(key: str, operator: str, values: list[str], validate_values: bool) -> Requirement:
    problem = qualified_name_problem(key)
    if problem:
        raise SelectorError(f"invalid label key {key!r}: {problem}")
    if operator in ("in", "notin") and not values:
        raise SelectorError(f"for 'in', 'notin' operators, values set can't be empty (key {key!r})")
    if operator in ("exists", "!") and values:
        raise SelectorError(f"values set must be empty for exists and does not exist (key {key!r})")
    if validate_values:
        for value in values:
            problem = label_value_problem(value)
            if problem:
                raise SelectorError(f"invalid label value {value!r} for key {key!r}: {problem}")
    return Requirement(key, operator, frozenset(values))


def flatten(params: Mapping[str, Any]) -> dict[str, str]:
    """jeremywohl/flatten DotStyle + fmt %v, as the post-selector sees params.

    Nested maps give ``a.b``, lists ``a.0``; empty maps/lists vanish; a Go
    ``[]string`` (path.segments) is a leaf and prints as ``[a b]``."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                key = f"{prefix}.{k}" if prefix else str(k)
                walk(key, v)
        elif isinstance(value, list) and not isinstance(value, StringList):
            for i, v in enumerate(value):
                walk(f"{prefix}.{i}" if prefix else str(i), v)
        else:
            out[prefix] = go_sprint(value)

    for k, v in params.items():
        walk(str(k), v)
    return out
