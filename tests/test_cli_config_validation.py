"""The Pulumi CLI's project-config validation, which runs before the program and which mocks skip.

``pulumi preview``/``up`` refuses a stack that does not set a key ``Pulumi.yaml``
declares without a default, a value of the wrong declared type, and an
unencrypted value of a ``secret: true`` key. ``cli_stack_config`` in the
harness emulates that (pulumi ``sdk/go/common/workspace/config.go``); every
program run in the suite goes through it. These tests pin what the emulation
does and what ``Pulumi.yaml`` must look like for every stack to pass it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops.configschema import REQUIRED_KEYS, SECRET_KEYS
from gitops.errors import InputError
from gitops.project import load_project
from pulumi_harness import (
    REPO_ROOT,
    ConfigValidationError,
    ProgramRun,
    cli_stack_config,
    project_copy,
    write_stack,
)

NS = "gitops-platform"
STACKS = ("dev", "staging", "prod")
REPO_SECRET = "kubernetes:core/v1:Secret"


def declarations(root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((root / "Pulumi.yaml").read_text())["config"]


def only_required(config: dict[str, Any]) -> None:
    """Keep the keys the core requires, the region and the ingress domain the example catalog needs; nothing else.

    As environment qa on its own cluster."""
    for key in list(config):
        if key not in ("aws:region", f"{NS}:ingress") and key.split(":", 1)[1] not in REQUIRED_KEYS:
            del config[key]
    config[f"{NS}:environment"] = "qa"
    config[f"{NS}:cluster"].update(name="shop-qa", vpcCidr="10.50.0.0/16")


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_passes_the_clis_config_validation(stack: str) -> None:
    values, _ = cli_stack_config(REPO_ROOT, stack)
    assert values[f"{NS}:environment"] == stack


def test_a_stack_setting_only_the_required_keys_passes_the_cli(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    write_stack(root, "lean", REPO_ROOT / "Pulumi.staging.yaml", only_required)
    values, secret = cli_stack_config(root, "lean")
    assert values[f"{NS}:imageTags"] == {} and values[f"{NS}:profile"] == ""
    assert secret == set()
    assert load_project(root).stack("lean").profile == "qa"   # the default "" means: its own environment


def test_the_cli_asks_exactly_for_the_keys_the_core_requires() -> None:
    without_default = {key for key, d in declarations().items() if "default" not in d and "value" not in d}
    assert without_default == set(REQUIRED_KEYS)


def test_no_declared_key_is_both_secret_and_optional() -> None:
    """``secret: true`` with a default: the CLI refuses every stack that leaves the key unset (the default is plain)."""
    assert [key for key, d in declarations().items() if d.get("secret") and "default" in d] == []


def test_every_declared_default_has_the_declared_type() -> None:
    """What ``Project.Validate`` checks when it loads Pulumi.yaml."""
    python = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}
    wrong = {k: d for k, d in declarations().items() if "default" in d and not isinstance(d["default"], python[d["type"]])}
    assert wrong == {}


def test_the_emulation_refuses_a_missing_required_key_with_the_clis_message(tmp_path: Path) -> None:
    root = project_copy(tmp_path, stacks=())
    write_stack(root, "broken", REPO_ROOT / "Pulumi.dev.yaml",
                lambda c: [c.pop(f"{NS}:environment"), c.pop(f"{NS}:gitops")])
    with pytest.raises(ConfigValidationError, match="Stack 'broken' is missing configuration values 'environment' and 'gitops'"):
        cli_stack_config(root, "broken")


def test_the_emulation_refuses_a_value_of_the_wrong_declared_type(tmp_path: Path) -> None:
    root = project_copy(tmp_path, stacks=())
    write_stack(root, "broken", REPO_ROOT / "Pulumi.dev.yaml", lambda c: c.update({f"{NS}:cluster": "shop-dev"}))
    with pytest.raises(ConfigValidationError, match="configuration key 'cluster' must be of type 'object'"):
        cli_stack_config(root, "broken")


def test_the_emulation_refuses_a_plain_value_for_a_key_declared_secret(tmp_path: Path) -> None:
    root = project_copy(tmp_path, stacks=("staging",))
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    project["config"]["promotion"]["secret"] = True
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    with pytest.raises(ConfigValidationError, match="'promotion' must be encrypted as it's secret"):
        cli_stack_config(root, "staging")


def test_encrypted_leaves_make_the_whole_key_secret_for_the_program(tmp_path: Path) -> None:
    root = project_copy(tmp_path, stacks=())
    write_stack(root, "sealed", REPO_ROOT / "Pulumi.dev.yaml", lambda c: c.update(
        {f"{NS}:gitopsCredentials": {"username": {"secure": "v1:abc"}, "password": {"secure": "v1:def"}}}))
    _, secret = cli_stack_config(root, "sealed")
    assert secret == {f"{NS}:gitopsCredentials"}


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_an_unencrypted_secret_key_is_refused_naming_the_path_never_the_value(tmp_path: Path, key: str) -> None:
    root = project_copy(tmp_path)
    write_stack(root, "leaky", REPO_ROOT / "Pulumi.dev.yaml",
                lambda c: c.update({f"{NS}:{key}": {"payments": {"TOKEN": "hunter2-plain"}}}))
    with pytest.raises(InputError) as caught:
        load_project(root).stack("leaky")
    message = str(caught.value)
    assert f"config.{NS}:{key}.payments.TOKEN" in message and "--secret" in message
    assert "hunter2-plain" not in message


def test_the_program_refuses_unencrypted_credentials_before_any_resource(program: ProgramRun, tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    with pytest.raises(Exception, match=r"gitopsCredentials\.password.*is not encrypted") as caught:
        program("dev", root=root, extra={f"{NS}:gitopsCredentials": '{"username": "ci", "password": "hunter2-plain"}'})
    assert "hunter2-plain" not in str(caught.value)


def test_without_credentials_no_repository_secret_is_made(program: ProgramRun) -> None:
    mocks, _ = program("dev")
    assert [r.name for r in mocks.of_type(REPO_SECRET) if r.name.endswith("-repo")] == []
