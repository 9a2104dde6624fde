"""IAM: no policy document grants every action, or every action of a service.

Documents reach the engine as JSON strings. A grant is as broad through `NotAction` (allow
everything except a few) as through a wildcard, so an allowing statement with `NotAction` is
reported too. A document that is not valid JSON can't be judged and is reported as such.
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
_WILDCARD = re.compile(r"^(\*|[a-z0-9-]+:\*)$", re.IGNORECASE)

IAM_WILDCARD_EXAMPLE = """\
aws.iam.RolePolicy("workers", role=role.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": queue_arn}]}))
"""


def _documents(token: str, props: Any) -> list[tuple[str, object]]:
    """Each policy document of a resource, with where it sits."""
    if token in DOCUMENT_TYPES:
        return [("policy", get(props, "policy"))]
    if token == ROLE:
        return [
            (f"inlinePolicies[{i}] {get(p, 'name')!r}", get(p, "policy"))
            for i, p in enumerate(items(get(props, "inlinePolicies")))
        ]
    return []


def _statements(document: object) -> list[Mapping[str, Any]] | None:
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
    for where, document in _documents(args.resource_type, args.props):
        if document is None:
            continue

        statements = _statements(document)
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

POLICIES = [IAM_NO_WILDCARD_ACTIONS]
