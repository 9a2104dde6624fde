"""IAM scope: grants name their resources, and each role can be assumed by one party only.

`Resource: "*"` is allowed only for actions AWS offers no narrower resource for (the list below,
each group with why). Any other pattern says which account and region it reaches: an ARN's
partition, service, region and account fields hold no wildcard (an empty field is literal: S3's
account, IAM's region), and the first part of its resource (`role`, `key`, a queue's or bucket's
name) is more than a wildcard, and holds none where the account field is empty, since names there
(S3 buckets) are shared by every account. A pattern that must break this (AWS's public parameters
carry no account) is allowed only where the policy config allow-lists that exact ARN with a reason.
`NotResource` in an allowing statement grants everything but a few, and no config can allow it.

Only identity policies are judged here. A resource policy's resource is bounded by the resource
that holds it (AWS rejects a bucket policy naming another bucket; a key policy's "*" means the key
itself), so its wildcards reach no further than that resource.

A trust policy names exactly one service principal. A Pod Identity role trusts the EKS service
itself, so what keeps another workload out is the association: exactly one service account
may be bound to the role, through an `aws.eks.PodIdentityAssociation` or an EKS add-on's
`podIdentityAssociations`, both built from the role. An AWS account principal (the account
root) lets every identity of that account in that IAM allows, so it needs a condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from matching_policy._props import Verdicts, get, items, known_text, label, linked, texts
from matching_policy.identity import (
    DOCUMENT_TYPES,
    ROLE,
    WILDCARD,
    allow_list_schema,
    allowed_patterns,
    documents,
    parse_statements,
)

POD_IDENTITY = "pods.eks.amazonaws.com"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ADDON = "aws:eks/addon:Addon"
# Actions AWS gives no resource narrower than "*", by group (compared case-insensitively).
UNSCOPED_ACTIONS: dict[str, tuple[str, ...]] = {
    # EC2 and ELB reads list the account's regional inventory; most take no resource ARN.
    "inventory reads": ("ec2:Describe*", "elasticloadbalancing:Describe*"),
    # Metrics have no ARN; composite alarms are listed only with "*" (CloudWatch API reference).
    "metric reads": (
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "cloudwatch:DescribeAlarmsForMetric",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DescribeAlarmHistory",
    ),
    # Account-wide listings with no resource-level permission.
    "account listings": ("logs:DescribeLogGroups", "iam:ListInstanceProfiles", "tag:GetResources"),
    # The public price list belongs to no account.
    "price list": ("pricing:GetProducts", "pricing:DescribeServices", "pricing:GetAttributeValues"),
    # Caller and registry-token calls act on no resource at all.
    "caller": ("sts:GetCallerIdentity", "ecr:GetAuthorizationToken"),
}
_UNSCOPED = [a.lower() for group in UNSCOPED_ACTIONS.values() for a in group]
_ACCOUNT_PRINCIPAL = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:root|\d{12})$")
_GLOB_ONLY = re.compile(r"[*?]*")
_ARN_FIELDS = ("partition", "service", "region", "account")


# --- iam-no-wildcard-resource ----------------------------------------------------------------

IAM_WILDCARD_RESOURCE_EXAMPLE = """\
aws.iam.RolePolicy("worker", role=role.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage",
                   "Resource": "arn:aws:sqs:*:*:*"}]}))
