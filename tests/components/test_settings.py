"""Each kind of bad stack value stops the program with one error naming file, key and rule."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from components.settings import (
    EU_COUNTRIES,
    SECTIONS,
    SettingsError,
    StackSettings,
    load_settings,
)
from tools.offline import ROOT, load_stack_config

Config = dict[str, Any]


def stack_config(stack: str) -> Config:
    """The stack file's config, read as the CLI reads it, keyed `<namespace>:<key>`."""
    return load_stack_config(stack).values


def section(config: Config, name: str) -> dict[str, Any]:
    return config[f"matching-platform:{name}"]


def test_both_stacks_load() -> None:
    staging = load_settings("staging", stack_config("staging").get, stack_config("staging").keys())
    prod = load_settings("prod", stack_config("prod").get, stack_config("prod").keys())

    assert staging.region == prod.region == "eu-central-1"
    assert set(staging.edge.allowed_countries) == set(prod.edge.allowed_countries) == EU_COUNTRIES
    assert (staging.network.availability_zones, prod.network.availability_zones) == (2, 3)
    assert (staging.network.nat_gateway_per_az, prod.network.nat_gateway_per_az) == (False, True)
    assert (staging.edge.deletion_protection, prod.edge.deletion_protection) == (False, True)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_workers_follow_the_agreed_scaling(stack: str) -> None:
    workers = load_settings(stack, stack_config(stack).get).workers

    assert (workers.min_replicas, workers.max_replicas) == (1, 10)
    assert workers.cooldown_seconds == 7200
    assert workers.scale_on_in_flight is False
    assert workers.visibility_timeout_seconds > workers.longest_task_seconds


