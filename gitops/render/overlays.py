"""The per-environment overlay of a service: only what differs from the base.

Always present: the image (registry and tag of this environment) and the
environment label. Present only when they differ: replica count, resources,
autoscaling bounds, config values, ingress host/class/TLS, a disruption
budget. ``config.json`` beside the kustomization is what the environment's
ApplicationSet discovers, so a new service needs no ApplicationSet edit.
"""

from __future__ import annotations

from typing import Any, Optional

from .. import layout
from ..model import Service, Stack
from .manifest import Manifest, json_file, kustomization, yaml_file


def effective_replicas(service: Service, stack: Stack) -> int:
    """The replica floor in this environment (autoscaler minimum when scaling)."""
    override = service.override(stack.profile)
    hpa = override.autoscaling or service.autoscaling
    if hpa is not None:
        return hpa.min_replicas
    if override.replicas is not None:
        return override.replicas
    return stack.workloads.replicas


def render_overlay(service: Service, stack: Stack, sealed: Optional[Manifest] = None) -> list[Manifest]:
    """``sealed``: the service's SealedSecret for this environment (see render.secrets), when it has one yet."""
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
    if override.autoscaling is not None and override.autoscaling != service.autoscaling:
        files.append(yaml_file(f"{directory}/patch-hpa.yaml", _hpa_patch(service, override.autoscaling)))
        patches.append({"path": "patch-hpa.yaml"})
    if service.ingress is not None:
        files.append(yaml_file(f"{directory}/patch-ingress.yaml", _ingress_ops(service, stack)))
        patches.append({"path": "patch-ingress.yaml", "target": {"kind": "Ingress", "name": service.name}})
    if effective_replicas(service, stack) > 1:
        files.append(yaml_file(f"{directory}/pdb.yaml", _pdb(service, stack)))
        resources.append("pdb.yaml")
    if sealed is not None:
        files.append(sealed)
        resources.append(sealed.path.rsplit("/", 1)[-1])

    replicas = []
    if service.autoscaling is None:
        count = override.replicas if override.replicas is not None else stack.workloads.replicas
        replicas.append({"name": service.name, "count": count})
    generators = []
    if override.config:
        generators.append({
            "name": layout.config_map_name(service.name),
            "behavior": "merge",
            "literals": [f"{k}={v}" for k, v in override.config],
        })
    doc = kustomization(
        resources,
        labels=[{"pairs": {layout.LABEL_ENVIRONMENT: env}, "includeSelectors": False, "includeTemplates": True}],
        images=[{
            "name": service.name,
            "newName": stack.registry.image(service.image_repository),
            "newTag": stack.image_tag(service),
        }],
        replicas=replicas,
        configMapGenerator=generators,
        patches=patches,
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
    """A JSON 6902 patch: host, class, TLS and annotations of this environment."""
    host = ingress_host(service, stack)
    ops: list[dict[str, Any]] = [{"op": "add", "path": "/spec/rules/0/host", "value": host}]
    if stack.ingress.class_name:
        ops.append({"op": "add", "path": "/spec/ingressClassName", "value": stack.ingress.class_name})
    if stack.ingress.tls:
        ops.append({"op": "add", "path": "/spec/tls", "value": [{"hosts": [host], "secretName": f"{service.name}-tls"}]})
    if stack.ingress.annotations:
        annotations = dict(stack.ingress.annotations)
        if service.description:
            annotations[layout.ANNOTATION_DESCRIPTION] = service.description
        ops.append({"op": "add", "path": "/metadata/annotations", "value": annotations})
    return ops


def _pdb(service: Service, stack: Stack) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        # The overlay sets no namespace (Argo CD's destination does); explicit, so `kubectl apply -k` agrees.
        "metadata": {"name": service.name, "namespace": service.namespace},
        "spec": {
            "maxUnavailable": stack.workloads.pdb_max_unavailable,
            "selector": {"matchLabels": {layout.LABEL_NAME: service.name}},
            # Let evictions through for pods that are not serving anyway.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
