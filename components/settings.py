"""The stack settings, parsed once into typed, validated objects.

Every value the program uses comes from `Pulumi.<stack>.yaml` through this module. A bad value
stops the program before any resource is declared, with one `SettingsError` that names the
stack file, the key and what is allowed, so a `pulumi up` never leaves half a platform behind.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Self, cast
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

PROJECT = "matching-platform"

# EU-27 by ISO 3166-1 alpha-2. Greece is GR (EL is the EU's own code, unknown to CloudFront);
# GB, the EEA-only IS/LI/NO and CH are deliberately absent.
EU_COUNTRIES: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)

# Regions whose data stays in the EU. Medical data may not leave them. Zurich (eu-central-2)
# and London (eu-west-2) are in Europe but outside the EU.
EU_REGIONS: frozenset[str] = frozenset(
    {
        "eu-central-1",
        "eu-west-1",
        "eu-west-3",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
    }
)

_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_K8S_VERSION = re.compile(r"^1\.(2[89]|3[0-9])$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9]*(nano|micro|small|medium|large|xlarge)$")
_IMAGE = re.compile(r"^[\w.-]+(:\d+)?(/[\w.-]+)+(@sha256:[0-9a-f]{64}|:[\w][\w.-]{0,127})$")
_CPU = re.compile(r"^([1-9]\d{0,5}m|\d{1,3}(\.\d{1,3})?)$")
_MEMORY = re.compile(r"^[1-9]\d{0,6}(Mi|Gi)$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
# Printable ASCII without spaces: what a URL may hold once anything else is percent-encoded.
_URL_TEXT = re.compile(r"^[!-~]+$")
# What a URL's path may hold by RFC 3986: unreserved characters, sub-delimiters, `:`, `@`, `/`
# and %XX escapes. The rest of printable ASCII stays out: `{{` opens a Go template in a
# Prometheus annotation, and `"`, `<`, `>`, `\`, `|`, `^` and the backtick end the quoted
# attribute, Markdown link or YAML scalar a link is written into.
_URL_PATH_PUNCTUATION = "-._~!$&'()*+,;=:@/"
_URL_PATH_PART = re.compile(rf"[A-Za-z0-9{re.escape(_URL_PATH_PUNCTUATION)}]|%[0-9A-Fa-f]{{2}}")


def _millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


def _mebibytes(quantity: str) -> int:
    return int(quantity[:-2]) * (1024 if quantity.endswith("Gi") else 1)


class SettingsError(Exception):
    """A stack file holds a value the program cannot use; the message says which and why."""


class _Model(BaseModel):
    # Stack files use camelCase like every other Pulumi config; unknown keys are errors so
    # that a typo never silently falls back to a default.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class NetworkSettings(_Model):
    vpc_cidr: str
    availability_zones: Annotated[int, Field(ge=2, le=3)]
    nat_gateway_per_az: StrictBool

    @field_validator("vpc_cidr")
    @classmethod
    def _private_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as error:
            raise ValueError(f"must be an IPv4 network such as 10.40.0.0/16 ({error})") from error
        if not network.is_private or not 16 <= network.prefixlen <= 20:
            raise ValueError("must be a private IPv4 network with a prefix from /16 to /20")
        return value


class NodeGroupSettings(_Model):
    instance_type: str
    min_size: Annotated[int, Field(ge=2)]
    desired_size: Annotated[int, Field(ge=2)]
    max_size: Annotated[int, Field(ge=2, le=10)]
    disk_size_gib: Annotated[int, Field(ge=20, le=500)] = 50

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not _INSTANCE_TYPE.fullmatch(value):
            raise ValueError("must be an EC2 instance type such as m7i.large")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("needs minSize <= desiredSize <= maxSize")
        return self


# Karpenter may launch only these current-generation x86 families: the images are built for amd64,
# and a family missing here is more likely a typo than a deliberate choice.
KARPENTER_INSTANCE_FAMILIES: frozenset[str] = frozenset(
    "c5 c5a c6a c6i c7a c7i c8i m5 m5a m6a m6i m7a m7i m8i r5 r5a r6a r6i r7a r7i r8i".split()
)
_AMI_ALIAS = re.compile(r"^al2023@v\d{8}$")
_DURATION = re.compile(r"^([1-9]\d{0,3}(s|m|h)){1,3}$")
_ADDON_VERSION = re.compile(r"^v(\d+)\.(\d+)\.\d+-eksbuild\.\d+$")


class KarpenterSettings(_Model):
    """The one NodePool and its EC2NodeClass that run every workload pod."""

    ami_alias: str
    instance_families: Annotated[tuple[str, ...], Field(min_length=1)]
    capacity_types: Annotated[tuple[Literal["spot", "on-demand"], ...], Field(min_length=1)]
    cpu_limit: Annotated[int, Field(ge=4, le=4000)]
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"]
    consolidate_after: str

    @field_validator("ami_alias")
    @classmethod
    def _pinned_ami(cls, value: str) -> str:
        if not _AMI_ALIAS.fullmatch(value):
            raise ValueError("must pin an AL2023 release such as al2023@v20251117, never @latest")
        return value

    @field_validator("instance_families")
    @classmethod
    def _known_families(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - KARPENTER_INSTANCE_FAMILIES)
        if unknown:
            raise ValueError(
                f"unknown instance family {', '.join(unknown)}: one of "
                f"{' '.join(sorted(KARPENTER_INSTANCE_FAMILIES))}"
            )
        if len(set(value)) != len(value):
            raise ValueError("lists a family twice")
        return value

    @field_validator("capacity_types")
    @classmethod
    def _distinct_capacity(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a capacity type twice")
        return value

    @field_validator("consolidate_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.fullmatch(value):
            raise ValueError("must be a duration such as 30s, 5m or 1h30m")
        return value


class AddonVersions(_Model):
    """EKS add-on builds, pinned so that an upgrade is a reviewed change of the stack file."""

    vpc_cni: str
    core_dns: str
    kube_proxy: str
    pod_identity_agent: str
    ebs_csi_driver: str

    @field_validator("*")
    @classmethod
    def _eksbuild(cls, value: str) -> str:
        if not _ADDON_VERSION.fullmatch(value):
            raise ValueError("must be an EKS add-on build such as v1.20.4-eksbuild.1")
        return value


class ClusterSettings(_Model):
    kubernetes_version: str
    system_nodes: NodeGroupSettings
    admin_role_arns: Annotated[tuple[str, ...], Field(min_length=1)]
    log_retention_days: Annotated[int, Field(ge=30, le=3653)] = 90
    karpenter: KarpenterSettings
    addon_versions: AddonVersions

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _K8S_VERSION.fullmatch(value):
            raise ValueError("must be an EKS Kubernetes version from 1.28 to 1.39, as a string")
        return value

    @field_validator("admin_role_arns")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _ROLE_ARN.fullmatch(arn):
                raise ValueError(
                    f"{arn!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/…)"
                )
        return value

    @model_validator(mode="after")
    def _kube_proxy_matches(self) -> Self:
        # kube-proxy must run the control plane's minor version; the other add-ons span several.
        found = _ADDON_VERSION.fullmatch(self.addon_versions.kube_proxy)
        if found and f"{found[1]}.{found[2]}" != self.kubernetes_version:
            raise ValueError(
                f"addonVersions.kubeProxy ({self.addon_versions.kube_proxy}) must match "
                f"kubernetesVersion {self.kubernetes_version}"
            )
        return self


# CloudFront's origin response and keep-alive timeouts stop at 60 s, or at 180 s once the account's
# quotas for them are raised.
CLOUDFRONT_DEFAULT_TIMEOUT = 60
CLOUDFRONT_RAISED_TIMEOUT = 180
# The retention periods CloudWatch Logs accepts; S3 lifecycle rules take the same number of days.
LOG_RETENTION_DAYS: frozenset[int] = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922}
    | {3288, 3653}
)


# The widest network a load-test entry may name, by IP version: a few hosts of the load
# generators, never a provider's range, which would lift the rate limit for everyone on it.
LOAD_TEST_PREFIXES: Mapping[int, int] = {4: 24, 6: 56}
LOAD_TEST_CIDRS_MAX = 10


# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address translated to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the mechanism that carries it.

    An entry of such a prefix is no more public than the addresses inside it, whatever
    `ipaddress` says of the prefix itself (6to4's 2002::/16 counts as global).
    """
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo (server)", server), ("Teredo (client)", client)]
    if address in _NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)))
    return found


