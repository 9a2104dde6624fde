"""Nothing in a web ACL lets requests around it; rate-limit exemptions only where allowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import MANAGED_GROUPS, resource
from tests.policies.conftest import POLICY_DIR
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
