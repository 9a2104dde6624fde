"""A dedicated EKS cluster in a VPC of its own: private nodes, a private API, encrypted secrets.

The cluster's API endpoint is private, its secrets are envelope encrypted with a customer-managed
key, and every control-plane log type goes to CloudWatch. A small managed node group runs what
must not depend on Karpenter; Karpenter launches every other node. The add-ons are pinned, and
the Load Balancer Controller only binds pods to the ALB that the edge owns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.controllers import (
    DEFAULT_STORAGE_CLASS,
    LoadBalancerControllerArgs,
    default_storage_class,
    load_balancer_controller,
    node_addons,
    node_networking,
    platform_namespace,
)
from components.iam import Statement, assume_role_policy, policy_document_output
from components.karpenter import (
    KARPENTER_NAMESPACE,
    SYSTEM_LABELS,
    SYSTEM_TAINT_KEY,
    WORKER_NODE_POLICIES,
    KarpenterArgs,
    install_karpenter,
)
from components.network import DISCOVERY_TAG, Network, build_network, log_group
from components.owner import Account, Owner
from components.settings import ClusterSettings, NetworkSettings

with warnings.catch_warnings():
    # The SDK warns on import about its legacy launch-configuration NodeGroup, which this
    # program never uses; under `-W error` that warning alone would stop every import.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_eks as eks

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class DedicatedClusterArgs:
    network: NetworkSettings
    cluster: ClusterSettings
    protect_state: bool


class DedicatedCluster(pulumi.ComponentResource):
    """VPC, EKS with private endpoint, system nodes, Karpenter, add-ons, the LB controller."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    cluster_name: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[Any]
    storage_class_name: pulumi.Output[str]
    k8s_provider: k8s.Provider

    def __init__(
        self, name: str, args: DedicatedClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:DedicatedCluster", name, None, opts)
        self._name = name
        self._args = args
        self._eks_name = f"{name}-{pulumi.get_stack()}"
        self._owner = Owner(name, self, protect_state=args.protect_state)
        self._account = Account.lookup(self._owner)

        key = self._encryption_key()
        network = build_network(
            self._owner, args.network, self._eks_name, key, args.cluster.log_retention_days
        )
        cluster = self._cluster(network, key)
        self.cluster_name = cluster.kubeconfig_json.apply(lambda _: self._eks_name)
        self.cluster_security_group_id = self._discoverable_security_group(cluster)
        networking = node_networking(self._owner, args.cluster.addon_versions, self.cluster_name)
        system_nodes = self._system_nodes(network, networking)
        addons = node_addons(
            self._owner, args.cluster.addon_versions, self.cluster_name, key, system_nodes
        )

        self.k8s_provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=cluster.kubeconfig_json, opts=self._owner.child()
        )
        on_cluster = self._owner.with_cluster(self.k8s_provider)
        controllers_need = [system_nodes, addons.pod_identity_agent]
        self._karpenter(on_cluster, controllers_need)
        load_balancer_controller(
            on_cluster,
            LoadBalancerControllerArgs(
                eks_name=self._eks_name,
                cluster_name=self.cluster_name,
                vpc_id=network.vpc.id,
                pod_security_group_id=self.cluster_security_group_id,
                account=self._account,
                prerequisites=controllers_need,
            ),
        )
        storage = default_storage_class(on_cluster, key, addons.ebs_csi_driver)

        self.vpc_id = network.vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in network.private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in network.public])
        self.kubeconfig = cluster.kubeconfig
        self.storage_class_name = storage.metadata.apply(
            lambda meta: meta.name or DEFAULT_STORAGE_CLASS
        )

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "cluster_name": self.cluster_name,
                "cluster_security_group_id": self.cluster_security_group_id,
                "kubeconfig": self.kubeconfig,
                "storage_class_name": self.storage_class_name,
            }
        )

    def _encryption_key(self) -> aws.kms.Key:
        """One customer-managed key for Kubernetes secrets and the cluster's log groups."""
        account = self._account.account_id
        region = self._account.region
        partition = self._account.partition

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
            opts=self._owner.stateful(),
        )

    def _cluster(self, network: Network, key: aws.kms.Key) -> eks.Cluster:
        settings = self._args.cluster
        # EKS writes to this exact group name; made first, it is KMS-encrypted and expires
        # instead of being created by EKS unencrypted and kept forever.
        control_plane_logs = log_group(
            self._owner,
            "control-plane-logs",
            f"/aws/eks/{self._eks_name}/cluster",
            key,
            settings.log_retention_days,
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
            vpc_id=network.vpc.id,
            private_subnet_ids=[subnet.id for subnet in network.private],
            endpoint_private_access=True,
            endpoint_public_access=False,
            skip_default_node_group=True,
            # Control plane, system nodes and Karpenter's nodes share the one security group EKS
            # makes for the cluster; the component's own node and cluster groups would be unused.
            skip_default_security_groups=True,
            # The add-ons are declared below, pinned; the component must not install its own.
            use_default_vpc_cni=True,
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=False),
            encryption_config_key_arn=key.arn,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            # Workloads get AWS credentials through EKS Pod Identity, which needs no OIDC provider.
            create_oidc_provider=False,
            deletion_protection=self._args.protect_state,
            opts=self._owner.child(
                depends_on=[control_plane_logs], protect=self._args.protect_state
            ),
        )

    def _discoverable_security_group(self, cluster: eks.Cluster) -> pulumi.Output[str]:
        """The EKS-made cluster security group, tagged so Karpenter's nodes join it too."""
        aws.ec2.Tag(
            f"{self._name}-cluster-sg-discovery",
            resource_id=cluster.cluster_security_group_id,
            key=DISCOVERY_TAG,
            value=self._eks_name,
            opts=self._owner.child(),
        )
        return cluster.cluster_security_group_id

    def _system_nodes(self, network: Network, networking: list[aws.eks.Addon]) -> aws.eks.NodeGroup:
        """At least two managed nodes that Karpenter does not manage, for Karpenter itself."""
        nodes = self._args.cluster.system_nodes
        role = aws.iam.Role(
            f"{self._name}-system-node-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            opts=self._owner.child(),
        )
        attachments: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{self._name}-system-node-{short}",
                role=role.name,
                policy_arn=arn,
                opts=self._owner.child(),
            )
            for short, arn in WORKER_NODE_POLICIES.items()
        ]
        template = self._system_launch_template()
        # Nodes become ready only once the CNI and kube-proxy run on them.
        return aws.eks.NodeGroup(
            f"{self._name}-system-nodes",
            cluster_name=self.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=[subnet.id for subnet in network.private],
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
            opts=self._owner.child(depends_on=[*attachments, *networking]),
        )

    def _karpenter(self, on_cluster: Owner, prerequisites: Sequence[pulumi.Resource]) -> None:
        namespace = platform_namespace(on_cluster, "karpenter", KARPENTER_NAMESPACE)
        install_karpenter(
            on_cluster,
            KarpenterArgs(
                settings=self._args.cluster.karpenter,
                eks_name=self._eks_name,
                cluster_name=self.cluster_name,
                account=self._account,
                namespace=namespace,
                prerequisites=prerequisites,
            ),
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
            opts=self._owner.child(),
        )
