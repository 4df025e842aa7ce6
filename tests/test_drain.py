"""Deleting Argo CD's Applications, with what they deployed, before a destroy goes on.

The pure parts (which Applications count, in which wave they go) are tested on
their own; the provider's ``delete`` runs against a fake ``kubectl`` on PATH
that answers each kind of call (``get applications.argoproj.io``, ``patch
applicationsets.argoproj.io``, ...) from its own list of canned responses (one
per call, the last one repeating) and logs every call, so a test reads the
order of what the drain did to the cluster.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from components import drain as drain_module
from components.drain import (
    APPLICATIONS,
    APPLICATIONSETS,
    HOLD_ANNOTATION,
    HOLD_FINALIZER,
    RESOURCES_FINALIZER,
    ApplicationsDrained,
    ApplicationsDrainedArgs,
    ApplicationsDrainedProvider,
    Scope,
    parse_applications,
    remaining,
    waves,
)
from pulumi_harness import RecordingMocks

KUBECONFIG = '{"apiVersion": "v1", "kind": "Config"}'
NO_CRD = 'error: the server doesn\'t have a resource type "applications"\n'
CLUSTER_GONE = ("Unable to connect to the server: dial tcp: lookup abc.gr7.eu-west-1.eks.amazonaws.com "
                "on 10.0.0.2:53: no such host\n")
UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)\n"

GET_APPS = f"get {APPLICATIONS}"
GET_APPSETS = f"get {APPLICATIONSETS}"
GET_SECRETS = "get secrets"

FAKE_KUBECTL = """#!{python}
import json, os, stat, sys, time
here = os.path.dirname(os.path.abspath(__file__))
argv = sys.argv[1:]
path = argv[argv.index("--kubeconfig") + 1]
command = argv[argv.index("--namespace") + 2:]
route = " ".join(command[:2])
with open(os.path.join(here, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"argv": argv, "command": command, "mode": stat.S_IMODE(os.stat(path).st_mode),
                          "kubeconfig": open(path).read()}}) + "\\n")
answers = json.load(open(os.path.join(here, "responses.json"))).get(route) or [{{}}]
with open(os.path.join(here, "calls.jsonl")) as log:
    count = sum(1 for line in log if " ".join(json.loads(line)["command"][:2]) == route)
