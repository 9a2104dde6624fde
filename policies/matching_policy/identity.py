"""IAM: no document grants every action, and no resource policy lets anyone in.

Documents reach the engine as JSON strings. A grant is as broad through `NotAction` (allow
everything except a few) as through a wildcard, so an allowing statement with `NotAction` is
reported too. A document that is not valid JSON can't be judged and is reported as such.

Resource policies (a queue's, a topic's, a key's, a bucket's, a role's trust policy) name who
may act; a principal of `*` means every AWS account unless a condition pins the caller down.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items, texts

# Types whose `policy` input is one document.
DOCUMENT_TYPES = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
ROLE = "aws:iam/role:Role"
# Types whose `policy` input is a resource policy; a role's is its `assumeRolePolicy`.
RESOURCE_POLICY_TYPES = frozenset(
    {
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sqs/queue:Queue",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topic:Topic",
        "aws:kms/key:Key",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "aws:secretsmanager/secretPolicy:SecretPolicy",
    }
)
# Condition keys that confine a `*` principal to callers of ours (compared lower-case).
CONFINING_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "kms:calleraccount",
    }
)
_WILDCARD = re.compile(r"^(\*|[a-z0-9-]+:\*)$", re.IGNORECASE)

IAM_WILDCARD_EXAMPLE = """\
aws.iam.RolePolicy("workers", role=role.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": queue_arn}]}))
"""


def documents(token: str, props: Any) -> list[tuple[str, object]]:
    """Each policy document of a resource, with where it sits."""
    if token in DOCUMENT_TYPES:
        return [("policy", get(props, "policy"))]
    if token == ROLE:
        return [
            (f"inlinePolicies[{i}] {get(p, 'name')!r}", get(p, "policy"))
            for i, p in enumerate(items(get(props, "inlinePolicies")))
        ]
    return []


def parse_statements(document: object) -> list[Mapping[str, Any]] | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return None
    if not isinstance(document, Mapping):
        return None

    statement = cast(Mapping[str, Any], document).get("Statement")
    found: list[Any] = [statement] if isinstance(statement, Mapping) else items(statement)
    return [cast(Mapping[str, Any], s) for s in found if isinstance(s, Mapping)]


def _broad_grants(statements: list[Mapping[str, Any]]) -> list[str]:
    found: list[str] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        found += [f'"Action": "{a}"' for a in texts(statement.get("Action")) if _WILDCARD.match(a)]
        if "NotAction" in statement:
            found.append(f'"NotAction": {json.dumps(statement["NotAction"])}')
    return found


def _check_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for where, document in documents(args.resource_type, args.props):
        if document is None:
            continue

        statements = parse_statements(document)
        subject = f"{where} of '{args.name}' ({args.urn})"
        if statements is None:
            report(f"{subject} is not a JSON policy document, so it can't be checked", None)
            continue

        for grant in _broad_grants(statements):
            report(f"{subject} allows {grant}", None)


IAM_NO_WILDCARD_ACTIONS = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description='No IAM policy document allows "*", "service:*" or NotAction: grant named '
    "actions only.",
    validate=_check_wildcards,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

# --- resource-policy-no-public-principal ----------------------------------------------------

PUBLIC_PRINCIPAL_EXAMPLE = """\
aws.sqs.QueuePolicy("jobs", queue_url=queue.url, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                   "Resource": queue.arn}]}))
"""


def _resource_policy(token: str, props: Any) -> tuple[str, object] | None:
    if token in RESOURCE_POLICY_TYPES:
        return "policy", get(props, "policy")
    if token == ROLE:
        return "assumeRolePolicy", get(props, "assumeRolePolicy")
    return None


def _is_public(principal: object) -> bool:
    if principal == "*":
        return True
    return "*" in texts(get(principal, "AWS"))


def _is_confined(statement: Mapping[str, Any]) -> bool:
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return False
    keys = (key for block in cast(Mapping[str, Any], conditions).values() for key in _keys(block))
    return any(key.lower() in CONFINING_KEYS for key in keys)


def _keys(block: object) -> list[str]:
    return [str(k) for k in cast(Mapping[str, Any], block)] if isinstance(block, Mapping) else []


def _public_grants(statements: list[Mapping[str, Any]]) -> list[str]:
    found: list[str] = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow" or _is_confined(statement):
            continue
        if "NotPrincipal" in statement:
            found.append(f"statement {index} allows everyone but {statement['NotPrincipal']}")
        elif _is_public(statement.get("Principal")):
            found.append(f"statement {index} allows any principal, with no confining condition")
    return found


def _check_public_principal(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = _resource_policy(args.resource_type, args.props)
    if found is None or found[1] is None:
        return

    where, document = found
    statements = parse_statements(document)
    subject = f"{where} of '{args.name}' ({args.urn})"
    if statements is None:
        report(f"{subject} is not a JSON policy document, so it can't be checked", None)
        return

    for grant in _public_grants(statements):
        report(f"{subject}: {grant}", None)


RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL = ResourceValidationPolicy(
    name="resource-policy-no-public-principal",
    description='No resource policy or trust policy allows Principal "*" (or NotPrincipal) '
    "unless a condition confines it to our account, organisation, source or VPC endpoint.",
    validate=_check_public_principal,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Name the principals, or add an aws:SourceAccount / aws:PrincipalOrgID "
    "condition.",
)

POLICIES = [IAM_NO_WILDCARD_ACTIONS, RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL]
