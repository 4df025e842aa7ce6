"""The YAML writer: what it writes reads back as the same data, in a fixed order."""

from __future__ import annotations

import pytest
import yaml

from gitops import yamlio

TRICKY = [
    "", " ", "plain", "yes", "No", "on", "OFF", "y", "null", "~", "true", "1", "1.4.2", "0o17", "0x1F", "1e3",
    "1_000", ".5", ".5e3", ".inf", "-1", "+1", "2026-10-01", "12:30", "<<", "=", "a: b", "a #b", "trail ",
    " lead", "-x", "- x", "?x", "*alias", "&anchor", "!tag", "%dir", "@at", "`tick", "{a}", "[a]", "a,b",
    "c:d", "e:", "https://example.com/x?y=1#z", "../../base", "./x", "multi\nline", "tab\there", 'q"uote',
    "back\\slash", "\x85", "\u2028", "\u2029", "\x00", "\x7f", "\ufeff", "é café", "😀", "KEY=value with spaces",
]


@pytest.mark.parametrize("text", TRICKY, ids=repr)
def test_a_string_reads_back_as_the_same_string(text: str) -> None:
    doc = {"k": text, text or "empty": "v", "list": [text, {"m": text}]}
    assert yaml.safe_load(yamlio.dump(doc)) == doc


@pytest.mark.parametrize("text", ["1.4.2", "0o17", "1e3", "yes", "null", "2026-10-01"])
def test_strings_a_reader_could_take_for_another_type_are_quoted(text: str) -> None:
    assert yamlio.dump({"k": text}) == f'k: "{text}"\n'


def test_api_version_kind_and_metadata_come_first_and_the_rest_is_sorted() -> None:
    text = yamlio.dump({"spec": {"b": 1, "a": 2}, "metadata": {"name": "x"}, "kind": "K", "apiVersion": "v1", "data": {}})
    assert text == "apiVersion: v1\nkind: K\nmetadata:\n  name: x\ndata: {}\nspec:\n  a: 2\n  b: 1\n"


def test_null_values_are_dropped() -> None:
    assert yamlio.dump({"a": None, "b": 1}) == "b: 1\n"


def test_nested_sequences_and_mappings_use_block_style() -> None:
    doc = {"l": [[1, 2], {"a": [{"b": True}], "c": []}]}
    text = yamlio.dump(doc)
    assert text == "l:\n- - 1\n  - 2\n- a:\n  - b: true\n  c: []\n"
    assert yaml.safe_load(text) == doc


def test_duplicate_keys_in_input_are_an_error_with_the_line() -> None:
    with pytest.raises(Exception) as info:
        yamlio.parse("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert "duplicate key 'a'" in str(info.value) and "line 3" in str(info.value)
