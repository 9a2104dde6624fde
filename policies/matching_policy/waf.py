"""Nothing in a web ACL lets requests around its protections.

A rule whose action is `allow` ends evaluation for every request it matches, so those requests
skip the managed rule groups and the rate limit behind it, whatever its priority. So does a rule
of a managed group overridden to allow, and an `allow` rule inside a rule group the web ACL
references. A scope-down statement on a managed group narrows the requests the group inspects,
and the pack cannot tell what it leaves out. A managed rule overridden to count (or to a CAPTCHA
or challenge a client can solve) blocks nothing: only the rules `countedRules` lists may count,
by default the two the edge component counts for its B2B clients. A rate-based rule limits a
client only when it counts per address as WAF sees it: keyed on a forwarded header (or custom
keys), every forged value is a new client. A scope-down on the rate-based rule exempts requests
from the rate limit: staging lists its load generators that way for a test run
(`edge.loadTestCidrs`), prod must not.

The pack can judge only the rules it reads, so rules live in the web ACL's own `rules` list and
in rule groups declared in this stack. A rule added by a resource of its own (`WebAclRule`,
`WebAclRuleGroupAssociation`), rules given as raw JSON, and a reference to a rule group the stack
does not declare are violations whatever they hold. A reference is matched to a declared group
by that group's `arn` output, or where the view carries none (a preview, a client sending
inputs) through the property dependency from the web ACL's `rules` to the group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    known_text,
    label,
    number,
    texts,
)

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
RULE_GROUP = "aws:wafv2/ruleGroup:RuleGroup"
# Resources that add rules to a web ACL from outside its `rules` list, which never shows them.
DETACHED_RULES = {
    "aws:wafv2/webAclRule:WebAclRule": "adds a rule to a web ACL from outside its rules list",
    "aws:wafv2/webAclRuleGroupAssociation:WebAclRuleGroupAssociation": "adds a rule group to a "
    "web ACL from outside its rules list",
}
# The managed rules the edge component counts instead of blocking, and why: B2B clients call
# from cloud hosts (HostingProviderIPList), and medical records exceed 8 KB (SizeRestrictions_BODY).
COUNTED_RULES: dict[str, list[str]] = {
    "AWSManagedRulesAnonymousIpList": ["HostingProviderIPList"],
    "AWSManagedRulesCommonRuleSet": ["SizeRestrictions_BODY"],
}
# WAF's default evaluation window; limits over other windows are compared per 5 minutes.
RATE_WINDOW_SECONDS = 300
MAX_RATE_LIMIT = 10_000


# --- waf-no-bypass ---------------------------------------------------------------------------

WAF_BYPASS_EXAMPLE = """\
aws.wafv2.WebAcl("api", rules=[{"name": "partners", "priority": 0, "action": {"allow": {}},
    "statement": {"ip_set_reference_statement": {"arn": partners.arn}}}, ...])
