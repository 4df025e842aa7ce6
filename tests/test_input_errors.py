"""Bad input: one small edit of the example project per case.

Every case must exit 2 with exactly one ``Error:`` message on stderr (no
traceback) that names the file, the key path and what would be valid, and
must leave the output directory as it was (not created, or unchanged).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
Edit = Callable[[Path, Path], None]  # (project root, output path)


# --- edits ---------------------------------------------------------------------------------------
def replace(file: str, old: str, new: str) -> Edit:
    def edit(project: Path, out: Path) -> None:
        path = project / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{file}: the example changed, {old!r} is not there exactly once"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return edit


def rename(file: str, new: str) -> Edit:
    def edit(project: Path, out: Path) -> None:
        (project / file).rename(project / new)
    return edit


def copy_as(file: str, new: str, prepend: str = "") -> Edit:
    def edit(project: Path, out: Path) -> None:
        (project / new).write_text(prepend + (project / file).read_text(encoding="utf-8"), encoding="utf-8")
    return edit


def empty_catalog(project: Path, out: Path) -> None:
    shutil.rmtree(project / "services")
    (project / "services").mkdir()


def invalid_utf8(project: Path, out: Path) -> None:
    path = project / "services/payments.yaml"
    data = path.read_bytes()
    assert b"authorisation" in data
    path.write_bytes(data.replace(b"authorisation", b"authori\xe9ation"))  # Latin-1 e-acute


def out_is_a_file(project: Path, out: Path) -> None:
    out.write_text("not a directory\n", encoding="utf-8")


def both(*edits: Edit) -> Edit:
    def edit(project: Path, out: Path) -> None:
        for e in edits:
            e(project, out)
    return edit


def line_of(file: str, prefix: str) -> int:
    """1-based line number of the example file's line starting with ``prefix``."""
    lines = (REPO_ROOT / file).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))


LONG_NAME = "a" * 64
PAYMENTS = "services/payments.yaml"
DEV = "Pulumi.dev.yaml"
PROD = "Pulumi.prod.yaml"
STAGING = "Pulumi.staging.yaml"


def directory_as(file: str) -> Edit:
    def edit(project: Path, out: Path) -> None:
        (project / file).mkdir()
    return edit


def append(file: str, text: str) -> Edit:
    def edit(project: Path, out: Path) -> None:
        path = project / file
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return edit


@dataclass(frozen=True)
class Bad:
    edit: Edit
    expect: tuple[str, ...]            # the file, the key path and what is valid, as the message must say them
    argv: tuple[str, ...] = ("--all",)
    out_is_file: bool = False          # the case needs the output path to be a regular file


