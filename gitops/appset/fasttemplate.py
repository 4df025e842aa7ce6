"""Argo CD's default ("fasttemplate") string substitution.

Only ``{{ key }}`` tags whose trimmed key names a *string* parameter are
replaced; every other tag is written back verbatim, so a missing parameter is
never an error and a number parameter is never substituted. The only failure is
an unterminated ``{{``, and only when the string passes Argo's guard regex (a
``{{`` and a later ``}}`` on the same line somewhere in the string).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .govalues import go_quote, go_trim_space

_TEMPLATED = re.compile(r".*\{\{.*\}\}.*")  # Go's RE2 '.' does not match '\n' either


class FastTemplateError(Exception):
    """fasttemplate could not parse the string (an unterminated ``{{``)."""


def replace(text: str, params: Mapping[str, Any]) -> str:
    """Argo CD's Replace with ``goTemplate: false``."""
    if "{{" not in text or not _TEMPLATED.search(text):
        return text
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        end = text.find("}}", start + 2)
        if end < 0:
            raise FastTemplateError(
                f"cannot find end tag \"}}}}\" in the template {go_quote(text)} starting from {go_quote(text[start + 2:])}"
            )
        tag = text[start + 2 : end]
        key = go_trim_space(tag)
        value = params.get(key)
        if key and isinstance(value, str):
            out.append(value)
        else:
            out.append("{{" + tag + "}}")
        pos = end + 2
