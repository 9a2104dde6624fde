"""sg-no-public-ingress: the whole internet is caught in every rule shape, IPv4 and IPv6."""

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
