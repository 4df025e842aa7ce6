"""gitops-platform core: catalog and stack model, renderer, writer, validation.

Pure Python; never imports pulumi, so the CLI, the Pulumi program and the
tests produce the same bytes from the same inputs.
"""

from .errors import GitOpsError, InputError, OutputError, Problem
from .model import Catalog, Project, Service, Stack
from .project import load_project
from .render import Manifest, RenderResult, render_stack

__all__ = [
    "Catalog", "GitOpsError", "InputError", "Manifest", "OutputError", "Problem", "Project",
    "RenderResult", "Service", "Stack", "load_project", "render_stack",
]
