"""The catalog's ``delivery`` key: an opt-in Argo Rollouts canary for one service.

```yaml
delivery:
  strategy: canary
  steps:
    - setWeight: 20
    - pause: {duration: 5m}
    - setWeight: 50
    - pause: {}            # wait until someone promotes the Rollout
  analysis:                # optional: a web metric polled during the canary
    url: http://checks.observability.svc.cluster.local/payments
    jsonPath: "{$.ok}"
    successCondition: result == true
    interval: 1m
    failureLimit: 1
```

What is read here is what ``render.rollouts`` writes into the Rollout and its
AnalysisTemplate, so everything is checked before it becomes a manifest: the
Rollouts controller would otherwise reject a bad step only at sync time, and
values the controller templates itself (``{{ args.x }}``) must not appear.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import layout
from .errors import Problem, shown
from .model import Canary, CanaryAnalysis, CanaryStep, Catalog, Stack
from .reader import Node, type_name

STRATEGIES = ("canary",)
MAX_STEPS = 20
# Durations the Rollouts controller reads for pauses and intervals: a number and one unit.
DURATION = re.compile(r"[1-9][0-9]{0,5}(s|m|h)")
URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?")
JSON_PATH = re.compile(r"\{\$[^{}\s]*\}")
MAX_CONDITION = 1024
DEFAULT_INTERVAL = "1m"


def read_delivery(node: Node) -> Canary | None:
    """``delivery`` of one service file; None when absent or invalid (problems are added to ``node``)."""
    section = node.node("delivery")
    if section is None:
        return None
    before = len(node.problems.items)
    section.as_str("strategy", required=True, choices=STRATEGIES,
                describe="the rollout strategy; 'canary' is the one supported")
    steps = _read_steps(section)
    analysis = _read_analysis(section, len(steps))
    section.done()
    if len(node.problems.items) > before or not steps:
        return None
    return Canary(steps=steps, analysis=analysis)


def _read_steps(section: Node) -> tuple[CanaryStep, ...]:
    items = section.as_list("steps")
    if not items:
        if items is not None or not section.has("steps"):
            section.error("steps", "is required: at least one step, e.g. [{setWeight: 20}, {pause: {duration: 5m}}]")
        return ()
    if len(items) > MAX_STEPS:
        section.error("steps", f"has {len(items)} steps, at most {MAX_STEPS} allowed")
        return ()
    steps: list[CanaryStep] = []
    for i, item in enumerate(items):
        key = f"steps[{i}]"
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ("setWeight", "pause"):
            got = (f"keys {', '.join(map(str, item))}" if isinstance(item, dict) and item else type_name(item))
            section.error(key, "expected exactly one of {setWeight: <1-100>} or {pause: {duration: 5m}} "
                               f"(or pause: {{}} to wait for a promotion), got {got}")
            continue
        step = Node(item, section.file, section.key(key), section.problems)
        if "setWeight" in item:
            weight = step.as_int("setWeight", required=True, minimum=1, maximum=100)
            if weight is not None:
                steps.append(CanaryStep(set_weight=weight))
        else:
            pause = _read_pause(step)
            if pause is not None:
                steps.append(CanaryStep(pause=pause))
        step.done()
    return tuple(steps)


def _read_pause(step: Node) -> str | None:
    value = step.raw("pause")
    if value is None or value == {}:
        return ""   # an indefinite pause: the rollout waits until someone promotes it
    if not isinstance(value, dict):
        step.error("pause", f"expected {{}} or {{duration: 5m}}, got {type_name(value)}")
        return None
    pause = Node(value, step.file, step.key("pause"), step.problems)
    duration = pause.as_str("duration", required=True, pattern=DURATION, describe="a duration such as 30s, 5m or 1h")
    pause.done()
    return duration


def _read_analysis(section: Node, step_count: int) -> CanaryAnalysis | None:
    analysis = section.node("analysis")
    if analysis is None:
        return None
    url = analysis.as_str("url", required=True, pattern=URL, max_len=2048,
                       describe="an http(s) URL the controller can reach from the cluster, answering JSON")
    condition = analysis.as_str("successCondition", required=True, max_len=MAX_CONDITION,
                             describe="an expression over result, e.g. result == true")
    json_path = analysis.as_str("jsonPath", None, pattern=JSON_PATH, max_len=256,
                             describe="a JSONPath in braces such as {$.ok}")
    interval = analysis.as_str("interval", DEFAULT_INTERVAL, pattern=DURATION, describe="a duration such as 30s or 1m")
    count = analysis.as_int("count", None, minimum=1, maximum=1000)
    failure_limit = analysis.as_int("failureLimit", 0, minimum=0, maximum=100)
    starting_step = analysis.as_int("startingStep", None, minimum=0, maximum=max(step_count - 1, 0))
    for name, value in (("url", url), ("successCondition", condition)):
        if value is not None and ("{{" in value or "}}" in value):
            analysis.error(name, f"{shown(value)} contains a template delimiter; the controller would read it as "
                                 "an argument reference, and this Analysis passes none")
    analysis.done()
    if url is None or condition is None or interval is None or failure_limit is None:
        return None
    return CanaryAnalysis(url=url, success_condition=condition, json_path=json_path, interval=interval,
                          count=count, failure_limit=failure_limit, starting_step=starting_step)


def uses_canary(catalog: Catalog) -> bool:
    return any(s.delivery is not None for s in catalog.services)


def rollouts_controller(catalog: Catalog, stack: Stack) -> bool:
    """Whether the stack's cluster runs the Argo Rollouts controller (``addons.argoRollouts``, else: any canary)."""
    explicit = stack.addons.argo_rollouts
    return uses_canary(catalog) if explicit is None else explicit


# Where the program installs the controller (components/rollouts.py), and the name of its pods.
CONTROLLER_NAMESPACE = layout.ROLLOUTS_NAMESPACE
CONTROLLER_NAME = layout.ROLLOUTS_CONTROLLER


def canary_problems(catalog: Catalog, stacks: Sequence[Stack]) -> list[Problem]:
    """A canary needs the controller on every cluster it runs on: without it a Rollout never starts a pod.

    Where the controller runs, its namespace and its pods' name are its own,
    like the other platform controllers': no service may take either.
    """
    problems: list[Problem] = []
    users = [s.name for s in catalog.services if s.delivery is not None]
    for stack in stacks:
        if users and stack.addons.argo_rollouts is False:
            problems.append(Problem(
                stack.file, f"config.{layout.CONFIG_NAMESPACE}:addons.argoRollouts",
                f"is false, but {', '.join(users[:5])}{' and others' if len(users) > 5 else ''} roll out as a canary, "
                "which only the Argo Rollouts controller runs; remove argoRollouts (or set it true)"))
    if any(rollouts_controller(catalog, stack) for stack in stacks):
        for service in catalog.services:
            if service.namespace == CONTROLLER_NAMESPACE:
                problems.append(Problem(service.file, "namespace",
                                        f"{CONTROLLER_NAMESPACE!r} is the Argo Rollouts controller's namespace; "
                                        "choose a namespace of the team's own"))
            if service.name == CONTROLLER_NAME:
                problems.append(Problem(service.file, "", f"the service name {CONTROLLER_NAME!r} is the Argo Rollouts "
                                        "controller's (its pods' app.kubernetes.io/name); choose another name"))
    return problems
