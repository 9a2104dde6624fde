"""Nothing in a web ACL lets requests around it; rate-limit exemptions only where allowed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from tests.policies.builders import (
    DEFAULT_PROVIDER,
    MANAGED_GROUPS,
    REGION,
    UNKNOWN,
    changed,
    resource,
)
from tests.policies.conftest import POLICY_DIR, Judge
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, load_policy_config
from tools.records import ResourceRecord

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
IP_SET = {"ipSetReferenceStatement": {"arn": "arn:aws:wafv2:us-east-1:1:global/ipset/load/1"}}


def _group(name: str, **statement: Any) -> dict[str, Any]:
    managed = {"vendorName": "AWS", "name": name, **statement}
    return {
        "name": name,
        "overrideAction": {"none": {}},
        "statement": {"managedRuleGroupStatement": managed},
    }


def _rate(**statement: Any) -> dict[str, Any]:
    rate = {"limit": 2000, "aggregateKeyType": "IP", **statement}
    return {
        "name": "RateLimitPerIp",
        "action": {"block": {}},
        "statement": {"rateBasedStatement": rate},
    }


def _acl(*rules: dict[str, Any]) -> ResourceRecord:
    every = list(rules) or [*(_group(g) for g in MANAGED_GROUPS), _rate()]
    props: dict[str, Any] = {
        "scope": "CLOUDFRONT",
        "region": "us-east-1",
        "defaultAction": {"allow": {}},
        "rules": every,
    }
    return resource(WEB_ACL, "waf", props)


def test_web_acl_without_bypass_passes(pack: PolicyPack) -> None:
    acl = _acl()

    found = pack.analyze(acl)

    assert found == [], explain(acl.urn, found)


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        pytest.param(
            {"name": "Partners", "action": {"allow": {}}, "statement": IP_SET},
            "rule 'Partners' allows",
            id="allow-rule",
        ),
        pytest.param(
            _group("AWSManagedRulesCommonRuleSet", scopeDownStatement=IP_SET),
            "narrows its managed group",
            id="scoped-down-group",
        ),
    ],
)
def test_rule_letting_requests_around_the_acl_is_blocked(
    pack: PolicyPack, rule: dict[str, Any], said: str
) -> None:
    rules = [rule, *(_group(g) for g in MANAGED_GROUPS if g not in rule["name"]), _rate()]
    acl = _acl(*rules)

    found = pack.analyze(acl)

    assert policies(found) == ["waf-no-bypass"], explain(acl.urn, found)
    assert said in found[0].message


EXEMPT = {"scopeDownStatement": {"notStatement": {"statement": IP_SET}}}


@pytest.mark.parametrize(
    ("stack_name", "enforcement"), [("staging", "advisory"), ("prod", "mandatory")]
)
def test_rate_limit_exemption_is_blocked_in_prod_only(
    pack: PolicyPack, stack_name: str, enforcement: str
) -> None:
    pack.configure(load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json"))
    acl = _acl(*(_group(g) for g in MANAGED_GROUPS), _rate(**EXEMPT))

    found = pack.analyze(acl)

    assert [(v.policy, v.enforcement) for v in found] == [
        ("waf-rate-limit-no-exemptions", enforcement)
    ], explain(acl.urn, found)


# --- red-team regressions: overrides, rate keys, rule groups, rules outside the ACL -----------

BYPASS = "waf-no-bypass"
IN_STACK = "waf-rule-groups-in-stack"
RULE_GROUP = "aws:wafv2/ruleGroup:RuleGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ACL_ARN = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/waf/1"
GROUP_ARN = "arn:aws:wafv2:us-east-1:111122223333:global/rulegroup/partners/1"
FOREIGN_GROUP_ARN = "arn:aws:wafv2:us-east-1:444455556666:global/rulegroup/partners/0a1b2c3d"
# Rules added from outside a regional web ACL (in an EU region, so that residency is quiet).
REGIONAL_ACL_ARN = f"arn:aws:wafv2:{REGION}:111122223333:regional/webacl/api/1"
# Every rule of AWSManagedRulesCommonRuleSet but the one the edge component counts.
COMMON_RULES = [
    *("NoUserAgent_HEADER", "UserAgent_BadBots_HEADER", "SizeRestrictions_QUERYSTRING"),
    *("SizeRestrictions_Cookie_HEADER", "SizeRestrictions_URIPATH", "EC2MetaDataSSRF_BODY"),
    *("EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_URIPATH", "EC2MetaDataSSRF_QUERYARGUMENTS"),
    *("GenericLFI_QUERYARGUMENTS", "GenericLFI_URIPATH", "GenericLFI_BODY"),
    *("RestrictedExtensions_URIPATH", "RestrictedExtensions_QUERYARGUMENTS"),
    *("GenericRFI_QUERYARGUMENTS", "GenericRFI_BODY", "GenericRFI_URIPATH"),
    *("CrossSiteScripting_COOKIE", "CrossSiteScripting_QUERYARGUMENTS"),
    *("CrossSiteScripting_BODY", "CrossSiteScripting_URIPATH"),
]
CLIENT_HEADER_KEY: dict[str, Any] = {"header": {"name": "x-client", "textTransformations": []}}
HEADER_MATCH: dict[str, Any] = {
    "byteMatchStatement": {
        "fieldToMatch": {"singleHeader": {"name": "x-partner"}},
        "positionalConstraint": "EXACTLY",
        "searchString": "1",
        "textTransformations": [{"priority": 0, "type": "NONE"}],
    }
}


def _reference(arn: str, **statement: Any) -> dict[str, Any]:
    """A rule running the rule group at `arn`."""
    return {
        "name": "partners",
        "overrideAction": {"none": {}},
        "statement": {"ruleGroupReferenceStatement": {"arn": arn, **statement}},
    }


def _override(rule: str, action: str) -> dict[str, Any]:
    return {"name": rule, "actionToUse": {action: {}}}


def _overridden(group: str, *overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The compliant rules, with `group` overriding some of its rules' actions."""
    groups = [
        _group(g, ruleActionOverrides=list(overrides)) if g == group else _group(g)
        for g in MANAGED_GROUPS
    ]
    return [*groups, _rate()]


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        pytest.param(
            _overridden(
                "AWSManagedRulesAnonymousIpList",
                _override("HostingProviderIPList", "allow"),
                _override("AnonymousIPList", "allow"),
            ),
            "'AnonymousIPList' to allow",
            id="managed-rule-overridden-to-allow",
        ),
        pytest.param(
            _overridden("AWSManagedRulesSQLiRuleSet", _override("SQLi_BODY", "count")),
            "'SQLi_BODY' to count",
            id="unlisted-rule-counts",
        ),
        pytest.param(
            _overridden("AWSManagedRulesCommonRuleSet", _override("GenericLFI_BODY", "challenge")),
            "'GenericLFI_BODY' to challenge",
            id="rule-overridden-to-challenge",
        ),
        pytest.param(
            _overridden(
                "AWSManagedRulesAnonymousIpList", _override("HostingProviderIPList", "captcha")
            ),
            "'HostingProviderIPList' to captcha",
            id="listed-rule-to-captcha",
        ),
        pytest.param(
            [
                _reference(GROUP_ARN, ruleActionOverrides=[_override("flagged", "allow")]),
                *(_group(g) for g in MANAGED_GROUPS),
                _rate(),
            ],
            "'flagged' of its rule group to allow",
            id="rule-group-rule-overridden-to-allow",
        ),
    ],
)
def test_override_weakening_a_rule_is_blocked(
    pack: PolicyPack, rules: list[dict[str, Any]], said: str
) -> None:
    acl = _acl(*rules)

    found = pack.analyze(acl)

    assert set(policies(found)) == {BYPASS}, explain(acl.urn, found)
    assert any(said in v.message for v in found), explain(acl.urn, found)


