"""The controller's per-Application validation after generation.

Unlike a generator error, a failure here only skips the Application concerned
(and, for a duplicate name, every Application of that name) while the rest are
created, so it is reported per Application rather than raised.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .context import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, ExpansionContext

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class AppProblem:
    """Why the controller would skip one generated Application."""

    index: int  # position in generation order
    application: str  # namespace/name as generated
    key: str  # key path inside the Application
    message: str

    def __str__(self) -> str:
        return f"Application {self.application} (#{self.index}): {self.key}: {self.message}"


def check_applications(
    apps: Sequence[Mapping[str, Any]],
    projects: Mapping[str, Any],
    ctx: ExpansionContext,
) -> list[AppProblem]:
    """The controller's validateGeneratedApplications plus the API server's name
    check, in generation order."""
    names = [_qualified_name(app) for app in apps]
    counts = Counter(names)
    problems: list[AppProblem] = []
    for index, app in enumerate(apps):
        qualified = names[index]
        meta = app.get("metadata") or {}
        spec = app.get("spec") or {}
        name = meta.get("name")

        def report(key: str, message: str, index: int = index, qualified: str = qualified) -> None:
            problems.append(AppProblem(index, qualified, key, message))

        if counts[qualified] > 1:
            report("metadata.name", f"{counts[qualified]} Applications of this ApplicationSet are named {qualified}; "
                   "the controller skips every one of them")
        name_problem = _name_problem(name)
        if name_problem:
            report("metadata.name", name_problem)
        project = spec.get("project")
        if not isinstance(project, str) or project not in projects:
            known = ", ".join(sorted(projects)) or "none"
            report("spec.project", f"application references project {project!r} which does not exist; known projects: {known}")
        destination_problem = _destination_problem(spec.get("destination"), ctx)
        if destination_problem:
            report("spec.destination", destination_problem)
    return problems


def _qualified_name(app: Mapping[str, Any]) -> str:
    meta = app.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "the name is empty; it must be a DNS-1123 subdomain"
    if len(name) > 253:
        return f"the name is {len(name)} characters long; a DNS-1123 subdomain has at most 253"
    if not _DNS_SUBDOMAIN.fullmatch(name):
        return (f"{name!r} is not a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', starting and ending "
                "alphanumeric); use normalize or nameNormalized")
    return None


def _destination_problem(destination: Any, ctx: ExpansionContext) -> str | None:
    if not isinstance(destination, Mapping):
        return "a destination with exactly one of server and name is required"
    server = destination.get("server") or ""
    name = destination.get("name") or ""
    if server and name:
        return "application destination can't have both name and server defined"
    # in-cluster secrets are ignored while in-cluster is disabled
    clusters = [c for c in ctx.clusters if ctx.in_cluster_enabled or c.server != IN_CLUSTER_SERVER]
    if server:
        wanted = server.rstrip("/")
        servers = {c.server.rstrip("/") for c in clusters}
        if ctx.in_cluster_enabled:
            servers.add(IN_CLUSTER_SERVER)
        if wanted not in servers:
            known = ", ".join(sorted(servers)) or "none"
            return f"there are no clusters with this URL: {server}; known: {known}"
        return None
    if name:
        matches = [c for c in clusters if c.name == name]
        if not matches and name == IN_CLUSTER_NAME and ctx.in_cluster_enabled:
            return None
        if len(matches) == 1:
            return None
        if not matches:
            names = sorted({c.name for c in clusters} | ({IN_CLUSTER_NAME} if ctx.in_cluster_enabled else set()))
            return f"there are no clusters with this name: {name}; known: {', '.join(names) or 'none'}"
        return f"there are {len(matches)} clusters with the same name: {name} ({', '.join(c.secret for c in matches)})"
    return "application destination must set server or name"
