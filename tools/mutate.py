"""Proves the policy pack by mutation: each insecure change to the plan must be blocked.

    python -m tools.mutate [--stack prod] [--only NAME ...] [--record]
    python -m tools.mutate --list

The stack's program runs once under the mocks; every mutation in `tools.mutations` is applied to
a deep copy of what it registered, and the copy goes to one running pack (configured with the
stack's `policies/config/<stack>.json`) exactly as the plan does. A mutation is caught when the
pack reports a mandatory violation that the unmutated plan did not have; the unmutated plan
itself must have none, or nothing could be told apart. Exits 0 only when every mutation is
caught, 1 when one is not, 2 when the baseline blocks, the program fails or `--only` names a
mutation the catalogue does not hold. `--record` writes what each mutation set off to the
expectations file; with `--only`, it updates only those mutations' entries.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from tools.analyzer import PolicyPack, load_policy_config
from tools.mutations import CATALOGUE, MissingTargetError, Mutation, Records
from tools.offline import ROOT, run_program
from tools.records import ResourceRecord, Violation

DEFAULT_STACK = "prod"

EXIT_OK = 0
EXIT_MISSED = 1
EXIT_ERROR = 2


class BaselineError(Exception):
    """The unmutated plan already has a mandatory violation."""


class RememberingPack(PolicyPack):
    """A pack that answers `Analyze` once per distinct resource.

    A resource policy sees one resource, its provider and the config, nothing else, so a
    resource that a mutation left as it was gets the answer it got before; `check` is the
    pack's own, and `AnalyzeStack` still runs on every whole mutated stack. This makes the
    catalogue about ninety stack calls instead of some nine thousand resource calls.
    """

    def __init__(self, pack_dir: Path, *, project: str, stack: str) -> None:
        super().__init__(pack_dir, project=project, stack=stack)
        self._answers: dict[str, list[Violation]] = {}

    def configure(self, config: Mapping[str, Any]) -> None:
        self._answers.clear()
        super().configure(config)

    def analyze(
        self, resource: ResourceRecord, provider: ResourceRecord | None = None
    ) -> list[Violation]:
        seen = [resource.to_json(), resource.custom_timeouts, provider and provider.to_json()]
        key = json.dumps(seen, sort_keys=True)
        if key not in self._answers:
            self._answers[key] = super().analyze(resource, provider)
        return list(self._answers[key])


# Which policies each mutation must set off: a mutation blocked by some other rule by chance
# would prove nothing about the rule it was written for. Reviewed by hand; regenerate with
# `--record` only after checking the printed table.
EXPECTATIONS_FILE = Path(__file__).with_name("mutation_expectations.json")
Expectations = Mapping[str, frozenset[str]]


def load_expectations(path: Path = EXPECTATIONS_FILE) -> dict[str, frozenset[str]]:
    data: dict[str, list[str]] = json.loads(path.read_text())
    return {name: frozenset(policies) for name, policies in data.items()}


@dataclass(frozen=True)
class Outcome:
    """What the pack said of one mutation: the new mandatory violations, or why none ran."""

    mutation: Mutation
    new: list[Violation] = field(default_factory=list[Violation])
    error: str | None = None
    # The policies that must be among `new`; None accepts any new mandatory violation.
    expected: frozenset[str] | None = None

    @property
    def policies(self) -> frozenset[str]:
        return frozenset(v.policy for v in self.new)

    @property
    def caught(self) -> bool:
        if self.expected is None:
            return bool(self.new)
        return bool(self.expected) and self.expected <= self.policies


@dataclass(frozen=True)
class Score:
    outcomes: list[Outcome]

    @property
    def caught(self) -> int:
        return sum(o.caught for o in self.outcomes)

    @property
    def missed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.caught]

    def line(self) -> str:
        total = len(self.outcomes)
        share = 100.0 * self.caught / total if total else 0.0
        return f"{self.caught}/{total} mutations caught ({share:.1f} %)"


def mutated(mutation: Mutation, records: Records) -> Records:
    """`records` after `mutation`, on a deep copy: the plan itself is never touched."""
    return mutation.apply(copy.deepcopy(records))


def _key(violation: Violation) -> tuple[str, str, str]:
    return violation.policy, violation.urn, violation.message


def judge(
    pack: PolicyPack,
    records: Records,
    catalogue: Sequence[Mutation],
    expectations: Expectations | None = None,
) -> Score:
    """Every mutation of `records` through `pack`, which must already be configured.

    With `expectations`, a mutation counts as caught only when its own policies fire; one
    with no recorded expectation counts as missed.
    """
    baseline = pack.check(records)
    blocking = [v for v in baseline if v.blocks]
    if blocking:
        names = ", ".join(sorted({v.policy for v in blocking}))
        raise BaselineError(f"the unmutated plan already violates {names}")

    known = {_key(v) for v in baseline}
    outcomes = [_try(pack, mutation, records, known) for mutation in catalogue]
    if expectations is None:
        return Score(outcomes)
    return Score(
        [
            dataclasses.replace(o, expected=expectations.get(o.mutation.name, frozenset()))
            for o in outcomes
        ]
    )


def _try(
    pack: PolicyPack, mutation: Mutation, records: Records, known: set[tuple[str, str, str]]
) -> Outcome:
    try:
        changed = mutated(mutation, records)
    except MissingTargetError as error:
        return Outcome(mutation, error=str(error))

    new = [v for v in pack.check(changed) if v.blocks and _key(v) not in known]
    return Outcome(mutation, new)


def score_stack(
    stack: str,
    catalogue: Sequence[Mutation],
    root: Path = ROOT,
    expectations: Expectations | None = None,
) -> Score:
    """Run `stack`'s program once, then judge every mutation with one pack process."""
    run = run_program(stack, root)
    config_path = root / "policies" / "config" / f"{stack}.json"
    config = load_policy_config(config_path) if config_path.exists() else {}

    with RememberingPack(root / "policies", project=run.project, stack=stack) as pack:
        pack.configure(config)
        return judge(pack, run.resources, catalogue, expectations)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    if args.list:
        for mutation in CATALOGUE:
            console.print(f"{mutation.name:<36} {mutation.fault}", markup=False)
        return EXIT_OK

    unknown = sorted(set(args.only or ()) - {m.name for m in CATALOGUE})
    if unknown:
        console.print(
            f"error: no mutation named {', '.join(unknown)}; "
            "`python -m tools.mutate --list` prints the catalogue",
            markup=False,
        )
        return EXIT_ERROR
    catalogue = [m for m in CATALOGUE if not args.only or m.name in args.only]

    try:
        expectations = None if args.record else load_expectations(EXPECTATIONS_FILE)
        score = score_stack(args.stack, catalogue, expectations=expectations)
    except Exception as error:  # the program, the pack or the baseline: reported, exit 2
        console.print(f"error: {error}", markup=False)
        return EXIT_ERROR

    if args.record:
        _record(score, merge=bool(args.only))

    for outcome in score.outcomes:
        _print_outcome(console, outcome)
    console.print(score.line(), markup=False)
    if score.missed:
        console.print(f"not caught: {', '.join(o.mutation.name for o in score.missed)}")
        return EXIT_MISSED
    return EXIT_OK


