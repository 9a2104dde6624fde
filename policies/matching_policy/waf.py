"""Nothing in a web ACL lets requests around its protections.

A rule whose action is `allow` ends evaluation for every request it matches, so those requests
skip the managed rule groups and the rate limit behind it, whatever its priority. A scope-down
statement on a managed group narrows the requests the group inspects, and the pack cannot tell
what it leaves out. A scope-down on the rate-based rule exempts requests from the rate limit:
staging lists its load generators that way for a test run (`edge.loadTestCidrs`), prod must not.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items

WEB_ACL = "aws:wafv2/webAcl:WebAcl"

WAF_BYPASS_EXAMPLE = """\
aws.wafv2.WebAcl("api", rules=[{"name": "partners", "priority": 0, "action": {"allow": {}},
    "statement": {"ip_set_reference_statement": {"arn": partners.arn}}}, ...])
"""


def _rule_name(rule: object, index: int) -> str:
    name = get(rule, "name")
    return f"rule {name!r}" if isinstance(name, str) and name else f"rules[{index}]"


def _bypasses(rule: object, index: int) -> list[str]:
    found: list[str] = []
    if get(rule, "action", "allow") is not None:
        found.append(f"{_rule_name(rule, index)} allows what it matches past every later rule")
    managed = get(rule, "statement", "managedRuleGroupStatement")
    if get(managed, "scopeDownStatement") is not None:
        found.append(f"{_rule_name(rule, index)} narrows its managed group with a scope-down")
    return found


def _check_bypass(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != WEB_ACL:
        return

    for index, rule in enumerate(items(get(args.props, "rules"))):
        for finding in _bypasses(rule, index):
            report(f"web ACL '{args.name}' ({args.urn}): {finding}", None)


WAF_NO_BYPASS = ResourceValidationPolicy(
    name="waf-no-bypass",
    description="No WAFv2 web ACL has a rule that allows requests (and so lets them skip every "
    "later rule) or a managed rule group narrowed by a scope-down statement.",
    validate=_check_bypass,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Leave allowing to the default action; to spare a client, count a single "
    "rule of a group with rule_action_overrides instead.",
)

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

POLICIES = [WAF_NO_BYPASS, WAF_RATE_LIMIT_NO_EXEMPTIONS]
