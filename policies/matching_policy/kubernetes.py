"""Kubernetes objects that would make load balancers behind the edge's back.

The only way in is CloudFront → internal ALB, and that ALB is created by Pulumi so that
`alb-internal` can see it. A Service of type LoadBalancer, an Ingress or a Gateway API Gateway
would make the AWS Load Balancer Controller create one the pack never sees, so none may exist,
and no Helm release may ask its chart for one through its values.

An object reaches the pack in several wrappers, and each is unwrapped to the same objects: a
single resource (`Service`), a patch (`ServicePatch`), a list (`ServiceList`, whose `items` are
the objects), a custom resource (its token is built from its apiVersion and kind), and the YAML
text or `objs` of a `yaml` ConfigGroup or ConfigFile. The objects a ConfigGroup reads from
files or URLs are rendered by the provider, out of the pack's sight: those get an advisory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from matching_policy._props import Verdicts, get, items, known_text, texts

# yaml/v2 renders in the provider; the v1 components render in the program and register each
# object, but a policy still reads the text it was given.
CONFIGS = frozenset(
    {
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:yaml:ConfigGroup",
        "kubernetes:yaml:ConfigFile",
    }
)
# Sources the provider reads from files, directories or URLs: out of the pack's sight.
UNSEEN_SOURCES = CONFIGS | {"kubernetes:kustomize/v2:Directory", "kubernetes:kustomize:Directory"}
UNSEEN_KEYS = ("files", "file", "directory")
# The Load Balancer Controller (v2.13 and later) makes an ALB or NLB for a Gateway as well.
GATEWAY_GROUP = "gateway.networking.k8s.io"
RELEASES = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"}
)
# A release renders its objects inside the provider: what a chart's defaults make is never seen
# here, so `helm-chart-reviewed` (charts.py) admits only charts whose render a person reviewed.


class Declaration(Protocol):
    """What a resource check and a stack check both know of a resource."""

    resource_type: str
    props: Any
    name: str
    urn: str


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object, unwrapped from whatever resource carried it."""

    group: str
    kind: str
    body: Any
    where: str


