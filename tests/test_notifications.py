"""Argo CD notifications per environment: who is told, when, and with whose credentials.

The example's prod reports sync failures, degraded health and deployed
releases to a Slack channel; dev and staging are quiet. The Slack token is a
secret: given like the services' secrets (stack secret config, ``--secrets``
file, environment), written only sealed for the cluster, never in the chart
values, the tree, the program's resources or its outputs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from components.argocd import ArgoCDArgs, argocd_values, root_app_values
from components.gitops_repo import GitOpsFilesProvider
from conftest import REPO_ROOT
from gitops import layout
from gitops.model import GitOpsConfig, NotificationsConfig, NotificationTrigger, RegistryConfig
from gitops.options import ValidateOptions
from gitops.project import load_project
from gitops.render import notifications
from gitops.sealing import stability_key, unseal_sealed_secret
from gitops.validate import generated_applications
from pulumi_harness import (  # noqa: F401  (program: fixture)
    mock_key_pair,
    plain_strings,
    program,
    rsa_private_key,
    secret_values,
)

NS = layout.CONFIG_NAMESPACE
SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
TOKEN = "xoxb-test-0000-notifications-token"
HOOK_URL = "https://hooks.example.com/services/T000/B000/test-webhook-secret"
SUBSCRIBED = {
    "notifications.argoproj.io/subscribe.on-sync-failed.slack": "shop-prod-deploys",
    "notifications.argoproj.io/subscribe.on-health-degraded.slack": "shop-prod-deploys",
    "notifications.argoproj.io/subscribe.on-deployed.slack": "shop-prod-deploys",
}
kubectl = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize v5) is required")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops-repo"


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return rsa_private_key(mock_key_pair()[0])


def edit_stack(project: Path, stack: str, change: Callable[[dict[str, Any]], object]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc["config"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def publish_cert(out: Path, stack: str, cluster: str) -> None:
    """What ``pulumi up`` publishes into ``clusters/<cluster>/``: the cluster's sealing certificate."""
    GitOpsFilesProvider().create({
        "checkout": str(out), "stack": stack, "environment": stack, "prefixes": [f"clusters/{cluster}/"],
        "repoUrl": "https://github.com/example-shop/gitops.git", "repoPath": ".",
        "files": {f"clusters/{cluster}/sealed-secrets-cert.pem": mock_key_pair()[1]},
    })


def secrets_file(tmp_path: Path, project: Path, credentials: dict[str, str] | None = None) -> Path:
    """A ``--secrets`` file outside the project: every service secret, the notifiers' credentials, the stability key."""
    services: dict[str, Any] = {s.name: {n: f"value-{s.name}-{n}" for n in s.secrets}
                                for s in load_project(project).catalog.services if s.secrets}
    if credentials is not None:
        services[notifications.SECRETS_ENTRY] = credentials
    key = rsa_private_key(mock_key_pair()[0])
    path = tmp_path / "outside" / "secrets.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"services": services, "stabilityKey": stability_key(key).hex()}))
    return path


def render_prod(run, project: Path, out: Path, *extra: object, code: int = 0):
    result = run("render", "--stack", "prod", "--project", project, "--out", out, *extra)
    assert result.code == code, result.err
    return result


def appset_annotations(out: Path, env: str) -> list[dict[str, str]]:
    return [yaml.safe_load(p.read_text())["spec"]["template"]["metadata"].get("annotations", {})
            for p in sorted((out / "argocd" / env).glob("applicationset-*.yaml"))]


# --- configuration -----------------------------------------------------------------------------------------


def test_notifications_are_off_unless_a_stack_names_a_notifier(project: Path) -> None:
    stacks = {s.name: s for s in load_project(project).stacks}
    assert not stacks["dev"].notifications.enabled and not stacks["staging"].notifications.enabled
    assert notifications.secret_names(stacks["dev"]) == ()
    assert notifications.subscriptions(stacks["dev"]) == {}
    assert notifications.chart_values(stacks["dev"].notifications, "https://argocd.dev.shop.example.com") == {}


