"""Fixtures shared by every test: the stacks' settings, component runs under the mocks, plans."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.settings import StackSettings, load_settings
from tools.offline import ProgramRun, load_stack_config, run_callable, run_program
from tools.records import ResourceRecord

STACKS = ("staging", "prod")


def stack_settings(stack: str) -> StackSettings:
    config = load_stack_config(stack).values
    return load_settings(stack, config.get, config.keys())


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(stack: str) -> StackSettings:
    return stack_settings(stack)


ComponentRunner = Callable[[Callable[[], object]], ProgramRun]


@pytest.fixture
def run_component(stack: str) -> ComponentRunner:
    """Run a body that builds components, under the mocks, as the program of `stack`."""

    def run(body: Callable[[], object]) -> ProgramRun:
        return run_callable(body, stack)

    return run


@pytest.fixture(scope="session")
def plans() -> dict[str, ProgramRun]:
    """The whole program run once per stack; tests read from it and never mutate it."""
    return {name: run_program(name) for name in STACKS}


def of_type(run: ProgramRun, token: str) -> list[ResourceRecord]:
    return [r for r in run.resources if r.type == token]


def one(run: ProgramRun, token: str, name: str | None = None) -> ResourceRecord:
    """The single resource of `token` (and name, when given); fails naming what was found."""
    found = [r for r in of_type(run, token) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {token} {name or ''}, found {[r.urn for r in found]}"
    return found[0]
