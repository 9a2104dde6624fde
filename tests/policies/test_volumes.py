"""Every EBS volume encrypted, judged by the real pack over gRPC in both stack views."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, provider, resource
from tests.policies.conftest import Judge
from tests.policies.expect import explain, policies
from tools.records import ResourceRecord

IMDS = {"httpTokens": "required", "httpPutResponseHopLimit": 1}
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
DEFAULT_ON = resource("aws:ebs/encryptionByDefault:EncryptionByDefault", "ebs", {"enabled": True})


def _root(**ebs: Any) -> list[dict[str, Any]]:
    return [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50, **ebs}}]


def _template(mappings: list[dict[str, Any]] | None) -> ResourceRecord:
    props: dict[str, Any] = {"metadataOptions": IMDS}
    if mappings is not None:
        props["blockDeviceMappings"] = mappings
    return resource("aws:ec2/launchTemplate:LaunchTemplate", "nodes-lt", props)


def _instance(**props: Any) -> ResourceRecord:
    base = {"ami": "ami-0abc", "instanceType": "t3.micro", "metadataOptions": IMDS}
    return resource("aws:ec2/instance:Instance", "bastion", {**base, **props})


def _node_class(mappings: list[dict[str, Any]] | None) -> ResourceRecord:
    spec: dict[str, Any] = {"role": "nodes", "metadataOptions": IMDS}
    if mappings is not None:
        spec["blockDeviceMappings"] = mappings
    body = {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "spec": spec}
    return resource(NODE_CLASS, "general", body)


def _storage_class(parameters: dict[str, str], provisioner: str = "ebs.csi.aws.com") -> Any:
    body = {"provisioner": provisioner, "parameters": parameters}
    return resource(STORAGE_CLASS, "gp3", {"metadata": {"name": "gp3"}, **body})


def _data_disk_only() -> list[dict[str, Any]]:
    """Only a data disk, encrypted: the root volume is the AMI's, as it comes."""
    return [{"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 100, "encrypted": True}}]


def _persistent_volume(source: dict[str, Any]) -> ResourceRecord:
    spec = {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], **source}
    token = "kubernetes:core/v1:PersistentVolume"
    return resource(token, "data", {"metadata": {"name": "data"}, "spec": spec})


ENCRYPTED = [
    pytest.param(_template(_root(encrypted="true")), id="template"),
    pytest.param(
        _template(
            [{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}, *_root(encrypted="true")]
        ),
        id="template-ephemeral",
    ),
    pytest.param(_instance(rootBlockDevice={"encrypted": True}), id="instance"),
    pytest.param(_instance(launchTemplate={"id": "lt-1"}), id="instance-from-template"),
    pytest.param(
        resource("aws:ebs/volume:Volume", "data", {"size": 10, "encrypted": True}), id="volume"
    ),
    pytest.param(_node_class(_root(encrypted=True)), id="node-class"),
    pytest.param(
        _node_class([{"deviceName": "/dev/xvdb", "rootVolume": True, "ebs": {"encrypted": True}}]),
        id="node-class-root-volume-flag",
    ),
    pytest.param(_storage_class({"type": "gp3", "encrypted": "true"}), id="storage-class"),
    pytest.param(_storage_class({}, provisioner="efs.csi.aws.com"), id="not-ebs"),
]


@pytest.mark.parametrize("record", ENCRYPTED)
def test_encrypted_volumes_pass(judge: Judge, record: ResourceRecord) -> None:
    found = judge([DEFAULT_PROVIDER, record])

    assert [p for p in policies(found) if p == "ebs-encrypted"] == [], explain(record.urn, found)


# Each with encryption left to the account: allowed once the stack turns the default on.
UNSET = [
    pytest.param(_template(None), id="template-no-mappings"),
    pytest.param(_template(_root()), id="template-unset"),
    pytest.param(_instance(), id="instance-no-root"),
    pytest.param(
        _instance(
            rootBlockDevice={"encrypted": True}, ebsBlockDevices=[{"deviceName": "/dev/sdf"}]
        ),
        id="instance-data-unset",
    ),
    pytest.param(resource("aws:ebs/volume:Volume", "data", {"size": 10}), id="volume"),
    pytest.param(
        resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"diskSize": 50}), id="node-group"
    ),
    pytest.param(_template(_data_disk_only()), id="template-root-unmapped"),
]
# Each turning encryption off outright, or a Kubernetes object, which names no region an account
# default could be matched to: no account default excuses them.
OFF = [
    pytest.param(_node_class(None), id="node-class-defaults"),
    pytest.param(_node_class(_data_disk_only()), id="node-class-root-unmapped"),
    pytest.param(_storage_class({"type": "gp3"}), id="storage-class-unset"),
    pytest.param(_template(_root(encrypted="True")), id="template-capitalised"),
    pytest.param(_storage_class({"encrypted": " true "}), id="storage-class-padded"),
    pytest.param(_storage_class({"encrypted": "True"}), id="storage-class-capitalised"),
    pytest.param(
        _persistent_volume({"awsElasticBlockStore": {"volumeID": "vol-0abc"}}), id="pv-in-tree"
    ),
    pytest.param(
        _persistent_volume({"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc"}}),
        id="pv-csi",
    ),
    pytest.param(
        resource(
            "aws:ec2/spotFleetRequest:SpotFleetRequest",
            "fleet",
            {
                "launchSpecifications": [
                    {"ami": "ami-1", "rootBlockDevices": [{"encrypted": False}]}
                ]
            },
        ),
        id="spot-fleet-inline",
    ),
    pytest.param(_template(_root(encrypted="false")), id="template"),
    pytest.param(_instance(rootBlockDevice={"encrypted": False}), id="instance"),
    pytest.param(
        resource("aws:ebs/volume:Volume", "data", {"size": 10, "encrypted": False}), id="volume"
    ),
    pytest.param(_node_class(_root(encrypted=False)), id="node-class"),
    pytest.param(_storage_class({"encrypted": "false"}), id="storage-class"),
    pytest.param(
        _storage_class({"encrypted": "false"}, provisioner="kubernetes.io/aws-ebs"), id="in-tree"
    ),
]


