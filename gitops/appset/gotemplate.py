"""A faithful subset of Go text/template with the functions Argo CD exposes.

ApplicationSets with ``goTemplate: true`` render every string of the template
through text/template plus Sprig. Only a subset is implemented; everything else
that Go would accept is refused with ``TemplateUnsupported`` instead of being
approximated, and everything Go itself rejects raises ``TemplateError``.

Supported: text with ``{{ }}`` actions and ``{{-``/``-}}`` trim markers,
comments, string/raw-string/number/bool/nil literals, ``.``, field chains
(``.a.b``, ``$``, ``$.a``, ``(pipe).a``), pipelines, parenthesised calls,
``if``/``else if``/``else``/``end`` and the functions in ``FUNCTIONS``.
Option ``missingkey=default|invalid|zero|error`` behaves as in Go, including
Go's quirks (``zero`` prints ``<no value>`` for ``map[string]interface{}``).
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .govalues import (
    MISSING,
    StringList,
    StringMap,
    go_json,
    go_quote,
    go_sprint,
    go_trim_space,
    go_type_name,
)
from .names import go_lower, go_title, go_upper, sanitize_name, slug_make
from .yamlio import to_yaml


class TemplateError(Exception):
    """Go's text/template would reject this template or fail executing it."""


class MissingKeyError(TemplateError):
    """``missingkey=error`` met a missing map key (Argo treats this one specially)."""


class TemplateUnsupported(Exception):
    """Valid Go template syntax or function that this evaluator does not implement."""


MISSING_KEY_MODES = {"default": "default", "invalid": "default", "zero": "zero", "error": "error"}

# ---------------------------------------------------------------- lexer

_SPACE = " \t\r\n"

(T_SPACE, T_FIELD, T_VARIABLE, T_DOT, T_IDENT, T_KEYWORD, T_BOOL, T_NIL, T_NUMBER,
 T_STRING, T_CHAR, T_LPAREN, T_RPAREN, T_PIPE, T_DECLARE, T_ASSIGN, T_OTHER) = range(17)

_KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"})


@dataclass(frozen=True)
class _Tok:
    kind: int
    text: str


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or (ch.isdigit() and unicodedata.category(ch) == "Nd")


def _at_terminator(s: str, i: int) -> bool:
    if i >= len(s):
        return True
    ch = s[i]
    return ch in _SPACE or ch in ".,|:()" or s.startswith("}}", i)


def _at_right_delim(s: str, i: int) -> tuple[bool, bool]:
    if i + 1 < len(s) and s[i] in _SPACE and s[i + 1] == "-" and s.startswith("}}", i + 2):
        return True, True
    if s.startswith("}}", i):
        return True, False
    return False, False


_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?"
    r"|0[oO][0-7_]*(?:\.[0-7_]*)?|0[bB][01_]*(?:\.[01_]*)?"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)i?"
)


def _unquote(body: str) -> str:
    """strconv.Unquote for the inside of a double-quoted Go string."""
    out: list[str] = []
    i = 0
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise TemplateError("invalid syntax in quoted string")
        esc = body[i + 1]
        if esc in simple:
            out.append(simple[esc])
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise TemplateError("invalid syntax in quoted string")
            code = int(digits, 16)
            if esc == "x":
                if code > 0x7F:
                    raise TemplateUnsupported("\\x escapes above 0x7f (raw bytes) in template strings")
                out.append(chr(code))
            else:
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise TemplateError("invalid syntax in quoted string")
                out.append(chr(code))
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 0x7F:
                raise TemplateUnsupported("octal escapes in template strings")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise TemplateError("invalid syntax in quoted string")
    return "".join(out)


