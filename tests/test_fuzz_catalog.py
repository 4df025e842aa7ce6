"""Randomised catalog input never crashes the tool: it renders, or it exits 2 with one message.

Hypothesis generates service files from the catalog's real fields with values
of every YAML type (and unknown keys), so each field's reader meets strings
where it wants numbers, lists where it wants maps, nulls, huge numbers and
odd Unicode.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import REPO_ROOT
from gitops.cli import main

FIELDS = ("team", "description", "image", "ports", "health", "resources", "ingress", "autoscaling", "config",
          "secrets", "environments", "command", "args", "namespace", "name")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["8080", "250m", "1Gi", "latest", "dev", "prod", "http", "/healthz", "", "-1", "1.4.2"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(["cpu", "memory", "requests", "limits", "tag", "name",
                                               "containerPort", "servicePort", "path", "host", "minReplicas",
                                               "maxReplicas", "dev", "prod", "replicas", "liveness", "readiness"]),
                              st.text(max_size=10)), inner, max_size=4),
), max_leaves=12)
services = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), values, max_size=8)


def render(project: Path, out: Path) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(["render", "--stack", "dev", "--dry-run", "--project", str(project), "--out", str(out)])
    return code, err.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service=services)
def test_any_service_file_renders_or_fails_with_one_clear_error(service: dict[Any, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        for stack_file in REPO_ROOT.glob("Pulumi*.yaml"):
            shutil.copyfile(stack_file, project / stack_file.name)
        (project / "services").mkdir()
        shutil.copyfile(REPO_ROOT / "services" / "cart.yaml", project / "services" / "cart.yaml")
        (project / "services" / "fuzzed.yaml").write_text(yaml.safe_dump(service, allow_unicode=True))
        code, err = render(project, Path(tmp) / "out")
        assert code in (0, 2), err
        assert "Traceback" not in err
        if code == 2:
            assert err.startswith("Error: ")


# --- claims: names, namespaces, hosts and secrets that belong to someone else -------------------------
# Values a tenant might claim: the platform's own names and namespaces, other teams' namespaces, the
# example's hosts (web-frontend is www, Argo CD is argocd) and secret names that meet other services'.
CLAIMED_NAMES = ("root", "argocd", "argocd-server", "argocd-repo-server", "argocd-image-updater",
                 "sealed-secrets-controller", "metrics-server", "cluster-autoscaler", "cart", "web", "web-frontend",
                 "a--b", "a", "api", "gitops", "fuzzed", "billing", "billing-api")
CLAIMED_NAMESPACES = ("argocd", "kube-system", "kube-public", "kube-node-lease", "default", "checkout", "storefront",
                      "platform", "shop-shared", "sealed-secrets", "monitoring", "Argo_CD", "")
claimed = st.fixed_dictionaries(
    {"team": st.sampled_from(("checkout", "storefront", "platform", "argocd", "gitops", "kube-system", "default",
                              "platform-gateway", "root")),
     "image": st.just({"tag": "1.0.0"}),
     "ports": st.just([{"name": "http", "containerPort": 8080}])},
    optional={
        "namespace": st.sampled_from(CLAIMED_NAMESPACES),
        "ingress": st.fixed_dictionaries({"host": st.sampled_from(("www", "argocd", "api", "root", "cart"))},
                                         optional={"path": st.sampled_from(("/", "/api", "/api/", "//", "/x"))}),
        "secrets": st.lists(st.sampled_from(("B__C", "C", "KEY", "API_KEY", "_X", "STRIPE_API_KEY")),
                            unique=True, max_size=3),
    },
)
namespaces_files = st.one_of(
    st.none(), st.none(), st.none(),
    st.fixed_dictionaries({"shared": st.dictionaries(st.sampled_from(CLAIMED_NAMESPACES),
                                                     st.lists(st.sampled_from(("checkout", "storefront", "root", "X_Y")),
                                                              max_size=3), max_size=3)}),
    values,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(CLAIMED_NAMES), service=claimed, second=st.sampled_from(CLAIMED_NAMES),
       other=claimed, shared=namespaces_files)
def test_claims_on_what_is_not_the_services_render_or_fail_with_one_clear_error(
        name: str, service: dict[str, Any], second: str, other: dict[str, Any], shared: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        for stack_file in REPO_ROOT.glob("Pulumi*.yaml"):
            shutil.copyfile(stack_file, project / stack_file.name)
        (project / "services").mkdir()
        for example in ("cart", "web-frontend"):
            shutil.copyfile(REPO_ROOT / "services" / f"{example}.yaml", project / "services" / f"{example}.yaml")
        (project / "services" / f"{name}.yaml").write_text(yaml.safe_dump(service))
        (project / "services" / f"{second}.yaml").write_text(yaml.safe_dump(other))
        if shared is not None:
            (project / "services" / "_namespaces.yaml").write_text(yaml.safe_dump(shared, allow_unicode=True))
        code, err = render(project, Path(tmp) / "out")
        event(f"exit {code}")
        assert code in (0, 2), err
        assert "Traceback" not in err
        if code == 2:
            lines = err.splitlines()
            assert lines[0].startswith("Error: ") and not any(line.startswith("Error:") for line in lines[1:]), err


# --- hostile YAML: text yaml.safe_dump never writes -------------------------------------------------
# Dates (possible and impossible), keys YAML reads as numbers, booleans or null next to string keys,
# numbers too large for any arithmetic, explicit tags the constructor cannot build, aliases (one of
# them a billion-laughs expansion) and keys with control characters, at any place of a service file.


@dataclass(frozen=True)
class Raw:
    """YAML source written exactly as is, where a key or a value goes."""

    text: str


LAUGHS = "".join(f"  - &l{n} [{', '.join([f'*l{n - 1}' if n else 'lol'] * 9)}]\n" for n in range(9))
dates = st.builds(lambda y, m, d, t: Raw(f"{y:04d}-{m:02d}-{d:02d}{t}"), st.integers(0, 9999), st.integers(0, 19),
                  st.integers(0, 39), st.sampled_from(["", " 10:00:00", "T25:61:61Z", "t00:00:00.5+14:00"]))
huge_numbers = st.one_of(
    st.integers(min_value=10**18, max_value=10**400).map(lambda n: Raw(str(n))),
    st.builds(lambda m, e, q: Raw(f"{q}{m}e{e}{q}"), st.integers(1, 999), st.integers(-10**12, 10**12),
              st.sampled_from(["", '"'])),
    st.sampled_from([Raw("1" * 5000), Raw(".inf"), Raw("-.inf"), Raw(".nan"), Raw('"1e999999999"'), Raw("0x" + "f" * 99)]),
)
tagged = st.sampled_from([Raw("!!int 12x"), Raw("!!timestamp 2023-13-45"), Raw("!!float x"), Raw("!!bool maybe"),
                          Raw("!foo bar"), Raw("!!binary é"), Raw("!!str 1"), Raw("!!set {a, b}")])
aliases = st.sampled_from([Raw("*a"), Raw("*l8")])
hostile_scalars = st.one_of(dates, huge_numbers, tagged, aliases)
odd_keys = st.one_of(
    st.integers(-3, 3).map(lambda n: Raw(str(n))),
    st.sampled_from([Raw("on"), Raw("no"), Raw("~"), Raw("1.5"), Raw("2023-01-01"), Raw("2023-13-45"), Raw("<<")]),
    st.text(st.characters(max_codepoint=0x2FFF), min_size=1, max_size=8),   # control characters included
)
hostile_values = st.recursive(st.one_of(scalars, hostile_scalars), lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from((*FIELDS, "cpu", "memory", "requests", "dev", "prod", "tag")), odd_keys),
                    inner, max_size=3),
), max_leaves=10)
hostile_services = st.dictionaries(st.one_of(st.sampled_from(FIELDS), odd_keys), hostile_values, min_size=1, max_size=6)
# A valid service with hostile values where they are read: quantities, config, description, ports, overrides.
some = st.one_of(hostile_scalars, scalars)
near_valid_services = st.fixed_dictionaries({
    "team": st.one_of(st.just("checkout"), some),
    "image": st.fixed_dictionaries({"tag": st.one_of(st.just("1.0.0"), dates, some)}),
    "ports": st.lists(st.fixed_dictionaries({"containerPort": st.one_of(st.just(8080), some)}), min_size=1, max_size=1),
    "resources": st.fixed_dictionaries({"requests": st.fixed_dictionaries({"cpu": st.one_of(st.just("250m"), huge_numbers, some),
                                                                           "memory": st.one_of(st.just("256Mi"), huge_numbers)})}),
    "config": st.dictionaries(st.one_of(st.sampled_from(["A", "B_C"]), odd_keys), some, max_size=3),
    "description": st.one_of(st.just("fine"), some),
    "environments": st.dictionaries(st.one_of(st.sampled_from(["dev", "prod"]), odd_keys),
                                    st.fixed_dictionaries({"replicas": st.one_of(st.just(2), some)}), max_size=2),
})


def _key(key: Any) -> str:
    return key.text if isinstance(key, Raw) else json.dumps(str(key), ensure_ascii=False)


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(value, ensure_ascii=False)   # null, true, numbers and double-quoted strings are YAML too


def emit(value: Any, pad: str = "") -> str:
    """Block-style YAML of ``value`` with Raw keys and values written as they are."""
    lines = []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        lead = f"{pad}{_key(key)}:" if isinstance(value, dict) else f"{pad}-"
        if isinstance(item, (dict, list)) and item:
            lines.append(f"{lead}\n{emit(item, pad + '  ')}")
        else:
            lines.append(f"{lead} {_scalar(item)}\n")
    return "".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service=st.one_of(hostile_services, near_valid_services))
def test_hostile_yaml_renders_or_fails_with_one_short_clear_error(service: dict[Any, Any]) -> None:
    text = emit(service)
    if "*a" in text or "*l8" in text:
        text = "x-anchors:\n  - &a [lol]\n" + LAUGHS + text
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        for stack_file in REPO_ROOT.glob("Pulumi*.yaml"):
            shutil.copyfile(stack_file, project / stack_file.name)
        (project / "services").mkdir()
        shutil.copyfile(REPO_ROOT / "services" / "cart.yaml", project / "services" / "cart.yaml")
        (project / "services" / "fuzzed.yaml").write_text(text, encoding="utf-8")
        code, err = render(project, Path(tmp) / "out")
        event(f"exit {code}")
        assert code in (0, 2), err
        assert "Traceback" not in err
        if code == 2:
            lines = err.splitlines()
            assert lines[0].startswith("Error: ") and not any(line.startswith("Error:") for line in lines[1:]), err
            assert len(err) < 20_000, f"{len(err)} characters of error"
