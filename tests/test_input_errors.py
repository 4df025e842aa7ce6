"""Bad input: one small edit of the example project per case.

Every case must exit 2 with exactly one ``Error:`` message on stderr (no
traceback) that names the file, the key path and what would be valid, and
must leave the output directory as it was (not created, or unchanged).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def symlink_to(file: str, target: str) -> Edit:
    """``file`` becomes a symbolic link to ``target`` (replacing the file when it exists)."""
    def edit(project: Path, out: Path) -> None:
        path = project / file
        path.unlink(missing_ok=True)
        path.symlink_to(target)
    return edit


def fifo_as(file: str) -> Edit:
    """``file`` becomes a named pipe nobody writes to: opening it for reading would wait forever."""
    def edit(project: Path, out: Path) -> None:
        os.mkfifo(project / file)
    return edit


def laughs(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" block: ``width ** levels`` strings through aliases, a few hundred bytes of YAML."""
    lines = [f"x-laughs:\n  - &l0 [{', '.join(['lol'] * width)}]\n"]
    for level in range(1, levels + 1):
        lines.append(f"  - &l{level} [{', '.join([f'*l{level - 1}'] * width)}]\n")
    return "".join(lines)


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a read that never ends (a FIFO, /dev/zero) is the bug some cases check."""
    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s: an input is read forever")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def write(file: str, text: str) -> Edit:
    def edit(project: Path, out: Path) -> None:
        (project / file).write_text(text, encoding="utf-8")
    return edit


def dev_as_hub_with_spoke(spoke: str) -> Edit:
    """dev becomes a hub, and ``spoke`` (a second dev cluster made by new-cluster) shares its Argo CD."""
    def edit(project: Path, out: Path) -> None:
        from gitops.cli import main

        append(DEV, "  gitops-platform:argocd:\n    topology: hub\n")(project, out)
        assert main(["new-cluster", spoke, "--env", "dev", "--region", "us-east-1", "--hub", "dev",
                     "--project", str(project)]) == 0
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
    pytest.param(Bad(replace(DEV, "    deployRoleArn: arn:aws:iam::111111111111:role/gitops-platform-deploy\n", ""),
                     (f"{DEV}: config.gitops-platform:cluster.deployRoleArn: is required: the role `pulumi up` runs as",
                      "'arn:aws:iam::111111111111:role/<name>'")),
                 id="a stack names no deploy role"),
    pytest.param(Bad(replace(DEV, "deployRoleArn: arn:aws:iam::111111111111:role/gitops-platform-deploy",
                             "deployRoleArn: arn:aws:sts::111111111111:assumed-role/gitops-platform-deploy/ci"),
                     (f"{DEV}: config.gitops-platform:cluster.deployRoleArn: 'arn:aws:sts::111111111111:assumed-role/"
                      "gitops-platform-deploy/ci' is a session of a role, not the role: use "
                      "'arn:aws:iam::111111111111:role/gitops-platform-deploy'",)),
                 id="the deploy role is given as its session ARN"),
    pytest.param(Bad(replace(DEV, "deployRoleArn: arn:aws:iam::111111111111:role/gitops-platform-deploy",
                             "deployRoleArn: gitops-platform-deploy"),
                     (f"{DEV}: config.gitops-platform:cluster.deployRoleArn: 'gitops-platform-deploy' is not an IAM role "
                      "ARN; expected one such as 'arn:aws:iam::111111111111:role/<name>'",)),
                 id="the deploy role is a bare role name"),
    pytest.param(Bad(replace(DEV, "deployRoleArn: arn:aws:iam::111111111111:role/gitops-platform-deploy",
                             "deployRoleArn: arn:aws:iam::222222222222:role/gitops-platform-deploy"),
                     (f"{DEV}: config.gitops-platform:cluster.deployRoleArn:", "is a role of account 222222222222, "
                      "but awsAccountId is 111111111111")),
                 id="the deploy role belongs to another account"),
    pytest.param(Bad(replace(DEV, "previewRoleArn: arn:aws:iam::111111111111:role/gitops-platform-preview",
                             "previewRoleArn: arn:aws:iam::111111111111:user/preview"),
                     (f"{DEV}: config.gitops-platform:cluster.previewRoleArn: 'arn:aws:iam::111111111111:user/preview' "
                      "is not an IAM role ARN",)),
                 id="the preview role is a user"),
    pytest.param(Bad(replace(DEV, "previewRoleArn: arn:aws:iam::111111111111:role/gitops-platform-preview",
                             "previewRoleArn: arn:aws:iam::111111111111:role/gitops-platform-deploy"),
                     (f"{DEV}: config.gitops-platform:cluster.previewRoleArn:", "is also the deployRoleArn role",
                      "a separate read-only role")),
                 id="the preview role is the deploy role"),
    pytest.param(Bad(replace(DEV, "    domain: dev.shop.example.com\n", ""),
                     (f"{DEV}: config.gitops-platform:ingress.domain: is required", "api-gateway, web-frontend")),
                 id="a service has an ingress but the stack no ingress domain"),
    pytest.param(Bad(empty_catalog, ("services: the catalog is empty", "add one <service>.yaml per service")),
                 id="the catalog directory is empty"),
    pytest.param(Bad(invalid_utf8, (f"{PAYMENTS}: not UTF-8 text", "save the file as UTF-8")),
                 id="a service file is not UTF-8"),
    pytest.param(Bad(replace(PROD, 'mode: "off"', "mode: direct"),
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
    pytest.param(Bad(replace(STAGING, "    prefix: shop\n", "    prefix: shop\n    owner: true\n    immutableTags: true\n"
                                                      "    roleArn: arn:aws:iam::999999999999:role/registry\n"),
                     (f"{STAGING}: config.gitops-platform:registry.owner: registry 999999999999/eu-west-1/shop "
                      "is already owned by Pulumi.dev.yaml",)),
                 id="two stacks own the same registry"),
    pytest.param(Bad(replace(DEV, "    roleArn: arn:aws:iam::999999999999:role/gitops-platform-registry\n", ""),
                     (f"{DEV}: config.gitops-platform:registry.roleArn: is required: this stack owns the registry in "
                      "account 999999999999 but deploys into account 111111111111",
                      "'arn:aws:iam::999999999999:role/<name>'")),
                 id="the registry owner deploys into another account and names no role there"),
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
    # --- no tenant claims what is not theirs -------------------------------------------------------
    pytest.param(Bad(both(copy_as("services/orders.yaml", "services/payments--stripe.yaml"),
                          replace("services/payments--stripe.yaml", "secrets: [DATABASE_PASSWORD]", "secrets: [API_KEY]"),
                          replace(PAYMENTS, "secrets: [STRIPE_API_KEY,", "secrets: [STRIPE__API_KEY,")),
                     (f"{PAYMENTS}: secrets: STRIPE__API_KEY would be read from GITOPS_SECRET_PAYMENTS__STRIPE__API_KEY",
                      "secret API_KEY of service payments--stripe (services/payments--stripe.yaml)")),
                 id="two services' secrets would be read from the same environment variable"),
    pytest.param(Bad(replace(PAYMENTS, "team: checkout\n", "team: checkout\nnamespace: argocd\n"),
                     (f"{PAYMENTS}: namespace: 'argocd' is Argo CD's namespace (config.gitops-platform:argocd.namespace "
                      f"of {DEV}, {PROD}, {STAGING})", "choose a namespace of the team's own")),
                 id="a service claims Argo CD's namespace"),
    pytest.param(Bad(both(append(DEV, "  gitops-platform:sealing:\n    namespace: sealed-secrets\n"),
                          replace(PAYMENTS, "team: checkout\n", "team: checkout\nnamespace: sealed-secrets\n")),
                     (f"{PAYMENTS}: namespace: 'sealed-secrets' is the sealed-secrets controller's namespace "
                      f"(config.gitops-platform:sealing.namespace of {DEV})",)),
                 id="a service claims the sealing controller's namespace"),
    pytest.param(Bad(replace(PAYMENTS, "team: checkout\n", "team: checkout\nnamespace: storefront\n"),
                     (f"{PAYMENTS}: namespace: 'storefront' belongs to team storefront",
                      "services/_namespaces.yaml")),
                 id="a service claims another team's namespace"),
    pytest.param(Bad(write("services/_namespaces.yaml", "shared:\n  kube-system: [checkout, platform]\n"),
                     ("services/_namespaces.yaml: shared.kube-system: 'kube-system' is a system namespace",)),
                 id="a system namespace is declared shared"),
    pytest.param(Bad(rename("services/cart.yaml", "services/argocd-server.yaml"),
                     ("services/argocd-server.yaml: the file name gives the service name, and 'argocd-server' starts with "
                      "'argocd', which is reserved",)),
                 id="a service is named like one of Argo CD's components"),
    pytest.param(Bad(rename("services/cart.yaml", "services/root.yaml"),
                     ("services/root.yaml: Application 'root-dev' of service root in environment dev",
                      "is also the root Application of environment dev")),
                 id="a service's Application takes the name of the root Application"),
    pytest.param(Bad(both(dev_as_hub_with_spoke("gateway-dev"), copy_as("services/cart.yaml", "services/api.yaml")),
                     ("Application 'api-gateway-dev'", "services/api.yaml", "services/api-gateway.yaml",
                      "Pulumi.gateway-dev.yaml")),
                 id="two services in two environments of one Argo CD get the same Application name"),
    pytest.param(Bad(replace("services/api-gateway.yaml", "  host: api\n", "  host: www\n"),
                     ("services/web-frontend.yaml: ingress: host 'www' path '/' is also claimed by service api-gateway "
                      "(services/api-gateway.yaml)", "www.dev.shop.example.com")),
                 id="two services claim the same ingress host and path"),
    pytest.param(Bad(replace("services/api-gateway.yaml", "  host: api\n", "  host: argocd\n"),
                     ("services/api-gateway.yaml: ingress.host: 'argocd' gives Argo CD's own host",
                      "argocd.dev.shop.example.com")),
                 id="a service claims Argo CD's host"),
    pytest.param(Bad(replace(DEV, "repoURL: https://github.com/example-shop/gitops.git",
                             "repoURL: https://github.com/example-shop/gitops.git{{.path.path}}"),
                     (f"{DEV}: config.gitops-platform:gitops.repoURL:", "'{{'", "Go template")),
                 id="the GitOps repository URL carries a template action"),
    pytest.param(Bad(replace(DEV, "    path: .\n", "    path: \"gitops tree\"\n"),
                     (f"{DEV}: config.gitops-platform:gitops.path: 'gitops tree' contains whitespace",)),
                 id="the GitOps path contains whitespace"),
    pytest.param(Bad(out_is_a_file, ("the output path is a file", "give a directory with --out"), out_is_file=True),
                 id="the output path is a regular file"),
    # --- hostile input: dates, key types, huge numbers, aliases, files that are no files --------------
    pytest.param(Bad(replace(PAYMENTS, "containerPort: 8080", "containerPort: 2023-13-45"),
                     (f"{PAYMENTS}: ports[0].containerPort: expected an integer, got a string",)),
                 id="a container port is an impossible date"),
    pytest.param(Bad(replace(DEV, '"111111111111"', "2023-13-45"),
                     (f"{DEV}: config.gitops-platform:awsAccountId:", "12-digit AWS account id")),
                 id="the account id is an impossible date"),
    pytest.param(Bad(replace(PAYMENTS, "environments:\n  dev:\n", "environments:\n  1: {}\n  dev:\n"),
                     (f"{PAYMENTS}: environments.1: line {line_of(PAYMENTS, 'environments:') + 1}, column 3:",
                      "keys are strings", "quote it")),
                 id="a service file mixes integer and string keys"),
    pytest.param(Bad(replace(PAYMENTS, "requests: {cpu: 250m,", 'requests: {cpu: "1e999999999",'),
                     (f"{PAYMENTS}: resources.requests.cpu: '1e999999999' is too large",)),
                 id="a CPU request has a huge exponent"),
    pytest.param(Bad(append(PAYMENTS, laughs()),
                     (f"{PAYMENTS}: x-laughs[1][0]:", "anchors and aliases are not accepted")),
                 id="a service file expands aliases a billion times"),
    pytest.param(Bad(replace(PAYMENTS, "description: Payment authorisation and capture",
                             "description: " + "[" * 100_000 + "]" * 100_000),
                     (f"{PAYMENTS}: is nested more than 10,000 levels deep",)),
                 id="a service file nests 100,000 levels deep"),
    pytest.param(Bad(replace(PAYMENTS, "team: checkout", "team: " + "a" * 100_000),
                     (f"{PAYMENTS}: team: 'aaaa", "100000 characters, at most 63 allowed")),
                 id="the team name is 100,000 characters long"),
    pytest.param(Bad(fifo_as("services/queue.yaml"), ("services/queue.yaml: is a named pipe (FIFO), not a regular file",)),
                 id="a service file is a named pipe"),
    pytest.param(Bad(symlink_to("services/zero.yaml", "/dev/zero"),
                     ("services/zero.yaml: is a character device, not a regular file",)),
                 id="a service file links to /dev/zero"),
    pytest.param(Bad(symlink_to(STAGING, "/dev/zero"), (f"{STAGING}: is a character device, not a regular file",)),
                 id="a stack file links to /dev/zero"),
    pytest.param(Bad(symlink_to("services/gone.yaml", "/nonexistent/gone.yaml"), ("services/gone.yaml: file not found",)),
                 id="a service file is a dangling link"),
    pytest.param(Bad(symlink_to("services/loop.yaml", "loop.yaml"),
                     ("services/loop.yaml: cannot read: Too many levels of symbolic links",)),
                 id="a service file links to itself"),
    pytest.param(Bad(append(PAYMENTS, "# " + "x" * (1 << 20) + "\n"), (f"{PAYMENTS}: is larger than 1 MiB (1048576 bytes)",)),
                 id="a service file is larger than 1 MiB"),
    pytest.param(Bad(append(DEV, "# " + "x" * (1 << 20) + "\n"), (f"{DEV}: is larger than 1 MiB (1048576 bytes)",)),
                 id="a stack file is larger than 1 MiB"),
    pytest.param(Bad(replace(DEV, "      alb.ingress.kubernetes.io/scheme: internal",
                             '      "alb.ingress.kubernetes.io/sch\\neme": internal'),
                     (f"{DEV}: config.gitops-platform:ingress.annotations.alb.ingress.kubernetes.io/sch\\neme: "
                      "is not a valid annotation key", "'example.com/name'")),
                 id="an ingress annotation key holds a newline"),
    pytest.param(Bad(replace(DEV, "      alb.ingress.kubernetes.io/scheme: internal",
                             "      alb.ingress.kubernetes.io/: internal"),
                     (f"{DEV}: config.gitops-platform:ingress.annotations.alb.ingress.kubernetes.io/: "
                      "is not a valid annotation key",)),
                 id="an ingress annotation key has a prefix but no name"),
]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def render(run, project: Path, out: Path):
    def _render(*argv: str):
        with deadline(120):
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


# --- hostile input beyond the table --------------------------------------------------------------
SECRET = "sk_live_do_not_print_me"


def render_with_secrets(render, secrets: Path):
    return render("--stack", "dev", "--secrets", secrets)


def one_error_line(err: str) -> bool:
    return err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("value, echoed", [
    (f"!foo {SECRET}", "foo"),             # PyYAML names the unknown tag
    (f"!!binary {SECRET}é", "position"),   # ... and where in the value the bad character sits
], ids=["unknown tag", "bad binary"])
def test_a_secrets_file_that_does_not_parse_is_reported_by_line_and_column_only(render, tmp_path, value,
                                                                                echoed) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"services:\n  payments:\n    STRIPE_API_KEY: {value}\n", encoding="utf-8")
    result = render_with_secrets(render, secrets)
    assert result.code == 2, result.err
    assert result.err.startswith(f"Error: {secrets}: invalid YAML at line 3, column "), result.err
    assert one_error_line(result.err), result.err
    assert SECRET not in result.err and echoed not in result.err, result.err


@pytest.mark.parametrize("value", ["2023-13-45", "2024-02-30 10:00:00", "!!timestamp 2023-13-45", "!!int 12x"])
def test_an_impossible_date_or_number_in_the_secrets_file_is_no_traceback(render, tmp_path, value) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"services:\n  payments:\n    STRIPE_API_KEY: {value}\n", encoding="utf-8")
    result = render_with_secrets(render, secrets)
    assert result.code == 2 and one_error_line(result.err), result.err
    assert value.split()[-1] not in result.err, result.err


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
def test_the_secrets_file_must_be_a_regular_file(render, tmp_path, kind) -> None:
    secrets = Path(kind) if kind.startswith("/") else tmp_path / "secrets"
    if kind == "fifo":
        os.mkfifo(secrets)
    elif kind == "directory":
        secrets.mkdir()
    result = render_with_secrets(render, secrets)
    assert result.code == 2 and one_error_line(result.err), result.err
    assert result.err.startswith(f"Error: {secrets}: is a "), result.err
    assert "not a regular file" in result.err or "is a directory" in result.err, result.err


def test_a_secrets_file_larger_than_1_mib_is_refused(render, tmp_path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("# " + "x" * (1 << 20) + "\nservices: {}\n", encoding="utf-8")
    result = render_with_secrets(render, secrets)
    assert result.code == 2 and one_error_line(result.err), result.err
    assert f"{secrets}: is larger than 1 MiB (1048576 bytes)" in result.err


def test_a_value_quoted_in_an_error_is_shortened(project, out, render) -> None:
    replace(PAYMENTS, "team: checkout", "team: " + "a" * 100_000)(project, out)
    result = render("--all")
    assert result.code == 2 and one_error_line(result.err), result.err
    assert len(result.err) < 400, len(result.err)
    assert "100000 characters, at most 63 allowed" in result.err


def test_a_date_like_tag_is_the_string_it_looks_like(project, out, render) -> None:
    replace(PAYMENTS, 'tag: "1.4.2"', "tag: 2024-01-15")(project, out)
    result = render("--stack", "prod")
    assert result.code == 0, result.err
    assert 'newTag: "2024-01-15"' in (out / "apps/payments/overlays/prod/kustomization.yaml").read_text()


@pytest.mark.parametrize("flags", [(), ("--dry-run",)], ids=["render", "dry run"])
def test_a_state_path_that_is_a_file_is_refused_naming_it(out, render, snapshot, flags) -> None:
    out.mkdir()
    (out / ".gitops-platform").write_text("not a directory\n", encoding="utf-8")
    before = snapshot(out)
    result = render("--all", *flags)
    assert result.code == 2 and one_error_line(result.err), result.err
    assert f"Error: {out / '.gitops-platform'}: is a file, but it must be the directory" in result.err
    assert snapshot(out) == before


def test_a_lock_directory_left_in_the_state_directory_does_not_stop_a_render(out, render) -> None:
    """The writer locks the tree directory itself; a ``lock`` entry of any kind is no longer its business."""
    assert render("--all").code == 0
    (out / ".gitops-platform" / "lock").mkdir()
    result = render("--all", "--force")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("version", ["abc", "9.99", "1.5", "1.33.x", ""])
def test_validate_refuses_a_kubernetes_version_it_has_no_schemas_for(run, tmp_path, version) -> None:
    result = run("validate", tmp_path, "--kubernetes-version", version)
    assert result.code == 2 and one_error_line(result.err), result.err
    assert result.err.startswith(f"Error: --kubernetes-version: {version!r} ")
    assert "supported: " in result.err and "1.33" in result.err
    assert result.out == ""


def test_validate_reports_label_and_annotation_keys_the_api_server_refuses() -> None:
    """A hand-edited tree is checked too: the schemas say nothing about metadata keys."""
    from gitops.k8sschema import Schemas

    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "settings", "labels": {"app/x/y": "ok", "tier": "not ok!"},
                               "annotations": {"example.com/sch\neme": "x", "Example.com/fine": "x"}}}
    errors = list(Schemas("1.33", None).errors(config_map))
    assert [e.split(" is not", 1)[0] for e in errors] == [
        "metadata.labels: key 'app/x/y'", "metadata.labels.tier: 'not ok!'",
        "metadata.annotations: key 'example.com/sch\\neme'"], errors


@pytest.mark.parametrize("version", ["1.33", "1.33.0", "v1.33.2"])
def test_validate_accepts_a_kubernetes_version_with_schemas(version) -> None:
    from gitops.k8sschema import kubernetes_version_problem

    assert kubernetes_version_problem(version) is None
