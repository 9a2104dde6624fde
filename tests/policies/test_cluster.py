"""The EKS policies, for the pulumi_eks component and for a bare aws.eks.Cluster."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, changed, resource, without
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
KEY = "arn:aws:kms:eu-central-1:111122223333:key/1"

COMPONENT = resource(
    "eks:index:Cluster",
    "platform",
    {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "encryptionConfigKeyArn": KEY,
        "enabledClusterLogTypes": LOGS,
        "authenticationMode": "API",
    },
    custom=False,
)
CLUSTER = resource(
    "aws:eks/cluster:Cluster",
    "platform-eks",
    {
        "roleArn": "arn:aws:iam::111122223333:role/eks",
        "vpcConfig": {
            "subnetIds": ["subnet-0a"],
            "endpointPrivateAccess": True,
            "endpointPublicAccess": False,
        },
        "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["secrets"]},
        "enabledClusterLogTypes": LOGS,
        "accessConfig": {"authenticationMode": "API"},
    },
)


@pytest.mark.parametrize("record", [COMPONENT, CLUSTER], ids=["component", "aws-eks"])
def test_compliant_cluster_passes(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    ("record", "policy"),
    [
        pytest.param(
            without(COMPONENT, "endpointPublicAccess"), "eks-private-endpoint", id="c-pub"
        ),
        pytest.param(
            changed(COMPONENT, endpointPrivateAccess=False), "eks-private-endpoint", id="c-priv"
        ),
        pytest.param(
            without(COMPONENT, "encryptionConfigKeyArn"), "eks-secrets-encryption", id="c-kms"
        ),
        pytest.param(
            changed(COMPONENT, enabledClusterLogTypes=LOGS[:2]),
            "eks-control-plane-logs",
            id="c-log",
        ),
        pytest.param(
            changed(CLUSTER, vpcConfig={"subnetIds": ["subnet-0a"], "endpointPrivateAccess": True}),
            "eks-private-endpoint",
            id="a-pub-default",
        ),
        pytest.param(without(CLUSTER, "encryptionConfig"), "eks-secrets-encryption", id="a-kms"),
        # The aws-auth ConfigMap's mappings are text the pack can't judge.
        pytest.param(
            changed(COMPONENT, authenticationMode="API_AND_CONFIG_MAP"),
            "eks-access-entries-only",
            id="c-config-map",
        ),
        pytest.param(
            without(COMPONENT, "authenticationMode"), "eks-access-entries-only", id="c-auth"
        ),
        pytest.param(
            changed(CLUSTER, accessConfig={"authenticationMode": "CONFIG_MAP"}),
            "eks-access-entries-only",
            id="a-config-map",
        ),
        pytest.param(without(CLUSTER, "accessConfig"), "eks-access-entries-only", id="a-auth"),
        pytest.param(
            without(CLUSTER, "enabledClusterLogTypes"), "eks-control-plane-logs", id="a-log"
        ),
    ],
)
def test_cluster_violation_is_caught(pack: PolicyPack, record: ResourceRecord, policy: str) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [policy], explain(record.urn, found)


@pytest.mark.parametrize("inputs", [{"endpointPublicAccess": UNKNOWN}], ids=["public"])
def test_unknown_endpoint_at_preview_is_advisory(
    preview_pack: PolicyPack, inputs: dict[str, Any]
) -> None:
    record = changed(COMPONENT, **inputs)

    found = preview_pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found, "advisory") == ["eks-private-endpoint"], explain(record.urn, found)


# --- ec2-imdsv2-required ---------------------------------------------------------------------

IMDS = "ec2-imdsv2-required"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
IMDSV2 = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}


def _node_class(metadata: dict[str, Any] | None) -> ResourceRecord:
    spec: dict[str, Any] = {"role": "nodes", "amiSelectorTerms": [{"alias": "al2023@latest"}]}
    if metadata is not None:
        spec["metadataOptions"] = metadata
    return resource(NODE_CLASS, "general", {"apiVersion": "karpenter.k8s.aws/v1", "spec": spec})


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(resource(TEMPLATE, "lt", {"metadataOptions": IMDSV2}), id="template"),
        pytest.param(
            resource(TEMPLATE, "lt", {"metadataOptions": {"httpEndpoint": "disabled"}}),
            id="template-imds-off",
        ),
        pytest.param(_node_class(None), id="node-class-defaults"),
        pytest.param(_node_class(IMDSV2), id="node-class"),
    ],
)
def test_imdsv2_only_passes(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            resource(TEMPLATE, "lt", {"metadataOptions": {**IMDSV2, "httpTokens": "optional"}}),
            id="template-imdsv1",
        ),
        pytest.param(
            resource(TEMPLATE, "lt", {"metadataOptions": {**IMDSV2, "httpPutResponseHopLimit": 2}}),
            id="template-hop-limit",
        ),
        pytest.param(resource(TEMPLATE, "lt", {}), id="template-ec2-defaults"),
        pytest.param(_node_class({"httpTokens": "optional"}), id="node-class-imdsv1"),
        pytest.param(_node_class({"httpPutResponseHopLimit": 3}), id="node-class-hop-limit"),
    ],
)
def test_imdsv1_or_reachable_metadata_is_blocked(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [IMDS], explain(record.urn, found)


# --- red-team regressions: every launcher of instances, and node groups -----------------------

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
OPTIONAL = {"httpTokens": "optional"}


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            resource(
                "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
                "spot",
                {"metadataOptions": OPTIONAL},
            ),
            id="spot-request",
        ),
        pytest.param(
            resource(
                "aws:ec2/launchConfiguration:LaunchConfiguration",
                "lc",
                {"metadataOptions": OPTIONAL},
            ),
            id="launch-configuration",
        ),
        pytest.param(
            resource("aws:ec2/launchConfiguration:LaunchConfiguration", "lc", {"imageId": "ami-1"}),
            id="launch-configuration-unset",
        ),
        pytest.param(
            resource(
                "aws:ec2/spotFleetRequest:SpotFleetRequest",
                "fleet",
                {"launchSpecifications": [{"ami": "ami-1", "instanceType": "t3.micro"}]},
            ),
            id="spot-fleet-specifications",
        ),
        pytest.param(
            resource(NODE_GROUP, "ng", {"clusterName": "c", "scalingConfig": {"desiredSize": 1}}),
            id="node-group-without-template",
        ),
        pytest.param(
            resource(TEMPLATE, "lt", {"metadataOptions": {**IMDSV2, "httpTokens": "Optional"}}),
            id="template-tokens-capitalised",
        ),
    ],
)
def test_every_instance_launcher_requires_imdsv2(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [IMDS], explain(record.urn, found)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            resource(NODE_GROUP, "ng", {"launchTemplate": {"id": "lt-0abc", "version": "1"}}),
            id="node-group-with-template",
        ),
        pytest.param(
            resource(TEMPLATE, "lt", {"metadataOptions": {**IMDSV2, "httpTokens": "Required"}}),
            id="template-required-capitalised",
        ),
    ],
)
def test_launcher_with_imdsv2_passes(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert IMDS not in policies(found), explain(record.urn, found)


def test_outside_identity_provider_is_refused(pack: PolicyPack) -> None:
    """Found by the red-team review: an OIDC issuer's users get in whatever the mode is."""
    issuer = {"identityProviderConfigName": "partner", "issuerUrl": "https://sso.example.org"}
    record = resource(
        "aws:eks/identityProviderConfig:IdentityProviderConfig",
        "partner-sso",
        {"clusterName": "platform", "oidc": {**issuer, "clientId": "eks"}},
    )

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == ["eks-access-entries-only"], explain(record.urn, found)
