"""The scaling simulator: the queue and its workers under a stack's own scaling settings.

    python -m tools.simulate --stack prod [--scenario burst|steady|daily] [--plot PATH]
        [--scale-on-in-flight true|false] [--seed N] [--headroom PODS] [--pod-start SECONDS]
        [--node-provision SECONDS] [--pods-per-node N] [--sync-phase SECONDS]

Runs one seeded workload twice: through KEDA on queue depth, as the stack configures it, and
through a plain HPA on 70 % CPU, the baseline that KEDA replaces. Prints the figures of both
side by side; `--plot` also draws replicas and queue depth over time. Exits 2 on bad settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from components.settings import SettingsError, StackSettings, load_settings
from tools.offline import StackFileError, load_stack_config
from tools.sim_engine import (
    NODE_PROVISION_SECONDS,
    POD_START_SECONDS,
    PODS_PER_NODE,
    SYNC_PHASE_SECONDS,
    Result,
    SimConfig,
    config_for,
    simulate,
)
from tools.sim_report import figures, plot, table
from tools.sim_workload import SCENARIOS, WorkloadSpec, draw

ROOT = Path(__file__).resolve().parent.parent
KEDA = "KEDA on queue"
CPU = "HPA on 70 % CPU"

EXIT_OK = 0
EXIT_ERROR = 2


def stack_settings(stack: str) -> StackSettings:
    """The stack's settings, read as the plan reads them (YAML 1.2, keys as the CLI parses them)."""
    config = load_stack_config(stack, ROOT).values
    return load_settings(stack, config.get, config.keys())


def compare(config: SimConfig, spec: WorkloadSpec, seed: int) -> dict[str, Result]:
    """Both models on the same draw, so that any difference comes from how they scale."""
    workload = draw(spec, seed)
    return {
        KEDA: simulate(config, workload),
        CPU: simulate(dataclasses.replace(config, metric="cpu"), workload),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = stack_settings(args.stack)
    except (SettingsError, StackFileError) as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR

    config = _configure(config_for(settings.workers), args)
    spec = WorkloadSpec(
        scenario=args.scenario,
        burst_messages=args.messages,
        steady_rate=args.rate,
        longest_task_seconds=settings.workers.longest_task_seconds,
    )
    runs = compare(config, spec, args.seed)

    title = _title(args.stack, args.scenario, config, args.seed)
    columns = {name: figures(result) for name, result in runs.items()}
    Console().print(table(title, columns, config.max_replicas))
    if args.plot is not None:
        plot(args.plot, title, runs)
    return EXIT_OK


def _configure(config: SimConfig, args: argparse.Namespace) -> SimConfig:
    in_flight = (
        config.scale_on_in_flight if args.scale_on_in_flight is None else args.scale_on_in_flight
    )
    return dataclasses.replace(
        config,
        scale_on_in_flight=in_flight,
        headroom_pods=config.headroom_pods if args.headroom is None else args.headroom,
        pod_start_seconds=args.pod_start,
        node_provision_seconds=args.node_provision,
        pods_per_node=args.pods_per_node,
        sync_phase_seconds=args.sync_phase,
    )


def _title(stack: str, scenario: str, config: SimConfig, seed: int) -> str:
    return (
        f"{stack}, {scenario}: scaleOnInFlight={str(config.scale_on_in_flight).lower()}, "
        f"{config.min_replicas}-{config.max_replicas} workers, headroom {config.headroom_pods} "
        f"pods, seed {seed}"
    )


def _flag(value: str) -> bool:
    if value.lower() not in {"true", "false"}:
        raise argparse.ArgumentTypeError("must be true or false")
    return value.lower() == "true"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.simulate", description=__doc__)
    add = parser.add_argument
    add("--stack", default="staging", help="the stack whose settings to use (default staging)")
    add("--scenario", choices=SCENARIOS, default="burst")
    add("--plot", type=Path, help="write a PNG of replicas and queue depth over time")
    add("--scale-on-in-flight", type=_flag, help="override the stack's value (true or false)")
    add("--seed", type=int, default=1)
    add("--messages", type=int, default=WorkloadSpec.burst_messages, help="burst size")
    add("--rate", type=float, default=WorkloadSpec.steady_rate, help="steady messages/s")
    add("--headroom", type=int, help="pods of spare room kept by placeholders (default: stack's)")
    add("--pod-start", type=float, default=POD_START_SECONDS)
    add("--node-provision", type=float, default=NODE_PROVISION_SECONDS)
    add("--pods-per-node", type=int, default=PODS_PER_NODE)
    add(
        "--sync-phase",
        type=float,
        default=SYNC_PHASE_SECONDS,
        help="seconds from the first arrival to the next HPA sync (0 to 15)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