"""


@dataclass(frozen=True)
class Limits:
    """What the config allows: the managed rules that may count, and the largest rate limit."""

    counted: Mapping[str, Sequence[str]]
    max_rate: int


def _limits(config: Mapping[str, Any]) -> Limits:
    counted = config.get("countedRules")
    if isinstance(counted, Mapping):
        groups = cast(Mapping[str, object], counted)
        allowed = {str(group): texts(rules) for group, rules in groups.items()}
    else:
        allowed = dict(COUNTED_RULES)
    max_rate = number(config.get("maxRateLimit"))
    return Limits(allowed, MAX_RATE_LIMIT if max_rate is None else max_rate)


def _rule_name(rule: object, index: int) -> str:
    name = get(rule, "name")
    return f"rule {name!r}" if isinstance(name, str) and name else f"rules[{index}]"


def _actions(block: object) -> set[str]:
    """The actions an action block sets: {"allow": {}} reads as {"allow"}."""
    if not isinstance(block, Mapping):
        return set()
    return {str(k) for k, v in cast(Mapping[str, object], block).items() if v is not None}


def _acl_rule_findings(rule: object, index: int, limits: Limits) -> list[str]:
    name = _rule_name(rule, index)
    found: list[str] = []
    if "allow" in _actions(get(rule, "action")):
        found.append(f"{name} allows what it matches past every later rule")

    statement = get(rule, "statement")
    managed = get(statement, "managedRuleGroupStatement")
    if managed is not None:
        found += _managed_findings(name, managed, limits)
    reference = get(statement, "ruleGroupReferenceStatement")
    for rule_name, actions in _overrides(reference):
        if "allow" in actions:
            found.append(
                f"{name} overrides {rule_name!r} of its rule group to allow, past every later rule"
            )
    rate = get(statement, "rateBasedStatement")
    if rate is not None:
        found += _rate_findings(name, rate, limits.max_rate)
    return found


def _overrides(statement: object) -> list[tuple[object, set[str]]]:
    """Each rule a group statement overrides, with the actions it overrides it to."""
    return [
        (get(o, "name"), _actions(get(o, "actionToUse")))
        for o in items(get(statement, "ruleActionOverrides"))
    ]


def _managed_findings(name: str, managed: object, limits: Limits) -> list[str]:
    found: list[str] = []
    if get(managed, "scopeDownStatement") is not None:
        found.append(f"{name} narrows its managed group with a scope-down")

    group = get(managed, "name")
    may_count: set[str] = set(limits.counted.get(group, ())) if isinstance(group, str) else set()
    for rule_name, actions in _overrides(managed):
        if "allow" in actions:
            found.append(f"{name} overrides its rule {rule_name!r} to allow, past every later rule")
        elif actions - {"block"} and not (actions == {"count"} and rule_name in may_count):
            found.append(
                f"{name} overrides its rule {rule_name!r} to {'/'.join(sorted(actions))}, so it "
                f"blocks nothing (countedRules lets {sorted(may_count) or 'no rule'} of "
                f"{group!r} count)"
            )
    return found


def _rate_findings(name: str, rate: object, max_rate: int) -> list[str]:
    found: list[str] = []
    key = get(rate, "aggregateKeyType")
    if key != "IP":
        found.append(
            f"{name} counts requests per {key!r}, not per client address ('IP'): a forwarded "
            "header or custom key is whatever the client sends, so it is never limited"
        )

    limit = number(get(rate, "limit"))
    window = number(get(rate, "evaluationWindowSec")) or RATE_WINDOW_SECONDS
    if limit is not None and limit * RATE_WINDOW_SECONDS / window > max_rate:
        found.append(
            f"{name} lets a client send {limit} requests per {window} s, above maxRateLimit "
            f"({max_rate} per {RATE_WINDOW_SECONDS} s)"
        )
    return found


def _group_rule_findings(rule: object, index: int, _limits: Limits) -> list[str]:
    if "allow" not in _actions(get(rule, "action")):
        return []
    return [
        f"{_rule_name(rule, index)} allows what it matches: in a web ACL that references the "
        "group, that ends evaluation past every later rule"
    ]


RuleFindings = Callable[[object, int, Limits], list[str]]
# What each type holds its rules in (and the raw JSON spelling of them), and how to judge one.
RULE_HOLDERS: dict[str, tuple[str, str, RuleFindings]] = {
    WEB_ACL: ("web ACL", "ruleJson", _acl_rule_findings),
    RULE_GROUP: ("rule group", "rulesJson", _group_rule_findings),
}


def _check_bypass(args: ResourceValidationArgs, report: ReportViolation) -> None:
    detached = DETACHED_RULES.get(args.resource_type)
    if detached is not None:
        report(f"'{args.name}' ({args.urn}) {detached}; keep every rule in the ACL's rules", None)
        return

    holder = RULE_HOLDERS.get(args.resource_type)
    if holder is None:
        return

    kind, raw_key, findings = holder
    subject = f"{kind} '{args.name}' ({args.urn})"
    limits = _limits(args.get_config())
    verdicts = Verdicts(report)

    def judge_rule(rule: object, index: int) -> None:
        for finding in findings(rule, index, limits):
            verdicts.violation(f"{subject}: {finding}")

    def judge_rules() -> None:
        if known_text(args.props, raw_key) is not None:
            verdicts.violation(f"{subject} gives its rules as raw JSON ({raw_key}), unread")
        for index, rule in enumerate(items(get(args.props, "rules"))):
            verdicts.judge(args.urn, judge_rule, rule, index)

    verdicts.judge(args.urn, judge_rules)
    verdicts.close()


WAF_NO_BYPASS = ResourceValidationPolicy(
    name="waf-no-bypass",
    description="No WAFv2 rule lets requests skip the web ACL: no allow rule or override, no "
    "managed group narrowed by a scope-down or with rules counting beyond countedRules, no rate "
    "limit keyed on anything but the client address or above maxRateLimit, and no rule outside "
    "the web ACL's own list.",
    validate=_check_bypass,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "countedRules": {
                "description": "Per managed rule group, the rules that may be overridden to "
                "count; any other override but block is a violation.",
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9_-]+$"},
                "additionalProperties": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"type": "string", "minLength": 1},
                },
                "default": COUNTED_RULES,
            },
            "maxRateLimit": {
                "description": "The most requests a rate-based rule may let one client send per "
                f"{RATE_WINDOW_SECONDS} s (limits over other windows are scaled to it).",
                "type": "integer",
                "minimum": 10,
                "default": MAX_RATE_LIMIT,
            },
        }
    ),
    remediation_steps="Leave allowing to the default action; to spare a client, count a single "
    "managed rule listed in countedRules; key rate limits on IP; keep rules in the web ACL.",
)


# --- waf-rule-groups-in-stack ----------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """The resources of one type a stack declares, to match references (ARN inputs) against.

    A reference is matched by a declared resource's `arn` output. Where the view carries no ARN
    (a preview, a client sending inputs), each property dependency from the referring input to a
    declared resource accounts for one reference, the unknown ones first: so a literal ARN beside
    a linked one is still told apart.
    """

    token: str
    arns: frozenset[str]

    @classmethod
    def of(cls, resources: Sequence[PolicyResource], token: str) -> Declared:
        arns = (known_text(r.props, "arn") for r in resources if r.resource_type == token)
        return cls(token, frozenset(a for a in arns if a is not None))

    def unresolved(self, holder: PolicyResource, key: str) -> list[PolicyResource]:
        """The declared resources `key` was built from whose ARN this view does not carry."""
        return [
            r for r in dependencies(holder, key, self.token) if known_text(r.props, "arn") is None
        ]

    def strangers(
        self, holder: PolicyResource, key: str, known: Sequence[str], unknown: int
    ) -> list[str]:
        """The known references among `known` that no declared resource accounts for."""
        unmatched = [arn for arn in known if arn not in self.arns]
        spare = len(self.unresolved(holder, key)) - unknown
        return unmatched if len(unmatched) > spare else []


WAF_RULE_GROUPS_EXAMPLE = """\
aws.wafv2.WebAcl("api", rules=[{"name": "partners", "override_action": {"none": {}},
    "statement": {"rule_group_reference_statement": {
        "arn": "arn:aws:wafv2:us-east-1:111122223333:global/rulegroup/partners/1"}}}, ...])
