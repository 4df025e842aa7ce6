"""Parameter generators: list, clusters, git (directories, files), matrix, merge.

Each method mirrors one Argo CD generator and returns parameter sets; the
``Transform`` step (generator-level template merge, matrix interpolation and
the post-selector) is ``Generators.transform``. ``GENERATORS`` (end of module)
is the one table of evaluated generators, name -> implementation and fields;
``REFUSED`` names the generators that need live services (SCM providers, pull
requests, duck-typed resources, plugins): their output cannot be known offline.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from . import gotemplate
from .context import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, Cluster, ExpansionContext
from .errors import AppSetRef
from .govalues import StringList, StringMap, go_json, go_sprint, to_go_json
from .merging import fill_empty, override
from .names import sanitize_name
from .render import Renderer
from .repos import PatternError, RepoTree, go_path_match
from .selectors import Selector, SelectorError, flatten, parse_selector
from .yamlio import YamlError, load_first_document

Params = dict[str, Any]

# Struct order of ApplicationSetGenerator: the order results come out in.
GENERATOR_ORDER = ("list", "clusters", "git", "scmProvider", "clusterDecisionResource", "pullRequest", "matrix", "merge", "plugin")
# Generators whose parameters come from a live service, with the reason they are refused.
REFUSED: Mapping[str, str] = MappingProxyType({
    "scmProvider": "queries an SCM provider API",
    "clusterDecisionResource": "reads a duck-typed resource from the cluster",
    "pullRequest": "queries a pull-request API",
    "plugin": "calls a plugin service",
})


@dataclass(frozen=True)
class Result:
    """One generator's parameter sets and the template they render with."""

    params: list[Params]
    template: dict[str, Any]


