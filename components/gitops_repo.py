"""This stack's part of the GitOps repository, as Pulumi resources.

Each slice of the render (a service, the environment's Argo CD directory, the
cluster directory; see ``gitops.slices``) is one ``GitOpsFiles`` resource whose
input is ``{path: content}``. ``pulumi preview --diff`` therefore shows file
contents next to the cloud changes, YAML-aware, and with no unknowns once the
certificate exists (registry URLs are computed, never read from resources).

The provider class lives in this importable module, so Pulumi serialises it by
reference: its ``__provider`` input never changes with code edits, and deletes
of old resources run the current code. Every write goes through the core's
writer (``write_slice``), which keeps the ownership record, refuses foreign
files and reports hand edits; nothing here touches the disk directly.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.unknowns import is_unknown
from gitops.assemble import NOTIFICATIONS_ENTRY, sealed_render, secret_entries
from gitops.errors import GitOpsError
from gitops.model import Project, Stack
from gitops.render import Manifest, RenderResult, render_stack, sealing_cert_file
from gitops.slices import ARGOCD_SLICE, CLUSTER_SLICE, Slice, service_slice_name, slice_render
from gitops.writer import Report, WriteOptions, write_slice

TYPE = "gitops-platform:gitops:GitOpsRepo"
# Inputs that name where the files go: changing one moves the files (create new, delete old).
_LOCATION_KEYS = ("checkout", "stack", "prefixes")
_CONTENT_KEYS = ("files", "environment", "repoUrl", "repoPath")


def files_digest(files: Mapping[str, str]) -> str:
    """One hash over a slice's paths and contents: a short output that changes when any file does."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return digest.hexdigest()


