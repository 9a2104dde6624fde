"""The edge leaves a trail: CloudFront, the load balancer and the WAF all log every request.

A request is traced from CloudFront's `x-edge-request-id` through WAF's `requestId` to the load
balancer's `trace_id`, so each hop must log. WAF only delivers to destinations whose name starts
with `aws-waf-logs-`, and its logging is a resource of its own, so that policy reads the stack.
The web ACL itself must hold the AWS managed rule groups that suit a JSON B2B API and a rate
limit; a group whose whole action is overridden to count filters nothing, so it counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from matching_policy._guards import LOAD_BALANCERS, is_application
from matching_policy._props import (
    Verdicts,
    get,
    items,
    known_text,
    known_texts,
    label,
    linked,
    texts,
)

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
# A multitenant distribution has no legacy logging block: it logs through logging v2 only.
MULTITENANT_DISTRIBUTION = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"
DISTRIBUTIONS = frozenset({DISTRIBUTION, MULTITENANT_DISTRIBUTION})
# The log type of a CloudFront delivery source that carries one line per request.
ACCESS_LOGS = "ACCESS_LOGS"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
WAF_LOG_PREFIX = "aws-waf-logs-"
# The resources a WAF log destination can be, and the input that holds each one's name.
WAF_DESTINATIONS = {
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "name",
}
# The groups DESIGN.md picks for a JSON B2B API: 1,475 WCU, inside the base price's 1,500.
REQUIRED_RULE_GROUPS = [
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
]


# --- cloudfront-access-logs ------------------------------------------------------------------

CLOUDFRONT_LOGS_EXAMPLE = 'aws.cloudfront.Distribution("api", logging_config=None, ...)'


def _check_cloudfront_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    sources = [r for r in args.resources if r.resource_type == DELIVERY_SOURCE]
    deliveries = [r for r in args.resources if r.resource_type == DELIVERY]

    for distribution in (r for r in args.resources if r.resource_type in DISTRIBUTIONS):
        verdicts.judge(
            distribution.urn, _judge_distribution, distribution, sources, deliveries, verdicts
        )
    verdicts.close()


def _judge_distribution(
    distribution: PolicyResource,
    sources: list[PolicyResource],
    deliveries: list[PolicyResource],
    verdicts: Verdicts,
) -> None:
    # Logging v2 first: a program that uses it leaves the legacy block out on purpose.
    if any(_delivers(s, deliveries) for s in sources if _is_source_of(s, distribution)):
        return

    if distribution.resource_type == MULTITENANT_DISTRIBUTION:
        # The type has no loggingConfig input: one in its properties configures nothing.
        verdicts.violation(
            f"multitenant distribution {label(distribution)} logs no request: it logs through "
            "v2 only, and no v2 log delivery comes from it",
            distribution.urn,
        )
        return

    bucket = get(distribution.props, "loggingConfig", "bucket")
    if isinstance(bucket, str) and bucket:
        return
    verdicts.violation(
        f"distribution {label(distribution)} logs no request: no loggingConfig bucket and no "
        "v2 log delivery from it",
        distribution.urn,
    )


def _is_source_of(source: PolicyResource, distribution: PolicyResource) -> bool:
    log_type = get(source.props, "logType")
    if isinstance(log_type, str) and log_type.strip().upper() != ACCESS_LOGS:
        return False
    if distribution.urn in linked(source, "resourceArn", distribution.resource_type):
        return True
    arn = known_text(distribution.props, "arn")
    return arn is not None and get(source.props, "resourceArn") == arn


def _delivers(source: PolicyResource, deliveries: list[PolicyResource]) -> bool:
    name = known_text(source.props, "name")
    for delivery in deliveries:
        if source.urn in linked(delivery, "deliverySourceName", DELIVERY_SOURCE):
            return True
        if name is not None and get(delivery.props, "deliverySourceName") == name:
            return True
    return False


CLOUDFRONT_ACCESS_LOGS = StackValidationPolicy(
    name="cloudfront-access-logs",
    description="Every CloudFront distribution logs its requests: a loggingConfig bucket, or a "
    "CloudWatch log delivery (logging v2) of its ACCESS_LOGS; multitenant ones through v2 only.",
    validate=_check_cloudfront_logs,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- alb-access-logs -------------------------------------------------------------------------

ALB_LOGS_EXAMPLE = 'aws.lb.LoadBalancer("api", access_logs={"enabled": False, "bucket": logs.id})'


def _check_alb_logs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in LOAD_BALANCERS or not is_application(args.props):
        return

    logs = get(args.props, "accessLogs")
    bucket = get(logs, "bucket")
    if get(logs, "enabled") is True and isinstance(bucket, str) and bucket:
        return
    report(
        f"application load balancer '{args.name}' ({args.urn}) writes no access logs "
        "(accessLogs.enabled true with a bucket)",
        None,
    )


ALB_ACCESS_LOGS = ResourceValidationPolicy(
    name="alb-access-logs",
    description="Every application load balancer writes access logs to an S3 bucket.",
    validate=_check_alb_logs,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- waf-logging -----------------------------------------------------------------------------

WAF_LOGGING_EXAMPLE = """\
aws.wafv2.WebAclLoggingConfiguration("waf", resource_arn=acl.arn,
                                     log_destination_configs=[group.arn])  # group "waf-audit"
