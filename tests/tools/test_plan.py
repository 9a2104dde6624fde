"""The plan command: exit codes, the JSON document, and the policy gate on the real stacks."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline import ROOT
from tools.plan import EXIT_ERROR, EXIT_OK, EXIT_VIOLATIONS, main

PUBLIC_ALB = """
import pulumi_aws as aws

group = aws.ec2.SecurityGroup("web", vpc_id="vpc-1")
aws.lb.LoadBalancer("public", load_balancer_type="application", security_groups=[group.id])
"""


def _pack_version() -> str:
    return str(yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["version"])


def _project(tmp_path: Path, program: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-central-1\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(program))
    (tmp_path / "policies").symlink_to(ROOT / "policies")
    return tmp_path


def _copy_of_this_project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "policies").symlink_to(ROOT / "policies")
    return tmp_path


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_each_stack_plans_with_no_mandatory_violation(
    stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"

    code = main(["--stack", stack, "--json", str(out)])

    printed = capsys.readouterr().out
    assert code == EXIT_OK, printed
    assert "0 mandatory" in printed
    document: dict[str, Any] = json.loads(out.read_text())
    assert document["project"] == "matching-platform"
    assert document["stack"] == stack
    assert document["policies"]["pack"] == f"matching-platform@{_pack_version()}"
    assert not [v for v in document["policies"]["violations"] if v["enforcement"] == "mandatory"]
    dashboard = json.loads((tmp_path / "dashboard.json").read_text())
    assert len(dashboard["panels"]) >= 18, "the dashboard is written beside the plan"
    assert "groups:" in (tmp_path / "prometheus-rules.yaml").read_text()


def test_json_resources_carry_every_field(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    main(["--stack", "staging", "--json", str(out)])

    resources: list[dict[str, Any]] = json.loads(out.read_text())["resources"]

    fields = {
        "urn",
        "type",
        "name",
        "parent",
        "provider",
        "id",
        "inputs",
        "outputs",
        "dependencies",
        "propertyDependencies",
    }
    assert resources, "the plan holds no resources"
    for resource in resources:
        assert fields <= resource.keys(), resource["urn"]
    types = {r["type"] for r in resources}
    for token in ("DedicatedCluster", "EdgeIngress", "AsyncWorkers", "Observability"):
        assert f"matching:platform:{token}" in types


def test_mandatory_violation_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, PUBLIC_ALB)

    code = main(["--stack", "dev", "--cwd", str(project)])

    printed = capsys.readouterr().out
    assert code == EXIT_VIOLATIONS, printed
    assert "alb-internal" in printed
    assert "1 mandatory" in printed or "mandatory" in printed


def test_bad_settings_exit_two_before_any_resource(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _copy_of_this_project(tmp_path)
    stack_file = project / "Pulumi.staging.yaml"
    stack_file.write_text(stack_file.read_text().replace("maxReplicas: 10", "maxReplicas: 0"))

    code = main(["--stack", "staging", "--cwd", str(project)])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert "Pulumi.staging.yaml" in captured.err
    assert "matching-platform:workers.maxReplicas" in captured.err
    assert captured.out == "", "nothing may be planned when the settings are bad"


def _edge_section_unqualified(text: str) -> str:
    """The stack file with its edge section repeated under the bare key `edge`, one CIDR listed."""
    start = text.index("  matching-platform:edge:\n")
    end = text.index("\n  matching-platform:", start + 1) + 1
    section = text[start:end].replace("matching-platform:edge:", "edge:", 1)
    return text + section.replace("loadTestCidrs: []", "loadTestCidrs: [52.28.10.0/24]")


def _append(lines: str) -> Callable[[str], str]:
    """An edit that appends `lines` to the stack file, whose last top-level key is `config`."""

    def edit(text: str) -> str:
        return text + lines

    return edit


@pytest.mark.parametrize(
    ("stack", "edit", "message"),
    [
        # The section read twice: the bare key's copy, listing a network, silently won.
        pytest.param(
            "staging",
            _edge_section_unqualified,
            "config keys `matching-platform:edge` and `edge` are the same key",
            id="unqualified-section-overrides",
        ),
        # A partial bare section: the plan complained of missing keys the file does hold.
        pytest.param(
            "prod",
            _append("  edge:\n    publicHostname: api.matching.example.eu\n"),
            "config keys `matching-platform:edge` and `edge` are the same key",
            id="unqualified-key-shadows-section",
        ),
        pytest.param(
            "prod",
            _append("environment:\n  - matching/prod-overrides\n"),
            "the offline plan cannot read ESC environments",
            id="esc-environment",
        ),
    ],
)
def test_stack_file_the_cli_would_read_otherwise_exits_two(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stack: str,
    edit: Callable[[str], str],
    message: str,
) -> None:
    project = _copy_of_this_project(tmp_path)
    stack_file = project / f"Pulumi.{stack}.yaml"
    stack_file.write_text(edit(stack_file.read_text()))

    code = main(["--stack", stack, "--cwd", str(project)])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR, captured.out
    assert f"error: Pulumi.{stack}.yaml: " in captured.err
    assert message in captured.err
    assert captured.out == "", "nothing may be planned from a stack file read otherwise"


def test_a_bracket_in_a_bad_value_is_printed_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _copy_of_this_project(tmp_path)
    stack_file = project / "Pulumi.staging.yaml"
    bad = "https://github.com/a/[bold]runbook.md"
    stack_file.write_text(re.sub(r"runbookUrl: \S+", f"runbookUrl: {bad}", stack_file.read_text()))

    code = main(["--stack", "staging", "--cwd", str(project)])

    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert f'(got "{bad}")' in err, "rich must not read the value's [bold] as a style"


def test_staging_with_load_generators_plans_with_an_advisory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _copy_of_this_project(tmp_path)
    stack_file = project / "Pulumi.staging.yaml"
    listed = 'loadTestCidrs: [52.28.10.7/32, "2a05:d014:1:2::/64"]'
    stack_file.write_text(stack_file.read_text().replace("loadTestCidrs: []", listed))

    code = main(["--stack", "staging", "--cwd", str(project)])

    printed = capsys.readouterr().out
    assert code == EXIT_OK, printed
    assert "matching-load-generators-ipv4" in printed
    assert "matching-load-generators-ipv6" in printed
    assert "advisory waf-rate-limit-no-exemptions" in printed


def test_unknown_stack_exits_two_and_lists_the_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--stack", "qa"])

    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "Pulumi.qa.yaml not found" in err
    assert "prod, staging" in err


def test_program_error_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, "raise RuntimeError('boom in the program')\n")

    code = main(["--stack", "dev", "--cwd", str(project)])

    assert code == EXIT_ERROR
    assert "boom in the program" in capsys.readouterr().err


def test_invalid_policy_config_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"alb-internal": {"enforcementLevel": "sometimes"}}))

    code = main(["--stack", "staging", "--policy-pack-config", str(config)])

    assert code == EXIT_ERROR
    assert "sometimes" in capsys.readouterr().err


def test_preview_reports_what_it_could_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "preview.json"

    main(["--stack", "prod", "--preview", "--json", str(out)])

    violations = json.loads(out.read_text())["policies"]["violations"]
    blocking = [v for v in violations if v["enforcement"] == "mandatory"]
    assert blocking == [], "an unknown value must never look like a violation"
    unchecked = {v["policy"] for v in violations if "during preview" in v["message"]}
    assert "alb-ingress-cloudfront-only" in unchecked, "an unknown group must not pass silently"
    assert capsys.readouterr().out


def test_missing_policy_config_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--stack", "staging", "--policy-pack-config", "/nonexistent/config.json"])

    assert code == EXIT_ERROR
    assert "no such file" in capsys.readouterr().err


def test_region_the_mocks_cannot_answer_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _copy_of_this_project(tmp_path)
    stack_file = project / "Pulumi.staging.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("aws:region: eu-central-1", "aws:region: eu-west-1")
    )

    code = main(["--stack", "staging", "--cwd", str(project)])

    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "eu-west-1" in err
    assert "Traceback" not in err
