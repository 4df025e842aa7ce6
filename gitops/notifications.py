"""The stack's ``notifications`` key: who hears about this environment's Applications, and when.

```yaml
gitops-platform:notifications:
  slack: {channel: shop-prod-deploys}    # token: secrets.argocd-notifications.SLACK_TOKEN
  webhook: {name: ops-events}            # URL:   secrets.argocd-notifications.WEBHOOK_URL
  triggers: [sync-failed, degraded, deployed]   # default: all three
```

Off unless ``slack`` or ``webhook`` is set. The values that authenticate (the
Slack token, the webhook URL, which usually embeds its own token) are secrets,
given like the services' secrets and only ever written sealed
(``render.notifications``); nothing here holds one.

One Argo CD sends for every environment it manages: a hub's notifications
controller also reports its spokes' Applications, with the hub's notifiers. So
a spoke chooses only its recipients and triggers (its Applications'
subscriptions); the notifiers it names must be the hub's, which is checked
here when the hub is a stack of this project. A spoke never holds a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import layout
from .configschema import NOTIFICATIONS, read_str
from .errors import Problem
from .fleet import hub_of
from .model import NotificationsConfig, NotificationTrigger, Stack, Topology
from .reader import Node, Problems

NS = layout.CONFIG_NAMESPACE
KEY = f"config.{NS}:notifications"
DEFAULT_TRIGGERS = tuple(NotificationTrigger)


def read_notifications(node: Node | None, file: str, problems: Problems) -> NotificationsConfig | None:
    """The ``notifications`` value of a stack; the default (off) when absent, None when invalid."""
    if node is None:
        return NotificationsConfig()
    if not isinstance(node.data, dict):
        problems.add(file, node.path, "expected a mapping such as {slack: {channel: deploys}, triggers: [sync-failed]}")
        return None
    before = len(problems.items)
    channel = webhook = None
    slack_spec, hook_spec = NOTIFICATIONS["slack"], NOTIFICATIONS["webhook"]
    slack = node.node(slack_spec.key)
    if slack is not None:
        channel = read_str(slack, slack_spec["channel"])
        slack.done(slack_spec.field_keys)
    hook = node.node(hook_spec.key)
    if hook is not None:
        webhook = read_str(hook, hook_spec["name"])
        hook.done(hook_spec.field_keys)
    triggers = _read_triggers(node)
    if triggers and node.has("triggers") and slack is None and hook is None:
        node.error("triggers", "names triggers, but no notifier receives them; add slack: {channel: ...} or "
                         "webhook: {name: ...}, or remove notifications")
    node.done(NOTIFICATIONS.field_keys)
    if len(problems.items) > before:
        return None
    return NotificationsConfig(slack_channel=channel, webhook=webhook, triggers=triggers)


def _read_triggers(node: Node) -> tuple[NotificationTrigger, ...]:
    items = node.as_list("triggers")
    if items is None:
        return DEFAULT_TRIGGERS if node.has("slack") or node.has("webhook") else ()
    items_spec = NOTIFICATIONS["triggers"].items
    choices = list(items_spec.choices if items_spec is not None else ())
    out: list[NotificationTrigger] = []
    for i, item in enumerate(items):
        if item not in choices:
            node.error(f"triggers[{i}]", f"expected one of {', '.join(choices)}, got {item!r}")
        elif NotificationTrigger(item) in out:
            node.error(f"triggers[{i}]", f"{item} is listed twice")
        else:
            out.append(NotificationTrigger(item))
    return tuple(sorted(out, key=lambda t: choices.index(t.value)))


def notification_problems(stacks: Sequence[Stack]) -> list[Problem]:
    """A spoke's notifiers are its hub's: the hub's Argo CD holds them and sends for the spoke."""
    problems = Problems()
    for stack in stacks:
        config = stack.notifications
        if stack.argocd.topology is not Topology.SPOKE or not config.enabled:
            continue
        hub = hub_of(stack, stacks)
        if hub is None:
            continue   # a hub of another project (or none: reported by the fleet rules)
        offered = hub.notifications
        if config.slack_channel is not None and offered.slack_channel is None:
            problems.add(stack.file, f"{KEY}.slack",
                         f"the hub {hub.name}'s Argo CD sends this spoke's notifications, and it has no Slack notifier; "
                         f"set notifications.slack in {hub.file} (with triggers: [] if the hub's own Applications "
                         "should stay quiet)")
        if config.webhook is not None and config.webhook != offered.webhook:
            problems.add(stack.file, f"{KEY}.webhook.name",
                         f"{config.webhook!r} is not the hub {hub.name}'s webhook notifier "
                         f"({offered.webhook or 'it has none'}); the hub's Argo CD sends this spoke's notifications, "
                         "so a spoke uses the hub's webhook name")
    return problems.items


def spoke_notifications(value: Any, hub: Stack | None) -> Any:
    """A copied ``notifications`` value for a new spoke of ``hub``: only the notifiers the hub's Argo CD has.

    ``new-cluster --hub`` copies an environment's config; a spoke's
    subscriptions can only use its hub's notifiers, so the others are left
    out (the whole key when none is left). A hub of another project is taken
    at its word.
    """
    if hub is None or not isinstance(value, dict):
        return value
    kept = dict(value)
    if hub.notifications.slack_channel is None:
        kept.pop("slack", None)
    hook = kept.get("webhook")
    if hook is not None and (not isinstance(hook, dict) or hook.get("name") != hub.notifications.webhook):
        kept.pop("webhook", None)
    return kept if "slack" in kept or "webhook" in kept else None
