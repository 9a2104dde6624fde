"""The EKS control plane: private endpoint, envelope encryption of secrets, every log type,
access entries as the only way in; and its nodes: IMDSv2 only.

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

# --- eks-access-entries-only -----------------------------------------------------------------

EKS_ACCESS_EXAMPLE = 'eks.Cluster("platform", authentication_mode="API_AND_CONFIG_MAP")'


def _access(token: str, props: Any) -> list[str]:
    # Both shapes default to CONFIG_MAP when the mode is left out.
    mode = get(props, "authenticationMode" if token == EKS_COMPONENT else "accessConfig")
    if token == EKS_CLUSTER:
        mode = get(mode, "authenticationMode")
    if mode == "API":
        return []
    return [f"lets the aws-auth ConfigMap grant access (authenticationMode {mode or 'unset'})"]


IDENTITY_PROVIDER = "aws:eks/identityProviderConfig:IdentityProviderConfig"


def _check_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == IDENTITY_PROVIDER:
        cluster = get(args.props, "clusterName")
        report(
            f"'{args.name}' ({args.urn}) lets the users of an outside OpenID Connect issuer into "
            f"cluster {cluster!r}, whatever its authentication mode",
            None,
        )
        return
    _cluster_rule(_access)(args, report)


EKS_ACCESS_ENTRIES_ONLY = ResourceValidationPolicy(
    name="eks-access-entries-only",
    description="Every EKS cluster takes its principals from access entries only "
    "(authenticationMode API), which the pack judges, never from the aws-auth ConfigMap, whose "
    "mappings are YAML text in a Kubernetes object out of its sight, nor from an outside "
    "OpenID Connect identity provider.",
    validate=_check_access,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

# --- ec2-imdsv2-required --------------------------------------------------------------------

EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
# Everything that launches EC2 instances from its own `metadataOptions` (EC2 defaults an unset
# httpTokens to optional there). Auto Scaling groups and EC2 fleets launch only from templates or
# launch configurations, which are judged themselves.
METADATA_OWNERS = frozenset(
    {
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/instance:Instance",
        "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
        "aws:ec2/launchConfiguration:LaunchConfiguration",
    }
)
SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

IMDS_EXAMPLE = """\
aws.ec2.SpotInstanceRequest("nodes", ami=ami, metadata_options={"http_tokens": "optional"})
aws.eks.NodeGroup("system", cluster_name=name, ...)  # no launch_template: IMDSv1, hop limit 2
"""


def _imds_findings(options: object, *, absent_is_v1: bool) -> list[str]:
    """IMDSv1, or a hop limit that lets pods reach the node role's credentials."""
    if _lower(get(options, "httpEndpoint")) == "disabled":
        return []

    found: list[str] = []
    tokens = get(options, "httpTokens")
    if _lower(tokens) != "required" and (tokens is not None or absent_is_v1):
        found.append(f"allows IMDSv1 (httpTokens {tokens!r}, not 'required')")
    hops = get(options, "httpPutResponseHopLimit")
    if isinstance(hops, int | float) and hops > 1:
        found.append(f"lets containers reach the instance metadata (hop limit {int(hops)} > 1)")
    return found


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _launchers_findings(token: str, props: Any) -> list[str]:
    """What lets an instance launched by a fleet or an EKS node group use IMDSv1."""
    if token == SPOT_FLEET:
        # A spot fleet's launchSpecifications have no metadata options: only templates do.
        specs = items(get(props, "launchSpecifications"))
        return [
            f"launches from launchSpecifications[{i}], which allow IMDSv1"
            for i in range(len(specs))
        ]
    if token == NODE_GROUP and get(props, "launchTemplate") is None:
        # Without one, EKS launches nodes with httpTokens optional and a hop limit of 2; with
        # one, the template (judged on its own) decides.
        return ["has no launch template, so EKS lets its nodes use IMDSv1 with a hop limit of 2"]
    return []


def _check_imds(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # EC2 defaults an unset httpTokens to optional; Karpenter defaults it to required.
    if args.resource_type in METADATA_OWNERS:
        found = _imds_findings(get(args.props, "metadataOptions"), absent_is_v1=True)
    elif args.resource_type == EC2_NODE_CLASS:
        found = _imds_findings(get(args.props, "spec", "metadataOptions"), absent_is_v1=False)
    else:
        found = _launchers_findings(args.resource_type, args.props)

    for finding in found:
        report(f"'{args.name}' ({args.urn}) {finding}", None)


# IMDSv1 and a hop limit above one hand the node role's credentials to any pod (SSRF included).
EC2_IMDSV2_REQUIRED = ResourceValidationPolicy(
    name="ec2-imdsv2-required",
    description="Every launch template, launch configuration, instance, spot request, spot "
    "fleet, EKS node group and Karpenter EC2NodeClass requires IMDSv2 with a hop limit of one, "
    "so that pods can't take the node's credentials.",
    validate=_check_imds,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [
    EKS_PRIVATE_ENDPOINT,
    EKS_SECRETS_ENCRYPTION,
    EKS_CONTROL_PLANE_LOGS,
    EKS_ACCESS_ENTRIES_ONLY,
    EC2_IMDSV2_REQUIRED,
]
