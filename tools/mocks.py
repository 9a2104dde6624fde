"""Realistic answers for the Pulumi SDK's mock monitor: what AWS would say, without AWS.

Every invoke the program makes is answered here, and an invoke with no answer is an error
that names its token, so a new lookup can never slip through with an empty result. Resource
outputs follow the shapes AWS returns (ids with their real prefixes, ARNs in the stack's
partition, region and account), because the policy pack matches resources by those ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pulumi

# AWS-managed objects whose ids are the same in every account.
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
MANAGED_CACHE_POLICIES = {"Managed-CachingDisabled": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}
MANAGED_ORIGIN_REQUEST_POLICIES = {
    "Managed-AllViewerExceptHostHeader": "b689b0a8-53d0-40ab-baf2-68738e2966ac"
}
MANAGED_RESPONSE_HEADERS_POLICIES = {
    "Managed-SecurityHeadersPolicy": "67f7725c-6f97-4210-82d7-5512b31e9d03"
}
# The origin-facing list's id differs per region; it is the same for every account.
ORIGIN_FACING_PREFIX_LISTS = {"eu-central-1": "pl-a3a144ca", "us-east-1": "pl-3b927c52"}
# The account Elastic Load Balancing writes access logs from, per region (regions older than
# August 2022; newer ones use the log-delivery service principal instead).
ELB_LOG_ACCOUNTS = {
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
}
# CloudFront answers with this hosted zone id for every distribution's alias target.
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
ORIGIN_FACING_ENTRIES = 55

# ARN layouts that do not follow `arn:<p>:<service>:<region>:<account>:<kind>/<name>`: IAM is
# global, S3 bucket ARNs carry neither region nor account, log groups use `log-group:`.
_ARN_FORMATS = {
    "aws:iam/role:Role": "arn:{p}:iam::{a}:role/{n}",
    "aws:iam/policy:Policy": "arn:{p}:iam::{a}:policy/{n}",
    "aws:iam/user:User": "arn:{p}:iam::{a}:user/{n}",
    "aws:s3/bucket:Bucket": "arn:{p}:s3:::{n}",
    "aws:s3/bucketV2:BucketV2": "arn:{p}:s3:::{n}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}",
    "aws:sns/topic:Topic": "arn:{p}:sns:{r}:{a}:{n}",
    "aws:eks/cluster:Cluster": "arn:{p}:eks:{r}:{a}:cluster/{n}",
}

# Id prefixes AWS uses; the pack matches security groups to load balancers by id.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:cloudfront/distribution:Distribution": "E",
    "aws:cloudfront/vpcOrigin:VpcOrigin": "vo_",
}


class OfflineGapError(LookupError):
    """An invoke the mocks cannot answer as AWS would: a lookup they hold no data for."""


@dataclass(frozen=True)
class Account:
    """The AWS account and region the stack deploys into."""

    account_id: str
    region: str
    partition: str = "aws"


class PlatformMocks(pulumi.runtime.Mocks):
    """Answers invokes and fills in resource outputs as AWS, EKS and Helm would."""

    def __init__(self, account: Account, *, preview: bool = False):
        self.account = account
        self.preview = preview
        # VPCs the program made, by id, so that a lookup finds them as AWS would.
        self._vpcs: dict[str, dict[str, Any]] = {}
        self._invokes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._zones,
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller,
            "aws:index/getRegion:getRegion": self._region,
            "aws:index/getPartition:getPartition": self._partition,
            "aws:ec2/getManagedPrefixList:getManagedPrefixList": self._prefix_list,
            "aws:ec2/getVpc:getVpc": self._vpc,
            "aws:elb/getServiceAccount:getServiceAccount": self._elb_account,
            "aws:cloudfront/getCachePolicy:getCachePolicy": _managed(MANAGED_CACHE_POLICIES),
            "aws:cloudfront/getOriginRequestPolicy:getOriginRequestPolicy": _managed(
                MANAGED_ORIGIN_REQUEST_POLICIES
            ),
            "aws:cloudfront/getResponseHeadersPolicy:getResponseHeadersPolicy": _managed(
                MANAGED_RESPONSE_HEADERS_POLICIES
            ),
            "aws:route53/getZone:getZone": self._hosted_zone,
        }

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        answer = self._invokes.get(args.token)
        if answer is None:
            raise OfflineGapError(
                f"the offline mocks have no answer for invoke {args.token}; add one to "
                "tools/mocks.py with the values AWS returns"
            )
        # The SDK declares these as bare `dict`; the engine only ever sends string keys.
        raw = args.args  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return answer(cast(dict[str, Any], raw)), []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(cast(dict[str, Any], args.inputs))  # pyright: ignore[reportUnknownMemberType]
        if self.preview and not args.typ.startswith("pulumi:providers:"):
            # A first preview: the resource does not exist, so it has no id and AWS has
            # computed none of its outputs; the SDK turns what is missing into unknowns.
            return "", inputs
        resource_id = args.resource_id or _physical_id(args.typ, args.name)
        outputs = {**inputs, **self._computed(args.typ, args.name, resource_id, inputs)}
        if args.typ == "aws:ec2/vpc:Vpc":
            self._vpcs[resource_id] = outputs
        return resource_id, outputs

    def _computed(
        self, token: str, name: str, resource_id: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        if token.startswith("pulumi:providers:"):
            return {}
        if token == "eks:index:Cluster":
            return self._eks_cluster(name, inputs)
        if not token.startswith("aws:"):
            return {}

        region = inputs.get("region") or self.account.region
        # The AWS provider's state carries the id as a property too; stack policies that
        # match one resource to another (security group to load balancer) rely on it.
        computed: dict[str, Any] = {
            "id": resource_id,
            "arn": self._arn(token, inputs.get("name") or resource_id, region),
            "region": region,
        }
        extra = _EXTRA_OUTPUTS.get(token)
        if extra is not None:
            computed.update(extra(_Registration(self.account, name, resource_id, inputs)))
        return computed

    def _arn(self, token: str, resource: str, region: str) -> str:
        """The ARN AWS gives a resource of `token`; services differ in region and layout."""
        partition, account = self.account.partition, self.account.account_id
        special = _ARN_FORMATS.get(token)
        if special is not None:
            return special.format(p=partition, r=region, a=account, n=resource)
        service = token.split(":")[1].split("/", maxsplit=1)[0]
        kind = token.rsplit(":", 1)[1].lower()
        return f"arn:{partition}:{service}:{region}:{account}:{kind}/{resource}"

    def _eks_cluster(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        cluster_name = inputs.get("name") or name
        endpoint = f"https://{_hex(name, 32).upper()}.gr7.{self.account.region}.eks.amazonaws.com"
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster_name, "cluster": {"server": endpoint}}],
            "contexts": [{"name": "aws", "context": {"cluster": cluster_name, "user": "aws"}}],
            "current-context": "aws",
            "users": [{"name": "aws", "user": {"exec": {"command": "aws"}}}],
        }
        return {
            "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig),
            "clusterSecurityGroupId": _physical_id("aws:ec2/securityGroup:SecurityGroup", name),
            "nodeSecurityGroupId": _physical_id("aws:ec2/securityGroup:SecurityGroup", name + "n"),
            "oidcIssuer": endpoint.removeprefix("https://"),
        }

    def _zones(self, _: dict[str, Any]) -> dict[str, Any]:
        letters = "abc"
        return {
            "names": [f"{self.account.region}{letter}" for letter in letters],
            "zoneIds": [f"euc1-az{index}" for index in (1, 2, 3)],
            "state": "available",
        }

    def _caller(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "accountId": self.account.account_id,
            "arn": f"arn:aws:iam::{self.account.account_id}:role/deployer",
            "userId": "AROAEXAMPLEDEPLOYER",
            "id": self.account.account_id,
        }

    def _region(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"name": self.account.region, "region": self.account.region}

    def _partition(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"partition": self.account.partition, "dnsSuffix": "amazonaws.com"}

    def _elb_account(self, args: dict[str, Any]) -> dict[str, Any]:
        region = args.get("region") or self.account.region
        if region not in ELB_LOG_ACCOUNTS:
            raise OfflineGapError(f"no Elastic Load Balancing log account known for {region}")
        account = ELB_LOG_ACCOUNTS[region]
        return {"id": account, "arn": f"arn:aws:iam::{account}:root", "region": region}

    def _vpc(self, args: dict[str, Any]) -> dict[str, Any]:
        vpc = self._vpcs.get(str(args.get("id")))
        if vpc is None:
            raise OfflineGapError(f"no VPC {args.get('id')!r} in this program")
        cidr = vpc.get("cidrBlock")
        return {
            "id": args["id"],
            "arn": vpc["arn"],
            "cidrBlock": cidr,
            "cidrBlockAssociations": [{"cidrBlock": cidr, "state": "associated"}],
            "default": False,
            "state": "available",
            "ownerId": self.account.account_id,
            "tags": vpc.get("tags") or {},
        }

    def _hosted_zone(self, args: dict[str, Any]) -> dict[str, Any]:
        # Route 53 answers a public zone's name with a trailing dot and its id without a prefix.
        name = str(args.get("name", "")).rstrip(".")
        if not name or args.get("privateZone"):
            raise OfflineGapError(f"no public hosted zone named {name!r} in this account")
        zone_id = "Z" + _hex(name, 20).upper()
        servers = ("ns-1093.awsdns-08.org", "ns-1961.awsdns-53.co.uk", "ns-201.awsdns-25.com")
        return {
            "id": zone_id,
            "zoneId": zone_id,
            "name": f"{name}.",
            "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
            "privateZone": False,
            "nameServers": [*servers, "ns-654.awsdns-18.net"],
            "resourceRecordSetCount": 4,
            "callerReference": _hex(name + "ref", 36),
            "comment": "",
            "tags": {},
        }

    def _prefix_list(self, args: dict[str, Any]) -> dict[str, Any]:
        region = args.get("region") or self.account.region
        if args.get("name") != CLOUDFRONT_ORIGIN_FACING or region not in ORIGIN_FACING_PREFIX_LISTS:
            raise OfflineGapError(
                f"no managed prefix list {args.get('name')!r} in {region}: the offline mocks "
                "know the CloudFront origin-facing list's id only for "
                f"{', '.join(sorted(ORIGIN_FACING_PREFIX_LISTS))}; add the region's id to "
                "tools/mocks.py and policies/config/<stack>.json"
            )
        list_id = ORIGIN_FACING_PREFIX_LISTS[region]
        return {
            "id": list_id,
            "name": CLOUDFRONT_ORIGIN_FACING,
            "addressFamily": "IPv4",
            "maxEntries": ORIGIN_FACING_ENTRIES,
            "arn": f"arn:aws:ec2:{region}:aws:prefix-list/{list_id}",
            "entries": [],
        }


def _managed(ids: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def answer(args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name")
        if name not in ids:
            raise OfflineGapError(f"no AWS-managed CloudFront policy named {name!r}")
        return {"id": ids[name], "name": name}

    return answer


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _physical_id(token: str, name: str) -> str:
    digest = _hex(token + name, 17)
    prefix = _ID_PREFIXES.get(token)
    if prefix is None:
        return f"{name}-{digest[:8]}"
    if prefix == "E":
        return "E" + digest[:13].upper()
    return prefix + digest


@dataclass(frozen=True)
class _Registration:
    """What a resource's computed outputs may depend on."""

    account: Account
    name: str
    resource_id: str
    inputs: dict[str, Any]


