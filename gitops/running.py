"""Which image tag an environment runs, read from the rendered GitOps tree.

The overlay's kustomization pins a tag (from the stack config or the catalog),
but the Argo CD Image Updater, writing back to Git with its default target,
commits ``.argocd-source-<app>.yaml`` next to it, and Argo CD applies that
file's ``kustomize.images`` on top of the kustomization. So the tag that runs
is the updater file's when it sets one, else the overlay's pin. The renderer
never writes the updater file; only this module reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout, yamlio
from .catalog import tag_problem
from .errors import InputError, Problem, shown


@dataclass(frozen=True)
class RunningTag:
    """The tag an environment runs for one service, and the file that says so."""

    tag: str
    source: str      # tree-relative path of the file that holds it (updater file or kustomization)
    by_updater: bool


@dataclass(frozen=True)
class ImageOverride:
    """One ``kustomize.images`` entry of an updater file (kustomize's ``edit set image`` syntax)."""

    entry: str
    name: str                 # the kustomization image name it applies to
    tag: str | None
    digest: str | None


def updater_file(service: str, environment: str) -> str:
    """Where the Image Updater's git write-back puts its override for this overlay (tree-relative).

    The default write-back target is ``.argocd-source-<application>.yaml`` in
    the Application's source path, which is the overlay directory.
    """
    app = layout.application_name(service, environment)
    return f"{layout.overlay_dir(service, environment)}/.argocd-source-{app}.yaml"


def kustomization_file(service: str, environment: str) -> str:
    return f"{layout.overlay_dir(service, environment)}/{layout.KUSTOMIZATION}"


def running_tag(out: Path, service: str, environment: str) -> RunningTag:
    """The tag ``service`` runs in ``environment``: the updater's when it set one, else the overlay pin.

    A digest is refused rather than returned: promotion pins tags, and a digest
    cannot be written where a tag is expected.
    """
    override = image_override(out, service, environment)
    if override is not None and (override.tag is not None or override.digest is not None):
        source = updater_file(service, environment)
        return _checked(out, source, "kustomize.images", override.entry, override.tag, override.digest, True)
    return _overlay_pin(out, service, environment)


def image_override(out: Path, service: str, environment: str) -> ImageOverride | None:
    """The updater file's entry for ``service`` in ``environment``, None without file or entry.

    When several entries name the image, the last wins, as successive
    ``kustomize edit set image`` calls would leave it.
    """
    rel = updater_file(service, environment)
    path = out / rel
    if not path.exists():
        return None
    doc = yamlio.parse(yamlio.read_file_text(path, str(path)), str(path))
    matches = [o for o in _overrides(doc, str(path)) if o.name == service]
    return matches[-1] if matches else None


def overrides_in(text: str, file: str) -> list[ImageOverride]:
    """Every ``kustomize.images`` entry of an updater file's text (InputError naming ``file`` when malformed)."""
    return _overrides(yamlio.parse(text, file), file)


def parse_image_entry(entry: str) -> ImageOverride:
    """Split ``[name=]newName[:tag][@digest]``.

    Without ``name=``, kustomize names the image by its path; the overlay's
    image name is the service name, so the path's last component is compared.
    A ``:`` before the last ``/`` is a registry port, not a tag.
    """
    name, _, image = entry.partition("=") if "=" in entry else ("", "", entry)
    image, _, digest = image.partition("@")
    path, tag = image, None
    colon = image.rfind(":")
    if colon > image.rfind("/"):
        path, tag = image[:colon], image[colon + 1:]
    return ImageOverride(entry, name or path.rsplit("/", 1)[-1], tag or None, digest or None)


# An image reference as ``kustomize edit set image`` takes it: [name=]image[:tag][@digest], where the
# image is a distribution reference (optional registry host[:port], lowercase path components).
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = rf"{_HOST}?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]+"
MAX_IMAGE_ENTRY = 600   # a name (255) and an image reference (255), tag and digest: longer is no entry
IMAGE_ENTRY = re.compile(rf"(?:{_IMAGE}=)?{_IMAGE}(?::{_TAG})?(?:@{_DIGEST})?")


def _overrides(doc: Any, file: str) -> list[ImageOverride]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise InputError([Problem(file, "", "expected an Argo CD source override (a mapping with kustomize.images)")])
    kustomize = doc.get("kustomize")
    if kustomize is None:
        return []
    images = kustomize.get("images") if isinstance(kustomize, dict) else None
    if not isinstance(kustomize, dict) or not isinstance(images, (list, type(None))):
        raise InputError([Problem(file, "kustomize.images", "expected a list of image strings such as "
                                  "'payments=<registry>/<repository>:<tag>'")])
    out = []
    for i, entry in enumerate(images or []):
        if not isinstance(entry, str):
            raise InputError([Problem(file, f"kustomize.images[{i}]", f"expected an image string such as "
                                      f"'payments=<registry>/<repository>:<tag>', got {shown(entry)}")])
        if len(entry) > MAX_IMAGE_ENTRY or not IMAGE_ENTRY.fullmatch(entry):
            # Skipping it would run the overlay's pin here while Argo CD fails on (or applies) the entry.
            raise InputError([Problem(file, f"kustomize.images[{i}]", f"{shown(entry)} is not an image reference "
                                      "kustomize can apply; expected '[<name>=]<registry>/<repository>[:<tag>]"
                                      "[@<digest>]', such as 'payments=<registry>/<repository>:1.4.3'")])
        out.append(parse_image_entry(entry))
    return out


def _overlay_pin(out: Path, service: str, environment: str) -> RunningTag:
    rel = kustomization_file(service, environment)
    path = out / rel
    if not path.is_file():
        raise InputError([Problem(str(path), "", f"not found: {service} has no rendered {environment} overlay "
                                  f"in {out}; render it first (`python -m gitops render --all --out {out}`) "
                                  "or give --out")])
    doc = yamlio.parse(yamlio.read_file_text(path, str(path)), str(path))
    if not isinstance(doc, dict):
        raise InputError([Problem(str(path), "", "expected a Kustomization (a mapping); re-render the overlay")])
    images = doc.get("images")
    if not isinstance(images, (list, type(None))):
        raise InputError([Problem(str(path), "images", f"expected a list of images (name, newName, newTag), "
                                  f"got {shown(images)}; re-render the overlay")])
    entries = [e for e in images or [] if isinstance(e, dict) and e.get("name") == service]
    if not entries:
        raise InputError([Problem(str(path), "images", f"has no entry named {service!r}; re-render the overlay")])
    entry = entries[-1]
    tag, digest = entry.get("newTag"), entry.get("digest")
    if tag is not None and not isinstance(tag, str):
        raise InputError([Problem(str(path), "images.newTag", f"expected a tag string, got {shown(tag)}")])
    if digest is not None and not isinstance(digest, str):
        raise InputError([Problem(str(path), "images.digest", f"expected a digest string, got {shown(digest)}")])
    return _checked(out, rel, "images", f"{service}:{tag or ''}", tag, digest, False)


def _checked(out: Path, source: str, key: str, entry: str, tag: str | None, digest: str | None,
             by_updater: bool) -> RunningTag:
    """Only a valid release tag can be pinned: the stack config would refuse anything else."""
    where = str(out / source)
    if digest is not None:
        raise InputError([Problem(where, key, f"{entry!r} pins the image by digest ({digest}), not by tag; "
                                  "promotion pins a tag in the stack config: pin the tag that digest was pushed as "
                                  "by hand, or let the Image Updater track tags for this image")])
    problem = tag_problem(tag) if tag else "no tag"
    if problem:
        raise InputError([Problem(where, key, f"{entry!r}: {problem}")])
    assert tag is not None
    return RunningTag(tag, source, by_updater)
