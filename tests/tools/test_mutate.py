"""The mutation runner: every insecure change in the catalogue is blocked by the real pack."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tools import mutate
from tools.analyzer import load_policy_config
from tools.mutate import (
    Expectations,
    Outcome,
    RememberingPack,
    Score,
    judge,
    load_expectations,
    mutated,
)
from tools.mutations import CATALOGUE, Mutation, Records
from tools.offline import ROOT, ProgramRun
from tools.records import Violation

NO_OP = Mutation("no-op", "changes nothing", lambda records: records)


@pytest.fixture(scope="module")
def prod(plans: dict[str, ProgramRun]) -> Records:
    return plans["prod"].resources


@pytest.fixture(scope="module")
def prod_pack(plans: dict[str, ProgramRun]) -> Iterator[RememberingPack]:
    project = plans["prod"].project
    with RememberingPack(ROOT / "policies", project=project, stack="prod") as pack:
        pack.configure(load_policy_config(ROOT / "policies" / "config" / "prod.json"))
        yield pack


def _snapshot(records: Records) -> str:
    return json.dumps([r.to_json() for r in records], sort_keys=True)


def test_catalogue_has_sixty_unique_mutations() -> None:
    names = [m.name for m in CATALOGUE]

    assert len(names) >= 60, len(names)
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("mutation", CATALOGUE, ids=[m.name for m in CATALOGUE])
def test_mutation_changes_a_copy_of_the_records(prod: Records, mutation: Mutation) -> None:
    before = _snapshot(prod)

    after = mutated(mutation, prod)

    assert _snapshot(after) != before, f"{mutation.name} changed nothing"
    assert _snapshot(prod) == before, f"{mutation.name} changed the plan it was given"


def test_every_mutation_has_the_policies_it_must_set_off() -> None:
    expectations = load_expectations()

    assert sorted(expectations) == sorted(m.name for m in CATALOGUE)
    assert all(expectations.values()), "an expectation names no policy"


def test_every_mutation_is_caught_on_prod(prod: Records, prod_pack: RememberingPack) -> None:
    score = judge(prod_pack, prod, CATALOGUE, load_expectations())

    missed = {o.mutation.name: o.error or o.mutation.fault for o in score.missed}
    assert missed == {}, score.line()
    total = len(CATALOGUE)
    assert score.line() == f"{total}/{total} mutations caught (100.0 %)"


def test_no_op_mutation_is_not_caught(prod: Records, prod_pack: RememberingPack) -> None:
    score = judge(prod_pack, prod, [NO_OP, CATALOGUE[0]])

    assert [o.mutation.name for o in score.missed] == ["no-op"]
    assert score.line() == "1/2 mutations caught (50.0 %)"


def test_a_mutation_blocked_by_another_rule_is_not_caught(
    prod: Records, prod_pack: RememberingPack
) -> None:
    internet_facing = next(m for m in CATALOGUE if m.name == "alb-internal-false")
    wrong = {"alb-internal-false": frozenset({"cloudfront-geo-eu-only"})}

    score = judge(prod_pack, prod, [internet_facing], wrong)

    assert [o.mutation.name for o in score.missed] == ["alb-internal-false"]
    assert score.outcomes[0].policies == {"alb-internal"}


def test_caught_mutation_names_the_new_violation(prod: Records, prod_pack: RememberingPack) -> None:
    internet_facing = next(m for m in CATALOGUE if m.name == "alb-internal-false")

    score = judge(prod_pack, prod, [internet_facing])

    assert [v.policy for v in score.outcomes[0].new] == ["alb-internal"]


def test_runner_exits_one_when_a_mutation_is_missed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mutate, "CATALOGUE", [NO_OP])

    code = mutate.main(["--stack", "prod"])

    printed = capsys.readouterr().out
    assert code == mutate.EXIT_MISSED, printed
    assert "0/1 mutations caught (0.0 %)" in printed
    assert "not caught: no-op" in printed


def test_empty_score_line() -> None:
    assert Score([]).line() == "0/0 mutations caught (0.0 %)"


def _forbid_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> Score:
        raise AssertionError("the stack was planned although the arguments were bad")

    monkeypatch.setattr(mutate, "score_stack", refuse)


def test_only_an_unknown_mutation_exits_two_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _forbid_runs(monkeypatch)

    code = mutate.main(["--only", "no-such-mutation", CATALOGUE[0].name, "also-not"])

    printed = capsys.readouterr().out
    assert code == mutate.EXIT_ERROR, printed
    assert "no mutation named also-not, no-such-mutation;" in printed
    assert "python -m tools.mutate --list" in printed
    assert "mutations caught" not in printed


def test_list_prints_every_mutation_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _forbid_runs(monkeypatch)

    code = mutate.main(["--list"])

    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert code == mutate.EXIT_OK
    assert listed == [m.name for m in CATALOGUE]


CAUGHT = Mutation("caught-now", "blocked by alb-internal", lambda records: records)
NO_LONGER = Mutation("no-longer-caught", "blocked by nothing now", lambda records: records)


@pytest.fixture
def expectations_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the expectations in a temporary file, with the runs faked: what they set off."""
    path = tmp_path / "mutation_expectations.json"
    recorded = {"caught-now": ["old-policy"], "no-longer-caught": ["x"], "untouched": ["y"]}
    path.write_text(json.dumps(recorded))
    monkeypatch.setattr(mutate, "EXPECTATIONS_FILE", path)
    monkeypatch.setattr(mutate, "CATALOGUE", [CAUGHT, NO_LONGER])

    def fake(
        _stack: str, catalogue: Sequence[Mutation], expectations: Expectations | None = None
    ) -> Score:
        blocked = Violation("alb-internal", "mandatory", "urn:x", "internet-facing")
        return Score(
            [
                Outcome(
                    m,
                    new=[blocked] if m is CAUGHT else [],
                    expected=None if expectations is None else expectations.get(m.name),
                )
                for m in catalogue
            ]
        )

    monkeypatch.setattr(mutate, "score_stack", fake)
    return path


def test_record_with_only_updates_those_entries(expectations_file: Path) -> None:
    mutate.main(["--only", "caught-now", "no-longer-caught", "--record"])

    assert json.loads(expectations_file.read_text()) == {
        "caught-now": ["alb-internal"],
        "untouched": ["y"],
    }


def test_record_of_the_whole_catalogue_rewrites_the_file(expectations_file: Path) -> None:
    mutate.main(["--record"])

    assert json.loads(expectations_file.read_text()) == {"caught-now": ["alb-internal"]}


@pytest.mark.usefixtures("expectations_file")
def test_runs_judge_against_the_expectations_file_in_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = mutate.main(["--only", "caught-now"])

    assert code == mutate.EXIT_MISSED, "old-policy is expected, alb-internal fired"
    assert "expected old-policy; got alb-internal" in capsys.readouterr().out
