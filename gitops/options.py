"""Options of each operation, with the defaults the CLI flags read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_OUT: Final = Path("gitops-repo")
DEFAULT_SCHEMA_DIR: Final = Path("../shared/schemas")
KUBERNETES_VERSION: Final = "1.33.0"


@dataclass(frozen=True)
class ValidateOptions:
    """What ``validate`` checks against.

    ``schema_dir`` holds the CRD schemas (argocd/, image-updater/,
    sealed-secrets/); None skips custom-resource validation, which is reported.
    ``jobs`` is the number of ``kubectl kustomize`` builds run at once.
    """

    schema_dir: Path | None = None
    kubernetes_version: str = KUBERNETES_VERSION
    jobs: int = 4
    kubectl: str = "kubectl"
