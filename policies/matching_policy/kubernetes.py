"""Kubernetes objects that would make load balancers behind the edge's back.

The only way in is CloudFront → internal ALB, and that ALB is created by Pulumi so that
`alb-internal` can see it. A Service of type LoadBalancer or an Ingress would make the AWS Load
Balancer Controller create one the pack never sees, so neither may exist.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get

SERVICES = frozenset({"kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch"})
INGRESSES = frozenset(
    {
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:networking.k8s.io/v1:IngressPatch",
        "kubernetes:networking.k8s.io/v1beta1:Ingress",
        "kubernetes:extensions/v1beta1:Ingress",
    }
)
# TODO(#6): a helm.sh/v3 Release renders its objects inside the provider, out of the pack's
# sight; Gateway API objects (gateway.networking.k8s.io) are not judged yet either.

K8S_NO_LB_SERVICE_EXAMPLE = """\
k8s.core.v1.Service("api", spec={"type": "LoadBalancer", "ports": [{"port": 443}]})
"""


def _check_service(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in SERVICES:
        return

    if get(args.props, "spec", "type") == "LoadBalancer":
        report(f"service '{args.name}' ({args.urn}) is of type LoadBalancer", None)


K8S_NO_LOADBALANCER_SERVICE = ResourceValidationPolicy(
    name="k8s-no-loadbalancer-service",
    description="No Kubernetes Service is of type LoadBalancer: traffic enters through "
    "CloudFront and the internal ALB only.",
    validate=_check_service,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

K8S_NO_INGRESS_EXAMPLE = 'k8s.networking.v1.Ingress("api", spec={"ingressClassName": "alb"})'


def _check_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in INGRESSES:
        report(f"ingress '{args.name}' ({args.urn}) would make a load balancer", None)


K8S_NO_INGRESS = ResourceValidationPolicy(
    name="k8s-no-ingress",
    description="No Kubernetes Ingress exists: the ALB is Pulumi's, so the pack can judge it.",
    validate=_check_ingress,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [K8S_NO_LOADBALANCER_SERVICE, K8S_NO_INGRESS]