def test_prod_reports_every_trigger_to_its_slack_channel_and_needs_the_slack_token(project: Path) -> None:
    prod = load_project(project).stack("prod")
    assert prod.notifications == NotificationsConfig(slack_channel="shop-prod-deploys", triggers=tuple(NotificationTrigger))
    assert notifications.secret_names(prod) == ("SLACK_TOKEN",)
    assert notifications.subscriptions(prod) == SUBSCRIBED


def test_triggers_choose_the_subscriptions_and_a_webhook_subscribes_by_its_name(project: Path) -> None:
    edit_stack(project, "staging", lambda c: c.update({f"{NS}:notifications": {
        "webhook": {"name": "ops-events"}, "triggers": ["sync-failed"]}}))
    staging = load_project(project).stack("staging")
    assert notifications.subscriptions(staging) == {"notifications.argoproj.io/subscribe.on-sync-failed.ops-events": ""}
    assert notifications.secret_names(staging) == ("WEBHOOK_URL",)


@pytest.mark.parametrize(("value", "key", "message"), [
    ({"slack": {"channel": "#deploys"}}, "notifications.slack.channel", "Slack channel name"),
    ({"slack": {}}, "notifications.slack.channel", "is required"),
    ({"webhook": {"name": "slack"}}, "notifications.webhook.name", "Slack notifier's name"),
    ({"webhook": {"name": "Ops_Events"}}, "notifications.webhook.name", ""),
    ({"slack": {"channel": "deploys"}, "triggers": ["sync-succeeded"]}, "notifications.triggers[0]", "one of"),
    ({"slack": {"channel": "deploys"}, "triggers": ["degraded", "degraded"]}, "notifications.triggers[1]", "twice"),
    ({"triggers": ["degraded"]}, "notifications.triggers", "no notifier receives them"),
    ({"email": {"to": "ops@example.com"}}, "notifications.email", "unknown key"),
])
def test_bad_notification_settings_exit_2_naming_file_and_key(run, project: Path, value: Any, key: str,
                                                              message: str) -> None:
    edit_stack(project, "dev", lambda c: c.update({f"{NS}:notifications": value}))
    result = run("render", "--all", "--project", project, "--out", project.parent / "out")
    assert result.code == 2
    assert f"Pulumi.dev.yaml: config.{NS}:{key}" in result.err and message in result.err


# --- subscriptions ----------------------------------------------------------------------------------------


@kubectl
def test_every_prod_application_subscribes_and_no_other_environments_does(run, project: Path, out: Path) -> None:
    assert run("render", "--all", "--project", project, "--out", out).code == 0
    assert all(a == SUBSCRIBED for a in appset_annotations(out, "prod"))
    assert all(a == {} for env in ("dev", "staging") for a in appset_annotations(out, env))
    apps, problems = generated_applications(out, ValidateOptions())
    assert not problems
    by_env = {info.name: app["metadata"].get("annotations", {}) for info, app in apps}
    assert all(by_env[name] == SUBSCRIBED for name in by_env if name.endswith("-prod"))
    assert all(not by_env[name] for name in by_env if not name.endswith("-prod"))


# --- Argo CD's values: notifiers, triggers, templates -----------------------------------------------------------


