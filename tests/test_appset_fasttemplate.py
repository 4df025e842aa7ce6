"""fasttemplate substitution used by ApplicationSets without goTemplate."""

from __future__ import annotations

import pytest

from gitops.appset.fasttemplate import FastTemplateError, replace

PARAMS = {"name": "guestbook", "path.basename": "web", "replicas": 3.0, "values.env": "prod"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{name}}", "guestbook"),
        ("app-{{ name }}-{{\tname }}", "app-guestbook-guestbook"),
        ("{{path.basename}}", "web"),
        ("{{values.env}}", "prod"),
    ],
)
def test_string_parameters_are_substituted_with_the_tag_trimmed(text: str, expected: str) -> None:
    assert replace(text, PARAMS) == expected


def test_a_non_string_parameter_is_left_verbatim() -> None:
    assert replace("n={{ replicas }}", PARAMS) == "n={{ replicas }}"


def test_an_unknown_parameter_is_left_verbatim() -> None:
    assert replace("{{ nope }}/{{name}}", PARAMS) == "{{ nope }}/guestbook"


def test_an_empty_tag_is_left_verbatim() -> None:
    assert replace("a{{  }}b", PARAMS) == "a{{  }}b"


def test_an_unterminated_tag_after_a_complete_one_is_an_error() -> None:
    with pytest.raises(FastTemplateError, match="cannot find end tag"):
        replace("{{name}} {{name", PARAMS)


def test_a_tag_split_over_lines_does_not_pass_the_guard_and_is_kept() -> None:
    assert replace("{{name\n}}", PARAMS) == "{{name\n}}"


def test_a_lone_opening_brace_pair_without_any_closing_is_kept() -> None:
    assert replace("{{ name", PARAMS) == "{{ name"


def test_go_template_syntax_is_not_interpreted() -> None:
    assert replace("{{ .name | upper }}", PARAMS) == "{{ .name | upper }}"