answer = answers[min(count, len(answers)) - 1]
time.sleep(answer.get("sleep", 0))
sys.stdout.write(answer.get("stdout", ""))
sys.stderr.write(answer.get("stderr", ""))
sys.exit(answer.get("code", 0))
"""

IN_CLUSTER = {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
SPOKE_A_SERVER = "https://a.gr7.eu-west-1.eks.amazonaws.com"
SPOKE_A = {"name": "shop-spoke-a", "namespace": "payments"}
SPOKE_A_BY_SERVER = {"server": f"{SPOKE_A_SERVER}/", "namespace": "orders"}
SPOKE_B = {"name": "shop-spoke-b", "namespace": "payments"}


def app(name: str, destination: dict[str, str], owner: str | None = None, finalizers: tuple[str, ...] = (),
        labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
        deleting: bool = False) -> dict[str, Any]:
    """One Application as ``kubectl get -o json`` lists it."""
    metadata: dict[str, Any] = {"name": name, "namespace": "argocd", "labels": labels or {},
                                "annotations": annotations or {}, "finalizers": list(finalizers)}
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                                        "name": owner, "controller": True, "blockOwnerDeletion": True}]
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata,
            "spec": {"destination": destination}}


def appset(name: str, finalizers: tuple[str, ...] = (), held_for: str | None = None,
           deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "argocd", "finalizers": list(finalizers)}
    if held_for is not None:
        metadata["annotations"] = {HOLD_ANNOTATION: held_for}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": metadata}


def listing(*items: dict[str, Any]) -> dict[str, str]:
    """A kubectl answer listing ``items``."""
    return {"stdout": json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)})}


def applications(*apps: tuple[str, dict[str, str]]) -> str:
    """``kubectl get applications -o json`` output for (name, destination) pairs."""
    return listing(*(app(name, destination) for name, destination in apps))["stdout"]


def cluster_secrets(*secrets: tuple[str, str]) -> dict[str, str]:
    """What the drain's jsonpath prints for (Secret name, server) pairs."""
    return {"stdout": "".join(f"{name}\t{base64.b64encode(server.encode()).decode()}\n" for name, server in secrets)}


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[dict[str, Any]]]], Path]:
    """``kubectl({route: [answer, ...]})``: put a fake kubectl first on PATH; returns its directory (calls.jsonl).

    A route is a verb and resource (``get applications.argoproj.io``); lists it is
    not given answer an empty list, everything else succeeds silently.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")

    def install(script: dict[str, list[dict[str, Any]]]) -> Path:
        path = bin_dir / "kubectl"
        path.write_text(FAKE_KUBECTL.format(python=sys.executable))
        path.chmod(0o755)
        answers = {GET_APPS: [listing()], GET_APPSETS: [listing()], **script}
        (bin_dir / "responses.json").write_text(json.dumps(answers))
        return bin_dir

    return install


def calls(bin_dir: Path) -> list[dict[str, Any]]:
    log = bin_dir / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def commands(bin_dir: Path) -> list[list[str]]:
    """What the drain asked kubectl, in order, without the kubeconfig and namespace flags."""
    return [c["command"] for c in calls(bin_dir)]


def changes(bin_dir: Path) -> list[list[str]]:
    """The commands that change something."""
    return [c for c in commands(bin_dir) if c[0] != "get"]


def position(found: list[list[str]], *prefix: str) -> int:
    """Index of the first command starting with ``prefix``."""
    return next(i for i, c in enumerate(found) if c[:len(prefix)] == list(prefix))


def patch_of(command: list[str]) -> Any:
    return json.loads(command[command.index("-p") + 1])


def props(**overrides: Any) -> dict[str, Any]:
    return {"kubeconfig": KUBECONFIG, "namespace": "argocd", "timeoutSeconds": 5, "pollSeconds": 0.01, **overrides}


@pytest.fixture
def provider() -> ApplicationsDrainedProvider:
    return ApplicationsDrainedProvider()


# --- which Applications count --------------------------------------------------------


def test_without_a_destination_every_application_counts() -> None:
    listing_json = applications(("b", IN_CLUSTER), ("a", SPOKE_A))
    assert remaining(listing_json) == ["a", "b"]


def test_a_destination_name_counts_only_applications_deploying_there() -> None:
    listing_json = applications(("a1", SPOKE_A), ("b1", SPOKE_B), ("local", IN_CLUSTER))
    assert remaining(listing_json, name="shop-spoke-a") == ["a1"]


def test_a_destination_server_matches_with_or_without_a_trailing_slash() -> None:
    listing_json = applications(("orders-a", SPOKE_A_BY_SERVER), ("local", IN_CLUSTER))
    assert remaining(listing_json, server=SPOKE_A_SERVER) == ["orders-a"]
    assert remaining(json.loads(listing_json), server=f"{SPOKE_A_SERVER}/") == ["orders-a"]


def test_name_or_server_either_makes_an_application_count() -> None:
    listing_json = applications(("a1", SPOKE_A), ("orders-a", SPOKE_A_BY_SERVER), ("b1", SPOKE_B))
    assert remaining(listing_json, name="shop-spoke-a", server=SPOKE_A_SERVER) == ["a1", "orders-a"]


def test_a_spokes_root_application_in_the_hub_counts_by_its_cluster_label() -> None:
    root = app("root-staging", IN_CLUSTER, labels={"gitops-platform.io/cluster": "shop-spoke-a"})
    other = app("root-prod", IN_CLUSTER, labels={"gitops-platform.io/cluster": "shop-spoke-b"})
    assert remaining(listing(root, other)["stdout"], name="shop-spoke-a") == ["root-staging"]


def test_an_empty_list_leaves_nothing() -> None:
    assert remaining(applications()) == []
    assert remaining('{"items": null}', name="x") == []


# --- in which order they go ------------------------------------------------------------------


def test_workloads_are_what_an_applicationset_generates_add_ons_go_by_label_and_roots_are_the_rest() -> None:
    apps = parse_applications(listing(
        app("payments-dev", IN_CLUSTER, owner="shop-dev"),
        app("lb-shop-hub", IN_CLUSTER, owner="addon-lb", labels={"gitops-platform.io/addon": "lb"}),
        app("root-dev", IN_CLUSTER, finalizers=(RESOURCES_FINALIZER,)),
    )["stdout"])
    plan = waves(apps, Scope("argocd"))
    assert ([a.name for a in plan.workloads], [a.name for a in plan.addons], [a.name for a in plan.roots]) == (
        ["payments-dev"], ["lb-shop-hub"], ["root-dev"])


def test_an_application_an_earlier_drain_detached_is_still_a_workload() -> None:
    detached = app("payments-dev", IN_CLUSTER, annotations={HOLD_ANNOTATION: "*"})
    assert [a.name for a in waves(parse_applications(listing(detached)["stdout"]), Scope("argocd")).workloads] == [
        "payments-dev"]


def test_a_spokes_root_in_the_hub_goes_with_the_roots() -> None:
    apps = parse_applications(listing(
        app("payments-staging", SPOKE_A, owner="shop-staging"),
        app("root-staging", IN_CLUSTER, owner="fleet-roots", labels={"gitops-platform.io/cluster": "shop-spoke-a"}),
    )["stdout"])
    plan = waves(apps, Scope("argocd", name="shop-spoke-a"))
    assert ([a.name for a in plan.workloads], [a.name for a in plan.roots]) == (["payments-staging"], ["root-staging"])


# --- the provider's bookkeeping ------------------------------------------------------------


def test_create_and_update_only_record_their_inputs(provider: ApplicationsDrainedProvider) -> None:
    created = provider.create(props(destinationName="shop-spoke-a"))
    assert created.id == "argocd/shop-spoke-a"
    assert created.outs == props(destinationName="shop-spoke-a")
    assert provider.update("id", props(), props(namespace="gitops")).outs == props(namespace="gitops")


def test_a_changed_input_is_an_update_never_a_replacement(provider: ApplicationsDrainedProvider) -> None:
    diff = provider.diff("id", props(), props(kubeconfig="{}", timeoutSeconds=60))
    assert diff.changes is True and diff.replaces == []
    assert provider.diff("id", props(), props(clusterSecret="cluster-shop-spoke-a")).changes is True
    assert provider.diff("id", props(), props()).changes is False


def test_check_names_bad_inputs(provider: ApplicationsDrainedProvider) -> None:
    failures = provider.check({}, {"kubeconfig": "", "namespace": "argocd", "timeoutSeconds": 0,
                                   "pollSeconds": 5, "destinationName": 3}).failures
    assert sorted(f.property for f in failures) == ["destinationName", "kubeconfig", "timeoutSeconds"]
    assert provider.check({}, props()).failures == []


# --- delete: waiting ------------------------------------------------------------------------


def test_delete_waits_until_the_applications_are_gone(provider: ApplicationsDrainedProvider, kubectl) -> None:
    root = app("root-dev", IN_CLUSTER, finalizers=(RESOURCES_FINALIZER,))
    tools = app("tools-dev", IN_CLUSTER, finalizers=(RESOURCES_FINALIZER,))
    bin_dir = kubectl({GET_APPS: [listing(root, tools), listing(tools), listing()]})
    provider.delete("id", props())
    seen = calls(bin_dir)
    assert [c["command"] for c in seen if c["command"][:2] == ["get", APPLICATIONS]] == [
        ["get", APPLICATIONS, "-o", "json"]] * 3
    assert {c["mode"] for c in seen} == {0o600}
    assert {c["kubeconfig"] for c in seen} == {KUBECONFIG}
    argv = seen[0]["argv"]
    assert argv[argv.index("--namespace") + 1] == "argocd"
    assert not Path(argv[argv.index("--kubeconfig") + 1]).exists(), "the kubeconfig file is removed afterwards"


def test_delete_ignores_applications_of_other_clusters(provider: ApplicationsDrainedProvider, kubectl) -> None:
    bin_dir = kubectl({GET_APPS: [{"stdout": applications(("a1", SPOKE_A), ("b1", SPOKE_B))},
                                  {"stdout": applications(("b1", SPOKE_B))}]})
    provider.delete("id", props(destinationName="shop-spoke-a"))
    assert all("b1" not in c for c in changes(bin_dir))


def test_delete_times_out_naming_the_applications_still_there(provider: ApplicationsDrainedProvider, kubectl) -> None:
    kubectl({GET_APPS: [{"stdout": applications(("payments-prod", SPOKE_A), ("orders-prod", SPOKE_A),
                                                 ("b1", SPOKE_B))}]})
    with pytest.raises(RuntimeError) as caught:
        provider.delete("id", props(destinationName="shop-spoke-a", timeoutSeconds=0.2, pollSeconds=0.05))
    message = str(caught.value)
    assert "2 Argo CD Application(s) in namespace argocd with destination name shop-spoke-a" in message
    assert "orders-prod, payments-prod" in message and "b1" not in message
    assert "destroy stopped" in message


def test_a_timeout_names_the_applicationsets_it_leaves_held(provider: ApplicationsDrainedProvider, kubectl) -> None:
    kubectl({GET_APPS: [listing(app("payments-prod", IN_CLUSTER, owner="shop-prod"))],
             GET_APPSETS: [listing(appset("shop-prod")),
                           listing(appset("shop-prod", (HOLD_FINALIZER, "orphan"), held_for="*", deleting=True))]})
    with pytest.raises(RuntimeError) as caught:
        provider.delete("id", props(timeoutSeconds=0.2, pollSeconds=0.05))
    assert f"ApplicationSet(s) shop-prod stay held for this destroy (finalizer {HOLD_FINALIZER}" in str(caught.value)


def test_a_missing_application_crd_counts_as_drained(provider: ApplicationsDrainedProvider, kubectl) -> None:
    bin_dir = kubectl({GET_APPS: [{"stderr": NO_CRD, "code": 1}]})
    provider.delete("id", props())
    assert commands(bin_dir) == [["get", APPLICATIONS, "-o", "json"]]


def test_a_cluster_whose_api_name_no_longer_resolves_counts_as_drained(provider: ApplicationsDrainedProvider, kubectl) -> None:
    bin_dir = kubectl({GET_APPS: [{"stderr": CLUSTER_GONE, "code": 1}]})
    provider.delete("id", props(destinationName="shop-spoke-a"))
    assert commands(bin_dir) == [["get", APPLICATIONS, "-o", "json"]]


def test_other_kubectl_errors_are_retried(provider: ApplicationsDrainedProvider, kubectl) -> None:
    bin_dir = kubectl({GET_APPS: [{"stderr": UNAUTHORIZED, "code": 1}, {"stdout": "not json"}, listing()]})
    provider.delete("id", props())   # returns: the third listing is empty
    assert len([c for c in commands(bin_dir) if c[:2] == ["get", APPLICATIONS]]) >= 3


def test_a_kubectl_call_that_hangs_is_cut_off_and_tried_again(provider: ApplicationsDrainedProvider, kubectl,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drain_module, "KUBECTL_TIMEOUT_SECONDS", 0.5)
    bin_dir = kubectl({GET_APPS: [{"sleep": 30}, listing()]})
    provider.delete("id", props(timeoutSeconds=20))
    assert len([c for c in commands(bin_dir) if c[:2] == ["get", APPLICATIONS]]) >= 2


def test_an_error_that_lasts_until_the_deadline_fails_naming_it(provider: ApplicationsDrainedProvider, kubectl) -> None:
    kubectl({GET_APPS: [{"stderr": UNAUTHORIZED, "code": 1}]})
    with pytest.raises(RuntimeError, match=r"could not drain the Argo CD Applications in namespace argocd .*Unauthorized"):
        provider.delete("id", props(timeoutSeconds=0.1, pollSeconds=0.05))


def test_without_kubectl_the_delete_fails_saying_so(provider: ApplicationsDrainedProvider, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="kubectl is not on PATH"):
        provider.delete("id", props())


# --- delete: a standalone cluster or a hub (every Application) -----------------------------------

PROD_WORKLOADS = (app("orders-prod", IN_CLUSTER, owner="shop-prod"), app("payments-prod", IN_CLUSTER, owner="shop-prod"))
PROD_ADDON = app("lb-shop-prod", IN_CLUSTER, owner="addon-lb", finalizers=(RESOURCES_FINALIZER,),
                 labels={"gitops-platform.io/addon": "lb"})
PROD_ROOT = app("root-prod", IN_CLUSTER, finalizers=(RESOURCES_FINALIZER,))


@pytest.fixture
def prod_drain(provider: ApplicationsDrainedProvider, kubectl) -> list[list[str]]:
    """A drain of every Application of an environment whose ApplicationSet preserves resources on deletion:
    its Applications carry no finalizer. Returns the commands it ran."""
    bin_dir = kubectl({
        GET_APPS: [listing(*PROD_WORKLOADS, PROD_ADDON, PROD_ROOT),
                   listing(PROD_ADDON, PROD_ROOT),
                   listing(PROD_ROOT),
                   listing(app("root-prod", IN_CLUSTER, finalizers=(RESOURCES_FINALIZER,), deleting=True)),
                   listing()],
        GET_APPSETS: [listing(appset("shop-prod"), appset("addon-lb")),
                      listing(appset("shop-prod", (HOLD_FINALIZER, "orphan"), held_for="*", deleting=True),
                              appset("addon-lb")),
                      listing(appset("shop-prod", (HOLD_FINALIZER,), held_for="*", deleting=True),
                              appset("addon-lb", (HOLD_FINALIZER,), held_for="*", deleting=True))],
    })
    provider.delete("id", props())
    return commands(bin_dir)


def test_an_applicationset_is_held_and_deleted_without_its_applications_before_they_are_touched(
        prod_drain: list[list[str]]) -> None:
    changed = [c for c in prod_drain if c[0] != "get"]
    hold = position(changed, "patch", APPLICATIONSETS, "shop-prod")
    assert patch_of(changed[hold]) == {"metadata": {"annotations": {HOLD_ANNOTATION: "*"},
                                                    "finalizers": [HOLD_FINALIZER]}}
    orphan = position(changed, "delete", APPLICATIONSETS, "shop-prod")
    assert changed[orphan][3:] == ["--cascade=orphan", "--wait=false", "--ignore-not-found"]
    first_touch = position(changed, "patch", APPLICATIONS)
    assert hold < orphan < first_touch


def test_applications_without_the_resources_finalizer_get_it_before_they_are_deleted(
        prod_drain: list[list[str]]) -> None:
    changed = [c for c in prod_drain if c[0] != "get"]
    for name in ("orders-prod", "payments-prod"):
        finalized = position(changed, "patch", APPLICATIONS, name)
        assert patch_of(changed[finalized]) == {"metadata": {"finalizers": [RESOURCES_FINALIZER],
                                                             "annotations": {HOLD_ANNOTATION: "*"}}}
        assert finalized < position(changed, "delete", APPLICATIONS, "orders-prod")


def test_an_application_that_cascades_already_is_not_patched(prod_drain: list[list[str]]) -> None:
    assert not [c for c in prod_drain if c[:3] == ["patch", APPLICATIONS, "root-prod"]]


def test_workloads_go_first_then_fleet_add_ons_then_the_root(prod_drain: list[list[str]]) -> None:
    deletes = [c[2:c.index("--wait=false")] for c in prod_drain if c[:2] == ["delete", APPLICATIONS]]
    assert deletes == [["orders-prod", "payments-prod"], ["lb-shop-prod"], ["root-prod"]]


def test_each_wave_is_gone_before_the_next_is_deleted(prod_drain: list[list[str]]) -> None:
    waits = [i for i, c in enumerate(prod_drain) if c[:2] == ["get", APPLICATIONS]]
    addon_delete = position(prod_drain, "delete", APPLICATIONS, "lb-shop-prod")
    root_delete = position(prod_drain, "delete", APPLICATIONS, "root-prod")
    # Listing 2 shows the workloads gone, listing 3 the add-on.
    assert waits[1] < addon_delete < waits[2] < root_delete


def test_held_applicationsets_are_released_only_once_the_root_is_being_deleted(prod_drain: list[list[str]]) -> None:
    release = position(prod_drain, "patch", APPLICATIONSETS, "shop-prod", "--type", "json")
    assert patch_of(prod_drain[release]) == [{"op": "test", "path": "/metadata/finalizers/0", "value": HOLD_FINALIZER},
                                             {"op": "remove", "path": "/metadata/finalizers/0"}]
    root_delete = position(prod_drain, "delete", APPLICATIONS, "root-prod")
    assert root_delete < release
    assert root_delete < position(prod_drain, "patch", APPLICATIONSETS, "addon-lb", "--type", "json")


def test_a_second_run_deletes_what_an_earlier_one_detached_before_the_root(
        provider: ApplicationsDrainedProvider, kubectl) -> None:
    detached = app("payments-prod", IN_CLUSTER, finalizers=(RESOURCES_FINALIZER,), annotations={HOLD_ANNOTATION: "*"})
    bin_dir = kubectl({GET_APPS: [listing(detached, PROD_ROOT), listing(PROD_ROOT), listing()]})
    provider.delete("id", props())
    deletes = [c[2] for c in changes(bin_dir) if c[:2] == ["delete", APPLICATIONS]]
    assert deletes == ["payments-prod", "root-prod"]


def test_a_hub_with_spokes_still_registered_stops_naming_them_before_any_change(
        provider: ApplicationsDrainedProvider, kubectl) -> None:
    bin_dir = kubectl({
        GET_APPS: [listing(*PROD_WORKLOADS, PROD_ROOT)],
        GET_SECRETS: [cluster_secrets(("cluster-shop-hub", "https://kubernetes.default.svc"),
                                      ("cluster-shop-spoke-a", SPOKE_A_SERVER))],
    })
    with pytest.raises(RuntimeError) as caught:
        provider.delete("id", props())
    message = str(caught.value)
    assert "1 other cluster(s) are still registered" in message and "cluster-shop-spoke-a" in message
    assert "cluster-shop-hub" not in message and "before changing anything" in message
    assert changes(bin_dir) == []


def test_cluster_secrets_are_read_for_their_names_and_servers_only(prod_drain: list[list[str]]) -> None:
    (read,) = [c for c in prod_drain if c[:2] == ["get", "secrets"]]
    output = read[read.index("-o") + 1]
    assert output.startswith("jsonpath=") and ".data.server" in output and ".data.config" not in output


# --- delete: a spoke (its Applications on the hub) ---------------------------------------------

SPOKE_LABEL = {"gitops-platform.io/cluster": "shop-spoke-a"}
STAGING_WORKLOAD = app("payments-staging", SPOKE_A, owner="shop-staging")
SPOKE_ADDON = app("lb-shop-spoke-a", SPOKE_A_BY_SERVER, owner="addon-lb", finalizers=(RESOURCES_FINALIZER,),
                  labels={"gitops-platform.io/addon": "lb", **SPOKE_LABEL})
SPOKE_ROOT = app("root-staging", IN_CLUSTER, owner="fleet-roots", finalizers=(RESOURCES_FINALIZER,), labels=SPOKE_LABEL)
OTHER_SPOKE = app("payments-prod", SPOKE_B, owner="shop-prod")
SECRET_LABELS = {"argocd.argoproj.io/secret-type": "cluster", "gitops-platform.io/role": "spoke",
                 "addons.gitops-platform.io/lb": "enabled"}


@pytest.fixture
def spoke_drain(provider: ApplicationsDrainedProvider, kubectl) -> list[list[str]]:
    """A drain of spoke shop-spoke-a on its hub, next to another spoke's Applications. Returns its commands."""
    appsets = (appset("fleet-roots"), appset("addon-lb"), appset("shop-prod"))
    bin_dir = kubectl({
        GET_APPS: [listing(STAGING_WORKLOAD, SPOKE_ADDON, SPOKE_ROOT, OTHER_SPOKE),
                   listing(SPOKE_ADDON, SPOKE_ROOT, OTHER_SPOKE),
                   listing(app("root-staging", IN_CLUSTER, owner="fleet-roots", finalizers=(RESOURCES_FINALIZER,),
                               labels=SPOKE_LABEL, deleting=True), OTHER_SPOKE),
                   listing(OTHER_SPOKE)],
        GET_APPSETS: [listing(appset("shop-staging"), *appsets),
                      listing(appset("shop-staging", (HOLD_FINALIZER,), held_for="shop-spoke-a", deleting=True),
                              appset("shop-dev", (HOLD_FINALIZER,), held_for="shop-spoke-b", deleting=True),
                              *appsets)],
        GET_SECRETS: [{"stdout": json.dumps(SECRET_LABELS)}],
    })
    provider.delete("id", props(destinationName="shop-spoke-a", destinationServer=SPOKE_A_SERVER,
                                clusterSecret="cluster-shop-spoke-a"))
    return commands(bin_dir)