def test_the_chart_values_define_the_notifier_triggers_and_templates_and_leave_the_secret_to_the_sealed_one() -> None:
    config = NotificationsConfig(slack_channel="deploys", webhook="ops-events", triggers=(NotificationTrigger.DEGRADED,))
    values = notifications.chart_values(config, "https://argocd.shop.example.com")["notifications"]
    assert values["secret"] == {"create": False}
    assert values["argocdUrl"] == "https://argocd.shop.example.com"
    assert yaml.safe_load(values["notifiers"]["service.slack"]) == {"token": "$SLACK_TOKEN"}
    hook = yaml.safe_load(values["notifiers"]["service.webhook.ops-events"])
    assert hook["url"] == "$WEBHOOK_URL"
    # Every trigger is defined (a spoke may subscribe to any), each sending a template that exists.
    triggers = {name: yaml.safe_load(text) for name, text in values["triggers"].items()}
    assert set(triggers) == {"trigger.on-sync-failed", "trigger.on-health-degraded", "trigger.on-deployed"}
    for conditions in triggers.values():
        for condition in conditions:
            assert condition["when"] and all(f"template.{t}" in values["templates"] for t in condition["send"])
    assert triggers["trigger.on-deployed"][0]["oncePer"] == "app.status.sync.revision"
    for text in values["templates"].values():
        template = yaml.safe_load(text)
        assert "{{.app.metadata.name}}" in template["message"]
        assert template["webhook"]["ops-events"]["method"] == "POST"


def test_argo_cds_values_carry_the_notifications_and_its_roots_project_admits_their_sealed_secret() -> None:
    registry = RegistryConfig(account_id="999999999999", region="eu-west-1", prefix="shop", owner=False,
                              keep_release_images=30, immutable_tags=True)
    base = ArgoCDArgs(environment="prod", cluster_name="shop-prod", region="eu-west-1", namespace="argocd",
                      gitops=GitOpsConfig("https://github.com/example-shop/gitops.git", "main", "."),
                      registry=registry, role_prefix="shop-prod", hostname="argocd.shop.example.com", ingress_tls=True)
    quiet_kinds = root_app_values(base)["projects"][layout.PLATFORM_PROJECT]["namespaceResourceWhitelist"]
    assert "notifications" not in argocd_values(base)
    assert {"group": "bitnami.com", "kind": "SealedSecret"} not in quiet_kinds
    loud = ArgoCDArgs(**{**base.__dict__, "notifications": NotificationsConfig(
        slack_channel="deploys", triggers=tuple(NotificationTrigger))})
    values = argocd_values(loud)
    assert values["notifications"]["secret"] == {"create": False}
    assert values["notifications"]["argocdUrl"] == "https://argocd.shop.example.com"
    kinds = root_app_values(loud)["projects"][layout.PLATFORM_PROJECT]["namespaceResourceWhitelist"]
    assert kinds == [*quiet_kinds, {"group": "bitnami.com", "kind": "SealedSecret"}]


# --- the credentials: sealed, and only sealed ---------------------------------------------------------------


def test_the_slack_token_is_sealed_into_argocd_prod_for_prods_cluster_only(
        run, project: Path, out: Path, tmp_path: Path, key: Any) -> None:
    publish_cert(out, "prod", "shop-prod")
    render_prod(run, project, out, "--secrets", secrets_file(tmp_path, project, {"SLACK_TOKEN": TOKEN}))
    doc = yaml.safe_load((out / "argocd/prod/notifications-secret.yaml").read_text())
    assert (doc["kind"], doc["metadata"]["name"], doc["metadata"]["namespace"]) == \
        ("SealedSecret", "argocd-notifications-secret", "argocd")
    assert "sealedsecrets.bitnami.com/namespace-wide" not in doc["metadata"].get("annotations", {})   # strict scope
    assert {k: v.decode() for k, v in unseal_sealed_secret(doc, [key]).items()} == {"SLACK_TOKEN": TOKEN}
    assert "notifications-secret.yaml" in yaml.safe_load((out / "argocd/prod/kustomization.yaml").read_text())["resources"]
    assert not (out / "argocd/dev/notifications-secret.yaml").exists()


def test_no_plaintext_token_reaches_the_tree_or_the_output(run, project: Path, out: Path, tmp_path: Path) -> None:
    publish_cert(out, "prod", "shop-prod")
    result = render_prod(run, project, out, "--secrets", secrets_file(tmp_path, project, {"SLACK_TOKEN": TOKEN}))
    assert TOKEN not in result.out + result.err
    for path in out.rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path


