"""The single YAML reader and writer of the project.

Reading is strict (duplicate keys are errors, positions are reported) because
a silently ignored duplicate key is a typo that becomes an outage. Writing is
deterministic: ``apiVersion``, ``kind``, ``metadata`` first, every other key
sorted, block style, LF, no width folding, so equal inputs give equal bytes.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import yaml

from . import layout
from .errors import InputError, Problem, printable

# libyaml's loader where PyYAML has it; type checkers see the pure-Python one (the same interface).
if TYPE_CHECKING:
    _Loader = yaml.SafeLoader
else:
    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_FIRST_KEYS = ("apiVersion", "kind", "metadata")
_FIRST_SET = frozenset(_FIRST_KEYS)

MAX_INPUT_BYTES: Final = layout.MAX_INPUT_BYTES
# Nesting of an input file; the shipped ones nest at most seven levels.
MAX_INPUT_DEPTH: Final = 64
# Nesting of any document: libyaml's composer recurses in C, and crashes the process well beyond this.
MAX_COMPOSE_DEPTH: Final = 10_000
# Values a generated document (kustomize output, vendor CRDs) may expand to through aliases.
MAX_EXPANDED_NODES: Final = 1_000_000

_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KINDS = {"int": "an integer", "float": "a number", "bool": "a boolean", "null": "null"}


class _StrictLoader(_Loader):
    """Safe loader that refuses duplicate mapping keys and keeps dates as written.

    A YAML 1.1 timestamp (``2023-01-15``) would become a date, which no field
    of ours or of Kubernetes accepts, and an impossible one (``2023-13-45``)
    made the constructor raise ValueError; both stay the string they look like,
    as Kubernetes' own YAML reader keeps them. Any other value the constructor
    cannot build (``!!int 12x``, a 5000-digit number) is a located YAML error.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"not a valid {kind} ({printable(str(exc), 120)})", node.start_mark
            ) from None


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}


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
                None, None, f"duplicate key {printable(repr(key), 100)}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)   # the text as written (see _StrictLoader)


_StrictLoader.add_constructor(_TIMESTAMP_TAG, _construct_timestamp)


def parse(text: str, file: str, *, secret: bool = False, generated: bool = False) -> Any:
    """One YAML document; errors carry the file and line:column.

    ``secret``: the text holds secret values, so a syntax error names the
    line and column only (PyYAML's explanation may quote the value).
    ``generated``: text a tool wrote (kustomize output, vendor CRDs) rather
    than an input: keys need not be strings (YAML 1.1 reads a ConfigMap key
    ``on`` as true) and aliases are accepted up to MAX_EXPANDED_NODES values.
    Inputs refuse non-string keys, anchors and aliases (which nothing of ours
    needs, and which expand a few hundred bytes into billions of values) and
    nesting beyond MAX_INPUT_DEPTH.
    """
    def single(loader: Any) -> Iterator[Any]:
        node = loader.get_single_node()
        yield None if node is None else _checked_document(loader, node, file, secret, generated, text)
    return next(_load(text, file, secret, single))


def parse_all(text: str, file: str, *, secret: bool = False, generated: bool = False) -> list[Any]:
    """Every document of a multi-document stream (as ``kubectl kustomize`` prints); see ``parse``."""
    def every(loader: Any) -> Iterator[Any]:
        while loader.check_node():
            yield _checked_document(loader, loader.get_node(), file, secret, generated, text)
    return [d for d in _load(text, file, secret, every) if d is not None]


