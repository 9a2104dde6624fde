"""A dedicated EKS cluster in a VPC of its own: private nodes, a private API, encrypted secrets.

The VPC spreads private and public subnets over the stack's availability zones. Nodes and the
internal ALB live in the private subnets and reach the internet through NAT; the public subnets
hold only the NAT gateways. The cluster's API endpoint is private, its secrets are envelope
encrypted with a customer-managed key, and every control-plane log type goes to CloudWatch.
"""

from __future__ import annotations

import ipaddress
import warnings
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import Statement, assume_role_policy, policy_document_output
from components.settings import ClusterSettings, NetworkSettings

with warnings.catch_warnings():
    # The SDK warns on import about its legacy launch-configuration NodeGroup, which this
    # program never uses; under `-W error` that warning alone would stop every import.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_eks as eks

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

WORKER_NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}

# The system node group only runs what must not depend on Karpenter: Karpenter itself, CoreDNS
# and the other add-ons, which all tolerate this taint. Everything else waits for Karpenter nodes.
SYSTEM_TAINT_KEY = "CriticalAddonsOnly"
SYSTEM_LABELS = {"matching.platform/node-pool": "system"}

# A private subnet per AZ takes an eighth of the VPC (a /19 of a /16: pods take VPC addresses
# through the VPC CNI); the public subnets, which hold only NAT gateways, share the last eighth.
_PRIVATE_EXTRA_BITS = 3
_PUBLIC_EXTRA_BITS = 8


@dataclass(frozen=True)
class DedicatedClusterArgs:
    network: NetworkSettings
    cluster: ClusterSettings
    protect_state: bool


@dataclass(frozen=True)
class _Subnets:
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


