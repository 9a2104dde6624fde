"""The edge policies, judged by the real pack over gRPC: each bypass shape must be caught."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.policies.builders import (
    ALB,
    ALB_ALIAS,
    CLOUDFRONT_INLINE,
    DEFAULT_PROVIDER,
    EU_27,
    MANAGED_GROUPS,
    MULTITENANT_DISTRIBUTION,
    ORIGIN_FACING,
    OTHER_LIST,
    UNKNOWN,
    US_ORIGIN_FACING,
    changed,
    distribution,
    edge,
    geo,
    group_rule,
    https_from,
    ingress_rule,
    load_balancer,
    multitenant_distribution,
    provider,
    resource,
    security_group,
    without,
)
from tests.policies.conftest import Judge, as_cli
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, PolicyPackError
from tools.records import ResourceRecord, Violation

INGRESS = "alb-ingress-cloudfront-only"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
# The web ACL ARN the builders' distributions name.
ACL_ARN = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/api/1"
MANAGED_RULES: list[dict[str, Any]] = [
    *(
        {
            "name": group,
            "overrideAction": {"none": {}},
            "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": group}},
        }
        for group in MANAGED_GROUPS
    ),
    {
        "name": "RateLimitPerIp",
        "action": {"block": {}},
        "statement": {"rateBasedStatement": {"limit": 2000, "aggregateKeyType": "IP"}},
    },
]


def _declared_waf(name: str = "waf", arn: str | None = ACL_ARN) -> list[ResourceRecord]:
    """A compliant CloudFront web ACL with its logging; `arn` None leaves the ARN out of its
    outputs, as a view that carries none would."""
    props = {"scope": "CLOUDFRONT", "region": "us-east-1", "rules": MANAGED_RULES}
    acl = resource(WEB_ACL, name, props, computed={"arn": arn} if arn else None)
    log_name = f"aws-waf-logs-{name}"
    logs = resource(LOG_GROUP, f"{name}-logs", {"name": log_name, "region": "us-east-1"})
    destination = f"arn:aws:logs:us-east-1:111122223333:log-group:{log_name}"
    logging = resource(
        WAF_LOGGING,
        f"{name}-logging",
        {
            "resourceArn": arn or "arn:acl",
            "region": "us-east-1",
            "logDestinationConfigs": [destination],
        },
        links={"resourceArn": [acl], "logDestinationConfigs": [logs]},
    )
    return [acl, logs, logging]


WAF = _declared_waf()


def test_compliant_edge_passes(judge: Judge) -> None:
    records = [*edge(), *WAF, distribution()]

    found = judge(records)

    assert found == [], explain("compliant ALB, security group and distribution", found)


# --- alb-internal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "balancer",
    [
        pytest.param(without(load_balancer(), "internal"), id="internal-absent"),
        pytest.param(load_balancer(internal=False), id="internal-false"),
        pytest.param(load_balancer(token=ALB_ALIAS, internal=False), id="aws-alb-token"),
        pytest.param(without(load_balancer(internal=False), "loadBalancerType"), id="type-absent"),
    ],
)
def test_internet_facing_alb_is_blocked(pack: PolicyPack, balancer: ResourceRecord) -> None:
    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert policies(found) == ["alb-internal"], explain(balancer.urn, found)
    assert balancer.name in found[0].message


@pytest.mark.parametrize("token", [ALB, ALB_ALIAS], ids=["aws-lb", "aws-alb"])
def test_network_load_balancer_is_not_judged(pack: PolicyPack, token: str) -> None:
    balancer = load_balancer(token=token, loadBalancerType="network", internal=False)

    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert "alb-internal" not in policies(found), explain(balancer.urn, found)


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"internal": UNKNOWN}, id="internal"),
        pytest.param({"loadBalancerType": UNKNOWN}, id="type"),
    ],
)
def test_unknown_at_preview_is_advisory(preview_pack: PolicyPack, inputs: dict[str, Any]) -> None:
    balancer = changed(load_balancer(), **inputs)

    found = preview_pack.analyze(balancer, DEFAULT_PROVIDER)

    assert "alb-internal" in policies(found, "advisory"), explain(balancer.urn, found)
    assert policies(found) == [], explain(balancer.urn, found)


# --- alb-ingress-cloudfront-only -------------------------------------------------------------

GROUP = security_group()


@pytest.mark.parametrize(
    "ingress",
    [
        pytest.param(https_from("cidrBlocks", ["0.0.0.0/0"]), id="inline-ipv4-anywhere"),
        pytest.param(https_from("ipv6CidrBlocks", ["::/0"]), id="inline-ipv6-anywhere"),
        pytest.param(https_from("cidrBlocks", ["10.0.0.0/8"]), id="inline-private-cidr"),
        pytest.param(https_from("prefixListIds", [OTHER_LIST]), id="inline-other-list"),
        pytest.param(https_from("securityGroups", ["sg-0other"]), id="inline-other-group"),
        pytest.param(https_from("self", True), id="inline-self"),
        pytest.param(
            {**CLOUDFRONT_INLINE, "fromPort": 80, "toPort": 80}, id="inline-list-on-port-80"
        ),
        pytest.param({**CLOUDFRONT_INLINE, "toPort": 444}, id="inline-list-on-range"),
        pytest.param({**CLOUDFRONT_INLINE, "protocol": "udp"}, id="inline-list-udp"),
        pytest.param({**CLOUDFRONT_INLINE, "protocol": "-1"}, id="inline-list-all-traffic"),
    ],
)
def test_inline_ingress_other_than_cloudfront_443_is_blocked(
    judge: Judge, ingress: dict[str, Any]
) -> None:
    group = security_group(ingress=[CLOUDFRONT_INLINE, ingress])

    found = judge(edge(group=group))

    expected = [INGRESS] + (["sg-no-public-ingress"] if "/0" in str(ingress) else [])
    assert policies(found) == sorted(expected), explain(group.urn, found)
    assert group.urn in [v.urn for v in found if v.policy == INGRESS]


@pytest.mark.parametrize(
    ("rule", "public"),
    [
        pytest.param(ingress_rule("r", GROUP, cidrIpv4="0.0.0.0/0"), True, id="vpc-rule-ipv4"),
        pytest.param(ingress_rule("r", GROUP, cidrIpv6="::/0"), True, id="vpc-rule-ipv6"),
        pytest.param(ingress_rule("r", GROUP, cidrIpv4="10.1.0.0/16"), False, id="vpc-rule-cidr"),
        pytest.param(ingress_rule("r", GROUP, prefixListId=OTHER_LIST), False, id="vpc-rule-list"),
        pytest.param(
            ingress_rule("r", GROUP, referencedSecurityGroupId="sg-0peer"), False, id="vpc-rule-sg"
        ),
        pytest.param(
            ingress_rule("r", GROUP, prefixListId=ORIGIN_FACING, fromPort=80, toPort=80),
            False,
            id="vpc-rule-list-port-80",
        ),
        pytest.param(
            ingress_rule("r", GROUP, prefixListId=ORIGIN_FACING, ipProtocol="-1"),
            False,
            id="vpc-rule-list-all-traffic",
        ),
        pytest.param(group_rule("r", GROUP, cidrBlocks=["0.0.0.0/0"]), True, id="ec2-rule-cidr"),
        pytest.param(group_rule("r", GROUP, ipv6CidrBlocks=["::/0"]), True, id="ec2-rule-ipv6"),
        pytest.param(
            group_rule("r", GROUP, sourceSecurityGroupId="sg-0peer"), False, id="ec2-rule-source-sg"
        ),
        pytest.param(group_rule("r", GROUP, self=True), False, id="ec2-rule-self"),
        pytest.param(
            group_rule("r", GROUP, prefixListIds=[ORIGIN_FACING], fromPort=80, toPort=80),
            False,
            id="ec2-rule-list-port-80",
        ),
    ],
)
def test_separate_rule_other_than_cloudfront_443_is_blocked(
    judge: Judge, rule: ResourceRecord, public: bool
) -> None:
    found = judge(edge(rule, group=GROUP))

    expected = [INGRESS] + (["sg-no-public-ingress"] if public else [])
    assert policies(found) == sorted(expected), explain(rule.urn, found)
    offending = next(v for v in found if v.policy == INGRESS)
    assert offending.urn == rule.urn, explain(rule.urn, found)
    assert GROUP.urn in offending.message, explain(rule.urn, found)
    assert "api-alb" in offending.message, explain(rule.urn, found)


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(ingress_rule("ok", GROUP, prefixListId=ORIGIN_FACING), id="vpc-rule"),
        pytest.param(group_rule("ok", GROUP, prefixListIds=[ORIGIN_FACING]), id="ec2-rule"),
        pytest.param(group_rule("ok", GROUP, type="egress", cidrBlocks=["0.0.0.0/0"]), id="egress"),
    ],
)
def test_separate_cloudfront_443_rule_passes(judge: Judge, rule: ResourceRecord) -> None:
    found = judge(edge(rule, group=GROUP))

    assert found == [], explain(rule.urn, found)


def test_rule_on_unrelated_group_is_not_this_policys_business(judge: Judge) -> None:
    other = security_group("workers-sg", ingress=[])
    rule = ingress_rule("peer", other, referencedSecurityGroupId="sg-0peer")

    found = judge([*edge(), other, rule])

    assert found == [], explain(rule.urn, found)


def test_group_not_in_stack_is_blocked(judge: Judge) -> None:
    balancer = load_balancer(groups=["sg-0feedfacecafe0001"])

    found = judge([DEFAULT_PROVIDER, balancer])

    assert policies(found) == [INGRESS], explain(balancer.urn, found)
    assert "sg-0feedfacecafe0001" in found[0].message


def test_extra_group_not_in_stack_is_blocked(judge: Judge) -> None:
    balancer = load_balancer(groups=[GROUP, "sg-0feedfacecafe0001"])

    found = judge([DEFAULT_PROVIDER, GROUP, balancer])

    assert policies(found) == [INGRESS], explain(balancer.urn, found)
    assert "sg-0feedfacecafe0001" in found[0].message


@pytest.mark.parametrize("token", [ALB, ALB_ALIAS], ids=["aws-lb", "aws-alb"])
def test_alb_without_any_group_is_blocked(judge: Judge, token: str) -> None:
    balancer = without(load_balancer(token=token), "securityGroups")

    found = judge([DEFAULT_PROVIDER, balancer])

    assert policies(found) == [INGRESS], explain(balancer.urn, found)


def test_region_picks_that_regions_list(judge: Judge) -> None:
    group = security_group(ingress=[https_from("prefixListIds", [US_ORIGIN_FACING])])

    found = judge(edge(group=group))

    assert policies(found) == [INGRESS], explain(group.urn, found)
    assert US_ORIGIN_FACING in found[0].message


def test_resource_region_wins_over_provider(pack: PolicyPack) -> None:
    group = security_group(
        ingress=[https_from("prefixListIds", [US_ORIGIN_FACING])], region="us-east-1"
    )
    pack.configure({INGRESS: {"originFacingPrefixListIds": {"us-east-1": US_ORIGIN_FACING}}})

    found = as_cli(pack, edge(group=group))

    # A group in us-east-1 breaks residency; only the ingress verdict is on trial here.
    assert policies(found) == ["eu-regions-only"], explain(group.urn, found)


def test_unknown_region_accepts_any_list_with_advisory(pack: PolicyPack) -> None:
    bare = provider("bare", region=None)
    group = security_group(ingress=[https_from("prefixListIds", [US_ORIGIN_FACING])], via=bare)
    records = [bare, group, load_balancer(groups=[group])]
    lists = {"eu-central-1": ORIGIN_FACING, "us-east-1": US_ORIGIN_FACING}
    pack.configure({INGRESS: {"originFacingPrefixListIds": lists}})

    found = pack.check(records)

    # Residency blocks what no region pins; the ingress policy itself only advises.
    assert INGRESS not in policies(found), explain(group.urn, found)
    assert "eu-regions-only" in policies(found), explain(group.urn, found)
    assert policies(found, "advisory") == ["alb-ingress-region-known"], explain(group.urn, found)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"originFacingPrefixListIds": {}}, id="empty"),
        pytest.param({"originFacingPrefixListIds": {"eu-central-1": "sg-123"}}, id="not-a-list"),
        pytest.param({"originFacingPrefixListIds": {"Frankfurt": ORIGIN_FACING}}, id="bad-region"),
        pytest.param({"originFacingPrefixListIds": ORIGIN_FACING}, id="not-an-object"),
        pytest.param({"prefixList": ORIGIN_FACING}, id="unknown-property"),
    ],
)
def test_bad_prefix_list_config_is_rejected(pack: PolicyPack, config: dict[str, Any]) -> None:
    with pytest.raises(PolicyPackError, match=INGRESS):
        pack.configure({INGRESS: config})


PUBLIC_GROUP = security_group("public-sg", ingress=[https_from("cidrBlocks", ["0.0.0.0/0"])])
FOREIGN_GROUP = "sg-0123456789abcdef0"


@pytest.mark.parametrize(
    ("records", "mandatory"),
    [
        pytest.param(
            [
                DEFAULT_PROVIDER,
                changed(GROUP, id=UNKNOWN),
                changed(load_balancer(groups=[GROUP]), securityGroups=[UNKNOWN]),
            ],
            [],
            id="group-ids-unknown",
        ),
        pytest.param(
            [DEFAULT_PROVIDER, GROUP, changed(load_balancer(), securityGroups=UNKNOWN)],
            [],
            id="group-list-unknown",
        ),
        pytest.param(
            edge(group=changed(GROUP, ingress=[{**CLOUDFRONT_INLINE, "toPort": UNKNOWN}])),
            [],
            id="port-unknown",
        ),
        pytest.param(
            [
                DEFAULT_PROVIDER,
                changed(PUBLIC_GROUP, id=UNKNOWN),
                changed(load_balancer(groups=[PUBLIC_GROUP]), securityGroups=[UNKNOWN]),
            ],
            [INGRESS],
            id="known-violation-still-reported",
        ),
        pytest.param(
            [
                DEFAULT_PROVIDER,
                changed(GROUP, id=UNKNOWN),
                changed(load_balancer(groups=[GROUP]), securityGroups=[UNKNOWN, FOREIGN_GROUP]),
            ],
            [INGRESS],
            id="literal-foreign-id-beside-unknown-id",
        ),
    ],
)
def test_unknown_at_preview_is_advisory_never_a_pass(
    preview_pack: PolicyPack, records: list[ResourceRecord], mandatory: list[str]
) -> None:
    found = as_cli(preview_pack, records)

    subject = records[2].urn
    assert INGRESS in policies(found, "advisory"), explain(subject, found)
    assert [p for p in policies(found) if p == INGRESS] == mandatory, explain(subject, found)


def test_public_group_on_aws_alb_token_is_blocked(judge: Judge) -> None:
    group = security_group(ingress=[https_from("cidrBlocks", ["0.0.0.0/0"])])

    found = judge(edge(group=group, token=ALB_ALIAS))

    assert policies(found) == [INGRESS, "sg-no-public-ingress"], explain(group.urn, found)


# --- cloudfront-geo-eu-only ------------------------------------------------------------------

GEO = "cloudfront-geo-eu-only"


@pytest.mark.parametrize(
    "restrictions",
    [
        pytest.param(geo("blacklist", ["RU", "CN"]), id="blacklist"),
        pytest.param(geo("none"), id="none"),
        pytest.param(geo("whitelist", [*EU_27, "GB"]), id="gb-added"),
        pytest.param(geo("whitelist", ["DE", "NO"]), id="eea-norway"),
        pytest.param(geo("whitelist", ["DE", "CH"]), id="switzerland"),
        pytest.param(geo("whitelist", ["DE", "EL"]), id="el-instead-of-gr"),
        pytest.param(geo("whitelist", ["de"]), id="lower-case"),
        pytest.param(geo("whitelist", []), id="empty-whitelist"),
        pytest.param(geo("whitelist"), id="whitelist-without-locations"),
        pytest.param({}, id="no-geo-restriction"),
    ],
)
def test_distribution_outside_eu_is_blocked(pack: PolicyPack, restrictions: dict[str, Any]) -> None:
    cdn = distribution(restrictions=restrictions)

    found = pack.analyze(cdn)

    assert policies(found) == [GEO], explain(cdn.urn, found)
    assert cdn.urn in found[0].message


def test_distribution_without_restrictions_is_blocked(pack: PolicyPack) -> None:
    cdn = without(distribution(), "restrictions")

    found = pack.analyze(cdn)

    assert policies(found) == [GEO], explain(cdn.urn, found)


@pytest.mark.parametrize(
    "locations",
    [pytest.param(["GR"], id="greece-as-gr"), pytest.param(["DE", "FR"], id="subset")],
)
def test_eu_subset_passes(pack: PolicyPack, locations: list[str]) -> None:
    cdn = distribution(restrictions=geo("whitelist", locations))

    found = pack.analyze(cdn)

    assert found == [], explain(cdn.urn, found)


def test_configured_countries_narrow_the_fence(pack: PolicyPack) -> None:
    cdn = distribution(restrictions=geo("whitelist", ["DE", "FR"]))
    pack.configure({GEO: {"allowedCountries": ["DE", "AT"]}})

    found = pack.analyze(cdn)

    assert policies(found) == [GEO], explain(cdn.urn, found)
    assert "FR" in found[0].message


@pytest.mark.parametrize(
    "countries",
    [
        pytest.param(["DE", "GB"], id="non-eu-gb"),
        pytest.param(["EL"], id="el"),
        pytest.param(["de"], id="lower-case"),
        pytest.param(["DEU"], id="alpha-3"),
        pytest.param([], id="empty"),
        pytest.param(["DE", "DE"], id="duplicate"),
        pytest.param("DE", id="not-a-list"),
    ],
)
def test_bad_country_config_is_rejected(pack: PolicyPack, countries: Any) -> None:
    with pytest.raises(PolicyPackError, match=GEO):
        pack.configure({GEO: {"allowedCountries": countries}})


@pytest.mark.parametrize(
    "restrictions",
    [
        pytest.param(UNKNOWN, id="restrictions"),
        pytest.param(geo(UNKNOWN, ["DE"]), id="restriction-type"),
        pytest.param(geo("whitelist", UNKNOWN), id="locations"),
        pytest.param(geo("whitelist", ["DE", UNKNOWN]), id="one-location"),
    ],
)
def test_unknown_geo_at_preview_is_advisory(preview_pack: PolicyPack, restrictions: Any) -> None:
    cdn = distribution(restrictions=restrictions)

    found = preview_pack.analyze(cdn)

    assert policies(found, "advisory") == [GEO], explain(cdn.urn, found)
    assert policies(found) == [], explain(cdn.urn, found)


# --- issue #6 breadth ------------------------------------------------------------------------

LISTENER = "aws:lb/listener:Listener"


def _listener(**inputs: Any) -> ResourceRecord:
    props = {
        "loadBalancerArn": "arn:aws:elasticloadbalancing:api-alb",
        "port": 443,
        "protocol": "HTTPS",
        "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificateArn": "arn:aws:acm:eu-central-1:111122223333:certificate/2",
        **inputs,
    }
    return resource(LISTENER, "https", props)


@pytest.mark.parametrize(
    ("record", "policy"),
    [
        pytest.param(without(distribution(), "webAclId"), "cloudfront-waf-attached", id="no-waf"),
        pytest.param(
            distribution(defaultCacheBehavior={"viewerProtocolPolicy": "allow-all"}),
            "cloudfront-https-viewers",
            id="default-allow-all",
        ),
        pytest.param(
            distribution(orderedCacheBehaviors=[{"viewerProtocolPolicy": "allow-all"}]),
            "cloudfront-https-viewers",
            id="ordered-allow-all",
        ),
        pytest.param(
            distribution(viewerCertificate={"minimumProtocolVersion": "TLSv1.2_2019"}),
            "cloudfront-viewer-tls",
            id="tls-2019",
        ),
        pytest.param(
            distribution(viewerCertificate={"cloudfrontDefaultCertificate": True}),
            "cloudfront-viewer-tls",
            id="default-certificate",
        ),
        pytest.param(
            distribution(origins=[{"originId": "alb", "customOriginConfig": {"httpPort": 80}}]),
            "cloudfront-vpc-origins-only",
            id="custom-origin",
        ),
        pytest.param(
            distribution(origins=[{"originId": "s3", "s3OriginConfig": {}}]),
            "cloudfront-vpc-origins-only",
            id="s3-origin",
        ),
        pytest.param(_listener(protocol="HTTP"), "alb-listener-https-tls13", id="listener-http"),
        pytest.param(
            without(_listener(), "protocol", "sslPolicy"),
            "alb-listener-https-tls13",
            id="listener-defaults",
        ),
        pytest.param(
            _listener(sslPolicy="ELBSecurityPolicy-2016-08"),
            "alb-listener-https-tls13",
            id="listener-2016-policy",
        ),
        pytest.param(
            load_balancer(dropInvalidHeaderFields=False), "alb-drop-invalid-headers", id="headers"
        ),
        pytest.param(
            without(load_balancer(), "enableDeletionProtection"),
            "alb-deletion-protection",
            id="deletion-protection",
        ),
    ],
)
def test_edge_breadth_violation_is_caught(
    pack: PolicyPack, record: ResourceRecord, policy: str
) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [policy], explain(record.urn, found)


def test_compliant_listener_passes(pack: PolicyPack) -> None:
    listener = _listener()

    found = pack.analyze(listener, DEFAULT_PROVIDER)

    assert found == [], explain(listener.urn, found)


# --- nlb-internal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "balancer",
    [
        pytest.param(load_balancer(loadBalancerType="network", internal=False), id="false"),
        pytest.param(without(load_balancer(loadBalancerType="network"), "internal"), id="absent"),
        pytest.param(
            load_balancer(token=ALB_ALIAS, loadBalancerType="network", internal=False), id="alias"
        ),
    ],
)
def test_internet_facing_nlb_is_blocked(pack: PolicyPack, balancer: ResourceRecord) -> None:
    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert policies(found) == ["nlb-internal"], explain(balancer.urn, found)
    assert balancer.name in found[0].message


@pytest.mark.parametrize("kind", ["network", "gateway"])
def test_internal_nlb_and_gateway_lb_pass(pack: PolicyPack, kind: str) -> None:
    balancer = load_balancer(loadBalancerType=kind)
    if kind == "gateway":
        balancer = without(balancer, "internal")

    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert found == [], explain(balancer.urn, found)


# --- cloudfront-vpc-origin-https -------------------------------------------------------------

VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"


def _vpc_origin(policy: str = "https-only", protocols: Any = ("TLSv1.2",)) -> ResourceRecord:
    endpoint = {
        "arn": "arn:aws:elasticloadbalancing:api-alb",
        "name": "api-alb",
        "httpPort": 80,
        "httpsPort": 443,
        "originProtocolPolicy": policy,
        "originSslProtocols": {"items": list(protocols), "quantity": len(protocols)},
    }
    return resource(VPC_ORIGIN, "api-origin", {"vpcOriginEndpointConfig": endpoint})


def test_https_vpc_origin_passes(pack: PolicyPack) -> None:
    origin = _vpc_origin()

    found = pack.analyze(origin, DEFAULT_PROVIDER)

    assert found == [], explain(origin.urn, found)


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param(_vpc_origin(policy="http-only"), id="http-only"),
        pytest.param(_vpc_origin(policy="match-viewer"), id="match-viewer"),
        pytest.param(_vpc_origin(protocols=("TLSv1", "TLSv1.2")), id="tls-v1"),
        pytest.param(_vpc_origin(protocols=()), id="no-protocols"),
    ],
)
def test_weak_vpc_origin_is_blocked(pack: PolicyPack, origin: ResourceRecord) -> None:
    found = pack.analyze(origin, DEFAULT_PROVIDER)

    assert policies(found) == ["cloudfront-vpc-origin-https"], explain(origin.urn, found)


# --- red-team regressions: classic ELBs, type spellings, multitenant distributions -------------

CLASSIC = "elb-classic-forbidden"
HALVES = ("0.0.0.0/1", "128.0.0.0/1")
CLASSIC_LISTENER = {
    "instancePort": 8080,
    "instanceProtocol": "http",
    "lbPort": 80,
    "lbProtocol": "http",
}


@pytest.mark.parametrize(
    "token",
    ["aws:elb/loadBalancer:LoadBalancer", "aws:elasticloadbalancing/loadBalancer:LoadBalancer"],
    ids=["aws-elb", "old-alias"],
)
@pytest.mark.parametrize("internal", [False, True], ids=["internet-facing", "internal"])
def test_any_classic_load_balancer_is_blocked(pack: PolicyPack, token: str, internal: bool) -> None:
    inputs = {"subnets": ["subnet-0a"], "internal": internal, "listeners": [CLASSIC_LISTENER]}
    balancer = resource(token, "classic", inputs)

    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert policies(found) == [CLASSIC], explain(balancer.urn, found)


@pytest.mark.parametrize("kind", ["", "Application", " APPLICATION ", "applicaton", 7])
def test_odd_type_spelling_gets_every_alb_rule(pack: PolicyPack, kind: object) -> None:
    balancer = load_balancer(loadBalancerType=kind, internal=False, dropInvalidHeaderFields=False)

    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    expected = ["alb-drop-invalid-headers", "alb-internal"]
    assert [p for p in policies(found) if p in expected] == expected, explain(balancer.urn, found)


@pytest.mark.parametrize("kind", ["Network", " network", "NETWORK"])
def test_network_type_in_any_case_is_held_internal(pack: PolicyPack, kind: str) -> None:
    balancer = load_balancer(loadBalancerType=kind, internal=False)

    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert policies(found) == ["nlb-internal"], explain(balancer.urn, found)


@pytest.mark.parametrize("kind", ["", "Application"], ids=["empty", "capitalised"])
def test_odd_type_spelling_keeps_the_group_rules(judge: Judge, kind: str) -> None:
    group = security_group("open", ingress=[https_from("cidrBlocks", list(HALVES))])

    found = judge(edge(group=group, loadBalancerType=kind, internal=False))

    expected = sorted(["alb-internal", *[INGRESS, "sg-no-public-ingress"] * len(HALVES)])
    assert policies(found) == expected, explain(group.urn, found)


def test_literal_foreign_group_beside_a_new_group_is_blocked(judge: Judge) -> None:
    records = [DEFAULT_PROVIDER, GROUP, load_balancer(groups=[GROUP, FOREIGN_GROUP])]

    found = judge(records)

    assert policies(found) == [INGRESS], explain(records[2].urn, found)
    assert FOREIGN_GROUP in found[0].message


# The policies a multitenant distribution must meet, as a plain one does (others may judge it too).
DISTRIBUTION_POLICIES = {
    GEO,
    "cloudfront-waf-attached",
    "cloudfront-https-viewers",
    "cloudfront-viewer-tls",
    "cloudfront-vpc-origins-only",
}


def _distribution_policies(found: list[Violation]) -> list[str]:
    return [p for p in policies(found) if p in DISTRIBUTION_POLICIES]


def test_compliant_multitenant_distribution_passes(pack: PolicyPack) -> None:
    cdn = multitenant_distribution()

    found = pack.analyze(cdn)

    assert _distribution_policies(found) == [], explain(cdn.urn, found)


def test_public_multitenant_distribution_is_blocked(pack: PolicyPack) -> None:
    public_origin = {
        "id": "pub",
        "domainName": "public-alb.example.eu",
        "customOriginConfigs": [{"httpPort": 80, "originProtocolPolicy": "http-only"}],
    }
    cdn = multitenant_distribution(
        webAclId=None,
        origins=[public_origin],
        defaultCacheBehavior={"targetOriginId": "pub", "viewerProtocolPolicy": "allow-all"},
        restrictions=geo("none"),
        viewerCertificate={"cloudfrontDefaultCertificate": True},
    )

    found = pack.analyze(cdn)

    assert _distribution_policies(found) == sorted(DISTRIBUTION_POLICIES), explain(cdn.urn, found)


@pytest.mark.parametrize(
    ("inputs", "policy"),
    [
        pytest.param(
            {"restrictions": {"geoRestriction": {"restrictionType": "whitelist", "items": ["GB"]}}},
            GEO,
            id="geo-items-outside-eu",
        ),
        pytest.param(
            {"cacheBehaviors": [{"pathPattern": "/x", "viewerProtocolPolicy": "allow-all"}]},
            "cloudfront-https-viewers",
            id="cache-behaviour-plain-http",
        ),
        pytest.param(
            {
                "origins": [
                    {
                        "id": "both",
                        "vpcOriginConfigs": [{"vpcOriginId": "vo_0abc"}],
                        "customOriginConfigs": [{"originProtocolPolicy": "https-only"}],
                    }
                ]
            },
            "cloudfront-vpc-origins-only",
            id="custom-origin-beside-vpc-origin",
        ),
    ],
)
def test_multitenant_distribution_shape_is_read(
    pack: PolicyPack, inputs: dict[str, Any], policy: str
) -> None:
    cdn = multitenant_distribution(**inputs)

    found = pack.analyze(cdn)

    assert _distribution_policies(found) == [policy], explain(cdn.urn, found)


@pytest.mark.parametrize("kind", ["Ingress", "INGRESS"])
def test_capitalised_rule_type_on_alb_group_is_judged(judge: Judge, kind: str) -> None:
    rule = group_rule("cap", GROUP, type=kind, cidrBlocks=["10.0.0.0/8"])

    found = judge(edge(rule, group=GROUP))

    assert policies(found) == [INGRESS], explain(rule.urn, found)


@pytest.mark.parametrize(
    ("protocol", "blocked"),
    [("TCP", []), ("6", []), ("-1", [INGRESS]), ("ALL", [INGRESS])],
    ids=["tcp-upper", "tcp-number", "every-protocol", "all-upper"],
)
def test_protocol_spelling_on_cloudfront_rule(
    judge: Judge, protocol: str, blocked: list[str]
) -> None:
    rule = group_rule("cf", GROUP, protocol=protocol, prefixListIds=[ORIGIN_FACING])

    found = judge(edge(rule, group=GROUP))

    assert policies(found) == blocked, explain(rule.urn, found)


def test_public_halves_on_alb_group_are_blocked(judge: Judge) -> None:
    halves = [ingress_rule(f"half{i}", GROUP, cidrIpv4=c) for i, c in enumerate(HALVES)]

    found = judge(edge(*halves, group=GROUP))

    expected = [INGRESS, INGRESS, "sg-no-public-ingress", "sg-no-public-ingress"]
    assert policies(found) == expected, explain(halves[0].urn, found)


# --- cloudfront-waf-in-stack -----------------------------------------------------------------

WAF_IN_STACK = "cloudfront-waf-in-stack"
WAF_ATTACHED = "cloudfront-waf-attached"
OTHER_ACL_ARN = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/allow-everything/0000"
CLASSIC_ACL = resource(
    "aws:waf/webAcl:WebAcl",
    "classic",
    {"name": "classic", "metricName": "classic", "defaultAction": {"type": "ALLOW"}},
    cloud_id="0c8e583e-6a7d-4c5b-9b1e-000000000000",
)
SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"


def _linked(record: ResourceRecord, key: str, *sources: ResourceRecord) -> ResourceRecord:
    """The record with its input `key` built from `sources`, as the SDK records it."""
    urns = tuple(r.urn for r in sources)
    return dataclasses.replace(
        record,
        dependencies=tuple(dict.fromkeys((*record.dependencies, *urns))),
        property_dependencies={**record.property_dependencies, key: urns},
    )


def _v2_logged(cdn: ResourceRecord) -> list[ResourceRecord]:
    """A logging v2 delivery of the distribution's access logs, in us-east-1 as AWS requires."""
    props = {
        "name": cdn.name,
        "logType": "ACCESS_LOGS",
        "resourceArn": "arn:cf",
        "region": "us-east-1",
    }
    source = resource(SOURCE, f"{cdn.name}-source", props, links={"resourceArn": [cdn]})
    delivery = resource(
        DELIVERY,
        f"{cdn.name}-delivery",
        {
            "deliverySourceName": cdn.name,
            "deliveryDestinationArn": "arn:dest",
            "region": "us-east-1",
        },
        links={"deliverySourceName": [source]},
    )
    return [source, delivery]


