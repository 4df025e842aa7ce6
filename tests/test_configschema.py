"""One declaration per stack-config key (gitops/configschema.py), and everything derived from it.

The committed ``Pulumi.yaml`` declarations and docs/configuration.md must be
exactly what the schema renders; ``Pulumi.yaml`` edited by hand is refused with
the command that regenerates it; the reader takes its valid keys and defaults
from the schema; ``new-cluster`` copies exactly the fields the schema marks.
All in-process: the whole module takes about a second.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from gitops import configdocs, configschema
from gitops.configschema import STACK_CONFIG, TOP_LEVEL, Copy, Field, copy_paths
from gitops.errors import InputError
from gitops.model import AddonsConfig, GitOpsConfig, SealingConfig, Stack
from gitops.newcluster import copied_config
from gitops.project import load_project
from gitops.reader import Node
from gitops.stackconfig import ProjectConfig, read_stack_values, stack_from_config

NS = "gitops-platform"
PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Stack]:
    return {stack.name: stack for stack in load_project(REPO_ROOT).stacks}


def project_files(tmp_path: Path) -> Path:
    """Pulumi.yaml, the dev stack and the catalog: enough to load and to regenerate."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        (root / name).write_bytes((REPO_ROOT / name).read_bytes())
    for service in (REPO_ROOT / "services").iterdir():
        (root / "services").mkdir(exist_ok=True)
        (root / "services" / service.name).write_bytes(service.read_bytes())
    return root


def edit_declarations(root: Path, edit: Any) -> None:
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    edit(project["config"])
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))


# --- the derived files are up to date ------------------------------------------------------------------


def test_the_committed_pulumi_yaml_is_the_one_the_schema_renders() -> None:
    text = (REPO_ROOT / "Pulumi.yaml").read_text(encoding="utf-8")
    assert text == configdocs.with_pulumi_config(text), "run `python -m gitops config-schema --write`"


def test_pulumi_yamls_declarations_are_the_schemas_types_defaults_and_descriptions() -> None:
    declared = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    assert declared == configdocs.pulumi_declarations()
    assert list(declared) == [field.key for field in STACK_CONFIG]
    assert {key for key, d in declared.items() if "default" not in d} == set(configschema.REQUIRED_KEYS) == {
        "environment", "awsAccountId", "cluster", "gitops"}
    assert not any(d.get("secret") for d in declared.values())   # see SECRET_KEYS: refused unencrypted instead


def test_docs_configuration_md_is_the_one_the_schema_renders() -> None:
    committed = (REPO_ROOT / configdocs.DOCS_FILE).read_text(encoding="utf-8")
    assert committed == configdocs.render_markdown(), "run `python -m gitops config-schema --write`"


def test_the_docs_have_a_row_for_every_declared_field() -> None:
    text = configdocs.render_markdown()
    for path, field in configschema.walk():
        section, _, rest = path.partition(".")
        name = rest or section
        assert f"| `{name}` " in text or f"[`{name}`]" in text, path
        assert field.description or not field.key, f"{path} has no description"


def test_config_schema_check_finds_a_stale_file_and_write_regenerates_only_the_config_section(run, tmp_path: Path) -> None:
    root = project_files(tmp_path)
    original = (root / "Pulumi.yaml").read_text()
    (root / "Pulumi.yaml").write_text(original.replace("description: ECR, EKS", "description: Our ECR, EKS").replace(
        "    default: {}\n", "    default: {replicas: 1}\n", 1))
    result = run("config-schema", "--check", "--project", root)
    assert result.code == 1
    assert result.out.splitlines() == [
        "Pulumi.yaml: out of date; run `python -m gitops config-schema --write`",
        "docs/configuration.md: out of date; run `python -m gitops config-schema --write`"]

    result = run("config-schema", "--write", "--project", root)
    assert (result.code, result.out) == (0, "wrote Pulumi.yaml\nwrote docs/configuration.md\n")
    assert (root / "Pulumi.yaml").read_text() == original.replace("description: ECR, EKS", "description: Our ECR, EKS")
    assert (root / "docs/configuration.md").read_text() == configdocs.render_markdown()
    assert run("config-schema", "--check", "--project", root).code == 0


