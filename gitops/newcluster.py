"""``new-cluster``: a new stack file for one more cluster of an existing kind of environment.

A second prod region should be prod in everything but what must differ: its
own environment (its own ``overlays/<env>`` and ``argocd/<env>``), cluster,
region and network. So the new ``Pulumi.<name>.yaml`` is the existing
environment's config with exactly those changed, ``profile`` pointing at the
existing environment's profile (the catalog's overrides apply unchanged), and
what would be wrong to copy left out: registry ownership (one owner per
registry), image tag pins (a new cluster runs the catalog's tags until
promoted), secret config (encrypted for the other stack), sealing key
generations and backups (the other cluster's keys), given subnets (the other
VPC's). Which field is which is declared once, in ``gitops.configschema``
(``Copy``); this module applies the marks and sets the new cluster's own
values. The result is validated by loading the whole project with it before
anything is written.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout, names, yamlio
from .configschema import TOP_LEVEL, Copy, Field
from .errors import InputError, Problem
from .model import Project, Stack, Topology
from .notifications import spoke_notifications
from .project import load_project
from .reader import did_you_mean
from .stackconfig import read_stack_values
from .stackfiles import stack_file

NS = layout.CONFIG_NAMESPACE
VPC_FIRST_OCTET = 10


@dataclass(frozen=True)
class NewCluster:
    name: str
    file: str          # Pulumi.<name>.yaml, relative to the project
    source: Stack      # the stack whose environment it copies
    text: str          # the file's content
    next_command: str


def plan_new_cluster(root: Path, name: str, env: str, region: str, hub: str | None = None,
                     command: str = "") -> NewCluster:
    """Everything checked and the file composed; nothing written (``write_new_cluster`` writes it)."""
    file = stack_file(name)
    flag_problem = names.label_problem(name, names.CLUSTER_MAX)
    if flag_problem:
        raise InputError([Problem("NAME", "", f"{flag_problem}; it names the stack, the environment and the EKS "
                                  f"cluster (at most {names.CLUSTER_MAX} characters)")])
    if (root / file).exists():
        raise InputError([Problem(str(root / file), "", "already exists; new-cluster never overwrites a stack file "
                                  "(pick another NAME or edit that file)")])
    if not names.AWS_REGION.fullmatch(region):
        raise InputError([Problem("--region", "", f"{region!r} is not an AWS region such as 'eu-central-1'")])
    project = load_project(root)
    source = _source_stack(project, env)
    hub_stack = _hub_stack(project, hub) if hub is not None else None
    values = read_stack_values(root, source.name)
    config = _compose(root, project, source, values, name, region, hub, hub_stack)
    header = _header(command or _command(name, env, region, hub), source, name)
    text = header + yamlio.dump({"config": config})
    _validate(root, name, file, text)
    return NewCluster(name, file, source, text, f"pulumi stack init {name} && pulumi up --stack {name}")


def write_new_cluster(root: Path, plan: NewCluster) -> Path:
    """Create the file; refuses an existing one even if it appeared since the plan."""
    path = root / plan.file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError([Problem(str(path), "", "already exists; new-cluster never overwrites a stack file")]) from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(plan.text)
    return path


def _source_stack(project: Project, env: str) -> Stack:
    by_env = {s.environment: s for s in project.stacks}
    if env not in by_env:
        known = sorted(by_env)
        raise InputError([Problem("--env", "", f"no stack serves environment {env!r}{did_you_mean(env, known)}; "
                                  f"environments of this project: {', '.join(known)}")])
    return by_env[env]


def _hub_stack(project: Project, hub: str) -> Stack | None:
    """The hub when it is a stack of this project; None for ``<org>/<project>/<stack>`` (not checkable here)."""
    if "/" in hub:
        return None
    hubs = [s.name for s in project.stacks if s.argocd.topology is Topology.HUB]
    try:
        stack = project.stack(hub)
    except KeyError:
        stack = None
    if stack is None or stack.argocd.topology is not Topology.HUB:
        what = "is not a hub" if stack is not None else f"is not a stack of this project{did_you_mean(hub, hubs)}"
        raise InputError([Problem("--hub", "", f"{hub!r} {what}; hub stacks: "
                                  f"{', '.join(hubs) or 'none (set argocd.topology: hub on one)'}")])
    return stack


def _compose(root: Path, project: Project, source: Stack, values: dict[str, Any], name: str, region: str,
             hub: str | None, hub_stack: Stack | None) -> dict[str, Any]:
    config = copied_config(values, spoke=hub is not None)
    # The fields marked Copy.NEW: the new cluster's own.
    config["aws:region"] = region
    config[f"{NS}:environment"] = name
    config[f"{NS}:profile"] = source.profile
    cluster = dict(config.get(f"{NS}:cluster") or {})
    cluster.update(name=name, vpcCidr=free_vpc_cidr(project))
    config[f"{NS}:cluster"] = cluster
    # The same registry as the source (also when the source left account/region to default), never its owner.
    registry = dict(config.get(f"{NS}:registry") or {})
    registry.update(accountId=source.registry.account_id, region=source.registry.region, owner=False)
    config[f"{NS}:registry"] = registry

    if hub is not None:
        argocd = dict(config.get(f"{NS}:argocd") or {})
        argocd.update(topology=Topology.SPOKE.value, hub=hub)
        if hub_stack is not None:
            # The hub's Argo CD holds and syncs this spoke's argocd/<env>/: its namespace and repository.
            argocd["namespace"] = hub_stack.argocd.namespace
            gitops = dict(config.get(f"{NS}:gitops") or {})
            gitops.update(repoURL=hub_stack.gitops.repo_url, revision=hub_stack.gitops.revision,
                          path=hub_stack.gitops.path)
            config[f"{NS}:gitops"] = gitops
        config[f"{NS}:argocd"] = argocd
        # Its notifications go out through the hub's notifiers: keep only those the hub has.
        notifications = spoke_notifications(config.pop(f"{NS}:notifications", None), hub_stack)
        if notifications is not None:
            config[f"{NS}:notifications"] = notifications
    return config


def copied_config(values: Mapping[str, Any], spoke: bool = False) -> dict[str, Any]:
    """The source stack's config values that the schema marks copied (``Copy.COPY``; ``NOT_TO_SPOKE`` unless ``spoke``).

    A top-level key is decided by its own mark when it is secret or has no
    fields, otherwise field by field; a section left empty by the omissions is
    left out. Provider keys (``aws:*``) are kept, and any value holding a
    Pulumi-encrypted leaf is dropped: it is encrypted for the other stack.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _has_secure(value):
            continue
        if not key.startswith(f"{NS}:"):
            out[key] = value
            continue
        field = TOP_LEVEL.get(key[len(NS) + 1:])
        if field is None:
            continue   # the source loaded, so every key is declared
        if field.fields and field.copy is not Copy.OMIT and isinstance(value, dict):
            declared = {sub.key: sub for sub in field.fields}
            kept = {k: v for k, v in value.items() if k in declared and _copies(declared[k], spoke)}
            if kept or not value:
                out[key] = kept
        elif _copies(field, spoke):
            out[key] = value
    return out


