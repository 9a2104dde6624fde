"""IAM: named actions, no public resource policy, and only attached policies the pack can judge.

Documents reach the engine as JSON strings. A wildcard anywhere in an allowed action (`*`, `s3:*`,
`iam:P*`, `sts:Assume*`, `s3:Get?bject`) grants actions nobody listed, and any AWS adds later, so
each one is reported unless the policy config allow-lists that exact pattern, with a reason, for
the resource types whose documents may hold it (a key policy's `kms:*` for the account root).
`NotAction` in an allowing statement grants everything but a few, so no config can allow it. This
holds for identity policies, trust policies and resource policies alike. A document that is not
valid JSON can't be judged and is reported as such.

Resource policies (a queue's, a topic's, a key's, a bucket's, a role's trust policy) name who
may act; a principal of `*` means every AWS account unless a condition pins the caller down.

An attached policy is judged by what the pack can see of it. An AWS-managed one is known only by
name, so it must be one the config allow-lists with a reason, and the admin-equivalent ones
(AdministratorAccess in every form, PowerUser, every FullAccess and Administrator policy, AWS's
job-function policies) never pass. A customer-managed one must be declared in this stack, matched
by its `arn` output or by the property dependency the SDK records from the attachment to it, so
that the policies above judge its document: one made elsewhere is out of the pack's sight.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

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
from pulumi_policy.proxy import UnknownValueError

from matching_policy._props import (
    Verdicts,
    dependencies,
    get,
    items,
    known_elements,
    known_text,
    label,
    texts,
)

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
CUSTOMER_POLICY = "aws:iam/policy:Policy"
# Where each type holds a resource policy (a role's is its `assumeRolePolicy`): the dedicated
# policy resources, and the resources that take one inline.
RESOURCE_POLICY_KEYS = {
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:kms/replicaKey:ReplicaKey": "policy",
    "aws:kms/replicaExternalKey:ReplicaExternalKey": "policy",
    "aws:kms/externalKey:ExternalKey": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:s3/bucket:Bucket": "policy",
    "aws:s3/bucketV2:BucketV2": "policy",
    "aws:s3/accessPoint:AccessPoint": "policy",
    "aws:s3control/accessPointPolicy:AccessPointPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
    "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy": "accessPolicy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "policy",
    "aws:efs/fileSystemPolicy:FileSystemPolicy": "policy",
    "aws:backup/vaultPolicy:VaultPolicy": "policy",
    "aws:dynamodb/resourcePolicy:ResourcePolicy": "policy",
    "aws:glacier/vault:Vault": "accessPolicy",
    "aws:opensearch/domainPolicy:DomainPolicy": "accessPolicies",
    "aws:opensearch/domain:Domain": "accessPolicies",
    "aws:elasticsearch/domainPolicy:DomainPolicy": "accessPolicies",
    "aws:elasticsearch/domain:Domain": "accessPolicies",
    "aws:apigateway/restApiPolicy:RestApiPolicy": "policy",
    "aws:apigateway/restApi:RestApi": "policy",
    "aws:kinesis/resourcePolicy:ResourcePolicy": "policy",
    "aws:cloudwatch/eventBus:EventBus": "policy",
}
RESOURCE_POLICY_TYPES = frozenset(RESOURCE_POLICY_KEYS)
# Condition keys that confine a `*` principal to callers of ours (compared lower-case), each
# with a value principals-in-stack-accounts holds to the stack's accounts or organisations. A
# VPC or VPC endpoint id is not among them: nothing tells whose VPC it is.
CONFINING_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourceorgid",
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
# IAM matches `*` and `?` in actions and resources alike.
WILDCARD = re.compile(r"[*?]")

Documents = Callable[[str, Any], list[tuple[str, object]]]


def documents(token: str, props: Any) -> list[tuple[str, object]]:
    """Each identity-policy document of a resource, with where it sits."""
    if token in DOCUMENT_TYPES:
        return [("policy", get(props, "policy"))]
    if token == ROLE:
        return [
            (f"inlinePolicies[{i}] {get(p, 'name')!r}", get(p, "policy"))
            for i, p in enumerate(items(get(props, "inlinePolicies")))
        ]
    return []


def resource_policies(token: str, props: Any) -> list[tuple[str, object]]:
    """The resource policy of a resource (a role's trust policy among them), with where it sits."""
    key = RESOURCE_POLICY_KEYS.get(token)
    if key is not None:
        return [(key, get(props, key))]
    if token == ROLE:
        return [("assumeRolePolicy", get(props, "assumeRolePolicy"))]
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


def allowed_patterns(config: Mapping[str, Any], token: str) -> frozenset[str]:
    """The patterns the config's `allowedPatterns` allows in documents of type `token`."""
    found = config.get("allowedPatterns")
    if not isinstance(found, Mapping):
        return frozenset()
    entries = cast(Mapping[str, Any], found)
    return frozenset(
        pattern.strip()
        for pattern, entry in entries.items()
        if token in texts(get(entry, "resourceTypes"))
    )


def allow_list_schema(what: str, types: Iterable[str], names: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of an `allowedPatterns` config: each pattern with why and where it may stand.

    `names` constrains the patterns themselves, so that no config can allow what the policy
    judges on its own (a lone "*").
    """
    return scoped_reasons_schema(
        f"{what} allowed despite their wildcards, each with the reason a reviewer accepted and "
        "the resource types whose documents may hold it.",
        names,
        {"enum": sorted(types)},
    )


def scoped_reasons_schema(
    description: str, names: Mapping[str, Any], token: Mapping[str, Any]
) -> dict[str, Any]:
    """The schema of a config map from names to a reviewer's reason and the resource types
    (each matching `token`) where the name may stand."""
    return {
        "description": description,
        "type": "object",
        "default": {},
        "propertyNames": dict(names),
        "additionalProperties": {
            "type": "object",
            "properties": {
                "reason": {"type": "string", "minLength": 20},
                "resourceTypes": {
                    "type": "array",
                    "items": dict(token),
                    "minItems": 1,
                    "uniqueItems": True,
                },
            },
            "required": ["reason", "resourceTypes"],
            "additionalProperties": False,
        },
    }


def reasons_schema(description: str, names: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a config map from names (constrained by `names`) to a reviewer's reason."""
    return {
        "description": description,
        "type": "object",
        "default": {},
        "propertyNames": dict(names),
        "additionalProperties": {"type": "string", "minLength": 20},
    }


# --- iam-no-wildcard-actions -----------------------------------------------------------------

IAM_WILDCARD_EXAMPLE = """\
aws.iam.RolePolicy("workers", role=role.id, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:P*", "Resource": role_arn}]}))
"""


def _wildcard_actions(statements: list[Mapping[str, Any]], allowed: frozenset[str]) -> list[str]:
    found: list[str] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        found += [
            f'"Action": "{a}"'
            for a in texts(statement.get("Action"))
            if WILDCARD.search(a) and a.strip().lower() not in allowed
        ]
        if "NotAction" in statement:
            found.append(f'"NotAction": {json.dumps(statement["NotAction"])}')
    return found


def _check_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    patterns = allowed_patterns(args.get_config(), args.resource_type)
    allowed = frozenset(p.lower() for p in patterns)
    verdicts.judge(args.urn, _judge_actions, args, documents, allowed, verdicts, unreadable=True)
    # A resource policy that is not JSON is reported by resource-policy-no-public-principal.
    verdicts.judge(args.urn, _judge_actions, args, resource_policies, allowed, verdicts)
    verdicts.close()


def _judge_actions(
    args: ResourceValidationArgs,
    read: Documents,
    allowed: frozenset[str],
    verdicts: Verdicts,
    *,
    unreadable: bool = False,
) -> None:
    for where, document in read(args.resource_type, args.props):
        if document is None:
            continue

        statements = parse_statements(document)
        subject = f"{where} of '{args.name}' ({args.urn})"
        if statements is None:
            if unreadable:
                verdicts.violation(
                    f"{subject} is not a JSON policy document, so it can't be checked"
                )
            continue

        for grant in _wildcard_actions(statements, allowed):
            verdicts.violation(f"{subject} allows {grant}, which no config entry allows here")


IAM_NO_WILDCARD_ACTIONS = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="No IAM policy, trust policy or resource policy allows an action pattern with a "
    'wildcard ("*", "s3:*", "iam:P*", "sts:Assume*") unless the config allow-lists that pattern '
    "with a reason for that resource type, nor NotAction.",
    validate=_check_wildcards,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedPatterns": allow_list_schema(
                "Action patterns",
                DOCUMENT_TYPES | RESOURCE_POLICY_TYPES | {ROLE},
                # A named service, so that no config allows "*" or "*:Get*".
                {"pattern": "^[a-z0-9-]+:[A-Za-z0-9*?]+$"},
            )
        }
    ),
    remediation_steps="Name each action; where AWS documents a pattern for the case, allow-list "
    "it in the policy config with the reason and the resource types it may stand in.",
)