def _served(cdn: ResourceRecord, *extra: ResourceRecord) -> list[ResourceRecord]:
    """A provider, the declared web ACL and `cdn`, with v2 logging where its type needs it."""
    logs = _v2_logged(cdn) if cdn.type == MULTITENANT_DISTRIBUTION else []
    return [DEFAULT_PROVIDER, *WAF, *extra, cdn, *logs]


@pytest.mark.parametrize(
    ("records", "blocked"),
    [
        pytest.param(
            _served(distribution(webAclId=OTHER_ACL_ARN)), [WAF_IN_STACK], id="literal-arn"
        ),
        pytest.param(
            _served(multitenant_distribution(webAclId=OTHER_ACL_ARN)),
            [WAF_IN_STACK],
            id="multitenant-literal-arn",
        ),
        pytest.param(
            _served(
                _linked(distribution(webAclId=CLASSIC_ACL.id), "webAclId", CLASSIC_ACL), CLASSIC_ACL
            ),
            [WAF_IN_STACK],
            id="waf-classic-id",
        ),
        pytest.param(
            _served(
                _linked(distribution(webAclId=OTHER_ACL_ARN, comment=ACL_ARN), "comment", WAF[0])
            ),
            [WAF_IN_STACK],
            id="literal-beside-a-link-from-another-input",
        ),
        pytest.param(
            _served(_linked(distribution(webAclId=OTHER_ACL_ARN), "webAclId", WAF[0])),
            [WAF_IN_STACK],
            id="linked-acl-has-another-arn",
        ),
        pytest.param(_served(distribution()), [], id="declared-acl"),
        pytest.param(_served(multitenant_distribution()), [], id="multitenant-declared-acl"),
        pytest.param(
            [
                DEFAULT_PROVIDER,
                *_declared_waf(arn=None),
                _linked(distribution(webAclId=OTHER_ACL_ARN), "webAclId", WAF[0]),
            ],
            [],
            id="linked-acl-without-arn-output",
        ),
    ],
)
def test_web_acl_is_held_to_the_stack(
    judge: Judge, records: list[ResourceRecord], blocked: list[str]
) -> None:
    found = judge(records)

    assert policies(found) == blocked, explain(records[-1].urn, found)


