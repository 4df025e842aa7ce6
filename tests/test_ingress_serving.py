"""Behind a real ingress controller: an Ingress that serves, pods that drain, and only the right peers let in.

The example project rendered and read back, one setting changed per case:
what the AWS Load Balancer Controller is told (listeners, redirect,
certificate, health check, the shared IngressGroup), what other classes get
(a TLS Secret that something creates, or a refusal), the namespace label that
gives pods readiness gates, the preStop sleep, and the NetworkPolicy peers of
each service. Bad settings exit 2 with one ``Error:`` naming file and key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT, CliResult
from gitops import ingress
from gitops.project import load_project
from gitops.render import render_service
from gitops.render.argocd import application_set

NS = "gitops-platform"
ALB = "alb.ingress.kubernetes.io/"
HTTP_AND_HTTPS = '[{"HTTP": 80}, {"HTTPS": 443}]'
CERTIFICATE = "arn:aws:acm:eu-west-1:333333333333:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
# The example's prod VPC (10.30.0.0/16, 3 zones) as the cluster component cuts it.
PROD_PUBLIC_SUBNETS = ["10.30.224.0/22", "10.30.228.0/22", "10.30.232.0/22"]
DEV_PRIVATE_SUBNETS = ["10.10.0.0/19", "10.10.32.0/19"]


# --- helpers ---------------------------------------------------------------------------------------------------


def stack_file(project: Path, stack: str) -> Path:
    return project / f"Pulumi.{stack}.yaml"


def set_ingress(project: Path, stack: str, **settings: Any) -> None:
    """Change keys of the stack's ``ingress`` (None removes one)."""
    path = stack_file(project, stack)
    doc = yaml.safe_load(path.read_text())
    section = doc["config"].setdefault(f"{NS}:ingress", {})
    for key, value in settings.items():
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def set_stack_key(project: Path, stack: str, key: str, field: str, value: Any) -> None:
    path = stack_file(project, stack)
    doc = yaml.safe_load(path.read_text())
    doc["config"].setdefault(f"{NS}:{key}", {})[field] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def other_class_everywhere(project: Path, class_name: str = "nginx", **settings: Any) -> None:
    """Every stack on another ingress class: no alb annotations, no TLS unless ``settings`` say so."""
    for stack in ("dev", "prod", "staging"):
        set_ingress(project, stack, className=class_name, annotations={}, tls=False, **settings)


