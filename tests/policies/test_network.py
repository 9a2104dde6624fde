"""sg-no-public-ingress: any public range is caught in every rule shape, IPv4 and IPv6."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import (
    DEFAULT_PROVIDER,
    UNKNOWN,
    changed,
    group_rule,
    https_from,
    ingress_rule,
    resource,
    security_group,
)
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

POLICY = "sg-no-public-ingress"
WORKERS = security_group("workers-sg", ingress=[])


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            security_group("w", [https_from("cidrBlocks", ["10.0.0.0/8", "0.0.0.0/0"])]),
            id="inline-ipv4",
        ),
        pytest.param(security_group("w", [https_from("ipv6CidrBlocks", ["::/0"])]), id="inline-v6"),
        pytest.param(ingress_rule("r", WORKERS, cidrIpv4="0.0.0.0/0"), id="vpc-rule-ipv4"),
        pytest.param(ingress_rule("r", WORKERS, cidrIpv6="::/0"), id="vpc-rule-ipv6"),
        pytest.param(group_rule("r", WORKERS, cidrBlocks=["0.0.0.0/0"]), id="ec2-rule-ipv4"),
        pytest.param(group_rule("r", WORKERS, ipv6CidrBlocks=["::/0"]), id="ec2-rule-ipv6"),
    ],
)
def test_ingress_from_anywhere_is_blocked(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(record.urn, found)
    assert "/0" in found[0].message, explain(record.urn, found)
    assert record.name in found[0].message, explain(record.urn, found)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(security_group("w", [https_from("cidrBlocks", ["10.0.0.0/8"])]), id="private"),
        pytest.param(
            group_rule("r", WORKERS, type="egress", cidrBlocks=["0.0.0.0/0"]), id="egress"
        ),
        pytest.param(
            security_group("w", [], egress=[{"protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]),
            id="inline-egress",
        ),
    ],
)
def test_private_ingress_and_egress_pass(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"ingress": [https_from("cidrBlocks", [UNKNOWN])]}, id="cidr"),
        pytest.param({"ingress": UNKNOWN}, id="ingress-list"),
    ],
)
def test_unknown_source_at_preview_is_advisory(
    preview_pack: PolicyPack, inputs: dict[str, Any]
) -> None:
    group = changed(security_group("w"), **inputs)

    found = preview_pack.analyze(group, DEFAULT_PROVIDER)

    assert policies(found, "advisory") == [POLICY], explain(group.urn, found)


def test_default_group_open_to_anywhere_is_blocked(pack: PolicyPack) -> None:
    default = resource(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "default-sg",
        {"vpcId": "vpc-0abc", "ingress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]},
    )

    found = pack.analyze(default, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(default.urn, found)
    assert "defaultSecurityGroup" in found[0].message, explain(default.urn, found)


def test_emptied_default_group_passes(pack: PolicyPack) -> None:
    default = resource(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "default-sg",
        {"vpcId": "vpc-0abc", "ingress": [], "egress": []},
    )

    found = pack.analyze(default, DEFAULT_PROVIDER)

    assert found == [], explain(default.urn, found)


# --- red-team regressions: public ranges however spelt, type and protocol in any case ---------


def _ingress(name: str, cidr: str) -> ResourceRecord:
    key = "cidrIpv6" if ":" in cidr else "cidrIpv4"
    return ingress_rule(name, WORKERS, **{key: cidr}, fromPort=22, toPort=22)


@pytest.mark.parametrize(
    "cidr",
    [
        pytest.param("0.0.0.0/1", id="lower-half"),
        pytest.param("128.0.0.0/1", id="upper-half"),
        pytest.param("0::/0", id="ipv6-noncanonical"),
        pytest.param("2000::/3", id="ipv6-global-unicast"),
        pytest.param("203.0.113.0/24", id="one-public-block"),
        pytest.param("8.0.0.0/7", id="short-prefix"),
        pytest.param("10.0.0.0/7", id="wider-than-rfc1918"),
        pytest.param(" 0.0.0.0/0 ", id="padded"),
        pytest.param("not-a-cidr", id="unparseable"),
    ],
)
def test_any_public_range_is_blocked(pack: PolicyPack, cidr: str) -> None:
    rule = _ingress("ssh", cidr)

    found = pack.analyze(rule, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(rule.urn, found)


@pytest.mark.parametrize(
    "cidr", ["10.1.0.0/16", "172.16.0.0/12", "192.168.1.7/32", "100.64.0.0/10", "fd00::/8"]
)
def test_private_range_passes(pack: PolicyPack, cidr: str) -> None:
    rule = _ingress("ssh", cidr)

    found = pack.analyze(rule, DEFAULT_PROVIDER)

    assert found == [], explain(rule.urn, found)


@pytest.mark.parametrize("kind", ["Ingress", "INGRESS", " ingress", "inbound"])
def test_group_rule_type_in_any_spelling_is_read_as_ingress(pack: PolicyPack, kind: str) -> None:
    rule = group_rule("ssh", WORKERS, type=kind, cidrBlocks=["0.0.0.0/0"], fromPort=22, toPort=22)

    found = pack.analyze(rule, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(rule.urn, found)


@pytest.mark.parametrize("protocol", ["TCP", "Tcp", "6", "-1", "all", "ALL"])
def test_protocol_in_any_spelling_is_read(pack: PolicyPack, protocol: str) -> None:
    rule = group_rule("any", WORKERS, protocol=protocol, cidrBlocks=["0.0.0.0/1"])

    found = pack.analyze(rule, DEFAULT_PROVIDER)

    assert policies(found) == [POLICY], explain(rule.urn, found)
