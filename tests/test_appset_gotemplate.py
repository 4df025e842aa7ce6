"""Go text/template + Sprig subset used by goTemplate ApplicationSets."""

from __future__ import annotations

import pytest

from gitops.appset.gotemplate import MissingKeyError, TemplateError, TemplateUnsupported, render
from gitops.appset.govalues import StringList, StringMap
from gitops.appset.names import sanitize_name
from gitops.appset.yamlio import to_yaml

PARAMS = {
    "name": "Guest Book",
    "big": 1000000.0,
    "small": 100000.0,
    "half": 1.5,
    "flag": True,
    "nothing": None,
    "list": ["a", 2.0],
    "metadata": {"labels": StringMap({"env": "prod"})},
    "path": {"path": "apps/web", "segments": StringList(["apps", "web"])},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ .big }}", "1e+06"),
        ("{{ .small }}", "100000"),
        ("{{ .half }}", "1.5"),
        ("{{ .flag }}", "true"),
        ("{{ .list }}", "[a 2]"),
        ("{{ .path.segments }}", "[apps web]"),
        ("{{ .metadata }}", "map[labels:map[env:prod]]"),
    ],
)
def test_values_print_with_go_v_formatting(template: str, expected: str) -> None:
    assert render(template, PARAMS) == expected


@pytest.mark.parametrize("template", ["{{ .missing }}", "{{ .missing.sub }}", "{{ .nothing }}"])
def test_missing_and_null_values_print_no_value_by_default(template: str) -> None:
    assert render(template, PARAMS) == "<no value>"


def test_missingkey_zero_gives_empty_string_for_a_string_map() -> None:
    assert render("[{{ .metadata.labels.team }}]", PARAMS, "zero") == "[]"


def test_missingkey_zero_still_prints_no_value_for_an_interface_map() -> None:
    assert render("{{ .missing }}", PARAMS, "zero") == "<no value>"


def test_missingkey_zero_fails_on_a_field_of_a_missing_key() -> None:
    with pytest.raises(TemplateError, match="nil pointer evaluating"):
        render("{{ .missing.sub }}", PARAMS, "zero")


def test_missingkey_error_raises_a_missing_key_error() -> None:
    with pytest.raises(MissingKeyError, match='no entry for key "missing"'):
        render("{{ .missing }}", PARAMS, "error")


def test_index_of_a_missing_label_is_empty_even_with_missingkey_error() -> None:
    assert render('[{{ index .metadata.labels "team" }}]', PARAMS, "error") == "[]"


def test_field_of_a_null_value_fails_even_by_default() -> None:
    with pytest.raises(TemplateError, match="nil pointer"):
        render("{{ .nothing.sub }}", PARAMS)


def test_trim_markers_remove_whitespace_around_the_action() -> None:
    assert render("a \n {{- .flag -}} \n b", PARAMS) == "atrueb"


def test_a_dash_without_space_is_a_negative_number_not_a_trim_marker() -> None:
    assert render("x {{-3}}", PARAMS) == "x -3"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ if .flag }}A{{ else }}B{{ end }}", "A"),
        ("{{ if .missing }}A{{ else if .flag }}B{{ else }}C{{ end }}", "B"),
        ("{{ if .nothing }}A{{ else if .missing }}B{{ else }}C{{ end }}", "C"),
        ("{{ if eq .name \"Guest Book\" }}yes{{ end }}", "yes"),
    ],
)
def test_if_chains_take_the_first_true_branch(template: str, expected: str) -> None:
    assert render(template, PARAMS) == expected


def test_a_pipeline_passes_the_value_as_the_last_argument() -> None:
    assert render('{{ .name | lower | replace " " "-" }}', PARAMS) == "guest-book"


def test_a_parenthesised_call_is_an_argument() -> None:
    assert render('{{ printf "%s/%s" (index .list 0) .path.path }}', PARAMS) == "a/apps/web"


def test_dollar_refers_to_the_root_parameters() -> None:
    assert render("{{ $.path.path }}", PARAMS) == "apps/web"


