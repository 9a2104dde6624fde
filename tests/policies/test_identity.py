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
    # Found by the red-team review: patterns as broad as a star, in other spellings.
    pytest.param(_document(_allow("s3:?*")), id="question-star"),
    pytest.param(_document(_allow("iam:**")), id="double-star"),
    pytest.param(_document(_allow("*:*")), id="any-service"),
    pytest.param(_document(_allow("*:GetObject")), id="wild-service"),
    pytest.param(_document(_allow(" sqs:* ")), id="padded"),
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
        # Found by the red-team review: a caller key named, but nobody pinned down.
        pytest.param(
            _document(_open("*", Condition={"StringNotEquals": {"aws:PrincipalAccount": "1"}})),
            id="negated-operator",
        ),
        pytest.param(
            _document(_open({"AWS": "*"}, Condition={"StringLike": {"aws:SourceArn": "*"}})),
            id="wildcard-value",
        ),
        pytest.param(
            _document(_open({"AWS": "*"}, Condition={"Null": {"aws:PrincipalOrgID": "true"}})),
            id="null-operator",
        ),
        pytest.param(
            _document(_open("*", Condition={"StringEqualsIfExists": {"aws:SourceAccount": "1"}})),
            id="if-exists",
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


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            resource(
                "aws:kms/keyPolicy:KeyPolicy",
                "kp",
                {"keyId": "k", "policy": _document(_open("*", Action="kms:*"))},
            ),
            id="key-policy",
        ),
        pytest.param(
            resource(
                "aws:lambda/permission:Permission",
                "lp",
                {"action": "lambda:InvokeFunction", "function": "fn", "principal": "*"},
            ),
            id="lambda-permission",
        ),
        pytest.param(
            resource("aws:s3/bucketAcl:BucketAcl", "acl", {"bucket": "b", "acl": "public-read"}),
            id="canned-acl",
        ),
        pytest.param(
            resource(
                "aws:s3/bucketAcl:BucketAcl",
                "grant",
                {
                    "bucket": "b",
                    "accessControlPolicy": {
                        "grants": [
                            {
                                "grantee": {
                                    "type": "Group",
                                    "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                                },
                                "permission": "READ",
                            }
                        ]
                    },
                },
            ),
            id="all-users-grant",
        ),
    ],
)
def test_everyone_outside_a_document_is_blocked(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [PUBLIC], explain(record.urn, found)


def test_lambda_permission_pinned_to_a_source_passes(pack: PolicyPack) -> None:
    record = resource(
        "aws:lambda/permission:Permission",
        "lp",
        {"action": "lambda:InvokeFunction", "function": "fn", "principal": "*", "sourceArn": "a"},
    )

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


# --- iam-no-admin-managed-policy -------------------------------------------------------------

ADMIN = "iam-no-admin-managed-policy"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            resource(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "a",
                {"role": "r", "policyArn": ADMINISTRATOR},
            ),
            id="role-attachment",
        ),
        pytest.param(
            resource(
                "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                "u",
                {"user": "u", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
            ),
            id="user-attachment",
        ),
        pytest.param(
            resource(
                "aws:iam/role:Role",
                "r",
                {"assumeRolePolicy": "{}", "managedPolicyArns": [ADMINISTRATOR]},
            ),
            id="role-managed-arns",
        ),
        pytest.param(
            resource(
                "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
                "g",
                {"group": "g", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"},
            ),
            id="service-full-access",
        ),
    ],
)
def test_admin_managed_policy_is_blocked(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [ADMIN], explain(record.urn, found)


def test_narrow_managed_policy_passes(pack: PolicyPack) -> None:
    record = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "worker",
        {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
    )

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)
