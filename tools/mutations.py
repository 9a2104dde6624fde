"""The catalogue of insecure mutations that `tools.mutate` proves the policy pack catches.

Each mutation makes one security-relevant property of the prod plan insecure: a flag flipped, a
range widened, a country added, an encryption block dropped, a second way in added. It works on
a deep copy of the recorded resources, edits inputs and outputs alike (the pack reads inputs in
`Analyze` and outputs in `AnalyzeStack`), and builds any resource it adds as the recorder would
have: URN from the mock monitor's scheme, parent and provider of a sibling, outputs from the
same mocks that answered the real run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pulumi.runtime.mocks import MockResourceArgs

from tools.mocks import Account, PlatformMocks
from tools.records import PROVIDER_PREFIX, ResourceRecord

Records = list[ResourceRecord]
# A resource to mutate: its type token and a part of its name.
Target = tuple[str, str]
Mutate = Callable[[Records], Records]

LB = "aws:lb/loadBalancer:LoadBalancer"
LB_ALIAS = "aws:alb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
DIST = "aws:cloudfront/distribution:Distribution"
VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"
EKS = "eks:index:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KEY = "aws:kms/key:Key"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TABLE = "aws:dynamodb/table:Table"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
NAMESPACE = "kubernetes:core/v1:Namespace"
MULTITENANT = "aws:cloudfront/multitenantDistribution:MultitenantDistribution"

ANY_V4, ANY_V6 = "0.0.0.0/0", "::/0"
OTHER_PREFIX_LIST = "pl-0123456789abcdef0"
US_ORIGIN_FACING = "pl-3b927c52"  # the origin-facing list of us-east-1, not of the ALB's region
STRANGE_GROUP = "sg-0f1e2d3c4b5a69788"


class MissingTargetError(LookupError):
    """The plan has no resource a mutation needs: the catalogue and the program disagree."""


@dataclass(frozen=True)
class Mutation:
    name: str
    fault: str
    apply: Mutate


# --- finding and editing records ------------------------------------------------------------


def find(records: Records, token: str, part: str = "") -> ResourceRecord:
    """The first resource of `token` whose name holds `part`."""
    for record in records:
        if record.type == token and part in record.name:
            return record
    raise MissingTargetError(f"no {token} named *{part}* in the plan")


def _states(record: ResourceRecord) -> list[dict[str, Any]]:
    """Where a property lives: inputs, and outputs when the resource has any."""
    return [record.inputs, record.outputs] if record.outputs else [record.inputs]


def _parent_of(state: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *steps, last = path.split(".")
    current = state
    for step in steps:
        current = current.setdefault(step, {})
    return current, last


def put(record: ResourceRecord, path: str, value: Any) -> None:
    """Set the dotted `path` of `record`, creating objects on the way."""
    for state in _states(record):
        parent, key = _parent_of(state, path)
        parent[key] = json.loads(json.dumps(value))


def drop(record: ResourceRecord, path: str) -> None:
    for state in _states(record):
        parent, key = _parent_of(state, path)
        parent.pop(key, None)


def retype(records: Records, record: ResourceRecord, token: str) -> Records:
    """The same resource registered under another type token (an alias), URN to match."""
    urn = record.urn.replace(f"${record.type}::", f"${token}::")
    return [dataclasses.replace(r, type=token, urn=urn) if r is record else r for r in records]


def add(
    records: Records,
    sibling: ResourceRecord,
    token: str,
    name: str,
    inputs: dict[str, Any],
    *,
    links: Mapping[str, Sequence[ResourceRecord]] | None = None,
) -> Records:
    """`records` and a new resource beside `sibling`: same parent and provider, mock outputs."""
    links = links or {}
    # The mock monitor's scheme: the parent's own type, `$`, the new type.
    stack_and_project = "::".join(sibling.urn.split("::")[:2])
    parent_type = (sibling.parent or "").split("::")[2].split("$")[-1]
    urn = f"{stack_and_project}::{parent_type}${token}::{name}"
    resource_id, outputs = _mocks(records).new_resource(
        MockResourceArgs(typ=token, name=name, inputs=inputs, custom=True)
    )
    deps = {key: tuple(r.urn for r in linked) for key, linked in links.items()}
    record = ResourceRecord(
        urn=urn,
        type=token,
        name=name,
        custom=True,
        parent=sibling.parent,
        provider=sibling.provider,
        id=resource_id,
        inputs=inputs,
        outputs=outputs,
        dependencies=tuple(dict.fromkeys(u for urns in deps.values() for u in urns)),
        property_dependencies=deps,
    )
    return [*records, record]


def _mocks(records: Records) -> PlatformMocks:
    """The mocks the recorder used, for the account and region of the stack's AWS provider."""
    aws = next(r for r in records if r.type == f"{PROVIDER_PREFIX}aws")
    accounts = cast(list[str], aws.inputs.get("allowedAccountIds") or ["123456789012"])
    return PlatformMocks(Account(account_id=str(accounts[0]), region=str(aws.inputs["region"])))


def _document(record: ResourceRecord, key: str = "policy") -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(record.inputs[key]))


def _with_statement(record: ResourceRecord, statement: dict[str, Any], key: str = "policy") -> None:
    document = _document(record, key)
    document["Statement"] = [*document["Statement"], statement]
    put(record, key, json.dumps(document))


# --- mutation factories ---------------------------------------------------------------------


def setting(name: str, target: Target, path: str, value: Any, fault: str) -> Mutation:
    """A mutation that sets one property of one resource."""

    def apply(records: Records) -> Records:
        put(find(records, *target), path, value)
        return records

    return Mutation(name, fault, apply)


def removal(name: str, target: Target, path: str, fault: str) -> Mutation:
    """A mutation that leaves one property of one resource out."""

    def apply(records: Records) -> Records:
        record = find(records, *target)
        before = json.dumps(record.inputs, sort_keys=True)
        drop(record, path)
        if json.dumps(record.inputs, sort_keys=True) == before:
            raise MissingTargetError(f"{record.urn} has no {path} to remove")
        return records

    return Mutation(name, fault, apply)


def edit(name: str, fault: str) -> Callable[[Mutate], Mutation]:
    """A decorator turning a records-to-records function into a named mutation."""

    def wrap(apply: Mutate) -> Mutation:
        return Mutation(name, fault, apply)

    return wrap


# --- the edge: load balancers and listeners -------------------------------------------------


@edit("alb-alias-token-internet-facing", "the ALB registered under the aws:alb alias, public")
def _alb_alias(records: Records) -> Records:
    balancer = find(records, LB, "alb")
    put(balancer, "internal", False)
    return retype(records, balancer, LB_ALIAS)


@edit("alb-no-security-group", "the ALB names no security group (AWS uses the default one)")
def _alb_no_group(records: Records) -> Records:
    balancer = find(records, LB, "alb")
    put(balancer, "securityGroups", [])
    balancer.property_dependencies["securityGroups"] = ()
    return records


@edit("alb-foreign-security-group", "the ALB is also guarded by a group outside the stack")
def _alb_foreign_group(records: Records) -> Records:
    balancer = find(records, LB, "alb")
    put(balancer, "securityGroups", [*balancer.inputs["securityGroups"], STRANGE_GROUP])
    return records


def _balancer(name: str, fault: str, **inputs: Any) -> Mutation:
    """A mutation adding a load balancer beside the ALB, in the public subnets."""

    def apply(records: Records) -> Records:
        alb = find(records, LB, "alb")
        subnets = [
            r.id for r in records if r.type == "aws:ec2/subnet:Subnet" and "public" in r.name
        ]
        props = {"subnets": subnets, "enableDeletionProtection": True, **inputs}
        return add(records, alb, LB, f"{alb.name}-{name}", props)

    return Mutation(name, fault, apply)


def _listener(name: str, fault: str, **inputs: Any) -> Mutation:
    """A mutation adding a listener to the ALB."""

    def apply(records: Records) -> Records:
        alb, https = find(records, LB, "alb"), find(records, LISTENER)
        props = {"loadBalancerArn": alb.outputs["arn"], **inputs}
        props["defaultActions"] = https.inputs["defaultActions"]
        links = {"loadBalancerArn": [alb]}
        return add(records, https, LISTENER, f"{https.name}-{name}", props, links=links)

    return Mutation(name, fault, apply)