def edit_service(project: Path, service: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = project / "services" / f"{service}.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def files(project: Path, service: str, stack: str) -> dict[str, Any]:
    """``base/<file>`` and ``overlay/<file>`` -> the parsed YAML (a list when a file holds several documents)."""
    loaded = load_project(project)
    svc = next(s for s in loaded.catalog.services if s.name == service)
    out: dict[str, Any] = {}
    for manifest in render_service(svc, loaded.stack(stack)):
        part = "base" if "/base/" in manifest.path else "overlay"
        docs = list(yaml.safe_load_all(manifest.content.decode()))
        out[f"{part}/{manifest.path.rsplit('/', 1)[1]}"] = docs[0] if len(docs) == 1 else docs
    return out


def ingress_patch(project: Path, service: str, stack: str) -> dict[str, Any]:
    """The overlay's Ingress patch as {JSON pointer: value}."""
    return {op["path"]: op["value"] for op in files(project, service, stack)["overlay/patch-ingress.yaml"]}


def annotations_of(project: Path, service: str, stack: str) -> dict[str, str]:
    return ingress_patch(project, service, stack)["/metadata/annotations"]


def admitted(project: Path, service: str, stack: str) -> list[dict[str, Any]]:
    """The NetworkPolicy rules the overlay adds (empty when it adds none)."""
    patch = files(project, service, stack).get("overlay/patch-networkpolicy.yaml") or []
    assert all(op["op"] == "add" and op["path"] == "/spec/ingress/-" for op in patch)
    return [op["value"] for op in patch]


def base_policy(project: Path, service: str) -> dict[str, Any]:
    return files(project, service, "dev")["base/networkpolicy.yaml"]


def container(project: Path, service: str) -> dict[str, Any]:
    return files(project, service, "dev")["base/deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]


def render_fails(run: Callable[..., CliResult], project: Path, tmp_path: Path) -> str:
    """Render every stack; it must exit 2 with one ``Error:`` message and write nothing. Returns that message."""
    out = tmp_path / "out"
    result = run("render", "--all", "--out", out, "--project", project)
    assert result.code == 2, result.out + result.err
    assert result.err.count("Error:") == 1 and "Traceback" not in result.err, result.err
    assert not out.exists()
    return result.err


# --- TLS and listeners --------------------------------------------------------------------------------------


def test_tls_on_alb_listens_on_80_and_443_redirects_and_finds_the_certificate_by_host(project: Path) -> None:
    patch = ingress_patch(project, "api-gateway", "prod")
    # The host and no Secret: the controller discovers the ACM certificate by it, and nothing would create a Secret.
    assert patch["/spec/tls"] == [{"hosts": ["api.shop.example.com"]}]
    found = patch["/metadata/annotations"]
    assert found[f"{ALB}listen-ports"] == HTTP_AND_HTTPS
    assert found[f"{ALB}ssl-redirect"] == "443"
    assert f"{ALB}certificate-arn" not in found


def test_a_certificate_arn_is_the_https_listeners_certificate(project: Path) -> None:
    set_ingress(project, "prod", certificateArn=CERTIFICATE)
    found = annotations_of(project, "web-frontend", "prod")
    assert found[f"{ALB}certificate-arn"] == CERTIFICATE
    assert found[f"{ALB}listen-ports"] == HTTP_AND_HTTPS and found[f"{ALB}ssl-redirect"] == "443"


def test_without_tls_an_alb_ingress_listens_on_http_only_and_names_no_certificate(project: Path) -> None:
    set_ingress(project, "dev", annotations={f"{ALB}scheme": "internal"})   # no target-type of the stack's own
    patch = ingress_patch(project, "api-gateway", "dev")
    assert "/spec/tls" not in patch
    found = patch["/metadata/annotations"]
    assert not {f"{ALB}listen-ports", f"{ALB}ssl-redirect", f"{ALB}certificate-arn"} & found.keys()
    # Pods are the targets: every Service is ClusterIP, which instance targets (NodePorts) cannot reach.
    assert found[f"{ALB}target-type"] == "ip"


def test_another_class_names_the_stacks_tls_secret_and_gets_no_alb_annotations(project: Path) -> None:
    other_class_everywhere(project)
    set_ingress(project, "prod", tls=True, tlsSecretName="shop-wildcard-tls")
    patch = ingress_patch(project, "api-gateway", "prod")
    assert patch["/spec/ingressClassName"] == "nginx"
    assert patch["/spec/tls"] == [{"hosts": ["api.shop.example.com"], "secretName": "shop-wildcard-tls"}]
    assert not [key for key in patch.get("/metadata/annotations", {}) if key.startswith(ALB)]


def test_another_class_with_a_cert_manager_issuer_names_the_secret_cert_manager_creates(project: Path) -> None:
    other_class_everywhere(project)
    set_ingress(project, "prod", tls=True, annotations={"cert-manager.io/cluster-issuer": "letsencrypt"})
    patch = ingress_patch(project, "api-gateway", "prod")
    assert patch["/spec/tls"] == [{"hosts": ["api.shop.example.com"], "secretName": "api-gateway-tls"}]
    assert patch["/metadata/annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"


def test_another_class_without_tls_has_no_tls_entry(project: Path) -> None:
    other_class_everywhere(project)
    assert "/spec/tls" not in ingress_patch(project, "api-gateway", "prod")


@pytest.mark.parametrize("stack,settings,expected", [
    pytest.param("prod", {"className": "nginx", "annotations": {}},
                 ("ingress.tls: className nginx needs a certificate Secret for TLS", "tlsSecretName",
                  "cert-manager.io/cluster-issuer", "className alb uses ACM"),
                 id="tls on another class with no way to get a certificate"),
    pytest.param("prod", {"tlsSecretName": "shop-tls"},
                 ("ingress.tlsSecretName: does not apply to className alb", "ACM"),
                 id="a TLS Secret on alb"),
    pytest.param("prod", {"className": "nginx", "annotations": {}, "tlsSecretName": "shop-tls",
                          "certificateArn": CERTIFICATE},
                 ("ingress.certificateArn: applies to className alb only",),
                 id="a certificate ARN on another class"),
    pytest.param("dev", {"className": "nginx", "annotations": {}, "group": "shop"},
                 ("ingress.group: applies to className alb only",),
                 id="a group on another class"),
    pytest.param("dev", {"group": "Shop_Group"},
                 ("ingress.group: 'Shop_Group' is not a valid IngressGroup name", "'none'"),
                 id="a group name the controller refuses"),
    pytest.param("dev", {"className": "nginx", "annotations": {}, "loadBalancerCidrs": ["10.10.0.0/19"]},
                 ("ingress.loadBalancerCidrs: applies to className alb only", "controllerNamespace"),
                 id="load balancer CIDRs on another class"),
    pytest.param("dev", {"controllerNamespace": "ingress-nginx"},
                 ("ingress.controllerNamespace: applies to classes other than alb",),
                 id="a controller namespace on alb"),
    pytest.param("dev", {"loadBalancerCidrs": ["10.10.0.1/19"]},
                 ("ingress.loadBalancerCidrs[0]: '10.10.0.1/19' is not a CIDR block",),
                 id="a load balancer CIDR with host bits"),
    pytest.param("dev", {"annotations": {f"{ALB}group.name": "shop"}},
                 (f"ingress.annotations.{ALB}group.name: set ingress.group instead",),
                 id="the group set as a stack annotation"),
    pytest.param("dev", {"annotations": {f"{ALB}target-type": "instance"}},
                 (f"ingress.annotations.{ALB}target-type: 'instance' is not supported", "ClusterIP"),
                 id="instance targets"),
])
def test_ingress_settings_that_cannot_serve_are_refused_naming_the_key(
        run: Callable[..., CliResult], project: Path, tmp_path: Path, stack: str, settings: dict[str, Any],
        expected: tuple[str, ...]) -> None:
    set_ingress(project, stack, **settings)
    message = render_fails(run, project, tmp_path)
    assert f"Pulumi.{stack}.yaml: config.{NS}:{expected[0]}" in message, message
    assert all(part in message for part in expected[1:]), message


# --- health check -------------------------------------------------------------------------------------------


def test_the_target_health_check_is_the_readiness_probe(project: Path) -> None:
    found = annotations_of(project, "api-gateway", "prod")
    assert {key: found[key] for key in found if "health" in key or "success" in key} == {
        f"{ALB}healthcheck-path": "/ready",          # health.readiness.path
        f"{ALB}healthcheck-port": "traffic-port",    # the probe's port is the ingress port
        f"{ALB}healthcheck-protocol": "HTTP",
        f"{ALB}success-codes": "200-399",            # what the kubelet counts as ready
    }


def test_a_readiness_probe_on_another_port_is_checked_and_admitted_on_that_port(project: Path) -> None:
    edit_service(project, "api-gateway", lambda doc: doc["health"].update(readiness={"path": "/ready", "port": "metrics"}))
    assert annotations_of(project, "api-gateway", "prod")[f"{ALB}healthcheck-port"] == "9090"
    [rule] = admitted(project, "api-gateway", "prod")
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}, {"port": 9090, "protocol": "TCP"}]


def test_without_an_http_readiness_probe_the_controllers_own_health_check_stays(project: Path) -> None:
    edit_service(project, "api-gateway", lambda doc: doc["health"].update(readiness={"type": "tcp", "port": "http"}))
    assert not [key for key in annotations_of(project, "api-gateway", "prod") if "health" in key or "success" in key]


# --- one load balancer per environment ----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_alb_ingress_of_an_environment_joins_the_environments_group(project: Path, stack: str) -> None:
    assert {annotations_of(project, s, stack)[f"{ALB}group.name"] for s in ("api-gateway", "web-frontend")} == {stack}


def test_the_group_is_the_stacks_choice_and_none_gives_each_ingress_a_load_balancer(project: Path) -> None:
    set_ingress(project, "prod", group="shop-public")
    set_ingress(project, "dev", group="none")
    assert annotations_of(project, "api-gateway", "prod")[f"{ALB}group.name"] == "shop-public"
    assert not {f"{ALB}group.name", f"{ALB}group.order"} & annotations_of(project, "api-gateway", "dev").keys()


def test_group_order_tries_longer_path_prefixes_first_and_depends_on_the_path_alone() -> None:
    assert ingress.group_order("/api/v2") < ingress.group_order("/api") < ingress.group_order("/") == 1000
    assert ingress.group_order("/api/") == ingress.group_order("/api")   # the same prefix
    assert ingress.group_order("/" + "a" * 5000) == 1                      # within the controller's range


def test_adding_a_service_leaves_every_other_services_ingress_as_it_was(project: Path) -> None:
    before = files(project, "api-gateway", "prod")["overlay/patch-ingress.yaml"]
    (project / "services" / "reviews.yaml").write_text(
        "team: storefront\nimage: {tag: '1.0.0'}\nports: [{containerPort: 8080}]\n"
        "health: {readiness: {path: /ready}}\ningress: {host: api, path: /reviews}\n")
    assert annotations_of(project, "reviews", "prod")[f"{ALB}group.order"] == str(1000 - len("/reviews"))
    assert files(project, "api-gateway", "prod")["overlay/patch-ingress.yaml"] == before


# --- a service's own annotations ----------------------------------------------------------------------------


def test_a_services_own_annotations_win_over_the_stacks_and_the_derived_ones(project: Path) -> None:
    set_ingress(project, "prod", annotations={f"{ALB}scheme": "internet-facing", f"{ALB}tags": "env=prod"})
    edit_service(project, "api-gateway", lambda doc: doc["ingress"].update(annotations={
        f"{ALB}tags": "team=platform", f"{ALB}success-codes": "200", "example.com/owner": "platform"}))
    found = annotations_of(project, "api-gateway", "prod")
    assert found[f"{ALB}tags"] == "team=platform"            # over the stack's
    assert found[f"{ALB}success-codes"] == "200"             # over the readiness probe's
    assert found["example.com/owner"] == "platform"
    assert found[f"{ALB}scheme"] == "internet-facing"        # the stack's, untouched


@pytest.mark.parametrize("key,value,expected", [
    pytest.param(f"{ALB}group.name", "mine", "is set from the stack's ingress.group", id="the group"),
    pytest.param(f"{ALB}group.order", "1", "is set from the service's ingress path", id="the group order"),
    pytest.param(f"{ALB}listen-ports", '[{"HTTP": 8080}]', "is set from the stack's ingress.tls", id="listeners"),
    pytest.param(f"{ALB}certificate-arn", CERTIFICATE, "is set from the stack's ingress.certificateArn",
                 id="the certificate"),
    pytest.param("kubernetes.io/ingress.class", "nginx", "is set from the stack's ingress.className", id="the class"),
    pytest.param(f"{ALB}target-type", "instance", "'instance' is not supported", id="instance targets"),
    pytest.param(f"{ALB}/scheme", "internal", "is not a valid annotation key", id="an invalid key"),
    pytest.param(f"{ALB}healthcheck-interval-seconds", 10, "expected a string", id="a number"),
])
def test_a_service_cannot_set_what_the_stack_decides(run: Callable[..., CliResult], project: Path, tmp_path: Path,
                                                    key: str, value: Any, expected: str) -> None:
    edit_service(project, "api-gateway", lambda doc: doc["ingress"].update(annotations={key: value}))
    message = render_fails(run, project, tmp_path)
    assert f"services/api-gateway.yaml: ingress.annotations.{key}: {expected}" in message, message


def test_a_service_cannot_reconfigure_the_load_balancer_it_shares(run: Callable[..., CliResult], project: Path,
                                                                  tmp_path: Path) -> None:
    edit_service(project, "web-frontend", lambda doc: doc["ingress"].update(annotations={f"{ALB}scheme": "internal"}))
    message = render_fails(run, project, tmp_path)
    assert f"services/web-frontend.yaml: ingress.annotations.{ALB}scheme: configures the whole load balancer" in message
    assert "dev (Pulumi.dev.yaml), prod (Pulumi.prod.yaml), staging (Pulumi.staging.yaml)" in message
    assert "ingress.group: none" in message and message.count("configures the whole load balancer") == 1


def test_a_service_may_configure_its_load_balancer_where_it_shares_none(project: Path) -> None:
    for stack in ("dev", "prod", "staging"):
        set_ingress(project, stack, group="none")
    edit_service(project, "web-frontend", lambda doc: doc["ingress"].update(annotations={f"{ALB}scheme": "internal"}))
    assert annotations_of(project, "web-frontend", "prod")[f"{ALB}scheme"] == "internal"


# --- pods that do not drop requests -------------------------------------------------------------------------


def test_alb_environments_label_their_namespaces_for_readiness_gate_injection(project: Path) -> None:
    set_ingress(project, "staging", className="nginx", annotations={}, tls=False)
    loaded = load_project(project)

    def labels(stack: str) -> dict[str, str]:
        appset = application_set(loaded.stack(stack), "platform", ["api-gateway"])
        return appset["spec"]["template"]["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]

    assert labels("prod")["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"
    assert "elbv2.k8s.aws/pod-readiness-gate-inject" not in labels("staging")
    assert labels("staging")["pod-security.kubernetes.io/enforce"] == "restricted"


def test_pods_behind_a_service_keep_serving_while_they_are_deregistered(project: Path) -> None:
    pod = files(project, "api-gateway", "dev")["base/deployment.yaml"]["spec"]["template"]["spec"]
    sleep = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]   # no shell needed in the image
    assert sleep >= 10
    # The sleep counts against the grace period; the process keeps its 30 s to shut down after it.
    assert pod["terminationGracePeriodSeconds"] == sleep + 30


def test_a_worker_stops_at_once_with_its_usual_grace_period(project: Path) -> None:
    pod = files(project, "email-worker", "dev")["base/deployment.yaml"]["spec"]["template"]["spec"]
    assert "lifecycle" not in pod["containers"][0]
    assert pod["terminationGracePeriodSeconds"] == 30


def test_a_cluster_older_than_the_sleep_action_is_refused(run: Callable[..., CliResult], project: Path,
                                                          tmp_path: Path) -> None:
    set_stack_key(project, "dev", "cluster", "kubernetesVersion", "1.29")
    message = render_fails(run, project, tmp_path)
    assert f"Pulumi.dev.yaml: config.{NS}:cluster.kubernetesVersion: '1.29' is too old" in message
    assert "1.30" in message


# --- who may connect ----------------------------------------------------------------------------------------


def test_a_services_namespace_reaches_every_port_and_its_clients_only_the_traffic_ports(project: Path) -> None:
    rules = base_policy(project, "api-gateway")["spec"]["ingress"]
    assert rules == [
        {"from": [{"podSelector": {}}],   # its own namespace: traffic and metrics
         "ports": [{"port": 8080, "protocol": "TCP"}, {"port": 9090, "protocol": "TCP"}]},
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storefront"}},
                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "web-frontend"}}}],
         "ports": [{"port": 8080, "protocol": "TCP"}]},   # not the metrics port
    ]


