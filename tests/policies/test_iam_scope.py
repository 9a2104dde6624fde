"""IAM scope: resources in this account and region, and one party per trust policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, changed, resource
from tests.policies.conftest import Judge
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, PolicyPackError
from tools.records import ResourceRecord

ROLE = "aws:iam/role:Role"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ROLE_ARN = "arn:aws:iam::111122223333:role/worker"
POD_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "pods.eks.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
}


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _role(*statements: dict[str, Any], name: str = "worker") -> ResourceRecord:
    trust = _document(*(statements or (POD_TRUST,)))
    return resource(ROLE, name, {"assumeRolePolicy": trust}, computed={"arn": ROLE_ARN})


ROLE_RECORD = _role()


def _binding(name: str = "worker", account: str = "worker", linked: bool = True) -> ResourceRecord:
    props = {
        "clusterName": "c",
        "namespace": "matching",
        "serviceAccount": account,
        "roleArn": ROLE_ARN,
    }
    links = {"roleArn": [ROLE_RECORD]} if linked else {}
    return resource(ASSOCIATION, name, props, links=links)


# --- iam-no-wildcard-resource ----------------------------------------------------------------


def _grant(action: Any, resource_: Any = "*", **extra: Any) -> ResourceRecord:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource_, **extra}
    props = {"role": "worker", "policy": _document(statement)}
    return resource("aws:iam/rolePolicy:RolePolicy", "grant", props)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            _grant(["ec2:DescribeSubnets", "elasticloadbalancing:DescribeTags"]), id="describe"
        ),
        pytest.param(_grant(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]), id="metrics"),
        pytest.param(_grant("pricing:GetProducts"), id="pricing"),
        pytest.param(_grant("sts:GetCallerIdentity"), id="caller"),
        pytest.param(
            _grant("sqs:ReceiveMessage", "arn:aws:sqs:eu-central-1:111122223333:jobs"), id="scoped"
        ),
        pytest.param(_grant("sqs:ReceiveMessage", Effect="Deny"), id="deny"),
    ],
)
def test_unscopable_or_scoped_grant_passes(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_grant("sqs:ReceiveMessage"), id="scopable-action"),
        pytest.param(_grant(["ec2:DescribeSubnets", "ssm:GetParameter"]), id="one-of-many"),
        pytest.param(_grant("s3:GetObject", ["arn:aws:s3:::b/*", "*"]), id="star-in-list"),
        pytest.param(
            resource(
                "aws:iam/rolePolicy:RolePolicy",
                "grant",
                {
                    "policy": _document(
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "NotResource": "arn:aws:s3:::secret/*",
                        }
                    )
                },
            ),
            id="not-resource",
        ),
        pytest.param(
            resource(
                ROLE,
                "inline",
                {
                    "assumeRolePolicy": _document(POD_TRUST),
                    "inlinePolicies": [
                        {
                            "name": "x",
                            "policy": _document(
                                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
                            ),
                        }
                    ],
                },
            ),
            id="role-inline-policy",
        ),
    ],
)
def test_wildcard_resource_is_blocked(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == ["iam-no-wildcard-resource"], explain(record.urn, found)


WIDE = "iam-no-wildcard-resource"


def _holders(resource_: str) -> list[ResourceRecord]:
    """Every identity-policy holder, granting one named action on `resource_`."""
    document = _document({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": resource_})
    return [
        resource("aws:iam/policy:Policy", "p", {"policy": document}),
        resource("aws:iam/rolePolicy:RolePolicy", "rp", {"role": "r", "policy": document}),
        resource("aws:iam/userPolicy:UserPolicy", "up", {"user": "u", "policy": document}),
        resource("aws:iam/groupPolicy:GroupPolicy", "gp", {"group": "g", "policy": document}),
        resource(
            ROLE,
            "role",
            {
                "assumeRolePolicy": _document(POD_TRUST),
                "inlinePolicies": [{"name": "x", "policy": document}],
            },
        ),
    ]


HOLDERS = ["policy", "role-policy", "user-policy", "group-policy", "role-inline"]


@pytest.mark.parametrize(
    "pattern",
    [
        # Found by the red-team review: every account's roles, queues and keys.
        pytest.param("arn:aws:iam::*:role/*", id="any-account"),
        pytest.param("arn:aws:sqs:*:*:*", id="any-queue-anywhere"),
        pytest.param("arn:aws:kms:*:*:key/*", id="any-key-anywhere"),
        pytest.param("arn:aws:sqs:eu-*:111122223333:jobs", id="partial-region"),
        pytest.param("arn:aws:sqs:eu-central-1:1111222233?3:jobs", id="partial-account"),
        pytest.param("arn:*:sqs:eu-central-1:111122223333:jobs", id="any-partition"),
        pytest.param("arn:aws:*:eu-central-1:111122223333:jobs", id="any-service"),
        pytest.param("arn:aws:sqs:eu-central-1:111122223333:*", id="whole-service"),
        pytest.param("arn:aws:s3:::*/*", id="every-bucket-objects"),
        pytest.param("arn:aws:s3:::matching-*/*", id="bucket-names-of-every-account"),
        pytest.param("arn:aws:sqs:*", id="not-a-whole-arn"),
        pytest.param("jobs*", id="not-an-arn"),
        pytest.param("**", id="double-star"),
        pytest.param(" * ", id="padded-star"),
        # Found by the second review: every role to pass, every user to mint keys for.
        pytest.param("arn:aws:iam::111122223333:role/*", id="every-role"),
        pytest.param("arn:aws:iam::111122223333:user/*", id="every-user"),
        pytest.param(
            "arn:aws:secretsmanager:eu-central-1:111122223333:secret:*", id="every-secret"
        ),
        pytest.param("arn:aws:kms:eu-central-1:111122223333:key/*", id="every-key"),
    ],
)
@pytest.mark.parametrize("holder", range(len(HOLDERS)), ids=HOLDERS)
def test_resource_pattern_beyond_this_account_is_blocked(
    pack: PolicyPack, pattern: str, holder: int
) -> None:
    record = _holders(pattern)[holder]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [WIDE], explain(record.urn, found)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("arn:aws:sqs:eu-central-1:111122223333:matching-*", id="named-prefix"),
        pytest.param("arn:aws:ec2:eu-central-1::image/*", id="aws-owned-images"),
        pytest.param("arn:aws:s3:::matching-logs/alb/*", id="objects-of-one-bucket"),
        pytest.param(
            "arn:aws:elasticloadbalancing:eu-central-1:111122223333:targetgroup/*/*",
            id="kind-named",
        ),
        pytest.param(
            "arn:aws:logs:eu-central-1:111122223333:log-group:/aws/vpc/flow-logs:*",
            id="log-streams",
        ),
        pytest.param("arn:aws:iam::111122223333:instance-profile/*", id="global-service"),
    ],
)
def test_resource_pattern_in_this_account_passes(pack: PolicyPack, pattern: str) -> None:
    for record in _holders(pattern):
        found = pack.analyze(record, DEFAULT_PROVIDER)

        assert found == [], explain(record.urn, found)


def test_not_action_on_star_is_blocked(pack: PolicyPack) -> None:
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    record = resource("aws:iam/rolePolicy:RolePolicy", "grant", {"policy": _document(statement)})

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert WIDE in policies(found), explain(record.urn, found)


PUBLIC_PARAMETERS = "arn:aws:ssm:eu-central-1:*:parameter/aws/service/*"


def _allowing(pattern: str, *types: str) -> dict[str, Any]:
    entry = {"reason": "AWS's public parameters carry no account", "resourceTypes": list(types)}
    return {WIDE: {"allowedPatterns": {pattern: entry}}}


def test_allow_listed_pattern_passes_where_the_config_allows_it(pack: PolicyPack) -> None:
    pack.configure(_allowing(PUBLIC_PARAMETERS, "aws:iam/policy:Policy"))
    allowed, elsewhere = _holders(PUBLIC_PARAMETERS)[:2]

    assert pack.analyze(allowed, DEFAULT_PROVIDER) == [], allowed.urn
    assert policies(pack.analyze(elsewhere, DEFAULT_PROVIDER)) == [WIDE], elsewhere.urn


def test_allow_list_is_exact(pack: PolicyPack) -> None:
    pack.configure(_allowing(PUBLIC_PARAMETERS, "aws:iam/policy:Policy"))
    record = _holders("arn:aws:ssm:eu-central-1:*:parameter/*")[0]

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [WIDE], explain(record.urn, found)


@pytest.mark.parametrize("pattern", ["*", "**", "jobs*"])
def test_config_allows_only_arns(pack: PolicyPack, pattern: str) -> None:
    """A lone "*" is judged by the list of actions AWS can't narrow, never by config."""
    with pytest.raises(PolicyPackError, match=WIDE):
        pack.configure(_allowing(pattern, "aws:iam/policy:Policy"))


