"""Argo CD's documented ApplicationSet behaviour, replayed through the offline evaluator.

Every case comes from Argo CD's own documentation (docs/operator-manual/applicationset/*.md) or
from the expectations of its unit tests (applicationset/generators/*_test.go,
applicationset/utils/utils_test.go); its docstring names the page or test. The ApplicationSet
is the documented one (a ``metadata.namespace`` added where the page leaves it out, because
generated Applications take it), the repository holds the documented files, and the
assertion is the documented result. Where a page cannot be right as written, the docstring
says why and the case follows the controller's code. Features the evaluator does not cover
are asserted to be refused with an error that names the key.

Everything runs in-process; the repositories are written once per module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml

import gitops.appset as appset_package
from gitops.appset import (
    ExpansionContext,
    ExpansionError,
    RepoCheckout,
    UnsupportedError,
    check_applications,
    expand,
    parameter_sets,
)
from gitops.appset.generators import GENERATOR_ORDER, GENERATORS, REFUSED
from gitops.appset.gotemplate import FUNCTIONS

IN_CLUSTER = "https://kubernetes.default.svc"
FINALIZER = "resources-finalizer.argocd.argoproj.io"

ARGO_CD = "https://github.com/argoproj/argo-cd.git"
EXAMPLE = "https://github.com/example/example-repo.git"
VALUES = "https://github.com/example/values.git"
SOME_REPO = "https://github.com/some-org/some-repo.git"
EXAMPLE_APPS = "https://github.com/argoproj/argocd-example-apps/"
GIT_TEST = "https://github.com/example/git-test.git"

ENGINEERING_DEV = {"aws_account": "123456", "asset_id": "11223344",
                   "cluster": {"owner": "cluster-admin@company.com", "name": "engineering-dev", "address": "https://1.2.3.4"}}
ENGINEERING_PROD = {"aws_account": "123456", "asset_id": "11223344",
                    "cluster": {"owner": "cluster-admin@company.com", "name": "engineering-prod", "address": "http://1.2.3.4"}}
COMPONENTS = {"key": {"components": [
    {"name": "component1", "chart": "podinfo", "version": "6.3.2", "releaseName": "component1",
     "repoUrl": "https://stefanprodan.github.io/podinfo", "namespace": "component1"},
    {"name": "component2", "chart": "podinfo", "version": "6.3.3", "releaseName": "component2",
     "repoUrl": "ghcr.io/stefanprodan/charts", "namespace": "component2"},
]}}

# Repository contents, by URL: the files the documentation's examples read.
REPOSITORIES: dict[str, dict[str, str]] = {
    ARGO_CD: {
        "applicationset/examples/git-generator-directory/cluster-addons/argo-workflows/kustomization.yaml": "{}\n",
        "applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/Chart.yaml": "{}\n",
        "applicationset/examples/git-generator-directory/excludes/cluster-addons/exclude-helm-guestbook/Chart.yaml": "{}\n",
        "applicationset/examples/git-generator-directory/excludes/cluster-addons/exclude-helm-guestbook/templates/a.yaml": "",
        "applicationset/examples/git-generator-directory/excludes/cluster-addons/prometheus-operator/Chart.yaml": "{}\n",
        "applicationset/examples/git-generator-files-discovery/cluster-config/engineering/dev/config.json":
            json.dumps(ENGINEERING_DEV, indent=2),
        "applicationset/examples/git-generator-files-discovery/cluster-config/engineering/prod/config.json":
            json.dumps(ENGINEERING_PROD, indent=2),
        "applicationset/examples/git-generator-files-discovery/apps/guestbook/kustomization.yaml": "{}\n",
        "applicationset/examples/matrix/cluster-addons/argo-workflows/kustomization.yaml": "{}\n",
        "applicationset/examples/matrix/cluster-addons/prometheus-operator/Chart.yaml": "{}\n",
        "applicationset/examples/list-generator/list-elementsYaml-example.yaml": yaml.safe_dump(COMPONENTS),
    },
    EXAMPLE: {
        "d/e/kustomization.yaml": "", "d/f/kustomization.yaml": "", "d/g/kustomization.yaml": "",
        "donotdeploy/kustomization.yaml": "", "guestbook/kustomization.yaml": "",
        ".github/workflows/ci.yaml": "", "README.md": "",
    },
    VALUES: {
        "test/stage.values.yaml": "stageName: test\ncpuRequest: 100m\ndebugEnabled: true\n",
        "staging/stage.values.yaml": "stageName: staging\n",
        "production/stage.values.yaml": "stageName: production\nmemoryLimit: 512Mi\ndebugEnabled: false\n",
        "global.values.yaml": "cpuRequest: 200m\nmemoryLimit: 256Mi\ndebugEnabled: true\n",
    },
    SOME_REPO: {
        "apps/app-one.json": '{ "appName": "app-one" }',
        "apps/app-two.json": '{ "appName": "app-two" }',
        "targets/app-one/east-cluster-one.json": '{ "region": "east", "clusterName": "cluster-one" }',
        "targets/app-one/east-cluster-two.json": '{ "region": "east", "clusterName": "cluster-two" }',
        "targets/app-two/east-cluster-one.json": '{ "region": "east", "clusterName": "cluster-one" }',
        "targets/app-two/west-cluster-three.json": '{ "region": "west", "clusterName": "cluster-three" }',
    },
    EXAMPLE_APPS: {"Germany/kustomization.yaml": ""},
    GIT_TEST: {
        "path/dir/file_name.yaml": "\nfoo:\n  bar: baz\n",
        "empty/dir/file_name.yaml": "",
        "invalid/dir/file_name.yaml": "this is not json or yaml",
        "app1/k.yaml": "", "app2/k.yaml": "", "app_3/k.yaml": "",
    },
}


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[RepoCheckout, ...]:
    checkouts = []
    for i, (url, files) in enumerate(REPOSITORIES.items()):
        root = tmp_path_factory.mktemp(f"repo{i}")
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        checkouts.append(RepoCheckout(url, root))
    return tuple(checkouts)


def cluster_secret(name: str, server: str, labels: dict[str, str] | None = None,
                   annotations: dict[str, str] | None = None, secret_name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name or name, "namespace": "argocd",
                     "labels": {"argocd.argoproj.io/secret-type": "cluster", **(labels or {})},
                     "annotations": annotations or {}},
        "stringData": {"name": name, "server": server, "config": "{}"},
    }


# cluster_test.go: the two Secrets both TestGenerateParams variants list.
UNIT_TEST_CLUSTERS = [
    cluster_secret("staging-01", "https://staging-01.example.com", {"environment": "staging", "org": "foo"},
                   {"foo.argoproj.io": "staging"}),
    cluster_secret("production_01/west", "https://production-01.example.com", {"environment": "production", "org": "bar"},
                   {"foo.argoproj.io": "production"}, secret_name="production-01"),
]
# Generators-Matrix.md / Generators-Merge.md: a staging and a production cluster.
DOC_CLUSTERS = [
    cluster_secret("staging", "https://1.2.3.4", {"environment": "staging", "use-kafka": "false",
                                                   "kubernetes.io/environment": "dev", "type": "staging"}),
    cluster_secret("production", "https://2.4.6.8", {"environment": "production", "kubernetes.io/environment": "prod",
                                                      "type": "production"}, {"my-custom-annotation": "v2.1"}),
]


def context(repos: tuple[RepoCheckout, ...], clusters: Sequence[Mapping[str, Any]] = (), **settings: Any) -> ExpansionContext:
    return ExpansionContext(repos=repos, cluster_secrets=clusters, **settings)


def load(text: str) -> dict[str, Any]:
    """A documented ApplicationSet, in the namespace its Applications are generated in."""
    data: dict[str, Any] = yaml.safe_load(text)
    data.setdefault("apiVersion", "argoproj.io/v1alpha1")
    data.setdefault("kind", "ApplicationSet")
    data["metadata"].setdefault("namespace", "argocd")
    return data


def minimal(generators: list[Any], *, go: bool, name: str = "app", **spec: Any) -> dict[str, Any]:
    """An ApplicationSet around the generators a unit test calls directly."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "set", "namespace": "argocd"},
        "spec": {"goTemplate": go, "generators": generators, **spec,
                 "template": spec.pop("template", None) or {
                     "metadata": {"name": name},
                     "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": "apps"}}}},
    }


