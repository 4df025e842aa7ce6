"""On ``pulumi destroy``: delete Argo CD's Applications of a cluster, with what they deployed, and wait.

What Argo CD deploys can own cloud resources (load balancers, volumes, DNS
records) that belong to the account, not to the cluster, and that Argo CD
deletes only while three things hold: the Application carries the
``resources-finalizer.argocd.argoproj.io`` finalizer, Argo CD can still reach
the destination cluster (its cluster Secret exists), and the controllers that
clean those resources up still run. Upstream behaviour this module works with:

- Argo CD drops an Application whose destination cluster is gone without
  deleting anything (``finalizeApplicationDeletion`` removes the finalizer
  when the destination no longer validates); so does the ApplicationSet
  controller when a cluster generator loses a cluster
  (``removeFinalizerOnInvalidDestination``).
- An ApplicationSet with ``preserveResourcesOnDeletion`` generates its
  Applications without the finalizer, and on every reconcile it sets a
  generated Application's finalizers back to the generated ones, so a
  finalizer added by hand is removed again; the controller leaves an
  ApplicationSet alone once it is being deleted. The API server refuses new
  finalizers on an object that is being deleted.
- Deleting an ApplicationSet deletes its Applications (owner references).

So ``ApplicationsDrained`` is deleted before whatever Argo CD needs (Argo CD,
the Image Updater, which alone removes the finalizer of its ImageUpdater
objects, the controllers in ``keep_until_drained`` / ``ready``, a spoke's
cluster Secret, access entry and cluster), and its delete does the teardown
itself, in an order that leaves nothing behind:

1. (Every Application of an Argo CD: a standalone cluster or a hub.) Stop,
   changing nothing, while another cluster is still registered: its
   Applications need that cluster's own destroy first.
2. Workloads first. Each ApplicationSet generating them is held (finalizer
   ``gitops-platform.io/drain``, then deleted with ``--cascade=orphan``): being
   deleted, it neither changes nor re-creates its Applications, and whatever
   syncs it from Git cannot re-create it while the hold keeps it. The
   Applications get the resources finalizer where they lack it, are deleted,
   and the drain waits until Argo CD has deleted them with what they deployed.
3. Then fleet add-ons (after the workloads whose load balancers they may
   manage), then the roots: every Application of a standalone cluster or hub
   is deleted directly, the root Application last (its cascade removes the
   AppProjects and ImageUpdater objects while the Image Updater still runs);
   for a spoke, its cluster Secret on the hub loses its labels, so no
   ApplicationSet selects it any more and the hub's own ApplicationSets delete
   the spoke's add-ons and root Application, with cascade.
4. Once the roots are being deleted (nothing syncs the held ApplicationSets
   any more) the holds are released, and the drain waits until no matching
   Application is left.

If that takes longer than ``timeout_seconds`` the delete fails naming what is
left, and the destroy stops with Argo CD and the cluster intact; every step is
idempotent, so running the destroy again carries on. A cluster or an Argo CD
that is already gone (the Application CRD is missing, the API server's name no
longer resolves) has no Applications left, so that counts as drained.

Create and update only record the inputs: the latest kubeconfig and scope are
what the delete uses. The provider class lives in this importable module, so
Pulumi serialises it by reference and deletes always run the current code.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.unknowns import is_unknown
from gitops import layout

APPLICATIONS = "applications.argoproj.io"
APPLICATIONSETS = "applicationsets.argoproj.io"
SECRETS = "secrets"
# Argo CD cascades an Application's deletion with this finalizer (or its /foreground, /background forms).
RESOURCES_FINALIZER = layout.RESOURCES_FINALIZER
# Keeps a held ApplicationSet (being deleted, so inert) until the drain releases it; the annotation
# says for which drain, so two spokes drained at once on one hub release only their own.
HOLD_FINALIZER = layout.DRAIN_FINALIZER
HOLD_ANNOTATION = layout.ANNOTATION_DRAIN
ALL_DESTINATIONS = "*"
DEFAULT_TIMEOUT_SECONDS = 900
DEFAULT_POLL_SECONDS = 5.0
# One kubectl call; longer than this is an unreachable API server, and the drain tries again.
KUBECTL_TIMEOUT_SECONDS = 60
# kubectl's messages when there is nothing left to ask: the CRD is gone (Argo CD
# uninstalled with its CRDs) or the API server's DNS name no longer exists (EKS deleted).
NO_APPLICATION_CRD = ("the server doesn't have a resource type", "could not find the requested resource")
CLUSTER_GONE = ("no such host",)
NOT_FOUND = "(NotFound)"
# Only a cluster Secret's name and server are read (jsonpath), never its config.
CLUSTER_SECRETS_JSONPATH = '{range .items[*]}{.metadata.name}{"\\t"}{.data.server}{"\\n"}{end}'
LABELS_JSONPATH = "{.metadata.labels}"
_INPUT_KEYS = ("kubeconfig", "namespace", "destinationName", "destinationServer", "clusterSecret",
               "timeoutSeconds", "pollSeconds")


class KubectlError(RuntimeError):
    """kubectl failed for another reason than the cluster or the Application CRD being gone."""


class ClusterGone(KubectlError):
    """The API server's name no longer resolves: the cluster, and every Application in it, is gone."""


