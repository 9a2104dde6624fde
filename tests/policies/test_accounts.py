"""principals-in-stack-accounts: nothing a policy names may belong to somebody else's account."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tests.policies.builders import ACCOUNT, DEFAULT_PROVIDER, UNKNOWN, provider, resource, urn
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, PolicyPackError
from tools.records import ResourceRecord, Violation

POLICY = "principals-in-stack-accounts"
FOREIGN = "999999999999"
# Elastic Load Balancing's log delivery account in eu-central-1.
ELB_LOGS = "054676820928"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _grant(principal: Any, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt"}
    return {**statement, "Resource": "*", **extra}


def _resource_holders(document: str) -> list[ResourceRecord]:
    """Every place a resource policy can sit, a role's trust policy among them."""
    return [
        resource("aws:kms/key:Key", "key", {"policy": document}),
        resource("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": document}),
        resource("aws:sqs/queuePolicy:QueuePolicy", "qp", {"queueUrl": "q", "policy": document}),
        resource("aws:sns/topicPolicy:TopicPolicy", "tp", {"arn": "t", "policy": document}),
        resource("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": document}),
        resource(
            "aws:secretsmanager/secretPolicy:SecretPolicy",
            "sp",
            {"secretArn": "s", "policy": document},
        ),
        resource(ROLE, "trusting", {"assumeRolePolicy": document}),
    ]


HOLDERS = ["key", "key-policy", "queue-policy", "topic-policy", "bucket-policy", "secret", "trust"]


def _condition(operator: str, key: str, value: str) -> dict[str, Any]:
    return {"Condition": {operator: {key: value}}}


FOREIGN_GRANTS = [
    pytest.param(_grant({"AWS": f"arn:aws:iam::{FOREIGN}:root"}), id="foreign-root"),
    pytest.param(_grant({"AWS": FOREIGN}), id="bare-account-id"),
    pytest.param(_grant(f"arn:aws:iam::{FOREIGN}:root"), id="principal-as-string"),
    pytest.param(_grant({"AWS": f"arn:aws:iam::{FOREIGN}:role/reader"}), id="foreign-role"),
    pytest.param(
        _grant({"AWS": f"arn:aws:sts::{FOREIGN}:assumed-role/reader/session"}), id="sts-session"
    ),
    pytest.param(
        _grant({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f" arn:aws:iam::{FOREIGN}:root "]}),
        id="second-in-a-list-padded",
    ),
    pytest.param(
        _grant({"AWS": f"arn:aws-eu-gov:iam::{FOREIGN}:root"}), id="other-partition-spelling"
    ),
    pytest.param(
        _grant({"Federated": f"arn:aws:iam::{FOREIGN}:oidc-provider/token.example.org"}),
        id="foreign-oidc-provider",
    ),
    pytest.param(_grant({"Federated": "accounts.google.com"}), id="web-identity-provider"),
    pytest.param(_grant({"CanonicalUser": "79a59df900b949e55d96a1e698fbace"}), id="canonical"),
    pytest.param(
        _grant("*", **_condition("StringEquals", "aws:SourceAccount", FOREIGN)),
        id="star-confined-to-a-foreign-account",
    ),
    pytest.param(
        _grant("*", **_condition("StringEquals", "kms:CallerAccount", FOREIGN)),
        id="star-confined-to-a-foreign-caller",
    ),
    pytest.param(
        _grant("*", **_condition("ArnLike", "aws:SourceArn", f"arn:aws:sns:*:{FOREIGN}:alerts")),
        id="star-confined-to-a-foreign-arn",
    ),
    pytest.param(
        _grant("*", **_condition("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/reader")),
        id="star-confined-to-any-account",
    ),
    pytest.param(
        _grant(
            {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            **_condition("StringEquals", "AWS:SourceOwner", FOREIGN),
        ),
        id="condition-key-in-other-case",
    ),
]


@pytest.mark.parametrize("statement", FOREIGN_GRANTS)
@pytest.mark.parametrize("index", range(len(HOLDERS)), ids=HOLDERS)
def test_foreign_principal_is_blocked(
    pack: PolicyPack, statement: dict[str, Any], index: int
) -> None:
    record = _resource_holders(_document(statement))[index]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found), explain(record.urn, found)


