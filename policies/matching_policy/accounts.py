"""Accounts: whatever a resource grants to, sends to or deploys into is the stack's own.

A key policy that hands `kms:Decrypt` to another account's root, a trust policy that lets a role
of another account in, a queue open to `*` but "confined" to somebody else's `aws:SourceAccount`
or organisation, a KMS grant, a shared snapshot, an EKS access entry for a stranger, a topic
subscription to another account's queue: each passes every rule that judges actions and
wildcards, and each hands medical data to an account nobody here operates.

The stack's accounts are the ones the policy config names (`stackAccounts`: the reviewer's word,
which the program cannot change), else the ones the resource's AWS provider is pinned to
(`aws:allowedAccountIds`). An AWS provider must be pinned, and with `stackAccounts` set, pinned
and assuming roles inside them, so that nothing deploys into another account either. The config
may trust an account AWS itself acts from (Elastic Load Balancing's log delivery account per
region) for the resource types that need it, each with a reason, and the organisations the
stack's accounts belong to (`stackOrganizations`). Where nothing names the stack's accounts the
pack can't tell ours from theirs, so a resource that names an account is reported too.

What is read, and how: principals under `AWS` (an account id or the account of an IAM or STS
ARN; anything else can't be tied to an account), `Federated` (an identity provider of ours, or a
web-identity provider of AWS's own), `CanonicalUser` (never ours); condition values on account,
ARN and organisation keys, numbers and wildcards included (a wildcard is nobody's account); the
account of every resource ARN an identity policy allows (a wildcarded one is left to
iam-no-wildcard-resource); and the inputs of the resources that grant or deliver without a
policy document (`INPUTS`). A value not known at preview is reported as an advisory per place,
so that it never hides what is already certain elsewhere on the resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import Verdicts, get, items
from matching_policy.identity import (
    CONFINING_OPERATORS,
    WILDCARD,
    Documents,
    documents,
    parse_statements,
    resource_policies,
    scoped_reasons_schema,
)

AWS_PROVIDER = "pulumi:providers:aws"
ACCOUNT_ID = re.compile(r"\d{12}")
# `arn:<partition>:<service>:<region>:<account>:<resource>`; S3 and a few others leave the
# account empty, AWS-managed objects use the pseudo-account `aws`.
_ARN = re.compile(r"arn:[^:]*:[^:]*:[^:]*:(?P<account>[^:]*):.*", re.DOTALL)
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")

# What a value names, and so how it is judged.
ACCOUNT = "account"  # an account id, as is
PRINCIPAL = "principal"  # an account id or an IAM/STS ARN; anything else is nobody we know
ARN = "arn"  # an ARN whose account, if it carries one, must be ours
FEDERATED = "federated"  # an identity provider: ours by ARN, or one of AWS's own services
LAMBDA_PRINCIPAL = "principal or service"  # an account or ARN, or a service principal
ORGANISATION = "organisation"  # an organisation id (or the head of an organisation path)
CANONICAL = "canonical user"  # an S3 canonical user id: never tied to an account of ours
RESOURCE = "resource"  # an ARN an identity policy allows: wildcarded accounts judged elsewhere

# Condition keys (lower-case) by what their values name.
CONDITION_KEYS = {
    "aws:sourceaccount": ACCOUNT,
    "aws:principalaccount": ACCOUNT,
    "aws:resourceaccount": ACCOUNT,
    "aws:sourceowner": ACCOUNT,
    "kms:calleraccount": ACCOUNT,
    "aws:sourcearn": ARN,
    "aws:principalarn": ARN,
    "aws:principalorgid": ORGANISATION,
    "aws:sourceorgid": ORGANISATION,
    "aws:resourceorgid": ORGANISATION,
    "aws:principalorgpaths": ORGANISATION,
    "aws:sourceorgpaths": ORGANISATION,
    "aws:resourceorgpaths": ORGANISATION,
}
# Inputs that grant to, share with or deliver to somebody without a policy document, by type:
# each a path (`[]` walks a list, `*` a map's values) and what its values name.
INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "aws:eks/accessEntry:AccessEntry": (("principalArn", PRINCIPAL),),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": (("principalArn", PRINCIPAL),),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (
        ("roleArn", ARN),
        ("targetRoleArn", ARN),
    ),
    "aws:eks/addon:Addon": (("podIdentityAssociations[].roleArn", ARN),),
    # pulumi-eks's cluster component makes access entries and aws-auth mappings out of sight.
    "eks:index:Cluster": (
        ("accessEntries.*.principalArn", PRINCIPAL),
        ("roleMappings[].roleArn", PRINCIPAL),
        ("userMappings[].userArn", PRINCIPAL),
    ),
    "aws:lambda/permission:Permission": (
        ("principal", LAMBDA_PRINCIPAL),
        ("sourceAccount", ACCOUNT),
        ("sourceArn", ARN),
        ("principalOrgId", ORGANISATION),
    ),
    "aws:lambda/layerVersionPermission:LayerVersionPermission": (
        ("principal", LAMBDA_PRINCIPAL),
        ("organizationId", ORGANISATION),
    ),
    "aws:kms/grant:Grant": (("granteePrincipal", PRINCIPAL), ("retiringPrincipal", PRINCIPAL)),
    "aws:ram/principalAssociation:PrincipalAssociation": (("principal", PRINCIPAL),),
    "aws:ebs/snapshotCreateVolumePermission:SnapshotCreateVolumePermission": (
        ("accountId", ACCOUNT),
    ),
    "aws:ec2/amiLaunchPermission:AmiLaunchPermission": (
        ("accountId", ACCOUNT),
        ("group", ACCOUNT),
        ("organizationArn", ARN),
        ("organizationalUnitArn", ARN),
    ),
    # A comma-separated list, or "All": shared with every account.
    "aws:ssm/document:Document": (("permissions.accountIds", ACCOUNT),),
    "aws:sns/topicSubscription:TopicSubscription": (("endpoint", ARN),),
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": (("destinationArn", ARN),),
    "aws:cloudwatch/eventTarget:EventTarget": (("arn", ARN), ("deadLetterConfig.arn", ARN)),
    "aws:cloudwatch/eventPermission:EventPermission": (("principal", LAMBDA_PRINCIPAL),),
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": (("peerOwnerId", ACCOUNT),),
    "aws:ec2/vpcEndpointService:VpcEndpointService": (("allowedPrincipals[]", PRINCIPAL),),
    "aws:ec2/vpcEndpointServiceAllowedPrinciple:VpcEndpointServiceAllowedPrinciple": (
        ("principalArn", PRINCIPAL),
    ),
    "aws:rds/snapshot:Snapshot": (("sharedAccounts[]", ACCOUNT),),
    "aws:rds/clusterSnapshot:ClusterSnapshot": (("sharedAccounts[]", ACCOUNT),),
    "aws:oam/link:Link": (("sinkIdentifier", ARN),),
    "aws:backup/plan:Plan": (("rules[].copyActions[].destinationVaultArn", ARN),),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": (
        ("rules[].destination.account", ACCOUNT),
    ),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": (
        ("replicationConfiguration.rules[].destinations[].registryId", ACCOUNT),
    ),
}

FOREIGN_ACCOUNT_EXAMPLE = """\
aws.kms.KeyPolicy("queue-key", key_id=key.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                   "Action": "kms:Decrypt", "Resource": "*"}]}))
"""

# What a place names: (kind, value); with where it sits: (where, kind, value).
Name = tuple[str, str]
Place = tuple[str, str, str]


def account_of(name: str) -> str | None:
    """The account an id or ARN names (digits, `aws`, a pattern), or None where it names none."""
    name = name.strip()
    if ACCOUNT_ID.fullmatch(name):
        return name
    found = _ARN.fullmatch(name)
    if found is None or not found["account"]:
        return None
    return found["account"]


def strings(value: object) -> list[str]:
    """The values at a place as text: strings, whole numbers (an account id written as a number
    is still one), and the elements of a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [str(int(value))] if value == int(value) else [str(value)]
    return [text for element in items(value) for text in strings(element)]


