"""YAML read and written the way Argo CD's Go libraries do it.

Argo CD parses git files and ``elementsYaml`` with sigs.k8s.io/yaml, i.e. go-yaml
v2 (YAML 1.1 scalars, timestamps kept as strings, only the first document)
followed by a JSON round trip (every number a float64). PyYAML's resolver
differs in exactly the cases that change generated Applications (``1e3`` is a
string to PyYAML, ``1:20`` an integer, ``2024-01-01`` a date), so plain scalars
are resolved here with go-yaml's rules instead. ``toYaml`` output follows
go-yaml v2's choice of scalar styles and key order; the emitter itself is
PyYAML's port of libyaml, the same algorithm go-yaml v2 uses.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import TYPE_CHECKING, Any

import yaml
from yaml.emitter import Emitter
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver
from yaml.serializer import Serializer

from .govalues import MISSING, format_float_g, go_json, to_go_json

# libyaml's loader where PyYAML has it; type checkers see the pure-Python one (the same interface).
if TYPE_CHECKING:
    _BASE_LOADER = yaml.SafeLoader
else:
    _BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_PLAIN_TAG = "tag:gitops.local,2024:go-plain"

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_SPECIAL_FLOATS = {
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[+-][0-9]{1,2}(:[0-9]{2})?)?)?"
)
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_INT64 = (-(2**63), 2**63 - 1)


def _go_parse_int(plain: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) then ParseUint(s, 0, 64), as go-yaml tries them."""
    m = _GO_INT.fullmatch(plain)
    if not m:
        return None
    sign, body = m.groups()
    prefix = body[:2].lower()
    if prefix == "0x":
        value = int(body[2:], 16)
    elif prefix == "0o":
        value = int(body[2:], 8)
    elif prefix == "0b":
        value = int(body[2:], 2)
    elif len(body) > 1 and body[0] == "0":
        value = int(body, 8)
    else:
        value = int(body)
    if sign == "-":
        value = -value
    if _INT64[0] <= value <= _INT64[1]:
        return value
    if sign == "" and value < 2**64:
        return value
    return None


def go_resolve(s: str) -> tuple[str, Any]:
    """go-yaml v2's resolution of a plain scalar: (tag, value). Timestamps keep
    their text as value, as go-yaml does when decoding into interface{}."""
    if s in _NULLS:
        return NULL_TAG, None
    if s in _TRUE:
        return BOOL_TAG, True
    if s in _FALSE:
        return BOOL_TAG, False
    if s in _SPECIAL_FLOATS:
        return FLOAT_TAG, _SPECIAL_FLOATS[s]
    if s == "<<":
        return MERGE_TAG, s
    if s and s[0] in "+-.0123456789":
        if _TIMESTAMP.fullmatch(s):
            return TIMESTAMP_TAG, s
        plain = s.replace("_", "")
        as_int = _go_parse_int(plain)
        if as_int is not None:
            return INT_TAG, as_int
        if _YAML_FLOAT.fullmatch(plain):
            as_float = float(plain)
            if not math.isinf(as_float):
                return FLOAT_TAG, as_float
    return STR_TAG, s


class _GoLoader(_BASE_LOADER):
    """Safe loader whose only implicit resolution is go-yaml's."""


_GoLoader.yaml_implicit_resolvers = {}   # none of SafeLoader's: only the two added here

_GoLoader.add_implicit_resolver(MERGE_TAG, re.compile(r"^(?:<<)$"), ["<"])
_GoLoader.add_implicit_resolver(_PLAIN_TAG, re.compile(r"(?s).*"), None)
_GoLoader.add_constructor(_PLAIN_TAG, lambda loader, node: go_resolve(node.value)[1])


class YamlError(ValueError):
    """The text is not YAML (or not JSON-representable YAML) for Go either."""


def load_first_document(text: str) -> Any:
    """The first document of ``text`` as sigs.k8s.io/yaml.Unmarshal sees it.

    JSON text takes a fast path through the json module: for JSON the two
    parsers agree, and git files generators read thousands of config.json."""
    stripped = text.lstrip(" \t\r\n")
    if stripped[:1] in ("{", "["):
        try:
            return to_go_json(json.loads(text, parse_constant=_reject_constant))
        except (ValueError, RecursionError):
            pass
    try:
        documents = yaml.load_all(text, Loader=_GoLoader)
        first = next(iter(documents), None)
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from None
    try:
        return to_go_json(first)
    except ValueError as exc:
        raise YamlError(str(exc)) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# ---------------------------------------------------------------- toYaml


def _go_key_less(a: str, b: str) -> bool:
    """go-yaml v2's map key order: letters after non-letters, digit runs compared
    by numeric value."""
    ar, br = a, b
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return ar[i] < br[i]
        if al or bl:
            return bl
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an = an * 10 + int(ar[ai])
            ai += 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn = bn * 10 + int(br[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ar[i] < br[i]
    return len(ar) < len(br)


def _go_key_cmp(a: str, b: str) -> int:
    return -1 if _go_key_less(a, b) else (1 if _go_key_less(b, a) else 0)


_go_key_order = functools.cmp_to_key(_go_key_cmp)


def _plain_tag(value: str) -> str:
    tag = go_resolve(value)[0]
    return STR_TAG if tag == MERGE_TAG else tag


class _GoDumper(Emitter, Serializer, BaseResolver):
    """libyaml's emitter with go-yaml's idea of which plain scalars are strings."""

    def __init__(self, stream: Any, **_options: Any) -> None:
        Emitter.__init__(self, stream, canonical=False, indent=2, width=80, allow_unicode=True)
        Serializer.__init__(self, explicit_start=False, explicit_end=False)
        BaseResolver.__init__(self)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else STR_TAG
        tag: str = BaseResolver.resolve(self, kind, value, implicit)
        return tag


def _yaml_node(v: Any) -> Any:
    if v is None:
        return ScalarNode(NULL_TAG, "null")
    if v is True or v is False:
        return ScalarNode(BOOL_TAG, "true" if v else "false")
    if isinstance(v, int):
        return ScalarNode(INT_TAG, str(v))
    if isinstance(v, float):
        text = format_float_g(v)
        text = {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
        return ScalarNode(FLOAT_TAG, text)
    if isinstance(v, str):
        if "\n" in v:
            style = "|"
        elif _plain_tag(v) != STR_TAG or _BASE60.fullmatch(v):
            style = '"'
        else:
            style = None
        return ScalarNode(STR_TAG, v, style=style)
    if isinstance(v, dict):
        items = [(_yaml_node(k), _yaml_node(v[k])) for k in sorted(v, key=_go_key_order)]
        return MappingNode("tag:yaml.org,2002:map", items, flow_style=False)
    if isinstance(v, list):
        return SequenceNode("tag:yaml.org,2002:seq", [_yaml_node(x) for x in v], flow_style=False)
    raise ValueError(f"cannot encode {type(v).__name__} as YAML")


def _json_number_to_yaml(text: str) -> Any:
    tag, value = go_resolve(text)
    return value if tag in (INT_TAG, FLOAT_TAG) else float(text)


def to_yaml(v: Any) -> str:
    """sigs.k8s.io/yaml.Marshal(v) without the trailing newline (Argo's toYaml).

    Marshal goes through JSON first, so a float64 1000000 comes out as the
    integer 1000000 while 1.5e+06 stays a float."""
    if v is MISSING:
        v = None
    data = json.loads(go_json(v), parse_int=_json_number_to_yaml, parse_float=_json_number_to_yaml)
    text = yaml.serialize(_yaml_node(data), Dumper=_GoDumper)
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    return text[:-1] if text.endswith("\n") else text
