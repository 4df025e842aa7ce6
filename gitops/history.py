"""Which image tags have run in an environment, from the GitOps repository's history.

``promote --tag`` (a rollback or a hotfix) may pin only a tag that ran in the
environment the target is promoted from: that is what keeps "prod runs only
what staging ran" true when someone goes back. What runs in an environment is
decided by two files of its overlay, and only by what is committed, since
Argo CD syncs nothing else:

- ``apps/<service>/overlays/<env>/kustomization.yaml``: the pin the renderer
  writes (``imageTags`` of the stack, else the catalog's tag);
- ``apps/<service>/overlays/<env>/.argocd-source-<service>-<env>.yaml``: the
  Image Updater's write-back, which Argo CD applies over the pin.

So a tag "ran" there when some commit of the checked-out branch (``git log``
of those two paths) or the working tree sets it in either file. For an
environment synced by hand this also counts a commit nobody synced before the
next one replaced it: Git does not know what was synced, and reading Argo CD's
history would need the cluster. It never counts a tag that was not in Git.

The stack files' history would not do: dev's tags come from the Image
Updater, which never edits them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import yamlio
from .errors import GitOpsError, InputError, Problem
from .running import kustomization_file, overrides_in, running_tag, updater_file

GIT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Sighting:
    """Where a tag was last seen in an environment's overlay."""

    tag: str
    path: str                 # tree-relative file that set it
    commit: str | None     # abbreviated commit; None: the working tree


def tags_that_ran(out: Path, service: str, environment: str) -> dict[str, Sighting]:
    """tag -> its most recent sighting as ``environment``'s running tag of ``service``, newest first.

    At each commit that changed the overlay's pin or the updater file, the
    tag that ran is the updater file's when it sets one (Argo CD applies it
    over the pin), else the pin. Raises InputError when ``out`` is not inside
    a git repository: without history nothing can be said about what ran.
    """
    kustomization, updater = kustomization_file(service, environment), updater_file(service, environment)
    prefix = _git(out, "rev-parse", "--show-prefix").strip()
    seen: dict[str, Sighting] = {}
    try:
        now = running_tag(out, service, environment)
        seen[now.tag] = Sighting(now.tag, now.source, None)
    except InputError:
        pass   # no overlay now (or an unreadable one): the history may still know
    commits = _git(out, "log", "--format=%H", "--no-renames", "--", kustomization, updater).split()
    texts = iter(_blobs(out, [f"{c}:{prefix}{p}" for c in commits for p in (kustomization, updater)]))
    for commit in commits:
        pin_text, updater_text = next(texts), next(texts)
        override = _updater_tag(updater_text, updater, service) if updater_text is not None else None
        tag: str | None
        if override is not None:
            tag, path = override, updater
        else:
            tag, path = (_pin(pin_text, kustomization, service) if pin_text is not None else None), kustomization
        if tag:
            seen.setdefault(tag, Sighting(tag, path, commit[:12]))
    return seen


def _updater_tag(text: str, path: str, service: str) -> str | None:
    """The tag an updater file sets for ``service`` (the last entry naming it, as kustomize applies them).

    None when it sets none (the pin ran); "" when it pins a digest: something
    ran over the pin then, but not a tag that can be named.
    """
    try:
        entries = [o for o in overrides_in(text, path) if o.name == service]
    except GitOpsError:
        return None   # an old, broken version says nothing about what ran
    if not entries or not (entries[-1].tag or entries[-1].digest):
        return None
    return "" if entries[-1].digest else entries[-1].tag


def _pin(text: str, path: str, service: str) -> str | None:
    """The overlay's ``images[].newTag`` for ``service`` in one version of its kustomization."""
    try:
        doc: Any = yamlio.parse(text, path)
    except GitOpsError:
        return None
    images = doc.get("images") if isinstance(doc, dict) else None
    tags = [entry.get("newTag") for entry in images if isinstance(entry, dict) and entry.get("name") == service
            and not entry.get("digest")] if isinstance(images, list) else []
    return tags[-1] if tags and isinstance(tags[-1], str) else None


def _blobs(out: Path, objects: list[str]) -> Iterator[str | None]:
    """The text of each ``<commit>:<path>`` (None where the file did not exist), in one ``git cat-file``."""
    if not objects:
        return
    done = _run(out, ["cat-file", "--batch"], ("\n".join(objects) + "\n").encode())
    position = 0
    for _ in objects:
        end = done.index(b"\n", position)
        header = done[position:end].split()
        position = end + 1
        if len(header) != 3:   # "<object> missing"
            yield None
            continue
        size = int(header[2])
        blob = done[position:position + size]
        position += size + 1
        yield blob.decode("utf-8", errors="replace") if header[1] == b"blob" else None


def _git(out: Path, *args: str) -> str:
    return _run(out, list(args)).decode("utf-8", errors="replace")


def _run(out: Path, args: list[str], stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(out), *args], input=stdin, capture_output=True,
                              timeout=GIT_TIMEOUT_SECONDS, check=False)
    except FileNotFoundError:
        raise InputError([Problem("--tag", "", "git not found on PATH; --tag reads the GitOps repository's "
                                  "history to know which tags ran")]) from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise InputError([Problem(str(out), "", f"cannot read its git history ({detail[0] if detail else 'git failed'}): "
                                  "--tag pins only a tag that ran, as the GitOps repository's history shows; "
                                  "give --out the clone of the GitOps repository")])
    return proc.stdout