def test_every_common_rule_counting_is_one_violation_per_rule(pack: PolicyPack) -> None:
    counted = (_override(r, "count") for r in COMMON_RULES)
    acl = _acl(*_overridden("AWSManagedRulesCommonRuleSet", *counted))

    found = pack.analyze(acl)

    assert policies(found) == [BYPASS] * len(COMMON_RULES), explain(acl.urn, found)
    assert "'NoUserAgent_HEADER' to count, so it blocks nothing" in found[0].message


# What the edge component overrides today: two rules counted, and an explicit block changes nothing.
EDGE_OVERRIDES = {
    "AWSManagedRulesAnonymousIpList": [_override("HostingProviderIPList", "count")],
    "AWSManagedRulesCommonRuleSet": [
        _override("SizeRestrictions_BODY", "count"),
        _override("NoUserAgent_HEADER", "block"),
    ],
}


def test_rules_the_edge_component_counts_pass(pack: PolicyPack) -> None:
    groups = [_group(g, ruleActionOverrides=EDGE_OVERRIDES.get(g, [])) for g in MANAGED_GROUPS]
    acl = _acl(*groups, _rate())

    found = pack.analyze(acl)

    assert found == [], explain(acl.urn, found)


@pytest.mark.parametrize(
    ("counted", "blocked"),
    [
        pytest.param({}, [BYPASS], id="nothing-may-count"),
        pytest.param(
            {"AWSManagedRulesAnonymousIpList": ["HostingProviderIPList"]}, [], id="listed"
        ),
        pytest.param(
            {"AWSManagedRulesCommonRuleSet": ["HostingProviderIPList"]}, [BYPASS], id="other-group"
        ),
    ],
)
def test_configured_counted_rules_are_the_only_ones_that_may_count(
    pack: PolicyPack, counted: dict[str, list[str]], blocked: list[str]
) -> None:
    pack.configure({BYPASS: {"countedRules": counted}})
    acl = _acl(
        *_overridden("AWSManagedRulesAnonymousIpList", _override("HostingProviderIPList", "count"))
    )

    found = pack.analyze(acl)

    assert policies(found) == blocked, explain(acl.urn, found)


