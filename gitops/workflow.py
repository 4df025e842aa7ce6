"""The render workflow: from the project and the tree to the files one render writes.

One sequence of steps, shared by the ``render`` command and the Pulumi program
so both seal and assemble a stack's files by the same code:

1. fast path: when neither the inputs nor the stack's files changed since the
   last render, answer from the cache without loading anything (``fastpath``);
2. load the project, and the local secret values for one stack;
3. read the ownership records once, under the tree's lock;
4. per stack: its secrets (sealed from given values, carried forward from the
   tree, or pending until the cluster's certificate exists) and what the
   program published under ``clusters/<cluster>/``, carried forward;
5. render every stack, plan every stack (a conflict anywhere leaves the tree
   untouched), then apply the plans and remember the fingerprints.

This module holds step 1 and the outcome types, and imports nothing heavy: a
render that finds nothing to do (the common case in CI and editors) must not
pay for loading the renderer and the cryptography library, a third of its time.
Steps 2 to 5 are ``assemble``, imported once the fast path has said no. The
program knows its secret values and certificate from Pulumi instead of the
tree, so it uses only ``assemble``'s pure part: ``seal_secrets`` and
``sealed_render``. Printing is the caller's business: ``render_stacks``
returns a ``RenderOutcome``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import fastpath, layout
from .errors import InputError, Problem
from .options import RenderOptions
from .stackfiles import stack_names
from .writer import Report


@dataclass(frozen=True)
class StackOutcome:
    """One stack's part of a render: what the writer did (or would do) and the secrets still waiting."""

    report: Report
    # Services (and ``argocd-notifications``) whose secrets wait for the cluster's certificate.
    pending_secrets: tuple[str, ...] = ()

    @property
    def stack(self) -> str:
        return self.report.stack


@dataclass(frozen=True)
class RenderOutcome:
    """What ``render_stacks`` did, stack by stack, in the project's order."""

    stacks: tuple[StackOutcome, ...]
    # True when the fast path answered: nothing was loaded, rendered or written.
    unchanged_fast: bool = False


# --- the whole workflow (the ``render`` command) ------------------------------------------------
def render_stacks(options: RenderOptions, environ: Mapping[str, str]) -> RenderOutcome:
    """Render ``options.stack`` (or every stack) into ``options.out``; see the module docstring.

    ``environ``: the process environment, passed in rather than read here so
    that tests and other callers decide which ``GITOPS_SECRET_*`` values count.
    """
    if options.secrets_file is not None and options.stack is None:
        raise InputError([Problem("--secrets", "", "applies to one stack: use it with --stack, not --all")])
    local_input = options.secrets_file is not None or (
        options.stack is not None and any(k.startswith(layout.SECRET_ENV_PREFIX) for k in environ))
    if not (options.force or local_input):
        unchanged = unchanged_reports(options)
        if unchanged is not None:
            return RenderOutcome(tuple(StackOutcome(r) for r in unchanged), unchanged_fast=True)
    from .assemble import render_and_write  # not before: see the module docstring
    return render_and_write(options, environ)


def unchanged_reports(options: RenderOptions) -> list[Report] | None:
    """Reports for a render that would change nothing, without loading anything (see ``fastpath``); else None."""
    if options.stack is None:
        names = stack_names(options.project) if options.project.is_dir() else []
    else:
        names = [options.stack]
    if not names or not options.out.is_dir():
        return None
    reports = []
    project_hash = fastpath.project_digest(options.project)
    verified: dict[str, str] = {}   # the stacks share their base files: each is checked once
    for name in names:
        files = fastpath.is_unchanged(options.out, name, fastpath.input_fingerprint(project_hash, name), verified)
        if files is None:
            return None
        reports.append(Report(name, unchanged=files))
    return reports


__all__ = ["RenderOutcome", "StackOutcome", "render_stacks", "unchanged_reports"]