def _set(path: str, value: Any) -> Callable[[Config], None]:
    """A mutation that sets `section.key[.key]` in a stack config."""

    def mutate(config: Config) -> None:
        head, *keys = path.split(".")
        target = section(config, head)
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def _drop(path: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        head, *keys = path.split(".")
        if not keys:
            del config[f"matching-platform:{head}"]
            return
        target = section(config, head)
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


def _add_country(code: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        section(config, "edge")["allowedCountries"].append(code)

    return mutate


def _region_value(value: object) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        config["aws:region"] = value

    return mutate


def _region(value: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        config["aws:region"] = value

    return mutate


def _top(key: str, value: Any) -> Callable[[Config], None]:
    """A mutation that sets a whole top-level key of the stack file."""

    def mutate(config: Config) -> None:
        config[key] = value

    return mutate


RUNBOOK_PATH = "github.com/matching-eu/matching-platform/blob/main/docs/runbook.md"
LOAD_V4, LOAD_V6 = "52.28.10.7/32", "2a05:d014:1:2::/64"
LIST_OF_NETWORKS = (
    "must be a list of networks in CIDR form, such as [52.28.10.7/32], or [] for none"
)


def _runbook(url: str) -> Callable[[Config], None]:
    return _set("observability.runbookUrl", url)


def _load_test(cidrs: list[Any]) -> Callable[[Config], None]:
    return _set("edge.loadTestCidrs", cidrs)


BAD_VALUES = [
    ("az-as-text", _set("network.availabilityZones", "3"), "availabilityZones", "valid integer"),
    ("az-as-float", _set("network.availabilityZones", 2.0), "availabilityZones", "valid integer"),
    ("max-as-bool", _set("workers.maxReplicas", True), "workers.maxReplicas", "valid integer"),
    ("image-newline", _set("workers.image", "r.example.eu/w:1.0\n"), "workers.image", "pinned"),
    ("email-newline", _set("observability.alertEmail", "a@b.eu\n"), "alertEmail", "e-mail"),
    ("huge-alarm", _set("observability.queueDepthAlarm", 10**20), "queueDepthAlarm", "less than"),
    ("norway", _add_country("NO"), "edge.allowedCountries", "NO not allowed"),
    ("typo-section", _top("matching-platform:edgee", {}), "matching-platform:edgee", "not a key"),
    ("typo-aws-key", _top("aws:regoin", "us-east-1"), "aws:regoin", "not a key"),
    (
        "account-as-int",
        _top("aws:allowedAccountIds", [111111111111]),
        "allowedAccountIds",
        "string",
    ),
    ("account-empty", _top("aws:allowedAccountIds", []), "aws:allowedAccountIds", "at least 1"),
    ("account-word", _top("aws:allowedAccountIds", ["nope"]), "allowedAccountIds", "12-digit"),
    (
        "role-elsewhere",
        _top(
            "aws:assumeRoles",
            [{"roleArn": "arn:aws:iam::999999999999:role/d", "sessionName": "x1"}],
        ),
        "aws:",
        "outside the allowed account",
    ),
    (
        "tags-as-list",
        _top("aws:defaultTags", [{"tags": {}}]),
        "aws:defaultTags",
        "an object",
    ),
    ("region-as-number", _region_value(5), "aws:region", "valid string"),
    (
        "max-below-min",
        _set("workers.maxReplicas", 0),
        "workers.maxReplicas",
        "greater than or equal to 1",
    ),
    ("max-lt-min", _set("workers.minReplicas", 12), "workers", "must be >= minReplicas"),
    ("uk-country", _add_country("GB"), "edge.allowedCountries", "only EU member states"),
    ("el-for-greece", _add_country("EL"), "edge.allowedCountries", "EL not allowed"),
    ("swiss-country", _add_country("CH"), "edge.allowedCountries", "only EU member states"),
    ("duplicate-country", _add_country("DE"), "edge.allowedCountries", "twice"),
    ("empty-countries", _set("edge.allowedCountries", []), "edge.allowedCountries", "at least 1"),
    ("malformed-cidr", _set("network.vpcCidr", "10.0.0.300/16"), "network.vpcCidr", "IPv4"),
    ("public-cidr", _set("network.vpcCidr", "8.8.0.0/16"), "network.vpcCidr", "private"),
    ("host-bits-cidr", _set("network.vpcCidr", "10.40.0.1/16"), "network.vpcCidr", "IPv4"),
    (
        "one-az",
        _set("network.availabilityZones", 1),
        "network.availabilityZones",
        "greater than or equal to 2",
    ),
    ("missing-section", _drop("observability"), "matching-platform:observability", "required"),
    ("missing-key", _drop("workers.longestTaskSeconds"), "workers.longestTaskSeconds", "required"),
    ("unknown-key", _set("workers.maxReplica", 3), "workers.maxReplica", "not a known setting"),
    ("latest-image", _set("workers.image", "repo.example.eu/w:latest"), "workers.image", "pinned"),
    ("k8s-number", _set("cluster.kubernetesVersion", 1.33), "cluster.kubernetesVersion", "string"),
    ("bad-email", _set("observability.alertEmail", "oncall"), "observability.alertEmail", "e-mail"),
    ("bad-host", _set("edge.publicHostname", "API_.eu"), "edge.publicHostname", "DNS name"),
    (
        "waf-rate-low",
        _set("edge.wafRateLimit", 5),
        "edge.wafRateLimit",
        "greater than or equal to 10",
    ),
    ("wrong-type", _set("network.natGatewayPerAz", "yes"), "network.natGatewayPerAz", "boolean"),
    ("bad-admin", _set("cluster.adminRoleArns", ["admin"]), "cluster.adminRoleArns", "role ARN"),
    (
        "admin-elsewhere",
        _set("cluster.adminRoleArns", ["arn:aws:iam::999999999999:role/platform-admin"]),
        "matching-platform:cluster",
        "outside the allowed account",
    ),
    (
        "node-order",
        _set("cluster.systemNodes.desiredSize", 9),
        "cluster.systemNodes",
        "minSize <= desiredSize <= maxSize",
    ),
    (
        "unknown-family",
        _set("cluster.karpenter.instanceFamilies", ["m7g", "m7i"]),
        "cluster.karpenter.instanceFamilies",
        "unknown instance family m7g",
    ),
    (
        "latest-ami",
        _set("cluster.karpenter.amiAlias", "al2023@latest"),
        "cluster.karpenter.amiAlias",
        "never @latest",
    ),
    (
        "reserved-capacity",
        _set("cluster.karpenter.capacityTypes", ["reserved"]),
        "cluster.karpenter.capacityTypes[0]",
        "'spot' or 'on-demand'",
    ),
    (
        "consolidate-after",
        _set("cluster.karpenter.consolidateAfter", "soon"),
        "cluster.karpenter.consolidateAfter",
        "duration",
    ),
    (
        "kube-proxy-minor",
        _set("cluster.addonVersions.kubeProxy", "v1.32.6-eksbuild.1"),
        "matching-platform:cluster:",
        "must match kubernetesVersion",
    ),
    (
        "addon-unpinned",
        _set("cluster.addonVersions.coreDns", "latest"),
        "cluster.addonVersions.coreDns",
        "eksbuild",
    ),
    (
        "host-outside-zone",
        _set("edge.hostedZone", "other.example.eu"),
        "matching-platform:edge:",
        "not inside hostedZone other.example.eu",
    ),
    (
        "read-timeout-no-quota",
        _set("edge.originTimeoutQuotaRaised", False),
        "matching-platform:edge:",
        "above the 60 s CloudFront allows",
    ),
    (
        "read-timeout-over-quota",
        _set("edge.originReadTimeoutSeconds", 200),
        "edge.originReadTimeoutSeconds",
        "less than or equal to 180",
    ),
    (
        "read-timeout-below-task",
        _set("edge.originReadTimeoutSeconds", 60),
        "matching-platform:workers:",
        "must stay below edge.originReadTimeoutSeconds",
    ),
    (
        "log-retention",
        _set("edge.logRetentionDays", 45),
        "edge.logRetentionDays",
        "retention CloudWatch Logs accepts",
    ),
    ("runbook-missing", _drop("observability.runbookUrl"), "observability.runbookUrl", "required"),
    ("runbook-http", _runbook(f"http://{RUNBOOK_PATH}"), "observability.runbookUrl", "https://"),
    ("runbook-relative", _runbook("docs/runbook.md"), "observability.runbookUrl", "absolute"),
    (
        "runbook-fragment",
        _runbook(f"https://{RUNBOOK_PATH}#alerts"),
        "observability.runbookUrl",
        "no fragment",
    ),
    (
        "runbook-empty-fragment",
        _runbook(f"https://{RUNBOOK_PATH}#"),
        "observability.runbookUrl",
        "no fragment",
    ),
    (
        "runbook-query",
        _runbook(f"https://{RUNBOOK_PATH}?plain=1"),
        "observability.runbookUrl",
        "no query",
    ),
    (
        "runbook-credentials",
        _runbook(f"https://bot:secret@{RUNBOOK_PATH}"),
        "observability.runbookUrl",
        "without user or port",
    ),
    (
        "runbook-no-document",
        _runbook("https://github.com/"),
        "observability.runbookUrl",
        "the runbook document itself",
    ),
    (
        "runbook-space",
        _runbook(f"https://{RUNBOOK_PATH} "),
        "observability.runbookUrl",
        "without spaces",
    ),
    (
        "runbook-too-long",
        _runbook(f"https://{RUNBOOK_PATH}/{'r' * 512}"),
        "observability.runbookUrl",
        "at most 512 characters",
    ),
    (
        "runbook-go-template",
        _runbook(f"https://{RUNBOOK_PATH}".replace("/runbook.md", "/{{runbook.md")),
        "observability.runbookUrl",
        "must not hold { in its path: only letters, digits, `-._~!$&'()*+,;=:@/` and %XX escapes",
    ),
    (
        "runbook-html",
        _runbook('https://github.com/x/"><img/src=x/onerror=alert(1)>'),
        "observability.runbookUrl",
        'must not hold " < > in its path',
    ),
    (
        "runbook-bad-escape",
        _runbook(f"https://{RUNBOOK_PATH}%2"),
        "observability.runbookUrl",
        "must not hold % in its path",
    ),
    (
        "runbook-encoded-braces",
        _runbook(f"https://{RUNBOOK_PATH}".replace("/runbook.md", "/%7B%7brunbook.md")),
        "observability.runbookUrl",
        "no { or }, not even percent-encoded",
    ),
    ("runbook-dot-dot", _runbook("https://github.com/.."), "runbookUrl", ". or .. path segments"),
    (
        "runbook-dot-dot-inside",
        _runbook("https://github.com/matching-eu/../docs/runbook.md"),
        "observability.runbookUrl",
        ". or .. path segments",
    ),
    (
        "runbook-dot",
        _runbook("https://github.com/matching-eu/./runbook.md"),
        "observability.runbookUrl",
        ". or .. path segments",
    ),
    (
        "runbook-encoded-dot-dot",
        _runbook("https://github.com/matching-eu/%2E%2e/runbook.md"),
        "observability.runbookUrl",
        ". or .. path segments",
    ),
    (
        "load-test-private",
        _load_test(["10.20.0.0/24"]),
        "edge.loadTestCidrs[0]",
        "public network, as CloudFront sees clients; this one is private",
    ),
    (
        "load-test-loopback",
        _load_test(["127.0.0.1/32"]),
        "edge.loadTestCidrs[0]",
        "this one is loopback",
    ),
    (
        "load-test-link-local",
        _load_test(["fe80::/64"]),
        "edge.loadTestCidrs[0]",
        "this one is link-local",
    ),
    (
        "load-test-multicast",
        _load_test(["224.0.0.0/24"]),
        "edge.loadTestCidrs[0]",
        "this one is multicast",
    ),
    (
        "load-test-reserved",
        _load_test(["240.0.0.0/24"]),
        "edge.loadTestCidrs[0]",
        "this one is reserved",
    ),
    (
        "load-test-shared",
        _load_test(["100.64.0.0/24"]),
        "edge.loadTestCidrs[0]",
        "this one is not globally routable",
    ),
    (
        "load-test-host-bits",
        _load_test([LOAD_V4, "52.28.10.1/24"]),
        "edge.loadTestCidrs[1]",
        "host bits zero",
    ),
    (
        "load-test-bare-address",
        _load_test(["52.28.10.7"]),
        "edge.loadTestCidrs[0]",
        "canonical form: 52.28.10.7/32",
    ),
    (
        "load-test-upper-case-v6",
        _load_test(["2A05:D014:1:2::/64"]),
        "edge.loadTestCidrs[0]",
        "canonical form: 2a05:d014:1:2::/64",
    ),
    (
        "load-test-expanded-v6",
        _load_test(["2a05:d014:0001:0002:0000:0000:0000:0000/64"]),
        "edge.loadTestCidrs[0]",
        "canonical form: 2a05:d014:1:2::/64",
    ),
    ("load-test-wide-v4", _load_test(["52.28.10.0/23"]), "edge.loadTestCidrs[0]", "/24 or"),
    ("load-test-wide-v6", _load_test(["2a05:d014::/48"]), "edge.loadTestCidrs[0]", "/56 or"),
    ("load-test-garbage", _load_test(["load-generator-1"]), "edge.loadTestCidrs[0]", "network"),
    ("load-test-number", _load_test([52]), "edge.loadTestCidrs[0]", "valid string"),
    (
        "load-test-not-a-list",
        _set("edge.loadTestCidrs", LOAD_V4),
        "edge.loadTestCidrs",
        f'{LIST_OF_NETWORKS} (got "{LOAD_V4}")',
    ),
    (
        "load-test-mapping",
        _set("edge.loadTestCidrs", {"a": LOAD_V4}),
        "edge.loadTestCidrs",
        f'{LIST_OF_NETWORKS} (got {{"a": "{LOAD_V4}"}})',
    ),
    ("load-test-null", _set("edge.loadTestCidrs", None), "edge.loadTestCidrs", "list of networks"),
    (
        "list-given-a-mapping",
        _set("edge.allowedCountries", {"a": "AT"}),
        "edge.allowedCountries",
        '(got {"a": "AT"})',
    ),
    (
        "load-test-6to4-private",
        _load_test(["2002:a00::/56"]),
        "edge.loadTestCidrs[0]",
        "this one is 6to4, embedding 10.0.0.0, which is private",
    ),
    (
        "load-test-6to4-loopback",
        _load_test(["2002:7f00::/56"]),
        "edge.loadTestCidrs[0]",
        "6to4, embedding 127.0.0.0, which is loopback",
    ),
    (
        "load-test-6to4-shared",
        _load_test(["2002:6440::/56"]),
        "edge.loadTestCidrs[0]",
        "6to4, embedding 100.64.0.0, which is not globally routable",
    ),
    (
        "load-test-ipv4-mapped-private",
        _load_test(["::ffff:a00:1/128"]),
        "edge.loadTestCidrs[0]",
        "IPv4-mapped, embedding 10.0.0.1, which is private",
    ),
    (
        "load-test-ipv4-mapped-public",
        _load_test(["::ffff:344:a07/128"]),
        "edge.loadTestCidrs[0]",
        "must be a public network",
    ),
    (
        "load-test-teredo",
        _load_test(["2001:0:4136:e378:8000:63bf:3fff:fdd2/128"]),
        "edge.loadTestCidrs[0]",
        "Teredo (client), embedding 192.0.2.45",
    ),
    (
        "load-test-teredo-wide",
        _load_test(["2001::/56"]),
        "edge.loadTestCidrs[0]",
        "Teredo (server), embedding 0.0.0.0, which is unspecified",
    ),
    (
        "load-test-nat64-private",
        _load_test(["64:ff9b::a00:0/120"]),
        "edge.loadTestCidrs[0]",
        "NAT64, embedding 10.0.0.0, which is private",
    ),
    (
        "load-test-nat64-wide",
        _load_test(["64:ff9b::/64"]),
        "edge.loadTestCidrs[0]",
        "NAT64, embedding 0.0.0.0",
    ),
    ("load-test-twice", _load_test([LOAD_V4, LOAD_V4]), "edge.loadTestCidrs", "twice"),
    (
        "load-test-overlap",
        _load_test(["52.28.10.0/24", LOAD_V4]),
        "edge.loadTestCidrs",
        "overlap",
    ),
    (
        "load-test-eleven",
        _load_test([f"52.28.10.{host}/32" for host in range(11)]),
        "edge.loadTestCidrs",
        "at most 10 items",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "key", "rule"),
    [pytest.param(m, k, r, id=i) for i, m, k, r in BAD_VALUES],
)
def test_bad_value_names_file_key_and_rule(
    mutate: Callable[[Config], None], key: str, rule: str
) -> None:
    config = copy.deepcopy(stack_config("staging"))
    mutate(config)

    with pytest.raises(SettingsError) as raised:
        load_settings("staging", config.get, config.keys())

    message = str(raised.value)
    assert message.startswith("Pulumi.staging.yaml:"), message
    assert key in message, f"{key!r} not named in: {message}"
    assert rule in message, f"{rule!r} not explained in: {message}"


@pytest.mark.parametrize("character", list('"<>\\{}|^`[]'))
def test_runbook_url_holds_only_rfc_3986_path_characters(character: str) -> None:
    config = copy.deepcopy(stack_config("staging"))
    _runbook(f"https://{RUNBOOK_PATH}".replace("runbook.md", f"run{character}book.md"))(config)

    with pytest.raises(SettingsError) as raised:
        load_settings("staging", config.get, config.keys())

    message = str(raised.value)
    assert f"matching-platform:observability.runbookUrl: must not hold {character} " in message
    assert "%XX escapes (percent-encode anything else)" in message, message


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"https://{RUNBOOK_PATH}", id="github"),
        pytest.param("https://runbooks.example.eu/a/b...c/run%20book.md", id="escape-and-dots"),
        pytest.param(
            "https://runbooks.example.eu/~ops/-._~!$&'()*+,;=:@/%7e%41/runbook.md",
            id="every-path-character",
        ),
    ],
)
def test_runbook_url_takes_any_rfc_3986_path(url: str) -> None:
    config = copy.deepcopy(stack_config("staging"))
    _runbook(url)(config)

    assert load_settings("staging", config.get, config.keys()).observability.runbook_url == url


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-2", "eu-central-2", "me-central-1"])
def test_region_outside_the_eu_is_refused(region: str) -> None:
    config = copy.deepcopy(stack_config("prod"))
    _region(region)(config)

    with pytest.raises(SettingsError, match=r"Pulumi\.prod\.yaml:[\s\S]*aws:region: must be an EU"):
        load_settings("prod", config.get, config.keys())


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        pytest.param(_set("edge.deletionProtection", False), "deletionProtection", id="alb"),
        pytest.param(
            _set("cluster.karpenter.capacityTypes", ["spot"]), "on-demand", id="spot-nodes"
        ),
    ],
)
def test_prod_refuses_what_staging_allows(mutate: Callable[[Config], None], rule: str) -> None:
    config = copy.deepcopy(stack_config("prod"))
    mutate(config)

    with pytest.raises(SettingsError, match=rf"Pulumi\.prod\.yaml:[\s\S]*{rule}"):
        load_settings("prod", config.get, config.keys())


