"""The edge's logs under the mocks: private, encrypted, TLS-only buckets that expire, in the EU."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.settings import StackSettings
from tests.components.edge_ingress_run import NAME, build
from tests.conftest import ComponentRunner, one
from tools.mocks import ELB_LOG_ACCOUNTS
from tools.offline import ProgramRun

BUCKETS = ("alb-logs", "cloudfront-logs")
PUBLIC_BLOCKS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def part(run: ProgramRun, kind: str, role: str) -> dict[str, Any]:
    return one(run, f"aws:s3/{kind[0].lower()}{kind[1:]}:{kind}", f"{NAME}-{role}").inputs


@pytest.mark.parametrize("role", BUCKETS)
def test_every_bucket_is_private_encrypted_tls_only_and_expires(
    run: ProgramRun, settings: StackSettings, role: str
) -> None:
    bucket = one(run, "aws:s3/bucket:Bucket", f"{NAME}-{role}")
    blocks = part(run, "BucketPublicAccessBlock", f"{role}-public-access")
    (encryption,) = part(run, "BucketServerSideEncryptionConfiguration", f"{role}-encryption")[
        "rules"
    ]
    (lifecycle,) = part(run, "BucketLifecycleConfiguration", f"{role}-lifecycle")["rules"]
    policy = json.loads(str(part(run, "BucketPolicy", f"{role}-policy")["policy"]))
    deny = {s["Sid"]: s for s in policy["Statement"]}["DenyInsecureTransport"]

    assert all(blocks[key] is True for key in PUBLIC_BLOCKS), bucket.urn
    assert encryption["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert lifecycle["status"] == "Enabled", bucket.urn
    assert lifecycle["expiration"] == {"days": settings.edge.log_retention_days}, bucket.urn
    assert deny["Effect"] == "Deny", bucket.urn
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, bucket.urn
    assert bucket.outputs["region"] == settings.region, f"{bucket.urn} leaves the EU region"
    assert bucket.inputs["forceDestroy"] is not settings.edge.deletion_protection, bucket.urn


def test_alb_logs_go_to_its_bucket_written_only_by_the_regional_elb_account(
    run: ProgramRun, settings: StackSettings
) -> None:
    alb = one(run, "aws:lb/loadBalancer:LoadBalancer")
    bucket = one(run, "aws:s3/bucket:Bucket", f"{NAME}-alb-logs")
    policy = one(run, "aws:s3/bucketPolicy:BucketPolicy", f"{NAME}-alb-logs-policy")
    delivery = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    ownership = part(run, "BucketOwnershipControls", "alb-logs-ownership")

    assert alb.inputs["accessLogs"] == {
        "bucket": bucket.outputs["bucket"],
        "prefix": "alb",
        "enabled": True,
    }
    assert policy.urn in alb.dependencies, f"{alb.urn} must wait for the bucket policy"
    assert delivery["AlbLogDelivery"]["Principal"] == {
        "AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS[settings.region]}:root"
    }, policy.urn
    assert delivery["AlbLogDelivery"]["Action"] == "s3:PutObject", policy.urn
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_cloudfront_logs_viewer_requests_to_its_eu_bucket(run: ProgramRun) -> None:
    distribution = one(run, "aws:cloudfront/distribution:Distribution")
    bucket = one(run, "aws:s3/bucket:Bucket", f"{NAME}-cloudfront-logs")
    ownership = one(
        run,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        f"{NAME}-cloudfront-logs-ownership",
    )

    assert distribution.inputs["loggingConfig"] == {
        "bucket": bucket.outputs["bucketDomainName"],
        "prefix": "cloudfront/",
        "includeCookies": False,
    }
    # Standard logging (legacy) grants its delivery account through the bucket ACL.
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerPreferred"}
    assert ownership.urn in distribution.dependencies, distribution.urn


def test_waf_logs_to_us_east_1_without_the_authorization_header(
    run: ProgramRun, settings: StackSettings
) -> None:
    logging = one(run, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    group = one(run, "aws:cloudwatch/logGroup:LogGroup")
    delivery = one(run, "aws:cloudwatch/logResourcePolicy:LogResourcePolicy")

    assert logging.inputs["resourceArn"] == one(run, "aws:wafv2/webAcl:WebAcl").outputs["arn"]
    assert logging.inputs["logDestinationConfigs"] == [group.outputs["arn"]], logging.urn
    assert logging.inputs["redactedFields"] == [{"singleHeader": {"name": "authorization"}}]
    assert group.inputs["name"].startswith("aws-waf-logs-"), group.urn
    assert group.inputs["retentionInDays"] == settings.edge.log_retention_days, group.urn
    for record in (logging, group, delivery):
        assert record.inputs["region"] == "us-east-1", record.urn
    assert delivery.urn in logging.dependencies, f"{logging.urn} must wait for its permission"