EDGE_BALANCERS = [
    setting("alb-internal-false", (LB, "alb"), "internal", False, "the ALB faces the internet"),
    removal("alb-internal-absent", (LB, "alb"), "internal", "`internal` left out: public"),
    _alb_alias,
    setting(
        "alb-drop-invalid-headers-false",
        *((LB, "alb"), "dropInvalidHeaderFields", False),
        "the ALB forwards invalid headers",
    ),
    removal(
        "alb-drop-invalid-headers-absent",
        *((LB, "alb"), "dropInvalidHeaderFields"),
        "invalid headers forwarded by default",
    ),
    setting(
        "alb-deletion-protection-off",
        *((LB, "alb"), "enableDeletionProtection", False),
        "the prod ALB can be deleted",
    ),
    removal(
        "alb-deletion-protection-absent",
        *((LB, "alb"), "enableDeletionProtection"),
        "deletion protection off by default",
    ),
    _alb_no_group,
    _alb_foreign_group,
    _balancer(
        "nlb-internet-facing",
        "a public network load balancer beside the ALB",
        loadBalancerType="network",
        internal=False,
    ),
    _balancer(
        "nlb-internal-absent",
        "a network load balancer, `internal` unset",
        loadBalancerType="network",
    ),
    _balancer(
        "alb-second-public",
        "a second application load balancer, public, with no security group",
        loadBalancerType="application",
        internal=False,
        dropInvalidHeaderFields=True,
    ),
    setting("listener-http", (LISTENER, ""), "protocol", "HTTP", "the listener speaks plain HTTP"),
    removal("listener-protocol-absent", (LISTENER, ""), "protocol", "no protocol: HTTP"),
    setting(
        "listener-tls-2016-policy",
        *((LISTENER, ""), "sslPolicy", "ELBSecurityPolicy-2016-08"),
        "the 2016 default policy (TLS 1.0)",
    ),
    setting(
        "listener-tls12-only-policy",
        *((LISTENER, ""), "sslPolicy", "ELBSecurityPolicy-TLS-1-2-2017-01"),
        "a TLS 1.2 policy without TLS 1.3",
    ),
    removal("listener-ssl-policy-absent", (LISTENER, ""), "sslPolicy", "AWS's 2016 default policy"),
    _listener("listener-extra-http", "a second, plain-HTTP listener", protocol="HTTP", port=80),
]


# --- the edge: the ALB's security group, through all three rule shapes ----------------------


def _inline(name: str, fault: str, rule: dict[str, Any]) -> Mutation:
    """A mutation giving the ALB's group an inline ingress block."""

    def apply(records: Records) -> Records:
        put(find(records, SG, "alb-sg"), "ingress", [rule])
        return records

    return Mutation(name, fault, apply)


def _rule(name: str, fault: str, token: str, *, linked: bool = True, **inputs: Any) -> Mutation:
    """A mutation adding a separate rule resource on the ALB's group."""

    def apply(records: Records) -> Records:
        group = find(records, SG, "alb-sg")
        props = {"securityGroupId": group.id, **_https(token), **inputs}
        links = {"securityGroupId": [group]} if linked else {}
        return add(records, group, token, f"{group.name}-{name}", props, links=links)

    return Mutation(name, fault, apply)


