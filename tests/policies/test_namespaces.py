"""Namespaces enforce the restricted Pod Security Standard unless the config exempts them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import resource
from tests.policies.conftest import POLICY_DIR
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, PolicyPackError, load_policy_config
from tools.records import ResourceRecord

NAMESPACE = "kubernetes:core/v1:Namespace"
ENFORCE = "pod-security.kubernetes.io/enforce"
POLICY = "k8s-namespace-restricted"
EXEMPT = {"level": "privileged", "reason": "node-exporter reads the host's namespaces"}


def _namespace(name: str, labels: dict[str, str] | None, token: str = NAMESPACE) -> ResourceRecord:
    metadata: dict[str, Any] = {"name": name}
    if labels is not None:
        metadata["labels"] = labels
    return resource(token, f"{name}-namespace", {"metadata": metadata})


def test_restricted_namespace_passes(pack: PolicyPack) -> None:
    record = _namespace("workers", {ENFORCE: "restricted", "team": "matching"})

    found = pack.analyze(record)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    ("labels", "said"),
    [
        pytest.param(None, "has no", id="no-labels"),
        pytest.param({"pod-security.kubernetes.io/warn": "restricted"}, "has no", id="warn-only"),
        pytest.param({ENFORCE: "baseline"}, "at most 'restricted'", id="baseline"),
        pytest.param({ENFORCE: "privileged"}, "at most 'restricted'", id="privileged"),
        pytest.param({ENFORCE: "Restricted"}, "not a Pod Security level", id="capitalised"),
        pytest.param({ENFORCE: ""}, "not a Pod Security level", id="empty"),
    ],
)
def test_lenient_namespace_is_blocked(
    pack: PolicyPack, labels: dict[str, str] | None, said: str
) -> None:
    record = _namespace("workers", labels)

    found = pack.analyze(record)

    assert policies(found) == [POLICY], explain(record.urn, found)
    assert said in found[0].message


def test_exempt_namespace_passes_up_to_its_level(pack: PolicyPack) -> None:
    pack.configure({POLICY: {"exemptions": {"monitoring": EXEMPT}}})
    exempt = _namespace("monitoring", {ENFORCE: "privileged"})
    stricter = _namespace("monitoring", {ENFORCE: "baseline"})
    other = _namespace("tools", {ENFORCE: "privileged"})

    found = [v for r in (exempt, stricter, other) for v in pack.analyze(r)]

    assert [v.urn for v in found] == [other.urn], explain(other.urn, found)


def test_exemption_is_capped_at_its_level(pack: PolicyPack) -> None:
    level = {"level": "baseline", "reason": "a tool that needs baseline, not privileged"}
    pack.configure({POLICY: {"exemptions": {"tools": level}}})
    record = _namespace("tools", {ENFORCE: "privileged"})

    found = pack.analyze(record)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param({"team": "matching"}, [], id="leaves-label"),
        pytest.param({ENFORCE: "privileged"}, [POLICY], id="relaxes"),
    ],
)
def test_patch_is_judged_by_what_it_sets(
    pack: PolicyPack, labels: dict[str, str], expected: list[str]
) -> None:
    record = _namespace("workers", labels, token="kubernetes:core/v1:NamespacePatch")

    found = pack.analyze(record)

    assert policies(found) == expected, explain(record.urn, found)


@pytest.mark.parametrize(
    ("token", "inputs"),
    [
        pytest.param(
            "kubernetes:core/v1:NamespaceList",
            {"items": [{"metadata": {"name": "a", "labels": {ENFORCE: "privileged"}}}]},
            id="list",
        ),
        pytest.param(
            "kubernetes:yaml/v2:ConfigGroup",
            {"yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: tools}\n"},
            id="yaml",
        ),
        pytest.param(
            "kubernetes:helm.sh/v3:Release",
            {"chart": "oci://example/app", "version": "1.0.0", "createNamespace": True},
            id="release-creates-namespace",
        ),
    ],
)
def test_wrapped_namespace_is_blocked(pack: PolicyPack, token: str, inputs: dict[str, Any]) -> None:
    record = resource(token, "tools", inputs)

    found = pack.analyze(record)

    assert POLICY in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    "exemptions",
    [
        pytest.param({"monitoring": {"level": "privileged"}}, id="no-reason"),
        pytest.param({"monitoring": {"level": "restricted", "reason": "x" * 30}}, id="level"),
        pytest.param({"Monitoring": EXEMPT}, id="not-a-namespace-name"),
    ],
)
def test_exemption_config_must_say_level_and_reason(
    pack: PolicyPack, exemptions: dict[str, Any]
) -> None:
    with pytest.raises(PolicyPackError, match=POLICY):
        pack.configure({POLICY: {"exemptions": exemptions}})


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_stacks_exempt_only_monitoring(stack_name: str) -> None:
    config = load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json")

    assert sorted(config[POLICY]["exemptions"]) == ["monitoring"]
