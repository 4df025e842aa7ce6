"""Fleet rules that span stacks: a spoke, its hub, and the add-ons the hub offers.

A spoke has no Argo CD of its own: the hub's Argo CD syncs the spoke's
``argocd/<env>/`` from the hub's GitOps repository into the hub's Argo CD
namespace. So whatever the spoke renders must be readable there, which these
rules check while both stacks are known (a hub in another Pulumi project, named
``<org>/<project>/<stack>``, cannot be checked here).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import layout
from .errors import Problem
from .model import Catalog, Stack, Topology
from .reader import Problems, did_you_mean

NS = layout.CONFIG_NAMESPACE
ARGOCD_KEY = f"config.{NS}:argocd"


def hub_of(stack: Stack, stacks: Sequence[Stack]) -> Stack | None:
    """The spoke's hub when it is a stack of this project (``argocd.hub`` without ``/``)."""
    name = stack.argocd.hub
    if stack.argocd.topology is not Topology.SPOKE or name is None or "/" in name:
        return None
    return next((s for s in stacks if s.name == name), None)


def fleet_problems(catalog: Catalog, stacks: Sequence[Stack]) -> list[Problem]:
    problems = Problems()
    hubs = [s.name for s in stacks if s.argocd.topology is Topology.HUB]
    for stack in stacks:
        topology = stack.argocd.topology
        if topology is Topology.SPOKE:
            _check_spoke(stack, stacks, hubs, problems)
        elif topology is Topology.HUB:
            _check_addons(stack, stack, problems)
            if stack.argocd.fleet_addons:
                _check_addon_project_name(catalog, stack, stacks, problems)
        elif stack.argocd.addons:
            problems.add(stack.file, f"{ARGOCD_KEY}.addons", "add-on labels select clusters for a hub's add-ons; "
                         "this cluster is standalone (not registered with a hub): set topology: spoke and hub, "
                         "or remove addons")
    return problems.items


def _check_spoke(stack: Stack, stacks: Sequence[Stack], hubs: list[str], problems: Problems) -> None:
    name = stack.argocd.hub or ""
    if "/" in name:
        return  # a stack of another project: checked where that project runs
    hub = hub_of(stack, stacks)
    if hub is None:
        problems.add(stack.file, f"{ARGOCD_KEY}.hub", f"no stack {name!r} in this project{did_you_mean(name, hubs)}; "
                     f"hub stacks: {', '.join(hubs) or 'none (set argocd.topology: hub on one)'}")
        return
    if hub.argocd.topology is not Topology.HUB:
        problems.add(stack.file, f"{ARGOCD_KEY}.hub", f"stack {hub.name!r} is {hub.argocd.topology.value}, not a hub; "
                     f"hub stacks: {', '.join(hubs) or 'none (set argocd.topology: hub on one)'}")
        return
    if stack.argocd.namespace != hub.argocd.namespace:
        problems.add(stack.file, f"{ARGOCD_KEY}.namespace",
                     f"is {stack.argocd.namespace!r}, but the hub {hub.name} runs Argo CD in "
                     f"{hub.argocd.namespace!r}, where this spoke's AppProjects and ApplicationSet live; use the same")
    for field, mine, theirs in (("repoURL", stack.gitops.repo_url, hub.gitops.repo_url),
                                ("revision", stack.gitops.revision, hub.gitops.revision),
                                ("path", stack.gitops.path, hub.gitops.path)):
        if mine != theirs:
            problems.add(stack.file, f"config.{NS}:gitops.{field}",
                         f"is {mine!r}, but the hub {hub.name} syncs this spoke's {layout.argocd_env_dir(stack.environment)} "
                         f"from {theirs!r}; use the hub's")
    _check_addons(stack, hub, problems)


def _check_addons(stack: Stack, hub: Stack, problems: Problems) -> None:
    offered = [a.name for a in hub.argocd.fleet_addons]
    for addon in stack.argocd.addons:
        if addon not in offered:
            problems.add(stack.file, f"{ARGOCD_KEY}.addons",
                         f"{addon!r} is not a fleet add-on of the hub {hub.name}{did_you_mean(addon, offered)}; "
                         f"its fleetAddons: {', '.join(offered) or 'none'}")


def _check_addon_project_name(catalog: Catalog, hub: Stack, stacks: Sequence[Stack], problems: Problems) -> None:
    """The add-ons' AppProject shares Argo CD's namespace with every team's ``<team>-<env>`` project."""
    for stack in stacks:
        for team in catalog.teams:
            if layout.project_name(team, stack.environment) == layout.FLEET_ADDONS_PROJECT:
                problems.add(stack.file, f"config.{NS}:environment",
                             f"team {team!r} in environment {stack.environment!r} would be AppProject "
                             f"{layout.FLEET_ADDONS_PROJECT!r}, the name of the hub {hub.name}'s add-on project; "
                             "rename the environment")