def test_a_spokes_drain_holds_only_the_applicationset_of_its_workloads(spoke_drain: list[list[str]]) -> None:
    touched = {c[2] for c in spoke_drain if c[1] == APPLICATIONSETS and c[0] != "get"}
    assert touched == {"shop-staging"}


def test_a_spokes_workloads_get_the_finalizer_and_go_first(spoke_drain: list[list[str]]) -> None:
    finalized = position(spoke_drain, "patch", APPLICATIONS, "payments-staging")
    assert RESOURCES_FINALIZER in patch_of(spoke_drain[finalized])["metadata"]["finalizers"]
    deletes = [c[2:c.index("--wait=false")] for c in spoke_drain if c[:2] == ["delete", APPLICATIONS]]
    assert deletes == [["payments-staging"]]


def test_a_spokes_secret_loses_its_selection_labels_once_its_workloads_are_gone(spoke_drain: list[list[str]]) -> None:
    label = position(spoke_drain, "label", "secrets", "cluster-shop-spoke-a")
    assert spoke_drain[label][3:] == ["addons.gitops-platform.io/lb-", "gitops-platform.io/role-"]
    waits = [i for i, c in enumerate(spoke_drain) if c[:2] == ["get", APPLICATIONS]]
    assert position(spoke_drain, "delete", APPLICATIONS, "payments-staging") < waits[1] < label
    (read,) = [c for c in spoke_drain if c[:3] == ["get", "secrets", "cluster-shop-spoke-a"]]
    assert read[3:] == ["-o", "jsonpath={.metadata.labels}"]


