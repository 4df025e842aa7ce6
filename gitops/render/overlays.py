"""The per-environment overlay of a service: only what differs from the base.

Always present: the image (registry and tag of this environment), the
environment and instance labels and the version label copied from the image
(render.labels). Present only when they differ: replica count, resources,
autoscaling bounds, config values, ingress host/class/TLS, a disruption
budget; the pod template's config and secrets checksums when the pods read
either (render.checksums); the namespace's ResourceQuota and LimitRange in
the overlay of the namespace's first service (render.quotas). ``config.json`` beside the kustomization is what the environment's
ApplicationSet discovers, so a new service needs no ApplicationSet edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import layout
from ..ingress import environment_rules, service_annotations, service_tls_secret, tls_entry
from ..model import Service, Stack
from .checksums import PATCH_FILE as CHECKSUM_PATCH_FILE
from .checksums import checksum_patch
from .labels import overlay_labels, service_labels, version_replacements
from .manifest import Manifest, json_file, kustomization, yaml_file
from .ordering import ordered, wave_annotation
from .rollouts import OVERLAY_PATCH_FILE, is_canary, replicas_patch
from .secrets import labelled
from .workloads import MIGRATION_FILE

NETWORK_POLICY_PATCH = "patch-networkpolicy.yaml"


def effective_replicas(service: Service, stack: Stack) -> int:
    """The replica floor in this environment (autoscaler minimum when scaling)."""
    override = service.override(stack.profile)
    hpa = override.autoscaling or service.autoscaling
    if hpa is not None:
        return hpa.min_replicas
    return stack.replicas(service)


def render_overlay(service: Service, stack: Stack, sealed: Manifest | None = None,
                   namespace_objects: Sequence[tuple[str, dict[str, Any]]] = ()) -> list[Manifest]:
    """``sealed``: the service's SealedSecret for this environment (see render.secrets), when it has one yet.
    ``namespace_objects``: (file name, object) of its namespace's ResourceQuota and LimitRange when the
    service's Application deploys them (render.quotas.namespace_policy)."""
    env = stack.environment
    directory = layout.overlay_dir(service.name, env)
    override = service.override(stack.profile)
    files: list[Manifest] = []
    resources = [f"../../{layout.BASE_DIR}"]
    patches: list[dict[str, Any]] = []

    merged = service.resources.merged(override.resources)
    if merged != service.resources:
        files.append(yaml_file(f"{directory}/patch-deployment.yaml", _resources_patch(service, merged.as_k8s())))
        patches.append({"path": "patch-deployment.yaml"})
        if service.migration is not None:
            # The migration runs with the service's resources of this environment too.
            files.append(yaml_file(f"{directory}/patch-{MIGRATION_FILE}",
                                   _migration_resources_patch(service, merged.as_k8s())))
            patches.append({"path": f"patch-{MIGRATION_FILE}"})
    if override.autoscaling is not None and override.autoscaling != service.autoscaling:
        files.append(yaml_file(f"{directory}/patch-hpa.yaml", _hpa_patch(service, override.autoscaling)))
        patches.append({"path": "patch-hpa.yaml"})
    if service.ingress is not None:
        files.append(yaml_file(f"{directory}/patch-ingress.yaml", _ingress_ops(service, stack)))
        patches.append({"path": "patch-ingress.yaml", "target": {"kind": "Ingress", "name": service.name}})
    admitted = environment_rules(service, stack)
    if admitted:
        # Who may connect in this environment (its load balancer's subnets, monitoring), after the base's rules.
        files.append(yaml_file(f"{directory}/{NETWORK_POLICY_PATCH}",
                               [{"op": "add", "path": "/spec/ingress/-", "value": rule} for rule in admitted]))
        patches.append({"path": NETWORK_POLICY_PATCH, "target": {"kind": "NetworkPolicy", "name": service.name}})
    if effective_replicas(service, stack) > 1:
        files.append(yaml_file(f"{directory}/pdb.yaml", ordered(_pdb(service, stack))))
        resources.append("pdb.yaml")
    if sealed is not None:
        sealed = labelled(sealed, service)
        files.append(sealed)
        resources.append(sealed.path.rsplit("/", 1)[-1])
    for name, obj in namespace_objects:
        files.append(yaml_file(f"{directory}/{name}", obj))
        resources.append(name)
    rollout = checksum_patch(service, stack, sealed)
    if rollout is not None:
        files.append(yaml_file(f"{directory}/{CHECKSUM_PATCH_FILE}", rollout))
        patches.append({"path": CHECKSUM_PATCH_FILE})

    replicas = []
    if service.autoscaling is None:
        count = stack.replicas(service)
        if is_canary(service):
            # kustomize's replicas: would set the count on the Deployment; a canary's pods are the Rollout's.
            files.append(yaml_file(f"{directory}/{OVERLAY_PATCH_FILE}", replicas_patch(service, count)))
            patches.append({"path": OVERLAY_PATCH_FILE})
        else:
            replicas.append({"name": service.name, "count": count})
    generators = []
    if override.config:
        generators.append({
            "name": layout.config_map_name(service.name),
            "behavior": "merge",
            "literals": [f"{k}={v}" for k, v in override.config],
            "options": {"disableNameSuffixHash": True},   # the base's one name (render.checksums)
        })
    doc = kustomization(
        resources,
        labels=overlay_labels(service, stack, sealed is not None),
        images=[{
            "name": service.name,
            "newName": stack.registry.image(service.image_repository),
            "newTag": stack.image_tag(service),
        }],
        replicas=replicas,
        configMapGenerator=generators,
        patches=patches,
        replacements=version_replacements(service, stack, sealed is not None),
    )
    files.append(yaml_file(f"{directory}/{layout.KUSTOMIZATION}", doc))
    files.append(json_file(f"{directory}/{layout.APP_CONFIG}", app_config(service, stack)))
    return files


