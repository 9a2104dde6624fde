"""IAM documents come out as the JSON AWS expects, and refuse statements that grant nothing."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.iam import (
    POD_IDENTITY_PRINCIPAL,
    Statement,
    allow,
    assume_role_policy,
    pod_identity_trust,
    policy_document,
    policy_document_output,
)
from tests.conftest import ComponentRunner


def test_policy_document_keeps_iam_key_names_and_version() -> None:
    document = json.loads(
        policy_document([allow(["sqs:ReceiveMessage"], "arn:aws:sqs:eu-central-1:1:q", sid="Q")])
    )

    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage"],
                "Resource": "arn:aws:sqs:eu-central-1:1:q",
                "Sid": "Q",
            }
        ],
    }


def test_allow_carries_its_condition() -> None:
    condition = {"Bool": {"aws:SecureTransport": "true"}}

    statement = allow("s3:GetObject", "*", condition=condition)

    assert statement.get("Condition") == condition


@pytest.mark.parametrize(
    "service", ["ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com", "eks.amazonaws.com"]
)
def test_assume_role_policy_trusts_exactly_one_service(service: str) -> None:
    document = json.loads(assume_role_policy(service))

    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}
    ]


def test_pod_identity_trust_allows_assume_and_tag_session_for_eks_pods() -> None:
    (statement,) = json.loads(pod_identity_trust())["Statement"]

    assert (
        statement["Principal"]
        == {"Service": POD_IDENTITY_PRINCIPAL}
        == {"Service": "pods.eks.amazonaws.com"}
    )
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Effect"] == "Allow"


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param([], id="no statement"),
        pytest.param([Statement(Effect="Allow", Action="s3:GetObject")], id="no resource"),
    ],
)
def test_policy_document_refuses_documents_that_grant_nothing(
    statements: list[Statement],
) -> None:
    with pytest.raises(ValueError, match="statement"):
        policy_document(statements)


def test_policy_document_output_resolves_outputs(run_component: ComponentRunner) -> None:
    rendered: list[str] = []

    def body() -> None:
        arn = pulumi.Output.from_input("arn:aws:sqs:eu-central-1:111111111111:jobs")
        policy_document_output([allow("sqs:SendMessage", arn)]).apply(rendered.append)

    run_component(body)

    assert len(rendered) == 1
    (statement,) = json.loads(rendered[0])["Statement"]
    assert statement["Resource"] == "arn:aws:sqs:eu-central-1:111111111111:jobs"
