"""The cluster's network under the mocks: subnets per zone, NAT, routes, locked default group."""

from __future__ import annotations

import ipaddress

import pytest

from components.network import DISCOVERY_TAG, carve_subnets
from components.settings import StackSettings
from tests.components.dedicated_cluster_run import NAME, build, cluster_name, subnets
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun

NAT_GATEWAYS = {"staging": 1, "prod": 3}


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def test_one_private_and_one_public_subnet_per_zone(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    vpc = one(run, "aws:ec2/vpc:Vpc")
    network = ipaddress.IPv4Network(vpc.inputs["cidrBlock"])
    private, public = subnets(run, "private"), subnets(run, "public")
    zones = settings.network.availability_zones

    assert network == ipaddress.IPv4Network(settings.network.vpc_cidr), vpc.urn
    assert len(private) == len(public) == zones
    for group in (private, public):
        assert len({s.inputs["availabilityZone"] for s in group}) == zones, "zones repeat"
    cidrs = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in private + public]
    for index, cidr in enumerate(cidrs):
        assert cidr.subnet_of(network), f"{cidr} lies outside {network}"
        assert not any(cidr.overlaps(other) for other in cidrs[index + 1 :]), f"{cidr} overlaps"
    for subnet in private:
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1", subnet.urn
        assert subnet.inputs["tags"][DISCOVERY_TAG] == cluster_name(stack), subnet.urn
        assert subnet.inputs["mapPublicIpOnLaunch"] is False, subnet.urn
    for subnet in public:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1", subnet.urn
        assert DISCOVERY_TAG not in subnet.inputs["tags"], subnet.urn


def test_nat_gateways_per_stack_and_private_routes_through_them(
    run: ProgramRun, stack: str
) -> None:
    nats = of_type(run, "aws:ec2/natGateway:NatGateway")
    public_ids = {s.id for s in subnets(run, "public")}
    nat_ids = {n.id for n in nats}
    private_tables = [
        r for r in of_type(run, "aws:ec2/routeTable:RouteTable") if "-private-" in r.name
    ]

    assert len(nats) == NAT_GATEWAYS[stack]
    assert len(of_type(run, "aws:ec2/eip:Eip")) == NAT_GATEWAYS[stack]
    for nat in nats:
        assert nat.inputs["subnetId"] in public_ids, f"{nat.urn} is not in a public subnet"
    assert len(private_tables) == len(subnets(run, "private"))
    for table in private_tables:
        (route,) = table.inputs["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0", table.urn
        assert route["natGatewayId"] in nat_ids, f"{table.urn} does not route through a NAT"
        assert "gatewayId" not in route, f"{table.urn} routes to the internet gateway"
    if stack == "prod":
        zone_of_subnet = {s.id: s.inputs["availabilityZone"] for s in subnets(run, "public")}
        zone_of_nat = {n.id: zone_of_subnet[n.inputs["subnetId"]] for n in nats}
        for index, subnet in enumerate(subnets(run, "private")):
            table = one(run, "aws:ec2/routeTable:RouteTable", f"{NAME}-private-rt-{index}")
            nat = table.inputs["routes"][0]["natGatewayId"]
            assert zone_of_nat[nat] == subnet.inputs["availabilityZone"], (
                f"{table.urn} leaves its zone for NAT"
            )


def test_public_subnets_route_to_the_internet_gateway(run: ProgramRun) -> None:
    gateway = one(run, "aws:ec2/internetGateway:InternetGateway")
    table = one(run, "aws:ec2/routeTable:RouteTable", f"{NAME}-public-rt")
    associated = {
        r.inputs["subnetId"]
        for r in of_type(run, "aws:ec2/routeTableAssociation:RouteTableAssociation")
        if r.inputs["routeTableId"] == table.id
    }

    assert gateway.inputs["vpcId"] == one(run, "aws:ec2/vpc:Vpc").id, gateway.urn
    assert table.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": gateway.id}]
    assert associated == {s.id for s in subnets(run, "public")}, table.urn


def test_default_security_group_allows_nothing(run: ProgramRun) -> None:
    group = one(run, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")

    assert group.inputs.get("ingress", []) == [], group.urn
    assert group.inputs.get("egress", []) == [], group.urn


def test_logs_are_encrypted_and_expire(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    key = one(run, "aws:kms/key:Key", f"{NAME}-key")
    groups = {g.inputs["name"]: g for g in of_type(run, "aws:cloudwatch/logGroup:LogGroup")}
    flow_log = one(run, "aws:ec2/flowLog:FlowLog")
    flow_group = groups[f"/aws/vpc/{cluster_name(stack)}/flow-logs"]

    assert set(groups) == {
        f"/aws/eks/{cluster_name(stack)}/cluster",
        f"/aws/vpc/{cluster_name(stack)}/flow-logs",
    }
    for group in groups.values():
        assert group.inputs["kmsKeyId"] == key.outputs["arn"], group.urn
        assert group.inputs["retentionInDays"] == settings.cluster.log_retention_days, group.urn
    assert flow_log.inputs["vpcId"] == one(run, "aws:ec2/vpc:Vpc").id, flow_log.urn
    assert flow_log.inputs["trafficType"] == "ALL", flow_log.urn
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs", flow_log.urn
    assert flow_log.inputs["logDestination"] == flow_group.outputs["arn"], flow_log.urn


@pytest.mark.parametrize(
    ("cidr", "zones", "private", "public"),
    [
        (
            "10.50.0.0/16",
            3,
            ["10.50.0.0/19", "10.50.32.0/19", "10.50.64.0/19"],
            ["10.50.224.0/24", "10.50.225.0/24", "10.50.226.0/24"],
        ),
        ("10.40.0.0/20", 2, ["10.40.0.0/23", "10.40.2.0/23"], ["10.40.14.0/28", "10.40.14.16/28"]),
    ],
)
def test_carve_subnets(cidr: str, zones: int, private: list[str], public: list[str]) -> None:
    assert carve_subnets(cidr, zones) == (private, public)
