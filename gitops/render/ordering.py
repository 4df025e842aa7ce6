"""When Argo CD applies each object the renderer emits: sync waves and the migration hook.

Argo CD syncs an Application in phases (PreSync, Sync, PostSync) and, within a
phase, in waves, lowest first; it starts the next wave only once every object
of the current one is applied and healthy (gitops-engine ``pkg/sync``), judged
by Argo CD's built-in health checks. Those include ``bitnami.com/SealedSecret``
(healthy once the controller has unsealed it into its Secret, degraded when no
key opens it) and ``argoproj.io/ApplicationSet`` (healthy once its Applications
are up to date); a kind without a check (ServiceAccount, AppProject) counts as
healthy once applied. Without waves a phase is one wave, ordered by kind with
custom resources last: the Deployment was created before the SealedSecret, and
its first pods failed with CreateContainerConfigError until the Secret appeared.

A service (its base and overlay build into one Application), in order:

- wave 0, what pods need before they start: ServiceAccount, NetworkPolicy (no
  pod runs unprotected), ConfigMap, SealedSecret/Secret;
- wave 1, the migration Job (a Sync hook, see ``migration_hook``): what it
  reads exists, and the new version does not run yet;
- wave 2, the workload: the Deployment;
- wave 3, what exposes, scales or protects it: Service, Ingress, HPA,
  PodDisruptionBudget, applied once the Deployment has rolled out, so a new
  load balancer never fronts pods that are not ready;
- wave 4, a canary's Rollout: last, because Argo CD does not wait for the
  health of the last wave, and a canary paused for promotion is not healthy:
  in an earlier wave it would hold the sync, and every sync after it, until
  someone promoted it.

A namespace's ResourceQuota and LimitRange and a canary's AnalysisTemplate are
prerequisites too (a LimitRange's defaults apply when a pod is admitted).

An environment's root (``argocd/<env>/``, synced by ``root-<env>``): wave 0 the
AppProjects (an Application naming a project that does not exist yet is
refused, and a git files generator with a missing project fails as a whole),
wave 1 the ApplicationSets, wave 2 the ImageUpdater, which names the
Applications they generate.

Wave 0 is also Argo CD's default, so an object of the first wave that lacks the
annotation (a SealedSecret sealed before waves existed, carried forward
unchanged) still lands where it belongs. ``validate`` checks the order that
matters: what a workload reads comes in an earlier wave, and every AppProject
comes before the ApplicationSets naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from .. import layout

PREREQUISITES: Final = 0
MIGRATION: Final = 1
WORKLOAD: Final = 2
EXPOSURE: Final = 3
PROGRESSIVE: Final = 4

PROJECTS: Final = 0
APPLICATION_SETS: Final = 1
IMAGE_UPDATES: Final = 2

# By kind: every kind the renderer emits has one, so each object's place is a decision.
WAVES: Final[Mapping[str, int]] = MappingProxyType({
    # a service
    "ServiceAccount": PREREQUISITES,
    "NetworkPolicy": PREREQUISITES,
    "ConfigMap": PREREQUISITES,
    "Secret": PREREQUISITES,
    "SealedSecret": PREREQUISITES,
    "AnalysisTemplate": PREREQUISITES,
    # the namespace's (render/quotas.py): the LimitRange's defaults apply only to pods created after it
    "LimitRange": PREREQUISITES,
    "ResourceQuota": PREREQUISITES,
    "Job": MIGRATION,
    "Deployment": WORKLOAD,
    "Service": EXPOSURE,
    "Ingress": EXPOSURE,
    "HorizontalPodAutoscaler": EXPOSURE,
    "PodDisruptionBudget": EXPOSURE,
    "Rollout": PROGRESSIVE,
    # an environment's root
    "AppProject": PROJECTS,
    "ApplicationSet": APPLICATION_SETS,
    "ImageUpdater": IMAGE_UPDATES,
})

HOOK_SYNC: Final = "Sync"
# Argo CD's hook policies: delete the previous run before creating the next (a named hook is otherwise
# created once only), and delete a run that succeeded. A failed run stays for `kubectl logs` until the
# next sync replaces it; a successful one leaves nothing behind, so removing a migration from the
# catalog leaves no Job that Argo CD would no longer manage (hooks are never pruned).
HOOK_DELETE_POLICY: Final = "BeforeHookCreation,HookSucceeded"


def wave_of(kind: str) -> int:
    """The sync wave of a kind the renderer emits; ValueError for one without a decided place."""
    try:
        return WAVES[kind]
    except KeyError:
        raise ValueError(f"no sync wave for kind {kind}: give it one in gitops/render/ordering.py") from None


def wave_annotation(kind: str) -> dict[str, str]:
    return {layout.SYNC_WAVE_ANNOTATION: str(wave_of(kind))}


def ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its kind's sync wave among its annotations (a new mapping; ``obj`` is not changed)."""
    metadata = dict(obj.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **wave_annotation(str(obj["kind"]))}
    return {**obj, "metadata": metadata}


def migration_hook() -> dict[str, str]:
    """The migration Job's annotations: a Sync hook in the wave between its inputs and the Deployment.

    Not a PreSync hook, although that is the textbook place for a migration:
    PreSync runs before anything of the Sync phase is applied, so on the first
    sync the ServiceAccount, ConfigMap and SealedSecret the Job reads would not
    exist yet: the pod could not start and the sync would hang until the
    Job's deadline; and after a config or secret change the migration would
    run with the previous values. A Sync hook in wave 1 runs after wave 0 is
    applied and healthy (the Secret unsealed) and must succeed before wave 2
    (the Deployment) is applied; if it fails, the sync fails and the running
    version keeps running.
    """
    return {
        layout.HOOK_ANNOTATION: HOOK_SYNC,
        layout.HOOK_DELETE_POLICY_ANNOTATION: HOOK_DELETE_POLICY,
        **wave_annotation("Job"),
    }
