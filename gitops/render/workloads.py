"""The per-service base: what is true of a service in every environment.

Every stack renders these files and they must come out byte-identical, so
nothing here may depend on the stack: the container image is the service's
logical name, which each overlay's ``images:`` entry maps to the registry and
tag of its environment (and which the Image Updater's kustomize target names).
"""

from __future__ import annotations

import functools
from typing import Any

from .. import layout
from ..model import Probe, ProbeKind, Service
from .manifest import Manifest, kustomization, yaml_file

RUN_AS: int = 10001  # an unprivileged uid/gid; images must not need root


def selector(service: Service) -> dict[str, str]:
    return {layout.LABEL_NAME: service.name}


@functools.lru_cache(maxsize=None)
def render_base(service: Service) -> tuple[Manifest, ...]:
    """Cached: every stack renders the same base, and ``--all`` renders all stacks."""
    return tuple(_render_base(service))


def _render_base(service: Service) -> list[Manifest]:
    base = layout.base_dir(service.name)
    files = [
        yaml_file(f"{base}/serviceaccount.yaml", service_account(service)),
        yaml_file(f"{base}/deployment.yaml", deployment(service)),
        yaml_file(f"{base}/networkpolicy.yaml", network_policy(service)),
    ]
    if service.ports:
        files.append(yaml_file(f"{base}/service.yaml", k8s_service(service)))
    if service.ingress:
        files.append(yaml_file(f"{base}/ingress.yaml", ingress(service)))
    if service.autoscaling:
        files.append(yaml_file(f"{base}/hpa.yaml", hpa(service)))
    resources = [f.path.rsplit("/", 1)[1] for f in files]
    generators = []
    if service.config:
        generators.append({
            "name": layout.config_map_name(service.name),
            "literals": [f"{k}={v}" for k, v in service.config],
        })
    common = [{
        "pairs": {
            layout.LABEL_NAME: service.name,
            layout.LABEL_PART_OF: service.team,
            layout.LABEL_TEAM: service.team,
            layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
        },
        "includeSelectors": False,
        "includeTemplates": True,
    }]
    doc = kustomization(sorted(resources), namespace=service.namespace, labels=common,
                        configMapGenerator=generators)
    files.append(yaml_file(f"{base}/{layout.KUSTOMIZATION}", doc))
    return files


def _meta(service: Service, kind_name: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": kind_name or service.name}
    if service.description:
        meta["annotations"] = {layout.ANNOTATION_DESCRIPTION: service.description}
    return meta


def service_account(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": service.name},
        # Pods get no API token unless a service asks for one: none of ours talk to the API server.
        "automountServiceAccountToken": False,
    }


def network_policy(service: Service) -> dict[str, Any]:
    """Ingress to the service's pods only on its declared ports; a worker (no ports) accepts none.

    Per service rather than one default-deny per namespace: a team's services
    share a namespace, and one object in several Applications would make them
    fight over it. Every pod the platform deploys is selected by its own policy,
    which denies everything it does not allow. Egress stays open: the catalog
    does not describe outbound dependencies.
    """
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector(service)}, "policyTypes": ["Ingress"]}
    if service.ports:
        spec["ingress"] = [{"ports": [{"port": p.container_port, "protocol": "TCP"} for p in service.ports]}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": service.name},
            "spec": spec}


def deployment(service: Service) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": service.name,
        "image": service.name,
        # Re-checked at every start: a node never runs a stale copy of a tag (tags are immutable
        # where the registry says so, and the check is a manifest request, not a download).
        "imagePullPolicy": "Always",
        "resources": service.resources.as_k8s(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        # A writable /tmp is the one thing most runtimes need with a read-only root.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if service.command:
        container["command"] = list(service.command)
    if service.args:
        container["args"] = list(service.args)
    if service.ports:
        container["ports"] = [
            {"name": p.name, "containerPort": p.container_port, "protocol": "TCP"} for p in service.ports
        ]
    if service.config:
        container["envFrom"] = [{"configMapRef": {"name": layout.config_map_name(service.name)}}]
    if service.secrets:
        container["env"] = [
            {"name": key, "valueFrom": {"secretKeyRef": {"name": layout.secret_name(service.name), "key": key}}}
            for key in service.secrets
        ]
    if service.liveness:
        container["livenessProbe"] = probe(service.liveness)
    if service.readiness:
        container["readinessProbe"] = probe(service.readiness)
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(service)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": selector(service)},
            "spec": {
                "serviceAccountName": service.name,
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": RUN_AS,
                    "runAsGroup": RUN_AS,
                    "fsGroup": RUN_AS,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "terminationGracePeriodSeconds": 30,
                "topologySpreadConstraints": [{
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": selector(service)},
                }],
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            },
        },
    }
    if not service.autoscaling:
        # The autoscaler owns the count when there is one; a fixed value would fight it on every sync.
        spec["replicas"] = 1
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(service), "spec": spec}


def probe(p: Probe) -> dict[str, Any]:
    out: dict[str, Any] = {
        "initialDelaySeconds": p.initial_delay_seconds,
        "periodSeconds": p.period_seconds,
        "timeoutSeconds": p.timeout_seconds,
        "failureThreshold": p.failure_threshold,
    }
    if p.kind is ProbeKind.HTTP:
        out["httpGet"] = {"path": p.path, "port": p.port}
    elif p.kind is ProbeKind.TCP:
        out["tcpSocket"] = {"port": p.port}
    else:
        out["exec"] = {"command": list(p.command)}
    return out


def k8s_service(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(service),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(service),
            "ports": [
                {"name": p.name, "port": p.service_port, "targetPort": p.name, "protocol": "TCP"}
                for p in service.ports
            ],
        },
    }


def ingress(service: Service) -> dict[str, Any]:
    """Host-less rule: the environment's overlay adds host, class and TLS."""
    assert service.ingress is not None
    port = next(p for p in service.ports if p.name == service.ingress.port)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(service),
        "spec": {
            "rules": [{
                "http": {
                    "paths": [{
                        "path": service.ingress.path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": service.name, "port": {"number": port.service_port}}},
                    }],
                },
            }],
        },
    }


def hpa(service: Service) -> dict[str, Any]:
    assert service.autoscaling is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": service.name},
        "spec": hpa_spec(service.name, service.autoscaling.min_replicas, service.autoscaling.max_replicas,
                         service.autoscaling.target_cpu_percent),
    }


def hpa_spec(name: str, low: int, high: int, cpu: int) -> dict[str, Any]:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": low,
        "maxReplicas": high,
        "metrics": [{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
        }],
    }
