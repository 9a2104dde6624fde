"""Residency: EU regions only, and us-east-1 only for what CloudFront accepts nowhere else."""

from __future__ import annotations

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, provider, resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

TOPIC = "aws:sns/topic:Topic"
TABLE = "aws:dynamodb/table:Table"
LONDON = provider("london", "eu-west-2")
UNPINNED = provider("unpinned", None)
# CloudFront's access logs (logging v2): AWS takes their delivery parts in us-east-1 only.
LOG_DELIVERY_PARTS = {
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": {
        "name": "cdn",
        "logType": "ACCESS_LOGS",
        "resourceArn": "arn:aws:cloudfront::111122223333:distribution/E2ABCDEF234567",
    },
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": {
        "name": "cdn-logs",
        "deliveryDestinationConfiguration": {"destinationResourceArn": "arn:aws:s3:::cdn-logs"},
    },
    "aws:cloudwatch/logDelivery:LogDelivery": {
        "deliverySourceName": "cdn",
        "deliveryDestinationArn": "arn:aws:logs:us-east-1:111122223333:delivery-destination:cdn",
    },
}


def _topic(region: str | None = None, via: ResourceRecord = DEFAULT_PROVIDER) -> ResourceRecord:
    inputs = {"kmsMasterKeyId": "arn:aws:kms:eu-central-1:111122223333:key/1"}
    return resource(TOPIC, "alerts", inputs | ({"region": region} if region else {}), via=via)


@pytest.mark.parametrize(
    ("record", "via"),
    [
        pytest.param(_topic(), DEFAULT_PROVIDER, id="provider-region"),
        pytest.param(_topic("eu-west-1"), LONDON, id="own-region-wins"),
        pytest.param(_topic("us-east-1"), DEFAULT_PROVIDER, id="cloudfront-alarm-topic"),
        pytest.param(
            resource(
                "aws:wafv2/ipSet:IpSet", "load", {"scope": "CLOUDFRONT", "region": "us-east-1"}
            ),
            DEFAULT_PROVIDER,
            id="cloudfront-ip-set",
        ),
        pytest.param(
            resource(
                "aws:wafv2/ruleGroup:RuleGroup",
                "partners",
                {"scope": "CLOUDFRONT", "region": "us-east-1", "capacity": 10},
            ),
            DEFAULT_PROVIDER,
            id="cloudfront-rule-group",
        ),
        *(
            pytest.param(
                resource(token, "cdn-logs", {**inputs, "region": "us-east-1"}),
                DEFAULT_PROVIDER,
                id=f"cloudfront-{token.rsplit(':', 1)[-1]}",
            )
            for token, inputs in LOG_DELIVERY_PARTS.items()
        ),
        pytest.param(
            resource("aws:iam/role:Role", "r", {}, via=UNPINNED), UNPINNED, id="global-iam"
        ),
        pytest.param(
            resource("kubernetes:core/v1:Namespace", "ns", {}, via=None), None, id="not-aws"
        ),
    ],
)
def test_allowed_region_passes(
    pack: PolicyPack, record: ResourceRecord, via: ResourceRecord | None
) -> None:
    found = pack.analyze(record, via)

    assert "eu-regions-only" not in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    ("record", "via"),
    [
        pytest.param(_topic("eu-west-2"), DEFAULT_PROVIDER, id="own-region-london"),
        pytest.param(_topic(via=LONDON), LONDON, id="provider-london"),
        pytest.param(
            resource(TABLE, "results", {"region": "us-east-1"}),
            DEFAULT_PROVIDER,
            id="table-in-us-east-1",
        ),
        pytest.param(_topic("us-west-2"), DEFAULT_PROVIDER, id="us-west-2"),
        *(
            pytest.param(
                resource(token, "cdn-logs", {**inputs, "region": "us-west-2"}),
                DEFAULT_PROVIDER,
                id=f"{token.rsplit(':', 1)[-1]}-us-west-2",
            )
            for token, inputs in LOG_DELIVERY_PARTS.items()
        ),
        pytest.param(_topic(via=UNPINNED), UNPINNED, id="unpinned"),
    ],
)
def test_region_outside_eu_is_blocked(
    pack: PolicyPack, record: ResourceRecord, via: ResourceRecord
) -> None:
    found = pack.analyze(record, via)

    assert policies(found) == ["eu-regions-only"], explain(record.urn, found)


def test_config_narrows_us_east_1_types(pack: PolicyPack) -> None:
    pack.configure({"eu-regions-only": {"usEast1Types": ["aws:wafv2/webAcl:WebAcl"]}})
    topic = _topic("us-east-1")

    found = pack.analyze(topic, DEFAULT_PROVIDER)

    assert policies(found) == ["eu-regions-only"], explain(topic.urn, found)


def test_london_can_not_be_configured(pack: PolicyPack) -> None:
    with pytest.raises(Exception, match="eu-west-2"):
        pack.configure({"eu-regions-only": {"allowedRegions": ["eu-west-2"]}})


def test_unknown_region_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    topic = _topic(UNKNOWN)

    found = preview_pack.analyze(topic, DEFAULT_PROVIDER)

    assert policies(found) == [], explain(topic.urn, found)
    assert "eu-regions-only" in policies(found, "advisory"), explain(topic.urn, found)
