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
from ..ingress import base_rules
from ..model import Probe, ProbeKind, Service
from .labels import component
from .manifest import Manifest, kustomization, yaml_file
from .ordering import migration_hook, ordered, wave_annotation
from .rollouts import base_docs as rollout_docs
from .rollouts import is_canary, scale_target

RUN_AS: int = 10001  # an unprivileged uid/gid; images must not need root
# How long a pod with a Service keeps serving after it is told to stop: long enough for the endpoint
# removal to reach kube-proxy and the load balancer controller to deregister the pod's target.
PRESTOP_SLEEP_SECONDS: int = 15
# What a process gets to shut down after SIGTERM (the grace period before the preStop hook existed).
SHUTDOWN_SECONDS: int = 30


def termination_grace_period(service: Service) -> int:
    """The preStop sleep counts against the grace period: the process still gets its full shutdown time after it."""
    return SHUTDOWN_SECONDS + (PRESTOP_SLEEP_SECONDS if service.ports else 0)


def selector(service: Service) -> dict[str, str]:
    return {layout.LABEL_NAME: service.name}


@functools.cache
def render_base(service: Service) -> tuple[Manifest, ...]:
    """Cached: every stack renders the same base, and ``--all`` renders all stacks."""
    return tuple(_render_base(service))


def _render_base(service: Service) -> list[Manifest]:
    base = layout.base_dir(service.name)
    files = [
        yaml_file(f"{base}/serviceaccount.yaml", ordered(service_account(service))),
        yaml_file(f"{base}/deployment.yaml", ordered(deployment(service))),
        yaml_file(f"{base}/networkpolicy.yaml", ordered(network_policy(service))),
    ]
    if service.ports:
        files.append(yaml_file(f"{base}/service.yaml", ordered(k8s_service(service))))
    if service.ingress:
        files.append(yaml_file(f"{base}/ingress.yaml", ordered(ingress(service))))
    if service.autoscaling:
        files.append(yaml_file(f"{base}/hpa.yaml", ordered(hpa(service))))
    if service.migration:
        files.append(yaml_file(f"{base}/{MIGRATION_FILE}", ordered(migration_job(service))))
        files.append(yaml_file(f"{base}/{MIGRATION_POLICY_FILE}", ordered(migration_network_policy(service))))
    # A canary's Rollout (and AnalysisTemplate) take over the Deployment's pods (render.rollouts).
    files.extend(yaml_file(f"{base}/{name}", ordered(doc)) for name, doc in rollout_docs(service))
    resources = [f.path.rsplit("/", 1)[1] for f in files]
    generators = []
    if service.config:
        generators.append({
            "name": layout.config_map_name(service.name),
            "literals": [f"{k}={v}" for k, v in service.config],
            # Generated, so annotated here: wave 0, before the pods that read it. One name in every
            # environment and release (render.checksums says why; its checksum rolls the pods instead).
            "options": {"annotations": wave_annotation("ConfigMap"), "disableNameSuffixHash": True},
        })
    doc = kustomization(sorted(resources), namespace=service.namespace, labels=base_labels(service),
                        configMapGenerator=generators)
    files.append(yaml_file(f"{base}/{layout.KUSTOMIZATION}", doc))
    return files


def base_labels(service: Service) -> list[dict[str, Any]]:
    """The base kustomization's ``labels:``: team and owner on every object and pod template, name and component
    on the objects only."""
    return [{
        "pairs": {
            layout.LABEL_PART_OF: service.team,
            layout.LABEL_TEAM: service.team,
            layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
        },
        "includeSelectors": False,
        "includeTemplates": True,
    }, {
        # Not on pod templates: the name is what the Service, NetworkPolicy, PDB and HPA select the
        # service's pods by, and the Deployment's template sets it itself; a migration pod carrying
        # it would become an endpoint of the Service and count in the Deployment's budget and metrics.
        "pairs": {layout.LABEL_NAME: service.name, layout.LABEL_COMPONENT: component(service)},
        "includeSelectors": False,
        "includeTemplates": False,
    }]


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
    """Ingress to the service's pods only on its declared ports, only from whom the catalog names; a worker accepts none.

    Here, the same in every environment: pods of the service's own namespace
    on every port (metrics and admin ports included), the catalog's
    ``clients`` in other namespaces on traffic ports. Each overlay adds what
    depends on the environment (``gitops.ingress.environment_rules``: the
    ingress controller's or load balancer's traffic to the ingress port, the
    monitoring namespace to metrics ports).

    Per service rather than one default-deny per namespace: a team's services
    share a namespace, and one object in several Applications would make them
    fight over it. Every pod the platform deploys is selected by its own policy,
    which denies everything it does not allow. Egress stays open: the catalog
    does not describe outbound dependencies.
    """
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector(service)}, "policyTypes": ["Ingress"]}
    if service.ports:
        spec["ingress"] = base_rules(service)
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
    if service.ports:
        # Something routes to this pod (its Service's endpoints, a load balancer's IP targets) and learns
        # of its termination only after a delay: keep serving meanwhile. The native sleep action, since the
        # images need not have a shell (Kubernetes 1.30+; the stack reader refuses older clusters).
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}}
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
                "terminationGracePeriodSeconds": termination_grace_period(service),
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
    if not service.autoscaling and not is_canary(service):
        # The autoscaler owns the count when there is one; a fixed value would fight it on every sync.
        # A canary's Rollout scales the Deployment to zero itself (render.rollouts): Git leaves the field to it.
        spec["replicas"] = 1
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(service), "spec": spec}


