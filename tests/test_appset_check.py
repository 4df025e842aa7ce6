"""Per-Application validation the controller applies after generation."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.appset import ExpansionContext, check_applications, expand

IN_CLUSTER = "https://kubernetes.default.svc"
PROJECTS: dict[str, dict[str, Any]] = {"default": {}, "team": {}}


def app(name: str = "web", *, project: str = "default", server: str | None = IN_CLUSTER, cluster: str | None = None) -> dict[str, Any]:
    destination = {"namespace": "apps"}
    if server is not None:
        destination["server"] = server
    if cluster is not None:
        destination["name"] = cluster
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": project, "destination": destination},
    }


def secret(name: str, server: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"c-{name}", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": name, "server": server},
    }


CTX = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example/"), secret("dev", "https://dev.example")])


def keys(problems: list[Any]) -> list[tuple[int, str]]:
    return [(p.index, p.key) for p in problems]


def test_a_valid_application_has_no_problems() -> None:
    assert check_applications([app(), app("other", server="https://prod.example")], PROJECTS, CTX) == []


def test_every_copy_of_a_duplicate_name_is_reported() -> None:
    problems = check_applications([app("web"), app("api"), app("web")], PROJECTS, CTX)
    assert keys(problems) == [(0, "metadata.name"), (2, "metadata.name")]


@pytest.mark.parametrize("name", ["Web", "web_app", "-web", "web.", "", "x" * 254])
def test_names_must_be_dns_subdomains(name: str) -> None:
    assert keys(check_applications([app(name)], PROJECTS, CTX)) == [(0, "metadata.name")]


def test_a_253_character_dotted_name_is_valid() -> None:
    name = ".".join(["a" * 63] * 4)[:253].rstrip(".")
    assert check_applications([app(name)], PROJECTS, CTX) == []


def test_a_missing_project_is_reported_with_the_known_projects() -> None:
    problems = check_applications([app(project="nope")], PROJECTS, CTX)
    assert (keys(problems), "known projects: default, team" in problems[0].message) == ([(0, "spec.project")], True)


def test_an_empty_project_is_not_normalised_to_default_before_the_check() -> None:
    assert keys(check_applications([app(project="")], PROJECTS, CTX)) == [(0, "spec.project")]


@pytest.mark.parametrize(
    ("server", "cluster"),
    [(IN_CLUSTER, "prod"), (None, None), ("https://unknown.example", None), (None, "staging")],
)
def test_destinations_must_name_exactly_one_known_cluster(server: str | None, cluster: str | None) -> None:
    assert keys(check_applications([app(server=server, cluster=cluster)], PROJECTS, CTX)) == [(0, "spec.destination")]


def test_server_urls_match_ignoring_a_trailing_slash() -> None:
    assert check_applications([app(server="https://prod.example"), app("b", server="https://dev.example/")], PROJECTS, CTX) == []


def test_a_destination_name_resolves_to_a_cluster_secret() -> None:
    assert check_applications([app(server=None, cluster="prod")], PROJECTS, CTX) == []


def test_in_cluster_resolves_by_name_and_server_while_enabled() -> None:
    apps = [app("a", server=None, cluster="in-cluster"), app("b", server=IN_CLUSTER)]
    assert check_applications(apps, PROJECTS, CTX) == []


def test_in_cluster_is_unknown_when_disabled() -> None:
    ctx = ExpansionContext(in_cluster_enabled=False)
    apps = [app("a", server=None, cluster="in-cluster"), app("b", server=IN_CLUSTER)]
    assert keys(check_applications(apps, PROJECTS, ctx)) == [(0, "spec.destination"), (1, "spec.destination")]


def test_a_cluster_name_shared_by_two_secrets_is_ambiguous() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://a.example"), secret("prod", "https://b.example")])
    problems = check_applications([app(server=None, cluster="prod")], PROJECTS, ctx)
    assert (keys(problems), "2 clusters" in problems[0].message) == ([(0, "spec.destination")], True)


def test_problems_of_expanded_applications_come_in_generation_order() -> None:
    appset = {
        "kind": "ApplicationSet",
        "metadata": {"name": "apps", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "generators": [{"list": {"elements": [{"name": "ok", "p": "default"}, {"name": "Bad", "p": "default"}, {"name": "x", "p": "gone"}]}}],
            "template": {"metadata": {"name": "{{.name}}"}, "spec": {"project": "{{.p}}", "destination": {"name": "in-cluster"}}},
        },
    }
    problems = check_applications(expand(appset, CTX), PROJECTS, CTX)
    assert [str(p).split(":")[0] for p in problems] == ["Application argocd/Bad (#1)", "Application argocd/x (#2)"]