def test_resource_policy_pattern_is_bounded_by_its_resource(pack: PolicyPack) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::*/*",
    }
    record = resource(
        "aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": _document(statement)}
    )

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert WIDE not in policies(found), explain(record.urn, found)


def test_key_policy_star_is_exempt(pack: PolicyPack) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    key = resource(
        "aws:kms/key:Key", "k", {"policy": _document(statement), "enableKeyRotation": True}
    )

    found = pack.analyze(key, DEFAULT_PROVIDER)

    assert "iam-no-wildcard-resource" not in policies(found), explain(key.urn, found)


def test_unknown_document_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    record = changed(_grant("sqs:ReceiveMessage"), policy=UNKNOWN)

    found = preview_pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [], explain(record.urn, found)
    assert "iam-no-wildcard-resource" in policies(found, "advisory"), explain(record.urn, found)


# --- iam-trust-scoped ------------------------------------------------------------------------


@pytest.mark.parametrize("linked", [True, False], ids=["by-dependency", "by-arn"])
def test_pod_identity_role_with_one_binding_passes(judge: Judge, linked: bool) -> None:
    found = judge([DEFAULT_PROVIDER, ROLE_RECORD, _binding(linked=linked)])

    assert found == [], explain(ROLE_RECORD.urn, found)


def test_addon_binding_passes(judge: Judge) -> None:
    entry = {"serviceAccount": "ebs-csi-controller-sa", "roleArn": ROLE_ARN}
    addon = resource(
        "aws:eks/addon:Addon",
        "ebs",
        {"addonName": "aws-ebs-csi-driver", "podIdentityAssociations": [entry]},
        links={"podIdentityAssociations": [ROLE_RECORD]},
    )

    found = judge([DEFAULT_PROVIDER, ROLE_RECORD, addon])

    assert found == [], explain(ROLE_RECORD.urn, found)


def test_service_role_passes(judge: Judge) -> None:
    role = _role(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
        name="nodes",
    )

    found = judge([DEFAULT_PROVIDER, role])

    assert found == [], explain(role.urn, found)


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([ROLE_RECORD], id="pod-identity-unbound"),
        pytest.param([ROLE_RECORD, _binding(), _binding("second", "default")], id="two-bindings"),
        pytest.param(
            [
                _role(POD_TRUST, {**POD_TRUST, "Principal": {"Service": "ec2.amazonaws.com"}}),
                _binding(),
            ],
            id="two-services",
        ),
        pytest.param(
            [
                _role(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                )
            ],
            id="service-list",
        ),
        pytest.param(
            [
                _role(
                    POD_TRUST,
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                        "Action": "sts:AssumeRole",
                    },
                ),
                _binding(),
            ],
            id="account-root",
        ),
        pytest.param(
            [
                _role(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "111122223333"},
                        "Action": "sts:AssumeRole",
                    }
                )
            ],
            id="bare-account-id",
        ),
    ],
)
def test_loose_trust_is_blocked(judge: Judge, records: list[ResourceRecord]) -> None:
    found = judge([DEFAULT_PROVIDER, *records])

    assert sorted(set(policies(found))) == ["iam-trust-scoped"], explain(records[0].urn, found)


def test_conditioned_account_principal_passes(judge: Judge) -> None:
    condition = {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/deployer"}}
    role = _role(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "sts:AssumeRole",
            "Condition": condition,
        },
        name="deploy",
    )

    found = judge([DEFAULT_PROVIDER, role])

    assert found == [], explain(role.urn, found)


def test_unknown_trust_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    role = changed(ROLE_RECORD, assumeRolePolicy=UNKNOWN)

    found = preview_pack.check([DEFAULT_PROVIDER, role, _binding()])

    assert policies(found) == [], explain(role.urn, found)
    assert "iam-trust-scoped" in policies(found, "advisory"), explain(role.urn, found)
