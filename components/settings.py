"""The stack settings, parsed once into typed, validated objects.

Every value the program uses comes from `Pulumi.<stack>.yaml` through this module. A bad value
stops the program before any resource is declared, with one `SettingsError` that names the
stack file, the key and what is allowed, so a `pulumi up` never leaves half a platform behind.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

PROJECT = "matching-platform"

# EU-27 by ISO 3166-1 alpha-2. Greece is GR (EL is the EU's own code, unknown to CloudFront);
# GB, the EEA-only IS/LI/NO and CH are deliberately absent.
EU_COUNTRIES: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)

# Regions whose data stays in the EU. Medical data may not leave them.
EU_REGIONS: frozenset[str] = frozenset(
    {
        "eu-central-1",
        "eu-central-2",
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
        if not _INSTANCE_TYPE.match(value):
            raise ValueError("must be an EC2 instance type such as m7i.large")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("needs minSize <= desiredSize <= maxSize")
        return self


class ClusterSettings(_Model):
    kubernetes_version: str
    system_nodes: NodeGroupSettings
    admin_role_arns: Annotated[tuple[str, ...], Field(min_length=1)]
    log_retention_days: Annotated[int, Field(ge=30, le=3653)] = 90

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _K8S_VERSION.match(value):
            raise ValueError("must be an EKS Kubernetes version from 1.28 to 1.39, as a string")
        return value

    @field_validator("admin_role_arns")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _ROLE_ARN.match(arn):
                raise ValueError(
                    f"{arn!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/…)"
                )
        return value


class EdgeSettings(_Model):
    public_hostname: str
    origin_hostname: str
    allowed_countries: Annotated[tuple[str, ...], Field(min_length=1)]
    waf_rate_limit: Annotated[int, Field(ge=10, le=2_000_000_000)]
    deletion_protection: StrictBool

    @field_validator("public_hostname", "origin_hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not _HOSTNAME.match(value):
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

    @model_validator(mode="after")
    def _distinct_hosts(self) -> Self:
        if self.public_hostname == self.origin_hostname:
            raise ValueError("publicHostname and originHostname must differ")
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

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not _IMAGE.match(value) or value.endswith(":latest"):
            raise ValueError(
                "must be a registry image pinned by digest (@sha256:…) or an immutable tag, "
                "never :latest"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas ({self.max_replicas}) must be >= minReplicas ({self.min_replicas})"
            )
        return self

    @property
    def visibility_timeout_seconds(self) -> int:
        """How long a received message stays hidden: the longest task with a 2x margin.

        SQS re-delivers a message whose visibility lapses, so a margin below the task time
        would hand the same record to two workers.
        """
        return self.longest_task_seconds * 2 + 30


class ObservabilitySettings(_Model):
    alert_email: str
    monthly_budget_usd: Annotated[int, Field(ge=1, le=1_000_000)]
    queue_depth_alarm: Annotated[int, Field(ge=1)] = 500

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("must be an e-mail address such as oncall@example.eu")
        return value


class StackSettings(_Model):
    """All settings of one stack, as `__main__.py` hands them to the components."""

    stack: str
    region: str
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

    @property
    def is_production(self) -> bool:
        return self.stack == "prod"


SECTIONS = ("network", "cluster", "edge", "workers", "observability")

ConfigReader = Callable[[str], Any]


def load_settings(stack: str, read: ConfigReader) -> StackSettings:
    """Build the settings of `stack`; `read` returns the raw config value for a full key.

    Keys are given as the CLI names them (`aws:region`, `matching-platform:workers`), so the
    same function serves the program (through `pulumi.Config`) and the tests (a plain dict).
    """
    raw: dict[str, Any] = {"stack": stack, "region": read("aws:region")}
    for section in SECTIONS:
        raw[section] = read(f"{PROJECT}:{section}")

    try:
        return StackSettings.model_validate(raw)
    except ValidationError as error:
        raise SettingsError(_describe(stack, error)) from None


def _describe(stack: str, error: ValidationError) -> str:
    lines = [f"Pulumi.{stack}.yaml: invalid settings:"]
    for problem in error.errors():
        lines.append(f"  {_key(problem['loc'])}: {_explain(problem)}")
    return "\n".join(lines)


def _key(location: tuple[int | str, ...]) -> str:
    head, *rest = location
    if head == "region":
        return "aws:region"
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{to_camel(part)}" for part in rest)
    return f"{PROJECT}:{head}{path}"


def _explain(problem: Mapping[str, Any]) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "is required but missing from the stack file"
    if kind == "extra_forbidden":
        return "is not a known setting (check the spelling against docs/settings.md)"
    message = str(problem["msg"]).removeprefix("Value error, ")
    if kind in {"model_type", "dict_type"} and problem.get("input") is None:
        return "is required but missing from the stack file"
    return f"{message} (got {json.dumps(problem.get('input'), default=str)})"