# --- the accounts, organisations and trust the config and the provider give -----------------


class Ours:
    """Who counts as the stack itself, for one resource."""

    def __init__(self, args: ResourceValidationArgs) -> None:
        config = args.get_config()
        provider = args.provider
        aws = provider is not None and provider.resource_type == AWS_PROVIDER
        pinned = _pinned(provider.props) if provider and aws else frozenset[str]()
        self.accounts = configured_accounts(config) or pinned
        self.organisations = frozenset(strings(config.get("stackOrganizations")))
        self.trusted = _trusted(config, args.resource_type)

    def knows(self) -> bool:
        return bool(self.accounts)

    def account(self, account: str) -> bool:
        account = account.strip()
        return account in self.accounts or account in self.trusted


def configured_accounts(config: Mapping[str, Any]) -> frozenset[str]:
    """The stack's accounts as the policy config names them (`stackAccounts`)."""
    return frozenset(strings(config.get("stackAccounts")))


def _pinned(props: object) -> frozenset[str]:
    """A provider's `allowedAccountIds`, which the engine may hand over as its JSON text."""
    pinned = get(props, "allowedAccountIds")
    if isinstance(pinned, str):
        try:
            pinned = json.loads(pinned)
        except json.JSONDecodeError:
            return frozenset[str]()
    return frozenset(a.strip() for a in strings(pinned))