def _load_balancer(r: _Registration) -> dict[str, Any]:
    scheme = "internal-" if r.inputs.get("internal") else ""
    return {
        "dnsName": f"{scheme}{r.name}-{_hex(r.name, 10)}.{r.account.region}.elb.amazonaws.com",
        "zoneId": "Z215JYRZR1TBD5",
        "arnSuffix": f"app/{r.name}/{_hex(r.name, 16)}",
    }


def _queue(r: _Registration) -> dict[str, Any]:
    queue_name = r.inputs.get("name") or r.name
    region, account = r.account.region, r.account.account_id
    return {
        "name": queue_name,
        "url": f"https://sqs.{region}.amazonaws.com/{account}/{queue_name}",
        "arn": f"arn:aws:sqs:{region}:{account}:{queue_name}",
    }


def _kms_key(r: _Registration) -> dict[str, Any]:
    return {
        "keyId": r.resource_id,
        "arn": f"arn:aws:kms:{r.account.region}:{r.account.account_id}:key/{r.resource_id}",
    }


def _topic(r: _Registration) -> dict[str, Any]:
    topic_name = r.inputs.get("name") or r.name
    return {
        "name": topic_name,
        "arn": f"arn:aws:sns:{r.account.region}:{r.account.account_id}:{topic_name}",
    }


