"""The IAM of Karpenter's controller, as Karpenter documents it, narrowed to one account and region.

Node lifecycle actions are conditioned on the tags Karpenter puts on what it launches: the
cluster's `kubernetes.io/cluster/<name>: owned` and a `karpenter.sh/nodepool`. The controller may
pass only the node role, and read and delete only its own interruption queue's messages.
"""

from __future__ import annotations

import pulumi

from components.iam import Statement, allow
from components.owner import Account


def controller_statements(
    eks_name: str,
    account: Account,
    node_role: pulumi.Input[str],
    key: pulumi.Input[str],
    queue: pulumi.Input[str],
) -> dict[str, list[Statement]]:
    """Karpenter's documented controller policy, by part, narrowed to this account and region."""
    return {
        "node-lifecycle": _node_lifecycle(eks_name, account),
        "iam-integration": _iam_integration(eks_name, account, node_role),
        "eks-integration": [
            allow(
                "eks:DescribeCluster",
                account.arn("eks", f"cluster/{eks_name}"),
                sid="AllowAPIServerEndpointDiscovery",
            ),
            allow(
                ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                queue,
                sid="AllowInterruptionQueueActions",
            ),
            allow("kms:Decrypt", key, sid="AllowInterruptionQueueDecrypt"),
        ],
        "resource-discovery": _resource_discovery(account),
    }


def _owned(eks_name: str, kind: str) -> dict[str, dict[str, str]]:
    """The cluster and NodePool tags an instance-level resource must carry (or be given)."""
    return {
        "StringEquals": {f"aws:{kind}Tag/kubernetes.io/cluster/{eks_name}": "owned"},
        "StringLike": {f"aws:{kind}Tag/karpenter.sh/nodepool": "*"},
    }


def _node_lifecycle(eks_name: str, account: Account) -> list[Statement]:
    def ec2(*kinds: str, account_scoped: bool = True) -> list[pulumi.Output[str]]:
        owner = account.account_id if account_scoped else ""
        return [
            pulumi.Output.format(
                "arn:{}:ec2:{}:{}:{}/*", account.partition, account.region, owner, kind
            )
            for kind in kinds
        ]

    created = ("fleet", "instance", "volume", "network-interface", "launch-template")
    request = _owned(eks_name, "Request")
    request["StringEquals"]["aws:RequestTag/eks:eks-cluster-name"] = eks_name
    return [
        allow(
            ["ec2:RunInstances", "ec2:CreateFleet"],
            ec2("image", "snapshot", account_scoped=False)
            + ec2("security-group", "subnet", "capacity-reservation", "placement-group"),
            sid="AllowScopedEC2InstanceAccessActions",
        ),
        allow(
            ["ec2:RunInstances", "ec2:CreateFleet"],
            ec2("launch-template"),
            sid="AllowScopedEC2LaunchTemplateAccessActions",
            condition=_owned(eks_name, "Resource"),
        ),
        allow(
            ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            ec2(*created, "spot-instances-request"),
            sid="AllowScopedEC2InstanceActionsWithTags",
            condition=request,
        ),
        allow(
            "ec2:CreateTags",
            ec2(*created, "spot-instances-request"),
            sid="AllowScopedResourceCreationTagging",
            condition={
                "StringEquals": {
                    **request["StringEquals"],
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": request["StringLike"],
            },
        ),
        allow(
            "ec2:CreateTags",
            ec2("instance"),
            sid="AllowScopedResourceTagging",
            condition={
                **_owned(eks_name, "Resource"),
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": eks_name},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        ),
        allow(
            ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            ec2("instance", "launch-template"),
            sid="AllowScopedDeletion",
            condition=_owned(eks_name, "Resource"),
        ),
    ]


def _iam_integration(
    eks_name: str, account: Account, node_role: pulumi.Input[str]
) -> list[Statement]:
    profiles = account.arn("iam", "instance-profile/*", regional=False)
    cluster = f"kubernetes.io/cluster/{eks_name}"
    region_tag = "topology.kubernetes.io/region"
    return [
        allow(
            "iam:PassRole",
            node_role,
            sid="AllowPassingInstanceRole",
            condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        ),
        allow(
            "iam:CreateInstanceProfile",
            profiles,
            sid="AllowScopedInstanceProfileCreationActions",
            condition={
                "StringEquals": {
                    f"aws:RequestTag/{cluster}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": eks_name,
                    f"aws:RequestTag/{region_tag}": account.region,
                },
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        ),
        allow(
            "iam:TagInstanceProfile",
            profiles,
            sid="AllowScopedInstanceProfileTagActions",
            condition={
                "StringEquals": {
                    f"aws:ResourceTag/{cluster}": "owned",
                    f"aws:ResourceTag/{region_tag}": account.region,
                    f"aws:RequestTag/{cluster}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": eks_name,
                    f"aws:RequestTag/{region_tag}": account.region,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        ),
        allow(
            [
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            profiles,
            sid="AllowScopedInstanceProfileActions",
            condition={
                "StringEquals": {
                    f"aws:ResourceTag/{cluster}": "owned",
                    f"aws:ResourceTag/{region_tag}": account.region,
                },
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        ),
        allow("iam:GetInstanceProfile", profiles, sid="AllowInstanceProfileReadActions"),
    ]


def _resource_discovery(account: Account) -> list[Statement]:
    # EC2 Describe*, pricing:GetProducts and iam:ListInstanceProfiles take no resource narrower
    # than "*": AWS offers none. The reads are held to the stack's region instead.
    return [
        allow(
            [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "*",
            sid="AllowRegionalReadActions",
            condition={"StringEquals": {"aws:RequestedRegion": account.region}},
        ),
        allow(
            "ssm:GetParameter",
            # AWS's public parameters carry no account; "*" matches that empty field.
            pulumi.Output.format(
                "arn:{}:ssm:{}:*:parameter/aws/service/*", account.partition, account.region
            ),
            sid="AllowSSMReadActions",
        ),
        allow("pricing:GetProducts", "*", sid="AllowPricingReadActions"),
        allow("iam:ListInstanceProfiles", "*", sid="AllowUnscopedInstanceProfileListAction"),
    ]