TEN_V4 = [f"52.28.10.{host}/32" for host in range(10)]


@pytest.mark.parametrize(
    ("cidrs", "by_version"),
    [
        pytest.param([], {}, id="none"),
        pytest.param([LOAD_V4], {4: (LOAD_V4,)}, id="v4"),
        pytest.param([LOAD_V6], {6: (LOAD_V6,)}, id="v6"),
        pytest.param(
            [LOAD_V4, LOAD_V6, "3.120.181.0/24", "2a05:d014:2::/56"],
            {4: (LOAD_V4, "3.120.181.0/24"), 6: (LOAD_V6, "2a05:d014:2::/56")},
            id="both",
        ),
        pytest.param(TEN_V4, {4: tuple(TEN_V4)}, id="ten"),
        # 6to4 of a public address: as public as the address it carries.
        pytest.param(["2002:341c:a07::/56"], {6: ("2002:341c:a07::/56",)}, id="6to4-public"),
    ],
)
def test_staging_takes_public_load_generator_networks(
    cidrs: list[str], by_version: dict[int, tuple[str, ...]]
) -> None:
    config = copy.deepcopy(stack_config("staging"))
    _load_test(cidrs)(config)

    edge = load_settings("staging", config.get, config.keys()).edge

    assert edge.load_test_cidrs == tuple(cidrs)
    assert edge.load_test_networks == by_version