def test_the_token_can_come_from_the_environment(run, project: Path, out: Path, tmp_path: Path, key: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    publish_cert(out, "prod", "shop-prod")
    monkeypatch.setenv("GITOPS_SECRET_ARGOCD_NOTIFICATIONS__SLACK_TOKEN", TOKEN)
    render_prod(run, project, out, "--secrets", secrets_file(tmp_path, project))
    doc = yaml.safe_load((out / "argocd/prod/notifications-secret.yaml").read_text())
    assert unseal_sealed_secret(doc, [key]) == {"SLACK_TOKEN": TOKEN.encode()}


def test_a_render_without_the_token_keeps_what_was_sealed(run, project: Path, out: Path, tmp_path: Path) -> None:
    publish_cert(out, "prod", "shop-prod")
    render_prod(run, project, out, "--secrets", secrets_file(tmp_path, project, {"SLACK_TOKEN": TOKEN}))
    sealed = (out / "argocd/prod/notifications-secret.yaml").read_bytes()
    render_prod(run, project, out, "--force")
    assert (out / "argocd/prod/notifications-secret.yaml").read_bytes() == sealed


def test_a_missing_token_names_the_environment_and_the_command(run, project: Path, out: Path, tmp_path: Path) -> None:
    publish_cert(out, "prod", "shop-prod")
    result = render_prod(run, project, out, "--secrets", secrets_file(tmp_path, project), code=2)
    assert "notifications of environment prod need the Slack token (SLACK_TOKEN)" in result.err
    assert "pulumi config set --stack prod --secret --path 'gitops-platform:secrets.argocd-notifications.SLACK_TOKEN'" in result.err
    assert not (out / "argocd").exists()


def test_a_credential_no_notifier_uses_is_refused(run, project: Path, out: Path, tmp_path: Path) -> None:
    publish_cert(out, "prod", "shop-prod")
    result = render_prod(run, project, out, "--secrets",
                         secrets_file(tmp_path, project, {"SLACK_TOKEN": TOKEN, "WEBHOOK_URL": HOOK_URL}), code=2)
    assert "argocd-notifications.WEBHOOK_URL: is not a credential of environment prod's notifiers" in result.err
    assert HOOK_URL not in result.err


def test_before_the_first_pulumi_up_the_credentials_are_pending(run, project: Path, out: Path) -> None:
    result = render_prod(run, project, out)
    assert "prod: secrets of email-worker, inventory, orders, payments, argocd-notifications are not sealed yet" in result.err
    assert not (out / "argocd/prod/notifications-secret.yaml").exists()


@kubectl
def test_the_sealed_notifications_secret_builds_and_validates(run, project: Path, out: Path, tmp_path: Path) -> None:
    publish_cert(out, "prod", "shop-prod")
    render_prod(run, project, out, "--secrets", secrets_file(tmp_path, project, {"SLACK_TOKEN": TOKEN}))
    schemas = ["--schemas", SCHEMAS] if SCHEMAS.is_dir() else []  # the project's own CRD schemas apply either way
    result = run("validate", out, *schemas, "--output", "json")
    assert result.code == 0, result.out


# --- hub and spokes: one Argo CD sends for all -------------------------------------------------------------------


def make_hub_and_spoke(project: Path, hub_notifications: dict[str, Any]) -> None:
    """prod becomes a hub (with ``hub_notifications``) and staging its spoke."""
    edit_stack(project, "prod", lambda c: (c[f"{NS}:argocd"].update(topology="hub"),
                                           c.update({f"{NS}:notifications": hub_notifications})))
    edit_stack(project, "staging", lambda c: c.update({
        f"{NS}:argocd": {**c.get(f"{NS}:argocd", {}), "topology": "spoke", "hub": "prod"},
        f"{NS}:notifications": {"slack": {"channel": "shop-staging"}, "triggers": ["sync-failed"]}}))


def test_a_spoke_subscribes_through_its_hubs_notifiers_and_holds_no_credentials(project: Path) -> None:
    make_hub_and_spoke(project, {"slack": {"channel": "shop-prod-deploys"}, "triggers": []})
    loaded = load_project(project)
    hub, spoke = loaded.stack("prod"), loaded.stack("staging")
    assert notifications.subscriptions(spoke) == {
        "notifications.argoproj.io/subscribe.on-sync-failed.slack": "shop-staging"}
    assert notifications.secret_names(spoke) == ()
    # The hub holds the token and defines every trigger for its spokes, while its own Applications stay quiet.
    assert notifications.secret_names(hub) == ("SLACK_TOKEN",) and notifications.subscriptions(hub) == {}
    assert "trigger.on-sync-failed" in notifications.chart_values(hub.notifications, None)["notifications"]["triggers"]


def test_a_spoke_naming_a_notifier_its_hub_lacks_is_refused(run, project: Path) -> None:
    make_hub_and_spoke(project, {"webhook": {"name": "ops-events"}})
    result = run("render", "--all", "--project", project, "--out", project.parent / "out")
    assert result.code == 2
    assert f"Pulumi.staging.yaml: config.{NS}:notifications.slack: the hub prod's Argo CD sends this spoke's " \
           "notifications, and it has no Slack notifier" in result.err


def test_new_cluster_keeps_only_the_notifiers_of_the_hub(run, project: Path) -> None:
    edit_stack(project, "dev", lambda c: c.setdefault(f"{NS}:argocd", {}).update(topology="hub"))
    assert run("new-cluster", "prod-us", "--env", "prod", "--region", "us-east-1", "--hub", "dev",
               "--project", project).code == 0
    spoke = load_project(project).stack("prod-us")
    assert not spoke.notifications.enabled   # prod's Slack channel: the hub dev has no Slack notifier


# --- the program ------------------------------------------------------------------------------------------------


def test_the_program_seals_prods_token_into_its_argocd_slice_and_never_holds_it_in_plain(program, key: Any) -> None:
    mocks, outputs = program("prod")
    token = secret_values(REPO_ROOT, "prod")[notifications.SECRETS_ENTRY]["SLACK_TOKEN"]
    files = mocks.named("gitops-argocd").inputs["files"]
    doc = yaml.safe_load(files["argocd/prod/notifications-secret.yaml"])
    assert unseal_sealed_secret(doc, [key]) == {"SLACK_TOKEN": token.encode()}
    release = next(r for r in mocks.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "argo-cd")
    notifiers = release.inputs["values"]["notifications"]["notifiers"]
    assert {name: yaml.safe_load(text) for name, text in notifiers.items()} == {"service.slack": {"token": "$SLACK_TOKEN"}}
    assert release.inputs["values"]["notifications"]["secret"] == {"create": False}
    for reg in mocks.registrations:
        assert not any(token in text for text in plain_strings(reg.inputs)), reg.name
    for name, export in outputs.items():
        assert token not in json.dumps(export.value, default=str), name


def test_a_missing_token_stops_the_program_naming_the_command(program) -> None:
    values = secret_values(REPO_ROOT, "prod")
    del values[notifications.SECRETS_ENTRY]
    with pytest.raises(pulumi.RunError, match=r"notifications of environment prod need the Slack token.*"
                                              r"pulumi config set --stack prod --secret --path "
                                              r"'gitops-platform:secrets.argocd-notifications.SLACK_TOKEN'"):
        program("prod", secrets=values)


def test_quiet_stacks_need_no_credentials_and_their_argo_cd_has_no_notifiers(program) -> None:
    mocks, _ = program("dev")
    release = next(r for r in mocks.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "argo-cd")
    assert "notifications" not in release.inputs["values"]
    assert "argocd/dev/notifications-secret.yaml" not in mocks.named("gitops-argocd").inputs["files"]
