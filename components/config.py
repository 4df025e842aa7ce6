"""The running stack's configuration, read once into the core's typed model.

The engine hands the program its config as strings (structured values as
JSON). They go through the same ``stack_from_config`` the CLI uses on the
stack files, so ``pulumi up`` and ``python -m gitops render`` can never
disagree about what a stack means, and a bad value stops the program with the
same message (file, key, what is valid) before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as engine

from gitops import layout
from gitops.errors import GitOpsError, InputError, Problem
from gitops.model import Project, Stack, UpdateMode
from gitops.project import load_project
from gitops.render import notifications
from gitops.render.secrets import missing_values
from gitops.stackconfig import engine_values, pull_request_credentials_problem

NS = layout.CONFIG_NAMESPACE
CREDENTIALS_KEY = "gitopsCredentials"
SECRETS_KEY = "secrets"


@dataclass(frozen=True)
class ProgramConfig:
    project: Project
    stack: Stack
    # Argo CD's Git credentials ({username, password} or {sshPrivateKey}); always a secret Output.
    repo_credentials: pulumi.Output[Mapping[str, str]] | None
    # {service: {NAME: value}} to seal into the overlays; always a secret Output.
    secret_values: pulumi.Output[Mapping[str, Mapping[str, str]]]


def engine_config() -> tuple[dict[str, Any], set[str]]:
    """Every config value the engine gave this run, and which of them are secret."""
    raw: dict[str, Any] = {**engine.get_config_env(), **engine.CONFIG.get()}
    secret = set(engine.get_config_secret_keys_env()) | {k for k in raw if engine.is_config_secret(k)}
    return raw, secret


def load_program_config(root: Path, stack_name: str) -> ProgramConfig:
    """The project with this stack's engine config; ``pulumi.RunError`` (no traceback) on bad input."""
    raw, secret = engine_config()
    try:
        values = engine_values(raw, secret)
        project = load_project(root, engine=(stack_name, values))
        stack = project.stack(stack_name)
        check_secret_names(stack, project, raw.get(f"{NS}:{SECRETS_KEY}"))
    except GitOpsError as exc:
        raise pulumi.RunError(str(exc)) from None
    config = pulumi.Config()
    # The project default is {} (a public repository); only a non-empty value becomes the Secret.
    plain_credentials = config.get_object(CREDENTIALS_KEY)
    check_pull_request_credentials(stack, plain_credentials)
    credentials = config.get_secret_object(CREDENTIALS_KEY) if plain_credentials else None
    secret_values: pulumi.Output[Mapping[str, Mapping[str, str]]] = (
        config.get_secret_object(SECRETS_KEY) or pulumi.Output.secret({}))
    return ProgramConfig(project, stack, credentials, secret_values)


def check_pull_request_credentials(stack: Stack, credentials: Any) -> None:
    """The stack-file check of ``pull-request`` mode against SSH credentials, for the engine's config.

    The engine keeps ``gitopsCredentials`` out of the values the loader sees (it
    is secret), so the loader can only judge the repository URL; this looks at
    the credential's key names, never at a value.
    """
    policy = stack.image_updates
    if policy.mode is not UpdateMode.PULL_REQUEST:
        return
    keys = credentials.keys() if isinstance(credentials, Mapping) else ()
    problem = pull_request_credentials_problem(stack.gitops.repo_url, keys, policy.credentials_secret)
    if problem:
        raise pulumi.RunError(str(InputError([Problem(stack.file, f"config.{NS}:imageUpdates.mode", problem)])))


def check_secret_names(stack: Stack, project: Project, raw: Any) -> None:
    """Every declared secret has a value, before anything is created; looks at names only, never values."""
    try:
        given = json.loads(raw) if isinstance(raw, str) else (raw or {})
    except ValueError:
        given = None
    if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
        raise InputError([Problem(stack.file, f"config.{NS}:{SECRETS_KEY}",
                                  "expected {<service>: {<NAME>: value}}; set values with "
                                  f"`pulumi config set --secret --path '{NS}:{SECRETS_KEY}.<service>.<NAME>' <value>`")])
    problems: list[Problem] = []
    for service in project.catalog.services:
        missing = [name for name in service.secrets if name not in given.get(service.name, {})]
        if missing:
            problems.extend(missing_values(service, stack, missing).problems)
    # The notifiers' credentials (gitops-platform:secrets.argocd-notifications.<NAME>), where this stack runs them.
    credentials = given.get(notifications.SECRETS_ENTRY, {})
    missing = [name for name in notifications.secret_names(stack) if name not in credentials]
    if missing:
        problems.extend(notifications.missing_values(stack, missing).problems)
    if problems:
        raise InputError(problems)