class DrainRefused(RuntimeError):
    """The drain would orphan or break something it does not own; nothing was changed."""


class DrainTimeout(RuntimeError):
    """Applications are still there at the deadline."""


@dataclass(frozen=True)
class Application:
    """What the drain reads of one Argo CD Application."""

    name: str
    destination_name: str | None
    destination_server: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    finalizers: tuple[str, ...]
    deleting: bool
    owner: str | None   # the ApplicationSet controlling it (its controller owner reference)

    @property
    def cascades(self) -> bool:
        """Whether deleting it makes Argo CD delete what it deployed."""
        return any(f == RESOURCES_FINALIZER or f.startswith(f"{RESOURCES_FINALIZER}/") for f in self.finalizers)

    @property
    def addon(self) -> bool:
        return layout.LABEL_ADDON in self.labels


@dataclass(frozen=True)
class ApplicationSet:
    name: str
    finalizers: tuple[str, ...]
    annotations: Mapping[str, str]
    deleting: bool

    def held_for(self, key: str) -> bool:
        return HOLD_FINALIZER in self.finalizers and self.annotations.get(HOLD_ANNOTATION) == key


def _metadata(item: Mapping[str, Any]) -> Mapping[str, Any]:
    return item.get("metadata") or {}


def parse_applications(listing: str | Mapping[str, Any]) -> list[Application]:
    """``kubectl get applications -o json`` output as ``Application`` records."""
    doc = json.loads(listing) if isinstance(listing, str) else listing
    apps = []
    for item in doc.get("items") or []:
        meta = _metadata(item)
        destination = (item.get("spec") or {}).get("destination") or {}
        owner = next((ref.get("name") for ref in meta.get("ownerReferences") or []
                      if ref.get("kind") == "ApplicationSet" and ref.get("controller")), None)
        apps.append(Application(
            name=str(meta.get("name", "?")),
            destination_name=destination.get("name"),
            destination_server=destination.get("server"),
            labels=meta.get("labels") or {},
            annotations=meta.get("annotations") or {},
            finalizers=tuple(meta.get("finalizers") or ()),
            deleting=bool(meta.get("deletionTimestamp")),
            owner=owner,
        ))
    return apps


def parse_application_sets(listing: str) -> list[ApplicationSet]:
    doc = json.loads(listing)
    return [ApplicationSet(str(_metadata(item).get("name", "?")), tuple(_metadata(item).get("finalizers") or ()),
                           _metadata(item).get("annotations") or {}, bool(_metadata(item).get("deletionTimestamp")))
            for item in doc.get("items") or []]


@dataclass(frozen=True)
class Scope:
    """Which Applications a drain deletes: every one of an Argo CD, or those of one destination cluster.

    A destination matches by ``spec.destination.name`` or ``.server`` (Argo CD
    trims a trailing ``/`` from servers, so this does too). A spoke's root
    Application deploys into the hub and is found by its
    ``gitops-platform.io/cluster`` label instead. ``cluster_secret``: the
    destination's cluster Secret, whose labels the drain removes so that no
    ApplicationSet selects it any more (default: the name this project
    registers ``name`` under, so a state recorded before the input existed
    still drains).
    """

    namespace: str
    name: str | None = None
    server: str | None = None
    cluster_secret: str | None = None

    @property
    def everything(self) -> bool:
        return self.name is None and self.server is None

    @property
    def secret(self) -> str | None:
        if self.cluster_secret or self.name is None:
            return self.cluster_secret
        return layout.registration_secret_name(self.name)

    @property
    def key(self) -> str:
        """Which drain a held ApplicationSet belongs to."""
        return ALL_DESTINATIONS if self.everything else str(self.name or self.server)

    def targets(self, app: Application) -> bool:
        if self.everything:
            return True
        server = self.server.rstrip("/") if self.server else None
        return ((self.name is not None and app.destination_name == self.name)
                or (server is not None and str(app.destination_server or "").rstrip("/") == server))

    def is_root(self, app: Application) -> bool:
        """A spoke's root Application: in the hub, labelled with the spoke's name."""
        return (not self.everything and self.name is not None and not self.targets(app)
                and app.labels.get(layout.LABEL_CLUSTER) == self.name)

    def covers(self, app: Application) -> bool:
        return self.targets(app) or self.is_root(app)

    def describe(self) -> str:
        return scope(self.namespace, self.name, self.server)