def _trusted(config: Mapping[str, Any], token: str) -> frozenset[str]:
    """The accounts the config trusts in resources of type `token`."""
    found = config.get("trustedAccounts")
    if not isinstance(found, Mapping):
        return frozenset[str]()
    entries = cast(Mapping[str, Any], found)
    return frozenset(
        account
        for account, entry in entries.items()
        if token in strings(get(entry, "resourceTypes"))
    )


# --- what a resource names ------------------------------------------------------------------


def _principal_names(principal: object) -> list[Name]:
    if principal == "*" or principal is None:
        return []  # resource-policy-no-public-principal judges "*"
    if isinstance(principal, str):
        return [(PRINCIPAL, principal)]
    return [
        *((PRINCIPAL, p) for p in strings(get(principal, "AWS")) if p.strip() != "*"),
        *((FEDERATED, p) for p in strings(get(principal, "Federated"))),
        *((CANONICAL, p) for p in strings(get(principal, "CanonicalUser"))),
    ]


def _condition_names(statement: Mapping[str, Any]) -> list[Name]:
    conditions = statement.get("Condition")
    found: list[Name] = []
    if not isinstance(conditions, Mapping):
        return found
    for operator, block in cast(Mapping[str, Any], conditions).items():
        if not isinstance(block, Mapping) or not _admits(str(operator)):
            continue
        for key, values in cast(Mapping[str, Any], block).items():
            kind = CONDITION_KEYS.get(str(key).strip().lower())
            if kind is not None:
                found += [(kind, v) for v in strings(values)]
    return found


def _admits(operator: str) -> bool:
    """Whether a condition operator's values name whom it lets in (`StringEquals`, `ArnLike`,
    their `ForAnyValue:` and `…IfExists` forms), not whom it keeps out (`StringNotEquals`) or
    whether a key is there at all (`Null`)."""
    name = operator.rpartition(":")[2].strip().lower().removesuffix("ifexists")
    return name in CONFINING_OPERATORS


def _statement_names(statement: Mapping[str, Any], *, identity: bool) -> list[Name]:
    """What an allowing statement gives to: its principals and the callers its conditions
    admit, or for an identity policy the resources it may act on."""
    if statement.get("Effect") != "Allow":
        return []
    if identity:
        return [(RESOURCE, r) for r in strings(statement.get("Resource"))]
    return [*_principal_names(statement.get("Principal")), *_condition_names(statement)]


def _policy_names(args: ResourceValidationArgs, read: Documents, *, identity: bool) -> list[Place]:
    """What the documents `read` finds on the resource name: its resource (or trust) policy,
    or the identity policies it holds."""
    found: list[Place] = []
    for where, document in read(args.resource_type, args.props):
        statements = parse_statements(document) if document is not None else None
        for statement in statements or []:
            found += [(where, *n) for n in _statement_names(statement, identity=identity)]
    return found