def _https(token: str) -> dict[str, Any]:
    if token == SG_RULE:
        return {"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443}
    return {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}


def _existing(name: str, fault: str, **changes: Any) -> Mutation:
    """A mutation rewriting the ALB group's one ingress rule (None removes a property)."""

    def apply(records: Records) -> Records:
        rule = find(records, SG_INGRESS, "alb-from-cloudfront")
        for key, value in changes.items():
            if value is None:
                drop(rule, key)
            else:
                put(rule, key, value)
        return records

    return Mutation(name, fault, apply)


def _tcp(source: str, value: Any, port: int = 443) -> dict[str, Any]:
    return {"protocol": "tcp", "fromPort": port, "toPort": port, source: value}


@edit("default-sg-open", "the VPC's default security group admits the internet")
def _default_group_open(records: Records) -> Records:
    rule = {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": [ANY_V4]}
    put(find(records, DEFAULT_SG), "ingress", [rule])
    return records


@edit("sg-new-group-ssh-anywhere", "a new security group opens SSH to the internet")
def _ssh_group(records: Records) -> Records:
    alb_group = find(records, SG, "alb-sg")
    props = {"vpcId": alb_group.inputs["vpcId"], "ingress": [_tcp("cidrBlocks", [ANY_V4], 22)]}
    return add(records, alb_group, SG, "matching-bastion-sg", props)


SECURITY_GROUPS = [
    _inline("sg-inline-ipv4-anywhere", "inline 0.0.0.0/0", _tcp("cidrBlocks", [ANY_V4])),
    _inline("sg-inline-ipv6-anywhere", "inline ::/0", _tcp("ipv6CidrBlocks", [ANY_V6])),
    _inline(
        "sg-inline-prefix-list-port-80",
        "inline origin-facing list on port 80",
        _tcp("prefixListIds", ["pl-a3a144ca"], 80),
    ),
    _rule("sg-rule-ipv4-anywhere", "ingress rule 0.0.0.0/0", SG_INGRESS, cidrIpv4=ANY_V4),
    _rule("sg-rule-ipv6-anywhere", "ingress rule ::/0", SG_INGRESS, cidrIpv6=ANY_V6),
    _rule("sg-legacy-rule-ipv4-anywhere", "group rule 0.0.0.0/0", SG_RULE, cidrBlocks=[ANY_V4]),
    _rule("sg-legacy-rule-ipv6-anywhere", "group rule ::/0", SG_RULE, ipv6CidrBlocks=[ANY_V6]),
    _rule("sg-legacy-rule-self", "the group admits itself", SG_RULE, self=True),
    _rule(
        "sg-referenced-group",
        "another security group admitted",
        SG_INGRESS,
        referencedSecurityGroupId=STRANGE_GROUP,
    ),
    _rule("sg-private-range", "a private range admitted", SG_INGRESS, cidrIpv4="10.0.0.0/8"),
    _rule(
        "sg-rule-literal-group-id",
        "a rule naming the group by literal id (no dependency)",
        SG_INGRESS,
        linked=False,
        cidrIpv4="192.0.2.0/24",
    ),
    _existing(
        "sg-existing-rule-to-anywhere",
        "the CloudFront rule widened to 0.0.0.0/0",
        prefixListId=None,
        cidrIpv4=ANY_V4,
    ),
    _existing("sg-other-prefix-list", "another prefix list", prefixListId=OTHER_PREFIX_LIST),
    _existing(
        "sg-foreign-region-prefix-list",
        "us-east-1's origin-facing list",
        prefixListId=US_ORIGIN_FACING,
    ),
    _existing("sg-port-80", "the CloudFront rule on port 80", fromPort=80, toPort=80),
    _existing("sg-all-ports", "the CloudFront rule on every port", fromPort=0, toPort=65535),
    _existing(
        "sg-all-protocols",
        "the CloudFront rule on every protocol",
        ipProtocol="-1",
        fromPort=None,
        toPort=None,
    ),
    _default_group_open,
    _ssh_group,
]


# --- the edge: CloudFront -------------------------------------------------------------------


def _geo(name: str, fault: str, geo: dict[str, Any]) -> Mutation:
    return setting(name, (DIST, ""), "restrictions.geoRestriction", geo, fault)


def _add_country(code: str, why: str) -> Mutation:
    @edit(f"geo-add-{code.lower()}", f"{code} ({why}) added to the whitelist")
    def apply(records: Records) -> Records:
        distribution = find(records, DIST)
        locations = distribution.inputs["restrictions"]["geoRestriction"]["locations"]
        put(distribution, "restrictions.geoRestriction.locations", [*locations, code])
        return records

    return apply


def _origin(name: str, fault: str, origin: dict[str, Any], *, keep: bool = True) -> Mutation:
    """A mutation adding an origin to the distribution (or replacing its VPC origin)."""

    def apply(records: Records) -> Records:
        distribution = find(records, DIST)
        origins = cast(list[Any], distribution.inputs["origins"]) if keep else []
        put(distribution, "origins", [*origins, origin])
        return records

    return Mutation(name, fault, apply)


@edit("origin-vpc-and-custom", "the VPC origin also given a customOriginConfig")
def _mixed_origin(records: Records) -> Records:
    distribution = find(records, DIST)
    origin = distribution.inputs["origins"][0]
    custom = {"httpPort": 80, "httpsPort": 443, "originProtocolPolicy": "http-only"}
    put(distribution, "origins", [{**origin, "customOriginConfig": custom}])
    return records


@edit("ordered-behaviour-allow-all", "a second cache behaviour lets viewers use HTTP")
def _ordered_behaviour(records: Records) -> Records:
    distribution = find(records, DIST)
    behaviour = {**distribution.inputs["defaultCacheBehavior"], "pathPattern": "/v2/*"}
    put(distribution, "orderedCacheBehaviors", [{**behaviour, "viewerProtocolPolicy": "allow-all"}])
    return records


@edit("distribution-second-unguarded", "a second distribution: no WAF, no geo, default cert")
def _second_distribution(records: Records) -> Records:
    distribution = find(records, DIST)
    props = {
        key: distribution.inputs[key]
        for key in ("enabled", "origins", "defaultCacheBehavior")
        if key in distribution.inputs
    }
    props["restrictions"] = {"geoRestriction": {"restrictionType": "none"}}
    props["viewerCertificate"] = {"cloudfrontDefaultCertificate": True}
    return add(records, distribution, DIST, f"{distribution.name}-preview", props)


_HTTP_ORIGIN = {
    "httpPort": 80,
    "httpsPort": 443,
    "originProtocolPolicy": "http-only",
    "originSslProtocols": ["TLSv1.2"],
}

CLOUDFRONT = [
    _add_country("GB", "left the EU"),
    _add_country("CH", "neither EU nor EEA"),
    _add_country("US", "outside Europe"),
    _add_country("EL", "the EU's own code for Greece, unknown to CloudFront"),
    _add_country("NO", "EEA, not EU"),
    _geo(
        "geo-blacklist",
        "geo restriction turned into a blacklist",
        {"restrictionType": "blacklist", "locations": ["RU"]},
    ),
    _geo("geo-type-none", "geo restriction switched off", {"restrictionType": "none"}),
    removal("geo-removed", (DIST, ""), "restrictions", "no geo restriction at all"),
    _geo("geo-empty-whitelist", "a whitelist with no locations", {"restrictionType": "whitelist"}),
    removal("waf-removed", (DIST, ""), "webAclId", "no WAF"),
    setting("waf-empty", (DIST, ""), "webAclId", "", "an empty web ACL id"),
    setting(
        "viewer-allow-all",
        *((DIST, ""), "defaultCacheBehavior.viewerProtocolPolicy", "allow-all"),
        "viewers may use HTTP",
    ),
    _ordered_behaviour,
    setting(
        "viewer-tls-v1",
        *((DIST, ""), "viewerCertificate.minimumProtocolVersion", "TLSv1"),
        "viewers down to TLS 1.0",
    ),
    setting(
        "viewer-tls-2019",
        *((DIST, ""), "viewerCertificate.minimumProtocolVersion", "TLSv1.2_2019"),
        "TLS 1.2 with the 2019 ciphers",
    ),
    setting(
        "viewer-default-certificate",
        *((DIST, ""), "viewerCertificate", {"cloudfrontDefaultCertificate": True}),
        "the *.cloudfront.net certificate (TLS 1.0)",
    ),
    _origin(
        "origin-s3-bucket",
        "an S3 bucket origin added",
        {
            "originId": "static",
            "domainName": "matching-static.s3.eu-central-1.amazonaws.com",
            "s3OriginConfig": {"originAccessIdentity": ""},
        },
    ),
    _origin(
        "origin-custom-http",
        "the VPC origin replaced by a public custom origin over HTTP",
        {
            "originId": "matching-alb",
            "domainName": "matching-alb-123.eu-central-1.elb.amazonaws.com",
            "customOriginConfig": _HTTP_ORIGIN,
        },
        keep=False,
    ),
    _mixed_origin,
    _second_distribution,
    setting(
        "vpc-origin-http-only",
        *((VPC_ORIGIN, ""), "vpcOriginEndpointConfig.originProtocolPolicy", "http-only"),
        "CloudFront reaches the ALB over HTTP",
    ),
    setting(
        "vpc-origin-tls-v1",
        *((VPC_ORIGIN, ""), "vpcOriginEndpointConfig.originSslProtocols"),
        {"items": ["TLSv1", "TLSv1.2"], "quantity": 2},
        "CloudFront may reach the ALB over TLS 1.0",
    ),
]


# --- the cluster and its nodes --------------------------------------------------------------


@edit("eks-raw-cluster-public", "an aws.eks.Cluster beside the component, public endpoint")
def _raw_cluster(records: Records) -> Records:
    component = find(records, EKS)
    props = {
        "roleArn": find(records, ROLE, "system-node-role").outputs["arn"],
        "vpcConfig": {
            "subnetIds": component.inputs["privateSubnetIds"],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
        },
        "encryptionConfig": {
            "resources": ["secrets"],
            "provider": {"keyArn": component.inputs["encryptionConfigKeyArn"]},
        },
        "enabledClusterLogTypes": component.inputs["enabledClusterLogTypes"],
    }
    return add(
        records, find(records, LAUNCH_TEMPLATE), "aws:eks/cluster:Cluster", "matching-eks-2", props
    )


@edit("ec2nodeclass-imdsv1", "a Karpenter EC2NodeClass that allows IMDSv1")
def _node_class(records: Records) -> Records:
    sibling = find(records, DEPLOYMENT)
    props = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "general"},
        "spec": {
            "role": "matching-karpenter-node",
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "matching-prod"}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "matching-prod"}}],
            "metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 1},
            "blockDeviceMappings": [
                {"deviceName": "/dev/xvda", "ebs": {"volumeSize": "50Gi", "encrypted": True}}
            ],
        },
    }
    token = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
    return add(records, sibling, token, "matching-general-nodes", props)


CLUSTER = [
    setting("eks-public-endpoint-on", (EKS, ""), "endpointPublicAccess", True, "public API"),
    removal("eks-public-endpoint-absent", (EKS, ""), "endpointPublicAccess", "public by default"),
    setting(
        "eks-private-endpoint-off", (EKS, ""), "endpointPrivateAccess", False, "no private API"
    ),
    removal("eks-secrets-encryption-removed", (EKS, ""), "encryptionConfigKeyArn", "plain secrets"),
    setting(
        "eks-audit-log-dropped",
        *((EKS, ""), "enabledClusterLogTypes", ["api", "authenticator"]),
        "audit, controllerManager and scheduler logs off",
    ),
    removal("eks-logs-removed", (EKS, ""), "enabledClusterLogTypes", "no control-plane logs"),
    _raw_cluster,
    setting(
        "launch-template-imdsv1",
        *((LAUNCH_TEMPLATE, ""), "metadataOptions.httpTokens", "optional"),
        "system nodes allow IMDSv1",
    ),
    setting(
        "launch-template-hop-limit-2",
        *((LAUNCH_TEMPLATE, ""), "metadataOptions.httpPutResponseHopLimit", 2),
        "pods can reach the node's metadata credentials",
    ),
    removal(
        "launch-template-metadata-defaults",
        *((LAUNCH_TEMPLATE, ""), "metadataOptions"),
        "EC2's defaults: IMDSv1 allowed",
    ),
    _node_class,
]


# --- data: keys, queues, topics -------------------------------------------------------------


@edit("kms-key-policy-public", "the alert key's policy lets any AWS principal decrypt")
def _public_key(records: Records) -> Records:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    _with_statement(find(records, KEY, "alerts-key"), statement)
    return records


@edit("queue-policy-public", "the queue's policy lets any AWS principal send")
def _public_queue(records: Records) -> Records:
    policy = find(records, QUEUE_POLICY, "queue-tls-only")
    arn = find(records, QUEUE, "queue").outputs["arn"]
    statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage"}
    _with_statement(policy, {**statement, "Resource": arn})
    return records


@edit("topic-policy-public", "the alert topic's policy lets anyone subscribe")
def _public_topic(records: Records) -> Records:
    policy = find(records, TOPIC_POLICY)
    statement = {"Effect": "Allow", "Principal": "*", "Action": "sns:Subscribe"}
    _with_statement(policy, {**statement, "Resource": policy.inputs["arn"]})
    return records


@edit("dlq-redrive-removed", "the work queue loses its dead-letter queue")
def _no_redrive(records: Records) -> Records:
    queue = find(records, QUEUE, "queue")
    drop(queue, "redrivePolicy")
    queue.property_dependencies.pop("redrivePolicy", None)
    return records


