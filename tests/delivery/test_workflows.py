"""The GitHub workflows: valid against GitHub's schema, and holding the project's delivery rules."""

from __future__ import annotations

import re
import subprocess
import sys
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


def test_checks_run_the_same_command_as_ci() -> None:
    ci_script = (ROOT / ".ci" / "run").read_text()
    runs = [str(s.get("run", "")).strip() for s in steps(load("checks.yml"))]

    assert "make test" in ci_script
    assert "make test" in runs


def test_checks_install_promtool_and_keep_the_plans() -> None:
    checks = steps(load("checks.yml"))
    install = next(s for s in checks if "apt-get install" in str(s.get("run", "")))
    upload = next(s for s in checks if str(s.get("uses", "")).startswith("actions/upload-artifact"))

    assert "prometheus" in install["run"]
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
