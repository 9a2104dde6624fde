"""Accounts: every principal and resource a policy names belongs to the stack's own account.

A key policy that hands `kms:*` to another account's root, a trust policy that lets a role of
another account in, a queue open to `*` but "confined" to somebody else's `aws:SourceAccount`, an
EKS access entry for a stranger: each passes every rule that judges actions and wildcards, and
each hands medical data to an account nobody here operates. The stack's accounts are the ones the
policy config names for the stack (`stackAccounts`: the reviewer's word, which the program cannot
change), else the ones the resource's AWS provider is pinned to (`aws:allowedAccountIds`, which
also keeps staging credentials off prod). The config names any other account AWS itself writes
from (Elastic Load Balancing's log delivery account per region), each with a reason. Where
neither names the stack's accounts, the pack can't tell ours from theirs, so a resource that
names an account is reported too. pulumi-eks's cluster component runs on a provider of its own,
with no account pin: its access entries are judged against `stackAccounts` only.

Principals are read from the `AWS` and `Federated` keys (account ids, and the account field of
IAM and STS ARNs); `CanonicalUser` ids and web-identity providers (`accounts.google.com`) name no
account of ours. Identity policies are read for the resources they allow, so that no role of ours
may assume, or write to, a role, queue or key of another account (a wildcarded account there is
iam-no-wildcard-resource's to judge).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import Verdicts, get, texts
from matching_policy.identity import (
    WILDCARD,
    documents,
    parse_statements,
    reasons_schema,
    resource_policies,
)

ACCOUNT_ID = re.compile(r"\d{12}")
# `arn:<partition>:<service>:<region>:<account>:<resource>`; S3 and a few others leave the
# account empty, AWS-managed policies use the pseudo-account `aws`.
_ARN = re.compile(r"arn:[^:]*:[^:]*:[^:]*:(?P<account>[^:]*):.*", re.DOTALL)
# Condition keys whose values are account ids, and those whose values are ARNs (lower-case).
ACCOUNT_KEYS = frozenset(
    {"aws:sourceaccount", "aws:principalaccount", "aws:sourceowner", "kms:calleraccount"}
)
ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn"})
# Inputs outside any policy document that name a principal, by resource type.
PRINCIPAL_INPUTS = {
    "aws:eks/accessEntry:AccessEntry": "principalArn",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "principalArn",
    "aws:lambda/permission:Permission": "principal",
}
AWS_PROVIDER = "pulumi:providers:aws"
# pulumi-eks's cluster component makes its access entries out of the pack's sight, from this map.
EKS_COMPONENT = "eks:index:Cluster"

FOREIGN_ACCOUNT_EXAMPLE = """\
aws.kms.KeyPolicy("queue-key", key_id=key.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                   "Action": "kms:Decrypt", "Resource": "*"}]}))
"""


def account_of(name: str) -> str | None:
    """The account an id or ARN names: digits, `aws`, `*`, or None where it names none."""
    name = name.strip()
    if ACCOUNT_ID.fullmatch(name):
        return name
    found = _ARN.fullmatch(name)
    if found is None or not found["account"]:
        return None
    return found["account"]


def stack_accounts(args: ResourceValidationArgs) -> frozenset[str] | None:
    """The stack's own accounts: the config's `stackAccounts`, else those the resource's AWS
    provider is pinned to; None when neither names any.

    The engine may hand a list-valued provider setting over as its JSON text.
    """
    configured = frozenset(texts(args.get_config().get("stackAccounts")))
    if configured:
        return configured

    provider = args.provider
    if provider is None or provider.resource_type != AWS_PROVIDER:
        return None
    pinned = get(provider.props, "allowedAccountIds")
    if isinstance(pinned, str):
        try:
            pinned = json.loads(pinned)
        except json.JSONDecodeError:
            return None
    return frozenset(a.strip() for a in texts(pinned)) or None


def trusted_accounts(config: Mapping[str, Any]) -> frozenset[str]:
    found = config.get("trustedAccounts")
    if not isinstance(found, Mapping):
        return frozenset()
    return frozenset(str(account) for account in cast(Mapping[str, Any], found))


def _principal_names(principal: object) -> list[str]:
    """What a statement's Principal names that an account could own (services never do)."""
    if principal == "*" or principal is None:
        return []  # resource-policy-no-public-principal judges "*"
    if isinstance(principal, str):
        return [principal]
    return [
        *(p for p in texts(get(principal, "AWS")) if p.strip() != "*"),
        *texts(get(principal, "Federated")),
        *(f"CanonicalUser {p}" for p in texts(get(principal, "CanonicalUser"))),
    ]