@edit("queue-new-unprotected", "a new queue: AWS-owned encryption, no dead-letter queue")
def _new_queue(records: Records) -> Records:
    queue = find(records, QUEUE, "queue")
    props = {"sqsManagedSseEnabled": True, "visibilityTimeoutSeconds": 150}
    return add(records, queue, QUEUE, "matching-results", props)


@edit("sqs-managed-sse", "the dead-letter queue uses SQS-owned keys instead of ours")
def _managed_sse(records: Records) -> Records:
    queue = find(records, QUEUE, "dead-letters")
    drop(queue, "kmsMasterKeyId")
    put(queue, "sqsManagedSseEnabled", True)
    return records


DATA = [
    setting("kms-rotation-off", (KEY, "queue-key"), "enableKeyRotation", False, "no rotation"),
    removal("kms-rotation-absent", (KEY, "matching-key"), "enableKeyRotation", "rotation off"),
    _public_key,
    removal("sqs-kms-removed", (QUEUE, "queue"), "kmsMasterKeyId", "the queue is unencrypted"),
    setting(
        "sqs-aws-managed-key",
        *((QUEUE, "queue"), "kmsMasterKeyId", "alias/aws/sqs"),
        "the AWS-managed key, not ours",
    ),
    _managed_sse,
    _no_redrive,
    _new_queue,
    _public_queue,
    removal("sns-kms-removed", (TOPIC, ""), "kmsMasterKeyId", "the alert topic is unencrypted"),
    setting(
        "sns-aws-managed-key",
        *((TOPIC, ""), "kmsMasterKeyId", "alias/aws/sns"),
        "the AWS-managed key: alarms can't publish, no key policy of ours",
    ),
    _public_topic,
]


# --- the edge's logs and its WAF ------------------------------------------------------------


def _without(records: Records, token: str, part: str) -> Records:
    """`records` less one resource (a logging configuration, a public-access block...)."""
    gone = find(records, token, part)
    return [r for r in records if r is not gone]


def _rules(records: Records, change: Callable[[list[Any]], list[Any]]) -> Records:
    acl = find(records, WEB_ACL)
    put(acl, "rules", change(cast(list[Any], acl.inputs["rules"])))
    return records


@edit("waf-logging-removed", "the web ACL's logging configuration is gone")
def _no_waf_logging(records: Records) -> Records:
    return _without(records, WAF_LOGGING, "")


@edit("waf-logging-wrong-destination", "WAF logs to a group WAF can't deliver to")
def _waf_wrong_destination(records: Records) -> Records:
    config = find(records, WAF_LOGGING)
    arn = config.inputs["logDestinationConfigs"][0].replace("aws-waf-logs-", "waf-audit-")
    put(config, "logDestinationConfigs", [arn])
    return records


@edit("waf-common-rules-count", "the common rule set only counts: nothing is blocked")
def _waf_count(records: Records) -> Records:
    def change(rules: list[Any]) -> list[Any]:
        common = "AWSManagedRulesCommonRuleSet"
        return [{**r, "overrideAction": {"count": {}}} if r["name"] == common else r for r in rules]

    return _rules(records, change)


@edit("waf-sqli-removed", "the SQL injection rule set is dropped from the web ACL")
def _waf_no_sqli(records: Records) -> Records:
    return _rules(records, lambda rules: [r for r in rules if "SQLi" not in r["name"]])


@edit("waf-rate-limit-removed", "the web ACL loses its rate-based rule")
def _waf_no_rate(records: Records) -> Records:
    return _rules(
        records, lambda rules: [r for r in rules if "rateBasedStatement" not in r["statement"]]
    )


_PARTNERS = {
    "ipSetReferenceStatement": {
        "arn": "arn:aws:wafv2:us-east-1:222222222222:global/ipset/partners/1"
    }
}


@edit("waf-allow-rule", "an IP set allowed first: its requests skip every protection")
def _waf_allow(records: Records) -> Records:
    allow: dict[str, Any] = {
        "name": "Partners",
        "priority": 0,
        "action": {"allow": {}},
        "statement": _PARTNERS,
    }
    return _rules(records, lambda rules: [allow, *rules])


@edit("waf-managed-group-scoped-down", "the common rule set inspects only requests from one set")
def _waf_scoped_group(records: Records) -> Records:
    def change(rules: list[Any]) -> list[Any]:
        common = "AWSManagedRulesCommonRuleSet"
        for rule in rules:
            if rule["name"] == common:
                rule["statement"]["managedRuleGroupStatement"]["scopeDownStatement"] = _PARTNERS
        return rules

    return _rules(records, change)


@edit("waf-rate-limit-exemption", "prod exempts an address range from the rate limit")
def _waf_rate_exempt(records: Records) -> Records:
    def change(rules: list[Any]) -> list[Any]:
        for rule in rules:
            if "rateBasedStatement" in rule["statement"]:
                exempt = {"notStatement": {"statement": _PARTNERS}}
                rule["statement"]["rateBasedStatement"]["scopeDownStatement"] = exempt
        return rules

    return _rules(records, change)


def _multitenant_props(distribution: ResourceRecord) -> dict[str, Any]:
    """The multitenant spelling of the same, compliant distribution: only logging is missing."""
    inputs = distribution.inputs
    origin = inputs["origins"][0]
    geo = inputs["restrictions"]["geoRestriction"]
    return {
        "enabled": True,
        "webAclId": inputs["webAclId"],
        "tenantConfig": {"parameterDefinitions": []},
        "origins": [
            {
                "id": origin["originId"],
                "domainName": origin["domainName"],
                "vpcOriginConfigs": [origin["vpcOriginConfig"]],
            }
        ],
        "defaultCacheBehavior": inputs["defaultCacheBehavior"],
        "restrictions": {
            "geoRestriction": {"restrictionType": "whitelist", "items": geo["locations"]}
        },
        "viewerCertificate": inputs["viewerCertificate"],
    }


@edit("multitenant-distribution-unlogged", "a multitenant twin of the edge that logs nothing")
def _multitenant_unlogged(records: Records) -> Records:
    distribution = find(records, DIST)
    name = f"{distribution.name}-tenants"
    return add(records, distribution, MULTITENANT, name, _multitenant_props(distribution))


@edit("multitenant-legacy-logging-only", "a multitenant twin with a logging block it does not have")
def _multitenant_legacy_logging(records: Records) -> Records:
    distribution = find(records, DIST)
    props = {
        **_multitenant_props(distribution),
        "loggingConfig": distribution.inputs["loggingConfig"],
    }
    return add(records, distribution, MULTITENANT, f"{distribution.name}-tenants", props)


def _tenant(
    name: str, fault: str, customizations: Callable[[ResourceRecord], dict[str, Any]]
) -> Mutation:
    """A mutation adding a multitenant twin and a tenant of it with `customizations`."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        distribution = find(records, DIST)
        twin_name = f"{distribution.name}-tenants"
        records = add(
            records, distribution, MULTITENANT, twin_name, _multitenant_props(distribution)
        )
        twin = find(records, MULTITENANT)
        props = {
            "distributionId": twin.id,
            "domains": [{"domain": "tenant.matching.example.eu"}],
            "customizations": customizations(distribution),
        }
        token = "aws:cloudfront/distributionTenant:DistributionTenant"
        return add(
            records,
            distribution,
            token,
            f"{distribution.name}-tenant",
            props,
            links={"distributionId": [twin]},
        )

    return apply


_FOREIGN_ACL = "arn:aws:wafv2:us-east-1:333333333333:global/webacl/allow-everything/0000"
_FOREIGN_GROUP = "arn:aws:wafv2:us-east-1:333333333333:global/rulegroup/partners/1"


def _geo_plus_gb(distribution: ResourceRecord) -> dict[str, Any]:
    locations = [*distribution.inputs["restrictions"]["geoRestriction"]["locations"], "GB"]
    return {"geoRestriction": {"restrictionType": "whitelist", "locations": locations}}


def _waf_rule(
    name: str, fault: str, change: Callable[[dict[str, Any]], None], rule: str
) -> Mutation:
    """A mutation editing the statement of the web ACL's rule `rule` in place."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        def edit_rules(rules: list[Any]) -> list[Any]:
            for each in rules:
                if each["name"] == rule:
                    change(each["statement"])
            return rules

        return _rules(records, edit_rules)

    return apply


