"""Resource records as the engine would send them, compliant unless a test says otherwise.

Each builder returns what the offline recorder would have captured: camelCase inputs with
resource references resolved to ids, outputs carrying the cloud `id` (as the AWS provider's
outputs do), and property dependencies naming the resources an input was built from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from tools.records import UNKNOWN, ResourceRecord

PROJECT = "matching"
STACK = "policytest"
REGION = "eu-central-1"
# The account the test stack's provider is pinned to, as the stack files pin theirs.
ACCOUNT = "111122223333"
ORIGIN_FACING = "pl-a3a144ca"
US_ORIGIN_FACING = "pl-3b927c52"
OTHER_LIST = "pl-0123456789abcdef0"
ALB = "aws:lb/loadBalancer:LoadBalancer"
ALB_ALIAS = "aws:alb/loadBalancer:LoadBalancer"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
# Stateful types, registered with `protect` as a compliant prod program does.
STATEFUL = frozenset(
    {
        "aws:sqs/queue:Queue",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
    }
)
# The AWS managed rule groups every web ACL must enforce (waf-managed-rules' default).
MANAGED_GROUPS = [
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
]
EU_27 = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()

__all__ = ["UNKNOWN"]


def urn(token: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{token}::{name}"


def provider(
    name: str = "default", region: str | None = REGION, accounts: Sequence[str] = (ACCOUNT,)
) -> ResourceRecord:
    inputs: dict[str, Any] = {"region": region} if region is not None else {}
    if accounts:
        inputs["allowedAccountIds"] = list(accounts)
    token = "pulumi:providers:aws"
    return ResourceRecord(
        urn=urn(token, name),
        type=token,
        name=name,
        custom=True,
        id=f"{name}-00000000-0000-4000-8000-000000000000",
        inputs=inputs,
        outputs=inputs,
    )


DEFAULT_PROVIDER = provider()


def resource(
    token: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    cloud_id: str | None = None,
    links: Mapping[str, Sequence[ResourceRecord]] | None = None,
    via: ResourceRecord | None = DEFAULT_PROVIDER,
    custom: bool = True,
    computed: Mapping[str, Any] | None = None,
    protect: bool | None = None,
) -> ResourceRecord:
    """One resource; `links` maps an input to the resources it was built from, and `computed`
    holds the outputs the provider adds (an ARN, say)."""
    links = links or {}
    outputs = {**inputs, **(computed or {})}
    if cloud_id is not None:
        outputs["id"] = cloud_id
    return ResourceRecord(
        urn=urn(token, name),
        type=token,
        name=name,
        custom=custom,
        provider=f"{via.urn}::{via.id}" if via is not None else None,
        id=cloud_id or (f"{name}-id" if custom else None),
        inputs=dict(inputs),
        outputs=outputs if custom else {},
        dependencies=tuple(dict.fromkeys(r.urn for deps in links.values() for r in deps)),
        property_dependencies={key: tuple(r.urn for r in deps) for key, deps in links.items()},
        protect=token in STATEFUL if protect is None else protect,
    )


def changed(record: ResourceRecord, **inputs: Any) -> ResourceRecord:
    """The record with some inputs replaced (and its outputs with them)."""
    return dataclasses.replace(
        record,
        inputs={**record.inputs, **inputs},
        outputs={**record.outputs, **inputs} if record.outputs else {},
    )


def without(record: ResourceRecord, *keys: str) -> ResourceRecord:
    """The record with some inputs left out (and its outputs with them)."""
    return dataclasses.replace(
        record,
        inputs={k: v for k, v in record.inputs.items() if k not in keys},
        outputs={k: v for k, v in record.outputs.items() if k not in keys},
    )


def as_state(record: ResourceRecord) -> ResourceRecord:
    """What the engine sends `AnalyzeStack`: a resource's outputs, not its inputs."""
    if not record.custom:
        return record
    return dataclasses.replace(record, inputs=dict(record.outputs))


# --- network ---------------------------------------------------------------------------------


def https_from(source_key: str, source: Any, **extra: Any) -> dict[str, Any]:
    """An inline ingress block admitting `source` on tcp 443."""
    return {"protocol": "tcp", "fromPort": 443, "toPort": 443, source_key: source, **extra}


CLOUDFRONT_INLINE = https_from("prefixListIds", [ORIGIN_FACING])


def security_group(
    name: str = "alb-sg",
    ingress: Sequence[Mapping[str, Any]] = (CLOUDFRONT_INLINE,),
    *,
    via: ResourceRecord | None = DEFAULT_PROVIDER,
    **inputs: Any,
) -> ResourceRecord:
    group_id = "sg-" + format(abs(hash(name)) % 16**17, "017x")
    props = {"description": "ALB", "vpcId": "vpc-0abc", "ingress": list(ingress), **inputs}
    return resource(SECURITY_GROUP, name, props, cloud_id=group_id, via=via)