def _not_public(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """What makes `network` no public address of a load generator, or None if nothing does."""
    if isinstance(network, ipaddress.IPv6Network):
        # The network address speaks for the entry: at /56 or narrower, a 6to4 entry embeds
        # one IPv4 address, a NAT64 entry the network its last bits span, and a NAT64 or Teredo
        # entry wider than that starts at 0.0.0.0 or, obfuscated, 255.255.255.255.
        for mechanism, embedded in _embedded_ipv4(network.network_address):
            kind = _not_public(ipaddress.IPv4Network(embedded))
            if kind is not None:
                return f"{mechanism}, embedding {embedded}, which is {kind}"
    site_local = isinstance(network, ipaddress.IPv6Network) and network.is_site_local
    kinds = (
        ("unspecified", network.is_unspecified),
        ("loopback", network.is_loopback),
        ("link-local", network.is_link_local),
        ("site-local", site_local),
        ("multicast", network.is_multicast),
        ("reserved", network.is_reserved),
        ("private", network.is_private),
        ("not globally routable", not network.is_global),
    )
    return next((kind for kind, found in kinds if found), None)


def _load_generator_network(value: str) -> str:
    """One entry of `loadTestCidrs`: a narrow, public network in canonical form."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(
            f"must be a network such as 52.28.10.7/32 with its host bits zero ({error})"
        ) from error
    if str(network) != value:
        raise ValueError(f"must be written in canonical form: {network}")
    kind = _not_public(network)
    if kind is not None:
        raise ValueError(
            f"must be a public network, as CloudFront sees clients; this one is {kind}"
        )
    widest = LOAD_TEST_PREFIXES[network.version]
    if network.prefixlen < widest:
        raise ValueError(
            f"must be /{widest} or narrower: name the load generators' own addresses "
            f"(IPv4 /{LOAD_TEST_PREFIXES[4]} to /32, IPv6 /{LOAD_TEST_PREFIXES[6]} to /128)"
        )
    return value


# Checked entry by entry, so that an error names the entry (`loadTestCidrs[2]`).
LoadTestCidr = Annotated[str, AfterValidator(_load_generator_network)]


class EdgeSettings(_Model):
    public_hostname: str
    origin_hostname: str
    hosted_zone: str
    allowed_countries: Annotated[tuple[str, ...], Field(min_length=1)]
    waf_rate_limit: Annotated[int, Field(ge=10, le=2_000_000_000)]
    deletion_protection: StrictBool
    log_retention_days: int
    origin_read_timeout_seconds: Annotated[int, Field(ge=1, le=CLOUDFRONT_RAISED_TIMEOUT)]
    origin_timeout_quota_raised: StrictBool = False
    # Sources the per-IP rate limit does not count, so that a load test measures the API and not
    # WAF's 403s; every other rule, and the geo restriction, still applies to them.
    load_test_cidrs: Annotated[tuple[LoadTestCidr, ...], Field(max_length=LOAD_TEST_CIDRS_MAX)] = ()

    @field_validator("public_hostname", "origin_hostname", "hosted_zone")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not _HOSTNAME.fullmatch(value):
            raise ValueError("must be a lower-case DNS name such as api.example.eu")
        return value

    @field_validator("allowed_countries")
    @classmethod
    def _eu_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        outside = sorted(set(value) - EU_COUNTRIES)
        if outside:
            raise ValueError(
                f"{', '.join(outside)} not allowed: only EU member states "
                f"({' '.join(sorted(EU_COUNTRIES))})"
            )
        if len(set(value)) != len(value):
            raise ValueError("lists a country twice")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                "must be a retention CloudWatch Logs accepts: "
                f"{' '.join(str(days) for days in sorted(LOG_RETENTION_DAYS))}"
            )
        return value

    @field_validator("load_test_cidrs", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        # Pydantic's own "valid array" would not say what the list holds. An error type of its
        # own, not `value_error`, keeps the offending value in the message (see `_explain`).
        if not isinstance(value, list | tuple):
            raise PydanticCustomError(
                "network_list",
                "must be a list of networks in CIDR form, such as [52.28.10.7/32], or [] for none",
            )
        # Strict validation takes a tuple, not a list, once the value is out of the JSON.
        return tuple(cast(Sequence[Any], value))

    @field_validator("load_test_cidrs")
    @classmethod
    def _distinct_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks = [ipaddress.ip_network(cidr) for cidr in value]
        for index, network in enumerate(networks):
            for earlier in networks[:index]:
                if network == earlier:
                    raise ValueError(f"lists {network} twice")
                if network.overlaps(earlier):
                    raise ValueError(f"lists {network} and {earlier}, which overlap: keep one")
        return value

    @model_validator(mode="after")
    def _distinct_hosts(self) -> Self:
        if self.public_hostname == self.origin_hostname:
            raise ValueError("publicHostname and originHostname must differ")
        for key, host in (
            ("publicHostname", self.public_hostname),
            ("originHostname", self.origin_hostname),
        ):
            if host != self.hosted_zone and not host.endswith(f".{self.hosted_zone}"):
                raise ValueError(f"{key} {host} is not inside hostedZone {self.hosted_zone}")
        return self

    @model_validator(mode="after")
    def _cloudfront_timeout(self) -> Self:
        if self.origin_read_timeout_seconds > self.cloudfront_timeout_limit:
            raise ValueError(
                f"originReadTimeoutSeconds ({self.origin_read_timeout_seconds}) is above the "
                f"{self.cloudfront_timeout_limit} s CloudFront allows"
                + (
                    ""
                    if self.origin_timeout_quota_raised
                    else f"; up to {CLOUDFRONT_RAISED_TIMEOUT} s once the account's origin timeout "
                    "quotas are raised and originTimeoutQuotaRaised is true"
                )
            )
        return self

    @property
    def cloudfront_timeout_limit(self) -> int:
        """The longest origin read (and keep-alive) timeout this account's CloudFront accepts."""
        if self.origin_timeout_quota_raised:
            return CLOUDFRONT_RAISED_TIMEOUT
        return CLOUDFRONT_DEFAULT_TIMEOUT

    @property
    def load_test_networks(self) -> dict[int, tuple[str, ...]]:
        """`loadTestCidrs` by IP version (4 or 6), in stack-file order; unused versions absent."""
        by_version: dict[int, tuple[str, ...]] = {}
        for cidr in self.load_test_cidrs:
            version = ipaddress.ip_network(cidr).version
            by_version[version] = (*by_version.get(version, ()), cidr)
        return by_version


class ContainerResources(_Model):
    """Requests the scheduler reserves and limits the kubelet enforces, as Kubernetes quantities."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    @field_validator("cpu_request", "cpu_limit")
    @classmethod
    def _cpu(cls, value: str) -> str:
        if not _CPU.fullmatch(value) or _millicores(value) == 0:
            raise ValueError("must be a CPU quantity above zero such as 250m or 1")
        return value

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.fullmatch(value):
            raise ValueError("must be a memory quantity in Mi or Gi such as 512Mi")
        return value

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Self:
        if _millicores(self.cpu_limit) < _millicores(self.cpu_request):
            raise ValueError("cpuLimit must be >= cpuRequest")
        if _mebibytes(self.memory_limit) < _mebibytes(self.memory_request):
            raise ValueError("memoryLimit must be >= memoryRequest")
        return self


class WorkerSettings(_Model):
    image: str
    min_replicas: Annotated[int, Field(ge=0, le=100)]
    max_replicas: Annotated[int, Field(ge=1, le=100)]
    cooldown_seconds: Annotated[int, Field(ge=0, le=86_400)]
    scale_on_in_flight: StrictBool
    messages_per_worker: Annotated[int, Field(ge=1, le=100)]
    longest_task_seconds: Annotated[int, Field(ge=10, le=900)]
    max_receive_count: Annotated[int, Field(ge=1, le=20)] = 3
    shutdown_margin_seconds: Annotated[int, Field(ge=5, le=300)]
    worker_resources: ContainerResources
    queue_retention_days: Annotated[int, Field(ge=1, le=7)]
    dead_letter_retention_days: Annotated[int, Field(ge=8, le=14)]
    results_ttl_days: Annotated[int, Field(ge=1, le=365)]
    headroom_pods: Annotated[int, Field(ge=0, le=50)]
    llm_providers: Annotated[tuple[str, ...], Field(min_length=1, max_length=10)]
    api_image: str
    api_replicas: Annotated[int, Field(ge=2, le=20)]
    api_resources: ContainerResources

    @field_validator("image", "api_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not _IMAGE.fullmatch(value) or value.endswith(":latest"):
            raise ValueError(
                "must be a registry image pinned by digest (@sha256:…) or an immutable tag, "
                "never :latest"
            )
        return value

    @field_validator("llm_providers")
    @classmethod
    def _providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for provider in value:
            if not _PROVIDER.fullmatch(provider):
                raise ValueError(f"{provider!r} is not a lower-case name such as mistral")
        if len(set(value)) != len(value):
            raise ValueError("lists a provider twice")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas ({self.max_replicas}) must be >= minReplicas ({self.min_replicas})"
            )
        if self.headroom_pods > self.max_replicas:
            raise ValueError(
                f"headroomPods ({self.headroom_pods}) must be <= maxReplicas ({self.max_replicas}):"
                " room beyond the most workers KEDA runs is never used"
            )
        return self

    @model_validator(mode="after")
    def _nothing_lost(self) -> Self:
        # A grace period at or above the visibility timeout lets a message held by a stopping
        # worker reappear and reach a second worker while the first still holds it.
        if self.grace_period_seconds >= self.visibility_timeout_seconds:
            raise ValueError(
                f"longestTaskSeconds + shutdownMarginSeconds ({self.grace_period_seconds}) must "
                f"stay below the visibility timeout ({self.visibility_timeout_seconds})"
            )
        # SQS keeps a message's first enqueue time when it moves to a standard dead-letter queue,
        # so a record that fails on its last day only has the difference left there.
        if self.dead_letter_retention_days - self.queue_retention_days < 7:
            raise ValueError(
                "deadLetterRetentionDays must exceed queueRetentionDays by at least 7, so a record "
                "that fails late still waits a week in the dead-letter queue"
            )
        return self

    @property
    def grace_period_seconds(self) -> int:
        """The longest task plus the time to give a message back and exit."""
        return self.longest_task_seconds + self.shutdown_margin_seconds

    @property
    def visibility_timeout_seconds(self) -> int:
        """How long a received message stays hidden: the longest task with a 2x margin.

        SQS re-delivers a message whose visibility lapses, so a margin below the task time
        would hand the same record to two workers.
        """
        return self.longest_task_seconds * 2 + 30


# CloudWatch keeps 1,024 characters of an alarm's description, which ends in the runbook link;
# the longest alert's own text and anchor take under 300 (tests/components/test_alerts.py).
RUNBOOK_URL_MAX_LENGTH = 512


class ObservabilitySettings(_Model):
    alert_email: str
    # Where the runbook is read: every alert links to its section, `<runbookUrl>#<alert anchor>`.
    runbook_url: Annotated[str, Field(max_length=RUNBOOK_URL_MAX_LENGTH)]
    monthly_budget_usd: Annotated[int, Field(ge=1, le=1_000_000)]
    queue_depth_alarm: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    # How long a record may wait for a worker before clients notice; SQS keeps it four days.
    oldest_message_sla_seconds: Annotated[int, Field(ge=60, le=345_600)] = 900
    prometheus_retention_days: Annotated[int, Field(ge=1, le=90)] = 15
    prometheus_volume_gib: Annotated[int, Field(ge=10, le=1000)] = 50

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError("must be an e-mail address such as oncall@example.eu")
        return value

    @field_validator("runbook_url")
    @classmethod
    def _runbook_document(cls, value: str) -> str:
        """The runbook document's address, fit to take one `#<anchor>` per alert."""
        if not _URL_TEXT.fullmatch(value):
            raise ValueError("must be a URL without spaces; percent-encode anything but ASCII")
        parts = urlsplit(value)
        if parts.scheme != "https":
            raise ValueError("must be an absolute https:// URL of the runbook document")
        if "?" in value:
            raise ValueError("must have no query (?…): link the document itself")
        if "#" in value:
            raise ValueError("must have no fragment (#…): each alert appends its own anchor")
        if not _HOSTNAME.fullmatch(parts.netloc):
            raise ValueError("must name its host as a lower-case DNS name, without user or port")
        if parts.path.strip("/") == "":
            raise ValueError("must name the runbook document itself, not only its host")
        problem = _url_path_problem(parts.path)
        if problem is not None:
            raise ValueError(problem)
        return value


def _url_path_problem(path: str) -> str | None:
    """Why `path` is no plain RFC 3986 path of a document, or None when it is one."""
    stray = sorted(set(_URL_PATH_PART.sub("", path)))
    if stray:
        return (
            f"must not hold {' '.join(stray)} in its path: only letters, digits, "
            f"`{_URL_PATH_PUNCTUATION}` and %XX escapes (percent-encode anything else)"
        )
    segments = [unquote(segment) for segment in path.split("/")]
    if any(segment in {".", ".."} for segment in segments):
        return "must have no . or .. path segments: give the document's own path"
    if any("{" in segment or "}" in segment for segment in segments):
        # Encoded braces are harmless to Prometheus, but no runbook path needs them.
        return "must have no { or }, not even percent-encoded (%7B, %7D)"
    return None


_ACCOUNT = re.compile(r"\d{12}")


class AssumeRole(_Model):
    role_arn: str
    session_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{2,64}$")]

    @field_validator("role_arn")
    @classmethod
    def _role(cls, value: str) -> str:
        if not _ROLE_ARN.fullmatch(value):
            raise ValueError("must be an IAM role ARN (arn:aws:iam::<12 digits>:role/…)")
        return value


class DefaultTags(_Model):
    tags: Annotated[dict[str, str], Field(min_length=1)]


class AwsSettings(_Model):
    """The AWS provider's own keys: which account the stack may touch, and as whom."""

    allowed_account_ids: Annotated[tuple[str, ...], Field(min_length=1, max_length=1)]
    assume_roles: Annotated[tuple[AssumeRole, ...], Field(min_length=1, max_length=1)]
    default_tags: DefaultTags

    @field_validator("allowed_account_ids")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for account in value:
            if not _ACCOUNT.fullmatch(account):
                raise ValueError(f"{account!r} is not a 12-digit AWS account id (quote it)")
        return value

    @model_validator(mode="after")
    def _role_in_the_account(self) -> Self:
        account = self.allowed_account_ids[0]
        for role in self.assume_roles:
            if role.role_arn.split(":")[4] != account:
                raise ValueError(
                    f"assumeRoles names {role.role_arn}, outside the allowed account {account}"
                )
        return self

    @property
    def account_id(self) -> str:
        return self.allowed_account_ids[0]


class StackSettings(_Model):
    """All settings of one stack, as `__main__.py` hands them to the components."""

    stack: str
    region: str
    aws: AwsSettings
    network: NetworkSettings
    cluster: ClusterSettings
    edge: EdgeSettings
    workers: WorkerSettings
    observability: ObservabilitySettings

    @field_validator("region")
    @classmethod
    def _eu_region(cls, value: str) -> str:
        if value not in EU_REGIONS:
            raise ValueError(f"must be an EU region: one of {', '.join(sorted(EU_REGIONS))}")
        return value

    @field_validator("workers")
    @classmethod
    def _calls_fit_through_cloudfront(
        cls, value: WorkerSettings, info: ValidationInfo
    ) -> WorkerSettings:
        # CloudFront answers 504 to a call that outlasts its origin read timeout.
        edge = info.data.get("edge")
        if (
            isinstance(edge, EdgeSettings)
            and value.longest_task_seconds >= edge.origin_read_timeout_seconds
        ):
            raise ValueError(
                f"longestTaskSeconds ({value.longest_task_seconds}) must stay below "
                f"edge.originReadTimeoutSeconds ({edge.origin_read_timeout_seconds})"
            )
        return value

    @field_validator("cluster")
    @classmethod
    def _prod_nodes_on_demand(cls, value: ClusterSettings, info: ValidationInfo) -> ClusterSettings:
        # A spot reclaim gives two minutes' notice; a worker may hold a record for longer.
        if info.data.get("stack") == "prod" and "spot" in value.karpenter.capacity_types:
            raise ValueError("karpenter.capacityTypes must be [on-demand] in prod")
        return value

    @field_validator("cluster")
    @classmethod
    def _admins_in_the_account(
        cls, value: ClusterSettings, info: ValidationInfo
    ) -> ClusterSettings:
        # An admin role of another account would reach the cluster's records from outside it.
        aws = info.data.get("aws")
        if not isinstance(aws, AwsSettings):
            return value
        for arn in value.admin_role_arns:
            if arn.split(":")[4] != aws.account_id:
                raise ValueError(
                    f"adminRoleArns names {arn}, outside the allowed account {aws.account_id}"
                )
        return value

    @field_validator("edge")
    @classmethod
    def _prod_alb_protected(cls, value: EdgeSettings, info: ValidationInfo) -> EdgeSettings:
        if info.data.get("stack") == "prod" and not value.deletion_protection:
            raise ValueError("deletionProtection must be true in prod")
        return value

    @field_validator("edge")
    @classmethod
    def _prod_limits_everyone(cls, value: EdgeSettings, info: ValidationInfo) -> EdgeSettings:
        # Load tests run against staging; in prod an exempt address could flood the API.
        if info.data.get("stack") == "prod" and value.load_test_cidrs:
            raise ValueError("loadTestCidrs must be empty in prod: the rate limit counts everyone")
        return value

    @property
    def is_production(self) -> bool:
        return self.stack == "prod"


SECTIONS = ("network", "cluster", "edge", "workers", "observability")
AWS_KEYS = ("region", "allowedAccountIds", "assumeRoles", "defaultTags")

ConfigReader = Callable[[str], Any]


def load_settings(
    stack: str, read: ConfigReader, keys: Iterable[str] | None = None
) -> StackSettings:
    """Build the settings of `stack`; `read` returns the raw config value for a full key.

    Keys are given as the CLI names them (`aws:region`, `matching-platform:workers`), so the
    same function serves the program (through `pulumi.Config`) and the tests (a plain dict).
    `keys`, when given, are all the keys the stack file holds: one this program does not read
    is an error, since a misspelt key would otherwise be ignored.
    """
    unknown = _unknown_keys(keys or ())
    raw: dict[str, Any] = {"stack": stack, "region": read("aws:region")}
    raw["aws"] = {key: read(f"aws:{key}") for key in AWS_KEYS[1:]}
    for section in SECTIONS:
        raw[section] = read(f"{PROJECT}:{section}")

    try:
        # The CLI hands config to a program as JSON; parsing it strictly as JSON keeps "3"
        # from passing for 3 and `true` for 1, as the stack file's reader intended.
        settings = StackSettings.model_validate_json(json.dumps(raw, default=str), strict=True)
    except ValidationError as error:
        raise SettingsError(_describe(stack, error, unknown)) from None
    if unknown:
        raise SettingsError(_describe(stack, None, unknown))
    return settings


def _unknown_keys(keys: Iterable[str]) -> list[str]:
    known = {f"aws:{key}" for key in AWS_KEYS} | {f"{PROJECT}:{key}" for key in SECTIONS}
    return sorted(key for key in keys if key not in known and not key.startswith("pulumi:"))


def _describe(stack: str, error: ValidationError | None, unknown: list[str]) -> str:
    lines = [f"Pulumi.{stack}.yaml: invalid settings:"]
    for problem in error.errors() if error is not None else ():
        lines.append(f"  {_key(problem['loc'])}: {_explain(problem)}")
    for key in unknown:
        lines.append(
            f"  {key}: is not a key this program reads (known: aws:{', aws:'.join(AWS_KEYS)}, "
            f"{PROJECT}:{{{','.join(SECTIONS)}}})"
        )
    return "\n".join(lines)


def _key(location: tuple[int | str, ...]) -> str:
    head, *rest = location
    if head == "region":
        return "aws:region"
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{to_camel(part)}" for part in rest)
    if head == "aws":
        return f"aws:{path.removeprefix('.')}"
    return f"{PROJECT}:{head}{path}"


def _explain(problem: Mapping[str, Any]) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "is required but missing from the stack file"
    if kind == "extra_forbidden":
        return "is not a known setting (check the spelling against docs/settings.md)"
    message = str(problem["msg"]).removeprefix("Value error, ")
    found = problem.get("input")
    if kind in {"model_type", "dict_type", "model_attributes_type"} and found is None:
        return "is required but missing from the stack file"
    if isinstance(found, dict) and kind == "value_error":
        # A whole section failed a cross-field rule; the message names the fields.
        return message
    shown = json.dumps(found, default=str)
    if len(shown) > _SHOWN:
        shown = shown[: _SHOWN - 1] + "…"
    return f"{message} (got {shown})"


_SHOWN = 80
