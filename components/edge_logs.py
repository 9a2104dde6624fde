"""Where the edge's access logs go: the ALB's and CloudFront's to S3 in the stack's region, WAF's
to CloudWatch Logs in us-east-1.

Every bucket blocks public access, is encrypted, refuses plain HTTP and lets its logs expire
after the retention the stack file names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import Statement, policy_document_output
from components.owner import Owner

ALB_LOG_PREFIX = "alb"
CLOUDFRONT_LOG_PREFIX = "cloudfront"
# WAF delivers only to log groups whose name starts with this prefix.
WAF_LOG_PREFIX = "aws-waf-logs-"


@dataclass(frozen=True)
class LogBucket:
    bucket: aws.s3.Bucket
    # Ready for delivery once these exist: a writer that checks access waits for them.
    ready: list[pulumi.Resource]


def alb_log_bucket(
    owner: Owner, region: str, retention_days: int, deletion_protection: bool
) -> LogBucket:
    """A private, TLS-only bucket for ALB access logs, encrypted with SSE-S3."""
    account = aws.get_caller_identity_output(opts=owner.invoke()).account_id
    log_writer = aws.elb.get_service_account_output(region=region, opts=owner.invoke())
    bucket = _private_bucket(owner, "alb-logs", ALB_LOG_PREFIX, retention_days, deletion_protection)
    # ALB log delivery cannot write with a KMS key: SSE-S3 is the only encryption it takes.
    # The regional Elastic Load Balancing account writes, and only under this account's prefix.
    policy = _tls_only_policy(
        owner,
        "alb-logs",
        bucket,
        Statement(
            Sid="AlbLogDelivery",
            Effect="Allow",
            Principal={"AWS": log_writer.arn},
            Action="s3:PutObject",
            Resource=pulumi.Output.format(
                "{}/{}/AWSLogs/{}/*", bucket.arn, ALB_LOG_PREFIX, account
            ),
        ),
    )
    aws.s3.BucketOwnershipControls(
        f"{owner.name}-alb-logs-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=owner.child(),
    )
    return LogBucket(bucket=bucket, ready=[policy])


def cloudfront_log_bucket(
    owner: Owner, retention_days: int, deletion_protection: bool
) -> LogBucket:
    """The bucket CloudFront's standard logging (legacy) writes viewer requests to.

    Legacy logging writes straight into a bucket of the stack's region, so no log and no
    logging resource leaves the EU; the price is ACLs: CloudFront grants its log-delivery
    account write access through the bucket ACL when logging is turned on, so the bucket
    keeps ACLs enabled (owner preferred, so the objects are still ours). Public ACLs stay
    blocked. Logging v2 would avoid ACLs but needs its delivery source in us-east-1.
    """
    bucket = _private_bucket(
        owner, "cloudfront-logs", CLOUDFRONT_LOG_PREFIX, retention_days, deletion_protection
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{owner.name}-cloudfront-logs-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerPreferred"},
        opts=owner.child(),
    )
    policy = _tls_only_policy(owner, "cloudfront-logs", bucket)
    return LogBucket(bucket=bucket, ready=[ownership, policy])


def _private_bucket(
    owner: Owner, role: str, prefix: str, retention_days: int, deletion_protection: bool
) -> aws.s3.Bucket:
    """A bucket with public access blocked, SSE-S3 by default and logs that expire."""
    bucket = aws.s3.Bucket(
        f"{owner.name}-{role}", force_destroy=not deletion_protection, opts=owner.child()
    )
    aws.s3.BucketPublicAccessBlock(
        f"{owner.name}-{role}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=owner.child(),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{owner.name}-{role}-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        opts=owner.child(),
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{owner.name}-{role}-lifecycle",
        bucket=bucket.id,
        rules=[
            {
                "id": "expire-access-logs",
                "status": "Enabled",
                "filter": {"prefix": f"{prefix}/"},
                "expiration": {"days": retention_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
            }
        ],
        opts=owner.child(),
    )
    return bucket


def _tls_only_policy(
    owner: Owner, role: str, bucket: aws.s3.Bucket, *grants: Statement
) -> aws.s3.BucketPolicy:
    return aws.s3.BucketPolicy(
        f"{owner.name}-{role}-policy",
        bucket=bucket.id,
        policy=policy_document_output(
            [
                Statement(
                    Sid="DenyInsecureTransport",
                    Effect="Deny",
                    Principal={"AWS": "*"},
                    Action="s3:*",
                    Resource=[bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                    Condition={"Bool": {"aws:SecureTransport": "false"}},
                ),
                *grants,
            ]
        ),
        opts=owner.child(),
    )


def waf_logging(owner: Owner, web_acl: aws.wafv2.WebAcl, region: str, retention_days: int) -> None:
    """WAF logs in the web ACL's region (us-east-1), without the clients' credentials."""
    account = aws.get_caller_identity_output(opts=owner.invoke()).account_id
    # Default CloudWatch encryption: the stack's KMS key lives in another region. Bodies are
    # never logged, and the authorization header is redacted below.
    log_group = aws.cloudwatch.LogGroup(
        f"{owner.name}-waf-logs",
        name=f"{WAF_LOG_PREFIX}{owner.name}-{pulumi.get_stack()}",
        retention_in_days=retention_days,
        region=region,
        opts=owner.child(),
    )
    delivery = aws.cloudwatch.LogResourcePolicy(
        f"{owner.name}-waf-log-delivery",
        policy_name=f"{owner.name}-{pulumi.get_stack()}-waf-log-delivery",
        region=region,
        policy_document=policy_document_output(
            [
                Statement(
                    Sid="WafLogDelivery",
                    Effect="Allow",
                    Principal={"Service": "delivery.logs.amazonaws.com"},
                    Action=["logs:CreateLogStream", "logs:PutLogEvents"],
                    Resource=pulumi.Output.concat(log_group.arn, ":*"),
                    Condition={
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {
                            "aws:SourceArn": pulumi.Output.format(
                                "arn:aws:logs:{}:{}:*", region, account
                            )
                        },
                    },
                )
            ]
        ),
        opts=owner.child(),
    )
    aws.wafv2.WebAclLoggingConfiguration(
        f"{owner.name}-waf-logging",
        resource_arn=web_acl.arn,
        log_destination_configs=[log_group.arn],
        redacted_fields=[{"single_header": {"name": "authorization"}}],
        region=region,
        opts=owner.child(depends_on=[delivery]),
    )
