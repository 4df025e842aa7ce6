"""The two dario.cat/mergo merges the controller relies on, over plain dicts.

``fill_empty`` is ``mergo.Merge(dst, src)`` as used for generator-level
templates: the generator template wins and only zero values (``""``, ``0``,
``false``, empty lists/maps, null) are filled from ``spec.template``; nested maps
merge key-wise. ``override`` is ``mergo.Merge(dst, src, WithOverride)`` as used
for goTemplate matrix and merge parameters: ``src`` wins, nested maps merge
recursively, lists and scalars (even ``""`` and null) replace.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Fields that are raw JSON (runtime.RawExtension) in the Application type: mergo
# sees a byte slice there, so a non-empty value is kept whole, never merged.
_ATOMIC_KEYS = frozenset({"valuesObject"})


def _is_zero(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    return False


def fill_empty(dst: Mapping[str, Any] | None, src: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new dict: ``dst`` with its zero fields filled from ``src``."""
    result: dict[str, Any] = copy.deepcopy(dict(dst or {}))
    for key, src_value in (src or {}).items():
        dst_value = result.get(key)
        if _is_zero(dst_value):
            if not _is_zero(src_value) or key not in result:
                result[key] = copy.deepcopy(src_value)
        elif isinstance(dst_value, dict) and isinstance(src_value, Mapping) and key not in _ATOMIC_KEYS:
            result[key] = fill_empty(dst_value, src_value)
    return result


def override(dst: Mapping[str, Any], src: Mapping[str, Any]) -> dict[str, Any]:
    """A new map of ``dst``'s type with ``src`` merged over it (inputs untouched)."""
    result = type(dst)(dst) if isinstance(dst, dict) else dict(dst)
    for key, src_value in src.items():
        dst_value = result.get(key)
        if isinstance(src_value, dict) and isinstance(dst_value, dict):
            result[key] = override(dst_value, src_value)
        else:
            result[key] = src_value
    return result
