"""S3 buckets: private, encrypted, and reachable over TLS only.

Since provider v4 a bucket's public-access block, encryption and policy are resources of their
own that name the bucket, so these are stack policies. A setting belongs to a bucket when the
engine says its `bucket` input was built from that bucket, or when it names the bucket's id or
name literally. A bucket with no such setting is reported; an unknown setting is an advisory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from matching_policy._props import Verdicts, get, items, known_text, label, linked, texts

BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:"
        "BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})

# One bucket and the settings resources that name it; the finding, or None when it complies.
Judge = Callable[[PolicyResource, list[PolicyResource]], str | None]


def _settings_of(bucket: PolicyResource, settings: list[PolicyResource]) -> list[PolicyResource]:
    names = {known_text(bucket.props, "id"), known_text(bucket.props, "bucket")} - {None}
    return [
        s
        for s in settings
        if any(bucket.urn in linked(s, "bucket", token) for token in BUCKETS)
        or known_text(s.props, "bucket") in names
    ]


def _bucket_rule(tokens: frozenset[str], judge: Judge) -> Callable[..., None]:
    """A stack validate function that runs `judge` on every bucket and its settings."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        verdicts = Verdicts(report)
        settings = [r for r in args.resources if r.resource_type in tokens]

        def visit(bucket: PolicyResource) -> None:
            finding = judge(bucket, _settings_of(bucket, settings))
            if finding is None:
                return
            for setting in settings:
                # A setting naming its bucket by a value not known yet may be this bucket's.
                if not any(linked(setting, "bucket", token) for token in BUCKETS):
                    get(setting.props, "bucket")
            verdicts.violation(f"bucket {label(bucket)} {finding}", bucket.urn)

        for bucket in (r for r in args.resources if r.resource_type in BUCKETS):
            verdicts.judge(bucket.urn, visit, bucket)
        verdicts.close()

    return validate


# --- s3-public-access-blocked ----------------------------------------------------------------

S3_PUBLIC_EXAMPLE = """\
aws.s3.BucketPublicAccessBlock("logs", bucket=logs.id, block_public_acls=True,
                               block_public_policy=False, ...)
"""


def _public_access(_bucket: PolicyResource, blocks: list[PolicyResource]) -> str | None:
    if not blocks:
        return "has no BucketPublicAccessBlock: a policy or ACL can make it public"
    unset = [[f for f in BLOCK_FLAGS if get(b.props, f) is not True] for b in blocks]
    if any(not flags for flags in unset):
        return None
    return f"has a public-access block without {', '.join(unset[0])} set true"


S3_PUBLIC_ACCESS_BLOCKED = StackValidationPolicy(
    name="s3-public-access-blocked",
    description="Every S3 bucket has a BucketPublicAccessBlock with all four flags true.",
    validate=_bucket_rule(frozenset({PUBLIC_ACCESS_BLOCK}), _public_access),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
)


# --- s3-encrypted ----------------------------------------------------------------------------

S3_ENCRYPTED_EXAMPLE = 'aws.s3.Bucket("logs")  # no BucketServerSideEncryptionConfiguration'


def _encryption(bucket: PolicyResource, configs: list[PolicyResource]) -> str | None:
    # The provider-v4 inline block still works on aws:s3/bucket:Bucket.
    inline = get(bucket.props, "serverSideEncryptionConfiguration", "rule")
    if _algorithms([inline]) or any(_algorithms(items(get(c.props, "rules"))) for c in configs):
        return None
    return "declares no default encryption (a server-side encryption configuration)"


def _algorithms(rules: list[Any]) -> list[str]:
    found = [get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in rules]
    return [a for a in found if a in SSE_ALGORITHMS]


S3_ENCRYPTED = StackValidationPolicy(
    name="s3-encrypted",
    description="Every S3 bucket declares default server-side encryption (SSE-S3 or SSE-KMS).",
    validate=_bucket_rule(ENCRYPTION, _encryption),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


# --- s3-tls-only -----------------------------------------------------------------------------

S3_TLS_EXAMPLE = """\
aws.s3.BucketPolicy("logs", bucket=logs.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, ...}]}))
"""


def _tls_only(_bucket: PolicyResource, policies: list[PolicyResource]) -> str | None:
    if any(_denies_plain_http(get(p.props, "policy")) for p in policies):
        return None
    return 'has no bucket policy that denies every "s3:*" request with aws:SecureTransport false'


def _denies_plain_http(document: object) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return False
    statement = get(document, "Statement")
    found: list[Any] = [statement] if isinstance(statement, Mapping) else items(statement)
    return any(_is_tls_deny(cast(Mapping[str, Any], s)) for s in found if isinstance(s, Mapping))


def _is_tls_deny(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    everyone = principal == "*" or "*" in texts(get(principal, "AWS"))
    actions = texts(statement.get("Action"))
    secure = get(statement.get("Condition"), "Bool", "aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and everyone
        and bool({"*", "s3:*"} & set(actions))
        and str(secure).lower() == "false"
    )


S3_TLS_ONLY = StackValidationPolicy(
    name="s3-tls-only",
    description="Every S3 bucket has a policy denying all requests made without TLS "
    "(aws:SecureTransport false).",
    validate=_bucket_rule(frozenset({BUCKET_POLICY}), _tls_only),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [S3_PUBLIC_ACCESS_BLOCKED, S3_ENCRYPTED, S3_TLS_ONLY]