def remaining(applications_json: str | Mapping[str, Any], name: str | None = None,
              server: str | None = None) -> list[str]:
    """Names of the Applications in ``kubectl get applications -o json`` output that still count, sorted.

    Without ``name`` and ``server`` every Application counts; otherwise those
    deploying to that cluster (``spec.destination.name`` is ``name`` or
    ``spec.destination.server`` is ``server``) and its root Application in the
    hub (labelled ``gitops-platform.io/cluster: <name>``). An Application being
    deleted still counts: its resources are not gone yet.
    """
    wanted = Scope("", name, server)
    return sorted(app.name for app in parse_applications(applications_json) if wanted.covers(app))


def scope(namespace: str, name: str | None = None, server: str | None = None) -> str:
    """Which Applications a drain waits for, in words (for messages)."""
    targets = []
    if name:
        targets.append(f"destination name {name}")
    if server:
        targets.append(f"destination server {server}")
    where = f"in namespace {namespace}"
    return f"{where} with {' or '.join(targets)}" if targets else where


def timeout_message(names: list[str], namespace: str, timeout: float, name: str | None = None,
                    server: str | None = None) -> str:
    return (f"{len(names)} Argo CD Application(s) {scope(namespace, name, server)} still exist after "
            f"{timeout:g}s: {', '.join(names)}. Argo CD has not finished deleting them and what they deployed "
            f"(check with `kubectl -n {namespace} get {APPLICATIONS}`: a failing sync or a stuck finalizer keeps "
            "one), so the destroy stopped before removing Argo CD or the cluster under them. "
            "Run it again once they are gone.")


def held_message(held: Sequence[str]) -> str:
    """What a stopped drain leaves held, and how to undo it if the cluster is to stay."""
    if not held:
        return ""
    return (f" ApplicationSet(s) {', '.join(held)} stay held for this destroy (finalizer {HOLD_FINALIZER}, "
            "being deleted, their Applications detached) until it completes; to keep the cluster instead, "
            "remove that finalizer and let Argo CD sync them again.")


def registered_message(clusters: Sequence[str], namespace: str) -> str:
    return (f"{len(clusters)} other cluster(s) are still registered with this Argo CD (cluster Secrets in "
            f"namespace {namespace}): {', '.join(clusters)}. Their Applications need their own destroy first "
            "(each spoke's `pulumi destroy` drains them and removes its registration); this destroy stopped "
            "before changing anything.")


def shared_message(appset: str, others: Sequence[str], scope_words: str) -> str:
    return (f"ApplicationSet {appset} generates Applications {scope_words} and also {', '.join(others)}; the drain "
            "only holds ApplicationSets that serve the cluster being destroyed, so it stopped before changing "
            "anything. Move those Applications to another ApplicationSet (or delete it) and run the destroy again.")


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