def _override(rule: str, action: str) -> Callable[[dict[str, Any]], None]:
    def change(statement: dict[str, Any]) -> None:
        managed = statement["managedRuleGroupStatement"]
        managed["ruleActionOverrides"] = [{"name": rule, "actionToUse": {action: {}}}]

    return change


def _forwarded(statement: dict[str, Any]) -> None:
    rate = statement["rateBasedStatement"]
    rate["aggregateKeyType"] = "FORWARDED_IP"
    rate["forwardedIpConfig"] = {"headerName": "X-Forwarded-For", "fallbackBehavior": "NO_MATCH"}


@edit("waf-rule-group-foreign", "the web ACL evaluates a rule group of another account first")
def _waf_foreign_group(records: Records) -> Records:
    reference: dict[str, Any] = {
        "name": "Partners",
        "priority": 0,
        "overrideAction": {"none": {}},
        "statement": {"ruleGroupReferenceStatement": {"arn": _FOREIGN_GROUP}},
    }
    return _rules(records, lambda rules: [reference, *rules])


@edit("waf-separate-rule-allow", "a WebAclRule outside the ACL's list allows an IP set")
def _waf_separate_rule(records: Records) -> Records:
    acl = find(records, WEB_ACL)
    props: dict[str, Any] = {
        "webAclArn": acl.outputs["arn"],
        "region": "us-east-1",
        "name": "Partners",
        "priority": 0,
        "action": {"allow": {}},
        "statement": _PARTNERS,
    }
    token = "aws:wafv2/webAclRule:WebAclRule"
    return add(records, acl, token, "matching-waf-partners", props, links={"webAclArn": [acl]})


@edit("waf-rate-limit-challenge", "the rate-based rule only challenges: token holders go on")
def _waf_rate_challenge(records: Records) -> Records:
    def change(rules: list[Any]) -> list[Any]:
        for rule in rules:
            if "rateBasedStatement" in rule["statement"]:
                rule["action"] = {"challenge": {}}
        return rules

    return _rules(records, change)


WAF_BYPASSES = [
    _waf_rate_challenge,
    _waf_rule(
        "waf-managed-rule-override-allow",
        "a managed rule's match allowed past every later rule",
        _override("HostingProviderIPList", "allow"),
        "AWSManagedRulesAnonymousIpList",
    ),
    _waf_rule(
        "waf-managed-rule-counted-unlisted",
        "SQL injection in bodies only counted",
        _override("SQLi_BODY", "count"),
        "AWSManagedRulesSQLiRuleSet",
    ),
    _waf_rule(
        "waf-rate-limit-forwarded-ip",
        "the rate limit keyed on a header any client can forge",
        _forwarded,
        "RateLimitPerIp",
    ),
    _waf_rule(
        "waf-rate-limit-huge",
        "a rate limit no client reaches",
        lambda statement: statement["rateBasedStatement"].update(limit=2_000_000_000),
        "RateLimitPerIp",
    ),
    _waf_foreign_group,
    _waf_separate_rule,
    setting(
        "waf-foreign-acl", (DIST, ""), "webAclId", _FOREIGN_ACL, "a web ACL of another account"
    ),
    _tenant(
        "tenant-waf-disabled",
        "a tenant switches the WAF off",
        lambda _: {"webAcl": {"action": "disable"}},
    ),
    _tenant("tenant-geo-widened", "a tenant admits viewers from Great Britain", _geo_plus_gb),
    _tenant(
        "tenant-waf-override-foreign",
        "a tenant swaps in a web ACL of another account",
        lambda _: {"webAcl": {"action": "override", "arn": _FOREIGN_ACL}},
    ),
]


EDGE_LOGS = [
    removal("cloudfront-logging-removed", (DIST, ""), "loggingConfig", "CloudFront logs nothing"),
    _multitenant_unlogged,
    _multitenant_legacy_logging,
    setting("alb-access-logs-off", (LB, "alb"), "accessLogs.enabled", False, "no ALB logs"),
    _no_waf_logging,
    _waf_wrong_destination,
    _waf_count,
    _waf_no_sqli,
    _waf_no_rate,
    _waf_allow,
    _waf_scoped_group,
    _waf_rate_exempt,
]


# --- buckets, protection, queue timeouts, residency -----------------------------------------


@edit("s3-public-access-block-removed", "the ALB log bucket loses its public-access block")
def _no_public_access_block(records: Records) -> Records:
    return _without(records, PUBLIC_ACCESS_BLOCK, "alb-logs")


@edit("s3-encryption-removed", "the CloudFront log bucket declares no encryption")
def _no_bucket_encryption(records: Records) -> Records:
    return _without(records, BUCKET_SSE, "cloudfront-logs")


@edit("s3-tls-deny-removed", "the ALB log bucket's policy no longer refuses plain HTTP")
def _no_tls_deny(records: Records) -> Records:
    policy = find(records, BUCKET_POLICY, "alb-logs")
    document = _document(policy)
    document["Statement"] = [s for s in document["Statement"] if s.get("Effect") != "Deny"]
    put(policy, "policy", json.dumps(document))
    return records


@edit("results-table-unprotected", "the prod results table loses `protect`")
def _unprotected(records: Records) -> Records:
    table = find(records, TABLE, "results")
    return [dataclasses.replace(r, protect=False) if r is table else r for r in records]


STORES = [
    _no_public_access_block,
    setting(
        "s3-public-policy-allowed",
        *((PUBLIC_ACCESS_BLOCK, "cloudfront-logs"), "blockPublicPolicy", False),
        "a bucket policy may make the log bucket public",
    ),
    _no_bucket_encryption,
    _no_tls_deny,
    _unprotected,
    setting(
        "sqs-visibility-below-grace",
        *((QUEUE, "queue"), "visibilityTimeoutSeconds", 60),
        "a message reappears while a stopping worker (90 s grace) still holds it",
    ),
    removal(
        "keda-scale-down-behaviour-removed",
        *((SCALED_OBJECT, ""), "spec.advanced"),
        "the HPA's 300 s default drains workers, cooldownPeriod ignored",
    ),
    setting(
        "keda-scale-down-window-too-long",
        *(
            (SCALED_OBJECT, ""),
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown"
            ".stabilizationWindowSeconds",
            7200,
        ),
        "a window the HPA rejects",
    ),
    setting("region-london", (QUEUE, "queue"), "region", "eu-west-2", "the queue in London"),
    setting(
        "region-us-east-1-table", (TABLE, "results"), "region", "us-east-1", "results in the US"
    ),
]


# --- identity -------------------------------------------------------------------------------


def _grant(name: str, fault: str, statement: dict[str, Any]) -> Mutation:
    """A mutation adding a statement to the worker's queue policy."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        _with_statement(find(records, ROLE_POLICY, "worker"), statement)
        return records

    return apply


@edit("iam-role-inline-star", "the worker role gets an inline policy allowing everything")
def _inline_star(records: Records) -> Records:
    document = {"Version": "2012-10-17", "Statement": [_star("*")]}
    put(
        find(records, ROLE, "worker"),
        "inlinePolicies",
        [{"name": "debug", "policy": json.dumps(document)}],
    )
    return records


@edit("iam-managed-policy-star", "a new managed policy allowing every action")
def _managed_star(records: Records) -> Records:
    role = find(records, ROLE, "worker")
    document = {"Version": "2012-10-17", "Statement": [_star("*")]}
    return add(
        records, role, "aws:iam/policy:Policy", "matching-admin", {"policy": json.dumps(document)}
    )


@edit("role-trust-any-principal", "the KEDA role may be assumed by any AWS principal")
def _open_trust(records: Records) -> Records:
    statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    _with_statement(find(records, ROLE, "keda-operator"), statement, "assumeRolePolicy")
    return records


def _star(action: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*"}


@edit("trust-account-root", "the worker role trusts the whole account, unconditionally")
def _account_trust(records: Records) -> Records:
    role = find(records, ROLE, "worker")
    account = role.outputs["arn"].split(":")[4]
    principal = {"AWS": f"arn:aws:iam::{account}:root"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    _with_statement(role, statement, "assumeRolePolicy")
    return records


@edit("trust-second-service", "EC2 may assume the worker role as well as Pod Identity")
def _second_service(records: Records) -> Records:
    principal = {"Service": "ec2.amazonaws.com"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    _with_statement(find(records, ROLE, "worker"), statement, "assumeRolePolicy")
    return records


@edit("pod-identity-second-binding", "a second service account is bound to the worker role")
def _second_binding(records: Records) -> Records:
    role, binding = find(records, ROLE, "worker"), find(records, POD_IDENTITY, "worker")
    props = {**binding.inputs, "serviceAccount": "default", "roleArn": role.outputs["arn"]}
    return add(
        records, binding, POD_IDENTITY, "matching-worker-default", props, links={"roleArn": [role]}
    )


def _on_queue(name: str, fault: str, **statement: Any) -> Mutation:
    """A mutation granting the worker `statement` (Effect Allow) on the work queue."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        arn = find(records, QUEUE, "queue").outputs["arn"]
        grant = {"Effect": "Allow", "Resource": arn, **statement}
        _with_statement(find(records, ROLE_POLICY, "worker"), grant)
        return records

    return apply


