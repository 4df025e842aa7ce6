"""What a service may not claim on the clusters it is deployed to (rules that need the stacks).

Every service is deployed to every stack's cluster, next to the platform's own
controllers and other teams' services, and its Applications and its team's
AppProjects live in an Argo CD that may serve several environments (a hub and
its spokes). The catalog alone cannot tell what is taken there: Argo CD's and
the sealing controller's namespaces are stack config, and names and hosts are
made of a service or team and an environment. So these checks run when the
whole project is loaded, and each problem names both claimants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import layout
from .errors import Problem
from .fleet import hub_of
from .model import Catalog, Service, Stack, Topology
from .reader import Problems
from .render.overlays import ingress_host

NS = layout.CONFIG_NAMESPACE


def tenancy_problems(catalog: Catalog, stacks: Sequence[Stack]) -> list[Problem]:
    problems = Problems()
    _reserved_namespaces(catalog, stacks, problems)
    for owner, group in _argocd_groups(stacks):
        _duplicate_names(catalog, owner, group, problems)
    _ingress_conflicts(catalog, stacks, problems)
    return problems.items


# --- namespaces ---------------------------------------------------------------------------------

def reserved_namespaces(stack: Stack, stacks: Sequence[Stack]) -> list[tuple[str, str, str, str]]:
    """(namespace, whose, key, file): what the platform runs in on this stack's cluster.

    Argo CD's namespace is reserved on a spoke too: it is where the hub keeps
    the spoke's AppProjects, and a spoke may later run its own Argo CD there.
    A hub's fleet add-ons may go to the hub and to any of its spokes (their
    AppProject allows every registered cluster), so their namespaces are
    reserved on all of them.
    """
    out = [
        (stack.argocd.namespace, "Argo CD's namespace", f"config.{NS}:argocd.namespace", stack.file),
        (stack.sealing.namespace, "the sealed-secrets controller's namespace", f"config.{NS}:sealing.namespace",
         stack.file),
    ]
    hub = stack if stack.argocd.topology is Topology.HUB else hub_of(stack, stacks)
    if hub is not None:
        for addon in hub.argocd.fleet_addons:
            out.append((addon.namespace, f"the namespace of fleet add-on {addon.name}",
                        f"config.{NS}:argocd.fleetAddons.{addon.name}.namespace", hub.file))
    return out


def _reserved_namespaces(catalog: Catalog, stacks: Sequence[Stack], problems: Problems) -> None:
    reserved: dict[str, dict[tuple[str, str], set[str]]] = {}
    for stack in stacks:
        for namespace, whose, key, file in reserved_namespaces(stack, stacks):
            reserved.setdefault(namespace, {}).setdefault((whose, key), set()).add(file)
    for service in catalog.services:
        for (whose, key), files in sorted(reserved.get(service.namespace, {}).items()):
            problems.add(service.file, "namespace", f"{service.namespace!r} is {whose} ({key} of "
                         f"{', '.join(sorted(files))}); choose a namespace of the team's own")


# --- generated names, per Argo CD ------------------------------------------------------------------

def _argocd_groups(stacks: Sequence[Stack]) -> list[tuple[str, list[Stack]]]:
    """The stacks whose Argo CD objects share one Argo CD: a hub with its spokes, else each stack alone.

    The first item is how messages name that Argo CD: its stack file, or the
    hub's stack reference for spokes of a hub in another project.
    """
    groups: dict[str, list[Stack]] = {}
    for stack in stacks:
        key = (stack.argocd.hub or stack.name) if stack.argocd.topology is Topology.SPOKE else stack.name
        groups.setdefault(key, []).append(stack)
    files = {s.name: s.file for s in stacks}
    return [(files.get(key, f"hub {key}"), group) for key, group in sorted(groups.items())]


@dataclass(frozen=True)
class _Claim:
    """One source of a generated name."""

    file: str            # where the problem is reported when this claim is the one to change
    key: str
    subject: str         # the claim, as the subject of the message
    other: str           # the claim, as what the subject collides with
    fix: str
    from_catalog: bool   # a catalog entry: preferred over stack-derived names as the one to change
    order: tuple[str, ...]
    appset: str = ""     # a team's AppProject comes with its ApplicationSet, named alike


def _duplicate_names(catalog: Catalog, owner: str, group: list[Stack], problems: Problems) -> None:
    """Applications, AppProjects and ApplicationSets are named ``<a>-<b>``; in one Argo CD namespace each must be unique.

    ``a`` + ``b-ops`` and ``a-b`` + ``ops`` give the same name, and a service
    named ``root`` gives every environment's ``root-<env>``, the app of apps.
    Argo CD would keep one object under that name and the other's owner would
    silently manage it. ``fleet-addons`` is checked in ``fleet``.
    """
    stacks = list({s.environment: s for s in reversed(group)}.values())  # a repeated environment is reported elsewhere
    namespace = group[0].argocd.namespace
    apps: dict[str, list[_Claim]] = {}
    projects: dict[str, list[_Claim]] = {}
    team_files: dict[str, str] = {}
    for service in sorted(catalog.services, key=lambda s: s.file):
        team_files.setdefault(service.team, service.file)
    for stack in stacks:
        env, file = stack.environment, stack.file
        root = layout.root_application_name(env)
        apps.setdefault(root, []).append(_Claim(
            file, f"config.{NS}:environment", f"of environment {env}'s root ({file})",
            f"the root Application of environment {env} ({file})", "rename the environment", False, (file,)))
        for service in catalog.services:
            apps.setdefault(layout.application_name(service.name, env), []).append(_Claim(
                service.file, "", f"of service {service.name} in environment {env} ({file})",
                f"the Application of service {service.name} ({service.file}) in environment {env} ({file})",
                "rename the service or the environment", True, (service.file, env)))
        for team in catalog.teams:
            appset = layout.applicationset_name(team, env)
            projects.setdefault(layout.project_name(team, env), []).append(_Claim(
                team_files[team], "team", f"of team {team} in environment {env} ({file})",
                f"that of team {team} in environment {env} ({file})",
                "rename the team or the environment", True, (team_files[team], env), appset))
        for addon in stack.argocd.fleet_addons if stack.argocd.topology is Topology.HUB else ():
            for cluster in (s for s in group if addon.name in s.argocd.addons):
                where = f"config.{NS}:argocd.fleetAddons.{addon.name}"
                apps.setdefault(f"{addon.name}-{cluster.cluster.name}", []).append(_Claim(
                    file, where, f"of fleet add-on {addon.name} on cluster {cluster.cluster.name} ({file})",
                    f"the Application of fleet add-on {addon.name} on cluster {cluster.cluster.name} ({file})",
                    "rename the add-on or the cluster", False, (file, cluster.cluster.name)))
    platform = _Claim(owner, "", "", f"the project of the root Applications (created by the Pulumi program of {owner})",
                      "", False, (owner,))
    if layout.PLATFORM_PROJECT in projects:
        projects[layout.PLATFORM_PROJECT].append(platform)
    for kind, claims_by_name in (("Application", apps), ("AppProject", projects)):
        for name, claims in sorted(claims_by_name.items()):
            if len(claims) < 2:
                continue
            blamed = max(claims, key=lambda c: (c.from_catalog, c.order))
            others = [c for c in claims if c is not blamed]
            subject = blamed.subject
            if blamed.appset and any(c.appset for c in others):
                subject = f"(and ApplicationSet {blamed.appset!r}) {subject}"
            problems.add(blamed.file, blamed.key,
                         f"{kind} {name!r} {subject} is also {' and '.join(c.other for c in others)}, both in Argo CD "
                         f"namespace {namespace} of {owner}; {blamed.fix}")


# --- ingress -------------------------------------------------------------------------------------

def argocd_hostname(stack: Stack) -> str | None:
    """Argo CD's UI/API host on this stack's cluster, as the program configures its ingress (None: no ingress)."""
    if stack.argocd.topology is Topology.SPOKE:
        return None
    if stack.argocd.hostname:
        return stack.argocd.hostname
    return f"argocd.{stack.ingress.domain}" if stack.ingress.domain else None


def _prefix(path: str) -> str:
    """Ingress paths are Prefix matches by path element, so '/a' and '/a/' select the same requests."""
    return path.rstrip("/") or "/"


def _ingress_conflicts(catalog: Catalog, stacks: Sequence[Stack], problems: Problems) -> None:
    """One host and path route to one backend; two Ingresses claiming both leave the choice to the controller.

    Checked per environment with the host the overlay renders there (the
    catalog has no per-profile ingress override, so that is the effective
    one). Argo CD's own host is taken by Argo CD's ingress on every path.
    """
    shared: dict[tuple[str, str], list[str]] = {}     # (service, other service) -> "env (host)"
    argocd: dict[str, list[str]] = {}
    exposed = sorted((s for s in catalog.services if s.ingress is not None), key=lambda s: s.name)
    by_name = {s.name: s for s in exposed}
    for stack in sorted(stacks, key=lambda s: s.environment):
        if not stack.ingress.domain:
            continue   # no ingress is rendered; cross_check reports the missing domain
        argocd_host = argocd_hostname(stack)
        routes: dict[tuple[str, str], Service] = {}
        for service in exposed:
            assert service.ingress is not None
            host = ingress_host(service, stack)
            if host == argocd_host:
                source = (f"config.{NS}:argocd.hostname" if stack.argocd.hostname
                          else "the default argocd.<ingress.domain>")
                argocd.setdefault(service.name, []).append(f"{stack.environment} ({host}, {source} of {stack.file})")
            first = routes.setdefault((host, _prefix(service.ingress.path)), service)
            if first is not service:
                shared.setdefault((service.name, first.name), []).append(f"{stack.environment} ({host})")
    for (name, first_name), where in sorted(shared.items()):
        service, first = by_name[name], by_name[first_name]
        assert service.ingress is not None
        problems.add(service.file, "ingress",
                     f"host {service.ingress.host!r} path {service.ingress.path!r} is also claimed by service "
                     f"{first.name} ({first.file}) in {', '.join(where)}; one host and path route to one service: "
                     "change the host or the path")
    for name, where in sorted(argocd.items()):
        service = by_name[name]
        assert service.ingress is not None
        problems.add(service.file, "ingress.host", f"{service.ingress.host!r} gives Argo CD's own host in "
                     f"{', '.join(where)}; choose another host")
