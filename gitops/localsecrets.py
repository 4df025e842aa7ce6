"""Secret values for the offline CLI: where ``render --stack`` reads them from, and what it refuses.

Values never come from the project or the GitOps tree. For one stack
(``render --stack S``) they come from a file given with ``--secrets`` (kept
outside both) and/or environment variables ``GITOPS_SECRET_<SERVICE>__<NAME>``
(service upper-cased, ``-`` as ``_``, two underscores before the name); the
environment wins. The old one-underscore form is refused, not read: it
cannot tell ``billing`` + ``API_KEY`` from ``billing-api`` + ``KEY``. The file may also
hold the stack's ``stabilityKey`` (``pulumi stack output --show-secrets
sealingStabilityKey``), or ``GITOPS_SEALING_STABILITY_KEY`` gives it: with it,
offline sealing produces exactly the bytes ``pulumi up`` writes; without it,
values are sealed with fresh randomness (a valid, but new, ciphertext).

What a render does with them (seal, keep what the tree has, or wait for the
cluster's certificate) is ``workflow.plan_secrets``.

The credentials of the stack's Argo CD notifiers go the same way, under the
name ``argocd-notifications`` where a service's name would be (the file's
``services:``, ``GITOPS_SECRET_ARGOCD_NOTIFICATIONS__<NAME>``), into
``argocd/<env>/`` (``render.notifications``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout, yamlio
from .errors import InputError, Problem
from .model import Project
from .render import notifications

ENV_PREFIX = layout.SECRET_ENV_PREFIX
STABILITY_ENV = "GITOPS_SEALING_STABILITY_KEY"


@dataclass(frozen=True)
class LocalSecrets:
    values: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)   # service -> name -> value
    stability_key: bytes | None = None


def env_name(service: str, name: str) -> str:
    return layout.secret_env_var(service, name)


def legacy_env_name(service: str, name: str) -> str:
    """The variable of the first releases (one '_' between service and name), known only to refuse it."""
    return f"{ENV_PREFIX}{service.upper().replace('-', '_')}_{name}"


def _legacy_variables(environ: Mapping[str, str], project: Project) -> list[Problem]:
    """An old-form variable set in the environment, with the variables it may have meant.

    Read as before, ``GITOPS_SECRET_BILLING_API_KEY`` would seal one value into
    both ``billing``'s and ``billing-api``'s Secret; ignored, a rotation would
    silently not happen. So it stops the render, naming the new variable(s).
    The value is never shown.
    """
    current = {env_name(s.name, n) for s in project.catalog.services for n in s.secrets}
    meant: dict[str, list[tuple[str, str]]] = {}
    for service in project.catalog.services:
        for name in service.secrets:
            old = legacy_env_name(service.name, name)
            if old in environ and old not in current:
                meant.setdefault(old, []).append((service.name, name))
    return [Problem(old, "", f"is the old form {ENV_PREFIX}<SERVICE>_<NAME>, which cannot tell where the service name "
                             "ends and is no longer read; unset it and set "
                             + " or ".join(f"{env_name(s, n)} (secret {n} of service {s})" for s, n in sorted(pairs))
                             + " instead")
            for old, pairs in sorted(meant.items())]


def load_local_secrets(file: Path | None, environ: Mapping[str, str], project: Project,
                       forbidden_roots: tuple[Path, ...]) -> LocalSecrets:
    """Values from ``file`` and the environment for the catalog's declared secrets."""
    values: dict[str, dict[str, bytes]] = {}
    stability: str | None = None
    if file is not None:
        doc = _read_file(file, forbidden_roots)
        stability = doc.get("stabilityKey")
        services = doc.get("services", {})
        known = {s.name: s for s in project.catalog.services}
        for svc, entries in services.items():
            if svc not in known and svc != notifications.SECRETS_ENTRY:
                raise InputError([Problem(str(file), f"services.{svc}", "is not a service of the catalog (nor "
                                          f"{notifications.SECRETS_ENTRY}, the credentials of Argo CD's notifiers)")])
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise InputError([Problem(str(file), f"services.{svc}", "expected a mapping of secret name to string value")])
            values[svc] = {name: value.encode() for name, value in entries.items()}
    legacy = _legacy_variables(environ, project)
    if legacy:
        raise InputError(legacy)
    for service in project.catalog.services:
        for name in service.secrets:
            if env_name(service.name, name) in environ:
                values.setdefault(service.name, {})[name] = environ[env_name(service.name, name)].encode()
    for name in (notifications.SLACK_TOKEN, notifications.WEBHOOK_URL):
        if env_name(notifications.SECRETS_ENTRY, name) in environ:
            values.setdefault(notifications.SECRETS_ENTRY, {})[name] = environ[
                env_name(notifications.SECRETS_ENTRY, name)].encode()
    stability = environ.get(STABILITY_ENV, stability)
    return LocalSecrets(values, _stability(stability, file))


def _read_file(file: Path, forbidden_roots: tuple[Path, ...]) -> dict[str, Any]:
    resolved = file.resolve()
    for root in forbidden_roots:
        if resolved == root.resolve() or root.resolve() in resolved.parents:
            raise InputError([Problem(str(file), "", f"lies inside {root}; keep secret values outside the project "
                                      "and the GitOps repository (e.g. ~/.config/gitops-platform/)")])
    doc = yamlio.parse(yamlio.read_file_text(file, str(file)), str(file), secret=True)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or set(doc) - {"services", "stabilityKey"}:
        raise InputError([Problem(str(file), "", "expected a mapping with 'services' ({<service>: {<NAME>: value}}) "
                                  "and optionally 'stabilityKey'")])
    if not isinstance(doc.get("services", {}), dict):
        raise InputError([Problem(str(file), "services", "expected a mapping of service to secret values")])
    return doc


def _stability(text: str | None, file: Path | None) -> bytes | None:
    if text is None:
        return None
    try:
        key = bytes.fromhex(str(text).strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        where = STABILITY_ENV if file is None else f"{file} (or {STABILITY_ENV})"
        raise InputError([Problem(where, "stabilityKey", "expected 64 hex digits: the output of "
                                  "`pulumi stack output --show-secrets sealingStabilityKey`")])
    return key