CASES = [
    pytest.param(Bad(replace(PAYMENTS, "description: Payment authorisation", "description: Payment: authorisation"),
                     (PAYMENTS, f"line {line_of(PAYMENTS, 'description:')},", "invalid YAML")),
                 id="a service file has a YAML syntax error"),
    pytest.param(Bad(replace(PAYMENTS, "team: checkout\n", "team: checkout\nteam: payments\n"),
                     (PAYMENTS, f"line {line_of(PAYMENTS, 'team:') + 1},", "duplicate key 'team'")),
                 id="a service file repeats a key"),
    pytest.param(Bad(replace(PAYMENTS, "containerPort: 8080", 'containerPort: "abc"'),
                     (f"{PAYMENTS}: ports[0].containerPort: expected an integer, got a string",)),
                 id="a container port is a string"),
    pytest.param(Bad(replace(DEV, "availabilityZones: 2", 'availabilityZones: "two"'),
                     (f"{DEV}: config.gitops-platform:cluster.availabilityZones: expected an integer, got a string",)),
                 id="a stack's availability zone count is a string"),
    pytest.param(Bad(replace("services/api-gateway.yaml", "    replicas: 4", "    replicsa: 4"),
                     ("services/api-gateway.yaml: environments.prod.replicsa: unknown key (did you mean 'replicas'?)",)),
                 id="an environment override misspells replicas"),
    pytest.param(Bad(replace(PAYMENTS, "team: checkout", "tema: checkout"),
                     (f"{PAYMENTS}: tema: unknown key (did you mean 'team'?)",)),
                 id="a service file misspells team"),
    pytest.param(Bad(rename(PAYMENTS, "services/Payments_API.yaml"),
                     ("services/Payments_API.yaml: the file name gives the service name",
                      "use lowercase letters, digits and '-'")),
                 id="the file name is no valid service name"),
    pytest.param(Bad(rename(PAYMENTS, f"services/{LONG_NAME}.yaml"),
                     (f"services/{LONG_NAME}.yaml: the file name gives the service name", "64 characters, at most 63 allowed")),
                 id="the service name is 64 characters long"),
    pytest.param(Bad(copy_as(PAYMENTS, "services/payments-v2.yaml", prepend="name: payments\n"),
                     ("services/payments-v2.yaml: name: 'payments' differs from the file name",
                      "rename the file to payments.yaml or fix the name")),
                 id="a second file declares an existing service name"),
    pytest.param(Bad(copy_as(PAYMENTS, "services/payments.yml"),
                     ("services/payments.yml: name: service 'payments' is already defined in services/payments.yaml",)),
                 id="a .yml file duplicates a .yaml service"),
    pytest.param(Bad(replace(PAYMENTS, "team: checkout", "name: billing\nteam: checkout"),
                     (f"{PAYMENTS}: name: 'billing' differs from the file name",
                      "rename the file to billing.yaml or fix the name")),
                 id="the name key differs from the file name"),
    pytest.param(Bad(replace(PAYMENTS, "containerPort: 8080", "containerPort: 70000"),
                     (f"{PAYMENTS}: ports[0].containerPort: 70000 is out of range, expected 1..65535",)),
                 id="a container port is above 65535"),
    pytest.param(Bad(replace(PAYMENTS, "minReplicas: 2\n", "minReplicas: 8\n"),
                     (f"{PAYMENTS}: autoscaling.minReplicas: 8 is more than maxReplicas 6",)),
                 id="autoscaling minReplicas exceeds maxReplicas"),
    pytest.param(Bad(replace(PAYMENTS, "requests: {cpu: 250m,", "requests: {cpu: 250x,"),
                     (f"{PAYMENTS}: resources.requests.cpu: '250x' is not a CPU quantity", "'250m'")),
                 id="a CPU request is no quantity"),
    pytest.param(Bad(replace(PAYMENTS, "memory: 256Mi}", "memory: 256MB}"),
                     (f"{PAYMENTS}: resources.requests.memory: '256MB' is not a memory quantity", "'128Mi'")),
                 id="a memory request is no quantity"),
    pytest.param(Bad(replace(PAYMENTS, "requests: {cpu: 250m,", "requests: {cpu: 1500m,"),
                     (f"{PAYMENTS}: resources.requests.cpu: 1500m is more than the limit 1",)),
                 id="a CPU request exceeds its limit"),
    pytest.param(Bad(replace("services/cart.yaml", "requests: {cpu: 250m, memory: 256Mi}", "requests: {cpu: 250m, memory: 4Gi}"),
                     ("services/cart.yaml: environments.prod.resources.requests.memory: 4Gi is more than the limit 512Mi",)),
                 id="a memory request in an override exceeds its limit"),
    pytest.param(Bad(replace(PAYMENTS, 'tag: "1.4.2"', "tag: latest"),
                     (f"{PAYMENTS}: image.tag: 'latest' is not a release", "pin an immutable tag")),
                 id="the image tag is latest"),
    pytest.param(Bad(replace(PAYMENTS, "  prod:\n", "  prd:\n"),
                     (f"{PAYMENTS}: environments.prd: unknown environment (did you mean 'prod'?)",
                      "environments of this project: dev, prod, staging")),
                 id="an override names an unknown environment"),
    pytest.param(Bad(lambda project, out: None, ("Pulumi.nope.yaml", "stacks of this project: dev, prod, staging"),
                     argv=("--stack", "nope")),
                 id="the stack to render does not exist"),
    pytest.param(Bad(replace(DEV, "gitops-platform:workloads:", "gitops-platform:workload:"),
                     (f"{DEV}: config.gitops-platform:workload: unknown key (did you mean 'workloads'?)", "declared keys:")),
                 id="a stack sets an undeclared key"),
    pytest.param(Bad(replace(DEV, '"111111111111"', '"11111111111"'),
                     (f"{DEV}: config.gitops-platform:awsAccountId: expected a 12-digit AWS account id",)),
                 id="the account id has 11 digits"),
    pytest.param(Bad(replace(DEV, "vpcCidr: 10.10.0.0/16", "vpcCidr: 10.10.0.0/33"),
                     (f"{DEV}: config.gitops-platform:cluster.vpcCidr: '10.10.0.0/33' is not a CIDR block",
                      "use e.g. '10.0.0.0/16'")),
                 id="the VPC CIDR is no valid block"),
    pytest.param(Bad(replace(DEV, "name: shop-dev", "name: Shop_Dev"),
                     (f"{DEV}: config.gitops-platform:cluster.name: 'Shop_Dev' is not a valid name",
                      "use lowercase letters, digits and '-'")),
                 id="the cluster name has capitals and an underscore"),
    pytest.param(Bad(replace(DEV, "    domain: dev.shop.example.com\n", ""),
                     (f"{DEV}: config.gitops-platform:ingress.domain: is required", "api-gateway, web-frontend")),
                 id="a service has an ingress but the stack no ingress domain"),
    pytest.param(Bad(empty_catalog, ("services: the catalog is empty", "add one <service>.yaml per service")),
                 id="the catalog directory is empty"),
    pytest.param(Bad(invalid_utf8, (f"{PAYMENTS}: not UTF-8 text", "save the file as UTF-8")),
                 id="a service file is not UTF-8"),
    pytest.param(Bad(replace(PROD, "mode: pull-request", "mode: direct"),
                     (f"{PROD}: config.gitops-platform:imageUpdates.mode:", "git", "pull-request", "off")),
                 id="the image update mode is unknown"),
    pytest.param(Bad(append(DEV, "  gitops-platform:imageUpdates:\n    constraints: {payments: \"one point four\"}\n"),
                     (f"{DEV}: config.gitops-platform:imageUpdates.constraints.payments: expected a semver constraint",)),
                 id="a semver constraint is not one"),
    pytest.param(Bad(replace(PROD, "    from: staging", "    from: qa"),
                     (f"{PROD}: config.gitops-platform:promotion.from: 'qa' is not another environment", "dev, staging")),
                 id="promotion comes from an unknown environment"),
    pytest.param(Bad(copy_as(DEV, "Pulumi.dev2.yaml"),
                     ("Pulumi.dev2.yaml: config.gitops-platform:environment: environment 'dev' is already the environment of Pulumi.dev.yaml",)),
                 id="two stacks claim the same environment"),
    pytest.param(Bad(append(DEV, "  gitops-platform:sealing:\n    generation: 1\n    oldestGeneration: 2\n"),
                     (f"{DEV}: config.gitops-platform:sealing.oldestGeneration: is 2, above generation 1",)),
                 id="the oldest sealing key generation is above the newest"),
    pytest.param(Bad(replace(STAGING, "    prefix: shop\n", "    prefix: shop\n    owner: true\n    immutableTags: true\n"),
                     (f"{STAGING}: config.gitops-platform:registry.owner: registry 999999999999/eu-west-1/shop is already owned by Pulumi.dev.yaml",)),
                 id="two stacks own the same registry"),
    pytest.param(Bad(replace(DEV, "vpcCidr: 10.10.0.0/16", "vpcCidr: 10.10.0.0/24"),
                     (f"{DEV}: config.gitops-platform:cluster.vpcCidr: '10.10.0.0/24' must be an IPv4 block between /16",
                      "/22")),
                 id="the VPC is too small for a subnet per zone"),
    pytest.param(Bad(append(DEV, "  gitops-platform:argocd:\n    topology: spoke\n"),
                     (f"{DEV}: config.gitops-platform:argocd.hub: is required for topology 'spoke'",)),
                 id="a spoke names no hub"),
    pytest.param(Bad(replace(PROD, 'schedule: "0 1 * * *"', 'schedule: "at night"'),
                     (f"{PROD}: config.gitops-platform:delivery.syncWindows[0].schedule:", "five-field cron")),
                 id="a sync window has no cron schedule"),
    pytest.param(Bad(directory_as("services/reviews.yaml"),
                     ("services/reviews.yaml: is a directory, expected a YAML file",)),
                 id="a service file is a directory"),
    pytest.param(Bad(out_is_a_file, ("the output path is a file", "give a directory with --out"), out_is_file=True),
                 id="the output path is a regular file"),
]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def render(run, project: Path, out: Path):
    def _render(*argv: str):
        return run("render", *argv, "--project", project, "--out", out)
    return _render


