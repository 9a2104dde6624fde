"""The edge: CloudFront in front, an internal application load balancer behind it.

The platform is reachable only through CloudFront (WAF, EU-only viewers, TLS 1.2 or newer),
which reaches the load balancer through a VPC origin. These policies block each way around
that: a load balancer that faces the internet, a guarding security group that admits anything
but CloudFront's origin-facing prefix list, and a distribution that serves viewers outside
the EU or over weak or plain connections.

The WAF counts only if the pack has read its rules, so a distribution's web ACL must be a WAFv2
web ACL declared in this stack: matched by its `arn` output, or where the view carries none (a
preview, a client sending inputs) through the property dependency from `webAclId` to it. A
tenant of a multitenant distribution may customize both fences: it may not disable the web ACL,
override it with one the stack does not declare, or replace the geo whitelist with a wider one.

`cloudfront-geo-eu-only` takes `allowedCountries` only to narrow the EU-27: its schema admits
no other code (the CLI rejects such a config before any run), and the policy intersects the
config with the EU-27 again, so no config can widen the fence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

from matching_policy._guards import (
    LOAD_BALANCERS,
    Guards,
    GuardWalk,
    is_application,
    load_balancer_kind,
    region_of,
)
from matching_policy._props import Verdicts, get, items, known_text, label, texts
from matching_policy.network import Ingress, Source
from matching_policy.waf import WEB_ACL, Declared

Validate = Callable[[ResourceValidationArgs, ReportViolation], None]

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
MULTITENANT_DISTRIBUTION = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"
# A tenant of a multitenant distribution may replace its web ACL and geo restriction.
DISTRIBUTION_TENANT = "aws:cloudfront/distributionTenant:DistributionTenant"
# WAF Classic web ACLs (global and regional): CloudFront takes their bare ids, rules unread.
CLASSIC_WEB_ACLS = frozenset({"aws:waf/webAcl:WebAcl", "aws:wafregional/webAcl:WebAcl"})
# pulumi-aws 7 keeps the old token only as an alias, but state written before the rename has it.
CLASSIC_LOAD_BALANCERS = frozenset(
    {"aws:elb/loadBalancer:LoadBalancer", "aws:elasticloadbalancing/loadBalancer:LoadBalancer"}
)
VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"
LISTENERS = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})

# ISO 3166-1 alpha-2. Greece is GR (EL is the EU's own code, unknown to CloudFront).
EU_27: tuple[str, ...] = (
    *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
    *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
)
DEFAULT_PREFIX_LISTS = {"eu-central-1": "pl-a3a144ca"}


# --- alb-internal ----------------------------------------------------------------------------

ALB_INTERNAL_EXAMPLE = """\
aws.lb.LoadBalancer("api", subnets=public_subnet_ids, security_groups=[group.id])
# `internal` left out: AWS makes the load balancer internet-facing.
"""


def _internal_rule(kind: str) -> Validate:
    """A validate function requiring load balancers of `kind` to be internal."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in LOAD_BALANCERS or _kind(args.props) != kind:
            return

        internal = get(args.props, "internal")
        if internal is True:
            return

        if internal is None:
            found = "leaves `internal` unset, which AWS makes internet-facing"
        else:
            found = f"sets internal={internal!r}: internet-facing"
        report(f"{kind} load balancer '{args.name}' ({args.urn}) {found}", None)

    return validate


def _kind(props: object) -> str:
    return load_balancer_kind(props)


ALB_INTERNAL = ResourceValidationPolicy(
    name="alb-internal",
    description="Every application load balancer is internal: CloudFront reaches it through a "
    "VPC origin, and nothing else may.",
    validate=_internal_rule("application"),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Set internal=True and place the load balancer in private subnets.",
)

NLB_INTERNAL_EXAMPLE = """\
aws.lb.LoadBalancer("tcp", load_balancer_type="network", internal=False, subnets=public_ids)
"""