OWN_GRANTS = [
    pytest.param(_grant({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), id="own-root"),
    pytest.param(_grant({"AWS": ACCOUNT}), id="own-bare-id"),
    pytest.param(_grant({"Service": "logs.eu-central-1.amazonaws.com"}), id="service"),
    pytest.param(
        _grant("*", **_condition("StringEquals", "aws:SourceAccount", ACCOUNT)),
        id="star-confined-to-us",
    ),
    pytest.param(
        _grant({"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.amazonaws.com"}),
        id="own-oidc-provider",
    ),
    pytest.param(
        {**_grant({"AWS": f"arn:aws:iam::{FOREIGN}:root"}), "Effect": "Deny"}, id="deny-foreign"
    ),
]


@pytest.mark.parametrize("statement", OWN_GRANTS)
@pytest.mark.parametrize("index", range(len(HOLDERS)), ids=HOLDERS)
def test_own_principal_passes(pack: PolicyPack, statement: dict[str, Any], index: int) -> None:
    record = _resource_holders(_document(statement))[index]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY not in policies(found), explain(record.urn, found)


def _identity(resource_arn: str) -> ResourceRecord:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource_arn}
    return resource(ROLE_POLICY, "assume", {"role": "r", "policy": _document(statement)})


def test_identity_policy_reaching_into_a_foreign_account_is_blocked(pack: PolicyPack) -> None:
    record = _identity(f"arn:aws:iam::{FOREIGN}:role/exporter")

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(f"arn:aws:iam::{ACCOUNT}:role/exporter", id="own-role"),
        pytest.param("arn:aws:s3:::matching-results/*", id="bucket-without-account"),
        # A wildcarded account is iam-no-wildcard-resource's to judge, not this policy's.
        pytest.param("arn:aws:sqs:eu-central-1:*:jobs", id="wildcarded-account"),
    ],
)
def test_identity_policy_within_the_stack_passes_this_policy(pack: PolicyPack, arn: str) -> None:
    record = _identity(arn)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY not in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    ("token", "inputs"),
    [
        pytest.param(
            "aws:eks/accessEntry:AccessEntry",
            {"clusterName": "c", "principalArn": f"arn:aws:iam::{FOREIGN}:role/admin"},
            id="access-entry",
        ),
        pytest.param(
            "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
            {
                "clusterName": "c",
                "principalArn": f"arn:aws:iam::{FOREIGN}:role/admin",
                "policyArn": CLUSTER_ADMIN,
            },
            id="access-policy-association",
        ),
        pytest.param(
            "aws:lambda/permission:Permission",
            {"action": "lambda:InvokeFunction", "function": "f", "principal": FOREIGN},
            id="lambda-permission",
        ),
    ],
)
def test_principal_input_of_a_foreign_account_is_blocked(
    pack: PolicyPack, token: str, inputs: dict[str, Any]
) -> None:
    record = resource(token, "grant", inputs)
    own = resource(token, "own", {**inputs, "principalArn": f"arn:aws:iam::{ACCOUNT}:role/admin"})

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found), explain(record.urn, found)
    if "principalArn" in inputs:
        assert POLICY not in policies(pack.analyze(own, DEFAULT_PROVIDER)), own.urn


def _log_delivery() -> ResourceRecord:
    statement = {**_grant({"AWS": f"arn:aws:iam::{ELB_LOGS}:root"}), "Action": "s3:PutObject"}
    return resource("aws:s3/bucketPolicy:BucketPolicy", "logs", {"policy": _document(statement)})


def test_aws_service_account_passes_only_where_the_config_trusts_it(pack: PolicyPack) -> None:
    record = _log_delivery()
    untrusted = pack.analyze(record, DEFAULT_PROVIDER)

    pack.configure({POLICY: {"trustedAccounts": {ELB_LOGS: "Elastic Load Balancing log delivery"}}})

    assert POLICY in policies(untrusted), explain(record.urn, untrusted)
    assert pack.analyze(record, DEFAULT_PROVIDER) == [], record.urn


