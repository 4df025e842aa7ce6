"""The account guard stops the program before anything is created."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.guard import WrongAccountError, require_account
from pulumi_harness import RecordingMocks


class AccountMocks(RecordingMocks):
    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account

    def invoke_result(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:aws:iam::{self.account}:user/ci", "userId": "AIDA"}
        return {}


def _install(account: str) -> AccountMocks:
    mocks = AccountMocks(account)
    pulumi.runtime.set_mocks(mocks, project="gitops-platform", stack="prod")
    return mocks


def test_matching_credentials_pass(pulumi_mocks) -> None:
    _install("333333333333")
    assert require_account("333333333333", "Pulumi.prod.yaml") == "333333333333"


def test_credentials_of_another_account_fail_naming_both_accounts(pulumi_mocks) -> None:
    mocks = _install("111111111111")
    with pytest.raises(WrongAccountError) as info:
        require_account("333333333333", "Pulumi.prod.yaml")
    message = str(info.value)
    assert "333333333333" in message and "111111111111" in message and "Pulumi.prod.yaml" in message
    assert mocks.registrations == []
