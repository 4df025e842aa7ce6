"""Steps 2 to 5 of the render workflow (see ``workflow``): load, seal, carry forward, render, plan, write.

Apart from ``workflow`` so that a render the fast path answers never imports
the renderer or the cryptography library. The Pulumi program uses the pure
part: ``secret_entries``, ``seal_secrets`` and ``sealed_render``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import fastpath, layout, yamlio
from .errors import InputError, Problem
from .localsecrets import LocalSecrets, load_local_secrets
from .model import Project, Service, Stack
from .options import RenderOptions
from .project import load_project
from .reader import did_you_mean
from .render import Manifest, RenderResult, notifications, render_stack
from .render.secrets import CERT_ANNOTATION, cert_marker, missing_values, sealed_secret_file, sealed_secret_path
from .sealing import SealingCert, load_certificate
from .stackfiles import stack_file
from .workflow import RenderOutcome, StackOutcome
from .writer import WriteOptions, apply_plans, owned_file, plan_renders, read_records, tree_lock

NOTIFICATIONS_ENTRY = notifications.SECRETS_ENTRY


@dataclass
class SecretsPlan:
    """The SealedSecrets one stack's render carries, and the entries still waiting for a certificate."""

    sealed: dict[str, Manifest] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)


# --- the whole render --------------------------------------------------------------------------
def render_and_write(options: RenderOptions, environ: Mapping[str, str]) -> RenderOutcome:
    """Render ``options.stack`` (or every stack) into ``options.out`` in full: ``workflow.render_stacks``
    once the fast path has found something to do, or was not asked."""
    out = options.out
    project = load_project(options.project)
    stacks = project.stacks if options.stack is None else (find_stack(project, options.stack),)
    local = (load_local_secrets(options.secrets_file, environ, project, (options.project, out))
             if options.stack is not None else LocalSecrets())
    pending: dict[str, tuple[str, ...]] = {}
    # Locked from reading the records to the last write: a `pulumi up` (or another render) writing the
    # tree meanwhile would otherwise have its record entries dropped by a plan made before it wrote.
    with tree_lock(out, enabled=not options.dry_run):
        records = read_records(out) if out.is_dir() else {}
        results = []
        for stack in stacks:
            record = records.get(stack.name, {})
            secrets = plan_secrets(project, stack, out, local, record)
            pending[stack.name] = tuple(secrets.pending)
            cert, registration, published = published_files(out, stack, record)
            results.append(render_stack(project, stack, cert, secrets.sealed, registration, published))
        # Every stack is planned before anything is written: a conflict anywhere leaves the tree untouched.
        plans = plan_renders(out, results, WriteOptions(dry_run=options.dry_run, force=options.force))
        if not options.dry_run:
            apply_plans(out, plans)
    if not options.dry_run:
        project_hash = fastpath.project_digest(options.project)
        fastpath.remember_all(out, {r.stack: fastpath.input_fingerprint(project_hash, r.stack) for r in results})
    return RenderOutcome(tuple(StackOutcome(p.report, pending.get(p.report.stack, ())) for p in plans))


def find_stack(project: Project, name: str) -> Stack:
    """The project's stack ``name``; InputError naming the stack file and the stacks there are."""
    try:
        return project.stack(name)
    except KeyError:
        known = [s.name for s in project.stacks]
        raise InputError(f"{stack_file(name)}: no such stack{did_you_mean(name, known)}; "
                         f"stacks of this project: {', '.join(known)}") from None


# --- what the program published, carried forward ------------------------------------------------
def published_files(out: Path, stack: Stack, record: Mapping[str, str]
                    ) -> tuple[str | None, Manifest | None, list[Manifest]]:
    """What ``pulumi up`` published for this stack's cluster (``clusters/<cluster>/``), carried forward.

    Only the program can make these (the certificate, the registration with the
    cluster's endpoint and role), so a render keeps every one the stack's record
    still owns with its recorded content: (certificate PEM, registration, others).
    """
    prefix = layout.cluster_dir(stack.cluster.name) + "/"
    cert_path = layout.sealing_cert_path(stack.cluster.name)
    registration_path = layout.registration_path(stack.cluster.name)
    cert: str | None = None
    registration: Manifest | None = None
    others: list[Manifest] = []
    for path in sorted(p for p in record if p.startswith(prefix)):
        content = owned_file(out, stack.name, path, record)
        if content is None:
            continue  # gone or edited by hand: the writer reports it rather than carrying it forward
        if path == cert_path:
            cert = content.decode("utf-8", "replace")
        elif path == registration_path:
            registration = Manifest(path, content)
        else:
            others.append(Manifest(path, content))
    return cert, registration, others


def published_certificate(out: Path, stack: Stack, record: Mapping[str, str] | None = None) -> SealingCert | None:
    """The certificate ``pulumi up`` published for the stack's cluster, if the tree has it."""
    path = layout.sealing_cert_path(stack.cluster.name)
    content = owned_file(out, stack.name, path, record)
    return load_certificate(content, str(out / path)) if content is not None else None


# --- secrets ------------------------------------------------------------------------------------
def secret_entries(project: Project, stack: Stack) -> list[tuple[str, Service | None]]:
    """Every entry of the stack that holds secrets: each service with secrets, then the notifiers' (if any).

    An entry is named by its service, or ``argocd-notifications`` (no service
    can be called that; the service is None) for the credentials of the
    stack's Argo CD notifiers: the key the values are given under.
    """
    entries: list[tuple[str, Service | None]] = [(s.name, s) for s in project.catalog.services if s.secrets]
    if notifications.secret_names(stack):
        entries.append((NOTIFICATIONS_ENTRY, None))
    return entries