def at(value: object, path: str) -> list[object]:
    """The values at a dotted `path`; `x[]` walks the list at x, `*` every value of a map."""
    found: list[object] = [value]
    for part in path.split("."):
        key = part.removesuffix("[]")
        reached = [v for current in found for v in _step(current, key)]
        found = [e for v in reached for e in items(v)] if part.endswith("[]") else reached
    return [v for v in found if v is not None]


def _step(current: object, key: str) -> list[object]:
    if key != "*":
        return [get(current, key)]
    if not isinstance(current, Mapping):
        return []
    return list(cast(Mapping[str, object], current).values())


def _readers(args: ResourceValidationArgs) -> list[Callable[[], list[Place]]]:
    """How to read each place of the resource that names somebody, one by one, so that an
    unknown value at one place leaves the others judged."""
    readers: list[Callable[[], list[Place]]] = [
        partial(_policy_names, args, resource_policies, identity=False),
        partial(_policy_names, args, documents, identity=True),
    ]
    for path, kind in INPUTS.get(args.resource_type, ()):
        readers.append(partial(_input_names, args.props, path, kind))
    return readers


def _input_names(props: object, path: str, kind: str) -> list[Place]:
    texts = [t for value in at(props, path) for t in strings(value)]
    if kind == ACCOUNT:
        texts = [part for t in texts for part in t.split(",")]
    return [(path, kind, t) for t in texts]


# --- judging a name -------------------------------------------------------------------------


def _foreign(kind: str, value: str, ours: Ours) -> bool:
    return JUDGES[kind](value.strip(), ours)


def _other(account: str | None, ours: Ours) -> bool:
    """An account that is neither ours, trusted, nor AWS's own pseudo-account."""
    return account is not None and account != "aws" and not ours.account(account)


def _resource(value: str, ours: Ours) -> bool:
    account = account_of(value)
    return account is not None and not WILDCARD.search(account) and _other(account, ours)


def _federated(value: str, ours: Ours) -> bool:
    if account_of(value) is None:
        return not _SERVICE.fullmatch(value)  # accounts.google.com: everybody signed in
    return _other(account_of(value), ours)


def _lambda_principal(value: str, ours: Ours) -> bool:
    if account_of(value) is None:
        # "*" is resource-policy-no-public-principal's; a service principal has a dot.
        return value != "*" and "." not in value
    return _other(account_of(value), ours)


# Whether a value of each kind names somebody outside the stack.
JUDGES: dict[str, Callable[[str, Ours], bool]] = {
    ACCOUNT: lambda value, ours: not ours.account(value),
    ORGANISATION: lambda value, ours: value.split("/", 1)[0] not in ours.organisations,
    CANONICAL: lambda _value, _ours: True,
    RESOURCE: _resource,
    FEDERATED: _federated,
    LAMBDA_PRINCIPAL: _lambda_principal,
    ARN: lambda value, ours: _other(account_of(value), ours),
    # Anything but an account id or an IAM/STS ARN can't be tied to an account of ours.
    PRINCIPAL: lambda value, ours: account_of(value) is None or _other(account_of(value), ours),
}


def _names_accounts(kind: str, value: str) -> bool:
    return kind in (ACCOUNT, PRINCIPAL) or account_of(value) is not None


def _check_accounts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    if args.resource_type == AWS_PROVIDER:
        verdicts.judge(args.urn, _judge_provider, args, verdicts)
    else:
        ours = Ours(args)
        for read in _readers(args):
            verdicts.judge(args.urn, _judge_place, args, read, ours, verdicts)
    verdicts.close()


def _judge_place(
    args: ResourceValidationArgs,
    read: Callable[[], list[Place]],
    ours: Ours,
    verdicts: Verdicts,
) -> None:
    places = read()
    subject = f"'{args.name}' ({args.urn})"
    if not ours.knows():
        if any(_names_accounts(kind, value) for _, kind, value in places):
            verdicts.violation(
                f"{subject} names accounts, but neither the policy config's stackAccounts nor "
                "the resource's AWS provider (allowedAccountIds) names the stack's, so the pack "
                "can't tell ours from another's"
            )
        return

    for where, kind, value in places:
        if _foreign(kind, value, ours):
            verdicts.violation(
                f"{where} of {subject} names {kind} {value!r}, outside the stack's accounts "
                f"({', '.join(sorted(ours.accounts))}) and organisations "
                f"({', '.join(sorted(ours.organisations)) or 'none configured'})"
            )


