"""The single YAML reader and writer of the project.

Reading is strict (duplicate keys are errors, positions are reported) because
a silently ignored duplicate key is a typo that becomes an outage. Writing is
deterministic: ``apiVersion``, ``kind``, ``metadata`` first, every other key
sorted, block style, LF, no width folding, so equal inputs give equal bytes.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterable

import yaml

from .errors import InputError, Problem

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            [Problem(file, "", f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at line {line}, column {column}); "
                     "save the file as UTF-8")]
        ) from None


def _keys(value: dict[Any, Any]) -> list[Any]:
    """apiVersion, kind, metadata first, then sorted; null values dropped."""
    first = [k for k in _FIRST_KEYS if k in value]
    rest = sorted(k for k in value if k not in _FIRST_KEYS)
    return [k for k in first + rest if value[k] is not None]


def dump(doc: Any) -> str:
    """One document, canonical key order, no ``---`` marker.

    A small block-style emitter instead of PyYAML's representer, which was
    three quarters of a 1000-service render. It handles exactly the data the
    renderer produces (mappings, sequences, strings, integers, booleans) and
    quotes every string a YAML 1.1 or 1.2 reader could take for anything but
    a string; tests check that PyYAML reads back what was written.
    """
    if isinstance(doc, (dict, list, tuple)) and doc:
        out: list[str] = []
        _block(doc, "", out, None)
        return "".join(out)
    return _scalar(doc) + "\n"


def _block(value: Any, pad: str, out: list[str], first: "str | None") -> None:
    lead = pad if first is None else first
    if isinstance(value, dict):
        for key in _keys(value):
            item = value[key]
            name = _string(str(key))
            if isinstance(item, dict) and item:
                out.append(f"{lead}{name}:\n")
                _block(item, pad + "  ", out, None)
            elif isinstance(item, (list, tuple)) and item:
                out.append(f"{lead}{name}:\n")
                _block(item, pad, out, None)  # sequences sit at their key's indentation
            else:
                out.append(f"{lead}{name}: {_scalar(item)}\n")
            lead = pad
        return
    for item in value:
        if isinstance(item, (dict, list, tuple)) and item:
            _block(item, pad + "  ", out, lead + "- ")
        else:
            out.append(f"{lead}- {_scalar(item)}\n")
        lead = pad


# Plain only when it starts with a letter, '_', '/', '(', '..' or './' (never a number,
# in any YAML version) and the 1.1 resolver calls it a string (yes/no/on/off...).
_PLAIN = re.compile(r"(?:[A-Za-z_/(]|\.[./])[A-Za-z0-9 _./@%+=()*!~$&^,:-]*")
_SAFE_RESOLVER = yaml.resolver.Resolver()
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x85": "\\N",
            "\u2028": "\\L", "\u2029": "\\P", "\x00": "\\0"}


@functools.lru_cache(maxsize=65536)
def _string(text: str) -> str:
    plain = (
        _PLAIN.fullmatch(text) is not None
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
        and _SAFE_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"
    )
    if plain:
        return text
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F or code in (0xFEFF, 0xFFFE, 0xFFFF):
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return char


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def dump_all(docs: Iterable[Any]) -> str:
    return "---\n".join(dump(d) for d in docs)


def dump_json(doc: Any) -> str:
    """Compact-but-readable canonical JSON (sorted keys, trailing newline)."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
