"""A B2B client of the matching API: submit a de-identified record, poll until it is matched.

Run headless against any base URL; the process exits non-zero when a bar is missed:

    locust -f loadtest/locustfile.py --headless -u 900 -r 30 -t 10m --reset-stats \\
        --host https://api.staging.matching.example.eu

Bars (defaults are the handover's): `--min-rps 150`, `--max-fail-ratio 0`, and `--max-p95-ms`
(unset: p95 per endpoint is reported, not enforced). Pacing: `--poll-interval`, `--think-time`
and `--poll-timeout`, in seconds. See loadtest/README.md.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from typing import Any, cast

from locust import HttpUser, events, task
from locust.clients import ResponseContextManager
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats, StatsEntry
from thresholds import (
    DEFAULT_MAX_FAIL_RATIO,
    DEFAULT_MIN_RPS,
    Bars,
    EndpointResult,
    RunResult,
    misses,
)

SUBMIT_PATH = "/v1/matches"
# One stats row for every job's status URL, rather than one row per job id.
POLL_NAME = "/v1/matches/[id]"
PENDING = frozenset({"queued", "running"})
# Distinct from Locust's own 1 (request errors) and 2 (crash), so CI can tell them apart.
EXIT_BAR_MISSED = 3

AGE_BANDS = ("18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
CONDITIONS_ICD10 = ("C50.9", "C34.90", "E11.9", "I10", "J45.909", "G30.9", "C61", "N18.3")
MEDICATIONS_ATC = ("A10BA02", "C09AA02", "L01FD01", "L02BB04", "R03AC02", "N06DA02")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pacing:
    """How a B2B integration paces itself; the defaults mirror a real client, not a benchmark.

    Matching takes 10-60 s (several LLM calls), so a client polls every few seconds rather
    than hammering, and its pipeline pauses between records. About 0.2 requests/s per user
    follows: the 150 requests/s bar needs on the order of 800-900 users.
    """

    poll_interval: float = 5.0
    think_time: float = 10.0
    poll_timeout: float = 300.0


def add_options(parser: ArgumentParser, **_kwargs: Any) -> None:
    # Locust passes its own parser, a subclass; the base class is the one with typed methods.
    parser.add_argument(
        "--min-rps", type=float, default=DEFAULT_MIN_RPS, help="lowest mean requests/s to pass"
    )
    parser.add_argument(
        "--max-fail-ratio",
        type=float,
        default=DEFAULT_MAX_FAIL_RATIO,
        help="highest share of failed requests to pass, 0-1",
    )
    parser.add_argument(
        "--max-p95-ms", type=float, default=None, help="highest p95 per endpoint (default: report)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=Pacing.poll_interval, help="seconds between polls"
    )
    parser.add_argument(
        "--think-time", type=float, default=Pacing.think_time, help="mean seconds between records"
    )
    parser.add_argument(
        "--poll-timeout", type=float, default=Pacing.poll_timeout, help="seconds until a job fails"
    )


def synthetic_record() -> dict[str, object]:
    """A made-up record with only de-identified fields: bands and codes, no names or dates."""
    return {
        "external_ref": uuid.uuid4().hex,
        "age_band": random.choice(AGE_BANDS),
        "sex": random.choice(("female", "male", "unknown")),
        "country": random.choice(("DE", "FR", "NL", "IT", "ES", "PL")),
        "conditions": random.sample(CONDITIONS_ICD10, k=random.randint(1, 3)),
        "medications": random.sample(MEDICATIONS_ATC, k=random.randint(0, 3)),
        "ecog": random.randint(0, 2),
        "synthetic": True,
    }


def _json_field(response: ResponseContextManager, key: str) -> str | None:
    try:
        document: Any = response.json()
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    value = cast(dict[str, object], document).get(key)
    return value if isinstance(value, str) else None


def _fail(response: ResponseContextManager, reason: str) -> None:
    # Locust leaves `failure`'s parameter unannotated; it takes an exception or a message.
    response.failure(reason)  # pyright: ignore[reportUnknownMemberType]


class MatchingClient(HttpUser):
    # Declared here because Locust's User assigns it untyped.
    environment: Environment

    def on_start(self) -> None:
        self.pacing = pacing_from(self.environment.parsed_options)

    def wait_time(self) -> float:
        # Jittered, so that clients started together do not submit in lockstep.
        return random.uniform(0.5, 1.5) * self.pacing.think_time

    @task
    def submit_and_wait(self) -> None:
        job_id = self._submit()
        if job_id is not None:
            self._wait_until_done(job_id)

    def _submit(self) -> str | None:
        with self.client.post(
            SUBMIT_PATH, json=synthetic_record(), name=SUBMIT_PATH, catch_response=True
        ) as response:
            job_id = _json_field(response, "id") if response.status_code == 202 else None
            if job_id is None:
                _fail(response, f"expected 202 with a job id, got {response.status_code}")
            return job_id

    def _wait_until_done(self, job_id: str) -> None:
        deadline = time.monotonic() + self.pacing.poll_timeout
        while True:
            # Locust patches time.sleep with gevent's, so waiting users cost no thread.
            time.sleep(self.pacing.poll_interval)

            with self.client.get(
                f"{SUBMIT_PATH}/{job_id}", name=POLL_NAME, catch_response=True
            ) as response:
                status = _json_field(response, "status") if response.status_code == 200 else None
                if status == "done":
                    return
                if status not in PENDING:
                    _fail(response, f"got {response.status_code} with status {status!r}")
                    return
                if time.monotonic() > deadline:
                    _fail(response, f"job not done after {self.pacing.poll_timeout:g} s")
                    return


def pacing_from(options: Namespace | None) -> Pacing:
    if options is None:
        return Pacing()
    return Pacing(options.poll_interval, options.think_time, options.poll_timeout)


def bars_from(options: Namespace | None) -> Bars:
    if options is None:
        return Bars()
    return Bars(options.min_rps, options.max_fail_ratio, options.max_p95_ms)


def _endpoint(name: str, entry: StatsEntry) -> EndpointResult:
    return EndpointResult(
        name=name,
        requests=entry.num_requests,
        failures=entry.num_failures,
        rps=entry.total_rps,
        p95_ms=entry.get_response_time_percentile(0.95),
    )


def run_result(stats: RequestStats) -> RunResult:
    endpoints = tuple(
        _endpoint(f"{method} {name}", entry)
        for (name, method), entry in sorted(stats.entries.items())
    )
    return RunResult(endpoints, _endpoint("total", stats.total))


def enforce_bars(environment: Environment, **_kwargs: Any) -> None:
    """Report each endpoint, then fail the process when the run missed a bar."""
    if isinstance(environment.runner, WorkerRunner):
        # A worker holds only its share of the numbers; the master judges the whole run.
        return
    run = run_result(environment.stats)
    for endpoint in (*run.endpoints, run.total):
        logger.info("%s", endpoint.summary())

    missed = misses(run, bars_from(environment.parsed_options))
    for miss in missed:
        logger.error("bar missed: %s", miss)

    if missed:
        environment.process_exit_code = EXIT_BAR_MISSED
    elif environment.runner is not None and not environment.runner.exceptions:
        # Failed requests within --max-fail-ratio pass; Locust alone would exit 1 on any.
        logger.info("all bars met")
        environment.process_exit_code = 0


# Locust's event hooks are unannotated; both listeners match the arguments Locust fires with.
parser_hook = events.init_command_line_parser
parser_hook.add_listener(add_options)  # pyright: ignore[reportUnknownMemberType]
events.quitting.add_listener(enforce_bars)  # pyright: ignore[reportUnknownMemberType]
