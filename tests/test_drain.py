"""Waiting for Argo CD's Applications to be gone before a destroy goes on.

The pure filter is tested on its own; the provider's ``delete`` runs against a
fake ``kubectl`` on PATH that answers from a list of canned responses (one per
call, the last one repeating) and logs how it was called.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import pulumi
import pytest
from pulumi.runtime import rpc

from components.drain import (
    APPLICATIONS,
    ApplicationsDrained,
    ApplicationsDrainedArgs,
    ApplicationsDrainedProvider,
    remaining,
)
from pulumi_harness import RecordingMocks

KUBECONFIG = '{"apiVersion": "v1", "kind": "Config"}'
NO_CRD = 'error: the server doesn\'t have a resource type "applications"\n'
CLUSTER_GONE = ("Unable to connect to the server: dial tcp: lookup abc.gr7.eu-west-1.eks.amazonaws.com "
                "on 10.0.0.2:53: no such host\n")

FAKE_KUBECTL = """#!{python}
import json, os, stat, sys
here = os.path.dirname(os.path.abspath(__file__))
argv = sys.argv[1:]
path = argv[argv.index("--kubeconfig") + 1]
with open(os.path.join(here, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"argv": argv, "mode": stat.S_IMODE(os.stat(path).st_mode),
                          "kubeconfig": open(path).read()}}) + "\\n")
responses = json.load(open(os.path.join(here, "responses.json")))
with open(os.path.join(here, "calls.jsonl")) as log:
    count = sum(1 for _ in log)
answer = responses[min(count, len(responses)) - 1]
sys.stdout.write(answer.get("stdout", ""))
sys.stderr.write(answer.get("stderr", ""))
sys.exit(answer.get("code", 0))
"""


def applications(*apps: tuple[str, dict[str, str]]) -> str:
    """``kubectl get applications -o json`` output for (name, destination) pairs."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
         "metadata": {"name": name, "namespace": "argocd"}, "spec": {"destination": destination}}
        for name, destination in apps]})


IN_CLUSTER = {"server": "https://kubernetes.default.svc", "namespace": "payments"}
SPOKE_A = {"name": "shop-spoke-a", "namespace": "payments"}
SPOKE_A_BY_SERVER = {"server": "https://a.gr7.eu-west-1.eks.amazonaws.com/", "namespace": "orders"}
SPOKE_B = {"name": "shop-spoke-b", "namespace": "payments"}


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``kubectl(response, ...)``: put a fake kubectl first on PATH; returns its directory (calls.jsonl)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")

    def install(*responses: dict[str, Any]) -> Path:
        script = bin_dir / "kubectl"
        script.write_text(FAKE_KUBECTL.format(python=sys.executable))
        script.chmod(0o755)
        (bin_dir / "responses.json").write_text(json.dumps(list(responses)))
        return bin_dir

    return install


def calls(bin_dir: Path) -> list[dict[str, Any]]:
    log = bin_dir / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def props(**overrides: Any) -> dict[str, Any]:
    return {"kubeconfig": KUBECONFIG, "namespace": "argocd", "timeoutSeconds": 5, "pollSeconds": 0.01, **overrides}


@pytest.fixture
def provider() -> ApplicationsDrainedProvider:
    return ApplicationsDrainedProvider()


# --- which Applications count --------------------------------------------------------


def test_without_a_destination_every_application_counts() -> None:
    listing = applications(("b", IN_CLUSTER), ("a", SPOKE_A))
    assert remaining(listing) == ["a", "b"]


def test_a_destination_name_counts_only_applications_deploying_there() -> None:
    listing = applications(("a1", SPOKE_A), ("b1", SPOKE_B), ("local", IN_CLUSTER))
    assert remaining(listing, name="shop-spoke-a") == ["a1"]


def test_a_destination_server_matches_with_or_without_a_trailing_slash() -> None:
    listing = applications(("orders-a", SPOKE_A_BY_SERVER), ("local", IN_CLUSTER))
    assert remaining(listing, server="https://a.gr7.eu-west-1.eks.amazonaws.com") == ["orders-a"]
    assert remaining(json.loads(listing), server="https://a.gr7.eu-west-1.eks.amazonaws.com/") == ["orders-a"]


def test_name_or_server_either_makes_an_application_count() -> None:
    listing = applications(("a1", SPOKE_A), ("orders-a", SPOKE_A_BY_SERVER), ("b1", SPOKE_B))
    assert remaining(listing, name="shop-spoke-a", server="https://a.gr7.eu-west-1.eks.amazonaws.com") == [
        "a1", "orders-a"]


def test_an_empty_list_leaves_nothing() -> None:
    assert remaining(applications()) == []
    assert remaining('{"items": null}', name="x") == []


# --- the provider's bookkeeping ------------------------------------------------------------


def test_create_and_update_only_record_their_inputs(provider: ApplicationsDrainedProvider) -> None:
    created = provider.create(props(destinationName="shop-spoke-a"))
    assert created.id == "argocd/shop-spoke-a"
    assert created.outs == props(destinationName="shop-spoke-a")
    assert provider.update("id", props(), props(namespace="gitops")).outs == props(namespace="gitops")


