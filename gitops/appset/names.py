"""Name and case transformations with Go's per-rune semantics.

Python's str.lower()/upper() use full Unicode case mappings ("ß".upper() is
"SS", final sigma is context dependent); Go maps rune by rune. The difference
changes names, so the Go behaviour is reproduced here.
"""

from __future__ import annotations

import re
import unicodedata

_INVALID_DNS_CHARS = re.compile(r"[^-a-z0-9.]")
_NON_SLUG_CHARS = re.compile(r"[^a-zA-Z0-9\-_]")
_DASHES = re.compile(r"-+")
_SPECIAL_LOWER = {"\u0130": "i"}  # the one rune whose full lowercase is two runes


def _rune_lower(ch: str) -> str:
    if ch in _SPECIAL_LOWER:
        return _SPECIAL_LOWER[ch]
    low = ch.lower()
    return low if len(low) == 1 else ch


def _rune_upper(ch: str) -> str:
    up = ch.upper()
    return up if len(up) == 1 else ch


def _rune_title(ch: str) -> str:
    t = ch.title()
    return t if len(t) == 1 else _rune_upper(ch)


def go_lower(s: str) -> str:
    """strings.ToLower."""
    return s.lower() if s.isascii() else "".join(map(_rune_lower, s))


def go_upper(s: str) -> str:
    """strings.ToUpper."""
    return s.upper() if s.isascii() else "".join(map(_rune_upper, s))


def _is_title_separator(ch: str) -> bool:
    if ch <= "\x7f":
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or unicodedata.category(ch) == "Nd":
        return False
    return ch.isspace()


def go_title(s: str) -> str:
    """strings.Title (Sprig ``title``): upper-cases the first rune of every word."""
    out = []
    prev = " "
    for ch in s:
        out.append(_rune_title(ch) if _is_title_separator(prev) else ch)
        prev = ch
    return "".join(out)


def sanitize_name(name: str) -> str:
    """Argo CD's SanitizeName (template function ``normalize``, ``nameNormalized``).

    Repeated dashes are kept and the result may be empty, exactly as in Argo CD."""
    cleaned = _INVALID_DNS_CHARS.sub("-", go_lower(name))
    return cleaned[:253].strip("-.")


def slug_make(text: str, max_length: int, smart_truncate: bool) -> str:
    """gosimple/slug's Make for input that SanitizeName already reduced to
    ``[-a-z0-9.]`` (so the transliteration steps are no-ops)."""
    slug = text.strip()
    if not smart_truncate and len(slug) >= max_length:
        slug = slug[:max_length]
    slug = _NON_SLUG_CHARS.sub("-", slug)
    slug = _DASHES.sub("-", slug)
    slug = slug.strip("-_")
    if max_length > 0 and smart_truncate and len(slug) > max_length:
        for i in range(max_length, -1, -1):
            if slug[i] == "-":
                return slug[:i]
        return slug[:max_length]
    return slug
