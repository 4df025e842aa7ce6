"""Offline evaluation of Argo CD ApplicationSets (controller v3.5 semantics).

Public entry points: ``expand`` (ApplicationSet -> Applications) and
``check_applications`` (the controller's per-Application validation), with
``ExpansionContext``/``RepoCheckout`` describing what the controller would see.
"""

from gitops.errors import UnsupportedError

from .check import AppProblem, check_applications
from .context import ExpansionContext
from .errors import ExpansionError
from .expand import expand
from .repos import RepoCheckout

__all__ = [
    "AppProblem",
    "ExpansionContext",
    "ExpansionError",
    "RepoCheckout",
    "UnsupportedError",
    "check_applications",
    "expand",
]
