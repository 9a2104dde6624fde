"""EdgeIngress under the mocks: only CloudFront reaches the ALB, and only through WAF and TLS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from components.controllers import TARGET_GROUP_TAG
from components.edge import (
    ALB_TLS_POLICY,
    API_TARGET_PORT,
    MANAGED_RULE_GROUPS,
    RATE_LIMIT_RULE,
    RATE_LIMIT_WINDOW_SECONDS,
)
from components.settings import EdgeSettings, StackSettings
from tests.components.edge_ingress_run import CLUSTER, COMPONENT, FIXTURE, NAME, build
from tests.conftest import ComponentRunner, of_type, one
from tools.mocks import (
    MANAGED_CACHE_POLICIES,
    MANAGED_ORIGIN_REQUEST_POLICIES,
    ORIGIN_FACING_PREFIX_LISTS,
)
from tools.offline import ProgramRun
from tools.records import PROVIDER_PREFIX, STACK_TYPE, ResourceRecord

EXPECTED_GROUPS = {
    "AWSManagedRulesAmazonIpReputationList": [],
    "AWSManagedRulesAnonymousIpList": ["HostingProviderIPList"],
    "AWSManagedRulesCommonRuleSet": ["SizeRestrictions_BODY"],
    "AWSManagedRulesKnownBadInputsRuleSet": [],
    "AWSManagedRulesSQLiRuleSet": [],
    "AWSManagedRulesLinuxRuleSet": [],
    "AWSManagedRulesUnixRuleSet": [],
}
# Every regional resource in the stack's region; these only in CloudFront's us-east-1.
US_EAST_1 = {
    "aws:wafv2/webAcl:WebAcl",
    "aws:wafv2/ipSet:IpSet",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
}


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def distribution(run: ProgramRun) -> dict[str, Any]:
    return one(run, "aws:cloudfront/distribution:Distribution").inputs


def test_every_child_is_named_after_and_parented_by_the_component(run: ProgramRun) -> None:
    component = one(run, COMPONENT)
    children = [
        r
        for r in run.resources
        if r.type not in {STACK_TYPE, COMPONENT}
        and not r.name.startswith(f"{FIXTURE}-")
        and not (r.type.startswith(PROVIDER_PREFIX) and r.name.startswith("default"))
    ]

    assert len(children) == 32, [r.urn for r in children]
    for child in children:
        assert child.name.startswith(f"{NAME}-"), f"{child.urn} is not named {NAME}-<role>"
        assert child.parent == component.urn, f"{child.urn} is not a child of {component.urn}"


def test_alb_is_internal_in_the_private_subnets_and_hardened(
    run: ProgramRun, settings: StackSettings
) -> None:
    alb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    group = one(run, "aws:ec2/securityGroup:SecurityGroup")
    private = [r.id for r in sorted(of_type(run, "aws:ec2/subnet:Subnet"), key=lambda r: r.name)]

    assert alb.inputs["internal"] is True, alb.urn
    assert alb.inputs["loadBalancerType"] == "application", alb.urn
    assert alb.inputs["subnets"] == private, alb.urn
    assert alb.inputs["securityGroups"] == [group.id], alb.urn
    assert alb.inputs["dropInvalidHeaderFields"] is True, alb.urn
    assert alb.inputs["desyncMitigationMode"] in {"strictest", "defensive"}, alb.urn
    assert alb.inputs["idleTimeout"] > settings.workers.longest_task_seconds, alb.urn
    assert alb.inputs["enableDeletionProtection"] is settings.edge.deletion_protection, alb.urn


@pytest.mark.parametrize("stack", ["prod"], indirect=True)
def test_alb_deletion_protection_is_on_in_prod(run: ProgramRun) -> None:
    alb = one(run, "aws:lb/loadBalancer:LoadBalancer")

    assert alb.inputs["enableDeletionProtection"] is True, alb.urn


def test_alb_admits_only_cloudfront_on_443(run: ProgramRun, settings: StackSettings) -> None:
    group = one(run, "aws:ec2/securityGroup:SecurityGroup")
    ingress = of_type(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")

    assert "ingress" not in group.inputs, f"{group.urn} has inline ingress rules"
    assert "egress" not in group.inputs, f"{group.urn} has inline egress rules"
    assert not of_type(run, "aws:ec2/securityGroupRule:SecurityGroupRule")
    assert len(ingress) == 1, [r.urn for r in ingress]
    (rule,) = ingress
    assert rule.inputs["securityGroupId"] == group.id, rule.urn
    assert rule.inputs["prefixListId"] == ORIGIN_FACING_PREFIX_LISTS[settings.region], rule.urn
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    ), rule.urn
    assert not {"cidrIpv4", "cidrIpv6", "referencedSecurityGroupId"} & set(rule.inputs), rule.urn


def test_alb_reaches_only_the_api_port_inside_the_vpc(
    run: ProgramRun, settings: StackSettings
) -> None:
    group = one(run, "aws:ec2/securityGroup:SecurityGroup")
    (rule,) = of_type(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")

    assert rule.inputs["securityGroupId"] == group.id, rule.urn
    assert rule.inputs["cidrIpv4"] == settings.network.vpc_cidr, rule.urn
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        API_TARGET_PORT,
        API_TARGET_PORT,
    ), rule.urn


def test_target_group_takes_pod_ips_with_a_health_check(run: ProgramRun) -> None:
    group = one(run, "aws:lb/targetGroup:TargetGroup")

    assert group.inputs["targetType"] == "ip", group.urn
    assert group.inputs["port"] == API_TARGET_PORT, group.urn
    assert group.inputs["vpcId"] == one(run, "aws:ec2/vpc:Vpc").id, group.urn
    assert group.inputs["healthCheck"]["enabled"] is True, group.urn
    assert group.inputs["healthCheck"]["port"] == "traffic-port", group.urn


def test_listener_is_https_with_tls13_and_the_origin_certificate(
    run: ProgramRun, settings: StackSettings
) -> None:
    listener = one(run, "aws:lb/listener:Listener")
    certificate = one(run, "aws:acm/certificate:Certificate", f"{NAME}-origin-cert")
    (action,) = listener.inputs["defaultActions"]

    assert listener.inputs["protocol"] == "HTTPS", listener.urn
    assert listener.inputs["port"] == 443, listener.urn
    assert listener.inputs["sslPolicy"] == ALB_TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listener.inputs["certificateArn"] == certificate.outputs["arn"], listener.urn
    assert (
        listener.inputs["loadBalancerArn"]
        == one(run, "aws:lb/loadBalancer:LoadBalancer").outputs["arn"]
    )
    assert action == {
        "type": "forward",
        "targetGroupArn": one(run, "aws:lb/targetGroup:TargetGroup").outputs["arn"],
    }, listener.urn
    assert certificate.inputs["domainName"] == settings.edge.origin_hostname, certificate.urn
    assert certificate.inputs["validationMethod"] == "DNS", certificate.urn
    assert "region" not in certificate.inputs, f"{certificate.urn} must stay in the ALB's region"


def test_vpc_origin_points_at_the_alb_over_https_and_waits_long(run: ProgramRun) -> None:
    origin = one(run, "aws:cloudfront/vpcOrigin:VpcOrigin")
    alb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    config = origin.inputs["vpcOriginEndpointConfig"]

    assert config["arn"] == alb.outputs["arn"], origin.urn
    assert config["originProtocolPolicy"] == "https-only", origin.urn
    assert config["originSslProtocols"] == {"items": ["TLSv1.2"], "quantity": 1}, origin.urn
    assert alb.urn in origin.dependencies, f"{origin.urn} must wait for the ALB"
    assert origin.custom_timeouts == {"create": "30m", "update": "30m", "delete": "30m"}


def test_distribution_has_the_vpc_origin_as_its_only_origin(
    run: ProgramRun, settings: StackSettings
) -> None:
    inputs = distribution(run)
    origin_id = one(run, "aws:cloudfront/vpcOrigin:VpcOrigin").id
    (origin,) = inputs["origins"]

    assert origin["vpcOriginConfig"]["vpcOriginId"] == origin_id
    assert origin["domainName"] == settings.edge.origin_hostname
    assert "customOriginConfig" not in origin
    assert "s3OriginConfig" not in origin
    assert origin["vpcOriginConfig"]["originReadTimeout"] > settings.workers.longest_task_seconds
    assert inputs["defaultCacheBehavior"]["targetOriginId"] == origin["originId"]
    assert "orderedCacheBehaviors" not in inputs


def test_distribution_behaviour_passes_every_method_uncached_over_https(run: ProgramRun) -> None:
    behaviour = distribution(run)["defaultCacheBehavior"]

    assert behaviour["viewerProtocolPolicy"] == "https-only"
    assert set(behaviour["allowedMethods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "POST",
        "PATCH",
        "DELETE",
    }
    assert behaviour["cachePolicyId"] == MANAGED_CACHE_POLICIES["Managed-CachingDisabled"]
    assert (
        behaviour["originRequestPolicyId"]
        == MANAGED_ORIGIN_REQUEST_POLICIES["Managed-AllViewerExceptHostHeader"]
    )


def test_distribution_serves_only_eu_viewers_with_modern_tls_behind_waf(
    run: ProgramRun, settings: StackSettings
) -> None:
    inputs = distribution(run)
    certificate = one(run, "aws:acm/certificate:Certificate", f"{NAME}-viewer-cert")

    assert inputs["restrictions"]["geoRestriction"] == {
        "restrictionType": "whitelist",
        "locations": list(settings.edge.allowed_countries),
    }
    assert inputs["viewerCertificate"] == {
        "acmCertificateArn": certificate.outputs["arn"],
        "minimumProtocolVersion": "TLSv1.2_2021",
        "sslSupportMethod": "sni-only",
    }
    assert inputs["aliases"] == [settings.edge.public_hostname]
    assert inputs["webAclId"] == one(run, "aws:wafv2/webAcl:WebAcl").outputs["arn"]
    assert inputs["priceClass"] == "PriceClass_100"
    assert inputs["httpVersion"] == "http2and3"
    assert certificate.inputs["region"] == "us-east-1", certificate.urn
    assert certificate.outputs["arn"].startswith("arn:aws:acm:us-east-1:"), certificate.urn
    assert certificate.inputs["domainName"] == settings.edge.public_hostname, certificate.urn


def test_waf_is_global_in_us_east_1_and_allows_by_default(run: ProgramRun) -> None:
    acl = one(run, "aws:wafv2/webAcl:WebAcl")

    assert acl.inputs["scope"] == "CLOUDFRONT", acl.urn
    assert acl.inputs["region"] == "us-east-1", acl.urn
    assert acl.inputs["defaultAction"] == {"allow": {}}, acl.urn
    assert acl.inputs["visibilityConfig"]["cloudwatchMetricsEnabled"] is True, acl.urn
    assert acl.inputs["visibilityConfig"]["sampledRequestsEnabled"] is True, acl.urn


def test_waf_runs_the_seven_managed_groups_with_two_rules_counted(run: ProgramRun) -> None:
    acl = one(run, "aws:wafv2/webAcl:WebAcl")
    managed = {
        rule["name"]: rule
        for rule in acl.inputs["rules"]
        if "managedRuleGroupStatement" in rule["statement"]
    }

    assert len(MANAGED_RULE_GROUPS) == 7
    assert set(managed) == set(EXPECTED_GROUPS), acl.urn
    for name, counted in EXPECTED_GROUPS.items():
        statement = managed[name]["statement"]["managedRuleGroupStatement"]
        overrides = statement.get("ruleActionOverrides", [])
        assert statement["vendorName"] == "AWS", name
        assert managed[name]["overrideAction"] == {"none": {}}, f"{name} must block, not count"
        assert [o["name"] for o in overrides] == counted, name
        assert all(o["actionToUse"] == {"count": {}} for o in overrides), name
        assert managed[name]["visibilityConfig"]["cloudwatchMetricsEnabled"] is True, name


def test_waf_rate_limits_per_ip_at_the_settings_limit(
    run: ProgramRun, settings: StackSettings
) -> None:
    acl = one(run, "aws:wafv2/webAcl:WebAcl")
    (rule,) = [r for r in acl.inputs["rules"] if r["name"] == RATE_LIMIT_RULE]
    priorities = [r["priority"] for r in acl.inputs["rules"]]

    assert rule["action"] == {"block": {}}, acl.urn
    assert rule["statement"]["rateBasedStatement"]["limit"] == settings.edge.waf_rate_limit
    assert rule["statement"]["rateBasedStatement"]["aggregateKeyType"] == "IP"
    assert len(set(priorities)) == len(priorities) == 8, f"{acl.urn}: priorities must be unique"


def test_component_outputs_name_the_resources(run: ProgramRun) -> None:
    outputs = json.dumps([r.outputs for r in run.resources])

    for token in (
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:wafv2/webAcl:WebAcl",
    ):
        assert one(run, token).outputs["arn"] in outputs


def test_target_group_is_tagged_for_the_clusters_controller_only(run: ProgramRun) -> None:
    group = one(run, "aws:lb/targetGroup:TargetGroup")

    assert group.inputs["tags"] == {TARGET_GROUP_TAG: CLUSTER}, group.urn


def test_timeouts_exceed_the_longest_call_and_nest_inside_each_other(
    run: ProgramRun, settings: StackSettings
) -> None:
    (origin,) = distribution(run)["origins"]
    config = origin["vpcOriginConfig"]
    alb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    longest = settings.workers.longest_task_seconds

    assert config["originReadTimeout"] == settings.edge.origin_read_timeout_seconds
    assert longest < config["originReadTimeout"] <= settings.edge.cloudfront_timeout_limit
    assert longest < config["originKeepaliveTimeout"] < alb.inputs["idleTimeout"]
    assert config["originReadTimeout"] < alb.inputs["idleTimeout"], alb.urn


def test_only_cloudfronts_own_resources_leave_the_stack_region(
    run: ProgramRun, settings: StackSettings
) -> None:
    children = [r for r in run.resources if r.parent == one(run, COMPONENT).urn]
    viewer = {f"{NAME}-viewer-cert", f"{NAME}-viewer-cert-validated"}

    for child in children:
        region = child.outputs.get("region")
        if child.type in US_EAST_1 or child.name in viewer:
            assert region == "us-east-1", child.urn
        elif region is not None:
            assert region == settings.region, f"{child.urn} leaves {settings.region}"


WEB_ACL = "aws:wafv2/webAcl:WebAcl"
IP_SET = "aws:wafv2/ipSet:IpSet"
IPV4_SET, IPV6_SET = f"{NAME}-load-generators-ipv4", f"{NAME}-load-generators-ipv6"
V4 = ("52.28.10.7/32", "3.120.181.0/24")
V6 = ("2a05:d014:1:2::/64",)
# Load generators' networks as a stack file may list them, and the IP sets each must give.
LOAD_GENERATORS = [
    pytest.param(V4, {IPV4_SET: ("IPV4", V4)}, id="v4-only"),
    pytest.param(V6, {IPV6_SET: ("IPV6", V6)}, id="v6-only"),
    pytest.param(
        (V4[0], V6[0], V4[1]), {IPV4_SET: ("IPV4", V4), IPV6_SET: ("IPV6", V6)}, id="both"
    ),
]


def with_load_generators(settings: StackSettings, cidrs: Sequence[str]) -> StackSettings:
    """`settings` whose edge lists `cidrs`, validated as a stack file's would be."""
    edge = EdgeSettings.model_validate({**settings.edge.model_dump(), "load_test_cidrs": cidrs})
    return settings.model_copy(update={"edge": edge})