def _split_token(token: str) -> tuple[str, str] | None:
    """The API group and kind of a `kubernetes:<group>/<version>:<Kind>` token."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    group = parts[1].rsplit("/", 1)[0] if "/" in parts[1] else "core"
    return group, parts[2]


def _group_of(api_version: object) -> str:
    text = api_version if isinstance(api_version, str) else ""
    return text.rsplit("/", 1)[0] if "/" in text else "core"


def _unwrap(group: str, kind: str, body: Any, where: str) -> list[Manifest]:
    """The objects behind one object: a list holds its `items`, a patch is its kind."""
    if kind.endswith("List"):
        found: list[Manifest] = []
        for index, item in enumerate(items(get(body, "items"))):
            own = get(item, "kind")
            inner_kind = own if isinstance(own, str) and own else kind.removesuffix("List")
            inner_group = _group_of(get(item, "apiVersion")) if own else group
            found += _unwrap(inner_group, inner_kind, item, f"items[{index}] of {where}")
        return found
    return [Manifest(group, kind.removesuffix("Patch"), body, where)]


def _documents(args: Declaration) -> tuple[list[Any], list[str]]:
    """The objects a ConfigGroup or ConfigFile gives inline, and the YAML it can't parse."""
    found: list[Any] = list(items(get(args.props, "objs")))
    broken: list[str] = []
    for index, text in enumerate(texts(get(args.props, "yaml"))):
        try:
            found += [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as error:
            broken.append(f"yaml[{index}] does not parse ({type(error).__name__})")
    return found, broken


def manifests(args: Declaration) -> tuple[list[Manifest], list[str]]:
    """Every object `args` declares, and why some of its text could not be read."""
    where = f"'{args.name}' ({args.urn})"
    if args.resource_type in CONFIGS:
        documents, broken = _documents(args)
        found: list[Manifest] = []
        for index, document in enumerate(documents):
            kind = get(document, "kind")
            group = _group_of(get(document, "apiVersion"))
            if isinstance(kind, str):
                found += _unwrap(group, kind, document, f"object {index} of {where}")
        return found, broken

    split = _split_token(args.resource_type)
    if split is None:
        return [], []
    return _unwrap(*split, args.props, where), []


# --- k8s-no-loadbalancer-service -------------------------------------------------------------

K8S_NO_LB_SERVICE_EXAMPLE = """\
k8s.core.v1.ServiceList("svcs", items=[{"spec": {"type": "LoadBalancer", "ports": [...]}}])
"""


def _is_load_balancer(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "loadbalancer"


def _check_service(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found, broken = manifests(args)
    for manifest in found:
        if manifest.kind == "Service" and _is_load_balancer(get(manifest.body, "spec", "type")):
            report(f"service {manifest.where} is of type LoadBalancer", None)
    for reason in broken:
        report(f"{args.urn}: {reason}, so it may declare a LoadBalancer service", None)


K8S_NO_LOADBALANCER_SERVICE = ResourceValidationPolicy(
    name="k8s-no-loadbalancer-service",
    description="No Kubernetes Service is of type LoadBalancer, alone, in a list, in a patch or "
    "in a yaml ConfigGroup: traffic enters through CloudFront and the internal ALB only.",
    validate=_check_service,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

# --- k8s-no-ingress --------------------------------------------------------------------------

K8S_NO_INGRESS_EXAMPLE = 'k8s.networking.v1.IngressList("ings", items=[{"spec": {...}}])'


def _check_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found, broken = manifests(args)
    for manifest in found:
        if manifest.kind == "Ingress":
            report(f"ingress {manifest.where} would make a load balancer", None)
        elif manifest.kind == "Gateway" and manifest.group == GATEWAY_GROUP:
            report(f"gateway {manifest.where} would make a load balancer", None)
    for reason in broken:
        report(f"{args.urn}: {reason}, so it may declare an Ingress or a Gateway", None)


K8S_NO_INGRESS = ResourceValidationPolicy(
    name="k8s-no-ingress",
    description="No Kubernetes Ingress or Gateway API Gateway exists, in whatever wrapper: the "
    "ALB is Pulumi's, so the pack can judge it.",
    validate=_check_ingress,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

# --- k8s-manifests-visible -------------------------------------------------------------------

K8S_MANIFESTS_VISIBLE_EXAMPLE = 'k8s.yaml.v2.ConfigGroup("raw", files=["./manifests/*.yaml"])'


def _check_visible(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in UNSEEN_SOURCES:
        return

    unseen = [text for key in UNSEEN_KEYS for text in texts(get(args.props, key))]
    if unseen:
        report(
            f"'{args.name}' ({args.urn}) reads {', '.join(unseen)}, which the pack can't see: "
            "a LoadBalancer Service or an Ingress there would pass unjudged",
            None,
        )


# Advisory: files and URLs are ordinary, and the pack can't tell what they hold.
K8S_MANIFESTS_VISIBLE = ResourceValidationPolicy(
    name="k8s-manifests-visible",
    description="Every yaml ConfigGroup or ConfigFile gives its objects inline (yaml or objs), "
    "and no kustomize Directory reads a folder, so that the object policies can judge them.",
    validate=_check_visible,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps="Read the file in the program and pass its text as `yaml`.",
)

# --- k8s-helm-no-load-balancer ---------------------------------------------------------------

K8S_HELM_EXAMPLE = """\
k8s.helm.v3.Release("app", values={"ingress": {"enabled": "true"}})  # a string is truthy
"""

# Keys under which charts conventionally put what makes a load balancer route traffic in.
_ROUTE_KEYS = ("ingress", "ingresses", "httproute", "httproutes", "gateway", "gateways")
_TYPE_KEYS = frozenset({"type", "servicetype"})


def helm_truthy(value: object) -> bool:
    """How a chart's `{{ if }}` reads a value: false, 0, nil and empty strings, lists and maps
    are false; everything else is true, the string "false" included."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | Sequence | Mapping):
        return len(cast(Sequence[object], value)) > 0
    return value is not None


def _load_balancer_values(values: object, path: str, routed: bool = False) -> list[str]:
    """Paths in a chart's values that ask for a LoadBalancer Service or an enabled route in.

    Charts name these by convention, not schema (`<part>.service.type`, `<part>.ingress.enabled`,
    `ingresses.<name>.enabled`), so every mapping at any depth is read, keys in any case.
    """
    if isinstance(values, Mapping):
        mapping = cast(Mapping[str, Any], values)
        found: list[str] = []
        for key, value in mapping.items():
            lowered = str(key).lower()
            if lowered in _TYPE_KEYS and _is_load_balancer(value):
                found.append(f"{path}.{key}")
            if routed and lowered == "enabled" and helm_truthy(value):
                found.append(f"{path}.{key}")
            found += _load_balancer_values(
                value, f"{path}.{key}", routed or lowered.endswith(_ROUTE_KEYS)
            )
        return found
    listed = enumerate(items(values))
    return [p for i, value in listed for p in _load_balancer_values(value, f"{path}[{i}]", routed)]


def _check_release(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in RELEASES:
        return

    for path in _load_balancer_values(get(args.props, "values"), "values"):
        report(f"release '{args.name}' ({args.urn}) asks for a load balancer at {path}", None)


K8S_HELM_NO_LOAD_BALANCER = ResourceValidationPolicy(
    name="k8s-helm-no-load-balancer",
    description="No Helm release's values ask for a LoadBalancer Service, or enable an ingress, "
    "HTTPRoute or gateway (read with Helm's truthiness).",
    validate=_check_release,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

# --- k8s-target-groups-declared --------------------------------------------------------------

TARGET_GROUPS = frozenset({"aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"})
BINDING_GROUP = "elbv2.k8s.aws"
BINDING_EXAMPLE = """\
{"kind": "TargetGroupBinding", "spec": {"targetGroupARN": "arn:aws:elasticloadbalancing:...:"
    "targetgroup/public/0123", "serviceRef": {"name": "api", "port": 8080}}}
"""


def _check_bindings(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    groups = [r for r in args.resources if r.resource_type in TARGET_GROUPS]
    declared = {
        found for g in groups for key in ("arn", "name") if (found := known_text(g.props, key))
    }

    for resource in (r for r in args.resources if r.resource_type.startswith("kubernetes:")):
        verdicts.judge(resource.urn, _judge_bindings, resource, declared, verdicts)
    verdicts.close()


def _judge_bindings(resource: PolicyResource, declared: set[str], verdicts: Verdicts) -> None:
    linked = any(
        r.resource_type in TARGET_GROUPS for r in resource.property_dependencies.get("spec", [])
    )
    for manifest in manifests(resource)[0]:
        if manifest.kind != "TargetGroupBinding" or manifest.group != BINDING_GROUP:
            continue
        for key in ("targetGroupARN", "targetGroupName"):
            try:
                value = get(manifest.body, "spec", key)
            except UnknownValueError:
                # Only an output is unknown: without a link to a target group, it is another's.
                if linked:
                    continue
                raise
            if isinstance(value, str) and value not in declared:
                verdicts.violation(
                    f"binding {manifest.where} sends pods traffic from target group {value!r}, "
                    "which this stack does not declare: its load balancer is out of sight",
                    resource.urn,
                )


# A binding to someone else's target group puts the pods behind a load balancer the pack
# never judged, internet-facing or not.
K8S_TARGET_GROUPS_DECLARED = StackValidationPolicy(
    name="k8s-target-groups-declared",
    description="Every TargetGroupBinding binds a target group this stack declares, so that the "
    "load balancer in front of the pods is one the edge policies judge.",
    validate=_check_bindings,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [
    K8S_TARGET_GROUPS_DECLARED,
    K8S_NO_LOADBALANCER_SERVICE,
    K8S_NO_INGRESS,
    K8S_MANIFESTS_VISIBLE,
    K8S_HELM_NO_LOAD_BALANCER,
]
