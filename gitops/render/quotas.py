"""Each namespace's ResourceQuota and LimitRange, per environment.

A team's namespace gets a ceiling (ResourceQuota ``gitops-platform-quota``:
``requests.cpu``, ``requests.memory``, ``limits.cpu``, ``limits.memory``,
``pods``) so one runaway autoscaler or a wrong replica count cannot take the
cluster's nodes from every other team, and defaults (LimitRange
``gitops-platform-limits``) so that every container has requests and limits,
which the quota requires of each pod it admits (a pod without them would be
refused, including hook Jobs and debug pods that nobody gave resources).

**Who deploys them.** Argo CD creates a namespace with the first Application
that syncs into it (``CreateNamespace``), and an object must belong to exactly
one Application, or two would fight over it. So the namespace's objects go
into the overlay of its *owner*: the first service by name that deploys into
it (of whichever team, for a shared namespace). Only the owner's team's
AppProject admits ResourceQuota and LimitRange. Adding a service that sorts
before the owner moves both objects to the new service's Application: the new
one adopts them (same names, annotation tracking moves), the old one stops
listing them; at worst the namespace is without a quota between the two syncs.

**Numbers.** Per environment, from what the namespace's services can run at
most: for each service, its pods at the most (the autoscaler's maximum, else
its replica count, plus the rolling update's surge of 25 % rounded up, or the
whole count again for a canary while its Rollout takes the pods over, plus one
for a migration Job) times its per-pod requests and limits (the catalog's
resources for this environment; a value the catalog leaves out is what the
LimitRange gives the container), summed over the namespace, plus room for
``HEADROOM_PODS`` pods at the LimitRange's defaults (a hook, a debug pod).
That is enough for every service to roll out at its maximum at once, so the
quota never stops a rollout or a scale-up the catalog allows; it stops what
the catalog does not describe. A stack sets any of the numbers itself in
``workloads.quotas.<namespace>`` (a tighter ceiling on purpose, or room for
something the catalog does not know); the others stay derived.

**Defaults.** The LimitRange gives a container without them a request of
``DEFAULT_REQUEST`` and a limit of ``DEFAULT_LIMIT``, the limit raised to the
largest request in the namespace that has no limit (a container's request may
not exceed its limit, so a smaller default would make that pod invalid).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .. import layout, names
from ..errors import Problem
from ..model import Catalog, Resources, Service, Stack
from .ordering import ordered
from .rollouts import is_canary

QUOTA_FILE = "resourcequota.yaml"
LIMIT_RANGE_FILE = "limitrange.yaml"
KINDS: tuple[tuple[str, str], ...] = (("", "LimitRange"), ("", "ResourceQuota"))

DEFAULT_REQUEST = {"cpu": Decimal("0.1"), "memory": Decimal(128 * 1024**2)}
DEFAULT_LIMIT = {"cpu": Decimal("0.5"), "memory": Decimal(512 * 1024**2)}
HEADROOM_PODS = 2
SURGE = Decimal("0.25")   # the Deployments' rollingUpdate.maxSurge (workloads.deployment)
RESOURCES = ("cpu", "memory")


def owner(catalog: Catalog, namespace: str) -> Service:
    """The service whose Application deploys the namespace's ResourceQuota and LimitRange."""
    return catalog.by_namespace[namespace][0]


def owned_namespaces(catalog: Catalog) -> dict[str, Service]:
    return {ns: services[0] for ns, services in catalog.by_namespace.items()}


def admitted_kinds(catalog: Catalog, team: str) -> tuple[tuple[str, str], ...]:
    """The kinds a team's project must admit for the namespace objects it deploys (none if it owns no namespace)."""
    return KINDS if any(s.team == team for s in owned_namespaces(catalog).values()) else ()


def max_pods(service: Service, stack: Stack) -> int:
    """The most pods the service runs at once in this environment: maximum replicas, rollout surge, migration."""
    override = service.override(stack.profile)
    hpa = override.autoscaling or service.autoscaling
    if hpa is not None:
        replicas = hpa.max_replicas
    else:
        replicas = stack.replicas(service)
    # A canary's Rollout brings its pods up before the Deployment's go (workloadRef scaleDown progressively).
    surge = replicas if is_canary(service) else math.ceil(replicas * SURGE)
    return replicas + surge + (1 if service.migration is not None else 0)


def _quantity(text: str | None) -> Decimal | None:
    return names.parse_quantity(text) if text else None


def _declared(resources: Resources) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """resource -> (request, limit) as the catalog gives them (None where it gives none)."""
    return {
        "cpu": (_quantity(resources.cpu_request), _quantity(resources.cpu_limit)),
        "memory": (_quantity(resources.memory_request), _quantity(resources.memory_limit)),
    }


def limit_defaults(services: Iterable[Service], stack: Stack) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """(defaultRequest, default) of the namespace's LimitRange."""
    default_limit = dict(DEFAULT_LIMIT)
    for service in services:
        declared = _declared(service.resources.merged(service.override(stack.profile).resources))
        for resource, (request, limit) in declared.items():
            if limit is None and request is not None:
                default_limit[resource] = max(default_limit[resource], request)
    return dict(DEFAULT_REQUEST), default_limit