def _condition_names(statement: Mapping[str, Any]) -> list[str]:
    """The account ids and ARNs a statement's conditions confine the caller to."""
    conditions = statement.get("Condition")
    found: list[str] = []
    if not isinstance(conditions, Mapping):
        return found
    for block in cast(Mapping[str, Any], conditions).values():
        if not isinstance(block, Mapping):
            continue
        for key, values in cast(Mapping[str, Any], block).items():
            if str(key).lower() in ACCOUNT_KEYS | ARN_KEYS:
                found += [f"{key} {v}" for v in texts(values)]
    return found


def _statement_names(statement: Mapping[str, Any], *, identity: bool) -> list[str]:
    """Each name an allowing statement gives away to: its principals, or for an identity
    policy the resources it may act on."""
    if statement.get("Effect") != "Allow":
        return []
    if identity:
        # A wildcarded account is iam-no-wildcard-resource's to judge, with its allow-list.
        resources = texts(statement.get("Resource"))
        return [r for r in resources if not WILDCARD.search(account_of(r) or "*")]
    return [*_principal_names(statement.get("Principal")), *_condition_names(statement)]


def _foreign(name: str, ours: frozenset[str]) -> bool:
    subject = name.strip().rsplit(" ", 1)[-1]
    if name.startswith("CanonicalUser "):
        return True
    account = account_of(subject)
    if account is None:
        # A federated web-identity provider (accounts.google.com) names everybody signed in.
        return "." in subject and not subject.endswith(".amazonaws.com") and "arn:" not in subject
    return account != "aws" and account not in ours


def _names(args: ResourceValidationArgs) -> list[tuple[str, list[str]]]:
    """Where each principal or resource name of the resource sits, with the names."""
    found: list[tuple[str, list[str]]] = []
    for read, identity in ((resource_policies, False), (documents, True)):
        for where, document in read(args.resource_type, args.props):
            statements = parse_statements(document) if document is not None else None
            for statement in statements or []:
                found.append((where, _statement_names(statement, identity=identity)))

    key = PRINCIPAL_INPUTS.get(args.resource_type)
    if key is not None:
        found.append((key, texts(get(args.props, key))))
    if args.resource_type == EKS_COMPONENT:
        found += [
            (f"accessEntries.{entry}", texts(get(value, "principalArn")))
            for entry, value in _entries(get(args.props, "accessEntries")).items()
        ]
    return found


def _entries(value: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def _check_accounts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    verdicts.judge(args.urn, _judge_accounts, args, verdicts)
    verdicts.close()


def _judge_accounts(args: ResourceValidationArgs, verdicts: Verdicts) -> None:
    named = [(where, names) for where, names in _names(args) if names]
    if not named:
        return

    pinned = stack_accounts(args)
    subject = f"'{args.name}' ({args.urn})"
    if pinned is None and any(
        account_of(n.strip().rsplit(" ", 1)[-1]) for _, ns in named for n in ns
    ):
        verdicts.violation(
            f"{subject} names accounts, but neither the policy config's stackAccounts nor an AWS "
            "provider's allowedAccountIds name the stack's, so the pack can't tell ours from "
            "another's"
        )
        return

    ours = (pinned or frozenset()) | trusted_accounts(args.get_config())
    for where, names in named:
        for name in (n for n in names if _foreign(n, ours)):
            verdicts.violation(
                f"{where} of {subject} names {name}, outside the stack's accounts "
                f"({', '.join(sorted(ours)) or 'none'})"
            )


PRINCIPALS_IN_STACK_ACCOUNTS = ResourceValidationPolicy(
    name="principals-in-stack-accounts",
    description="Every principal a resource policy, trust policy, EKS access entry (the "
    "eks.Cluster component's among them) or Lambda permission names, every account its "
    "conditions confine callers to, and every resource an identity policy allows, belongs to "
    "the stack's accounts (the config's stackAccounts, else the AWS provider's "
    "allowedAccountIds) or to one the config trusts with a reason.",
    validate=_check_accounts,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "stackAccounts": {
                "description": "The accounts this stack deploys into. When set, they, not the "
                "AWS provider's allowedAccountIds, are the stack's own, and resources of other "
                "providers (the eks.Cluster component's access entries) are judged too.",
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9]{12}$"},
                "uniqueItems": True,
            },
            "trustedAccounts": reasons_schema(
                "Accounts outside the stack's own that policies may name, each with the reason "
                "a reviewer accepted (an AWS service's delivery account).",
                {"pattern": "^[0-9]{12}$"},
            ),
        }
    ),
    remediation_steps="Name principals and resources of the stack's own account; name it in "
    "the policy config's stackAccounts or pin the AWS provider with aws:allowedAccountIds; "
    "trust an AWS service account in the policy config with the reason.",
)

POLICIES = [PRINCIPALS_IN_STACK_ACCOUNTS]
