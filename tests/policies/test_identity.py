"""IAM policies over every place a policy document or an attached policy can sit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.builders import ACCOUNT, DEFAULT_PROVIDER, UNKNOWN, changed, resource
from tests.policies.conftest import Judge
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, PolicyPackError
from tools.records import ResourceRecord

POLICY = "iam-no-wildcard-actions"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
ORGANISATION = "o-a1b2c3d4e5"


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# A named resource, so that only the actions are on trial here (iam_scope judges "*").
SCOPED_ARN = "arn:aws:sqs:eu-central-1:111122223333:jobs"


def _allow(action: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": SCOPED_ARN}


def _holders(document: str) -> list[ResourceRecord]:
    return [
        resource("aws:iam/policy:Policy", "p", {"policy": document}),
        resource(ROLE_POLICY, "rp", {"role": "r", "policy": document}),
        resource("aws:iam/userPolicy:UserPolicy", "up", {"user": "u", "policy": document}),
        resource("aws:iam/groupPolicy:GroupPolicy", "gp", {"group": "g", "policy": document}),
        resource(
            ROLE,
            "role",
            {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "x", "policy": document}]},
        ),
    ]


HOLDERS = ["policy", "role-policy", "user-policy", "group-policy", "role-inline"]


def _resource_holders(document: str) -> list[ResourceRecord]:
    """Resource and trust policies: they grant to the principals they name."""
    return [
        resource("aws:sqs/queuePolicy:QueuePolicy", "qp", {"queueUrl": "q", "policy": document}),
        resource("aws:sns/topicPolicy:TopicPolicy", "tp", {"arn": "t", "policy": document}),
        resource("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": document}),
        resource("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": document}),
        resource(ROLE, "trusting", {"assumeRolePolicy": document}),
    ]


RESOURCE_HOLDERS = ["queue-policy", "topic-policy", "key-policy", "bucket-policy", "role-trust"]

WILDCARDS = [
    pytest.param(_document(_allow("*")), id="star"),
    pytest.param(_document(_allow(["sqs:SendMessage", "sqs:*"])), id="service-star"),
    pytest.param(_document(_allow("S3:*")), id="service-star-upper"),
    pytest.param(json.dumps({"Statement": _allow("*")}), id="single-statement-object"),
    pytest.param(
        _document({"Effect": "Allow", "NotAction": "iam:*", "Resource": SCOPED_ARN}),
        id="not-action",
    ),
    # Found by the red-team review: patterns as broad as a star, in other spellings.
    pytest.param(_document(_allow("s3:?*")), id="question-star"),
    pytest.param(_document(_allow("iam:**")), id="double-star"),
    pytest.param(_document(_allow("*:*")), id="any-service"),
    pytest.param(_document(_allow("*:GetObject")), id="wild-service"),
    pytest.param(_document(_allow(" sqs:* ")), id="padded"),
    # Found by the red-team review: a partial wildcard grants every action it matches, those AWS
    # adds later among them (iam:P* is PassRole and every Put*Policy: admin by escalation).
    pytest.param(_document(_allow("iam:P*")), id="prefix"),
    pytest.param(_document(_allow("iam:*Policy*")), id="infix"),
    pytest.param(_document(_allow(["sts:GetCallerIdentity", "sts:Assume*"])), id="assume-star"),
    pytest.param(_document(_allow("s3:Get*")), id="read-prefix"),
    pytest.param(_document(_allow("s3:GetObj?ct")), id="question-mark"),
]


@pytest.mark.parametrize("document", [*WILDCARDS, pytest.param("{not json", id="not-json")])
@pytest.mark.parametrize("holder", range(len(HOLDERS)), ids=HOLDERS)
def test_wildcard_grant_is_blocked(pack: PolicyPack, document: str, holder: int) -> None:
    record = _holders(document)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize("document", WILDCARDS)
@pytest.mark.parametrize("holder", range(len(RESOURCE_HOLDERS)), ids=RESOURCE_HOLDERS)
def test_wildcard_grant_in_a_resource_policy_is_blocked(
    pack: PolicyPack, document: str, holder: int
) -> None:
    record = _resource_holders(document)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_document(_allow(["sqs:SendMessage", "s3:GetObject"])), id="named-actions"),
        pytest.param(_document({"Effect": "Deny", "Action": "*", "Resource": "*"}), id="deny-star"),
    ],
)
def test_named_actions_pass(pack: PolicyPack, document: str) -> None:
    for record in [*_holders(document), *_resource_holders(document)]:
        found = pack.analyze(record, DEFAULT_PROVIDER)

        assert found == [], explain(record.urn, found)


def _allowing(pattern: str, *types: str) -> dict[str, Any]:
    entry = {"reason": "AWS documents this pattern for the case", "resourceTypes": list(types)}
    return {POLICY: {"allowedPatterns": {pattern: entry}}}


def test_allow_listed_pattern_passes_where_the_config_allows_it(pack: PolicyPack) -> None:
    pack.configure(_allowing("kms:GenerateDataKey*", ROLE_POLICY))
    # IAM matches actions case-insensitively, so the allow-list does too.
    document = _document(_allow(["kms:Decrypt", "KMS:generatedatakey*"]))
    record = resource(ROLE_POLICY, "rp", {"role": "r", "policy": document})

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    ("document", "holder"),
    [
        pytest.param(_document(_allow("kms:GenerateDataKey*")), 0, id="other-resource-type"),
        pytest.param(_document(_allow("kms:GenerateData*")), 1, id="other-pattern"),
        pytest.param(
            _document({"Effect": "Allow", "NotAction": "kms:GenerateDataKey*", "Resource": "*"}),
            1,
            id="not-action",
        ),
    ],
)
def test_allow_list_is_exact(pack: PolicyPack, document: str, holder: int) -> None:
    pack.configure(_allowing("kms:GenerateDataKey*", ROLE_POLICY))
    record = _holders(document)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found), explain(record.urn, found)


def test_key_policy_administrator_passes_when_allow_listed(pack: PolicyPack) -> None:
    pack.configure(_allowing("kms:*", KEY))
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    key = resource(KEY, "k", {"enableKeyRotation": True, "policy": _document(statement)})
    grant = resource(ROLE_POLICY, "rp", {"role": "r", "policy": _document(_allow("kms:*"))})

    assert pack.analyze(key, DEFAULT_PROVIDER) == [], key.urn
    assert policies(pack.analyze(grant, DEFAULT_PROVIDER)) == [POLICY], grant.urn


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("*", id="star"),
        pytest.param("*:Get*", id="any-service"),
        pytest.param("s?s:SendMessage", id="wild-service"),
    ],
)
def test_config_cannot_allow_every_service(pack: PolicyPack, pattern: str) -> None:
    with pytest.raises(PolicyPackError, match=POLICY):
        pack.configure(_allowing(pattern, ROLE_POLICY))


def test_config_entry_needs_a_reason_and_a_resource_type(pack: PolicyPack) -> None:
    with pytest.raises(PolicyPackError, match=POLICY):
        pack.configure({POLICY: {"allowedPatterns": {"kms:Re*": {"reason": "x" * 30}}}})


def test_unknown_inline_policy_does_not_hide_the_trust_policy(preview_pack: PolicyPack) -> None:
    trust = _document({**_allow("sts:Assume*"), "Principal": {"Service": "ec2.amazonaws.com"}})
    role = resource(
        ROLE,
        "role",
        {"assumeRolePolicy": trust, "inlinePolicies": [{"name": "x", "policy": UNKNOWN}]},
    )

    found = preview_pack.analyze(role, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(role.urn, found)
    assert POLICY in policies(found, "advisory"), explain(role.urn, found)


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
        pytest.param(
            _document(_open({"AWS": ["arn:aws:iam::111122223333:root", "*"]})), id="listed-star"
        ),
        pytest.param(
            _document(_open("*", Condition={"Bool": {"aws:SecureTransport": "true"}})),
            id="condition-that-confines-nothing",
        ),
        pytest.param(
            _document(
                {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}
            ),
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
        # Found by the second red-team pass: ForAllValues holds when the request has no such
        # key at all, as a direct call from another account has none.
        pytest.param(
            _document(
                _open("*", Condition={"ForAllValues:StringEquals": {"aws:SourceAccount": ACCOUNT}})
            ),
            id="for-all-values",
        ),
        pytest.param(
            _document(
                _open("*", Condition={"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}})
            ),
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
            _document(_open("*", Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})),
            id="source-account",
        ),
        pytest.param(
            _document(
                _open(
                    {"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": ORGANISATION}}
                )
            ),
            id="org",
        ),
        pytest.param(_document({**_open("*"), "Effect": "Deny"}), id="deny"),
        pytest.param(_document(_open({"Service": "cloudwatch.amazonaws.com"})), id="service"),
    ],
)
def test_named_or_confined_principal_passes(pack: PolicyPack, document: str) -> None:
    # The organisation must be the stack's, or principals-in-stack-accounts objects.
    pack.configure({"principals-in-stack-accounts": {"stackOrganizations": [ORGANISATION]}})
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
                {"keyId": "k", "policy": _document(_open("*", Action="kms:Decrypt"))},
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
WORKER_NODE = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
ALLOWED = {
    ADMIN: {
        "allowedAwsManagedPolicies": {
            "AmazonEKSWorkerNodePolicy": "nodes join the cluster with it, as EKS documents",
            # An allow-list entry can't let an admin-equivalent policy through.
            "AdministratorAccess-Amplify": "an entry that must change nothing",
        }
    }
}


EC2_TRUST = _document(
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
)


def _attachments(arn: str) -> list[ResourceRecord]:
    """Every shape that attaches a managed policy, each attaching `arn`."""
    exclusive = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
    return [
        resource(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "a",
            {"role": "r", "policyArn": arn},
        ),
        resource(
            "aws:iam/userPolicyAttachment:UserPolicyAttachment",
            "u",
            {"user": "u", "policyArn": arn},
        ),
        resource(
            "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
            "g",
            {"group": "g", "policyArn": arn},
        ),
        resource(
            "aws:iam/policyAttachment:PolicyAttachment", "pa", {"roles": ["r"], "policyArn": arn}
        ),
        resource(exclusive, "x", {"roleName": "r", "policyArns": [WORKER_NODE, arn]}),
        resource(ROLE, "r", {"assumeRolePolicy": EC2_TRUST, "managedPolicyArns": [arn]}),
    ]


ATTACHMENTS = ["role", "user", "group", "policy-attachment", "role-exclusive", "role-managed-arns"]


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(ADMINISTRATOR, id="administrator"),
        pytest.param("arn:aws:iam::aws:policy/PowerUserAccess", id="power-user"),
        pytest.param("arn:aws:iam::aws:policy/IAMFullAccess", id="iam-full-access"),
        pytest.param("arn:aws:iam::aws:policy/AmazonS3FullAccess", id="service-full-access"),
        # Found by the red-team review: admin in other names, and every job-function policy.
        pytest.param("arn:aws:iam::aws:policy/AdministratorAccess-Amplify", id="amplify-admin"),
        pytest.param(
            "arn:aws:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk", id="beanstalk-admin"
        ),
        pytest.param("arn:aws:iam::aws:policy/job-function/SystemAdministrator", id="sysadmin"),
        pytest.param("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", id="job-function"),
        pytest.param("arn:aws:iam::aws:policy/AWSOrganizationsFullAccess", id="organizations"),
        pytest.param("arn:aws:iam::aws:policy/CloudWatchFullAccessV2", id="full-access-v2"),
        pytest.param(
            "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser", id="service-power-user"
        ),
        pytest.param("arn:aws-cn:iam::aws:policy/AdministratorAccess", id="other-partition"),
        pytest.param(" arn:aws:iam::aws:policy/administratoraccess", id="padded-lower-case"),
        # Not admin, but no one has allowed it.
        pytest.param("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", id="not-allow-listed"),
        pytest.param("arn:aws:iam::aws:policy/service-role/AmazonEKSWorkerNodePolicy", id="path"),
    ],
)
@pytest.mark.parametrize("holder", range(len(ATTACHMENTS)), ids=ATTACHMENTS)
def test_unlisted_or_admin_managed_policy_is_blocked(
    pack: PolicyPack, arn: str, holder: int
) -> None:
    pack.configure(ALLOWED)
    record = _attachments(arn)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [ADMIN], explain(record.urn, found)


@pytest.mark.parametrize("holder", range(len(ATTACHMENTS)), ids=ATTACHMENTS)
def test_allow_listed_managed_policy_passes(pack: PolicyPack, holder: int) -> None:
    pack.configure(ALLOWED)
    record = _attachments(WORKER_NODE)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


def test_no_managed_policy_passes_without_config(pack: PolicyPack) -> None:
    record = _attachments(WORKER_NODE)[0]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [ADMIN], explain(record.urn, found)


def test_allow_list_needs_a_reason(pack: PolicyPack) -> None:
    with pytest.raises(PolicyPackError, match=ADMIN):
        pack.configure({ADMIN: {"allowedAwsManagedPolicies": {"AmazonEKSWorkerNodePolicy": ""}}})


# --- iam-managed-policy-declared -------------------------------------------------------------

DECLARED = "iam-managed-policy-declared"
STACK_POLICY_ARN = "arn:aws:iam::111122223333:policy/matching-karpenter"
FOREIGN_ARN = "arn:aws:iam::111122223333:policy/break-glass-star-star"
STACK_POLICY = resource(
    "aws:iam/policy:Policy",
    "karpenter",
    {"policy": _document(_allow("sqs:ReceiveMessage"))},
    cloud_id=STACK_POLICY_ARN,
    computed={"arn": STACK_POLICY_ARN},
)


def _attached(arn: str, holder: int, *, linked: bool) -> ResourceRecord:
    record = _attachments(arn)[holder]
    key = next(k for k in ("policyArn", "policyArns", "managedPolicyArns") if k in record.inputs)
    if not linked:
        return record
    return resource(record.type, record.name, record.inputs, links={key: [STACK_POLICY]})


@pytest.mark.parametrize("linked", [True, False], ids=["by-dependency", "by-arn"])
@pytest.mark.parametrize("holder", range(len(ATTACHMENTS)), ids=ATTACHMENTS)
def test_policy_of_this_stack_passes(
    judge: Judge, pack: PolicyPack, holder: int, linked: bool
) -> None:
    pack.configure(ALLOWED)
    record = _attached(STACK_POLICY_ARN, holder, linked=linked)

    found = judge([DEFAULT_PROVIDER, STACK_POLICY, record])

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    "arn",
    [
        # Found by the red-team review: a policy made elsewhere, whose document no one judges.
        pytest.param(FOREIGN_ARN, id="other-policy-same-account"),
        pytest.param("arn:aws:iam::444455556666:policy/shared", id="other-account"),
        pytest.param("matching-karpenter", id="not-an-arn"),
    ],
)
@pytest.mark.parametrize("holder", range(len(ATTACHMENTS)), ids=ATTACHMENTS)
def test_policy_from_elsewhere_is_blocked(
    judge: Judge, pack: PolicyPack, arn: str, holder: int
) -> None:
    pack.configure(ALLOWED)
    record = _attached(arn, holder, linked=False)

    found = judge([DEFAULT_PROVIDER, STACK_POLICY, record])

    assert policies(found) == [DECLARED], explain(record.urn, found)


def test_foreign_policy_beside_a_linked_one_is_blocked(judge: Judge) -> None:
    role = resource(
        ROLE,
        "r",
        {"assumeRolePolicy": EC2_TRUST, "managedPolicyArns": [STACK_POLICY_ARN, FOREIGN_ARN]},
        links={"managedPolicyArns": [STACK_POLICY]},
    )

    found = judge([DEFAULT_PROVIDER, STACK_POLICY, role])

    assert policies(found) == [DECLARED], explain(role.urn, found)


def test_policy_whose_arn_the_view_lacks_passes_through_its_dependency(judge: Judge) -> None:
    """A client's view of a policy may carry no `arn`: the dependency says whose ARN it is."""
    policy = resource(
        "aws:iam/policy:Policy", "karpenter", {"policy": STACK_POLICY.inputs["policy"]}
    )
    record = _attached(STACK_POLICY_ARN, 0, linked=False)
    record = resource(record.type, record.name, record.inputs, links={"policyArn": [policy]})

    found = judge([DEFAULT_PROVIDER, policy, record])

    assert found == [], explain(record.urn, found)