# A network load balancer facing the internet is a second way in that skips CloudFront, its
# WAF and its geo fence as surely as a public ALB. Gateway load balancers have no scheme.
NLB_INTERNAL = ResourceValidationPolicy(
    name="nlb-internal",
    description="Every network load balancer is internal: the only way in is CloudFront.",
    validate=_internal_rule("network"),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Set internal=True, or reach the service through CloudFront and the ALB.",
)


# --- elb-classic-forbidden -------------------------------------------------------------------

ELB_CLASSIC_EXAMPLE = """\
aws.elb.LoadBalancer("classic", subnets=public_ids, internal=False, listeners=[{
    "instance_port": 8080, "instance_protocol": "http", "lb_port": 80, "lb_protocol": "http"}])
"""


def _check_classic(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in CLASSIC_LOAD_BALANCERS:
        return

    facing = "internal" if get(args.props, "internal") is True else "internet-facing"
    report(f"classic load balancer '{args.name}' ({args.urn}) is {facing}", None)


# Even an internal classic ELB does not fit the edge: CloudFront VPC origins take only ALBs, NLBs
# and instances, its listeners offer no TLS 1.3 policy, and it can't drop invalid headers.
ELB_CLASSIC_FORBIDDEN = ResourceValidationPolicy(
    name="elb-classic-forbidden",
    description="No classic load balancer exists: an internet-facing one skips CloudFront, and "
    "an internal one can't be a VPC origin or meet the listener TLS and header rules.",
    validate=_check_classic,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Use an internal application load balancer behind CloudFront.",
)


# --- alb-ingress-cloudfront-only -------------------------------------------------------------

ALB_INGRESS_EXAMPLE = """\
aws.vpc.SecurityGroupIngressRule("alb-from-anywhere", security_group_id=alb_group.id,
                                 cidr_ipv4="0.0.0.0/0", ip_protocol="tcp",
                                 from_port=443, to_port=443)
"""


def _prefix_lists(config: Mapping[str, Any]) -> dict[str, str]:
    configured = config.get("originFacingPrefixListIds")
    if not isinstance(configured, Mapping):
        return dict(DEFAULT_PREFIX_LISTS)
    return {str(k): str(v) for k, v in cast(Mapping[str, object], configured).items()}


def _check_cloudfront_only(args: StackValidationArgs, report: ReportViolation) -> None:
    lists = _prefix_lists(args.get_config())
    verdicts = Verdicts(report)

    def on_balancer(balancer: PolicyResource, guards: Guards) -> None:
        if not guards.groups and not guards.strangers and not guards.partial:
            verdicts.violation(
                f"load balancer {label(balancer)} names no security group, so AWS guards it "
                "with the VPC's default group",
                balancer.urn,
            )
        if guards.strangers:
            which = ", ".join(guards.strangers)
            if guards.outsiders < len(guards.strangers):
                which = f"{guards.outsiders} of {which}"
            verdicts.violation(
                f"load balancer {label(balancer)} is guarded by security group(s) {which} that "
                "are not in this stack, so their ingress can't be checked",
                balancer.urn,
            )

    def on_ingress(
        balancer: PolicyResource, group: PolicyResource, carrier: PolicyResource, rule: Ingress
    ) -> None:
        region = region_of(carrier)
        allowed = set(lists.values()) if region is None else {lists.get(region, "")} - {""}
        if rule.kind is Source.PREFIX_LIST and rule.source in allowed:
            if rule.is_https_only:
                return
            reason = "only tcp 443 may be opened: the list counts as 55 of a group's 60 rules"
        else:
            where = f"in {region}" if region else "in any configured region"
            reason = (
                "only the CloudFront origin-facing prefix list "
                f"({', '.join(sorted(allowed)) or 'none configured'} {where}) may be a source"
            )
        verdicts.violation(
            f"security group {label(group)} guarding load balancer '{balancer.name}' admits "
            f"{rule.describe()}; {reason}",
            rule.urn,
        )

    GuardWalk(args.resources, verdicts).walk(on_balancer, on_ingress)
    verdicts.close()


ALB_INGRESS_CLOUDFRONT_ONLY = StackValidationPolicy(
    name="alb-ingress-cloudfront-only",
    description="The security groups of every application load balancer admit ingress only from "
    "the CloudFront origin-facing managed prefix list, on tcp 443 only.",
    validate=_check_cloudfront_only,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "originFacingPrefixListIds": {
                "description": "The id of com.amazonaws.global.cloudfront.origin-facing in each "
                "region (the id differs per region).",
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]$"},
                "additionalProperties": {"type": "string", "pattern": "^pl-[0-9a-f]{8,17}$"},
                "default": DEFAULT_PREFIX_LISTS,
            }
        }
    ),
    remediation_steps="Admit only the origin-facing prefix list (aws.ec2.get_managed_prefix_list) "
    "on tcp 443, and keep the group and its rules in this stack.",
)