@dataclass(frozen=True)
class Generators:
    """Generator evaluation for one ApplicationSet."""

    ref: AppSetRef
    ctx: ExpansionContext
    renderer: Renderer
    base_project: Any  # spec.template.spec.project, checked by the git generator

    @property
    def go(self) -> bool:
        return self.renderer.go_template

    # ------------------------------------------------------------ transform

    def transform(
        self,
        entry: Any,
        base_template: Mapping[str, Any],
        gen_params: Params,
        key: str,
        depth: int,
    ) -> list[Result]:
        """Argo's Transform for one generator entry. ``depth`` is 0 for
        spec.generators, 1 inside a matrix/merge, 2 inside a nested one."""
        if not isinstance(entry, Mapping):
            raise self.ref.error(key, "a generator must be an object")
        present = [k for k, v in entry.items() if v is not None]
        unknown = sorted(set(present) - set(GENERATOR_ORDER) - {"selector"})
        if unknown:
            close = difflib.get_close_matches(unknown[0], [*GENERATOR_ORDER, "selector"], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.ref.unsupported(
                key,
                f"unknown generator field(s) {unknown}; {hint}supported generators: {', '.join(GENERATORS)} "
                f"(with an optional selector); refused: {', '.join(REFUSED)}",
            )
        kinds = [k for k in GENERATOR_ORDER if entry.get(k) is not None]
        for kind in kinds:
            if kind in REFUSED:
                raise self.ref.unsupported(
                    f"{key}.{kind}",
                    f"the {kind} generator {REFUSED[kind]} and cannot be expanded offline; "
                    f"supported generators: {', '.join(GENERATORS)}",
                )
            if kind in ("matrix", "merge") and depth >= 2:
                raise self.ref.unsupported(
                    f"{key}.{kind}",
                    "a third level of matrix/merge nesting is not decoded by Argo CD; nest at most two levels",
                )
        selector: Selector | None = None
        if entry.get("selector") is not None:
            try:
                selector = parse_selector(entry["selector"], validate_values=False)
            except SelectorError as exc:
                raise self.ref.error(f"{key}.selector", f"error parsing label selector: {exc}") from None

        results: list[Result] = []
        for kind in kinds:
            body = entry[kind]
            path = f"{key}.{kind}"
            if not isinstance(body, Mapping):
                raise self.ref.error(path, f"the {kind} generator must be an object")
            generator = GENERATORS[kind]
            unknown_fields = sorted(set(body) - generator.fields)
            if unknown_fields:
                raise self.ref.unsupported(
                    path, f"unknown field(s) {unknown_fields}; valid: {', '.join(sorted(generator.fields))}"
                )
            own_template = body.get("template")
            if own_template is not None and not isinstance(own_template, Mapping):
                raise self.ref.error(f"{path}.template", "template must be an object with metadata and spec")
            merged = fill_empty(own_template, base_template)
            if gen_params:
                body = self.interpolate(kind, body, gen_params, path)
            params = generator.evaluate(self, body, path, depth)
            if selector is not None:
                params = [p for p in params if selector.matches(flatten(p))]
            results.append(Result(params, merged))
        return results

    # ------------------------------------------------------------ interpolation

    def interpolate(self, kind: str, body: Mapping[str, Any], params: Params, path: str) -> dict[str, Any]:
        """RenderGeneratorParams: the second matrix child rendered against one
        parameter set of the first. Its selector is not part of ``body`` and so
        stays uninterpolated, as in Argo CD."""
        if kind in ("matrix", "merge"):
            if self.go:
                self._refuse_templated_values(body, path)
            rendered: dict[str, Any] = self.renderer.tree(body, params, path)   # a mapping renders to one
            return rendered
        out: dict[str, Any] = {}
        for k, v in body.items():
            child = f"{path}.{k}"
            if k == "values" and isinstance(v, Mapping) and self.go:
                out[k] = {
                    self.renderer.string(vk, params, f"{child}.{vk}"): self._prerender_value(vv, params, f"{child}.{vk}")
                    for vk, vv in v.items()
                }
            else:
                out[k] = self.renderer.tree(v, params, child) if v is not None else None
        return out

    def _prerender_value(self, text: Any, params: Params, key: str) -> Any:
        """GT values are pre-rendered with missingkey=error; a missing key keeps
        the raw text so it can still refer to the child's own parameters."""
        if not isinstance(text, str):
            return text
        try:
            return gotemplate.render(text, params, "error")
        except gotemplate.MissingKeyError:
            return text
        except (gotemplate.TemplateError, gotemplate.TemplateUnsupported):
            return self.renderer.string(text, params, key, missingkey="error")  # raises, located

    def _refuse_templated_values(self, body: Any, path: str) -> None:
        if isinstance(body, Mapping):
            for k, v in body.items():
                if k == "values" and isinstance(v, Mapping) and any(isinstance(x, str) and "{{" in x for x in v.values()):
                    raise self.ref.unsupported(
                        f"{path}.{k}",
                        "templated values inside a matrix/merge that is the second child of a matrix "
                        "(whether Argo pre-renders them with missingkey=error there is not established)",
                    )
                self._refuse_templated_values(v, f"{path}.{k}")
        elif isinstance(body, list):
            for i, v in enumerate(body):
                self._refuse_templated_values(v, f"{path}[{i}]")

    # ------------------------------------------------------------ values

    def add_values(self, params: Params, values: Any, path: str) -> Params:
        """appendTemplatedValues: values rendered against the generator's own
        parameters (never against each other), then added."""
        if values is None:
            return params
        if not isinstance(values, Mapping) or not all(isinstance(v, str) for v in values.values()):
            raise self.ref.error(f"{path}.values", "values must map strings to strings")
        if not values:
            return params
        rendered = {str(k): self.renderer.string(v, params, f"{path}.values.{k}") for k, v in values.items()}
        if self.go:
            params["values"] = StringMap(rendered)
        else:
            for k, v in rendered.items():
                params[f"values.{k}"] = v
        return params

    # ------------------------------------------------------------ list

    def list_params(self, body: Mapping[str, Any], path: str, depth: int) -> list[Params]:
        out: list[Params] = []
        elements = body.get("elements")
        if elements is not None and not isinstance(elements, list):
            raise self.ref.error(f"{path}.elements", "elements must be a list of objects")
        for i, element in enumerate(elements or []):
            where = f"{path}.elements[{i}]"
            if element is None:
                out.append({})
                continue
            if not isinstance(element, Mapping):
                raise self.ref.error(where, "error unmarshling list element: each element must be an object")
            try:
                data = to_go_json(dict(element))
            except ValueError as exc:
                raise self.ref.unsupported(where, str(exc)) from None
            out.append(data if self.go else self._fasttemplate_element(data, where))
        raw_yaml = body.get("elementsYaml")
        if raw_yaml is not None and raw_yaml != "":
            if not isinstance(raw_yaml, str):
                raise self.ref.error(f"{path}.elementsYaml", "elementsYaml must be a string")
            try:
                parsed = load_first_document(raw_yaml)
            except YamlError as exc:
                raise self.ref.error(f"{path}.elementsYaml", f"error unmarshling decoded ElementsYaml: {exc}") from None
            if parsed is None:
                parsed = []
            if not isinstance(parsed, list) or not all(e is None or isinstance(e, dict) for e in parsed):
                raise self.ref.error(f"{path}.elementsYaml", "error unmarshling decoded ElementsYaml: expected a list of objects")
            out.extend(dict(e or {}) for e in parsed)
        return out

    def _fasttemplate_element(self, element: Mapping[str, Any], where: str) -> Params:
        params: Params = {}
        for k, v in element.items():
            if k == "values":
                if not isinstance(v, dict):
                    raise self.ref.error(f"{where}.values", "error parsing values map: values must be an object of strings")
                for vk, vv in v.items():
                    if not isinstance(vv, str):
                        raise self.ref.error(
                            f"{where}.values.{vk}",
                            f"error parsing value as string: got {go_sprint(vv)!r}; quote it (fasttemplate needs strings)",
                        )
                    params[f"values.{vk}"] = vv
            elif isinstance(v, str):
                params[k] = v
            else:
                raise self.ref.error(
                    f"{where}.{k}",
                    f"error parsing value as string: got {go_sprint(v)!r}; with goTemplate: false every element value must be a string",
                )
        return params

    # ------------------------------------------------------------ clusters

    def cluster_params(self, body: Mapping[str, Any], path: str, depth: int) -> list[Params]:
        try:
            selector = parse_selector(body.get("selector"), validate_values=True)
        except SelectorError as exc:
            raise self.ref.error(f"{path}.selector", str(exc)) from None
        selected = [c for c in self.ctx.clusters if selector.matches(c.labels)]
        by_name: dict[str, Cluster] = {}
        for cluster in selected:
            if cluster.name in by_name:
                raise self.ref.unsupported(
                    path,
                    f"cluster secrets {by_name[cluster.name].secret} and {cluster.secret} share the name "
                    f"{cluster.name!r}; Argo CD keeps an arbitrary one of them. Give every cluster a unique name",
                )
            by_name[cluster.name] = cluster
        out: list[Params] = []
        for name in sorted(by_name):
            out.append(self.add_values(self._cluster(by_name[name]), body.get("values"), path))
        if selector.is_empty and not any(c.server == IN_CLUSTER_SERVER for c in self.ctx.clusters):
            if not self.ctx.in_cluster_enabled:
                raise self.ref.unsupported(
                    path,
                    "with in-cluster disabled it is not established whether the cluster generator still yields "
                    "the in-cluster entry; add a selector to the clusters generator",
                )
            local: Params = {"name": IN_CLUSTER_NAME, "nameNormalized": IN_CLUSTER_NAME, "server": IN_CLUSTER_SERVER, "project": ""}
            out.append(self.add_values(local, body.get("values"), path))
        flat = body.get("flatList")
        if flat is not None and not isinstance(flat, bool):
            raise self.ref.error(f"{path}.flatList", "flatList must be a boolean")
        if flat:
            return [{"clusters": out}]
        return out

    def _cluster(self, cluster: Cluster) -> Params:
        params: Params = {
            "name": cluster.name,
            "nameNormalized": sanitize_name(cluster.name),
            "server": cluster.server,
            "project": cluster.project or "",
        }
        if self.go:
            meta: Params = {}
            if cluster.annotations:
                meta["annotations"] = cluster.annotations
            if cluster.labels:
                meta["labels"] = cluster.labels
            params["metadata"] = meta
        else:
            for k, v in cluster.annotations.items():
                params[f"metadata.annotations.{k}"] = v
            for k, v in cluster.labels.items():
                params[f"metadata.labels.{k}"] = v
        return params

    # ------------------------------------------------------------ git

    def git_params(self, body: Mapping[str, Any], path: str, depth: int) -> list[Params]:
        repo_url = body.get("repoURL")
        if not isinstance(repo_url, str) or not repo_url:
            raise self.ref.error(f"{path}.repoURL", "repoURL is required and must be a non-empty string")
        revision = body.get("revision")
        if not isinstance(revision, str) or not revision:
            raise self.ref.error(f"{path}.revision", "revision is required (a branch, tag, commit or HEAD)")
        prefix = body.get("pathParamPrefix") or ""
        if not isinstance(prefix, str):
            raise self.ref.error(f"{path}.pathParamPrefix", "pathParamPrefix must be a string")
        self._check_project()
        tree = self.ctx.repo_index.tree(repo_url)
        if tree is None:
            known = ", ".join(self.ctx.repo_index.known_urls) or "none"
            raise self.ref.error(f"{path}.repoURL", f"repository {repo_url!r} matches no checkout; known repositories: {known}")
        directories, files = body.get("directories"), body.get("files")
        if directories and files:
            raise self.ref.unsupported(path, "set either directories or files, not both")
        if directories:
            return self._git_directories(tree, directories, prefix, body.get("values"), path)
        if files:
            return self._git_files(tree, files, prefix, body.get("values"), path)
        raise self.ref.error(path, "the git generator needs directories or files (ApplicationSet generator is empty)")

    def _check_project(self) -> None:
        project = self.base_project
        if self.ctx.projects is None or (isinstance(project, str) and "{{" in project):
            return
        if not isinstance(project, str) or project not in self.ctx.projects:
            known = ", ".join(sorted(self.ctx.projects)) or "none"
            raise self.ref.error(
                "spec.template.spec.project",
                f"error getting project {project!r}: the git generator needs this AppProject in "
                f"{self.ctx.argocd_namespace}; known projects: {known}",
            )

    def _items(self, items: Any, path: str) -> list[tuple[str, bool, str]]:
        if not isinstance(items, list):
            raise self.ref.error(path, "must be a list of {path, exclude}")
        out = []
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
                raise self.ref.error(where, "each item needs a string path (and an optional boolean exclude)")
            exclude = item.get("exclude", False)
            if not isinstance(exclude, bool):
                raise self.ref.error(f"{where}.exclude", "exclude must be a boolean")
            out.append((item["path"], exclude, where))
        return out

    def _git_directories(self, tree: RepoTree, items: Any, prefix: str, values: Any, path: str) -> list[Params]:
        patterns = self._items(items, f"{path}.directories")
        for pattern, exclude, where in patterns:
            if not exclude and not tree.covers(pattern, files=False):
                raise self.ref.unsupported(
                    f"{where}.path",
                    f"pattern {pattern!r} can match directories outside the checked-out part "
                    f"{tree.checkout.path_prefix!r} of the repository; check out the repository root",
                )
        usable = []
        for pattern, exclude, _ in patterns:
            try:
                go_path_match(pattern, "")
            except PatternError:
                continue  # Argo logs a malformed pattern and skips it
            usable.append((pattern, exclude))
        out: list[Params] = []
        for directory in tree.directories(self.ctx.include_hidden_directories):
            included = excluded = False
            for pattern, exclude in usable:
                if go_path_match(pattern, directory):
                    excluded |= exclude
                    included |= not exclude
            if included and not excluded:
                out.append(self.add_values(self._directory(directory, prefix), values, path))
        return out

    def _directory(self, directory: str, prefix: str) -> Params:
        base = posixpath.basename(directory)
        if self.go:
            value = {"path": directory, "basename": base, "basenameNormalized": sanitize_name(base),
                     "segments": StringList(directory.split("/"))}
            return {prefix: {"path": value}} if prefix else {"path": value}
        name = f"{prefix}.path" if prefix else "path"
        params: Params = {name: directory, f"{name}.basename": base, f"{name}.basenameNormalized": sanitize_name(base)}
        for i, segment in enumerate(directory.split("/")):
            if segment:
                params[f"{name}[{i}]"] = segment
        return params

    def _git_files(self, tree: RepoTree, items: Any, prefix: str, values: Any, path: str) -> list[Params]:
        if self.ctx.new_git_file_globbing:
            raise self.ref.unsupported(
                f"{path}.files", "applicationsetcontroller.enable.new.git.file.globbing=true (doublestar globbing) is not implemented"
            )
        patterns = self._items(items, f"{path}.files")
        for pattern, exclude, where in patterns:
            problem = _pathspec_problem(pattern)
            if problem:
                raise self.ref.unsupported(f"{where}.path", f"pathspec {pattern!r}: {problem}")
            if not exclude and not tree.covers(pattern, files=True):
                raise self.ref.unsupported(
                    f"{where}.path",
                    f"pattern {pattern!r} can match files outside the checked-out part "
                    f"{tree.checkout.path_prefix!r} of the repository; check out the repository root",
                )
        try:
            matched: set[str] = set()
            for pattern, exclude, _ in patterns:
                if not exclude:
                    matched.update(tree.files_matching(pattern))
            for pattern, exclude, _ in patterns:
                if exclude:
                    matched.difference_update(tree.files_matching(pattern))
        except PatternError as exc:
            raise self.ref.unsupported(f"{path}.files", str(exc)) from None
        out: list[Params] = []
        for repo_path in sorted(matched):
            for obj in self._file_objects(tree, repo_path, path):
                out.append(self.add_values(self._file(obj, repo_path, prefix), values, path))
        return out

    def _file_objects(self, tree: RepoTree, repo_path: str, path: str) -> list[dict[str, Any]]:
        cache = tree.parsed_files
        if repo_path in cache:
            cached: list[dict[str, Any]] = cache[repo_path]
            return cached
        where = f"{path}.files"
        if repo_path in tree.symlinks:
            raise self.ref.unsupported(where, f"{repo_path} is a symbolic link; reading links is not supported")
        raw = tree.read(repo_path, self.ctx.max_file_bytes + 1)
        if len(raw) > self.ctx.max_file_bytes:
            raise self.ref.unsupported(where, f"{repo_path} is larger than the {self.ctx.max_file_bytes}-byte limit for generator files")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.ref.error(where, f"unable to parse file {repo_path}: not UTF-8 text") from None
        try:
            parsed = load_first_document(text)
        except YamlError as exc:
            raise self.ref.error(where, f"unable to parse file {repo_path}: {exc}") from None
        if parsed is None:
            objects: list[dict[str, Any]] = [{}]
        elif isinstance(parsed, dict):
            objects = [parsed]
        elif isinstance(parsed, list) and all(e is None or isinstance(e, dict) for e in parsed):
            objects = [e or {} for e in parsed]
        else:
            raise self.ref.error(where, f"unable to parse file {repo_path}: expected an object or a list of objects")
        cache[repo_path] = objects
        return objects

    def _file(self, obj: Mapping[str, Any], repo_path: str, prefix: str) -> Params:
        directory = posixpath.dirname(repo_path) or "."
        base = posixpath.basename(directory) if directory != "." else "."
        filename = posixpath.basename(repo_path)
        if self.go:
            params: Params = dict(obj)
            value = {"path": directory, "basename": base, "filename": filename,
                     "basenameNormalized": sanitize_name(base), "filenameNormalized": sanitize_name(filename),
                     "segments": StringList(directory.split("/"))}
            if prefix:
                params[prefix] = {"path": value}
            else:
                params["path"] = value
            return params
        params = flatten(obj)
        name = f"{prefix}.path" if prefix else "path"
        params.update({name: directory, f"{name}.basename": base, f"{name}.filename": filename,
                       f"{name}.basenameNormalized": sanitize_name(base), f"{name}.filenameNormalized": sanitize_name(filename)})
        for i, segment in enumerate(directory.split("/")):
            if segment:
                params[f"{name}[{i}]"] = segment
        return params

    # ------------------------------------------------------------ matrix / merge

    def _children(self, body: Mapping[str, Any], path: str) -> list[Any]:
        children = body.get("generators")
        if not isinstance(children, list):
            raise self.ref.error(f"{path}.generators", "generators must be a list")
        return children

    def _child_params(self, child: Any, gen_params: Params, key: str, depth: int, combinator: str) -> list[Params]:
        results = self.transform(child, {}, gen_params, key, depth + 1)
        if not results:
            raise self.ref.error(key, f"child generator generated no parameters: the {combinator} child names no generator")
        if len(results) > 1:
            raise self.ref.error(key, f"found more than one generator in {combinator}.generators; give each child exactly one")
        return results[0].params

    def matrix_params(self, body: Mapping[str, Any], path: str, depth: int) -> list[Params]:
        children = self._children(body, path)
        if len(children) != 2:
            raise self.ref.error(
                f"{path}.generators", f"found {len(children)} generators; a matrix needs exactly two child generators"
            )
        first_key, second_key = f"{path}.generators[0]", f"{path}.generators[1]"
        out: list[Params] = []
        for a in self._child_params(children[0], {}, first_key, depth, "matrix"):
            for b in self._child_params(children[1], a, second_key, depth, "matrix"):
                out.append(override(b, a) if self.go else self._combine(a, b, path))
        return out

    def _combine(self, a: Params, b: Params, path: str) -> Params:
        """CombineStringMaps: everything stringified, conflicting keys fail."""
        result = {k: go_sprint(v) for k, v in a.items()}
        for k, v in b.items():
            value = go_sprint(v)
            if k in result and result[k] != value:
                raise self.ref.error(
                    path,
                    f"found duplicate key {k} with different value, a: {result[k]} ,b: {value}; "
                    "give one of the git generators a pathParamPrefix or use goTemplate",
                )
            result[k] = value
        return result

    def merge_params(self, body: Mapping[str, Any], path: str, depth: int) -> list[Params]:
        children = self._children(body, path)
        if len(children) < 2:
            raise self.ref.error(f"{path}.generators", "found less than two generators, Merge requires two or more")
        merge_keys = body.get("mergeKeys")
        if not isinstance(merge_keys, list) or not all(isinstance(k, str) for k in merge_keys):
            raise self.ref.error(f"{path}.mergeKeys", "mergeKeys must be a list of parameter names")
        if not merge_keys:
            raise self.ref.error(f"{path}.mergeKeys", "no merge keys were specified, Merge requires at least one")
        keys = sorted(set(merge_keys))
        param_sets = [self._child_params(child, {}, f"{path}.generators[{i}]", depth, "merge") for i, child in enumerate(children)]
        base = self._by_merge_key(keys, param_sets[0], f"{path}.generators[0]")
        for i, sets in enumerate(param_sets[1:], start=1):
            others = self._by_merge_key(keys, sets, f"{path}.generators[{i}]")
            for merge_key, base_set in base.items():
                other = others.get(merge_key)
                if other is not None:
                    base[merge_key] = override(base_set, other) if self.go else {**base_set, **other}
        return list(base.values())

    def _by_merge_key(self, keys: Sequence[str], sets: list[Params], path: str) -> dict[str, Params]:
        out: dict[str, Params] = {}
        for params in sets:
            identity = go_json({k: params.get(k) for k in keys})
            if identity in out:
                raise self.ref.error(
                    path,
                    "the parameters from a generator were not unique by the given mergeKeys, Merge requires all "
                    f"param sets to be unique. Duplicate key was {identity}",
                )
            out[identity] = params
        return out


GeneratorFn = Callable[[Generators, Mapping[str, Any], str, int], "list[Params]"]


@dataclass(frozen=True)
class GeneratorSpec:
    """One evaluated generator: its implementation, called with the engine, the
    generator's body, its key path and the matrix/merge nesting depth (only the
    combinators use the depth), and the fields Argo CD's CRD gives it (anything
    else is refused rather than ignored, so a misspelt field is not silent)."""

    evaluate: GeneratorFn
    fields: frozenset[str]


# The generators this evaluator expands, in GENERATOR_ORDER. The package
# docstring's scope statement lists exactly these keys (a test checks it).
GENERATORS: Mapping[str, GeneratorSpec] = MappingProxyType({
    "list": GeneratorSpec(Generators.list_params, frozenset({"elements", "elementsYaml", "template"})),
    "clusters": GeneratorSpec(Generators.cluster_params, frozenset({"selector", "values", "template", "flatList"})),
    "git": GeneratorSpec(Generators.git_params, frozenset({
        "repoURL", "revision", "directories", "files", "pathParamPrefix", "values", "template", "requeueAfterSeconds"})),
    "matrix": GeneratorSpec(Generators.matrix_params, frozenset({"generators", "template"})),
    "merge": GeneratorSpec(Generators.merge_params, frozenset({"generators", "mergeKeys", "template"})),
})
SUPPORTED = tuple(GENERATORS)


_PATHSPEC_UNSUPPORTED = (
    (lambda p: p == "", "an empty pathspec"),
    (lambda p: p.startswith(":"), "pathspec magic (':(...)')"),
    (lambda p: p.startswith("/"), "an absolute path (git resolves it against the filesystem)"),
    (lambda p: any(part in (".", "..") for part in p.split("/")), "'.' or '..' components"),
)


def _pathspec_problem(pattern: str) -> str | None:
    for test, problem in _PATHSPEC_UNSUPPORTED:
        if test(pattern):
            return f"{problem} is not supported"
    return None