@pytest.mark.parametrize(
    ("statement", "said"),
    [
        pytest.param(
            {
                "limit": 2000,
                "aggregateKeyType": "FORWARDED_IP",
                "forwardedIpConfig": {
                    "headerName": "X-Forwarded-For",
                    "fallbackBehavior": "NO_MATCH",
                },
            },
            "per 'FORWARDED_IP'",
            id="forwarded-header",
        ),
        pytest.param(
            {
                "limit": 2000,
                "aggregateKeyType": "CUSTOM_KEYS",
                "customKeys": [CLIENT_HEADER_KEY],
            },
            "per 'CUSTOM_KEYS'",
            id="custom-header-key",
        ),
        pytest.param(
            {"limit": 2000, "aggregateKeyType": "CONSTANT"}, "per 'CONSTANT'", id="constant"
        ),
        pytest.param(
            {"limit": 2_000_000_000, "aggregateKeyType": "IP"},
            "above maxRateLimit",
            id="huge-limit",
        ),
        pytest.param(
            {"limit": 5000, "aggregateKeyType": "IP", "evaluationWindowSec": 60},
            "5000 requests per 60 s",
            id="limit-over-a-short-window",
        ),
    ],
)
def test_rate_limit_a_client_escapes_is_blocked(
    pack: PolicyPack, statement: dict[str, Any], said: str
) -> None:
    rate: dict[str, Any] = {
        "name": "rate",
        "action": {"block": {}},
        "statement": {"rateBasedStatement": statement},
    }
    acl = _acl(*(_group(g) for g in MANAGED_GROUPS), rate)

    found = pack.analyze(acl)

    assert policies(found) == [BYPASS], explain(acl.urn, found)
    assert said in found[0].message


def test_forged_header_key_with_huge_limit_is_two_findings(pack: PolicyPack) -> None:
    statement = {
        "limit": 2_000_000_000,
        "aggregateKeyType": "FORWARDED_IP",
        "forwardedIpConfig": {"headerName": "X-Forwarded-For", "fallbackBehavior": "NO_MATCH"},
    }
    rate: dict[str, Any] = {
        "name": "rate",
        "action": {"block": {}},
        "statement": {"rateBasedStatement": statement},
    }
    acl = _acl(*(_group(g) for g in MANAGED_GROUPS), rate)

    found = pack.analyze(acl)

    assert policies(found) == [BYPASS, BYPASS], explain(acl.urn, found)