def test_load_test_cidrs_default_to_none() -> None:
    config = copy.deepcopy(stack_config("staging"))
    _drop("edge.loadTestCidrs")(config)

    assert load_settings("staging", config.get, config.keys()).edge.load_test_cidrs == ()


def test_prod_counts_every_client_against_the_rate_limit() -> None:
    config = copy.deepcopy(stack_config("prod"))
    _load_test([LOAD_V4])(config)

    with pytest.raises(SettingsError) as raised:
        load_settings("prod", config.get, config.keys())

    message = str(raised.value)
    assert message.startswith("Pulumi.prod.yaml:"), message
    assert "matching-platform:edge: loadTestCidrs must be empty in prod" in message, message


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stacks_exempt_nobody_from_the_rate_limit(stack: str) -> None:
    settings = load_settings(stack, stack_config(stack).get, stack_config(stack).keys())

    assert settings.edge.load_test_cidrs == ()


def test_a_long_bad_value_is_not_echoed_whole() -> None:
    config = copy.deepcopy(stack_config("staging"))
    _set("edge.publicHostname", "a" * 100_000)(config)

    with pytest.raises(SettingsError) as raised:
        load_settings("staging", config.get, config.keys())

    assert len(str(raised.value)) < 400, str(raised.value)[:400]