def _lex_action(s: str, i: int) -> tuple[list[_Tok], int, bool]:
    """Tokens of one action starting at ``i`` (just after ``{{`` and any trim
    marker); returns them, the index after ``}}`` and whether ``-}}`` trims."""
    toks: list[_Tok] = []
    depth = 0
    n = len(s)
    while True:
        delim, trim = _at_right_delim(s, i)
        if delim:
            if depth:
                raise TemplateError("unclosed left paren")
            return toks, i + (4 if trim else 2), trim
        if i >= n:
            raise TemplateError("unclosed action")
        ch = s[i]
        if ch in _SPACE:
            j = i
            while j < n and s[j] in _SPACE:
                j += 1
            if _at_right_delim(s, j - 1) == (True, True):
                j -= 1  # that space belongs to the " -}}" trim marker
                if j == i:
                    continue
            toks.append(_Tok(T_SPACE, s[i:j]))
            i = j
        elif ch == "=":
            toks.append(_Tok(T_ASSIGN, "="))
            i += 1
        elif ch == ":":
            if not s.startswith(":=", i):
                raise TemplateError("expected :=")
            toks.append(_Tok(T_DECLARE, ":="))
            i += 2
        elif ch == "|":
            toks.append(_Tok(T_PIPE, "|"))
            i += 1
        elif ch == '"':
            j = i + 1
            while True:
                if j >= n or s[j] == "\n":
                    raise TemplateError("unterminated quoted string")
                if s[j] == "\\":
                    j += 2
                    continue
                if s[j] == '"':
                    break
                j += 1
            toks.append(_Tok(T_STRING, _unquote(s[i + 1 : j])))
            i = j + 1
        elif ch == "`":
            j = s.find("`", i + 1)
            if j < 0:
                raise TemplateError("unterminated raw quoted string")
            toks.append(_Tok(T_STRING, s[i + 1 : j].replace("\r", "")))
            i = j + 1
        elif ch == "'":
            raise TemplateUnsupported("character constants ('x')")
        elif ch == "$" or (ch == "." and not (i + 1 < n and s[i + 1].isdigit() and s[i + 1].isascii())):
            j = i + 1
            if _at_terminator(s, j):
                toks.append(_Tok(T_VARIABLE if ch == "$" else T_DOT, ch))
                i = j
                continue
            while j < n and _is_alnum(s[j]):
                j += 1
            if not _at_terminator(s, j):
                raise TemplateError(f"bad character {s[j]!r}")
            toks.append(_Tok(T_VARIABLE if ch == "$" else T_FIELD, s[i:j]))
            i = j
        elif ch in "+-." or (ch.isdigit() and ch.isascii()):
            m = _NUMBER.match(s, i)
            j = m.end() if m else i
            if j == i or (j < n and _is_alnum(s[j])):
                raise TemplateError(f"bad number syntax: {s[i:j + 1]!r}")
            if j < n and s[j] in "+-":
                raise TemplateUnsupported("complex number literals")
            toks.append(_Tok(T_NUMBER, s[i:j]))
            i = j
        elif _is_alnum(ch):
            j = i
            while j < n and _is_alnum(s[j]):
                j += 1
            if not _at_terminator(s, j):
                raise TemplateError(f"bad character {s[j]!r}")
            word = s[i:j]
            if word in _KEYWORDS:
                toks.append(_Tok(T_KEYWORD, word))
            elif word in ("true", "false"):
                toks.append(_Tok(T_BOOL, word))
            elif word == "nil":
                toks.append(_Tok(T_NIL, word))
            else:
                toks.append(_Tok(T_IDENT, word))
            i = j
        elif ch == "(":
            depth += 1
            toks.append(_Tok(T_LPAREN, ch))
            i += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise TemplateError(f"unexpected right paren {ch!r}")
            toks.append(_Tok(T_RPAREN, ch))
            i += 1
        elif ch.isascii() and ch.isprintable():
            toks.append(_Tok(T_OTHER, ch))
            i += 1
        else:
            raise TemplateError(f"unrecognized character in action: {ch!r}")


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Field:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Variable:
    names: tuple[str, ...]  # names[0] == "$"


@dataclass(frozen=True)
class Chain:
    node: Any
    names: tuple[str, ...]


@dataclass(frozen=True)
class Dot:
    pass


@dataclass(frozen=True)
class Nil:
    pass


@dataclass(frozen=True)
class Literal:
    value: Any  # bool or str
    text: str


@dataclass(frozen=True)
class Number:
    text: str
    is_int: bool
    int_value: int
    float_value: float
    ideal: Any  # the value when no type is known (Go's idealConstant)


@dataclass(frozen=True)
class Identifier:
    name: str


@dataclass(frozen=True)
class Command:
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Pipe:
    cmds: tuple[Command, ...]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Action:
    pipe: Pipe


@dataclass(frozen=True)
class If:
    pipe: Pipe
    then: tuple[Any, ...]
    otherwise: tuple[Any, ...] | None


def _number(text: str) -> Number:
    clean = text.replace("_", "")
    body = clean.lstrip("+-")
    lower = body.lower()
    if lower.startswith("0x") and ("." in lower or "p" in lower):
        raise TemplateUnsupported("hexadecimal floating-point literals")
    if lower.startswith(("0x", "0o", "0b")) or ("." not in body and "e" not in lower):
        try:
            if lower.startswith(("0x", "0o", "0b")):
                value = int(body, 0)
            elif len(body) > 1 and body[0] == "0":
                value = int(body, 8)
            else:
                value = int(body)
        except ValueError:
            raise TemplateError(f"illegal number syntax: {text!r}") from None
        if clean.startswith("-"):
            value = -value
        if not -(2**63) <= value < 2**63:
            raise TemplateUnsupported(f"number {text} does not fit int64")
        return Number(text, True, value, float(value), value)
    try:
        f = float(clean)
    except ValueError:
        raise TemplateError(f"illegal number syntax: {text!r}") from None
    is_int = f.is_integer() and -(2**63) <= f < 2**63
    return Number(text, is_int, int(f) if is_int else 0, f, f)


