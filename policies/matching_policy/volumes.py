"""Every EBS volume is encrypted: node disks, instance disks, plain volumes and persistent volumes.

Node disks hold container images, logs and `emptyDir` scratch space, where a worker may spill a
medical record. A volume declared with `encrypted` false is a violation. A volume that leaves
encryption unset (no mapping in a launch template, no `encrypted` on a volume, EKS's own
template behind a node group without one, Karpenter's family defaults, a StorageClass without
the parameter) is encrypted only by the account's EBS default, so it passes only when the stack
turns that default on in the volume's region (`aws.ebs.EncryptionByDefault`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from matching_policy._guards import region_of
from matching_policy._props import Verdicts, get, items, label
from matching_policy.kubernetes import manifests

ENCRYPTION_BY_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
# The provisioners that make EBS volumes: the CSI driver and the retired in-tree plugin.
EBS_PROVISIONERS = frozenset({"ebs.csi.aws.com", "kubernetes.io/aws-ebs"})


@dataclass(frozen=True)
class Finding:
    """One volume that is not surely encrypted; `unset` when the account default would do."""

    message: str
    unset: bool


def is_true(value: object) -> bool:
    """`true` as a bool or in any spelling of the string (launch templates take strings)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _flag(value: object, path: str) -> list[Finding]:
    if value is None:
        return [
            Finding(f"leaves {path} unset, so only the account's default encrypts it", unset=True)
        ]
    if not is_true(value):
        return [Finding(f"sets {path} to {value!r}: unencrypted", unset=False)]
    return []


def _mappings(mappings: object, where: str) -> list[Finding]:
    """Block device mappings of a template or node class; ephemeral and no-device ones hold none."""
    listed = items(mappings)
    if not listed:
        return [Finding(f"declares no {where}, so the AMI's root volume is used as is", unset=True)]
    found: list[Finding] = []
    for index, mapping in enumerate(listed):
        ebs = get(mapping, "ebs")
        if ebs is not None:
            found += _flag(get(ebs, "encrypted"), f"{where}[{index}].ebs.encrypted")
    return found


def _launch_template(props: object) -> list[Finding]:
    return _mappings(get(props, "blockDeviceMappings"), "blockDeviceMappings")


def _instance(props: object) -> list[Finding]:
    found: list[Finding] = []
    root = get(props, "rootBlockDevice")
    # With no root block device of its own, an instance with a template takes the template's.
    if root is not None or get(props, "launchTemplate") is None:
        found += _flag(get(root, "encrypted"), "rootBlockDevice.encrypted")
    for index, device in enumerate(items(get(props, "ebsBlockDevices"))):
        found += _flag(get(device, "encrypted"), f"ebsBlockDevices[{index}].encrypted")
    return found


def _volume(props: object) -> list[Finding]:
    return _flag(get(props, "encrypted"), "encrypted")


def _node_group(props: object) -> list[Finding]:
    if get(props, "launchTemplate") is not None:
        return []  # the template is judged on its own, and `launch-templates-declared` finds it
    return [Finding("has no launch template: EKS's own leaves the disk to the account", unset=True)]


def _node_class(props: object) -> list[Finding]:
    return _mappings(get(props, "spec", "blockDeviceMappings"), "spec.blockDeviceMappings")


def _storage_class(body: object) -> list[Finding]:
    if get(body, "provisioner") not in EBS_PROVISIONERS:
        return []
    return _flag(get(body, "parameters", "encrypted"), "parameters.encrypted")


KINDS: dict[tuple[str, str], Callable[[object], list[Finding]]] = {
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("karpenter.k8s.aws", "EC2NodeClass"): _node_class,
}


def _kubernetes(resource: PolicyResource) -> list[Finding]:
    """Storage classes and node classes, alone or in whatever wrapper carries them."""
    found, broken = manifests(resource)
    findings = [
        Finding(f"{resource.urn}: {why}, so it may hold an unencrypted volume", unset=False)
        for why in broken
    ]
    for manifest in found:
        check = KINDS.get((manifest.group, manifest.kind))
        if check is not None:
            findings += [
                Finding(f"{manifest.kind} {manifest.where} {f.message}", f.unset)
                for f in check(manifest.body)
            ]
    return findings


PropsCheck = Callable[[object], list[Finding]]
CHECKS: dict[str, PropsCheck] = {
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:ec2/instance:Instance": _instance,
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": _instance,
    "aws:ec2/launchConfiguration:LaunchConfiguration": _instance,
    "aws:ebs/volume:Volume": _volume,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
}

EBS_EXAMPLE = """\
aws.ec2.LaunchTemplate("nodes", block_device_mappings=[{"device_name": "/dev/xvda",
    "ebs": {"volume_size": 50, "encrypted": "false"}}], ...)
"""


def _check_ebs(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    defaults = {region_of(r) for r in args.resources if _turns_default_on(r)}

    for resource in args.resources:
        verdicts.judge(resource.urn, _judge_resource, resource, defaults, verdicts)
    verdicts.close()


def _turns_default_on(resource: PolicyResource) -> bool:
    if resource.resource_type != ENCRYPTION_BY_DEFAULT:
        return False
    # The provider turns the default on when `enabled` is left out.
    enabled = get(resource.props, "enabled")
    return enabled is None or enabled is True


def _judge_resource(
    resource: PolicyResource, defaults: set[str | None], verdicts: Verdicts
) -> None:
    check = CHECKS.get(resource.resource_type)
    if check is not None:
        findings = [
            Finding(f"{label(resource)} {f.message}", f.unset) for f in check(resource.props)
        ]
    elif resource.resource_type.startswith("kubernetes:"):
        findings = _kubernetes(resource)
    else:
        return

    # Kubernetes volumes are made in the cluster's region, which is the stack's.
    covered = region_of(resource) in defaults or (
        resource.resource_type.startswith("kubernetes:") and bool(defaults)
    )
    for finding in findings:
        if not (finding.unset and covered):
            verdicts.violation(finding.message, resource.urn)


# Unencrypted node disks keep whatever a pod wrote to them after the node is gone.
EBS_ENCRYPTED = StackValidationPolicy(
    name="ebs-encrypted",
    description="Every EBS volume is encrypted: launch templates' and instances' mappings, plain "
    "volumes, node groups' disks, Karpenter node classes and EBS StorageClasses, unless the "
    "stack turns on EBS encryption by default in that region and the volume leaves it unset.",
    validate=_check_ebs,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set `encrypted` on every EBS mapping, or declare "
    "aws.ebs.EncryptionByDefault in the stack's region.",
)

POLICIES = [EBS_ENCRYPTED]