def ingress_rule(name: str, group: ResourceRecord, **inputs: Any) -> ResourceRecord:
    """An aws.vpc.SecurityGroupIngressRule on `group`, tcp 443 unless told otherwise."""
    props = {
        "securityGroupId": group.id,
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
        **inputs,
    }
    rule_id = "sgr-" + format(abs(hash(name)) % 16**17, "017x")
    return resource(INGRESS_RULE, name, props, cloud_id=rule_id, links={"securityGroupId": [group]})


def group_rule(name: str, group: ResourceRecord, **inputs: Any) -> ResourceRecord:
    """An aws.ec2.SecurityGroupRule of type ingress on `group`, tcp 443 unless told otherwise."""
    props = {
        "type": "ingress",
        "securityGroupId": group.id,
        "protocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
        **inputs,
    }
    return resource(GROUP_RULE, name, props, links={"securityGroupId": [group]})


# --- edge ------------------------------------------------------------------------------------


def load_balancer(
    name: str = "api-alb",
    groups: Sequence[ResourceRecord | str] = (),
    *,
    token: str = ALB,
    **inputs: Any,
) -> ResourceRecord:
    """An internal application load balancer guarded by `groups` (records or literal ids)."""
    props = {
        "loadBalancerType": "application",
        "internal": True,
        "subnets": ["subnet-0a", "subnet-0b"],
        "securityGroups": [g.id if isinstance(g, ResourceRecord) else g for g in groups],
        "dropInvalidHeaderFields": True,
        "enableDeletionProtection": True,
        "accessLogs": {"enabled": True, "bucket": "alb-logs", "prefix": "alb"},
        **inputs,
    }
    linked = [g for g in groups if isinstance(g, ResourceRecord)]
    links = {"securityGroups": linked} if linked else {}
    return resource(
        token, name, props, cloud_id=f"arn:aws:elasticloadbalancing:{name}", links=links
    )


def edge(
    *rules: ResourceRecord, group: ResourceRecord | None = None, **alb: Any
) -> list[ResourceRecord]:
    """A provider, an ALB guarded by `group` (compliant by default) and extra rule resources."""
    group = group or security_group()
    return [DEFAULT_PROVIDER, group, load_balancer(groups=[group], **alb), *rules]


def distribution(name: str = "api-cdn", **inputs: Any) -> ResourceRecord:
    props = {
        "enabled": True,
        "webAclId": "arn:aws:wafv2:us-east-1:111122223333:global/webacl/api/1",
        "origins": [
            {
                "originId": "alb",
                "domainName": "origin.example.com",
                "vpcOriginConfig": {"vpcOriginId": "vo_0abc"},
            }
        ],
        "defaultCacheBehavior": {
            "targetOriginId": "alb",
            "viewerProtocolPolicy": "https-only",
            "allowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "cachedMethods": ["GET", "HEAD"],
        },
        "restrictions": {
            "geoRestriction": {"restrictionType": "whitelist", "locations": list(EU_27)}
        },
        "viewerCertificate": {
            "acmCertificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/1",
            "minimumProtocolVersion": "TLSv1.2_2021",
            "sslSupportMethod": "sni-only",
        },
        "loggingConfig": {"bucket": "cdn-logs.s3.amazonaws.com", "prefix": "cloudfront/"},
        **inputs,
    }
    return resource(DISTRIBUTION, name, props, cloud_id="E1ABCDEF234567")


def geo(kind: Any, locations: Any = None) -> dict[str, Any]:
    """A `restrictions` input; `locations` left out when None."""
    restriction: dict[str, Any] = {"restrictionType": kind}
    if locations is not None:
        restriction["locations"] = locations
    return {"geoRestriction": restriction}


MULTITENANT_DISTRIBUTION = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"


def multitenant_distribution(name: str = "tenants-cdn", **inputs: Any) -> ResourceRecord:
    """A compliant multitenant distribution: its origins, behaviours and geo list are spelt
    differently from a plain distribution's (`id`, `vpcOriginConfigs`, `cacheBehaviors`,
    `items`)."""
    props: dict[str, Any] = {
        "enabled": True,
        "webAclId": "arn:aws:wafv2:us-east-1:111122223333:global/webacl/api/1",
        "tenantConfig": {"parameterDefinitions": []},
        "origins": [
            {
                "id": "alb",
                "domainName": "origin.example.com",
                "vpcOriginConfigs": [{"vpcOriginId": "vo_0abc"}],
            }
        ],
        "defaultCacheBehavior": {"targetOriginId": "alb", "viewerProtocolPolicy": "https-only"},
        "restrictions": {"geoRestriction": {"restrictionType": "whitelist", "items": list(EU_27)}},
        "viewerCertificate": {
            "acmCertificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/1",
            "minimumProtocolVersion": "TLSv1.2_2021",
            "sslSupportMethod": "sni-only",
        },
        **inputs,
    }
    return resource(MULTITENANT_DISTRIBUTION, name, props, cloud_id="E2ABCDEF234567")
