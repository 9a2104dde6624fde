"""Public entry points other than the CloudFront distribution.

The platform has one way in: CloudFront, with its WAF and EU geo fence, then the internal ALB.
Any other resource that gives the internet an address to call (an API, a CDN, an accelerator,
a public IP on an instance) bypasses all of it, so `FRONT_DOORS` lists every such type, each
with the reason it is a way in and, where the type can also be private, how to tell.

Load balancers are judged by the edge policies (`alb-internal`, `nlb-internal`,
`elb-classic-forbidden`) and EKS endpoints by `eks-private-endpoint`, so they are not here.
Elastic IPs are listed only when attached to an instance or interface: NAT gateways need theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items, texts
from matching_policy.kubernetes import manifests

IsPublic = Callable[[Any], bool]


def _always(_props: Any) -> bool:
    return True


@dataclass(frozen=True)
class FrontDoor:
    """Why a resource type is a way in, and whether one resource of it is (default: always)."""

    reason: str
    is_public: IsPublic = _always


def _lower(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _yes(value: object) -> bool:
    """A flag the provider sends as a boolean, or as "true" on launch templates."""
    return value is True or _lower(value) == "true"


def _rest_api_public(props: Any) -> bool:
    # An unset endpoint type is EDGE; only PRIVATE is reachable from inside a VPC alone.
    types = [_lower(t) for t in texts(get(props, "endpointConfiguration", "types"))]
    return types != ["private"]


def _app_runner_public(props: Any) -> bool:
    ingress = get(props, "networkConfiguration", "ingressConfiguration", "isPubliclyAccessible")
    return ingress is not False


def _beanstalk_public(props: Any) -> bool:
    # Beanstalk makes its load balancer internet-facing unless aws:ec2:vpc ELBScheme says not.
    return not any(
        _lower(get(s, "namespace")) == "aws:ec2:vpc"
        and _lower(get(s, "name")) == "elbscheme"
        and _lower(get(s, "value")) == "internal"
        for s in items(get(props, "settings"))
    )


def _appsync_public(props: Any) -> bool:
    return _lower(get(props, "visibility")) != "private"


def _transfer_public(props: Any) -> bool:
    # A VPC endpoint is internal unless Elastic IPs are attached to it.
    if _lower(get(props, "endpointType")) not in ("vpc", "vpc_endpoint"):
        return True
    return bool(items(get(props, "endpointDetails", "addressAllocationIds")))


def _public_ip(props: Any) -> bool:
    return _yes(get(props, "associatePublicIpAddress"))


def _template_public_ip(props: Any) -> bool:
    return any(
        _yes(get(n, "associatePublicIpAddress")) for n in items(get(props, "networkInterfaces"))
    )


def _fleet_public_ip(props: Any) -> bool:
    return any(_public_ip(spec) for spec in items(get(props, "launchSpecifications")))


def _node_class_public_ip(body: Any) -> bool:
    return _yes(get(body, "spec", "associatePublicIPAddress"))


def _subnet_public(props: Any) -> bool:
    return _yes(get(props, "mapPublicIpOnLaunch"))


def _ecs_public(props: Any) -> bool:
    return _yes(get(props, "networkConfiguration", "assignPublicIp"))


def _search_public(props: Any) -> bool:
    # Without VPC options a domain gets a public endpoint, guarded by its access policy only.
    return not items(get(props, "vpcOptions", "subnetIds"))


def _eip_attached(props: Any) -> bool:
    return get(props, "instance") is not None or get(props, "networkInterface") is not None


# Every resource type that can put a public entry point in front of the platform.
FRONT_DOORS: dict[str, FrontDoor] = {
    "aws:lightsail/distribution:Distribution": FrontDoor("a Lightsail CDN serves any viewer"),
    "aws:lightsail/instance:Instance": FrontDoor("every Lightsail instance has a public IP"),
    "aws:lightsail/containerService:ContainerService": FrontDoor(
        "a Lightsail container service has a public HTTPS endpoint"
    ),
    "aws:lightsail/lb:Lb": FrontDoor("a Lightsail load balancer is internet-facing"),
    "aws:apigateway/restApi:RestApi": FrontDoor(
        "an EDGE or REGIONAL REST API (EDGE when unset) has a public endpoint", _rest_api_public
    ),
    "aws:apigatewayv2/api:Api": FrontDoor(
        "an HTTP or WebSocket API always has a public execute-api endpoint"
    ),
    "aws:globalaccelerator/accelerator:Accelerator": FrontDoor(
        "an accelerator gives its endpoints public anycast IPs"
    ),
    "aws:globalaccelerator/customRoutingAccelerator:CustomRoutingAccelerator": FrontDoor(
        "an accelerator gives its endpoints public anycast IPs"
    ),
    "aws:lambda/functionUrl:FunctionUrl": FrontDoor(
        "a function URL is a public HTTPS endpoint (AWS_IAM only adds a signature check)"
    ),
    "aws:apprunner/service:Service": FrontDoor(
        "an App Runner service is public unless isPubliclyAccessible is false", _app_runner_public
    ),
    "aws:elasticbeanstalk/environment:Environment": FrontDoor(
        "a Beanstalk environment's load balancer faces the internet unless ELBScheme is internal",
        _beanstalk_public,
    ),
    "aws:appsync/graphQLApi:GraphQLApi": FrontDoor(
        "a GraphQL API is public unless its visibility is PRIVATE", _appsync_public
    ),
    "aws:transfer/server:Server": FrontDoor(
        "a Transfer Family server is public unless it is a VPC endpoint without Elastic IPs",
        _transfer_public,
    ),
    "aws:ec2/instance:Instance": FrontDoor(
        "the instance gets a public IP (associatePublicIpAddress)", _public_ip
    ),
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": FrontDoor(
        "the instance gets a public IP (associatePublicIpAddress)", _public_ip
    ),
    "aws:ec2/launchConfiguration:LaunchConfiguration": FrontDoor(
        "its instances get public IPs (associatePublicIpAddress)", _public_ip
    ),
    "aws:ec2/spotFleetRequest:SpotFleetRequest": FrontDoor(
        "its instances get public IPs (a launch specification with associatePublicIpAddress)",
        _fleet_public_ip,
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": FrontDoor(
        "its instances get public IPs (a network interface with associatePublicIpAddress)",
        _template_public_ip,
    ),
    "aws:ec2/subnet:Subnet": FrontDoor(
        "every instance launched in it, nodes included, gets a public IP (mapPublicIpOnLaunch)",
        _subnet_public,
    ),
    "aws:ecs/service:Service": FrontDoor(
        "its tasks get public IPs (networkConfiguration.assignPublicIp)", _ecs_public
    ),
    "aws:amplify/app:App": FrontDoor("an Amplify app is served on a public domain"),
    "aws:opensearch/domain:Domain": FrontDoor(
        "a domain without VPC options has a public endpoint", _search_public
    ),
    "aws:elasticsearch/domain:Domain": FrontDoor(
        "a domain without VPC options has a public endpoint", _search_public
    ),
    "aws:ec2/eip:Eip": FrontDoor(
        "the Elastic IP is attached to an instance or network interface", _eip_attached
    ),
    "aws:ec2/eipAssociation:EipAssociation": FrontDoor(
        "it puts an Elastic IP on an instance or network interface"
    ),
}

NO_PUBLIC_FRONT_DOOR_EXAMPLE = """\
aws.apigateway.RestApi("api", endpoint_configuration={"types": "EDGE"})
aws.lambda_.FunctionUrl("hook", function_name=fn.name, authorization_type="AWS_IAM")
"""


# Kubernetes objects that launch instances, found in whatever wrapper carries them.
KUBERNETES_DOORS: dict[str, FrontDoor] = {
    "EC2NodeClass": FrontDoor(
        "Karpenter gives its nodes public IPs (associatePublicIPAddress)", _node_class_public_ip
    ),
}


def _check_front_door(args: ResourceValidationArgs, report: ReportViolation) -> None:
    door = FRONT_DOORS.get(args.resource_type)
    if door is not None and door.is_public(args.props):
        report(
            f"'{args.name}' ({args.urn}) is a public way in that skips CloudFront: {door.reason}",
            None,
        )
    if not args.resource_type.startswith("kubernetes:"):
        return

    for manifest in manifests(args)[0]:
        door = KUBERNETES_DOORS.get(manifest.kind)
        if door is not None and door.is_public(manifest.body):
            report(
                f"{manifest.where} is a public way in that skips CloudFront: {door.reason}", None
            )


NO_PUBLIC_FRONT_DOOR = ResourceValidationPolicy(
    name="no-public-front-door",
    description="No resource opens a public entry point besides the CloudFront distribution: "
    "no public API, CDN, accelerator, function URL or public IP on an instance.",
    validate=_check_front_door,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Serve it through CloudFront and the internal ALB, or make it private.",
)

POLICIES = [NO_PUBLIC_FRONT_DOOR]
