"""Karpenter under the mocks: its controller's narrow IAM, the interruption queue, the NodePool."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.karpenter import (
    INTERRUPTION_EVENTS,
    KARPENTER_CHART,
    KARPENTER_CHART_VERSION,
    NODE_POOL,
    SYSTEM_LABELS,
    WORKER_NODE_POLICIES,
)
from components.network import DISCOVERY_TAG
from components.settings import StackSettings
from tests.components.dedicated_cluster_run import (
    ADDON,
    ASSOCIATION,
    NAME,
    POLICY,
    QUEUE,
    ROLE,
    attached,
    build,
    cluster_name,
    document,
    release,
    statements,
)
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun
from tools.records import ResourceRecord

NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODE_POOL_TYPE = "kubernetes:karpenter.sh/v1:NodePool"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
# Each node-lifecycle statement, and whether it holds the tags a request sets or a resource has.
LIFECYCLE_TAGS = {
    "AllowScopedEC2LaunchTemplateAccessActions": "Resource",
    "AllowScopedEC2InstanceActionsWithTags": "Request",
    "AllowScopedResourceCreationTagging": "Request",
    "AllowScopedResourceTagging": "Resource",
    "AllowScopedDeletion": "Resource",
}


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def controller_policy(run: ProgramRun, part: str) -> dict[str, dict[str, Any]]:
    return statements(one(run, POLICY, f"{NAME}-karpenter-{part}"))


def queue(run: ProgramRun) -> ResourceRecord:
    return one(run, QUEUE, f"{NAME}-interruption")


def test_chart_is_pinned_and_runs_on_the_system_nodes(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    chart = release(run, "karpenter")
    values = chart.inputs["values"]

    assert chart.inputs["chart"] == KARPENTER_CHART == "oci://public.ecr.aws/karpenter/karpenter"
    assert chart.inputs["version"] == KARPENTER_CHART_VERSION
    assert KARPENTER_CHART_VERSION.startswith("1."), "Karpenter v1 APIs need chart 1.x"
    assert chart.inputs["namespace"] == "karpenter", chart.urn
    assert values["settings"] == {
        "clusterName": cluster_name(stack),
        "interruptionQueue": queue(run).outputs["name"],
    }
    assert values["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    assert SYSTEM_LABELS.items() <= values["nodeSelector"].items(), chart.urn
    assert {"name": "AWS_REGION", "value": settings.region} in values["controller"]["env"]
    for needed in (
        one(run, ASSOCIATION, f"{NAME}-karpenter-identity"),
        one(run, "aws:eks/nodeGroup:NodeGroup"),
        one(run, ADDON, f"{NAME}-pod-identity-agent"),
    ):
        assert needed.urn in chart.dependencies, f"{chart.urn} must wait for {needed.urn}"


def test_controller_role_reaches_the_charts_service_account_through_pod_identity(
    run: ProgramRun, stack: str
) -> None:
    role = one(run, ROLE, f"{NAME}-karpenter-controller-role")
    association = one(run, ASSOCIATION, f"{NAME}-karpenter-identity")
    (trust,) = document(role, "assumeRolePolicy")["Statement"]
    policies = {p.outputs["arn"] for p in of_type(run, POLICY) if "-karpenter-" in p.name}

    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}, role.urn
    assert set(trust["Action"]) == {"sts:AssumeRole", "sts:TagSession"}, role.urn
    assert association.inputs["namespace"] == "karpenter", association.urn
    assert association.inputs["serviceAccount"] == "karpenter", association.urn
    assert association.inputs["roleArn"] == role.outputs["arn"], association.urn
    assert association.inputs["clusterName"] == cluster_name(stack), association.urn
    assert attached(run, role) == policies, role.urn
    assert len(policies) == 4, role.urn


def test_node_lifecycle_is_conditioned_on_this_clusters_tags(run: ProgramRun, stack: str) -> None:
    policy = controller_policy(run, "node-lifecycle")
    owned = f"kubernetes.io/cluster/{cluster_name(stack)}"

    for sid, kind in LIFECYCLE_TAGS.items():
        condition = policy[sid]["Condition"]
        assert condition["StringEquals"][f"aws:{kind}Tag/{owned}"] == "owned", sid
        assert condition["StringLike"][f"aws:{kind}Tag/karpenter.sh/nodepool"] == "*", sid
    deletion = policy["AllowScopedDeletion"]
    assert set(deletion["Action"]) == {"ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"}
    assert all(":instance/" in r or ":launch-template/" in r for r in deletion["Resource"])


def test_pass_role_names_the_node_role_only(run: ProgramRun) -> None:
    passing = controller_policy(run, "iam-integration")["AllowPassingInstanceRole"]
    node_role = one(run, ROLE, f"{NAME}-karpenter-node-role")

    assert passing["Action"] == "iam:PassRole"
    assert passing["Resource"] == node_role.outputs["arn"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_controller_reads_only_its_own_queue_and_wildcards_only_reads(run: ProgramRun) -> None:
    eks = controller_policy(run, "eks-integration")
    everything = [
        s
        for p in ("node-lifecycle", "iam-integration", "eks-integration", "resource-discovery")
        for s in controller_policy(run, p).values()
    ]

    assert eks["AllowInterruptionQueueActions"]["Resource"] == queue(run).outputs["arn"]
    assert (
        eks["AllowInterruptionQueueDecrypt"]["Resource"]
        == (one(run, "aws:kms/key:Key", f"{NAME}-interruption-key").outputs["arn"])
    )
    for statement in everything:
        action: str | list[str] = statement["Action"]
        actions = [action] if isinstance(action, str) else action
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement["Sid"]
        if statement["Resource"] == "*":
            assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions), (
                f"{statement['Sid']} grants a write on every resource"
            )


def test_node_role_joins_through_an_ec2_linux_access_entry(run: ProgramRun, stack: str) -> None:
    role = one(run, ROLE, f"{NAME}-karpenter-node-role")
    entry = one(run, "aws:eks/accessEntry:AccessEntry")
    (trust,) = document(role, "assumeRolePolicy")["Statement"]

    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}, role.urn
    assert attached(run, role) == set(WORKER_NODE_POLICIES.values()), role.urn
    assert entry.inputs["type"] == "EC2_LINUX", entry.urn
    assert entry.inputs["principalArn"] == role.outputs["arn"], entry.urn
    assert entry.inputs["clusterName"] == cluster_name(stack), entry.urn
    assert "accessPolicies" not in entry.inputs, entry.urn


def test_interruption_queue_is_encrypted_short_lived_and_has_a_dead_letter_queue(
    run: ProgramRun,
) -> None:
    main = queue(run)
    dead_letters = one(run, QUEUE, f"{NAME}-interruption-dlq")
    key = one(run, "aws:kms/key:Key", f"{NAME}-interruption-key")
    key_statements = statements(key)

    assert main.inputs["messageRetentionSeconds"] == 300, main.urn
    assert (
        json.loads(main.inputs["redrivePolicy"])["deadLetterTargetArn"]
        == (dead_letters.outputs["arn"])
    )
    for record in (main, dead_letters):
        assert record.inputs["kmsMasterKeyId"] == key.outputs["arn"], record.urn
    assert key.inputs["enableKeyRotation"] is True, key.urn
    assert key_statements["EventBridgeEncrypts"]["Principal"] == {"Service": "events.amazonaws.com"}


def test_queue_policy_admits_eventbridge_rules_and_sqs_over_tls_only(run: ProgramRun) -> None:
    policy = statements(one(run, "aws:sqs/queuePolicy:QueuePolicy"))
    rules = {r.outputs["arn"] for r in of_type(run, RULE)}

    assert policy["EventBridgeSends"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(policy["EventBridgeSends"]["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules
    assert policy["SqsSends"]["Principal"] == {"Service": "sqs.amazonaws.com"}
    for sid in ("EventBridgeSends", "SqsSends"):
        assert policy[sid]["Action"] == "sqs:SendMessage", sid
        assert policy[sid]["Resource"] == queue(run).outputs["arn"], sid
    assert policy["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_five_rules_send_karpenters_interruption_events_to_the_queue(run: ProgramRun) -> None:
    rules = of_type(run, RULE)
    patterns = {
        (p["source"][0], p["detail-type"][0])
        for p in (json.loads(r.inputs["eventPattern"]) for r in rules)
    }
    targets = of_type(run, TARGET)

    assert patterns == {
        ("aws.health", "AWS Health Event"),
        ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
        ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
        ("aws.ec2", "EC2 Instance State-change Notification"),
        ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
    }
    assert len(rules) == len(INTERRUPTION_EVENTS) == 5
    assert {t.inputs["rule"] for t in targets} == {r.outputs["name"] for r in rules}
    assert all(t.inputs["arn"] == queue(run).outputs["arn"] for t in targets)


def test_node_class_discovers_by_tag_and_keeps_imdsv2_with_one_hop(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    node_class = one(run, NODE_CLASS)
    spec = node_class.inputs["spec"]
    (disk,) = spec["blockDeviceMappings"]
    discovery = [{"tags": {DISCOVERY_TAG: cluster_name(stack)}}]

    assert node_class.inputs["apiVersion"] == "karpenter.k8s.aws/v1"
    assert spec["role"] == one(run, ROLE, f"{NAME}-karpenter-node-role").outputs["name"]
    assert spec["amiSelectorTerms"] == [{"alias": settings.cluster.karpenter.ami_alias}]
    assert spec["subnetSelectorTerms"] == spec["securityGroupSelectorTerms"] == discovery
    assert spec["metadataOptions"]["httpTokens"] == "required", node_class.urn
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1, node_class.urn
    assert disk["ebs"]["encrypted"] is True
    assert disk["ebs"]["volumeType"] == "gp3"
    assert release(run, "karpenter").urn in node_class.dependencies, "CRDs come with the chart"
    assert one(run, "aws:eks/accessEntry:AccessEntry").urn in node_class.dependencies


def test_node_pool_takes_families_limits_and_consolidation_from_settings(
    run: ProgramRun, settings: StackSettings
) -> None:
    pool = one(run, NODE_POOL_TYPE)
    spec = pool.inputs["spec"]
    karpenter = settings.cluster.karpenter
    requirements = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}

    assert pool.inputs["apiVersion"] == "karpenter.sh/v1"
    assert spec["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": NODE_POOL,
    }
    assert requirements["karpenter.k8s.aws/instance-family"] == list(karpenter.instance_families)
    assert requirements["karpenter.sh/capacity-type"] == list(karpenter.capacity_types)
    assert spec["limits"] == {"cpu": str(karpenter.cpu_limit)}
    assert spec["disruption"] == {
        "consolidationPolicy": karpenter.consolidation_policy,
        "consolidateAfter": karpenter.consolidate_after,
    }


@pytest.mark.parametrize(
    ("stack", "capacity"),
    [("staging", ["spot", "on-demand"]), ("prod", ["on-demand"])],
    indirect=["stack"],
)
def test_spot_only_where_settings_allow(run: ProgramRun, capacity: list[str]) -> None:
    spec = one(run, NODE_POOL_TYPE).inputs["spec"]["template"]["spec"]
    (types,) = [
        r["values"] for r in spec["requirements"] if r["key"] == "karpenter.sh/capacity-type"
    ]

    assert types == capacity
