"""Load the whole project: catalog + every stack, cross-checked, or one clear error."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import layout
from .canary import canary_problems
from .catalog import check_resource_order, load_catalog
from .errors import InputError, Problem
from .fleet import fleet_problems
from .ingress import ingress_problems
from .lifecycle import lifecycle_problems
from .model import Catalog, Project, RegistryConfig, Service, Stack
from .notifications import notification_problems
from .reader import Problems
from .render.quotas import quota_problems
from .stackconfig import read_project_config, read_stack_values, stack_from_config
from .stackfiles import stack_file, stack_names
from .tenancy import tenancy_problems

NS = layout.CONFIG_NAMESPACE


def load_project(root: Path, engine: tuple[str, Mapping[str, Any]] | None = None) -> Project:
    """Every stack is loaded even when one is rendered, so that a catalog key
    naming an environment is checked against all of them.

    ``engine``: (stack, config values) the Pulumi engine gave the running
    program. They replace that stack's file, since the engine's config is what
    ``pulumi up`` deploys (it may come from ESC or ``--config`` flags).
    """
    if not (root / layout.PROJECT_FILE).exists():   # a FIFO or device is reported as such by the reader
        raise InputError([Problem(str(root / layout.PROJECT_FILE), "", "not a gitops-platform project (no Pulumi.yaml); run from the project root")])
    project_config = read_project_config(root)
    names = stack_names(root)
    if engine is not None:
        names = sorted({*names, engine[0]})
    if not names:
        raise InputError([Problem(layout.PROJECT_FILE, "", "no stacks: add a Pulumi.<stack>.yaml next to it")])
    values = {}
    problems: list[Problem] = []
    for name in names:
        if engine is not None and name == engine[0]:
            values[name] = dict(engine[1])
            continue
        try:
            values[name] = read_stack_values(root, name)
        except InputError as exc:
            problems.extend(exc.problems)
    environments = sorted({v for vals in values.values() if isinstance(v := vals.get(f"{NS}:environment"), str)})
    profiles = {env: profile for vals in values.values()
                if isinstance(env := vals.get(f"{NS}:environment"), str)
                and isinstance(profile := vals.get(f"{NS}:profile"), str) and profile}
    try:
        catalog = load_catalog(root / layout.CATALOG_DIR, layout.CATALOG_DIR, environments, profiles)
    except InputError as exc:
        problems.extend(exc.problems)
        catalog = None
    service_names = tuple(s.name for s in catalog.services) if catalog else ()
    stacks: list[Stack] = []
    for name in names:
        if name not in values:
            continue
        try:
            stacks.append(stack_from_config(name, stack_file(name), values[name], project_config, service_names))
        except InputError as exc:
            problems.extend(exc.problems)
    if catalog is not None and not problems:
        problems.extend(cross_check(catalog, stacks))
    if problems:
        raise InputError(problems)
    assert catalog is not None
    return Project(str(root), catalog, tuple(stacks))


def cross_check(catalog: Catalog, stacks: list[Stack]) -> list[Problem]:
    """Rules that span the catalog and the stacks."""
    problems = Problems()
    owners: dict[str, str] = {}
    clusters: dict[str, str] = {}
    for stack in stacks:
        env_key = f"config.{NS}:environment"
        if stack.environment in owners:
            problems.add(stack.file, env_key, f"environment {stack.environment!r} is already the environment of "
                         f"{owners[stack.environment]}; each stack owns its environment's overlays")
        owners.setdefault(stack.environment, stack.file)
        if stack.cluster.name in clusters:
            problems.add(stack.file, f"config.{NS}:cluster.name", f"cluster {stack.cluster.name!r} is already used by {clusters[stack.cluster.name]}")
        clusters.setdefault(stack.cluster.name, stack.file)
        exposed = [s.name for s in catalog.services if s.ingress]
        if exposed and not stack.ingress.domain:
            problems.add(stack.file, f"config.{NS}:ingress.domain", f"is required: {', '.join(exposed[:5])}"
                         f"{' and others' if len(exposed) > 5 else ''} have an ingress")
    problems.items.extend(registry_problems(stacks))
    problems.items.extend(lifecycle_problems(catalog, stacks))
    environments = {s.environment for s in stacks}
    for stack in stacks:
        if stack.promote_from is not None and stack.promote_from not in environments - {stack.environment}:
            problems.add(stack.file, f"config.{NS}:promotion.from",
                         f"{stack.promote_from!r} is not another environment of this project; "
                         f"environments: {', '.join(sorted(environments - {stack.environment}))}")
    for service in catalog.services:
        for stack in stacks:
            resources = service.resources.merged(service.override(stack.profile).resources)
            check_resource_order(resources, service.file, _res_key(service, stack.profile), problems)
    problems.items.extend(fleet_problems(catalog, stacks))
    problems.items.extend(tenancy_problems(catalog, stacks))
    problems.items.extend(quota_problems(catalog, stacks))
    problems.items.extend(ingress_problems(catalog, stacks))
    problems.items.extend(canary_problems(catalog, stacks))
    problems.items.extend(notification_problems(stacks))
    return list(dict.fromkeys(problems.items))  # one line per problem, however many stacks share it


def _res_key(service: Service, profile: str) -> str:
    return f"environments.{profile}.resources" if service.override(profile).resources else "resources"


def registry_problems(stacks: list[Stack]) -> list[Problem]:
    """One owner per registry, and an owner at least as strict as every stack that uses it.

    Tag mutability is a property of the repository, which only the owner creates;
    a stack that requires immutable tags (prod) from a registry another stack
    owns with mutable tags would silently not get them.
    """
    problems = Problems()
    by_registry: dict[tuple[str, str, str], list[Stack]] = {}
    for stack in stacks:
        r = stack.registry
        by_registry.setdefault((r.account_id, r.region, r.prefix), []).append(stack)
    for (account, region, prefix), users in sorted(by_registry.items()):
        owners = [s for s in users if s.registry.owner]
        where = f"{account}/{region}/{prefix or '(no prefix)'}"
        for extra in owners[1:]:
            problems.add(extra.file, f"config.{NS}:registry.owner",
                         f"registry {where} is already owned by {owners[0].file}; exactly one stack creates the repositories")
        if not owners:
            continue
        if not owners[0].registry.immutable_tags:
            for user in users:
                if user.registry.immutable_tags and not user.registry.owner:
                    problems.add(owners[0].file, f"config.{NS}:registry.immutableTags",
                                 f"must be true: {user.file} requires immutable tags from registry {where}, "
                                 "which this stack owns")
    return problems.items


def registry_accounts(project: Project, registry: RegistryConfig) -> tuple[str, ...]:
    """The AWS accounts of every stack that pulls from ``registry`` (its owner grants them pull)."""
    key = (registry.account_id, registry.region, registry.prefix)
    return tuple(sorted({s.account_id for s in project.stacks
                         if (s.registry.account_id, s.registry.region, s.registry.prefix) == key}))