class _Parser:
    """Recursive descent over the lexed actions, following Go's parse package."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.items = self._split(text)
        self.pos = 0

    @staticmethod
    def _split(s: str) -> list[Any]:
        items: list[Any] = []
        pos = 0
        trim_next = False
        n = len(s)
        while True:
            start = s.find("{{", pos)
            chunk = s[pos:] if start < 0 else s[pos:start]
            if trim_next:
                chunk = chunk.lstrip(_SPACE)
            if start < 0:
                if chunk:
                    items.append(Text(chunk))
                return items
            j = start + 2
            if j + 1 < n and s[j] == "-" and s[j + 1] in _SPACE:
                chunk = chunk.rstrip(_SPACE)
                j += 2
            if chunk:
                items.append(Text(chunk))
            if s.startswith("/*", j):
                close = s.find("*/", j + 2)
                if close < 0:
                    raise TemplateError("unclosed comment")
                delim, trim = _at_right_delim(s, close + 2)
                if not delim:
                    raise TemplateError("comment ends before closing delimiter")
                pos = close + 2 + (4 if trim else 2)
                trim_next = trim
                continue
            toks, pos, trim_next = _lex_action(s, j)
            items.append(toks)

    # -- list level

    def parse(self) -> tuple[Any, ...]:
        nodes, stop = self._list()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop}}}}}")
        return nodes

    def _list(self) -> tuple[tuple[Any, ...], str | None]:
        nodes: list[Any] = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            if isinstance(item, Text):
                nodes.append(item)
                continue
            toks = list(item)
            first = next((t for t in toks if t.kind != T_SPACE), None)
            if first is None:
                raise TemplateError("missing value for command")
            if first.kind == T_KEYWORD:
                rest = toks[toks.index(first) + 1 :]
                word = first.text
                if word in ("end", "else"):
                    self._pending = rest
                    return tuple(nodes), word
                if word == "if":
                    nodes.append(self._if(rest))
                    continue
                raise TemplateUnsupported(f"the {{{{{word}}}}} action (supported actions: if, else if, else, end)")
            nodes.append(Action(self._pipeline(toks, "command")))
        return tuple(nodes), None

    def _if(self, toks: list[_Tok]) -> If:
        pipe = self._pipeline(toks, "if")
        then, stop = self._list()
        if stop is None:
            raise TemplateError("unexpected EOF")
        if stop == "end":
            if any(t.kind != T_SPACE for t in self._pending):
                raise TemplateError("unexpected token in end")
            return If(pipe, then, None)
        rest = self._pending
        significant = [t for t in rest if t.kind != T_SPACE]
        if significant and significant[0].kind == T_KEYWORD and significant[0].text == "if":
            nested = self._if(rest[rest.index(significant[0]) + 1 :])
            return If(pipe, then, (nested,))
        if significant and significant[0].kind == T_KEYWORD:
            raise TemplateUnsupported(f"{{{{else {significant[0].text}}}}}")
        if significant:
            raise TemplateError("unexpected token in else")
        otherwise, stop = self._list()
        if stop != "end":
            raise TemplateError("expected end; found " + (stop or "EOF"))
        if any(t.kind != T_SPACE for t in self._pending):
            raise TemplateError("unexpected token in end")
        return If(pipe, then, otherwise)

    # -- pipelines (over one action's tokens)

    def _pipeline(self, toks: list[_Tok], context: str) -> Pipe:
        stream = _TokStream(toks)
        pipe = self._pipe(stream, context, end=None)
        leftover = stream.peek() if not stream.at_end() else None
        if leftover is not None:
            raise TemplateError(f"unexpected {leftover.text!r} in {context}")
        return pipe

    def _pipe(self, st: _TokStream, context: str, end: int | None) -> Pipe:
        st.skip_space()
        tok = st.peek()
        if tok is not None and tok.kind == T_VARIABLE:
            after = st.lookahead_nonspace(1)
            if (after is not None and after.kind in (T_DECLARE, T_ASSIGN)) or (after is not None and after.text == ","):
                raise TemplateUnsupported("variable declarations ($x := ...)")
        cmds: list[Command] = []
        while True:
            st.skip_space()
            tok = st.peek()
            if tok is None or tok.kind == end or (end is None and tok.kind == T_RPAREN):
                break
            cmds.append(self._command(st, end))
            tok = st.peek()
            if tok is not None and tok.kind == T_PIPE:
                st.next()
                continue
            break
        if not cmds:
            raise TemplateError(f"missing value for {context}")
        for index, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], (Literal, Dot, Nil, Number)):
                raise TemplateError(f"non executable command in pipeline stage {index}")
        return Pipe(tuple(cmds))

    def _command(self, st: _TokStream, end: int | None) -> Command:
        args: list[Any] = []
        while True:
            st.skip_space()
            operand = self._operand(st)
            if operand is not None:
                args.append(operand)
            tok = st.peek()
            if tok is None or tok.kind == T_RPAREN or tok.kind == T_PIPE:
                break
            if tok.kind == T_SPACE:
                continue
            raise TemplateError(f"unexpected {tok.text!r} in operand")
        if not args:
            raise TemplateError("empty command")
        return Command(tuple(args))

    def _operand(self, st: _TokStream) -> Any:
        node = self._term(st)
        if node is None:
            return None
        names: list[str] = []
        while (tok := st.peek()) is not None and tok.kind == T_FIELD:
            st.next()
            names.extend(tok.text[1:].split("."))
        if not names:
            return node
        if isinstance(node, Field):
            return Field(node.names + tuple(names))
        if isinstance(node, Variable):
            return Variable(node.names + tuple(names))
        if isinstance(node, (Literal, Number, Nil, Dot)):
            raise TemplateError("unexpected . after term")
        return Chain(node, tuple(names))

    def _term(self, st: _TokStream) -> Any:
        tok = st.peek()
        if tok is None:
            return None
        kind = tok.kind
        if kind == T_IDENT:
            st.next()
            _check_function(tok.text)
            return Identifier(tok.text)
        if kind == T_DOT:
            st.next()
            return Dot()
        if kind == T_NIL:
            st.next()
            return Nil()
        if kind == T_VARIABLE:
            st.next()
            head, *rest = tok.text.split(".")
            if head != "$":
                raise TemplateError(f"undefined variable {head!r}")
            return Variable(("$", *rest))
        if kind == T_FIELD:
            st.next()
            return Field(tuple(tok.text[1:].split(".")))
        if kind == T_BOOL:
            st.next()
            return Literal(tok.text == "true", tok.text)
        if kind == T_NUMBER:
            st.next()
            return _number(tok.text)
        if kind == T_STRING:
            st.next()
            return Literal(tok.text, go_quote(tok.text))
        if kind == T_LPAREN:
            st.next()
            pipe = self._pipe(st, "parenthesized pipeline", end=T_RPAREN)
            closing = st.next()
            if closing is None or closing.kind != T_RPAREN:
                raise TemplateError("unclosed left paren")
            return pipe
        if kind == T_KEYWORD:
            raise TemplateUnsupported(f"the {tok.text!r} keyword inside an action")
        return None


class _TokStream:
    def __init__(self, toks: Sequence[_Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> _Tok | None:
        tok = self.peek()
        self.i += 1
        return tok

    def skip_space(self) -> None:
        while (tok := self.peek()) is not None and tok.kind == T_SPACE:
            self.i += 1

    def lookahead_nonspace(self, count: int) -> _Tok | None:
        seen = 0
        for tok in self.toks[self.i + 1 :]:
            if tok.kind == T_SPACE:
                continue
            seen += 1
            if seen == count:
                return tok
        return None

    def at_end(self) -> bool:
        self.skip_space()
        return self.peek() is None


# ---------------------------------------------------------------- values

ANY, VALUE, STRING, INT, BOOL = "interface {}", "reflect.Value", "string", "int", "bool"
_NO_FINAL = object()


def _truth(v: Any) -> bool:
    """text/template's isTrue (a nil or missing value is simply false)."""
    if v is MISSING or v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, dict, list)):
        return len(v) > 0
    return True