def output_state(out: Path, snapshot) -> object:
    if not out.exists():
        return None
    return out.read_bytes() if out.is_file() else snapshot(out)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_error_line_and_no_traceback(project, out, render, case: Bad) -> None:
    case.edit(project, out)
    result = render(*case.argv)
    assert result.code == 2, result.err
    assert result.err.startswith("Error: "), result.err
    assert [line for line in result.err.splitlines() if line.startswith("Error:")] == result.err.splitlines()[:1]
    assert "Traceback" not in result.err
    assert result.out == ""


@pytest.mark.parametrize("case", CASES)
def test_the_error_names_the_file_the_key_and_what_is_valid(project, out, render, case: Bad) -> None:
    case.edit(project, out)
    result = render(*case.argv)
    missing = [fragment for fragment in case.expect if fragment not in result.err]
    assert not missing, f"{missing} not in:\n{result.err}"
    if case.out_is_file:
        assert str(out) in result.err


@pytest.mark.parametrize("case", CASES)
def test_bad_input_leaves_the_output_path_as_it_was(project, out, render, snapshot, case: Bad) -> None:
    case.edit(project, out)
    before = output_state(out, snapshot)
    render(*case.argv)
    assert output_state(out, snapshot) == before
    if not case.out_is_file:
        assert not out.exists()