def pod_resources(service: Service, stack: Stack, defaults: tuple[dict[str, Decimal], dict[str, Decimal]]
                  ) -> dict[str, tuple[Decimal, Decimal]]:
    """resource -> (request, limit) one pod of the service gets once the LimitRange has filled in the gaps.

    As the API server does it: a missing limit is the default limit; a missing
    request is the container's own limit when it has one, else the default request.
    """
    default_request, default_limit = defaults
    out = {}
    for resource, (request, limit) in _declared(service.resources.merged(service.override(stack.profile).resources)).items():
        effective_limit = limit if limit is not None else default_limit[resource]
        effective_request = request if request is not None else (limit if limit is not None else default_request[resource])
        out[resource] = (effective_request, effective_limit)
    return out


def derived_hard(services: list[Service], stack: Stack) -> dict[str, Decimal]:
    """What the namespace's services need at the most (see the module docstring), before any stack override."""
    defaults = limit_defaults(services, stack)
    totals = {f"{kind}.{resource}": Decimal(0) for kind in ("requests", "limits") for resource in RESOURCES}
    pods = 0
    for service in services:
        count = max_pods(service, stack)
        pods += count
        for resource, (request, limit) in pod_resources(service, stack, defaults).items():
            totals[f"requests.{resource}"] += request * count
            totals[f"limits.{resource}"] += limit * count
    default_request, default_limit = defaults
    for resource in RESOURCES:
        totals[f"requests.{resource}"] += default_request[resource] * HEADROOM_PODS
        totals[f"limits.{resource}"] += default_limit[resource] * HEADROOM_PODS
    totals["pods"] = Decimal(pods + HEADROOM_PODS)
    return totals


def cpu_text(cores: Decimal) -> str:
    millis = math.ceil(cores * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_text(size: Decimal) -> str:
    mebibytes = math.ceil(size / 1024**2)
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


def _text(key: str, value: Decimal) -> str:
    if key == "pods":
        return str(int(value))
    return cpu_text(value) if key.endswith(".cpu") else memory_text(value)


def hard(catalog: Catalog, stack: Stack, namespace: str) -> dict[str, str]:
    """The quota's ``spec.hard``: derived, with whatever ``workloads.quotas.<namespace>`` sets instead."""
    services = list(catalog.by_namespace[namespace])
    out = {key: _text(key, value) for key, value in derived_hard(services, stack).items()}
    given = stack.workloads.quota(namespace)
    for key, value in (("requests.cpu", given.resources.cpu_request), ("requests.memory", given.resources.memory_request),
                       ("limits.cpu", given.resources.cpu_limit), ("limits.memory", given.resources.memory_limit)):
        if value is not None:
            out[key] = value
    if given.pods is not None:
        out["pods"] = str(given.pods)
    return dict(sorted(out.items()))


def _labels(service: Service, namespace: str) -> dict[str, str]:
    """The namespace's objects: named after the namespace, part of the team whose Application deploys them."""
    return {
        layout.LABEL_NAME: namespace,
        layout.LABEL_COMPONENT: layout.COMPONENT_NAMESPACE_POLICY,
        layout.LABEL_PART_OF: service.team,
        layout.LABEL_TEAM: service.team,
        layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
    }


def namespace_policy(catalog: Catalog, stack: Stack, service: Service) -> list[tuple[str, dict[str, Any]]]:
    """(file name, object) of the namespace's ResourceQuota and LimitRange when ``service`` owns its namespace, else []."""
    namespace = service.namespace
    if owner(catalog, namespace).name != service.name:
        return []
    services = list(catalog.by_namespace[namespace])
    default_request, default_limit = limit_defaults(services, stack)
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        # The overlay sets no namespace (Argo CD's destination does); explicit, so `kubectl apply -k` agrees.
        "metadata": {"name": layout.QUOTA_NAME, "namespace": namespace, "labels": _labels(service, namespace)},
        "spec": {"hard": hard(catalog, stack, namespace)},
    }
    limits = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": layout.LIMIT_RANGE_NAME, "namespace": namespace, "labels": _labels(service, namespace)},
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": cpu_text(default_limit["cpu"]), "memory": memory_text(default_limit["memory"])},
            "defaultRequest": {"cpu": cpu_text(default_request["cpu"]), "memory": memory_text(default_request["memory"])},
        }]},
    }
    return [(LIMIT_RANGE_FILE, ordered(limits)), (QUOTA_FILE, ordered(quota))]


def quota_problems(catalog: Catalog, stacks: Iterable[Stack]) -> list[Problem]:
    """A stack's ``workloads.quotas`` may name only namespaces some service deploys into."""
    used = sorted({s.namespace for s in catalog.services})
    problems = []
    for stack in stacks:
        for namespace, _ in stack.workloads.quotas:
            if namespace not in used:
                problems.append(Problem(stack.file, f"config.{layout.CONFIG_NAMESPACE}:workloads.quotas.{namespace}",
                                        f"no service deploys into namespace {namespace!r}; namespaces: {', '.join(used)}"))
    return problems