class DedicatedCluster(pulumi.ComponentResource):
    """VPC, KMS key, flow logs, EKS with private endpoint, a system node group, a k8s provider."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[Any]
    k8s_provider: k8s.Provider

    def __init__(
        self, name: str, args: DedicatedClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:DedicatedCluster", name, None, opts)
        self._name = name
        self._args = args
        self._eks_name = f"{name}-{pulumi.get_stack()}"

        key = self._encryption_key()

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.network.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": self._eks_name},
            opts=self._child(),
        )
        self._lock_default_security_group(vpc)
        subnets = self._subnets(vpc)
        self._routes(vpc, subnets)
        self._flow_logs(vpc, key)

        cluster = self._cluster(vpc, subnets, key)
        self.cluster_name = cluster.kubeconfig_json.apply(lambda _: self._eks_name)
        system_nodes = self._system_nodes(subnets)
        self._pod_identity_agent(system_nodes)

        # TODO(#3): Karpenter (controller role via Pod Identity, interruption queue and its
        # EventBridge rules, NodePool and EC2NodeClass), the Load Balancer Controller for
        # TargetGroupBinding, pinned core add-ons and PSA-labelled namespaces. Until then only
        # pods that tolerate the system taint find a node.
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=cluster.kubeconfig_json, opts=self._child()
        )
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets.private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets.public])
        self.kubeconfig = cluster.kubeconfig

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _encryption_key(self) -> aws.kms.Key:
        """One customer-managed key for Kubernetes secrets and the cluster's log groups."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition

        # CloudWatch Logs encrypts with the key as its regional service principal, and only for
        # log groups of this account and region (the encryption context names the log group).
        policy = policy_document_output(
            [
                Statement(
                    Sid="AccountAdministers",
                    Effect="Allow",
                    Action="kms:*",
                    Resource="*",
                    Principal={
                        "AWS": pulumi.Output.format("arn:{}:iam::{}:root", partition, account)
                    },
                ),
                Statement(
                    Sid="CloudWatchLogsEncrypt",
                    Effect="Allow",
                    Action=[
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    Resource="*",
                    Principal={"Service": pulumi.Output.format("logs.{}.amazonaws.com", region)},
                    Condition={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": pulumi.Output.format(
                                "arn:{}:logs:{}:{}:log-group:*", partition, region, account
                            )
                        }
                    },
                ),
            ]
        )
        return aws.kms.Key(
            f"{self._name}-key",
            description=f"EKS secrets and logs of {self._eks_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            opts=self._child(protect=self._args.protect_state),
        )

    def _lock_default_security_group(self, vpc: aws.ec2.Vpc) -> None:
        # Adopting the default group with no rules strips its allow-all rules, so nothing that
        # lands in it by accident can talk to anything.
        aws.ec2.DefaultSecurityGroup(
            f"{self._name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=self._child()
        )

    def _subnets(self, vpc: aws.ec2.Vpc) -> _Subnets:
        network = self._args.network
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).names
        private_cidrs, public_cidrs = carve_subnets(network.vpc_cidr, network.availability_zones)

        private: list[aws.ec2.Subnet] = []
        public: list[aws.ec2.Subnet] = []
        for index, (private_cidr, public_cidr) in enumerate(
            zip(private_cidrs, public_cidrs, strict=True)
        ):
            zone = zones.apply(lambda names, i=index: names[i])
            private.append(
                aws.ec2.Subnet(
                    f"{self._name}-private-{index}",
                    vpc_id=vpc.id,
                    cidr_block=private_cidr,
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={
                        "Name": f"{self._eks_name}-private-{index}",
                        "kubernetes.io/role/internal-elb": "1",
                        "karpenter.sh/discovery": self._eks_name,
                    },
                    opts=self._child(),
                )
            )
            public.append(
                aws.ec2.Subnet(
                    f"{self._name}-public-{index}",
                    vpc_id=vpc.id,
                    cidr_block=public_cidr,
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={
                        "Name": f"{self._eks_name}-public-{index}",
                        "kubernetes.io/role/elb": "1",
                    },
                    opts=self._child(),
                )
            )
        return _Subnets(private=private, public=public)

    def _routes(self, vpc: aws.ec2.Vpc, subnets: _Subnets) -> None:
        """Public subnets route to the internet gateway; each private subnet to a NAT gateway."""
        # CloudFront VPC origins also require an internet gateway on the VPC, even unused.
        gateway = aws.ec2.InternetGateway(f"{self._name}-igw", vpc_id=vpc.id, opts=self._child())
        public_table = aws.ec2.RouteTable(
            f"{self._name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=self._child(),
        )
        for index, subnet in enumerate(subnets.public):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-public-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=public_table.id,
                opts=self._child(),
            )

        nat_count = len(subnets.public) if self._args.network.nat_gateway_per_az else 1
        nats: list[aws.ec2.NatGateway] = []
        for index in range(nat_count):
            address = aws.ec2.Eip(f"{self._name}-nat-eip-{index}", domain="vpc", opts=self._child())
            nats.append(
                aws.ec2.NatGateway(
                    f"{self._name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=subnets.public[index].id,
                    opts=self._child(depends_on=[gateway]),
                )
            )

        for index, subnet in enumerate(subnets.private):
            nat = nats[index % nat_count]
            table = aws.ec2.RouteTable(
                f"{self._name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                opts=self._child(),
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child(),
            )

    def _log_group(self, role: str, log_name: str, key: aws.kms.Key) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{role}",
            name=log_name,
            retention_in_days=self._args.cluster.log_retention_days,
            kms_key_id=key.arn,
            opts=self._child(),
        )

    def _flow_logs(self, vpc: aws.ec2.Vpc, key: aws.kms.Key) -> None:
        log_group = self._log_group("flow-logs", f"/aws/vpc/{self._eks_name}/flow-logs", key)
        role = aws.iam.Role(
            f"{self._name}-flow-logs-role",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs-policy",
            role=role.id,
            policy=policy_document_output(
                [
                    Statement(
                        Sid="DeliverFlowLogs",
                        Effect="Allow",
                        Action=[
                            "logs:CreateLogStream",
                            "logs:PutLogEvents",
                            "logs:DescribeLogGroups",
                            "logs:DescribeLogStreams",
                        ],
                        Resource=[log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")],
                    )
                ]
            ),
            opts=self._child(),
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=self._child(),
        )

    def _cluster(self, vpc: aws.ec2.Vpc, subnets: _Subnets, key: aws.kms.Key) -> eks.Cluster:
        settings = self._args.cluster
        # EKS writes to this exact group name; made first, it is KMS-encrypted and expires
        # instead of being created by EKS unencrypted and kept forever.
        control_plane_logs = self._log_group(
            "control-plane-logs", f"/aws/eks/{self._eks_name}/cluster", key
        )
        access_entries = {
            f"admin-{index}": eks.AccessEntryArgs(
                principal_arn=arn,
                access_policies={
                    "cluster-admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=CLUSTER_ADMIN_POLICY,
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
            for index, arn in enumerate(settings.admin_role_arns)
        }
        return eks.Cluster(
            f"{self._name}-eks",
            name=self._eks_name,
            version=settings.kubernetes_version,
            vpc_id=vpc.id,
            private_subnet_ids=[subnet.id for subnet in subnets.private],
            endpoint_private_access=True,
            endpoint_public_access=False,
            skip_default_node_group=True,
            encryption_config_key_arn=key.arn,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            # Workloads get AWS credentials through EKS Pod Identity, which needs no OIDC provider.
            create_oidc_provider=False,
            deletion_protection=self._args.protect_state,
            opts=self._child(depends_on=[control_plane_logs], protect=self._args.protect_state),
        )

    def _system_nodes(self, subnets: _Subnets) -> aws.eks.NodeGroup:
        """At least two managed nodes that Karpenter does not manage, for Karpenter itself."""
        nodes = self._args.cluster.system_nodes
        role = aws.iam.Role(
            f"{self._name}-system-node-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            opts=self._child(),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-system-node-{short}",
                role=role.name,
                policy_arn=arn,
                opts=self._child(),
            )
            for short, arn in WORKER_NODE_POLICIES.items()
        ]
        template = self._system_launch_template()
        return aws.eks.NodeGroup(
            f"{self._name}-system-nodes",
            cluster_name=self.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=[subnet.id for subnet in subnets.private],
            instance_types=[nodes.instance_type],
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=nodes.min_size, desired_size=nodes.desired_size, max_size=nodes.max_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            labels=SYSTEM_LABELS,
            taints=[
                aws.eks.NodeGroupTaintArgs(key=SYSTEM_TAINT_KEY, value="true", effect="NO_SCHEDULE")
            ],
            opts=self._child(depends_on=attachments),
        )

    def _pod_identity_agent(self, system_nodes: aws.eks.NodeGroup) -> None:
        # Pod Identity associations hand out nothing until this agent runs on every node. Its
        # DaemonSet needs nodes to become active, hence the wait for the system node group.
        # TODO(#3): pin addon_version with the other core add-ons (vpc-cni, coredns, kube-proxy).
        aws.eks.Addon(
            f"{self._name}-pod-identity-agent",
            cluster_name=self.cluster_name,
            addon_name="eks-pod-identity-agent",
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=self._child(depends_on=[system_nodes]),
        )

    def _system_launch_template(self) -> aws.ec2.LaunchTemplate:
        # IMDSv2 only, hop limit 1: pods cannot reach the node's credentials through IMDS; they
        # get their own through Pod Identity, and controllers are given region and VPC id.
        # The root volume uses the account's EBS key: a customer key would need grants for the
        # Auto Scaling service-linked role, which this stack does not own.
        return aws.ec2.LaunchTemplate(
            f"{self._name}-system-lt",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=self._args.cluster.system_nodes.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            update_default_version=True,
            opts=self._child(),
        )