@pytest.mark.parametrize(
    ("sources", "mandatory", "advisory"),
    [
        pytest.param([WAF[0]], [], False, id="linked-to-declared-acl"),
        pytest.param([], [], True, id="unlinked"),
        pytest.param([CLASSIC_ACL], [WAF_IN_STACK], False, id="linked-to-waf-classic"),
    ],
)
def test_unknown_web_acl_at_preview(
    preview_pack: PolicyPack, sources: list[ResourceRecord], mandatory: list[str], advisory: bool
) -> None:
    acl, logs, logging = WAF
    acl = dataclasses.replace(acl, outputs={**acl.outputs, "arn": UNKNOWN})
    cdn = _linked(distribution(webAclId=UNKNOWN), "webAclId", *sources)

    found = preview_pack.check([DEFAULT_PROVIDER, acl, logs, logging, CLASSIC_ACL, cdn])

    assert policies(found) == mandatory, explain(cdn.urn, found)
    assert (WAF_IN_STACK in policies(found, "advisory")) == advisory, explain(cdn.urn, found)


# --- distribution tenants --------------------------------------------------------------------

TENANT = "aws:cloudfront/distributionTenant:DistributionTenant"
TENANT_CDN = multitenant_distribution()


def _tenant(customizations: Any = None, *acls: ResourceRecord) -> ResourceRecord:
    """A tenant of TENANT_CDN; `customizations` left out when None, built from `acls`."""
    props: dict[str, Any] = {
        "distributionId": TENANT_CDN.id,
        "domains": [{"domain": "tenant.example.eu"}],
        "enabled": True,
    }
    if customizations is not None:
        props["customizations"] = customizations
    links = {"distributionId": [TENANT_CDN], **({"customizations": list(acls)} if acls else {})}
    return resource(TENANT, "tenant", props, links=links)


