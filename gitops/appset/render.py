"""Rendering strings and whole objects with one ApplicationSet's template mode.

Argo CD renders every string of the Application template (and of an
interpolated matrix child) independently, map keys included, so control
structures cannot span fields. Failures are located by the key path of the
string that failed, which is what the user has to edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops.layout import RESOURCES_FINALIZER

from . import fasttemplate, gotemplate
from .errors import AppSetRef

_META_KEYS = ("name", "namespace", "labels", "annotations", "finalizers")


@dataclass(frozen=True)
class Renderer:
    """Replace() of one ApplicationSet: its mode and missingkey option."""

    ref: AppSetRef
    go_template: bool
    missingkey: str = "default"
    # id -> (the template value, whether rendering it only copies it): see ``_renders_to_copy``.
    _copies: dict[int, tuple[Any, bool]] = field(default_factory=dict, compare=False, repr=False)

    def string(self, text: str, params: Mapping[str, Any], key: str, missingkey: str | None = None) -> str:
        try:
            if self.go_template:
                return gotemplate.render(text, params, missingkey or self.missingkey)
            return fasttemplate.replace(text, params)
        except gotemplate.TemplateUnsupported as exc:
            raise self.ref.unsupported(
                key, f"{text!r} uses {exc}, which the offline ApplicationSet evaluator does not implement"
            ) from None
        except gotemplate.MissingKeyError as exc:
            available = ", ".join(sorted(params)) or "none"
            raise self.ref.error(
                key, f"{exc} (missingkey=error) in {text!r}; parameters available here: {available}"
            ) from None
        except (gotemplate.TemplateError, fasttemplate.FastTemplateError) as exc:
            raise self.ref.error(key, f"template {text!r} fails: {exc}") from None

    def tree(self, value: Any, params: Mapping[str, Any], key: str) -> Any:
        """Every string and map key of ``value`` rendered; null map values
        dropped, as Argo's reflection walk drops nil map entries."""
        if isinstance(value, str):
            return self.string(value, params, key)
        if isinstance(value, (Mapping, list)) and self._renders_to_copy(value):
            return _copy(value)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if v is None:
                    continue
                child = f"{key}.{k}" if key else str(k)
                new_key = self.string(k, params, child) if isinstance(k, str) else k
                out[new_key] = self.tree(v, params, child)
            return out
        if isinstance(value, list):
            return [self.tree(v, params, f"{key}[{i}]") for i, v in enumerate(value)]
        return value

    def _renders_to_copy(self, value: Any) -> bool:
        """Whether ``tree`` would only copy ``value``: no string or key in it holds ``{{`` (both modes
        return such text as it is) and no map value is null. Known once per template value: an
        ApplicationSet renders the same template for every one of its (hundreds of) Applications."""
        known = self._copies.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if isinstance(value, Mapping):
            copy = all(v is not None and not (isinstance(k, str) and "{{" in k) and self._renders_to_copy(v)
                       for k, v in value.items())
        elif isinstance(value, list):
            copy = all(self._renders_to_copy(v) for v in value)
        else:
            return not (isinstance(value, str) and "{{" in value)
        self._copies[id(value)] = (value, copy)
        return copy

    def application(
        self,
        template: Mapping[str, Any],
        params: Mapping[str, Any],
        *,
        namespace: str,
        preserve_resources: bool,
        key: str,
    ) -> dict[str, Any]:
        """RenderTemplateParams plus the namespace override of GenerateApplications."""
        meta_template = template.get("metadata") or {}
        meta: dict[str, Any] = {k: meta_template[k] for k in _META_KEYS if meta_template.get(k) is not None}
        spec: Any = template.get("spec") or {}
        if params:
            meta = self.tree(meta, params, f"{key}.metadata")
            spec = self.tree(spec, params, f"{key}.spec")
            if not preserve_resources and not meta.get("finalizers"):
                meta["finalizers"] = [RESOURCES_FINALIZER]
        else:  # Argo returns the template untouched: no rendering, no finalizer
            meta = _copy(meta)
            spec = _copy(spec)
        meta["namespace"] = namespace
        ordered = {k: meta[k] for k in _META_KEYS if k in meta and (k in ("name", "namespace") or meta[k])}
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": ordered, "spec": spec}


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _copy(value: Any) -> Any:
    """A deep copy of a template part, each Application getting its own objects: containers copied
    whole, recursing only into nested ones instead of calling once per leaf."""
    if type(value) is dict:
        out = value.copy()
        for k, v in out.items():
            if type(v) not in _LEAVES:
                out[k] = _copy(v)
        return out
    if type(value) is list:
        return [v if type(v) in _LEAVES else _copy(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