def _judge_provider(args: ResourceValidationArgs, verdicts: Verdicts) -> None:
    """An AWS provider deploys into one of the stack's accounts, as one of its roles."""
    configured = configured_accounts(args.get_config())
    pinned = _pinned(args.props)
    subject = f"AWS provider '{args.name}' ({args.urn})"
    if not pinned:
        verdicts.violation(f"{subject} sets no allowedAccountIds: it deploys wherever it signs in")
        return
    if not configured:
        return

    if stray := sorted(pinned - configured):
        verdicts.violation(
            f"{subject} may deploy into {', '.join(stray)}, outside the stack's accounts "
            f"({', '.join(sorted(configured))})"
        )
    roles = [*at(args.props, "assumeRoles[].roleArn"), *at(args.props, "assumeRole.roleArn")]
    for role in (r for value in roles for r in strings(value)):
        if account_of(role) not in configured:
            verdicts.violation(f"{subject} assumes {role}, outside the stack's accounts")


PRINCIPALS_IN_STACK_ACCOUNTS = ResourceValidationPolicy(
    name="principals-in-stack-accounts",
    description="Every principal a resource policy, trust policy, grant, share or EKS access "
    "names, every caller its conditions admit, every destination data is delivered to, and "
    "every resource an identity policy allows, belongs to the stack's accounts (the config's "
    "stackAccounts, else the AWS provider's allowedAccountIds) or organisations, or to an "
    "account the config trusts for that type; every AWS provider is pinned to those accounts.",
    validate=_check_accounts,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "stackAccounts": {
                "description": "The accounts this stack deploys into. When set, they, not the "
                "AWS provider's allowedAccountIds, are the stack's own, resources of other "
                "providers (the eks.Cluster component) are judged too, and every AWS provider "
                "must stay inside them.",
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9]{12}$"},
                "uniqueItems": True,
            },
            "stackOrganizations": {
                "description": "The AWS Organizations ids (o-…) the stack's accounts belong to, "
                "which organisation conditions may name.",
                "type": "array",
                "items": {"type": "string", "pattern": "^o-[a-z0-9]{10,32}$"},
                "uniqueItems": True,
                "default": [],
            },
            "trustedAccounts": scoped_reasons_schema(
                "Accounts outside the stack's own that AWS acts from (a service's delivery "
                "account), each with the reason a reviewer accepted and the resource types whose "
                "policies may name it.",
                {"pattern": "^[0-9]{12}$"},
                {"type": "string", "pattern": "^aws:[a-z0-9]+/[A-Za-z0-9]+:"},
            ),
        }
    ),
    remediation_steps="Name principals, callers, destinations and resources of the stack's own "
    "accounts; name them in the policy config's stackAccounts and pin every AWS provider to "
    "them with aws:allowedAccountIds; trust an AWS service account for the types that need it "
    "in the policy config, with the reason.",
)

# --- aws-native-forbidden --------------------------------------------------------------------

AWS_NATIVE = "aws-native"
AWS_NATIVE_EXAMPLE = 'aws_native.sqs.QueuePolicy("jobs", queues=[url], policy_document={...})'


def _check_native(args: ResourceValidationArgs, report: ReportViolation) -> None:
    package = args.resource_type.removeprefix("pulumi:providers:").split(":", 1)[0]
    if package == AWS_NATIVE:
        report(
            f"'{args.name}' ({args.urn}) comes from the aws-native provider, whose resources, "
            "policies and account pin no policy of this pack reads",
            None,
        )


AWS_NATIVE_FORBIDDEN = ResourceValidationPolicy(
    name="aws-native-forbidden",
    description="No resource or provider of aws-native: the pack judges AWS through pulumi-aws "
    "tokens, so an aws-native queue policy, key or provider would pass every rule unread.",
    validate=_check_native,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare the resource with pulumi-aws (pulumi_aws), which the pack reads.",
)

POLICIES = [PRINCIPALS_IN_STACK_ACCOUNTS, AWS_NATIVE_FORBIDDEN]
