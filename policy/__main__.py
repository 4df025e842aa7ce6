"""The gitops-platform policy pack: ``pulumi preview --policy-pack policy``.

Constructing ``PolicyPack`` starts the analyzer's gRPC server and blocks, so this file
only builds it; the policies live in ``rules.py`` (importable, tested offline).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from rules import POLICIES

PolicyPack("gitops-platform", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
