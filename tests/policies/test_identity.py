"""iam-no-wildcard-actions over every place a policy document can sit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

POLICY = "iam-no-wildcard-actions"


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# A named resource, so that only the actions are on trial here (iam_scope judges "*").
SCOPED_ARN = "arn:aws:sqs:eu-central-1:111122223333:jobs"


def _allow(action: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": SCOPED_ARN}


def _holders(document: str) -> list[ResourceRecord]:
    return [
        resource("aws:iam/policy:Policy", "p", {"policy": document}),
        resource("aws:iam/rolePolicy:RolePolicy", "rp", {"role": "r", "policy": document}),
        resource(
            "aws:iam/role:Role",
            "role",
            {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "x", "policy": document}]},
        ),
    ]


BROAD = [
    pytest.param(_document(_allow("*")), id="star"),
    pytest.param(_document(_allow(["sqs:SendMessage", "sqs:*"])), id="service-star"),
    pytest.param(_document(_allow("S3:*")), id="service-star-upper"),
    pytest.param(json.dumps({"Statement": _allow("*")}), id="single-statement-object"),
    pytest.param(
        _document({"Effect": "Allow", "NotAction": "iam:*", "Resource": SCOPED_ARN}),
        id="not-action",
    ),
    pytest.param("{not json", id="not-json"),
]


@pytest.mark.parametrize("document", BROAD)
@pytest.mark.parametrize("holder", [0, 1, 2], ids=["policy", "role-policy", "role-inline"])
def test_broad_grant_is_blocked(pack: PolicyPack, document: str, holder: int) -> None:
    record = _holders(document)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_document(_allow(["sqs:SendMessage", "s3:Get*"])), id="named-actions"),
        pytest.param(_document({"Effect": "Deny", "Action": "*", "Resource": "*"}), id="deny-star"),
    ],
)
def test_named_actions_pass(pack: PolicyPack, document: str) -> None:
    for record in _holders(document):
        found = pack.analyze(record, DEFAULT_PROVIDER)

        assert found == [], explain(record.urn, found)


# --- resource-policy-no-public-principal -----------------------------------------------------

PUBLIC = "resource-policy-no-public-principal"
QUEUE_ARN = "arn:aws:sqs:eu-central-1:111122223333:jobs"


def _resource_policies(document: str) -> list[ResourceRecord]:
    return [
        resource("aws:sqs/queuePolicy:QueuePolicy", "qp", {"queueUrl": "q", "policy": document}),
        resource("aws:sns/topicPolicy:TopicPolicy", "tp", {"arn": "t", "policy": document}),
        resource("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": document}),
        resource("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": document}),
        resource("aws:iam/role:Role", "trusting", {"assumeRolePolicy": document}),
    ]


def _open(principal: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", **extra}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_document(_open("*")), id="star"),
        pytest.param(_document(_open({"AWS": "*"})), id="aws-star"),
        pytest.param(_document(_open({"AWS": ["arn:aws:iam::1:root", "*"]})), id="listed-star"),
        pytest.param(
            _document(_open("*", Condition={"Bool": {"aws:SecureTransport": "true"}})),
            id="condition-that-confines-nothing",
        ),
        pytest.param(
            _document({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}),
            id="not-principal",
        ),
    ],
)
def test_public_principal_is_blocked(pack: PolicyPack, document: str) -> None:
    for record in _resource_policies(document):
        found = pack.analyze(record, DEFAULT_PROVIDER)

        assert policies(found) == [PUBLIC], explain(record.urn, found)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_document(_open({"AWS": "arn:aws:iam::111122223333:root"})), id="named"),
        pytest.param(
            _document(_open("*", Condition={"StringEquals": {"aws:SourceAccount": "1"}})),
            id="source-account",
        ),
        pytest.param(
            _document(_open({"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o"}})),
            id="org",
        ),
        pytest.param(_document({**_open("*"), "Effect": "Deny"}), id="deny"),
        pytest.param(_document(_open({"Service": "cloudwatch.amazonaws.com"})), id="service"),
    ],
)
def test_named_or_confined_principal_passes(pack: PolicyPack, document: str) -> None:
    for record in _resource_policies(document):
        found = pack.analyze(record, DEFAULT_PROVIDER)

        assert found == [], explain(record.urn, found)