def _empty(v: Any) -> bool:
    """Sprig's empty()."""
    return not _truth(v)


def _strval(v: Any) -> str:
    return v if isinstance(v, str) else go_sprint(v)


def _basic_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "invalid"


def _indirect(v: Any) -> Any:
    return MISSING if v is None else v


def _eq(arg1: Any, *others: Any) -> bool:
    arg1 = _indirect(arg1)
    if not others:
        raise TemplateError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in others:
        arg = _indirect(arg)
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not MISSING and arg is not MISSING:
                raise TemplateError("incompatible types for comparison")
            truth = False
        elif k1 == "invalid":
            if arg1 is MISSING and arg is MISSING:
                truth = True
            else:
                raise TemplateUnsupported("comparing maps or lists with eq/ne")
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    a, b = _indirect(a), _indirect(b)
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka == "invalid" or kb == "invalid":
        raise TemplateError("invalid type for comparison")
    if ka != kb:
        raise TemplateError("incompatible types for comparison")
    if ka == "bool":
        raise TemplateError("invalid type for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _not(v: Any) -> bool:
    return not _truth(v)


def _len(v: Any) -> int:
    if v is MISSING:
        raise TemplateError("len of untyped nil")
    if v is None:
        raise TemplateError("len of nil pointer")
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    if isinstance(v, (dict, list)):
        return len(v)
    raise TemplateError(f"len of type {go_type_name(v)}")


def _index(item: Any, *indexes: Any) -> Any:
    item = _indirect(item)
    if item is MISSING:
        raise TemplateError("index of untyped nil")
    for index in indexes:
        index = _indirect(index)
        if item is None:
            raise TemplateError("index of nil pointer")
        if isinstance(item, (list, str)):
            if index is MISSING:
                raise TemplateError("cannot index slice/array with nil")
            if not isinstance(index, int) or isinstance(index, bool):
                raise TemplateError(f"cannot index slice/array with type {go_type_name(index)}")
            size = len(item.encode("utf-8")) if isinstance(item, str) else len(item)
            if index < 0 or index >= size:
                raise TemplateError(f"index out of range: {index}")
            item = item.encode("utf-8")[index] if isinstance(item, str) else item[index]
        elif isinstance(item, dict):
            if not isinstance(index, str):
                raise TemplateError(f"value has type {go_type_name(index)}; should be string")
            if index in item:
                item = item[index]
            else:
                item = "" if isinstance(item, StringMap) else None
        else:
            raise TemplateError(f"can't index item of type {go_type_name(item)}")
    return item


def _print(*args: Any) -> str:
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_sprint(arg))
    return "".join(out)