@pytest.mark.parametrize(("limit", "blocked"), [(1000, []), (2000, [BYPASS])])
def test_configured_max_rate_limit_is_held(
    pack: PolicyPack, limit: int, blocked: list[str]
) -> None:
    pack.configure({BYPASS: {"maxRateLimit": 1000}})
    acl = _acl(*(_group(g) for g in MANAGED_GROUPS), _rate(limit=limit))

    found = pack.analyze(acl)

    assert policies(found) == blocked, explain(acl.urn, found)


def _rule_group(*rules: dict[str, Any], **inputs: Any) -> ResourceRecord:
    props = {"scope": "CLOUDFRONT", "region": "us-east-1", "capacity": 10, "rules": list(rules)}
    return resource(RULE_GROUP, "partners", {**props, **inputs}, computed={"arn": GROUP_ARN})


ALLOW_HEADER: dict[str, Any] = {
    "name": "allow-partner",
    "action": {"allow": {}},
    "statement": HEADER_MATCH,
}
BLOCK_HEADER: dict[str, Any] = {
    "name": "block-partner",
    "action": {"block": {}},
    "statement": HEADER_MATCH,
}


@pytest.mark.parametrize(
    ("record", "said"),
    [
        pytest.param(_rule_group(ALLOW_HEADER), "rule 'allow-partner' allows", id="group-allows"),
        pytest.param(
            resource(
                "aws:wafv2/webAclRule:WebAclRule",
                "partners",
                {"webAclArn": REGIONAL_ACL_ARN, "region": REGION, "priority": 0, **ALLOW_HEADER},
            ),
            "adds a rule to a web ACL from outside",
            id="separate-web-acl-rule",
        ),
        pytest.param(
            resource(
                "aws:wafv2/webAclRule:WebAclRule",
                "partners",
                {"webAclArn": REGIONAL_ACL_ARN, "region": REGION, "priority": 0, **BLOCK_HEADER},
            ),
            "adds a rule to a web ACL from outside",
            id="separate-blocking-web-acl-rule",
        ),
        pytest.param(
            resource(
                "aws:wafv2/webAclRuleGroupAssociation:WebAclRuleGroupAssociation",
                "assoc",
                {
                    "webAclArn": REGIONAL_ACL_ARN,
                    "region": REGION,
                    "priority": 0,
                    "ruleName": "partners",
                    "ruleGroupReference": {"arn": GROUP_ARN},
                    "overrideAction": "none",
                },
            ),
            "adds a rule group to a web ACL from outside",
            id="rule-group-association",
        ),
        pytest.param(
            changed(_acl(), ruleJson='[{"Name": "p", "Action": {"Allow": {}}}]'),
            "raw JSON (ruleJson)",
            id="web-acl-raw-json",
        ),
        pytest.param(
            _rule_group(rulesJson='[{"Name": "p", "Action": {"Allow": {}}}]'),
            "raw JSON (rulesJson)",
            id="rule-group-raw-json",
        ),
    ],
)
def test_rule_the_acl_list_does_not_show_is_blocked(
    pack: PolicyPack, record: ResourceRecord, said: str
) -> None:
    found = pack.analyze(record)

    assert policies(found) == [BYPASS], explain(record.urn, found)
    assert said in found[0].message


def test_blocking_rule_group_passes(pack: PolicyPack) -> None:
    group = _rule_group(BLOCK_HEADER)

    found = pack.analyze(group)

    assert found == [], explain(group.urn, found)


def test_known_bypass_beside_an_unknown_rule_at_preview_is_still_blocked(
    preview_pack: PolicyPack,
) -> None:
    allow: dict[str, Any] = {"name": "Partners", "action": {"allow": {}}, "statement": IP_SET}
    acl = _acl(allow, *(_group(g) for g in MANAGED_GROUPS), _rate(limit=UNKNOWN))

    found = preview_pack.analyze(acl)

    assert policies(found) == [BYPASS], explain(acl.urn, found)
    assert BYPASS in policies(found, "advisory"), explain(acl.urn, found)
    assert "rule 'Partners' allows" in found[0].message