def test_a_spokes_add_ons_and_root_are_left_to_the_hubs_applicationsets(spoke_drain: list[list[str]]) -> None:
    named = {name for c in spoke_drain if c[1] == APPLICATIONS and c[0] != "get" for name in c[2:]}
    assert not {"lb-shop-spoke-a", "root-staging", "payments-prod"} & named


def test_a_spokes_hold_is_released_once_its_root_is_being_deleted_and_no_other_spokes(
        spoke_drain: list[list[str]]) -> None:
    releases = [c[2] for c in spoke_drain if c[:2] == ["patch", APPLICATIONSETS] and "json" in c]
    assert releases == ["shop-staging"]
    waits = [i for i, c in enumerate(spoke_drain) if c[:2] == ["get", APPLICATIONS]]
    assert waits[2] < position(spoke_drain, "patch", APPLICATIONSETS, "shop-staging", "--type", "json")


def test_a_drain_recorded_without_its_cluster_secret_unlabels_the_one_the_spoke_registers_under(
        provider: ApplicationsDrainedProvider, kubectl) -> None:
    bin_dir = kubectl({GET_APPS: [listing(SPOKE_ROOT), listing()], GET_SECRETS: [{"stdout": json.dumps(SECRET_LABELS)}]})
    provider.delete("id", props(destinationName="shop-spoke-a"))
    assert position(changes(bin_dir), "label", "secrets", "cluster-shop-spoke-a") == 0


