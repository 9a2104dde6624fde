"""no-public-front-door: every public entry point but CloudFront is blocked, and only those."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack

POLICY = "no-public-front-door"

PUBLIC = [
    pytest.param(
        "aws:lightsail/distribution:Distribution",
        {"name": "ls", "bundleId": "small_1_0", "origin": {"name": "inst"}},
        id="lightsail-distribution",
    ),
    pytest.param("aws:lightsail/instance:Instance", {"bundleId": "nano_3_0"}, id="lightsail-vm"),
    pytest.param(
        "aws:lightsail/containerService:ContainerService",
        {"power": "nano", "scale": 1},
        id="lightsail-containers",
    ),
    pytest.param("aws:lightsail/lb:Lb", {"instancePort": 80}, id="lightsail-lb"),
    pytest.param(
        "aws:apigateway/restApi:RestApi", {"endpointConfiguration": {"types": "EDGE"}}, id="edge"
    ),
    pytest.param(
        "aws:apigateway/restApi:RestApi",
        {"endpointConfiguration": {"types": "regional"}},
        id="regional-lower-case",
    ),
    pytest.param("aws:apigateway/restApi:RestApi", {}, id="rest-api-type-unset"),
    pytest.param("aws:apigatewayv2/api:Api", {"protocolType": "HTTP"}, id="http-api"),
    pytest.param(
        "aws:globalaccelerator/accelerator:Accelerator", {"enabled": True}, id="accelerator"
    ),
    pytest.param(
        "aws:lambda/functionUrl:FunctionUrl", {"authorizationType": "NONE"}, id="url-no-auth"
    ),
    pytest.param(
        "aws:lambda/functionUrl:FunctionUrl", {"authorizationType": "AWS_IAM"}, id="url-iam"
    ),
    pytest.param("aws:apprunner/service:Service", {"serviceName": "app"}, id="app-runner"),
    pytest.param(
        "aws:elasticbeanstalk/environment:Environment", {"application": "app"}, id="beanstalk"
    ),
    pytest.param("aws:appsync/graphQLApi:GraphQLApi", {"name": "gql"}, id="appsync"),
    pytest.param("aws:transfer/server:Server", {}, id="sftp"),
    pytest.param(
        "aws:ec2/instance:Instance", {"ami": "ami-1", "associatePublicIpAddress": True}, id="vm-ip"
    ),
    pytest.param(
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"networkInterfaces": [{"associatePublicIpAddress": "true"}]},
        id="template-public-ip",
    ),
    pytest.param("aws:ec2/eip:Eip", {"domain": "vpc", "instance": "i-0abc"}, id="eip-on-vm"),
    pytest.param(
        "aws:ec2/eipAssociation:EipAssociation", {"allocationId": "eipalloc-1"}, id="eip-assoc"
    ),
]


@pytest.mark.parametrize(("token", "inputs"), PUBLIC)
def test_public_front_door_is_blocked(pack: PolicyPack, token: str, inputs: dict[str, Any]) -> None:
    record = resource(token, "door", inputs)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY in policies(found), explain(record.urn, found)


PRIVATE = [
    pytest.param(
        "aws:apigateway/restApi:RestApi",
        {"endpointConfiguration": {"types": "PRIVATE"}},
        id="private-rest-api",
    ),
    pytest.param(
        "aws:apprunner/service:Service",
        {"networkConfiguration": {"ingressConfiguration": {"isPubliclyAccessible": False}}},
        id="private-app-runner",
    ),
    pytest.param(
        "aws:elasticbeanstalk/environment:Environment",
        {"settings": [{"namespace": "aws:ec2:vpc", "name": "ELBScheme", "value": "internal"}]},
        id="internal-beanstalk",
    ),
    pytest.param("aws:appsync/graphQLApi:GraphQLApi", {"visibility": "PRIVATE"}, id="appsync"),
    pytest.param("aws:transfer/server:Server", {"endpointType": "VPC"}, id="vpc-sftp"),
    pytest.param("aws:ec2/instance:Instance", {"ami": "ami-1"}, id="vm-without-public-ip"),
    pytest.param("aws:ec2/eip:Eip", {"domain": "vpc"}, id="eip-for-nat"),
]


@pytest.mark.parametrize(("token", "inputs"), PRIVATE)
def test_private_variant_passes(pack: PolicyPack, token: str, inputs: dict[str, Any]) -> None:
    record = resource(token, "door", inputs)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert POLICY not in policies(found), explain(record.urn, found)


NODE_CLASS_TEXT = (
    "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: public}\n"
    "spec: {role: nodes, associatePublicIPAddress: true}\n"
)


@pytest.mark.parametrize(
    ("token", "inputs"),
    [
        pytest.param(
            "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
            {"spec": {"role": "nodes", "associatePublicIPAddress": True}},
            id="node-class",
        ),
        pytest.param("kubernetes:yaml/v2:ConfigGroup", {"yaml": [NODE_CLASS_TEXT]}, id="in-yaml"),
        pytest.param(
            "aws:ec2/spotFleetRequest:SpotFleetRequest",
            {"launchSpecifications": [{"ami": "ami-1", "associatePublicIpAddress": True}]},
            id="spot-fleet",
        ),
    ],
)
def test_nodes_with_public_addresses_are_blocked(
    pack: PolicyPack, token: str, inputs: dict[str, Any]
) -> None:
    record = resource(token, "nodes", inputs)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert "no-public-front-door" in policies(found), explain(record.urn, found)


def test_node_class_without_public_addresses_passes(pack: PolicyPack) -> None:
    spec = {"role": "nodes", "associatePublicIPAddress": False}
    record = resource("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "nodes", {"spec": spec})

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert "no-public-front-door" not in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    ("token", "inputs", "public"),
    [
        pytest.param(
            "aws:ec2/subnet:Subnet",
            {"vpcId": "vpc-1", "mapPublicIpOnLaunch": True},
            True,
            id="subnet",
        ),
        pytest.param(
            "aws:ec2/subnet:Subnet",
            {"vpcId": "vpc-1", "mapPublicIpOnLaunch": False},
            False,
            id="subnet-private",
        ),
        pytest.param(
            "aws:ecs/service:Service",
            {"networkConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": True}},
            True,
            id="ecs-service",
        ),
        pytest.param("aws:amplify/app:App", {"name": "site"}, True, id="amplify"),
        pytest.param("aws:opensearch/domain:Domain", {"domainName": "search"}, True, id="search"),
        pytest.param(
            "aws:opensearch/domain:Domain",
            {"domainName": "search", "vpcOptions": {"subnetIds": ["subnet-1"]}},
            False,
            id="search-in-vpc",
        ),
    ],
)
def test_other_public_addresses(
    pack: PolicyPack, token: str, inputs: dict[str, Any], public: bool
) -> None:
    record = resource(token, "door", inputs)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert ("no-public-front-door" in policies(found)) is public, explain(record.urn, found)
