"""The way in: CloudFront with WAF in front of an internal ALB that it reaches as a VPC origin.

Nothing on the internet can reach the ALB itself: it sits in private subnets, and its security
group admits only CloudFront's origin-facing addresses. Viewers must use HTTPS, come from an
allowed country and pass the WAF before CloudFront forwards anything to the origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.controllers import TARGET_GROUP_TAG
from components.edge_dns import alias_records, hosted_zone_id, validated_certificate
from components.edge_logs import (
    ALB_LOG_PREFIX,
    CLOUDFRONT_LOG_PREFIX,
    LogBucket,
    alb_log_bucket,
    cloudfront_log_bucket,
    waf_logging,
)
from components.owner import Owner
from components.settings import EdgeSettings

# Residency: every resource here lives in the stack's EU region except what CloudFront, a global
# service run from us-east-1, accepts only there: the web ACL of scope CLOUDFRONT (with the log
# group WAF writes it to) and the viewer certificate (with its validation).
CLOUDFRONT_REGION = "us-east-1"

CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
CACHING_DISABLED = "Managed-CachingDisabled"
# Viewer headers reach the API, but not Host: the ALB's certificate names the origin hostname.
ALL_VIEWER_EXCEPT_HOST = "Managed-AllViewerExceptHostHeader"
# Adds HSTS (one year), nosniff, frame denial and a strict referrer policy to every response.
SECURITY_HEADERS = "Managed-SecurityHeadersPolicy"

ALB_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
VIEWER_TLS_POLICY = "TLSv1.2_2021"
HTTPS_PORT = 443

# The ALB forwards plain HTTP to the API pods. ALBs never validate a target's certificate, so
# TLS on this hop would add no authentication; the hop stays inside private subnets, and the
# ALB's only egress is this port into the VPC. The API container serves this port and path.
API_TARGET_PORT = 8080
API_HEALTH_PATH = "/readyz"

# The ALB waits this much longer than CloudFront, so it never closes a connection CloudFront may
# still reuse, nor cuts short a call CloudFront still waits for.
TIMEOUT_MARGIN_SECONDS = 30
# A VPC origin takes up to ~15 minutes to deploy or delete; twice that before giving up.
VPC_ORIGIN_TIMEOUT = "30m"


ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]

# AWS managed rule groups that suit a JSON B2B API (1,475 WCU, inside the base 1,500), each with
# the rules it only counts. Bot Control, ATP and ACFP are left out: they cost extra per request.
MANAGED_RULE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    # B2B clients often call from cloud hosts, which this rule would block outright.
    ("AWSManagedRulesAnonymousIpList", ("HostingProviderIPList",)),
    # This rule blocks any body over 8 KB; medical records are larger.
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("AWSManagedRulesSQLiRuleSet", ()),
    ("AWSManagedRulesLinuxRuleSet", ()),
    ("AWSManagedRulesUnixRuleSet", ()),
)
RATE_LIMIT_RULE = "RateLimitPerIp"
RATE_LIMIT_WINDOW_SECONDS = 300
# The IP sets of the load generators' networks (edge.loadTestCidrs), one per IP version, since a
# WAF IP set holds one version only.
LOAD_GENERATORS = "load-generators"

RateScopeDown = aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgsDict


@dataclass(frozen=True)
class EdgeIngressArgs:
    settings: EdgeSettings
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    # The cluster whose Load Balancer Controller may register pods in the target group.
    cluster_name: pulumi.Input[str]


class EdgeIngress(pulumi.ComponentResource):
    """Internal ALB, CloudFront VPC origin and distribution, WAF, and their certificates."""

    target_group_arn: pulumi.Output[str]
    alb_arn: pulumi.Output[str]
    alb_dns_name: pulumi.Output[str]
    alb_security_group_id: pulumi.Output[str]
    distribution_id: pulumi.Output[str]
    distribution_domain_name: pulumi.Output[str]
    web_acl_arn: pulumi.Output[str]
    origin_certificate_arn: pulumi.Output[str]
    viewer_certificate_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: EdgeIngressArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:EdgeIngress", name, None, opts)
        self._name = name
        self._args = args
        self._owner = Owner(name, self)
        settings = args.settings
        zone_id = hosted_zone_id(self._owner, settings.hosted_zone)
        origin_certificate = validated_certificate(
            self._owner, "origin-cert", settings.origin_hostname, zone_id
        )
        viewer_certificate = validated_certificate(
            self._owner, "viewer-cert", settings.public_hostname, zone_id, CLOUDFRONT_REGION
        )

        security_group = self._alb_security_group()
        access_logs = alb_log_bucket(
            self._owner, args.region, settings.log_retention_days, settings.deletion_protection
        )
        alb = self._load_balancer(security_group, access_logs)
        target_group = self._target_group()
        listener = self._https_listener(alb, target_group, origin_certificate)

        web_acl = self._web_acl()
        waf_logging(self._owner, web_acl, CLOUDFRONT_REGION, settings.log_retention_days)
        vpc_origin = self._vpc_origin(alb, listener)
        viewer_logs = cloudfront_log_bucket(
            self._owner, settings.log_retention_days, settings.deletion_protection
        )
        distribution = self._distribution(vpc_origin, web_acl, viewer_certificate, viewer_logs)
        alias_records(self._owner, settings.public_hostname, zone_id, distribution)

        self.target_group_arn = target_group.arn
        self.alb_arn = alb.arn
        self.alb_dns_name = alb.dns_name
        self.alb_security_group_id = security_group.id
        self.distribution_id = distribution.id
        self.distribution_domain_name = distribution.domain_name
        self.web_acl_arn = web_acl.arn
        self.origin_certificate_arn = origin_certificate.certificate_arn
        self.viewer_certificate_arn = viewer_certificate.certificate_arn

        self.register_outputs(
            {
                "target_group_arn": self.target_group_arn,
                "alb_arn": self.alb_arn,
                "alb_dns_name": self.alb_dns_name,
                "alb_security_group_id": self.alb_security_group_id,
                "distribution_id": self.distribution_id,
                "distribution_domain_name": self.distribution_domain_name,
                "web_acl_arn": self.web_acl_arn,
                "origin_certificate_arn": self.origin_certificate_arn,
                "viewer_certificate_arn": self.viewer_certificate_arn,
            }
        )

    @property
    def _read_timeout(self) -> int:
        """How long CloudFront waits for the origin; settings hold it above the longest call."""
        return self._args.settings.origin_read_timeout_seconds

    @property
    def _idle_timeout(self) -> int:
        return self._read_timeout + TIMEOUT_MARGIN_SECONDS

    def _alb_security_group(self) -> aws.ec2.SecurityGroup:
        """Admits CloudFront on 443 only, and reaches only the API port inside the VPC."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        origin_facing = aws.ec2.get_managed_prefix_list_output(
            name=CLOUDFRONT_ORIGIN_FACING, region=self._args.region, opts=invoke
        )
        vpc = aws.ec2.get_vpc_output(id=self._args.vpc_id, opts=invoke)

        # No inline rules: separate rule resources are the only ones, so nothing is overwritten
        # and a policy sees each rule on its own.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-alb-sg",
            description="Internal ALB: CloudFront origin-facing HTTPS in, API pods out",
            vpc_id=self._args.vpc_id,
            opts=self._owner.child(),
        )
        # The origin-facing list counts as ~55 rules against the quota of 60 inbound rules per
        # security group: one port is all it can carry.
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-alb-from-cloudfront",
            security_group_id=group.id,
            description="HTTPS from CloudFront origin-facing servers only",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            prefix_list_id=origin_facing.id,
            opts=self._owner.child(),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-alb-to-pods",
            security_group_id=group.id,
            description="API pods and their health checks inside the VPC",
            ip_protocol="tcp",
            from_port=API_TARGET_PORT,
            to_port=API_TARGET_PORT,
            cidr_ipv4=vpc.cidr_block,
            opts=self._owner.child(),
        )
        return group

    def _load_balancer(
        self, security_group: aws.ec2.SecurityGroup, access_logs: LogBucket
    ) -> aws.lb.LoadBalancer:
        # The ALB checks that it may write to the bucket when logging is turned on, so it waits
        # for the bucket policy.
        return aws.lb.LoadBalancer(
            f"{self._name}-alb",
            internal=True,
            load_balancer_type="application",
            subnets=self._args.private_subnet_ids,
            security_groups=[security_group.id],
            drop_invalid_header_fields=True,
            # A JSON API has no reason to accept ambiguous requests: reject every one of them.
            desync_mitigation_mode="strictest",
            idle_timeout=self._idle_timeout,
            enable_http2=True,
            enable_deletion_protection=self._args.settings.deletion_protection,
            access_logs={
                "bucket": access_logs.bucket.bucket,
                "prefix": ALB_LOG_PREFIX,
                "enabled": True,
            },
            opts=self._owner.child(depends_on=access_logs.ready),
        )

    def _target_group(self) -> aws.lb.TargetGroup:
        # Pods register by IP through the Load Balancer Controller's TargetGroupBinding.
        return aws.lb.TargetGroup(
            f"{self._name}-api-tg",
            target_type="ip",
            protocol="HTTP",
            port=API_TARGET_PORT,
            vpc_id=self._args.vpc_id,
            # Lets that cluster's Load Balancer Controller register into this group, and no other.
            tags={TARGET_GROUP_TAG: self._args.cluster_name},
            # In-flight requests of a pod being removed get as long as the longest call.
            deregistration_delay=self._idle_timeout,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTP",
                port="traffic-port",
                path=API_HEALTH_PATH,
                matcher="200",
                interval=10,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=self._owner.child(),
        )

    def _https_listener(
        self,
        alb: aws.lb.LoadBalancer,
        target_group: aws.lb.TargetGroup,
        certificate: aws.acm.CertificateValidation,
    ) -> aws.lb.Listener:
        # ACM never issues for *.elb.amazonaws.com, so the ALB presents a certificate for an
        # origin hostname of ours, which CloudFront checks against the origin's domain name.
        return aws.lb.Listener(
            f"{self._name}-https",
            load_balancer_arn=alb.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy=ALB_TLS_POLICY,
            certificate_arn=certificate.certificate_arn,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
            ],
            opts=self._owner.child(),
        )

    def _web_acl(self) -> aws.wafv2.WebAcl:
        groups = [
            _managed_rule_group(group, counted, priority)
            for priority, (group, counted) in enumerate(MANAGED_RULE_GROUPS)
        ]
        rate_limit = self._rate_limit(len(groups), self._load_generators())
        return aws.wafv2.WebAcl(
            f"{self._name}-waf",
            description="Managed protections and a per-IP rate limit for the matching API",
            scope="CLOUDFRONT",
            region=CLOUDFRONT_REGION,
            default_action={"allow": {}},
            rules=[*groups, rate_limit],
            visibility_config={
                "cloudwatch_metrics_enabled": True,
                "metric_name": f"{self._name}-waf",
                "sampled_requests_enabled": True,
            },
            opts=self._owner.child(),
        )

    def _rate_limit(
        self, priority: int, exempt: Sequence[aws.wafv2.IpSet]
    ) -> aws.wafv2.WebAclRuleArgsDict:
        """Blocks an address past the limit; requests from `exempt` sets are not counted.

        A scope-down statement only narrows what this rule counts: the managed groups before it
        and the distribution's geo restriction still judge every request of a load generator.
        """
        rate: aws.wafv2.WebAclRuleStatementRateBasedStatementArgsDict = {
            "limit": self._args.settings.waf_rate_limit,
            "aggregate_key_type": "IP",
            "evaluation_window_sec": RATE_LIMIT_WINDOW_SECONDS,
        }
        if exempt:
            rate["scope_down_statement"] = _from_none_of(exempt)
        return {
            "name": RATE_LIMIT_RULE,
            "priority": priority,
            "action": {"block": {}},
            "statement": {"rate_based_statement": rate},
            "visibility_config": _visibility(RATE_LIMIT_RULE),
        }

    def _load_generators(self) -> list[aws.wafv2.IpSet]:
        """An IP set per IP version the load generators use; none while they have no addresses."""
        return [
            aws.wafv2.IpSet(
                f"{self._name}-{LOAD_GENERATORS}-ipv{version}",
                description="Load generators the per-IP rate limit does not count",
                scope="CLOUDFRONT",
                region=CLOUDFRONT_REGION,
                ip_address_version=f"IPV{version}",
                addresses=list(cidrs),
                opts=self._owner.child(),
            )
            for version, cidrs in sorted(self._args.settings.load_test_networks.items())
        ]

    def _vpc_origin(
        self, alb: aws.lb.LoadBalancer, listener: aws.lb.Listener
    ) -> aws.cloudfront.VpcOrigin:
        # The ALB must be active (and serving HTTPS) before CloudFront attaches to it. A VPC
        # origin cannot change while a distribution uses it, and its ENIs hold the private
        # subnets until it is gone.
        return aws.cloudfront.VpcOrigin(
            f"{self._name}-vpc-origin",
            vpc_origin_endpoint_config={
                "name": f"{self._name}-alb",
                "arn": alb.arn,
                "http_port": 80,
                "https_port": HTTPS_PORT,
                "origin_protocol_policy": "https-only",
                "origin_ssl_protocols": {"items": ["TLSv1.2"], "quantity": 1},
            },
            timeouts={
                "create": VPC_ORIGIN_TIMEOUT,
                "update": VPC_ORIGIN_TIMEOUT,
                "delete": VPC_ORIGIN_TIMEOUT,
            },
            opts=self._owner.child(
                depends_on=[alb, listener],
                custom_timeouts=pulumi.CustomTimeouts(
                    create=VPC_ORIGIN_TIMEOUT, update=VPC_ORIGIN_TIMEOUT, delete=VPC_ORIGIN_TIMEOUT
                ),
            ),
        )

    def _distribution(
        self,
        vpc_origin: aws.cloudfront.VpcOrigin,
        web_acl: aws.wafv2.WebAcl,
        certificate: aws.acm.CertificateValidation,
        logs: LogBucket,
    ) -> aws.cloudfront.Distribution:
        settings = self._args.settings
        invoke = pulumi.InvokeOutputOptions(parent=self)
        cache_policy = aws.cloudfront.get_cache_policy_output(name=CACHING_DISABLED, opts=invoke)
        request_policy = aws.cloudfront.get_origin_request_policy_output(
            name=ALL_VIEWER_EXCEPT_HOST, opts=invoke
        )
        headers_policy = aws.cloudfront.get_response_headers_policy_output(
            name=SECURITY_HEADERS, opts=invoke
        )
        origin_id = f"{self._name}-alb"

        return aws.cloudfront.Distribution(
            f"{self._name}-cdn",
            enabled=True,
            comment=f"{settings.public_hostname} to the internal ALB",
            aliases=[settings.public_hostname],
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class="PriceClass_100",
            web_acl_id=web_acl.arn,
            origins=[
                {
                    "origin_id": origin_id,
                    "domain_name": settings.origin_hostname,
                    "vpc_origin_config": {
                        "vpc_origin_id": vpc_origin.id,
                        "origin_read_timeout": self._read_timeout,
                        # Above the longest call too, and below the ALB's idle timeout, so
                        # CloudFront never reuses a connection the ALB is closing.
                        "origin_keepalive_timeout": self._read_timeout,
                    },
                }
            ],
            default_cache_behavior={
                "target_origin_id": origin_id,
                "viewer_protocol_policy": "https-only",
                "allowed_methods": ALL_METHODS,
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": cache_policy.apply(lambda policy: policy.id or ""),
                "origin_request_policy_id": request_policy.apply(lambda policy: policy.id or ""),
                "response_headers_policy_id": headers_policy.apply(lambda policy: policy.id or ""),
                "compress": True,
            },
            restrictions={
                "geo_restriction": {
                    "restriction_type": "whitelist",
                    "locations": list(settings.allowed_countries),
                }
            },
            viewer_certificate={
                "acm_certificate_arn": certificate.certificate_arn,
                "minimum_protocol_version": VIEWER_TLS_POLICY,
                "ssl_support_method": "sni-only",
            },
            logging_config={
                "bucket": logs.bucket.bucket_domain_name,
                "prefix": f"{CLOUDFRONT_LOG_PREFIX}/",
                "include_cookies": False,
            },
            opts=self._owner.child(depends_on=logs.ready),
        )


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric,
        "sampled_requests_enabled": True,
    }


