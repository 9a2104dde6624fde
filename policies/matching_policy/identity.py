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
        "aws:kms/keyPolicy:KeyPolicy",
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
# Positive operators whose concrete values pin a condition key down; `Not…`, `Null` and
# `IfExists` forms, and values that are only wildcards, leave a `*` principal open.
CONFINING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
)
_GLOB_ONLY = re.compile(r"[*?]*")


def _is_broad(action: str) -> bool:
    """Every action, or every action of a service: `*`, `s3:*`, `iam:**`, `s3:?*`, `*:Get*`."""
    service, _, verb = action.strip().partition(":")
    if not verb:
        return "*" in service and bool(_GLOB_ONLY.fullmatch(service))
    return "*" in service or "?" in service or ("*" in verb and bool(_GLOB_ONLY.fullmatch(verb)))


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
        found += [f'"Action": "{a}"' for a in texts(statement.get("Action")) if _is_broad(a)]
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
    """A positive condition on a caller key, with values that name somebody."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return False
    for operator, block in cast(Mapping[str, Any], conditions).items():
        if _operator(str(operator)) not in CONFINING_OPERATORS or not isinstance(block, Mapping):
            continue
        for key, values in cast(Mapping[str, Any], block).items():
            if str(key).lower() in CONFINING_KEYS and _concrete(values):
                return True
    return False


def _operator(operator: str) -> str:
    """`ForAnyValue:StringEquals` and `StringEquals` confine alike; `…IfExists` never does."""
    name = operator.rpartition(":")[2].lower()
    return "" if name.endswith("ifexists") else name


def _concrete(values: object) -> bool:
    found = texts(values)
    return bool(found) and not any(_GLOB_ONLY.fullmatch(v.strip()) for v in found)


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


LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
# Canned ACLs and grantee groups that open a bucket to every AWS account or to anyone.
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GRANTEES = ("/global/AllUsers", "/global/AuthenticatedUsers")


def _public_without_a_document(token: str, props: Any) -> list[str]:
    """Grants to everyone that are not written as a policy document: permissions and ACLs."""
    if token == LAMBDA_PERMISSION:
        principal = str(get(props, "principal") or "")
        pinned = any(get(props, key) for key in ("sourceAccount", "sourceArn", "principalOrgId"))
        return (
            [f"principal {principal!r} with no source"] if "*" in principal and not pinned else []
        )
    if token == BUCKET_ACL:
        acl = str(get(props, "acl") or "").strip().lower()
        grantees = [
            str(get(grant, "grantee", "uri") or "")
            for grant in items(get(props, "accessControlPolicy", "grants"))
        ]
        opened = [g for g in grantees if g.endswith(PUBLIC_GRANTEES)]
        return ([f"canned ACL {acl!r}"] if acl in PUBLIC_ACLS else []) + [
            f"a grant to {g}" for g in opened
        ]
    return []


def _check_public_principal(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for grant in _public_without_a_document(args.resource_type, args.props):
        report(f"'{args.name}' ({args.urn}) opens to everyone: {grant}", None)

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

# --- iam-no-admin-managed-policy -------------------------------------------------------------

ADMIN_POLICY_EXAMPLE = """\
aws.iam.RolePolicyAttachment("admin", role=role.name,
    policy_arn="arn:aws:iam::aws:policy/AdministratorAccess")
"""

# Where a managed policy is attached, and the input that names it.
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    ROLE: "managedPolicyArns",
    "aws:iam/user:User": "managedPolicyArns",
}
# AWS-managed policies that hand over an account, or a whole service, in one attachment.
ADMIN_POLICIES = frozenset({"administratoraccess", "poweruseraccess", "iamfullaccess"})


def _is_admin_policy(arn: str) -> bool:
    prefix, _, name = arn.strip().partition(":policy/")
    aws_managed = prefix.endswith(":iam::aws")
    name = name.rsplit("/", 1)[-1].lower()
    return aws_managed and (name in ADMIN_POLICIES or name.endswith("fullaccess"))


def _check_admin_policies(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = ATTACHMENTS.get(args.resource_type)
    if key is None:
        return

    for arn in texts(get(args.props, key)):
        if _is_admin_policy(arn):
            report(f"'{args.name}' ({args.urn}) attaches {arn}", None)


IAM_NO_ADMIN_MANAGED_POLICY = ResourceValidationPolicy(
    name="iam-no-admin-managed-policy",
    description="No role, user or group gets AdministratorAccess, PowerUserAccess, "
    "IAMFullAccess or any AWS-managed *FullAccess policy.",
    validate=_check_admin_policies,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Write a policy with the actions and resources the principal needs.",
)

POLICIES = [
    IAM_NO_WILDCARD_ACTIONS,
    RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL,
    IAM_NO_ADMIN_MANAGED_POLICY,
]