"""


def _is_unscoped(action: str) -> bool:
    return any(fnmatchcase(action.strip().lower(), allowed) for allowed in _UNSCOPED)


def _pattern_problem(resource: str) -> str | None:
    """Why a resource other than a lone "*" reaches beyond this account and region, if it does."""
    if not WILDCARD.search(resource):
        return None
    fields = resource.split(":", 5)
    if fields[0] != "arn" or len(fields) < 6:
        return "is a pattern, not a whole ARN"

    for name, value in zip(_ARN_FIELDS, fields[1:5], strict=True):
        if WILDCARD.search(value):
            return f"has a wildcard in its {name} field"
    problem = _resource_part_problem(fields[5], shared=not fields[4])
    return problem or _every_secret_holder(fields[2], fields[5])


# Kinds where "every one of the account" is a privilege in itself: passing any role, keys for
# any user, any secret or key. EC2's `instance/*` and the like are scoped by tag conditions in
# the policies AWS documents (Karpenter's), so they are not listed.
SENSITIVE_KINDS = frozenset(
    {
        ("iam", "role"),
        ("iam", "user"),
        ("iam", "group"),
        ("iam", "policy"),
        ("secretsmanager", "secret"),
        ("kms", "key"),
        ("kms", "alias"),
    }
)


def _every_secret_holder(service: str, part: str) -> str | None:
    head, _, rest = _head(part)
    if (service, head) in SENSITIVE_KINDS and rest and _GLOB_ONLY.fullmatch(rest):
        return f"names every {head} of the account"
    return None


def _resource_part_problem(part: str, *, shared: bool) -> str | None:
    """The first part names the kind of resource (`role`, `key`) or the resource (a queue)."""
    head = _head(part)[0]
    if _GLOB_ONLY.fullmatch(head):
        return "leaves the resource itself a wildcard"
    if shared and WILDCARD.search(head):
        return f"matches {head!r} in a namespace every account shares"
    return None


def _head(part: str) -> tuple[str, str, str]:
    """The resource part split at its first `/` or `:`: head, separator, rest."""
    pieces = re.split(r"([/:])", part, maxsplit=1)
    return (pieces[0], pieces[1], pieces[2]) if len(pieces) == 3 else (part, "", "")


def _wildcard_grants(statements: list[Mapping[str, Any]], allowed: frozenset[str]) -> list[str]:
    found: list[str] = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        if "NotResource" in statement:
            found.append(f"statement {index} allows every resource but {statement['NotResource']}")
            continue

        resources = [r.strip() for r in texts(statement.get("Resource"))]
        if any(r and _GLOB_ONLY.fullmatch(r) for r in resources):
            found += _star_grant(index, statement)
        for resource in (r for r in resources if r not in allowed and not _GLOB_ONLY.fullmatch(r)):
            problem = _pattern_problem(resource)
            if problem is not None:
                found.append(
                    f"statement {index} allows its actions on {resource!r}, which {problem}"
                )
    return found


def _star_grant(index: int, statement: Mapping[str, Any]) -> list[str]:
    if "NotAction" in statement:
        return [f'statement {index} allows every action but {statement["NotAction"]} on "*"']
    scoped = [a for a in texts(statement.get("Action")) if not _is_unscoped(a)]
    return [f'statement {index} allows {", ".join(scoped)} on "*"'] if scoped else []


def _check_wildcard_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = allowed_patterns(args.get_config(), args.resource_type)
    for where, document in documents(args.resource_type, args.props):
        statements = parse_statements(document) if document is not None else []
        # A document that is not JSON is reported by iam-no-wildcard-actions.
        for grant in _wildcard_grants(statements or [], allowed):
            report(f"{where} of '{args.name}' ({args.urn}): {grant}", None)


IAM_NO_WILDCARD_RESOURCE = ResourceValidationPolicy(
    name="iam-no-wildcard-resource",
    description='No IAM policy allows an action on Resource "*" unless AWS offers no narrower '
    "resource for it, nor a pattern with a wildcard in its partition, service, region or "
    "account, or for a whole service, unless the config allow-lists that ARN; nor NotResource.",
    validate=_check_wildcard_resource,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedPatterns": allow_list_schema(
                "Resource ARNs",
                DOCUMENT_TYPES | {ROLE},
                # An ARN, so that no config allows "*": the action list above judges it.
                {"pattern": "^arn:"},
            )
        }
    ),
    remediation_steps="Name the ARNs (a pattern of this account and region at least), or "
    "allow-list an ARN AWS documents in the policy config with the reason.",
)


# --- iam-trust-scoped ------------------------------------------------------------------------

TRUST_EXAMPLE = """\
aws.iam.Role("worker", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]}))
"""


def _check_trust(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    bindings = [r for r in args.resources if r.resource_type in (ASSOCIATION, ADDON)]
    for role in (r for r in args.resources if r.resource_type == ROLE):
        verdicts.judge(role.urn, _judge_role, role, bindings, verdicts)
    verdicts.close()


def _judge_role(role: PolicyResource, bindings: list[PolicyResource], verdicts: Verdicts) -> None:
    statements = parse_statements(get(role.props, "assumeRolePolicy"))
    if statements is None:
        return  # resource-policy-no-public-principal reports a document it can't read

    allowing = [s for s in statements if s.get("Effect") == "Allow"]
    services = sorted({svc for s in allowing for svc in texts(get(s.get("Principal"), "Service"))})
    for finding in _principal_findings(allowing, services):
        verdicts.violation(f"trust policy of role {label(role)} {finding}", role.urn)

    if services == [POD_IDENTITY]:
        accounts = _bound_accounts(role, bindings)
        if len(accounts) != 1:
            verdicts.violation(
                f"Pod Identity role {label(role)} is bound to {len(accounts)} service accounts "
                f"({', '.join(sorted(accounts)) or 'none'}); exactly one may assume it",
                role.urn,
            )


def _principal_findings(allowing: list[Mapping[str, Any]], services: list[str]) -> list[str]:
    found: list[str] = []
    if len(services) > 1:
        found.append(f"trusts {len(services)} services ({', '.join(services)}); one at most")
    for statement in allowing:
        principal = statement.get("Principal")
        bare = [p for p in texts(get(principal, "AWS")) if _ACCOUNT_PRINCIPAL.match(p)]
        if bare and not statement.get("Condition"):
            found.append(f"trusts every identity of account(s) {', '.join(bare)} unconditionally")
    if not services and not any(get(s.get("Principal"), "AWS") for s in allowing):
        found.append("names no service principal")
    return found


def _bound_accounts(role: PolicyResource, bindings: list[PolicyResource]) -> set[str]:
    """The namespace/name of every service account a binding gives this role."""
    arn = known_text(role.props, "arn")
    found: set[str] = set()
    for binding in bindings:
        if binding.resource_type == ASSOCIATION:
            if role.urn in linked(binding, "roleArn", ROLE) or _names(binding.props, arn):
                found.add(
                    f"{get(binding.props, 'namespace')}/{get(binding.props, 'serviceAccount')}"
                )
            continue
        entries = items(get(binding.props, "podIdentityAssociations"))
        from_role = role.urn in linked(binding, "podIdentityAssociations", ROLE)
        mine = [e for e in entries if _names(e, arn) or (from_role and len(entries) == 1)]
        found.update(f"addon:{get(e, 'serviceAccount')}" for e in mine)
    return found


def _names(entry: object, arn: str | None) -> bool:
    return arn is not None and get(entry, "roleArn") == arn


IAM_TRUST_SCOPED = StackValidationPolicy(
    name="iam-trust-scoped",
    description="Every role trusts exactly one service principal (a Pod Identity role: bound to "
    "exactly one service account), and never an AWS account without a condition.",
    validate=_check_trust,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [IAM_NO_WILDCARD_RESOURCE, IAM_TRUST_SCOPED]