# --- alb-ingress-region-known ----------------------------------------------------------------

ALB_INGRESS_REGION_EXAMPLE = """\
aws.ec2.SecurityGroup("alb", ingress=[...], opts=ResourceOptions(provider=provider_without_region))
"""


def _check_region_known(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    reported: set[str] = set()

    def on_ingress(
        balancer: PolicyResource, group: PolicyResource, carrier: PolicyResource, rule: Ingress
    ) -> None:
        if rule.kind is not Source.PREFIX_LIST or carrier.urn in reported:
            return
        if region_of(carrier) is None:
            reported.add(carrier.urn)
            verdicts.violation(
                f"the region of {label(carrier)} (guarding '{balancer.name}' through group "
                f"'{group.name}') is not known, so {rule.source} was accepted if it is the "
                "origin-facing list of any configured region",
                carrier.urn,
            )

    GuardWalk(args.resources, verdicts).walk(lambda _balancer, _guards: None, on_ingress)
    verdicts.close()


ALB_INGRESS_REGION_KNOWN = StackValidationPolicy(
    name="alb-ingress-region-known",
    description="The region of each rule that admits a prefix list to a load balancer's group is "
    "known, so that alb-ingress-cloudfront-only can hold it to that region's list.",
    validate=_check_region_known,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps="Give the provider (or the resource) an explicit region.",
)


# --- cloudfront-geo-eu-only ------------------------------------------------------------------

CLOUDFRONT_GEO_EXAMPLE = """\
aws.cloudfront.Distribution("api", restrictions={"geo_restriction": {
    "restriction_type": "whitelist", "locations": ["DE", "FR", "GB"]}}, ...)
"""


def _allowed_countries(config: Mapping[str, Any]) -> list[str]:
    configured = texts(config.get("allowedCountries")) or EU_27
    return [c for c in configured if c in EU_27]


def _check_geo(args: ResourceValidationArgs, report: ReportViolation) -> None:
    shape = DISTRIBUTIONS.get(args.resource_type)
    if shape is not None:
        geo = get(args.props, "restrictions", "geoRestriction")
        finding = _geo_finding(geo, shape.locations, args.get_config())
        subject = f"distribution '{args.name}' ({args.urn})"
    elif args.resource_type == DISTRIBUTION_TENANT:
        # A tenant without a geo customization keeps its distribution's restriction.
        geo = get(args.props, "customizations", "geoRestriction")
        finding = None if geo is None else _geo_finding(geo, "locations", args.get_config())
        subject = f"distribution tenant '{args.name}' ({args.urn}) customization"
    else:
        return

    if finding is not None:
        report(f"{subject} {finding}", None)


def _geo_finding(geo: object, locations_key: str, config: Mapping[str, Any]) -> str | None:
    allowed = _allowed_countries(config)
    kind = get(geo, "restrictionType")
    locations = texts(get(geo, locations_key))
    outside = [c for c in locations if c not in allowed]

    if geo is None:
        return "sets no restrictions.geoRestriction: it serves every country"
    if kind != "whitelist":
        return f"has geo restrictionType {kind!r}, not 'whitelist'"
    if not locations:
        return "has a whitelist geo restriction with no locations"
    if outside:
        return (
            f"serves viewers in {', '.join(outside)}, outside the allowed countries "
            f"({' '.join(allowed)})"
        )
    return None


CLOUDFRONT_GEO_EU_ONLY = ResourceValidationPolicy(
    name="cloudfront-geo-eu-only",
    description="Every CloudFront distribution, multitenant ones too, whitelists viewers from "
    "EU-27 countries only, and no distribution tenant's customization replaces that whitelist "
    "with another.",
    validate=_check_geo,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedCountries": {
                "description": "ISO 3166-1 alpha-2 codes viewers may come from: a subset of the "
                "EU-27 (GR, not EL; GB, IS, LI, NO and CH are not in the EU).",
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^[A-Z]{2}$", "enum": list(EU_27)},
                "default": list(EU_27),
            }
        }
    ),
    remediation_steps="Set restrictions.geo_restriction to a whitelist of EU-27 codes.",
)