def _attached(name: str, fault: str, policy_arn: str) -> Mutation:
    """A mutation attaching `policy_arn` to the worker role, as a literal."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        role = find(records, ROLE, "worker")
        props = {"role": role.outputs["name"], "policyArn": policy_arn}
        token = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
        return add(records, role, token, f"matching-worker-{name}", props, links={"role": [role]})

    return apply


@edit("kms-key-policy-wildcard-action", "the alert key lets the worker run kms:Re*")
def _key_wildcard(records: Records) -> Records:
    principal = {"AWS": find(records, ROLE, "worker").outputs["arn"]}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "kms:Re*", "Resource": "*"}
    _with_statement(find(records, KEY, "alerts-key"), statement)
    return records


@edit("iam-role-managed-arns-foreign", "the worker role lists a policy of another account")
def _foreign_managed_arns(records: Records) -> Records:
    put(find(records, ROLE, "worker"), "managedPolicyArns", [_FOREIGN_POLICY])
    return records


_FOREIGN_POLICY = "arn:aws:iam::333333333333:policy/break-glass"

IAM_PATTERNS = [
    _on_queue(
        "iam-action-prefix-wildcard",
        "the worker may run iam:P* and sts:Assume*",
        Action=["iam:P*", "sts:Assume*"],
    ),
    _on_queue(
        "iam-action-infix-wildcard", "the worker may run sqs:*Message*", Action="sqs:*Message*"
    ),
    _key_wildcard,
    _on_queue(
        "iam-resource-any-account",
        "the worker may receive from any queue anywhere",
        Action="sqs:ReceiveMessage",
        Resource="arn:aws:sqs:*:*:*",
    ),
    _on_queue(
        "iam-resource-whole-service",
        "the worker may receive from every queue of the account",
        Action="sqs:ReceiveMessage",
        Resource="arn:aws:sqs:eu-central-1:222222222222:*",
    ),
    _on_queue(
        "iam-resource-shared-bucket-names",
        "the worker may read any bucket named matching-*",
        Action="s3:GetObject",
        Resource="arn:aws:s3:::matching-*/*",
    ),
    _on_queue(
        "iam-pass-every-role",
        "the worker may pass any role of the account",
        Action="iam:PassRole",
        Resource="arn:aws:iam::222222222222:role/*",
    ),
    _attached(
        "iam-managed-admin-amplify",
        "an admin-equivalent AWS policy on the worker",
        "arn:aws:iam::aws:policy/AdministratorAccess-Amplify",
    ),
    _attached(
        "iam-managed-job-function",
        "a job-function AWS policy on the worker",
        "arn:aws:iam::aws:policy/job-function/SystemAdministrator",
    ),
    _attached(
        "iam-managed-unlisted",
        "an AWS policy no one allowed on the worker",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ),
    _attached(
        "iam-managed-foreign-customer",
        "a customer policy of another account on the worker",
        _FOREIGN_POLICY,
    ),
    _foreign_managed_arns,
]

IDENTITY = [
    _grant("iam-star-action", 'the worker may do "*"', _star("*")),
    _grant("iam-service-wildcard", 'the worker may do "sqs:*"', _star("sqs:*")),
    _grant(
        "iam-not-action",
        "the worker may do everything but IAM",
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    ),
    _inline_star,
    _managed_star,
    _open_trust,
    _grant(
        "iam-resource-star",
        'the worker may receive from every queue ("Resource": "*")',
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"},
    ),
    _account_trust,
    _second_service,
    _second_binding,
]


# --- principals and resources of other accounts ----------------------------------------------

# An account nobody here operates.
_STRANGER = "444444444444"


@edit("kms-key-foreign-account", "the queue key lets another account's root decrypt")
def _foreign_key_user(records: Records) -> Records:
    principal = {"AWS": f"arn:aws:iam::{_STRANGER}:root"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt"}
    _with_statement(find(records, KEY, "queue-key"), {**statement, "Resource": "*"})
    return records


@edit("trust-foreign-account", "a role of another account may assume the worker role")
def _foreign_trust(records: Records) -> Records:
    principal = {"AWS": f"arn:aws:iam::{_STRANGER}:role/reader"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    _with_statement(find(records, ROLE, "worker"), statement, "assumeRolePolicy")
    return records


def _queue_star(name: str, fault: str, condition: Callable[[str], dict[str, Any]]) -> Mutation:
    """A mutation admitting "*" to the work queue under `condition` (given the stack's account)."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        arn = find(records, QUEUE, "queue").outputs["arn"]
        statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:ReceiveMessage"}
        _with_statement(
            find(records, QUEUE_POLICY, "queue-tls-only"),
            {**statement, "Resource": arn, "Condition": condition(arn.split(":")[4])},
        )
        return records

    return apply


@edit("topic-foreign-subscriber", "another account may subscribe to the alert topic")
def _foreign_subscriber(records: Records) -> Records:
    policy = find(records, TOPIC_POLICY)
    principal = {"AWS": _STRANGER}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sns:Subscribe"}
    _with_statement(policy, {**statement, "Resource": policy.inputs["arn"]})
    return records


@edit("kms-grant-foreign-account", "a KMS grant lets another account decrypt with the queue key")
def _foreign_grant(records: Records) -> Records:
    key = find(records, KEY, "queue-key")
    props = {
        "keyId": key.outputs["id"],
        "granteePrincipal": f"arn:aws:iam::{_STRANGER}:root",
        "operations": ["Decrypt"],
    }
    return add(records, key, "aws:kms/grant:Grant", "matching-queue-key-grant", props)


@edit("alerts-copied-elsewhere", "the alert topic delivers to another account's queue too")
def _foreign_subscription(records: Records) -> Records:
    topic = find(records, TOPIC)
    props = {
        "topic": topic.outputs["arn"],
        "protocol": "sqs",
        "endpoint": f"arn:aws:sqs:eu-central-1:{_STRANGER}:alerts-copy",
    }
    return add(
        records, topic, "aws:sns/topicSubscription:TopicSubscription", "matching-copy", props
    )


@edit("eks-outside-identity-provider", "a partner's OpenID Connect issuer signs users in")
def _outside_issuer(records: Records) -> Records:
    entry = find(records, "aws:eks/accessEntry:AccessEntry", "karpenter")
    issuer = {"identityProviderConfigName": "partner", "issuerUrl": "https://sso.example.org"}
    props = {"clusterName": entry.inputs["clusterName"], "oidc": {**issuer, "clientId": "eks"}}
    token = "aws:eks/identityProviderConfig:IdentityProviderConfig"
    return add(records, entry, token, "matching-partner-sso", props)


IDENTITY_ACCOUNTS = [
    _queue_star(
        "queue-star-confined-elsewhere",
        'the queue admits "*" from another account\'s source',
        lambda _: {"StringEquals": {"aws:SourceAccount": _STRANGER}},
    ),
    _queue_star(
        "queue-star-foreign-organisation",
        'the queue admits "*" from a stranger organisation',
        lambda _: {"StringEquals": {"aws:PrincipalOrgID": "o-stranger123"}},
    ),
    # ForAllValues holds when the request carries no aws:SourceAccount at all.
    _queue_star(
        "queue-star-for-all-values",
        'the queue admits "*" under a ForAllValues "confinement"',
        lambda ours: {"ForAllValues:StringEquals": {"aws:SourceAccount": ours}},
    ),
    _outside_issuer,
    setting(
        "eks-aws-auth-config-map",
        (EKS, ""),
        "authenticationMode",
        "API_AND_CONFIG_MAP",
        "the aws-auth ConfigMap may grant access beside the access entries",
    ),
    _foreign_grant,
    _foreign_subscription,
    setting(
        "provider-assumes-foreign-role",
        (f"{PROVIDER_PREFIX}aws", ""),
        "assumeRoles",
        [{"roleArn": f"arn:aws:iam::{_STRANGER}:role/deployer", "sessionName": "x"}],
        "the stack deploys as a role of another account",
    ),
    _foreign_key_user,
    _foreign_trust,
    _foreign_subscriber,
    _grant(
        "iam-assume-foreign-role",
        "the worker may assume a role in another account",
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": f"arn:aws:iam::{_STRANGER}:role/exporter",
        },
    ),
    setting(
        "eks-admin-foreign-account",
        (EKS, ""),
        "accessEntries.admin-0.principalArn",
        f"arn:aws:iam::{_STRANGER}:role/platform-admin",
        "a role of another account administers the cluster",
    ),
    setting(
        "node-access-entry-foreign-account",
        ("aws:eks/accessEntry:AccessEntry", "karpenter"),
        "principalArn",
        f"arn:aws:iam::{_STRANGER}:role/nodes",
        "nodes of another account may join the cluster",
    ),
]