"""


def _check_waf_logging(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    configs = [r for r in args.resources if r.resource_type == WAF_LOGGING]

    for acl in (r for r in args.resources if r.resource_type == WEB_ACL):
        verdicts.judge(acl.urn, _judge_acl_logging, acl, configs, verdicts)
    verdicts.close()


def _judge_acl_logging(
    acl: PolicyResource, configs: list[PolicyResource], verdicts: Verdicts
) -> None:
    mine = [c for c in configs if _logs_acl(c, acl)]
    if not mine:
        verdicts.violation(
            f"web ACL {label(acl)} has no WebAclLoggingConfiguration whose resourceArn comes "
            "from it: its blocks leave no trace",
            acl.urn,
        )
    for config in mine:
        verdicts.judge(config.urn, _judge_destinations, config, verdicts)


def _logs_acl(config: PolicyResource, acl: PolicyResource) -> bool:
    if acl.urn in linked(config, "resourceArn", WEB_ACL):
        return True
    arn = known_text(acl.props, "arn")
    return arn is not None and get(config.props, "resourceArn") == arn


def _judge_destinations(config: PolicyResource, verdicts: Verdicts) -> None:
    names = _destination_names(config)
    wrong = [n for n in names if not n.startswith(WAF_LOG_PREFIX)]
    if names and not wrong:
        return
    verdicts.violation(
        f"WAF logging {label(config)} sends to {', '.join(wrong) or 'no destination'}; WAF "
        f"delivers only to a log group, bucket or stream named {WAF_LOG_PREFIX}*",
        config.urn,
    )


def _destination_names(config: PolicyResource) -> list[str]:
    """The destinations' own names: the last part of each ARN; where an ARN is not known yet
    (a preview), the names of the destinations the engine says it was built from."""
    arns, pending = known_texts(config.props, "logDestinationConfigs")
    names = [_arn_name(arn) for arn in arns]
    if pending is None:
        return names

    sinks = [
        r
        for r in config.property_dependencies.get("logDestinationConfigs", [])
        if r.resource_type in WAF_DESTINATIONS
    ]
    if not sinks:
        raise pending
    return names + [str(get(r.props, WAF_DESTINATIONS[r.resource_type])) for r in sinks]


def _arn_name(arn: str) -> str:
    # log-group:NAME[:*], arn:aws:s3:::NAME, deliverystream/NAME
    tail = arn.removesuffix(":*")
    return tail.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


WAF_LOGGING_CONFIGURED = StackValidationPolicy(
    name="waf-logging",
    description="Every WAFv2 web ACL has a logging configuration built from it, sending to "
    f"destinations named {WAF_LOG_PREFIX}*.",
    validate=_check_waf_logging,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- waf-managed-rules -----------------------------------------------------------------------

WAF_RULES_EXAMPLE = """\
aws.wafv2.WebAcl("api", rules=[{"name": "common", "override_action": {"count": {}},
    "statement": {"managed_rule_group_statement": {"vendor_name": "AWS",
                                                   "name": "AWSManagedRulesCommonRuleSet"}}}])
"""


def _check_waf_rules(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != WEB_ACL:
        return

    required = texts(args.get_config().get("requiredRuleGroups")) or REQUIRED_RULE_GROUPS
    rules = items(get(args.props, "rules"))
    active = {_managed_group(r) for r in rules if not _counts_only(r, "overrideAction")}
    missing = [g for g in required if g not in active]

    subject = f"web ACL '{args.name}' ({args.urn})"
    if missing:
        report(f"{subject} does not enforce AWS managed rule group(s) {', '.join(missing)}", None)
    if not any(_is_rate_limit(r) for r in rules):
        report(f"{subject} has no rate-based rule that blocks", None)


def _managed_group(rule: object) -> str | None:
    statement = get(rule, "statement", "managedRuleGroupStatement")
    if get(statement, "vendorName") != "AWS":
        return None
    name = get(statement, "name")
    return name if isinstance(name, str) else None


def _counts_only(rule: object, key: str) -> bool:
    """A rule (or a whole group) set to count logs matches and lets every one through."""
    action = get(rule, key)
    return isinstance(action, Mapping) and "count" in action


def _is_rate_limit(rule: object) -> bool:
    """A rate-based rule that blocks: count lets every request through, and a client holding a
    challenge or CAPTCHA token keeps sending past the limit."""
    statement: Any = get(rule, "statement", "rateBasedStatement")
    action = get(rule, "action")
    return statement is not None and isinstance(action, Mapping) and "block" in action


WAF_MANAGED_RULES = ResourceValidationPolicy(
    name="waf-managed-rules",
    description="Every WAFv2 web ACL enforces the required AWS managed rule groups (not in count "
    "mode) and a rate-based rule.",
    validate=_check_waf_rules,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "requiredRuleGroups": {
                "description": "AWS managed rule groups every web ACL must enforce.",
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^AWSManagedRules[A-Za-z0-9]+$"},
                "default": REQUIRED_RULE_GROUPS,
            }
        }
    ),
)

POLICIES = [CLOUDFRONT_ACCESS_LOGS, ALB_ACCESS_LOGS, WAF_LOGGING_CONFIGURED, WAF_MANAGED_RULES]