def test_a_worker_admits_nothing(project: Path) -> None:
    policy = base_policy(project, "email-worker")
    assert policy["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in policy["spec"]
    assert admitted(project, "email-worker", "prod") == []


def test_an_internet_facing_load_balancer_is_admitted_from_its_public_subnets_to_the_ingress_port(project: Path) -> None:
    assert admitted(project, "api-gateway", "prod") == [
        {"from": [{"ipBlock": {"cidr": cidr}} for cidr in PROD_PUBLIC_SUBNETS],
         "ports": [{"port": 8080, "protocol": "TCP"}]},
    ]


def test_an_internal_load_balancer_is_admitted_from_the_private_subnets(project: Path) -> None:
    [rule] = admitted(project, "web-frontend", "dev")
    assert rule["from"] == [{"ipBlock": {"cidr": cidr}} for cidr in DEV_PRIVATE_SUBNETS]


def test_a_service_without_an_ingress_admits_no_load_balancer(project: Path) -> None:
    assert admitted(project, "cart", "prod") == []


def test_given_subnets_need_their_cidrs_which_then_are_admitted(run: Callable[..., CliResult], project: Path,
                                                               tmp_path: Path) -> None:
    set_stack_key(project, "prod", "cluster", "subnetIds", ["subnet-0aaa1111", "subnet-0bbb2222"])
    message = render_fails(run, project, tmp_path)
    assert f"Pulumi.prod.yaml: config.{NS}:ingress.loadBalancerCidrs: is required" in message
    assert "cluster.subnetIds" in message
    set_ingress(project, "prod", loadBalancerCidrs=["172.31.0.0/20", "172.31.16.0/20"])
    [rule] = admitted(project, "api-gateway", "prod")
    assert rule["from"] == [{"ipBlock": {"cidr": "172.31.0.0/20"}}, {"ipBlock": {"cidr": "172.31.16.0/20"}}]


def test_the_monitoring_namespace_reaches_metrics_ports_only(project: Path) -> None:
    set_stack_key(project, "prod", "workloads", "monitoringNamespace", "monitoring")
    rules = admitted(project, "api-gateway", "prod")
    assert rules[-1] == {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                         "ports": [{"port": 9090, "protocol": "TCP"}]}
    assert admitted(project, "cart", "prod") == []   # no metrics port


def test_another_class_admits_its_controllers_namespace_or_else_the_ingress_port_from_anywhere(project: Path) -> None:
    other_class_everywhere(project)
    set_ingress(project, "prod", controllerNamespace="ingress-nginx")
    assert admitted(project, "api-gateway", "prod") == [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
         "ports": [{"port": 8080, "protocol": "TCP"}]},
    ]
    # The controller's pods are unknown: blocking them would take the service offline.
    assert admitted(project, "api-gateway", "dev") == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