"""


def _check_rule_groups(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    groups = Declared.of(args.resources, RULE_GROUP)

    for acl in (r for r in args.resources if r.resource_type == WEB_ACL):
        verdicts.judge(acl.urn, _judge_references, acl, groups, verdicts)
    verdicts.close()


def _judge_references(acl: PolicyResource, groups: Declared, verdicts: Verdicts) -> None:
    known: list[str] = []
    unknown = 0
    for rule in items(get(acl.props, "rules")):
        try:
            arn = get(rule, "statement", "ruleGroupReferenceStatement", "arn")
        except UnknownValueError:
            unknown += 1
            continue
        if arn is not None:
            known.append(str(arn))

    strangers = groups.strangers(acl, "rules", known, unknown)
    if strangers:
        verdicts.violation(
            f"web ACL {label(acl)} references rule group(s) {', '.join(strangers)} that this "
            "stack does not declare, so no policy has read their rules",
            acl.urn,
        )
    if unknown > len(groups.unresolved(acl, "rules")):
        verdicts.unknown(
            f"{unknown} rule group reference(s) of web ACL {label(acl)} are not known yet and "
            "not all are built from a declared rule group"
        )


WAF_RULE_GROUPS_IN_STACK = StackValidationPolicy(
    name="waf-rule-groups-in-stack",
    description="Every rule group a WAFv2 web ACL references is declared in this stack, where "
    "waf-no-bypass reads its rules.",
    validate=_check_rule_groups,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare the rule group in this stack (aws.wafv2.RuleGroup) and reference "
    "its arn output, or move its rules into the web ACL.",
)


# --- waf-rate-limit-no-exemptions ------------------------------------------------------------

WAF_EXEMPTION_EXAMPLE = """\
{"rate_based_statement": {"limit": 2000, "aggregate_key_type": "IP", "scope_down_statement":
    {"not_statement": {"statements": [{"ip_set_reference_statement": {"arn": load.arn}}]}}}}
"""


def _check_exemptions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != WEB_ACL:
        return

    for index, rule in enumerate(items(get(args.props, "rules"))):
        statement: Any = get(rule, "statement", "rateBasedStatement")
        if get(statement, "scopeDownStatement") is not None:
            report(
                f"web ACL '{args.name}' ({args.urn}): {_rule_name(rule, index)} rate-limits only "
                "the requests its scope-down statement selects; the others are exempt",
                None,
            )


# Advisory in staging, where load tests list their generators; mandatory in prod.
WAF_RATE_LIMIT_NO_EXEMPTIONS = ResourceValidationPolicy(
    name="waf-rate-limit-no-exemptions",
    description="Every rate-based rule of a WAFv2 web ACL counts every request: no scope-down "
    "statement exempts addresses (a load generator's, say) from the limit.",
    validate=_check_exemptions,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Empty `edge.loadTestCidrs` once the load test is over.",
)

POLICIES = [WAF_NO_BYPASS, WAF_RULE_GROUPS_IN_STACK, WAF_RATE_LIMIT_NO_EXEMPTIONS]