def names(apps: list[dict[str, Any]]) -> list[str]:
    return [a["metadata"]["name"] for a in apps]


def rendered(field: str, params: dict[str, Any], *, go: bool, options: list[str] | None = None) -> str:
    """One template string rendered with one parameter set (a list element), as RenderTemplateParams does."""
    spec: dict[str, Any] = {"template": {"metadata": {"name": "application-one"}, "spec": {
        "project": "default", "destination": {"server": IN_CLUSTER, "namespace": "default"},
        "source": {"repoURL": "https://example.com/r.git", "path": field}}}}
    if options is not None:
        spec["goTemplateOptions"] = options
    [app] = expand(minimal([{"list": {"elements": [params]}}], go=go, **spec), ExpansionContext())
    return str(app["spec"]["source"]["path"])


# ---------------------------------------------------------------- scope statement and registries


def _docstring_list(label: str) -> list[str]:
    doc = appset_package.__doc__ or ""
    match = re.search(re.escape(label) + r"\s*(.+?)(?:\.\s*\n|\n\s*\n)", doc, flags=re.DOTALL)
    assert match, f"the package docstring has no {label!r} list"
    return [item for item in re.split(r"[,\s]+", match.group(1)) if item]


def test_the_scope_statement_lists_exactly_the_generator_registries() -> None:
    assert _docstring_list("Generators evaluated:") == list(GENERATORS)
    assert _docstring_list("Generators refused:") == list(REFUSED)
    assert set(GENERATOR_ORDER) == set(GENERATORS) | set(REFUSED)


def test_the_scope_statement_lists_exactly_the_template_function_registry() -> None:
    assert _docstring_list("Template functions (goTemplate: true):") == sorted(FUNCTIONS)


def test_unknown_generators_and_functions_are_refused_naming_what_is_supported() -> None:
    """utils_test.go TestCheckInvalidGenerators: Argo CD only warns about an unrecognised generator
    (``aaa``) and generates nothing for it; offline a typo must not pass silently, so it is refused."""
    with pytest.raises(UnsupportedError, match=r"spec\.generators\[0\].*'aaa'.*list, clusters, git, matrix, merge"):
        expand(minimal([{"aaa": {}}], go=False), ExpansionContext())
    with pytest.raises(UnsupportedError, match=r"\['lst'\]; did you mean 'list'\?"):
        expand(minimal([{"lst": {}}], go=False), ExpansionContext())
    with pytest.raises(ExpansionError, match=r"function \"lowr\" not defined \(did you mean 'lower'\?"):
        expand(minimal([{"list": {"elements": [{"v": "a"}]}}], go=True, name="{{ lowr .v }}"), ExpansionContext())
    with pytest.raises(UnsupportedError, match=r"spec\.generators\[0\]\.pullRequest.*supported generators: list"):
        expand(minimal([{"pullRequest": {"github": {"owner": "o", "repo": "r"}}}], go=False), ExpansionContext())
    with pytest.raises(UnsupportedError, match=r"metadata\.name.*fromYaml.*supported: and, base, cat"):
        expand(minimal([{"list": {"elements": [{"v": "a: b"}]}}], go=True, name="{{ get (fromYaml .v) \"a\" }}"),
               ExpansionContext())


# ---------------------------------------------------------------- list


def test_list_elements_are_the_parameters_and_values_are_flattened() -> None:
    """list_test.go TestGenerateListParams."""
    elements = [{"cluster": "cluster", "url": "url"}, {"cluster": "cluster", "url": "url", "values": {"foo": "bar"}}]
    assert parameter_sets(minimal([{"list": {"elements": elements}}], go=False), ExpansionContext()) == [
        {"cluster": "cluster", "url": "url"}, {"cluster": "cluster", "url": "url", "values.foo": "bar"}]


def test_list_generator_page_example() -> None:
    """Generators-List.md, first example: one Application per element, fasttemplate."""
    spec = load("""
metadata: {name: guestbook, namespace: argocd}
spec:
  generators:
  - list:
      elements:
      - cluster: engineering-dev
        url: https://kubernetes.default.svc
  template:
    metadata:
      name: '{{cluster}}-guestbook'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: applicationset/examples/list-generator/guestbook/{{cluster}}
      destination:
        server: '{{url}}'
        namespace: guestbook
""")
    assert expand(spec, ExpansionContext()) == [{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "engineering-dev-guestbook", "namespace": "argocd", "finalizers": [FINALIZER]},
        "spec": {"project": "my-project",
                 "source": {"repoURL": ARGO_CD, "targetRevision": "HEAD",
                            "path": "applicationset/examples/list-generator/guestbook/engineering-dev"},
                 "destination": {"server": IN_CLUSTER, "namespace": "guestbook"}},
    }]


