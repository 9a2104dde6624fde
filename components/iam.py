"""IAM policy documents built as JSON strings from typed statements.

`aws.iam.get_policy_document` is an invoke: the offline mocks cannot render it and a preview
shows it as unknown, so documents are assembled here with `json.dumps` instead. Statements whose
values are all plain strings give a plain `str`; statements that hold an ARN still to be known
(an `Output`) go through `policy_document_output`, which waits for those values first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict

import pulumi

VERSION = "2012-10-17"

# The EKS Pod Identity agent assumes roles as this service principal; it tags the session with
# the pod's namespace and service account, so the trust must allow `sts:TagSession` as well.
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"

OneOrMany = pulumi.Input[str] | Sequence[pulumi.Input[str]]


class Statement(TypedDict):
    """One IAM statement under its IAM key names, so the JSON reads like the AWS docs."""

    Effect: Literal["Allow", "Deny"]
    Action: OneOrMany
    Sid: NotRequired[str]
    Resource: NotRequired[OneOrMany]
    Principal: NotRequired[Mapping[str, OneOrMany]]
    Condition: NotRequired[Mapping[str, Mapping[str, OneOrMany]]]


def allow(
    actions: OneOrMany,
    resources: OneOrMany,
    *,
    sid: str | None = None,
    condition: Mapping[str, Mapping[str, OneOrMany]] | None = None,
) -> Statement:
    """An identity-policy `Allow` statement; actions and resources may be one or a list."""
    statement = Statement(Effect="Allow", Action=actions, Resource=resources)
    if sid is not None:
        statement["Sid"] = sid
    if condition is not None:
        statement["Condition"] = condition
    return statement


def policy_document(statements: Sequence[Statement]) -> str:
    """The policy as a JSON string; every value must be plain (use `policy_document_output`)."""
    return json.dumps(_document(statements), sort_keys=False)


def policy_document_output(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The policy as an `Output[str]`, resolving any `Output` (such as an ARN) it holds."""
    return pulumi.Output.json_dumps(_document(statements))


def assume_role_policy(service: str) -> str:
    """Trust policy that lets one AWS service principal (e.g. `ec2.amazonaws.com`) assume a role."""
    return policy_document(
        [Statement(Effect="Allow", Action="sts:AssumeRole", Principal={"Service": service})]
    )


def pod_identity_trust() -> str:
    """Trust policy for a role that EKS Pod Identity hands to a service account's pods."""
    return policy_document(
        [
            Statement(
                Sid="EksPodIdentity",
                Effect="Allow",
                Action=["sts:AssumeRole", "sts:TagSession"],
                Principal={"Service": POD_IDENTITY_PRINCIPAL},
            )
        ]
    )


def _document(statements: Sequence[Statement]) -> dict[str, Any]:
    if not statements:
        raise ValueError("an IAM policy needs at least one statement")
    for statement in statements:
        if "Resource" not in statement and "Principal" not in statement:
            raise ValueError(f"statement {statement.get('Sid', statement)} has no Resource")
    return {"Version": VERSION, "Statement": [dict(statement) for statement in statements]}
