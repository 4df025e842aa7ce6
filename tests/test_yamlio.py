"""The YAML writer: what it writes reads back as the same data, in a fixed order."""

from __future__ import annotations

import pytest
import yaml

from gitops import yamlio
from gitops.errors import InputError

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


# --- the reader: hostile input ------------------------------------------------------------------

def laughs(levels: int) -> str:
    """``9 ** levels`` strings through aliases in a few hundred bytes."""
    return "x:\n" + "".join(f"  - &l{n} [{', '.join([f'*l{n - 1}' if n else 'lol'] * 9)}]\n" for n in range(levels + 1))


@pytest.mark.parametrize("text", ["2023-13-45", "2024-01-15", "2024-02-30 10:00:00", "!!timestamp 2023-13-45"])
def test_dates_are_read_as_the_text_they_are(text: str) -> None:
    assert yamlio.parse(f"a: {text}\n", "f.yaml") == {"a": text.split(" ", 1)[1] if text.startswith("!!") else text}


@pytest.mark.parametrize("text, reason", [
    ("!!int 12x", "not a valid int"), ("!!float abc", "not a valid float"), ("!!bool maybe", "not a valid bool"),
    ("1" * 5000, "not a valid int"),
])
def test_a_value_the_constructor_cannot_build_is_a_located_error(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=f"f.yaml: invalid YAML at line 1, column 4: {reason}"):
        yamlio.parse(f"a: {text}\n", "f.yaml")


def test_an_input_refuses_aliases_naming_where_the_value_is_repeated() -> None:
    with pytest.raises(InputError, match=r"f.yaml: x\[1\]\[0\]: repeats the value anchored at line 2, column 5"):
        yamlio.parse(laughs(9), "f.yaml")


def test_generated_text_may_use_aliases_within_a_bound() -> None:
    assert yamlio.parse("a: &x [1, 2]\nb: *x\n", "out", generated=True) == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(InputError, match="expand to more than 1,000,000 values"):
        yamlio.parse_all(laughs(9), "out", generated=True)


@pytest.mark.parametrize("key, kind", [("1", "an integer"), ("on", "a boolean"), ("~", "null"), ("1.5", "a number")])
def test_an_input_key_must_be_a_string(key: str, kind: str) -> None:
    with pytest.raises(InputError, match=f"f.yaml: m.{key}: line 3, column 3: keys are strings, and "
                                                f"{key} is read as {kind}; quote it"):
        yamlio.parse(f"m:\n  dev: 1\n  {key}: 2\n", "f.yaml")


def test_generated_text_may_have_keys_yaml_reads_as_other_types() -> None:
    assert yamlio.parse("data:\n  on: a\n  2: b\n", "out", generated=True) == {"data": {True: "a", 2: "b"}}


def test_an_input_nested_beyond_the_limit_is_refused_and_deeper_text_is_no_traceback() -> None:
    deep = "[" * (yamlio.MAX_INPUT_DEPTH + 2) + "]" * (yamlio.MAX_INPUT_DEPTH + 2)
    with pytest.raises(InputError, match=f"is nested more than {yamlio.MAX_INPUT_DEPTH} levels deep"):
        yamlio.parse(deep, "f.yaml")
    with pytest.raises(InputError, match=r"f\.yaml: "):
        yamlio.parse("[" * 100_000 + "]" * 100_000, "f.yaml", generated=True)


def test_a_secret_input_error_names_only_line_and_column() -> None:
    with pytest.raises(InputError) as info:
        yamlio.parse("a: !never-shown value\n", "s.yaml", secret=True)
    assert str(info.value) == ("s.yaml: invalid YAML at line 1, column 4 (the reason is not shown: it may quote a "
                               "secret value)")


@pytest.mark.parametrize("text", ["stringData:\n  PASSWORD:\n    hunter2: x\n    1: y\n",
                                  "stringData:\n  PASSWORD: &p hunter2\n  COPY: *p\n"])
def test_a_secret_input_structure_error_names_no_key_below_the_top(text: str) -> None:
    with pytest.raises(InputError) as info:
        yamlio.parse(text, "s.yaml", secret=True)
    assert str(info.value).startswith("s.yaml: ") and "hunter2" not in str(info.value) and "PASSWORD" not in str(info.value)


def test_top_level_scalars_reads_each_documents_own_keys_as_dump_wrote_them() -> None:
    text = "# header only\n" + yamlio.dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kind"}, "data": {"kind": "nested"}},
        {"kind": "yes", "spec": {}},   # a value the writer must quote
    ]) + "---\n{kind: Flow}\n"
    assert yamlio.top_level_scalars(text, ("kind", "metadata")) == [
        {"kind": "ConfigMap", "metadata": ""}, {"kind": "yes"}, {}]