def _from_none_of(ip_sets: Sequence[aws.wafv2.IpSet]) -> RateScopeDown:
    """Requests whose source is in none of `ip_sets`: one NOT per set, joined by an AND.

    WAF matches an IP set against the address CloudFront received the request from, never a
    forwarded header a client could forge. Its AND takes two statements or more, so a single
    set is a bare NOT. Each reference costs 1 WCU: the web ACL stays inside the 1,500 WCU its
    base price covers.
    """
    outside: list[RateScopeDown] = [
        {"not_statement": {"statement": {"ip_set_reference_statement": {"arn": ip_set.arn}}}}
        for ip_set in ip_sets
    ]
    if len(outside) == 1:
        return outside[0]
    return {"and_statement": {"statements": outside}}


def _managed_rule_group(
    group: str, counted: Sequence[str], priority: int
) -> aws.wafv2.WebAclRuleArgsDict:
    """An AWS managed rule group that blocks, except for the rules it only counts."""
    return {
        "name": group,
        "priority": priority,
        "override_action": {"none": {}},
        "statement": {
            "managed_rule_group_statement": {
                "vendor_name": "AWS",
                "name": group,
                "rule_action_overrides": [
                    {"name": rule, "action_to_use": {"count": {}}} for rule in counted
                ],
            }
        },
        "visibility_config": _visibility(group),
    }
