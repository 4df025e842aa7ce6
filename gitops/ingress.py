"""How a service is reached in an environment: its Ingress as the controller needs it, and who may connect.

One module for what the renderer (every service's overlay) and the Pulumi
program (Argo CD's own ingress, ``components/argocd.py``) both tell the
ingress controller, so the two never disagree, and for the NetworkPolicy
peers that follow from the same settings.

**className ``alb``** (the AWS Load Balancer Controller, checked against its
documented Ingress annotations):

- targets are pod IPs (``target-type: ip``): every Service is ClusterIP,
  which ``instance`` targets (NodePorts) cannot reach, and pod readiness gates
  work with IP targets only;
- with ``tls``: listeners on 80 and 443, 80 redirecting to 443
  (``ssl-redirect``; the controller then gives every HTTP listener of the load
  balancer that redirect), the certificate by ARN (``certificateArn``) or, when
  none is given, discovered in ACM from ``spec.tls[].hosts`` (so the TLS entry
  names the host and no Secret: nothing would create one);
- the target group's health check is the service's HTTP readiness probe
  (path, port, 200-399 as the kubelet counts success), not the controller's
  ``/`` expecting 200;
- every service of an environment joins one IngressGroup (``ingress.group``,
  default the environment), so they share one load balancer; ``group.order``
  comes from the path alone (longer prefixes first, ties broken by the
  controller by namespace/name), so adding a service never renumbers another.
  A service's own annotations may not set what applies to the whole shared
  load balancer (scheme, subnets, security groups, ...): one Ingress setting a
  different value makes the controller fail the whole group.

**Other classes** keep ``spec.tls`` only with a Secret that something
creates: the stack's ``tlsSecretName``, or ``<service>-tls`` made by
cert-manager when the stack's annotations name an issuer; the stack reader
refuses ``tls`` otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from . import layout, names
from .errors import Problem, shown
from .model import Catalog, IngressConfig, Port, PortPurpose, ProbeKind, Service, Stack
from .network import subnet_plan
from .reader import type_name

ALB_PREFIX: Final = "alb.ingress.kubernetes.io/"
GROUP_NAME: Final = f"{ALB_PREFIX}group.name"
GROUP_ORDER: Final = f"{ALB_PREFIX}group.order"
LISTEN_PORTS: Final = f"{ALB_PREFIX}listen-ports"
SSL_REDIRECT: Final = f"{ALB_PREFIX}ssl-redirect"
CERTIFICATE_ARN: Final = f"{ALB_PREFIX}certificate-arn"
TARGET_TYPE: Final = f"{ALB_PREFIX}target-type"
SCHEME: Final = f"{ALB_PREFIX}scheme"
SUBNETS: Final = f"{ALB_PREFIX}subnets"
BACKEND_PROTOCOL: Final = f"{ALB_PREFIX}backend-protocol"
HEALTHCHECK_PATH: Final = f"{ALB_PREFIX}healthcheck-path"
HEALTHCHECK_PORT: Final = f"{ALB_PREFIX}healthcheck-port"
HEALTHCHECK_PROTOCOL: Final = f"{ALB_PREFIX}healthcheck-protocol"
SUCCESS_CODES: Final = f"{ALB_PREFIX}success-codes"
# The deprecated class annotation wins over spec.ingressClassName in the controllers that read it.
CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"

TARGET_TYPE_IP: Final = "ip"
TRAFFIC_PORT: Final = "traffic-port"
SCHEME_INTERNET_FACING: Final = "internet-facing"
SCHEME_DEFAULT: Final = "internal"          # the controller's default
LISTEN_HTTP_AND_HTTPS: Final = json.dumps([{"HTTP": 80}, {"HTTPS": 443}])
REDIRECT_TO_HTTPS: Final = "443"
PROBE_SUCCESS_CODES: Final = "200-399"      # what the kubelet counts as a passed HTTP probe
# The controller accepts explicit orders in [-1000, 1000]; older releases in [1, 1000].
GROUP_ORDER_MIN: Final = 1
GROUP_ORDER_MAX: Final = 1000
GROUP_NAME_PATTERN: Final = re.compile(r"([a-z0-9][-a-z0-9.]*)?[a-z0-9]")
GROUP_NAME_MAX: Final = 63
NO_GROUP: Final = "none"                    # ingress.group: none = a load balancer per Ingress

# Namespace label the controller's webhook looks for: pods created there get readiness gates that stay
# False until their load balancer target is healthy (IP targets only).
READINESS_GATE_LABEL: Final = "elbv2.k8s.aws/pod-readiness-gate-inject"
READINESS_GATE_ENABLED: Final = "enabled"
# Set by the API server on every namespace (immutable): how a NetworkPolicy peer names a namespace.
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
CERT_MANAGER_ISSUER_KEYS: Final = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")

# Annotations that follow from the stack's ingress settings: never written by hand in a service file.
DERIVED_KEYS: Final[Mapping[str, str]] = {
    GROUP_NAME: "the stack's ingress.group",
    GROUP_ORDER: "the service's ingress path (longer paths first)",
    LISTEN_PORTS: "the stack's ingress.tls",
    SSL_REDIRECT: "the stack's ingress.tls",
    CERTIFICATE_ARN: "the stack's ingress.certificateArn",
    CLASS_ANNOTATION: "the stack's ingress.className",
}
# What configures the whole load balancer (the controller's "Exclusive" merge behaviour): in a shared
# group only the stack may set it, the same value on every Ingress.
LOAD_BALANCER_KEYS: Final = frozenset(f"{ALB_PREFIX}{key}" for key in (
    "load-balancer-name", "ip-address-type", "scheme", "subnets", "security-groups", "customer-owned-ipv4-pool",
    "load-balancer-attributes", "wafv2-acl-arn", "waf-acl-id", "shield-advanced-protection", "ssl-policy",
    "inbound-cidrs",
))


# --- annotations --------------------------------------------------------------------------------------------


def alb_annotations(tls: bool, certificate_arn: str | None) -> dict[str, str]:
    """What every ``alb`` Ingress of the platform needs: pod IP targets and, with TLS, HTTPS with a redirect.

    Without ``certificate_arn`` the controller finds the certificate in ACM by
    the Ingress's TLS hosts; it must exist (issued or imported) before the
    listener can be created.
    """
    annotations = {TARGET_TYPE: TARGET_TYPE_IP}
    if tls:
        annotations[LISTEN_PORTS] = LISTEN_HTTP_AND_HTTPS
        annotations[SSL_REDIRECT] = REDIRECT_TO_HTTPS
        if certificate_arn:
            annotations[CERTIFICATE_ARN] = certificate_arn
    return annotations


def group_order(path: str) -> int:
    """The service's place in its IngressGroup: longer path prefixes first, ``/`` last.

    The load balancer tries rules in this order and the first match wins, so
    a ``/api`` on a host must come before that host's ``/``. Derived from the
    path alone (equal orders are sorted by namespace/name by the controller),
    so adding or removing one service never changes another one's overlay.
    """
    return max(GROUP_ORDER_MIN, GROUP_ORDER_MAX - len(path.rstrip("/")))


def _port(service: Service, name: str | None) -> Port | None:
    return next((p for p in service.ports if p.name == name), None)


def health_check_annotations(service: Service) -> dict[str, str]:
    """The target group's health check from the service's HTTP readiness probe; {} without one.

    The load balancer then sends traffic exactly where the kubelet would: a
    pod that is not ready for the kubelet is not healthy for the load
    balancer either. A probe on another port than the ingress port is checked
    on that port (IP targets: the pod's own port number).
    """
    probe, ingress = service.readiness, service.ingress
    if ingress is None or probe is None or probe.kind is not ProbeKind.HTTP or probe.path is None:
        return {}
    port = _port(service, probe.port)
    if port is None:
        return {}
    return {
        HEALTHCHECK_PATH: probe.path,
        HEALTHCHECK_PORT: TRAFFIC_PORT if probe.port == ingress.port else str(port.container_port),
        HEALTHCHECK_PROTOCOL: "HTTP",
        SUCCESS_CODES: PROBE_SUCCESS_CODES,
    }


def service_annotations(service: Service, stack: Stack) -> dict[str, str]:
    """Every annotation of the service's Ingress in this environment.

    Later layers win: the class's defaults (``alb``: targets, listeners), the
    stack's annotations (the environment's choices), what follows from the
    service (group order, health check), then the service's own annotations
    (already refused when they would set a derived or a shared key).
    """
    assert service.ingress is not None
    config = stack.ingress
    annotations: dict[str, str] = {}
    if config.is_alb:
        annotations.update(alb_annotations(config.tls, config.certificate_arn))
    annotations.update(config.annotations)
    if config.is_alb:
        if config.group is not None:
            annotations[GROUP_NAME] = config.group
            annotations[GROUP_ORDER] = str(group_order(service.ingress.path))
        annotations.update(health_check_annotations(service))
    annotations.update(service.ingress.annotations)
    return annotations


def cert_manager_issues(annotations: Mapping[str, str]) -> bool:
    """Whether cert-manager's ingress-shim would create the TLS Secret an Ingress names."""
    return any(key in annotations for key in CERT_MANAGER_ISSUER_KEYS)


