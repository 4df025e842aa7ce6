"""Options of each operation, with the defaults the CLI flags read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from . import layout

DEFAULT_OUT: Final = Path(layout.DEFAULT_CHECKOUT)
KUBERNETES_VERSION: Final = "1.33.0"

# What `drift` does not report (its help lists them): here, not in `drift`, so that building the
# command line does not import the comparison and kustomize for every command.
DRIFT_EXPECTED_DIFFERENCES: Final[tuple[str, ...]] = (
    "replica counts: Deployment/Rollout spec.replicas, HPA spec.minReplicas/maxReplicas, PodDisruptionBudgets",
    "container resources",
    "the image tag and digest (the image repository is compared)",
    "Ingress rules[].host, spec.tls, spec.ingressClassName and metadata.annotations",
    "NetworkPolicy rules admitting the load balancer's subnets, the ingress controller's or monitoring namespace",
    f"the {layout.LABEL_ENVIRONMENT}, {layout.LABEL_INSTANCE} and {layout.LABEL_VERSION} labels",
    "the pods' config and secrets checksum annotations (the ConfigMap itself is compared)",
    "the namespace's ResourceQuota and LimitRange (derived from replica counts and resources)",
    "SealedSecret encryptedData values (key names are compared) and its sealed-with annotation",
    "ConfigMap/Secret generator hash suffixes, in names and references",
)


@dataclass(frozen=True)
class RenderOptions:
    """What ``render`` writes (``workflow.render_stacks``).

    ``project``: the project root holding ``Pulumi.yaml`` (default: the
    current directory). ``out``: the GitOps tree (default ``gitops-repo``).
    ``stack``: one stack, or None for every stack of the project (default).
    ``dry_run``: plan and report, write nothing (default False). ``force``:
    overwrite or delete owned files edited by hand, and skip the no-change
    fast path (default False). ``secrets_file``: secret values for ``stack``,
    kept outside the project and the tree (default None: the environment's
    ``GITOPS_SECRET_*`` values only).
    """

    project: Path = Path(".")
    out: Path = DEFAULT_OUT
    stack: str | None = None
    dry_run: bool = False
    force: bool = False
    secrets_file: Path | None = None


@dataclass(frozen=True)
class ValidateOptions:
    """What ``validate`` checks against.

    ``schema_dir`` holds upstream CRDs (``*.yaml`` or ``<vendor>/*.yaml``)
    that custom resources must pass as well as the project's own schemas
    (``gitops/crds``, which always apply); None (default) checks them against
    the project's schemas alone.
    ``jobs`` is the number of ``kubectl kustomize`` builds run at once.
    """

    schema_dir: Path | None = None
    kubernetes_version: str = KUBERNETES_VERSION
    jobs: int = 4
    kubectl: str = "kubectl"