def test_a_changed_input_is_an_update_never_a_replacement(provider: ApplicationsDrainedProvider) -> None:
    diff = provider.diff("id", props(), props(kubeconfig="{}", timeoutSeconds=60))
    assert diff.changes is True and diff.replaces == []
    assert provider.diff("id", props(), props()).changes is False


def test_check_names_bad_inputs(provider: ApplicationsDrainedProvider) -> None:
    failures = provider.check({}, {"kubeconfig": "", "namespace": "argocd", "timeoutSeconds": 0,
                                   "pollSeconds": 5, "destinationName": 3}).failures
    assert sorted(f.property for f in failures) == ["destinationName", "kubeconfig", "timeoutSeconds"]
    assert provider.check({}, props()).failures == []


# --- delete: waiting -----------------------------------------------------------------------


def test_delete_waits_until_the_applications_are_gone(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    bin_dir = kubectl({"stdout": applications(("a", IN_CLUSTER), ("b", IN_CLUSTER))},
                      {"stdout": applications(("b", IN_CLUSTER))},
                      {"stdout": applications()})
    provider.delete("id", props())
    seen = calls(bin_dir)
    assert len(seen) == 3
    argv = seen[0]["argv"]
    assert argv[argv.index("--kubeconfig") + 2:] == ["get", APPLICATIONS, "-n", "argocd", "-o", "json"]
    assert {c["mode"] for c in seen} == {0o600}
    assert {c["kubeconfig"] for c in seen} == {KUBECONFIG}
    assert not Path(argv[argv.index("--kubeconfig") + 1]).exists(), "the kubeconfig file is removed afterwards"


def test_delete_ignores_applications_of_other_clusters(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    bin_dir = kubectl({"stdout": applications(("a1", SPOKE_A), ("b1", SPOKE_B))},
                      {"stdout": applications(("b1", SPOKE_B))})
    provider.delete("id", props(destinationName="shop-spoke-a"))
    assert len(calls(bin_dir)) == 2


def test_delete_times_out_naming_the_applications_still_there(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    kubectl({"stdout": applications(("payments-prod", SPOKE_A), ("orders-prod", SPOKE_A), ("b1", SPOKE_B))})
    with pytest.raises(RuntimeError) as caught:
        provider.delete("id", props(destinationName="shop-spoke-a", timeoutSeconds=0.2, pollSeconds=0.05))
    message = str(caught.value)
    assert "2 Argo CD Application(s) in namespace argocd with destination name shop-spoke-a" in message
    assert "orders-prod, payments-prod" in message and "b1" not in message
    assert "destroy stopped" in message


def test_a_missing_application_crd_counts_as_drained(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    bin_dir = kubectl({"stderr": NO_CRD, "code": 1})
    provider.delete("id", props())
    assert len(calls(bin_dir)) == 1


def test_a_cluster_whose_api_name_no_longer_resolves_counts_as_drained(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    bin_dir = kubectl({"stderr": CLUSTER_GONE, "code": 1})
    provider.delete("id", props(destinationName="shop-spoke-a"))
    assert len(calls(bin_dir)) == 1


def test_other_kubectl_errors_are_retried(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    bin_dir = kubectl({"stderr": "error: You must be logged in to the server (Unauthorized)\n", "code": 1},
                      {"stdout": "not json"},
                      {"stdout": applications()})
    provider.delete("id", props())
    assert len(calls(bin_dir)) == 3


def test_an_error_that_lasts_until_the_deadline_fails_naming_it(provider: ApplicationsDrainedProvider, kubectl) -> None:  # type: ignore[no-untyped-def]
    kubectl({"stderr": "error: You must be logged in to the server (Unauthorized)\n", "code": 1})
    with pytest.raises(RuntimeError, match=r"could not list the Argo CD Applications in namespace argocd .*Unauthorized"):
        provider.delete("id", props(timeoutSeconds=0.1, pollSeconds=0.05))


def test_without_kubectl_the_delete_fails_saying_so(provider: ApplicationsDrainedProvider, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="kubectl is not on PATH"):
        provider.delete("id", props())


# --- as a resource ------------------------------------------------------------------------


def test_the_resource_sends_its_kubeconfig_as_a_secret(pulumi_mocks: Callable[..., RecordingMocks]) -> None:
    mocks = pulumi_mocks()

    @pulumi.runtime.test
    def program() -> None:
        ApplicationsDrained("drained", ApplicationsDrainedArgs(kubeconfig=KUBECONFIG, namespace="argocd",
                                                               destination_name="shop-spoke-a"))

    program()
    reg = mocks.named("drained")
    assert reg.typ == "pulumi-python:dynamic/argocd:ApplicationsDrained"
    kubeconfig = reg.inputs["kubeconfig"]
    assert isinstance(kubeconfig, dict) and kubeconfig.get(rpc._special_sig_key) == rpc._special_secret_sig  # noqa: SLF001
    assert (reg.inputs["namespace"], reg.inputs["destinationName"], reg.inputs["timeoutSeconds"]) == (
        "argocd", "shop-spoke-a", 900)
