"""The EKS control plane: private endpoint, envelope encryption of secrets, every log type;
and its nodes: IMDSv2 only.

Both shapes are judged: `eks:index:Cluster` (the pulumi_eks component, whose inputs are all a
policy sees of it under mocks) and the `aws:eks/cluster:Cluster` it creates, or that a program
may create directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items, texts

EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

Check = Callable[[str, Any], list[str]]


def _cluster_rule(check: Check) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in (EKS_COMPONENT, EKS_CLUSTER):
            return

        for finding in check(args.resource_type, args.props):
            report(f"cluster '{args.name}' ({args.urn}) {finding}", None)

    return validate


# --- eks-private-endpoint --------------------------------------------------------------------

EKS_PRIVATE_ENDPOINT_EXAMPLE = 'eks.Cluster("platform", endpoint_private_access=True)  # public too'


def _endpoint(token: str, props: Any) -> list[str]:
    # Both shapes default the public endpoint to on and the private one to off.
    scope = props if token == EKS_COMPONENT else get(props, "vpcConfig")
    found: list[str] = []
    if get(scope, "endpointPublicAccess") is not False:
        found.append("exposes its API endpoint publicly (endpointPublicAccess is not false)")
    if get(scope, "endpointPrivateAccess") is not True:
        found.append("has no private API endpoint (endpointPrivateAccess is not true)")
    return found


EKS_PRIVATE_ENDPOINT = ResourceValidationPolicy(
    name="eks-private-endpoint",
    description="Every EKS cluster's API endpoint is private only.",
    validate=_cluster_rule(_endpoint),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
)


# --- eks-secrets-encryption ------------------------------------------------------------------

EKS_SECRETS_EXAMPLE = 'eks.Cluster("platform")  # no encryption_config_key_arn'


def _encryption(token: str, props: Any) -> list[str]:
    if token == EKS_COMPONENT:
        if get(props, "encryptionConfigKeyArn"):
            return []
        return ["does not encrypt secrets with a KMS key (encryptionConfigKeyArn unset)"]

    # pulumi-aws 7 sends the one encryption config as an object; older programs as a list.
    config = get(props, "encryptionConfig")
    for entry in items(config) or [config]:
        if "secrets" in texts(get(entry, "resources")) and get(entry, "provider", "keyArn"):
            return []
    return ["does not encrypt secrets with a KMS key (no encryptionConfig for secrets)"]


EKS_SECRETS_ENCRYPTION = ResourceValidationPolicy(
    name="eks-secrets-encryption",
    description="Every EKS cluster envelope-encrypts Kubernetes secrets with a KMS key.",
    validate=_cluster_rule(_encryption),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


# --- eks-control-plane-logs ------------------------------------------------------------------

EKS_LOGS_EXAMPLE = 'eks.Cluster("platform", enabled_cluster_log_types=["api", "audit"])'


def _logs(_token: str, props: Any) -> list[str]:
    enabled = texts(get(props, "enabledClusterLogTypes"))
    missing = [t for t in LOG_TYPES if t not in enabled]
    return [f"does not send {', '.join(missing)} logs to CloudWatch"] if missing else []


EKS_CONTROL_PLANE_LOGS = ResourceValidationPolicy(
    name="eks-control-plane-logs",
    description="Every EKS cluster sends all five control-plane log types to CloudWatch.",
    validate=_cluster_rule(_logs),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)

# --- ec2-imdsv2-required --------------------------------------------------------------------

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"

IMDS_EXAMPLE = """\
aws.ec2.LaunchTemplate("nodes", metadata_options={"http_tokens": "optional"})
"""


def _imds_findings(options: object, *, absent_is_v1: bool) -> list[str]:
    """IMDSv1, or a hop limit that lets pods reach the node role's credentials."""
    if get(options, "httpEndpoint") == "disabled":
        return []

    found: list[str] = []
    tokens = get(options, "httpTokens")
    if tokens != "required" and (tokens is not None or absent_is_v1):
        found.append(f"allows IMDSv1 (httpTokens {tokens!r}, not 'required')")
    hops = get(options, "httpPutResponseHopLimit")
    if isinstance(hops, int | float) and hops > 1:
        found.append(f"lets containers reach the instance metadata (hop limit {int(hops)} > 1)")
    return found


def _check_imds(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # EC2 defaults an unset httpTokens to optional; Karpenter defaults it to required.
    if args.resource_type in (LAUNCH_TEMPLATE, INSTANCE):
        found = _imds_findings(get(args.props, "metadataOptions"), absent_is_v1=True)
    elif args.resource_type == EC2_NODE_CLASS:
        found = _imds_findings(get(args.props, "spec", "metadataOptions"), absent_is_v1=False)
    else:
        return

    for finding in found:
        report(f"'{args.name}' ({args.urn}) {finding}", None)


# IMDSv1 and a hop limit above one hand the node role's credentials to any pod (SSRF included).
EC2_IMDSV2_REQUIRED = ResourceValidationPolicy(
    name="ec2-imdsv2-required",
    description="Every launch template, instance and Karpenter EC2NodeClass requires IMDSv2 "
    "with a hop limit of one, so that pods can't take the node's credentials.",
    validate=_check_imds,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [
    EKS_PRIVATE_ENDPOINT,
    EKS_SECRETS_ENCRYPTION,
    EKS_CONTROL_PLANE_LOGS,
    EC2_IMDSV2_REQUIRED,
]