# --- issue #6 breadth: CloudFront ------------------------------------------------------------

# CloudFront's TLS policies at or above TLS 1.2 with the 2021 cipher set, oldest first.
MODERN_VIEWER_TLS = frozenset({"TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"})
SECURE_VIEWER_POLICIES = frozenset({"https-only", "redirect-to-https"})
# The origin protocols CloudFront offers; only TLSv1.2 is current (it has no TLSv1.3 there).
ORIGIN_TLS = frozenset({"TLSv1.2"})


@dataclass(frozen=True)
class Shape:
    """Where a distribution type keeps what these policies read (camelCase, as on the wire)."""

    behaviours: str
    origin_id: str
    vpc_origin: str
    other_origins: tuple[str, ...]
    locations: str


# Every resource that serves viewers through CloudFront, so that each rule holds for all of them.
DISTRIBUTIONS = {
    DISTRIBUTION: Shape(
        "orderedCacheBehaviors",
        "originId",
        "vpcOriginConfig",
        ("customOriginConfig", "s3OriginConfig"),
        "locations",
    ),
    MULTITENANT_DISTRIBUTION: Shape(
        "cacheBehaviors", "id", "vpcOriginConfigs", ("customOriginConfigs",), "items"
    ),
}


def _distribution_rule(check: Callable[[Shape, Any], list[str]]) -> Validate:
    """A validate function that runs `check` on each distribution and reports what it finds."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        shape = DISTRIBUTIONS.get(args.resource_type)
        if shape is None:
            return

        for finding in check(shape, args.props):
            report(f"distribution '{args.name}' ({args.urn}) {finding}", None)

    return validate


CLOUDFRONT_WAF_EXAMPLE = 'aws.cloudfront.Distribution("api", web_acl_id=None, ...)'


def _check_waf(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in DISTRIBUTIONS:
        acl = get(args.props, "webAclId")
        if not (isinstance(acl, str) and acl):
            report(
                f"distribution '{args.name}' ({args.urn}) has no webAclId: no WAF web ACL "
                "filters it",
                None,
            )
    elif args.resource_type == DISTRIBUTION_TENANT:
        finding = _tenant_waf(get(args.props, "customizations", "webAcl"))
        if finding is not None:
            report(f"distribution tenant '{args.name}' ({args.urn}) {finding}", None)


def _tenant_waf(customization: object) -> str | None:
    """What is wrong with a tenant's web ACL customization; absent, it keeps the distribution's."""
    if customization is None:
        return None

    action = get(customization, "action")
    verb = action.strip().lower() if isinstance(action, str) else action
    if verb == "disable":
        return "disables its distribution's web ACL: its viewers reach the origin unfiltered"
    if verb == "override" and known_text(customization, "arn") is not None:
        return None
    return (
        f"customizes its web ACL with action {action!r} and arn {get(customization, 'arn')!r}; "
        "only 'override' with a web ACL's ARN keeps a WAF in front of it"
    )


CLOUDFRONT_WAF = ResourceValidationPolicy(
    name="cloudfront-waf-attached",
    description="Every CloudFront distribution, multitenant ones too, has a WAFv2 web ACL, and no "
    "distribution tenant disables it.",
    validate=_check_waf,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

CLOUDFRONT_WAF_IN_STACK_EXAMPLE = """\
aws.cloudfront.Distribution("api",
    web_acl_id="arn:aws:wafv2:us-east-1:111122223333:global/webacl/allow-everything/1", ...)
