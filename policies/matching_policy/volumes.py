"""Every EBS volume is encrypted: node disks, instance disks, plain volumes and persistent volumes.

Node disks hold container images, logs and `emptyDir` scratch space, where a worker may spill a
medical record. Only `true` itself counts as on (a bool, or the lower-case string the provider
and the EBS CSI driver parse); anything else set is a violation. A volume that leaves encryption
unset (a template that maps no root device, no `encrypted` on a volume, EKS's own template behind
a node group without one, Karpenter's family defaults) is encrypted only by the account's EBS
default, so it passes only when the stack turns that default on in the volume's region
(`aws.ebs.EncryptionByDefault`). Kubernetes objects carry no region the pack could match, so a
StorageClass must say `encrypted: "true"` itself, and a PersistentVolume of an existing EBS
volume, whose encryption nobody here can see, is a violation.
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
# The root device names of the AMIs nodes run (Amazon Linux and Bottlerocket; Ubuntu and others).
ROOT_DEVICES = frozenset({"/dev/xvda", "/dev/sda1"})


@dataclass(frozen=True)
class Finding:
    """One volume that is not surely encrypted; `unset` when the account default would do."""

    message: str
    unset: bool


def is_true(value: object) -> bool:
    """`true` as a bool, or as the exact string launch templates and the CSI driver read as on."""
    return value is True or value == "true"


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
    found: list[Finding] = []
    if not any(_is_root(m) for m in listed):
        found.append(Finding(f"maps no root device in {where}: the AMI's is used as is", True))
    for index, mapping in enumerate(listed):
        ebs = get(mapping, "ebs")
        if ebs is not None:
            found += _flag(get(ebs, "encrypted"), f"{where}[{index}].ebs.encrypted")
    return found


def _is_root(mapping: object) -> bool:
    """Karpenter marks the root volume `rootVolume`; elsewhere the device name says it."""
    return get(mapping, "rootVolume") is True or get(mapping, "deviceName") in ROOT_DEVICES


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


def _batch(props: object) -> list[Finding]:
    resources = get(props, "computeResources")
    kind = get(resources, "type")
    # Fargate compute environments have no EBS volumes of their own.
    if resources is None or (isinstance(kind, str) and kind.upper().startswith("FARGATE")):
        return []
    if get(resources, "launchTemplate") is not None:
        return []  # the template is judged on its own, and `launch-templates-declared` finds it
    return [Finding("has no launch template: Batch's AMI keeps its disks as they come", True)]


def _node_group(props: object) -> list[Finding]:
    if get(props, "launchTemplate") is not None:
        return []  # the template is judged on its own, and `launch-templates-declared` finds it
    return [Finding("has no launch template: EKS's own leaves the disk to the account", unset=True)]


def _node_class(props: object) -> list[Finding]:
    return _mappings(get(props, "spec", "blockDeviceMappings"), "spec.blockDeviceMappings")


def _spot_fleet(props: object) -> list[Finding]:
    found: list[Finding] = []
    for index, spec in enumerate(items(get(props, "launchSpecifications"))):
        for key in ("rootBlockDevices", "ebsBlockDevices"):
            for number, device in enumerate(items(get(spec, key))):
                where = f"launchSpecifications[{index}].{key}[{number}].encrypted"
                found += _flag(get(device, "encrypted"), where)
    return found


def _storage_class(body: object) -> list[Finding]:
    if get(body, "provisioner") not in EBS_PROVISIONERS:
        return []
    # No region to match an account default with: the class must ask for encryption itself.
    return [
        Finding(f.message, unset=False)
        for f in _flag(get(body, "parameters", "encrypted"), "parameters.encrypted")
    ]


def _persistent_volume(body: object) -> list[Finding]:
    in_tree = get(body, "spec", "awsElasticBlockStore") is not None
    if not in_tree and get(body, "spec", "csi", "driver") not in EBS_PROVISIONERS:
        return []
    return [Finding("binds an existing EBS volume, whose encryption is out of sight", False)]


KINDS: dict[tuple[str, str], Callable[[object], list[Finding]]] = {
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("core", "PersistentVolume"): _persistent_volume,
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
    "aws:ec2/spotFleetRequest:SpotFleetRequest": _spot_fleet,
    "aws:batch/computeEnvironment:ComputeEnvironment": _batch,
}

EBS_EXAMPLE = """\
aws.ec2.LaunchTemplate("nodes", block_device_mappings=[{"device_name": "/dev/xvda",
    "ebs": {"volume_size": 50, "encrypted": "false"}}], ...)
"""


def _check_ebs(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    defaults = _defaults_on(args.resources)

    for resource in args.resources:
        verdicts.judge(resource.urn, _judge_resource, resource, defaults, verdicts)
    verdicts.close()


Where = tuple[str | None, str | None]


def _where(resource: PolicyResource) -> Where:
    """The region and the provider (so the account) a resource is made with."""
    provider = resource.provider.urn if resource.provider is not None else None
    return region_of(resource), provider


def _defaults_on(resources: list[PolicyResource]) -> set[Where]:
    """Where the stack turns EBS default encryption on, and nothing in the stack turns it off.

    An account default covers only volumes made through the same provider (one account, one
    role): the same region of another account proves nothing.
    """
    settings = [r for r in resources if r.resource_type == ENCRYPTION_BY_DEFAULT]
    on = {_where(r) for r in settings if _enabled(r)}
    off = {_where(r) for r in settings if not _enabled(r)}
    return on - off


def _enabled(resource: PolicyResource) -> bool:
    # The provider turns the default on when `enabled` is left out.
    enabled = get(resource.props, "enabled")
    return enabled is None or enabled is True


def _judge_resource(resource: PolicyResource, defaults: set[Where], verdicts: Verdicts) -> None:
    check = CHECKS.get(resource.resource_type)
    if check is not None:
        findings = [
            Finding(f"{label(resource)} {f.message}", f.unset) for f in check(resource.props)
        ]
    elif resource.resource_type.startswith("kubernetes:"):
        findings = _kubernetes(resource)
    else:
        return

    # A Kubernetes object names no region, so no account default can be matched to it.
    kubernetes = resource.resource_type.startswith("kubernetes:")
    covered = not kubernetes and _where(resource) in defaults
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
