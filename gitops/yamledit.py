"""Round-trip editing of the project's hand-written YAML files (stack files), comments and all.

A stack file is written by people: comments, key order, quoting and
indentation are theirs. An edit therefore goes through ruamel.yaml's round-trip
mode with the file's own indentation, and is checked afterwards: every line
outside the edited block must come out byte-identical, and the file must read
back (as the loader reads it) as the same document with only the new values.
Anything else is refused rather than written, naming the file and key.

Which values to write, and whether they may be written, is the caller's
decision (``promote``); this module only edits and replaces files.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from . import yamlio
from .errors import InputError, OutputError, Problem


def set_config_strings(text: str, key: str, values: Mapping[str, str], file: str, *,
                       shape: str = 'name: "value"', noun: str = "values") -> str:
    """``text`` (a stack file) with ``config.<key>.<name>`` set to each of ``values``.

    Values are written double-quoted so no YAML reader takes ``1.10`` for a
    number. A missing ``<key>`` mapping is added at the end of ``config``.
    Raises InputError when the edit would touch anything else in the file;
    ``shape`` (what one entry looks like) and ``noun`` (what the values are)
    word its messages.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    source = text.replace("\r\n", "\n")
    yaml = _round_trip(source)
    doc = _load(yaml, source, file)
    config = doc.get("config") if isinstance(doc, CommentedMap) else None
    if not isinstance(config, CommentedMap):
        raise InputError([Problem(file, "config", "expected the stack's config mapping")])
    block = config.get(key)
    if block is None:
        # Filled before it is added, so comments moved below the new block land after its entries.
        fresh = CommentedMap((name, DoubleQuotedScalarString(value)) for name, value in values.items())
        if key in config:
            config[key] = fresh
        else:
            _append(config, key, fresh)
    elif not isinstance(block, CommentedMap):
        raise InputError([Problem(file, f"config.{key}", f"expected a mapping of {shape}")])
    else:
        for name, value in values.items():
            if name in block:
                block[name] = DoubleQuotedScalarString(value)
            else:
                _append(block, name, DoubleQuotedScalarString(value))
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    edited = buffer.getvalue()
    _check_only_block_changed(source, edited, key, values, file, noun)
    return edited.replace("\n", newline)


def _round_trip(text: str) -> YAML:
    """A round-trip YAML with the file's own indentation, so unchanged lines are re-emitted unchanged."""
    mapping, sequence, offset = guess_indent(text)
    yaml = YAML()  # round-trip: keeps comments, key order, flow style
    yaml.preserve_quotes = True
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.width = 1 << 20   # never fold a long value onto a second line
    yaml.explicit_start = text.lstrip().startswith("---")
    return yaml


def _load(yaml: YAML, text: str, file: str) -> Any:
    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise InputError([Problem(file, "", f"cannot be edited: {str(exc).splitlines()[0]}")]) from None


_BLOCK_KEY = re.compile(r"^\s*[^\s#-][^#]*:\s*(#.*)?$")   # "key:" opening a nested block
_ITEM = re.compile(r"^( *)-( +)\S")


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation as the file uses it, for ruamel's ``indent()``.

    Mapping: how far the first nested key sits under its parent. Sequence
    offset: how far the first block item's dash sits under its key; the
    sequence indent adds the dash and its spaces. The shipped stack files give
    (2, 4, 2). Without nested keys or sequences, the defaults are those.
    """
    mapping: int | None = None
    item: tuple[int, int] | None = None
    parent: int | None = None     # indentation of the previous line when it opened a block
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        dash = _ITEM.match(line)
        if parent is not None and dash and item is None and indent >= parent:
            item = (indent - parent, len(dash.group(2)) + 1)
        elif parent is not None and not dash and mapping is None and indent > parent:
            mapping = indent - parent
        parent = indent if _BLOCK_KEY.match(line) else None
    mapping = mapping or 2
    offset, dash_width = item or (2, 2)
    return mapping, offset + dash_width, offset


def _append(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add ``key`` at the end of ``mapping``, above the comment lines that introduce what follows it.

    ruamel attaches the comment lines after a block to its last (deepest)
    entry, so a new key would otherwise land below them, separated from the
    key they describe. Comment lines indented deeper than the new key stay:
    they belong to the entry above.
    """
    trailing = _detach_trailing(mapping, _column(mapping))
    mapping[key] = value
    if trailing:
        _attach_trailing(mapping, trailing)


