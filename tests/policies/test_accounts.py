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
        # Found by the red-team review: resources that take a resource policy inline, and
        # policy resources of other services, which no policy used to read.
        *(resource(token, f"inline-{i}", {key: document}) for i, (token, key) in enumerate(INLINE)),
    ]


INLINE = [
    ("aws:secretsmanager/secret:Secret", "policy"),
    ("aws:s3/bucket:Bucket", "policy"),
    ("aws:s3/bucketV2:BucketV2", "policy"),
    ("aws:kms/replicaKey:ReplicaKey", "policy"),
    ("aws:ecr/registryPolicy:RegistryPolicy", "policy"),
    ("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyDocument"),
    ("aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy", "accessPolicy"),
    ("aws:efs/fileSystemPolicy:FileSystemPolicy", "policy"),
    ("aws:backup/vaultPolicy:VaultPolicy", "policy"),
    ("aws:dynamodb/resourcePolicy:ResourcePolicy", "policy"),
]
HOLDERS = [
    "key",
    "key-policy",
    "queue-policy",
    "topic-policy",
    "bucket-policy",
    "secret",
    "trust",
    *(token.rsplit(":", 1)[1] for token, _ in INLINE),
]
ORGANISATION = "o-a1b2c3d4e5"


def _condition(operator: str, key: str, value: Any) -> dict[str, Any]:
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


# Found by the red-team review: callers admitted by pattern, by number or by organisation.
FOREIGN_CALLERS = [
    pytest.param(
        _grant("*", **_condition("StringEquals", "aws:SourceAccount", int(FOREIGN))),
        id="account-as-a-number",
    ),
    pytest.param(
        _grant("*", **_condition("StringEquals", "aws:SourceAccount", [int(FOREIGN)])),
        id="account-as-a-list-of-numbers",
    ),
    pytest.param(
        _grant("*", **_condition("StringLike", "aws:SourceAccount", "99999999999?")),
        id="account-pattern",
    ),
    pytest.param(
        _grant("*", **_condition("ForAnyValue:StringLike", "aws:PrincipalAccount", "9*")),
        id="account-prefix",
    ),
    pytest.param(
        _grant("*", **_condition("StringEquals", "aws:PrincipalOrgID", "o-stranger12")),
        id="foreign-organisation",
    ),
    pytest.param(
        _grant("*", **_condition("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", "o-x1/*")),
        id="foreign-organisation-path",
    ),
    pytest.param(
        _grant("*", **_condition("StringEqualsIfExists", "aws:SourceAccount", FOREIGN)),
        id="if-exists-admits-too",
    ),
]


@pytest.mark.parametrize("statement", FOREIGN_GRANTS + FOREIGN_CALLERS)
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
    pytest.param(
        _grant("*", **_condition("StringEquals", "aws:PrincipalOrgID", ORGANISATION)),
        id="own-organisation",
    ),
    # A negated operator names whom it keeps out; Null only asks whether a key is there.
    pytest.param(
        _grant({"AWS": ACCOUNT}, **_condition("StringNotEquals", "aws:SourceAccount", FOREIGN)),
        id="foreign-kept-out",
    ),
    pytest.param(
        _grant({"AWS": ACCOUNT}, **_condition("Null", "aws:SourceAccount", "false")),
        id="null-operator",
    ),
]


@pytest.mark.parametrize("statement", OWN_GRANTS)
@pytest.mark.parametrize("index", range(len(HOLDERS)), ids=HOLDERS)
def test_own_principal_passes(pack: PolicyPack, statement: dict[str, Any], index: int) -> None:
    record = _resource_holders(_document(statement))[index]
    pack.configure({POLICY: {"stackOrganizations": [ORGANISATION]}})

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

    pack.configure({POLICY: {"trustedAccounts": {ELB_LOGS: _trust(BUCKET_POLICY)}}})
    trusting = pack.analyze(record, DEFAULT_PROVIDER)
    # Found by the red-team review: trust in one place is not trust everywhere.
    key = _resource_holders(_document(_grant({"AWS": f"arn:aws:iam::{ELB_LOGS}:root"})))[1]
    elsewhere = pack.analyze(key, DEFAULT_PROVIDER)

    assert POLICY in policies(untrusted), explain(record.urn, untrusted)
    assert trusting == [], explain(record.urn, trusting)
    assert POLICY in policies(elsewhere), explain(key.urn, elsewhere)


BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def _trust(*types: str) -> dict[str, Any]:
    return {"reason": "Elastic Load Balancing log delivery", "resourceTypes": list(types)}


@pytest.mark.parametrize(
    "trusted",
    [
        pytest.param({"05467682092": _trust(BUCKET_POLICY)}, id="eleven-digits"),
        pytest.param({ELB_LOGS: {**_trust(BUCKET_POLICY), "reason": "logs"}}, id="short-reason"),
        pytest.param({"*": _trust(BUCKET_POLICY)}, id="any-account"),
        pytest.param({ELB_LOGS: _trust()}, id="no-resource-type"),
        pytest.param({ELB_LOGS: "Elastic Load Balancing log delivery"}, id="reason-only"),
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
    assert ["accessEntries.*.principalArn" in v.message for v in found] == [True], found
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


def _stranger(path: str) -> str:
    return f"arn:aws:{path.replace('ACCOUNT', FOREIGN)}"


# Found by the red-team review: grants, shares and deliveries written without a policy document.
FOREIGN_INPUTS = [
    pytest.param(
        "aws:kms/grant:Grant",
        {
            "keyId": "k",
            "operations": ["Decrypt"],
            "granteePrincipal": _stranger("iam::ACCOUNT:root"),
        },
        id="kms-grant",
    ),
    pytest.param(
        "aws:lambda/permission:Permission",
        {
            "action": "lambda:InvokeFunction",
            "function": "f",
            "principal": "*",
            "sourceAccount": FOREIGN,
        },
        id="lambda-source-account",
    ),
    pytest.param(
        "aws:lambda/permission:Permission",
        {
            "action": "lambda:InvokeFunction",
            "function": "f",
            "principal": "sns.amazonaws.com",
            "sourceArn": _stranger("sns:eu-central-1:ACCOUNT:alerts"),
        },
        id="lambda-source-arn",
    ),
    pytest.param(
        "aws:lambda/permission:Permission",
        {
            "action": "lambda:InvokeFunction",
            "function": "f",
            "principal": "*",
            "principalOrgId": "o-x1",
        },
        id="lambda-organisation",
    ),
    pytest.param(
        "aws:ram/principalAssociation:PrincipalAssociation",
        {"principal": FOREIGN, "resourceShareArn": "arn:aws:ram:eu-central-1:1:resource-share/x"},
        id="ram-share",
    ),
    pytest.param(
        "aws:ebs/snapshotCreateVolumePermission:SnapshotCreateVolumePermission",
        {"snapshotId": "snap-0", "accountId": FOREIGN},
        id="snapshot-share",
    ),
    pytest.param(
        "aws:ec2/amiLaunchPermission:AmiLaunchPermission",
        {"imageId": "ami-0", "group": "all"},
        id="ami-public",
    ),
    pytest.param(
        "aws:lambda/layerVersionPermission:LayerVersionPermission",
        {"action": "lambda:GetLayerVersion", "layerName": "x", "principal": FOREIGN},
        id="layer-share",
    ),
    pytest.param(
        "aws:ssm/document:Document",
        {"content": "{}", "permissions": {"type": "Share", "accountIds": f"{ACCOUNT},All"}},
        id="ssm-document-public",
    ),
    pytest.param(
        "aws:sns/topicSubscription:TopicSubscription",
        {"topic": "t", "protocol": "sqs", "endpoint": _stranger("sqs:eu-central-1:ACCOUNT:q")},
        id="subscription-elsewhere",
    ),
    pytest.param(
        "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
        {"logGroup": "g", "destinationArn": _stranger("logs:eu-central-1:ACCOUNT:destination:d")},
        id="log-subscription-elsewhere",
    ),
    pytest.param(
        "aws:cloudwatch/eventTarget:EventTarget",
        {"rule": "r", "arn": _stranger("events:eu-central-1:ACCOUNT:event-bus/default")},
        id="event-target-elsewhere",
    ),
    pytest.param(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        {
            "bucket": "b",
            "rules": [{"destination": {"bucket": "arn:aws:s3:::x", "account": FOREIGN}}],
        },
        id="replication-elsewhere",
    ),
    pytest.param(
        "aws:ecr/replicationConfiguration:ReplicationConfiguration",
        {
            "replicationConfiguration": {
                "rules": [{"destinations": [{"region": "eu-west-1", "registryId": FOREIGN}]}]
            }
        },
        id="image-replication-elsewhere",
    ),
    # Found by the second red-team pass: types the tables first left out.
    pytest.param(
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
        {"vpcId": "vpc-1", "peerVpcId": "vpc-2", "peerOwnerId": FOREIGN},
        id="peering-elsewhere",
    ),
    pytest.param(
        "aws:rds/snapshot:Snapshot",
        {"dbInstanceIdentifier": "db", "dbSnapshotIdentifier": "s", "sharedAccounts": [FOREIGN]},
        id="db-snapshot-share",
    ),
    pytest.param(
        "aws:oam/link:Link",
        {
            "labelTemplate": "$AccountName",
            "sinkIdentifier": _stranger("oam:eu-central-1:ACCOUNT:sink/a"),
        },
        id="observability-link-elsewhere",
    ),
    pytest.param(
        "aws:cloudwatch/eventPermission:EventPermission",
        {"principal": FOREIGN, "statementId": "p"},
        id="event-bus-permission",
    ),
    pytest.param(
        "aws:cloudwatch/eventTarget:EventTarget",
        {
            "rule": "r",
            "arn": f"arn:aws:sqs:eu-central-1:{ACCOUNT}:q",
            "deadLetterConfig": {"arn": _stranger("sqs:eu-central-1:ACCOUNT:dlq")},
        },
        id="event-dead-letters-elsewhere",
    ),
    pytest.param(
        "aws:ec2/vpcEndpointService:VpcEndpointService",
        {"acceptanceRequired": False, "allowedPrincipals": [_stranger("iam::ACCOUNT:root")]},
        id="endpoint-service-principal",
    ),
    pytest.param(
        "aws:ec2/vpcEndpointServiceAllowedPrinciple:VpcEndpointServiceAllowedPrinciple",
        {"vpcEndpointServiceId": "vpce-svc-1", "principalArn": _stranger("iam::ACCOUNT:root")},
        id="endpoint-service-allowed-principle",
    ),
    pytest.param(
        "aws:backup/plan:Plan",
        {
            "name": "p",
            "rules": [
                {
                    "ruleName": "r",
                    "copyActions": [
                        {
                            "destinationVaultArn": _stranger(
                                "backup:eu-central-1:ACCOUNT:backup-vault:dr"
                            )
                        }
                    ],
                }
            ],
        },
        id="backup-copy-elsewhere",
    ),
    pytest.param(
        "aws:kinesis/resourcePolicy:ResourcePolicy",
        {"resourceArn": "x", "policy": _document(_grant({"AWS": _stranger("iam::ACCOUNT:root")}))},
        id="stream-policy",
    ),
    pytest.param(
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        {"clusterName": "c", "roleArn": _stranger("iam::ACCOUNT:role/r")},
        id="pod-identity-elsewhere",
    ),
    pytest.param(
        "aws:eks/addon:Addon",
        {
            "clusterName": "c",
            "podIdentityAssociations": [{"roleArn": _stranger("iam::ACCOUNT:role/r")}],
        },
        id="addon-pod-identity-elsewhere",
    ),
]


@pytest.mark.parametrize(("token", "inputs"), FOREIGN_INPUTS)
def test_grant_share_or_delivery_elsewhere_is_blocked(
    pack: PolicyPack, token: str, inputs: dict[str, Any]
) -> None:
    record = resource(token, "out", inputs)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    "mapping",
    [
        pytest.param({"roleMappings": [{"roleArn": _stranger("iam::ACCOUNT:role/r")}]}, id="role"),
        pytest.param({"userMappings": [{"userArn": _stranger("iam::ACCOUNT:user/u")}]}, id="user"),
    ],
)
def test_eks_component_aws_auth_mapping_elsewhere_is_blocked(
    pack: PolicyPack, mapping: dict[str, Any]
) -> None:
    record = resource("eks:index:Cluster", "eks", mapping, via=_eks_provider(), custom=False)

    pack.configure({POLICY: {"stackAccounts": [ACCOUNT]}})

    assert _mine(pack.analyze(record, _eks_provider())) != [], record.urn


@pytest.mark.parametrize(
    "principal", ["alexa-appkit.amazon.com", "sns.amazonaws.com", f"arn:aws:iam::{ACCOUNT}:root"]
)
def test_lambda_permission_for_a_service_or_ourselves_passes(
    pack: PolicyPack, principal: str
) -> None:
    """Found by the red-team review: service principals outside amazonaws.com were blocked."""
    inputs = {"action": "lambda:InvokeFunction", "function": "f", "principal": principal}
    record = resource("aws:lambda/permission:Permission", "invoke", inputs)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY not in policies(found), explain(record.urn, found)


def _provider_with(**inputs: Any) -> ResourceRecord:
    base = provider("explicit")
    return dataclasses.replace(base, inputs={**base.inputs, **inputs})


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({"allowedAccountIds": [FOREIGN]}, "may deploy into", id="pinned-elsewhere"),
        pytest.param(
            {"assumeRoles": [{"roleArn": _stranger("iam::ACCOUNT:role/deployer")}]},
            "assumes",
            id="assumes-a-role-elsewhere",
        ),
        pytest.param({"allowedAccountIds": []}, "sets no allowedAccountIds", id="unpinned"),
    ],
)
def test_provider_deploying_elsewhere_is_blocked(
    pack: PolicyPack, inputs: dict[str, Any], message: str
) -> None:
    """Found by the red-team review: a provider pinned to another account deployed there with
    no verdict, whatever it created."""
    record = _provider_with(**inputs)
    own = _provider_with(assumeRoles=[{"roleArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"}])

    pack.configure({POLICY: {"stackAccounts": [ACCOUNT]}})
    found = _mine(pack.analyze(record))

    assert [message in v.message for v in found] == [True], found
    assert _mine(pack.analyze(own)) == [], own.urn


def test_unknown_inline_policy_leaves_a_certain_trust_verdict(preview_pack: PolicyPack) -> None:
    """Found by the red-team review: one unknown place hid what was certain at another."""
    trust = _document(_grant({"AWS": f"arn:aws:iam::{FOREIGN}:root"}))
    inline = [{"name": "later", "policy": UNKNOWN}]
    record = resource(ROLE, "role", {"assumeRolePolicy": trust, "inlinePolicies": inline})

    found = preview_pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            dataclasses.replace(
                provider("native", accounts=()),
                type="pulumi:providers:aws-native",
                urn=urn("pulumi:providers:aws-native", "native"),
            ),
            id="provider",
        ),
        pytest.param(
            resource(
                "aws-native:sqs:QueuePolicy",
                "jobs",
                {"queues": ["q"], "policyDocument": {"Statement": [_grant({"AWS": FOREIGN})]}},
            ),
            id="queue-policy",
        ),
    ],
)
def test_aws_native_is_refused_whole(pack: PolicyPack, record: ResourceRecord) -> None:
    """Found by the second red-team pass: no policy reads aws-native tokens or its provider."""
    found = pack.analyze(record)

    assert "aws-native-forbidden" in policies(found), explain(record.urn, found)
