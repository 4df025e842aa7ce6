"""On ``pulumi destroy``: wait until Argo CD has removed the Applications of a cluster.

Whatever tells Argo CD to manage workloads (the root Application of a
standalone cluster, a spoke's cluster Secret on the hub) is deleted in a
moment; Argo CD then deletes the Applications and, through their finalizers,
what they deployed: load balancers, volumes, DNS records. Those belong to the
cloud account, not to the cluster. Deleting Argo CD or the cluster right after
would orphan them (and a leftover load balancer keeps the VPC from being
deleted), so ``ApplicationsDrained`` sits between the two in the dependency
graph: it is deleted after the thing that starts the cascade and before the
things the cascade needs, and its delete returns only once no matching
Application is left. If they are still there after ``timeout_seconds``, the
delete fails naming them, and the destroy stops with the cluster intact.

Create and update only record the inputs: the latest kubeconfig and scope are
what the delete uses. A cluster or an Argo CD that is already gone (the
Application CRD is missing, the API server's name no longer resolves) has no
Applications left, so that counts as drained.

The provider class lives in this importable module, so Pulumi serialises it by
reference and deletes always run the current code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Union

import pulumi
import pulumi.dynamic as dynamic

from components.unknowns import is_unknown

APPLICATIONS = "applications.argoproj.io"
DEFAULT_TIMEOUT_SECONDS = 900
DEFAULT_POLL_SECONDS = 5.0
# One kubectl call; longer than this is an unreachable API server, and the next poll tries again.
KUBECTL_TIMEOUT_SECONDS = 60
# kubectl's messages when there is nothing left to ask: the CRD is gone (Argo CD
# uninstalled with its CRDs) or the API server's DNS name no longer exists (EKS deleted).
NO_APPLICATION_CRD = ("the server doesn't have a resource type", "could not find the requested resource")
CLUSTER_GONE = ("no such host",)
_INPUT_KEYS = ("kubeconfig", "namespace", "destinationName", "destinationServer", "timeoutSeconds", "pollSeconds")


class KubectlError(RuntimeError):
    """kubectl failed for another reason than the cluster or the Application CRD being gone."""


def remaining(applications_json: Union[str, Mapping[str, Any]], name: Optional[str] = None,
              server: Optional[str] = None) -> list[str]:
    """Names of the Applications in ``kubectl get applications -o json`` output that still count, sorted.

    Without ``name`` and ``server`` every Application counts; otherwise those whose
    ``spec.destination.name`` is ``name`` or whose ``spec.destination.server`` is
    ``server`` (Argo CD trims a trailing ``/`` from servers, so this does too).
    An Application being deleted still counts: its resources are not gone yet.
    """
    doc = json.loads(applications_json) if isinstance(applications_json, str) else applications_json
    wanted_server = server.rstrip("/") if server else None
    names = []
    for item in doc.get("items") or []:
        destination = (item.get("spec") or {}).get("destination") or {}
        if name is None and server is None:
            matches = True
        else:
            matches = ((name is not None and destination.get("name") == name)
                       or (wanted_server is not None
                           and str(destination.get("server") or "").rstrip("/") == wanted_server))
        if matches:
            names.append(str((item.get("metadata") or {}).get("name", "?")))
    return sorted(names)


def scope(namespace: str, name: Optional[str] = None, server: Optional[str] = None) -> str:
    """Which Applications a drain waits for, in words (for messages)."""
    targets = []
    if name:
        targets.append(f"destination name {name}")
    if server:
        targets.append(f"destination server {server}")
    where = f"in namespace {namespace}"
    return f"{where} with {' or '.join(targets)}" if targets else where


def timeout_message(names: list[str], namespace: str, timeout: float, name: Optional[str] = None,
                    server: Optional[str] = None) -> str:
    return (f"{len(names)} Argo CD Application(s) {scope(namespace, name, server)} still exist after "
            f"{timeout:g}s: {', '.join(names)}. Argo CD has not finished deleting them and what they deployed "
            f"(check with `kubectl -n {namespace} get {APPLICATIONS}`: a failing sync or a stuck finalizer keeps "
            "one), so the destroy stopped before removing Argo CD or the cluster under them. "
            "Run it again once they are gone.")


def gone(stderr: str) -> bool:
    """Whether kubectl's error means there are no Applications left to wait for."""
    return any(marker in stderr for marker in (*NO_APPLICATION_CRD, *CLUSTER_GONE))


