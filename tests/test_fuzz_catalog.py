"""Randomised catalog input never crashes the tool: it renders, or it exits 2 with one message.

Hypothesis generates service files from the catalog's real fields with values
of every YAML type (and unknown keys), so each field's reader meets strings
where it wants numbers, lists where it wants maps, nulls, huge numbers and
odd Unicode.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops.cli import main

from conftest import REPO_ROOT

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
