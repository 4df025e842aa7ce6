"""Go values as Python sees them, and how Go prints them.

The controller is written in Go, so the same parameter prints differently
depending on its Go type: a JSON number is a float64 (``1e+06``), a cluster
label map is a ``map[string]string`` (a missing key is ``""`` under
``missingkey=zero``), path segments are a ``[]string``. Python's types carry
too little of that, so the few Go-specific distinctions are kept as marker
classes and one sentinel for Go's "invalid value".

Model: ``str``/``bool``/``int`` (Go int, from template literals and ``len``)/
``float`` (float64)/``None`` (nil interface)/``dict`` (map[string]interface{})/
``StringMap``/``list`` ([]interface{})/``StringList``/``MISSING``.
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal
from typing import Any


class StringMap(dict[str, str]):
    """A Go ``map[string]string`` (cluster labels/annotations, GT ``values``)."""


class StringList(list[str]):
    """A Go ``[]string`` (``path.segments``, ``splitList``)."""


class _Missing:
    """Go's invalid ``reflect.Value``: what a missing map key evaluates to."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()

GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def go_trim_space(s: str) -> str:
    """strings.TrimSpace: Python's strip() also trims \\x1c-\\x1f, Go does not."""
    return s.strip(GO_SPACE)


def go_type_name(v: Any) -> str:
    """The Go type name used in error messages."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, StringMap):
        return "map[string]string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, StringList):
        return "[]string"
    if isinstance(v, list):
        return "[]interface {}"
    return type(v).__name__


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |f| and Go's decimal point position
    (value = 0.DIGITS x 10^dp), the representation strconv formats from."""
    _sign, digits, exponent = Decimal(repr(abs(f))).as_tuple()
    ds = "".join(map(str, digits)).lstrip("0")
    assert isinstance(exponent, int)
    if not ds:
        return "0", 1
    stripped = ds.rstrip("0")
    exponent += len(ds) - len(stripped)
    return stripped, len(stripped) + exponent


def _fmt_e(neg: bool, digits: str, dp: int) -> str:
    exp = dp - 1 if digits != "0" else 0
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{'-' if neg else ''}{mant}e{sign}{abs(exp):02d}"


def _fmt_f(neg: bool, digits: str, dp: int) -> str:
    if dp > 0:
        whole = digits[:dp].ljust(dp, "0")
        frac = digits[dp:]
    else:
        whole = "0"
        frac = "0" * (-dp) + digits
    if digits == "0":
        whole, frac = "0", ""
    return f"{'-' if neg else ''}{whole}{'.' + frac if frac else ''}"


def _special(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return None


def format_float_g(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64), which is also fmt's %v for float64."""
    special = _special(f)
    if special:
        return special
    neg = math.copysign(1.0, f) < 0
    digits, dp = _shortest_digits(f)
    exp = dp - 1
    if digits != "0" and (exp < -4 or exp >= 6):
        return _fmt_e(neg, digits, dp)
    return _fmt_f(neg, digits, dp)


def format_float_json(f: float) -> str:
    """encoding/json's float64 encoding (fixed notation inside [1e-6, 1e21))."""
    if _special(f):
        raise ValueError(f"json: unsupported value: {_special(f)}")
    neg = math.copysign(1.0, f) < 0
    digits, dp = _shortest_digits(f)
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = _fmt_e(neg, digits, dp)
        if s[-4:-1] == "e-0":  # e-07 -> e-7
            s = s[:-2] + s[-1]
        return s
    return _fmt_f(neg, digits, dp)


def go_sprint(v: Any) -> str:
    """fmt's %v for the value model (map keys sorted, as fmt does since Go 1.12)."""
    if v is MISSING:
        return "<no value>"
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_g(v)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_sprint(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_sprint(x) for x in v) + "]"
    raise TypeError(f"no Go formatting for {type(v).__name__}")


_SIMPLE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """strconv.Quote (Go's IsPrint and Python's isprintable agree on categories)."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        else:
            cp = ord(ch)
            if cp < 0x20 or cp == 0x7F:
                out.append(f"\\x{cp:02x}")
            elif 0xD800 <= cp <= 0xDFFF:
                out.append("\\ufffd")
            elif cp < 0x10000:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif cp < 0x20 or ch in "<>&" or cp in (0x2028, 0x2029):
            out.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(v: Any) -> str:
    """json.Marshal: sorted keys, HTML-safe escaping, Go float formatting.

    Raises ValueError where Go's Marshal returns an error (NaN, Inf)."""
    if v is None or v is MISSING:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_json(v)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_string(k)}:{go_json(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    raise ValueError(f"json: unsupported type: {type(v).__name__}")


def go_json_key(v: Any) -> str:
    """How sigs.k8s.io/yaml turns a non-string YAML map key into a JSON key."""
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_g(v)
    raise ValueError(f"unsupported map key of type {type(v).__name__}")


def to_go_json(v: Any) -> Any:
    """A JSON-decoded value exactly as Go's json.Unmarshal into interface{} sees
    it: every number becomes a float64, keys become strings.

    Raises ValueError for values JSON cannot hold (dates from a YAML loader that
    resolved timestamps, binary, sets)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ValueError(f"json: unsupported value: {v}")
        return v
    if isinstance(v, dict):
        return {go_json_key(k): to_go_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_go_json(x) for x in v]
    if isinstance(v, datetime.date) and not isinstance(v, datetime.datetime):
        return v.isoformat()
    raise ValueError(f"a {type(v).__name__} value cannot be represented in JSON")
