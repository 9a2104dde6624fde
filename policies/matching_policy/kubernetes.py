"""Kubernetes objects that would make load balancers behind the edge's back.

The only way in is CloudFront → internal ALB, and that ALB is created by Pulumi so that
`alb-internal` can see it. A Service of type LoadBalancer, an Ingress or a Gateway API Gateway
would make the AWS Load Balancer Controller create one the pack never sees, so none may exist,
and no Helm release may ask its chart for one through its values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items

SERVICES = frozenset({"kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch"})
INGRESSES = frozenset(
    {
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:networking.k8s.io/v1:IngressPatch",
        "kubernetes:networking.k8s.io/v1beta1:Ingress",
        "kubernetes:extensions/v1beta1:Ingress",
    }
)
# The Load Balancer Controller (v2.13 and later) makes an ALB or NLB for a Gateway as well.
GATEWAYS = frozenset(
    {
        "kubernetes:gateway.networking.k8s.io/v1:Gateway",
        "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway",
    }
)
RELEASES = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"}
)
# TODO(#6): a release renders its objects inside the provider, so a chart whose defaults make a
# LoadBalancer Service or an Ingress (or values from valueYamlFiles) stay out of the pack's sight.

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
    elif args.resource_type in GATEWAYS:
        report(f"gateway '{args.name}' ({args.urn}) would make a load balancer", None)


K8S_NO_INGRESS = ResourceValidationPolicy(
    name="k8s-no-ingress",
    description="No Kubernetes Ingress or Gateway API Gateway exists: the ALB is Pulumi's, so "
    "the pack can judge it.",
    validate=_check_ingress,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

K8S_HELM_EXAMPLE = """\
k8s.helm.v3.Release("prometheus", values={"grafana": {"service": {"type": "LoadBalancer"}}})
"""


def _load_balancer_values(values: object, path: str) -> list[str]:
    """Paths in a chart's values that ask for a LoadBalancer Service or an enabled Ingress.

    Charts spell these the same way by convention (`<part>.service.type`,
    `<part>.ingress.enabled`), so every mapping at any depth is read.
    """
    if isinstance(values, Mapping):
        mapping = cast(Mapping[str, Any], values)
        found: list[str] = []
        if mapping.get("type") == "LoadBalancer":
            found.append(f"{path}.type")
        if path.lower().endswith("ingress") and mapping.get("enabled") is True:
            found.append(f"{path}.enabled")
        for key, value in mapping.items():
            found += _load_balancer_values(value, f"{path}.{key}")
        return found
    listed = enumerate(items(values))
    return [p for i, value in listed for p in _load_balancer_values(value, f"{path}[{i}]")]


def _check_release(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in RELEASES:
        return

    for path in _load_balancer_values(get(args.props, "values"), "values"):
        report(f"release '{args.name}' ({args.urn}) asks for a load balancer at {path}", None)


K8S_HELM_NO_LOAD_BALANCER = ResourceValidationPolicy(
    name="k8s-helm-no-load-balancer",
    description="No Helm release's values ask for a LoadBalancer Service or an enabled Ingress.",
    validate=_check_release,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [K8S_NO_LOADBALANCER_SERVICE, K8S_NO_INGRESS, K8S_HELM_NO_LOAD_BALANCER]