def test_comments_render_nothing() -> None:
    assert render("a{{/* note */}}b{{- /* trimmed */ -}} c", PARAMS) == "abc"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ upper .name }}", "GUEST BOOK"),
        ('{{ title "hello wORLD-x_y" }}', "Hello WORLD-X_y"),
        ('{{ trim "  x  " }}', "x"),
        ('{{ trimPrefix "apps/" .path.path }}', "web"),
        ('{{ trimSuffix "/web" .path.path }}', "apps"),
        ("{{ trunc 5 .name }}", "Guest"),
        ("{{ trunc -4 .name }}", "Book"),
        ('{{ contains "Book" .name }}', "true"),
        ('{{ hasPrefix "Guest" .name }}', "true"),
        ('{{ hasSuffix "x" .name }}', "false"),
        ("{{ quote .name .big }}", '"Guest Book" "1e+06"'),
        ("{{ squote .name }}", "'Guest Book'"),
        ('{{ join "," .path.segments }}', "apps,web"),
        ('{{ splitList "/" .path.path | join "." }}', "apps.web"),
        ("{{ normalize .name }}", "guest-book"),
        ("{{ slugify .name }}", "guest-book"),
        ('{{ .missing | default "dflt" }}', "dflt"),
        ('{{ default "dflt" .name }}', "Guest Book"),
        ("{{ empty .list }}", "false"),
        ('{{ coalesce .missing "" "third" }}', "third"),
        ('{{ print 1 2 "a" 3 }}', "1 2a3"),
        ('{{ printf "%s-%d-%v-%q" "x" 3 .big "y" }}', 'x-3-1e+06-"y"'),
        ('{{ printf "%d" .big }}', "%!d(float64=1e+06)"),
        ("{{ len .name }}", "10"),
        ("{{ index .list 1 }}", "2"),
        ("{{ toJson .metadata }}", '{"labels":{"env":"prod"}}'),
        ('{{ dig "path" "path" "none" . }}', "apps/web"),
        ('{{ dig "path" "nope" "none" . }}', "none"),
        ('{{ ne .name "x" }}', "true"),
        ("{{ lt .small .big }}", "true"),
        ("{{ and .flag .name }}", "Guest Book"),
        ("{{ or .missing .nothing }}", "<no value>"),
        ("{{ not .flag }}", "false"),
    ],
)
def test_supported_functions_behave_like_sprig(template: str, expected: str) -> None:
    assert render(template, PARAMS) == expected


def test_comparing_a_float_parameter_with_an_int_literal_fails_as_in_go() -> None:
    with pytest.raises(TemplateError, match="incompatible types for comparison"):
        render("{{ eq .big 1000000 }}", PARAMS)


def test_a_string_function_rejects_a_number_argument() -> None:
    with pytest.raises(TemplateError, match="expected string; got float64"):
        render("{{ lower .big }}", PARAMS)


def test_dig_refuses_a_string_map_like_sprig_does() -> None:
    with pytest.raises(TemplateError, match="error calling dig"):
        render('{{ dig "metadata" "labels" "env" "" . }}', PARAMS)


@pytest.mark.parametrize("keyword", ["range", "with", "define", "template", "block"])
def test_unsupported_action_keywords_are_refused_by_name(keyword: str) -> None:
    with pytest.raises(TemplateUnsupported, match=keyword):
        render("{{ " + keyword + ' "x" }}{{ end }}', PARAMS)


def test_a_sprig_function_that_is_not_implemented_is_refused_by_name() -> None:
    with pytest.raises(TemplateUnsupported, match="b64enc"):
        render("{{ b64enc .name }}", PARAMS)


def test_an_undefined_function_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match='function "lowr" not defined'):
        render("{{ lowr .name }}", PARAMS)


def test_functions_removed_by_argo_are_undefined() -> None:
    with pytest.raises(TemplateError, match='function "env" not defined'):
        render('{{ env "HOME" }}', PARAMS)


def test_variable_declarations_are_refused() -> None:
    with pytest.raises(TemplateUnsupported, match="variable"):
        render("{{ $x := .name }}{{ $x }}", PARAMS)


@pytest.mark.parametrize("template", ["{{ .name", "{{ if .flag }}x", "{{ end }}", "{{ 1 | 2 }}", '{{ "open }}'])
def test_malformed_templates_are_template_errors(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, PARAMS)


def test_text_without_actions_is_returned_unchanged() -> None:
    assert render("plain } text {", PARAMS) == "plain } text {"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": "true", "a": 1000000.0}, 'a: 1000000\nb: "true"'),
        ({"k10": "x", "k9": "y"}, "k9: \"y\"\nk10: x"),
        ({"m": "one\ntwo"}, "m: |-\n  one\n  two"),
        (["a", 1.5], "- a\n- 1.5"),
    ],
)
def test_to_yaml_follows_go_yaml_v2_styles_and_key_order(value: object, expected: str) -> None:
    assert to_yaml(value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("My_App--1", "my-app--1"), ("-.Trim Me.-", "trim-me"), ("x" * 300, "x" * 253), ("ÄÖ", "")],
)
def test_sanitize_name_lowercases_replaces_and_trims_without_collapsing_dashes(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_slugify_truncates_at_a_word_boundary() -> None:
    assert render('{{ slugify 12 true "Hello Big World.Again" }}', PARAMS) == "hello-big"
