"""Offline evaluation of Argo CD ApplicationSets, as the v3.5 controller does it.

``validate``, ``apps`` and ``diff`` must say which Applications Argo CD will
create from the rendered ``argocd/<env>/`` without a cluster, so this package
re-implements the ApplicationSet controller's generation step. It follows Argo
CD v3.5.1 (v3.4.4 generates identically) and is tested against cases from Argo
CD's own documentation and unit tests (tests/test_appset_documented.py).

Public entry points: ``expand`` (ApplicationSet -> Applications),
``parameter_sets`` (what the generators yield) and ``check_applications``
(the controller's per-Application validation), with ``ExpansionContext`` /
``RepoCheckout`` describing what the controller would see (cluster Secrets,
AppProjects, local checkouts of the repositories, controller settings).

Scope. This project's own ApplicationSets use only the git files generator
(one ApplicationSet per team and environment) and, on a hub, the clusters
generator with a label selector, with ``goTemplate: true``,
``missingkey=error`` and the ``index`` function. The evaluator covers more than
that wherever Argo CD's behaviour is fully known from its source and
documentation, and refuses everything else with an ``UnsupportedError`` naming
the file, the key and what is supported. Refusing is safer than guessing: a
wrong guess would list Applications Argo CD never creates, or hide ones it
does, and ``diff`` would show a change that is not the real one. An
``ExpansionError`` instead means Argo CD itself fails on the ApplicationSet.

Generators evaluated: list, clusters, git, matrix, merge.
Generators refused: scmProvider, clusterDecisionResource, pullRequest, plugin.

The refused four read live services (an SCM or pull-request API, a duck-typed
cluster resource, a plugin), so their output cannot be known offline.
Evaluated, with Argo CD's semantics: list ``elements`` and ``elementsYaml``;
clusters from cluster Secrets with ``selector``, ``values``, ``flatList`` and
the implicit in-cluster entry; git ``directories`` (Go ``path.Match``,
excludes win, hidden directories skipped) and ``files`` (git pathspecs, whose
``*`` crosses ``/``), ``pathParamPrefix`` and ``values``; matrix (two children,
the second interpolated with each parameter set of the first) and merge
(``mergeKeys``, later children override); post-selectors at every level (v3
ignores ``applyNestedSelectors`` and always applies them); generator-level
templates; the resources finalizer and ``preserveResourcesOnDeletion``; the
Application namespace forced to the ApplicationSet's.

Templates. With ``goTemplate: false`` (the default) strings go through Argo
CD's fasttemplate substitution: ``{{ key }}`` is replaced only by a string
parameter, anything else is left as written. With ``goTemplate: true`` they go
through a Go text/template subset: fields (``.a.b``, ``$``), pipelines,
parenthesised calls, ``if``/``else if``/``else``/``end``, comments, trim
markers and ``goTemplateOptions: [missingkey=default|invalid|zero|error]``,
Go's quirks included, and these functions:

Template functions (goTemplate: true):
    and, base, cat, coalesce, contains, default, dig, empty, eq, ge, gt,
    hasPrefix, hasSuffix, indent, index, join, le, len, lower, lt, ne,
    normalize, not, or, print, printf, quote, replace, slugify, splitList,
    squote, title, toJson, toYaml, trim, trimPrefix, trimSuffix, trunc,
    upper

Refused with a clear error (Argo CD may accept them): every other Go or Sprig
function (``fromYaml``, ``b64enc``, ``regexReplaceAll``, ...); the ``range``,
``with``, ``define``, ``template``, ``block``, ``break`` and ``continue``
actions and ``$x :=`` variables; ``spec.templatePatch``; a RollingSync
``strategy`` when progressive syncs are enabled; a third level of matrix/merge
nesting; templated ``values`` in a combinator nested as a matrix's second
child (goTemplate); cluster Secrets sharing a name; the clusters generator without a
selector when in-cluster is disabled; git file globbing with
``applicationsetcontroller.enable.new.git.file.globbing``, pathspec magic,
absolute or ``..`` patterns, patterns reaching outside the checked-out part of
a repository, symbolic links and oversized generator files; unknown generators
and unknown fields (so a misspelling is not silently ignored).
"""

from gitops.errors import UnsupportedError

from .check import AppProblem, check_applications
from .context import ExpansionContext
from .errors import ExpansionError
from .expand import expand, parameter_sets
from .repos import RepoCheckout

__all__ = [
    "AppProblem",
    "ExpansionContext",
    "ExpansionError",
    "RepoCheckout",
    "UnsupportedError",
    "check_applications",
    "expand",
    "parameter_sets",
]
