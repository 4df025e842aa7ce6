"""The environment's Argo CD Image Updater policy as one ``ImageUpdater`` (v1alpha1, Image Updater 1.x).

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
did not write, so a render never undoes an update; ``promote`` reads it.

Modes (stack config ``imageUpdates.mode``): ``git`` commits to the tracked
branch; ``pull-request`` opens a pull request against it instead (prod);
``off`` emits nothing, tags move only by ``promote``.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .. import layout
from ..model import Catalog, Stack, UpdateMode

API_VERSION = "argocd-image-updater.argoproj.io/v1alpha1"
FILE = "image-updater.yaml"
_SEMVER_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def default_constraint(tag: str) -> Optional[str]:
    """``^<tag>``: newer minor and patch releases of the running major, never a downgrade.

    None for a tag that is not plain semver (nothing to constrain): such a
    service is left out of automatic updates and moves only by ``promote``.
    """
    match = _SEMVER_TAG.fullmatch(tag)
    return f"^{match.group(1)}.{match.group(2)}.{match.group(3)}" if match else None


def image_updater(catalog: Catalog, stack: Stack) -> Optional[dict[str, Any]]:
    policy = stack.image_updates
    if policy.mode is UpdateMode.OFF:
        return None
    env = stack.environment
    refs = []
    for service in catalog.services:
        constraint = policy.constraint(service.name) or default_constraint(stack.image_tag(service))
        if constraint is None:
            continue
        refs.append({
            "namePattern": layout.application_name(service.name, env),
            "images": [{
                "alias": service.name,
                "imageName": f"{stack.registry.image(service.image_repository)}:{constraint}",
                "commonUpdateSettings": {"updateStrategy": "semver", "allowTags": policy.allow_tags},
                "manifestTargets": {"kustomize": {"name": service.name}},
            }],
        })
    if not refs:
        return None
    git_config: dict[str, Any] = {"branch": stack.gitops.revision}
    if policy.mode is UpdateMode.PULL_REQUEST:
        git_config["pullRequest"] = {policy.pull_request_provider: {}}
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