def _bad_verb(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(v)}={go_sprint(v)})"


def _format_verb(verb: str, v: Any) -> str:
    if verb == "v":
        return go_sprint(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{_format_verb(verb, k)}:{_format_verb(verb, v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_format_verb(verb, x) for x in v) + "]"
    if verb == "s":
        return v if isinstance(v, str) else _bad_verb(verb, v)
    if verb == "d":
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else _bad_verb(verb, v)
    if verb == "q":
        if isinstance(v, str):
            return go_quote(v)
        if isinstance(v, int) and not isinstance(v, bool):
            raise TemplateUnsupported("printf %q of an integer")
        return _bad_verb(verb, v)
    raise TemplateUnsupported(f"printf verb %{verb}")


def _printf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    arg_i = 0
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(fmt):
            out.append("%!(NOVERB)")
            break
        verb = fmt[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if verb not in "sdvq":
            raise TemplateUnsupported(f"printf verb or flag %{verb}")
        if arg_i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_verb(verb, args[arg_i]))
        arg_i += 1
    if arg_i < len(args):
        extra = ", ".join("<nil>" if a is None else f"{go_type_name(a)}={go_sprint(a)}" for a in args[arg_i:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _default(d: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return d
    return given[0]


def _coalesce(*values: Any) -> Any:
    for v in values:
        if not _empty(v):
            return v
    return None


def _quote(*values: Any) -> str:
    return " ".join(go_quote(_strval(v)) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join("'" + _strval(v) + "'" for v in values if v is not None)


def _to_json(v: Any) -> str:
    try:
        return go_json(v)
    except ValueError:
        return ""


def _to_yaml(v: Any) -> str:
    try:
        return to_yaml(v)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def _strslice(v: Any) -> list[str]:
    if isinstance(v, list):
        return [_strval(x) for x in v if x is not None]
    if v is None:
        return []
    return [_strval(v)]


def _join(sep: str, v: Any) -> str:
    return sep.join(_strslice(v))


def _split_list(sep: str, orig: str) -> StringList:
    if sep == "":
        return StringList(orig)
    return StringList(orig.split(sep))


def _trunc(c: int, s: str) -> str:
    data = s.encode("utf-8")
    if c < 0 and len(data) + c > 0:
        data = data[len(data) + c :]
    elif c >= 0 and len(data) > c:
        data = data[:c]
    else:
        return s
    return data.decode("utf-8", errors="replace")


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise TemplateError("dig needs at least three arguments")
    mapping = args[-1]
    default = args[-2]
    keys = args[:-2]
    if not isinstance(mapping, dict) or isinstance(mapping, StringMap):
        raise TemplateError(f"interface conversion: interface {{}} is {go_type_name(mapping)}, not map[string]interface {{}}")
    for key in keys:
        if not isinstance(key, str):
            raise TemplateError(f"interface conversion: interface {{}} is {go_type_name(key)}, not string")
    current: Any = mapping
    for n, key in enumerate(keys):
        if key not in current:
            return default
        step = current[key]
        if n == len(keys) - 1:
            return step
        if not isinstance(step, dict) or isinstance(step, StringMap):
            raise TemplateError(f"interface conversion: interface {{}} is {go_type_name(step)}, not map[string]interface {{}}")
        current = step
    return default


def _slugify(*args: Any) -> str:
    max_size, smart, name = 50, True, ""
    for idx, arg in enumerate(args):
        if idx == len(args) - 1:
            if not isinstance(arg, str):
                raise TemplateError(f"interface conversion: interface {{}} is {go_type_name(arg)}, not string")
            name = arg
        elif idx == 0:
            if not isinstance(arg, int) or isinstance(arg, bool):
                raise TemplateError(f"interface conversion: interface {{}} is {go_type_name(arg)}, not int")
            max_size = arg
        elif idx == 1:
            if not isinstance(arg, bool):
                raise TemplateError(f"interface conversion: interface {{}} is {go_type_name(arg)}, not bool")
            smart = arg
    if max_size < 0:
        raise TemplateUnsupported("slugify with a negative maximum length")
    return slug_make(sanitize_name(name), max_size, smart)


def _cat(*values: Any) -> str:
    """Sprig's cat: the non-nil arguments formatted with %v, space-separated."""
    return " ".join(go_sprint(v) for v in values if v is not None)


def _base(p: str) -> str:
    """Go's path.Base (Sprig's base): not Python's basename, which maps "a/" to ""."""
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p[p.rfind("/") + 1 :]


def _indent(spaces: int, v: str) -> str:
    if spaces < 0:
        raise TemplateError("strings: negative Repeat count")
    pad = " " * spaces
    return pad + v.replace("\n", "\n" + pad)


@dataclass(frozen=True)
class Func:
    """One template function: Go's parameter types (they decide how arguments
    convert and which type errors Go reports) and the implementation."""

    params: tuple[str, ...]
    variadic: str | None
    impl: Callable[..., Any]


# The template functions this evaluator implements: the one registry the parser
# checks names against and the package docstring's scope statement lists (a
# test checks they agree). Other Go/Sprig names are refused, unknown names fail.
FUNCTIONS: dict[str, Func] = {
    # text/template builtins
    "and": Func((VALUE,), VALUE, lambda *a: None),
    "or": Func((VALUE,), VALUE, lambda *a: None),
    "not": Func((VALUE,), None, _not),
    "eq": Func((VALUE,), VALUE, _eq),
    "ne": Func((VALUE, VALUE), None, _ne),
    "lt": Func((VALUE, VALUE), None, _lt),
    "le": Func((VALUE, VALUE), None, _le),
    "gt": Func((VALUE, VALUE), None, _gt),
    "ge": Func((VALUE, VALUE), None, _ge),
    "len": Func((VALUE,), None, _len),
    "index": Func((VALUE,), VALUE, _index),
    "print": Func((), ANY, _print),
    "printf": Func((STRING,), ANY, _printf),
    # Sprig
    "default": Func((ANY,), ANY, _default),
    "empty": Func((ANY,), None, _empty),
    "coalesce": Func((), ANY, _coalesce),
    "lower": Func((STRING,), None, go_lower),
    "upper": Func((STRING,), None, go_upper),
    "title": Func((STRING,), None, go_title),
    "trim": Func((STRING,), None, go_trim_space),
    "trimPrefix": Func((STRING, STRING), None, lambda prefix, s: s[len(prefix):] if s.startswith(prefix) else s),
    "trimSuffix": Func((STRING, STRING), None, lambda suffix, s: s[: len(s) - len(suffix)] if suffix and s.endswith(suffix) else s),
    "replace": Func((STRING, STRING, STRING), None, lambda old, new, s: s.replace(old, new)),
    "cat": Func((), ANY, _cat),
    "indent": Func((INT, STRING), None, _indent),
    "base": Func((STRING,), None, _base),
    "trunc": Func((INT, STRING), None, _trunc),
    "contains": Func((STRING, STRING), None, lambda sub, s: sub in s),
    "hasPrefix": Func((STRING, STRING), None, lambda prefix, s: s.startswith(prefix)),
    "hasSuffix": Func((STRING, STRING), None, lambda suffix, s: s.endswith(suffix)),
    "quote": Func((), ANY, _quote),
    "squote": Func((), ANY, _squote),
    "toJson": Func((ANY,), None, _to_json),
    "join": Func((STRING, ANY), None, _join),
    "splitList": Func((STRING, STRING), None, _split_list),
    "dig": Func((), ANY, _dig),
    # Argo CD additions
    "normalize": Func((STRING,), None, sanitize_name),
    "slugify": Func((), ANY, _slugify),
    "toYaml": Func((ANY,), None, _to_yaml),
}

_GO_BUILTINS = {"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
                "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"}
_SPRIG = set("""
hello ago date date_in_zone date_modify dateInZone dateModify duration durationRound htmlDate htmlDateInZone
must_date_modify mustDateModify mustToDate now toDate unixEpoch abbrev abbrevboth trunc trim upper lower title
untitle substr repeat trimall trimAll trimSuffix trimPrefix nospace initials randAlphaNum randAlpha randAscii
randNumeric swapcase shuffle snakecase camelcase kebabcase wrap wrapWith contains hasPrefix hasSuffix quote squote
cat indent nindent replace plural sha1sum sha256sum sha512sum adler32sum toString atoi int64 int float64 seq
toDecimal split splitList splitn toStrings until untilStep add1 add sub div mod mul randInt add1f addf subf divf
mulf biggest max min maxf minf ceil floor round join sortAlpha default empty coalesce all any compact mustCompact
fromJson toJson toPrettyJson toRawJson mustFromJson mustToJson mustToPrettyJson mustToRawJson ternary deepCopy
mustDeepCopy typeOf typeIs typeIsLike kindOf kindIs deepEqual base dir clean ext isAbs osBase osClean osDir osExt
osIsAbs b64enc b64dec b32enc b32dec tuple list dict get set unset hasKey pluck keys pick omit merge mergeOverwrite
mustMerge mustMergeOverwrite values append push mustAppend mustPush prepend mustPrepend first mustFirst rest
mustRest last mustLast initial mustInitial reverse mustReverse uniq mustUniq without mustWithout has mustHas slice
mustSlice concat dig chunk mustChunk bcrypt htpasswd genPrivateKey derivePassword buildCustomCert genCA
genCAWithKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert genSignedCertWithKey encryptAES decryptAES
randBytes uuidv4 semver semverCompare fail regexMatch mustRegexMatch regexFindAll mustRegexFindAll regexFind
mustRegexFind regexReplaceAll mustRegexReplaceAll regexReplaceAllLiteral mustRegexReplaceAllLiteral regexSplit
mustRegexSplit regexQuoteMeta urlParse urlJoin
""".split())
_ARGO = {"normalize", "slugify", "toYaml", "fromYaml", "fromYamlArray"}
KNOWN_FUNCTIONS = frozenset(_GO_BUILTINS | _SPRIG | _ARGO)


def _check_function(name: str) -> None:
    if name in FUNCTIONS:
        return
    if name in KNOWN_FUNCTIONS:
        raise TemplateUnsupported(f"template function {name!r} (supported: {', '.join(sorted(FUNCTIONS))})")
    close = difflib.get_close_matches(name, FUNCTIONS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise TemplateError(
        f'function "{name}" not defined ({hint}Argo CD fails on it too; the functions evaluated here: '
        f"{', '.join(sorted(FUNCTIONS))})"
    )


# ---------------------------------------------------------------- execution


class _Exec:
    def __init__(self, data: Any, missingkey: str) -> None:
        self.data = data
        self.missingkey = missingkey

    def walk(self, nodes: Sequence[Any], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(self.data, node.pipe)
                out.append(go_sprint(value))
            else:
                if _truth(self.pipeline(self.data, node.pipe)):
                    self.walk(node.then, out)
                elif node.otherwise is not None:
                    self.walk(node.otherwise, out)

    def pipeline(self, dot: Any, pipe: Pipe) -> Any:
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
            if value is None:
                value = MISSING  # Go digs the nil out of its interface{}: invalid
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.field_chain(dot, first.names, cmd.args, final)
        if isinstance(first, Chain):
            receiver = self.arg(dot, first.node, ANY)
            return self.field_chain(receiver, first.names, cmd.args, final)
        if isinstance(first, Identifier):
            return self.call(dot, first.name, cmd.args[1:], final)
        if isinstance(first, Variable):
            if len(first.names) == 1:
                self.not_a_function(cmd.args, final)
                return self.data
            return self.field_chain(self.data, first.names[1:], cmd.args, final)
        self.not_a_function(cmd.args, final)
        if isinstance(first, Pipe):
            return self.pipeline(dot, first)
        if isinstance(first, Dot):
            return dot
        if isinstance(first, Nil):
            raise TemplateError("nil is not a command")
        if isinstance(first, Number):
            return first.ideal
        return first.value

    @staticmethod
    def not_a_function(args: Sequence[Any], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise TemplateError("can't give argument to non-function")

    def field_chain(self, receiver: Any, names: Sequence[str], args: Sequence[Any], final: Any) -> Any:
        for name in names[:-1]:
            receiver = self.field(receiver, name, has_args=False)
        return self.field(receiver, names[-1], has_args=len(args) > 1 or final is not _NO_FINAL)

    def field(self, receiver: Any, name: str, has_args: bool) -> Any:
        if receiver is MISSING:
            if self.missingkey == "error":
                raise TemplateError(f'nil data; no entry for key "{name}"')
            return MISSING
        if receiver is None:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, dict):
            if has_args:
                raise TemplateError(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missingkey == "zero":
                return "" if isinstance(receiver, StringMap) else None
            if self.missingkey == "error":
                raise MissingKeyError(f'map has no entry for key "{name}"')
            return MISSING
        raise TemplateError(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def arg(self, dot: Any, node: Any, ptype: str) -> Any:
        if isinstance(node, Dot):
            return self.validate(dot, ptype)
        if isinstance(node, Nil):
            if ptype == ANY:
                return None
            if ptype == VALUE:
                return MISSING
            raise TemplateError(f"cannot assign nil to {ptype}")
        if isinstance(node, Field):
            return self.validate(self.field_chain(dot, node.names, (node,), _NO_FINAL), ptype)
        if isinstance(node, Variable):
            value = self.data if len(node.names) == 1 else self.field_chain(self.data, node.names[1:], (node,), _NO_FINAL)
            return self.validate(value, ptype)
        if isinstance(node, Pipe):
            return self.validate(self.pipeline(dot, node), ptype)
        if isinstance(node, Identifier):
            return self.validate(self.call(dot, node.name, (), _NO_FINAL), ptype)
        if isinstance(node, Chain):
            receiver = self.arg(dot, node.node, ANY)
            return self.validate(self.field_chain(receiver, node.names, (node,), _NO_FINAL), ptype)
        if ptype == BOOL:
            if isinstance(node, Literal) and isinstance(node.value, bool):
                return node.value
            raise TemplateError(f"expected bool; found {_node_text(node)}")
        if ptype == STRING:
            if isinstance(node, Literal) and isinstance(node.value, str):
                return node.value
            raise TemplateError(f"expected string; found {_node_text(node)}")
        if ptype == INT:
            if isinstance(node, Number) and node.is_int:
                return node.int_value
            raise TemplateError(f"expected integer; found {_node_text(node)}")
        if isinstance(node, Number):
            return node.ideal
        return node.value

    @staticmethod
    def validate(value: Any, ptype: str) -> Any:
        if value is MISSING:
            if ptype == ANY:
                return None
            if ptype == VALUE:
                return MISSING
            raise TemplateError(f"invalid value; expected {ptype}")
        if ptype in (ANY, VALUE):
            return value
        if value is None:
            raise TemplateError(f"wrong type for value; expected {ptype}; got interface {{}}")
        ok = {
            STRING: isinstance(value, str),
            INT: isinstance(value, int) and not isinstance(value, bool),
            BOOL: isinstance(value, bool),
        }[ptype]
        if not ok:
            raise TemplateError(f"wrong type for value; expected {ptype}; got {go_type_name(value)}")
        return value

    def call(self, dot: Any, name: str, arg_nodes: Sequence[Any], final: Any) -> Any:
        fn = FUNCTIONS[name]
        num_in = len(arg_nodes) + (final is not _NO_FINAL)
        fixed = len(fn.params)
        if fn.variadic is not None:
            if num_in < fixed:
                raise TemplateError(f"wrong number of args for {name}: want at least {fixed} got {len(arg_nodes)}")
        elif num_in != fixed:
            raise TemplateError(f"wrong number of args for {name}: want {fixed} got {num_in}")

        def ptype(i: int) -> str:
            return fn.params[i] if i < fixed else str(fn.variadic)

        if name in ("and", "or"):
            want = name == "or"
            value: Any = MISSING
            for node in arg_nodes:
                value = self.arg(dot, node, VALUE)
                if _truth(value) == want:
                    return value
            if final is not _NO_FINAL:
                value = self.validate(final, VALUE)
            return value
        argv = [self.arg(dot, node, ptype(i)) for i, node in enumerate(arg_nodes)]
        if final is not _NO_FINAL:
            argv.append(self.validate(final, ptype(len(arg_nodes))))
        try:
            return fn.impl(*argv)
        except TemplateError as exc:
            raise TemplateError(f"error calling {name}: {exc}") from None


def _node_text(node: Any) -> str:
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Literal):
        return node.text
    return type(node).__name__.lower()


@dataclass(frozen=True)
class Template:
    """A parsed template; parse once, execute for every parameter set."""

    text: str
    nodes: tuple[Any, ...]

    def execute(self, data: Any, missingkey: str = "default") -> str:
        out: list[str] = []
        _Exec(data, MISSING_KEY_MODES[missingkey]).walk(self.nodes, out)
        return "".join(out)


@functools.lru_cache(maxsize=8192)
def parse(text: str) -> Template:
    """Parse ``text``; raises TemplateError/TemplateUnsupported like Go's Parse
    would (unknown functions are parse errors in Go too)."""
    return Template(text, _Parser(text).parse())


def render(text: str, data: Any, missingkey: str = "default") -> str:
    """Execute ``text`` against ``data`` (Argo's Replace in goTemplate mode)."""
    if "{{" not in text:
        return text
    return parse(text).execute(data, missingkey)
