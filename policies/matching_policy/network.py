"""Security-group ingress, read the same way whichever of its three shapes a program uses.

AWS attaches an ingress rule to a group in three ways, and a policy that reads only one is
bypassed by the other two: inline `ingress` blocks on the group, `aws.vpc.SecurityGroupIngressRule`
and `aws.ec2.SecurityGroupRule` (with `type="ingress"`). `ingress_of` turns any of them into
`Ingress` values, one per admitted source, for this module's policy and for the edge policies.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items, number, texts

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
# Adopting a VPC's default group takes inline rules too, and AWS attaches that group to any
# network interface created without one.
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
GROUP_TYPES = frozenset({SECURITY_GROUP, DEFAULT_SECURITY_GROUP})
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
RULE_TYPES = frozenset({INGRESS_RULE, GROUP_RULE})
INGRESS_TYPES = RULE_TYPES | GROUP_TYPES

# Where no internet host can come from: RFC 1918, carrier-grade NAT (RFC 6598) and link-local;
# for IPv6, unique-local (RFC 4193) and link-local. Any other range counts as public.
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
)
_PRIVATE_V6 = tuple(ipaddress.IPv6Network(n) for n in ("fc00::/7", "fe80::/10"))
_HTTPS_PORT = 443
# IANA protocol numbers AWS accepts in place of the names; -1 and "all" both mean every protocol.
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


def is_public(cidr: str) -> bool:
    """True unless every address in `cidr` lies in a range the internet can't reach us from.

    A range is judged by its addresses, not its spelling, so 0.0.0.0/1 plus 128.0.0.0/1, or
    0::/0, are as public as 0.0.0.0/0 and ::/0. A range that doesn't parse counts as public:
    AWS may read it another way than Python does.
    """
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return True
    if isinstance(network, ipaddress.IPv4Network):
        return not any(network.subnet_of(private) for private in _PRIVATE_V4)
    return not any(network.subnet_of(private) for private in _PRIVATE_V6)


def protocol_name(value: object) -> str:
    """A rule's protocol as one spelling: lower case, named, "-1" for every protocol."""
    if value is None:
        return "(no protocol)"
    text = str(int(value)) if isinstance(value, int | float) else str(value).strip().lower()
    return _PROTOCOL_NAMES.get(text, text)


class Source(StrEnum):
    IPV4 = "IPv4 range"
    IPV6 = "IPv6 range"
    PREFIX_LIST = "prefix list"
    GROUP = "security group"
    SELF = "the group itself"


@dataclass(frozen=True)
class Ingress:
    """One source that one ingress rule admits, and where the rule was written."""

    source: str
    kind: Source
    protocol: str
    from_port: int | None
    to_port: int | None
    via: str
    urn: str

    @property
    def is_https_only(self) -> bool:
        tcp = self.protocol == "tcp"
        return tcp and self.from_port == _HTTPS_PORT and self.to_port == _HTTPS_PORT

    def describe(self) -> str:
        return f"{self.source} ({self.kind}) on {self._ports()} through {self.via}"

    def _ports(self) -> str:
        if self.protocol == "-1":
            return "every protocol and port"
        if self.from_port == self.to_port:
            return f"{self.protocol} {self.from_port}"
        return f"{self.protocol} {self.from_port}-{self.to_port}"


def ingress_of(token: str, props: Any, name: str, urn: str) -> list[Ingress]:
    """Every source admitted by a security group's inline rules or by one separate rule."""
    if token in GROUP_TYPES:
        return _inline(token, props, name, urn)
    if token == INGRESS_RULE:
        return _ingress_rule(props, name, urn)
    if token == GROUP_RULE:
        return _group_rule(props, name, urn)
    return []


def _inline(token: str, props: Any, name: str, urn: str) -> list[Ingress]:
    found: list[Ingress] = []
    for index, rule in enumerate(items(get(props, "ingress"))):
        found.extend(
            _sources(
                rule,
                protocol=get(rule, "protocol"),
                via=f"inline ingress[{index}] of {_short(token)} '{name}'",
                urn=urn,
                fields=_GROUP_RULE_FIELDS,
            )
        )
    return found


def _ingress_rule(props: Any, name: str, urn: str) -> list[Ingress]:
    return _sources(
        props,
        protocol=get(props, "ipProtocol"),
        via=f"{_short(INGRESS_RULE)} '{name}'",
        urn=urn,
        fields=_INGRESS_RULE_FIELDS,
    )


def _group_rule(props: Any, name: str, urn: str) -> list[Ingress]:
    # Any type but egress is read as ingress, so that no spelling ("Ingress") escapes.
    kind = get(props, "type")
    if isinstance(kind, str) and kind.strip().lower() == "egress":
        return []

    return _sources(
        props,
        protocol=get(props, "protocol"),
        via=f"{_short(GROUP_RULE)} '{name}'",
        urn=urn,
        fields={**_GROUP_RULE_FIELDS, "sourceSecurityGroupId": Source.GROUP},
    )


# Which property of each shape holds which kind of source; `self` is a flag, not a source list.
_GROUP_RULE_FIELDS = {
    "cidrBlocks": Source.IPV4,
    "ipv6CidrBlocks": Source.IPV6,
    "prefixListIds": Source.PREFIX_LIST,
    "securityGroups": Source.GROUP,
}
_INGRESS_RULE_FIELDS = {
    "cidrIpv4": Source.IPV4,
    "cidrIpv6": Source.IPV6,
    "prefixListId": Source.PREFIX_LIST,
    "referencedSecurityGroupId": Source.GROUP,
}


def _sources(
    rule: Any, *, protocol: object, via: str, urn: str, fields: dict[str, Source]
) -> list[Ingress]:
    def make(source: str, kind: Source) -> Ingress:
        return Ingress(
            source=source,
            kind=kind,
            protocol=protocol_name(protocol),
            from_port=number(get(rule, "fromPort")),
            to_port=number(get(rule, "toPort")),
            via=via,
            urn=urn,
        )

    found = [make(source, kind) for key, kind in fields.items() for source in texts(get(rule, key))]

    if get(rule, "self") is True:
        found.append(make("self", Source.SELF))
    return found


def _short(token: str) -> str:
    """A type token without its repeated last part, as `aws:vpc/securityGroupIngressRule`."""
    return token.rsplit(":", 1)[0]


# --- sg-no-public-ingress --------------------------------------------------------------------

SG_NO_PUBLIC_INGRESS_EXAMPLE = """\
aws.vpc.SecurityGroupIngressRule("ssh", security_group_id=group.id, cidr_ipv6="::/0",
                                 ip_protocol="tcp", from_port=22, to_port=22)
"""


def _check_public_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in INGRESS_TYPES:
        return

    for ingress in ingress_of(args.resource_type, args.props, args.name, args.urn):
        if ingress.kind in _RANGES and is_public(ingress.source):
            report(f"{args.urn} admits a public range: {ingress.describe()}", None)


_RANGES = frozenset({Source.IPV4, Source.IPV6})


SG_NO_PUBLIC_INGRESS = ResourceValidationPolicy(
    name="sg-no-public-ingress",
    description=(
        "No security group admits ingress from a public address range (any range not wholly "
        "inside RFC 1918, CGNAT, link-local or IPv6 unique-local space), whether the "
        "rule is inline or a separate SecurityGroupIngressRule or SecurityGroupRule."
    ),
    validate=_check_public_ingress,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Admit a prefix list, a security group or a private range instead.",
)

POLICIES = [SG_NO_PUBLIC_INGRESS]