class GitOpsFilesProvider(dynamic.ResourceProvider):
    """CRUD of one slice of the tree, through the core writer."""

    serialize_as_secret_always = False  # it captures nothing secret; keep diffs readable

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Refuse malformed inputs; accept unknown ones.

        During a preview the engine passes values that depend on resources not
        created yet (the certificate of a new cluster or key generation, a new
        spoke's endpoint) as unknowns, whole or inside ``files``. They are
        checked when known, at ``pulumi up``.
        """
        failures = []
        files = news.get("files")
        if not is_unknown(files) and not (isinstance(files, dict) and all(
                isinstance(k, str) and (isinstance(v, str) or is_unknown(v)) for k, v in files.items())):
            failures.append(dynamic.CheckFailure("files", "must map tree paths to file contents (strings)"))
        prefixes = news.get("prefixes")
        if is_unknown(prefixes):
            pass
        elif not isinstance(prefixes, list) or not prefixes or not all(isinstance(p, str) and p.endswith("/") for p in prefixes):
            failures.append(dynamic.CheckFailure("prefixes", "must be a non-empty list of directory prefixes"))
        elif isinstance(files, dict):
            for path in files:
                if not path.startswith(tuple(prefixes)):
                    failures.append(dynamic.CheckFailure("files", f"{path} lies outside {', '.join(prefixes)}"))
        for key in ("checkout", "stack", "environment", "repoUrl", "repoPath"):
            value = news.get(key)
            if not is_unknown(value) and (not isinstance(value, str) or not value):
                failures.append(dynamic.CheckFailure(key, "must be a non-empty string"))
        return dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [k for k in _LOCATION_KEYS if olds.get(k) != news.get(k)]
        changed = bool(replaces) or any(olds.get(k) != news.get(k) for k in _CONTENT_KEYS)
        return dynamic.DiffResult(changes=changed, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        _write(props, props["files"])
        return dynamic.CreateResult(f"{props['stack']}:{props['prefixes'][0]}", _outputs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        _write(news, news["files"])
        return dynamic.UpdateResult(_outputs(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # An empty slice: the writer deletes what this stack recorded under the prefixes,
        # keeping shared base files that another stack still records.
        _write(props, {})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """What is on disk now, so ``pulumi refresh`` (e.g. in a fresh CI checkout) sees missing or edited files."""
        root = _checkout(props)
        current: dict[str, str] = {}
        for path in props.get("files", {}):
            try:
                current[path] = (root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        outs = {**props, "files": current, "digest": files_digest(current)}
        return dynamic.ReadResult(id_, outs)


def _checkout(props: Mapping[str, Any]) -> Path:
    """The clone to write into; a relative path is relative to the project (the provider's working directory)."""
    return Path(os.path.expanduser(props["checkout"]))


def _write(props: Mapping[str, Any], files: Mapping[str, str]) -> Report:
    result = RenderResult(
        stack=props["stack"], environment=props["environment"], repo_url=props["repoUrl"],
        repo_path=props["repoPath"],
        files=tuple(Manifest(path, files[path].encode("utf-8")) for path in sorted(files)),
    )
    try:
        return write_slice(_checkout(props), result, tuple(props["prefixes"]), WriteOptions())
    except GitOpsError as exc:
        # The engine shows the message; the writer's messages name the file and the way out.
        raise RuntimeError(str(exc)) from None


def _outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {**props, "digest": files_digest(props["files"])}


class GitOpsFiles(dynamic.Resource, module="gitops", name="Files"):
    """One slice of the tree. Type token ``pulumi-python:dynamic/gitops:Files``."""

    files: pulumi.Output[dict[str, str]]
    digest: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_PROVIDER, name, {**props, "digest": None}, opts)


_PROVIDER = GitOpsFilesProvider()


@dataclass(frozen=True)
class GitOpsRepoArgs:
    """This stack's files: ``render_stack(project, stack, ...)`` split into one resource per slice.

    ``sealing_cert`` (PEM), ``stability_key`` (hex, secret) and ``secret_values``
    ({service: {NAME: value}}, secret) seal each service's secrets into its
    overlay; the sealed files are ciphertext, so the resources' contents are not
    secret and ``preview --diff`` shows them.

    ``extra_cluster_files``: more ``{path: content}`` for the cluster slice
    (under ``clusters/<cluster>/``), written next to what the render puts there,
    e.g. a spoke's registration file (default None). A path the render already
    writes is refused; contents must not be secret.
    """

    project: Project
    stack: Stack
    sealing_cert: pulumi.Input[str] | None = None
    stability_key: pulumi.Input[str] | None = None
    secret_values: pulumi.Input[Mapping[str, Mapping[str, str]]] | None = None
    extra_cluster_files: pulumi.Input[Mapping[str, str]] | None = None


class GitOpsRepo(pulumi.ComponentResource):
    """One ``GitOpsFiles`` resource per slice of this stack's render."""

    slices: dict[str, GitOpsFiles]

    def __init__(self, name: str, args: GitOpsRepoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        project, stack = args.project, args.stack
        render = render_stack(project, stack)   # slices with secrets are re-rendered sealed below
        services = tuple(s.name for s in project.catalog.services)
        self.slices = {}
        pieces = slice_render(render, services, stack.cluster.name)
        # The slices holding a SealedSecret: each service with secrets, the Argo CD directory for the notifiers'.
        with_secrets = {_entry_slice(entry): entry for entry, _ in secret_entries(project, stack)}
        sealed = (_sealed_slices(project, stack, args, tuple(with_secrets))
                  if with_secrets and args.sealing_cert is not None else None)
        for piece in pieces:
            plain = {m.path: m.content.decode("utf-8") for m in piece.files}
            files: pulumi.Input[dict[str, str]] = plain
            # The callbacks run later: they take this piece's values now (not the loop variables).
            if piece.name in with_secrets and sealed is not None:
                files = sealed.apply(operator.itemgetter(piece.name))
            elif piece.name == CLUSTER_SLICE and args.sealing_cert is not None:
                files = pulumi.Output.from_input(args.sealing_cert).apply(
                    functools.partial(_with_cert_file, plain, stack.cluster.name))
            if piece.name == CLUSTER_SLICE and args.extra_cluster_files is not None:
                files = _with_extra_files(files, args.extra_cluster_files)
            self.slices[piece.name] = GitOpsFiles(
                f"{name}-{piece.name}",
                _props(render, piece, stack.gitops.checkout, files),
                pulumi.ResourceOptions(parent=self),
            )
        self.paths = sorted(p for piece in pieces for p in piece.prefixes)
        self.register_outputs({"paths": self.paths, "checkout": stack.gitops.checkout})


def _entry_slice(entry: str) -> str:
    """The slice whose files hold an entry's SealedSecret (``gitops.assemble.secret_entries``)."""
    return ARGOCD_SLICE if entry == NOTIFICATIONS_ENTRY else service_slice_name(entry)


def _sealed_slices(project: Project, stack: Stack, args: GitOpsRepoArgs,
                   names: tuple[str, ...]) -> pulumi.Output[dict[str, dict[str, str]]]:
    """{slice: its files} for the slices ``names``, from the stack rendered with every secret sealed.

    The render is ``gitops.assemble.sealed_render``, the CLI's sealing and
    assembly, so both write the same bytes. One apply over the certificate, the
    stability key and all values, each slice's resource taking its entry:
    per-service chains each lifted the whole values map into Outputs
    (``Output.from_input`` makes one per dict key and value), which made the
    program quadratic in the catalog. Only ciphertext results, so the result
    is not secret.
    """
    entries = [entry for entry, _ in secret_entries(project, stack)]

    def render(values: list[Any]) -> dict[str, dict[str, str]]:
        pem, stability_hex, all_values = values
        derivation = bytes.fromhex(stability_hex) if stability_hex else None
        given = {entry: {k: v.encode() for k, v in ((all_values or {}).get(entry) or {}).items()} for entry in entries}
        result = sealed_render(project, stack, pem, given, derivation)
        pieces = slice_render(result, tuple(s.name for s in project.catalog.services), stack.cluster.name)
        return {piece.name: {m.path: m.content.decode("utf-8") for m in piece.files}
                for piece in pieces if piece.name in names}

    sealed = pulumi.Output.all(args.sealing_cert, args.stability_key, args.secret_values).apply(render)
    return pulumi.Output.unsecret(sealed)


def merge_files(rendered: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    """``rendered`` plus ``extra``; ValueError when ``extra`` would replace a rendered file."""
    clash = sorted(set(rendered) & set(extra or {}))
    if clash:
        raise ValueError(f"extra cluster files {', '.join(clash)} would replace files the render writes")
    return {**rendered, **(extra or {})}


def _with_extra_files(files: pulumi.Input[dict[str, str]],
                      extra: pulumi.Input[Mapping[str, str]]) -> pulumi.Input[dict[str, str]]:
    """Plain when both are plain, so a preview keeps knowing the files; an Output otherwise."""
    if isinstance(files, dict) and isinstance(extra, Mapping) and not any(
            isinstance(v, pulumi.Output) for v in extra.values()):
        return merge_files(files, extra)
    return pulumi.Output.all(files, extra).apply(lambda v: merge_files(v[0], v[1]))


def _cert_file(cluster: str, pem: str) -> dict[str, str]:
    manifest = sealing_cert_file(cluster, pem)
    return {manifest.path: manifest.content.decode("utf-8")}


def _with_cert_file(files: Mapping[str, str], cluster: str, pem: str) -> dict[str, str]:
    return {**files, **_cert_file(cluster, pem)}


def _props(render: RenderResult, piece: Slice, checkout: str, files: pulumi.Input[dict[str, str]]) -> dict[str, Any]:
    return {
        "checkout": checkout,
        "stack": render.stack,
        "environment": render.environment,
        "repoUrl": render.repo_url,
        "repoPath": render.repo_path,
        "prefixes": list(piece.prefixes),
        "files": files,
    }