def _record(score: Score, *, merge: bool) -> None:
    """Write what each judged mutation set off; one that set off nothing gets no entry.

    With `merge` (a run of some mutations only), the entries of the others are kept as they
    are, so that recording one mutation never drops the reviewed expectations of the rest.
    """
    recorded: dict[str, list[str]] = {}
    if merge and EXPECTATIONS_FILE.exists():
        recorded = {name: sorted(p) for name, p in load_expectations(EXPECTATIONS_FILE).items()}
    for outcome in score.outcomes:
        recorded.pop(outcome.mutation.name, None)
        if outcome.new:
            recorded[outcome.mutation.name] = sorted(outcome.policies)
    EXPECTATIONS_FILE.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def _print_outcome(console: Console, outcome: Outcome) -> None:
    name = outcome.mutation.name
    policies = ", ".join(sorted(outcome.policies)) or "nothing"
    if outcome.caught:
        console.print(f"  caught  {name:<36} {policies}", markup=False)
    elif outcome.error is not None or not outcome.new:
        why = outcome.error or outcome.mutation.fault
        console.print(f"  MISSED  {name:<36} {why}", markup=False)
    else:
        wanted = ", ".join(sorted(outcome.expected or ())) or "no expectation recorded"
        console.print(f"  MISSED  {name:<36} expected {wanted}; got {policies}", markup=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutate",
        description="Apply insecure mutations to a stack's plan; each must be blocked.",
    )
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help=f"the stack whose plan is mutated (default: {DEFAULT_STACK})",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these mutations (see --list)"
    )
    parser.add_argument(
        "--list", action="store_true", help="print every mutation's name and what it breaks"
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the policies each mutation set off to mutation_expectations.json, only the "
        "--only mutations' entries when given (review the table first: this makes the current "
        "behaviour the expectation)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
