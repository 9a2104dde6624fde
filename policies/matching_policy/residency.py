"""Residency: every regional AWS resource lives in an EU region.

A resource's region is its own `region` input (pulumi-aws 7) or else its provider's. London
(eu-west-2) is in Europe but not in the EU, so it is not a default. CloudFront is a global service
run from us-east-1 and accepts some of its parts only there; those types, and only those, may be
in us-east-1. Its access logs (logging v2) are one: their delivery source, destination and
delivery must be created in us-east-1, though the S3 bucket a destination names may be in the EU
(that bucket is judged like any other). A resource whose region nobody pins takes the region of
whoever runs the update, so it is reported too.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, texts

# EU member states only: Zurich (eu-central-2) and London (eu-west-2) are in Europe, not the EU.
EU_REGIONS = [
    "eu-central-1",
    "eu-west-1",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
]
CLOUDFRONT_REGION = "us-east-1"
# What CloudFront needs in us-east-1, and why each one can live nowhere else.
CLOUDFRONT_PARTS = {
    "aws:wafv2/webAcl:WebAcl": "a web ACL of scope CLOUDFRONT exists only in us-east-1",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "lives with its web ACL",
    "aws:wafv2/ipSet:IpSet": "a CLOUDFRONT web ACL references IP sets of its own scope only",
    "aws:cloudwatch/logGroup:LogGroup": "WAF logs only to a log group in the web ACL's region",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "lets WAF write to that log group",
    "aws:acm/certificate:Certificate": "CloudFront takes viewer certificates from us-east-1 only",
    "aws:acm/certificateValidation:CertificateValidation": "waits on that certificate",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "CloudFront publishes its metrics in us-east-1 only",
    "aws:sns/topic:Topic": "an alarm notifies a topic of its own region only",
    "aws:sns/topicPolicy:TopicPolicy": "lets CloudWatch publish to that topic",
    "aws:sns/topicSubscription:TopicSubscription": "lives with its topic",
    "aws:kms/key:Key": "a topic's key must be in the topic's region",
    "aws:kms/alias:Alias": "lives with its key",
    "aws:wafv2/ruleGroup:RuleGroup": "a CLOUDFRONT web ACL references rule groups of its own scope",
    # AWS takes every CloudWatch Logs call that sets up CloudFront's access logs (logging v2) in
    # us-east-1, even for cross-Region delivery: the S3 bucket a destination names may be in the EU.
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "CloudFront's access logs (logging v2) "
    "are set up through CloudWatch Logs in us-east-1 only",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "set up in us-east-1 with "
    "CloudFront's delivery source (the bucket it names may be elsewhere)",
    "aws:cloudwatch/logDelivery:LogDelivery": "pairs that source and destination, in us-east-1 too",
}
# Services with no region: their resources are global whatever the provider says.
GLOBAL_MODULES = frozenset({"iam", "route53", "cloudfront", "budgets", "organizations"})

EU_REGION_EXAMPLE = 'aws.sqs.Queue("jobs", region="eu-west-2")  # London: not in the EU'


def _module(token: str) -> str:
    return token.split(":")[1].split("/", maxsplit=1)[0] if token.count(":") == 2 else ""


def _region(args: ResourceValidationArgs) -> Any:
    """The resource's own region, else its provider's; None when neither sets one."""
    own = get(args.props, "region")
    if own is not None or args.provider is None:
        return own
    return get(args.provider.props, "region")


def _check_region(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith("aws:") or _module(args.resource_type) in GLOBAL_MODULES:
        return

    config = args.get_config()
    allowed = texts(config.get("allowedRegions")) or EU_REGIONS
    listed = config.get("usEast1Types")
    us_east_1 = list(CLOUDFRONT_PARTS) if listed is None else texts(listed)
    region = _region(args)
    if region in allowed:
        return
    if region == CLOUDFRONT_REGION and args.resource_type in us_east_1:
        return

    subject = f"'{args.name}' ({args.urn})"
    if region is None:
        report(f"{subject} pins no region: it lands wherever the deployer's AWS_REGION says", None)
    else:
        report(f"{subject} is in {region}, outside the allowed regions {' '.join(allowed)}", None)


EU_REGIONS_ONLY = ResourceValidationPolicy(
    name="eu-regions-only",
    description="Every regional AWS resource is in an allowed EU region; only the parts CloudFront "
    "accepts nowhere else may be in us-east-1.",
    validate=_check_region,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedRegions": {
                "description": "Regions resources may be in: EU member states only (eu-west-2 "
                "is London, outside the EU).",
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": EU_REGIONS},
                "default": EU_REGIONS,
            },
            "usEast1Types": {
                "description": "Types allowed in us-east-1 because CloudFront takes them only "
                "there: its WAF and WAF logs, its viewer certificate, its access-log delivery "
                "(logging v2), and the alarm on its metrics with the topic and key it notifies "
                "through (reasons: CLOUDFRONT_PARTS).",
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "string", "enum": list(CLOUDFRONT_PARTS)},
                "default": list(CLOUDFRONT_PARTS),
            },
        }
    ),
)

POLICIES = [EU_REGIONS_ONLY]
