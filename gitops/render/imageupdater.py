"""The environment's Argo CD Image Updater policy as one ``ImageUpdater`` (v1alpha1, Image Updater 1.x).

Only an environment that is promoted from none gets one (dev in the example):
it follows new images by itself. An environment with ``promotion.from``
(staging, prod) gets none, since its tags must come only from ``promote``: an
updater there would deploy the newest matching tag in the registry, whether
or not it ever ran in the environment it is promoted from (the loader refuses
a mode other than ``off`` on such a stack).

One entry per service selects exactly that service's Application in this
environment (``<service>-<env>``) and names its one image: this
environment's registry path with a semver constraint, the allowed-tags
pattern, and the kustomize image name the overlay maps (the service's logical
name). Write-back is always ``git``: the ``argocd`` method patches the
Application, which the ApplicationSet controller reverts on its next
reconcile.

Where the running tag lives: the updater writes
``apps/<service>/overlays/<env>/.argocd-source-<service>-<env>.yaml`` (its
default target), which Argo CD applies over the overlay's ``images:`` pin.
The renderer never writes that file and the writer never touches a file it
did not write, so a render never undoes an update, and a pin alone could
never undo one either. So a service this stack pins (``imageTags``, which is
what ``promote --tag`` writes for a rollback) is held at exactly that tag:
its constraint is the tag itself, and the updater writes the pinned tag into
its file on its next run (it updates whenever the newest allowed tag differs
from the running one, also to an older one). Removing the pin lets it follow
new releases again.

Modes (stack config ``imageUpdates.mode``): ``git`` commits to the tracked
branch, or to ``writeBranch``; ``pull-request`` opens a pull request against
it instead; ``off`` emits nothing, tags move only by ``promote``.
"""

from __future__ import annotations

import re
from typing import Any

from .. import layout
from ..model import Catalog, Service, Stack, UpdateMode

API_VERSION = "argocd-image-updater.argoproj.io/v1alpha1"
FILE = "image-updater.yaml"
_SEMVER_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def default_constraint(tag: str) -> str | None:
    """The updates a service follows from its catalog tag: never a downgrade, never a breaking release.

    ``^X.Y.Z`` from 1.0.0 on (newer minor and patch releases of major X).
    ``~0.Y.Z`` below 1.0.0: newer patches of minor 0.Y only, since in 0.x a
    minor release may break (semver 4). Masterminds semver, which the updater
    uses, reads ``^0.9.4`` as ``>=0.9.4 <0.10.0`` as well, but ``^0.0.3`` as
    ``>=0.0.3 <0.0.4`` (never moving); ``~`` says the same thing for every 0.x.
    None for a tag that is not plain semver (nothing to constrain): such a
    service is left out of automatic updates and moves only by ``promote``.
    """
    match = _SEMVER_TAG.fullmatch(tag)
    if not match:
        return None
    major, minor, patch = match.groups()
    return f"{'^' if int(major) >= 1 else '~'}{major}.{minor}.{patch}"


def pinned_constraint(tag: str) -> str | None:
    """The constraint that holds a service at exactly ``tag``: the version itself.

    A bare version is an exact match in Masterminds semver. Not ``=1.2.3``:
    the updater splits image references at the first ``=`` (``alias=image``).
    None for a tag that is not plain semver: such a pin leaves the service
    out of the updater.
    """
    return tag if _SEMVER_TAG.fullmatch(tag) else None


def service_constraint(stack: Stack, service: Service) -> tuple[str | None, str | None]:
    """(constraint, allowTags) of ``service`` in ``stack``'s updater; (None, None) leaves it out.

    A pin (``imageTags``) wins over everything: it is a deliberate choice
    (a rollback, a hotfix), so the updater must write exactly that tag, also
    when ``allowTags`` would not have matched it. Else the stack's configured
    constraint, else the default from the catalog's tag.
    """
    policy = stack.image_updates
    pin = dict(stack.image_tags).get(service.name)
    if pin is not None:
        exact = pinned_constraint(pin)
        return (exact, f"regexp:^{re.escape(pin)}$") if exact else (None, None)
    constraint = policy.constraint(service.name) or default_constraint(service.image_tag)
    return (constraint, policy.allow_tags) if constraint else (None, None)


def image_updater(catalog: Catalog, stack: Stack) -> dict[str, Any] | None:
    policy = stack.image_updates
    if policy.mode is UpdateMode.OFF or stack.promote_from:   # the loader refuses the latter; never render it
        return None
    env = stack.environment
    refs = []
    for service in catalog.services:
        constraint, allow_tags = service_constraint(stack, service)
        if constraint is None:
            continue
        refs.append({
            "namePattern": layout.application_name(service.name, env),
            "images": [{
                "alias": service.name,
                "imageName": f"{stack.registry.image(service.image_repository)}:{constraint}",
                "commonUpdateSettings": {"updateStrategy": "semver", "allowTags": allow_tags},
                "manifestTargets": {"kustomize": {"name": service.name}},
            }],
        })
    if not refs:
        return None
    git_config: dict[str, Any] = {"branch": stack.gitops.revision}
    if policy.mode is UpdateMode.PULL_REQUEST:
        # The pull request's base. Upstream names the head branch itself (image-updater-<namespace>-<app>-<hash of
        # the change>) and rejects a base:target branch here, so each distinct update is its own pull request.
        git_config["pullRequest"] = {policy.pull_request_provider: {}}
    elif policy.write_branch:
        # base:target: upstream checks out the target branch when it exists (else creates it from base), commits
        # the update on it and pushes: every update of this environment lands on one branch.
        git_config["branch"] = f"{stack.gitops.revision}:{policy.write_branch}"
    method = f"git:secret:{policy.credentials_secret}" if policy.credentials_secret else "git"
    return {
        "apiVersion": API_VERSION,
        "kind": "ImageUpdater",
        "metadata": {
            "name": f"images-{env}",
            # The Applications it updates live in Argo CD's namespace; v1.x requires the same one.
            "namespace": stack.argocd.namespace,
            "labels": {layout.LABEL_MANAGED_BY: layout.MANAGED_BY, layout.LABEL_ENVIRONMENT: env},
        },
        "spec": {"writeBackConfig": {"method": method, "gitConfig": git_config}, "applicationRefs": refs},
    }
