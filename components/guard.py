"""Refuse to run against the wrong AWS account, before anything is created.

A stack pins its account id; credentials for another account (a stale
profile, the wrong SSO session) would otherwise create a second cluster in the
wrong place. The check is a plain (synchronous) invoke, so the program stops
before its first resource registration.
"""

from __future__ import annotations

import pulumi_aws as aws

from gitops.errors import GitOpsError


class WrongAccountError(GitOpsError):
    """The credentials belong to another account than the stack pins."""


def require_account(expected: str, stack_file: str) -> str:
    """The caller's account id, or WrongAccountError naming both accounts."""
    actual = aws.get_caller_identity().account_id
    if actual != expected:
        raise WrongAccountError(
            f"{stack_file}: config.gitops-platform:awsAccountId is {expected}, but the AWS credentials "
            f"belong to account {actual}; switch credentials (AWS_PROFILE, SSO session) or fix the stack file. "
            "Nothing was created."
        )
    return actual