def app_config(service: Service, stack: Stack) -> dict[str, str]:
    """Parameters of this service's Application, read by its team's git files generator.

    Only ``namespace`` reaches the Application (bounded by the team's
    project); the other fields say what the file belongs to. Strings only:
    Argo CD prints JSON numbers with Go's %v (1e+06), so nothing numeric goes
    through a template.
    """
    return {
        "service": service.name,
        "environment": stack.environment,
        "team": service.team,
        "namespace": service.namespace,
    }


def _resources_patch(service: Service, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name},
        "spec": {"template": {"spec": {"containers": [{"name": service.name, "resources": resources}]}}},
    }


def _migration_resources_patch(service: Service, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": service.name},
        "spec": {"template": {"spec": {"containers": [{"name": layout.COMPONENT_MIGRATION, "resources": resources}]}}},
    }


def _hpa_patch(service: Service, hpa: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": service.name},
        "spec": {
            "minReplicas": hpa.min_replicas,
            "maxReplicas": hpa.max_replicas,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": hpa.target_cpu_percent}},
            }],
        },
    }


def ingress_host(service: Service, stack: Stack) -> str:
    assert service.ingress is not None and stack.ingress.domain is not None
    return f"{service.ingress.host}.{stack.ingress.domain}"


def _ingress_ops(service: Service, stack: Stack) -> list[dict[str, Any]]:
    """A JSON 6902 patch: host, class, TLS and annotations of this environment (``gitops.ingress``).

    TLS names the host, plus the Secret only where something creates one
    (``alb`` finds its ACM certificate by the host instead).
    """
    host = ingress_host(service, stack)
    ops: list[dict[str, Any]] = [{"op": "add", "path": "/spec/rules/0/host", "value": host}]
    if stack.ingress.class_name:
        ops.append({"op": "add", "path": "/spec/ingressClassName", "value": stack.ingress.class_name})
    tls = tls_entry(stack.ingress, host, service_tls_secret(service))
    if tls is not None:
        ops.append({"op": "add", "path": "/spec/tls", "value": [tls]})
    own = service_annotations(service, stack)
    if own:
        annotations = dict(own)
        if service.description:
            annotations[layout.ANNOTATION_DESCRIPTION] = service.description
        # The op replaces the base's annotations as a whole, so it carries the base's wave too.
        annotations.update(wave_annotation("Ingress"))
        ops.append({"op": "add", "path": "/metadata/annotations", "value": annotations})
    return ops


def _pdb(service: Service, stack: Stack) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        # The overlay sets no namespace (Argo CD's destination does); explicit, so `kubectl apply -k` agrees.
        "metadata": {"name": service.name, "namespace": service.namespace, "labels": service_labels(service)},
        "spec": {
            "maxUnavailable": stack.workloads.pdb_max_unavailable,
            "selector": {"matchLabels": {layout.LABEL_NAME: service.name}},
            # Let evictions through for pods that are not serving anyway.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