# --- resource-policy-no-public-principal ----------------------------------------------------

PUBLIC_PRINCIPAL_EXAMPLE = """\
aws.sqs.QueuePolicy("jobs", queue_url=queue.url, policy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                   "Resource": queue.arn}]}))
"""


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
    """`ForAnyValue:StringEquals` and `StringEquals` confine alike; `…IfExists` never does, and
    neither does `ForAllValues:`, which holds when the request carries no such key at all (a
    direct call from another account has no aws:SourceAccount)."""
    qualifier, _, name = operator.strip().lower().rpartition(":")
    return "" if name.endswith("ifexists") or qualifier == "forallvalues" else name


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

    found = resource_policies(args.resource_type, args.props)
    if not found or found[0][1] is None:
        return

    where, document = found[0]
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
    "unless a condition confines it to our account, organisation or source.",
    validate=_check_public_principal,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Name the principals, or add an aws:SourceAccount / aws:PrincipalOrgID "
    "condition.",
)

# --- iam-no-admin-managed-policy -------------------------------------------------------------

ADMIN_POLICY_EXAMPLE = """\
aws.iam.RolePolicyAttachment("admin", role=role.name,
    policy_arn="arn:aws:iam::aws:policy/AdministratorAccess-Amplify")
"""

# Where a managed policy is attached, and the input that names it (one ARN, or a list).
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    ROLE: "managedPolicyArns",
    "aws:iam/user:User": "managedPolicyArns",
}
# AWS's own policies live in the pseudo-account `aws`, in every partition.
_AWS_MANAGED = re.compile(r"arn:aws(?:-[a-z]+)*:iam::aws:policy/(?P<path>\S+)")
# Parts (lower-case) of AWS-managed policy names that hand over the account or a whole service:
# AdministratorAccess and its -Amplify / -AWSElasticBeanstalk forms and every other
# *Administrator* policy, PowerUserAccess and the *PowerUser service policies, and every
# *FullAccess* one (IAMFullAccess, AWSOrganizationsFullAccess, CloudWatchFullAccessV2).
ADMIN_MARKERS = ("administrator", "poweruser", "fullaccess")
# AWS writes its job-function policies (SystemAdministrator, NetworkAdministrator,
# DatabaseAdministrator, DataScientist) for people working across many services, never for one
# workload.
JOB_FUNCTIONS = "job-function/"