"""


def _check_waf_in_stack(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    acls = Declared.of(args.resources, WEB_ACL)

    for resource in args.resources:
        if resource.resource_type in DISTRIBUTIONS:
            verdicts.judge(resource.urn, _judge_acl, resource, "webAclId", acls, verdicts)
        elif resource.resource_type == DISTRIBUTION_TENANT:
            verdicts.judge(resource.urn, _judge_tenant_acl, resource, acls, verdicts)
    verdicts.close()


def _judge_tenant_acl(tenant: PolicyResource, acls: Declared, verdicts: Verdicts) -> None:
    # Only an override names another web ACL; a disabled one is cloudfront-waf-attached's.
    customization = get(tenant.props, "customizations", "webAcl")
    action = get(customization, "action")
    if isinstance(action, str) and action.strip().lower() == "override":
        _judge_acl(tenant, "customizations", acls, verdicts, ("customizations", "webAcl", "arn"))


def _judge_acl(
    resource: PolicyResource,
    key: str,
    acls: Declared,
    verdicts: Verdicts,
    path: tuple[str, ...] = (),
) -> None:
    """Holds the web ACL at `path` (default: `key`) to a WAFv2 web ACL this stack declares."""
    try:
        value = get(resource.props, *(path or (key,)))
    except UnknownValueError:
        _judge_unknown_acl(resource, key, acls, verdicts)
        return
    if not isinstance(value, str) or not value:
        return  # no web ACL at all: cloudfront-waf-attached reports it

    if acls.strangers(resource, key, [value], 0):
        hint = "" if value.startswith("arn:aws:wafv2:") else " (not even a WAFv2 ARN)"
        verdicts.violation(
            f"{label(resource)} is filtered by web ACL {value!r}{hint}, which this stack does not "
            "declare as a WAFv2 web ACL, so no policy has read its rules",
            resource.urn,
        )


def _judge_unknown_acl(
    resource: PolicyResource, key: str, acls: Declared, verdicts: Verdicts
) -> None:
    if acls.unresolved(resource, key):
        return

    classic = [
        r.name
        for r in resource.property_dependencies.get(key, [])
        if r.resource_type in CLASSIC_WEB_ACLS
    ]
    if classic:
        verdicts.violation(
            f"{label(resource)} takes its web ACL from WAF Classic web ACL(s) "
            f"{', '.join(classic)}, not from a WAFv2 web ACL of this stack",
            resource.urn,
        )
    else:
        verdicts.unknown(
            f"the web ACL of {label(resource)} is not known yet, and {key} is built from no "
            "WAFv2 web ACL of this stack"
        )


CLOUDFRONT_WAF_IN_STACK = StackValidationPolicy(
    name="cloudfront-waf-in-stack",
    description="The web ACL of every CloudFront distribution (and every tenant override) is a "
    "WAFv2 web ACL declared in this stack, whose rules the WAF policies read.",
    validate=_check_waf_in_stack,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Pass the arn output of the stack's aws.wafv2.WebAcl as web_acl_id.",
)

CLOUDFRONT_HTTPS_EXAMPLE = """\
aws.cloudfront.Distribution("api", default_cache_behavior={"viewer_protocol_policy": "allow-all"})
"""


def _https_viewers(shape: Shape, props: Any) -> list[str]:
    behaviours = [("defaultCacheBehavior", get(props, "defaultCacheBehavior"))]
    behaviours += [
        (f"{shape.behaviours}[{i}]", b) for i, b in enumerate(items(get(props, shape.behaviours)))
    ]
    return [
        f"lets viewers use {get(b, 'viewerProtocolPolicy')!r} in {where}"
        for where, b in behaviours
        if get(b, "viewerProtocolPolicy") not in SECURE_VIEWER_POLICIES
    ]


CLOUDFRONT_HTTPS_VIEWERS = ResourceValidationPolicy(
    name="cloudfront-https-viewers",
    description="Every cache behaviour of a distribution makes viewers use HTTPS "
    "(https-only or redirect-to-https).",
    validate=_distribution_rule(_https_viewers),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

CLOUDFRONT_TLS_EXAMPLE = """\
aws.cloudfront.Distribution("api", viewer_certificate={"cloudfront_default_certificate": True})
"""


def _viewer_tls(_shape: Shape, props: Any) -> list[str]:
    certificate = get(props, "viewerCertificate")
    if get(certificate, "cloudfrontDefaultCertificate") is True:
        # The default *.cloudfront.net certificate ignores minimumProtocolVersion: TLSv1 stays on.
        return ["uses the default CloudFront certificate, which accepts TLSv1"]

    version = get(certificate, "minimumProtocolVersion")
    if version in MODERN_VIEWER_TLS:
        return []
    return [f"accepts viewers down to {version!r}; required: one of {sorted(MODERN_VIEWER_TLS)}"]


CLOUDFRONT_TLS = ResourceValidationPolicy(
    name="cloudfront-viewer-tls",
    description="Every distribution serves viewers with its own certificate and "
    "TLSv1.2_2021 or a newer security policy.",
    validate=_distribution_rule(_viewer_tls),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

CLOUDFRONT_VPC_ORIGINS_EXAMPLE = """\
aws.cloudfront.Distribution("api", origins=[{"domain_name": alb.dns_name,
    "custom_origin_config": {...}}])  # the ALB would have to face the internet
