"""Kubernetes' recommended labels on every object the renderer emits.

``app.kubernetes.io/`` ``name``, ``instance``, ``version``, ``component``,
``part-of`` and ``managed-by`` let anyone select a service's objects across
kinds (``kubectl get all,pdb,sealedsecret -l app.kubernetes.io/instance=payments-prod``)
and let dashboards group by them. Where each comes from, and why there:

- ``name``, ``part-of`` (the team), ``managed-by`` and ``component``
  (``server`` with ports, ``worker`` without) are the same in every
  environment: the base's ``labels:`` puts them on the base's objects, and the
  overlay's own objects (PodDisruptionBudget, SealedSecret and its Secret)
  carry them in their files. Not on pod templates: ``name`` is the
  Deployment's selector and the template sets it itself, and other pods of the
  service (a migration Job's) must not match it.
- ``instance`` (the Application, ``<service>-<env>``) is per environment: the
  overlay's ``labels:`` puts it, with the environment label, on every object
  and pod template, and on the SealedSecret's ``spec.template`` so the Secret
  the controller unseals carries it too.
- ``version`` is the image tag that actually runs, which the Image Updater may
  have moved past the overlay's pin (its write-back file is applied over the
  overlay's ``images:``): a kustomize replacement copies it from the built
  Deployment's image, after the images transformer, so the label can never
  disagree with the image. A tag that is not a valid label value (longer than
  63 characters, or not starting and ending alphanumeric) gets no label.

Selectors never change: the overlay adds labels with ``includeSelectors:
false``, so a Deployment's immutable ``spec.selector`` stays ``{name}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import layout, names
from ..model import Service, Stack

MAX_LABEL_VALUE = 63


def component(service: Service) -> str:
    """What the service is in the architecture: it serves requests, or it works a queue."""
    return layout.COMPONENT_WORKER if service.is_worker else layout.COMPONENT_SERVER


def service_labels(service: Service) -> dict[str, str]:
    """The labels every object of the service carries in every environment."""
    return {
        layout.LABEL_NAME: service.name,
        layout.LABEL_COMPONENT: component(service),
        layout.LABEL_PART_OF: service.team,
        layout.LABEL_TEAM: service.team,
        layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
    }


def instance(service: str, env: str) -> str:
    """The Application's name, ``<service>-<env>``, as a label value.

    A label value has at most 63 characters and both names may be that long
    alone: a longer one keeps its first 54 characters and adds a hash of the
    whole, so it stays unique and the same on every render.
    """
    return fitted(layout.application_name(service, env))


def fitted(value: str) -> str:
    """``value`` (letters, digits and ``-``) as a label value: unchanged when short enough, else shortened uniquely."""
    if len(value) <= MAX_LABEL_VALUE:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{value[:MAX_LABEL_VALUE - 9].rstrip('-_.')}-{digest}"


def is_label_value(text: str) -> bool:
    return len(text) <= MAX_LABEL_VALUE and names.LABEL_VALUE.fullmatch(text) is not None


def overlay_labels(service: Service, stack: Stack, sealed: bool) -> list[dict[str, Any]]:
    """The overlay's ``labels:``: instance and environment on every object and pod template."""
    entry: dict[str, Any] = {
        "pairs": {
            layout.LABEL_ENVIRONMENT: stack.environment,
            layout.LABEL_INSTANCE: instance(service.name, stack.environment),
        },
        "includeSelectors": False,
        "includeTemplates": True,
    }
    if sealed:
        # kustomize knows no SealedSecret: its template (the Secret to be) is named explicitly.
        entry["fields"] = [{"kind": "SealedSecret", "path": "spec/template/metadata/labels", "create": True}]
    return [entry]


def version_replacements(service: Service, stack: Stack, sealed: bool) -> list[dict[str, Any]]:
    """``app.kubernetes.io/version`` from the running image's tag, or nothing when the pinned tag is no label value.

    The tag is the part of the built image after the registry path's ``:``
    (ECR hosts carry no port, so the image has exactly one). ResourceQuota and
    LimitRange belong to the namespace, not to a release of the service, so
    they get no version.
    """
    if not is_label_value(stack.image_tag(service)):
        return []
    create = {"create": True}
    targets: list[dict[str, Any]] = [
        {"select": {}, "reject": [{"kind": "ResourceQuota"}, {"kind": "LimitRange"}],
         "fieldPaths": [f"metadata.labels.[{layout.LABEL_VERSION}]"], "options": create},
        {"select": {"kind": "Deployment", "name": service.name},
         "fieldPaths": [f"spec.template.metadata.labels.[{layout.LABEL_VERSION}]"], "options": create},
    ]
    if sealed:
        targets.append({"select": {"kind": "SealedSecret"},
                        "fieldPaths": [f"spec.template.metadata.labels.[{layout.LABEL_VERSION}]"], "options": create})
    return [{
        "source": {
            "kind": "Deployment",
            "name": service.name,
            "fieldPath": f"spec.template.spec.containers.[name={service.name}].image",
            "options": {"delimiter": ":", "index": 1},
        },
        "targets": targets,
    }]


def argocd_labels(stack: Stack) -> list[dict[str, Any]]:
    """The ``labels:`` of ``argocd/<env>/``: its objects belong to the environment's root Application."""
    return [{
        "pairs": {
            layout.LABEL_NAME: layout.PROJECT_NAME,
            layout.LABEL_INSTANCE: fitted(layout.root_application_name(stack.environment)),
            layout.LABEL_COMPONENT: layout.COMPONENT_ARGOCD,
            layout.LABEL_PART_OF: layout.PROJECT_NAME,
            layout.LABEL_MANAGED_BY: layout.MANAGED_BY,
        },
        "includeSelectors": False,
        "includeTemplates": False,
    }]
