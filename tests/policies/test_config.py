"""The pack's metadata and the per-stack enforcement files, as the CLI would load them."""

from __future__ import annotations

import re

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, load_balancer
from tests.policies.conftest import POLICY_DIR
from tests.policies.expect import explain
from tools.analyzer import PolicyPack, load_policy_config
from tools.offline import load_stack_config

MAIN_POLICIES = ("alb-internal", "alb-ingress-cloudfront-only", "cloudfront-geo-eu-only")


def test_every_policy_is_described_and_kebab_case(pack: PolicyPack) -> None:
    info = pack.info()

    names = [p.name for p in info.policies]
    assert set(MAIN_POLICIES) <= set(names), names
    for policy in info.policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name), policy.name
        assert policy.description, f"{policy.name} has no description"
        assert policy.severity, f"{policy.name} has no severity"


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_stack_config_is_accepted_and_names_every_policy(pack: PolicyPack, stack_name: str) -> None:
    config = load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json")

    pack.configure(config)

    assert sorted(config) == sorted(p.name for p in pack.info().policies), stack_name


@pytest.mark.parametrize(
    ("stack_name", "enforcement"), [("staging", "advisory"), ("prod", "mandatory")]
)
def test_deletion_protection_blocks_only_in_prod(
    pack: PolicyPack, stack_name: str, enforcement: str
) -> None:
    balancer = load_balancer(enableDeletionProtection=False)
    pack.configure(load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json"))

    found = pack.analyze(balancer, DEFAULT_PROVIDER)

    assert [(v.policy, v.enforcement) for v in found] == [
        ("alb-deletion-protection", enforcement)
    ], explain(balancer.urn, found)


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_main_policies_are_mandatory_in_every_stack(stack_name: str) -> None:
    config = load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json")

    for name in MAIN_POLICIES:
        entry = config[name]
        level = entry if isinstance(entry, str) else entry["enforcementLevel"]
        assert level == "mandatory", f"{stack_name}: {name} is {level}"


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_pack_and_stack_file_name_the_same_account(stack_name: str) -> None:
    """The pack's stackAccounts is a reviewer's copy of the stack file's pin: both move together."""
    config = load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json")
    stack = load_stack_config(stack_name)

    accounts = config["principals-in-stack-accounts"]["stackAccounts"]
    registries = config["k8s-images-pinned"]["allowedRegistries"]
    own_registries = [r.split(".", 1)[0] for r in registries if ".dkr.ecr." in r]

    assert accounts == stack.values["aws:allowedAccountIds"], stack_name
    assert own_registries == accounts, registries
