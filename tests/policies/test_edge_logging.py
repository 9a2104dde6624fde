"""The edge's logs and its WAF, judged by the real pack over gRPC."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import (
    DEFAULT_PROVIDER,
    MANAGED_GROUPS,
    UNKNOWN,
    changed,
    distribution,
    edge,
    load_balancer,
    multitenant_distribution,
    resource,
    without,
)
from tests.policies.conftest import Judge
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ACL_ARN = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/api/1"
RATE_RULE: dict[str, Any] = {
    "name": "rate",
    "action": {"block": {}},
    "statement": {"rateBasedStatement": {"limit": 2000, "aggregateKeyType": "IP"}},
}

COUNTING_RATE_RULE: dict[str, Any] = {**RATE_RULE, "action": {"count": {}}}
# A client that holds a solved challenge's token goes on past the limit.
CHALLENGING_RATE_RULE: dict[str, Any] = {**RATE_RULE, "action": {"challenge": {}}}


def _managed(name: str, **extra: Any) -> dict[str, Any]:
    statement = {"managedRuleGroupStatement": {"vendorName": "AWS", "name": name}}
    return {"name": name, "overrideAction": {"none": {}}, "statement": statement, **extra}


def _acl(rules: list[dict[str, Any]] | None = None) -> ResourceRecord:
    rules = [*(_managed(g) for g in MANAGED_GROUPS), RATE_RULE] if rules is None else rules
    props = {"scope": "CLOUDFRONT", "region": "us-east-1", "rules": rules}
    return resource(WEB_ACL, "waf", props, computed={"arn": ACL_ARN})


ACL = _acl()
WAF_LOGS = resource(LOG_GROUP, "waf-logs", {"name": "aws-waf-logs-api", "region": "us-east-1"})
GROUP_ARN = "arn:aws:logs:us-east-1:111122223333:log-group:aws-waf-logs-api"


def _logging(destination: str = GROUP_ARN, acl: ResourceRecord = ACL) -> ResourceRecord:
    props = {"resourceArn": ACL_ARN, "region": "us-east-1", "logDestinationConfigs": [destination]}
    links = {"resourceArn": [acl], "logDestinationConfigs": [WAF_LOGS]}
    return resource(LOGGING, "waf-logging", props, links=links)


# The web ACL the builders' distributions name, with its logging: cloudfront-waf-in-stack's due.
WAF = [ACL, WAF_LOGS, _logging()]


def test_compliant_edge_logging_passes(judge: Judge) -> None:
    records = [*edge(), *WAF, distribution()]

    found = judge(records)

    assert found == [], explain("logged distribution, ALB and web ACL", found)


def _logged_alb(**logs: Any) -> ResourceRecord:
    return load_balancer(accessLogs={"enabled": True, "bucket": "alb-logs", **logs})


UNLOGGED_ALB = without(load_balancer(), "accessLogs")


# --- cloudfront-access-logs ------------------------------------------------------------------


def test_distribution_without_logging_is_blocked(judge: Judge) -> None:
    cdn = without(distribution(), "loggingConfig")

    found = judge([DEFAULT_PROVIDER, *WAF, cdn])

    assert policies(found) == ["cloudfront-access-logs"], explain(cdn.urn, found)


SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
# Both kinds of distribution, each with nothing but logging v2 to log through.
UNLOGGED = [
    pytest.param(without(distribution(), "loggingConfig"), id="distribution"),
    pytest.param(multitenant_distribution(), id="multitenant"),
]


def _source(cdn: ResourceRecord, log_type: str = "ACCESS_LOGS") -> ResourceRecord:
    props = {"name": "cdn", "logType": log_type, "resourceArn": "arn:cf"}
    return resource(SOURCE, "cdn-source", props, links={"resourceArn": [cdn]})


def _delivery(source: ResourceRecord) -> ResourceRecord:
    props = {"deliverySourceName": "cdn", "deliveryDestinationArn": "arn:dest"}
    return resource(DELIVERY, "cdn-delivery", props, links={"deliverySourceName": [source]})


@pytest.mark.parametrize("cdn", UNLOGGED)
def test_v2_log_delivery_passes(judge: Judge, cdn: ResourceRecord) -> None:
    source = _source(cdn)

    found = judge([DEFAULT_PROVIDER, *WAF, cdn, source, _delivery(source)])

    assert found == [], explain(cdn.urn, found)


@pytest.mark.parametrize("cdn", UNLOGGED)
def test_v2_source_without_delivery_is_blocked(judge: Judge, cdn: ResourceRecord) -> None:
    found = judge([DEFAULT_PROVIDER, *WAF, cdn, _source(cdn)])

    assert policies(found) == ["cloudfront-access-logs"], explain(cdn.urn, found)


def test_multitenant_distribution_without_v2_logging_is_blocked(judge: Judge) -> None:
    cdn = multitenant_distribution()

    found = judge([DEFAULT_PROVIDER, *WAF, cdn])

    assert policies(found) == ["cloudfront-access-logs"], explain(cdn.urn, found)


def test_multitenant_legacy_logging_config_does_not_count(judge: Judge) -> None:
    # The type has no loggingConfig input: a bucket in its properties logs nothing.
    cdn = multitenant_distribution(loggingConfig={"bucket": "logs.s3.amazonaws.com"})

    found = judge([DEFAULT_PROVIDER, *WAF, cdn])

    assert policies(found) == ["cloudfront-access-logs"], explain(cdn.urn, found)
    assert "v2 only" in found[0].message


DESTINATION = "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"


def test_v2_delivery_in_us_east_1_passes(judge: Judge) -> None:
    # AWS takes CloudFront's delivery source, destination and delivery in us-east-1 only.
    cdn = multitenant_distribution()
    where = {"region": "us-east-1"}
    source = changed(_source(cdn), **where)
    target = {"destinationResourceArn": "arn:aws:s3:::cdn-logs"}
    destination = resource(
        DESTINATION, "cdn-destination", {**where, "deliveryDestinationConfiguration": target}
    )
    delivery = changed(_delivery(source), **where)

    found = judge([DEFAULT_PROVIDER, *WAF, cdn, source, destination, delivery])

    assert found == [], explain(cdn.urn, found)


def test_delivery_of_other_than_access_logs_is_blocked(judge: Judge) -> None:
    cdn = without(distribution(), "loggingConfig")
    source = _source(cdn, log_type="CONNECTION_LOGS")

    found = judge([DEFAULT_PROVIDER, *WAF, cdn, source, _delivery(source)])

    assert policies(found) == ["cloudfront-access-logs"], explain(cdn.urn, found)


def test_unknown_logging_bucket_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    cdn = distribution(loggingConfig={"bucket": UNKNOWN, "prefix": "cf/"})

    found = preview_pack.check([DEFAULT_PROVIDER, *WAF, cdn])

    assert policies(found) == [], explain(cdn.urn, found)
    assert "cloudfront-access-logs" in policies(found, "advisory"), explain(cdn.urn, found)


# --- alb-access-logs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "balancer",
    [
        pytest.param(UNLOGGED_ALB, id="absent"),
        pytest.param(_logged_alb(enabled=False), id="disabled"),
        pytest.param(_logged_alb(bucket=""), id="no-bucket"),
    ],
)
def test_alb_without_access_logs_is_blocked(pack: PolicyPack, balancer: ResourceRecord) -> None:
    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert policies(found) == ["alb-access-logs"], explain(balancer.urn, found)


def test_unknown_access_logs_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    balancer = _logged_alb(bucket=UNKNOWN)

    found = preview_pack.analyze(balancer, DEFAULT_PROVIDER)

    assert policies(found) == [], explain(balancer.urn, found)
    assert "alb-access-logs" in policies(found, "advisory"), explain(balancer.urn, found)


# --- waf-logging -----------------------------------------------------------------------------


def test_web_acl_without_logging_is_blocked(judge: Judge) -> None:
    found = judge([DEFAULT_PROVIDER, ACL, WAF_LOGS])

    assert policies(found) == ["waf-logging"], explain(ACL.urn, found)


def test_logging_of_another_acl_does_not_count(judge: Judge) -> None:
    other = resource(WEB_ACL, "other", {"rules": []}, computed={"arn": "arn:other"})
    logging = changed(_logging(acl=other), resourceArn="arn:other")

    found = judge([DEFAULT_PROVIDER, ACL, WAF_LOGS, logging])

    assert ("waf-logging", ACL.urn) in [(v.policy, v.urn) for v in found], explain(ACL.urn, found)


@pytest.mark.parametrize(
    "destination",
    [
        "arn:aws:logs:us-east-1:111122223333:log-group:waf-audit",
        "arn:aws:s3:::api-waf-logs",
        "arn:aws:firehose:us-east-1:111122223333:deliverystream/waf",
    ],
)
def test_destination_not_named_for_waf_is_blocked(judge: Judge, destination: str) -> None:
    logging = _logging(destination)

    found = judge([DEFAULT_PROVIDER, ACL, WAF_LOGS, logging])

    assert policies(found) == ["waf-logging"], explain(logging.urn, found)


def test_unknown_destination_at_preview_judges_the_linked_group(
    preview_pack: PolicyPack,
) -> None:
    logging = _logging(UNKNOWN)
    wrong = changed(WAF_LOGS, name="waf-audit")

    found = preview_pack.check([DEFAULT_PROVIDER, ACL, wrong, logging])

    assert policies(found) == ["waf-logging"], explain(logging.urn, found)


def test_unknown_destination_and_name_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    logging = _logging(UNKNOWN)
    unnamed = changed(WAF_LOGS, name=UNKNOWN)

    found = preview_pack.check([DEFAULT_PROVIDER, ACL, unnamed, logging])

    assert policies(found) == [], explain(logging.urn, found)
    assert "waf-logging" in policies(found, "advisory"), explain(logging.urn, found)


# --- waf-managed-rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param([*(_managed(g) for g in MANAGED_GROUPS[1:]), RATE_RULE], id="group-missing"),
        pytest.param(
            [*(_managed(g, overrideAction={"count": {}}) for g in MANAGED_GROUPS), RATE_RULE],
            id="groups-count-only",
        ),
        pytest.param([_managed(g) for g in MANAGED_GROUPS], id="no-rate-rule"),
        pytest.param(
            [*(_managed(g) for g in MANAGED_GROUPS), COUNTING_RATE_RULE],
            id="rate-rule-counts",
        ),
        pytest.param(
            [*(_managed(g) for g in MANAGED_GROUPS), CHALLENGING_RATE_RULE],
            id="rate-rule-challenges",
        ),
        pytest.param(
            [
                *(_managed(g) for g in MANAGED_GROUPS[:-1]),
                {
                    **_managed(MANAGED_GROUPS[-1]),
                    "statement": {
                        "managedRuleGroupStatement": {
                            "vendorName": "Fortinet",
                            "name": MANAGED_GROUPS[-1],
                        }
                    },
                },
                RATE_RULE,
            ],
            id="other-vendor",
        ),
    ],
)
def test_weak_web_acl_is_blocked(pack: PolicyPack, rules: list[dict[str, Any]]) -> None:
    acl = _acl(rules)

    found = pack.analyze(acl, DEFAULT_PROVIDER)

    assert policies(found) == ["waf-managed-rules"], explain(acl.urn, found)


def test_configured_rule_groups_are_required(pack: PolicyPack) -> None:
    pack.configure(
        {"waf-managed-rules": {"requiredRuleGroups": ["AWSManagedRulesBotControlRuleSet"]}}
    )

    found = pack.analyze(ACL, DEFAULT_PROVIDER)

    assert policies(found) == ["waf-managed-rules"], explain(ACL.urn, found)
    assert "BotControl" in found[0].message


def test_unknown_rules_at_preview_are_advisory(preview_pack: PolicyPack) -> None:
    acl = changed(ACL, rules=UNKNOWN)

    found = preview_pack.analyze(acl, DEFAULT_PROVIDER)

    assert policies(found) == [], explain(acl.urn, found)
    assert "waf-managed-rules" in policies(found, "advisory"), explain(acl.urn, found)