def rate_limit(run: ProgramRun) -> dict[str, Any]:
    (rule,) = [r for r in one(run, WEB_ACL).inputs["rules"] if r["name"] == RATE_LIMIT_RULE]
    return rule


def not_from(ip_set: ResourceRecord) -> dict[str, Any]:
    return {
        "notStatement": {"statement": {"ipSetReferenceStatement": {"arn": ip_set.outputs["arn"]}}}
    }


def test_without_load_generators_the_rate_limit_counts_everyone(
    run: ProgramRun, settings: StackSettings
) -> None:
    assert of_type(run, IP_SET) == [], "no IP set while edge.loadTestCidrs is empty"
    assert rate_limit(run)["statement"] == {
        "rateBasedStatement": {
            "limit": settings.edge.waf_rate_limit,
            "aggregateKeyType": "IP",
            "evaluationWindowSec": RATE_LIMIT_WINDOW_SECONDS,
        }
    }, "no scope-down statement while edge.loadTestCidrs is empty"


@pytest.mark.parametrize("stack", ["staging"], indirect=True)
@pytest.mark.parametrize(("cidrs", "expected"), LOAD_GENERATORS)
def test_load_generators_get_an_ip_set_per_ip_version_in_us_east_1(
    run_component: ComponentRunner,
    settings: StackSettings,
    cidrs: Sequence[str],
    expected: dict[str, tuple[str, Sequence[str]]],
) -> None:
    run = run_component(build(with_load_generators(settings, cidrs)))
    component = one(run, COMPONENT)
    ip_sets = {r.name: r for r in of_type(run, IP_SET)}

    assert set(ip_sets) == set(expected), [r.urn for r in ip_sets.values()]
    for name, (version, addresses) in expected.items():
        ip_set = ip_sets[name]
        assert ip_set.inputs["scope"] == "CLOUDFRONT", ip_set.urn
        assert ip_set.inputs["region"] == "us-east-1", f"{ip_set.urn}: beside its web ACL"
        assert ip_set.inputs["ipAddressVersion"] == version, ip_set.urn
        assert sorted(ip_set.inputs["addresses"]) == sorted(addresses), ip_set.urn
        assert ip_set.parent == component.urn, f"{ip_set.urn} is not a child of the component"