@pytest.mark.parametrize(
    "trusted",
    [
        pytest.param({"05467682092": "Elastic Load Balancing log delivery"}, id="eleven-digits"),
        pytest.param({ELB_LOGS: "logs"}, id="reason-too-short"),
        pytest.param({"*": "Elastic Load Balancing log delivery"}, id="any-account"),
    ],
)
def test_config_trusts_named_accounts_with_reasons(pack: PolicyPack, trusted: Any) -> None:
    with pytest.raises(PolicyPackError, match=POLICY):
        pack.configure({POLICY: {"trustedAccounts": trusted}})


def test_provider_pinned_to_no_account_is_blocked(pack: PolicyPack) -> None:
    unpinned = provider("unpinned", accounts=())
    document = _document(_grant({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    record = resource(
        "aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": document}, via=unpinned
    )

    found = pack.analyze(record, unpinned)

    assert policies(found) == [POLICY], explain(record.urn, found)
    assert "allowedAccountIds" in found[0].message


def test_provider_setting_as_json_text_is_read(pack: PolicyPack) -> None:
    """The engine may pass a list-valued provider setting as its JSON text."""
    pinned = provider("json", accounts=())
    pinned.inputs["allowedAccountIds"] = json.dumps([ACCOUNT])
    own = _resource_holders(_document(_grant({"AWS": ACCOUNT})))[0]
    foreign = _resource_holders(_document(_grant({"AWS": FOREIGN})))[0]

    assert POLICY not in policies(pack.analyze(own, pinned)), own.urn
    assert POLICY in policies(pack.analyze(foreign, pinned)), foreign.urn


def test_unknown_document_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    record = resource("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": UNKNOWN})

    found = preview_pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found, "advisory"), explain(record.urn, found)


def _eks_provider() -> ResourceRecord:
    token = "pulumi:providers:eks"
    unpinned = provider("eks", region=None, accounts=())
    return dataclasses.replace(unpinned, type=token, urn=urn(token, "eks"))


def _eks_cluster(principal: str) -> ResourceRecord:
    entry = {
        "principalArn": principal,
        "accessPolicies": {
            "admin": {"policyArn": CLUSTER_ADMIN, "accessScope": {"type": "cluster"}}
        },
    }
    return resource(
        "eks:index:Cluster",
        "eks",
        {"accessEntries": {"admin-0": entry}},
        via=_eks_provider(),
        custom=False,
    )


def test_eks_component_access_entries_are_judged_against_the_stack_accounts(
    pack: PolicyPack,
) -> None:
    foreign = _eks_cluster(f"arn:aws:iam::{FOREIGN}:role/admin")
    own = _eks_cluster(f"arn:aws:iam::{ACCOUNT}:role/admin")
    unconfigured = _mine(pack.analyze(own, _eks_provider()))

    pack.configure({POLICY: {"stackAccounts": [ACCOUNT]}})
    found = _mine(pack.analyze(foreign, _eks_provider()))

    # The component's provider pins no account: without stackAccounts nothing is "ours".
    assert ["stackAccounts" in v.message for v in unconfigured] == [True], unconfigured
    assert ["accessEntries.admin-0" in v.message for v in found] == [True], found
    assert _mine(pack.analyze(own, _eks_provider())) == [], own.urn


def _mine(found: list[Violation]) -> list[Violation]:
    """This policy's verdicts only: a bare cluster breaks the cluster policies too."""
    return [v for v in found if v.policy == POLICY]


def test_configured_stack_accounts_outrank_the_provider_pin(pack: PolicyPack) -> None:
    """The policy config is the reviewer's word; the provider's pin is the program's."""
    record = _resource_holders(_document(_grant({"AWS": ACCOUNT})))[1]

    pack.configure({POLICY: {"stackAccounts": [FOREIGN]}})
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize(
    "accounts",
    [
        pytest.param(["11112222333"], id="eleven-digits"),
        pytest.param(["*"], id="any-account"),
        pytest.param(ACCOUNT, id="not-a-list"),
    ],
)
def test_config_stack_accounts_are_account_ids(pack: PolicyPack, accounts: Any) -> None:
    with pytest.raises(PolicyPackError, match=POLICY):
        pack.configure({POLICY: {"stackAccounts": accounts}})