def _certificate(r: _Registration) -> dict[str, Any]:
    domain = r.inputs.get("domainName", r.name)
    return {
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_hex(domain, 32)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_hex(domain + 'v', 32)}.acm-validations.aws.",
            }
        ],
        "status": "ISSUED",
    }


def _distribution(r: _Registration) -> dict[str, Any]:
    return {
        "domainName": f"d{_hex(r.name, 13)}.cloudfront.net",
        "hostedZoneId": CLOUDFRONT_ZONE_ID,
    }


def _launch_template(_: _Registration) -> dict[str, Any]:
    # A new launch template starts at version 1, which is then both the latest and the default.
    return {"latestVersion": 1, "defaultVersion": 1}


def _table(r: _Registration) -> dict[str, Any]:
    table_name = r.inputs.get("name") or f"{r.name}-{_hex(r.name, 7)}"
    region, account = r.account.region, r.account.account_id
    return {"name": table_name, "arn": f"arn:aws:dynamodb:{region}:{account}:table/{table_name}"}


def _secret(r: _Registration) -> dict[str, Any]:
    # Secrets Manager appends six random characters to a secret's name in its ARN.
    secret_name = r.inputs.get("name") or r.name
    region, account = r.account.region, r.account.account_id
    suffix = _hex(secret_name, 6)
    return {
        "name": secret_name,
        "arn": f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_name}-{suffix}",
    }