SECOND_WAF = _declared_waf("tenant-waf", "arn:aws:wafv2:us-east-1:111122223333:global/webacl/t/2")


@pytest.mark.parametrize(
    ("record", "blocked"),
    [
        pytest.param(
            _tenant(
                {"geoRestriction": {"restrictionType": "none"}, "webAcl": {"action": "disable"}}
            ),
            [WAF_ATTACHED, GEO],
            id="waf-disabled-and-geo-none",
        ),
        pytest.param(
            _tenant({"webAcl": {"action": "override", "arn": OTHER_ACL_ARN}}),
            [WAF_IN_STACK],
            id="override-with-acl-not-in-stack",
        ),
        pytest.param(
            _tenant({"webAcl": {"action": "override"}}), [WAF_ATTACHED], id="override-no-arn"
        ),
        pytest.param(
            _tenant(
                {"geoRestriction": {"restrictionType": "whitelist", "locations": ["DE", "GB"]}}
            ),
            [GEO],
            id="geo-gb-added",
        ),
        pytest.param(
            _tenant({"geoRestriction": {"restrictionType": "blacklist", "locations": ["RU"]}}),
            [GEO],
            id="geo-blacklist",
        ),
        pytest.param(
            _tenant({"geoRestriction": {"restrictionType": "whitelist"}}), [GEO], id="geo-empty"
        ),
        pytest.param(_tenant(), [], id="no-customizations"),
        pytest.param(
            _tenant({"webAcl": {"action": "override", "arn": SECOND_WAF[0].outputs["arn"]}}),
            [],
            id="override-with-declared-acl",
        ),
        pytest.param(
            _tenant(
                {"geoRestriction": {"restrictionType": "whitelist", "locations": ["DE", "FR"]}}
            ),
            [],
            id="geo-eu-subset",
        ),
    ],
)
def test_tenant_customization_keeps_both_fences(
    judge: Judge, record: ResourceRecord, blocked: list[str]
) -> None:
    records = [*_served(TENANT_CDN, *SECOND_WAF), record]

    found = judge(records)

    assert policies(found) == sorted(blocked), explain(record.urn, found)
    assert {v.urn for v in found} <= {record.urn}, explain(record.urn, found)


def test_configured_countries_hold_tenants_too(pack: PolicyPack) -> None:
    record = _tenant({"geoRestriction": {"restrictionType": "whitelist", "locations": ["FR"]}})
    pack.configure({GEO: {"allowedCountries": ["DE", "AT"]}})

    found = pack.analyze(record)

    assert policies(found) == [GEO], explain(record.urn, found)
    assert "FR" in found[0].message


def test_tenant_override_not_known_at_preview_is_not_blocked(preview_pack: PolicyPack) -> None:
    acl, logs, logging = SECOND_WAF
    acl = dataclasses.replace(acl, outputs={**acl.outputs, "arn": UNKNOWN})
    record = _tenant({"webAcl": {"action": "override", "arn": UNKNOWN}}, acl)

    found = preview_pack.check([*_served(TENANT_CDN, acl, logs, logging), record])

    assert policies(found) == [], explain(record.urn, found)
    assert WAF_IN_STACK not in policies(found, "advisory"), explain(record.urn, found)