# --- waf-rule-groups-in-stack ----------------------------------------------------------------


def _logged_acl(
    *references: str, groups: Sequence[ResourceRecord] = (), arn: str = ACL_ARN
) -> list[ResourceRecord]:
    """A provider, a compliant web ACL referencing `references` (its rules built from `groups`),
    and the log group and logging configuration waf-logging asks for."""
    rules = [*(_reference(r) for r in references), *(_group(g) for g in MANAGED_GROUPS), _rate()]
    props = {"scope": "CLOUDFRONT", "region": "us-east-1", "rules": rules}
    links = {"rules": list(groups)} if groups else None
    acl = resource(WEB_ACL, "waf", props, computed={"arn": arn}, links=links)
    logs = resource(LOG_GROUP, "waf-logs", {"name": "aws-waf-logs-api", "region": "us-east-1"})
    destination = "arn:aws:logs:us-east-1:111122223333:log-group:aws-waf-logs-api"
    logging = resource(
        LOGGING,
        "waf-logging",
        {"resourceArn": arn, "region": "us-east-1", "logDestinationConfigs": [destination]},
        links={"resourceArn": [acl], "logDestinationConfigs": [logs]},
    )
    return [DEFAULT_PROVIDER, *groups, acl, logs, logging]


UNNAMED_GROUP = dataclasses.replace(_rule_group(BLOCK_HEADER), outputs={})


@pytest.mark.parametrize(
    ("records", "blocked"),
    [
        pytest.param(_logged_acl(FOREIGN_GROUP_ARN), [IN_STACK], id="literal-arn-not-in-stack"),
        pytest.param(
            _logged_acl(GROUP_ARN, groups=[_rule_group(BLOCK_HEADER)]), [], id="declared-group"
        ),
        pytest.param(
            _logged_acl(GROUP_ARN, groups=[_rule_group(ALLOW_HEADER)]),
            [BYPASS],
            id="declared-group-that-allows",
        ),
        pytest.param(
            _logged_acl(GROUP_ARN, groups=[UNNAMED_GROUP]), [], id="linked-group-without-arn"
        ),
        pytest.param(
            _logged_acl(GROUP_ARN, FOREIGN_GROUP_ARN, groups=[UNNAMED_GROUP]),
            [IN_STACK],
            id="literal-beside-linked-group",
        ),
        pytest.param(
            _logged_acl(FOREIGN_GROUP_ARN, groups=[_rule_group(BLOCK_HEADER)]),
            [IN_STACK],
            id="linked-group-with-other-arn",
        ),
    ],
)
def test_rule_group_reference_is_held_to_the_stack(
    judge: Judge, records: list[ResourceRecord], blocked: list[str]
) -> None:
    found = judge(records)

    assert policies(found) == blocked, explain("web ACL referencing a rule group", found)


def test_literal_beside_unknown_linked_group_at_preview_is_blocked(
    preview_pack: PolicyPack,
) -> None:
    group = _rule_group(BLOCK_HEADER)
    group = dataclasses.replace(group, outputs={**group.outputs, "arn": UNKNOWN})
    records = _logged_acl(UNKNOWN, FOREIGN_GROUP_ARN, groups=[group])

    found = preview_pack.check(records)

    assert policies(found) == [IN_STACK], explain("literal beside a group not created yet", found)


@pytest.mark.parametrize(
    ("linked", "advisory"), [(True, False), (False, True)], ids=["linked", "unlinked"]
)
def test_unknown_reference_at_preview(
    preview_pack: PolicyPack, linked: bool, advisory: bool
) -> None:
    group = _rule_group(BLOCK_HEADER)
    group = dataclasses.replace(group, outputs={**group.outputs, "arn": UNKNOWN})
    records = _logged_acl(UNKNOWN, groups=[group] if linked else [])

    found = preview_pack.check(records)

    assert policies(found) == [], explain("reference not known yet", found)
    assert (IN_STACK in policies(found, "advisory")) == advisory, explain("unknown", found)