PREVIEW_POLICY = changed(STACK_POLICY, arn=UNKNOWN)


def test_unknown_arn_of_a_stack_policy_at_preview_passes(preview_pack: PolicyPack) -> None:
    record = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "a",
        {"role": "r", "policyArn": UNKNOWN},
        links={"policyArn": [PREVIEW_POLICY]},
    )

    found = preview_pack.check([DEFAULT_PROVIDER, PREVIEW_POLICY, record])

    assert DECLARED not in policies(found) + policies(found, "advisory"), explain(record.urn, found)


def test_unknown_arn_from_elsewhere_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    record = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "a",
        {"role": "r", "policyArn": UNKNOWN},
    )

    found = preview_pack.check([DEFAULT_PROVIDER, PREVIEW_POLICY, record])

    assert policies(found) == [], explain(record.urn, found)
    assert DECLARED in policies(found, "advisory"), explain(record.urn, found)


def test_foreign_literal_at_preview_is_blocked(preview_pack: PolicyPack) -> None:
    role = resource(
        ROLE,
        "r",
        {"assumeRolePolicy": EC2_TRUST, "managedPolicyArns": [UNKNOWN, FOREIGN_ARN]},
        links={"managedPolicyArns": [PREVIEW_POLICY]},
    )

    found = preview_pack.check([DEFAULT_PROVIDER, PREVIEW_POLICY, role])

    assert DECLARED in policies(found), explain(role.urn, found)