def test_an_applicationset_shared_with_other_clusters_stops_a_spokes_drain_before_any_change(
        provider: ApplicationsDrainedProvider, kubectl) -> None:
    shared = (app("payments-a", SPOKE_A, owner="shop-shared"), app("payments-b", SPOKE_B, owner="shop-shared"))
    bin_dir = kubectl({GET_APPS: [listing(*shared)], GET_APPSETS: [listing(appset("shop-shared"))]})
    with pytest.raises(RuntimeError, match=r"ApplicationSet shop-shared generates Applications .* also payments-b"):
        provider.delete("id", props(destinationName="shop-spoke-a", clusterSecret="cluster-shop-spoke-a"))
    assert changes(bin_dir) == []


# --- as a resource ------------------------------------------------------------------------


def test_the_resource_sends_its_kubeconfig_as_a_secret(pulumi_mocks: Callable[..., RecordingMocks]) -> None:
    mocks = pulumi_mocks()

    @pulumi.runtime.test
    def program() -> None:
        ApplicationsDrained("drained", ApplicationsDrainedArgs(kubeconfig=KUBECONFIG, namespace="argocd",
                                                               destination_name="shop-spoke-a",
                                                               cluster_secret="cluster-shop-spoke-a"))

    program()
    reg = mocks.named("drained")
    assert reg.typ == "pulumi-python:dynamic/argocd:ApplicationsDrained"
    kubeconfig = reg.inputs["kubeconfig"]
    assert isinstance(kubeconfig, dict) and kubeconfig.get(rpc._special_sig_key) == rpc._special_secret_sig
    assert (reg.inputs["namespace"], reg.inputs["destinationName"], reg.inputs["clusterSecret"],
            reg.inputs["timeoutSeconds"]) == ("argocd", "shop-spoke-a", "cluster-shop-spoke-a", 900)