@contextlib.contextmanager
def kubeconfig_file(kubeconfig: str) -> Iterator[str]:
    """The kubeconfig in a private temporary file (0600), removed afterwards."""
    fd, path = tempfile.mkstemp(prefix="gitops-platform-", suffix=".kubeconfig")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(kubeconfig)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def list_applications(kubeconfig_path: str, namespace: str) -> Optional[str]:
    """``kubectl get applications -o json``, or None when the cluster or Argo CD's CRD is gone; KubectlError otherwise."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError("kubectl is not on PATH; it is needed to wait for Argo CD's Applications to be deleted")
    try:
        done = subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig_path, "get", APPLICATIONS, "-n", namespace, "-o", "json"],
            capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise KubectlError(f"kubectl get {APPLICATIONS} gave no answer within {KUBECTL_TIMEOUT_SECONDS}s") from None
    if done.returncode == 0:
        return done.stdout
    if gone(done.stderr):
        return None
    raise KubectlError(done.stderr.strip() or f"kubectl exited with {done.returncode}")


def wait_drained(kubeconfig: str, namespace: str, name: Optional[str] = None, server: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, poll: float = DEFAULT_POLL_SECONDS) -> None:
    """Return once no matching Application is left; RuntimeError naming them (or kubectl's error) at the deadline.

    kubectl errors other than "gone" are retried: an API server can be briefly
    unreachable in the middle of a destroy.
    """
    deadline = time.monotonic() + timeout
    with kubeconfig_file(kubeconfig) as path:
        while True:
            left: list[str] = []
            failure: Optional[str] = None
            try:
                listing = list_applications(path, namespace)
                if listing is None:
                    return
                left = remaining(listing, name, server)
                if not left:
                    return
            except (KubectlError, ValueError) as exc:   # ValueError: output that is not JSON
                failure = str(exc)
            if time.monotonic() + poll > deadline:
                if failure is not None:
                    raise RuntimeError(
                        f"could not list the Argo CD Applications {scope(namespace, name, server)} for {timeout:g}s: "
                        f"{failure}. The destroy stopped before removing Argo CD or the cluster; fix access to the "
                        "cluster and run it again.")
                raise RuntimeError(timeout_message(left, namespace, timeout, name, server))
            time.sleep(poll)


class ApplicationsDrainedProvider(dynamic.ResourceProvider):
    """Records its inputs; ``delete`` waits for the Applications to be gone."""

    # The default: __provider stays secret as well, since the resource's inputs carry a kubeconfig.
    serialize_as_secret_always = True

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Refuse malformed inputs; accept unknown ones (a preview of a new cluster or spoke: kubeconfig,
        endpoint and namespace may depend on resources not created yet)."""
        failures = []
        for key in ("kubeconfig", "namespace"):
            value = news.get(key)
            if not is_unknown(value) and (not isinstance(value, str) or not value):
                failures.append(dynamic.CheckFailure(key, "must be a non-empty string"))
        for key in ("destinationName", "destinationServer"):
            value = news.get(key)
            if value is not None and not is_unknown(value) and not isinstance(value, str):
                failures.append(dynamic.CheckFailure(key, "must be a string when set"))
        for key in ("timeoutSeconds", "pollSeconds"):
            value = news.get(key)
            if is_unknown(value):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                failures.append(dynamic.CheckFailure(key, "must be a positive number of seconds"))
        return dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        # Never a replacement: replacing would run the delete, i.e. wait for every Application to go.
        return dynamic.DiffResult(changes=any(olds.get(k) != news.get(k) for k in _INPUT_KEYS), replaces=[])

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        target = props.get("destinationName") or props.get("destinationServer") or "*"
        return dynamic.CreateResult(f"{props['namespace']}/{target}", dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(dict(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        wait_drained(
            props["kubeconfig"], props["namespace"], props.get("destinationName"), props.get("destinationServer"),
            float(props.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS),
            float(props.get("pollSeconds") or DEFAULT_POLL_SECONDS))


_PROVIDER = ApplicationsDrainedProvider()


@dataclass(frozen=True)
class ApplicationsDrainedArgs:
    """Which Applications a destroy waits for, and on which cluster.

    ``kubeconfig``: of the cluster Argo CD runs in (kept secret). ``namespace``:
    Argo CD's namespace there. ``destination_name`` / ``destination_server``:
    only Applications deploying to that cluster (either match counts; default
    None for both: every Application in the namespace). ``timeout_seconds``
    (default 900) before the delete fails naming what is left;
    ``poll_seconds`` (default 5) between two looks.
    """

    kubeconfig: pulumi.Input[str]
    namespace: pulumi.Input[str]
    destination_name: Optional[pulumi.Input[str]] = None
    destination_server: Optional[pulumi.Input[str]] = None
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS


class ApplicationsDrained(dynamic.Resource, module="argocd", name="ApplicationsDrained"):
    """Deleted only once Argo CD has deleted the Applications. Type ``pulumi-python:dynamic/argocd:ApplicationsDrained``."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: ApplicationsDrainedArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "namespace": args.namespace,
            "destinationName": args.destination_name,
            "destinationServer": args.destination_server,
            "timeoutSeconds": args.timeout_seconds,
            "pollSeconds": args.poll_seconds,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"])
        super().__init__(_PROVIDER, name, props, pulumi.ResourceOptions.merge(opts, secret))