def aws_managed_path(arn: str) -> str | None:
    """The path and name of an AWS-managed policy (`service-role/X`), or None for any other ARN."""
    found = _AWS_MANAGED.fullmatch(arn.strip())
    return found["path"] if found else None


def is_admin_equivalent(path: str) -> bool:
    lowered = path.lower()
    name = lowered.rsplit("/", 1)[-1]
    return lowered.startswith(JOB_FUNCTIONS) or any(m in name for m in ADMIN_MARKERS)


def attached_arns(props: object, key: str) -> tuple[list[str], int, UnknownValueError | None]:
    """The known ARNs at `key` (one ARN or a list), how many are unknown, and the first unknown."""
    try:
        value = get(props, key)
    except UnknownValueError as error:
        return [], 1, error
    if isinstance(value, str):
        return [value], 0, None
    return known_elements(value)


def _allowed_managed(config: Mapping[str, Any]) -> frozenset[str]:
    found = config.get("allowedAwsManagedPolicies")
    if not isinstance(found, Mapping):
        return frozenset()
    return frozenset(str(name).strip() for name in cast(Mapping[str, Any], found))


def _managed_problem(arn: str, allowed: frozenset[str]) -> str | None:
    path = aws_managed_path(arn)
    if path is None:
        return None  # customer-managed: iam-managed-policy-declared judges it
    if is_admin_equivalent(path):
        return "an AWS-managed policy that hands over the account or a whole service"
    if path not in allowed:
        return "an AWS-managed policy that the policy config's allowedAwsManagedPolicies omits"
    return None


