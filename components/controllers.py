"""What every cluster of this platform runs besides Karpenter: pinned add-ons and the LB controller.

The EKS add-ons are pinned to the builds named in the stack file, so an upgrade is a reviewed
change. The AWS Load Balancer Controller is installed for one job only: registering API pod IPs
into the target group of the ALB that Pulumi owns, through a TargetGroupBinding. It can make no
load balancer, listener or target group of its own: its IAM does not allow it, and its Service
and Ingress handling is switched off.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import Statement, allow, pod_identity_trust, policy_document_output
from components.karpenter import SYSTEM_LABELS, SYSTEM_TAINT_KEY
from components.owner import Account, Owner
from components.settings import AddonVersions

# Pod Security Admission at `restricted` for the platform's own namespaces: both charts' pods
# run as non-root with no privilege (the LB controller's once the values below say so). That is
# why neither controller lives in kube-system, which cannot be restricted: the VPC CNI, kube-proxy
# and the EBS CSI node plugin there need the host's network and devices.
RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
LOAD_BALANCER_NAMESPACE = "aws-load-balancer-controller"
LOAD_BALANCER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
LOAD_BALANCER_CHART = "aws-load-balancer-controller"
LOAD_BALANCER_CHART_REPOSITORY = "https://aws.github.io/eks-charts"
# Matches the TargetGroupBinding CRD vendored in tools/schemas/; update both together.
LOAD_BALANCER_CHART_VERSION = "3.5.0"
# A target group carrying this tag (value: the cluster's name) is one this cluster's controller
# may register pods into; the target group's owner sets it.
TARGET_GROUP_TAG = "matching.platform/cluster"
# The controller image's non-root user, set explicitly so `runAsNonRoot` can be verified.
LOAD_BALANCER_UID = 65532

EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
# Manages only volumes and snapshots tagged ebs.csi.aws.com/cluster, which the driver sets on all.
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/AmazonEBSCSIDriverPolicyV2"
DEFAULT_STORAGE_CLASS = "gp3-encrypted"


@dataclass(frozen=True)
class ClusterAddons:
    """The add-ons that controllers and volumes wait for."""

    pod_identity_agent: aws.eks.Addon
    ebs_csi_driver: aws.eks.Addon


def node_networking(
    owner: Owner, versions: AddonVersions, cluster_name: pulumi.Output[str]
) -> list[aws.eks.Addon]:
    """VPC CNI and kube-proxy, which nodes need before they report ready."""
    # The CNI runs its network-policy agent, so the NetworkPolicies of workloads are enforced.
    return [
        _addon(
            owner,
            cluster_name,
            "vpc-cni",
            versions.vpc_cni,
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
        ),
        _addon(owner, cluster_name, "kube-proxy", versions.kube_proxy),
    ]


def node_addons(
    owner: Owner,
    versions: AddonVersions,
    cluster_name: pulumi.Output[str],
    key: aws.kms.Key,
    nodes: aws.eks.NodeGroup,
) -> ClusterAddons:
    """CoreDNS, the Pod Identity agent and the EBS CSI driver, once the system nodes run."""
    # Their Deployments and DaemonSets report healthy only once nodes exist to run them.
    after_nodes = [nodes]
    _addon(owner, cluster_name, "coredns", versions.core_dns, depends_on=after_nodes)
    # Pod Identity associations hand out nothing until this agent runs on every node.
    agent = _addon(
        owner,
        cluster_name,
        "eks-pod-identity-agent",
        versions.pod_identity_agent,
        role="pod-identity-agent",
        depends_on=after_nodes,
    )
    role = _ebs_csi_role(owner, key)
    ebs = _addon(
        owner,
        cluster_name,
        "aws-ebs-csi-driver",
        versions.ebs_csi_driver,
        role="ebs-csi-driver",
        pod_identity_associations=[
            aws.eks.AddonPodIdentityAssociationArgs(
                role_arn=role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT
            )
        ],
        depends_on=[*after_nodes, agent],
    )
    return ClusterAddons(pod_identity_agent=agent, ebs_csi_driver=ebs)


def _addon(
    owner: Owner,
    cluster_name: pulumi.Output[str],
    addon: str,
    version: str,
    *,
    role: str | None = None,
    configuration_values: str | None = None,
    pod_identity_associations: list[aws.eks.AddonPodIdentityAssociationArgs] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.eks.Addon:
    # OVERWRITE adopts the self-managed copies EKS installs with a new cluster.
    return aws.eks.Addon(
        f"{owner.name}-{role or addon}",
        cluster_name=cluster_name,
        addon_name=addon,
        addon_version=version,
        configuration_values=configuration_values,
        pod_identity_associations=pod_identity_associations,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        opts=owner.child(depends_on=list(depends_on)),
    )


def _ebs_csi_role(owner: Owner, key: aws.kms.Key) -> aws.iam.Role:
    """The CSI controller's role: AWS's managed policy, plus use of the cluster's key."""
    role = aws.iam.Role(
        f"{owner.name}-ebs-csi-role",
        assume_role_policy=pod_identity_trust(),
        opts=owner.child(),
    )
    aws.iam.RolePolicyAttachment(
        f"{owner.name}-ebs-csi-managed",
        role=role.name,
        policy_arn=EBS_CSI_POLICY,
        opts=owner.child(),
    )
    # EC2 attaches an encrypted volume through a grant the driver creates for it.
    aws.iam.RolePolicy(
        f"{owner.name}-ebs-csi-kms",
        role=role.id,
        policy=policy_document_output(
            [
                allow(
                    ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    key.arn,
                    sid="GrantsForEbs",
                    condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                allow(
                    [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    key.arn,
                    sid="UseClusterKey",
                ),
            ]
        ),
        opts=owner.child(),
    )
    return role


def default_storage_class(
    owner: Owner, key: aws.kms.Key, ebs: aws.eks.Addon
) -> k8s.storage.v1.StorageClass:
    """The cluster's default StorageClass: gp3 encrypted with the cluster's own key."""
    return k8s.storage.v1.StorageClass(
        f"{owner.name}-gp3-encrypted",
        metadata={
            "name": DEFAULT_STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key.arn},
        reclaim_policy="Delete",
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        opts=owner.k8s(depends_on=[ebs]),
    )


def platform_namespace(owner: Owner, role: str, name: str) -> k8s.core.v1.Namespace:
    """A namespace of a platform controller, held to Pod Security Admission `restricted`."""
    return k8s.core.v1.Namespace(
        f"{owner.name}-{role}-namespace",
        metadata={"name": name, "labels": RESTRICTED_LABELS},
        opts=owner.k8s(),
    )


@dataclass(frozen=True)
class LoadBalancerControllerArgs:
    eks_name: str
    cluster_name: pulumi.Output[str]
    vpc_id: pulumi.Input[str]
    # The security group of the pods' ENIs (the EKS cluster security group), which the
    # controller opens to the ALB for a TargetGroupBinding's `networking` rules.
    pod_security_group_id: pulumi.Input[str]
    account: Account
    prerequisites: Sequence[pulumi.Resource]


def load_balancer_controller(owner: Owner, args: LoadBalancerControllerArgs) -> None:
    """Namespace, role, Pod Identity association and the Helm release, for TargetGroupBinding."""
    namespace = platform_namespace(owner, "load-balancer-controller", LOAD_BALANCER_NAMESPACE)
    role = aws.iam.Role(
        f"{owner.name}-load-balancer-controller-role",
        assume_role_policy=pod_identity_trust(),
        opts=owner.child(),
    )
    access = aws.iam.RolePolicy(
        f"{owner.name}-load-balancer-controller-policy",
        role=role.id,
        policy=policy_document_output(
            target_group_binding_statements(args.eks_name, args.account, args.pod_security_group_id)
        ),
        opts=owner.child(),
    )
    association = aws.eks.PodIdentityAssociation(
        f"{owner.name}-load-balancer-controller-identity",
        cluster_name=args.cluster_name,
        namespace=LOAD_BALANCER_NAMESPACE,
        service_account=LOAD_BALANCER_SERVICE_ACCOUNT,
        role_arn=role.arn,
        opts=owner.child(depends_on=[access]),
    )
    k8s.helm.v3.Release(
        f"{owner.name}-load-balancer-controller",
        name="aws-load-balancer-controller",
        chart=LOAD_BALANCER_CHART,
        version=LOAD_BALANCER_CHART_VERSION,
        repository_opts={"repo": LOAD_BALANCER_CHART_REPOSITORY},
        namespace=namespace.metadata.name,
        values=load_balancer_values(args),
        opts=owner.k8s(depends_on=[association, *args.prerequisites]),
    )


def target_group_binding_statements(
    eks_name: str, account: Account, pod_security_group_id: pulumi.Input[str]
) -> list[Statement]:
    """What a TargetGroupBinding needs, and nothing that makes or changes a load balancer."""
    return [
        # Describe* calls take no resource narrower than "*": AWS offers none.
        allow(
            [
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "ec2:DescribeAvailabilityZones",
            ],
            "*",
            sid="DescribeTargetsAndNetwork",
        ),
        # Only target groups of this account and region that name this cluster in their tags.
        allow(
            ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            account.arn("elasticloadbalancing", "targetgroup/*/*"),
            sid="RegisterPodsInTaggedTargetGroups",
            condition={"StringEquals": {f"aws:ResourceTag/{TARGET_GROUP_TAG}": eks_name}},
        ),
        # The binding's `networking` rules open the API port on the pods' security group to
        # the ALB's group: the controller keeps that one rule in step with the binding.
        allow(
            ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            pulumi.Output.concat(
                account.arn("ec2", "security-group/"),
                pulumi.Output.from_input(pod_security_group_id),
            ),
            sid="OpenPodsToTheAlb",
        ),
    ]


def load_balancer_values(args: LoadBalancerControllerArgs) -> dict[str, object]:
    # Region and VPC are given because nodes keep IMDS out of pods' reach (hop limit 1).
    container_security = {
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": LOAD_BALANCER_UID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "clusterName": args.eks_name,
        "region": args.account.region,
        "vpcId": args.vpc_id,
        "serviceAccount": {"create": True, "name": LOAD_BALANCER_SERVICE_ACCOUNT},
        # TargetGroupBinding only: no Services of type LoadBalancer, no Ingress class.
        "enableServiceMutatorWebhook": False,
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        "disableIngressClassAnnotation": True,
        "controllerConfig": {"featureGates": {"EnableServiceController": False}},
        "replicaCount": 2,
        "nodeSelector": SYSTEM_LABELS,
        "tolerations": [{"key": SYSTEM_TAINT_KEY, "operator": "Exists"}],
        "podSecurityContext": {
            "fsGroup": LOAD_BALANCER_UID,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": container_security,
    }