def _copies(field: Field, spoke: bool) -> bool:
    return field.copy is Copy.COPY or (field.copy is Copy.NOT_TO_SPOKE and not spoke)


def free_vpc_cidr(project: Project) -> str:
    """The first 10.N.0.0/16 that overlaps no stack's VPC (so the clusters' networks can be peered)."""
    used = [ipaddress.ip_network(s.cluster.vpc_cidr) for s in project.stacks]
    for octet in range(256):
        candidate = ipaddress.ip_network(f"{VPC_FIRST_OCTET}.{octet}.0.0/16")
        if not any(candidate.overlaps(net) for net in used):
            return str(candidate)
    raise InputError([Problem("--env", "", "no free 10.N.0.0/16 is left for the new cluster's VPC; "
                              "set cluster.vpcCidr by hand")])


def _header(command: str, source: Stack, name: str) -> str:
    return (
        f"# Generated by `{command}`\n"
        f"# from {source.file}: environment {name} with profile {source.profile} (the catalog's\n"
        f"# environments.{source.profile} overrides apply), its own cluster, region and VPC, not the registry's\n"
        "# owner, no image tag pins (the catalog's tags until promoted). Secret config is not copied:\n"
        "# set it with `pulumi config set --secret --path ...` (see docs/secrets.md). Shared with the source,\n"
        "# review before `pulumi up`: awsAccountId, ingress.domain, cluster.adminRoleArns, and the roles\n"
        "# CI runs as, cluster.deployRoleArn and cluster.previewRoleArn (roles of awsAccountId).\n"
    )


def _command(name: str, env: str, region: str, hub: str | None) -> str:
    return f"python -m gitops new-cluster {name} --env {env} --region {region}" + (f" --hub {hub}" if hub else "")


def _validate(root: Path, name: str, file: str, text: str) -> None:
    """Load the whole project with the new file's values in place of a file on disk."""
    values = read_stack_values_from_text(text, file)
    load_project(root, engine=(name, values))


def read_stack_values_from_text(text: str, file: str) -> dict[str, Any]:
    data = yamlio.parse(text, file)
    return dict((data or {}).get("config") or {})


def _has_secure(value: Any) -> bool:
    """A Pulumi-encrypted value (``{secure: ...}``) anywhere inside: encrypted for the other stack."""
    if isinstance(value, dict):
        return "secure" in value or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False
