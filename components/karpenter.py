"""Karpenter: the nodes every workload pod runs on, launched and retired as pods come and go.

The controller runs on the system node group (two nodes it does not manage) with its own role
through EKS Pod Identity, scoped as Karpenter documents it: it may launch, tag and terminate only
instances and launch templates tagged for this cluster and a NodePool, and pass only the node
role. An SQS queue fed by five EventBridge rules warns it of interruptions, so it drains a node
before EC2 takes it away. One NodePool and its EC2NodeClass describe the nodes themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import (
    Statement,
    assume_role_policy,
    pod_identity_trust,
    policy_document_output,
)
from components.karpenter_iam import controller_statements
from components.network import DISCOVERY_TAG
from components.owner import Account, Owner
from components.settings import KarpenterSettings

KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
# Matches the CRDs vendored in tools/schemas/; update both together.
KARPENTER_CHART_VERSION = "1.14.1"
KARPENTER_NAMESPACE = "karpenter"
# The chart names its service account after the release; the Pod Identity association names it.
KARPENTER_SERVICE_ACCOUNT = "karpenter"
NODE_POOL = "general"

# The system node group only runs what must not depend on Karpenter: Karpenter itself, CoreDNS
# and the other add-ons, which all tolerate this taint. Everything else waits for Karpenter nodes.
SYSTEM_TAINT_KEY = "CriticalAddonsOnly"
SYSTEM_LABELS = {"matching.platform/node-pool": "system"}

WORKER_NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}

# The events Karpenter acts on, by rule role: (source, detail-type) as EventBridge spells them.
INTERRUPTION_EVENTS: dict[str, tuple[str, str]] = {
    "health": ("aws.health", "AWS Health Event"),
    "spot-interruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
    "capacity-reservation": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
}
# An interruption warning is stale after two minutes; five keep a slow controller in the game.
INTERRUPTION_RETENTION_SECONDS = 300
# Messages Karpenter cannot handle are kept four days for a look, instead of cycling until expiry.
INTERRUPTION_DLQ_RETENTION_SECONDS = 4 * 24 * 3600
INTERRUPTION_MAX_RECEIVES = 5

# Our choice: a node lives at most 30 days, so every node is rebuilt from a current AMI monthly.
NODE_EXPIRY = "720h"
NODE_DISK = "50Gi"


@dataclass(frozen=True)
class KarpenterArgs:
    settings: KarpenterSettings
    # The plain name, for IAM condition keys; `cluster_name` waits for the cluster to exist.
    eks_name: str
    cluster_name: pulumi.Output[str]
    account: Account
    namespace: k8s.core.v1.Namespace
    # What the controller's pods need running before they start: nodes, the Pod Identity agent.
    prerequisites: Sequence[pulumi.Resource]


def install_karpenter(owner: Owner, args: KarpenterArgs) -> None:
    """Node role and access entry, interruption queue and rules, controller, NodePool."""
    node_role, access = _node_role(owner, args)
    key, queue = _interruption_queue(owner, args)
    _interruption_rules(owner, queue)
    association = _controller_identity(owner, args, node_role, key, queue)
    release = _release(owner, args, queue, [association, *args.prerequisites])
    _node_pool(owner, args, node_role, [release, access])


def _node_role(owner: Owner, args: KarpenterArgs) -> tuple[aws.iam.Role, aws.eks.AccessEntry]:
    """The role of Karpenter's nodes, let into the cluster by an EC2_LINUX access entry."""
    role = aws.iam.Role(
        f"{owner.name}-karpenter-node-role",
        assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
        opts=owner.child(),
    )
    for short, arn in WORKER_NODE_POLICIES.items():
        aws.iam.RolePolicyAttachment(
            f"{owner.name}-karpenter-node-{short}",
            role=role.name,
            policy_arn=arn,
            opts=owner.child(),
        )
    # EC2_LINUX puts the nodes in system:nodes; no access policy may be attached to this type.
    access = aws.eks.AccessEntry(
        f"{owner.name}-karpenter-node-access",
        cluster_name=args.cluster_name,
        principal_arn=role.arn,
        type="EC2_LINUX",
        opts=owner.child(),
    )
    return role, access


