"""The ECR lifecycle policy of the owner's repositories: what may expire, and what never may.

ECR evaluates a policy's rules from the lowest ``rulePriority`` up, and an image
that matches the tag selection of a rule can never be expired by a rule of lower
priority, whatever that rule's count says (the AWS lifecycle-policy guide). A
rule that selects one exact tag and keeps "more than 1" image therefore pins
that image for good: a tag names one image of a repository, so the count is
never exceeded, and every later rule is blind to it.

The policy built here:

1. one such keep rule per tag that any stack of the registry (or the catalog)
   pins: every tag that may be running is out of reach of the rules below;
2. untagged images expire after ``UNTAGGED_EXPIRY_DAYS`` (what a re-pushed
   mutable tag or an interrupted push leaves behind);
3. only if the owner configures ``registry.expireTagPatterns``: per pattern,
   images beyond the newest ``keepReleaseImages`` expire. The patterns must
   name tags that are never releases (``pr-*``, ``sha-*``); ``lifecycle_problems``
   refuses a pattern that could match a tag some stack's Image Updater accepts
   (``imageUpdates.allowTags``), because a release the updater deployed is
   running but pinned nowhere this program can see.

Release tags are never expired by count: a catch-all ``tagPatternList: ["*"]``
count rule expires old releases that an environment still runs (prod lags dev).

AWS limits respected: at most four ``*`` per tag pattern; several patterns in
one ``tagPatternList`` select images carrying *all* of them, so every tag and
pattern gets a rule of its own; only one rule selects untagged images; unique
priorities in ascending order; policy text at most 30,720 characters.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import layout
from .errors import Problem
from .model import Catalog, RegistryConfig, Stack, UpdateMode

# The stdlib regex parser and its opcodes, to read allowTags without running it. Type checkers know
# them only under their deprecated names (the same modules: importing those warns at run time).
if TYPE_CHECKING:
    import sre_constants as sre
    import sre_parse
else:
    import re._constants as sre
    import re._parser as sre_parse

NS = layout.CONFIG_NAMESPACE
UNTAGGED_EXPIRY_DAYS = 7
MAX_WILDCARDS = 4             # per tagPatternList string
MAX_POLICY_CHARS = 30720      # PutLifecyclePolicy lifecyclePolicyText
MAX_TAG_LENGTH = 128
TAG_CHARS = frozenset(string.ascii_letters + string.digits + "_.-")


def registry_key(registry: RegistryConfig) -> tuple[str, str, str]:
    """Stacks with the same key pull from the same repositories."""
    return registry.account_id, registry.region, registry.prefix


def pinned_tags(catalog: Catalog, stacks: Iterable[Stack], registry: RegistryConfig) -> dict[str, tuple[str, ...]]:
    """Repository -> every tag a stack of ``registry`` runs by config, plus the catalog's tag.

    The catalog's ``image.tag`` is kept even where every stack overrides it: a
    stack added later (``new-cluster`` drops ``imageTags``) runs it.
    """
    users = [s for s in stacks if registry_key(s.registry) == registry_key(registry)]
    tags: dict[str, set[str]] = {}
    for service in catalog.services:
        found = tags.setdefault(service.image_repository, set())
        found.add(service.image_tag)
        found.update(stack.image_tag(service) for stack in users)
    return {repo: tuple(sorted(found)) for repo, found in sorted(tags.items())}


def lifecycle_policy(protected: Sequence[str], expire_patterns: Sequence[str], keep: int) -> str:
    """The policy text for one repository (see the module docstring for the rules and why)."""
    keep_tags = sorted(set(protected))
    rules: list[dict[str, object]] = []
    for tag in keep_tags:
        rules.append({
            "description": f"pinned, never expires: {tag}",
            "selection": {"tagStatus": "tagged", "tagPatternList": [tag],
                          "countType": "imageCountMoreThan", "countNumber": 1},
        })
    rules.append({
        "description": f"expire untagged images after {UNTAGGED_EXPIRY_DAYS} days",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                      "countUnit": "days", "countNumber": UNTAGGED_EXPIRY_DAYS},
    })
    # A pattern that is itself a pinned tag would repeat that rule's selection; the pin wins.
    for pattern in dict.fromkeys(p for p in expire_patterns if p not in keep_tags):
        rules.append({
            "description": f"keep the newest {keep} non-release images tagged {pattern}",
            "selection": {"tagStatus": "tagged", "tagPatternList": [pattern],
                          "countType": "imageCountMoreThan", "countNumber": keep},
        })
    numbered = [{"rulePriority": i, **rule, "action": {"type": "expire"}} for i, rule in enumerate(rules, start=1)]
    return json.dumps({"rules": numbered}, sort_keys=True)


def expire_pattern_problem(pattern: str) -> str | None:
    """What is wrong with one ``registry.expireTagPatterns`` entry on its own, or None."""
    if not re.fullmatch(r"[A-Za-z0-9_.*-]{1,128}", pattern):
        return f"{pattern!r} is not an ECR tag pattern (tag characters letters, digits, '_', '.', '-' and '*' wildcards)"
    if not pattern.strip("*"):
        return (f"{pattern!r} matches every tag, releases included; name tags that are never releases, "
                "such as 'pr-*' or 'sha-*'")
    if pattern.count("*") > MAX_WILDCARDS:
        return f"{pattern!r} has {pattern.count('*')} wildcards; ECR allows at most {MAX_WILDCARDS} per pattern"
    return None


def lifecycle_problems(catalog: Catalog, stacks: Sequence[Stack]) -> list[Problem]:
    """Owner settings that would let the policy expire a running image, or that ECR would refuse."""
    problems: list[Problem] = []
    for owner in (s for s in stacks if s.registry.owner):
        registry = owner.registry
        users = [s for s in stacks if registry_key(s.registry) == registry_key(registry)
                 and s.image_updates.mode is not UpdateMode.OFF]
        for i, pattern in enumerate(registry.expire_tag_patterns):
            for user in users:
                if may_match_release(pattern, user.image_updates.allow_tags):
                    problems.append(Problem(
                        owner.file, f"config.{NS}:registry.expireTagPatterns[{i}]",
                        f"{pattern!r} can match a release tag the Image Updater of {user.file} deploys "
                        f"(imageUpdates.allowTags {user.image_updates.allow_tags}); such an image may be running "
                        "without a pin, so it must not expire by count. Name only tags that can never be releases, "
                        "such as 'pr-*' or 'sha-*'"))
                    break
        for repo, tags in pinned_tags(catalog, stacks, registry).items():
            size = len(lifecycle_policy(tags, registry.expire_tag_patterns, registry.keep_release_images))
            if size > MAX_POLICY_CHARS:
                problems.append(Problem(
                    owner.file, f"config.{NS}:registry",
                    f"the lifecycle policy of repository {repo!r} would be {size} characters, above ECR's "
                    f"{MAX_POLICY_CHARS}: {len(tags)} tags are pinned by the stacks; pin fewer distinct tags "
                    "(promote environments to the same release) or drop expireTagPatterns"))
    return problems


# --- can an ECR wildcard pattern match a tag that allowTags accepts? ------------------------------------
#
# Decided exactly over the tag alphabet: the wildcard pattern and the regular expression (search semantics,
# as the Image Updater matches allowTags: anywhere in the tag unless anchored) become automata, and a breadth-
# first walk of their product looks for one common tag. Constructs that do not describe a plain language
# (back-references, look-arounds, word boundaries) answer "may match": refusing a pattern is safe, expiring a
# release is not.

_EPS, _BOL, _EOL = "eps", "bol", "eol"
_Label = str | frozenset[str]   # an edge: epsilon, an anchor, or the characters it consumes
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S", sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W",
}
_MAX_STATES = 20000


class _Unsupported(Exception):
    """The expression uses something the automaton does not model."""


class _Nfa:
    """A Thompson automaton: per state, edges labelled with a character set, epsilon or an anchor."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[_Label, int]]] = []

    def new(self) -> int:
        if len(self.edges) >= _MAX_STATES:
            raise _Unsupported("too large")
        self.edges.append([])
        return len(self.edges) - 1

    def link(self, a: int, label: _Label, b: int) -> None:
        self.edges[a].append((label, b))

    def fragment(self, items: Iterable[tuple[object, Any]], ignore_case: bool) -> tuple[int, int]:
        start = current = self.new()
        for op, av in items:
            current = self._node(current, op, av, ignore_case)
        return start, current

    def _node(self, current: int, op: object, av: Any, ic: bool) -> int:
        # ``av``, the parser's argument, is a tuple, list or int whose shape depends on ``op``.
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            after = self.new()
            self.link(current, _chars(op, av, ic), after)
            return after
        if op is sre.AT:
            if av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
                label = _BOL
            elif av in (sre.AT_END, sre.AT_END_STRING):
                label = _EOL
            else:
                raise _Unsupported(str(av))
            after = self.new()
            self.link(current, label, after)
            return after
        if op is sre.SUBPATTERN:
            _group, add, remove, sub = av
            inner_ic = (ic or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            start, end = self.fragment(sub, inner_ic)
            self.link(current, _EPS, start)
            return end
        if op is sre.BRANCH:
            end = self.new()
            for alternative in av[1]:
                start, last = self.fragment(alternative, ic)
                self.link(current, _EPS, start)
                self.link(last, _EPS, end)
            return end
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, sub = av
            if low > MAX_TAG_LENGTH:
                raise _Unsupported("longer than any tag")
            for _ in range(low):
                start, end = self.fragment(sub, ic)
                self.link(current, _EPS, start)
                current = end
            if high == sre.MAXREPEAT:
                start, end = self.fragment(sub, ic)
                self.link(current, _EPS, start)
                self.link(end, _EPS, current)
                return current
            exits = []
            for _ in range(min(high, MAX_TAG_LENGTH + 1) - low):
                start, end = self.fragment(sub, ic)
                self.link(current, _EPS, start)
                exits.append(current)
                current = end
            for state in exits:
                self.link(state, _EPS, current)
            return current
        raise _Unsupported(str(op))


def _chars(op: object, av: Any, ic: bool) -> frozenset[str]:
    if op is sre.ANY:
        return TAG_CHARS
    if op is sre.LITERAL or op is sre.NOT_LITERAL:
        chosen = {chr(av)}
        negate = op is sre.NOT_LITERAL
    else:
        chosen, negate = set(), False
        for item, value in av:
            if item is sre.NEGATE:
                negate = True
            elif item is sre.LITERAL:
                chosen.add(chr(value))
            elif item is sre.RANGE:
                chosen.update(c for c in TAG_CHARS if value[0] <= ord(c) <= value[1])
            elif item is sre.CATEGORY and value in _CATEGORIES:
                chosen.update(c for c in TAG_CHARS if re.fullmatch(_CATEGORIES[value], c))
            else:
                raise _Unsupported(str(item))
    if ic:
        chosen |= {c.swapcase() for c in chosen}
    matched = frozenset(c for c in TAG_CHARS if c in chosen)
    return TAG_CHARS - matched if negate else matched


def may_match_release(pattern: str, allow_tags: str) -> bool:
    """Whether a tag matching the ECR wildcard ``pattern`` could be accepted by ``allow_tags`` ('any' or 'regexp:...')."""
    if not allow_tags.startswith("regexp:"):
        return True   # 'any': every tag is a release
    try:
        parsed = sre_parse.parse(allow_tags[len("regexp:"):])
        nfa = _Nfa()
        # Search semantics: anything may come before and after the match, unless anchored.
        before, after = nfa.new(), nfa.new()
        start, end = nfa.fragment(parsed.data, bool(parsed.state.flags & re.IGNORECASE))
        nfa.link(before, TAG_CHARS, before)
        nfa.link(before, _EPS, start)
        nfa.link(end, _EPS, after)
        nfa.link(after, TAG_CHARS, after)
    except (_Unsupported, re.error, RecursionError):
        return True
    return _meet(pattern, nfa, before, after)


def _meet(pattern: str, nfa: _Nfa, start: int, accept: int) -> bool:
    """Breadth-first over (pattern position, automaton state, consumed anything, passed '$')."""
    todo = [(0, start, False, False)]
    seen = set(todo)
    while todo:
        g, r, consumed, ended = todo.pop()
        if g == len(pattern) and r == accept:
            return True
        moves: list[tuple[int, int, bool, bool]] = []
        if g < len(pattern) and pattern[g] == "*":
            moves.append((g + 1, r, consumed, ended))
        for label, target in nfa.edges[r]:
            if label == _EPS:
                moves.append((g, target, consumed, ended))
            elif label == _BOL:
                if not consumed:
                    moves.append((g, target, consumed, ended))
            elif label == _EOL:
                moves.append((g, target, consumed, True))
            elif isinstance(label, frozenset) and not ended and g < len(pattern):
                allowed = TAG_CHARS if pattern[g] == "*" else frozenset(pattern[g])
                if allowed & label:
                    moves.append((g if pattern[g] == "*" else g + 1, target, True, ended))
        for move in moves:
            if move not in seen:
                seen.add(move)
                todo.append(move)
    return False

