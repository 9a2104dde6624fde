"""Pinned add-ons, the default StorageClass and the Load Balancer Controller, under the mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.controllers import (
    DEFAULT_STORAGE_CLASS,
    EBS_CSI_POLICY,
    LOAD_BALANCER_CHART_VERSION,
    TARGET_GROUP_TAG,
)
from components.settings import StackSettings
from tests.components.dedicated_cluster_run import (
    ADDON,
    ASSOCIATION,
    NAME,
    NAMESPACE,
    ROLE,
    ROLE_POLICY,
    attached,
    build,
    cluster_name,
    document,
    release,
    statements,
)
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun

STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def is_default(metadata: dict[str, Any]) -> bool:
    annotations: dict[str, str] = metadata.get("annotations") or {}
    return annotations.get(DEFAULT_ANNOTATION) == "true"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def test_every_core_add_on_is_pinned_to_the_settings(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    versions = settings.cluster.addon_versions
    addons = {a.inputs["addonName"]: a for a in of_type(run, ADDON)}

    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == {
        "vpc-cni": versions.vpc_cni,
        "coredns": versions.core_dns,
        "kube-proxy": versions.kube_proxy,
        "eks-pod-identity-agent": versions.pod_identity_agent,
        "aws-ebs-csi-driver": versions.ebs_csi_driver,
    }
    for addon in addons.values():
        assert addon.inputs["clusterName"] == cluster_name(stack), addon.urn


def test_vpc_cni_enforces_network_policies(run: ProgramRun) -> None:
    cni = one(run, ADDON, f"{NAME}-vpc-cni")

    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}


@pytest.mark.parametrize("role", ["coredns", "pod-identity-agent", "ebs-csi-driver"])
def test_add_ons_with_pods_wait_for_the_system_nodes(run: ProgramRun, role: str) -> None:
    addon = one(run, ADDON, f"{NAME}-{role}")

    assert one(run, "aws:eks/nodeGroup:NodeGroup").urn in addon.dependencies, addon.urn


def test_ebs_csi_driver_has_its_own_pod_identity_role_and_the_cluster_key(run: ProgramRun) -> None:
    addon = one(run, ADDON, f"{NAME}-ebs-csi-driver")
    role = one(run, ROLE, f"{NAME}-ebs-csi-role")
    kms = statements(one(run, ROLE_POLICY, f"{NAME}-ebs-csi-kms"))
    key = one(run, "aws:kms/key:Key", f"{NAME}-key").outputs["arn"]

    assert addon.inputs["podIdentityAssociations"] == [
        {"roleArn": role.outputs["arn"], "serviceAccount": "ebs-csi-controller-sa"}
    ]
    assert attached(run, role) == {EBS_CSI_POLICY}, role.urn
    assert document(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {
        "Service": "pods.eks.amazonaws.com"
    }
    assert kms["GrantsForEbs"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert kms["GrantsForEbs"]["Resource"] == kms["UseClusterKey"]["Resource"] == key


def test_default_storage_class_is_gp3_encrypted_with_the_cluster_key(run: ProgramRun) -> None:
    storage = one(run, STORAGE_CLASS)
    metadata = storage.inputs["metadata"]

    assert metadata["name"] == DEFAULT_STORAGE_CLASS, storage.urn
    assert metadata["annotations"] == {DEFAULT_ANNOTATION: "true"}, storage.urn
    assert storage.inputs["provisioner"] == "ebs.csi.aws.com", storage.urn
    assert storage.inputs["parameters"] == {
        "type": "gp3",
        "encrypted": "true",
        "kmsKeyId": one(run, "aws:kms/key:Key", f"{NAME}-key").outputs["arn"],
    }
    assert one(run, ADDON, f"{NAME}-ebs-csi-driver").urn in storage.dependencies


def test_the_whole_program_has_one_default_storage_class(plans: dict[str, ProgramRun]) -> None:
    for stack, plan in plans.items():
        defaults = [r for r in of_type(plan, STORAGE_CLASS) if is_default(r.inputs["metadata"])]
        assert len(defaults) == 1, f"{stack}: {[r.urn for r in defaults]}"


def test_load_balancer_controller_serves_target_group_bindings_only(
    run: ProgramRun, settings: StackSettings, stack: str
) -> None:
    chart = release(run, "load-balancer-controller")
    values = chart.inputs["values"]

    assert chart.inputs["version"] == LOAD_BALANCER_CHART_VERSION, chart.urn
    assert chart.inputs["namespace"] == "aws-load-balancer-controller", chart.urn
    assert values["enableServiceMutatorWebhook"] is False, chart.urn
    assert values["createIngressClassResource"] is False, chart.urn
    assert values["ingressClassParams"] == {"create": False}, chart.urn
    assert values["controllerConfig"]["featureGates"] == {"EnableServiceController": False}
    assert values["region"] == settings.region, chart.urn
    assert values["vpcId"] == one(run, "aws:ec2/vpc:Vpc").id, chart.urn
    assert values["clusterName"] == cluster_name(stack), chart.urn
    assert one(run, ASSOCIATION, f"{NAME}-load-balancer-controller-identity").urn in (
        chart.dependencies
    )


def test_load_balancer_controller_iam_registers_targets_and_opens_one_group(
    run: ProgramRun, stack: str
) -> None:
    policy = statements(one(run, ROLE_POLICY, f"{NAME}-load-balancer-controller-policy"))
    group = one(run, "eks:index:Cluster").outputs["clusterSecurityGroupId"]
    actions = {a for s in policy.values() for a in s["Action"]}

    register = policy["RegisterPodsInTaggedTargetGroups"]
    assert register["Resource"].endswith(":targetgroup/*/*"), register
    assert register["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/{TARGET_GROUP_TAG}": cluster_name(stack)}
    }
    assert policy["OpenPodsToTheAlb"]["Resource"].endswith(f":security-group/{group}")
    assert not {a for a in actions if a.split(":")[1].startswith(("Create", "Delete", "Modify"))}
    assert all(
        a.split(":")[1].startswith("Describe")
        for a in policy["DescribeTargetsAndNetwork"]["Action"]
    )


@pytest.mark.parametrize(
    ("role", "name"),
    [("karpenter", "karpenter"), ("load-balancer-controller", "aws-load-balancer-controller")],
)
def test_platform_namespaces_are_restricted(run: ProgramRun, role: str, name: str) -> None:
    namespace = one(run, NAMESPACE, f"{NAME}-{role}-namespace")
    labels = namespace.inputs["metadata"]["labels"]

    assert namespace.inputs["metadata"]["name"] == name, namespace.urn
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", namespace.urn


def test_load_balancer_controller_pods_satisfy_restricted(run: ProgramRun) -> None:
    values = release(run, "load-balancer-controller").inputs["values"]
    container = values["securityContext"]

    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False
    assert container["runAsNonRoot"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