def _interruption_queue(owner: Owner, args: KarpenterArgs) -> tuple[aws.kms.Key, aws.sqs.Queue]:
    """The queue EventBridge fills with interruption events, encrypted with a key of ours."""
    key = aws.kms.Key(
        f"{owner.name}-interruption-key",
        description=f"Karpenter interruption queue of {args.eks_name}",
        enable_key_rotation=True,
        deletion_window_in_days=7,
        policy=policy_document_output(
            [
                Statement(
                    Sid="AccountAdministers",
                    Effect="Allow",
                    Action="kms:*",
                    Resource="*",
                    Principal={"AWS": args.account.arn("iam", "root", regional=False)},
                ),
                # EventBridge encrypts what it sends to a KMS-encrypted queue with the queue's key.
                Statement(
                    Sid="EventBridgeEncrypts",
                    Effect="Allow",
                    Action=["kms:GenerateDataKey", "kms:Decrypt"],
                    Resource="*",
                    Principal={"Service": "events.amazonaws.com"},
                ),
            ]
        ),
        opts=owner.stateful(),
    )
    # Every queue of this platform has a dead-letter queue, this one included.
    dead_letters = aws.sqs.Queue(
        f"{owner.name}-interruption-dlq",
        message_retention_seconds=INTERRUPTION_DLQ_RETENTION_SECONDS,
        kms_master_key_id=key.arn,
        opts=owner.stateful(),
    )
    queue = aws.sqs.Queue(
        f"{owner.name}-interruption",
        message_retention_seconds=INTERRUPTION_RETENTION_SECONDS,
        kms_master_key_id=key.arn,
        redrive_policy=pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dead_letters.arn, "maxReceiveCount": INTERRUPTION_MAX_RECEIVES}
        ),
        opts=owner.stateful(),
    )
    return key, queue


def _interruption_rules(owner: Owner, queue: aws.sqs.Queue) -> None:
    """The five EventBridge rules Karpenter documents, each sending to the queue."""
    rules: list[aws.cloudwatch.EventRule] = []
    for role, (source, detail_type) in INTERRUPTION_EVENTS.items():
        rule = aws.cloudwatch.EventRule(
            f"{owner.name}-interruption-{role}",
            description=f"Karpenter interruption handling: {detail_type}",
            event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}),
            opts=owner.child(),
        )
        aws.cloudwatch.EventTarget(
            f"{owner.name}-interruption-{role}-target",
            rule=rule.name,
            arn=queue.arn,
            target_id="KarpenterInterruptionQueueTarget",
            opts=owner.child(),
        )
        rules.append(rule)
    _queue_policy(owner, queue, rules)


def _queue_policy(
    owner: Owner, queue: aws.sqs.Queue, rules: list[aws.cloudwatch.EventRule]
) -> None:
    # EventBridge may send only on behalf of these rules; sqs.amazonaws.com is admitted as
    # Karpenter's own template admits it.
    aws.sqs.QueuePolicy(
        f"{owner.name}-interruption-policy",
        queue_url=queue.url,
        policy=policy_document_output(
            [
                Statement(
                    Sid="EventBridgeSends",
                    Effect="Allow",
                    Principal={"Service": "events.amazonaws.com"},
                    Action="sqs:SendMessage",
                    Resource=queue.arn,
                    Condition={"ArnEquals": {"aws:SourceArn": [rule.arn for rule in rules]}},
                ),
                Statement(
                    Sid="SqsSends",
                    Effect="Allow",
                    Principal={"Service": "sqs.amazonaws.com"},
                    Action="sqs:SendMessage",
                    Resource=queue.arn,
                ),
                Statement(
                    Sid="DenyInsecureTransport",
                    Effect="Deny",
                    Principal={"AWS": "*"},
                    Action="sqs:*",
                    Resource=queue.arn,
                    Condition={"Bool": {"aws:SecureTransport": "false"}},
                ),
            ]
        ),
        opts=owner.child(),
    )


def _controller_identity(
    owner: Owner,
    args: KarpenterArgs,
    node_role: aws.iam.Role,
    key: aws.kms.Key,
    queue: aws.sqs.Queue,
) -> aws.eks.PodIdentityAssociation:
    """The controller's role, handed to the chart's service account."""
    # Four managed policies, as Karpenter splits them: one inline document would pass the
    # 10,240-character limit on a role's inline policies.
    role = aws.iam.Role(
        f"{owner.name}-karpenter-controller-role",
        assume_role_policy=pod_identity_trust(),
        opts=owner.child(),
    )
    parts = controller_statements(args.eks_name, args.account, node_role.arn, key.arn, queue.arn)
    attachments: list[pulumi.Resource] = []
    for part, statements in parts.items():
        policy = aws.iam.Policy(
            f"{owner.name}-karpenter-{part}",
            description=f"Karpenter controller of {args.eks_name}: {part}",
            policy=policy_document_output(statements),
            opts=owner.child(),
        )
        attachments.append(
            aws.iam.RolePolicyAttachment(
                f"{owner.name}-karpenter-{part}",
                role=role.name,
                policy_arn=policy.arn,
                opts=owner.child(),
            )
        )
    return aws.eks.PodIdentityAssociation(
        f"{owner.name}-karpenter-identity",
        cluster_name=args.cluster_name,
        namespace=KARPENTER_NAMESPACE,
        service_account=KARPENTER_SERVICE_ACCOUNT,
        role_arn=role.arn,
        opts=owner.child(depends_on=attachments),
    )


