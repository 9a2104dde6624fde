"""The runner reads stack files as the CLI does and records what the engine would receive."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tools.offline import StackFileError, load_stack_config, run_program
from tools.records import STACK_TYPE, UNKNOWN

PROJECT = "name: probe\nruntime: python\nconfig:\n  greeting:\n    default: hello\n"

PROGRAM = """
import json
import pulumi
import pulumi_aws as aws

config = pulumi.Config()
limits = config.require_object("limits")


class Probe(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("probe:index:Probe", name)
        opts = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(f"{name}-sg", vpc_id="vpc-1", opts=opts)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-rule",
            security_group_id=group.id,
            from_port=limits["port"],
            to_port=limits["port"],
            ip_protocol="tcp",
            prefix_list_id="pl-1",
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.sqs.Queue(
            f"{name}-queue",
            region="us-east-1",
            opts=pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create="30m")
            ),
        )
        self.register_outputs({})


Probe("probe")
pulumi.export("greeting", config.require("greeting"))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PROJECT)
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "Pulumi.dev.yaml").write_text(
        textwrap.dedent(
            """
            config:
              aws:region: eu-central-1
              aws:allowedAccountIds: ["210987654321"]
              probe:limits:
                port: 443
            """
        )
    )
    return tmp_path


def test_config_is_namespaced_and_encoded_as_the_cli_does(project: Path) -> None:
    config = load_stack_config("dev", project)

    assert config.project == "probe"
    assert config.encoded() == {
        "probe:greeting": "hello",
        "aws:region": "eu-central-1",
        "aws:allowedAccountIds": '["210987654321"]',
        "probe:limits": '{"port": 443}',
    }
    assert config.account().account_id == "210987654321"


def test_missing_stack_file_names_the_stacks_that_exist(project: Path) -> None:
    with pytest.raises(
        StackFileError, match=r"Pulumi\.qa\.yaml not found: the stacks here are dev"
    ):
        load_stack_config("qa", project)


def test_encrypted_values_are_refused_offline(project: Path) -> None:
    (project / "Pulumi.sec.yaml").write_text("config:\n  probe:token:\n    secure: v1:abc\n")

    with pytest.raises(StackFileError, match=r"probe:token is encrypted"):
        load_stack_config("sec", project)


def test_registrations_keep_parent_dependencies_and_engine_names(project: Path) -> None:
    run = run_program("dev", project)
    by_name = {r.name: r for r in run.resources}

    group, rule = by_name["probe-sg"], by_name["probe-rule"]
    assert group.parent == by_name["probe"].urn, group
    assert (group.id or "").startswith("sg-"), group
    assert rule.inputs["securityGroupId"] == group.id, rule.inputs
    assert rule.inputs["fromPort"] == 443, rule.inputs
    assert rule.property_dependencies["securityGroupId"] == (group.urn,), rule
    assert group.urn in rule.dependencies, rule
    assert rule.protect is True, rule
    assert by_name["probe-queue"].custom_timeouts == {"create": "30m"}
    assert run.stack_outputs == {"greeting": "hello"}


def test_components_have_no_id_and_the_stack_is_recorded(project: Path) -> None:
    run = run_program("dev", project)
    by_type = {r.type: r for r in run.resources}

    assert by_type["probe:index:Probe"].id is None
    assert by_type["probe:index:Probe"].custom is False
    assert by_type[STACK_TYPE].urn == "urn:pulumi:dev::probe::pulumi:pulumi:Stack::probe-dev"


def test_default_provider_is_configured_from_the_stack(project: Path) -> None:
    run = run_program("dev", project)
    providers = [r for r in run.resources if r.is_provider]

    assert [p.name for p in providers] == ["default_7_51_1"]
    assert providers[0].inputs["region"] == "eu-central-1"
    customs = [r for r in run.resources if r.custom and not r.is_provider]
    assert {r.provider_urn for r in customs} == {providers[0].urn}


def test_outputs_follow_aws_shapes(project: Path) -> None:
    run = run_program("dev", project)
    queue = next(r for r in run.resources if r.name == "probe-queue")

    assert queue.outputs["region"] == "us-east-1"
    assert queue.outputs["arn"].startswith("arn:aws:sqs:eu-central-1:210987654321:")
    assert queue.outputs["url"].startswith("https://sqs.eu-central-1.amazonaws.com/210987654321/")


def test_two_runs_do_not_share_state(project: Path) -> None:
    first = run_program("dev", project)
    second = run_program("dev", project)

    # Registration order follows the SDK's event loop; the set of resources must not change.
    assert sorted(r.urn for r in first.resources) == sorted(r.urn for r in second.resources)
    assert len(first.resources) == len(second.resources)


def test_unknown_invoke_fails_loudly(project: Path) -> None:
    (project / "__main__.py").write_text(
        'import pulumi_aws as aws\naws.rds.get_engine_version(engine="postgres")\n'
    )

    with pytest.raises(
        Exception, match=r"no answer for invoke aws:rds/getEngineVersion:getEngineVersion"
    ):
        run_program("dev", project)


