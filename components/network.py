"""The cluster's VPC: private and public subnets across AZs, NAT, an internet gateway, flow logs.

Nodes and the internal ALB live in the private subnets and reach the internet through NAT; the
public subnets hold only the NAT gateways. Private subnets carry the tags by which Karpenter finds
them and internal load balancers may use them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi_aws as aws

from components.iam import Statement, assume_role_policy, policy_document_output
from components.owner import Owner
from components.settings import NetworkSettings

# Karpenter's EC2NodeClass selects subnets and security groups carrying this tag (value: the
# cluster's name).
DISCOVERY_TAG = "karpenter.sh/discovery"

# A private subnet per AZ takes an eighth of the VPC (a /19 of a /16: pods take VPC addresses
# through the VPC CNI); the public subnets, which hold only NAT gateways, share the last eighth.
_PRIVATE_EXTRA_BITS = 3
_PUBLIC_EXTRA_BITS = 8


@dataclass(frozen=True)
class Network:
    vpc: aws.ec2.Vpc
    private: list[aws.ec2.Subnet]
    public: list[aws.ec2.Subnet]


def carve_subnets(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private and public subnet CIDRs, one of each per AZ, none overlapping."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    blocks = list(vpc.subnets(prefixlen_diff=_PRIVATE_EXTRA_BITS))
    if zones >= len(blocks):
        raise ValueError(f"{vpc_cidr} cannot hold {zones} private subnets and a public block")
    public_block = blocks[-1]
    public = list(public_block.subnets(new_prefix=vpc.prefixlen + _PUBLIC_EXTRA_BITS))
    return [str(block) for block in blocks[:zones]], [str(block) for block in public[:zones]]


def build_network(
    owner: Owner,
    settings: NetworkSettings,
    cluster_name: str,
    key: aws.kms.Key,
    log_retention_days: int,
) -> Network:
    """The VPC with its subnets, routes and flow logs; its default security group locked."""
    vpc = aws.ec2.Vpc(
        f"{owner.name}-vpc",
        cidr_block=settings.vpc_cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={"Name": cluster_name},
        opts=owner.child(),
    )
    # Adopting the default group with no rules strips its allow-all rules, so nothing that
    # lands in it by accident can talk to anything.
    aws.ec2.DefaultSecurityGroup(
        f"{owner.name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=owner.child()
    )
    network = _subnets(owner, settings, vpc, cluster_name)
    _routes(owner, network, settings.nat_gateway_per_az)
    _flow_logs(
        owner,
        vpc,
        log_group(
            owner, "flow-logs", f"/aws/vpc/{cluster_name}/flow-logs", key, log_retention_days
        ),
    )
    return network


def log_group(
    owner: Owner, role: str, log_name: str, key: aws.kms.Key, retention_days: int
) -> aws.cloudwatch.LogGroup:
    """A KMS-encrypted log group that expires, made before the service that writes to it."""
    return aws.cloudwatch.LogGroup(
        f"{owner.name}-{role}",
        name=log_name,
        retention_in_days=retention_days,
        kms_key_id=key.arn,
        opts=owner.child(),
    )


def _subnets(
    owner: Owner, settings: NetworkSettings, vpc: aws.ec2.Vpc, cluster_name: str
) -> Network:
    zones = aws.get_availability_zones_output(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=owner.invoke(),
    ).names
    private_cidrs, public_cidrs = carve_subnets(settings.vpc_cidr, settings.availability_zones)
    roles = {
        "private": {"kubernetes.io/role/internal-elb": "1", DISCOVERY_TAG: cluster_name},
        "public": {"kubernetes.io/role/elb": "1"},
    }

    def subnet(role: str, index: int, cidr: str) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(
            f"{owner.name}-{role}-{index}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zones.apply(lambda names: names[index]),
            map_public_ip_on_launch=False,
            tags={"Name": f"{cluster_name}-{role}-{index}", **roles[role]},
            opts=owner.child(),
        )

    return Network(
        vpc=vpc,
        private=[subnet("private", i, cidr) for i, cidr in enumerate(private_cidrs)],
        public=[subnet("public", i, cidr) for i, cidr in enumerate(public_cidrs)],
    )


def _routes(owner: Owner, network: Network, nat_per_az: bool) -> None:
    """Public subnets route to the internet gateway; each private subnet to a NAT gateway."""
    # CloudFront VPC origins also require an internet gateway on the VPC, even unused.
    gateway = aws.ec2.InternetGateway(
        f"{owner.name}-igw", vpc_id=network.vpc.id, opts=owner.child()
    )
    public_table = aws.ec2.RouteTable(
        f"{owner.name}-public-rt",
        vpc_id=network.vpc.id,
        routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
        opts=owner.child(),
    )
    for index, subnet in enumerate(network.public):
        aws.ec2.RouteTableAssociation(
            f"{owner.name}-public-rta-{index}",
            subnet_id=subnet.id,
            route_table_id=public_table.id,
            opts=owner.child(),
        )
    nats = _nat_gateways(owner, network, gateway, len(network.public) if nat_per_az else 1)
    for index, subnet in enumerate(network.private):
        table = aws.ec2.RouteTable(
            f"{owner.name}-private-rt-{index}",
            vpc_id=network.vpc.id,
            routes=[
                aws.ec2.RouteTableRouteArgs(
                    cidr_block="0.0.0.0/0", nat_gateway_id=nats[index % len(nats)].id
                )
            ],
            opts=owner.child(),
        )
        aws.ec2.RouteTableAssociation(
            f"{owner.name}-private-rta-{index}",
            subnet_id=subnet.id,
            route_table_id=table.id,
            opts=owner.child(),
        )


def _nat_gateways(
    owner: Owner, network: Network, gateway: aws.ec2.InternetGateway, count: int
) -> list[aws.ec2.NatGateway]:
    nats: list[aws.ec2.NatGateway] = []
    for index in range(count):
        address = aws.ec2.Eip(f"{owner.name}-nat-eip-{index}", domain="vpc", opts=owner.child())
        nats.append(
            aws.ec2.NatGateway(
                f"{owner.name}-nat-{index}",
                allocation_id=address.id,
                subnet_id=network.public[index].id,
                opts=owner.child(depends_on=[gateway]),
            )
        )
    return nats


def _flow_logs(owner: Owner, vpc: aws.ec2.Vpc, group: aws.cloudwatch.LogGroup) -> None:
    role = aws.iam.Role(
        f"{owner.name}-flow-logs-role",
        assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
        opts=owner.child(),
    )
    aws.iam.RolePolicy(
        f"{owner.name}-flow-logs-policy",
        role=role.id,
        policy=policy_document_output(
            [
                Statement(
                    Sid="DeliverFlowLogs",
                    Effect="Allow",
                    Action=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    Resource=[group.arn, group.arn.apply(lambda arn: f"{arn}:*")],
                ),
                # AWS authorises DescribeLogGroups only on "*"; it reads names, never events.
                Statement(
                    Sid="FindLogGroup",
                    Effect="Allow",
                    Action=["logs:DescribeLogGroups"],
                    Resource="*",
                ),
            ]
        ),
        opts=owner.child(),
    )
    aws.ec2.FlowLog(
        f"{owner.name}-flow-log",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        opts=owner.child(),
    )