def seal_entry(stack: Stack, service: Service | None, cert: SealingCert, values: Mapping[str, bytes],
               derivation: bytes | None) -> Manifest:
    """The SealedSecret of one entry (``service``'s, or the notifiers' when None), sealed from ``values``.

    Both the CLI (values from ``--secrets`` and the environment) and the
    program (values from Pulumi config) seal through here, so the same values,
    certificate and stability key give the same bytes. InputError names the
    missing or unknown values and the command that sets them.
    """
    if service is None:
        return notifications.secret_file(stack, cert, values, derivation)
    return sealed_secret_file(service, stack, cert, values, derivation)


def seal_secrets(project: Project, stack: Stack, cert: SealingCert,
                 values: Mapping[str, Mapping[str, bytes]], derivation: bytes | None) -> dict[str, Manifest]:
    """Every entry's SealedSecret (``secret_entries``), all values given; every missing value reported at once."""
    sealed: dict[str, Manifest] = {}
    problems: list[Problem] = []
    for entry, service in secret_entries(project, stack):
        try:
            sealed[entry] = seal_entry(stack, service, cert, values.get(entry) or {}, derivation)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return sealed


def sealed_render(project: Project, stack: Stack, cert_pem: str, values: Mapping[str, Mapping[str, bytes]],
                  derivation: bytes | None) -> RenderResult:
    """The stack's render with every secret sealed for the cluster's certificate ``cert_pem``, as ``pulumi up`` writes it.

    The same ``render_stack`` call as the CLI's, given the values the program
    holds instead of those in the tree: the certificate is published and each
    entry's SealedSecret is sealed from ``values`` (see ``seal_secrets``).
    """
    cert = load_certificate(cert_pem.encode(), f"certificate of cluster {stack.cluster.name}")
    return render_stack(project, stack, cert_pem, seal_secrets(project, stack, cert, values, derivation))


def plan_secrets(project: Project, stack: Stack, out: Path, local: LocalSecrets,
                 record: Mapping[str, str] | None = None) -> SecretsPlan:
    """Each entry's SealedSecret for this render, given the certificate published in the tree.

    Per entry (a service with secrets, or the notifiers):

    * values given: seal them;
    * none given, and the tree holds this stack's SealedSecret, sealed for the
      current certificate with exactly the declared names: keep it byte for
      byte (a render without secrets, e.g. in CI, never undoes ``pulumi up``);
    * otherwise: an error naming the entry, the environment and the command.

    Without a published certificate (the cluster's first ``pulumi up`` has not
    run), the secrets are pending: the render carries no SealedSecret for them
    and says so; values given for them are an error. ``record``: the stack's
    ownership record, when the caller already read it.
    """
    plan = SecretsPlan()
    entries = secret_entries(project, stack)
    if not entries:
        return plan
    cert = published_certificate(out, stack, record)
    problems: list[Problem] = []
    for entry, service in entries:
        given = local.values.get(entry, {})
        try:
            if cert is None:
                if given:
                    raise InputError([Problem(str(out / layout.sealing_cert_path(stack.cluster.name)), "",
                                              f"no certificate for cluster {stack.cluster.name} yet, so "
                                              f"{_what(entry)} cannot be sealed; `pulumi up --stack {stack.name}` "
                                              "publishes it")])
                plan.pending.append(entry)
            elif given:
                plan.sealed[entry] = seal_entry(stack, service, cert, given, local.stability_key)
            else:
                plan.sealed[entry] = _carried(stack, service, out, cert, record)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return plan


def _what(entry: str) -> str:
    return "the notifiers' credentials" if entry == NOTIFICATIONS_ENTRY else f"the values of {entry}"


def _carried(stack: Stack, service: Service | None, out: Path, cert: SealingCert,
             record: Mapping[str, str] | None) -> Manifest:
    """The entry's SealedSecret as the tree has it, when it still fits; else the error asking for the values."""
    if service is None:
        names = notifications.secret_names(stack)
        kept = _kept(out, stack, notifications.secret_path(stack), cert, names, record)
        if kept is None:
            raise notifications.missing_values(stack, list(names))
        return kept
    kept = _kept(out, stack, sealed_secret_path(service, stack), cert, service.secrets, record)
    if kept is None:
        raise missing_values(service, stack, list(service.secrets))
    return kept


def _kept(out: Path, stack: Stack, path: str, cert: SealingCert, names: tuple[str, ...],
          record: Mapping[str, str] | None) -> Manifest | None:
    """The SealedSecret this stack wrote at ``path``, if it holds exactly ``names`` sealed for ``cert``."""
    content = owned_file(out, stack.name, path, record)
    if content is None:
        return None
    try:
        doc = yamlio.parse(content.decode("utf-8"), path)
        keys = sorted(doc["spec"]["encryptedData"])
        marker = doc["metadata"]["annotations"][CERT_ANNOTATION]
    except (InputError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if keys == sorted(names) and marker == cert_marker(cert):
        return Manifest(path, content)
    return None


__all__ = ["NOTIFICATIONS_ENTRY", "SecretsPlan", "find_stack", "plan_secrets", "published_certificate",
           "published_files", "render_and_write", "seal_entry", "seal_secrets", "sealed_render", "secret_entries"]
