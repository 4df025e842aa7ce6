"""Argo CD notifications of an environment: subscriptions, the notifiers' config, their sealed credentials.

Three parts, each where Argo CD reads it:

* **Subscriptions**: annotations on each Application, set in the team
  ApplicationSets' template (``subscriptions``):
  ``notifications.argoproj.io/subscribe.<trigger>.<notifier>: <recipient>``.
* **Notifiers, triggers and templates**: the argo-cd chart's ``notifications``
  values (``chart_values``), which the chart writes into
  ``argocd-notifications-cm``. The Pulumi program passes them with the rest of
  Argo CD's values; nothing here is secret: the notifiers name their
  credentials as ``$SLACK_TOKEN`` / ``$WEBHOOK_URL``, which the notifications
  controller looks up in ``argocd-notifications-secret``.
* **Credentials**: ``argocd-notifications-secret`` as a strict-scope
  SealedSecret in Argo CD's namespace, in ``argocd/<env>/`` (``secret_file``),
  sealed with the cluster's certificate like the services' secrets. The chart
  creates a Secret of that name itself unless told not to, and the
  sealed-secrets controller refuses to overwrite a Secret it does not own, so
  the values set ``notifications.secret.create: false``: the only owner is
  the SealedSecret. The roots' project must then admit SealedSecrets
  (``platform_kinds``).

Hub and spokes: one Argo CD, one notifications controller, one ConfigMap and
one Secret. The hub's stack defines the notifiers and holds their credentials
(sealed with the hub's key, in the hub's ``argocd/<env>/``); a spoke's
ApplicationSet, applied into the hub's Argo CD, carries only its own
subscriptions, so the hub sends for every environment it manages. A spoke
never renders a SealedSecret here: sealed with its own key it would not open
in the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import layout, yamlio
from ..errors import InputError, Problem
from ..model import NotificationsConfig, NotificationTrigger, Stack, Topology
from .manifest import Manifest, yaml_file
from .secrets import SECRETS_KEY, sealed_object

if TYPE_CHECKING:
    from ..sealing import SealingCert

SECRET_NAME = "argocd-notifications-secret"
# Where the credentials are given: `secrets.argocd-notifications.<NAME>` in the stack's secret config, the
# same key under `services:` of a `render --secrets` file, or GITOPS_SECRET_ARGOCD_NOTIFICATIONS__<NAME>.
# No service can be called that: names starting with "argocd" are the platform's.
SECRETS_ENTRY = "argocd-notifications"
SECRET_FILE = "notifications-secret.yaml"
SLACK_TOKEN = "SLACK_TOKEN"
WEBHOOK_URL = "WEBHOOK_URL"
SLACK_SERVICE = "slack"
SUBSCRIBE_PREFIX = "notifications.argoproj.io/subscribe"

# The stack's names for Argo CD's triggers, and the templates they send (this module's own).
TRIGGERS: Mapping[NotificationTrigger, str] = MappingProxyType({
    NotificationTrigger.SYNC_FAILED: "on-sync-failed",
    NotificationTrigger.DEGRADED: "on-health-degraded",
    NotificationTrigger.DEPLOYED: "on-deployed",
})
TEMPLATES: Mapping[NotificationTrigger, str] = MappingProxyType({
    NotificationTrigger.SYNC_FAILED: "gitops-platform-sync-failed",
    NotificationTrigger.DEGRADED: "gitops-platform-degraded",
    NotificationTrigger.DEPLOYED: "gitops-platform-deployed",
})
# When each trigger fires: Argo CD's conditions over the Application (the expressions of its trigger catalog).
# on-deployed fires once per synced revision, not on every reconciliation while healthy.
_CONDITIONS: Mapping[NotificationTrigger, dict[str, Any]] = MappingProxyType({
    NotificationTrigger.SYNC_FAILED: {
        "description": "The sync of the Application failed",
        "when": "app.status.operationState.phase in ['Error', 'Failed']",
    },
    NotificationTrigger.DEGRADED: {
        "description": "The Application's health is Degraded",
        "when": "app.status.health.status == 'Degraded'",
    },
    NotificationTrigger.DEPLOYED: {
        "description": "The Application synced a new revision and is healthy",
        "when": "app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'",
        "oncePer": "app.status.sync.revision",
    },
})
_APP = "{{.app.metadata.name}}"
_LINK = "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}"
_MESSAGES: Mapping[NotificationTrigger, str] = MappingProxyType({
    NotificationTrigger.SYNC_FAILED: f"Sync of {_APP} failed: {{{{.app.status.operationState.message}}}}\n"
                                     f"{_LINK}?operation=true\n",
    NotificationTrigger.DEGRADED: f"{_APP} is degraded (sync {{{{.app.status.sync.status}}}}).\n{_LINK}\n",
    NotificationTrigger.DEPLOYED: f"{_APP} is running revision {{{{.app.status.sync.revision}}}} and is healthy.\n"
                                  f"{_LINK}\n",
})


def secret_names(stack: Stack) -> tuple[str, ...]:
    """The credentials this stack must provide: one per notifier its Argo CD runs (none for a spoke, or when off)."""
    config = stack.notifications
    if stack.argocd.topology is Topology.SPOKE:
        return ()
    return notifier_secrets(config)


def notifier_secrets(config: NotificationsConfig) -> tuple[str, ...]:
    names: list[str] = []
    if config.slack_channel is not None:
        names.append(SLACK_TOKEN)
    if config.webhook is not None:
        names.append(WEBHOOK_URL)
    return tuple(names)


def subscriptions(stack: Stack) -> dict[str, str]:
    """The annotations that subscribe each of the environment's Applications to its triggers and recipients.

    Fixed strings in the ApplicationSet template: nothing a discovered file
    says reaches them.
    """
    config = stack.notifications
    out: dict[str, str] = {}
    for trigger in config.triggers:
        if config.slack_channel is not None:
            out[f"{SUBSCRIBE_PREFIX}.{TRIGGERS[trigger]}.{SLACK_SERVICE}"] = config.slack_channel
        if config.webhook is not None:
            # A webhook has no recipient: the notifier's URL is the destination.
            out[f"{SUBSCRIBE_PREFIX}.{TRIGGERS[trigger]}.{config.webhook}"] = ""
    return out


def chart_values(config: NotificationsConfig, argocd_url: str | None) -> dict[str, Any]:
    """The argo-cd chart's ``notifications`` values for an Argo CD whose own stack has ``config``; {} when off.

    Every trigger and template is defined whatever ``config.triggers`` says, so a
    spoke can subscribe to any of them through the hub's Argo CD. The
    notifiers refer to their credentials by key only.
    """
    if not config.enabled:
        return {}
    notifiers: dict[str, str] = {}
    if config.slack_channel is not None:
        notifiers[f"service.{SLACK_SERVICE}"] = yamlio.dump({"token": f"${SLACK_TOKEN}"})
    if config.webhook is not None:
        notifiers[f"service.webhook.{config.webhook}"] = yamlio.dump({
            "url": f"${WEBHOOK_URL}",
            "headers": [{"name": "Content-Type", "value": "application/json"}],
        })
    values: dict[str, Any] = {
        "enabled": True,
        # argocd-notifications-secret is the SealedSecret's (secret_file): a chart-made one would keep it from
        # ever being written.
        "secret": {"create": False},
        "notifiers": notifiers,
        "triggers": {f"trigger.{TRIGGERS[t]}": yamlio.dump([{**_CONDITIONS[t], "send": [TEMPLATES[t]]}])
                     for t in NotificationTrigger},
        "templates": {f"template.{TEMPLATES[t]}": yamlio.dump(_template(t, config)) for t in NotificationTrigger},
    }
    if argocd_url:
        values["argocdUrl"] = argocd_url
    return {"notifications": values}


def _template(trigger: NotificationTrigger, config: NotificationsConfig) -> dict[str, Any]:
    """The message (Slack's text) and, with a webhook, a JSON body of fields that never hold free text."""
    template: dict[str, Any] = {"message": _MESSAGES[trigger]}
    if config.webhook is not None:
        body = ('{"event": "' + trigger.value + '", "application": "{{.app.metadata.name}}", '
                '"environment": "{{index .app.metadata.labels `' + layout.LABEL_ENVIRONMENT + '`}}", '
                '"project": "{{.app.spec.project}}", "revision": "{{.app.status.sync.revision}}", '
                '"sync": "{{.app.status.sync.status}}", "health": "{{.app.status.health.status}}"}')
        template["webhook"] = {config.webhook: {"method": "POST", "body": body}}
    return template


def platform_kinds(config: NotificationsConfig) -> tuple[tuple[str, str], ...]:
    """What the roots' project must admit besides Argo CD's own kinds: the notifiers' SealedSecret."""
    return (("bitnami.com", "SealedSecret"),) if notifier_secrets(config) else ()


def secret_path(stack: Stack) -> str:
    return f"{layout.argocd_env_dir(stack.environment)}/{SECRET_FILE}"


def set_command(stack: Stack, name: str) -> str:
    return (f"pulumi config set --stack {stack.name} --secret --path "
            f"'{SECRETS_KEY}.{SECRETS_ENTRY}.{name}' <value>")


def missing_values(stack: Stack, names: list[str]) -> InputError:
    """Names the environment, the notifier's credential and the command that sets it."""
    what = {SLACK_TOKEN: "the Slack token", WEBHOOK_URL: "the webhook URL"}
    return InputError([
        Problem(stack.file, f"config.{SECRETS_KEY}.{SECRETS_ENTRY}.{name}",
                f"the notifications of environment {stack.environment} need {what.get(name, name)} ({name}), and no "
                f"value is set; run: {set_command(stack, name)}")
        for name in names
    ])


def secret_file(stack: Stack, cert: SealingCert, values: Mapping[str, bytes], derivation: bytes | None) -> Manifest:
    """``argocd-notifications-secret`` sealed for the stack's cluster, holding exactly the notifiers' credentials."""
    names = list(secret_names(stack))
    missing = [name for name in names if name not in values]
    if missing:
        raise missing_values(stack, missing)
    extra = sorted(set(values) - set(names))
    if extra:
        raise InputError([Problem(stack.file, f"config.{SECRETS_KEY}.{SECRETS_ENTRY}.{name}",
                                  f"is not a credential of environment {stack.environment}'s notifiers; they need "
                                  f"{', '.join(names) or 'none'}") for name in extra])
    sealed = sealed_object(SECRET_NAME, stack.argocd.namespace,
                           {layout.LABEL_PART_OF: "argocd", layout.LABEL_MANAGED_BY: layout.MANAGED_BY},
                           {name: values[name] for name in names}, cert, f"{stack.file} (notifications)", derivation)
    return yaml_file(secret_path(stack), sealed)