def _load(text: str, file: str, secret: bool, documents: Any) -> Iterator[Any]:
    """Run ``documents(loader)`` to the end, turning every failure into one located InputError."""
    loader = _StrictLoader(text)
    try:
        _nesting_guard(text, file)
        return iter(list(documents(loader)))
    except yaml.MarkedYAMLError as exc:
        raise InputError([Problem(file, "", _describe(exc, secret))]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - defensive, every PyYAML error is marked
        detail = "" if secret else f": {printable(str(exc), 200)}"
        raise InputError([Problem(file, "", f"invalid YAML{detail}")]) from None
    except RecursionError:
        raise InputError([Problem(file, "", "is nested too deeply to be read")]) from None
    finally:
        loader.dispose()


def _nesting_guard(text: str, file: str) -> None:
    """Refuse nesting that would overflow the C stack of libyaml's recursive composer.

    ``[[[[...`` a few tens of thousands deep (a few hundred kilobytes) crashed
    the process with a segmentation fault rather than an exception. Only text
    with that many brackets can nest that deep (block nesting needs quadratic
    size), and only then are the parser's events (not recursive) counted.
    """
    if text.count("[") + text.count("{") <= MAX_COMPOSE_DEPTH:
        return
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_COMPOSE_DEPTH:
                raise InputError([Problem(file, "", f"is nested more than {MAX_COMPOSE_DEPTH:,} levels deep")])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _describe(exc: yaml.MarkedYAMLError, secret: bool = False) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown position"
    if secret:
        return f"invalid YAML at {where} (the reason is not shown: it may quote a secret value)"
    what = printable(exc.problem or exc.context or "invalid YAML", 200)
    return f"invalid YAML at {where}: {what}"


def _checked_document(loader: Any, node: yaml.Node, file: str, secret: bool, generated: bool, text: str) -> Any:
    if generated:
        if "&" in text:   # no anchor, no alias: nothing can expand
            _check_expansion(node, file)
    else:
        _check_input_nodes(node, file, secret)
    return loader.construct_document(node)


def _check_input_nodes(root: yaml.Node, file: str, secret: bool) -> None:
    """String keys, no aliases, bounded nesting: see ``parse``. Walks the composed nodes, so the
    problem names the key path and the line, before anything is constructed or formatted.

    With ``secret``, a problem names the line and column only: below the
    first levels, a key path is already a part of what may be a secret value.
    """
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str, int]] = [(root, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if id(node) in seen:   # the same node again: an alias of it (its mark is where it was anchored)
            anchored = f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"
            raise InputError([Problem(file, "" if secret else path, f"repeats the value anchored at {anchored}: YAML "
                                      "anchors and aliases are not accepted in input files; write the value out")])
        seen.add(id(node))
        if depth > MAX_INPUT_DEPTH:
            raise _node_problem(file, path, node, f"is nested more than {MAX_INPUT_DEPTH} levels deep", secret)
        children: list[tuple[yaml.Node, str, int]] = []
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = _input_key(key_node, file, path, secret)
                children.append((value_node, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node.value)]
        stack.extend(reversed(children))   # document order, so the first problem is the first in the file


def _node_problem(file: str, path: str, node: yaml.Node, message: str, secret: bool) -> InputError:
    where = f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"
    return InputError([Problem(file, "" if secret else path, f"{where}: {message}")])


def _input_key(node: yaml.Node, file: str, path: str, secret: bool) -> str:
    """The text of a mapping key of an input file, which must be a string."""
    if not isinstance(node, yaml.ScalarNode):
        kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
        raise _node_problem(file, path, node, f"a key must be a plain string, not a {kind}", secret)
    text: str = node.value
    key = f"{path}.{text}" if path else text
    if node.tag == _MERGE_TAG:
        raise _node_problem(file, key, node, "merge keys ('<<') are not accepted in input files; write the keys out",
                            secret)
    if node.tag != _STR_TAG:
        kind = _KINDS.get(str(node.tag).rsplit(":", 1)[-1], "no string")
        shown_key = "this key" if secret else printable(text, 40)
        quoted = "" if secret else f" (\"{printable(text, 40)}\")"
        raise _node_problem(file, key, node, f"keys are strings, and {shown_key} is read as {kind}; quote it"
                            f"{quoted} if it is meant as a name", secret)
    return text


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a document whose aliases expand beyond MAX_EXPANDED_NODES values (or into a cycle).

    Aliased nodes are shared objects in the composed graph, so the expanded
    size is counted once per node, bottom-up, without expanding anything.
    """
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > MAX_EXPANDED_NODES:
                raise InputError([Problem(file, "", f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values")])
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise InputError([Problem(file, "", "a YAML alias refers to the value that contains it")])
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


# --- reading input files -----------------------------------------------------------------------------
def read_file_text(path: Path | str, file: str, *, expected: str = "a YAML file",
                   max_bytes: int = MAX_INPUT_BYTES) -> str:
    """UTF-8 text of an input file; unreadable, non-regular, oversized or non-UTF-8 input is an InputError."""
    return decode_text(read_input_bytes(path, file, expected=expected, max_bytes=max_bytes), file)


def read_input_bytes(path: Path | str, file: str, *, expected: str = "a file",
                     max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of an input file, at most ``max_bytes``.

    Only regular files (symbolic links to them included) are read: a FIFO
    would block, a device such as /dev/zero never ends. The file is opened
    non-blocking, checked with fstat, and read no further than one byte past
    the limit, so no input can stall the command or exhaust memory.
    """
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InputError([Problem(file, "", f"is a directory, expected {expected}")])
        if not stat.S_ISREG(info.st_mode):
            raise InputError([Problem(file, "", f"is {_file_kind(info.st_mode)}, not a regular file; give {expected}")])
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError([Problem(file, "", "file not found")]) from None
    except OSError as exc:
        raise InputError([Problem(file, "", f"cannot read: {exc.strerror}")]) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):   # replaced between stat and open
            raise InputError([Problem(file, "", f"is not a regular file; give {expected}")])
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputError([Problem(file, "", f"cannot read: {exc.strerror}")]) from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise InputError([Problem(file, "", too_large(max_bytes))])
    return b"".join(chunks)


def read_stream_bytes(stream: BinaryIO, file: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """Standard input (or another stream), read no further than one byte past ``max_bytes``."""
    try:
        data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise InputError([Problem(file, "", f"cannot read: {exc.strerror}")]) from None
    if len(data) > max_bytes:
        raise InputError([Problem(file, "", too_large(max_bytes))])
    return data


def too_large(max_bytes: int) -> str:
    amount = f"{max_bytes // (1 << 20)} MiB" if max_bytes % (1 << 20) == 0 else f"{max_bytes} bytes"
    return (f"is larger than {amount} ({max_bytes} bytes), the most an input may be; "
            "check that this is the file you meant")


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def decode_text(data: bytes, file: str) -> str:
    """``data`` as UTF-8 text, or an InputError naming the first invalid byte's line and column."""
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
    """apiVersion, kind, metadata first, then sorted (null values are skipped by the caller)."""
    keys = sorted(value) if len(value) > 1 else list(value)
    if _FIRST_SET.isdisjoint(value):
        return keys
    return [k for k in _FIRST_KEYS if k in value] + [k for k in keys if k not in _FIRST_SET]


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
        _block(doc, "", out, "")
        return "".join(out)
    return _scalar(doc) + "\n"


def _block(value: Any, pad: str, out: list[str], lead: str) -> None:
    """Append the lines of a non-empty mapping or sequence; ``lead`` starts its first line, ``pad`` the others.

    The hot loop of a render (hundreds of thousands of values at 1000
    services): strings, the commonest value, are tested first by exact type,
    and mapping keys are str, so neither goes through ``_scalar``.
    """
    append = out.append
    if isinstance(value, dict):
        inner = pad + "  "
        for key in _keys(value):
            item = value[key]
            kind = type(item)
            name = _string(key if type(key) is str else str(key))
            if kind is str:
                append(f"{lead}{name}: {_string(item)}\n")
            elif item is None:
                continue
            elif not item or not (kind is dict or kind is list or isinstance(item, (dict, list, tuple))):
                append(f"{lead}{name}: {_scalar(item)}\n")
            elif kind is dict or isinstance(item, dict):
                append(f"{lead}{name}:\n")
                _block(item, inner, out, inner)
            else:
                append(f"{lead}{name}:\n")
                _block(item, pad, out, pad)  # sequences sit at their key's indentation
            lead = pad
        return
    inner = pad + "  "
    for item in value:
        kind = type(item)
        if kind is str:
            append(f"{lead}- {_string(item)}\n")
        elif item and (kind is dict or kind is list or isinstance(item, (dict, list, tuple))):
            _block(item, inner, out, lead + "- ")
        else:
            append(f"{lead}- {_scalar(item)}\n")
        lead = pad


# Plain only when it starts with a letter, '_', '/', '(', '..' or './' (never a number,
# in any YAML version) and the 1.1 resolver calls it a string (yes/no/on/off...).
_PLAIN = re.compile(r"(?:[A-Za-z_/(]|\.[./])[A-Za-z0-9 _./@%+=()*!~$&^,:-]*")
_SAFE_RESOLVER = yaml.resolver.Resolver()
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x85": "\\N",
            "\u2028": "\\L", "\u2029": "\\P", "\x00": "\\0"}
# Every character ``_escape`` changes: the keys of _ESCAPES and the ones it writes as \x or \u.
_NEEDS_ESCAPE = re.compile("[\\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


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
    if _NEEDS_ESCAPE.search(text) is None:   # most quoted strings ('0', '25%'): nothing to escape
        return f'"{text}"'
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _escape(m.group()), text) + '"'


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


_DOCUMENT_START = re.compile(r"^---$", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^[^#\s]", re.MULTILINE)


@functools.lru_cache(maxsize=16)
def _top_level(keys: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"^({'|'.join(re.escape(k) for k in keys)}):(?: (.*))?$", re.MULTILINE)


def top_level_scalars(text: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """Per document of a stream ``dump_all`` wrote, each of ``keys`` its top level sets, with the value as
    written ("" for a block value); a part holding only comments (the generated header) is no document.

    Read from the text rather than by parsing it, which would cost as much as writing it: ``dump`` puts a
    top-level key at the start of its line, and nothing nested starts there. Flow style is not read.
    """
    pattern = _top_level(keys)
    return [{m.group(1): _written_scalar(m.group(2) or "") for m in pattern.finditer(part)}
            for part in _DOCUMENT_START.split(text) if _CONTENT_LINE.search(part)]


def _written_scalar(text: str) -> str:
    """A scalar as ``dump`` writes it: plain, or double-quoted when it had to quote it."""
    return str(yaml.safe_load(text)) if text.startswith('"') else text


def dump_json(doc: Any) -> str:
    """Compact-but-readable canonical JSON (sorted keys, trailing newline)."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