def test_preview_leaves_computed_outputs_unknown(project: Path) -> None:
    run = run_program("dev", project, preview=True)
    by_name = {r.name: r for r in run.resources}

    rule = by_name["probe-rule"]
    assert rule.inputs["securityGroupId"] == UNKNOWN, rule.inputs
    assert rule.inputs["fromPort"] == 443, "values known before the deployment stay known"
    assert by_name["probe-sg"].id is None, "a resource not yet created has no id"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"config:\n  - a\n  - b\n", "`config` must be a mapping", id="config-list"),
        pytest.param(b"config:\n  aws:region: \xff\xfe\n", "not UTF-8", id="not-utf8"),
        pytest.param(b"- just\n- a list\n", "must hold a YAML mapping", id="top-list"),
        pytest.param(b"config: [unclosed\n", "not valid YAML", id="syntax"),
        pytest.param(
            b"config:\n  probe:limits: {port: 1}\n  probe:limits: {port: 2}\n",
            "not valid YAML",
            id="duplicate-key",
        ),
        pytest.param(
            b"config:\n  probe:limits:\n    token:\n      secure: v1:abc\n",
            "probe:limits.token is encrypted",
            id="nested-secret",
        ),
        pytest.param(
            b"config:\n  probe:limits: {port: 1}\n  limits: {port: 2}\n",
            "config keys `probe:limits` and `limits` are the same key probe:limits",
            id="unqualified-after-qualified",
        ),
        pytest.param(
            b"config:\n  limits: {port: 1}\n  probe:limits: {port: 2}\n",
            "config keys `limits` and `probe:limits` are the same key probe:limits",
            id="qualified-after-unqualified",
        ),
        pytest.param(
            b"config:\n  aws:region: eu-central-1\n  aws:config:region: us-east-1\n",
            "config keys `aws:region` and `aws:config:region` are the same key aws:region",
            id="old-config-form",
        ),
        pytest.param(
            b"config:\n  a:b:c: 1\n", "config key a:b:c is not one the CLI can parse", id="colons"
        ),
        pytest.param(b"config:\n  1: x\n", "config key 1 is not a string", id="number-key"),
        pytest.param(
            b"environment:\n  - matching/prod-overrides\nconfig:\n  aws:region: eu-central-1\n",
            "Pulumi.bad.yaml: `environment` imports Pulumi ESC environments",
            id="esc-environment",
        ),
        pytest.param(
            b"environment: []\nconfig: {}\n",
            "the offline plan cannot read ESC environments",
            id="empty-esc-environment",
        ),
        pytest.param(
            b"confg:\n  aws:region: eu-central-1\n",
            "Pulumi.bad.yaml: unknown top-level key confg: a stack file holds only config, "
            "secretsprovider, encryptionsalt, encryptedkey",
            id="misspelt-config",
        ),
        pytest.param(
            b"config: {}\nsecretprovider: passphrase\nimports: [x]\n",
            "unknown top-level key imports, secretprovider",
            id="unknown-top-level-keys",
        ),
    ],
)
def test_malformed_stack_files_are_named_errors(
    project: Path, content: bytes, message: str
) -> None:
    (project / "Pulumi.bad.yaml").write_bytes(content)

    with pytest.raises(StackFileError, match=re.escape(message)):
        load_stack_config("bad", project)


@pytest.mark.parametrize(
    ("project_file", "message"),
    [
        pytest.param(
            PROJECT + "main: src/\n",
            "Pulumi.yaml: `main: src/` makes `pulumi up` read the program from src/",
            id="program-elsewhere",
        ),
        pytest.param(
            PROJECT + "stackConfigDir: stacks\n",
            "`stackConfigDir: stacks` makes `pulumi up` read the stack files from stacks",
            id="stack-files-elsewhere",
        ),
        pytest.param(
            PROJECT.replace("runtime: python", "runtime: {name: nodejs}"),
            "Pulumi.yaml: runtime 'nodejs' is not python",
            id="other-runtime",
        ),
    ],
)
def test_project_that_runs_another_program_is_refused(
    project: Path, project_file: str, message: str
) -> None:
    (project / "Pulumi.yaml").write_text(project_file)

    with pytest.raises(StackFileError, match=re.escape(message)):
        load_stack_config("dev", project)


def test_project_file_the_cli_reads_first_is_refused(project: Path) -> None:
    """Found by the red-team review: a Pulumi.json beside Pulumi.yaml is what the CLI runs."""
    (project / "Pulumi.json").write_text('{"name": "probe", "runtime": "nodejs", "main": "x/"}')

    with pytest.raises(StackFileError, match=r"Pulumi\.json: the CLI reads it instead"):
        load_stack_config("dev", project)


@pytest.mark.parametrize("place", ["main: .", "main: ./", "stackConfigDir: ."])
def test_project_root_spelt_out_is_accepted(project: Path, place: str) -> None:
    (project / "Pulumi.yaml").write_text(f"{PROJECT}{place}\n")

    assert load_stack_config("dev", project).project == "probe"


def test_stack_files_are_read_as_yaml_1_2_like_the_cli(project: Path) -> None:
    (project / "Pulumi.eu.yaml").write_text(
        "config:\n  probe:countries: [NO, AT]\n  probe:x: yes\n"
    )

    values = load_stack_config("eu", project).values

    assert values["probe:countries"] == ["NO", "AT"], "Norway must not turn into false"
    assert values["probe:x"] == "yes"


def test_keys_are_qualified_as_the_cli_parses_them(project: Path) -> None:
    (project / "Pulumi.old.yaml").write_text(
        "secretsprovider: passphrase\nencryptionsalt: v1:abc\n"
        "config:\n  aws:config:region: eu-central-1\n  port: 443\n"
    )

    values = load_stack_config("old", project).values

    assert values["aws:region"] == "eu-central-1"
    assert values["probe:port"] == 443


def test_project_defaults_are_spelt_once_too(project: Path) -> None:
    (project / "Pulumi.yaml").write_text(PROJECT + "  probe:greeting:\n    default: hi\n")

    with pytest.raises(
        StackFileError, match=r"Pulumi\.yaml: config keys `greeting` and `probe:greeting`"
    ):
        load_stack_config("dev", project)
