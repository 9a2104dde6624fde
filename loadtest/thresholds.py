"""The bars a stress run must clear, and the verdict on one run's numbers.

Kept free of Locust imports: Locust patches the standard library with gevent on import, so the
verdict can be unit-tested, and read, without starting a load generator.
"""

from __future__ import annotations

from dataclasses import dataclass

# The handover's bar for the matching API: 150 requests/s sustained with no failed request.
# p95 latency is reported per endpoint and only enforced when a run asks for it, since it
# depends on where the load generator sits relative to the edge.
DEFAULT_MIN_RPS = 150.0
DEFAULT_MAX_FAIL_RATIO = 0.0


@dataclass(frozen=True)
class Bars:
    min_rps: float = DEFAULT_MIN_RPS
    max_fail_ratio: float = DEFAULT_MAX_FAIL_RATIO
    max_p95_ms: float | None = None


@dataclass(frozen=True)
class EndpointResult:
    """One endpoint's numbers over a run; `name` reads as `METHOD path`."""

    name: str
    requests: int
    failures: int
    rps: float
    p95_ms: float

    @property
    def fail_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def summary(self) -> str:
        return (
            f"{self.name}: {self.requests} requests, {self.failures} failed "
            f"({self.fail_ratio:.2%}), {self.rps:.1f} req/s, p95 {self.p95_ms:.0f} ms"
        )


@dataclass(frozen=True)
class RunResult:
    endpoints: tuple[EndpointResult, ...]
    total: EndpointResult


def misses(run: RunResult, bars: Bars) -> list[str]:
    """Every bar the run missed, worded for a CI log; empty when the run passed."""
    missed: list[str] = []
    if run.total.requests == 0:
        return ["no request completed: is the host reachable?"]
    if run.total.rps < bars.min_rps:
        missed.append(f"throughput {run.total.rps:.1f} req/s is below {bars.min_rps:g} req/s")
    if run.total.fail_ratio > bars.max_fail_ratio:
        missed.append(
            f"fail ratio {run.total.fail_ratio:.2%} ({run.total.failures} of "
            f"{run.total.requests}) is above {bars.max_fail_ratio:.2%}"
        )
    if bars.max_p95_ms is not None:
        missed.extend(
            f"{endpoint.name}: p95 {endpoint.p95_ms:.0f} ms is above {bars.max_p95_ms:g} ms"
            for endpoint in run.endpoints
            if endpoint.p95_ms > bars.max_p95_ms
        )
    return missed