def tls_entry(config: IngressConfig, host: str, generated_secret: str) -> dict[str, Any] | None:
    """``spec.tls`` entry of an Ingress for ``host``, or None without TLS.

    ``alb``: the host only (the controller's certificate discovery reads it;
    a ``secretName`` would name a Secret nothing creates). Other classes: the
    stack's ``tlsSecretName``, else ``generated_secret``, which cert-manager
    creates (the stack reader refuses ``tls`` with neither).
    """
    if not config.tls:
        return None
    if config.is_alb:
        return {"hosts": [host]}
    return {"hosts": [host], "secretName": config.tls_secret_name or generated_secret}


def service_tls_secret(service: Service) -> str:
    """The Secret cert-manager creates for a service's certificate (other classes, no ``tlsSecretName``)."""
    return f"{service.name}-tls"


# --- who may connect: NetworkPolicy rules -------------------------------------------------------------------


def port_rules(ports: Sequence[Port]) -> list[dict[str, Any]]:
    return [{"port": p.container_port, "protocol": "TCP"} for p in ports]


def namespace_peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def traffic_ports(service: Service) -> tuple[Port, ...]:
    return tuple(p for p in service.ports if not p.internal)


def base_rules(service: Service) -> list[dict[str, Any]]:
    """The rules every environment shares: the service's own namespace on every port, its clients on traffic ports.

    A bare ``podSelector: {}`` peer is the policy's own namespace only; a
    client in another namespace is named by namespace and pod label together.
    """
    if not service.ports:
        return []
    rules: list[dict[str, Any]] = [{"from": [{"podSelector": {}}], "ports": port_rules(service.ports)}]
    others = sorted({(name, ns) for name, ns in service.clients if ns != service.namespace})
    served = traffic_ports(service)
    if others and served:
        rules.append({
            "from": [{**namespace_peer(ns), "podSelector": {"matchLabels": {layout.LABEL_NAME: name}}}
                     for name, ns in others],
            "ports": port_rules(served),
        })
    if served and analyses_itself(service):
        # The Argo Rollouts controller polls the canary's analysis URL from its own namespace.
        rules.append({"from": [namespace_peer(ROLLOUTS_NAMESPACE)], "ports": port_rules(served)})
    return rules


