"""DedicatedCluster under the mocks: the network, the key, EKS and the system nodes it declares."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from components.cluster import (
    CLUSTER_ADMIN_POLICY,
    CONTROL_PLANE_LOG_TYPES,
    WORKER_NODE_POLICIES,
    DedicatedCluster,
    DedicatedClusterArgs,
    carve_subnets,
)
from components.settings import StackSettings
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun
from tools.records import PROVIDER_PREFIX, STACK_TYPE, ResourceRecord

NAME = "matching"
COMPONENT = "matching:platform:DedicatedCluster"
NAT_GATEWAYS = {"staging": 1, "prod": 3}


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    def body() -> None:
        DedicatedCluster(
            NAME,
            DedicatedClusterArgs(
                network=settings.network,
                cluster=settings.cluster,
                protect_state=settings.is_production,
            ),
        )

    return run_component(body)


def subnets(run: ProgramRun, role: str) -> list[ResourceRecord]:
    """Subnets of one role in zone order; registration order varies from run to run."""
    found = [
        r for r in of_type(run, "aws:ec2/subnet:Subnet") if r.name.startswith(f"{NAME}-{role}-")
    ]
    return sorted(found, key=lambda r: int(r.name.rsplit("-", 1)[1]))


def cluster_name(stack: str) -> str:
    return f"{NAME}-{stack}"


def test_every_child_is_named_after_and_parented_by_the_component(run: ProgramRun) -> None:
    component = one(run, COMPONENT)
    children = [
        r
        for r in run.resources
        if r.type not in {STACK_TYPE, COMPONENT}
        and not (r.type.startswith(PROVIDER_PREFIX) and r.name.startswith("default"))
    ]

    assert len(children) > 20
    for child in children:
        assert child.name.startswith(f"{NAME}-"), f"{child.urn} is not named {NAME}-<role>"
        assert child.parent == component.urn, f"{child.urn} is not a child of {component.urn}"


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
        assert subnet.inputs["tags"]["karpenter.sh/discovery"] == cluster_name(stack), subnet.urn
        assert subnet.inputs["mapPublicIpOnLaunch"] is False, subnet.urn
    for subnet in public:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1", subnet.urn
        assert "karpenter.sh/discovery" not in subnet.inputs["tags"], subnet.urn


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


def test_key_rotates_and_lets_only_this_accounts_log_groups_encrypt(
    run: ProgramRun, settings: StackSettings
) -> None:
    key = one(run, "aws:kms/key:Key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    logs = statements["CloudWatchLogsEncrypt"]
    account = settings.cluster.admin_role_arns[0].split(":")[4]

    assert key.inputs["enableKeyRotation"] is True, key.urn
    assert key.protect is settings.is_production, key.urn
    assert logs["Principal"] == {"Service": f"logs.{settings.region}.amazonaws.com"}, key.urn
    log_groups = f"arn:aws:logs:{settings.region}:{account}:log-group:*"
    assert logs["Condition"]["ArnLike"] == {"kms:EncryptionContext:aws:logs:arn": log_groups}, (
        key.urn
    )
    assert statements["AccountAdministers"]["Principal"] == {
        "AWS": f"arn:aws:iam::{account}:root"
    }, key.urn


def test_logs_are_encrypted_and_expire(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    key = one(run, "aws:kms/key:Key")
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


def test_eks_is_private_encrypted_logged_and_api_authenticated(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    cluster = one(run, "eks:index:Cluster")
    inputs: dict[str, Any] = cluster.inputs
    control_plane_logs = one(run, "aws:cloudwatch/logGroup:LogGroup", f"{NAME}-control-plane-logs")

    assert inputs["name"] == cluster_name(stack), cluster.urn
    assert inputs["version"] == settings.cluster.kubernetes_version, cluster.urn
    assert inputs["endpointPrivateAccess"] is True, cluster.urn
    assert inputs["endpointPublicAccess"] is False, cluster.urn
    assert inputs["encryptionConfigKeyArn"] == one(run, "aws:kms/key:Key").outputs["arn"]
    assert inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES), cluster.urn
    assert len(CONTROL_PLANE_LOG_TYPES) == 5
    assert inputs["authenticationMode"] == "API", cluster.urn
    assert inputs["skipDefaultNodeGroup"] is True, cluster.urn
    assert inputs["createOidcProvider"] is False, cluster.urn
    assert inputs["vpcId"] == one(run, "aws:ec2/vpc:Vpc").id, cluster.urn
    assert inputs["privateSubnetIds"] == [s.id for s in subnets(run, "private")], cluster.urn
    assert "publicSubnetIds" not in inputs, cluster.urn
    assert inputs["deletionProtection"] is settings.is_production, cluster.urn
    assert control_plane_logs.urn in cluster.dependencies, "EKS must not create its own log group"


def test_every_admin_role_gets_cluster_admin_through_an_access_entry(
    run: ProgramRun, settings: StackSettings
) -> None:
    cluster = one(run, "eks:index:Cluster")
    entries = cluster.inputs["accessEntries"].values()

    assert sorted(e["principalArn"] for e in entries) == sorted(settings.cluster.admin_role_arns)
    for entry in entries:
        (policy,) = entry["accessPolicies"].values()
        assert policy == {"policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "cluster"}}


def test_system_nodes_are_at_least_two_and_kept_for_system_pods(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    group = one(run, "aws:eks/nodeGroup:NodeGroup")
    scaling = group.inputs["scalingConfig"]
    nodes = settings.cluster.system_nodes

    assert group.inputs["clusterName"] == cluster_name(stack), group.urn
    assert one(run, "eks:index:Cluster").urn in group.dependencies, "node group before cluster"
    assert scaling == {
        "minSize": nodes.min_size,
        "desiredSize": nodes.desired_size,
        "maxSize": nodes.max_size,
    }, group.urn
    assert scaling["minSize"] >= 2, f"{group.urn}: Karpenter needs two nodes it does not manage"
    assert group.inputs["subnetIds"] == [s.id for s in subnets(run, "private")], group.urn
    assert group.inputs["taints"] == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
    ], group.urn
    assert group.inputs["instanceTypes"] == [nodes.instance_type], group.urn


def test_system_nodes_require_imdsv2_with_hop_limit_one_and_encrypt_their_disk(
    run: ProgramRun, settings: StackSettings
) -> None:
    group = one(run, "aws:eks/nodeGroup:NodeGroup")
    template = one(run, "aws:ec2/launchTemplate:LaunchTemplate")
    (disk,) = template.inputs["blockDeviceMappings"]

    assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}, group.urn
    assert template.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }, template.urn
    assert disk["ebs"]["encrypted"] == "true", template.urn
    assert disk["ebs"]["volumeSize"] == settings.cluster.system_nodes.disk_size_gib


def test_node_role_has_exactly_the_three_worker_policies(run: ProgramRun) -> None:
    role = one(run, "aws:iam/role:Role", f"{NAME}-system-node-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    attached = {
        r.inputs["policyArn"]
        for r in of_type(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role.outputs["name"]
    }

    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}, role.urn
    assert attached == set(WORKER_NODE_POLICIES.values()), role.urn


def test_kubernetes_provider_uses_the_clusters_kubeconfig(run: ProgramRun) -> None:
    provider = one(run, "pulumi:providers:kubernetes", f"{NAME}-k8s")
    cluster = one(run, "eks:index:Cluster")

    assert provider.inputs["kubeconfig"] == cluster.outputs["kubeconfigJson"], provider.urn


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


def test_pod_identity_agent_runs_once_system_nodes_exist(run: ProgramRun, stack: str) -> None:
    addon = one(run, "aws:eks/addon:Addon", f"{NAME}-pod-identity-agent")

    assert addon.inputs["addonName"] == "eks-pod-identity-agent", addon.urn
    assert addon.inputs["clusterName"] == cluster_name(stack), addon.urn
    assert one(run, "aws:eks/nodeGroup:NodeGroup").urn in addon.dependencies, addon.urn