def test_elements_yaml_from_a_git_file_through_a_matrix(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-List.md, "Dynamically generated elements": the file's ``key.components``
    become the list generator's elements."""
    spec = load("""
metadata: {name: elementsYaml, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - git:
          repoURL: https://github.com/argoproj/argo-cd.git
          revision: HEAD
          files:
          - path: applicationset/examples/list-generator/list-elementsYaml-example.yaml
      - list:
          elements: []
          elementsYaml: "{{ .key.components | toJson }}"
  template:
    metadata:
      name: '{{.name}}'
    spec:
      project: default
      sources:
        - chart: '{{.chart}}'
          repoURL: '{{.repoUrl}}'
          targetRevision: '{{.version}}'
          helm:
            releaseName: '{{.releaseName}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{.namespace}}'
""")
    apps = expand(spec, context(repos))
    assert [(a["metadata"]["name"], a["spec"]["destination"]["namespace"], a["spec"]["sources"]) for a in apps] == [
        ("component1", "component1", [{"chart": "podinfo", "repoURL": "https://stefanprodan.github.io/podinfo",
                                       "targetRevision": "6.3.2", "helm": {"releaseName": "component1"}}]),
        ("component2", "component2", [{"chart": "podinfo", "repoURL": "ghcr.io/stefanprodan/charts",
                                       "targetRevision": "6.3.3", "helm": {"releaseName": "component2"}}]),
    ]


# ---------------------------------------------------------------- clusters

_FT_VALUES = {
    "lol1": "lol", "lol2": "{{values.lol1}}{{values.lol1}}", "lol3": "{{values.lol2}}{{values.lol2}}{{values.lol2}}",
    "foo": "bar", "bar": "{{ metadata.annotations.foo.argoproj.io }}", "bat": "{{ metadata.labels.environment }}",
    "aaa": "{{ server }}", "no-op": "{{ this-does-not-exist }}",
}
_GT_VALUES = {
    "lol1": "lol", "lol2": "{{ .values.lol1 }}{{ .values.lol1 }}", "lol3": "{{ .values.lol2 }}{{ .values.lol2 }}{{ .values.lol2 }}",
    "foo": "bar", "bar": '{{ if not (empty .metadata) }}{{index .metadata.annotations "foo.argoproj.io" }}{{ end }}',
    "bat": "{{ if not (empty .metadata) }}{{.metadata.labels.environment}}{{ end }}",
    "aaa": "{{ .server }}", "no-op": "{{ .thisDoesNotExist }}",
}


def _ft_cluster(name: str, normalized: str, server: str, env: str, org: str) -> dict[str, Any]:
    return {"name": name, "nameNormalized": normalized, "server": server, "project": "",
            "metadata.labels.argocd.argoproj.io/secret-type": "cluster", "metadata.labels.environment": env,
            "metadata.labels.org": org, "metadata.annotations.foo.argoproj.io": env}


def test_cluster_parameters_in_fasttemplate_mode() -> None:
    """cluster_test.go TestGenerateParams, "no label selector": flat ``metadata.*`` keys, values
    rendered against the cluster (never against each other), and the in-cluster entry without
    metadata, whose unknown tags stay as written. (v3 adds ``project``, "" here.)"""
    got = parameter_sets(minimal([{"clusters": {"values": _FT_VALUES}}], go=False), context((), UNIT_TEST_CLUSTERS))
    production = _ft_cluster("production_01/west", "production-01-west", "https://production-01.example.com", "production", "bar")
    staging = _ft_cluster("staging-01", "staging-01", "https://staging-01.example.com", "staging", "foo")
    unrendered = {"values.lol1": "lol", "values.lol2": _FT_VALUES["lol2"], "values.lol3": _FT_VALUES["lol3"],
                  "values.foo": "bar", "values.no-op": "{{ this-does-not-exist }}"}
    expected = [
        {**production, **unrendered, "values.bar": "production", "values.bat": "production",
         "values.aaa": "https://production-01.example.com"},
        {**staging, **unrendered, "values.bar": "staging", "values.bat": "staging",
         "values.aaa": "https://staging-01.example.com"},
        {"name": "in-cluster", "nameNormalized": "in-cluster", "server": IN_CLUSTER, "project": "", **unrendered,
         "values.bar": _FT_VALUES["bar"], "values.bat": _FT_VALUES["bat"], "values.aaa": IN_CLUSTER},
    ]
    assert sorted(got, key=json.dumps) == sorted(expected, key=json.dumps)


def test_cluster_parameters_in_go_template_mode() -> None:
    """cluster_test.go TestGenerateParamsGoTemplate, "no label selector": ``metadata`` is a map,
    missing values print ``<no value>``, and the in-cluster entry has no ``metadata`` at all."""
    got = parameter_sets(minimal([{"clusters": {"values": _GT_VALUES}}], go=True), context((), UNIT_TEST_CLUSTERS))
    values = {"lol1": "lol", "lol2": "<no value><no value>", "lol3": "<no value><no value><no value>",
              "foo": "bar", "no-op": "<no value>"}

    def cluster(name: str, normalized: str, server: str, env: str, org: str) -> dict[str, Any]:
        return {"name": name, "nameNormalized": normalized, "server": server, "project": "",
                "metadata": {"labels": {"argocd.argoproj.io/secret-type": "cluster", "environment": env, "org": org},
                             "annotations": {"foo.argoproj.io": env}},
                "values": {**values, "bar": env, "bat": env, "aaa": server}}

    expected = [
        cluster("production_01/west", "production-01-west", "https://production-01.example.com", "production", "bar"),
        cluster("staging-01", "staging-01", "https://staging-01.example.com", "staging", "foo"),
        {"name": "in-cluster", "nameNormalized": "in-cluster", "server": IN_CLUSTER, "project": "",
         "values": {**values, "bar": "", "bat": "", "aaa": IN_CLUSTER}},
    ]
    assert sorted(got, key=json.dumps) == sorted(expected, key=json.dumps)


@pytest.mark.parametrize(("selector", "expected"), [
    ({"matchLabels": {"argocd.argoproj.io/secret-type": "cluster"}}, ["production_01/west", "staging-01"]),
    ({"matchLabels": {"environment": "production"}}, ["production_01/west"]),
    ({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["production", "staging"]}]},
     ["production_01/west", "staging-01"]),
    ({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["production", "staging"]}],
      "matchLabels": {"org": "foo"}}, ["staging-01"]),
], ids=["secret type label", "production-only", "production or staging", "production or staging with match labels"])
def test_a_cluster_selector_picks_secrets_and_drops_the_local_cluster(selector: dict[str, Any], expected: list[str]) -> None:
    """cluster_test.go TestGenerateParams selector cases; Generators-Cluster.md "Deploying to the
    local cluster": any selector excludes the in-cluster entry, which has no Secret."""
    got = parameter_sets(minimal([{"clusters": {"selector": selector}}], go=False), context((), UNIT_TEST_CLUSTERS))
    assert sorted(p["name"] for p in got) == expected


def test_a_secret_for_the_local_cluster_replaces_the_in_cluster_entry() -> None:
    """Generators-Cluster.md: with a Secret named ``in-cluster2`` for https://kubernetes.default.svc,
    ``clusters: {}`` targets that Secret and adds no second in-cluster entry."""
    spec = load("""
metadata: {name: guestbook, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - clusters: {}
  template:
    metadata:
      name: '{{.name}}-guestbook'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: HEAD
        path: guestbook
      destination:
        server: '{{.server}}'
        namespace: guestbook
""")
    apps = expand(spec, context((), [cluster_secret("in-cluster2", IN_CLUSTER)]))
    assert [(a["metadata"]["name"], a["spec"]["destination"]["server"]) for a in apps] == [("in-cluster2-guestbook", IN_CLUSTER)]
    assert names(expand(spec, context((), []))) == ["in-cluster-guestbook"]


def test_cluster_values_differ_per_generator_and_see_the_cluster() -> None:
    """Generators-Cluster.md, "Pass additional key-value pairs via values field" (second example):
    staging clusters take a revision from an annotation, production ones ``stable``."""
    spec = load("""
metadata: {name: guestbook, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - clusters:
      selector:
        matchLabels:
          type: 'staging'
      values:
        revision: '{{index .metadata.annotations "my-custom-annotation"}}'
        clusterName: '{{.name}}'
  - clusters:
      selector:
        matchLabels:
          type: 'production'
      values:
        revision: stable
        clusterName: '{{.name}}'
  template:
    metadata:
      name: '{{.name}}-guestbook'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: '{{.values.revision}}'
        path: guestbook
      destination:
        server: '{{.values.clusterName}}'
        namespace: guestbook
""")
    clusters = [cluster_secret("staging", "https://1.2.3.4", {"type": "staging"}, {"my-custom-annotation": "HEAD"}),
                DOC_CLUSTERS[1]]
    apps = expand(spec, context((), clusters))
    assert [(a["metadata"]["name"], a["spec"]["source"]["targetRevision"], a["spec"]["destination"]["server"])
            for a in apps] == [("staging-guestbook", "HEAD", "staging"), ("production-guestbook", "stable", "production")]


def test_a_flat_list_is_one_parameter_set_and_its_range_example_is_refused() -> None:
    """Generators-Cluster.md, "Gather cluster information as a flat list": two matching Secrets give
    a single parameter set ``clusters``; the page's template loops over it with ``range``, which
    the evaluator does not implement, so it says so at the key that uses it."""
    spec = load("""
metadata: {name: flat, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - clusters:
      selector:
        matchLabels:
          type: 'staging'
      flatList: true
  template:
    metadata:
      name: 'flat-list-guestbook'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: 'HEAD'
        path: helm-guestbook
        helm:
          values: |
            clusters:
            {{- range .clusters }}
              - name: {{ .name }}
            {{- end }}
      destination:
        server: 'my-cluster'
        namespace: guestbook
""")
    ctx = context((), [cluster_secret("cluster1", "https://c1", {"type": "staging"}),
                       cluster_secret("cluster2", "https://c2", {"type": "staging"})])
    [params] = parameter_sets(spec, ctx)
    assert [c["name"] for c in params["clusters"]] == ["cluster1", "cluster2"]
    with pytest.raises(UnsupportedError, match=r"spec\.template\.spec\.source\.helm\.values.*\{\{range\}\} action"):
        expand(spec, ctx)


# ---------------------------------------------------------------- git directories

_ADDONS = """
metadata: {name: cluster-addons, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - git:
      repoURL: %(repo)s
      revision: HEAD
      directories: %(directories)s
  template:
    metadata:
      name: '{{.path.basename}}'
    spec:
      project: "my-project"
      source:
        repoURL: %(repo)s
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{.path.basename}}'
"""


def addons(repo: str, directories: list[dict[str, Any]]) -> dict[str, Any]:
    return load(_ADDONS % {"repo": repo, "directories": json.dumps(directories)})


