"""One running policy pack per session, reset to its default config before each test.

Starting the pack costs a second or two, so every test shares it; `pack` sends an empty
config first, so that no test sees another's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.policies.builders import PROJECT, STACK, as_state
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord, Violation

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"

Judge = Callable[[Sequence[ResourceRecord]], list[Violation]]


@pytest.fixture(scope="session")
def running_pack() -> Iterator[PolicyPack]:
    with PolicyPack(POLICY_DIR, project=PROJECT, stack=STACK) as pack:
        yield pack


@pytest.fixture(scope="session")
def running_preview_pack() -> Iterator[PolicyPack]:
    with PolicyPack(POLICY_DIR, project=PROJECT, stack=STACK, dry_run=True) as pack:
        yield pack


@pytest.fixture
def pack(running_pack: PolicyPack) -> PolicyPack:
    running_pack.configure({})
    return running_pack


@pytest.fixture
def preview_pack(running_preview_pack: PolicyPack) -> PolicyPack:
    running_preview_pack.configure({})
    return running_preview_pack


def as_cli(pack: PolicyPack, records: Sequence[ResourceRecord]) -> list[Violation]:
    """Analyze each resource's inputs, then the stack's outputs: what `pulumi up` sends."""
    providers = {r.urn: r for r in records if r.is_provider}
    found: list[Violation] = []
    for record in records:
        found.extend(pack.analyze(record, providers.get(record.provider_urn or "")))
    found.extend(pack.analyze_stack([as_state(r) for r in records], providers))
    return found


@pytest.fixture(params=["cli-outputs", "client-inputs"])
def judge(request: pytest.FixtureRequest, pack: PolicyPack) -> Judge:
    """Both stack views a pack must handle: the CLI's (outputs, with ids) and tools.analyzer's
    `check` (inputs, where groups are matched through property dependencies)."""
    if request.param == "cli-outputs":
        return lambda records: as_cli(pack, records)
    return pack.check