MIGRATION_FILE = "migration.yaml"
MIGRATION_POLICY_FILE = "networkpolicy-migration.yaml"
# What the migration takes from the service's container and pod: the same image, inputs, identity,
# limits and restrictions (restricted pod security), nothing that only a server needs (ports, probes).
_MIGRATION_CONTAINER_KEYS = ("image", "imagePullPolicy", "env", "envFrom", "resources", "securityContext",
                             "volumeMounts")
_MIGRATION_POD_KEYS = ("serviceAccountName", "automountServiceAccountToken", "securityContext", "volumes",
                       "imagePullSecrets")


def migration_selector(service: Service) -> dict[str, str]:
    """The migration pods' labels: never the service's selector (see the base's labels)."""
    return {layout.LABEL_SERVICE: service.name, layout.LABEL_COMPONENT: layout.COMPONENT_MIGRATION}


def migration_job(service: Service) -> dict[str, Any]:
    """The service's migration as a Job run by Argo CD before each rollout (``ordering.migration_hook``).

    Built from the Deployment's own container and pod spec, so it cannot fall
    behind them: the image is the service's logical name, which each overlay's
    ``images:`` entry (and the Image Updater's write-back) rewrites for the Job
    as for the Deployment, so the migration always runs the release about to
    roll out. Named after the service like its other objects (no other Job
    exists in its namespace); ``restartPolicy: Never`` keeps each failed
    attempt's pod and logs until the Job is deleted.
    """
    assert service.migration is not None
    migration = service.migration
    pod = deployment(service)["spec"]["template"]["spec"]
    server = pod["containers"][0]
    container: dict[str, Any] = {"name": layout.COMPONENT_MIGRATION}
    container.update({key: server[key] for key in _MIGRATION_CONTAINER_KEYS if key in server})
    if migration.command:
        container["command"] = list(migration.command)
    if migration.args:
        container["args"] = list(migration.args)
    spec: dict[str, Any] = {key: pod[key] for key in _MIGRATION_POD_KEYS if key in pod}
    spec["restartPolicy"] = "Never"
    spec["containers"] = [container]
    metadata = _meta(service)
    metadata["annotations"] = {**metadata.get("annotations", {}), **migration_hook()}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "activeDeadlineSeconds": migration.timeout_seconds,
            "backoffLimit": migration.backoff_limit,
            "template": {"metadata": {"labels": migration_selector(service)}, "spec": spec},
        },
    }


def migration_network_policy(service: Service) -> dict[str, Any]:
    """No ingress to the migration's pods: every pod the platform runs is selected by a policy.

    The service's own policy selects its pods by name, which migration pods do
    not carry. The policy's name has a dot, which no service name has, so it
    cannot be the policy of another service (``<service>-migration`` could be).
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{service.name}.{layout.COMPONENT_MIGRATION}"},
        "spec": {"podSelector": {"matchLabels": migration_selector(service)}, "policyTypes": ["Ingress"]},
    }


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
        "spec": {**hpa_spec(service.name, service.autoscaling.min_replicas, service.autoscaling.max_replicas,
                            service.autoscaling.target_cpu_percent),
                 # A canary's pods are the Rollout's, which exposes the scale subresource like a Deployment.
                 "scaleTargetRef": scale_target(service)},
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
