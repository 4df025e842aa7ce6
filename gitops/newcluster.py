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
VPC's). The result is validated by loading the whole project with it before
anything is written.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from . import layout, names, yamlio
from .errors import InputError, Problem
from .model import Project, Stack, Topology
from .notifications import spoke_notifications
from .project import load_project
from .reader import did_you_mean
from .stackconfig import read_project_config, read_stack_values, stack_file

NS = layout.CONFIG_NAMESPACE
VPC_FIRST_OCTET = 10
SEALING_KEPT = ("namespace", "backup")   # the rest (generations, restoreFrom, KMS key) is the other cluster's


@dataclass(frozen=True)
class NewCluster:
    name: str
    file: str          # Pulumi.<name>.yaml, relative to the project
    source: Stack      # the stack whose environment it copies
    text: str          # the file's content
    next_command: str


def plan_new_cluster(root: Path, name: str, env: str, region: str, hub: Optional[str] = None,
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


def _hub_stack(project: Project, hub: str) -> Optional[Stack]:
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
             hub: Optional[str], hub_stack: Optional[Stack]) -> dict[str, Any]:
    secret_keys = {f"{NS}:{k}" for k, d in read_project_config(root).declarations.items() if d.secret}
    config = {k: v for k, v in values.items() if k not in secret_keys and not _has_secure(v)}
    config.pop(f"{NS}:imageTags", None)
    config["aws:region"] = region
    config[f"{NS}:environment"] = name
    config[f"{NS}:profile"] = source.profile

    cluster = dict(values.get(f"{NS}:cluster") or {})
    cluster["name"] = name
    cluster["vpcCidr"] = free_vpc_cidr(project)
    cluster.pop("subnetIds", None)
    config[f"{NS}:cluster"] = cluster

    # The same registry as the source (also when the source left account/region to default), never its owner.
    registry = dict(values.get(f"{NS}:registry") or {})
    registry.update(accountId=source.registry.account_id, region=source.registry.region, owner=False)
    # Only the owner encrypts, creates (as roleArn), deletes and expires the repositories.
    for owner_only in ("kmsKeyArn", "roleArn", "forceDelete", "expireTagPatterns"):
        registry.pop(owner_only, None)
    config[f"{NS}:registry"] = registry

    sealing = {k: v for k, v in (values.get(f"{NS}:sealing") or {}).items() if k in SEALING_KEPT}
    config.pop(f"{NS}:sealing", None)
    if sealing:
        config[f"{NS}:sealing"] = sealing

    if hub is not None:
        argocd = {k: v for k, v in (values.get(f"{NS}:argocd") or {}).items() if k not in ("fleetAddons", "ha", "hostname")}
        argocd.update(topology=Topology.SPOKE.value, hub=hub)
        if hub_stack is not None:
            # The hub's Argo CD holds and syncs this spoke's argocd/<env>/: its namespace and repository.
            argocd["namespace"] = hub_stack.argocd.namespace
            gitops = dict(values.get(f"{NS}:gitops") or {})
            gitops.update(repoURL=hub_stack.gitops.repo_url, revision=hub_stack.gitops.revision,
                          path=hub_stack.gitops.path)
            config[f"{NS}:gitops"] = gitops
        config[f"{NS}:argocd"] = argocd
        # Its notifications go out through the hub's notifiers: keep only those the hub has.
        notifications = spoke_notifications(values.get(f"{NS}:notifications"), hub_stack)
        config.pop(f"{NS}:notifications", None)
        if notifications is not None:
            config[f"{NS}:notifications"] = notifications
    return config


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
        "# set it with `pulumi config set --secret --path ...` (see README). Shared with the source,\n"
        "# review before `pulumi up`: awsAccountId, ingress.domain, cluster.adminRoleArns, and the roles\n"
        "# CI runs as, cluster.deployRoleArn and cluster.previewRoleArn (roles of awsAccountId).\n"
    )


def _command(name: str, env: str, region: str, hub: Optional[str]) -> str:
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
