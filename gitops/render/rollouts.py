"""Progressive delivery: an Argo Rollouts canary in front of a service's Deployment.

Only for services whose catalog entry asks for it (``delivery: {strategy:
canary, ...}``). The design keeps the Deployment the single description of the
pods: the Rollout has no pod template of its own but a ``workloadRef`` to the
Deployment, so everything that already works on the Deployment keeps working
unchanged: the overlay's kustomize ``images:`` entry (and so the Image
Updater's kustomize write-back), resource patches, ConfigMap and Secret
references, probes and security context. A change of the Deployment's pod
template is what starts a canary.

Who owns which replica count, so that no two controllers fight (Argo CD
included, which would otherwise undo the others on every self-heal):

* the Rollout owns the service's pods. Its ``spec.replicas`` is the overlay's
  count, or, with autoscaling, the HPA's, whose ``scaleTargetRef`` names the
  Rollout (Rollouts expose the scale subresource like Deployments do);
* the Deployment carries no ``replicas`` in Git for such a service. The
  Rollout scales it to zero (``workloadRef.scaleDown: progressively``: while
  the Rollout's pods come up, so switching a live service to a canary drops no
  capacity, and the Deployment is scaled back up if the Rollout fails), and
  since Git never names the field, Argo CD leaves it to the Rollout.

Basic canary (no traffic router): the Service selects stable and canary pods
alike, so ``setWeight`` is the share of pods running the new version. The
PodDisruptionBudget, NetworkPolicy and Service select pods by label and cover
the Rollout's pods as they did the Deployment's. Argo CD knows a Rollout's
health (Progressing while a canary runs, Suspended at an indefinite pause,
Degraded when aborted) without configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import layout
from ..model import Canary, CanaryStep, Service

API_VERSION = "argoproj.io/v1alpha1"
ROLLOUT_KIND = "Rollout"
ANALYSIS_KIND = "AnalysisTemplate"
ROLLOUT_FILE = "rollout.yaml"
ANALYSIS_FILE = "analysistemplate.yaml"
OVERLAY_PATCH_FILE = "patch-rollout.yaml"
# The Deployment is scaled down as the Rollout's pods become ready, and back up if the Rollout fails.
SCALE_DOWN = "progressively"
# A canary that makes no progress for this long is aborted: the stable pods stay, the Rollout reports Degraded.
PROGRESS_DEADLINE_SECONDS = 600
METRIC_NAME = "web"
WEB_TIMEOUT_SECONDS = 10


def is_canary(service: Service) -> bool:
    return service.delivery is not None


def scale_target(service: Service) -> dict[str, str]:
    """What the service's HPA scales: the Rollout for a canary (it owns the pods), else the Deployment."""
    if is_canary(service):
        return {"apiVersion": API_VERSION, "kind": ROLLOUT_KIND, "name": service.name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name}


def base_docs(service: Service) -> list[tuple[str, dict[str, Any]]]:
    """(file name, object) of the Rollout and, when the catalog asks for one, its AnalysisTemplate, for the base."""
    if service.delivery is None:
        return []
    docs = [(ROLLOUT_FILE, rollout(service))]
    if service.delivery.analysis is not None:
        docs.append((ANALYSIS_FILE, analysis_template(service)))
    return docs


def rollout(service: Service) -> dict[str, Any]:
    canary = service.delivery
    assert canary is not None
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": {layout.LABEL_NAME: service.name}},
        "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name, "scaleDown": SCALE_DOWN},
        "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        "progressDeadlineAbort": True,
        "strategy": {"canary": canary_strategy(service.name, canary)},
    }
    if service.autoscaling is None:
        # The overlay sets the environment's count (replicas_patch); with autoscaling the HPA owns it.
        spec["replicas"] = 1
    metadata: dict[str, Any] = {"name": service.name}
    if service.description:
        metadata["annotations"] = {layout.ANNOTATION_DESCRIPTION: service.description}
    return {"apiVersion": API_VERSION, "kind": ROLLOUT_KIND, "metadata": metadata, "spec": spec}


def canary_strategy(name: str, canary: Canary) -> dict[str, Any]:
    """The Deployment's own surge settings, the catalog's steps, and the analysis as a background run."""
    strategy: dict[str, Any] = {
        "maxSurge": "25%",
        "maxUnavailable": 0,
        "steps": [_step(s) for s in canary.steps],
    }
    if canary.analysis is not None:
        analysis: dict[str, Any] = {"templates": [{"templateName": name}]}
        if canary.analysis.starting_step is not None:
            analysis["startingStep"] = canary.analysis.starting_step
        strategy["analysis"] = analysis
    return strategy


def _step(step: CanaryStep) -> dict[str, Any]:
    if step.set_weight is not None:
        return {"setWeight": step.set_weight}
    return {"pause": {"duration": step.pause} if step.pause else {}}


def analysis_template(service: Service) -> dict[str, Any]:
    """One web metric: the controller GETs the URL every interval; a failure beyond the limit aborts the canary."""
    assert service.delivery is not None and service.delivery.analysis is not None
    a = service.delivery.analysis
    web: dict[str, Any] = {"url": a.url, "timeoutSeconds": WEB_TIMEOUT_SECONDS}
    if a.json_path:
        web["jsonPath"] = a.json_path
    metric: dict[str, Any] = {
        "name": METRIC_NAME,
        "interval": a.interval,
        "failureLimit": a.failure_limit,
        "successCondition": a.success_condition,
        "provider": {"web": web},
    }
    if a.count is not None:
        metric["count"] = a.count
    return {"apiVersion": API_VERSION, "kind": ANALYSIS_KIND, "metadata": {"name": service.name},
            "spec": {"metrics": [metric]}}


def replicas_patch(service: Service, count: int) -> dict[str, Any]:
    """The environment's replica count on the Rollout (kustomize's ``replicas:`` would set it on the Deployment)."""
    return {"apiVersion": API_VERSION, "kind": ROLLOUT_KIND, "metadata": {"name": service.name},
            "spec": {"replicas": count}}


def project_kinds(services: Iterable[Service]) -> tuple[tuple[str, str], ...]:
    """The Argo Rollouts kinds a team's AppProject must admit: none unless one of its services uses a canary."""
    services = list(services)
    kinds: list[tuple[str, str]] = []
    if any(is_canary(s) for s in services):
        kinds.append(("argoproj.io", ROLLOUT_KIND))
    if any(s.delivery is not None and s.delivery.analysis is not None for s in services):
        kinds.append(("argoproj.io", ANALYSIS_KIND))
    return tuple(kinds)
