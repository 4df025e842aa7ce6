"""ApplicationSet generators and expansion into Applications."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

import pytest

from gitops.appset import ExpansionContext, ExpansionError, RepoCheckout, UnsupportedError, expand

REPO = "https://github.com/example/gitops.git"
IN_CLUSTER = "https://kubernetes.default.svc"


def appset(generators: list[Any], *, go: bool = True, name: str | None = None, **spec: Any) -> dict[str, Any]:
    template = spec.pop("template", None) or {
        "metadata": {"name": name or ("{{ .name }}" if go else "{{name}}")},
        "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": "apps"}},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "apps", "namespace": "argocd"},
        "spec": {"goTemplate": go, "generators": generators, "template": template, **spec},
    }


def names(apps: list[dict[str, Any]]) -> list[str]:
    return [a["metadata"]["name"] for a in apps]


def checkout(tmp_path: pathlib.Path, files: dict[str, str], **ctx: Any) -> ExpansionContext:
    for rel, content in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return ExpansionContext(repos=[RepoCheckout(REPO, tmp_path)], **ctx)


def secret(name: str, server: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"cluster-{name}",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster", **labels},
            "annotations": {"team": "platform"},
        },
        "stringData": {"name": name, "server": server},
    }


def git_files(*patterns: str, exclude: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    items = [{"path": p} for p in patterns] + [{"path": p, "exclude": True} for p in exclude]
    return {"git": {"repoURL": REPO, "revision": "HEAD", "files": items, **extra}}


def git_dirs(*patterns: str, exclude: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    items = [{"path": p} for p in patterns] + [{"path": p, "exclude": True} for p in exclude]
    return {"git": {"repoURL": REPO, "revision": "HEAD", "directories": items, **extra}}


EMPTY = ExpansionContext()

# ---------------------------------------------------------------- list


def test_go_template_list_numbers_render_as_go_float64() -> None:
    apps = expand(appset([{"list": {"elements": [{"name": "a", "n": 1000000}]}}], name="{{.name}}-{{.n}}"), EMPTY)
    assert names(apps) == ["a-1e+06"]


def test_fasttemplate_list_element_with_a_number_is_an_expansion_error() -> None:
    with pytest.raises(ExpansionError, match=r"spec\.generators\[0\]\.list\.elements\[0\]\.replicas"):
        expand(appset([{"list": {"elements": [{"name": "a", "replicas": 3}]}}], go=False), EMPTY)


def test_fasttemplate_list_values_are_flattened_into_dotted_keys() -> None:
    spec = appset([{"list": {"elements": [{"name": "a", "values": {"env": "prod"}}]}}], go=False, name="{{name}}-{{values.env}}")
    assert names(expand(spec, EMPTY)) == ["a-prod"]


def test_fasttemplate_leaves_non_string_parameters_from_elements_yaml_verbatim() -> None:
    spec = appset([{"list": {"elementsYaml": "- name: a\n  replicas: 3\n"}}], go=False, name="{{name}}-{{replicas}}")
    assert names(expand(spec, EMPTY)) == ["a-{{replicas}}"]


def test_an_empty_list_element_returns_the_template_unrendered_and_without_finalizer() -> None:
    apps = expand(appset([{"list": {"elements": [{}]}}], name="{{.name}}"), EMPTY)
    assert apps[0]["metadata"] == {"name": "{{.name}}", "namespace": "argocd"}


def test_elements_yaml_is_appended_after_elements() -> None:
    spec = appset([{"list": {"elements": [{"name": "a"}], "elementsYaml": "- name: b\n- name: c\n"}}])
    assert names(expand(spec, EMPTY)) == ["a", "b", "c"]


# ---------------------------------------------------------------- template, finalizer, namespace


def test_generator_level_template_wins_and_labels_merge_key_wise() -> None:
    spec = appset(
        [{"list": {"elements": [{"name": "a"}], "template": {"metadata": {"labels": {"tier": "gen", "own": "x"}}, "spec": {"project": "special"}}}}],
        template={
            "metadata": {"name": "{{.name}}", "labels": {"tier": "base", "team": "t"}},
            "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": "apps"}},
        },
    )
    app = expand(spec, EMPTY)[0]
    assert (app["metadata"]["labels"], app["spec"]["project"], app["metadata"]["name"]) == (
        {"tier": "gen", "own": "x", "team": "t"},
        "special",
        "a",
    )


def test_the_resources_finalizer_is_added_by_default() -> None:
    app = expand(appset([{"list": {"elements": [{"name": "a"}]}}]), EMPTY)[0]
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_preserve_resources_on_deletion_suppresses_the_finalizer() -> None:
    spec = appset([{"list": {"elements": [{"name": "a"}]}}], syncPolicy={"preserveResourcesOnDeletion": True})
    assert "finalizers" not in expand(spec, EMPTY)[0]["metadata"]


def test_template_finalizers_replace_the_default_finalizer() -> None:
    spec = appset(
        [{"list": {"elements": [{"name": "a"}]}}],
        template={
            "metadata": {"name": "{{.name}}", "finalizers": ["custom/finalizer"]},
            "spec": {"project": "default", "destination": {"server": IN_CLUSTER}},
        },
    )
    assert expand(spec, EMPTY)[0]["metadata"]["finalizers"] == ["custom/finalizer"]


def test_the_application_namespace_is_forced_to_the_applicationsets() -> None:
    spec = appset(
        [{"list": {"elements": [{"name": "a"}]}}],
        template={"metadata": {"name": "{{.name}}", "namespace": "elsewhere"}, "spec": {"project": "default"}},
    )
    assert expand(spec, EMPTY)[0]["metadata"]["namespace"] == "argocd"


def test_map_keys_and_nested_strings_are_rendered() -> None:
    spec = appset(
        [{"list": {"elements": [{"name": "a", "env": "prod"}]}}],
        template={
            "metadata": {"name": "{{.name}}", "annotations": {"example.com/{{.env}}": "yes"}},
            "spec": {"project": "default", "source": {"helm": {"valuesObject": {"env": "{{.env}}", "n": 2}}}},
        },
    )
    app = expand(spec, EMPTY)[0]
    assert (app["metadata"]["annotations"], app["spec"]["source"]["helm"]["valuesObject"]) == (
        {"example.com/prod": "yes"},
        {"env": "prod", "n": 2},
    )


def test_two_generator_kinds_in_one_entry_yield_both_in_struct_order() -> None:
    entry = {"clusters": {}, "list": {"elements": [{"name": "from-list"}]}}
    assert names(expand(appset([entry]), EMPTY)) == ["from-list", "in-cluster"]


# ---------------------------------------------------------------- errors are located


def test_missingkey_error_is_an_expansion_error_naming_the_template_key() -> None:
    spec = appset([{"list": {"elements": [{"name": "a"}]}}], name="{{.nope}}", goTemplateOptions=["missingkey=error"])
    with pytest.raises(ExpansionError, match=r"argocd/apps.*spec\.template\.metadata\.name.*no entry for key \"nope\""):
        expand(spec, EMPTY)


def test_an_unsupported_function_is_refused_with_the_template_key() -> None:
    spec = appset([{"list": {"elements": [{"name": "a"}]}}], name="{{ .name | b64enc }}")
    with pytest.raises(UnsupportedError, match=r"spec\.template\.metadata\.name.*b64enc"):
        expand(spec, EMPTY)


@pytest.mark.parametrize(
    ("generators", "key"),
    [
        ([{"scmProvider": {"github": {"organization": "x"}}}], r"spec\.generators\[0\]\.scmProvider"),
        ([{"pullRequest": {"github": {"owner": "x", "repo": "y"}}}], r"spec\.generators\[0\]\.pullRequest"),
        ([{"clusterDecisionResource": {"configMapRef": "x"}}], r"spec\.generators\[0\]\.clusterDecisionResource"),
        (
            [{"matrix": {"generators": [{"list": {"elements": [{"name": "a"}]}}, {"plugin": {"configMapRef": {"name": "p"}}}]}}],
            r"spec\.generators\[0\]\.matrix\.generators\[1\]\.plugin",
        ),
    ],
)
def test_unsupported_generators_are_refused_with_their_key_path(generators: list[Any], key: str) -> None:
    with pytest.raises(UnsupportedError, match=key):
        expand(appset(generators), EMPTY)


def test_template_patch_is_refused() -> None:
    with pytest.raises(UnsupportedError, match="templatePatch"):
        expand(appset([{"list": {"elements": [{"name": "a"}]}}], templatePatch="spec: {}"), EMPTY)


def test_an_invalid_go_template_option_is_an_expansion_error() -> None:
    with pytest.raises(ExpansionError, match=r"goTemplateOptions\[0\]"):
        expand(appset([{"list": {"elements": [{"name": "a"}]}}], goTemplateOptions=["missingkey=maybe"]), EMPTY)


# ---------------------------------------------------------------- matrix


def test_fasttemplate_matrix_with_a_duplicate_key_of_different_values_fails() -> None:
    first = {"list": {"elements": [{"name": "a", "env": "dev"}]}}
    second = {"list": {"elements": [{"name": "b", "region": "eu"}]}}
    with pytest.raises(ExpansionError, match="duplicate key name"):
        expand(appset([{"matrix": {"generators": [first, second]}}], go=False), EMPTY)


def test_go_template_matrix_lets_the_first_child_win_and_merges_nested_maps() -> None:
    first = {"list": {"elements": [{"name": "a", "meta": {"x": "first"}}]}}
    second = {"list": {"elements": [{"name": "b", "meta": {"x": "second", "y": "second"}}]}}
    spec = appset([{"matrix": {"generators": [first, second]}}], name="{{.name}}-{{.meta.x}}-{{.meta.y}}")
    assert names(expand(spec, EMPTY)) == ["a-first-second"]


def test_the_second_matrix_child_is_interpolated_with_each_first_child_set(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/web/config.json": '{"name": "web"}', "apps/db/config.json": '{"name": "db"}'})
    first = {"list": {"elements": [{"app": "web", "env": "dev"}, {"app": "db", "env": "prd"}]}}
    spec = appset(
        [{"matrix": {"generators": [first, git_files("apps/{{.app}}/config.json")]}}],
        name="{{.name}}-{{.env}}",
    )
    assert names(expand(spec, ctx)) == ["web-dev", "db-prd"]


def test_fasttemplate_matrix_of_two_git_generators_works_with_a_path_param_prefix(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/web/config.json": '{"name": "web"}', "envs/dev/env.json": '{"env": "dev"}'})
    generators = [git_files("apps/*/config.json"), git_files("envs/*/env.json", pathParamPrefix="env")]
    spec = appset([{"matrix": {"generators": generators}}], go=False, name="{{name}}-{{env}}-{{env.path.basename}}")
    assert names(expand(spec, ctx)) == ["web-dev-dev"]


def test_go_template_matrix_values_bake_in_first_child_keys_and_keep_the_rest_raw() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example", env="prod")])
    first = {"list": {"elements": [{"env": "dev"}]}}
    second = {"clusters": {"selector": {"matchLabels": {"env": "prod"}}, "values": {"a": "{{.env}}", "b": "{{.name}}"}}}
    spec = appset([{"matrix": {"generators": [first, second]}}], name="{{.values.a}}-{{.values.b}}")
    assert names(expand(spec, ctx)) == ["dev-prod"]


@pytest.mark.parametrize("count", [1, 3])
def test_a_matrix_needs_exactly_two_children(count: int) -> None:
    children = [{"list": {"elements": [{"name": f"n{i}"}]}} for i in range(count)]
    with pytest.raises(ExpansionError, match=r"spec\.generators\[0\]\.matrix\.generators"):
        expand(appset([{"matrix": {"generators": children}}]), EMPTY)


def test_a_matrix_child_with_two_generators_is_an_error() -> None:
    child = {"list": {"elements": [{"name": "a"}]}, "clusters": {}}
    with pytest.raises(ExpansionError, match="more than one generator"):
        expand(appset([{"matrix": {"generators": [child, {"list": {"elements": [{"x": "y"}]}}]}}]), EMPTY)


def test_an_empty_matrix_child_produces_no_applications() -> None:
    generators = [{"list": {"elements": []}}, {"list": {"elements": [{"name": "a"}]}}]
    assert expand(appset([{"matrix": {"generators": generators}}]), EMPTY) == []


# ---------------------------------------------------------------- merge


def test_merge_drops_unmatched_sets_and_later_children_win() -> None:
    base = {"list": {"elements": [{"name": "a", "size": "s"}, {"name": "b", "size": "s"}]}}
    override = {"list": {"elements": [{"name": "b", "size": "xl"}, {"name": "c", "size": "m"}]}}
    spec = appset([{"merge": {"mergeKeys": ["name"], "generators": [base, override]}}], name="{{.name}}-{{.size}}")
    assert names(expand(spec, EMPTY)) == ["a-s", "b-xl"]


def test_merge_fails_when_a_child_repeats_a_merge_key() -> None:
    base = {"list": {"elements": [{"name": "a"}, {"name": "a"}]}}
    other = {"list": {"elements": [{"name": "a"}]}}
    with pytest.raises(ExpansionError, match="not unique"):
        expand(appset([{"merge": {"mergeKeys": ["name"], "generators": [base, other]}}]), EMPTY)


def test_go_template_merge_keys_are_top_level_only() -> None:
    base = {"list": {"elements": [{"name": "a", "values": {"k": "1"}}, {"name": "b", "values": {"k": "2"}}]}}
    other = {"list": {"elements": [{"name": "z", "values": {"k": "1"}}]}}
    with pytest.raises(ExpansionError, match="not unique"):  # "values.k" is looked up literally: null for all
        expand(appset([{"merge": {"mergeKeys": ["values.k"], "generators": [base, other]}}]), EMPTY)


# ---------------------------------------------------------------- selector


def test_a_selector_filters_on_flattened_parameters(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/web/x.json": "{}", "apps/db/x.json": "{}", "apps/api/x.json": "{}"})
    entry = {**git_dirs("apps/*"), "selector": {"matchExpressions": [{"key": "path.basename", "operator": "NotIn", "values": ["db"]}]}}
    assert names(expand(appset([entry], name="{{.path.basename}}"), ctx)) == ["api", "web"]


def test_a_selector_key_that_is_not_a_label_key_is_an_error() -> None:
    entry = {"list": {"elements": [{"name": "a"}]}, "selector": {"matchLabels": {"path[0]": "apps"}}}
    with pytest.raises(ExpansionError, match=r"spec\.generators\[0\]\.selector"):
        expand(appset([entry]), EMPTY)


def test_a_selector_in_a_matrix_child_is_applied() -> None:
    first = {"list": {"elements": [{"name": "a"}, {"name": "b"}]}, "selector": {"matchLabels": {"name": "b"}}}
    second = {"list": {"elements": [{"env": "dev"}]}}
    assert names(expand(appset([{"matrix": {"generators": [first, second]}}]), EMPTY)) == ["b"]


# ---------------------------------------------------------------- clusters


def test_clusters_without_selector_end_with_the_in_cluster_entry() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example"), secret("dev", "https://dev.example")])
    assert names(expand(appset([{"clusters": {}}]), ctx)) == ["dev", "prod", "in-cluster"]


def test_a_cluster_selector_excludes_the_in_cluster_entry() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example", env="prod"), secret("dev", "https://dev.example")])
    assert names(expand(appset([{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}]), ctx)) == ["prod"]


def test_a_secret_for_the_local_server_replaces_the_in_cluster_entry() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("local", IN_CLUSTER)])
    assert names(expand(appset([{"clusters": {}}]), ctx)) == ["local"]


def test_the_in_cluster_entry_has_no_metadata_so_missingkey_error_fails_on_labels() -> None:
    spec = appset([{"clusters": {}}], name="{{ .metadata.labels.env }}", goTemplateOptions=["missingkey=error"])
    with pytest.raises(ExpansionError, match='no entry for key "metadata"'):
        expand(spec, ExpansionContext())


def test_cluster_secrets_sharing_a_name_are_refused() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://a.example"), secret("prod", "https://b.example")])
    with pytest.raises(UnsupportedError, match=r"spec\.generators\[0\]\.clusters.*share the name 'prod'"):
        expand(appset([{"clusters": {}}]), ctx)


def test_fasttemplate_cluster_labels_are_flat_keys_and_values_are_rendered() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example", env="prod")])
    generator = {"clusters": {"selector": {"matchLabels": {"env": "prod"}}, "values": {"ns": "team-{{metadata.labels.env}}"}}}
    spec = appset([generator], go=False, name="{{name}}-{{values.ns}}-{{metadata.annotations.team}}")
    assert names(expand(spec, ctx)) == ["prod-team-prod-platform"]


def test_go_template_cluster_labels_are_a_string_map() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example", env="prod")])
    generator = {"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}
    spec = appset([generator], name='{{ index .metadata.labels "env" }}-[{{ .metadata.labels.nope }}]', goTemplateOptions=["missingkey=zero"])
    assert names(expand(spec, ctx)) == ["prod-[]"]


def test_flat_list_yields_one_parameter_set_with_all_clusters() -> None:
    ctx = ExpansionContext(cluster_secrets=[secret("prod", "https://prod.example")])
    spec = appset([{"clusters": {"flatList": True}}], name="{{ len .clusters }}-{{ (index .clusters 0).name }}")
    assert names(expand(spec, ctx)) == ["2-prod"]


def test_base64_secret_data_is_decoded() -> None:
    encoded = {**secret("x", "x"), "stringData": None, "data": {"name": "cHJvZA==", "server": "aHR0cHM6Ly9wcm9k"}}
    ctx = ExpansionContext(cluster_secrets=[encoded])
    assert names(expand(appset([{"clusters": {}}], name="{{.name}}={{.server}}"), ctx))[0] == "prod=https://prod"


# ---------------------------------------------------------------- git files


def test_git_file_patterns_are_greedy_and_cross_directories(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"a/top.yaml": "name: top", "a/b/c/deep.yaml": "name: deep", "z.yaml": "name: z"})
    assert names(expand(appset([git_files("a/*.yaml")]), ctx)) == ["deep", "top"]


def test_a_literal_git_file_pattern_matches_everything_below_a_directory(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"cfg/a.json": '{"name": "a"}', "cfg/sub/b.json": '{"name": "b"}', "cfgx/c.json": '{"name": "c"}'})
    assert names(expand(appset([git_files("cfg")]), ctx)) == ["a", "b"]


def test_git_file_excludes_win_over_includes(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/a/config.json": '{"name": "a"}', "apps/b/config.json": '{"name": "b"}'})
    spec = appset([git_files("apps/*/config.json", "apps/b/config.json", exclude=("apps/b/*",))])
    assert names(expand(spec, ctx)) == ["a"]


def test_git_file_parameters_in_go_template_mode(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/My App/overlays/dev/config.json": '{"name": "web", "replicas": 1000000, "path": "lost"}'})
    template = "{{.name}}|{{.replicas}}|{{.path.path}}|{{.path.basename}}|{{.path.filenameNormalized}}|{{index .path.segments 1}}"
    apps = expand(appset([git_files("apps/*/overlays/dev/config.json")], name=template), ctx)
    assert names(apps) == ["web|1e+06|apps/My App/overlays/dev|dev|config.json|My App"]


def test_git_file_parameters_in_fasttemplate_mode_are_flattened(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/web/config.json": '{"app": {"name": "web", "ports": [80]}, "n": 1000000, "x": null}'})
    template = "{{app.name}}|{{app.ports.0}}|{{n}}|{{x}}|{{path}}|{{path[1]}}|{{path.filename}}"
    apps = expand(appset([git_files("apps/*/config.json")], go=False, name=template), ctx)
    assert names(apps) == ["web|80|1e+06|<nil>|apps/web|web|config.json"]


def test_a_git_file_at_the_repository_root_has_path_dot(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"config.json": '{"name": "root"}'})
    assert names(expand(appset([git_files("config.json")], name="{{.path.path}}{{.path.basename}}"), ctx)) == [".."]


def test_a_yaml_file_with_a_list_yields_one_set_per_item(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps.yaml": "- name: a\n- name: b\n---\n- name: ignored\n"})
    assert names(expand(appset([git_files("apps.yaml")]), ctx)) == ["a", "b"]


def test_yaml_scalars_resolve_as_go_yaml_does(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"v.yaml": "date: 2024-01-02\nexp: 1e3\nsexa: 1:20\nshort: y\non: x\n"})
    spec = appset([git_files("v.yaml")], name='{{.date}}|{{.exp}}|{{.sexa}}|{{.short}}|{{index . "true"}}')
    assert names(expand(spec, ctx)) == ["2024-01-02|1000|1:20|true|x"]


def test_a_git_file_that_is_not_an_object_is_an_expansion_error(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"bad.yaml": "just a string"})
    with pytest.raises(ExpansionError, match=r"unable to parse file bad\.yaml"):
        expand(appset([git_files("bad.yaml")]), ctx)


def test_git_files_larger_than_the_cap_are_refused(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"big.json": json.dumps({"name": "x" * 200})}, max_file_bytes=100)
    with pytest.raises(UnsupportedError, match="100-byte limit"):
        expand(appset([git_files("big.json")]), ctx)


def test_new_git_file_globbing_is_refused(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"a.json": "{}"}, new_git_file_globbing=True)
    with pytest.raises(UnsupportedError, match=r"new\.git\.file\.globbing"):
        expand(appset([git_files("*.json")]), ctx)


def test_expanding_a_thousand_git_files_takes_well_under_a_second(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {f"apps/app{i:04d}/config.json": json.dumps({"name": f"app{i}"}) for i in range(1000)})
    template = {
        "metadata": {"name": "{{.name}}-dev", "labels": {"app": "{{.path.segments | join \"-\"}}"}},
        "spec": {"project": "default", "source": {"path": "{{.path.path}}"}, "destination": {"server": IN_CLUSTER, "namespace": "{{.name}}"}},
    }
    start = time.perf_counter()
    apps = expand(appset([git_files("apps/*/config.json")], template=template), ctx)
    assert (len(apps), time.perf_counter() - start < 1.0) == (1000, True)


# ---------------------------------------------------------------- git directories


def test_a_directory_pattern_matches_one_level_only(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/a/k.yaml": "", "apps/a/nested/k.yaml": "", "apps/b/k.yaml": ""})
    assert names(expand(appset([git_dirs("apps/*")], name="{{.path.path}}"), ctx)) == ["apps/a", "apps/b"]


def test_directory_excludes_win_regardless_of_order(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/a/k.yaml": "", "apps/b/k.yaml": ""})
    spec = appset([{"git": {"repoURL": REPO, "revision": "HEAD", "directories": [
        {"path": "apps/b", "exclude": True}, {"path": "apps/*"}, {"path": "apps/b"}]}}], name="{{.path.basename}}")
    assert names(expand(spec, ctx)) == ["a"]


def test_hidden_directories_are_skipped_with_their_subtree(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/a/k.yaml": "", ".github/wf/k.yaml": "", "apps/.cache/k.yaml": ""})
    assert names(expand(appset([git_dirs("*", "*/*")], name="{{.path.path}}"), ctx)) == ["apps", "apps/a"]


def test_hidden_directories_can_be_included_by_setting(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/.cache/k.yaml": ""}, include_hidden_directories=True)
    assert names(expand(appset([git_dirs("apps/*")], name="{{.path.path}}"), ctx)) == ["apps/.cache"]


def test_directories_come_in_walk_pre_order(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"a/b/k": "", "a-c/k": "", "a/k": ""})
    assert names(expand(appset([git_dirs("*", "*/*")], name="{{.path.path}}"), ctx)) == ["a", "a/b", "a-c"]


def test_fasttemplate_directory_parameters_include_indexed_segments(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"clusters/Prod_EU/k.yaml": ""})
    spec = appset([git_dirs("clusters/*")], go=False, name="{{path[0]}}-{{path.basenameNormalized}}")
    assert names(expand(spec, ctx)) == ["clusters-prod-eu"]


# ---------------------------------------------------------------- repositories and projects


@pytest.mark.parametrize("url", ["https://GitHub.com/example/gitops", "https://github.com/example/gitops/", REPO])
def test_repository_urls_match_ignoring_trivial_differences(tmp_path: pathlib.Path, url: str) -> None:
    ctx = checkout(tmp_path, {"apps/a/k.yaml": ""})
    generator = {"git": {"repoURL": url, "revision": "main", "directories": [{"path": "apps/*"}]}}
    assert names(expand(appset([generator], name="{{.path.basename}}"), ctx)) == ["a"]


def test_an_unknown_repository_is_an_expansion_error_listing_the_known_ones(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"k": ""})
    generator = {"git": {"repoURL": "https://github.com/other/repo", "revision": "main", "directories": [{"path": "*"}]}}
    with pytest.raises(ExpansionError, match=r"repoURL.*other/repo.*known repositories: https://github\.com/example/gitops\.git"):
        expand(appset([generator]), ctx)


def test_an_empty_revision_is_an_expansion_error(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"k": ""})
    with pytest.raises(ExpansionError, match=r"spec\.generators\[0\]\.git\.revision"):
        expand(appset([{"git": {"repoURL": REPO, "revision": "", "directories": [{"path": "*"}]}}]), ctx)


def test_a_partial_checkout_answers_patterns_inside_its_prefix(tmp_path: pathlib.Path) -> None:
    (tmp_path / "apps" / "web").mkdir(parents=True)
    (tmp_path / "apps" / "web" / "config.json").write_text('{"name": "web"}')
    ctx = ExpansionContext(repos=[RepoCheckout(REPO, tmp_path, path_prefix="deploy")])
    apps = expand(appset([git_files("deploy/apps/*/config.json")], name="{{.name}}-{{.path.path}}"), ctx)
    assert names(apps) == ["web-deploy/apps/web"]


def test_a_partial_checkout_refuses_patterns_that_may_match_outside_it(tmp_path: pathlib.Path) -> None:
    ctx = ExpansionContext(repos=[RepoCheckout(REPO, tmp_path, path_prefix="deploy")])
    with pytest.raises(UnsupportedError, match="outside the checked-out part"):
        expand(appset([git_files("*/config.json")]), ctx)


def test_a_git_generator_fails_when_the_literal_project_is_missing(tmp_path: pathlib.Path) -> None:
    ctx = checkout(tmp_path, {"apps/a/k": ""}, projects={"other": {}})
    with pytest.raises(ExpansionError, match=r"spec\.template\.spec\.project.*'default'.*known projects: other"):
        expand(appset([git_dirs("apps/*")], name="{{.path.basename}}"), ctx)
