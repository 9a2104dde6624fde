"""DedicatedCluster under the mocks: the key, EKS, the system nodes and what every child shares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cluster import CLUSTER_ADMIN_POLICY, CONTROL_PLANE_LOG_TYPES
from components.karpenter import WORKER_NODE_POLICIES
from components.network import DISCOVERY_TAG
from components.settings import StackSettings
from tests.components.dedicated_cluster_run import (
    ADDON,
    COMPONENT,
    NAME,
    build,
    cluster_name,
    subnets,
)
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun
from tools.records import PROVIDER_PREFIX, STACK_TYPE


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


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


def test_key_rotates_and_lets_only_this_accounts_log_groups_encrypt(
    run: ProgramRun, settings: StackSettings
) -> None:
    key = one(run, "aws:kms/key:Key", f"{NAME}-key")
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
    key = one(run, "aws:kms/key:Key", f"{NAME}-key")
    assert inputs["encryptionConfigKeyArn"] == key.outputs["arn"], cluster.urn
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


def test_eks_leaves_the_add_ons_to_the_pinned_ones(run: ProgramRun) -> None:
    inputs = one(run, "eks:index:Cluster").inputs

    assert inputs["skipDefaultSecurityGroups"] is True
    assert inputs["useDefaultVpcCni"] is True
    assert inputs["corednsAddonOptions"]["enabled"] is False
    assert inputs["kubeProxyAddonOptions"]["enabled"] is False


def test_cluster_security_group_is_tagged_for_karpenter_discovery(
    run: ProgramRun, stack: str
) -> None:
    tag = one(run, "aws:ec2/tag:Tag")
    cluster = one(run, "eks:index:Cluster")

    assert tag.inputs["resourceId"] == cluster.outputs["clusterSecurityGroupId"], tag.urn
    assert (tag.inputs["key"], tag.inputs["value"]) == (DISCOVERY_TAG, cluster_name(stack))


def test_system_nodes_wait_for_the_cni_and_kube_proxy(run: ProgramRun) -> None:
    group = one(run, "aws:eks/nodeGroup:NodeGroup")

    for role in ("vpc-cni", "kube-proxy"):
        assert one(run, ADDON, f"{NAME}-{role}").urn in group.dependencies, role