def test_config_schema_outside_a_project_exits_2(run, tmp_path: Path) -> None:
    result = run("config-schema", "--check", "--project", tmp_path)
    assert result.code == 2 and "not a gitops-platform project (no Pulumi.yaml)" in result.err


# --- Pulumi.yaml must declare what the schema does -------------------------------------------------------


@pytest.mark.parametrize("edit, key, message", [
    (lambda c: c["delivery"].update(default={"sync": "automated"}), "config.delivery",
     "declares default {'sync': 'automated'}, but the schema's is {}"),
    (lambda c: c["gitops"].update(default={}), "config.gitops",
     "declares default {}, but the key is required: the Pulumi CLI must ask every stack for it"),
    (lambda c: c["promotion"].update(type="string"), "config.promotion", "is declared type string, but the schema says object"),
    (lambda c: c["secrets"].update(secret=True), "config.secrets", "is declared secret: true"),
    (lambda c: c.update(workload=c.pop("workloads")), "config.workload",
     "is not a key of this project (did you mean 'workloads'?)"),
    (lambda c: c.pop("sealing"), "config", "does not declare sealing"),
], ids=["changed default", "default on a required key", "changed type", "secret: true", "typo", "missing key"])
def test_a_hand_edited_declaration_is_refused_with_the_command_that_regenerates_it(
        tmp_path: Path, edit: Any, key: str, message: str) -> None:
    root = project_files(tmp_path)
    edit_declarations(root, edit)
    with pytest.raises(InputError) as caught:
        load_project(root)
    text = str(caught.value)
    assert f"Pulumi.yaml: {key}: {message}" in text
    assert "run `python -m gitops config-schema --write`" in text


# --- the schema itself --------------------------------------------------------------------------------


def test_every_declaration_is_consistent() -> None:
    """Defaults of the declared type, among the choices, within range; required means no default; unique keys."""
    for path, field in configschema.walk():
        if field.required:
            assert field.default is None and not field.default_text, path
        if field.default is not None:
            expected = PYTHON_TYPES[field.type]
            assert isinstance(field.default, expected) and not (expected is int and isinstance(field.default, bool)), path
            if field.choices:
                assert field.default in field.choices, path
            if field.minimum is not None:
                assert isinstance(field.default, int) and field.default >= field.minimum, path
            if field.check is not None and isinstance(field.default, str) and field.default:
                assert field.check(field.default) is None, path
        if field.type == "array":
            assert field.items is not None, path
        keys = [sub.key for sub in field.fields]
        assert len(keys) == len(set(keys)), path
    assert len(TOP_LEVEL) == len(STACK_CONFIG)


def test_a_secret_key_is_never_copied_and_never_required() -> None:
    for field in STACK_CONFIG:
        if field.secret:
            assert field.copy is Copy.OMIT and not field.required, field.key
    assert configschema.SECRET_KEYS == ("secrets", "gitopsCredentials")


def test_the_models_own_defaults_are_the_schemas(shipped: dict[str, Stack]) -> None:
    """SealingConfig() and AddonsConfig() stay convenient value objects for the components; they must not drift."""
    dev = shipped["dev"]   # sets neither sealing nor addons
    assert dev.sealing == SealingConfig()
    assert dev.addons == AddonsConfig()
    assert GitOpsConfig("x", "y", ".").checkout == configschema.GITOPS["checkout"].default


def test_node_readers_do_not_shadow_builtins() -> None:
    assert not any(hasattr(Node, name) for name in ("str", "int", "bool", "list"))
    assert all(callable(getattr(Node, name)) for name in ("as_str", "as_int", "as_bool", "as_list"))


# --- the reader takes its keys from the schema -------------------------------------------------------


SECTIONS_READ = [f for f in STACK_CONFIG if f.fields and not f.secret]