def _bucket(r: _Registration) -> dict[str, Any]:
    bucket = r.inputs.get("bucket") or f"{r.name}-{_hex(r.name, 12)}"
    return {
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{r.account.region}.amazonaws.com",
    }


def _record(r: _Registration) -> dict[str, Any]:
    # Route 53 reports the name it stored, without the trailing dot, as the record's FQDN.
    return {"fqdn": str(r.inputs.get("name", r.name)).rstrip(".")}


def _event_rule(r: _Registration) -> dict[str, Any]:
    rule = r.inputs.get("name") or f"{r.name}-{_hex(r.name, 7)}"
    region, account = r.account.region, r.account.account_id
    return {"name": rule, "arn": f"arn:aws:events:{region}:{account}:rule/{rule}"}


def _named(r: _Registration) -> dict[str, Any]:
    return {"name": r.inputs.get("name") or f"{r.name}-{_hex(r.name, 7)}"}


_EXTRA_OUTPUTS: dict[str, Callable[[_Registration], dict[str, Any]]] = {
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:sqs/queue:Queue": _queue,
    "aws:kms/key:Key": _kms_key,
    "aws:sns/topic:Topic": _topic,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:cloudfront/distribution:Distribution": _distribution,
    "aws:iam/role:Role": _named,
    "aws:eks/nodeGroup:NodeGroup": _named,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:dynamodb/table:Table": _table,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:route53/record:Record": _record,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
}
