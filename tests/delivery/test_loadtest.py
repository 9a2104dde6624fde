"""The stress kit: the bars' verdict, and short Locust runs against the stand-in on loopback.

Every run here is bounded twice: Locust stops itself after a few seconds (`-t`), and the
subprocess is killed if it outlives a timeout. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import pytest

from loadtest.thresholds import Bars, EndpointResult, RunResult, misses
from tools.offline import ROOT

KIT = ROOT / "loadtest"
LOCUST_SECONDS = 4
# Startup of Locust and gevent takes a few seconds on this 2-core machine.
LOCUST_TIMEOUT = LOCUST_SECONDS + 30
# Far below the handover's 150 req/s: the load generator and the stand-in share two cores.
# The pacing flags shrink a real client's seconds-long pauses so a short run has samples.
SMALL_RUN = [
    "--headless",
    "--users=4",
    "--spawn-rate=4",
    f"--run-time={LOCUST_SECONDS}s",
    "--only-summary",
    "--poll-interval=0.05",
    "--think-time=0.05",
    "--min-rps=2",
    "--max-p95-ms=2000",
]
EXIT_BAR_MISSED = 3


def _loopback_only_env() -> dict[str, str]:
    """The environment without proxy settings, so no request can leave through a proxy."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


@contextmanager
def standin(*flags: str) -> Generator[str, None, None]:
    """The stand-in API on a free loopback port, for the block's duration; yields its URL."""
    command = [sys.executable, str(KIT / "standin.py"), "--lifetime=60", "--done-after=0.1"]
    with subprocess.Popen([*command, *flags], stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            banner = server.stdout.readline().strip()
            assert banner.startswith("listening on http://127.0.0.1:"), banner
            yield banner.removeprefix("listening on ")
        finally:
            server.terminate()
            server.wait(timeout=10)


def run_locust(host: str, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "locust", "-f", str(KIT / "locustfile.py")]
    return subprocess.run(
        [*command, *SMALL_RUN, f"--host={host}", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=LOCUST_TIMEOUT,
        env=_loopback_only_env(),
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def healthy_api() -> Iterator[str]:
    with standin() as url:
        yield url


def _run(
    requests: int = 1000, failures: int = 0, rps: float = 200.0, p95: float = 80.0
) -> RunResult:
    endpoint = EndpointResult("GET /v1/matches/[id]", requests, failures, rps, p95)
    return RunResult((endpoint,), endpoint)


def test_a_run_that_clears_every_bar_passes() -> None:
    assert misses(_run(), Bars(max_p95_ms=100)) == []


@pytest.mark.parametrize(
    ("run", "bars", "missed"),
    [
        (_run(rps=149.9), Bars(), "throughput 149.9 req/s is below 150 req/s"),
        (_run(failures=1), Bars(), "fail ratio 0.10% (1 of 1000) is above 0.00%"),
        (_run(p95=101), Bars(max_p95_ms=100), "GET /v1/matches/[id]: p95 101 ms is above 100 ms"),
        (_run(requests=0, rps=0), Bars(min_rps=0), "no request completed"),
    ],
    ids=["throughput", "failures", "p95", "no-requests"],
)
def test_each_missed_bar_is_named(run: RunResult, bars: Bars, missed: str) -> None:
    (verdict,) = misses(run, bars)

    assert verdict.startswith(missed), verdict


def test_p95_is_reported_but_not_enforced_by_default() -> None:
    assert misses(_run(p95=60_000), Bars()) == []


def test_a_healthy_api_passes_and_every_endpoint_is_reported(healthy_api: str) -> None:
    result = run_locust(healthy_api)

    assert result.returncode == 0, result.stdout
    assert "all bars met" in result.stdout
    for endpoint in ("POST /v1/matches:", "GET /v1/matches/[id]:"):
        line = next((x for x in result.stdout.splitlines() if endpoint in x), "")
        assert " 0 failed" in line, f"{endpoint} not reported clean:\n{result.stdout}"
        assert "p95" in line, line


def test_an_unreachable_throughput_bar_fails_the_run(healthy_api: str) -> None:
    result = run_locust(healthy_api, "--min-rps=1000000")

    assert result.returncode == EXIT_BAR_MISSED, result.stdout
    assert "bar missed: throughput" in result.stdout


def test_a_failing_api_fails_the_run() -> None:
    with standin("--fail") as url:
        result = run_locust(url)

    assert result.returncode == EXIT_BAR_MISSED, result.stdout
    assert "bar missed: fail ratio 100.00%" in result.stdout
