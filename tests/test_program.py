"""The whole program per stack: four components, one naming scheme, EU residency, outputs."""

from __future__ import annotations

import pytest

from tests.conftest import STACKS
from tools.offline import ProgramRun
from tools.records import STACK_TYPE, ResourceRecord

COMPONENTS = ("DedicatedCluster", "EdgeIngress", "AsyncWorkers", "Observability")
TOKEN_PREFIX = "matching:platform:"

# CloudFront only accepts a WAF web ACL and a viewer certificate from us-east-1; what logs,
# validates or is referenced by those two lives with them. Nothing else may leave the stack's
# region.
US_EAST_1_TYPES = frozenset(
    {
        "aws:wafv2/webAcl:WebAcl",
        "aws:wafv2/ipSet:IpSet",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "aws:acm/certificate:Certificate",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:sns/topic:Topic",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:kms/key:Key",
        "aws:kms/alias:Alias",
    }
)


def _components(run: ProgramRun) -> list[ResourceRecord]:
    return [r for r in run.resources if r.type.startswith(TOKEN_PREFIX)]


@pytest.mark.parametrize("stack", STACKS)
def test_four_components_under_one_token_scheme(plans: dict[str, ProgramRun], stack: str) -> None:
    components = _components(plans[stack])

    assert sorted(r.type for r in components) == sorted(TOKEN_PREFIX + c for c in COMPONENTS)
    stack_urn = next(r.urn for r in plans[stack].resources if r.type == STACK_TYPE)
    for component in components:
        assert component.parent == stack_urn, component.urn


@pytest.mark.parametrize("stack", STACKS)
def test_every_child_is_named_after_its_component(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    by_urn = {r.urn: r for r in run.resources}

    for resource in run.resources:
        owner = _owning_component(resource, by_urn)
        if owner is None:
            continue
        assert resource.name.startswith(f"{owner.name}-"), (
            f"{resource.urn} is not named {owner.name}-<role>"
        )


def _owning_component(
    resource: ResourceRecord, by_urn: dict[str, ResourceRecord]
) -> ResourceRecord | None:
    parent = by_urn.get(resource.parent or "")
    while parent is not None and not parent.type.startswith(TOKEN_PREFIX):
        parent = by_urn.get(parent.parent or "")
    return parent


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_but_a_provider_or_the_stack_has_a_parent(
    plans: dict[str, ProgramRun], stack: str
) -> None:
    orphans = [
        r.urn
        for r in plans[stack].resources
        if r.parent is None and r.type != STACK_TYPE and not r.is_provider
    ]

    assert orphans == []


@pytest.mark.parametrize("stack", STACKS)
def test_regional_resources_stay_in_the_stack_region(
    plans: dict[str, ProgramRun], stack: str
) -> None:
    for resource in plans[stack].resources:
        region = resource.outputs.get("region")
        if region is None or region == "eu-central-1":
            continue
        assert region == "us-east-1", f"{resource.urn} lives in {region}"
        assert resource.type in US_EAST_1_TYPES, f"{resource.urn} has no reason to be in {region}"


@pytest.mark.parametrize("stack", STACKS)
def test_us_east_1_holds_only_the_cloudfront_side(plans: dict[str, ProgramRun], stack: str) -> None:
    in_us_east_1 = {
        r.type for r in plans[stack].resources if r.outputs.get("region") == "us-east-1"
    }

    assert "aws:wafv2/webAcl:WebAcl" in in_us_east_1
    assert "aws:acm/certificate:Certificate" in in_us_east_1
    assert not {t for t in in_us_east_1 if t.startswith(("aws:sqs", "aws:dynamodb", "aws:eks"))}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_are_exported(plans: dict[str, ProgramRun], stack: str) -> None:
    outputs = plans[stack].stack_outputs

    for key in ("clusterName", "publicHostname", "distributionDomainName", "queueUrl"):
        assert outputs.get(key), f"{stack}: output {key} missing"
    assert outputs["distributionDomainName"].endswith(".cloudfront.net")