# --- Kubernetes objects that make load balancers --------------------------------------------


def _manifest(name: str, fault: str, token: str, body: dict[str, Any]) -> Mutation:
    """A mutation adding a Kubernetes object beside the worker Deployment."""

    api_version, kind = token.split(":", 1)[1].rsplit(":", 1)

    @edit(name, fault)
    def apply(records: Records) -> Records:
        sibling = find(records, DEPLOYMENT)
        metadata = {
            "name": f"matching-{name}",
            "namespace": sibling.inputs["metadata"]["namespace"],
        }
        props = {
            "apiVersion": api_version,
            "kind": kind.removesuffix("Patch"),
            "metadata": metadata,
        }
        return add(records, sibling, token, f"matching-{name}", {**props, **body})

    return apply


@edit("k8s-config-group-privileged-daemon-set", "a privileged DaemonSet as yaml ConfigGroup text")
def _config_group_daemon_set(records: Records) -> Records:
    text = (
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: monitoring}\n"
        "spec:\n  template:\n    spec:\n      hostPID: true\n      containers:\n      - name: a\n"
        "        image: agent:1.0\n        securityContext: {privileged: true}\n"
        "        resources: {requests: {cpu: 10m, memory: 10Mi}, limits: {memory: 10Mi}}\n"
    )
    token = "kubernetes:yaml/v2:ConfigGroup"
    return add(records, find(records, DEPLOYMENT), token, "matching-agent", {"yaml": [text]})


@edit("k8s-binding-foreign-target-group", "pods bound to a target group of another load balancer")
def _foreign_binding(records: Records) -> Records:
    binding = find(records, "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")
    arn = (
        "arn:aws:elasticloadbalancing:eu-central-1:222222222222:targetgroup/public/0123456789abcdef"
    )
    put(binding, "spec.targetGroupARN", arn)
    deps = {k: v for k, v in binding.property_dependencies.items() if k != "spec"}
    literal = dataclasses.replace(binding, property_dependencies=deps)
    return [literal if r is binding else r for r in records]


@edit("node-class-public-ip", "Karpenter's nodes get public IP addresses")
def _public_node_class(records: Records) -> Records:
    put(find(records, NODE_CLASS), "spec.associatePublicIPAddress", True)
    return records


