"""The scaling simulator under the prod settings: what KEDA and the HPA promise, and what not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from components.settings import WorkerSettings
from tests.conftest import stack_settings
from tools.sim_engine import Result, SimConfig, config_for, simulate
from tools.sim_hpa import KUBERNETES_DEFAULT, Autoscaler, program_behavior
from tools.sim_workload import ScenarioName, Workload, WorkloadSpec, draw
from tools.simulate import main


@pytest.fixture(scope="module")
def workers() -> WorkerSettings:
    return stack_settings("prod").workers


@pytest.fixture(scope="module")
def prod(workers: WorkerSettings) -> SimConfig:
    return config_for(workers)


@pytest.fixture(scope="module")
def burst() -> Workload:
    return draw(WorkloadSpec(scenario="burst"), seed=1)


@pytest.fixture(scope="module")
def steady() -> Workload:
    return draw(WorkloadSpec(scenario="steady"), seed=1)


def accounted(result: Result) -> int:
    return result.completed + result.dead_lettered + result.lost + result.unfinished


# Reaching the maximum after a burst.


def test_burst_runs_ten_workers_within_30_s_on_prod_settings(
    prod: SimConfig, burst: Workload
) -> None:
    # Nodes take 60 s: only the headroom prod's settings hold for the extra workers makes
    # 30 s possible.
    assert prod.headroom_pods >= prod.max_replicas - prod.min_replicas

    result = simulate(prod, burst)

    assert result.all_max_ready is not None, "never reached maxReplicas"
    assert result.all_max_ready <= 30, (
        f"{prod.max_replicas} workers ready after {result.all_max_ready} s"
    )


def test_burst_without_headroom_waits_for_nodes(prod: SimConfig, burst: Workload) -> None:
    result = simulate(dataclasses.replace(prod, headroom_pods=0), burst)

    assert result.all_max_ready is not None
    assert result.all_max_ready >= prod.node_provision_seconds + prod.pod_start_seconds


@pytest.mark.parametrize("phase", [0.0, 7.5, 10.0, 14.9])
def test_time_to_max_is_the_wait_for_a_sync_plus_pod_start(
    prod: SimConfig, burst: Workload, phase: float
) -> None:
    """With headroom, one HPA sync adds every worker; a late sync costs up to a whole period."""
    config = dataclasses.replace(prod, headroom_pods=9, sync_phase_seconds=phase)

    result = simulate(config, burst)

    assert result.all_max_ready == pytest.approx(phase + prod.pod_start_seconds)


def test_default_behaviour_needs_two_steps_and_the_programs_one() -> None:
    default = Autoscaler(KUBERNETES_DEFAULT, 1, 10)
    steps = [default.decide(0, 1, 10)]
    steps.append(default.decide(15, steps[-1], 10))

    program = Autoscaler(program_behavior(stack_settings("prod").workers), 1, 10)

    assert steps == [5, 10]
    assert program.decide(0, 1, 10) == 10


# Scale-down in the middle of a task.


def test_no_message_lost_when_scaling_down_mid_task(prod: SimConfig, steady: Workload) -> None:
    result = simulate(dataclasses.replace(prod, scale_on_in_flight=False), steady)

    assert result.interrupted > 0, "the scenario should stop busy workers"
    assert result.lost == 0
    assert result.redelivered == 0, "the grace period covers the longest task"
    assert result.completed == result.arrived


def test_short_grace_period_redelivers_instead_of_losing(prod: SimConfig, steady: Workload) -> None:
    config = dataclasses.replace(prod, scale_on_in_flight=False, grace_seconds=5)

    result = simulate(config, steady)

    assert result.redelivered > 0
    assert result.lost == 0
    assert result.completed == result.arrived


def test_deleting_on_receive_with_short_grace_is_reported_as_loss(
    prod: SimConfig, steady: Workload
) -> None:
    config = dataclasses.replace(prod, scale_on_in_flight=False, grace_seconds=5, ack="on_receive")

    result = simulate(config, steady)

    assert result.lost > 0
    assert result.completed + result.lost == result.arrived


@pytest.mark.parametrize("scenario", ["burst", "steady", "daily"])
@pytest.mark.parametrize("in_flight", [False, True])
def test_every_message_is_accounted_for(
    prod: SimConfig, scenario: ScenarioName, in_flight: bool
) -> None:
    workload = draw(WorkloadSpec(scenario=scenario), seed=3)

    result = simulate(dataclasses.replace(prod, scale_on_in_flight=in_flight), workload)

    assert accounted(result) == result.arrived == len(workload.arrivals)
    assert result.lost == 0


@pytest.mark.parametrize("scenario", ["steady", "daily"])
def test_scale_on_in_flight_false_interrupts_more(prod: SimConfig, scenario: ScenarioName) -> None:
    """Busy workers count towards the metric only with `scaleOnInFlight: true`.

    Without them the metric is the visible backlog alone, which falls to zero while workers are
    still matching, so the HPA removes workers (newest first) that are in the middle of a task.
    """
    workload = draw(WorkloadSpec(scenario=scenario), seed=1)

    without = simulate(dataclasses.replace(prod, scale_on_in_flight=False), workload)
    with_in_flight = simulate(dataclasses.replace(prod, scale_on_in_flight=True), workload)

    assert without.interrupted > with_in_flight.interrupted
    assert without.lost == with_in_flight.lost == 0


# The CPU baseline.


def test_cpu_baseline_never_scales(prod: SimConfig, burst: Workload) -> None:
    result = simulate(dataclasses.replace(prod, metric="cpu"), burst)

    assert result.first_scaled_ready is None
    assert result.peak_ready == prod.min_replicas
    assert {s.replicas for s in result.samples} == {prod.min_replicas}


# Determinism.


def test_same_seed_same_run(prod: SimConfig) -> None:
    first = simulate(prod, draw(WorkloadSpec(scenario="steady"), seed=7))
    again = simulate(prod, draw(WorkloadSpec(scenario="steady"), seed=7))

    assert first == again


def test_other_seed_other_workload() -> None:
    spec = WorkloadSpec(scenario="steady")

    assert draw(spec, seed=1) != draw(spec, seed=2)


# Cooldown semantics.


def test_cooldown_does_nothing_with_one_replica_minimum(prod: SimConfig, burst: Workload) -> None:
    assert prod.min_replicas == 1

    results = [simulate(dataclasses.replace(prod, cooldown_seconds=c), burst) for c in (0, 7200)]

    assert results[0] == results[1]


def test_stabilization_window_is_capped_at_one_hour(
    workers: WorkerSettings, burst: Workload
) -> None:
    runs = {
        c: simulate(config_for(workers.model_copy(update={"cooldown_seconds": c})), burst)
        for c in (600, 3600, 7200)
    }

    assert program_behavior(workers).down.stabilization_seconds == 3600
    assert runs[3600] == runs[7200], "a cooldown above one hour must change nothing"
    assert runs[600].worker_seconds < runs[3600].worker_seconds


def test_cooldown_governs_the_step_to_zero(prod: SimConfig, burst: Workload) -> None:
    # With in-flight messages in the metric, KEDA stays active until the last task is done.
    config = dataclasses.replace(
        prod, min_replicas=0, cooldown_seconds=1800, scale_on_in_flight=True
    )

    result = simulate(config, burst)

    active = [s.t for s in result.samples if s.visible + s.in_flight > 0]
    at_zero = [s.t for s in result.samples if s.replicas == 0 and s.t > active[-1]]
    assert at_zero, "never scaled to zero"
    assert at_zero[0] - active[-1] >= 1800 - config.sync_seconds


# The command line.


def test_command_line_prints_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "scaling.png"

    code = main(["--stack", "prod", "--scenario", "burst", "--plot", str(target)])

    assert code == 0
    assert target.read_bytes().startswith(b"\x89PNG")
    assert "HPA on 70 % CPU" in capsys.readouterr().out
