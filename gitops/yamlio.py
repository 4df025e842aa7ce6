"""The single YAML reader and writer of the project.

Reading is strict (duplicate keys are errors, positions are reported) because
a silently ignored duplicate key is a typo that becomes an outage. Writing is
deterministic: ``apiVersion``, ``kind``, ``metadata`` first, every other key
sorted, block style, LF, no width folding, so equal inputs give equal bytes.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import yaml

from .errors import InputError, Problem

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_FIRST_KEYS = ("apiVersion", "kind", "metadata")


class _StrictLoader(_Loader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate mapping keys."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain scalar", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def parse(text: str, file: str) -> Any:
    """One YAML document; errors carry the file and line:column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as exc:
        raise InputError([Problem(file, "", _describe(exc))]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - defensive, every PyYAML error is marked
        raise InputError([Problem(file, "", f"invalid YAML: {exc}")]) from None


def parse_all(text: str, file: str) -> list[Any]:
    """Every document of a multi-document stream (as ``kubectl kustomize`` prints)."""
    try:
        return [d for d in yaml.load_all(text, Loader=_StrictLoader) if d is not None]  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        raise InputError([Problem(file, "", _describe(exc))]) from None


def _describe(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    what = exc.problem or exc.context or "invalid YAML"
    return f"invalid YAML at {where}{what}"


def read_file_text(path: Any, file: str) -> str:
    """UTF-8 text of an input file; unreadable or non-UTF-8 input is an InputError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(file, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(file, "", "is a directory, expected a YAML file")]) from None
    except OSError as exc:
        raise InputError([Problem(file, "", f"cannot read: {exc.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(file, "", f"not UTF-8 text (invalid byte at offset {exc.start}); save the file as UTF-8")]
        ) from None


def _ordered(value: Any) -> Any:
    if isinstance(value, Mapping):
        first = [k for k in _FIRST_KEYS if k in value]
        rest = sorted(k for k in value if k not in _FIRST_KEYS)
        return {k: _ordered(value[k]) for k in first + rest if value[k] is not None}
    if isinstance(value, (list, tuple)):
        return [_ordered(v) for v in value]
    return value


def dump(doc: Any) -> str:
    """One document, canonical key order, no ``---`` marker."""
    return yaml.dump(  # type: ignore[no-any-return]
        _ordered(doc),
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
        indent=2,
    )


def dump_all(docs: Iterable[Any]) -> str:
    return "---\n".join(dump(d) for d in docs)


def dump_json(doc: Any) -> str:
    """Compact-but-readable canonical JSON (sorted keys, trailing newline)."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
