"""Data at rest and in queues: customer-managed KMS keys that rotate, and no message lost.

Medical records pass through the queue, so it is encrypted with a key of ours (the AWS-managed
`alias/aws/sqs` key can't be shared or audited by key policy) and every message that keeps
failing lands in a dead-letter queue instead of disappearing after the retention period.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from matching_policy._props import Verdicts, dependencies, get, known_text

QUEUE = "aws:sqs/queue:Queue"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
KMS_KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
AWS_MANAGED_SQS_KEY = "alias/aws/sqs"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


def _aws_managed(key: str, alias: str) -> bool:
    """The AWS-managed key however it is named: alias, alias ARN, any case, stray spaces."""
    return key.strip().lower().split(":")[-1] == alias


# --- sqs-kms-cmk -----------------------------------------------------------------------------

KeyCheck = Callable[[ResourceValidationArgs, ReportViolation], None]

SQS_KMS_EXAMPLE = 'aws.sqs.Queue("jobs", sqs_managed_sse_enabled=True)  # AWS-owned key'


def _customer_key(token: str, kind: str, aws_managed: str) -> KeyCheck:
    """A check that `token` resources name a KMS key of ours in `kmsMasterKeyId`."""

    def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != token:
            return

        key = get(args.props, "kmsMasterKeyId")
        subject = f"{kind} '{args.name}' ({args.urn})"
        if not isinstance(key, str) or not key.strip():
            report(
                f"{subject} is not encrypted with a KMS key of ours (kmsMasterKeyId unset)", None
            )
        elif _aws_managed(key, aws_managed):
            report(f"{subject} uses the AWS-managed key {key}", None)

    return check


SQS_KMS_CMK = ResourceValidationPolicy(
    name="sqs-kms-cmk",
    description="Every SQS queue is encrypted with a customer-managed KMS key.",
    validate=_customer_key(QUEUE, "queue", AWS_MANAGED_SQS_KEY),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


# --- sqs-dead-letter -------------------------------------------------------------------------

SQS_DLQ_EXAMPLE = 'aws.sqs.Queue("jobs", kms_master_key_id=key.arn)  # no redrive_policy'


def _redrive_target(policy: object) -> str | None:
    """The dead-letter queue ARN of a redrive policy (a JSON string on the wire)."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return None
    if not isinstance(policy, Mapping):
        return None
    target = cast(Mapping[str, Any], policy).get("deadLetterTargetArn")
    return target if isinstance(target, str) else None


def _redrive(resource: PolicyResource) -> tuple[set[str], set[str]]:
    """The queues `resource` redrives (URNs) and the dead-letter queues it names (ARN, URNs)."""
    if resource.resource_type not in (QUEUE, REDRIVE_POLICY):
        return set(), set()

    named = {q.urn for q in dependencies(resource, "redrivePolicy", QUEUE)}
    target = _redrive_target(get(resource.props, "redrivePolicy"))
    if target is None:
        return set(), named

    # A RedrivePolicy resource configures the queue its queueUrl came from.
    return _sources(resource), {target, *named}


def _check_dead_letters(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    covered: set[str] = set()
    undecided: set[str] = set()

    def collect(resource: PolicyResource) -> None:
        # A redrive policy not known yet (a preview) is built from other resources' outputs,
        # and the engine names them: its dead-letter queue is among them. So the other
        # queues can still be judged; only the source queue waits for the value.
        if resource.resource_type in (QUEUE, REDRIVE_POLICY):
            covered.update(q.urn for q in dependencies(resource, "redrivePolicy", QUEUE))
        try:
            sources, targets = _redrive(resource)
        except UnknownValueError:
            undecided.update(_sources(resource))
            raise
        covered.update(sources | targets)

    for resource in args.resources:
        verdicts.judge(resource.urn, collect, resource)

    for queue in (r for r in args.resources if r.resource_type == QUEUE):
        if {queue.urn, known_text(queue.props, "arn")} & (covered | undecided):
            continue
        verdicts.violation(
            f"queue '{queue.name}' ({queue.urn}) has no redrivePolicy and is no queue's "
            "dead-letter queue: a message that keeps failing is lost",
            queue.urn,
        )
    verdicts.close()


def _sources(resource: PolicyResource) -> set[str]:
    """The queues whose redrive `resource` configures."""
    if resource.resource_type == REDRIVE_POLICY:
        return {q.urn for q in dependencies(resource, "queueUrl", QUEUE)}
    return {resource.urn}


SQS_DEAD_LETTER = StackValidationPolicy(
    name="sqs-dead-letter",
    description="Every SQS queue either sends failing messages to a dead-letter queue or is one.",
    validate=_check_dead_letters,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- kms-key-rotation ------------------------------------------------------------------------

KMS_ROTATION_EXAMPLE = 'aws.kms.Key("queue")  # enable_key_rotation left False'


def _check_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KMS_KEY:
        return

    # Asymmetric and HMAC keys can't rotate; only symmetric ones are held to it.
    spec = get(args.props, "customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and get(args.props, "enableKeyRotation") is not True:
        report(f"KMS key '{args.name}' ({args.urn}) does not rotate (enableKeyRotation)", None)


KMS_KEY_ROTATION = ResourceValidationPolicy(
    name="kms-key-rotation",
    description="Every symmetric KMS key rotates its key material yearly.",
    validate=_check_rotation,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- sns-topic-kms ---------------------------------------------------------------------------

SNS_KMS_EXAMPLE = 'aws.sns.Topic("alerts")  # no kms_master_key_id'


# CloudWatch and Budgets can't use the AWS-managed SNS key (its policy can't grant them), so
# alarms would fail to publish; nor can its use be audited by a key policy of ours.


SNS_TOPIC_KMS = ResourceValidationPolicy(
    name="sns-topic-kms",
    description="Every SNS topic is encrypted with a customer-managed KMS key.",
    validate=_customer_key(TOPIC, "topic", AWS_MANAGED_SNS_KEY),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- stateful-protected ----------------------------------------------------------------------

# Losing any of these loses data or the means to read it: messages in flight, match results,
# the provider keys, or everything a key encrypted (a deleted key can't be brought back).
STATEFUL_TYPES = frozenset(
    {
        QUEUE,
        "aws:dynamodb/table:Table",
        KMS_KEY,
        "aws:secretsmanager/secret:Secret",
    }
)

STATEFUL_EXAMPLE = 'aws.dynamodb.Table("results", ...)  # no opts=ResourceOptions(protect=True)'


def _check_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in STATEFUL_TYPES and not args.opts.protect:
        report(
            f"'{args.name}' ({args.urn}) is not protected: a replacement or `pulumi destroy` "
            "would delete it and its data",
            None,
        )


# Mandatory in prod only (see config/): staging is rebuilt freely and must stay deletable.
STATEFUL_PROTECTED = ResourceValidationPolicy(
    name="stateful-protected",
    description="Every SQS queue, DynamoDB table, KMS key and Secrets Manager secret carries the "
    "`protect` resource option.",
    validate=_check_protected,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Pass opts=pulumi.ResourceOptions(protect=True) in production stacks.",
)

POLICIES = [SQS_KMS_CMK, SQS_DEAD_LETTER, KMS_KEY_ROTATION, SNS_TOPIC_KMS, STATEFUL_PROTECTED]