@pytest.mark.parametrize("section", SECTIONS_READ, ids=[f.key for f in SECTIONS_READ])
def test_an_unknown_field_lists_exactly_the_declared_fields(section: Field) -> None:
    values = read_stack_values(REPO_ROOT, "dev")
    key = f"{NS}:{section.key}"
    values[key] = {**(values.get(key) or {}), "zzzUnknown": 1}
    services = tuple(p.stem for p in (REPO_ROOT / "services").glob("[!_]*.yaml"))
    with pytest.raises(InputError) as caught:
        stack_from_config("dev", "Pulumi.dev.yaml", values, ProjectConfig({}), services)
    expected = f"Pulumi.dev.yaml: config.{key}.zzzUnknown: unknown key; valid keys: {', '.join(sorted(section.field_keys))}"
    assert expected in str(caught.value)


def test_field_defaults_apply_whether_a_section_is_absent_or_empty(shipped: dict[str, Stack]) -> None:
    values = read_stack_values(REPO_ROOT, "dev")
    services = tuple(s for s in (p.stem for p in (REPO_ROOT / "services").glob("[!_]*.yaml")))
    empty = {**values, **{f"{NS}:{key}": {} for key in ("sealing", "addons", "argocd", "imageUpdates", "promotion")}}
    stack = stack_from_config("dev", "Pulumi.dev.yaml", empty, ProjectConfig({}), services)
    assert dataclasses.replace(stack, file=shipped["dev"].file) == shipped["dev"]


# --- new-cluster copies exactly what the schema marks --------------------------------------------------


def every_field() -> dict[str, Any]:
    """A stack's config values with every declared top-level key and every field of each section set."""
    values: dict[str, Any] = {"aws:region": "eu-west-1", "aws:profile": "shop"}
    for field in STACK_CONFIG:
        values[f"{NS}:{field.key}"] = {sub.key: f"value of {sub.key}" for sub in field.fields} if field.fields else "x"
    return values


def decided_paths(config: dict[str, Any]) -> set[str]:
    """The paths of a config at the depth new-cluster decides them (section.field, or the key)."""
    out: set[str] = set()
    for key, value in config.items():
        if not key.startswith(f"{NS}:"):
            continue
        short = key[len(NS) + 1:]
        field = TOP_LEVEL[short]
        if field.fields and field.copy is not Copy.OMIT:
            out.update(f"{short}.{sub}" for sub in value)
        else:
            out.add(short)
    return out


def test_new_cluster_copies_exactly_the_fields_marked_copied() -> None:
    copied = copied_config(every_field())
    assert decided_paths(copied) == copy_paths(Copy.COPY) | copy_paths(Copy.NOT_TO_SPOKE)
    assert (copied["aws:region"], copied["aws:profile"]) == ("eu-west-1", "shop")   # provider keys are kept


def test_a_spoke_gets_neither_the_hubs_fields_nor_any_other_omission() -> None:
    assert decided_paths(copied_config(every_field(), spoke=True)) == copy_paths(Copy.COPY)


def test_an_encrypted_value_is_never_copied() -> None:
    values = every_field()
    values[f"{NS}:ingress"]["annotations"] = {"x": {"secure": "v1:abc"}}
    assert f"{NS}:ingress" not in copied_config(values)


def test_the_new_stack_file_holds_the_sources_copied_fields_and_its_own_set_ones(run, project: Path) -> None:
    prod_file = project / "Pulumi.prod.yaml"
    prod_file.write_text(prod_file.read_text() + (
        f"  {NS}:imageTags:\n    payments: \"1.4.2\"\n"
        f"  {NS}:sealing:\n    generation: 3\n    oldestGeneration: 2\n    backup: true\n"))
    assert run("new-cluster", "prod-us", "--env", "prod", "--region", "us-east-1", "--project", project).code == 0
    source = yaml.safe_load(prod_file.read_text())["config"]
    new = yaml.safe_load((project / "Pulumi.prod-us.yaml").read_text())["config"]
    marked = copy_paths(Copy.COPY) | copy_paths(Copy.NOT_TO_SPOKE)
    assert decided_paths(new) == (decided_paths(source) & marked) | copy_paths(Copy.NEW)
    for path in decided_paths(source) & marked:
        short, _, sub = path.partition(".")
        value = source[f"{NS}:{short}"]
        assert new[f"{NS}:{short}"] == value if not sub else new[f"{NS}:{short}"][sub] == value[sub], path