def test_git_directories_page_example(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Git.md, "Git Generator: Directories": one Application per matching directory."""
    spec = addons(ARGO_CD, [{"path": "applicationset/examples/git-generator-directory/cluster-addons/*"}])
    apps = expand(spec, context(repos))
    base = "applicationset/examples/git-generator-directory/cluster-addons"
    assert [(a["metadata"]["name"], a["spec"]["source"]["path"], a["spec"]["destination"]["namespace"]) for a in apps] == [
        ("argo-workflows", f"{base}/argo-workflows", "argo-workflows"),
        ("prometheus-operator", f"{base}/prometheus-operator", "prometheus-operator")]


def test_git_directories_exclude_page_example(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Git.md, "Exclude directories": ``exclude-helm-guestbook`` is not deployed (and
    its ``templates`` subdirectory is not matched by ``*``, which stays inside one segment)."""
    base = "applicationset/examples/git-generator-directory/excludes/cluster-addons"
    spec = addons(ARGO_CD, [{"path": f"{base}/*"}, {"path": f"{base}/exclude-helm-guestbook", "exclude": True}])
    assert names(expand(spec, context(repos))) == ["prometheus-operator"]


@pytest.mark.parametrize(("directories", "expected"), [
    ([{"path": "d/e", "exclude": False}, {"path": "d/*", "exclude": True}], []),
    ([{"path": "d/*"}, {"path": "d/f", "exclude": True}, {"path": "d/g", "exclude": True}], ["e"]),
    ([{"path": "d/*"}, {"path": "d/[fg]", "exclude": True}], ["e"]),
    ([{"path": "d/[fg]", "exclude": True}, {"path": "d/*"}], ["e"]),
    ([{"path": "/d/*"}], []),
], ids=["exclude wins", "two excludes", "character class", "order is irrelevant", "leading slash matches nothing"])
def test_exclude_rules_take_precedence_over_include_rules(
        repos: tuple[RepoCheckout, ...], directories: list[dict[str, Any]], expected: list[str]) -> None:
    """Generators-Git.md, "Exclude rules have higher priority than include rules" (the d/e, d/f, d/g
    example). The page writes the patterns as ``/d/*``; the repo-server lists directories without a
    leading slash and ``path.Match("/d/*", "d/e")`` is false, so a leading slash matches nothing."""
    assert names(expand(addons(EXAMPLE, directories), context(repos))) == expected


def test_the_repository_root_with_an_exclusion(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Git.md, "Root Of Git Repo": ``*`` deploys every top-level directory except the
    excluded one and hidden ones such as ``.github`` ("directories that begin with ``.``")."""
    spec = addons(EXAMPLE, [{"path": "*"}, {"path": "donotdeploy", "exclude": True}])
    assert names(expand(spec, context(repos))) == ["d", "guestbook"]


def test_git_directory_parameters_in_fasttemplate_mode(repos: tuple[RepoCheckout, ...]) -> None:
    """git_test.go TestGitGenerateParamsFromDirectories, "happy flow" with the values of "Value
    variable interpolation": ``path``, ``path.basename``, ``path.basenameNormalized``, ``path[n]``."""
    git = {"repoURL": GIT_TEST, "revision": "HEAD", "directories": [{"path": "app*"}],
           "values": {"foo": "bar", "aaa": "{{ path[0] }}", "no-op": "{{ this-does-not-exist }}"}}
    values = {"values.foo": "bar", "values.no-op": "{{ this-does-not-exist }}"}
    assert parameter_sets(minimal([{"git": git}], go=False), context(repos)) == [
        {"path": "app1", "path.basename": "app1", "path.basenameNormalized": "app1", "path[0]": "app1",
         **values, "values.aaa": "app1"},
        {"path": "app2", "path.basename": "app2", "path.basenameNormalized": "app2", "path[0]": "app2",
         **values, "values.aaa": "app2"},
        {"path": "app_3", "path.basename": "app_3", "path.basenameNormalized": "app-3", "path[0]": "app_3",
         **values, "values.aaa": "app_3"},
    ]


def test_git_directory_parameters_in_go_template_mode_with_a_prefix(repos: tuple[RepoCheckout, ...]) -> None:
    """git_test.go TestGitGenerateParamsFromDirectoriesGoTemplate, "It prefixes path parameters
    with PathParamPrefix": ``{myRepo: {path: {path, basename, basenameNormalized, segments}}}``."""
    git = {"repoURL": GIT_TEST, "revision": "HEAD", "directories": [{"path": "app*"}], "pathParamPrefix": "myRepo"}
    assert parameter_sets(minimal([{"git": git}], go=True), context(repos)) == [
        {"myRepo": {"path": {"path": d, "basename": d, "basenameNormalized": d.replace("_", "-"), "segments": [d]}}}
        for d in ("app1", "app2", "app_3")]


# ---------------------------------------------------------------- git files


def test_git_files_page_example_flattens_the_json(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Git.md, "Git Generator: Files" in fasttemplate form (Template.md's notation): the
    JSON is flattened to ``aws_account``, ``cluster.name``, ...; ``**`` in the default (git
    pathspec) matching is a ``*`` that crosses ``/``."""
    spec = load("""
metadata: {name: guestbook, namespace: argocd}
spec:
  generators:
  - git:
      repoURL: https://github.com/argoproj/argo-cd.git
      revision: HEAD
      files:
      - path: "applicationset/examples/git-generator-files-discovery/cluster-config/**/config.json"
  template:
    metadata:
      name: '{{cluster.name}}-guestbook'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: "applicationset/examples/git-generator-files-discovery/apps/guestbook"
      destination:
        server: '{{cluster.address}}'
        namespace: guestbook
""")
    ctx = context(repos)
    directory = "applicationset/examples/git-generator-files-discovery/cluster-config/engineering/dev"
    params = parameter_sets(spec, ctx)[0]
    assert {k: params[k] for k in ("aws_account", "asset_id", "cluster.owner", "cluster.name", "cluster.address",
                                   "path", "path.basename", "path.filename", "path[3]", "path[5]")} == {
        "aws_account": "123456", "asset_id": "11223344", "cluster.owner": "cluster-admin@company.com",
        "cluster.name": "engineering-dev", "cluster.address": "https://1.2.3.4", "path": directory,
        "path.basename": "dev", "path.filename": "config.json", "path[3]": "cluster-config", "path[5]": "dev"}
    assert [(a["metadata"]["name"], a["spec"]["destination"]["server"]) for a in expand(spec, ctx)] == [
        ("engineering-dev-guestbook", "https://1.2.3.4"), ("engineering-prod-guestbook", "http://1.2.3.4")]


_DEFAULT_FILE = {"foo.bar": "baz"}
_FT_PATH = {"path": "path/dir", "path.basename": "dir", "path.filename": "file_name.yaml",
            "path.basenameNormalized": "dir", "path.filenameNormalized": "file-name.yaml", "path[0]": "path", "path[1]": "dir"}
_GT_PATH = {"path": "path/dir", "basename": "dir", "filename": "file_name.yaml", "basenameNormalized": "dir",
            "filenameNormalized": "file-name.yaml", "segments": ["path", "dir"]}


@pytest.mark.parametrize(("file", "go", "prefix", "expected"), [
    ("empty/dir/file_name.yaml", False, "", {**_FT_PATH, "path": "empty/dir", "path[0]": "empty"}),
    ("path/dir/file_name.yaml", False, "", {**_DEFAULT_FILE, **_FT_PATH}),
    ("path/dir/file_name.yaml", False, "myRepo", {**_DEFAULT_FILE, **{f"myRepo.{k}": v for k, v in _FT_PATH.items()}}),
    ("path/dir/file_name.yaml", True, "", {"foo": {"bar": "baz"}, "path": _GT_PATH}),
    ("path/dir/file_name.yaml", True, "myRepo", {"foo": {"bar": "baz"}, "myRepo": {"path": _GT_PATH}}),
], ids=["empty file returns path parameters", "file parameters are added to params", "path parameter are prefixed",
        "with go template", "prefixed with go template"])
def test_git_file_parameters(repos: tuple[RepoCheckout, ...], file: str, go: bool, prefix: str,
                             expected: dict[str, Any]) -> None:
    """git_test.go Test_generateParamsFromGitFile."""
    git = {"repoURL": GIT_TEST, "revision": "HEAD", "files": [{"path": file}], "pathParamPrefix": prefix}
    assert parameter_sets(minimal([{"git": git}], go=go), context(repos)) == [expected]


def test_a_git_file_that_is_not_an_object_fails_the_application_set(repos: tuple[RepoCheckout, ...]) -> None:
    """git_test.go Test_generateParamsFromGitFile, "invalid json/yaml file returns error"."""
    git = {"repoURL": GIT_TEST, "revision": "HEAD", "files": [{"path": "invalid/dir/file_name.yaml"}]}
    with pytest.raises(ExpansionError, match=r"spec\.generators\[0\]\.git\.files.*unable to parse file invalid/dir"):
        expand(minimal([{"git": git}], go=False), context(repos))


def test_git_files_values_use_the_path_segments(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Git.md, files "Pass additional key-value pairs via values field": ``base_dir``
    from ``index .path.segments``."""
    spec = load("""
metadata: {name: guestbook, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - git:
      repoURL: https://github.com/argoproj/argo-cd.git
      revision: HEAD
      files:
      - path: "applicationset/examples/git-generator-files-discovery/cluster-config/**/config.json"
      values:
        base_dir: "{{index .path.segments 0}}/{{index .path.segments 1}}/{{index .path.segments 2}}"
  template:
    metadata:
      name: '{{.cluster.name}}-guestbook'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: "{{.values.base_dir}}/apps/guestbook"
      destination:
        server: '{{.cluster.address}}'
        namespace: guestbook
""")
    apps = expand(spec, context(repos))
    assert {a["spec"]["source"]["path"] for a in apps} == {
        "applicationset/examples/git-generator-files-discovery/apps/guestbook"}
    assert names(apps) == ["engineering-dev-guestbook", "engineering-prod-guestbook"]


# ---------------------------------------------------------------- matrix


def test_matrix_of_git_directories_and_clusters(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Matrix.md, "Git Directory generator + Cluster generator": every directory on
    every cluster, the project from the cluster's ``environment`` label."""
    spec = load("""
metadata: {name: cluster-git}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/argoproj/argo-cd.git
              revision: HEAD
              directories:
                - path: applicationset/examples/matrix/cluster-addons/*
          - clusters:
              selector:
                matchLabels:
                  argocd.argoproj.io/secret-type: cluster
  template:
    metadata:
      name: '{{.path.basename}}-{{.name}}'
    spec:
      project: '{{index .metadata.labels "environment"}}'
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.path.basename}}'
""")
    apps = expand(spec, context(repos, DOC_CLUSTERS))
    assert sorted((a["metadata"]["name"], a["spec"]["project"], a["spec"]["destination"]["server"]) for a in apps) == [
        ("argo-workflows-production", "production", "https://2.4.6.8"),
        ("argo-workflows-staging", "staging", "https://1.2.3.4"),
        ("prometheus-operator-production", "production", "https://2.4.6.8"),
        ("prometheus-operator-staging", "staging", "https://1.2.3.4"),
    ]


def test_the_second_matrix_child_uses_the_first_childs_parameters(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Matrix.md, "Using Parameters from one child generator in another child
    generator": the cluster selector ``kubernetes.io/environment: '{{.path.basename}}'`` pairs the
    ``dev`` config with the dev cluster and ``prod`` with the prod one."""
    spec = load("""
metadata: {name: cluster-git}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/argoproj/argo-cd.git
              revision: HEAD
              files:
                - path: "applicationset/examples/git-generator-files-discovery/cluster-config/**/config.json"
          - clusters:
              selector:
                matchLabels:
                  argocd.argoproj.io/secret-type: cluster
                  kubernetes.io/environment: '{{.path.basename}}'
  template:
    metadata:
      name: '{{.name}}-guestbook'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/applicationset.git
        targetRevision: HEAD
        path: "examples/git-generator-files-discovery/apps/guestbook"
      destination:
        server: '{{.server}}'
        namespace: guestbook
""")
    apps = expand(spec, context(repos, DOC_CLUSTERS))
    assert [(a["metadata"]["name"], a["spec"]["destination"]["server"]) for a in apps] == [
        ("staging-guestbook", "https://1.2.3.4"), ("production-guestbook", "https://2.4.6.8")]


def test_the_first_matrix_child_overrides_the_second_in_go_template_mode(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Matrix.md, "Overriding parameters from one child generator in another child
    generator": stage files over the global one; the escaped ``{{ . | mustToPrettyJson }}`` is
    output literally."""
    spec = load("""
metadata: {name: parameter-override-example}
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/example/values.git
              revision: HEAD
              files:
                - path: "**/stage.values.yaml"
          - git:
               repoURL: https://github.com/example/values.git
               revision: HEAD
               files:
                  - path: "global.values.yaml"
  goTemplate: true
  template:
    metadata:
      name: example
    spec:
      project: default
      source:
        repoURL: https://github.com/example/example-app.git
        targetRevision: HEAD
        path: .
        helm:
          values: |
            {{ `{{ . | mustToPrettyJson }}` }}
      destination:
        server: in-cluster
        namespace: default
""")
    ctx = context(repos)
    keys = ("stageName", "cpuRequest", "memoryLimit", "debugEnabled")
    got = {p["stageName"]: tuple(p[k] for k in keys[1:]) for p in parameter_sets(spec, ctx)}
    assert got == {"test": ("100m", "256Mi", True), "staging": ("200m", "256Mi", True),
                   "production": ("200m", "512Mi", False)}
    assert {a["spec"]["source"]["helm"]["values"] for a in expand(spec, ctx)} == {"{{ . | mustToPrettyJson }}\n"}


def test_two_git_children_with_path_param_prefixes(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Matrix.md, "Two Git Generators Using pathParamPrefix". The page writes the paths
    as ``/apps``; the generator's paths are repository-relative (``apps``)."""
    spec = load("""
metadata: {name: two-gits-with-path-param-prefix}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/some-org/some-repo.git
              revision: HEAD
              files:
                - path: "apps/*.json"
              pathParamPrefix: app
          - git:
              repoURL: https://github.com/some-org/some-repo.git
              revision: HEAD
              files:
                - path: "targets/{{.appName}}/*.json"
              pathParamPrefix: target
  template:
    metadata:
      name: '{{.appName}}-{{.clusterName}}'
    spec:
      project: default
      destination:
        server: https://kubernetes.default.svc
        namespace: default
""")
    got = [(p["appName"], p["app"]["path"]["path"], p["app"]["path"]["filename"], p["region"], p["clusterName"],
            p["target"]["path"]["path"], p["target"]["path"]["filename"]) for p in parameter_sets(spec, context(repos))]
    assert got == [
        ("app-one", "apps", "app-one.json", "east", "cluster-one", "targets/app-one", "east-cluster-one.json"),
        ("app-one", "apps", "app-one.json", "east", "cluster-two", "targets/app-one", "east-cluster-two.json"),
        ("app-two", "apps", "app-two.json", "east", "cluster-one", "targets/app-two", "east-cluster-one.json"),
        ("app-two", "apps", "app-two.json", "west", "cluster-three", "targets/app-two", "west-cluster-three.json"),
    ]


def test_a_matrix_of_two_lists_in_fasttemplate_mode() -> None:
    """applicationset/examples/matrix/list-and-list-fasttemplate.yaml (Generators-Matrix.md's
    example set): the product of both lists; tags without a parameter stay as written."""
    spec = load("""
metadata: {name: list-and-list, namespace: argocd}
spec:
  generators:
    - matrix:
        generators:
          - list:
              elements:
                - cluster: engineering-dev
                  url: https://kubernetes.default.svc
                  values:
                    project: default
                - cluster: engineering-prod
                  url: https://kubernetes.default.svc
                  values:
                    project: default
          - list:
              elements:
                - values:
                    suffix: '1'
                - values:
                    suffix: '2'
  template:
    metadata:
      name: '{{cluster}}-{{values.suffix}}'
    spec:
      project: '{{values.project}}'
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{path}}'
      destination:
        server: '{{url}}'
        namespace: '{{path.basename}}'
""")
    apps = expand(spec, ExpansionContext())
    assert names(apps) == ["engineering-dev-1", "engineering-dev-2", "engineering-prod-1", "engineering-prod-2"]
    assert {(a["spec"]["project"], a["spec"]["source"]["path"], a["spec"]["destination"]["namespace"]) for a in apps} == {
        ("default", "{{path}}", "{{path.basename}}")}


def test_a_matrix_ignores_its_childrens_templates() -> None:
    """Generators-Matrix.md, Restrictions: "The Matrix generator does not currently support
    template overrides specified on child generators"."""
    child = {"list": {"elements": [{"name": "a"}], "template": {"metadata": {"name": "from-child"}, "spec": {}}}}
    spec = minimal([{"matrix": {"generators": [child, {"list": {"elements": [{"x": "1"}]}}]}}], go=False, name="{{name}}")
    assert names(expand(spec, ExpansionContext())) == ["a"]


_ONE = {"list": {"elements": [{"a": "1"}]}}


@pytest.mark.parametrize(("combinator", "error", "message"), [
    ({"matrix": {"generators": [_ONE, _ONE, _ONE]}}, ExpansionError, r"found 3 generators.*exactly two"),
    ({"matrix": {"generators": [{**_ONE, "clusters": {}}, _ONE]}}, ExpansionError,
     r"more than one generator"),
    ({"matrix": {"generators": [{"matrix": {"generators": [{"matrix": {"generators": [_ONE, _ONE]}}, _ONE]}}, _ONE]}},
     UnsupportedError, r"third level"),
    ({"merge": {"mergeKeys": ["a"], "generators": [_ONE]}}, ExpansionError, r"less than two generators"),
    ({"merge": {"mergeKeys": [], "generators": [_ONE, _ONE]}}, ExpansionError, r"no merge keys"),
], ids=["three matrix children", "two generators in one entry", "a third nesting level", "one merge child",
        "no merge keys"])
def test_combinator_restrictions(combinator: dict[str, Any], error: type[Exception], message: str) -> None:
    """Generators-Matrix.md and Generators-Merge.md, Restrictions; merge_test.go
    ErrLessThanTwoGeneratorsInMerge and ErrNoMergeKeys."""
    with pytest.raises(error, match=message):
        expand(minimal([combinator], go=False), ExpansionContext())


# ---------------------------------------------------------------- merge


def test_merge_overrides_base_clusters_with_later_generators() -> None:
    """Generators-Merge.md, "Base Cluster generator + override Cluster generator + List generator",
    with the page's fasttemplate parameters (applicationset/examples/merge/
    merge-clusters-and-list-fasttemplate.yaml): kafka off for the labelled staging cluster, redis on
    for production. The selector-less base generator also yields the local cluster (Generators-
    Cluster.md), which the page leaves out. (With goTemplate the list's ``values.redis`` would be
    a top-level key and not override ``.values.redis``.)"""
    spec = load("""
metadata: {name: merge-clusters-and-list}
spec:
  generators:
    - merge:
        mergeKeys:
          - server
        generators:
          - clusters:
              values:
                kafka: 'true'
                redis: 'false'
          - clusters:
              selector:
                matchLabels:
                  use-kafka: 'false'
              values:
                kafka: 'false'
          - list:
              elements:
                - server: https://2.4.6.8
                  values.redis: 'true'
  template:
    metadata:
      name: '{{name}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: HEAD
        path: helm-guestbook
        helm:
          parameters:
            - name: kafka
              value: '{{values.kafka}}'
            - name: redis
              value: '{{values.redis}}'
      destination:
        server: '{{server}}'
        namespace: default
""")
    apps = expand(spec, context((), DOC_CLUSTERS))
    got = {a["metadata"]["name"]: [p["value"] for p in a["spec"]["source"]["helm"]["parameters"]] for a in apps}
    assert got == {"staging": ["false", "false"], "production": ["true", "true"], "in-cluster": ["true", "false"]}


def test_merge_on_interpolated_values(repos: tuple[RepoCheckout, ...]) -> None:
    """Generators-Merge.md, "Use value interpolation in merge", in fasttemplate form (the page notes
    that nested merge keys do not work with goTemplate): cluster ``germany01`` labelled
    ``location: Germany`` is combined with the ``Germany`` directory."""
    spec = load("""
metadata: {name: cluster-git}
spec:
  generators:
    - merge:
        mergeKeys:
          - values.selector
        generators:
          - clusters:
              values:
                selector: '{{metadata.labels.location}}'
          - git:
              repoURL: https://github.com/argoproj/argocd-example-apps/
              revision: HEAD
              directories:
              - path: '*'
              values:
                selector: '{{path}}'
  template:
    metadata:
      name: '{{name}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: HEAD
        path: '{{path}}'
      destination:
        server: '{{server}}'
        namespace: default
""")
    germany = cluster_secret("germany01", "https://1.2.3.4", {"location": "Germany"})
    got = {p["name"]: p for p in parameter_sets(spec, context(repos, [germany]))}
    assert {k: got["germany01"][k] for k in ("name", "server", "path", "values.selector")} == {
        "name": "germany01", "server": "https://1.2.3.4", "path": "Germany", "values.selector": "Germany"}
    assert "path" not in got["in-cluster"]  # no directory is named after its (unrendered) selector


def test_nested_merge_keys_do_not_work_with_go_template() -> None:
    """Generators-Merge.md, Restrictions: "Merging on nested values while using goTemplate: true is
    currently not supported": ``values.merge`` is looked up as a top-level key, absent from every
    set, so a child with two sets is not unique by it."""
    lists = [{"list": {"elements": [{"values": {"merge": "a"}}, {"values": {"merge": "b"}}]}},
             {"list": {"elements": [{"values": {"merge": "a"}}]}}]
    with pytest.raises(ExpansionError, match=r"not unique by the given mergeKeys.*Duplicate key was \{\"values.merge\":null\}"):
        expand(minimal([{"merge": {"mergeKeys": ["values.merge"], "generators": lists}}], go=True), ExpansionContext())


def _lists(*elements: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"list": {"elements": e}} for e in elements]


@pytest.mark.parametrize(("generators", "keys", "expected"), [
    (_lists([{"a": "1_1", "b": "same", "c": "1_3"}], [{"a": "2_1", "b": "same"}], [{"a": "3_1", "b": "different", "c": "3_3"}]),
     ["b"], [{"a": "2_1", "b": "same", "c": "1_3"}]),
    (_lists([{"a": "a"}], [{"a": "a"}]), ["b"], [{"a": "a"}]),
    (_lists([{"a": "a"}], [{"b": "b"}]), ["b"], [{"a": "a"}]),
    ([{"matrix": {"generators": _lists([{"a": "1"}, {"a": "2"}], [{"b": "1"}, {"b": "2"}])}},
      *_lists([{"a": "1", "b": "1", "c": "added"}])], ["a", "b"],
     [{"a": "1", "b": "1", "c": "added"}, {"a": "1", "b": "2"}, {"a": "2", "b": "1"}, {"a": "2", "b": "2"}]),
    ([{"merge": {"mergeKeys": ["a"], "generators": _lists([{"a": "1", "b": "1"}, {"a": "2", "b": "2"}],
                                                         [{"a": "1", "b": "3", "c": "added"}, {"a": "3", "b": "2"}])}},
      *_lists([{"a": "1", "b": "3", "d": "added"}])], ["a", "b"],
     [{"a": "1", "b": "3", "c": "added", "d": "added"}, {"a": "2", "b": "2"}]),
], ids=["happy flow", "merge keys absent", "merge key present in first set, absent in second",
        "merge nested matrix with some lists", "merge nested merge with some lists"])
def test_merge_generator_parameter_sets(generators: list[Any], keys: list[str], expected: list[dict[str, str]]) -> None:
    """merge_test.go TestMergeGenerate (fasttemplate, as there)."""
    got = parameter_sets(minimal([{"merge": {"mergeKeys": keys, "generators": generators}}], go=False), ExpansionContext())
    assert sorted(got, key=json.dumps) == sorted(expected, key=json.dumps)


def test_nested_selectors_are_always_applied() -> None:
    """Generators-Merge.md, Restrictions, says a nested generator's post-selector needs
    ``spec.applyNestedSelectors``; since v3 the field is ignored and nested selectors always apply
    (ApplicationSetSpec: "Deprecated: This field is ignored, and the behavior is always enabled")."""
    inner = {"merge": {"mergeKeys": ["a"], "generators": [
        {"list": {"elements": [{"a": "1"}, {"a": "2"}]}, "selector": {"matchLabels": {"a": "1"}}},
        {"list": {"elements": [{"a": "1", "b": "x"}]}}]}}
    for apply in (False, True):
        spec = minimal([{"merge": {"mergeKeys": ["a"], "generators": [inner, {"list": {"elements": [{"a": "9"}]}}]}}],
                       go=False, applyNestedSelectors=apply)
        assert parameter_sets(spec, ExpansionContext()) == [{"a": "1", "b": "x"}]


# ---------------------------------------------------------------- Template.md


def test_a_generator_template_overrides_the_spec_template() -> None:
    """Template.md, "Generator templates": the generator's ``path`` wins, everything else comes
    from ``spec.template``."""
    spec = load("""
metadata: {name: guestbook}
spec:
  generators:
  - list:
      elements:
        - cluster: engineering-dev
          url: https://kubernetes.default.svc
      template:
        metadata: {}
        spec:
          project: "default"
          source:
            targetRevision: HEAD
            repoURL: https://github.com/argoproj/argo-cd.git
            path: 'applicationset/examples/template-override/{{cluster}}-override'
          destination: {}
  template:
    metadata:
      name: '{{cluster}}-guestbook'
    spec:
      project: "default"
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: applicationset/examples/template-override/default
      destination:
        server: '{{url}}'
        namespace: guestbook
""")
    [app] = expand(spec, ExpansionContext())
    assert app["metadata"]["name"] == "engineering-dev-guestbook"
    assert app["spec"] == {
        "project": "default",
        "source": {"targetRevision": "HEAD", "repoURL": ARGO_CD,
                   "path": "applicationset/examples/template-override/engineering-dev-override"},
        "destination": {"server": IN_CLUSTER, "namespace": "guestbook"}}


def test_template_patch_is_refused() -> None:
    """Template.md, "Template Patch": templatePatch is a strategic merge patch per Application,
    not implemented offline; the error names the key."""
    spec = load("""
metadata: {name: guestbook}
spec:
  goTemplate: true
  generators:
  - list:
      elements:
        - cluster: engineering-dev
          url: https://kubernetes.default.svc
          autoSync: true
          prune: true
  template:
    metadata:
      name: '{{.cluster}}-deployment'
    spec:
      project: "default"
      source:
        repoURL: https://github.com/infra-team/cluster-deployments.git
        targetRevision: HEAD
        path: guestbook/{{ .cluster }}
      destination:
        server: '{{.url}}'
        namespace: guestbook
  templatePatch: |
    {{- if .autoSync }}
    spec:
      syncPolicy:
        automated:
          prune: {{ .prune }}
    {{- end }}
""")
    with pytest.raises(UnsupportedError, match=r"spec\.templatePatch.*not implemented"):
        expand(spec, ExpansionContext())


def test_only_one_of_destination_name_and_server() -> None:
    """Template.md: "Only one of name or server may be specified: if both are specified, an error
    is returned" (the controller then skips that Application)."""
    spec = minimal([{"list": {"elements": [{"n": "a"}]}}], go=False, template={
        "metadata": {"name": "{{n}}"},
        "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "name": "in-cluster", "namespace": "x"}}})
    ctx = ExpansionContext()
    [problem] = check_applications(expand(spec, ctx), {"default": {}}, ctx)
    assert problem.key.startswith("spec.destination")


@pytest.mark.parametrize(("finalizers", "sync_policy", "expected"), [
    (["existing-finalizer"], None, ["existing-finalizer"]),
    (["resources-finalizer.argocd.argoproj.io/background"], None, ["resources-finalizer.argocd.argoproj.io/background"]),
    (None, None, [FINALIZER]),
    ([FINALIZER], None, [FINALIZER]),
    ([], None, [FINALIZER]),
    (None, {}, [FINALIZER]),
    (None, {"preserveResourcesOnDeletion": True}, None),
    (["resources-finalizer.argocd.argoproj.io/background"], {"preserveResourcesOnDeletion": True},
     ["resources-finalizer.argocd.argoproj.io/background"]),
], ids=["existing finalizer should be preserved", "background finalizer should be preserved",
        "empty finalizer and empty sync should use standard finalizer", "standard finalizer should be preserved",
        "empty array finalizers should use standard finalizer", "non-nil sync policy should use standard finalizer",
        "preserveResourcesOnDeletion should not have a finalizer",
        "user-specified finalizer should overwrite preserveResourcesOnDeletion"])
def test_the_resources_finalizer(finalizers: list[str] | None, sync_policy: dict[str, Any] | None,
                                 expected: list[str] | None) -> None:
    """utils_test.go TestRenderTemplateParamsFinalizers."""
    template = {"metadata": {"name": "app", "finalizers": finalizers},
                "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": "x"}}}
    spec = minimal([{"list": {"elements": [{"one": "two"}]}}], go=True, template=template)
    if sync_policy is not None:
        spec["spec"]["syncPolicy"] = sync_policy
    [app] = expand(spec, ExpansionContext())
    assert app["metadata"].get("finalizers") == expected


# ---------------------------------------------------------------- GoTemplate.md and the renderer


def test_basic_go_template_usage() -> None:
    """GoTemplate.md, "Basic Go template usage"."""
    spec = load("""
metadata: {name: guestbook}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
      - cluster: engineering-dev
        url: https://1.2.3.4
      - cluster: engineering-prod
        url: https://2.4.6.8
      - cluster: finance-preprod
        url: https://9.8.7.6
  template:
    metadata:
      name: '{{.cluster}}-guestbook'
    spec:
      project: my-project
      source:
        repoURL: https://github.com/infra-team/cluster-deployments.git
        targetRevision: HEAD
        path: guestbook/{{.cluster}}
      destination:
        server: '{{.url}}'
        namespace: guestbook
""")
    apps = expand(spec, ExpansionContext())
    assert [(a["metadata"]["name"], a["spec"]["source"]["path"], a["spec"]["destination"]["server"]) for a in apps] == [
        ("engineering-dev-guestbook", "guestbook/engineering-dev", "https://1.2.3.4"),
        ("engineering-prod-guestbook", "guestbook/engineering-prod", "https://2.4.6.8"),
        ("finance-preprod-guestbook", "guestbook/finance-preprod", "https://9.8.7.6")]


def test_dig_gives_a_fallback_for_unset_parameters() -> None:
    """GoTemplate.md, "Fallbacks for unset parameters": ``engineering-dev`` and
    ``engineering-prod-my-name-suffix``."""
    elements = [{"cluster": "engineering-dev", "url": IN_CLUSTER},
                {"cluster": "engineering-prod", "url": IN_CLUSTER, "nameSuffix": "-my-name-suffix"}]
    spec = minimal([{"list": {"elements": elements}}], go=True, name='{{.cluster}}{{dig "nameSuffix" "" .}}',
                   goTemplateOptions=["missingkey=error"])
    assert names(expand(spec, ExpansionContext())) == ["engineering-dev", "engineering-prod-my-name-suffix"]


def test_sprig_functions_rebuild_the_git_path_parameters(repos: tuple[RepoCheckout, ...]) -> None:
    """GoTemplate.md, migration table "with goTemplate: true + Sprig": ``{{base .path.path}}`` is
    ``.path.basename`` and ``{{normalize .path.filename}}`` is ``.path.filenameNormalized``."""
    git = {"repoURL": ARGO_CD, "revision": "HEAD",
           "files": [{"path": "applicationset/examples/git-generator-files-discovery/cluster-config/**/config.json"}]}
    template = {"metadata": {"name": "{{.cluster.name}}", "annotations": {
        "base": "{{base .path.path}}", "basename": "{{.path.basename}}",
        "normalized": "{{normalize .path.filename}}", "filenameNormalized": "{{.path.filenameNormalized}}"}},
        "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": "x"}}}
    apps = expand(minimal([{"git": git}], go=True, template=template), context(repos))
    assert [a["metadata"]["annotations"] for a in apps] == [
        {"base": env, "basename": env, "normalized": "config.json", "filenameNormalized": "config.json"}
        for env in ("dev", "prod")]


_BRANCH = "feat/a_really+long_pull_request_name_to_test_argo_slugification_and_branch_name_shortening_feature"
_BRANCH_2 = "feat/areallylongpullrequestnametotestargoslugificationandbranchnameshorteningfeature"


@pytest.mark.parametrize(("branch", "args", "expected"), [
    (_BRANCH, "50 false", "feat-a-really-long-pull-request-name-to-test-argo"),
    (_BRANCH, "53 true", "feat-a-really-long-pull-request-name-to-test-argo"),
    (_BRANCH_2, "50 true", "feat"),
    (_BRANCH_2, "50 false", "feat-areallylongpullrequestnametotestargoslugifica"),
])
def test_slugify(branch: str, args: str, expected: str) -> None:
    """utils_test.go TestSlugify, written the way GoTemplate.md uses it: ``{{ cat .branch | slugify N smart }}``."""
    assert rendered("{{ cat .branch | slugify " + args + " }}", {"branch": branch}, go=True) == expected


@pytest.mark.parametrize(("template", "params", "expected"), [
    ("{{ .one }}", {"one": "two"}, "two"),
    ("{{ .one }}", {"one": "{{one}}"}, "{{one}}"),
    ("{{.one}}{{.three}}", {"one": "two", "three": "four"}, "twofour"),
    ("{{.one}} {{.three}}", {"one": '"hello" world', "three": "four"}, '"hello" world four'),
    ("{{ .image.name }}:{{ .image.version }}", {"replicas": 3, "image": {"name": "busybox", "version": "latest"}},
     "busybox:latest"),
    ("{{ if .hpa.enabled }}{{ .hpa.maxReplicas }}{{ else }}{{ .replicas }}{{ end }}",
     {"replicas": 3, "hpa": {"enabled": True, "minReplicas": 1, "maxReplicas": 5}}, "5"),
    ("{{ if .hpa.enabled }}{{ .hpa.maxReplicas }}{{ else }}{{ .replicas }}{{ end }}",
     {"replicas": 3, "hpa": {"enabled": False, "minReplicas": 1, "maxReplicas": 5}}, "3"),
    ('{{ index .admin "admin-ca" }}, {{ index .admin "admin-jks" }}',
     {"admin": {"admin-ca": "value admin ca", "admin-jks": "value admin jks"}}, "value admin ca, value admin jks"),
    ('{{ index .admin "admin-ca" }}, \\\\ "Hello world", {{ index .admin "admin-jks" }}',
     {"admin": {"admin-ca": 'value "admin" ca with \\', "admin-jks": "value admin jks"}},
     'value "admin" ca with \\, \\\\ "Hello world", value admin jks'),
    ("{{.quote}}", {"quote": '"'}, '"'),
    ("--> {{.doesnotexist}} <--", {"unused": "this is not used"}, "--> <no value> <--"),
    ("{{ toYaml . | indent 2 }}", {"foo": {"bar": {"bool": True, "number": 2, "str": "Hello world"}}},
     "  foo:\n    bar:\n      bool: true\n      number: 2\n      str: Hello world"),
], ids=["simple substitution", "template contains itself", "multiple different on a line",
        "multiple different on a line with quote", "multiple depth", "if ok", "if not ok", "Index",
        "Index with backslashes", "quote", "missingkey=default", "toYaml"])
def test_go_template_rendering(template: str, params: dict[str, Any], expected: str) -> None:
    """utils_test.go TestRenderTemplateParamsGoTemplate."""
    assert rendered(template, params, go=True) == expected


@pytest.mark.parametrize(("template", "options", "error", "message"), [
    ("--> {{.doesnotexist}} <--", ["missingkey=error"], ExpansionError, r'map has no entry for key "doesnotexist"'),
    ("{{functiondoesnotexist}}", None, ExpansionError, r'function "functiondoesnotexist" not defined'),
    ("{{.data.test}}", None, ExpansionError, r"can't evaluate field test"),
    ("{{ range .volumes }}[{{ .name }}]{{ end }}", None, UnsupportedError, r"\{\{range\}\} action"),
    ('{{ get (fromYaml .value) "hello" }}', None, UnsupportedError, r"template function '(get|fromYaml)'"),
], ids=["missingkey=error", "Test Parse Error", "Test template error", "loop", "fromYaml"])
def test_go_template_failures(template: str, options: list[str] | None, error: type[Exception], message: str) -> None:
    """utils_test.go TestRenderTemplateParamsGoTemplate error cases: Go's own errors are Argo CD's
    errors (ExpansionError); ``range`` ("loop") and ``fromYaml`` are valid for Argo CD but not
    evaluated offline, so they are refused, naming the template key."""
    params = {"data": "a data string", "unused": "x", "volumes": [{"name": "volume-one"}], "value": "hello: world"}
    with pytest.raises(error, match=r"spec\.template\.spec\.source\.path.*" + message):
        rendered(template, params, go=True, options=options)


def test_control_keywords_cannot_span_fields() -> None:
    """GoTemplate.md, Limitations: "Each of these fields is evaluated as an independent template,
    so the first one will fail with an error" (``{{range .parameters}}`` alone in a field)."""
    template = {"metadata": {"name": "app"}, "spec": {"project": "default",
                "destination": {"server": IN_CLUSTER, "namespace": "x"},
                "source": {"repoURL": "r", "helm": {"parameters": [
                    {"name": "{{range .parameters}}"}, {"name": "{{.name}}", "value": "{{.value}}"},
                    {"name": "throw-away", "value": "{{end}}"}]}}}}
    spec = minimal([{"list": {"elements": [{"parameters": [{"name": "a", "value": "b"}]}]}}], go=True, template=template)
    with pytest.raises((ExpansionError, UnsupportedError), match=r"spec\.source\.helm\.parameters\[0\]\.name"):
        expand(spec, ExpansionContext())


@pytest.mark.parametrize("go", [False, True], ids=["fasttemplate", "gotemplate"])
def test_annotation_keys_are_templated_too(go: bool) -> None:
    """utils_test.go TestRenderTemplateKeys."""
    key, value = ("annotation-{{ .key }}", "annotation-{{ .value }}") if go else ("annotation-{{key}}", "annotation-{{value}}")
    template = {"metadata": {"name": "app", "annotations": {key: value}},
                "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": "x"}}}
    [app] = expand(minimal([{"list": {"elements": [{"key": "some-key", "value": "some-value"}]}}], go=go,
                           template=template), ExpansionContext())
    assert app["metadata"]["annotations"] == {"annotation-some-key": "annotation-some-value"}


def test_no_parameters_leave_the_template_untouched() -> None:
    """utils_test.go TestRenderTemplateParamsGoTemplate, "Test No Data": with an empty parameter set
    the template is returned as written (and gets no finalizer)."""
    [app] = expand(minimal([{"list": {"elements": [{}]}}], go=True, name="{{.data}}"), ExpansionContext())
    assert app["metadata"] == {"name": "{{.data}}", "namespace": "argocd"}


@pytest.mark.parametrize(("template", "params", "expected"), [
    ("{{one}}", {"one": "two"}, "two"),
    ("{{ one }}", {"one": "two"}, "two"),
    ("}} {{", {"one": "two"}, "}} {{"),
    ("{{ }}", {"one": "{{ }}"}, "{{ }}"),
    ("{{ }}", {" ": "two", "": "three"}, "{{ }}"),
    ("{{one}}", {"{{one}}": "{{one}}"}, "{{one}}"),
    ("{{ONE}}", {"{{one}}": "two"}, "{{ONE}}"),
    ("{{one}}{{one}}", {"one": "two"}, "twotwo"),
    ("{{one}} {{three}}", {"one": '"hello" world', "three": "four"}, '"hello" world four'),
], ids=["simple substitution", "with whitespace", "template characters but not in a template", "nested template",
        "field with whitespace", "template contains itself", "templates are case sensitive", "multiple on a line",
        "multiple different on a line with quote"])
def test_fasttemplate_rendering(template: str, params: dict[str, str], expected: str) -> None:
    """utils_test.go TestRenderTemplateParams (goTemplate: false)."""
    assert rendered(template, params, go=False) == expected


def test_fasttemplate_fails_on_a_missing_closing_brace() -> None:
    """utils_test.go Test_Render_Replace_no_panic_on_missing_closing_brace."""
    with pytest.raises(ExpansionError, match=r"spec\.template\.spec\.source\.path.*cannot find end tag"):
        rendered("{{properly.closed}} {{improperly.closed}", {"properly.closed": "x"}, go=False)
