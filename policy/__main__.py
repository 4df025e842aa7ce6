"""The gitops-platform policy pack: ``pulumi preview --policy-pack policy``.

Constructing ``PolicyPack`` starts the analyzer's gRPC server and blocks, so this file
only builds it; the policies live in ``rules.py`` (importable, tested offline).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

# The pack runs with policy/ as its directory, so this is policy/rules.py; the type checker (and the
# tests) know that module only as policy.rules.
from rules import POLICIES  # type: ignore[import-not-found]

PolicyPack("gitops-platform", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
