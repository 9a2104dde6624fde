"""IAM scope: grants name their resources, and each role can be assumed by one party only.

`Resource: "*"` is allowed only for actions AWS offers no narrower resource for (the list below,
each group with why). Key policies are exempt: their "*" means the key itself.

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
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from matching_policy._props import Verdicts, get, items, known_text, label, linked, texts
from matching_policy.identity import ROLE, documents, parse_statements

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


# --- iam-no-wildcard-resource ----------------------------------------------------------------

IAM_WILDCARD_RESOURCE_EXAMPLE = """\
aws.iam.RolePolicy("worker", role=role.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]}))
"""


def _is_unscoped(action: str) -> bool:
    return any(fnmatchcase(action.lower(), allowed) for allowed in _UNSCOPED)


def _wildcard_grants(statements: list[Mapping[str, Any]]) -> list[str]:
    found: list[str] = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        if "NotResource" in statement:
            found.append(f"statement {index} allows every resource but {statement['NotResource']}")
        elif "*" in texts(statement.get("Resource")):
            scoped = [a for a in texts(statement.get("Action")) if not _is_unscoped(a)]
            if scoped:
                found.append(f'statement {index} allows {", ".join(scoped)} on "*"')
    return found


def _check_wildcard_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for where, document in documents(args.resource_type, args.props):
        statements = parse_statements(document) if document is not None else []
        # A document that is not JSON is reported by iam-no-wildcard-actions.
        for grant in _wildcard_grants(statements or []):
            report(f"{where} of '{args.name}' ({args.urn}): {grant}", None)


IAM_NO_WILDCARD_RESOURCE = ResourceValidationPolicy(
    name="iam-no-wildcard-resource",
    description='No IAM policy allows an action on Resource "*" (or NotResource) unless AWS '
    "offers no narrower resource for it.",
    validate=_check_wildcard_resource,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Name the ARNs (a pattern of this account and region at least).",
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