@dataclass(frozen=True)
class Kubectl:
    """kubectl against one namespace of one cluster; every call has a timeout, and errors name the call, not data."""

    binary: str
    kubeconfig_path: str
    namespace: str

    def __call__(self, *args: str, missing_ok: bool = False) -> str | None:
        """stdout; None for a missing object or resource type when ``missing_ok``.

        ClusterGone when the API server's name no longer resolves, KubectlError otherwise.
        """
        what = " ".join(args[:2])
        try:
            done = subprocess.run(
                [self.binary, "--kubeconfig", self.kubeconfig_path, "--namespace", self.namespace, *args],
                capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise KubectlError(f"kubectl {what} gave no answer within {KUBECTL_TIMEOUT_SECONDS}s") from None
        if done.returncode == 0:
            return done.stdout
        stderr = done.stderr.strip()
        if any(marker in stderr for marker in CLUSTER_GONE):
            raise ClusterGone(stderr)
        if missing_ok and (NOT_FOUND in stderr or any(marker in stderr for marker in NO_APPLICATION_CRD)):
            return None
        raise KubectlError(f"kubectl {what}: {stderr or f'exited with {done.returncode}'}")


@dataclass(frozen=True)
class ArgoCDApi:
    """The few reads and writes a drain makes, on Argo CD's namespace."""

    kubectl: Kubectl

    def applications(self) -> list[Application] | None:
        """None once the Application CRD is gone (Argo CD uninstalled with its CRDs)."""
        listing = self.kubectl("get", APPLICATIONS, "-o", "json", missing_ok=True)
        return None if listing is None else parse_applications(listing)

    def application_sets(self) -> list[ApplicationSet]:
        listing = self.kubectl("get", APPLICATIONSETS, "-o", "json", missing_ok=True)
        return [] if listing is None else parse_application_sets(listing)

    def registered_clusters(self) -> list[str]:
        """Names of the cluster Secrets for any cluster but this one (in-cluster)."""
        listing = self.kubectl("get", SECRETS, "-l", f"{layout.SECRET_TYPE_LABEL}=cluster",
                               "-o", f"jsonpath={CLUSTER_SECRETS_JSONPATH}") or ""
        others = []
        for line in listing.splitlines():
            name, _, encoded = line.partition("\t")
            try:
                server = base64.b64decode(encoded, validate=True).decode("utf-8").rstrip("/") if encoded else ""
            except (binascii.Error, UnicodeDecodeError):
                server = "?"
            if name and server and server != layout.IN_CLUSTER_SERVER:
                others.append(name)
        return sorted(others)

    def hold(self, appset: ApplicationSet, key: str) -> None:
        """Make the ApplicationSet inert and keep it: hold finalizer, then delete it without its Applications."""
        if appset.deleting:
            return   # inert already: held by an earlier run, or on its way out (new finalizers are refused now)
        if not appset.held_for(key):
            finalizers = [*appset.finalizers, *([] if HOLD_FINALIZER in appset.finalizers else [HOLD_FINALIZER])]
            patch = {"metadata": {"annotations": {HOLD_ANNOTATION: key}, "finalizers": finalizers}}
            self.kubectl("patch", APPLICATIONSETS, appset.name, "--type", "merge", "-p", json.dumps(patch),
                         missing_ok=True)
        self.kubectl("delete", APPLICATIONSETS, appset.name, "--cascade=orphan", "--wait=false", "--ignore-not-found")

    def release(self, appset: ApplicationSet) -> None:
        """Remove the hold finalizer (only if it is still where it was listed): the ApplicationSet goes."""
        index = appset.finalizers.index(HOLD_FINALIZER)
        path = f"/metadata/finalizers/{index}"
        patch = [{"op": "test", "path": path, "value": HOLD_FINALIZER}, {"op": "remove", "path": path}]
        self.kubectl("patch", APPLICATIONSETS, appset.name, "--type", "json", "-p", json.dumps(patch),
                     missing_ok=True)

    def finalize(self, app: Application, mark: str | None = None) -> None:
        """Add the resources finalizer where it lacks (and ``mark``: which drain detached it), if not being deleted."""
        if app.deleting:
            return   # the API server refuses new finalizers now; it is on its way out either way
        metadata: dict[str, Any] = {}
        if not app.cascades:
            metadata["finalizers"] = [*app.finalizers, RESOURCES_FINALIZER]
        if mark is not None and app.annotations.get(HOLD_ANNOTATION) != mark:
            metadata["annotations"] = {HOLD_ANNOTATION: mark}
        if metadata:
            self.kubectl("patch", APPLICATIONS, app.name, "--type", "merge", "-p", json.dumps({"metadata": metadata}),
                         missing_ok=True)

    def delete(self, apps: Sequence[Application]) -> None:
        names = sorted(a.name for a in apps if not a.deleting)
        if names:
            self.kubectl("delete", APPLICATIONS, *names, "--wait=false", "--ignore-not-found")

    def unlabel(self, secret: str) -> None:
        """Remove every label of the cluster Secret but the one that makes it a cluster: no generator selects it."""
        labels_json = self.kubectl("get", SECRETS, secret, "-o", f"jsonpath={LABELS_JSONPATH}", missing_ok=True)
        if not labels_json:
            return
        keys = sorted(k for k in json.loads(labels_json) if k != layout.SECRET_TYPE_LABEL)
        if keys:
            self.kubectl("label", SECRETS, secret, *(f"{k}-" for k in keys), missing_ok=True)


@dataclass
class Deadline:
    timeout: float
    poll: float
    ends: float

    @classmethod
    def start(cls, timeout: float, poll: float) -> Deadline:
        return cls(timeout, poll, time.monotonic() + timeout)

    def reached(self) -> bool:
        """Whether waiting one more poll would pass it."""
        return time.monotonic() + self.poll > self.ends


@dataclass(frozen=True)
class Waves:
    """A drain's Applications in the order they go.

    ``workloads``: generated by an ApplicationSet the drain may hold (or already
    detached by an earlier run, marked so), deleted first. ``addons``: fleet
    add-ons, which may run what the workloads' cleanup needs. ``roots``: the
    root Application and what Argo CD syncs without an ApplicationSet (for a
    spoke: its root in the hub and what that root syncs), last.
    """

    workloads: tuple[Application, ...]
    addons: tuple[Application, ...]
    roots: tuple[Application, ...]


def waves(apps: Sequence[Application], where: Scope) -> Waves:
    mine = [a for a in apps if where.covers(a)]
    addons = tuple(a for a in mine if a.addon and not where.is_root(a))
    workloads = tuple(a for a in mine if not a.addon and not where.is_root(a)
                      and (a.owner is not None or a.annotations.get(HOLD_ANNOTATION) == where.key))
    taken = {a.name for a in (*addons, *workloads)}
    return Waves(workloads, addons, tuple(a for a in mine if a.name not in taken))


def _wait(api: ArgoCDApi, deadline: Deadline, blocking: Callable[[list[Application]], list[str]],
          message: Callable[[list[str]], str]) -> None:
    """Poll until ``blocking`` names nothing (or the Application CRD is gone); DrainTimeout at the deadline."""
    while True:
        apps = api.applications()
        if apps is None:
            return
        left = sorted(blocking(apps))
        if not left:
            return
        if deadline.reached():
            raise DrainTimeout(message(left))
        time.sleep(deadline.poll)


@dataclass(frozen=True)
class Drain:
    """The teardown the module docstring describes, for one scope, against one deadline."""

    api: ArgoCDApi
    where: Scope
    deadline: Deadline

    def run(self) -> None:
        """One pass; every step is idempotent, so a pass after a failure carries on where the last one stopped."""
        apps = self.api.applications()
        if apps is None:
            return
        if self.where.everything:
            others = self.api.registered_clusters()
            if others:
                raise DrainRefused(registered_message(others, self.where.namespace))
        plan = waves(apps, self.where)
        self._detach_and_delete(apps, plan.workloads)
        if self.where.everything:
            self._detach_and_delete(apps, plan.addons)
            for app in plan.roots:
                self.api.finalize(app)
            self.api.delete(plan.roots)
        else:
            # Add-ons and the root are the hub's ApplicationSets' to delete: they would re-create them.
            for app in plan.roots:
                self.api.finalize(app)
            if self.where.secret:
                self.api.unlabel(self.where.secret)
            self._wait(lambda now: [a.name for a in now if self.where.is_root(a) and not a.deleting],
                       lambda left: (f"{len(left)} root Application(s) of {self.where.key} in namespace "
                                     f"{self.where.namespace} are not being deleted {self.deadline.timeout:g}s after "
                                     f"cluster Secret {self.where.secret} lost its labels: {', '.join(left)}. "
                                     "An ApplicationSet still generates them (a cluster generator without a "
                                     "selector?); the destroy stopped before removing the registration."))
            # What no ApplicationSet generates: nothing re-creates it now that the roots are going.
            self.api.delete([a for a in plan.roots if not self.where.is_root(a)])
        # Nothing syncs the held ApplicationSets any more: their roots are gone or going.
        for appset in self.api.application_sets():
            if appset.held_for(self.where.key):
                self.api.release(appset)
        self._wait(lambda now: [a.name for a in now if self.where.covers(a)],
                   lambda left: timeout_message(left, self.where.namespace, self.deadline.timeout,
                                                self.where.name, self.where.server))

    def _detach_and_delete(self, apps: Sequence[Application], wave: Sequence[Application]) -> None:
        """Hold the wave's ApplicationSets, give its Applications the finalizer, delete them, wait until gone."""
        if not wave:
            return
        owners = sorted({a.owner for a in wave if a.owner is not None})
        if not self.where.everything:
            names = {a.name for a in wave}
            for owner in owners:
                others = sorted(a.name for a in apps if a.owner == owner and a.name not in names)
                if others:
                    raise DrainRefused(shared_message(owner, others, self.where.describe()))
        appsets = {s.name: s for s in self.api.application_sets()}
        for owner in owners:
            if owner in appsets:
                self.api.hold(appsets[owner], self.where.key)
        for app in wave:
            self.api.finalize(app, mark=self.where.key)
        self.api.delete(wave)
        names = {a.name for a in wave}
        self._wait(lambda now: [a.name for a in now if a.name in names],
                   lambda left: timeout_message(left, self.where.namespace, self.deadline.timeout,
                                                self.where.name, self.where.server))

    def _wait(self, blocking: Callable[[list[Application]], list[str]], message: Callable[[list[str]], str]) -> None:
        def with_holds(left: list[str]) -> str:
            try:
                held = sorted(s.name for s in self.api.application_sets() if s.held_for(self.where.key))
            except KubectlError:
                held = []
            return message(left) + held_message(held)
        _wait(self.api, self.deadline, blocking, with_holds)


def drain(kubeconfig: str, where: Scope, timeout: float = DEFAULT_TIMEOUT_SECONDS,
          poll: float = DEFAULT_POLL_SECONDS) -> None:
    """Delete the Applications ``where`` covers, with what they deployed; return once none is left.

    RuntimeError naming what is left at the deadline, or naming what stops the
    drain before it changes anything. kubectl errors other than "gone" are
    retried (from a fresh listing): an API server can be briefly unreachable in
    the middle of a destroy.
    """
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError("kubectl is not on PATH; it is needed to delete Argo CD's Applications before the cluster")
    deadline = Deadline.start(timeout, poll)
    with kubeconfig_file(kubeconfig) as path:
        run = Drain(ArgoCDApi(Kubectl(kubectl, path, where.namespace)), where, deadline)
        while True:
            try:
                run.run()
                return
            except ClusterGone:
                return
            except (KubectlError, ValueError) as exc:   # ValueError: output that is not JSON
                if deadline.reached():
                    raise RuntimeError(
                        f"could not drain the Argo CD Applications {where.describe()} for {timeout:g}s: {exc}. "
                        "The destroy stopped before removing Argo CD or the cluster; fix access to the cluster "
                        "and run it again.") from None
            time.sleep(poll)


class ApplicationsDrainedProvider(dynamic.ResourceProvider):
    """Records its inputs; ``delete`` drains the Applications and returns once they are gone."""

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
        where = Scope(props["namespace"], props.get("destinationName"), props.get("destinationServer"),
                      props.get("clusterSecret"))
        drain(props["kubeconfig"], where, float(props.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS),
              float(props.get("pollSeconds") or DEFAULT_POLL_SECONDS))


_PROVIDER = ApplicationsDrainedProvider()


@dataclass(frozen=True)
class ApplicationsDrainedArgs:
    """Which Applications a destroy deletes, and on which cluster.

    ``kubeconfig``: of the cluster Argo CD runs in (kept secret). ``namespace``:
    Argo CD's namespace there. ``destination_name`` / ``destination_server``:
    only Applications deploying to that cluster (either match counts) and its
    root Application in the hub (default None for both: every Application in
    the namespace, which needs no other cluster registered).
    ``cluster_secret``: with a destination, its cluster Secret in that
    namespace, whose labels the drain removes so that no ApplicationSet
    selects the cluster any more (default None: ``cluster-<destination
    name>``, the name this project registers a cluster under).
    ``timeout_seconds`` (default 900) before the delete fails naming what is
    left; ``poll_seconds`` (default 5) between two looks.
    """

    kubeconfig: pulumi.Input[str]
    namespace: pulumi.Input[str]
    destination_name: pulumi.Input[str] | None = None
    destination_server: pulumi.Input[str] | None = None
    cluster_secret: pulumi.Input[str] | None = None
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS


class ApplicationsDrained(dynamic.Resource, module="argocd", name="ApplicationsDrained"):
    """Its delete deletes the Applications and returns once Argo CD has deleted them with what they deployed.

    Type ``pulumi-python:dynamic/argocd:ApplicationsDrained``. Make it depend on
    everything the Applications' deletion needs, so a destroy deletes it first.
    """

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: ApplicationsDrainedArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "namespace": args.namespace,
            "destinationName": args.destination_name,
            "destinationServer": args.destination_server,
            "clusterSecret": args.cluster_secret,
            "timeoutSeconds": args.timeout_seconds,
            "pollSeconds": args.poll_seconds,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"])
        super().__init__(_PROVIDER, name, props, pulumi.ResourceOptions.merge(opts, secret))
