"""Running Pulumi code under the SDK's mocks, with a fresh runtime per test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pulumi
import pytest


@dataclass(frozen=True)
class Registration:
    typ: str
    name: str
    inputs: dict[str, Any]
    custom: bool | None


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes inputs as outputs and records every registration."""

    registrations: list[Registration] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), args.custom))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.typ == typ]


@pytest.fixture()
def pulumi_mocks() -> Iterator[Callable[..., RecordingMocks]]:
    """Call ``start(stack=..., preview=...)`` to install mocks; torn down after the test."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.reset_options()

    def start(stack: str = "dev", preview: bool = False) -> RecordingMocks:
        mocks = RecordingMocks()
        pulumi.runtime.set_mocks(mocks, project="gitops-platform", stack=stack, preview=preview)
        return mocks

    yield start
    # Let the runtime's own bookkeeping tasks (root stack outputs) finish before the loop goes.
    pending = asyncio.all_tasks(loop)
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=5))
    for task in asyncio.all_tasks(loop):
        task.cancel()
    pulumi.runtime.reset_options()
    pulumi.runtime.set_all_config({}, [])
    loop.close()
    asyncio.set_event_loop(None)