"""


def _vpc_origins(shape: Shape, props: Any) -> list[str]:
    origins = items(get(props, "origins"))
    if not origins:
        return ["names no origin"]
    return [
        f"reaches origin {get(o, shape.origin_id)!r} without a {shape.vpc_origin} (or with another "
        "kind of origin beside it)"
        for o in origins
        if not _present(get(o, shape.vpc_origin))
        or any(_present(get(o, key)) for key in shape.other_origins)
    ]


def _present(value: object) -> bool:
    """Set to something: the multitenant shape sends each origin config as a list of one."""
    return value is not None and value not in ([], {})


CLOUDFRONT_VPC_ORIGINS = ResourceValidationPolicy(
    name="cloudfront-vpc-origins-only",
    description="Every distribution origin is a CloudFront VPC origin (no custom or S3 origin), "
    "so that the load balancer behind it can stay internal.",
    validate=_distribution_rule(_vpc_origins),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


CLOUDFRONT_VPC_ORIGIN_EXAMPLE = """\
aws.cloudfront.VpcOrigin("alb", vpc_origin_endpoint_config={"origin_protocol_policy": "http-only",
    "origin_ssl_protocols": {"items": ["TLSv1", "TLSv1.2"], "quantity": 2}, ...})
"""


def _check_vpc_origin(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != VPC_ORIGIN:
        return

    endpoint = get(args.props, "vpcOriginEndpointConfig")
    policy = get(endpoint, "originProtocolPolicy")
    protocols = texts(get(endpoint, "originSslProtocols", "items"))
    weak = [p for p in protocols if p not in ORIGIN_TLS]

    subject = f"VPC origin '{args.name}' ({args.urn})"
    if policy != "https-only":
        report(f"{subject} reaches the load balancer with {policy!r}, not 'https-only'", None)
    if weak or not protocols:
        report(f"{subject} offers origin TLS {protocols or 'unset'}; only TLSv1.2 may be", None)


# Medical records cross the VPC origin: it must not fall back to plain HTTP or to TLS < 1.2.
CLOUDFRONT_VPC_ORIGIN_HTTPS = ResourceValidationPolicy(
    name="cloudfront-vpc-origin-https",
    description="Every CloudFront VPC origin reaches its load balancer over HTTPS with TLSv1.2.",
    validate=_check_vpc_origin,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


# --- issue #6 breadth: load balancers --------------------------------------------------------

# The ELB policies that negotiate TLS 1.3 (the default listener policy is a 2016 one).
TLS13_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
]

ALB_LISTENER_EXAMPLE = 'aws.lb.Listener("api", load_balancer_arn=alb.arn, port=80, protocol="HTTP")'


def _check_listener(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in LISTENERS:
        return

    allowed = texts(args.get_config().get("allowedSslPolicies")) or TLS13_POLICIES
    protocol = get(args.props, "protocol")
    policy = get(args.props, "sslPolicy")

    subject = f"listener '{args.name}' ({args.urn})"
    if protocol != "HTTPS":
        report(f"{subject} uses protocol {protocol!r} (absent means HTTP), not HTTPS", None)
    elif policy not in allowed:
        report(f"{subject} uses TLS policy {policy!r}, not one of {', '.join(allowed)}", None)


ALB_LISTENER_TLS13 = ResourceValidationPolicy(
    name="alb-listener-https-tls13",
    description="Every load balancer listener is HTTPS with an explicit TLS 1.3 security policy.",
    validate=_check_listener,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedSslPolicies": {
                "description": "ELB security policies a listener may use.",
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "pattern": "^ELBSecurityPolicy-TLS13-"},
                "default": TLS13_POLICIES,
            }
        }
    ),
)


def _alb_flag(key: str, finding: str) -> Validate:
    """A validate function requiring the boolean `key` to be true on application LBs."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in LOAD_BALANCERS or not is_application(args.props):
            return

        if get(args.props, key) is not True:
            report(f"application load balancer '{args.name}' ({args.urn}) {finding}", None)

    return validate