_LB_SERVICE = {"spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8080}]}}
_INGRESS = {"spec": {"ingressClassName": "alb", "defaultBackend": {"service": {"name": "api"}}}}
_GATEWAY = {"spec": {"gatewayClassName": "aws-alb", "listeners": [{"name": "https", "port": 443}]}}

_OPEN_BINDING = {
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    "subjects": [{"kind": "Group", "name": "system:unauthenticated"}],
}

KUBERNETES = [
    _manifest(
        "k8s-binding-to-anonymous",
        "every caller of the API endpoint may read the cluster",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        _OPEN_BINDING,
    ),
    _manifest(
        "k8s-service-load-balancer",
        "a LoadBalancer Service",
        "kubernetes:core/v1:Service",
        _LB_SERVICE,
    ),
    _manifest(
        "k8s-service-patch-load-balancer",
        "a patch turning a Service into a LoadBalancer",
        "kubernetes:core/v1:ServicePatch",
        _LB_SERVICE,
    ),
    _manifest(
        "k8s-ingress",
        "an Ingress (the controller makes an ALB)",
        "kubernetes:networking.k8s.io/v1:Ingress",
        _INGRESS,
    ),
    _manifest(
        "k8s-ingress-extensions-v1beta1",
        "an Ingress under the old extensions API",
        "kubernetes:extensions/v1beta1:Ingress",
        _INGRESS,
    ),
    _manifest(
        "k8s-gateway",
        "a Gateway API Gateway (the controller makes a load balancer)",
        "kubernetes:gateway.networking.k8s.io/v1:Gateway",
        _GATEWAY,
    ),
    setting(
        "helm-grafana-load-balancer",
        *((RELEASE, "prometheus"), "values.grafana.service.type", "LoadBalancer"),
        "Grafana exposed through a LoadBalancer Service",
    ),
    setting(
        "helm-grafana-ingress",
        *((RELEASE, "prometheus"), "values.grafana.ingress.enabled", True),
        "Grafana exposed through an Ingress",
    ),
    _config_group_daemon_set,
    _manifest(
        "k8s-patch-host-network",
        "a patch putting a Deployment on the node's network",
        "kubernetes:apps/v1:DeploymentPatch",
        {"spec": {"template": {"spec": {"hostNetwork": True, "containers": [{"name": "x"}]}}}},
    ),
    _foreign_binding,
    _public_node_class,
]


# --- pods -----------------------------------------------------------------------------------


def _worker_pod(name: str, fault: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    """A mutation editing the worker Deployment's pod spec (inputs and outputs alike)."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        for state in _states(find(records, DEPLOYMENT, "worker")):
            change(state["spec"]["template"]["spec"])
        return records

    return apply


def _first_container(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda pod: change(pod["containers"][0])


def _init_container(pod: dict[str, Any]) -> None:
    image = pod["containers"][0]["image"]
    pod["initContainers"] = [{"name": "migrate", "image": image, "command": ["migrate"]}]


PODS = [
    _worker_pod(
        "pod-privileged",
        "the worker container runs privileged",
        _first_container(lambda c: c["securityContext"].update(privileged=True)),
    ),
    _worker_pod(
        "pod-host-network",
        "the worker pod joins the node's network",
        lambda p: p.update(hostNetwork=True),
    ),
    _worker_pod(
        "pod-host-path",
        "the worker mounts the node's filesystem",
        lambda p: p["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
    ),
    _worker_pod(
        "pod-writable-root",
        "the worker's root filesystem is writable",
        _first_container(lambda c: c["securityContext"].pop("readOnlyRootFilesystem")),
    ),
    _worker_pod(
        "pod-init-container-unrestricted",
        "an init container with no security context and no resources",
        _init_container,
    ),
    _worker_pod(
        "pod-memory-limit-removed",
        "the worker may take its node's memory",
        _first_container(lambda c: c["resources"]["limits"].pop("memory")),
    ),
    _worker_pod(
        "pod-capabilities-added",
        "the worker adds SYS_ADMIN to its capabilities",
        _first_container(lambda c: c["securityContext"]["capabilities"].update(add=["SYS_ADMIN"])),
    ),
    _worker_pod(
        "pod-host-port",
        "the worker binds port 80 of its node",
        _first_container(lambda c: c.update(ports=[{"containerPort": 8080, "hostPort": 80}])),
    ),
    _manifest(
        "k8s-scaled-job-privileged",
        "a KEDA ScaledJob whose pods run privileged",
        "kubernetes:keda.sh/v1alpha1:ScaledJob",
        {
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "job",
                                        "image": "job:1.0",
                                        "securityContext": {"privileged": True},
                                        "resources": {
                                            "requests": {"cpu": "1", "memory": "1Gi"},
                                            "limits": {"memory": "1Gi"},
                                        },
                                    }
                                ]
                            }
                        }
                    }
                }
            }
        },
    ),
    _manifest(
        "k8s-patch-adds-sidecar",
        "a patch adds a container with no security context to a Deployment",
        "kubernetes:apps/v1:DeploymentPatch",
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "sidecar", "image": "tool:1.0"}]}}
            }
        },
    ),
    _worker_pod(
        "pod-image-latest",
        "the worker runs a moving `latest` tag",
        _first_container(lambda c: c.update(image=c["image"].rsplit(":", 1)[0] + ":latest")),
    ),
    _worker_pod(
        "pod-image-foreign-registry",
        "the worker pulls a pinned image from a registry nobody here controls",
        _first_container(lambda c: c.update(image="ghcr.io/someone/matching-worker:1.4.2")),
    ),
]


# --- node and persistent volumes, and where nodes launch from -------------------------------


def _first_volume(token: str, part: str, path: tuple[str, ...], encrypted: Any) -> Mutate:
    """Sets `encrypted` on the first EBS mapping at `path` of one resource."""

    def apply(records: Records) -> Records:
        for state in _states(find(records, token, part)):
            mappings: Any = state
            for step in path:
                mappings = mappings[step]
            mappings[0]["ebs"]["encrypted"] = encrypted
        return records

    return apply


@edit("node-group-literal-template", "system nodes launch from a template id of elsewhere")
def _literal_template(records: Records) -> Records:
    group = find(records, NODE_GROUP)
    put(group, "launchTemplate", {"id": "lt-0123456789abcdef0", "version": "1"})
    deps = {k: v for k, v in group.property_dependencies.items() if k != "launchTemplate"}
    literal = dataclasses.replace(group, property_dependencies=deps)
    return [literal if r is group else r for r in records]


def _rename_first_device(token: str, path: tuple[str, ...], device: str) -> Mutate:
    def apply(records: Records) -> Records:
        for state in _states(find(records, token)):
            mappings: Any = state
            for step in path:
                mappings = mappings[step]
            mappings[0]["deviceName"] = device
        return records

    return apply


@edit("persistent-volume-static-ebs", "a PersistentVolume of an EBS volume made elsewhere")
def _static_volume(records: Records) -> Records:
    sibling = find(records, DEPLOYMENT)
    spec = {
        "capacity": {"storage": "100Gi"},
        "accessModes": ["ReadWriteOnce"],
        "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0123456789abcdef0"},
    }
    props = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "records"}}
    token = "kubernetes:core/v1:PersistentVolume"
    return add(records, sibling, token, "matching-records-pv", {**props, "spec": spec})


@edit(
    "asg-foreign-launch-configuration",
    "an Auto Scaling group on a launch configuration of elsewhere",
)
def _asg_foreign_configuration(records: Records) -> Records:
    template = find(records, LAUNCH_TEMPLATE)
    props = {"launchConfiguration": "legacy-nodes", "minSize": 1, "maxSize": 3}
    return add(records, template, "aws:autoscaling/group:Group", "matching-legacy-asg", props)


@edit("batch-without-template", "a Batch compute environment on the AMI's own disks")
def _batch_without_template(records: Records) -> Records:
    template = find(records, LAUNCH_TEMPLATE)
    compute = {"type": "EC2", "maxVcpus": 16, "instanceTypes": ["m7i"], "subnets": ["subnet-1"]}
    props = {"type": "MANAGED", "computeResources": compute}
    token = "aws:batch/computeEnvironment:ComputeEnvironment"
    return add(records, template, token, "matching-batch", props)


@edit("ebs-volume-unencrypted", "a plain EBS volume with encryption left to the account")
def _plain_volume(records: Records) -> Records:
    template = find(records, LAUNCH_TEMPLATE)
    props = {"availabilityZone": "eu-central-1a", "size": 100, "type": "gp3"}
    return add(records, template, "aws:ebs/volume:Volume", "matching-scratch", props)


VOLUMES = [
    _literal_template,
    removal(
        "node-group-no-template",
        *((NODE_GROUP, ""), "launchTemplate"),
        "EKS's own template: IMDSv1 and a disk left to the account",
    ),
    Mutation(
        "launch-template-ebs-unencrypted",
        "the system nodes' root volume unencrypted",
        _first_volume(LAUNCH_TEMPLATE, "", ("blockDeviceMappings",), "false"),
    ),
    removal(
        "launch-template-no-mappings",
        *((LAUNCH_TEMPLATE, ""), "blockDeviceMappings"),
        "the AMI's root volume as it comes",
    ),
    Mutation(
        "node-class-ebs-unencrypted",
        "Karpenter's nodes get unencrypted root volumes",
        _first_volume(NODE_CLASS, "", ("spec", "blockDeviceMappings"), False),
    ),
    setting(
        "storage-class-unencrypted",
        *((STORAGE_CLASS, "encrypted-gp3"), "parameters.encrypted", "false"),
        "Prometheus's persistent volumes unencrypted",
    ),
    _plain_volume,
    Mutation(
        "launch-template-root-unmapped",
        "the system nodes map only a data disk: the root volume is the AMI's",
        _rename_first_device(LAUNCH_TEMPLATE, ("blockDeviceMappings",), "/dev/xvdb"),
    ),
    setting(
        "storage-class-encrypted-capitalised",
        *((STORAGE_CLASS, "encrypted-gp3"), "parameters.encrypted", "True"),
        "a spelling the CSI driver does not read as true",
    ),
    _static_volume,
    _asg_foreign_configuration,
    _batch_without_template,
    setting(
        "subnet-public-ip-on-launch",
        *(("aws:ec2/subnet:Subnet", "private-0"), "mapPublicIpOnLaunch", True),
        "nodes launched in the first private subnet get public IPs",
    ),
]


# --- namespaces and Helm charts -------------------------------------------------------------

_ENFORCE = "pod-security.kubernetes.io/enforce"


def _relabel(name: str, fault: str, part: str, level: str | None) -> Mutation:
    """Sets (or, with None, drops) the Pod Security enforce label of one namespace."""

    @edit(name, fault)
    def apply(records: Records) -> Records:
        for state in _states(find(records, NAMESPACE, part)):
            labels = state["metadata"]["labels"]
            if level is None:
                labels.pop(_ENFORCE)
            else:
                labels[_ENFORCE] = level
        return records

    return apply


NAMESPACES = [
    _relabel(
        "namespace-privileged",
        "the workers' namespace admits privileged pods",
        "matching-namespace",
        "privileged",
    ),
    _relabel(
        "namespace-baseline", "Karpenter's namespace relaxed to baseline", "karpenter", "baseline"
    ),
    _relabel("namespace-unlabelled", "KEDA's namespace with no enforce label", "keda", None),
    setting(
        "helm-release-creates-namespace",
        *((RELEASE, "keda"), "createNamespace", True),
        "KEDA's release makes its own, unlabelled namespace",
    ),
]

CHARTS = [
    setting(
        "helm-chart-unreviewed-version",
        *((RELEASE, "karpenter"), "version", "1.15.0"),
        "Karpenter at a version no one rendered",
    ),
    removal("helm-chart-unpinned", (RELEASE, "keda"), "version", "KEDA at whatever is newest"),
    setting(
        "helm-chart-other-repository",
        *((RELEASE, "prometheus"), "repositoryOpts.repo", "https://charts.example.org"),
        "the monitoring chart from an unreviewed repository",
    ),
    setting(
        "helm-value-files",
        *((RELEASE, "load-balancer"), "valueYamlFiles", ["overrides/lbc.yaml"]),
        "values the pack can't read",
    ),
    setting(
        "helm-value-file-asset",
        *((RELEASE, "keda"), "valueYamlFiles", [{"text": "service:\n  type: LoadBalancer\n"}]),
        "values from an asset the pack can't read",
    ),
    setting(
        "helm-values-embed-ingress",
        *((RELEASE, "prometheus"), "values.extraManifests", ["apiVersion: v1\nkind: Service"]),
        "a reviewed chart asked to render an object of the values' own",
    ),
    setting(
        "helm-post-renderer",
        *((RELEASE, "prometheus"), "postrender", "./kustomize-wrapper.sh"),
        "objects changed after review",
    ),
]

CATALOGUE: list[Mutation] = [
    *EDGE_BALANCERS,
    *SECURITY_GROUPS,
    *CLOUDFRONT,
    *EDGE_LOGS,
    *WAF_BYPASSES,
    *CLUSTER,
    *VOLUMES,
    *DATA,
    *STORES,
    *IDENTITY,
    *IDENTITY_ACCOUNTS,
    *IAM_PATTERNS,
    *KUBERNETES,
    *NAMESPACES,
    *CHARTS,
    *PODS,
]