# The Argo Rollouts controller's namespace, where the program installs it.
ROLLOUTS_NAMESPACE: Final = layout.ROLLOUTS_NAMESPACE


def analyses_itself(service: Service) -> bool:
    """Whether the service's canary analysis URL is the service itself (``<name>.<namespace>.svc...``)."""
    analysis = service.delivery.analysis if service.delivery is not None else None
    if analysis is None:
        return False
    host = re.sub(r"^[a-z]+://", "", analysis.url).split("/", 1)[0].split(":", 1)[0]
    return host.split(".")[:2] in ([service.name, service.namespace], [service.name])


def load_balancer_ports(service: Service) -> tuple[Port, ...]:
    """The ingress port, plus the health-check port when the readiness probe uses another one."""
    assert service.ingress is not None
    ports = [p for p in service.ports if p.name == service.ingress.port]
    health = health_check_annotations(service).get(HEALTHCHECK_PORT)
    if health not in (None, TRAFFIC_PORT):
        ports += [p for p in service.ports if str(p.container_port) == health and p not in ports]
    return tuple(ports)


def load_balancer_cidrs(stack: Stack) -> tuple[str, ...]:
    """The CIDR blocks an ``alb`` load balancer of this stack sends from; () when the stack cannot know them.

    With IP targets the load balancer connects to pods from its own addresses
    in its subnets. The cluster component creates them: public subnets for an
    ``internet-facing`` scheme, private ones (the nodes', so the whole VPC's
    pods too) for ``internal``. Given subnets (``cluster.subnetIds``) or a
    ``subnets`` annotation are not known offline: ``ingress.loadBalancerCidrs``
    must list them.
    """
    config = stack.ingress
    if config.load_balancer_cidrs:
        return config.load_balancer_cidrs
    annotations = dict(config.annotations)
    if stack.cluster.subnet_ids or SUBNETS in annotations:
        return ()
    plan = subnet_plan(stack.cluster.vpc_cidr, stack.cluster.availability_zones)
    public = annotations.get(SCHEME, SCHEME_DEFAULT) == SCHEME_INTERNET_FACING
    return tuple(zone.public if public else zone.private for zone in plan)


