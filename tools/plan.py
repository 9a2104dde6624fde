"""The offline plan: the program under mocks, then the real policy pack over gRPC.

    python -m tools.plan [--stack staging|prod] [--json PATH] [--policy-pack-config PATH]

Exits 0 when no mandatory policy is violated, 1 when one is, 2 on bad settings or a program
error (the message goes to stderr). Without `--policy-pack-config`, the stack's own
`policies/config/<stack>.json` is used, as CI passes it to `pulumi preview`.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape

from components.observability import plan_artifacts
from components.settings import SettingsError
from tools.analyzer import PolicyPack, PolicyPackError, load_policy_config
from tools.offline import ROOT, ProgramError, ProgramRun, StackFileError, run_program
from tools.printer import print_plan
from tools.records import Violation

DEFAULT_STACK = "staging"

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class Plan:
    run: ProgramRun
    pack: str
    violations: list[Violation]

    @property
    def blocked(self) -> bool:
        return any(v.blocks for v in self.violations)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.run.project,
            "stack": self.run.stack,
            "resources": [r.to_json() for r in self.run.resources],
            "outputs": self.run.stack_outputs,
            "policies": {
                "pack": self.pack,
                "violations": [v.to_json() for v in self.violations],
            },
        }


def make_plan(
    stack: str, policy_config: Path | None = None, root: Path = ROOT, *, preview: bool = False
) -> Plan:
    """Run the program for `stack` and judge what it registered with the policy pack."""
    run = run_program(stack, root, preview=preview)
    if policy_config is not None and not policy_config.is_file():
        raise PolicyPackError(f"--policy-pack-config {policy_config}: no such file")
    config_path = policy_config or root / "policies" / "config" / f"{stack}.json"
    config = load_policy_config(config_path) if config_path.exists() else {}

    pack_dir = root / "policies"
    with PolicyPack(pack_dir, project=run.project, stack=stack, dry_run=preview) as pack:
        info = pack.info()
        pack.configure(config)
        violations = pack.check(run.resources)
    return Plan(
        run=run, pack=f"{info.name}@{_pack_version(root, info.version)}", violations=violations
    )


def _pack_version(root: Path, reported: str) -> str:
    """The CLI takes a Python pack's version from PulumiPolicy.yaml; the SDK reports 0.0.1."""
    manifest: dict[str, Any] = yaml.safe_load((root / "policies" / "PulumiPolicy.yaml").read_text())
    return str(manifest.get("version", reported))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(highlight=False)
    if not console.is_terminal:
        # Logs and CI capture the plan: wrap long URNs less eagerly than rich's default 80.
        console.width = 160
    errors = Console(stderr=True, highlight=False)

    try:
        plan = make_plan(
            args.stack, args.policy_pack_config, args.cwd.resolve(), preview=args.preview
        )
    except (SettingsError, StackFileError, PolicyPackError) as error:
        # The message quotes stack values: escaped, a `[...]` in one is shown, not read as a style.
        errors.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
        return EXIT_ERROR
    except ProgramError as error:
        errors.print(
            f"[bold red]program error:[/] {escape(str(error))}", markup=True, soft_wrap=True
        )
        return EXIT_ERROR
    except Exception:  # any other failure of the program is reported as exit 2, not raised
        errors.print(traceback.format_exc(), markup=False, soft_wrap=True)
        return EXIT_ERROR

    print_plan(console, plan.run, plan.pack, plan.violations)
    if args.json is not None:
        _write_json(args.json, plan)
        console.print(f"plan written to {args.json}")
    written = _write_artifacts(_artifact_dir(args), plan)
    console.print(f"dashboard and rule files written to {written}")
    return EXIT_VIOLATIONS if plan.blocked else EXIT_OK


def _artifact_dir(args: argparse.Namespace) -> Path:
    """Beside the plan JSON when there is one, else `build/<stack>/` in the project."""
    if args.json is not None:
        return Path(args.json).parent
    return Path(args.cwd) / "build" / str(args.stack)


def _write_artifacts(directory: Path, plan: Plan) -> Path:
    """The dashboard JSON and the plain Prometheus rule file, for Grafana and promtool."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in plan_artifacts((r.type, r.inputs) for r in plan.run.resources).items():
        (directory / name).write_text(text)
    return directory


def _write_json(path: Path, plan: Plan) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan",
        description="Plan a stack offline under Pulumi mocks and judge it with the policy pack.",
    )
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help=f"the stack whose Pulumi.<stack>.yaml is planned (default: {DEFAULT_STACK})",
    )
    parser.add_argument(
        "--cwd",
        type=Path,
        default=ROOT,
        help="the project directory, as with the Pulumi CLI (default: this checkout)",
    )
    parser.add_argument("--json", type=Path, help="also write the plan as JSON to this path")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="plan as a first `pulumi preview` sees it: computed outputs are unknown",
    )
    parser.add_argument(
        "--policy-pack-config",
        type=Path,
        help="policy config in the CLI's format (default: policies/config/<stack>.json)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