def _column(mapping: CommentedMap) -> int:
    """Column of the mapping's first key as the file has it (0 when it was not read from the file)."""
    position = mapping.lc.key(next(iter(mapping))) if mapping else None
    return position[1] if position else 0


def _last(node: Any) -> tuple[Any, int] | None:
    """(key of the last entry, slot of its after-value comment) of a non-empty ruamel collection."""
    if isinstance(node, CommentedMap) and node:
        return next(reversed(node)), 2
    if isinstance(node, CommentedSeq) and node:
        return len(node) - 1, 0
    return None


def _detach_trailing(node: Any, column: int) -> str:
    """Remove and return the comment lines after the last entry that sit at ``column`` or left of it."""
    last = _last(node)
    if last is None:
        return ""
    key, slot = last
    child = node[key]
    if _last(child) is not None:
        return _detach_trailing(child, column)
    entry = node.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if not isinstance(token, CommentToken) or "\n" not in token.value:
        return ""
    head, _, rest = token.value.partition("\n")
    keep, move = _split_comment(rest, column)
    if head or keep:
        token.value = f"{head}\n{keep}"
    else:
        entry[slot] = None
    return move


def _split_comment(lines_text: str, column: int) -> tuple[str, str]:
    """(lines that stay with the entry above, lines that move below the new key).

    The move starts at the first comment line indented at most ``column``,
    together with the blank lines right above it; trailing blank lines move too.
    """
    lines = lines_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines)
                  if line.strip() and len(line) - len(line.lstrip(" ")) <= column), len(lines))
    while start > 0 and not lines[start - 1].strip():
        start -= 1
    return "".join(lines[:start]), "".join(lines[start:])


def _attach_trailing(node: Any, comment: str) -> None:
    """Put ``comment`` lines after the last (deepest) entry of ``node``."""
    last = _last(node)
    assert last is not None   # called right after adding an entry
    key, slot = last
    child = node[key]
    if _last(child) is not None:
        _attach_trailing(child, comment)
        return
    entry = node.ca.items.setdefault(key, [None, None, None, None])
    entry[slot] = CommentToken("\n" + comment, CommentMark(0), None)


def _check_only_block_changed(before: str, after: str, key: str, values: Mapping[str, str], file: str,
                              noun: str) -> None:
    """Refuse an edit that changed anything but the ``config.<key>`` block, in bytes or in meaning."""
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    start, end = _block_lines(after, key)
    prefix, suffix = new_lines[:start], new_lines[end:]
    same_text = (len(old_lines) >= len(prefix) + len(suffix) and old_lines[:start] == prefix
                 and old_lines[len(old_lines) - len(suffix):] == suffix)
    old, new = yamlio.parse(before, file), yamlio.parse(after, file)
    old_block = dict(old["config"].get(key) or {})
    new_block = new["config"].pop(key, None)
    old["config"].pop(key, None)
    if not same_text or old != new or new_block != {**old_block, **values}:
        changed = next((i + 1 for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b), start + 1)
        raise InputError([Problem(file, f"config.{key}", f"cannot be set without rewriting other lines of the "
                                  f"file (first difference at line {changed}); set the {noun} by hand: "
                                  + ", ".join(f'{n}: "{v}"' for n, v in values.items()))])


def _block_lines(text: str, key: str) -> tuple[int, int]:
    """[first, end) line indexes of ``config.<key>`` and everything up to the next key after it."""
    yaml = YAML()
    doc = yaml.load(text)
    config = doc["config"]
    start = config.lc.key(key)[0]
    keys = list(config)
    after = keys[keys.index(key) + 1:]
    if after:
        return start, config.lc.key(after[0])[0]
    top = list(doc)
    following = top[top.index("config") + 1:]
    return start, doc.lc.key(following[0])[0] if following else len(text.splitlines())


def replace_file(target: Path, content: bytes) -> None:
    """Temporary sibling, then rename: a reader (or a crash) never sees half a stack file. Keeps the file's mode."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
