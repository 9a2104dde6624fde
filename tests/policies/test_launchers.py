"""Launchers must name launch templates of this stack, judged by the real pack over gRPC."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, resource
from tests.policies.conftest import Judge, as_cli
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
TEMPLATE_ID = "lt-0aaaaaaaaaaaaaaa1"
FOREIGN_ID = "lt-0bbbbbbbbbbbbbbb2"
ENCRYPTED_ROOT = [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]
TEMPLATE = resource(
    LAUNCH_TEMPLATE,
    "nodes-lt",
    {
        "name": "nodes",
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
        "blockDeviceMappings": ENCRYPTED_ROOT,
    },
    cloud_id=TEMPLATE_ID,
)


def _launcher(token: str, key: str, value: Any, *, linked: bool) -> ResourceRecord:
    links = {key: [TEMPLATE]} if linked else None
    return resource(token, "nodes", {key: value}, links=links)


def _node_group(reference: dict[str, Any], *, linked: bool = True) -> ResourceRecord:
    token = "aws:eks/nodeGroup:NodeGroup"
    return _launcher(token, "launchTemplate", {**reference, "version": "1"}, linked=linked)


def _mixed(spec: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    template = {
        "launchTemplateSpecification": spec,
        "overrides": [{"instanceType": "m7i.large", "launchTemplateSpecification": override}],
    }
    return {"launchTemplate": template}


OURS = {"launchTemplateId": TEMPLATE_ID}
THEIRS = {"launchTemplateId": FOREIGN_ID}


@pytest.mark.parametrize(
    "reference", [{"id": TEMPLATE_ID}, {"name": "nodes"}], ids=["by-id", "by-name"]
)
def test_node_group_on_a_declared_template_passes(judge: Judge, reference: dict[str, Any]) -> None:
    group = _node_group(reference)

    found = judge([DEFAULT_PROVIDER, TEMPLATE, group])

    assert found == [], explain(group.urn, found)


@pytest.mark.parametrize(
    "launcher",
    [
        pytest.param(_node_group({"id": FOREIGN_ID}, linked=False), id="node-group-id"),
        pytest.param(_node_group({"name": "legacy-nodes"}, linked=False), id="node-group-name"),
        pytest.param(
            _launcher(
                "aws:ec2/instance:Instance", "launchTemplate", {"id": FOREIGN_ID}, linked=False
            ),
            id="instance",
        ),
        pytest.param(
            _launcher(
                "aws:autoscaling/group:Group", "launchTemplate", {"id": FOREIGN_ID}, linked=False
            ),
            id="asg",
        ),
        pytest.param(
            _launcher(
                "aws:autoscaling/group:Group",
                "mixedInstancesPolicy",
                _mixed(OURS, THEIRS),
                linked=True,
            ),
            id="asg-mixed-override",
        ),
        pytest.param(
            _launcher(
                "aws:ec2/fleet:Fleet",
                "launchTemplateConfigs",
                [{"launchTemplateSpecification": {"launchTemplateName": "elsewhere"}}],
                linked=False,
            ),
            id="fleet",
        ),
        pytest.param(
            _launcher(
                "aws:ec2/spotFleetRequest:SpotFleetRequest",
                "launchTemplateConfigs",
                [{"launchTemplateSpecification": {"id": FOREIGN_ID}}],
                linked=False,
            ),
            id="spot-fleet",
        ),
    ],
)
def test_launcher_on_a_template_from_elsewhere_is_blocked(
    judge: Judge, launcher: ResourceRecord
) -> None:
    found = judge([DEFAULT_PROVIDER, TEMPLATE, launcher])

    assert "launch-templates-declared" in policies(found), explain(launcher.urn, found)


def test_literal_id_beside_a_linked_version_is_blocked(pack: PolicyPack) -> None:
    # The version comes from the stack's template, the id does not: the link alone proves nothing.
    group = _node_group({"id": FOREIGN_ID})

    found = as_cli(pack, [DEFAULT_PROVIDER, TEMPLATE, group])

    assert policies(found) == ["launch-templates-declared"], explain(group.urn, found)
    assert FOREIGN_ID in found[0].message


def test_unknown_id_built_from_a_template_passes_at_preview(preview_pack: PolicyPack) -> None:
    template = resource(LAUNCH_TEMPLATE, "nodes-lt", TEMPLATE.inputs)
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "nodes",
        {"launchTemplate": {"id": UNKNOWN, "version": UNKNOWN}},
        links={"launchTemplate": [template]},
    )

    found = preview_pack.check([DEFAULT_PROVIDER, template, group])

    assert found == [], explain(group.urn, found)


def test_unknown_id_from_nowhere_is_advisory_at_preview(preview_pack: PolicyPack) -> None:
    group = _node_group({"id": UNKNOWN}, linked=False)

    found = preview_pack.check([DEFAULT_PROVIDER, group])

    assert policies(found) == [], explain(group.urn, found)
    assert policies(found, "advisory") == ["launch-templates-declared"], explain(group.urn, found)


def test_literal_id_beside_a_linked_version_is_blocked_at_preview(
    preview_pack: PolicyPack,
) -> None:
    # Only the version comes from the stack's new template; the id is a known literal, so it
    # cannot be that template's, whose id nobody knows before it exists.
    template = resource(LAUNCH_TEMPLATE, "nodes-lt", TEMPLATE.inputs)
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "nodes",
        {"launchTemplate": {"id": FOREIGN_ID, "version": UNKNOWN}},
        links={"launchTemplate": [template]},
    )

    found = preview_pack.check([DEFAULT_PROVIDER, template, group])

    assert policies(found) == ["launch-templates-declared"], explain(group.urn, found)


LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
CONFIGURATION = resource(
    LAUNCH_CONFIGURATION,
    "nodes-lc",
    {"name": "nodes-lc", "imageId": "ami-0abc", "instanceType": "m7i.large"},
    cloud_id="nodes-lc",
)


@pytest.mark.parametrize(
    ("launcher", "declared"),
    [
        pytest.param(
            _launcher(
                "aws:batch/computeEnvironment:ComputeEnvironment",
                "computeResources",
                {"type": "EC2", "launchTemplate": {"launchTemplateId": FOREIGN_ID}},
                linked=False,
            ),
            False,
            id="batch-foreign",
        ),
        pytest.param(
            _launcher(
                "aws:batch/computeEnvironment:ComputeEnvironment",
                "computeResources",
                {"type": "EC2", "launchTemplate": {"launchTemplateId": TEMPLATE_ID}},
                linked=True,
            ),
            True,
            id="batch-ours",
        ),
        pytest.param(
            resource("aws:autoscaling/group:Group", "asg", {"launchConfiguration": "legacy-lc"}),
            False,
            id="asg-configuration-foreign",
        ),
        pytest.param(
            resource(
                "aws:autoscaling/group:Group",
                "asg",
                {"launchConfiguration": "nodes-lc"},
                links={"launchConfiguration": [CONFIGURATION]},
            ),
            True,
            id="asg-configuration-ours",
        ),
    ],
)
def test_batch_and_launch_configurations_are_held_to_the_stack(
    judge: Judge, launcher: ResourceRecord, declared: bool
) -> None:
    found = judge([DEFAULT_PROVIDER, TEMPLATE, CONFIGURATION, launcher])

    blocked = "launch-templates-declared" in policies(found)
    assert blocked is not declared, explain(launcher.urn, found)
