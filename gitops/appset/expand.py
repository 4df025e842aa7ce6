"""ApplicationSet -> Applications, offline, as the Argo CD v3.5 controller does it.

``expand`` follows GenerateApplications: every generator entry in order, its
parameter sets rendered into the (generator-merged) template, the namespace
forced to the ApplicationSet's. An error anywhere aborts the whole
ApplicationSet, exactly as one generator error stops the controller from
creating, updating or deleting anything. Per-application validation, which the
controller applies afterwards and which only skips individual Applications, is
``check_applications`` (see check.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .check import AppProblem, check_applications
from .context import ExpansionContext
from .errors import AppSetRef, ExpansionError
from .generators import Generators, Result
from .gotemplate import MISSING_KEY_MODES
from .render import Renderer
from .repos import RepoCheckout

__all__ = [
    "AppProblem", "ExpansionContext", "ExpansionError", "RepoCheckout", "check_applications", "expand", "parameter_sets",
]

_SPEC_FIELDS = {
    "applyNestedSelectors", "generators", "goTemplate", "goTemplateOptions", "ignoreApplicationDifferences",
    "preservedFields", "strategy", "syncPolicy", "template", "templatePatch",
}


def expand(appset: Mapping[str, Any], ctx: ExpansionContext, *, origin: str = "") -> list[dict[str, Any]]:
    """Applications (full apiVersion/kind/metadata/spec dicts) in generation order.

    ``origin`` (e.g. the file the ApplicationSet came from) is used as the file
    of every reported problem. Raises ExpansionError where the controller would
    fail the ApplicationSet and UnsupportedError where this evaluator will not
    guess what the controller does."""
    setup = _setup(appset, ctx, origin)
    apps: list[dict[str, Any]] = []
    for label, result in setup.results():  # lazily: a render error of generator i comes before generator i+1 runs
        for params in result.params:
            apps.append(
                setup.renderer.application(
                    result.template, params, namespace=setup.ref.namespace, preserve_resources=setup.preserve, key=label
                )
            )
    return apps


def parameter_sets(appset: Mapping[str, Any], ctx: ExpansionContext, *, origin: str = "") -> list[dict[str, Any]]:
    """The parameter sets the generators produce, in generation order: what each
    Application's template is rendered with (Argo CD's GenerateParams plus the
    post-selector), for showing and testing what a generator yields without the
    template in the way. Raises what ``expand`` raises, except the errors of
    rendering the Application template itself."""
    return [params for _, result in _setup(appset, ctx, origin).results() for params in result.params]


@dataclass(frozen=True)
class _Setup:
    """An ApplicationSet's spec checked and its template mode chosen, ready to run its generators."""

    ref: AppSetRef
    generators: list[Any]
    template: Mapping[str, Any]
    renderer: Renderer
    preserve: bool
    engine: Generators

    def results(self) -> Iterator[tuple[str, Result]]:
        """Each generator entry's results with the key path its template is reported under."""
        for i, entry in enumerate(self.generators):
            key = f"spec.generators[{i}]"
            label = "spec.template" if not _has_own_template(entry) else f"{key} template merged with spec.template"
            for result in self.engine.transform(entry, self.template, {}, key, depth=0):
                yield label, result


def _setup(appset: object, ctx: ExpansionContext, origin: str) -> _Setup:   # a document as read
    ref = AppSetRef.of(appset, origin)
    if not isinstance(appset, Mapping) or appset.get("kind", "ApplicationSet") != "ApplicationSet":
        raise ref.error("kind", "expected an argoproj.io/v1alpha1 ApplicationSet")
    if not ref.namespace:
        raise ref.unsupported(
            "metadata.namespace",
            "the ApplicationSet has no namespace; generated Applications take the ApplicationSet's namespace, so set it",
        )
    spec = appset.get("spec")
    if not isinstance(spec, Mapping):
        raise ref.error("spec", "spec is required")
    unknown = sorted(set(spec) - _SPEC_FIELDS)
    if unknown:
        raise ref.unsupported("spec", f"unknown field(s) {unknown}; valid: {', '.join(sorted(_SPEC_FIELDS))}")
    if spec.get("templatePatch") not in (None, ""):
        raise ref.unsupported("spec.templatePatch", "templatePatch (strategic merge patch per Application) is not implemented")
    _check_strategy(ref, spec, ctx)

    template = spec.get("template")
    if not isinstance(template, Mapping) or not isinstance(template.get("metadata"), Mapping) or not isinstance(template.get("spec"), Mapping):
        raise ref.error("spec.template", "spec.template with metadata and spec is required")
    generators = spec.get("generators")
    if not isinstance(generators, list):
        raise ref.error("spec.generators", "spec.generators must be a list")

    go_template = spec.get("goTemplate", False)
    if not isinstance(go_template, bool):
        raise ref.error("spec.goTemplate", "goTemplate must be a boolean")
    renderer = Renderer(ref, go_template, _missingkey(ref, spec.get("goTemplateOptions")))
    sync_policy = spec.get("syncPolicy") or {}
    if not isinstance(sync_policy, Mapping):
        raise ref.error("spec.syncPolicy", "syncPolicy must be an object")
    preserve = sync_policy.get("preserveResourcesOnDeletion", False)
    if not isinstance(preserve, bool):
        raise ref.error("spec.syncPolicy.preserveResourcesOnDeletion", "must be a boolean")

    engine = Generators(ref, ctx, renderer, template["spec"].get("project"))
    return _Setup(ref, generators, template, renderer, preserve, engine)


def _has_own_template(entry: Any) -> bool:
    return isinstance(entry, Mapping) and any(
        isinstance(body, Mapping) and body.get("template") for body in entry.values()
    )


def _missingkey(ref: AppSetRef, options: Any) -> str:
    if options is None:
        return "default"
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ref.error("spec.goTemplateOptions", "goTemplateOptions must be a list of strings")
    mode = "default"
    for i, option in enumerate(options):
        name, _, value = option.partition("=")
        if name != "missingkey" or value not in MISSING_KEY_MODES:
            raise ref.error(
                f"spec.goTemplateOptions[{i}]",
                f"unrecognized option {option!r}; valid: missingkey=default, missingkey=invalid, missingkey=zero, missingkey=error",
            )
        mode = value
    return mode


def _check_strategy(ref: AppSetRef, spec: Mapping[str, Any], ctx: ExpansionContext) -> None:
    """RollingSync rewrites generated Applications only when the controller
    enables progressive syncs; otherwise the strategy is ignored."""
    strategy = spec.get("strategy")
    if not ctx.progressive_syncs_enabled or not isinstance(strategy, Mapping):
        return
    steps = (strategy.get("rollingSync") or {}).get("steps") if isinstance(strategy.get("rollingSync"), Mapping) else None
    if strategy.get("type") == "RollingSync" and steps:
        raise ref.unsupported("spec.strategy", "RollingSync progressive syncs (they override syncPolicy.automated) are not implemented")

