"""What the scaling simulator feeds the queue: arrival times and each message's LLM time.

Every random draw comes from one seeded generator, and a workload is drawn once and handed to
every model being compared, so a difference between two runs comes from the scaling alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ScenarioName = Literal["burst", "steady", "daily"]
# visible: in the queue; held: received, in flight; taken: deleted at receive, held by a worker
# only; lapsing: its worker is gone, it reappears when its visibility timeout runs out.
MessageState = Literal["waiting", "visible", "held", "taken", "lapsing", "done", "dead", "lost"]
SCENARIOS: tuple[ScenarioName, ...] = ("burst", "steady", "daily")

BURST_MESSAGES = 500
# Six records a minute need about 3.5 workers at a mean LLM time of 35 s.
STEADY_RATE_PER_SECOND = 0.1
SHORTEST_TASK_SECONDS = 10.0

# Records per second for each hour of the day (UTC): quiet nights, a morning ramp as EU partners
# upload, a peak that needs about nine workers, and an evening decline.
DAILY_PROFILE: tuple[float, ...] = (
    *(0.01,) * 6,
    0.03,
    0.08,
    0.15,
    0.22,
    0.26,
    0.26,
    0.2,
    0.24,
    0.26,
    0.22,
    0.15,
    0.08,
    0.04,
    *(0.02,) * 5,
)

# How long each scenario is watched: long enough for the one-hour scale-down window to play out.
HORIZON_SECONDS: dict[ScenarioName, float] = {"burst": 3 * 3600, "steady": 3 * 3600, "daily": 86400}


@dataclass(frozen=True)
class Workload:
    scenario: ScenarioName
    arrivals: tuple[float, ...]
    service_seconds: tuple[float, ...]
    horizon_seconds: float


@dataclass(frozen=True)
class WorkloadSpec:
    scenario: ScenarioName = "burst"
    burst_messages: int = BURST_MESSAGES
    steady_rate: float = STEADY_RATE_PER_SECOND
    longest_task_seconds: float = 60.0
    # None draws LLM times uniformly; a value draws them from a triangle with that mode.
    service_mode_seconds: float | None = None


@dataclass
class Message:
    """One record on its way through the queue, with the LLM time its matching will take."""

    sent_at: float
    service_seconds: float
    state: MessageState = "waiting"
    receives: int = 0
    received_at: float = 0.0
    first_received_at: float | None = None


def draw(spec: WorkloadSpec, seed: int) -> Workload:
    rng = random.Random(seed)
    horizon = HORIZON_SECONDS[spec.scenario]

    if spec.scenario == "burst":
        arrivals = [0.0] * spec.burst_messages
    elif spec.scenario == "steady":
        arrivals = _poisson(rng, lambda _t: spec.steady_rate, spec.steady_rate, horizon)
    else:
        arrivals = _poisson(rng, _daily_rate, max(DAILY_PROFILE), horizon)

    services = [_service(rng, spec) for _ in arrivals]
    return Workload(spec.scenario, tuple(arrivals), tuple(services), horizon)


def _daily_rate(t: float) -> float:
    return DAILY_PROFILE[int(t // 3600) % 24]


def _poisson(
    rng: random.Random, rate: Callable[[float], float], peak: float, horizon: float
) -> list[float]:
    """A non-homogeneous Poisson process by thinning: draw at the peak rate, keep rate/peak."""
    arrivals: list[float] = []
    t = rng.expovariate(peak)
    while t < horizon:
        if rng.random() < rate(t) / peak:
            arrivals.append(t)
        t += rng.expovariate(peak)
    return arrivals


def _service(rng: random.Random, spec: WorkloadSpec) -> float:
    low, high = SHORTEST_TASK_SECONDS, spec.longest_task_seconds
    if spec.service_mode_seconds is None:
        return rng.uniform(low, high)
    return rng.triangular(low, high, spec.service_mode_seconds)