def _check_admin_policies(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = ATTACHMENTS.get(args.resource_type)
    if key is None:
        return

    allowed = _allowed_managed(args.get_config())
    arns, _, pending = attached_arns(args.props, key)
    for arn in arns:
        problem = _managed_problem(arn, allowed)
        if problem is not None:
            report(f"'{args.name}' ({args.urn}) attaches {arn}: {problem}", None)

    if pending is not None:
        raise pending


IAM_NO_ADMIN_MANAGED_POLICY = ResourceValidationPolicy(
    name="iam-no-admin-managed-policy",
    description="Every AWS-managed policy attached to a role, user or group is one the config "
    "allows by name, with a reason; AdministratorAccess*, PowerUser*, *FullAccess*, "
    "*Administrator* and job-function/* policies never are.",
    validate=_check_admin_policies,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedAwsManagedPolicies": reasons_schema(
                "AWS-managed policies that may be attached, by path and name after `policy/` "
                "(`AmazonEKSWorkerNodePolicy`, `service-role/X`), each with the reason a "
                "reviewer accepted.",
                {"pattern": "^[A-Za-z0-9+=,.@_/-]+$"},
            )
        }
    ),
    remediation_steps="Write a policy with the actions and resources the principal needs, or "
    "allow a narrow AWS-managed policy in the policy config with the reason.",
)

# --- iam-managed-policy-declared -------------------------------------------------------------

FOREIGN_POLICY_EXAMPLE = """\
aws.iam.RolePolicyAttachment("break-glass", role=role.name,
    policy_arn="arn:aws:iam::111122223333:policy/break-glass")
"""


def _check_declared(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    policies = [r for r in args.resources if r.resource_type == CUSTOMER_POLICY]
    declared = frozenset(arn for p in policies if (arn := known_text(p.props, "arn")))

    for holder in (r for r in args.resources if r.resource_type in ATTACHMENTS):
        verdicts.judge(holder.urn, _judge_attachment, holder, declared, verdicts)
    verdicts.close()


def _judge_attachment(holder: PolicyResource, declared: frozenset[str], verdicts: Verdicts) -> None:
    key = ATTACHMENTS[holder.resource_type]
    arns, unknown, pending = attached_arns(holder.props, key)
    built_from = dependencies(holder, key, CUSTOMER_POLICY)
    # A linked policy whose `arn` this view leaves out (a client that sends inputs, which hold the
    # ARN resolved) may be what a listed ARN stands for. At a preview its ARN is unknown, and so is
    # every ARN truly built from it, so unknown elements claim the linked policies first. Iterating
    # a mapping reads its keys only, never an unknown value.
    silent = sum("arn" not in set(p.props) for p in built_from)
    foreign = [a for a in arns if aws_managed_path(a) is None and a.strip() not in declared]
    if len(foreign) > max(silent - unknown, 0):
        verdicts.violation(
            f"{label(holder)} attaches {', '.join(foreign)} ({key}), which matches no "
            "aws.iam.Policy of this stack: a policy made elsewhere has a document the pack never "
            "judges",
            holder.urn,
        )

    # An unknown ARN built from no policy of this stack may be anybody's.
    if pending is not None and unknown > len(built_from):
        raise pending


IAM_MANAGED_POLICY_DECLARED = StackValidationPolicy(
    name="iam-managed-policy-declared",
    description="Every customer-managed policy attached to a role, user or group is an "
    "aws.iam.Policy of this stack, so that the pack judges its document.",
    validate=_check_declared,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare the policy in the program and attach its `arn` output.",
)

POLICIES = [
    IAM_NO_WILDCARD_ACTIONS,
    RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL,
    IAM_NO_ADMIN_MANAGED_POLICY,
    IAM_MANAGED_POLICY_DECLARED,
]
