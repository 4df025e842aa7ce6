"""Failures of ApplicationSet expansion, located in the ApplicationSet.

Two kinds matter to the user and must not be confused: ``ExpansionError`` means
Argo CD itself would refuse this ApplicationSet (so fix the ApplicationSet), while
``UnsupportedError`` means Argo CD might accept it but this evaluator will not
guess what it produces (so simplify it, or extend the evaluator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitops.errors import InputError, Problem, UnsupportedError


class ExpansionError(InputError):
    """The Argo CD ApplicationSet controller would fail on this ApplicationSet."""


@dataclass(frozen=True)
class AppSetRef:
    """Names one ApplicationSet in every message, so a failure deep inside a
    matrix still says which object and which key to look at."""

    namespace: str
    name: str
    origin: str = ""

    @classmethod
    def of(cls, appset: object, origin: str = "") -> AppSetRef:
        """The reference of any document, even one that is no ApplicationSet (errors name it)."""
        meta = appset.get("metadata") if isinstance(appset, Mapping) else None
        meta = meta if isinstance(meta, Mapping) else {}
        namespace = meta.get("namespace")
        name = meta.get("name")
        return cls(
            namespace=namespace if isinstance(namespace, str) else "",
            name=name if isinstance(name, str) and name else "<unnamed>",
            origin=origin,
        )

    @property
    def label(self) -> str:
        return f"ApplicationSet {self.namespace or '<no namespace>'}/{self.name}"

    def _problem(self, key: str, message: str) -> Problem:
        if self.origin:
            return Problem(self.origin, key, f"{self.label}: {message}")
        return Problem(self.label, key, message)

    def error(self, key: str, message: str) -> ExpansionError:
        return ExpansionError([self._problem(key, message)])

    def unsupported(self, key: str, message: str) -> UnsupportedError:
        return UnsupportedError([self._problem(key, message)])


__all__ = ["AppSetRef", "ExpansionError", "UnsupportedError"]