# One case per stage that can reject input (parsing, catalog, stack, cross-checks, stack selection);
# rendering a tree for every case would only repeat these and slow the suite down.
ON_EXISTING_TREE = (
    "a service file has a YAML syntax error", "a service file is not UTF-8", "the catalog directory is empty",
    "a container port is above 65535", "a stack sets an undeclared key", "a CPU request exceeds its limit",
    "a service has an ingress but the stack no ingress domain", "the stack to render does not exist",
)
assert set(ON_EXISTING_TREE) <= {c.id for c in CASES}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in ON_EXISTING_TREE])
def test_bad_input_leaves_an_existing_rendered_tree_unchanged(project, out, render, snapshot, case: Bad) -> None:
    assert render("--all").code == 0
    before = {path: (content, (out / path).stat().st_mtime_ns) for path, content in snapshot(out).items()}
    case.edit(project, out)
    assert render(*case.argv).code == 2
    assert {path: (content, (out / path).stat().st_mtime_ns) for path, content in snapshot(out).items()} == before


def test_several_problems_are_reported_in_one_message(project, out, render) -> None:
    both(
        replace(PAYMENTS, 'tag: "1.4.2"', "tag: latest"),
        replace("services/cart.yaml", "    replicas: 5", "    replicsa: 5"),
        replace(DEV, '"111111111111"', '"11111111111"'),
    )(project, out)
    result = render("--all")
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0] == "Error: 3 problems in the input:"
    assert len(lines) == 4
    assert all(line.startswith("  - ") for line in lines[1:])
    assert [f for f in (f"{PAYMENTS}: image.tag:", "services/cart.yaml: environments.prod.replicsa:",
                        f"{DEV}: config.gitops-platform:awsAccountId:") if f not in result.err] == []


# --- known bugs: the tests state the intended behaviour --------------------------------------------
def test_a_request_above_its_limit_is_reported_once_however_many_stacks_use_it(project, out, render) -> None:
    replace(PAYMENTS, "requests: {cpu: 250m,", "requests: {cpu: 1500m,")(project, out)
    result = render("--all")
    assert result.code == 2
    assert result.err.count("resources.requests.cpu: 1500m is more than the limit 1") == 1, result.err


def test_an_invalid_autoscaling_range_does_not_claim_the_service_has_no_autoscaling(project, out, render) -> None:
    replace(PAYMENTS, "minReplicas: 2\n", "minReplicas: 8\n")(project, out)
    result = render("--all")
    assert result.code == 2
    assert "has no autoscaling to override" not in result.err, result.err


def test_a_misspelt_config_namespace_is_reported_not_ignored(project, out, render) -> None:
    replace("Pulumi.prod.yaml", "gitops-platform:workloads:", "gitops-platfrom:workloads:")(project, out)
    result = render("--all")
    assert result.code == 2
    assert "Pulumi.prod.yaml: config.gitops-platfrom:workloads" in result.err
    assert not out.exists()


def test_an_unquoted_account_id_is_not_also_reported_as_missing(project, out, render) -> None:
    replace(DEV, '"111111111111"', "111111111111")(project, out)
    result = render("--all")
    assert result.code == 2
    assert f"{DEV}: config.gitops-platform:awsAccountId" in result.err
    assert "is required" not in result.err, result.err