ALB_DROP_INVALID_HEADERS_EXAMPLE = 'aws.lb.LoadBalancer("api", internal=True)  # headers kept'

ALB_DROP_INVALID_HEADERS = ResourceValidationPolicy(
    name="alb-drop-invalid-headers",
    description="Every application load balancer drops invalid header fields (request smuggling).",
    validate=_alb_flag("dropInvalidHeaderFields", "forwards invalid header fields"),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)

ALB_DELETION_PROTECTION_EXAMPLE = 'aws.lb.LoadBalancer("api", internal=True)  # deletable'

ALB_DELETION_PROTECTION = ResourceValidationPolicy(
    name="alb-deletion-protection",
    description="Every application load balancer has deletion protection on (the VPC origin "
    "and DNS point at it).",
    validate=_alb_flag("enableDeletionProtection", "can be deleted: enableDeletionProtection off"),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)

POLICIES = [
    ALB_INTERNAL,
    NLB_INTERNAL,
    ELB_CLASSIC_FORBIDDEN,
    ALB_INGRESS_CLOUDFRONT_ONLY,
    ALB_INGRESS_REGION_KNOWN,
    CLOUDFRONT_GEO_EU_ONLY,
    CLOUDFRONT_WAF,
    CLOUDFRONT_WAF_IN_STACK,
    CLOUDFRONT_HTTPS_VIEWERS,
    CLOUDFRONT_TLS,
    CLOUDFRONT_VPC_ORIGINS,
    CLOUDFRONT_VPC_ORIGIN_HTTPS,
    ALB_LISTENER_TLS13,
    ALB_DROP_INVALID_HEADERS,
    ALB_DELETION_PROTECTION,
]