@pytest.mark.parametrize("change,expected", [
    pytest.param(lambda doc: doc.update(clients=["web-frontnd"]),
                 "clients[0]: 'web-frontnd' is no service of the catalog (did you mean 'web-frontend'?)",
                 id="an unknown client"),
    pytest.param(lambda doc: doc.update(clients=["api-gateway"]), "clients[0]: is this service itself",
                 id="the service itself"),
    pytest.param(lambda doc: doc["ingress"].update(port="metrics"),
                 "ingress.port: 'metrics' is a metrics port, which stays inside the namespace", id="a metrics ingress"),
    pytest.param(lambda doc: doc["ports"][1].update(purpose="debug"), "ports[1].purpose: 'debug' is not one of",
                 id="an unknown port purpose"),
])
def test_who_may_connect_is_checked_when_the_catalog_loads(run: Callable[..., CliResult], project: Path,
                                                           tmp_path: Path, change: Callable[[dict[str, Any]], None],
                                                           expected: str) -> None:
    edit_service(project, "api-gateway", change)
    message = render_fails(run, project, tmp_path)
    assert f"services/api-gateway.yaml: {expected}" in message, message


def test_a_port_marked_traffic_is_open_to_clients_whatever_its_name(project: Path) -> None:
    edit_service(project, "api-gateway", lambda doc: doc["ports"][1].update(purpose="traffic"))
    rules = base_policy(project, "api-gateway")["spec"]["ingress"]
    assert {"port": 9090, "protocol": "TCP"} in rules[1]["ports"]


# --- the built overlay --------------------------------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")
def test_the_built_prod_overlay_serves_https_and_admits_the_load_balancer(run: Callable[..., CliResult],
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "repo"
    assert run("render", "--stack", "prod", "--out", out, "--project", REPO_ROOT).code == 0
    built = subprocess.run(["kubectl", "kustomize", str(out / "apps/api-gateway/overlays/prod")], capture_output=True,
                           text=True, check=True, env={**os.environ, "KUBECONFIG": os.devnull}).stdout
    objects = {doc["kind"]: doc for doc in yaml.safe_load_all(built) if doc}
    ing = objects["Ingress"]
    assert ing["spec"]["tls"] == [{"hosts": ["api.shop.example.com"]}]
    assert json.loads(ing["metadata"]["annotations"][f"{ALB}listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    peers = [peer for rule in objects["NetworkPolicy"]["spec"]["ingress"] for peer in rule["from"]]
    assert {"ipBlock": {"cidr": PROD_PUBLIC_SUBNETS[0]}} in peers and {"podSelector": {}} in peers