@pytest.mark.parametrize("record", [*UNSET, *OFF])
def test_volumes_not_surely_encrypted_are_blocked(judge: Judge, record: ResourceRecord) -> None:
    found = judge([DEFAULT_PROVIDER, record])

    assert "ebs-encrypted" in policies(found), explain(record.urn, found)


@pytest.mark.parametrize("record", UNSET)
def test_account_default_covers_what_is_left_unset(judge: Judge, record: ResourceRecord) -> None:
    found = judge([DEFAULT_PROVIDER, DEFAULT_ON, record])

    assert "ebs-encrypted" not in policies(found), explain(record.urn, found)


@pytest.mark.parametrize("record", OFF)
def test_account_default_does_not_excuse_encryption_off(
    judge: Judge, record: ResourceRecord
) -> None:
    found = judge([DEFAULT_PROVIDER, DEFAULT_ON, record])

    assert "ebs-encrypted" in policies(found), explain(record.urn, found)


def test_default_off_or_elsewhere_covers_nothing(judge: Judge) -> None:
    dublin = provider("dublin", region="eu-west-1")
    elsewhere = resource(DEFAULT_ON.type, "ebs-dublin", {"enabled": True}, via=dublin)
    switched_off = resource(DEFAULT_ON.type, "ebs-off", {"enabled": False})
    volume = resource("aws:ebs/volume:Volume", "data", {"size": 10})

    found = judge([DEFAULT_PROVIDER, dublin, elsewhere, switched_off, volume])

    assert policies(found) == ["ebs-encrypted"], explain(volume.urn, found)


def test_storage_class_in_yaml_is_read(judge: Judge) -> None:
    text = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp3}\n"
    text += "provisioner: ebs.csi.aws.com\nparameters: {encrypted: 'false'}\n"
    group = resource("kubernetes:yaml/v2:ConfigGroup", "storage", {"yaml": [text]})

    found = judge([DEFAULT_PROVIDER, group])

    assert policies(found) == ["ebs-encrypted"], explain(group.urn, found)
    assert "parameters.encrypted" in found[0].message


def test_default_of_another_account_covers_nothing(judge: Judge) -> None:
    # Same region, another account (the provider assumes a role there): its default is its own.
    other = provider("sandbox")
    theirs = resource(DEFAULT_ON.type, "ebs-sandbox", {"enabled": True}, via=other)
    volume = resource("aws:ebs/volume:Volume", "data", {"size": 10})

    found = judge([DEFAULT_PROVIDER, other, theirs, volume])

    assert policies(found) == ["ebs-encrypted"], explain(volume.urn, found)


def test_default_turned_off_again_covers_nothing(judge: Judge) -> None:
    off = resource(DEFAULT_ON.type, "ebs-off", {"enabled": False})
    volume = resource("aws:ebs/volume:Volume", "data", {"size": 10})

    found = judge([DEFAULT_PROVIDER, DEFAULT_ON, off, volume])

    assert policies(found) == ["ebs-encrypted"], explain(volume.urn, found)


@pytest.mark.parametrize(
    ("compute", "blocked"),
    [
        pytest.param({"type": "EC2", "maxVcpus": 4}, True, id="ec2-no-template"),
        pytest.param({"type": "FARGATE", "maxVcpus": 4}, False, id="fargate"),
    ],
)
def test_batch_without_a_template_is_blocked(
    judge: Judge, compute: dict[str, Any], blocked: bool
) -> None:
    batch = resource(
        "aws:batch/computeEnvironment:ComputeEnvironment", "batch", {"computeResources": compute}
    )

    found = judge([DEFAULT_PROVIDER, batch])

    assert ("ebs-encrypted" in policies(found)) is blocked, explain(batch.urn, found)