def test_settings_are_frozen() -> None:
    settings: StackSettings = load_settings(
        "staging", stack_config("staging").get, stack_config("staging").keys()
    )

    with pytest.raises(ValueError, match="frozen"):
        settings.workers.max_replicas = 50  # pyright: ignore[reportAttributeAccessIssue]


def _documented_keys() -> list[str]:
    """Keys of docs/settings.md, qualified by the section heading they stand under."""
    keys: list[str] = []
    section_name = ""
    for line in (ROOT / "docs" / "settings.md").read_text().splitlines():
        heading = re.match(r"^## `matching-platform:(\w+)`", line)
        if heading:
            section_name = heading.group(1)
        elif line.startswith("## "):
            section_name = ""
        row = re.match(r"^\| `([\w.:]+)` \|", line)
        if row:
            key = row.group(1)
            keys.append(f"{section_name}.{key}" if section_name else key)
    return keys


def _model_keys(model: type[BaseModel], prefix: str) -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        keys.append(key)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys.extend(_model_keys(field.annotation, key))
    return keys


def test_every_setting_is_documented_once() -> None:
    expected = ["aws:region", "aws:allowedAccountIds", "aws:assumeRoles", "aws:defaultTags"]
    for name in SECTIONS:
        model = StackSettings.model_fields[name].annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        expected.extend(_model_keys(model, name))

    documented = _documented_keys()

    assert sorted(documented) == sorted(expected)
    assert len(documented) == len(set(documented)), "a setting is documented twice"
    used = set(stack_config("prod")) | set(stack_config("staging"))
    assert {k for k in used if k.startswith("aws:")} <= set(expected)
