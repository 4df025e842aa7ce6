"""The running stack's configuration, read once into the core's typed model.

The engine hands the program its config as strings (structured values as
JSON). They go through the same ``stack_from_config`` the CLI uses on the
stack files, so ``pulumi up`` and ``python -m gitops render`` can never
disagree about what a stack means, and a bad value stops the program with the
same message (file, key, what is valid) before any resource is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import pulumi
from pulumi.runtime import config as engine

from gitops.errors import GitOpsError
from gitops.model import Project, Stack
from gitops.project import load_project
from gitops.stackconfig import engine_values, read_project_config

CREDENTIALS_KEY = "gitopsCredentials"


@dataclass(frozen=True)
class ProgramConfig:
    project: Project
    stack: Stack
    # Argo CD's Git credentials ({username, password} or {sshPrivateKey}); always a secret Output.
    repo_credentials: Optional[pulumi.Output[Mapping[str, str]]]


def engine_config() -> tuple[dict[str, Any], set[str]]:
    """Every config value the engine gave this run, and which of them are secret."""
    raw: dict[str, Any] = {**engine.get_config_env(), **engine.CONFIG.get()}
    secret = set(engine.get_config_secret_keys_env()) | {k for k in raw if engine.is_config_secret(k)}
    return raw, secret


def load_program_config(root: Path, stack_name: str) -> ProgramConfig:
    """The project with this stack's engine config; ``pulumi.RunError`` (no traceback) on bad input."""
    raw, secret = engine_config()
    try:
        values = engine_values(raw, secret, read_project_config(root))
        project = load_project(root, engine=(stack_name, values))
    except GitOpsError as exc:
        raise pulumi.RunError(str(exc)) from None
    credentials = pulumi.Config().get_secret_object(CREDENTIALS_KEY)
    return ProgramConfig(project, project.stack(stack_name), credentials)