@pytest.mark.parametrize("stack", ["staging"], indirect=True)
@pytest.mark.parametrize(("cidrs", "expected"), LOAD_GENERATORS)
def test_rate_limit_does_not_count_load_generators(
    run_component: ComponentRunner,
    settings: StackSettings,
    cidrs: Sequence[str],
    expected: dict[str, tuple[str, Sequence[str]]],
) -> None:
    run = run_component(build(with_load_generators(settings, cidrs)))
    exempt = [not_from(one(run, IP_SET, name)) for name in sorted(expected)]
    statement = rate_limit(run)["statement"]["rateBasedStatement"]

    assert statement["limit"] == settings.edge.waf_rate_limit
    assert statement["aggregateKeyType"] == "IP"
    if len(exempt) == 1:
        assert statement["scopeDownStatement"] == exempt[0]
    else:
        # Counted only when from neither set; NOT v4 OR NOT v6 would hold for every request.
        assert statement["scopeDownStatement"] == {"andStatement": {"statements": exempt}}


@pytest.mark.parametrize("stack", ["staging"], indirect=True)
def test_load_generators_still_meet_every_other_rule_and_the_geo_fence(
    run_component: ComponentRunner, settings: StackSettings
) -> None:
    loaded = with_load_generators(settings, (*V4, *V6))
    run = run_component(build(loaded))
    acl = one(run, WEB_ACL)
    others = [r for r in acl.inputs["rules"] if r["name"] != RATE_LIMIT_RULE]
    arns = [r.outputs["arn"] for r in of_type(run, IP_SET)]

    assert rate_limit(run)["action"] == {"block": {}}, acl.urn
    assert {r["name"] for r in others} == set(EXPECTED_GROUPS), acl.urn
    assert all(r["overrideAction"] == {"none": {}} for r in others), acl.urn
    assert not [arn for arn in arns if arn in json.dumps(others)], "an IP set exempts more"
    assert acl.inputs["defaultAction"] == {"allow": {}}, acl.urn
    assert distribution(run)["restrictions"]["geoRestriction"] == {
        "restrictionType": "whitelist",
        "locations": list(settings.edge.allowed_countries),
    }