def environment_rules(service: Service, stack: Stack) -> list[dict[str, Any]]:
    """The rules that depend on the environment: the ingress controller's traffic and the monitoring namespace.

    ``alb``: the load balancer's subnets, on the ingress (and health-check)
    port only. Another class: its controller's namespace when the stack names
    it, else the ingress port from anywhere (the controller's pods are
    unknown, and blocking them would take the service offline). Metrics ports:
    the stack's monitoring namespace. Workers (no ports) get none.
    """
    if not service.ports:
        return []
    rules: list[dict[str, Any]] = []
    config = stack.ingress
    if service.ingress is not None and config.domain:
        if config.is_alb:
            cidrs = load_balancer_cidrs(stack)
            if cidrs:
                rules.append({"from": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs],
                              "ports": port_rules(load_balancer_ports(service))})
        else:
            ingress_port = [p for p in service.ports if p.name == service.ingress.port]
            rule: dict[str, Any] = {"ports": port_rules(ingress_port)}
            if config.controller_namespace:
                rule = {"from": [namespace_peer(config.controller_namespace)], **rule}
            rules.append(rule)
    monitoring = stack.workloads.monitoring_namespace
    metrics = [p for p in service.ports if p.purpose is PortPurpose.METRICS]
    if monitoring and metrics and monitoring != service.namespace:
        rules.append({"from": [namespace_peer(monitoring)], "ports": port_rules(metrics)})
    return rules


# --- checks -------------------------------------------------------------------------------------------------


def target_type_problem(value: str) -> str | None:
    if value == TARGET_TYPE_IP:
        return None
    return (f"{shown(value)} is not supported: the only valid value is 'ip' (every Service is ClusterIP, "
            "which 'instance' targets cannot reach, and pod readiness gates need IP targets)")


def group_problem(value: str) -> str | None:
    if value == NO_GROUP or (len(value) <= GROUP_NAME_MAX and GROUP_NAME_PATTERN.fullmatch(value)):
        return None
    return (f"{shown(value)} is not a valid IngressGroup name: at most {GROUP_NAME_MAX} lowercase letters, "
            f"digits, '-' and '.', starting and ending with a letter or digit (or '{NO_GROUP}': a load balancer "
            "per Ingress)")


def service_annotation_problem(key: str, value: object) -> str | None:
    """Why a service file's ``ingress.annotations.<key>`` cannot be used, or None (stack-independent rules)."""
    key_problem = names.annotation_key_problem(key)
    if key_problem:
        return key_problem
    if not isinstance(value, str):
        return f"expected a string (quote numbers and booleans), got {type_name(value)}"
    if key in DERIVED_KEYS:
        return f"is set from {DERIVED_KEYS[key]}; a service file cannot set it"
    if key == TARGET_TYPE:
        return target_type_problem(value)
    return None


def ingress_problems(catalog: Catalog, stacks: Sequence[Stack]) -> list[Problem]:
    """What only the catalog and the stacks together can tell.

    - An ``alb`` stack whose load balancer subnets are not known offline
      (given subnets) must list their CIDRs, or the exposed services'
      NetworkPolicies would admit nothing from their load balancer.
    - A service's annotation that configures the whole load balancer is
      refused while it shares one (reported once, naming every such stack).
    """
    ns = layout.CONFIG_NAMESPACE
    problems: list[Problem] = []
    exposed = [s for s in catalog.services if s.ingress is not None]
    for stack in stacks:
        if stack.ingress.is_alb and exposed and stack.ingress.domain and not load_balancer_cidrs(stack):
            given = ("cluster.subnetIds" if stack.cluster.subnet_ids
                     else f"ingress.annotations.{SUBNETS}")
            problems.append(Problem(
                stack.file, f"config.{ns}:ingress.loadBalancerCidrs",
                f"is required: the load balancer runs in the subnets of {given}, whose CIDR blocks this stack does "
                f"not know, and the NetworkPolicies of {', '.join(s.name for s in exposed[:3])}"
                f"{' and others' if len(exposed) > 3 else ''} admit its traffic only from them; list them, "
                "e.g. [10.0.224.0/22, 10.0.228.0/22]"))
    shared = sorted((s for s in stacks if s.ingress.is_alb and s.ingress.group is not None), key=lambda s: s.environment)
    if shared:
        where = ", ".join(f"{s.environment} ({s.file})" for s in shared)
        for service in exposed:
            assert service.ingress is not None
            for key, _ in service.ingress.annotations:
                if key in LOAD_BALANCER_KEYS:
                    problems.append(Problem(
                        service.file, f"ingress.annotations.{key}",
                        f"configures the whole load balancer, which every service's Ingress shares in {where}; "
                        "set it in the stack's ingress.annotations, or set ingress.group: none there to give "
                        "each service a load balancer of its own"))
    return problems