def _release(
    owner: Owner,
    args: KarpenterArgs,
    queue: aws.sqs.Queue,
    prerequisites: Sequence[pulumi.Resource],
) -> k8s.helm.v3.Release:
    # Pod Identity hands credentials only to pods admitted after the association exists.
    # Nodes keep IMDS out of pods' reach (hop limit 1), so the region is given explicitly.
    return k8s.helm.v3.Release(
        f"{owner.name}-karpenter",
        name="karpenter",
        chart=KARPENTER_CHART,
        version=KARPENTER_CHART_VERSION,
        namespace=args.namespace.metadata.name,
        values={
            "settings": {"clusterName": args.eks_name, "interruptionQueue": queue.name},
            "serviceAccount": {"name": KARPENTER_SERVICE_ACCOUNT},
            "replicas": 2,
            "nodeSelector": {"kubernetes.io/os": "linux", **SYSTEM_LABELS},
            "tolerations": [{"key": SYSTEM_TAINT_KEY, "operator": "Exists"}],
            "controller": {
                "env": [{"name": "AWS_REGION", "value": args.account.region}],
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"memory": "1Gi"},
                },
            },
        },
        opts=owner.k8s(depends_on=list(prerequisites)),
    )


def _node_pool(
    owner: Owner,
    args: KarpenterArgs,
    node_role: aws.iam.Role,
    prerequisites: Sequence[pulumi.Resource],
) -> None:
    """The EC2NodeClass (how nodes are built) and the NodePool (which, and how many)."""
    # The release brings the CRDs; the access entry lets the nodes join.
    node_class = k8s.apiextensions.CustomResource(
        f"{owner.name}-node-class",
        api_version="karpenter.k8s.aws/v1",
        kind="EC2NodeClass",
        metadata={"name": NODE_POOL},
        spec=node_class_spec(args.settings, args.eks_name, node_role.name),
        opts=owner.k8s(depends_on=list(prerequisites)),
    )
    k8s.apiextensions.CustomResource(
        f"{owner.name}-node-pool",
        api_version="karpenter.sh/v1",
        kind="NodePool",
        metadata={"name": NODE_POOL},
        spec=node_pool_spec(args.settings),
        opts=owner.k8s(depends_on=[node_class, *prerequisites]),
    )


def node_class_spec(
    settings: KarpenterSettings, eks_name: str, node_role: pulumi.Input[str]
) -> dict[str, object]:
    discovery = [{"tags": {DISCOVERY_TAG: eks_name}}]
    return {
        "role": node_role,
        "amiSelectorTerms": [{"alias": settings.ami_alias}],
        "subnetSelectorTerms": discovery,
        "securityGroupSelectorTerms": discovery,
        # IMDSv2 only, hop limit 1: pods cannot take the node role's credentials through IMDS.
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        # The account's EBS key, as for the system nodes: a key of ours would need grants for
        # the EC2 service on every launch.
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "volumeSize": NODE_DISK,
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
    }


def node_pool_spec(settings: KarpenterSettings) -> dict[str, object]:
    return {
        "template": {
            "metadata": {"labels": {"matching.platform/node-pool": NODE_POOL}},
            "spec": {
                "nodeClassRef": {
                    "group": "karpenter.k8s.aws",
                    "kind": "EC2NodeClass",
                    "name": NODE_POOL,
                },
                "requirements": [
                    {
                        "key": "karpenter.k8s.aws/instance-family",
                        "operator": "In",
                        "values": list(settings.instance_families),
                    },
                    {
                        "key": "karpenter.sh/capacity-type",
                        "operator": "In",
                        "values": list(settings.capacity_types),
                    },
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
                "expireAfter": NODE_EXPIRY,
            },
        },
        "limits": {"cpu": str(settings.cpu_limit)},
        "disruption": {
            "consolidationPolicy": settings.consolidation_policy,
            "consolidateAfter": settings.consolidate_after,
        },
    }
