"""S3 buckets: private, encrypted and TLS-only, whichever way their settings name them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, changed, resource, without
from tests.policies.conftest import Judge
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

BUCKET = resource(
    "aws:s3/bucket:Bucket",
    "logs",
    {},
    cloud_id="logs-1a2b",
    computed={"bucket": "logs-1a2b", "arn": "arn:aws:s3:::logs-1a2b"},
)
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
TLS_DENY = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::logs-1a2b", "arn:aws:s3:::logs-1a2b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def _setting(token: str, name: str, linked: bool = True, **inputs: Any) -> ResourceRecord:
    links = {"bucket": [BUCKET]} if linked else {}
    return resource(f"aws:s3/{token}", name, {"bucket": BUCKET.id, **inputs}, links=links)


def _block(linked: bool = True, **flags: Any) -> ResourceRecord:
    inputs = dict.fromkeys(BLOCK_FLAGS, True) | flags
    return _setting("bucketPublicAccessBlock:BucketPublicAccessBlock", "logs-pab", linked, **inputs)


def _encryption(algorithm: str = "AES256") -> ResourceRecord:
    rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}
    token = "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    return _setting(token, "logs-sse", rules=[rule])


def _policy(*statements: dict[str, Any]) -> ResourceRecord:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return _setting("bucketPolicy:BucketPolicy", "logs-policy", policy=document)


def _stack(*settings: ResourceRecord) -> list[ResourceRecord]:
    return [DEFAULT_PROVIDER, BUCKET, *settings]


COMPLIANT = (_block(), _encryption(), _policy(TLS_DENY))


@pytest.mark.parametrize("linked", [True, False], ids=["by-dependency", "by-literal-name"])
def test_compliant_bucket_passes(judge: Judge, linked: bool) -> None:
    found = judge(_stack(_block(linked), _encryption(), _policy(TLS_DENY)))

    assert found == [], explain(BUCKET.urn, found)


@pytest.mark.parametrize(
    ("settings", "policy"),
    [
        pytest.param(COMPLIANT[1:], "s3-public-access-blocked", id="no-public-access-block"),
        pytest.param(
            (_block(blockPublicPolicy=False), *COMPLIANT[1:]),
            "s3-public-access-blocked",
            id="public-policy-allowed",
        ),
        pytest.param(
            (without(_block(), "restrictPublicBuckets"), *COMPLIANT[1:]),
            "s3-public-access-blocked",
            id="flag-absent",
        ),
        pytest.param((COMPLIANT[0], COMPLIANT[2]), "s3-encrypted", id="no-encryption"),
        pytest.param(
            (COMPLIANT[0], _encryption("NONE"), COMPLIANT[2]), "s3-encrypted", id="bad-algorithm"
        ),
        pytest.param(COMPLIANT[:2], "s3-tls-only", id="no-policy"),
        pytest.param(
            (
                *COMPLIANT[:2],
                _policy(
                    {
                        **TLS_DENY,
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        # One named action: a wildcard would be iam-no-wildcard-actions' to judge.
                        "Action": "s3:PutObject",
                    }
                ),
            ),
            "s3-tls-only",
            id="allow",
        ),
        pytest.param(
            (*COMPLIANT[:2], _policy({**TLS_DENY, "Action": "s3:GetObject"})),
            "s3-tls-only",
            id="deny-one-action",
        ),
        pytest.param(
            (*COMPLIANT[:2], _policy({**TLS_DENY, "Condition": {}})), "s3-tls-only", id="no-cond"
        ),
    ],
)
def test_weak_bucket_is_blocked(
    judge: Judge, settings: tuple[ResourceRecord, ...], policy: str
) -> None:
    found = judge(_stack(*settings))

    assert policies(found) == [policy], explain(BUCKET.urn, found)
    assert found[0].urn == BUCKET.urn


def test_inline_encryption_passes(judge: Judge) -> None:
    rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}
    bucket = changed(BUCKET, serverSideEncryptionConfiguration={"rule": rule})

    found = judge([DEFAULT_PROVIDER, bucket, COMPLIANT[0], COMPLIANT[2]])

    assert found == [], explain(bucket.urn, found)


def test_setting_of_another_bucket_does_not_count(judge: Judge) -> None:
    other = changed(_block(linked=False), bucket="someone-elses")

    found = judge(_stack(other, *COMPLIANT[1:]))

    assert policies(found) == ["s3-public-access-blocked"], explain(BUCKET.urn, found)


def test_unknown_flag_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    block = _block(blockPublicPolicy=UNKNOWN)

    found = preview_pack.check(_stack(block, *COMPLIANT[1:]))

    assert policies(found) == [], explain(block.urn, found)
    assert "s3-public-access-blocked" in policies(found, "advisory"), explain(block.urn, found)


def test_unlinked_unknown_bucket_name_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    block = changed(_block(linked=False), bucket=UNKNOWN)

    found = preview_pack.check(_stack(block, *COMPLIANT[1:]))

    assert policies(found) == [], explain(block.urn, found)
    assert "s3-public-access-blocked" in policies(found, "advisory"), explain(block.urn, found)
