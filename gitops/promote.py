"""Promotion: pin in one stack the image tags another environment runs.

Tags move between environments by an edit of the target's
``Pulumi.<stack>.yaml`` (``gitops-platform:imageTags``), so a promotion is a
reviewable one-line change per service that ``render`` and ``pulumi up`` then
apply like any other config. The stack file is a hand-written, commented file,
so it is edited round-trip and checked afterwards (``yamledit``): every line
outside the ``imageTags`` block must come out byte-identical, and the file must
read back (as the loader reads it) as the same config with only the new pins.
Anything else is refused rather than written. This module holds the rules
(which tag may go where); ``yamledit`` does the editing.

The order of environments is the stack config's ``promotion.from``: a tag
reaches prod only from staging unless the user says ``--force``. Such an
environment has no Image Updater (the loader refuses one), so its pin is what
runs: ``promote`` is the only way a tag gets there, and a rollback is a
``promote`` too. ``--tag T`` pins a tag that is not running in the source now
(rollback, hotfix) but did run there before, as the GitOps repository's
history shows (``history``). In the environment the updater serves (dev), a
pin holds the updater at exactly that tag (``render.imageupdater``), so it
writes the pinned tag over its own file and the rollback takes effect there
too. A leftover updater file in an environment no updater serves any more
would override every pin for ever; it is refused, naming the file to delete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import layout, yamlio
from .catalog import tag_problem
from .errors import InputError, Problem
from .history import tags_that_ran
from .model import Project, Service, Stack, UpdateMode
from .reader import did_you_mean
from .render.imageupdater import pinned_constraint, service_constraint
from .running import RunningTag, image_override, kustomization_file, running_tag, updater_file
from .yamledit import replace_file, set_config_strings

NS = layout.CONFIG_NAMESPACE
TAGS_KEY = f"{NS}:imageTags"
ORDER_KEY = f"config.{NS}:promotion.from"
COMMAND = "python -m gitops promote"


@dataclass(frozen=True)
class Change:
    """One service whose pin in the target moves to the tag running (or, with ``--tag``, once run) in the source."""

    service: str
    old: str          # the target's current tag (what its tree runs, else its pin, else the catalog's)
    new: str          # the tag running in the source environment, or the --tag that ran there
    source: str       # tree-relative file the new tag was read from ("" for a --force'd tag never seen)
    commit: str | None = None   # --tag: the commit of ``source`` that set it (None: the working tree)
    running: bool = True           # False: --tag, a tag the source ran before

    def as_json(self) -> dict[str, str]:
        out = {"service": self.service, "from": self.old, "to": self.new, "source": self.source}
        if self.commit:
            out["commit"] = self.commit
        return out


@dataclass(frozen=True)
class Promotion:
    """Everything ``promote`` will do, computed (and checked) before anything is written."""

    source: Stack
    target: Stack
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]
    notes: tuple[str, ...]
    text: str | None     # the target stack file's new content; None when nothing changes


def plan_promotion(project: Project, out: Path, source_env: str | None, target_env: str,
                   services: Sequence[str] | None, force: bool = False, tag: str | None = None) -> Promotion:
    """Plan promoting ``services`` (None: the whole catalog) from ``source_env`` into ``target_env``.

    ``tag``: pin this tag of the one service instead of the one running in the
    source (a rollback or a hotfix); it must have run in the source (default:
    the target's ``promotion.from``, or the target itself when it has none).
    Raises InputError, naming file and key, for an unknown environment or
    service, an out-of-order promotion or a tag that never ran there without
    ``force``, a tag that cannot be pinned (digest, invalid), an updater file
    that would override the pin, and a stack file that cannot be edited cleanly.
    """
    target = find_environment(project, target_env, "--to")
    if source_env is None:
        if tag is None:
            raise InputError([Problem("--from", "", "name the environment whose running tags to pin (--from ENV), or "
                                      "give --tag TAG to pin one tag that ran there before")])
        source = (find_environment(project, target.promote_from, "--from") if target.promote_from else target)
    else:
        source = find_environment(project, source_env, "--from")
    if source.name == target.name and (tag is None or target.promote_from):
        raise InputError([Problem("--to", "", f"{target_env!r} is also --from; promote into another environment "
                                  f"({', '.join(_others(project, source))})")])
    chosen = select_services(project, services)
    notes: list[str] = []
    if source.name != target.name:
        if force:
            notes.extend(_forced_order_note(source, target))
        else:
            check_order(project, source, target, services)
    if tag is None:
        running = _running_tags(out, chosen, source.environment)
        found = {s.name: Change(s.name, _current(out, target, s), running[s.name].tag, running[s.name].source)
                 for s in chosen}
    else:
        change = _ran_before(out, chosen, source, tag, force, notes)
        found = {change.service: dataclasses.replace(change, old=_current(out, target, chosen[0]))}
    changes = tuple(found[s.name] for s in chosen if not _holds(target, s, found[s.name].new))
    unchanged = tuple(s.name for s in chosen if _holds(target, s, found[s.name].new))
    _check_updater_files(out, target, [found[s.name] for s in chosen], notes)   # an unchanged pin may be overridden too
    text = None
    if changes:
        path = Path(project.root) / target.file
        original = yamlio.read_file_text(path, target.file)
        text = pin_tags(original, {c.service: c.new for c in changes}, target.file)
    return Promotion(source, target, changes, unchanged, tuple(notes), text)


def write_promotion(root: Path, promotion: Promotion) -> None:
    """Replace the target stack file atomically (temporary sibling, then rename)."""
    if promotion.text is None:
        return
    replace_file(root / promotion.target.file, promotion.text.encode("utf-8"))


def pin_tags(text: str, tags: Mapping[str, str], file: str) -> str:
    """``text`` (a stack file) with ``config.gitops-platform:imageTags.<svc>`` set to each tag.

    Tags are written double-quoted so no YAML reader takes ``1.10`` for a
    number. A missing ``imageTags`` mapping is added at the end of ``config``.
    Raises InputError when the edit would touch anything else in the file.
    """
    return set_config_strings(text, TAGS_KEY, tags, file, shape='service: "tag"', noun="pins")


# --- choosing environments and services ---------------------------------------------------------
def find_environment(project: Project, env: str, flag: str) -> Stack:
    """The stack whose ``environment`` is ``env``; environments, not stack names, are what users promote between."""
    for stack in project.stacks:
        if stack.environment == env:
            return stack
    known = sorted(s.environment for s in project.stacks)
    raise InputError([Problem(flag, "", f"{env!r} is not an environment of this project{did_you_mean(env, known)}; "
                              f"environments: {', '.join(known)}")])


def select_services(project: Project, names: Sequence[str] | None) -> tuple[Service, ...]:
    """The named services in catalog order (None: all); every unknown name is reported at once."""
    catalog = project.catalog.services
    if names is None:
        return catalog
    known = [s.name for s in catalog]
    unknown = [n for n in dict.fromkeys(names) if n not in known]
    if unknown:
        listed = ", ".join(known[:12]) + (f" and {len(known) - 12} more" if len(known) > 12 else "")
        raise InputError([Problem(f"{layout.CATALOG_DIR}/{n}.yaml", "", f"no such service in the catalog"
                                  f"{did_you_mean(n, known)}; services: {listed}") for n in unknown])
    wanted = set(names)
    return tuple(s for s in catalog if s.name in wanted)


def check_order(project: Project, source: Stack, target: Stack, services: Sequence[str] | None) -> None:
    """A tag enters an environment only from the one its stack names in ``promotion.from``.

    That is what makes "prod runs only what staging ran" hold; ``--force``
    (checked by the caller) is the deliberate exception.
    """
    allowed = target.promote_from
    if allowed == source.environment:
        return
    what = " ".join(services) if services is not None else "--all"
    if allowed is None:
        message = (f"{target.environment} names no environment it is promoted from; set it to the one whose tags "
                   f"{target.environment} receives ({', '.join(_others(project, target))}), or add --force")
    else:
        skipped = _skipped(project, source.environment, target)
        why = (f"promoting from {source.environment} skips {', '.join(skipped)}" if skipped
               else f"not from {source.environment}")
        message = (f"{target.environment} is promoted from {allowed}; {why}: run "
                   f"`{COMMAND} {what} --from {allowed} --to {target.environment}`, or add --force")
    raise InputError([Problem(target.file, ORDER_KEY, message)])


def _skipped(project: Project, source_env: str, target: Stack) -> list[str]:
    """The environments between ``source_env`` and ``target`` along the promotion chain ([] when off the chain)."""
    by_env = {s.environment: s for s in project.stacks}
    chain: list[str] = []
    env = target.promote_from
    while env is not None and env not in chain and env != target.environment:
        if env == source_env:
            return chain
        chain.append(env)
        env = by_env[env].promote_from if env in by_env else None
    return []


def _forced_order_note(source: Stack, target: Stack) -> list[str]:
    if target.promote_from == source.environment:
        return []
    usual = f"from {target.promote_from}" if target.promote_from else "from no declared environment"
    return [f"{target.environment} is promoted {usual} ({target.file}: {ORDER_KEY}); "
            f"promoting from {source.environment} because of --force"]


def _others(project: Project, stack: Stack) -> list[str]:
    return sorted(s.environment for s in project.stacks if s.name != stack.name)


# --- reading the tree -------------------------------------------------------------------------------
def _running_tags(out: Path, services: Sequence[Service], env: str) -> dict[str, RunningTag]:
    """Every service's running tag, with every unreadable one reported together."""
    if not out.is_dir():
        raise InputError([Problem(str(out), "", "no GitOps tree here: render it first "
                                  f"(`python -m gitops render --all --out {out}`) or give --out")])
    tags: dict[str, RunningTag] = {}
    problems: list[Problem] = []
    for service in services:
        try:
            tags[service.name] = running_tag(out, service.name, env)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return tags


def _ran_before(out: Path, chosen: Sequence[Service], source: Stack, tag: str, force: bool,
                notes: list[str]) -> Change:
    """The change ``--tag`` asks for: ``tag`` must be a valid tag of one service that ran in ``source``."""
    if len(chosen) != 1:
        raise InputError([Problem("--tag", "", "pins one service's tag: name exactly one SERVICE (not --all)")])
    service = chosen[0].name
    problem = tag_problem(tag)
    if problem:
        raise InputError([Problem("--tag", "", f"{tag!r}: {problem}")])
    env = source.environment
    seen = tags_that_ran(out, service, env)
    sighting = seen.get(tag)
    if sighting is not None:
        return Change(service, "", tag, sighting.path, sighting.commit, running=False)
    listed = ", ".join(list(seen)[:10]) or "none"
    if not force:
        raise InputError([Problem("--tag", "", f"{tag} never ran in {env}: no commit of "
                                  f"{kustomization_file(service, env)} or {updater_file(service, env)} (nor the working "
                                  f"tree) sets it; tags that ran there, newest first: {listed}. Promote it through "
                                  f"{env} first, or add --force")])
    notes.append(f"{service}: {tag} never ran in {env} (tags that did: {listed}); pinning it because of --force")
    return Change(service, "", tag, "", None, running=False)


def _check_updater_files(out: Path, target: Stack, changes: Sequence[Change], notes: list[str]) -> None:
    """Where the target's updater file would override the new pin: a note, or an error if nothing will fix it.

    In an environment whose Image Updater manages the service, the pin becomes
    the updater's exact constraint (render.imageupdater), so the updater
    rewrites its file to the pin: a note says so. Anywhere else (a promoted
    environment, mode off, a tag that is not semver) nothing ever rewrites
    the file, and Argo CD would keep applying it over every pin.
    """
    problems = []
    for change in changes:
        try:
            override = image_override(out, change.service, target.environment)
        except InputError:
            override = None
        if override is None or not (override.tag or override.digest) or override.tag == change.new:
            continue
        rel = updater_file(change.service, target.environment)
        if updater_manages(target, change.new):
            notes.append(f"{change.service}: {target.environment} runs {override.digest or override.tag} from the "
                         f"Image Updater's {rel}; the updater writes {change.new} there once the rendered "
                         f"argocd/{target.environment}/image-updater.yaml (constraint {change.new}) is synced")
        else:
            problems.append(Problem(str(out / rel), "kustomize.images",
                                    f"{override.entry!r} runs {change.service} at {override.digest or override.tag} "
                                    f"over any pin, and no Image Updater manages {change.service} in "
                                    f"{target.environment} to rewrite it (a file left from an earlier updater): "
                                    f"delete it from the GitOps repository (git rm {rel}), then promote again"))
    if problems:
        raise InputError(problems)


def _holds(target: Stack, service: Service, tag: str) -> bool:
    """Whether ``target``'s config already runs ``tag`` for ``service``, so promoting it changes nothing.

    A pin holds its tag. Without one, the catalog's tag runs only where no
    Image Updater moves the service on: in the updater's environment the
    catalog's tag is where it starts, not where it stays, so rolling back to
    it still needs the pin.
    """
    pin = dict(target.image_tags).get(service.name)
    if pin is not None:
        return pin == tag
    follows = (target.image_updates.mode is not UpdateMode.OFF and not target.promote_from
               and service_constraint(target, service)[0] is not None)
    return not follows and service.image_tag == tag


def _current(out: Path, target: Stack, service: Service) -> str:
    """What ``target`` runs for ``service`` now: the tree's running tag, else its configured tag."""
    try:
        return running_tag(out, service.name, target.environment).tag
    except InputError:
        return target.image_tag(service)


def updater_manages(stack: Stack, pinned: str) -> bool:
    """Whether ``stack``'s Image Updater will hold a service pinned at ``pinned`` (and so rewrite its file)."""
    return (stack.image_updates.mode is not UpdateMode.OFF and not stack.promote_from
            and pinned_constraint(pinned) is not None)
